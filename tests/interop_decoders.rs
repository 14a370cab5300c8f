//! Decoders other people wrote read what nsflow exports, in NetFlow v9 and in IPFIX, for
//! every mode, and their records equal the reference aggregator's aggregates field by
//! field: each key field under its element (`tests/decoded.rs`), deltaFlowCount,
//! packetDeltaCount and octetDeltaCount summed per key. Real captures with plain IPv6,
//! 802.1Q and MPLS; all 14 modes export in one run to a socket of the test, and each
//! decoder is handed the datagrams received:
//! * the Python `netflow` package (PyPI; bitkeks' python-netflow-v9-softflowd, which many
//!   collector scripts build on), through `tests/scripts/pynetflow_decode.py`;
//! * the `netflow_parser` crate (crates.io), which Rust collectors build on;
//! * NetGauze's `netgauze-flow-pkt` crate (crates.io), the decoder of NetGauze's collector.
//!
//! Every message must parse; an element the comparison does not know fails the test,
//! named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use netflow_parser::variable_versions::data_number::FieldValue;
use netflow_parser::variable_versions::ipfix_lookup::IPFixField;
use netflow_parser::{NetflowPacket, NetflowParser};
use nsflow::run::{self, RunOptions, RunReport};
use nsflow::traffic::{Frames, Source};
use nsflow::vrp;
use nsflow_rtl::reference::{ReferenceAggregator, Totals};
use nsflow_rtl::{AggregationMode, FlowKey};
use nsflow_tests::decoded::{
    captures, check_options, decoded, expected, without, Fields, Prefixes,
};
use nsflow_tests::{require_python_module, require_shared, workspace_root};
use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The two versions, and how each names a prefix mode's addresses.
const VERSIONS: [(&str, Prefixes); 2] = [
    ("9", Prefixes::AddressElements),
    ("ipfix", Prefixes::PrefixElements),
];

/// nsflow's IPFIX options templates: loss counters, timeouts (docs/export.md, "Options").
const OPTIONS: [u16; 2] = [270, 271];
/// One observation domain per mode.
const DOMAINS: u32 = AggregationMode::ALL.len() as u32;
/// The aggregation timers the configuration leaves at their defaults (decision A4:
/// active 30 min, inactive 300 s), as the timeout options must carry them.
const ACTIVE_S: u64 = 1800;
const IDLE_S: u64 = 300;

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

/// What one run exported: the datagrams as received, the reference aggregator's
/// aggregates per mode (index order), the run's report.
struct Export {
    datagrams: Vec<Vec<u8>>,
    aggregates: Vec<BTreeMap<FlowKey, Totals>>,
    report: RunReport,
}

/// Runs every mode over the captures, exporting `version` to a socket of the test.
fn export(version: &str) -> Option<Export> {
    let shared = require_shared()?;
    let source = Source::Captures(captures(&shared));
    let routes = std::fs::read_to_string(workspace_root().join("examples/routes.txt")).unwrap();
    let tables = vrp::parse_routes(&routes).unwrap().tables().unwrap();
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
    let mut reference = ReferenceAggregator::new(parsed.engine_config(), tables);
    for f in Frames::new(&source) {
        let f = f.unwrap();
        reference.offer(f.ts_ns, f.link, &f.data);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let receiver = std::thread::spawn(move || {
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65_536];
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => got.push(buf[..n].to_vec()),
                Err(_) if stopped.load(Ordering::Relaxed) => return got,
                Err(_) => {}
            }
        }
    });
    let report = run::run(
        RunOptions::replay(cfg, Some(routes), source),
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
    Some(Export {
        datagrams,
        aggregates: reference.finish().aggregates,
        report,
    })
}

/// Compares a decoder's data records (template ID, fields) with the reference, mode by
/// mode; `unexpressed` lists the elements the decoder cannot give, left out of both sides
/// and said.
fn compare(
    decoder: &str,
    version: &str,
    p: Prefixes,
    e: &Export,
    records: &[(u16, Fields)],
    unexpressed: &[u16],
) {
    if !unexpressed.is_empty() {
        eprintln!(
            "{decoder}, version {version}: cannot express elements {unexpressed:?}, not compared"
        );
    }
    for (index, mode) in AggregationMode::ALL.into_iter().enumerate() {
        let tid = 256 + u16::try_from(index).unwrap();
        let mine: Vec<Fields> = records
            .iter()
            .filter(|(t, _)| *t == tid)
            .map(|(_, f)| f.clone())
            .collect();
        let what = format!("{decoder}, version {version}, {mode}");
        assert_eq!(
            mine.len() as u64,
            e.report.modes[&mode].records,
            "{what}: records"
        );
        let (got, unknown) = decoded(&mine);
        assert!(unknown.is_empty(), "{what}: {unknown:#?}");
        let got = without(&got, unexpressed);
        let want = without(&expected(mode, &e.aggregates[index], p), unexpressed);
        assert_eq!(got, want, "{what}: per key flows, packets, bytes");
        eprintln!(
            "{what}: {} records, {} keys, equal to the reference",
            mine.len(),
            got.len()
        );
    }
}

#[test]
fn python_netflow_decodes_every_mode_in_v9_and_ipfix_field_by_field() {
    if !require_python_module("netflow") {
        return;
    }
    for (version, prefixes) in VERSIONS {
        let Some(e) = export(version) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("datagrams");
        let mut bytes = Vec::new();
        for d in &e.datagrams {
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
        let mut records = Vec::new();
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
        compare("python netflow", version, prefixes, &e, &records, &[]);
    }
}

/// A value as text: addresses as addresses, everything else as the big-endian integer
/// of its octets (numbers, octet arrays such as MPLS label stack sections, protocols).
fn text(v: &FieldValue) -> String {
    match v {
        FieldValue::Ip4Addr(a) => a.to_string(),
        FieldValue::Ip6Addr(a) => a.to_string(),
        other => other.to_be_bytes().map_or_else(
            |e| format!("no octets: {e}"),
            |b| {
                b.iter()
                    .fold(0u128, |n, o| n << 8 | u128::from(*o))
                    .to_string()
            },
        ),
    }
}

#[test]
fn netflow_parser_decodes_every_mode_in_v9_and_ipfix_field_by_field() {
    for (version, prefixes) in VERSIONS {
        let Some(e) = export(version) else {
            return;
        };
        let mut parser = NetflowParser::default();
        let mut records = Vec::new();
        let mut options = Vec::new();
        let mut errors = Vec::new();
        for d in &e.datagrams {
            let parsed = parser.parse_bytes(d);
            if let Some(err) = parsed.error {
                errors.push(format!("{err:?}"));
            }
            for packet in parsed.packets {
                match packet {
                    NetflowPacket::V9(v9) => {
                        let tid = 255 + u16::try_from(v9.header.source_id).unwrap();
                        for set in v9.flowsets {
                            use netflow_parser::variable_versions::v9::FlowSetBody;
                            match set.body {
                                FlowSetBody::Data(data) => {
                                    for r in data.fields {
                                        let f = r
                                            .iter()
                                            .map(|(field, v)| (*field as u16, text(v)))
                                            .collect();
                                        records.push((tid, f));
                                    }
                                }
                                FlowSetBody::NoTemplate(n) => {
                                    errors.push(format!("no template: {n:?}"))
                                }
                                _ => {}
                            }
                        }
                    }
                    NetflowPacket::IPFix(ipfix) => {
                        for set in ipfix.flowsets {
                            use netflow_parser::variable_versions::ipfix::FlowSetBody;
                            let tid = set.header.header_id;
                            match set.body {
                                FlowSetBody::OptionsData(o) => {
                                    for r in o.fields {
                                        let f: Fields = r
                                            .iter()
                                            .map(|(field, v)| (element(field), text(v)))
                                            .collect();
                                        options.push((tid, f));
                                    }
                                }
                                FlowSetBody::Data(data) => {
                                    for r in data.fields {
                                        let f = r
                                            .iter()
                                            .map(|(field, v)| (element(field), text(v)))
                                            .collect();
                                        records.push((tid, f));
                                    }
                                }
                                FlowSetBody::NoTemplate(n) => {
                                    errors.push(format!("no template: {n:?}"))
                                }
                                _ => {}
                            }
                        }
                    }
                    other => errors.push(format!("not v9/IPFIX: {other:?}")),
                }
            }
        }
        assert!(errors.is_empty(), "version {version}: {errors:#?}");
        // netflow_parser 0.9 types the IPFIX MPLS label stack sections (70-72, octetArray)
        // as strings and drops their control characters: 00 06 41 (label 100, S set)
        // comes out as "A". Its v9 path reads them as numbers.
        let unexpressed: &[u16] = if version == "ipfix" {
            &[70, 71, 72]
        } else {
            &[]
        };
        compare(
            "netflow_parser",
            version,
            prefixes,
            &e,
            &records,
            unexpressed,
        );
    }
}

/// The IANA element number of a field: the crate maps numbers to its enum and not back,
/// so the inverse of its own `From<u16>` is taken (an enterprise field cannot be one of
/// nsflow's).
fn element(f: &IPFixField) -> u16 {
    use netflow_parser::variable_versions::ipfix_lookup::IANAIPFixField;
    static NUMBERS: std::sync::OnceLock<BTreeMap<IANAIPFixField, u16>> = std::sync::OnceLock::new();
    let numbers =
        NUMBERS.get_or_init(|| (0..=1024).map(|n| (IANAIPFixField::from(n), n)).collect());
    match f {
        IPFixField::IANA(IANAIPFixField::Unknown(n)) => *n,
        IPFixField::IANA(i) => numbers[i],
        other => panic!("an enterprise field in nsflow's export: {other:?}"),
    }
}

/// A NetGauze field as (element number, text): an unsigned number as its value, the
/// enumerated protocolIdentifier and flowDirection (typed by their IANA registries:
/// their serde form is a name, "TCP", "ingress") as their numbers, anything else as its serde form gives it (addresses as text, octet arrays as
/// arrays of octets, read as a big-endian integer).
fn netgauze_field(f: &netgauze_flow_pkt::ie::Field) -> (u16, String) {
    use netgauze_flow_pkt::ie::{HasIE, InformationElementTemplate};
    let ie = f.ie();
    use netgauze_flow_pkt::ie::Field;
    let enumerated = match f {
        Field::protocolIdentifier(p) => Some(u8::from(*p)),
        Field::flowDirection(d) => Some(u8::from(*d)),
        _ => None,
    };
    let number = enumerated
        .map(u64::from)
        .ok_or(())
        .or_else(|()| TryInto::<u8>::try_into(f.clone()).map(u64::from))
        .or_else(|_| TryInto::<u16>::try_into(f.clone()).map(u64::from))
        .or_else(|_| TryInto::<u32>::try_into(f.clone()).map(u64::from))
        .or_else(|_| TryInto::<u64>::try_into(f.clone()));
    if let Ok(n) = number {
        return (ie.id(), n.to_string());
    }
    let v = serde_json::to_value(f).unwrap();
    let inner = v
        .as_object()
        .and_then(|o| o.values().next().cloned())
        .unwrap_or(v);
    let text = match &inner {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(octets) => octets
            .iter()
            .fold(0u128, |n, o| {
                n << 8 | u128::from(o.as_u64().unwrap_or(0) as u8)
            })
            .to_string(),
        other => other.to_string(),
    };
    (ie.id(), text)
}

#[test]
fn netgauze_decodes_every_mode_in_v9_and_ipfix_field_by_field() {
    use netgauze_parse_utils::reader::SliceReader;
    use netgauze_parse_utils::traits::ParseFromWithOneInput;
    for (version, prefixes) in VERSIONS {
        let Some(e) = export(version) else {
            return;
        };
        let mut options = Vec::new();
        let mut v9_templates = std::collections::HashMap::new();
        let mut ipfix_templates = std::collections::HashMap::new();
        let mut records = Vec::new();
        let mut errors = Vec::new();
        // The data records of a parsed packet (v9 or IPFIX: the same shape, other types).
        // Options data (loss counters, timeouts) comes in data sets of the options
        // templates: kept apart by the set ID.
        macro_rules! data_records {
            ($parsed:expr, $set:ident) => {
                match $parsed {
                    Ok(p) => {
                        for set in p.sets() {
                            if let $set::Data { id, records: rs } = set {
                                for r in rs.iter() {
                                    let f = r.fields().iter().map(netgauze_field).collect();
                                    records.push((id.id(), f));
                                }
                            }
                        }
                    }
                    Err(err) => errors.push(format!("{err:?}")),
                }
            };
        }
        for d in &e.datagrams {
            let mut reader = SliceReader::new(d);
            if version == "9" {
                use netgauze_flow_pkt::netflow::{NetFlowV9Packet, Set};
                data_records!(NetFlowV9Packet::parse(&mut reader, &mut v9_templates), Set);
            } else {
                use netgauze_flow_pkt::ipfix::{IpfixPacket, Set};
                let parsed = IpfixPacket::parse(&mut reader, &mut ipfix_templates);
                for set in parsed.iter().flat_map(|p| p.sets().iter()) {
                    if let Set::Data { id, records: rs } = set {
                        for r in rs.iter().filter(|_| OPTIONS.contains(&id.id())) {
                            let f = r.scope_fields().iter().chain(r.fields());
                            options.push((id.id(), f.map(netgauze_field).collect()));
                        }
                    }
                }
                data_records!(parsed, Set);
            }
        }
        assert!(errors.is_empty(), "version {version}: {errors:#?}");
        compare("netgauze", version, prefixes, &e, &records, &[]);
        if version == "ipfix" {
            check_options("netgauze, IPFIX", &options, DOMAINS, ACTIVE_S, IDLE_S);
        }
    }
}
