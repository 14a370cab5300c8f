//! pmacct's nfacctd (Debian pmacct), a collector people run, accounts what nsflow exports:
//! a `protocol-port` export of a real capture, in NetFlow v9 and in IPFIX, aggregated by
//! nfacctd's print plugin on (protocol, source port, destination port), equals the
//! reference aggregator's aggregates per key — every packet and byte — and nfacctd
//! reports no malformed template. Before 2026-12-05 it accounted nothing (no IP version
//! in the template) and called nsflow's IPFIX options template set malformed
//! (docs/export.md, "Collectors").
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow::run::{self, RunOptions};
use nsflow::traffic::{Frames, Source};
use nsflow::vrp;
use nsflow_rtl::reference::ReferenceAggregator;
use nsflow_rtl::tables::Tables;
use nsflow_tests::{free_udp_port, require_shared, require_tool};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// (protocol, source port, destination port) → (packets, bytes).
type ByPorts = BTreeMap<(String, u16, u16), (u64, u64)>;

fn config(version: &str, port: u16) -> String {
    format!(
        "system-view\n\
         ipv6 netstream export template sequence-number fixed\n\
         ipv6 netstream export source 127.0.0.1\n\
         ipv6 netstream export host 127.0.0.1 {port}\n\
         ipv6 netstream aggregation protocol-port\n enable\n export version {version}\n quit\n\
         commit\n"
    )
}

/// IANA protocol numbers as nfacctd's CSV names them.
fn proto_name(p: u8) -> String {
    match p {
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "ipv6-icmp".into(),
        n => n.to_string(),
    }
}

#[test]
fn nfacctd_accounts_a_protocol_port_export_exactly_in_v9_and_ipfix() {
    if !require_tool("nfacctd") {
        return;
    }
    let Some(shared) = require_shared() else {
        return;
    };
    let pcap = shared.join("pcaps/ndpi-reddit-ipv6.pcap");
    // What the reference aggregator says nfacctd must hold (directions summed: nfacctd
    // aggregates on the ports and protocol only).
    let (parsed, _) = vrp::parse_config(&config("9", 9)).unwrap();
    let mut reference = ReferenceAggregator::new(parsed.engine_config(), Tables::default());
    for f in Frames::new(&Source::Captures(vec![pcap.clone()])) {
        let f = f.unwrap();
        reference.offer(f.ts_ns, f.link, &f.data);
    }
    let mut want = ByPorts::new();
    for (k, t) in &reference.finish().aggregates[0] {
        let e = want
            .entry((proto_name(k.protocol), k.src_port, k.dst_port))
            .or_default();
        e.0 += t.packets;
        e.1 += t.bytes;
    }
    assert!(!want.is_empty());
    for version in ["9", "ipfix"] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_udp_port();
        let out = dir.path().join("out-%s.csv");
        let conf = dir.path().join("nfacctd.conf");
        std::fs::write(
            &conf,
            format!(
                "daemonize: false\nnfacctd_ip: 127.0.0.1\nnfacctd_port: {port}\n\
                 plugins: print[p]\naggregate[p]: proto, src_port, dst_port\n\
                 print_output[p]: csv\nprint_output_file[p]: {}\nprint_refresh_time[p]: 1\n\
                 print_history[p]: 1h\n",
                out.display()
            ),
        )
        .unwrap();
        let log = dir.path().join("nfacctd.log");
        let mut nfacctd = Command::new("nfacctd")
            .arg("-f")
            .arg(&conf)
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        let opts = RunOptions::replay(
            config(version, port),
            None,
            Source::Captures(vec![pcap.clone()]),
        );
        run::run(
            opts,
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        )
        .unwrap();
        // The print plugin writes its cache every second: wait until it holds every key.
        let until = Instant::now() + Duration::from_secs(15);
        let got = loop {
            let mut got = ByPorts::new();
            for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !(name.starts_with("out-") && name.ends_with(".csv")) {
                    continue;
                }
                let text = std::fs::read_to_string(e.path()).unwrap();
                for l in text.lines().skip(1) {
                    let c: Vec<&str> = l.split(',').collect();
                    if c.len() < 5 {
                        continue;
                    }
                    let e = got
                        .entry((
                            c[2].to_owned(),
                            c[0].parse().unwrap(),
                            c[1].parse().unwrap(),
                        ))
                        .or_default();
                    e.0 += c[3].parse::<u64>().unwrap();
                    e.1 += c[4].parse::<u64>().unwrap();
                }
            }
            if got == want || Instant::now() > until {
                break got;
            }
            std::thread::sleep(Duration::from_millis(300));
        };
        let _ = nfacctd.kill();
        let _ = nfacctd.wait();
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!log.contains("malformed"), "version {version}: {log}");
        assert_eq!(got.len(), want.len(), "version {version}: keys\n{log}");
        assert_eq!(got, want, "version {version}: per key packets and bytes");
    }
}
