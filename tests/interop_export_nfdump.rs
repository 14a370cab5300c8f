//! nfcapd (nfdump 1.7) receives nsflow's export on loopback, for all 14 modes in v9 and
//! IPFIX: the records nfdump stored, and their packet and byte totals, equal what was
//! sent; with v9 and with IPFIX `sequence-number fixed` nfcapd counts no sequence failure.
//! A control run with the IPFIX default (Huawei numbering) shows the failures nfdump
//! then reports, so the check is known to bite.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_exporter::{
    Clock, Collector, ExportConfig, ExportSource, Exporter, FlowRecord, SourceAddr, SystemClock,
    Version,
};
use nsflow_rtl::{AggregationMode as M, EndReason, FlowKey};
use nsflow_tests::{free_udp_port, require_tool};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PER_MODE: u64 = 25;

fn records(now_ms: u64) -> Vec<FlowRecord> {
    let mut v = Vec::new();
    let mut x = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..PER_MODE {
        for mode in M::ALL {
            let mut a = [0u8; 16];
            a[..8].copy_from_slice(&next().to_be_bytes());
            let key = FlowKey {
                src_addr: a,
                dst_addr: a,
                next_hop: a,
                src_as: (next() % 65_536) as u32,
                dst_as: (next() % 65_536) as u32,
                in_if: (next() % 65_536) as u32,
                out_if: (next() % 65_536) as u32,
                top_label_addr: next() as u32,
                mpls: [(next() & 0xFF_FFFF) as u32, 16 << 4, 17 << 4],
                vlan: (next() % 4096) as u16,
                src_port: next() as u16,
                dst_port: next() as u16,
                protocol: 6,
                tos: next() as u8,
                src_plen: 48,
                dst_plen: 64,
                direction: (i % 2) as u8,
            }
            .masked(mode.field_select(), 0, 0);
            let packets = 1 + next() % 100_000;
            v.push(FlowRecord {
                mode,
                key,
                flows: 1 + next() % packets,
                packets,
                bytes: packets * 40 + next() % 10_000_000,
                start_ms: now_ms - 1_800_000 + i * 1000,
                end_ms: now_ms - 60_000 + i * 1000,
                end_reason: EndReason::Idle,
            });
        }
    }
    v
}

struct Nfcapd {
    child: Child,
    log: std::path::PathBuf,
}

fn start_nfcapd(port: u16, flows: &Path, logdir: &Path) -> Nfcapd {
    let log = logdir.join("nfcapd.log");
    let f = std::fs::File::create(&log).unwrap();
    let child = Command::new("nfcapd")
        .args([
            "-b",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "3600",
            "-w",
        ])
        .arg(flows)
        .stdout(Stdio::from(f.try_clone().unwrap()))
        .stderr(Stdio::from(f))
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("Startup")
    {
        assert!(Instant::now() < until, "nfcapd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Nfcapd { child, log }
}

impl Nfcapd {
    /// SIGTERM (nfcapd then writes its file and its statistics line), then its log.
    fn stop(mut self) -> String {
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

struct Stored {
    records: u64,
    flows: u64,
    packets: u64,
    bytes: u64,
    sequence_failures: u64,
    log_sequence_errors: u64,
}

fn nfdump_totals(flows: &Path, log: &str) -> Stored {
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
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (ipkt, ibyt) = (col("ipkt"), col("ibyt"));
    let mut s = Stored {
        records: 0,
        flows: 0,
        packets: 0,
        bytes: 0,
        sequence_failures: 0,
        log_sequence_errors: 0,
    };
    for l in lines.by_ref() {
        if l.starts_with("Summary") || l.is_empty() {
            break;
        }
        let c: Vec<&str> = l.split(',').collect();
        s.records += 1;
        s.packets += c[ipkt].trim().parse::<u64>().unwrap();
        s.bytes += c[ibyt].trim().parse::<u64>().unwrap();
    }
    // nfdump's own summary must agree with the per-record sums; its "flows" is the sum of
    // deltaFlowCount (original flows aggregated), which nfdump reads from IE 3.
    let sum_hdr: Vec<&str> = lines.next().unwrap().split(',').collect();
    let sum: Vec<u64> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|x| x.trim().parse().unwrap())
        .collect();
    let at = |n: &str| sum[sum_hdr.iter().position(|h| *h == n).unwrap()];
    assert_eq!((at("packets"), at("bytes")), (s.packets, s.bytes));
    s.flows = at("flows");
    for e in std::fs::read_dir(flows).unwrap() {
        let p = e.unwrap().path();
        let out = Command::new("nfdump")
            .arg("-I")
            .arg("-r")
            .arg(&p)
            .output()
            .unwrap();
        let info = String::from_utf8_lossy(&out.stdout).into_owned();
        let n = info
            .lines()
            .find_map(|l| l.strip_prefix("Sequence failures:"))
            .unwrap_or_else(|| panic!("no sequence line in nfdump -I: {info}"));
        s.sequence_failures += n.trim().parse::<u64>().unwrap();
    }
    let errs = log
        .lines()
        .find_map(|l| l.split("Sequence Errors: ").nth(1))
        .unwrap_or_else(|| panic!("no statistics line in the nfcapd log: {log}"));
    s.log_sequence_errors = errs.split(',').next().unwrap().trim().parse().unwrap();
    s
}

/// What was sent: records, deltaFlowCount, packets and bytes totals.
type Sent = (u64, u64, u64, u64);

async fn run(version: Version, fixed: bool) -> Option<(Stored, Sent)> {
    if !require_tool("nfcapd") || !require_tool("nfdump") {
        return None;
    }
    let flows = tempfile::tempdir().unwrap();
    let logdir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let nfcapd = start_nfcapd(port, flows.path(), logdir.path());

    let clock = Arc::new(SystemClock::new());
    let now = clock.now_ms();
    let mut cfg = ExportConfig::new(
        vec![Collector::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)],
        ExportSource {
            v4: Some(SourceAddr {
                addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                port: Some(0),
            }),
            v6: None,
        },
    );
    cfg.version = version;
    cfg.sequence_fixed = fixed;
    // No mode announced at start: each template goes out just before its mode's first
    // record, between data messages, which is where the numbering rules differ.
    cfg.modes = Vec::new();
    cfg.system_init_ms = Some(now - 3_600_000);
    // Small messages, so that options refreshes (every 20 packets) happen in between.
    cfg.mtu = 512;
    let sent = records(now);
    let (flows_total, packets, bytes) = sent.iter().fold((0, 0, 0), |(f, p, b), r| {
        (f + r.flows, p + r.packets, b + r.bytes)
    });
    let exp = Exporter::start(cfg, clock).unwrap();
    for chunk in sent.chunks(50) {
        exp.export(chunk.to_vec()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    exp.flush().await.unwrap();
    let stats = exp.shutdown().await;
    assert_eq!(stats[0].records_sent, sent.len() as u64, "{stats:?}");
    assert_eq!(stats[0].messages_failed, 0, "{stats:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = nfcapd.stop();
    let stored = nfdump_totals(flows.path(), &log);
    Some((stored, (sent.len() as u64, flows_total, packets, bytes)))
}

#[tokio::test]
async fn nfdump_stores_every_v9_record_without_sequence_failures() {
    let Some((s, sent)) = run(Version::V9, false).await else {
        return;
    };
    assert_eq!((s.records, s.flows, s.packets, s.bytes), sent);
    assert_eq!((s.sequence_failures, s.log_sequence_errors), (0, 0));
}

#[tokio::test]
async fn nfdump_stores_every_ipfix_record_without_sequence_failures_when_fixed() {
    let Some((s, sent)) = run(Version::Ipfix, true).await else {
        return;
    };
    assert_eq!((s.records, s.flows, s.packets, s.bytes), sent);
    assert_eq!((s.sequence_failures, s.log_sequence_errors), (0, 0));
}

#[tokio::test]
async fn nfdump_counts_sequence_failures_for_the_huawei_default_numbering() {
    let Some((s, sent)) = run(Version::Ipfix, false).await else {
        return;
    };
    // Every record still arrives; only the numbering differs from RFC 7011.
    assert_eq!((s.records, s.flows, s.packets, s.bytes), sent);
    assert!(s.sequence_failures > 0 && s.log_sequence_errors > 0);
}
