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
use nsflow_tests::nfcapd::{log_sequence_errors, stored, Nfcapd, Stored};
use nsflow_tests::{free_udp_port, require_tool};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

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

/// What was sent: records, deltaFlowCount, packets and bytes totals.
type Sent = (u64, u64, u64, u64);

async fn run(version: Version, fixed: bool) -> Option<(Stored, u64, Sent)> {
    if !require_tool("nfcapd") || !require_tool("nfdump") {
        return None;
    }
    let flows = tempfile::tempdir().unwrap();
    let logdir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let nfcapd = Nfcapd::start(
        "127.0.0.1",
        port,
        flows.path(),
        &logdir.path().join("nfcapd.log"),
    );

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
    let log_errors = log_sequence_errors(&log);
    Some((
        stored(flows.path()),
        log_errors,
        (sent.len() as u64, flows_total, packets, bytes),
    ))
}

#[tokio::test]
async fn nfdump_stores_every_v9_record_without_sequence_failures() {
    let Some((s, log_errors, sent)) = run(Version::V9, false).await else {
        return;
    };
    assert_eq!((s.records, s.flows, s.packets, s.bytes), sent);
    assert_eq!((s.sequence_failures, log_errors), (0, 0));
}

#[tokio::test]
async fn nfdump_stores_every_ipfix_record_without_sequence_failures_when_fixed() {
    let Some((s, log_errors, sent)) = run(Version::Ipfix, true).await else {
        return;
    };
    assert_eq!((s.records, s.flows, s.packets, s.bytes), sent);
    assert_eq!((s.sequence_failures, log_errors), (0, 0));
}

#[tokio::test]
async fn nfdump_counts_sequence_failures_for_the_huawei_default_numbering() {
    let Some((s, log_errors, sent)) = run(Version::Ipfix, false).await else {
        return;
    };
    // Every record still arrives; only the numbering differs from RFC 7011.
    assert_eq!((s.records, s.flows, s.packets, s.bytes), sent);
    assert!(s.sequence_failures > 0 && log_errors > 0);
}
