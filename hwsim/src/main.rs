//! `nsflow-hwsim`: the cycle-level model as a program.
//!
//! - `serve --socket PATH`: the model as a vfio-user PCI device (module
//!   `nsflow_hwsim::serve`); runs until SIGTERM, SIGINT or SIGHUP, then removes the
//!   socket.
//!
//! A waveform of a run is `nsflow trace` (the real driver programs the in-process model
//! and drains it; module `nsflow_hwsim::trace` writes the VCD).

use clap::{Args, Parser, Subcommand};
use nix::sys::signal::{SigSet, Signal};
use nsflow_hwsim::serve::{ServeConfig, Server, MAX_QUEUE_BYTES};
use nsflow_hwsim::BuildParams;
use std::error::Error;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The nsflow engine's cycle-level model.
#[derive(Parser, Debug)]
#[command(name = "nsflow-hwsim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the model as a PCI device over vfio-user on a UNIX socket.
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// The socket to create (mode 0600; must not exist).
    #[arg(long)]
    socket: PathBuf,
    /// Core clock, MHz (`CAP_CLOCK`).
    #[arg(long)]
    clock_mhz: Option<u64>,
    /// Largest ring the device accepts, log2 of records (`CAP_PROFILES.ring_max_log2`).
    #[arg(long)]
    ring_max_log2: Option<u8>,
    /// Drop records when the record FIFO is full instead of holding the pipeline.
    #[arg(long)]
    drop_on_full: bool,
    /// Bytes of frames the traffic port queues (the free-space register's maximum).
    #[arg(long, default_value_t = MAX_QUEUE_BYTES)]
    port_queue_bytes: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Serve(a) => serve(a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nsflow-hwsim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(a: ServeArgs) -> Result<(), Box<dyn Error>> {
    let mut params = BuildParams::default();
    if let Some(mhz) = a.clock_mhz {
        params.clock_hz = mhz.saturating_mul(1_000_000);
    }
    if let Some(r) = a.ring_max_log2 {
        params.ring_max_log2 = r;
    }
    params.drop_on_full = a.drop_on_full;
    // Blocked before any thread starts, so every thread inherits the mask and the signals
    // reach only the waiter below.
    let mut signals = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        signals.add(s);
    }
    signals.thread_block()?;
    let mut server = Server::bind(&ServeConfig {
        socket: a.socket,
        params,
        queue_bytes: a.port_queue_bytes,
    })?;
    let path = server.path().to_owned();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let sig = signals
                .wait()
                .map_or_else(|e| e.to_string(), |s| s.as_str().to_owned());
            let _ = std::fs::remove_file(&path);
            eprintln!("nsflow-hwsim serve: {sig}: socket removed, exiting");
            std::process::exit(0);
        })?;
    // The readiness line: the socket accepts connections from here on.
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", server.path().display())?;
    out.flush()?;
    drop(out);
    match server.run() {
        Ok(never) => match never {},
        Err(e) => Err(e.into()),
    }
}
