//! The live pipeline of a configured device, shared by `nsflow run` and `nsflow shell`:
//! drain → convert → one exporter per mode, and `commit` applying only the difference.
//!
//! Records reach the converter in *epochs*: an epoch is one drain task under one device
//! programming, and every batch carries the profile→mode map of its epoch. A commit that
//! touches the device ends the epoch (the drain task flushes and drains everything), then
//! [`Device::reconfigure`] flushes again under the device lock — packets offered in
//! between are exported under the old programming too — and reprograms; only then does a
//! new epoch start. So every packet the device took is aggregated and exported under the
//! configuration in force when it was offered, exactly once per mode then enabled.
//!
//! Exporters are swapped behind a barrier in the converter's queue: a removed or changed
//! mode's exporter receives every record converted before the swap, then is flushed and
//! shut down. New exporters are started before anything changes, so a commit whose
//! exporter cannot start changes nothing.

use super::cache::ModeCache;
use super::{loss_counters, CollectorReport, ModeReport, RunError};
use crate::convert::{to_flows, TimeBase};
use crate::vrp::{Config, Diff};
use nsflow_driver::backend::Backend;
use nsflow_driver::device::{Device, DeviceStats};
use nsflow_driver::drain::{self, lock, DrainConfig, DrainError, DrainSummary, SharedDevice};
use nsflow_exporter::{
    CaptureClock, Clock, ExportError, Exporter, FlowRecord, LossCounters, SystemClock,
};
use nsflow_rtl::record::{EndReason, Record};
use nsflow_rtl::regs::ProfileStat;
use nsflow_rtl::tables::Tables;
use nsflow_rtl::AggregationMode;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, RwLock};
use tokio::task::JoinHandle;
use vmm_sys_util::eventfd::EventFd;

/// The profile→mode map of an epoch (`modes[p]` is profile `p`'s mode).
type Modes = Arc<[AggregationMode]>;
/// The exporters, by mode.
type Exporters = Arc<RwLock<BTreeMap<AggregationMode, Exporter>>>;

/// How a job is set up.
#[derive(Debug, Clone, Copy)]
pub struct JobOptions {
    /// Record ring size, log2 of records.
    pub ring_log2: u8,
    /// Drain task settings (the flush timeout also bounds a commit's flush).
    pub drain: DrainConfig,
    /// Keep every exported aggregate per mode (for `display … cache`).
    pub keep_cache: bool,
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            ring_log2: 14,
            drain: DrainConfig::default(),
            keep_cache: false,
        }
    }
}

enum Msg {
    Records(Modes, Vec<Record>),
    Sync(oneshot::Sender<()>),
}

/// What the converter counted: per mode, per end reason, and the cache.
#[derive(Debug, Default)]
struct Live {
    modes: BTreeMap<AggregationMode, ModeReport>,
    reasons: BTreeMap<EndReason, u64>,
    cache: Option<BTreeMap<AggregationMode, ModeCache>>,
}

struct Epoch {
    stop: watch::Sender<bool>,
    drain: JoinHandle<Result<DrainSummary, DrainError>>,
    forward: JoinHandle<()>,
}

/// A device brought up and configured, with its drain, converter and exporters running.
pub struct Job {
    dev: SharedDevice,
    irq: Option<EventFd>,
    opts: JobOptions,
    running: Config,
    modes: Modes,
    /// Each mode's profile counters across reprogramming (shared with the task that sends
    /// the loss counters, so each mode's domain gets its own).
    counters: Arc<Mutex<ModeCounters>>,
    epoch: Option<Epoch>,
    tx: mpsc::Sender<Msg>,
    converter: JoinHandle<Result<(), RunError>>,
    live: Arc<Mutex<Live>>,
    exporters: Exporters,
    ever_exported: Vec<AggregationMode>,
    retired: Vec<CollectorReport>,
    clock: Arc<SystemClock>,
    /// The capture's clock of a replay (v9 times), `None` on live traffic.
    capture_clock: Option<CaptureClock>,
    loss_task: JoinHandle<()>,
    drained: DrainSummary,
    /// Set when a drain task ends on an error (the traffic stops).
    failed: Arc<AtomicBool>,
    /// The last device statistics read (for the report of a device that stopped
    /// answering).
    last_stats: Arc<Mutex<DeviceStats>>,
}

/// What a finished job hands back.
#[derive(Debug, Clone, Default)]
pub struct JobReport {
    /// Per mode enabled at any time.
    pub modes: BTreeMap<AggregationMode, ModeReport>,
    /// Records exported per end reason.
    pub reasons: BTreeMap<EndReason, u64>,
    /// Per mode and collector.
    pub collectors: Vec<CollectorReport>,
    /// Device statistics at the end.
    pub device: DeviceStats,
    /// The last loss counters (A15, D2) sent in each exported mode's options.
    pub loss: BTreeMap<AggregationMode, LossCounters>,
    /// What the drain tasks did.
    pub drained: DrainSummary,
    /// Why the pipeline stopped early, if it did (see [`super::RunReport::failure`]).
    pub failure: Option<String>,
    /// Whether `device` is the last read before the device stopped answering.
    pub stale_counters: bool,
}

fn export_err(mode: AggregationMode) -> impl FnOnce(ExportError) -> RunError {
    move |source| RunError::Export { mode, source }
}

fn task_err(what: &str) -> impl FnOnce(tokio::task::JoinError) -> RunError + '_ {
    move |e| RunError::Task(format!("{what}: {e}"))
}

impl Job {
    /// Brings the device behind `backend` up with `tables` and `config`, starts one
    /// exporter per enabled mode that has somewhere to send, the converter and the drain.
    /// Device times map to UNIX time through `anchor_unix_ns` (the first frame's capture
    /// time on a replay) or the wall clock. Must run inside a tokio runtime.
    pub async fn start(
        backend: Box<dyn Backend>,
        tables: &Tables,
        config: Config,
        opts: JobOptions,
        anchor_unix_ns: Option<u64>,
    ) -> Result<Self, RunError> {
        let irq = backend.irq().and_then(|e| e.try_clone().ok());
        let engine = config.engine_config();
        let mut dev = Device::bring_up(backend, tables, &engine, opts.ring_log2)?;
        let base = dev.stats()?;
        let unix_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let time = TimeBase {
            device_ns: dev.time_ns()?,
            unix_ns: anchor_unix_ns.unwrap_or(unix_now),
        };
        let modes: Modes = dev.modes().into();
        let dev: SharedDevice = Arc::new(Mutex::new(dev));

        let clock = Arc::new(SystemClock::new());
        // A replay runs on the capture's clock: v9's relative times count from its first
        // frame (decision D5).
        let capture_clock = anchor_unix_ns.map(|ns| CaptureClock {
            capture_ms: ns / 1_000_000,
            started_ms: clock.now_ms(),
        });
        let mut map = BTreeMap::new();
        for (mode, mut cfg) in config.export_configs() {
            if cfg.collectors.is_empty() {
                continue;
            }
            cfg.capture_clock = capture_clock;
            let ex = Exporter::start(cfg, clock.clone()).map_err(export_err(mode))?;
            map.insert(mode, ex);
        }
        let ever_exported = map.keys().copied().collect();
        let exporters: Exporters = Arc::new(RwLock::new(map));
        let live = Arc::new(Mutex::new(Live {
            cache: opts.keep_cache.then(BTreeMap::new),
            ..Live::default()
        }));
        let (tx, rx) = mpsc::channel(64);
        let converter = tokio::spawn(convert(rx, time, live.clone(), exporters.clone()));
        let last_stats = Arc::new(Mutex::new(base.clone()));
        let counters = Arc::new(Mutex::new(ModeCounters {
            slots: modes.clone(),
            base,
            credited: BTreeMap::new(),
        }));
        let loss_task = tokio::spawn(send_loss_counters(
            dev.clone(),
            exporters.clone(),
            counters.clone(),
            last_stats.clone(),
        ));
        let mut job = Self {
            dev,
            irq,
            opts,
            running: config,
            modes,
            counters,
            epoch: None,
            tx,
            converter,
            live,
            exporters,
            ever_exported,
            retired: Vec::new(),
            clock,
            capture_clock,
            loss_task,
            drained: DrainSummary::default(),
            failed: Arc::new(AtomicBool::new(false)),
            last_stats,
        };
        job.start_epoch();
        Ok(job)
    }

    /// The device, for the traffic port of a modelled device.
    pub fn device(&self) -> SharedDevice {
        self.dev.clone()
    }

    /// Set when the pipeline failed (a drain task ended on an error): traffic sources
    /// stop, and [`Self::finish`] reports the failure.
    pub fn failed(&self) -> Arc<AtomicBool> {
        self.failed.clone()
    }

    /// The running configuration.
    pub fn running(&self) -> &Config {
        &self.running
    }

    fn start_epoch(&mut self) {
        let (stop, stop_rx) = watch::channel(false);
        let (rec_tx, mut rec_rx) = mpsc::channel::<Vec<Record>>(64);
        let irq = self.irq.as_ref().and_then(|e| e.try_clone().ok());
        let run = drain::run(self.dev.clone(), irq, self.opts.drain, rec_tx, stop_rx);
        let failed = self.failed.clone();
        let drain = tokio::spawn(async move {
            let r = run.await;
            if r.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            r
        });
        let tx = self.tx.clone();
        let modes = self.modes.clone();
        let forward = tokio::spawn(async move {
            while let Some(batch) = rec_rx.recv().await {
                if tx.send(Msg::Records(modes.clone(), batch)).await.is_err() {
                    // The converter has stopped; the drain task sees the closed channel.
                    return;
                }
            }
        });
        self.epoch = Some(Epoch {
            stop,
            drain,
            forward,
        });
    }

    /// Ends the current epoch: the drain task flushes the device and hands on everything.
    async fn stop_epoch(&mut self) -> Result<(), RunError> {
        let Some(e) = self.epoch.take() else {
            return Ok(());
        };
        let _ = e.stop.send(true);
        let drained = e.drain.await.map_err(task_err("drain task"))?;
        e.forward.await.map_err(task_err("record forwarder"))?;
        let d = drained?;
        self.drained.records += d.records;
        self.drained.interrupts += d.interrupts;
        self.drained.polls += d.polls;
        self.drained.recoveries += d.recoveries;
        Ok(())
    }

    /// Credits each mode of the current programming with its slot's counter increase up
    /// to `now`, and makes `now` the base of the programming that follows.
    fn credit(&mut self, now: &DeviceStats) {
        lock(&self.counters).credit(now);
    }

    /// Every mode's device counters (ProfileStat order) up to `now`.
    fn device_by_mode(&self, now: &DeviceStats) -> BTreeMap<AggregationMode, Vec<u64>> {
        lock(&self.counters).by_mode(now)
    }

    /// Waits until the converter has handled every batch queued before this call.
    pub async fn sync(&self) -> Result<(), RunError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Sync(tx))
            .await
            .map_err(|_| RunError::Task("the converter has stopped".into()))?;
        rx.await
            .map_err(|_| RunError::Task("the converter has stopped".into()))
    }

    /// Makes `new` the running configuration, applying only the difference: the device is
    /// reprogrammed (after a flush that exports every flow under the old programming) when
    /// the original-flow timers change or a profile is added, removed or reprogrammed; an
    /// exporter is restarted only for a mode whose export changed. On error before
    /// the device is touched (an exporter that cannot start) nothing has changed.
    pub async fn commit(&mut self, new: Config) -> Result<Diff, RunError> {
        let diff = Diff::between(&self.running, &new);
        if diff.is_empty() {
            self.running = new;
            return Ok(diff);
        }
        let touched = diff
            .added
            .iter()
            .chain(&diff.reprogrammed)
            .chain(&diff.export_only)
            .copied()
            .filter(|m| !self.running.same_export(&new, *m));
        let mut retire: Vec<AggregationMode> = diff.removed.clone();
        let mut start: Vec<(AggregationMode, Exporter)> = Vec::new();
        for mode in touched.collect::<Vec<_>>() {
            retire.push(mode);
            let Some(mut cfg) = new.export_config(mode) else {
                continue;
            };
            if cfg.collectors.is_empty() {
                continue;
            }
            cfg.capture_clock = self.capture_clock;
            match Exporter::start(cfg, self.clock.clone()) {
                Ok(ex) => start.push((mode, ex)),
                Err(source) => {
                    for (_, ex) in start {
                        ex.shutdown().await;
                    }
                    return Err(RunError::Export { mode, source });
                }
            }
        }
        let device_changed = diff.original_timers
            || !diff.added.is_empty()
            || !diff.removed.is_empty()
            || !diff.reprogrammed.is_empty();
        if device_changed {
            if let Err(e) = self.reprogram(&new).await {
                for (_, ex) in start {
                    ex.shutdown().await;
                }
                return Err(e);
            }
        }
        // Barrier: every record of the old configuration has reached its exporter.
        self.sync().await?;
        let old: Vec<(AggregationMode, Exporter)> = {
            let mut map = self.exporters.write().await;
            let old = retire
                .iter()
                .filter_map(|m| map.remove(m).map(|e| (*m, e)))
                .collect();
            for (m, ex) in start {
                if !self.ever_exported.contains(&m) {
                    self.ever_exported.push(m);
                }
                map.insert(m, ex);
            }
            old
        };
        for (mode, ex) in old {
            let _ = ex.flush().await;
            self.retired.extend(
                ex.shutdown()
                    .await
                    .into_iter()
                    .map(|stats| CollectorReport { mode, stats }),
            );
        }
        self.running = new;
        if device_changed {
            self.start_epoch();
        }
        Ok(diff)
    }

    /// Ends the epoch, flushes and reprograms the device, and hands the flushed records
    /// on under the old profile map.
    async fn reprogram(&mut self, new: &Config) -> Result<(), RunError> {
        self.stop_epoch().await?;
        let engine = new.engine_config();
        let mut out = Vec::new();
        let now = {
            let mut d = lock(&self.dev);
            d.reconfigure(&engine, None, &mut out, self.opts.drain.flush_timeout)?;
            d.stats()?
        };
        self.credit(&now);
        let old = std::mem::replace(
            &mut self.modes,
            engine.profiles.iter().map(|p| p.mode).collect(),
        );
        lock(&self.counters).slots = self.modes.clone();
        if !out.is_empty() {
            self.tx
                .send(Msg::Records(old, out))
                .await
                .map_err(|_| RunError::Task("the converter has stopped".into()))?;
        }
        Ok(())
    }

    /// `reset ipv6 netstream cache`: flushes the device so every flow is exported now,
    /// and returns once the records have reached the exporters.
    pub async fn reset_cache(&mut self) -> Result<(), RunError> {
        self.stop_epoch().await?;
        self.start_epoch();
        self.sync().await
    }

    /// Lets `elapsed` of device time pass on a modelled device while no traffic is offered
    /// ([`nsflow_driver::backend::TrafficPort::idle`]): its scanner ages what expires
    /// meanwhile and the records are drained and exported as usual. False when the device
    /// has no such clock (silicon keeps its own time; a model served over vfio-user stands
    /// still while idle).
    pub fn pass_idle_time(&self, elapsed: Duration) -> Result<bool, RunError> {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let mut d = lock(&self.dev);
        match d.backend().traffic() {
            Some(port) => Ok(port.idle(ns)?),
            None => Ok(false),
        }
    }

    /// Device statistics now.
    pub fn device_stats(&self) -> Result<DeviceStats, RunError> {
        Ok(lock(&self.dev).stats()?)
    }

    /// Per-mode results so far (every mode enabled at any time), with device counters
    /// from `now`.
    pub fn mode_reports(&self, now: &DeviceStats) -> BTreeMap<AggregationMode, ModeReport> {
        let mut out = lock(&self.live).modes.clone();
        let stat = |v: &[u64], s: ProfileStat| v.get(s.index()).copied().unwrap_or(0);
        for (mode, v) in self.device_by_mode(now) {
            let m = out.entry(mode).or_default();
            m.aggregates = stat(&v, ProfileStat::Created);
            m.merged_flows = stat(&v, ProfileStat::MergedFlows);
            m.merged_packets = stat(&v, ProfileStat::MergedPackets);
            m.merged_bytes = stat(&v, ProfileStat::MergedBytes);
            m.drop_packets = stat(&v, ProfileStat::DropPackets);
            m.drop_bytes = stat(&v, ProfileStat::DropBytes);
        }
        for (mode, m) in &mut out {
            m.exported = self.ever_exported.contains(mode);
        }
        out
    }

    /// Records exported so far, per end reason.
    pub fn reasons(&self) -> BTreeMap<EndReason, u64> {
        lock(&self.live).reasons.clone()
    }

    /// The aggregates of `mode` exported so far (with [`JobOptions::keep_cache`]).
    pub fn cache(&self, mode: AggregationMode) -> Option<ModeCache> {
        lock(&self.live)
            .cache
            .as_ref()
            .map(|c| c.get(&mode).cloned().unwrap_or_default())
    }

    /// Per mode and collector: the running exporters' counters and those of exporters a
    /// commit replaced, summed per (mode, collector).
    pub async fn collectors(&self) -> Vec<CollectorReport> {
        let mut all = self.retired.clone();
        for (mode, ex) in self.exporters.read().await.iter() {
            all.extend(
                ex.stats()
                    .into_iter()
                    .map(|stats| CollectorReport { mode: *mode, stats }),
            );
        }
        merge_collectors(all)
    }

    /// Stops gracefully: flush, drain, convert, export, then the exporters' final
    /// counters (with the loss counters of A15 sent in their last options). When the
    /// device failed (a drain task ended on an error, or its counters cannot be read),
    /// everything drained is still converted and exported, the last counters read are
    /// reported, and [`JobReport::failure`] says why; what a device that still answers
    /// holds after a failed flush ([`super::ModeReport::not_exported`]) is added to the
    /// loss counters sent.
    pub async fn finish(mut self) -> Result<JobReport, RunError> {
        let stopped = self.stop_epoch().await;
        self.loss_task.abort();
        let device = lock(&self.dev).stats();
        // Close the converter's queue: the forwarders' senders went with the epoch.
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.tx, closed));
        let converted = (&mut self.converter).await.map_err(task_err("converter"))?;
        converted?;
        let mut failure = stopped.err().map(|e| e.to_string());
        let stale_counters = device.is_err();
        let device = match device {
            Ok(d) => d,
            Err(e) => {
                failure.get_or_insert_with(|| e.to_string());
                lock(&self.last_stats).clone()
            }
        };
        self.credit(&device);
        // `credit` moved the base to the end: every counter is in `credited` now.
        let modes = self.mode_reports(&device);
        let by_mode = self.device_by_mode(&device);
        let map = std::mem::take(&mut *self.exporters.write().await);
        let mut collectors = std::mem::take(&mut self.retired);
        let mut sent_loss = BTreeMap::new();
        for (mode, ex) in map {
            let mut loss = loss_counters(&device, by_mode.get(&mode).map_or(&[], Vec::as_slice));
            if let Some(m) = modes
                .get(&mode)
                .filter(|_| failure.is_some() && !stale_counters)
            {
                // What the device still held of this mode when the flush was given up was
                // not sent either.
                let (p, b) = m.not_exported();
                loss.not_sent_packets += p;
                loss.not_sent_octets += b;
            }
            let _ = ex.set_loss_counters(loss).await;
            sent_loss.insert(mode, loss);
            let _ = ex.flush().await;
            collectors.extend(
                ex.shutdown()
                    .await
                    .into_iter()
                    .map(|stats| CollectorReport { mode, stats }),
            );
        }
        Ok(JobReport {
            modes,
            reasons: lock(&self.live).reasons.clone(),
            collectors: merge_collectors(collectors),
            device,
            loss: sent_loss,
            drained: self.drained,
            failure,
            stale_counters,
        })
    }
}

/// Sums the counters of the same (mode, collector).
fn merge_collectors(all: Vec<CollectorReport>) -> Vec<CollectorReport> {
    let mut out: Vec<CollectorReport> = Vec::new();
    for c in all {
        match out
            .iter_mut()
            .find(|o| o.mode == c.mode && o.stats.collector == c.stats.collector)
        {
            Some(o) => {
                o.stats.messages_sent += c.stats.messages_sent;
                o.stats.records_sent += c.stats.records_sent;
                o.stats.messages_failed += c.stats.messages_failed;
                o.stats.records_failed += c.stats.records_failed;
                o.stats.packets_failed += c.stats.packets_failed;
                o.stats.bytes_failed += c.stats.bytes_failed;
                o.stats.icmp_reports += c.stats.icmp_reports;
                o.stats.messages_unconfirmed += c.stats.messages_unconfirmed;
                o.stats.records_unconfirmed += c.stats.records_unconfirmed;
                if c.stats.last_error.is_some() {
                    o.stats.last_error = c.stats.last_error;
                }
            }
            None => out.push(c),
        }
    }
    out.sort_by_key(|c| (c.mode, c.stats.collector));
    out
}

/// The converter: device records to flows, counted per mode, handed to the mode's
/// exporter (waiting while its queue is full: backpressure to the ring).
async fn convert(
    mut rx: mpsc::Receiver<Msg>,
    time: TimeBase,
    live_state: Arc<Mutex<Live>>,
    exporters: Exporters,
) -> Result<(), RunError> {
    let mut flows: Vec<FlowRecord> = Vec::new();
    while let Some(msg) = rx.recv().await {
        let (modes, batch) = match msg {
            Msg::Records(m, b) => (m, b),
            Msg::Sync(done) => {
                let _ = done.send(());
                continue;
            }
        };
        flows.clear();
        to_flows(&batch, &modes, &time, &mut flows);
        let mut by_mode: BTreeMap<AggregationMode, Vec<FlowRecord>> = BTreeMap::new();
        {
            let mut l = lock(&live_state);
            for f in &flows {
                let m = l.modes.entry(f.mode).or_default();
                m.records += 1;
                m.flows += f.flows;
                m.packets += f.packets;
                m.bytes += f.bytes;
                *l.reasons.entry(f.end_reason).or_default() += 1;
                if let Some(c) = l.cache.as_mut() {
                    c.entry(f.mode).or_default().add(f);
                }
                by_mode.entry(f.mode).or_default().push(*f);
            }
        }
        let map = exporters.read().await;
        for (mode, v) in by_mode {
            if let Some(ex) = map.get(&mode) {
                ex.export(v).await.map_err(export_err(mode))?;
            }
        }
    }
    Ok(())
}

/// Sends the loss counters of A15 to every exporter once a second, keeping the statistics
/// read in `last`.
async fn send_loss_counters(
    dev: SharedDevice,
    exporters: Exporters,
    counters: Arc<Mutex<ModeCounters>>,
    last: Arc<Mutex<DeviceStats>>,
) {
    let mut t = tokio::time::interval(Duration::from_secs(1));
    loop {
        t.tick().await;
        let stats = lock(&dev).stats();
        if let Ok(s) = stats {
            let by_mode = lock(&counters).by_mode(&s);
            for (mode, e) in exporters.read().await.iter() {
                let loss = loss_counters(&s, by_mode.get(mode).map_or(&[], Vec::as_slice));
                let _ = e.set_loss_counters(loss).await;
            }
            *lock(&last) = s;
        }
    }
}

/// Each mode's profile counters across reprogramming. Per-profile counters are per slot
/// and survive reprogramming, so each mode is credited its slot's increase while it held
/// the slot.
#[derive(Debug)]
struct ModeCounters {
    /// The mode of each slot of the current programming.
    slots: Modes,
    /// Statistics when the current programming took effect.
    base: DeviceStats,
    /// Per-profile counters credited to each mode by finished programmings.
    credited: BTreeMap<AggregationMode, Vec<u64>>,
}

impl ModeCounters {
    /// Every mode's counters (ProfileStat order): what earlier programmings credited plus
    /// the current programming's increase up to `now`.
    fn by_mode(&self, now: &DeviceStats) -> BTreeMap<AggregationMode, Vec<u64>> {
        let mut m = self.credited.clone();
        for (p, mode) in self.slots.iter().enumerate() {
            let c = m
                .entry(*mode)
                .or_insert_with(|| vec![0; ProfileStat::ALL.len()]);
            for (v, st) in c.iter_mut().zip(ProfileStat::ALL) {
                *v += now
                    .profile(p, *st)
                    .saturating_sub(self.base.profile(p, *st));
            }
        }
        m
    }

    /// Credits the current programming's increase up to `now`; `now` becomes the base.
    fn credit(&mut self, now: &DeviceStats) {
        self.credited = self.by_mode(now);
        self.base = now.clone();
    }
}
