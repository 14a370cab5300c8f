//! Commit mid-replay loses no packet: `nsflow run` (through the library) replays the
//! shared captures with 13 modes enabled, commits `examples/commit-timers.cfg` after N1
//! frames (original and aggregation timers change, `as` is removed, `vlan-id` added: the
//! device is flushed and reprogrammed) and `examples/commit-export.cfg` after N2 frames
//! (an export-only change: protocol-port's exporter restarts).
//!
//! Conservation, per mode: every IPv6 packet offered while the mode was enabled is in
//! exactly one of its records —
//! * records drained = device's merged packets of that mode (summed over the programmings
//!   it had), nothing dropped, and the in-process collector received the same records;
//! * a mode enabled throughout has every IPv6 packet of the captures (the reference
//!   aggregator's ingress count of the same frames);
//! * `as` has exactly the IPv6 packets of the first N1 frames, `vlan-id` exactly those
//!   after them.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow::run::{self, CommitAt, RunOptions};
use nsflow::traffic::{Frames, Source};
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::reference::ReferenceAggregator;
use nsflow_rtl::regs::GlobalStat;
use nsflow_rtl::AggregationMode as M;
use nsflow_tests::{free_udp_port, require_shared, workspace_root};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

const N1: u64 = 20_000;
const N2: u64 = 40_000;

fn example(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("examples").join(name)).unwrap()
}

/// Every mode but vlan-id, IPFIX to one collector (the system view's host, A1).
fn config(port: u16) -> String {
    let mut c = format!(
        "system-view\nipv6 netstream export template sequence-number fixed\n\
         ipv6 netstream mpls-aware label-and-ip\nipv6 netstream export source 127.0.0.1\n\
         ipv6 netstream export host 127.0.0.1 {port}\n"
    );
    for m in M::ALL.iter().filter(|m| **m != M::VlanId) {
        c.push_str(&format!(
            "ipv6 netstream aggregation {m}\n enable\n export version ipfix\n quit\n"
        ));
    }
    c.push_str("commit\n");
    c
}

/// IPv6 packets and bytes the parser keys in the first `limit` frames of `source`.
fn keyed(source: &Source, routes: &str, limit: u64) -> (u64, u64) {
    let tables = nsflow::vrp::parse_routes(routes).unwrap().tables().unwrap();
    let mut r = ReferenceAggregator::new(EngineConfig::with_modes(&[M::ProtocolPort]), tables);
    for f in Frames::new(source).take(limit as usize) {
        let f = f.unwrap();
        r.offer(f.ts_ns, f.link, &f.data);
    }
    let ing = r.finish().ingress;
    (ing.ipv6_packets, ing.ipv6_bytes)
}

#[test]
fn changing_timers_and_modes_mid_replay_loses_no_packet() {
    let Some(shared) = require_shared() else {
        return;
    };
    // The captures of the shared folder (the edge cases are covered by e2e_nfcapd).
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(shared.join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    pcaps.sort();
    let source = Source::Captures(pcaps);
    let routes = example("routes.txt");
    let port = free_udp_port();
    let opts = RunOptions {
        config: config(port),
        routes: Some(routes.clone()),
        device: "sim".into(),
        source: Some(source.clone()),
        collect: Some(format!("127.0.0.1:{port}").parse().unwrap()),
        ring_log2: 12,
        commits: vec![
            CommitAt {
                frames: N2,
                name: "commit-export.cfg".into(),
                commands: example("commit-export.cfg"),
            },
            CommitAt {
                frames: N1,
                name: "commit-timers.cfg".into(),
                commands: example("commit-timers.cfg"),
            },
        ],
        faults: Vec::new(),
        flush_timeout: None,
    };
    let report = run::run(
        opts,
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    )
    .unwrap();

    // Both commits applied where asked (sorted by frame), each with its difference.
    let commits: Vec<(u64, &str)> = report
        .commits
        .iter()
        .map(|c| (c.frames, c.diff.as_str()))
        .collect();
    assert_eq!(
        commits,
        vec![
            (
                N1,
                "original-flow timers changed\nadded: vlan-id\nremoved: as\nreprogrammed: as-tos, bgp-nexthop-tos, destination-prefix, destination-prefix-tos, index-tos, mpls-label, prefix, prefix-tos, protocol-port, protocol-port-tos, source-prefix, source-prefix-tos"
            ),
            (N2, "export changed: protocol-port"),
        ]
    );

    eprintln!("{}", report.render());
    let (total_p, total_b) = keyed(&source, &routes, u64::MAX);
    let (before_p, before_b) = keyed(&source, &routes, N1);
    assert!(report.frames > N2, "{} frames", report.frames);
    assert_eq!(
        (
            report.device.global(GlobalStat::Ipv6Packets),
            report.device.global(GlobalStat::Ipv6Bytes)
        ),
        (total_p, total_b)
    );
    assert!(before_p > 0 && before_p < total_p);
    assert_eq!(report.modes.len(), 14);
    let collected = report.collected.as_ref().unwrap();
    for (mode, m) in &report.modes {
        assert_eq!(
            (m.packets, m.bytes, m.flows),
            (m.merged_packets, m.merged_bytes, m.merged_flows),
            "{mode}: drained vs device"
        );
        assert_eq!((m.drop_packets, m.drop_bytes), (0, 0), "{mode}");
        let c = collected.modes.get(mode).copied().unwrap_or_default();
        assert_eq!(
            (c.records, c.packets, c.bytes),
            (m.records, m.packets, m.bytes),
            "{mode}: collected vs drained"
        );
        let want = match mode {
            M::As => (before_p, before_b),
            M::VlanId => (total_p - before_p, total_b - before_b),
            _ => (total_p, total_b),
        };
        assert_eq!((m.packets, m.bytes), want, "{mode}");
    }
    assert_eq!(collected.decode_errors, 0);
    // The final loss counters (A15) reached the collector in every exported mode's
    // options data: nothing dropped, no parse error in these captures' IPv6.
    assert!(!report.loss.is_empty());
    for mode in report.modes.keys() {
        // A mode removed mid-run sent its last (zero) counters when it was retired.
        let loss = report.loss.get(mode).copied().unwrap_or_default();
        assert_eq!(loss.not_sent_packets, 0, "{mode}");
        assert_eq!(
            collected.loss.get(&(1 + u32::from(mode.index()))),
            Some(&loss),
            "{mode}"
        );
    }
}

#[test]
fn a_commit_file_with_an_error_stops_the_run_before_it_starts() {
    let opts = RunOptions {
        config: example("quickstart.cfg"),
        routes: None,
        device: "sim".into(),
        source: Some(Source::Generate(
            nsflow::traffic::parse_generate("flows=10,pps=1000,seconds=1").unwrap(),
        )),
        collect: None,
        ring_log2: 12,
        commits: vec![CommitAt {
            frames: 10,
            name: "bad.cfg".into(),
            commands: "ipv6 netstream aggregation timeout inactive 4\n".into(),
        }],
        faults: Vec::new(),
        flush_timeout: None,
    };
    let e = run::run(
        opts,
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad.cfg: line 1, column 45:\nipv6 netstream aggregation timeout inactive 4\n                                            ^\nError: Wrong parameter found at '^' position.\n  inactive timeout (seconds) 4 is out of range: it must be an integer from 5 to 600\n"
    );
}
