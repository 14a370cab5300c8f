//! A live `nfcapd` on loopback for interop tests, and what `nfdump` says it stored.

// Test support: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nfcapd, stopped by PID.
pub struct Nfcapd {
    child: Child,
    log: PathBuf,
}

impl Nfcapd {
    /// Starts `nfcapd -b BIND -p PORT -B 4 MiB -w FLOWS` logging to `log`, and waits until
    /// it says it has started. The 4 MiB socket buffer (capped by `net.core.rmem_max`)
    /// keeps a burst of datagrams on loopback from overflowing the default 208 KiB while
    /// nfcapd is slow to be scheduled on a loaded 2-core machine: the kernel would drop them
    /// and the test would count a loss that is the receiver's, not nsflow's.
    pub fn start(bind: &str, port: u16, flows: &Path, log: &Path) -> Self {
        let f = std::fs::File::create(log).unwrap();
        let child = Command::new("nfcapd")
            .args(["-b", bind, "-p", &port.to_string(), "-B", "4194304"])
            .args(["-t", "3600", "-w"])
            .arg(flows)
            .stdout(Stdio::from(f.try_clone().unwrap()))
            .stderr(Stdio::from(f))
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains("Startup")
        {
            assert!(Instant::now() < until, "nfcapd did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            log: log.to_owned(),
        }
    }

    /// SIGTERM (nfcapd then writes its file and its statistics line), then its log.
    pub fn stop(mut self) -> String {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let until = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < until, "nfcapd did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::read_to_string(&self.log).unwrap()
    }
}

/// What nfdump stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stored {
    /// Records (lines of its CSV).
    pub records: u64,
    /// Its "flows": the sum of deltaFlowCount (IE 3).
    pub flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// Sequence failures, summed over the files (`nfdump -I`).
    pub sequence_failures: u64,
}

/// Reads every file in `flows` with nfdump: records and per-record packet/byte sums from
/// its CSV (checked against its own summary line), flows from the summary, sequence
/// failures from `nfdump -I`.
pub fn stored(flows: &Path) -> Stored {
    let text = nfdump_csv(flows);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (ipkt, ibyt) = (col("ipkt"), col("ibyt"));
    let mut s = Stored::default();
    for l in lines.by_ref() {
        if l.starts_with("Summary") || l.is_empty() {
            break;
        }
        let c: Vec<&str> = l.split(',').collect();
        s.records += 1;
        s.packets += c[ipkt].trim().parse::<u64>().unwrap();
        s.bytes += c[ibyt].trim().parse::<u64>().unwrap();
    }
    let sum_hdr: Vec<&str> = lines.next().unwrap().split(',').collect();
    let sum: Vec<u64> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|x| x.trim().parse().unwrap())
        .collect();
    let at = |n: &str| sum[sum_hdr.iter().position(|h| *h == n).unwrap()];
    assert_eq!(
        (at("packets"), at("bytes")),
        (s.packets, s.bytes),
        "nfdump's summary disagrees with its records"
    );
    s.flows = at("flows");
    for e in std::fs::read_dir(flows).unwrap() {
        let out = Command::new("nfdump")
            .arg("-I")
            .arg("-r")
            .arg(e.unwrap().path())
            .output()
            .unwrap();
        let info = String::from_utf8_lossy(&out.stdout).into_owned();
        let n = info
            .lines()
            .find_map(|l| l.strip_prefix("Sequence failures:"))
            .unwrap_or_else(|| panic!("no sequence line in nfdump -I: {info}"));
        s.sequence_failures += n.trim().parse::<u64>().unwrap();
    }
    s
}

/// `nfdump -R FLOWS -o csv`: a header line, one line per record, then the summary.
fn nfdump_csv(flows: &Path) -> String {
    let out = Command::new("nfdump")
        .arg("-R")
        .arg(flows)
        .args(["-o", "csv"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// First and last seen of every record nfdump stored, as it prints them (`ts`, `te`).
pub fn seen(flows: &Path) -> Vec<(String, String)> {
    let text = nfdump_csv(flows);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (ts, te) = (col("ts"), col("te"));
    lines
        .take_while(|l| !l.is_empty() && !l.starts_with("Summary"))
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[ts].to_owned(), c[te].to_owned())
        })
        .collect()
}

/// The "Sequence Errors" figure of nfcapd's statistics line in its log.
pub fn log_sequence_errors(log: &str) -> u64 {
    let errs = log
        .lines()
        .find_map(|l| l.split("Sequence Errors: ").nth(1))
        .unwrap_or_else(|| panic!("no statistics line in the nfcapd log: {log}"));
    errs.split(',').next().unwrap().trim().parse().unwrap()
}
