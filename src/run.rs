//! `nsflow run`: the main job. Reads the VRP configuration and the route file, brings the
//! device up, replays traffic into it (a modelled device) or lets its ports take packets
//! (silicon), drains the ring, and exports every record to the collectors of its mode's
//! view; commits given with `--commit-at` are applied mid-run, changing only what differs
//! ([`job::Job::commit`]); on the end of the traffic, a read error, SIGINT, SIGTERM, SIGHUP
//! or SIGQUIT it stops gracefully (flush, drain, final export) and reports per mode and
//! per collector, and how it stopped.
//!
//! | module | holds |
//! |---|---|
//! | [`job`] | the live pipeline: device, drain epochs, converter, exporters, commit |
//! | [`replay`] | traffic into a modelled device, stopping at commit points |
//! | [`fault`] | faults injected at frame counts (`--fault`) |
//! | [`cache`] | the exported aggregates per mode (`display … cache`) |
//! | [`summary`] | the tables of the run summary and the shell's displays |

pub mod cache;
pub mod fault;
pub mod job;
pub mod replay;
pub mod summary;

use crate::collect::{self, CollectTotals};
use crate::traffic::{Frames, Source};
use crate::vrp;
use job::{Job, JobOptions};
use nsflow_driver::backend::{self, BackendError};
use nsflow_driver::device::{DeviceError, DeviceStats};
use nsflow_driver::drain::{lock, DrainError, SharedDevice};
use nsflow_exporter::{DestinationStats, ExportError, LossCounters};
use nsflow_rtl::record::EndReason;
use nsflow_rtl::regs::{GlobalStat, ProfileStat};
use nsflow_rtl::tables::Tables;
use nsflow_rtl::AggregationMode;
use replay::{CommitRequest, Replay};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A commit applied mid-run: after `frames` frames, the VRP commands of a file are run on
/// the running configuration (from the system view) and committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitAt {
    /// Frames offered before the commit (past the end of the traffic: at its end).
    pub frames: u64,
    /// Where the commands came from, for messages.
    pub name: String,
    /// The VRP commands.
    pub commands: String,
}

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
    /// Commits to apply mid-run (a modelled device with traffic only).
    pub commits: Vec<CommitAt>,
    /// Faults to inject mid-run (the in-process model with traffic only).
    pub faults: Vec<fault::FaultAt>,
    /// How long the final flush (and a commit's) may take; `None`: the drain's default
    /// (30 s). Past it the run exports what it drained and what the ring held, and
    /// reports the rest as not exported.
    pub flush_timeout: Option<Duration>,
}

impl RunOptions {
    /// A replay of `source` on the embedded simulator under `config` (and `routes`):
    /// the ring of `nsflow run`'s default size (2^14 records), no in-process collector,
    /// no commit or fault mid-run, the drain's default flush timeout.
    pub fn replay(config: String, routes: Option<String>, source: Source) -> Self {
        Self {
            config,
            routes,
            device: "sim".into(),
            source: Some(source),
            collect: None,
            ring_log2: 14,
            commits: Vec::new(),
            faults: Vec::new(),
            flush_timeout: None,
        }
    }
}

/// Why the run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration has errors (rendered VRP-style).
    #[error("{0}")]
    Config(vrp::Errors),
    /// A `--commit-at` file has errors, applied after the configuration and the commit
    /// files before it (rendered VRP-style).
    #[error("{name}: {errors}")]
    CommitFile {
        /// The file.
        name: String,
        /// Its errors.
        errors: vrp::Errors,
    },
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
    /// An exporter could not start or stopped.
    #[error("export of {mode}: {source}")]
    Export {
        /// The mode whose exporter failed.
        mode: AggregationMode,
        /// Why.
        source: ExportError,
    },
    /// The traffic's first frame could not be read (nothing was offered).
    #[error(transparent)]
    Traffic(#[from] nsflow_hwsim::capture::CaptureError),
    /// Options that do not go together (traffic for silicon, a commit point without
    /// traffic).
    #[error("{0}")]
    Usage(String),
    /// A task of the pipeline ended unexpectedly.
    #[error("{0}")]
    Task(String),
    /// The runtime could not start.
    #[error("tokio runtime: {0}")]
    Runtime(std::io::Error),
}

/// Per-mode results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModeReport {
    /// Original flows merged (sum of deltaFlowCount over the records drained).
    pub flows: u64,
    /// Aggregates the profile created (device counter).
    pub aggregates: u64,
    /// Records drained.
    pub records: u64,
    /// Packets in those records.
    pub packets: u64,
    /// Bytes in those records.
    pub bytes: u64,
    /// Original flows the device merged into this mode's aggregates (device counter).
    pub merged_flows: u64,
    /// Packets of those (device counter): every packet the mode saw.
    pub merged_packets: u64,
    /// Bytes of those (device counter).
    pub merged_bytes: u64,
    /// Packets the device dropped for this profile (ring full beyond holding).
    pub drop_packets: u64,
    /// Bytes dropped.
    pub drop_bytes: u64,
    /// Whether the mode had an exporter (collectors and a source, A2) at some time.
    pub exported: bool,
}

impl ModeReport {
    /// Packets and bytes the device merged that are in no record drained and no drop
    /// counter: what it still held when a run gave up on its flush (zero for a run that
    /// completed its flush).
    pub fn not_exported(&self) -> (u64, u64) {
        (
            self.merged_packets
                .saturating_sub(self.packets + self.drop_packets),
            self.merged_bytes
                .saturating_sub(self.bytes + self.drop_bytes),
        )
    }
}

/// The counters of one collector of one mode's exporter (summed over the exporters a
/// commit replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorReport {
    /// The mode whose records these are.
    pub mode: AggregationMode,
    /// Messages and records sent and failed.
    pub stats: DestinationStats,
}

/// A commit applied mid-run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitDone {
    /// Frames offered before it.
    pub frames: u64,
    /// The commit file.
    pub name: String,
    /// What changed ([`vrp::Diff`]'s text).
    pub diff: String,
}

/// What [`Ending::Interrupted`] names when the stop flag was set (`nsflow run` replaces it
/// with the signal's name).
pub const STOP_REQUEST: &str = "a stop request";

/// Why and how a run's traffic ended (the summary's `stopped:` line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Ending {
    /// Every frame of the traffic was offered: the run is complete.
    #[default]
    Complete,
    /// Stopped before the end of the traffic on request (a signal, named here, or the
    /// shell's `quit`); everything offered until then was exported.
    Interrupted(String),
    /// The traffic could not be read on (the error names the file and byte offset); every
    /// frame before it was offered and exported. The run failed.
    ReadError(String),
    /// The device failed before the end of the traffic (it stopped answering, its
    /// vfio-user server died, its drain gave up): everything drained until then was
    /// exported, and [`RunReport::failure`] says why. The run failed.
    DeviceFailed,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Per mode enabled at any time.
    pub modes: BTreeMap<AggregationMode, ModeReport>,
    /// Records exported per end reason.
    pub reasons: BTreeMap<EndReason, u64>,
    /// Per mode and collector.
    pub collectors: Vec<CollectorReport>,
    /// Device statistics at the end.
    pub device: DeviceStats,
    /// The last loss counters (A15, D2) sent in each exported mode's options: its own
    /// mode's drops, the device-wide parser rejections.
    pub loss: BTreeMap<AggregationMode, LossCounters>,
    /// Frames offered to the device.
    pub frames: u64,
    /// What the in-process collector received.
    pub collected: Option<CollectTotals>,
    /// Flow records the exporters sent to the in-process collector's address.
    pub collected_sent: u64,
    /// Commits applied mid-run.
    pub commits: Vec<CommitDone>,
    /// Commit warnings.
    pub warnings: Vec<String>,
    /// Device description.
    pub device_name: String,
    /// Recoveries of the device from its error state (reset and reprogramming).
    pub recoveries: u64,
    /// Why the pipeline stopped early (the device stopped answering, a drain error): the
    /// report then holds what was exported until then, with the last device counters
    /// that could be read.
    pub failure: Option<String>,
    /// Why and how the traffic ended.
    pub ending: Ending,
    /// Whether the device counters are the last read before the device stopped
    /// answering: conservation cannot be checked then.
    pub stale_counters: bool,
}

/// The loss counters of A15 for one mode's observation domain (decision D2): the records
/// of that mode the device had to drop (`mode`: the mode's profile counters across
/// reprogramming, in `ProfileStat` order) and the packets the parser rejected, which no
/// mode saw, so every domain carries the same device-wide ignored counts.
pub fn loss_counters(s: &DeviceStats, mode: &[u64]) -> LossCounters {
    let errs: u64 = GlobalStat::parse_errors().map(|n| s.global(n)).sum();
    let drop = |st: ProfileStat| mode.get(st.index()).copied().unwrap_or(0);
    LossCounters {
        not_sent_flows: drop(ProfileStat::DropFlows),
        not_sent_packets: drop(ProfileStat::DropPackets),
        not_sent_octets: drop(ProfileStat::DropBytes),
        ignored_packets: errs,
        ignored_octets: s.global(GlobalStat::ErrIpv6Bytes),
    }
}

/// Reads the route file (an empty table set without one).
pub fn route_tables(routes: Option<&str>) -> Result<Tables, RunError> {
    match routes {
        Some(t) => {
            let rt = vrp::parse_routes(t).map_err(|e| RunError::Routes(e.to_string()))?;
            rt.tables().map_err(|e| RunError::Routes(e.to_string()))
        }
        None => Ok(Tables::default()),
    }
}

/// The runtime a device's job runs on: two workers (drain and export), timers and I/O.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(RunError::Runtime)
}

/// Runs the main job to completion.
pub fn run(
    opts: RunOptions,
    stop: Arc<AtomicBool>,
    frames_seen: Arc<AtomicU64>,
) -> Result<RunReport, RunError> {
    runtime()?.block_on(run_async(opts, stop, frames_seen))
}

/// Every commit file applied in order on top of `session`, checked before the run starts
/// so that a bad file fails the command rather than the run.
fn check_commits(session: &vrp::Session, commits: &[CommitAt]) -> Result<(), RunError> {
    let mut scratch = session.clone();
    for c in commits {
        scratch
            .execute_script(&c.commands)
            .map_err(|errors| RunError::CommitFile {
                name: c.name.clone(),
                errors,
            })?;
    }
    Ok(())
}

/// Waits for `stop`, then ends a stall of the ring consumer of `dev`.
async fn release_on_stop(stop: Arc<AtomicBool>, dev: SharedDevice) {
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    lock(&dev).release_ring();
}

/// Applies the commit file `c` reached at frame `frames` to the session and the job;
/// returns what was done and the commit's warnings.
async fn apply_commit(
    session: &mut vrp::Session,
    job: &mut Job,
    c: &CommitAt,
    frames: u64,
) -> Result<(CommitDone, Vec<String>), RunError> {
    let applied = session
        .execute_script(&c.commands)
        .map_err(|errors| RunError::CommitFile {
            name: c.name.clone(),
            errors,
        })?;
    let diff = job.commit(session.running().clone()).await?;
    let done = CommitDone {
        frames,
        name: c.name.clone(),
        diff: diff.to_string(),
    };
    Ok((
        done,
        applied.warnings.iter().map(ToString::to_string).collect(),
    ))
}

async fn run_async(
    mut opts: RunOptions,
    stop: Arc<AtomicBool>,
    frames_seen: Arc<AtomicU64>,
) -> Result<RunReport, RunError> {
    let (mut session, first_commit) =
        vrp::Session::from_script(&opts.config).map_err(RunError::Config)?;
    opts.commits.sort_by_key(|c| c.frames);
    check_commits(&session, &opts.commits)?;
    let tables = route_tables(opts.routes.as_deref())?;
    let embedded = opts.device == "sim" || opts.device.starts_with("sim:");
    if !opts.faults.is_empty() && (!embedded || opts.source.is_none()) {
        return Err(RunError::Usage(
            "--fault injects into the embedded simulator at replayed frame counts: it needs --device sim and traffic".into(),
        ));
    }
    let mut be = backend::open(&opts.device)?;
    let modelled = be.traffic().is_some();
    if !modelled && opts.source.is_some() {
        return Err(RunError::Usage(format!(
            "{} takes packets on its own ports: --pcap/--generate need a modelled device",
            be.describe()
        )));
    }
    if !modelled && !opts.commits.is_empty() {
        return Err(RunError::Usage(
            "--commit-at counts replayed frames: it needs a modelled device and traffic".into(),
        ));
    }
    let mut report = RunReport {
        warnings: first_commit
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect(),
        device_name: be.describe(),
        ..RunReport::default()
    };
    if session.running().engine_config().profiles.is_empty() {
        report.warnings.push(
            "no aggregation mode is enabled: nothing is aggregated or exported (`ipv6 netstream aggregation MODE`, then `enable`)".into(),
        );
    }

    // Collector first, so that it hears the templates sent at start.
    let collector = opts
        .collect
        .map(|addr| {
            collect::Listener::start(addr, (), |_, _| {}).map_err(|source| BackendError::Io {
                context: format!("collector on {addr}"),
                source,
            })
        })
        .transpose()?;

    // Time base: the first frame's capture time on a replay, else the wall clock. Traffic
    // whose first frame cannot be read is refused before the device starts (nothing
    // taken, nothing to export); a read error later ends the replay and the run reports it.
    let mut frames = opts.source.as_ref().map(Frames::new);
    let first = frames.as_mut().and_then(Iterator::next).transpose()?;
    let anchor = first.as_ref().map(|f| f.ts_ns);
    let mut job_opts = JobOptions {
        ring_log2: opts.ring_log2,
        ..JobOptions::default()
    };
    if let Some(t) = opts.flush_timeout {
        job_opts.drain.flush_timeout = t;
    }
    let mut job = Job::start(be, &tables, session.running().clone(), job_opts, anchor).await?;

    let (commit_tx, mut commit_rx) = mpsc::channel::<CommitRequest>(1);
    let replay = frames.map(|frames| {
        let r = Replay {
            frames,
            first,
            dev: job.device(),
            stop: stop.clone(),
            seen: frames_seen.clone(),
            commit_points: opts.commits.iter().map(|c| c.frames).collect(),
            commits: commit_tx,
            faults: opts.faults.clone(),
            failed: job.failed(),
        };
        tokio::task::spawn_blocking(move || r.run())
    });
    // A stop request ends a stalled ring consumer (`--fault ring-stall`), so that the
    // final flush completes instead of timing out.
    let unstall = tokio::spawn(release_on_stop(stop.clone(), job.device()));
    // Whatever ends the traffic, the job is finished below: everything the device took
    // is flushed, drained and exported before the run reports how it ended.
    let mut failure = None;
    match replay {
        Some(mut h) => loop {
            tokio::select! {
                r = &mut h => {
                    match r.map_err(|e| RunError::Task(format!("replay thread: {e}"))).and_then(|r| r) {
                        Ok(replayed) => {
                            report.frames = replayed.frames;
                            if let Some(e) = replayed.end.error() {
                                failure.get_or_insert(e.to_owned());
                            }
                            report.ending = replayed.end.ending(STOP_REQUEST);
                        }
                        Err(e) => {
                            report.frames = frames_seen.load(Ordering::Relaxed);
                            failure.get_or_insert(e.to_string());
                        }
                    }
                    break;
                }
                Some(req) = commit_rx.recv() => {
                    match apply_commit(&mut session, &mut job, &opts.commits[req.index], req.frames).await {
                        Ok((done, warnings)) => {
                            report.commits.push(done);
                            report.warnings.extend(warnings);
                            let _ = req.done.send(());
                        }
                        // Dropping the request stops the replay.
                        Err(e) => {
                            failure = Some(e.to_string());
                        }
                    }
                }
            }
        },
        None => {
            // Silicon: run until told to stop, or until the pipeline fails.
            let failed = job.failed();
            while !stop.load(Ordering::Relaxed) && !failed.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if failed.load(Ordering::Relaxed) {
                report.ending = Ending::DeviceFailed;
            } else if stop.load(Ordering::Relaxed) {
                report.ending = Ending::Interrupted(STOP_REQUEST.into());
            }
        }
    }
    let done = job.finish().await;
    unstall.abort();
    let done = done?;
    report.modes = done.modes;
    report.reasons = done.reasons;
    report.collectors = done.collectors;
    report.device = done.device;
    report.loss = done.loss;
    report.recoveries = done.drained.recoveries;
    report.stale_counters = done.stale_counters;
    // The device's own failure first: a replay or commit that failed after it is its
    // consequence.
    report.failure = done.failure.or(failure);
    if let Some(c) = collector {
        // Every record sent to its address (a view may also send elsewhere).
        let sent: u64 = report
            .collectors
            .iter()
            .filter(|r| r.stats.collector == c.addr)
            .map(|r| r.stats.records_sent)
            .sum();
        report.collected_sent = sent;
        report.collected =
            tokio::task::spawn_blocking(move || c.finish(sent, collect::ARRIVAL_GRACE))
                .await
                .ok()
                .and_then(Result::ok)
                .map(|(totals, ())| totals);
    }
    Ok(report)
}

impl RunReport {
    /// Whether the run failed (a read error, a device or pipeline failure): `nsflow run`
    /// then exits 1, after the summary.
    pub fn failed(&self) -> bool {
        self.failure.is_some() || matches!(self.ending, Ending::ReadError(_) | Ending::DeviceFailed)
    }

    /// The summary's `stopped:` line: why the traffic ended and whether the run is
    /// complete.
    fn stopped_line(&self) -> String {
        let frames = self.frames;
        match &self.ending {
            Ending::Complete => {
                format!("stopped: end of the traffic, {frames} frames offered (complete)\n")
            }
            Ending::Interrupted(by) => format!(
                "stopped: interrupted by {by} after {frames} frames (everything offered until then was flushed, drained and exported)\n"
            ),
            Ending::ReadError(e) => format!(
                "stopped: read error after {frames} frames (incomplete: everything offered until then was flushed, drained and exported): {e}\n"
            ),
            Ending::DeviceFailed => format!(
                "stopped: the device failed after {frames} frames (incomplete: everything drained until then was exported; FAILED below says why)\n"
            ),
        }
    }

    /// The run's own conservation check, per mode: the packets and bytes the device
    /// merged into the mode's aggregates equal those in the records drained plus those it
    /// dropped (and counted) — plus, when the run failed, those it still held
    /// ([`ModeReport::not_exported`]). Returns one line per mode that breaks it; empty
    /// when every packet is accounted for. Not checked when the device counters are the
    /// last read ([`Self::stale_counters`]).
    pub fn conservation(&self) -> Vec<String> {
        if self.stale_counters {
            return Vec::new();
        }
        let failed = self.failure.is_some();
        self.modes
            .iter()
            .filter(|(_, m)| {
                let kept = (m.packets + m.drop_packets, m.bytes + m.drop_bytes);
                let merged = (m.merged_packets, m.merged_bytes);
                if failed {
                    kept.0 > merged.0 || kept.1 > merged.1
                } else {
                    kept != merged
                }
            })
            .map(|(mode, m)| {
                format!(
                    "{mode}: merged {} packets / {} bytes, records carry {} / {}, dropped {} / {}",
                    m.merged_packets,
                    m.merged_bytes,
                    m.packets,
                    m.bytes,
                    m.drop_packets,
                    m.drop_bytes
                )
            })
            .collect()
    }

    /// The end-of-run summary: device, per mode, per collector, commits, warnings, the
    /// conservation check and what the in-process collector received.
    pub fn render(&self) -> String {
        let mut s = format!("device: {}\n", self.device_name);
        s.push_str(&summary::device(&self.device, self.frames, &self.reasons));
        s.push('\n');
        s.push_str(&summary::modes(&self.modes));
        s.push('\n');
        s.push_str(&summary::collectors(&self.collectors));
        for c in &self.commits {
            s.push_str(&format!(
                "\ncommit {} at frame {}: {}\n",
                c.name,
                c.frames,
                c.diff.replace('\n', "; ")
            ));
        }
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        if self.recoveries > 0 {
            s.push_str(&format!(
                "device recovered from its error state {} time(s) (reset and reprogrammed; what it could not write is in the drop counters)\n",
                self.recoveries
            ));
        }
        s.push_str(&self.stopped_line());
        let mut held = false;
        if self.failure.is_some() && !self.stale_counters {
            for (mode, m) in &self.modes {
                let (p, b) = m.not_exported();
                if (p, b) != (0, 0) {
                    held = true;
                    s.push_str(&format!(
                        "not exported: {mode}: {p} packets / {b} bytes (still in the device when the run gave up; counted in the loss counters sent)\n"
                    ));
                }
            }
        }
        let broken = self.conservation();
        if !self.stale_counters {
            if !broken.is_empty() {
                for b in &broken {
                    s.push_str(&format!("CONSERVATION MISMATCH: {b}\n"));
                }
            } else if held {
                s.push_str(
                    "conservation: every packet merged is in one record, one drop counter or a not-exported count, every mode\n",
                );
            } else {
                s.push_str(
                    "conservation: every packet merged is in one record or one drop counter, every mode\n",
                );
            }
        }
        if let Some(f) = &self.failure {
            let counters = if self.stale_counters {
                "device counters are the last read"
            } else {
                "what the device still held is counted as not exported"
            };
            s.push_str(&format!(
                "FAILED: {f}\n(everything drained was exported; {counters})\n"
            ));
        }
        if let Some(c) = &self.collected {
            s.push_str(&format!(
                "\ncollected (in-process collector):\n{}",
                c.render()
            ));
            let heard = c.total().records;
            if heard < self.collected_sent {
                s.push_str(&format!(
                    "WARNING: the collector received {heard} of the {} flow records sent to it; the rest were lost on the way (its socket's receive buffer overflowed: raise net.core.rmem_max)\n",
                    self.collected_sent
                ));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(merged: u64, drained: u64, dropped: u64) -> RunReport {
        let m = ModeReport {
            packets: drained,
            bytes: drained * 100,
            merged_packets: merged,
            merged_bytes: merged * 100,
            drop_packets: dropped,
            drop_bytes: dropped * 100,
            ..ModeReport::default()
        };
        RunReport {
            modes: [(AggregationMode::ProtocolPort, m)].into(),
            ..RunReport::default()
        }
    }

    #[test]
    fn the_summary_checks_conservation_per_mode() {
        let ok = report(10, 7, 3);
        assert!(ok.conservation().is_empty());
        assert!(ok.render().contains("conservation: every packet merged"));
        let lost = report(10, 7, 2);
        assert_eq!(
            lost.conservation(),
            vec!["protocol-port: merged 10 packets / 1000 bytes, records carry 7 / 700, dropped 2 / 200"]
        );
        assert!(lost
            .render()
            .contains("CONSERVATION MISMATCH: protocol-port"));
        // A run that gave up on its flush: what the device still held is not exported,
        // not a mismatch; more in records than merged still is.
        let gave_up = RunReport {
            failure: Some("flush did not complete within 1s".into()),
            ..lost.clone()
        };
        assert!(gave_up.conservation().is_empty());
        let text = gave_up.render();
        assert!(
            text.contains("not exported: protocol-port: 1 packets / 100 bytes")
                && text.contains("or a not-exported count, every mode"),
            "{text}"
        );
        let too_many = RunReport {
            failure: Some("flush did not complete within 1s".into()),
            ..report(10, 9, 2)
        };
        assert_eq!(too_many.conservation().len(), 1);
        // Counters that are the last read are not checked: the device may have moved on.
        let stale = RunReport {
            failure: Some("gone".into()),
            stale_counters: true,
            ..lost
        };
        assert!(stale.conservation().is_empty());
        assert!(stale.render().contains("device counters are the last read"));
    }
}
