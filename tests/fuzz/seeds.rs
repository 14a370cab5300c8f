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
//!   limits, and rings with one bad record;
//! * `device_bus`: a driver's bring-up (one mode, all modes, short timers), traffic,
//!   flushes, resets, a ring unmapped under the device, raw accesses and batches;
//! * `vfio_user_server`: a client's whole session (handshake, interrupt, DMA, register and
//!   port accesses, reset) whole and cut into small reads, and hostile messages;
//! * `vfio_user_client`: a server's answers to the client's connection and the backend's
//!   requests, and the same with an error reply, a busy server, a huge size, a cut.
#![allow(clippy::expect_used)]

use nsflow_exporter::{
    Collector, ExportConfig, ExportSource, ExportStream, FlowRecord, SourceAddr, Version,
};
use nsflow_fuzz::bus_ops::{self, selector, Op};
use nsflow_fuzz::{frame, messages, ring_input::RingInput, vfio_stream};
use nsflow_hwsim::capture::CaptureReader;
use nsflow_hwsim::generator::{Generator, GeneratorConfig};
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::parser::{parse, Parsed};
use nsflow_rtl::program::engine_writes;
use nsflow_rtl::record::{phase_for, Record, RECORD_BYTES};
use nsflow_rtl::regs::{self, Ctrl, NUM_PROFILES};
use nsflow_rtl::sim_port;
use nsflow_rtl::vfio_user::{
    errno, DeviceInfo, DmaMap, DmaUnmap, Header, IrqInfo, RegionAccess, RegionInfo, Reply, Request,
    SetIrqs, DEVICE_FLAGS_PCI, DEVICE_FLAGS_RESET,
};
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

/// The BAR0 writes that program `cfg` (as the driver's bring-up does, the ring aside: the
/// harness owns it) and enable the engine.
fn bring_up(cfg: &EngineConfig) -> Vec<Op> {
    let mut ops: Vec<Op> = engine_writes(cfg, NUM_PROFILES)
        .expect("a configuration the hardware takes")
        .into_iter()
        .map(|(off, value)| Op::Bar0Write {
            reg: selector(off),
            value,
        })
        .collect();
    let mut unmasked = Ctrl(0);
    unmasked.set_enable(true);
    ops.push(Op::Bar0Write {
        reg: selector(regs::INT_MASK.offset),
        value: 0,
    });
    ops.push(Op::Bar0Write {
        reg: selector(regs::CTRL.offset),
        value: unmasked.0,
    });
    ops
}

fn ctrl(f: impl Fn(&mut Ctrl)) -> Op {
    let mut c = Ctrl(0);
    f(&mut c);
    Op::Bar0Write {
        reg: selector(regs::CTRL.offset),
        value: c.0,
    }
}

fn traffic(seed: u8, batches: u8, gap_us: u16) -> Vec<Op> {
    (0..batches)
        .map(|i| Op::Frames {
            seed: seed.wrapping_add(i),
            count: 40,
            gap_us,
        })
        .collect()
}

fn device_bus(root: &Path) {
    let mut c = Corpus::new(root, "device_bus");
    let flush = ctrl(|c| {
        c.set_enable(true);
        c.set_flush(true);
    });
    let status = Op::Bar0Read {
        reg: selector(regs::STATUS.offset),
    };
    let one = bring_up(&EngineConfig::with_modes(&[AggregationMode::ProtocolPort]));
    let all = bring_up(&EngineConfig::with_modes(&AggregationMode::ALL));
    let mut short = EngineConfig::with_modes(&[AggregationMode::SourcePrefix, AggregationMode::As]);
    short.orig_inactive_s = 1;
    short.orig_active_s = 2;
    for p in &mut short.profiles {
        p.inactive_s = 1;
        p.active_s = 3;
    }
    let short = bring_up(&short);
    let seq = |parts: &[&[Op]]| parts.concat();
    let seeds: Vec<(&str, u8, Vec<Op>)> = vec![
        (
            "one_mode_flush",
            0,
            seq(&[&one, &traffic(1, 4, 10), &[flush.clone(), status.clone()]]),
        ),
        (
            "all_modes",
            0,
            seq(&[&all, &traffic(7, 6, 100), &[status.clone(), flush.clone()]]),
        ),
        (
            "short_timers_aging",
            0,
            seq(&[
                &short,
                &traffic(3, 8, 60_000),
                std::slice::from_ref(&status),
            ]),
        ),
        (
            "drop_on_full",
            1,
            seq(&[&all, &traffic(130, 12, 1), std::slice::from_ref(&flush)]),
        ),
        (
            "ring_unmapped_under_the_device",
            0,
            seq(&[
                &one,
                &traffic(2, 2, 10),
                &[
                    Op::DmaUnmap {
                        address: 0,
                        size: 2,
                        all: false,
                    },
                    Op::DmaMap {
                        address: 0,
                        size: 0,
                        offset: 1,
                    },
                    flush.clone(),
                    status.clone(),
                ],
                &traffic(9, 2, 10),
            ]),
        ),
        (
            // The fuzzer's first find (see docs/reliability.md): one piece of scratch
            // memory mapped at both the write-back and the ring. The harness no longer
            // makes the second map; the rest must still hold.
            "ring_and_write_back_aliased",
            0,
            seq(&[
                &one,
                &[
                    Op::DmaUnmap {
                        address: 0,
                        size: 0,
                        all: true,
                    },
                    Op::DmaMap {
                        address: 2,
                        size: 0,
                        offset: 0,
                    },
                    Op::DmaMap {
                        address: 0,
                        size: 0,
                        offset: 0,
                    },
                ],
                &traffic(40, 96, 2049),
                std::slice::from_ref(&flush),
            ]),
        ),
        (
            "resets",
            0,
            seq(&[
                &one,
                &traffic(4, 2, 10),
                &[ctrl(|c| c.set_soft_reset(true))],
                &one,
                &traffic(5, 2, 10),
                &[Op::Reset],
                &one,
                &traffic(6, 1, 10),
            ]),
        ),
        (
            "raw_accesses",
            0,
            seq(&[
                &one,
                &[
                    Op::Batch(vec![0xFF; 40]),
                    Op::PortRead { offset: 0 },
                    Op::PortRead { offset: 4 },
                    Op::Access {
                        write: true,
                        region: 0,
                        offset: 0x10,
                        count: 2,
                    },
                    Op::Access {
                        write: false,
                        region: 7,
                        offset: 0,
                        count: 256,
                    },
                    Op::Access {
                        write: true,
                        region: 2,
                        offset: 64,
                        count: 64,
                    },
                    Op::Access {
                        write: false,
                        region: 0,
                        offset: 0x1FFE,
                        count: 4,
                    },
                    Op::Bar0Write {
                        reg: 0x8000 | 0x3FFC,
                        value: 1,
                    },
                ],
                &traffic(8, 2, 10),
            ]),
        ),
    ];
    for (name, flags, ops) in seeds {
        let mut bytes = vec![flags];
        bytes.extend(bus_ops::encode(&ops));
        c.add(name, bytes);
    }
    c.write();
}

/// A client's requests of a whole session: the connection, the interrupt, DMA, a
/// profile programmed, frames through the port, a flush polled, unmap, reset.
fn client_session() -> Vec<Vec<u8>> {
    let access = |region: u32, offset: u64, count: u32| RegionAccess {
        offset,
        region,
        count,
    };
    let mut reqs = vec![Request::Version {
        major: 0,
        minor: 1,
        caps: "{\"capabilities\":{\"max_msg_fds\":1}}",
    }];
    reqs.push(Request::DeviceGetInfo);
    reqs.extend((0..9).map(|index| Request::RegionInfo { argsz: 32, index }));
    reqs.extend((0..5).map(|index| Request::IrqInfo { index }));
    reqs.push(Request::SetIrqs(SetIrqs {
        flags: 0x24,
        index: 2,
        start: 0,
        count: 1,
    }));
    reqs.push(Request::DmaMap(DmaMap {
        flags: 3,
        offset: 0,
        address: bus_ops::RING_IOVA,
        size: 12288,
    }));
    let mut msgs: Vec<Vec<u8>> = reqs
        .iter()
        .enumerate()
        .map(|(i, r)| r.encode(i as u16))
        .collect();
    let cfg = EngineConfig::with_modes(&[AggregationMode::ProtocolPort]);
    let mut writes = engine_writes(&cfg, NUM_PROFILES).expect("programmable");
    writes.extend(nsflow_rtl::program::ring_writes(
        bus_ops::RING_IOVA,
        bus_ops::RING_IOVA + 8192,
        6,
    ));
    let mut on = Ctrl(0);
    on.set_enable(true);
    writes.push((regs::CTRL.offset, on.0));
    let mut batch = Vec::new();
    for f in Generator::new(GeneratorConfig {
        flows: 8,
        duration_ns: 20_000,
        ..GeneratorConfig::default()
    }) {
        sim_port::encode_frame(&mut batch, f.ts_ns, 1, &f.data);
    }
    let mut flush = Ctrl(0);
    flush.set_enable(true);
    flush.set_flush(true);
    let mut more: Vec<Vec<u8>> = Vec::new();
    for (off, v) in writes {
        more.push(Request::RegionWrite(access(0, off.into(), 4), &v.to_le_bytes()).encode(0));
    }
    more.push(Request::RegionRead(access(2, sim_port::SIM_PORT_FREE, 4)).encode(0));
    more.push(
        Request::RegionWrite(
            access(2, sim_port::SIM_PORT_DATA, batch.len() as u32),
            &batch,
        )
        .encode(0),
    );
    more.push(
        Request::RegionWrite(
            access(0, regs::CTRL.offset.into(), 4),
            &flush.0.to_le_bytes(),
        )
        .encode(0),
    );
    more.push(Request::RegionRead(access(0, regs::STATUS.offset.into(), 4)).encode(0));
    more.push(Request::RegionRead(access(0, regs::RING_PROD.offset.into(), 4)).encode(0));
    more.push(Request::RegionRead(access(7, 0, 64)).encode(0));
    more.push(
        Request::DmaUnmap(DmaUnmap {
            flags: 0,
            address: bus_ops::RING_IOVA,
            size: 12288,
        })
        .encode(0),
    );
    more.push(Request::DeviceReset.encode(0));
    msgs.extend(more);
    msgs
}

fn vfio_user_server(root: &Path) {
    let mut c = Corpus::new(root, "vfio_user_server");
    let session = client_session().concat();
    c.add(
        "session",
        vfio_stream::join(vfio_stream::FDS_WHERE_TAKEN, &session),
    );
    c.add(
        "session_in_3_byte_reads",
        vfio_stream::join(0x30 | vfio_stream::FDS_WHERE_TAKEN, &session),
    );
    c.add(
        "descriptors_everywhere",
        vfio_stream::join(vfio_stream::FDS_EVERYWHERE | vfio_stream::TWO_FDS, &session),
    );
    c.add("no_descriptors", vfio_stream::join(0, &session));
    let huge_read = Request::RegionRead(RegionAccess {
        offset: 0,
        region: 0,
        count: u32::MAX,
    })
    .encode(1);
    let mut hostile = huge_read.clone();
    hostile.extend(
        Request::RegionRead(RegionAccess {
            offset: 0x1FFC,
            region: 0,
            count: 8,
        })
        .encode(2),
    );
    let mut unsupported = Request::DeviceReset.encode(3);
    unsupported[2] = 6;
    hostile.extend(unsupported);
    hostile.extend(
        b"\x04\x00\x01\x00\x17\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00{}x",
    );
    let mut oversized = Request::DeviceReset.encode(5);
    oversized[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    hostile.extend(oversized);
    c.add(
        "hostile",
        vfio_stream::join(vfio_stream::FDS_WHERE_TAKEN, &hostile),
    );
    c.write();
}

/// A server's answers to the client's connection and to the requests the fuzz target
/// makes after it, in order (IDs from 0).
fn server_answers() -> Vec<Vec<u8>> {
    let region = |index: u32, size: u64| {
        Reply::RegionInfo(RegionInfo {
            flags: if size > 0 { 3 } else { 0 },
            index,
            size,
            offset: 0,
        })
    };
    let access = |region: u32, offset: u64, count: u32| RegionAccess {
        offset,
        region,
        count,
    };
    let caps = "{\"capabilities\":{\"max_msg_fds\":1,\"max_data_xfer_size\":1048576}}";
    let mut replies = vec![
        Reply::Version {
            major: 0,
            minor: 1,
            caps,
        },
        Reply::DeviceInfo(DeviceInfo {
            flags: DEVICE_FLAGS_PCI | DEVICE_FLAGS_RESET,
            num_regions: 9,
            num_irqs: 5,
        }),
    ];
    replies.extend((0..9).map(|i| match i {
        0 => region(0, regs::BAR0_SIZE.into()),
        2 => region(2, sim_port::SIM_PORT_SIZE),
        7 => region(7, 256),
        i => region(i, 0),
    }));
    let magic = regs::MAGIC.to_le_bytes();
    let port = [0u8; 8];
    replies.extend([
        Reply::IrqInfo(IrqInfo {
            flags: 1,
            index: 2,
            count: 1,
        }),
        Reply::SetIrqs,
        Reply::RegionRead(access(0, 0, 4), &magic),
        Reply::RegionWrite(access(0, 0x10, 4)),
        Reply::RegionRead(access(2, 0, 8), &port),
        Reply::RegionWrite(access(2, 64, 100)),
        Reply::DmaMap,
        Reply::DmaUnmap(DmaUnmap {
            flags: 0,
            address: 0x1_0000_0000,
            size: 8192,
        }),
    ]);
    replies
        .iter()
        .enumerate()
        .map(|(id, r)| r.encode(id as u16))
        .collect()
}

fn vfio_user_client(root: &Path) {
    let mut c = Corpus::new(root, "vfio_user_client");
    let answers = server_answers();
    c.add("whole_session", answers.concat());
    let error_at = |id: usize, errno: u32| {
        let mut v = answers.clone();
        let h = Header::decode(v[id][..16].try_into().expect("a header"));
        v[id] = h.error_reply(errno).to_vec();
        v.concat()
    };
    c.add("bar0_read_refused", error_at(13, errno::EINVAL));
    c.add("busy", error_at(0, errno::EBUSY));
    c.add("dma_map_refused", error_at(17, errno::EINVAL));
    let mut huge = answers.clone();
    huge[14][4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    c.add("huge_size", huge.concat());
    let mut other = answers.clone();
    other[15][0] ^= 1;
    c.add("reply_to_another_request", other.concat());
    let all = answers.concat();
    c.add("cut_short", all[..all.len() - 7].to_vec());
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
    device_bus(&root);
    vfio_user_server(&root);
    vfio_user_client(&root);
}
