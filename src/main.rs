//! `nsflow`: NetStream IPv6 flow aggregation on a SmartNIC flow-table engine — the main
//! job (`run`), the flow comparison report (`verify`), the configuration checker, a small
//! collector, the register-map validation suite and an interactive VRP shell.

use clap::{Args, Parser, Subcommand};
use nsflow::{collect, ipfix_file, run, shell, trace, traffic, verify, vrp};
use nsflow_driver::{backend, regcheck};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "nsflow",
    version,
    about = "NetStream (NetFlow v9 / IPFIX) IPv6 flow aggregation on a SmartNIC flow-table engine"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Where the device and its traffic come from: shared by `run`, `shell` and `verify`.
#[derive(Args)]
struct DeviceArgs {
    /// Capture files (pcap/pcapng) replayed into a modelled device, in order.
    #[arg(long, num_args = 1.., conflicts_with = "generate")]
    pcap: Vec<PathBuf>,
    /// Synthetic traffic, e.g. flows=1000,pps=1000000,seconds=1,seed=1.
    #[arg(long)]
    generate: Option<String>,
    /// sim (default, in-process model), sim:drop-on-full (a model that drops and counts
    /// records when its ring is full), vfio-user:PATH or vfio:DDDD:BB:DD.F.
    #[arg(long, default_value = "sim")]
    device: String,
    /// Route, interface and label file (see docs/config.md).
    #[arg(long)]
    routes: Option<PathBuf>,
    /// Record ring size, log2 of records (4..20).
    #[arg(long, default_value_t = 14)]
    ring_log2: u8,
}

impl DeviceArgs {
    /// Traffic from `--pcap` or `--generate`, if any.
    fn source(&self) -> Result<Option<traffic::Source>, String> {
        if !self.pcap.is_empty() {
            return Ok(Some(traffic::Source::Captures(self.pcap.clone())));
        }
        self.generate
            .as_deref()
            .map(|g| {
                traffic::parse_generate(g)
                    .map(traffic::Source::Generate)
                    .map_err(|e| e.to_string())
            })
            .transpose()
    }

    /// The route file's text, if one was given.
    fn routes(&self) -> Result<Option<String>, String> {
        self.routes.as_ref().map(read).transpose()
    }
}

/// The options of `nsflow run`.
#[derive(Args)]
struct RunArgs {
    /// VRP configuration file (see docs/config.md).
    #[arg(long)]
    config: PathBuf,
    #[command(flatten)]
    dev: DeviceArgs,
    /// Also run a collector on this address and print what it received.
    #[arg(long)]
    collect: Option<SocketAddr>,
    /// After FRAMES frames, run the VRP commands of FILE on the running configuration
    /// and commit them (only the difference is applied; repeatable).
    #[arg(long, value_name = "FRAMES:FILE")]
    commit_at: Vec<String>,
    /// Inject a fault into the embedded simulator after FRAMES frames (repeatable): dma,
    /// lost-irq, clock-jump=SECONDS, removed, ring-stall=MS, table-flood=N, restart (see
    /// docs/reliability.md).
    #[arg(long, value_name = "KIND@FRAMES", value_parser = run::fault::parse_fault)]
    fault: Vec<run::fault::FaultAt>,
    /// How long the final flush may take, in milliseconds (default 30000): past it the run
    /// exports what it drained and what the ring holds, counts the rest as not exported
    /// and fails. For tests, which shorten it.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=600_000))]
    flush_timeout_ms: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// The options of `nsflow shell`.
#[derive(Args)]
struct ShellArgs {
    /// VRP configuration to start from.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    dev: DeviceArgs,
}

/// The options of `nsflow verify`.
#[derive(Args)]
struct VerifyArgs {
    /// VRP configuration file (see docs/config.md).
    #[arg(long)]
    config: PathBuf,
    #[command(flatten)]
    dev: DeviceArgs,
    /// Print the report as JSON (every key listed) instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// The main job: configure the device, feed it traffic, export the aggregates.
    Run(RunArgs),
    /// An interactive VRP session against a running device (`?` and TAB at the end of a
    /// line for help and completion; `quit` in the user view to stop); traffic given is
    /// replayed in the background.
    Shell(ShellArgs),
    /// The flow comparison report: runs the main job with every enabled mode exported to
    /// an in-process collector on a free 127.0.0.1 port (the configuration's hosts and
    /// sources are replaced, see docs/verify.md), and compares what it received with the
    /// reference aggregator per mode and key: missing, unexpected and differing flows.
    /// Exit status 0 when everything agrees, 1 on differences, 2 when it could not run.
    Verify(VerifyArgs),
    /// Checks a configuration file and prints it as `display current-configuration`.
    CheckConfig {
        /// VRP configuration file.
        file: PathBuf,
    },
    /// Receives NetFlow v9 / IPFIX and prints the flows (or only a summary).
    Collect {
        /// Address to listen on, e.g. 127.0.0.1:9995 or [::1]:9995.
        #[arg(long)]
        listen: SocketAddr,
        /// Print totals per mode at the end instead of every flow.
        #[arg(long)]
        summary: bool,
        /// Stop after this many seconds (default: until Ctrl-C or SIGTERM).
        #[arg(long)]
        seconds: Option<u64>,
        /// Also store every IPFIX message received in FILE, an IPFIX File (RFC 5655)
        /// that IPFIX tools read (e.g. libfixbuf's `ipfixDump --in FILE`). NetFlow v9
        /// messages and malformed datagrams are counted, not stored.
        #[arg(long, value_name = "FILE")]
        write: Option<PathBuf>,
    },
    /// Replays a capture through the in-process model, brought up and drained by the
    /// driver as in `run`, and writes a VCD waveform of a window of cycles.
    Trace {
        /// The capture to replay (pcap or pcapng).
        #[arg(long)]
        pcap: PathBuf,
        /// Profiles to enable: the first N aggregation modes, one profile each.
        #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u8).range(1..=14))]
        config_profiles: u8,
        /// First cycle of the window.
        #[arg(long)]
        from: u64,
        /// End of the window (exclusive), cycles.
        #[arg(long)]
        to: u64,
        /// The VCD file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Validates the register map of a device (firmware teams): reset values, access
    /// types, bit-bash, aliasing, table windows, W1C, unknown offsets.
    Regcheck {
        /// sim, vfio-user:PATH or vfio:DDDD:BB:DD.F.
        #[arg(long, default_value = "sim")]
        device: String,
        /// Print every check, not only failures.
        #[arg(long)]
        verbose: bool,
        /// Run only the register-block checks (hw_reset, rw, bit_bash, aliasing) and write
        /// their accesses with the expected values to FILE, for an RTL simulation of the
        /// register block generated from docs/nsflow.rdl (docs/deploy.md).
        #[arg(long, value_name = "FILE")]
        emit_vectors: Option<PathBuf>,
    },
}

/// Reads a text file named on the command line (a configuration, a route or commit file):
/// a UTF-8 byte-order mark (as some editors write) is skipped; a file that is not UTF-8
/// text is refused naming its first line that is not.
fn read(path: &PathBuf) -> Result<String, String> {
    let all = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text = all.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&all);
    std::str::from_utf8(text).map(str::to_owned).map_err(|e| {
        let good = text.get(..e.valid_up_to()).unwrap_or_default();
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        let byte = all.len() - text.len() + e.valid_up_to();
        format!(
            "cannot read {}: line {line} is not UTF-8 text (byte {byte}): not a configuration or text file",
            path.display()
        )
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Run(a) => cmd_run(a),
        Cmd::Shell(a) => cmd_shell(a),
        Cmd::Verify(a) => cmd_verify(a),
        Cmd::CheckConfig { file } => cmd_check(file),
        Cmd::Collect {
            listen,
            summary,
            seconds,
            write,
        } => cmd_collect(listen, summary, seconds, write.as_deref()),
        Cmd::Regcheck {
            device,
            verbose,
            emit_vectors,
        } => cmd_regcheck(&device, verbose, emit_vectors.as_deref()),
        Cmd::Trace {
            pcap,
            config_profiles,
            from,
            to,
            out,
        } => cmd_trace(trace::TraceOptions {
            pcap,
            profiles: usize::from(config_profiles),
            from,
            to,
            out,
        }),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nsflow: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--commit-at FRAMES:FILE`.
fn commit_at(spec: &str) -> Result<run::CommitAt, String> {
    let bad = || format!("--commit-at {spec}: expected FRAMES:FILE, e.g. 5000:examples/commit.cfg");
    let (frames, file) = spec.split_once(':').ok_or_else(bad)?;
    let frames = frames.trim().parse::<u64>().map_err(|_| bad())?;
    if file.is_empty() {
        return Err(bad());
    }
    let path = PathBuf::from(file);
    Ok(run::CommitAt {
        frames,
        name: file.to_owned(),
        commands: read(&path)?,
    })
}

fn cmd_run(a: RunArgs) -> Result<ExitCode, String> {
    let quiet = a.quiet;
    let source = a.dev.source()?;
    if source.is_none() && (a.dev.device == "sim" || a.dev.device.starts_with("sim:")) {
        return Err(
            "the embedded simulator needs traffic: give --pcap FILE... or --generate SPEC".into(),
        );
    }
    let opts = run::RunOptions {
        config: read(&a.config)?,
        routes: a.dev.routes()?,
        device: a.dev.device.clone(),
        source: source.clone(),
        collect: a.collect,
        ring_log2: a.dev.ring_log2,
        commits: a
            .commit_at
            .iter()
            .map(|c| commit_at(c))
            .collect::<Result<_, _>>()?,
        faults: a.fault.clone(),
        flush_timeout: a.flush_timeout_ms.map(Duration::from_millis),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicU64::new(0));
    // Any of these stops the traffic, then the run flushes, drains and exports everything.
    let signal = Arc::new(AtomicI32::new(0));
    for sig in STOP_SIGNALS {
        let _ = signal_hook_flag(sig, stop.clone(), signal.clone());
    }
    let bar = (!quiet).then(|| {
        let total = source.as_ref().and_then(traffic::Frames::len_hint);
        let pb = match total {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::new_spinner(),
        };
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {pos} frames replayed {per_sec} {wide_bar}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let ticker = bar.clone().map(|pb| {
        let seen = seen.clone();
        let done = stop.clone();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                pb.set_position(seen.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    });
    let result = run::run(opts, stop.clone(), seen.clone());
    if let Some(pb) = &bar {
        pb.set_position(seen.load(Ordering::Relaxed));
        pb.finish();
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = ticker {
        let _ = t.join();
    }
    let mut report = result.map_err(|e| e.to_string())?;
    if let (run::Ending::Interrupted(by), Some(name)) = (
        &mut report.ending,
        signal_name(signal.load(Ordering::Relaxed)),
    ) {
        *by = name.to_owned();
    }
    print!("{}", report.render());
    if let Some(why) = &report.failure {
        eprintln!("nsflow: the run stopped early: {why}");
    }
    if let run::Ending::ReadError(e) = &report.ending {
        eprintln!("nsflow: the traffic could not be read to its end: {e}");
    }
    Ok(if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The signals that stop `nsflow run` gracefully (flush, drain, export, summary): Ctrl-C,
/// `kill`, a closed terminal or session (whose default action would end the process with
/// nothing exported) and Ctrl-\\ (whose default would dump core).
const STOP_SIGNALS: [(libc::c_int, &str); 4] = [
    (libc::SIGINT, "SIGINT"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGQUIT, "SIGQUIT"),
];

/// The name of a signal of [`STOP_SIGNALS`] (`None` for 0: no signal arrived).
fn signal_name(sig: libc::c_int) -> Option<&'static str> {
    STOP_SIGNALS
        .iter()
        .find(|(s, _)| *s == sig)
        .map(|(_, name)| *name)
}

/// Sets `flag` when `sig` arrives, after storing its number in `which` (a tiny signal
/// handler thread over a tokio runtime).
fn signal_hook_flag(
    (sig, _): (libc::c_int, &str),
    flag: Arc<AtomicBool>,
    which: Arc<AtomicI32>,
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        rt.block_on(async move {
            let kind = tokio::signal::unix::SignalKind::from_raw(sig);
            if let Ok(mut s) = tokio::signal::unix::signal(kind) {
                s.recv().await;
                let _ = which.compare_exchange(0, sig, Ordering::Relaxed, Ordering::Relaxed);
                flag.store(true, Ordering::Relaxed);
            }
        })
    });
    Ok(())
}

fn cmd_shell(a: ShellArgs) -> Result<ExitCode, String> {
    let opts = shell::ShellOptions {
        config: a.config.as_ref().map(read).transpose()?,
        routes: a.dev.routes()?,
        device: a.dev.device.clone(),
        source: a.dev.source()?,
        ring_log2: a.dev.ring_log2,
    };
    let input = Box::new(std::io::BufReader::new(std::io::stdin()));
    let mut out = std::io::stdout();
    let report = shell::run(opts, input, &mut out).map_err(|e| e.to_string())?;
    print!("{}", report.render());
    Ok(ExitCode::SUCCESS)
}

/// `nsflow verify`: 0 when the collector received exactly the expected flows, 1 on
/// differences, 2 when the comparison could not be made.
fn cmd_verify(a: VerifyArgs) -> Result<ExitCode, String> {
    let json = a.json;
    let report = (|| {
        let source = a
            .dev
            .source()?
            .ok_or("give --pcap FILE... or --generate SPEC")?;
        let opts = verify::VerifyOptions {
            config: read(&a.config)?,
            routes: a.dev.routes()?,
            device: a.dev.device.clone(),
            source,
            ring_log2: a.dev.ring_log2,
        };
        verify::verify(opts).map_err(|e| e.to_string())
    })();
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nsflow verify: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if json {
        println!("{}", report.json());
    } else {
        print!("{}", report.render());
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn cmd_check(file: PathBuf) -> Result<ExitCode, String> {
    let text = read(&file)?;
    match vrp::parse_config(&text) {
        Ok((config, warnings)) => {
            for w in warnings {
                eprintln!("Warning: {w}");
            }
            print!("{}", vrp::render(&config));
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprint!("{}: {errors}", file.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn cmd_collect(
    listen: SocketAddr,
    summary: bool,
    seconds: Option<u64>,
    write: Option<&std::path::Path>,
) -> Result<ExitCode, String> {
    let mut file = write
        .map(ipfix_file::IpfixFileWriter::create)
        .transpose()
        .map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let totals = rt.block_on(async {
        let sock = collect::bind(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        // As a run: SIGINT, SIGTERM, SIGHUP and SIGQUIT end the collection gracefully
        // (what is queued on the socket is taken, the file flushed, the totals printed).
        let stop = Arc::new(AtomicBool::new(false));
        let signal = Arc::new(AtomicI32::new(0));
        for sig in STOP_SIGNALS {
            let _ = signal_hook_flag(sig, stop.clone(), signal.clone());
        }
        eprintln!("collecting on {listen} (Ctrl-C or SIGTERM to stop)");
        let (tx, rx) = tokio::sync::watch::channel(false);
        let deadline = seconds.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed)
                && deadline.is_none_or(|d| tokio::time::Instant::now() < d)
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = tx.send(true);
        });
        let on_message = |from: SocketAddr, msg: &[u8], decoded: bool| {
            if let Some(f) = file.as_mut() {
                f.offer(from, msg, decoded);
            }
        };
        Ok::<_, String>(
            collect::collect(sock, rx, on_message, |f| {
                if !summary {
                    println!("{}", collect::flow_line(f));
                }
            })
            .await,
        )
    })?;
    print!("{}", totals.render());
    let Some(file) = file else {
        return Ok(ExitCode::SUCCESS);
    };
    let path = write.map_or_else(String::new, |p| p.display().to_string());
    let file_shared = file.shared_domains();
    let (st, written) = file.finish();
    println!(
        "IPFIX file {path}: {} messages, {} bytes written; not written: {} NetFlow v9 \
         messages (an IPFIX file holds IPFIX only), {} malformed datagrams{}",
        st.messages,
        st.bytes,
        st.v9_skipped,
        st.malformed_skipped,
        if st.after_failure > 0 {
            format!(", {} messages after the write failed", st.after_failure)
        } else {
            String::new()
        }
    );
    for (domain, exporters) in file_shared {
        println!(
            "IPFIX file {path}: warning: {exporters} exporters wrote observation domain \
             {domain}; a file has no transport sessions, so a reader sees their templates \
             and sequence numbers as one stream (store one exporter per file to keep them apart)"
        );
    }
    match written {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.to_string()),
    }
}

fn cmd_regcheck(
    device: &str,
    verbose: bool,
    emit_vectors: Option<&std::path::Path>,
) -> Result<ExitCode, String> {
    let mut dev = backend::open(device).map_err(|e| e.to_string())?;
    println!("regcheck of {}", dev.describe());
    let report = match emit_vectors {
        None => regcheck::run(dev.as_mut()).map_err(|e| e.to_string())?,
        Some(path) => {
            let (report, vectors) = regcheck::vectors(dev).map_err(|e| e.to_string())?;
            if !report.passed() {
                print!("{}", report.render(verbose));
                return Err(format!(
                    "the device failed the register-block checks: no vectors written to {}",
                    path.display()
                ));
            }
            let mut text = String::from(
                "# nsflow regcheck vectors (register-block checks: hw_reset, rw, bit_bash, aliasing)\n\
                 # W offset value | R offset expected mask (bits outside mask are driven by the datapath)\n\
                 # a write of CTRL.soft_reset stands for a reset of the block\n",
            );
            for v in &vectors {
                text += &v.line();
                text.push('\n');
            }
            std::fs::write(path, text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            println!("{} accesses written to {}", vectors.len(), path.display());
            report
        }
    };
    print!("{}", report.render(verbose));
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn cmd_trace(o: trace::TraceOptions) -> Result<ExitCode, String> {
    let s = trace::trace(&o)?;
    println!(
        "{}: cycles [{}, {}): {} value changes; {} frames, {} records, device stopped at cycle {}",
        o.out.display(),
        o.from,
        o.to,
        s.value_changes,
        s.frames,
        s.records,
        s.stopped_at
    );
    if !s.reached_window {
        eprintln!(
            "nsflow trace: the replay ended at cycle {}, before the window: the file has no values",
            s.stopped_at
        );
    }
    Ok(ExitCode::SUCCESS)
}
