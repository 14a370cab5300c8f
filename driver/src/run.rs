//! `nsflow run`: the main job. Reads the VRP configuration and the route file, brings the
//! device up, replays traffic into it (a modelled device) or lets its ports take packets
//! (silicon), drains the ring, and exports every record to the collectors of its mode's
//! view; on the end of the traffic or on SIGINT/SIGTERM it stops gracefully (flush, drain,
//! final export) and reports per mode and per collector.

use crate::backend::{self, BackendError};
use crate::collect::{self, CollectTotals};
use crate::convert::{to_flows, TimeBase};
use crate::device::{Device, DeviceError, DeviceStats};
use crate::drain::{self, lock, DrainConfig, DrainError, SharedDevice};
use crate::traffic::{Frames, Source};
use crate::vrp::{self, ExportPlan};
use nsflow_exporter::{
    Collector, DestinationStats, ExportConfig, ExportError, ExportSource, Exporter, FieldWidth,
    FlowRecord, LossCounters, SourceAddr, SystemClock, Version,
};
use nsflow_rtl::record::Record;
use nsflow_rtl::tables::Tables;
use nsflow_rtl::AggregationMode;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Everything `nsflow run` needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The VRP configuration text.
    pub config: String,
    /// The route file's text, if any.
    pub routes: Option<String>,
    /// Device specification (`sim`, `vfio-user:PATH`, `vfio:BDF`).
    pub device: String,
    /// Traffic for a modelled device (`None` on silicon: it has its own ports).
    pub source: Option<Source>,
    /// Run an in-process collector here and report what it received.
    pub collect: Option<SocketAddr>,
    /// Ring size, log2 of records.
    pub ring_log2: u8,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// Why the run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration has errors (rendered VRP-style).
    #[error("{0}")]
    Config(vrp::Errors),
    /// The route file has errors.
    #[error("route file: {0}")]
    Routes(String),
    /// The device could not be reached.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The device failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The drain failed.
    #[error(transparent)]
    Drain(#[from] DrainError),
    /// An exporter could not start.
    #[error("export of {mode}: {source}")]
    Export {
        /// The mode whose exporter failed.
        mode: AggregationMode,
        /// Why.
        source: ExportError,
    },
    /// Traffic could not be read.
    #[error(transparent)]
    Traffic(#[from] nsflow_hwsim::capture::CaptureError),
    /// A silicon device with no traffic source given, or a model without one.
    #[error("{0}")]
    Usage(String),
    /// The runtime could not start.
    #[error("tokio runtime: {0}")]
    Runtime(std::io::Error),
}

/// Per-mode results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModeReport {
    /// Original flows merged (sum of deltaFlowCount over records).
    pub flows: u64,
    /// Aggregates the profile created.
    pub aggregates: u64,
    /// Records drained.
    pub records: u64,
    /// Packets in those records.
    pub packets: u64,
    /// Bytes in those records.
    pub bytes: u64,
    /// Packets the device dropped for this profile (ring full beyond holding).
    pub drop_packets: u64,
    /// Bytes dropped.
    pub drop_bytes: u64,
    /// Whether the mode had collectors and a source (else nothing was sent, A2).
    pub exported: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Per enabled mode.
    pub modes: BTreeMap<AggregationMode, ModeReport>,
    /// Per collector.
    pub collectors: Vec<DestinationStats>,
    /// Device statistics at the end.
    pub device: DeviceStats,
    /// Frames offered to the device.
    pub frames: u64,
    /// What the in-process collector received.
    pub collected: Option<CollectTotals>,
    /// Commit warnings.
    pub warnings: Vec<String>,
    /// Device description.
    pub device_name: String,
}

/// Maps a VRP export plan onto an exporter configuration.
pub fn export_config(plan: &ExportPlan) -> ExportConfig {
    let collectors = plan
        .hosts
        .iter()
        .filter(|h| plan.source_for(h).is_some())
        .map(|h| Collector {
            addr: h.addr,
            port: h.port,
            vpn_instance: h.vpn_instance.clone(),
            dscp: h.dscp,
        })
        .collect();
    let source = ExportSource {
        v4: plan.source_v4.map(|s| SourceAddr {
            addr: (*s.ip()).into(),
            port: Some(s.port()),
        }),
        v6: plan.source_v6.map(|s| SourceAddr {
            addr: (*s.ip()).into(),
            port: Some(s.port()),
        }),
    };
    let mut c = ExportConfig::new(collectors, source);
    c.version = match plan.version {
        vrp::model::ExportVersion::V9 => Version::V9,
        vrp::model::ExportVersion::Ipfix => Version::Ipfix,
    };
    let width = |w: vrp::model::FieldWidth| {
        if w.octets() == 4 {
            FieldWidth::Four
        } else {
            FieldWidth::Two
        }
    };
    c.as_width = width(plan.as_width);
    c.ifindex_width = width(plan.ifindex_width);
    c.modes = vec![plan.mode];
    c.template_timeout_minutes = u32::from(plan.template_timeout_min);
    c.sequence_fixed = plan.sequence_fixed;
    c.options_refresh_packets = u32::from(plan.option_refresh_packets);
    c.options_refresh_minutes = u32::from(plan.option_timeout_min);
    c.active_timeout_secs = u16::try_from(plan.active_timeout_s).unwrap_or(u16::MAX);
    c.inactive_timeout_secs = u16::try_from(plan.inactive_timeout_s).unwrap_or(u16::MAX);
    c.observation_domain = 1 + u32::from(plan.mode.index());
    c
}

/// The loss counters of A15 from device statistics: records the device had to drop
/// (per-profile drop counters, summed) and packets the parser rejected.
pub fn loss_counters(s: &DeviceStats) -> LossCounters {
    let errs: u64 = nsflow_rtl::regs::GLOBAL_STATS
        .iter()
        .filter(|(n, _)| n.starts_with("err_") && *n != "err_ipv6_bytes")
        .map(|(n, _)| s.global(n))
        .sum();
    LossCounters {
        not_sent_flows: s.profile_total("drop_flows"),
        not_sent_packets: s.profile_total("drop_packets"),
        not_sent_octets: s.profile_total("drop_bytes"),
        ignored_packets: errs,
        ignored_octets: s.global("err_ipv6_bytes"),
    }
}

/// Runs the main job to completion.
pub fn run(
    opts: RunOptions,
    stop: Arc<AtomicBool>,
    frames_seen: Arc<AtomicU64>,
) -> Result<RunReport, RunError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    rt.block_on(run_async(opts, stop, frames_seen))
}

async fn run_async(
    opts: RunOptions,
    stop: Arc<AtomicBool>,
    frames_seen: Arc<AtomicU64>,
) -> Result<RunReport, RunError> {
    let (config, warnings) = vrp::parse_config(&opts.config).map_err(RunError::Config)?;
    let tables = match &opts.routes {
        Some(t) => {
            let rt = vrp::parse_routes(t).map_err(|e| RunError::Routes(e.to_string()))?;
            rt.tables().map_err(|e| RunError::Routes(e.to_string()))?
        }
        None => Tables::default(),
    };
    let engine = config.engine_config();
    let modes: Vec<AggregationMode> = engine.profiles.iter().map(|p| p.mode).collect();
    let mut be = backend::open(&opts.device)?;
    if be.traffic().is_none() && opts.source.is_some() {
        return Err(RunError::Usage(format!(
            "{} takes packets on its own ports: --pcap/--generate need a modelled device",
            be.describe()
        )));
    }
    let irq = be.irq().and_then(|e| e.try_clone().ok());
    let device_name = be.describe();
    let dev = Device::bring_up(be, &tables, &engine, opts.ring_log2)?;
    let shared: SharedDevice = Arc::new(Mutex::new(dev));

    let mut report = RunReport {
        warnings: warnings.iter().map(ToString::to_string).collect(),
        device_name,
        ..RunReport::default()
    };

    // Collector first, so that it hears the templates sent at start.
    let (cstop_tx, cstop_rx) = watch::channel(false);
    let heard = Arc::new(AtomicU64::new(0));
    let collector = match opts.collect {
        Some(addr) => {
            let sock = collect::bind(addr).map_err(|source| BackendError::Io {
                context: format!("collector on {addr}"),
                source,
            })?;
            let heard = heard.clone();
            Some(tokio::spawn(collect::collect(sock, cstop_rx, move |_| {
                heard.fetch_add(1, Ordering::Relaxed);
            })))
        }
        None => None,
    };

    // One exporter per mode with somewhere to send.
    let mut exporters: BTreeMap<AggregationMode, Exporter> = BTreeMap::new();
    let clock = Arc::new(SystemClock::new());
    for plan in config.export_plans() {
        report.modes.entry(plan.mode).or_default();
        let cfg = export_config(&plan);
        if cfg.collectors.is_empty() {
            continue;
        }
        let ex = Exporter::start(cfg, clock.clone()).map_err(|source| RunError::Export {
            mode: plan.mode,
            source,
        })?;
        exporters.insert(plan.mode, ex);
        if let Some(m) = report.modes.get_mut(&plan.mode) {
            m.exported = true;
        }
    }
    for m in &modes {
        report.modes.entry(*m).or_default();
    }

    // Time base: device time now ↔ the first frame's capture time (replay), or wall clock.
    let mut frames = opts.source.as_ref().map(Frames::new);
    let first = match frames.as_mut() {
        Some(f) => f.next().transpose()?,
        None => None,
    };
    let device_now = lock(&shared).time_ns()?;
    let unix_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let time = TimeBase {
        device_ns: device_now,
        unix_ns: first.as_ref().map_or(unix_now, |f| f.ts_ns),
    };

    // Drain → convert → export.
    let (rec_tx, mut rec_rx) = mpsc::channel::<Vec<Record>>(64);
    let (dstop_tx, dstop_rx) = watch::channel(false);
    let drain_task = tokio::spawn(drain::run(
        shared.clone(),
        irq,
        DrainConfig::default(),
        rec_tx,
        dstop_rx,
    ));
    let modes_c = modes.clone();
    let per_mode: Arc<Mutex<BTreeMap<AggregationMode, ModeReport>>> =
        Arc::new(Mutex::new(BTreeMap::new()));
    let per_mode_c = per_mode.clone();
    let exporters = Arc::new(exporters);
    let exporters_c = exporters.clone();
    let convert_task = tokio::spawn(async move {
        let mut flows: Vec<FlowRecord> = Vec::new();
        while let Some(batch) = rec_rx.recv().await {
            flows.clear();
            to_flows(&batch, &modes_c, &time, &mut flows);
            let mut by_mode: BTreeMap<AggregationMode, Vec<FlowRecord>> = BTreeMap::new();
            {
                let mut pm = per_mode_c.lock().unwrap_or_else(|p| p.into_inner());
                for f in &flows {
                    let m = pm.entry(f.mode).or_default();
                    m.records += 1;
                    m.flows += f.flows;
                    m.packets += f.packets;
                    m.bytes += f.bytes;
                    by_mode.entry(f.mode).or_default().push(*f);
                }
            }
            for (mode, v) in by_mode {
                if let Some(ex) = exporters_c.get(&mode) {
                    // Waits while the exporter's queue is full: backpressure to the ring.
                    if ex.export(v).await.is_err() {
                        return Err(RunError::Export {
                            mode,
                            source: ExportError::Closed,
                        });
                    }
                }
            }
        }
        Ok(())
    });

    // Traffic into a modelled device, on a blocking thread.
    let replay = frames.map(|mut it| {
        let dev = shared.clone();
        let stop = stop.clone();
        let seen = frames_seen.clone();
        tokio::task::spawn_blocking(move || -> Result<u64, RunError> {
            let mut batch: Vec<nsflow_hwsim::capture::Frame> = first.into_iter().collect();
            let mut offered = 0u64;
            loop {
                while batch.len() < 256 {
                    match it.next() {
                        Some(f) => batch.push(f?),
                        None => break,
                    }
                }
                if batch.is_empty() || stop.load(Ordering::Relaxed) {
                    return Ok(offered);
                }
                let taken = {
                    let mut d = lock(&dev);
                    match d.backend().traffic() {
                        Some(port) => port.offer(&batch)?,
                        None => return Ok(offered),
                    }
                };
                batch.drain(..taken);
                offered += taken as u64;
                seen.store(offered, Ordering::Relaxed);
                if taken == 0 {
                    // The engine is holding back: the drain task frees ring space.
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
        })
    });

    // Loss counters to the exporters once a second while running.
    let loss_task = {
        let dev = shared.clone();
        let ex = exporters.clone();
        tokio::spawn(async move {
            let mut t = tokio::time::interval(Duration::from_secs(1));
            loop {
                t.tick().await;
                let stats = lock(&dev).stats();
                if let Ok(s) = stats {
                    let loss = loss_counters(&s);
                    for e in ex.values() {
                        let _ = e.set_loss_counters(loss).await;
                    }
                }
            }
        })
    };

    match replay {
        Some(h) => {
            report.frames = h
                .await
                .map_err(|e| RunError::Usage(format!("replay thread: {e}")))??;
        }
        None => {
            // Silicon: run until told to stop.
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let _ = dstop_tx.send(true);
    let drained = drain_task
        .await
        .map_err(|e| RunError::Usage(format!("drain task: {e}")))?;
    let convert = convert_task
        .await
        .map_err(|e| RunError::Usage(format!("export task: {e}")))?;
    loss_task.abort();
    drained?;
    convert?;

    report.device = lock(&shared).stats()?;
    let loss = loss_counters(&report.device);
    let exporters =
        Arc::try_unwrap(exporters).map_err(|_| RunError::Usage("exporters still in use".into()))?;
    for (_, ex) in exporters {
        let _ = ex.set_loss_counters(loss).await;
        let _ = ex.flush().await;
        report.collectors.extend(ex.shutdown().await);
    }
    let per_mode = per_mode.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for (p, mode) in modes.iter().enumerate() {
        let m = report.modes.entry(*mode).or_default();
        if let Some(d) = per_mode.get(mode) {
            m.records = d.records;
            m.flows = d.flows;
            m.packets = d.packets;
            m.bytes = d.bytes;
        }
        m.aggregates = report.device.profile(p, "created");
        m.drop_packets = report.device.profile(p, "drop_packets");
        m.drop_bytes = report.device.profile(p, "drop_bytes");
    }

    if let Some(task) = collector {
        // Let the last datagrams arrive: until the collector has every record sent, or 3 s.
        // Records sent to the in-process collector's address (a view may also send
        // elsewhere); other collectors' records are not waited for.
        let sent: u64 = report
            .collectors
            .iter()
            .filter(|c| Some(c.collector) == opts.collect)
            .map(|c| c.records_sent)
            .sum();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while heard.load(Ordering::Relaxed) < sent && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = cstop_tx.send(true);
        report.collected = task.await.ok();
    }
    Ok(report)
}

impl RunReport {
    /// The end-of-run summary: per mode and per collector.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let g = |n: &str| self.device.global(n);
        let _ = writeln!(s, "device: {}", self.device_name);
        let _ = writeln!(
            s,
            "frames offered {}: IPv6 {} packets / {} bytes keyed, IPv4 {}, other {}, parse errors {} ({} IPv6 bytes ignored)",
            self.frames,
            g("ipv6_packets"),
            g("ipv6_bytes"),
            g("ipv4_packets"),
            g("other_frames"),
            nsflow_rtl::regs::GLOBAL_STATS.iter().filter(|(n, _)| n.starts_with("err_") && *n != "err_ipv6_bytes").map(|(n, _)| g(n)).sum::<u64>(),
            g("err_ipv6_bytes"),
        );
        let _ = writeln!(
            s,
            "original flows created {}, evicted for room {}",
            g("orig_created"),
            g("orig_evicted")
        );
        let _ = writeln!(
            s,
            "\n{:<24} {:>10} {:>10} {:>9} {:>12} {:>14} {:>10}  export",
            "mode", "orig flows", "aggregates", "records", "packets", "bytes", "drops"
        );
        for (m, r) in &self.modes {
            let _ = writeln!(
                s,
                "{:<24} {:>10} {:>10} {:>9} {:>12} {:>14} {:>10}  {}",
                m.name(),
                r.flows,
                r.aggregates,
                r.records,
                r.packets,
                r.bytes,
                r.drop_packets,
                if r.exported {
                    "yes"
                } else {
                    "no (no host or no source)"
                }
            );
        }
        let _ = writeln!(
            s,
            "\n{:<46} {:>10} {:>10} {:>10} {:>10}",
            "collector", "messages", "records", "msg fail", "rec fail"
        );
        for c in &self.collectors {
            let _ = writeln!(
                s,
                "{:<46} {:>10} {:>10} {:>10} {:>10}",
                c.collector.to_string(),
                c.messages_sent,
                c.records_sent,
                c.messages_failed,
                c.records_failed
            );
            if let Some(e) = &c.last_error {
                let _ = writeln!(s, "    last error: {e}");
            }
        }
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        if let Some(c) = &self.collected {
            let _ = writeln!(s, "\ncollected (in-process collector):\n{}", c.render());
        }
        s
    }
}
