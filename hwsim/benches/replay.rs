//! Wall-clock replay speed of the model on one core, and softflowd on the same pcap.
//!
//! `cargo bench -p nsflow-hwsim --bench replay`. For 1 and 14 enabled profiles (default
//! build, default timers): every shared capture concatenated (each shifted to start 1 s
//! after the previous one ends), the largest captures one by one, the 1.5M-packet
//! benchmark pcap (`NSFLOW_BENCH_PCAP`, default /tmp/nsflow-bench-ipv6.pcap; skipped with a
//! message when absent) streamed from the file, and a 1-million-packet IMIX from
//! `hwsim::generator`. Then `softflowd -r` on the benchmark pcap, timed as a process, and
//! the ratio. Every figure is the median of `NSFLOW_BENCH_RUNS` (default 5) runs.
//! `NSFLOW_BENCH_ONLY` (a comma-separated subset of `shared`, `imix`, `pcap`) runs only
//! those sections, e.g. to profile one of them; `NSFLOW_BENCH_PROFILES` (comma-separated,
//! default `1,14`) the profile counts of the benchmark pcap.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{engine, median_pps, median_time, mega, runs, Bench};
use nsflow_hwsim::capture::CaptureReader;
use nsflow_hwsim::generator::{Generator, GeneratorConfig};
use nsflow_hwsim::BuildParams;
use nsflow_rtl::parser::LinkType;
use nsflow_testkit::shared::{shared_dir, traffic_captures};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Frames held in one buffer: capture time, link, range of their bytes.
#[derive(Default)]
struct Frames {
    meta: Vec<(u64, Option<LinkType>, usize, usize)>,
    bytes: Vec<u8>,
}

impl Frames {
    fn push(&mut self, ts: u64, link: Option<LinkType>, data: &[u8]) {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(data);
        self.meta.push((ts, link, at, data.len()));
    }

    fn len(&self) -> u64 {
        self.meta.len() as u64
    }

    /// Replays every frame on a new device with `profiles` profiles, then flushes.
    fn replay(&self, profiles: usize) -> u64 {
        let mut b = Bench::new(BuildParams::default(), &engine(profiles));
        for &(ts, link, at, len) in &self.meta {
            b.offer(ts, link, &self.bytes[at..at + len]);
        }
        b.finish();
        self.len()
    }
}

/// One capture into `out`, shifted to start at `start` (returns its end).
fn load(path: &Path, out: &mut Frames, start: u64) -> u64 {
    let Ok(mut r) = CaptureReader::open(path) else {
        return start;
    };
    let (mut first, mut end) = (None, start);
    while let Some(Ok(f)) = r.next_frame() {
        let f0 = *first.get_or_insert(f.ts_ns);
        let ts = start + f.ts_ns.saturating_sub(f0);
        end = end.max(ts);
        out.push(ts, f.link, f.data);
    }
    end
}

fn report(what: &str, frames: &Frames) {
    for profiles in [1, 14] {
        let (pps, n) = median_pps(runs(), || frames.replay(profiles));
        println!(
            "{what:<44} {profiles:>2} profiles  {n:>9} packets  {:>9} packets/s",
            mega(pps)
        );
    }
}

/// Streams the benchmark pcap from the file into a device (reading included, as
/// softflowd reads it).
fn replay_file(path: &Path, profiles: usize) -> u64 {
    let mut r = CaptureReader::open(path).unwrap();
    let mut b = Bench::new(BuildParams::default(), &engine(profiles));
    let mut n = 0;
    while let Some(f) = r.next_frame() {
        let f = f.unwrap();
        b.offer(f.ts_ns, f.link, f.data);
        n += 1;
    }
    b.finish();
    n
}

/// Wall-clock seconds of `softflowd -r` on `pcap`, exporting to a bound UDP socket on
/// 127.0.0.1 (nothing reads it: softflowd's sends cost it the same either way).
fn softflowd(pcap: &Path) -> Option<std::time::Duration> {
    let sink = UdpSocket::bind("127.0.0.1:0").ok()?;
    let port = sink.local_addr().ok()?.port();
    let run = || {
        let st = Command::new("softflowd")
            .args(["-d", "-r"])
            .arg(pcap)
            .args([
                "-n",
                &format!("127.0.0.1:{port}"),
                "-v",
                "9",
                "-a",
                "-c",
                "none",
            ])
            .args(["-m", "65536"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(st.is_ok_and(|s| s.success()), "softflowd failed");
    };
    let probe = Command::new("softflowd")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if probe.is_err() {
        println!("softflowd: not installed (apt-get install softflowd): skipped");
        return None;
    }
    Some(median_time(runs(), run))
}

/// Whether section `name` runs (`NSFLOW_BENCH_ONLY` unset, or listing it).
fn section(name: &str) -> bool {
    std::env::var("NSFLOW_BENCH_ONLY").map_or(true, |v| v.split(',').any(|s| s.trim() == name))
}

fn main() {
    println!("runs per figure: {} (median)", runs());
    if section("shared") {
        shared_captures();
    }
    if section("imix") {
        imix();
    }
    if section("pcap") {
        bench_pcap();
    }
}

/// Every shared capture concatenated, then the three largest one by one.
fn shared_captures() {
    let shared = shared_dir();
    let caps = traffic_captures(&shared);
    if caps.is_empty() {
        println!("shared captures: none at {}: skipped", shared.display());
    } else {
        let mut all = Frames::default();
        let mut start = 1_700_000_000_000_000_000;
        let mut sizes = Vec::new();
        for c in &caps {
            let before = all.len();
            start = load(c, &mut all, start) + 1_000_000_000;
            sizes.push((all.len() - before, c));
        }
        report(
            &format!("{} shared captures concatenated", caps.len()),
            &all,
        );
        sizes.sort_by_key(|s| std::cmp::Reverse(s.0));
        for (_, c) in sizes.iter().take(3) {
            let mut one = Frames::default();
            load(c, &mut one, 0);
            let name = c.file_name().unwrap_or_default().to_string_lossy();
            report(&name, &one);
        }
    }
}

/// The synthetic IMIX of `hwsim::generator`, held in memory.
fn imix() {
    let mut imix = Frames::default();
    let mut g = Generator::new(GeneratorConfig {
        flows: 10_000,
        rate_pps: 1_000_000,
        duration_ns: 1_000_000_000,
        ..GeneratorConfig::default()
    });
    let mut buf = Vec::new();
    while let Some(ts) = g.next_into(&mut buf) {
        imix.push(ts, Some(LinkType::Ethernet), &buf);
    }
    report("synthetic IMIX, 10k flows, 1 Mpps", &imix);
}

/// The profile counts the benchmark pcap is replayed with.
fn pcap_profiles() -> Vec<usize> {
    std::env::var("NSFLOW_BENCH_PROFILES").map_or_else(
        |_| vec![1, 14],
        |v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
    )
}

/// The benchmark pcap streamed from the file, then softflowd on it and the ratio.
fn bench_pcap() {
    let bench = std::env::var_os("NSFLOW_BENCH_PCAP").map_or_else(
        || PathBuf::from("/tmp/nsflow-bench-ipv6.pcap"),
        PathBuf::from,
    );
    if !bench.is_file() {
        println!(
            "benchmark pcap {} absent: skipped (make it with \
             bash shared/tools/make-bench-pcap.sh -o {})",
            bench.display(),
            bench.display()
        );
        return;
    }
    let (mut model, mut last) = (0.0, 0);
    for profiles in pcap_profiles() {
        let (pps, n) = median_pps(runs(), || replay_file(&bench, profiles));
        println!(
            "{:<44} {profiles:>2} profiles  {n:>9} packets  {:>9} packets/s",
            "benchmark pcap, streamed from the file",
            mega(pps)
        );
        (model, last) = (pps, profiles);
    }
    if let Some(t) = softflowd(&bench) {
        let mut n = 0u64;
        let mut r = CaptureReader::open(&bench).unwrap();
        while let Some(Ok(_)) = r.next_frame() {
            n += 1;
        }
        let pps = n as f64 / t.as_secs_f64();
        println!(
            "{:<44}              {n:>9} packets  {:>9} packets/s  ({:.2} s)",
            "softflowd -r (same pcap)",
            mega(pps),
            t.as_secs_f64()
        );
        println!(
            "ratio model ({last} profiles) / softflowd: {:.1}x",
            model / pps
        );
    }
}
