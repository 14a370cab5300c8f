//! `nsflow shell`: a VRP session against a running device. Lines come from any reader
//! (a terminal or a pipe): the prompt shows the view (`<nsflow>`, `[~nsflow]`,
//! `[*nsflow]` while uncommitted, `[~nsflow-aggregation-ipv6-MODE]`); `commit` applies
//! only the difference to the device and the exporters ([`Job::commit`]); a line ending in
//! `?` lists what may come next, a line ending in TAB lists the completions of its last
//! word; `display ipv6 netstream {statistics | export | template | cache aggregation
//! MODE}` and `reset ipv6 netstream cache` show and act on the device. Traffic given with
//! `--pcap`/`--generate` is replayed in the background from the start; `Info: replay
//! finished` is printed when it has all been offered. From then on (from the start without
//! traffic) a modelled device runs on the wall clock: every [`LIVE_CLOCK_TICK`] the idle
//! time that passed is passed to it ([`Job::pass_idle_time`]), so its scanner ages flows
//! and their records are exported as on a router, and the displays show it. `quit` in the
//! user view, or the end of the input, stops the device gracefully and returns the run's
//! report.

use crate::collect::key_text;
use crate::run::job::{Job, JobOptions};
use crate::run::replay::Replay;
use crate::run::{route_tables, summary, Ending, RunError, RunReport};
use crate::traffic::{Frames, Source};
use crate::vrp::filter::filtered;
use crate::vrp::{Errors, Operation, Response, Session};
use nsflow_driver::backend;
use nsflow_exporter::template::Template;
use nsflow_exporter::Version;
use nsflow_rtl::AggregationMode;
use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

/// How often an idle modelled device's clock is moved on to the wall clock.
pub const LIVE_CLOCK_TICK: Duration = Duration::from_secs(1);

/// What the shell runs against.
#[derive(Debug, Clone)]
pub struct ShellOptions {
    /// A configuration to start from (committed before the first prompt).
    pub config: Option<String>,
    /// The route file's text.
    pub routes: Option<String>,
    /// Device specification (`sim`, `vfio-user:PATH`, `vfio:BDF`).
    pub device: String,
    /// Traffic replayed in the background into a modelled device.
    pub source: Option<Source>,
    /// Ring size, log2 of records.
    pub ring_log2: u8,
}

/// The session and the device it configures.
struct Shell {
    session: Session,
    job: Job,
    frames: Arc<AtomicU64>,
}

/// Runs the shell: reads lines from `input` until `quit` in the user view or the end of
/// the input, writes prompts and answers to `out`. Returns the report of the device's run.
pub fn run(
    opts: ShellOptions,
    input: Box<dyn BufRead + Send>,
    out: &mut (dyn Write + Send),
) -> Result<RunReport, RunError> {
    crate::run::runtime()?.block_on(run_async(opts, input, out))
}

/// Lines of `input`, read on a blocking thread; the channel closes at its end.
fn lines(input: Box<dyn BufRead + Send>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in input.lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

async fn run_async(
    opts: ShellOptions,
    input: Box<dyn BufRead + Send>,
    out: &mut (dyn Write + Send),
) -> Result<RunReport, RunError> {
    let (session, warnings) = match &opts.config {
        Some(text) => {
            let (s, r) = Session::from_script(text).map_err(RunError::Config)?;
            (s, r.warnings)
        }
        None => (Session::default(), Vec::new()),
    };
    let tables = route_tables(opts.routes.as_deref())?;
    let mut be = backend::open(&opts.device)?;
    let device_name = be.describe();
    if be.traffic().is_none() && opts.source.is_some() {
        return Err(RunError::Usage(format!(
            "{device_name} takes packets on its own ports: --pcap/--generate need a modelled device"
        )));
    }
    let mut frames = opts.source.as_ref().map(Frames::new);
    let first = frames.as_mut().and_then(Iterator::next).transpose()?;
    let job_opts = JobOptions {
        ring_log2: opts.ring_log2,
        keep_cache: true,
        ..JobOptions::default()
    };
    let job = Job::start(
        be,
        &tables,
        session.running().clone(),
        job_opts,
        first.as_ref().map(|f| f.ts_ns),
    )
    .await?;
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicU64::new(0));
    // The shell takes no commit points: commits come from its input.
    let (commits, _no_commits) = mpsc::channel(1);
    let mut replay = frames.map(|frames| {
        let r = Replay {
            frames,
            first,
            dev: job.device(),
            stop: stop.clone(),
            seen: seen.clone(),
            commit_points: Vec::new(),
            commits,
            faults: Vec::new(),
            failed: job.failed(),
        };
        tokio::task::spawn_blocking(move || r.run())
    });
    let mut sh = Shell {
        session,
        job,
        frames: seen,
    };
    let mut report = RunReport {
        device_name,
        warnings: warnings.iter().map(ToString::to_string).collect(),
        ..RunReport::default()
    };
    for w in &warnings {
        say(out, &format!("Warning: {w}\n"));
    }
    let mut input = lines(input);
    let mut clock = tokio::time::interval(LIVE_CLOCK_TICK);
    clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Up to when the device's idle time has been passed to it: `None` while a replay's
    // frames drive its clock, or when the device keeps its own time.
    let mut idle_since = replay.is_none().then(Instant::now);
    say(out, &sh.session.prompt());
    loop {
        tokio::select! {
            line = input.recv() => {
                let Some(line) = line else { break };
                say(out, "\n");
                if !sh.line(&line, out).await {
                    break;
                }
                say(out, &sh.session.prompt());
            }
            r = async {
                match replay.as_mut() {
                    Some(h) => h.await,
                    None => std::future::pending().await,
                }
            }, if replay.is_some() => {
                replay = None;
                let r = r.map_err(|e| RunError::Task(format!("replay thread: {e}")))??;
                let n = r.frames;
                report.frames = n;
                if let Some(e) = r.end.error() {
                    say(out, &format!("\nError: {e}"));
                    report.failure.get_or_insert(e.to_owned());
                }
                report.ending = r.end.ending("quit");
                if let Ending::ReadError(e) = &report.ending {
                    say(out, &format!("\nError: {e}"));
                }
                say(out, &format!("\nInfo: replay finished, {n} frames offered.\n{}", sh.session.prompt()));
                idle_since = Some(Instant::now());
            }
            _ = clock.tick(), if idle_since.is_some() => {
                let now = Instant::now();
                let since = idle_since.replace(now).unwrap_or(now);
                match sh.job.pass_idle_time(now - since) {
                    Ok(true) => {}
                    Ok(false) => idle_since = None,
                    Err(e) => {
                        idle_since = None;
                        say(out, &format!("\nError: the device's clock stopped: {e}\n{}", sh.session.prompt()));
                    }
                }
            }
        }
    }
    if sh.session.candidate() != sh.session.running() {
        say(
            out,
            "\nWarning: the input ended with uncommitted configurations; they were discarded.",
        );
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(h) = replay {
        let r = h
            .await
            .map_err(|e| RunError::Task(format!("replay thread: {e}")))??;
        report.frames = r.frames;
        if let Some(e) = r.end.error() {
            report.failure.get_or_insert(e.to_owned());
        }
        report.ending = r.end.ending("quit");
    }
    say(out, "\n");
    let done = sh.job.finish().await?;
    report.failure = done.failure.or(report.failure);
    report.modes = done.modes;
    report.reasons = done.reasons;
    report.collectors = done.collectors;
    report.device = done.device;
    Ok(report)
}

/// Writes to the terminal or pipe; a closed output is not an error of the device.
fn say(out: &mut (dyn Write + Send), text: &str) {
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

impl Shell {
    /// Handles one line; false when the session ends.
    async fn line(&mut self, line: &str, out: &mut (dyn Write + Send)) -> bool {
        if let Some(partial) = line.strip_suffix('?') {
            say(out, &self.help(partial));
            return true;
        }
        if let Some(partial) = line.strip_suffix('\t') {
            let words = self.session.complete(partial);
            let text = if words.is_empty() {
                "Info: no completion.\n".to_owned()
            } else {
                format!("{}\n", words.join("  "))
            };
            say(out, &text);
            return true;
        }
        let before = self.session.clone();
        match self.session.feed_line(line) {
            Ok(Response::Done) => {}
            Ok(Response::Output(text)) => say(out, &text),
            Ok(Response::Closed) => return false,
            Ok(Response::Committed(report)) => {
                match self.job.commit(self.session.running().clone()).await {
                    Ok(_) => say(out, &report.message()),
                    Err(e) => {
                        // The running configuration stays what the device runs, and the
                        // session stays in its view.
                        self.session = before;
                        self.session.cancel_exit();
                        say(
                            out,
                            &format!("Error: the commit could not be applied: {e}\n"),
                        );
                    }
                }
            }
            Ok(Response::Operation(op, filter)) => {
                let text = match self.operation(op).await {
                    Ok(t) => filtered(filter.as_ref(), t),
                    Err(e) => format!("Error: {e}\n"),
                };
                say(out, &text);
            }
            Err(errors) => say(out, &errors.interactive().to_string()),
        }
        true
    }

    /// `?`: the words that may come next, one per line with their meaning.
    fn help(&self, partial: &str) -> String {
        match self.session.help(partial) {
            Ok(items) => {
                let mut s = String::new();
                for i in items {
                    let _ = writeln!(s, "  {:<28} {}", i.word, i.help);
                }
                s
            }
            Err(e) => Errors::from(e.at_line(1, partial))
                .interactive()
                .to_string(),
        }
    }

    async fn operation(&mut self, op: Operation) -> Result<String, RunError> {
        Ok(match op {
            Operation::Statistics => {
                let stats = self.job.device_stats()?;
                let frames = self.frames.load(Ordering::Relaxed);
                format!(
                    "{}\n{}",
                    summary::device(&stats, frames, &self.job.reasons()),
                    summary::modes(&self.job.mode_reports(&stats))
                )
            }
            Operation::Export => summary::collectors(&self.job.collectors().await),
            Operation::Template => self.templates().await,
            Operation::Cache(mode) => self.cache(mode),
            Operation::ResetCache => {
                self.job.reset_cache().await?;
                "Info: every flow was aged out and exported.\n".to_owned()
            }
        })
    }

    /// One line per exporting mode: template ID, field count, record length, version, and
    /// the export messages (which carry the templates) sent and failed.
    async fn templates(&self) -> String {
        let collectors = self.job.collectors().await;
        let mut s = format!(
            "{:<24} {:>11} {:>6} {:>13} {:>7} {:>9} {:>9}\n",
            "mode", "template id", "fields", "record octets", "version", "sent", "failed"
        );
        for (mode, cfg) in self.job.running().export_configs() {
            if cfg.collectors.is_empty() {
                continue;
            }
            let t = Template::new(mode, cfg.format());
            let mine = collectors.iter().filter(|c| c.mode == mode);
            let (sent, failed) = mine.fold((0, 0), |(a, b), c| {
                (a + c.stats.messages_sent, b + c.stats.messages_failed)
            });
            let _ = writeln!(
                s,
                "{:<24} {:>11} {:>6} {:>13} {:>7} {:>9} {:>9}",
                mode.name(),
                t.id,
                t.fields.len(),
                t.record_len,
                match cfg.version {
                    Version::V9 => "9",
                    Version::Ipfix => "ipfix",
                },
                sent,
                failed
            );
        }
        s
    }

    /// The aggregates of `mode` exported so far, one line each, and their totals.
    fn cache(&self, mode: AggregationMode) -> String {
        let Some(c) = self.job.cache(mode) else {
            return "Info: no cache is kept.\n".to_owned();
        };
        let enabled = self.job.running().export_config(mode).is_some();
        let mut s = format!(
            "IPv6 aggregation cache of {mode} ({}): {} aggregates exported so far, {} packets\n",
            if enabled { "enabled" } else { "not enabled" },
            c.entries.len(),
            c.packets()
        );
        for (key, e) in &c.entries {
            let _ = writeln!(
                s,
                "{}  records {} flows {} packets {} bytes {}",
                key_text(mode, key).trim_start(),
                e.records,
                e.flows,
                e.packets,
                e.bytes
            );
        }
        if c.untracked_records > 0 {
            let _ = writeln!(
                s,
                "... and {} more records ({} packets) of keys beyond the first {}",
                c.untracked_records,
                c.untracked_packets,
                crate::run::cache::KEYS_PER_MODE
            );
        }
        s
    }
}
