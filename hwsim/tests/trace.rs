//! VCD waveforms: a window of a replay through the harness, read back with the `vcd`
//! crate's parser — the declared signals, events exactly where the documented timing puts
//! them and nowhere outside the window, BAR0 writes; and the `nsflow-hwsim trace` command.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_hwsim::capture::Frame;
use nsflow_hwsim::generator::{Generator, GeneratorConfig};
use nsflow_hwsim::harness::{Harness, HarnessConfig};
use nsflow_hwsim::trace::Tracer;
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::regs;
use nsflow_rtl::AggregationMode;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use vcd::{Command as Vcd, IdCode, TimescaleUnit, Value};

/// The signals docs/hwsim.md promises, merge pulses aside.
const SIGNALS: &[&str] = &[
    "ingress_valid",
    "ingress_ipv6",
    "ingress_frames",
    "ingress_wait",
    "pipeline_depth",
    "s1_hit",
    "s1_miss",
    "s1_evict",
    "s1_entries",
    "flow_queue_depth",
    "table_wait",
    "record_fifo_depth",
    "dma_write",
    "dma_records",
    "dma_inflight",
    "ring_prod",
    "ring_cons",
    "ring_full",
    "irq",
    "int_status",
    "flush_busy",
    "error",
    "bar_writes",
    "bar_offset",
    "bar_value",
];

/// A VCD file read back: timestamps, every value change by signal name, comments.
struct Wave {
    timescale: Option<(u32, TimescaleUnit)>,
    stamps: Vec<u64>,
    changes: BTreeMap<String, Vec<(u64, u64)>>,
    comments: Vec<(u64, String)>,
}

impl Wave {
    fn read(path: &Path) -> Self {
        let text = std::fs::read(path).unwrap();
        let mut p = vcd::Parser::new(&text[..]);
        let h = p.parse_header().unwrap();
        let scope = h.find_scope(&["nsflow"]).unwrap();
        let mut names: BTreeMap<IdCode, String> = BTreeMap::new();
        for item in &scope.items {
            if let vcd::ScopeItem::Var(v) = item {
                names.insert(v.code, v.reference.clone());
            }
        }
        let mut w = Wave {
            timescale: h.timescale,
            stamps: Vec::new(),
            changes: names.values().map(|n| (n.clone(), Vec::new())).collect(),
            comments: Vec::new(),
        };
        let bits = |v: &mut dyn Iterator<Item = Value>| {
            v.fold(0u64, |acc, b| acc << 1 | u64::from(b == Value::V1))
        };
        let mut now = 0;
        for c in p {
            match c.unwrap() {
                Vcd::Timestamp(t) => {
                    now = t;
                    w.stamps.push(t);
                }
                Vcd::ChangeScalar(id, v) => {
                    let x = bits(&mut std::iter::once(v));
                    w.changes.get_mut(&names[&id]).unwrap().push((now, x));
                }
                Vcd::ChangeVector(id, v) => {
                    let x = bits(&mut v.iter());
                    w.changes.get_mut(&names[&id]).unwrap().push((now, x));
                }
                Vcd::Comment(s) => w.comments.push((now, s)),
                _ => {}
            }
        }
        w
    }

    /// Times at which `name` became non-zero.
    fn rises(&self, name: &str) -> Vec<u64> {
        let mut last = 0;
        let mut v = Vec::new();
        for (t, x) in &self.changes[name] {
            if *x != 0 && last == 0 {
                v.push(*t);
            }
            last = *x;
        }
        v
    }

    /// Cycles during which `name` was non-zero: the number of events of a pulse signal
    /// that has at most one event per cycle (like a valid line).
    fn high_cycles(&self, name: &str) -> u64 {
        let end = self.stamps.last().copied().unwrap_or(0);
        let mut since: Option<u64> = None;
        let mut total = 0;
        for (t, x) in &self.changes[name] {
            match (since, *x != 0) {
                (None, true) => since = Some(*t),
                (Some(s), false) => {
                    total += t - s;
                    since = None;
                }
                _ => {}
            }
        }
        total += since.map_or(0, |s| end - s);
        total / ps(1)
    }

    /// The value of `name` at time `t`.
    fn at(&self, name: &str, t: u64) -> u64 {
        self.changes[name]
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .map_or(0, |(_, x)| *x)
    }
}

/// 1 Mpps: one frame per microsecond, 250 cycles apart at the default 250 MHz.
fn traffic(count: u64) -> Vec<Frame> {
    Generator::new(GeneratorConfig {
        flows: 50,
        rate_pps: 1_000_000,
        duration_ns: count * 1000,
        ..GeneratorConfig::default()
    })
    .collect()
}

/// Picoseconds of cycle `c` at the default 250 MHz.
const fn ps(c: u64) -> u64 {
    c * 4000
}

#[test]
fn a_window_of_a_replay_holds_exactly_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.vcd");
    let mut h = Harness::new(&HarnessConfig {
        engine: EngineConfig::with_modes(&AggregationMode::ALL[..2]),
        ..HarnessConfig::default()
    })
    .unwrap();
    assert_eq!(h.device().now_cycles(), 0);
    let (from, to) = (10_000, 20_000);
    h.device()
        .set_trace(Tracer::create(&out, from..to).unwrap());
    let frames = traffic(200);
    for (k, f) in frames.iter().enumerate() {
        h.offer_frame(f).unwrap();
        if k == 60 {
            h.device().bar_write(regs::INT_MOD_RECORDS.offset, 5);
        }
    }
    h.flush().unwrap();
    let summary = h.device().take_trace().unwrap().finish().unwrap();
    assert!(summary.reached_window);
    assert!(summary.stopped_at > to);

    let w = Wave::read(&out);
    assert_eq!(w.timescale, Some((1, TimescaleUnit::PS)));
    for s in SIGNALS {
        assert!(w.changes.contains_key(*s), "{s} not declared");
    }
    for p in 0..14 {
        assert!(w.changes.contains_key(&format!("merge_p{p:02}")));
    }
    assert!(w.stamps.iter().all(|t| (ps(from)..=ps(to)).contains(t)));
    assert_eq!(w.stamps.first(), Some(&ps(from)));
    assert_eq!(w.stamps.last(), Some(&ps(to)));

    // Frame k arrives at cycle 250k (the first frame maps onto cycle 0); the window holds
    // frames 40..80 and no other.
    let expected: Vec<u64> = (40..80).map(|k| ps(250 * k)).collect();
    assert_eq!(w.rises("ingress_valid"), expected);
    assert_eq!(w.rises("ingress_ipv6"), expected);
    // Counted as they enter: frames 0..=40 at the window's first cycle, 0..80 at its end.
    assert_eq!(w.at("ingress_frames", ps(from)), 41);
    assert_eq!(w.at("ingress_frames", ps(to) - 1), 80);
    // Each reaches the stage-1 table 24 cycles later (parser 16 + lookups 8): a hit or a
    // miss for each of the 40, the first of each flow a miss.
    let table: Vec<u64> = (40..80).map(|k| ps(250 * k + 24)).collect();
    let mut looked_up = w.rises("s1_hit");
    looked_up.extend(w.rises("s1_miss"));
    looked_up.sort_unstable();
    assert_eq!(looked_up, table);
    // The generator's flow is its source address (bytes 22..38 of the frame).
    let first_seen = {
        let mut seen = std::collections::HashSet::new();
        frames[..40].iter().for_each(|f| {
            seen.insert(&f.data[22..38]);
        });
        frames[40..80]
            .iter()
            .filter(|f| seen.insert(&f.data[22..38]))
            .count()
    };
    assert_eq!(w.rises("s1_miss").len(), first_seen);
    assert!(w.rises("s1_evict").is_empty());

    // The BAR write after frame 60, at that frame's cycle.
    let t = ps(250 * 60);
    assert_eq!(
        w.at("bar_offset", t),
        u64::from(regs::INT_MOD_RECORDS.offset)
    );
    assert_eq!(w.at("bar_value", t), 5);
    assert_eq!(w.at("bar_writes", t), 1);
    assert_eq!(
        w.comments,
        vec![(
            t,
            format!("bar_write {:#06x} 0x00000005", regs::INT_MOD_RECORDS.offset)
        )]
    );
    // Nothing is merged or written to the ring before the flush, far after the window.
    assert!(w.rises("merge_p00").is_empty() && w.rises("dma_write").is_empty());
}

#[test]
fn the_trace_command_writes_a_window_of_a_capture() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("t.pcap");
    let out = dir.path().join("t.vcd");
    let frames = traffic(300);
    {
        let f = std::fs::File::create(&pcap).unwrap();
        let mut w = pcap_file::pcap::PcapWriter::new(f).unwrap();
        for fr in &frames {
            let ts = std::time::Duration::from_nanos(fr.ts_ns);
            let p = pcap_file::pcap::PcapPacket::new(ts, fr.data.len() as u32, &fr.data);
            w.write_packet(&p).unwrap();
        }
    }
    let (from, to) = (50_000u64, 60_000u64);
    let run = Command::new(env!("CARGO_BIN_EXE_nsflow-hwsim"))
        .arg("trace")
        .arg("--pcap")
        .arg(&pcap)
        .args(["--config-profiles", "3"])
        .args(["--from", &from.to_string(), "--to", &to.to_string()])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("300 frames"), "{stdout}");

    let w = Wave::read(&out);
    for s in SIGNALS {
        assert!(w.changes.contains_key(*s), "{s} not declared");
    }
    let rises = w.rises("ingress_valid");
    let expected: Vec<u64> = (200..240).map(|k| ps(250 * k)).collect();
    assert_eq!(rises, expected);
    assert!(w.stamps.iter().all(|t| (ps(from)..=ps(to)).contains(t)));
}

#[test]
fn the_trace_command_refuses_an_empty_window() {
    let dir = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_nsflow-hwsim"))
        .args(["trace", "--pcap", "/nonexistent.pcap"])
        .args(["--from", "10", "--to", "10", "--out"])
        .arg(dir.path().join("x.vcd"))
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("empty trace window"), "{err}");
}

#[test]
fn a_whole_run_shows_merges_dma_and_interrupts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("all.vcd");
    let mut h = Harness::new(&HarnessConfig {
        engine: EngineConfig::with_modes(&AggregationMode::ALL[..2]),
        ..HarnessConfig::default()
    })
    .unwrap();
    h.device()
        .set_trace(Tracer::create(&out, 0..1 << 40).unwrap());
    let irqs_before = h.irqs();
    h.run(traffic(300)).unwrap();
    let records = h.records().len() as u64;
    let irqs = h.irqs() - irqs_before;
    let stats = h.stats();
    h.device().take_trace().unwrap().finish().unwrap();

    let w = Wave::read(&out);
    assert_eq!(w.high_cycles("ingress_valid"), 300);
    let flows = stats.global("orig_created");
    assert!(flows > 0);
    // Every original flow ends at the flush and merges into both profiles.
    assert_eq!(w.high_cycles("merge_p00"), flows);
    assert_eq!(w.high_cycles("merge_p01"), flows);
    assert_eq!(w.high_cycles("merge_p02"), 0);
    assert_eq!(w.high_cycles("s1_miss"), flows);
    assert_eq!(w.high_cycles("s1_hit"), 300 - flows);
    let last = |name: &str| w.changes[name].last().map_or(0, |(_, x)| *x);
    assert_eq!(last("ring_prod"), records);
    assert_eq!(last("ring_cons"), records);
    assert_eq!(last("s1_entries"), 0);
    assert_eq!(last("flush_busy"), 0);
    assert!(w.high_cycles("flush_busy") > 0);
    assert!(w.high_cycles("dma_write") > 0);
    // Several messages may share a cycle; each cycle with one shows.
    assert!((1..=irqs).contains(&w.high_cycles("irq")), "{irqs}");
    let mut flush_done = regs::IntBits(0);
    flush_done.set_flush_done(true);
    assert!(w.changes["int_status"]
        .iter()
        .any(|(_, x)| *x as u32 & flush_done.0 != 0));
}
