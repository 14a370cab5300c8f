//! The reference aggregator conserves packets and bytes on every shared capture for every
//! aggregation mode, and its ingress counts equal tshark's own IPv6 totals of the capture
//! (shared/tools/pcap-ipv6-totals.sh: outermost-IPv6 frames and 40 + payload length).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_hwsim::capture::CaptureReader;
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::reference::ReferenceAggregator;
use nsflow_rtl::tables::Tables;
use nsflow_rtl::AggregationMode;
use nsflow_tests::{require_shared, require_tool, traffic_captures, workspace_root};
use std::collections::HashMap;
use std::process::Command;

/// key=value lines printed by the shared totals script.
fn tshark_totals(script: &std::path::Path, pcap: &std::path::Path) -> HashMap<String, u64> {
    let out = Command::new("bash")
        .arg(script)
        .arg(pcap)
        .output()
        .expect("run pcap-ipv6-totals.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim().parse().unwrap_or(0)))
        .collect()
}

/// The example route file (`examples/routes.txt`), so that the prefix, AS, next-hop,
/// interface and label modes have real keys to work on.
fn tables() -> Tables {
    let text = std::fs::read_to_string(workspace_root().join("examples/routes.txt")).unwrap();
    nsflow::vrp::parse_routes(&text).unwrap().tables().unwrap()
}

#[test]
fn reference_totals_equal_tshark_ipv6_totals_for_every_mode() {
    let Some(shared) = require_shared() else {
        return;
    };
    if !require_tool("tshark") {
        return;
    }
    let script = shared.join("tools/pcap-ipv6-totals.sh");
    let (mut files, mut packets) = (0, 0);
    let mut problems = Vec::new();
    for pcap in traffic_captures(&shared) {
        let mut r =
            ReferenceAggregator::new(EngineConfig::with_modes(&AggregationMode::ALL), tables());
        for f in CaptureReader::open(&pcap).unwrap() {
            let f = f.unwrap();
            r.offer(f.ts_ns, f.link, &f.data);
        }
        let out = r.finish();
        let name = pcap.file_name().unwrap().to_string_lossy().into_owned();
        let ing = out.ingress;
        for (mode, agg) in AggregationMode::ALL.iter().zip(&out.aggregates) {
            let p: u64 = agg.values().map(|t| t.packets).sum();
            let b: u64 = agg.values().map(|t| t.bytes).sum();
            let fl: u64 = agg.values().map(|t| t.flows).sum();
            if (p, b, fl)
                != (
                    ing.ipv6_packets,
                    ing.ipv6_bytes,
                    out.original_flows.len() as u64,
                )
            {
                problems.push(format!("{name} {mode}: aggregated {p} packets {b} bytes {fl} flows, keyed {} packets {} bytes {} flows", ing.ipv6_packets, ing.ipv6_bytes, out.original_flows.len()));
            }
        }
        let t = tshark_totals(&script, &pcap);
        let (tp, tb) = (t["ipv6_packets"], t["ipv6_ip_bytes"]);
        let (ours_p, ours_b) = (
            ing.ipv6_packets + ing.err_ipv6_packets,
            ing.ipv6_bytes + ing.err_ipv6_bytes,
        );
        if (ours_p, ours_b) != (tp, tb) {
            problems.push(format!("{name}: keyed+rejected IPv6 {ours_p} packets {ours_b} bytes, tshark {tp} packets {tb} bytes"));
        }
        files += 1;
        packets += ing.ipv6_packets;
    }
    eprintln!("{files} captures, {packets} IPv6 packets keyed, 14 modes each");
    assert!(packets > 50_000);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
