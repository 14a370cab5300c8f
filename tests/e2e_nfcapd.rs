//! End to end into nfcapd: `nsflow run` on every shared traffic capture, with each example
//! configuration (one per family of modes), exports to a live `nfcapd -b 127.0.0.1` (`-b
//! ::1` for prefix.cfg, whose collector is IPv6).
//!
//! * Per capture (through the library, one device per capture): every enabled mode's
//!   records hold exactly the IPv6 packets and bytes the device keyed, which are the
//!   reference aggregator's ingress counts of the capture (that those equal tshark's IPv6
//!   totals less the packets the parser rejects is `reference_conservation`'s check), and
//!   nothing was dropped.
//! * Per family: the records, original flows (deltaFlowCount), packets and bytes nfdump
//!   stored equal the sums of what nsflow reported; the `nsflow` binary, given several
//!   captures at once, adds exactly its own summary's totals.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow::run::{self, RunOptions, RunReport};
use nsflow::traffic::{Frames, Source};
use nsflow::vrp;
use nsflow_rtl::reference::ReferenceAggregator;
use nsflow_rtl::regs::GlobalStat;
use nsflow_tests::nfcapd::{seen, stored, Nfcapd};
use nsflow_tests::{
    free_udp_port, nsflow_binary, require_shared, require_tool, traffic_captures, workspace_root,
};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::Duration;

/// An example configuration sending to one collector at `port`, and the address nfcapd
/// listens on: 127.0.0.1 when the example has IPv4 hosts (its IPv6 hosts are removed),
/// else ::1 (prefix.cfg exports over IPv6).
fn example_to(name: &str, port: u16) -> (String, &'static str) {
    let text = std::fs::read_to_string(workspace_root().join("examples").join(name)).unwrap();
    let v4 = text.contains("export host 127.0.0.1 ");
    let config = text
        .lines()
        .filter(|l| !(v4 && l.contains("export host ipv6")))
        .map(|l| {
            for host in ["export host 127.0.0.1 ", "export host ipv6 ::1 "] {
                if let Some(i) = l.find(host) {
                    return format!("{}{host}{port}", &l[..i]);
                }
            }
            l.to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n");
    (config, if v4 { "127.0.0.1" } else { "::1" })
}

/// Records, flows, packets, bytes.
type Totals = (u64, u64, u64, u64);

/// Records, flows, packets and bytes over every mode of a report.
fn totals(r: &RunReport) -> Totals {
    r.modes.values().fold((0, 0, 0, 0), |t, m| {
        (
            t.0 + m.records,
            t.1 + m.flows,
            t.2 + m.packets,
            t.3 + m.bytes,
        )
    })
}

fn add(a: Totals, b: Totals) -> Totals {
    (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3)
}

#[test]
fn every_capture_into_nfcapd_for_every_family() {
    let Some(shared) = require_shared() else {
        return;
    };
    if !require_tool("nfcapd") || !require_tool("nfdump") {
        return;
    }
    let captures = traffic_captures(&shared);
    assert!(captures.len() > 150, "{} captures", captures.len());
    let routes = std::fs::read_to_string(workspace_root().join("examples/routes.txt")).unwrap();
    let tables = vrp::parse_routes(&routes).unwrap().tables().unwrap();
    // The main folder's captures, for the binary's several-files run.
    let several: Vec<PathBuf> = captures
        .iter()
        .filter(|p| p.parent() == Some(&shared.join("pcaps")))
        .cloned()
        .collect();
    let mut problems = Vec::new();
    for family in [
        "quickstart.cfg",
        "as.cfg",
        "prefix.cfg",
        "protocol-port.cfg",
        "mpls-vlan.cfg",
        "all-modes.cfg",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let flows = dir.path().join("flows");
        std::fs::create_dir(&flows).unwrap();
        let port = free_udp_port();
        let (config, bind) = example_to(family, port);
        let nfcapd = Nfcapd::start(bind, port, &flows, &flows.with_extension("log"));
        let (engine, _) = vrp::parse_config(&config).unwrap();
        let engine = engine.engine_config();
        let mut sent: Totals = (0, 0, 0, 0);
        let mut records_sent = 0;
        for pcap in &captures {
            let opts = RunOptions::replay(
                config.clone(),
                Some(routes.clone()),
                Source::Captures(vec![pcap.clone()]),
            );
            let r = run::run(
                opts,
                Arc::new(AtomicBool::new(false)),
                Arc::new(AtomicU64::new(0)),
            )
            .unwrap_or_else(|e| panic!("{family} {}: {e}", pcap.display()));
            let mut reference = ReferenceAggregator::new(engine.clone(), tables.clone());
            for f in Frames::new(&Source::Captures(vec![pcap.clone()])) {
                let f = f.unwrap();
                reference.offer(f.ts_ns, f.link, &f.data);
            }
            let ing = reference.finish().ingress;
            let keyed = (
                r.device.global(GlobalStat::Ipv6Packets),
                r.device.global(GlobalStat::Ipv6Bytes),
            );
            if keyed != (ing.ipv6_packets, ing.ipv6_bytes) {
                problems.push(format!(
                    "{family} {}: device keyed {keyed:?}, reference {:?}",
                    pcap.display(),
                    (ing.ipv6_packets, ing.ipv6_bytes)
                ));
            }
            assert_eq!(r.modes.len(), engine.profiles.len(), "{family}");
            for (mode, m) in &r.modes {
                if (m.packets, m.bytes, m.drop_packets) != (keyed.0, keyed.1, 0) || !m.exported {
                    problems.push(format!(
                        "{family} {} {mode}: {m:?}, keyed {keyed:?}",
                        pcap.display()
                    ));
                }
            }
            sent = add(sent, totals(&r));
            records_sent += r
                .collectors
                .iter()
                .map(|c| c.stats.records_sent)
                .sum::<u64>();
            assert!(
                r.collectors.iter().all(|c| c.stats.records_failed == 0),
                "{family}: {:?}",
                r.collectors
            );
        }
        assert_eq!(records_sent, sent.0, "{family}");
        // The binary with several captures at once, into the same nfcapd.
        let cfg_file = dir.path().join(family);
        std::fs::write(&cfg_file, &config).unwrap();
        let out = Command::new(nsflow_binary())
            .arg("run")
            .arg("--config")
            .arg(&cfg_file)
            .args(["--routes", "examples/routes.txt", "--quiet", "--pcap"])
            .args(&several)
            .current_dir(workspace_root())
            .output()
            .unwrap();
        let summary = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{family}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (mut bin, mut ipv6) = ((0, 0, 0, 0), 0);
        let table = &summary[summary.find("orig flows").unwrap()..];
        for line in table.lines().skip(1).take_while(|l| !l.is_empty()) {
            // orig flows, aggregates, records, packets, bytes, drops
            let n: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .map_while(|w| w.parse().ok())
                .collect();
            bin = add(bin, (n[2], n[0], n[3], n[4]));
            ipv6 = n[3];
        }
        assert!(
            summary.contains(&format!("IPv6 {ipv6} packets")),
            "{family}: {summary}"
        );
        // Let the last datagrams reach nfcapd: it writes what it has on SIGTERM.
        std::thread::sleep(Duration::from_millis(500));
        let log = nfcapd.stop();
        let st = stored(&flows);
        let failures = st.sequence_failures;
        let stored = (st.records, st.flows, st.packets, st.bytes);
        eprintln!(
            "{family}: {} captures one by one {sent:?} + binary {bin:?}; nfdump {stored:?}",
            captures.len()
        );
        assert_eq!(stored, add(sent, bin), "{family}\n{log}");
        // Each run is a new exporter from the same address and domain restarting its
        // sequence numbers: nfcapd counts those restarts as sequence failures (the
        // numbering itself is interop_export_nfdump's check).
        eprintln!(
            "{family}: nfdump sequence failures {failures} over {} runs",
            captures.len() + 1
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// NetFlow v9 of a replayed capture carries the capture's times: sysUpTime and
/// FIRST/LAST_SWITCHED count from its first frame on its clock, so nfdump shows the
/// capture's day (2020-11-13 for this one), and the same first and last times as for the
/// same replay exported as IPFIX (absolute times).
#[test]
fn v9_records_of_a_replay_carry_the_captures_times_as_ipfix_does() {
    if !require_tool("nfcapd") {
        return;
    }
    let Some(shared) = require_shared() else {
        return;
    };
    let pcap = shared.join("pcaps/ndpi-reddit-ipv6.pcap");
    let mut by_version = Vec::new();
    for version in ["9", "ipfix"] {
        let dir = tempfile::tempdir().unwrap();
        let flows = dir.path().join("flows");
        std::fs::create_dir(&flows).unwrap();
        let port = free_udp_port();
        let (config, bind) = example_to("quickstart.cfg", port);
        let config = config.replace("export version ipfix", &format!("export version {version}"));
        let nfcapd = Nfcapd::start(bind, port, &flows, &flows.with_extension("log"));
        let opts = RunOptions {
            config,
            routes: None,
            device: "sim".into(),
            source: Some(Source::Captures(vec![pcap.clone()])),
            collect: None,
            ring_log2: 14,
            commits: Vec::new(),
            faults: Vec::new(),
            flush_timeout: None,
        };
        run::run(
            opts,
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        nfcapd.stop();
        let mut s = seen(&flows);
        assert!(!s.is_empty(), "v{version}: nothing stored");
        for (ts, te) in &s {
            assert!(
                ts.starts_with("2020-11-13 18:21") && te.starts_with("2020-11-13 18:21"),
                "version {version}: a record first seen {ts}, last seen {te}"
            );
        }
        s.sort();
        by_version.push(s);
    }
    assert_eq!(by_version[0], by_version[1], "v9 and IPFIX times differ");
}
