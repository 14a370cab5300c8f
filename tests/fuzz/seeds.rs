//! Writes the seed corpora of the fuzz targets into `CHECKOUT/tests/fuzz/corpus/TARGET/`
//! (each directory emptied first, so the output depends only on the inputs):
//!
//! ```sh
//! cargo run --manifest-path tests/fuzz/Cargo.toml --example seeds -- . ../shared
//! ```
//!
//! * `parser`: the first frames of the captures in `SHARED/pcaps` and `SHARED/pcaps/edge`
//!   that have a link adapter, cut to 512 bytes;
//! * `vrp_config`: `examples/*.cfg` and `examples/routes.txt`;
//! * `flow_decoder`: the raw v9/IPFIX payloads of `SHARED/pcaps/netflow/*.dat`, each data
//!   file after the template files of its exporter, and message sequences that nsflow's
//!   own exporter encodes from keys of captured frames (v9 and IPFIX);
//! * `record`: records encoded from those keys, every end reason, and one invalid
//!   variant per validation rule;
//! * `ring`: rings of valid records for several sizes, indices (wrapping included) and
//!   limits, and rings with one bad record.
#![allow(clippy::expect_used)]

use nsflow_exporter::{
    Collector, ExportConfig, ExportSource, ExportStream, FlowRecord, SourceAddr, Version,
};
use nsflow_fuzz::{frame, messages, ring_input::RingInput};
use nsflow_hwsim::capture::CaptureReader;
use nsflow_rtl::parser::{parse, Parsed};
use nsflow_rtl::record::{phase_for, Record, RECORD_BYTES};
use nsflow_rtl::{AggregationMode, EndReason, FlowKey};
use std::collections::BTreeSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// Most seeds written per target.
const MAX_SEEDS: usize = 48;
/// Frames are cut to this many bytes: the parser reads headers only.
const FRAME_BYTES: usize = 512;

/// The seeds of one target, deduplicated, written on [`Corpus::write`].
struct Corpus {
    dir: PathBuf,
    seeds: Vec<(String, Vec<u8>)>,
    seen: BTreeSet<Vec<u8>>,
}

impl Corpus {
    fn new(root: &Path, target: &str) -> Self {
        Self {
            dir: root.join(target),
            seeds: Vec::new(),
            seen: BTreeSet::new(),
        }
    }

    fn add(&mut self, name: impl Into<String>, bytes: Vec<u8>) {
        if self.seeds.len() < MAX_SEEDS && self.seen.insert(bytes.clone()) {
            self.seeds.push((name.into(), bytes));
        }
    }

    fn write(self) {
        if self.dir.exists() {
            fs::remove_dir_all(&self.dir).expect("remove old corpus");
        }
        fs::create_dir_all(&self.dir).expect("create corpus directory");
        for (name, bytes) in &self.seeds {
            fs::write(self.dir.join(name), bytes).expect("write seed");
        }
        println!("{}: {} seeds", self.dir.display(), self.seeds.len());
    }
}

fn sorted_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// First frame of each capture that has a link adapter, and the keys of its IPv6 frames.
fn frames(shared: &Path) -> (Vec<(String, Vec<u8>)>, Vec<FlowKey>) {
    let pcaps = shared.join("pcaps");
    let mut files = sorted_files(&pcaps, "pcap");
    files.extend(sorted_files(&pcaps.join("edge"), "pcap"));
    files.extend(sorted_files(&pcaps.join("edge"), "pcapng"));
    let (mut seeds, mut keys) = (Vec::new(), Vec::new());
    for path in files {
        let Ok(reader) = CaptureReader::open(&path) else {
            continue;
        };
        for f in reader.take(16).flatten() {
            let Some(link) = f.link else { break };
            if let Ok(Parsed::Ipv6(fields)) = parse(link, &f.data) {
                keys.push(fields.key_fields());
            }
            if seeds.len() < MAX_SEEDS && !seeds.iter().any(|(n, _)| *n == stem(&path)) {
                let cut = &f.data[..f.data.len().min(FRAME_BYTES)];
                seeds.push((stem(&path), frame::join(link, cut)));
            }
        }
    }
    (seeds, keys)
}

fn flow_record(i: usize, key: FlowKey) -> FlowRecord {
    let modes = AggregationMode::ALL;
    FlowRecord {
        mode: modes[i % modes.len()],
        key: FlowKey {
            src_as: 64500 + i as u32,
            in_if: 1,
            out_if: 70000,
            ..key
        },
        flows: 1 + i as u64 % 3,
        packets: 3 + i as u64,
        bytes: 1500 * (3 + i as u64),
        start_ms: 1_700_000_000_000 + i as u64,
        end_ms: 1_700_000_060_000 + i as u64,
        end_reason: EndReason::ALL[i % EndReason::ALL.len()],
    }
}

/// The messages nsflow's exporter sends for a few records, template messages first.
fn exported(version: Version, keys: &[FlowKey], domain: u32) -> Vec<Vec<u8>> {
    let any = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut cfg = ExportConfig::new(
        vec![Collector::new(any, 9995)],
        ExportSource {
            v4: Some(SourceAddr {
                addr: any,
                port: None,
            }),
            v6: None,
        },
    );
    cfg.version = version;
    cfg.observation_domain = domain;
    cfg.system_init_ms = Some(1_700_000_000_000);
    cfg.modes = vec![AggregationMode::ProtocolPort, AggregationMode::Prefix];
    let now = 1_700_000_100_000;
    let mut stream = ExportStream::new(&cfg, now);
    for (i, key) in keys.iter().enumerate() {
        stream.push(&flow_record(i, *key), now);
    }
    stream.flush(now);
    stream
        .take_messages()
        .into_iter()
        .map(|m| m.bytes)
        .collect()
}

fn parser_and_keys(shared: &Path, root: &Path) -> Vec<FlowKey> {
    let (seeds, keys) = frames(shared);
    let mut c = Corpus::new(root, "parser");
    for (name, bytes) in seeds {
        c.add(name, bytes);
    }
    c.write();
    keys
}

fn vrp_config(checkout: &Path, root: &Path) {
    let examples = checkout.join("examples");
    let mut c = Corpus::new(root, "vrp_config");
    for path in sorted_files(&examples, "cfg")
        .into_iter()
        .chain(sorted_files(&examples, "txt"))
    {
        c.add(stem(&path), fs::read(&path).expect("read example"));
    }
    c.write();
}

fn flow_decoder(shared: &Path, root: &Path, keys: &[FlowKey]) {
    let mut c = Corpus::new(root, "flow_decoder");
    for (version, name) in [(Version::V9, "nsflow-v9"), (Version::Ipfix, "nsflow-ipfix")] {
        for domain in [0, 1] {
            let msgs = exported(version, &keys[..keys.len().min(40)], domain);
            let framed: Vec<(u8, &[u8])> = msgs.iter().map(|m| (0, m.as_slice())).collect();
            c.add(format!("{name}-domain{domain}"), messages::join(&framed));
            // Data from an exporter that never sent the templates.
            let split: Vec<(u8, &[u8])> = msgs
                .iter()
                .enumerate()
                .map(|(i, m)| (u8::from(i > 0), m.as_slice()))
                .collect();
            c.add(
                format!("{name}-domain{domain}-other-exporter"),
                messages::join(&split),
            );
        }
    }
    let dats = sorted_files(&shared.join("pcaps").join("netflow"), "dat");
    let group = |p: &Path| {
        let s = stem(p);
        let cut = ["_tpl", "_data", "_opttpl", "_tplopt"]
            .iter()
            .filter_map(|m| s.find(m))
            .min();
        cut.map_or(s.clone(), |i| s[..i].to_string())
    };
    // NetFlow v5 (which the decoder refuses) needs one seed, not five.
    let wanted = |p: &Path| {
        let s = stem(p);
        (!s.contains("tpl") || s.contains("data")) && !s.starts_with("netflow5_")
    };
    for data in dats.iter().filter(|p| wanted(p)) {
        let mut seq: Vec<Vec<u8>> = dats
            .iter()
            .filter(|t| *t != data && stem(t).contains("tpl") && group(t) == group(data))
            .map(|t| fs::read(t).expect("read template payload"))
            .collect();
        seq.push(fs::read(data).expect("read payload"));
        let framed: Vec<(u8, &[u8])> = seq.iter().map(|m| (0, m.as_slice())).collect();
        c.add(stem(data), messages::join(&framed));
    }
    c.write();
}

fn record_of(i: usize, key: FlowKey, phase: bool) -> Record {
    Record {
        profile: (i % 4) as u8,
        reason: EndReason::ALL[i % EndReason::ALL.len()],
        phase,
        flows: 1 + i as u32 % 2,
        packets: 2 + i as u64,
        bytes: 100 * (2 + i as u64),
        first_ns: 1_000 * i as u64,
        last_ns: 1_000 * i as u64 + 500,
        key,
    }
}

fn records(root: &Path, keys: &[FlowKey]) {
    let mut c = Corpus::new(root, "record");
    for (i, key) in keys.iter().take(24).enumerate() {
        c.add(
            format!("valid-{i:02}"),
            record_of(i, *key, i % 2 == 0).encode().to_vec(),
        );
    }
    let good = record_of(0, keys.first().copied().unwrap_or_default(), false).encode();
    // One broken variant per validation rule (offsets: see nsflow_rtl::record).
    let broken: [(&str, usize, u8); 6] = [
        ("bad-version", 0, 2),
        ("bad-reason", 2, 9),
        ("bad-flags", 3, 2),
        ("no-packets", 8, 0),
        ("no-flows", 4, 0),
        ("last-before-first", 32, 0),
    ];
    for (name, offset, value) in broken {
        let mut b = good;
        if name == "no-packets" {
            b[8..16].fill(0);
        } else if name == "last-before-first" {
            b[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        } else {
            b[offset] = value;
        }
        c.add(name, b.to_vec());
    }
    c.add("short", good[..RECORD_BYTES - 1].to_vec());
    c.write();
}

fn ring(root: &Path, keys: &[FlowKey]) {
    let mut c = Corpus::new(root, "ring");
    let key = |i: u32| {
        keys.get(i as usize % keys.len().max(1))
            .copied()
            .unwrap_or_default()
    };
    for log2 in [4u8, 5, 6, 7] {
        let entries = 1u32 << log2;
        for cons in [0u32, entries - 3, u32::MAX - 2] {
            for (published, max) in [
                (0, usize::MAX),
                (1, usize::MAX),
                (5, 3),
                (entries, usize::MAX),
            ] {
                let mut slots = vec![0u8; RECORD_BYTES << log2.min(6)];
                for k in 0..published.min(1 << log2.min(6)) {
                    let index = cons.wrapping_add(k);
                    let slot = (index & (entries - 1)) as usize;
                    let rec = record_of(k as usize, key(k), phase_for(index, log2)).encode();
                    if let Some(s) = slots.get_mut(slot * RECORD_BYTES..(slot + 1) * RECORD_BYTES) {
                        s.copy_from_slice(&rec);
                    }
                }
                let used = slots.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
                let input = RingInput {
                    log2,
                    profiles: 4,
                    max,
                    cons,
                    prod: cons.wrapping_add(published),
                    ring: &slots[..used],
                };
                let max = if max == usize::MAX {
                    "all".to_string()
                } else {
                    max.to_string()
                };
                c.add(
                    format!("log2-{log2}-cons-{cons}-n-{published}-max-{max}"),
                    input.encode(),
                );
            }
        }
    }
    // One bad record after two good ones, and a producer more than a ring ahead.
    let mut slots = vec![0u8; RECORD_BYTES * 3];
    for k in 0..3u32 {
        let rec = record_of(k as usize, key(k), phase_for(k, 4)).encode();
        slots[k as usize * RECORD_BYTES..(k as usize + 1) * RECORD_BYTES].copy_from_slice(&rec);
    }
    slots[2 * RECORD_BYTES + 2] = 0;
    let bad = RingInput {
        log2: 4,
        profiles: 4,
        max: usize::MAX,
        cons: 0,
        prod: 3,
        ring: &slots,
    };
    c.add("bad-third-record", bad.encode());
    c.add(
        "producer-too-far",
        RingInput {
            prod: 17,
            ..bad.clone()
        }
        .encode(),
    );
    c.add(
        "unprogrammed-profile",
        RingInput { profiles: 1, ..bad }.encode(),
    );
    c.write();
}

fn main() {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let checkout = args.next().unwrap_or_else(|| PathBuf::from("."));
    let shared = args.next().unwrap_or_else(|| checkout.join("../shared"));
    let root = checkout.join("tests/fuzz/corpus");
    let keys = parser_and_keys(&shared, &root);
    assert!(!keys.is_empty(), "no IPv6 frame in {}", shared.display());
    vrp_config(&checkout, &root);
    flow_decoder(&shared, &root, &keys);
    records(&root, &keys);
    ring(&root, &keys);
}
