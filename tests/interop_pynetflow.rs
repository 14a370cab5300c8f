//! The Python `netflow` package (PyPI; bitkeks' python-netflow-v9-softflowd, the
//! collector many scripts are built on) decodes what nsflow exports, in NetFlow v9 and in
//! IPFIX, for every mode, and its records equal the reference aggregator's aggregates
//! field by field: each key field under its element (`tests/decoded.rs`), deltaFlowCount,
//! packetDeltaCount and octetDeltaCount summed per key. Real captures with plain IPv6,
//! 802.1Q and MPLS; the datagrams are received on loopback by the test and handed to
//! `tests/scripts/pynetflow_decode.py`. Every message must parse; an element the
//! comparison does not know fails the test, named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow::run::{self, RunOptions};
use nsflow::traffic::{Frames, Source};
use nsflow::vrp;
use nsflow_rtl::reference::ReferenceAggregator;
use nsflow_rtl::AggregationMode;
use nsflow_tests::decoded::{decoded, expected, Fields, Prefixes};
use nsflow_tests::{require_python_module, require_shared, workspace_root};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Every mode enabled, exporting `version` to 127.0.0.1:`port`.
fn config(version: &str, port: u16) -> String {
    let mut c = format!(
        "system-view\n\
         ipv6 netstream export template sequence-number fixed\n\
         ipv6 netstream mpls-aware label-and-ip\n\
         ipv6 netstream export source 127.0.0.1\n\
         ipv6 netstream export host 127.0.0.1 {port}\n"
    );
    for m in AggregationMode::ALL {
        c += &format!(
            "ipv6 netstream aggregation {}\n enable\n export version {version}\n quit\n",
            m.name()
        );
    }
    c + "commit\n"
}

/// Receives datagrams on `sock` until `stop`, each kept whole.
fn receive(sock: UdpSocket, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Vec<u8>>> {
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65_536];
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => got.push(buf[..n].to_vec()),
                Err(_) if stop.load(Ordering::Relaxed) => return got,
                Err(_) => {}
            }
        }
    })
}

#[test]
fn python_netflow_decodes_every_mode_in_v9_and_ipfix_field_by_field() {
    if !require_python_module("netflow") {
        return;
    }
    let Some(shared) = require_shared() else {
        return;
    };
    let captures: Vec<PathBuf> = [
        "ndpi-reddit-ipv6.pcap",
        "akvorado-encap-ipv6.pcap",
        "ndpi-hsrp2-ipv6-vlan.pcap",
    ]
    .iter()
    .map(|c| shared.join("pcaps").join(c))
    .collect();
    let source = Source::Captures(captures);
    let routes = std::fs::read_to_string(workspace_root().join("examples/routes.txt")).unwrap();
    let tables = vrp::parse_routes(&routes).unwrap().tables().unwrap();
    for (version, prefixes) in [
        ("9", Prefixes::AddressElements),
        ("ipfix", Prefixes::PrefixElements),
    ] {
        let sock = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )
        .unwrap();
        let _ = sock.set_recv_buffer_size(8 << 20);
        sock.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        let sock = UdpSocket::from(sock);
        let port = sock.local_addr().unwrap().port();
        let cfg = config(version, port);
        let (parsed, _) = vrp::parse_config(&cfg).unwrap();
        let mut reference = ReferenceAggregator::new(parsed.engine_config(), tables.clone());
        for f in Frames::new(&source) {
            let f = f.unwrap();
            reference.offer(f.ts_ns, f.link, &f.data);
        }
        let aggregates = reference.finish().aggregates;

        let stop = Arc::new(AtomicBool::new(false));
        let receiver = receive(sock, stop.clone());
        let report = run::run(
            RunOptions {
                config: cfg,
                routes: Some(routes.clone()),
                device: "sim".into(),
                source: Some(source.clone()),
                collect: None,
                ring_log2: 14,
                commits: Vec::new(),
                faults: Vec::new(),
                flush_timeout: None,
            },
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        let datagrams = receiver.join().unwrap();
        let sent: u64 = report
            .collectors
            .iter()
            .map(|c| c.stats.messages_sent)
            .sum();
        assert_eq!(datagrams.len() as u64, sent, "version {version}: datagrams");

        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("datagrams");
        let mut bytes = Vec::new();
        for d in &datagrams {
            bytes.extend_from_slice(&u32::try_from(d.len()).unwrap().to_be_bytes());
            bytes.extend_from_slice(d);
        }
        std::fs::write(&input, bytes).unwrap();
        let out = Command::new("python3")
            .arg(workspace_root().join("tests/scripts/pynetflow_decode.py"))
            .arg(&input)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "version {version}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut records: Vec<(u16, Fields)> = Vec::new();
        let mut errors = Vec::new();
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(e) = v.get("errors") {
                errors.extend(e.as_array().unwrap().iter().map(|e| e.to_string()));
                continue;
            }
            let template = u16::try_from(v["template"].as_u64().unwrap()).unwrap();
            let fields = v["fields"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.parse().unwrap(), text)
                })
                .collect();
            records.push((template, fields));
        }
        assert!(errors.is_empty(), "version {version}: {errors:#?}");
        for (index, mode) in AggregationMode::ALL.into_iter().enumerate() {
            let tid = 256 + u16::try_from(index).unwrap();
            let mine: Vec<Fields> = records
                .iter()
                .filter(|(t, _)| *t == tid)
                .map(|(_, f)| f.clone())
                .collect();
            let m = &report.modes[&mode];
            assert_eq!(
                mine.len() as u64,
                m.records,
                "version {version} {mode}: records"
            );
            let want = expected(mode, &aggregates[index], prefixes);
            let (got, unknown) = decoded(&mine);
            assert!(unknown.is_empty(), "version {version} {mode}: {unknown:#?}");
            assert_eq!(
                got, want,
                "version {version} {mode}: per key flows, packets, bytes"
            );
            eprintln!(
                "version {version} {mode}: python netflow read {} records, {} keys, equal to \
                 the reference",
                mine.len(),
                got.len()
            );
        }
    }
}
