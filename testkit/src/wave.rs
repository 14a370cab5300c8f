//! VCD waveforms read back with the `vcd` crate's parser, for the tests of `nsflow
//! trace` and of hwsim's tracer: the signals docs/hwsim.md promises, every value change
//! by signal, the questions tests ask of them, and the conversion to FST by GTKWave's
//! tools that every trace a test writes must survive.
// Test code: a malformed file is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crate::tools::require_tool;
use nsflow_hwsim::capture::Frame;
use nsflow_hwsim::generator::{Generator, GeneratorConfig};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use vcd::{Command as Vcd, IdCode, TimescaleUnit, Value};

/// Generated traffic at 1 Mpps: one frame per microsecond, 250 cycles apart at the
/// default 250 MHz, over 50 flows.
pub fn traffic_1mpps(count: u64) -> Vec<Frame> {
    Generator::new(GeneratorConfig {
        flows: 50,
        rate_pps: 1_000_000,
        duration_ns: count * 1000,
        ..GeneratorConfig::default()
    })
    .collect()
}

/// Picoseconds of cycle `c` at the default 250 MHz.
pub const fn ps(c: u64) -> u64 {
    c * 4000
}

/// The signals docs/hwsim.md promises, merge pulses aside.
pub const SIGNALS: &[&str] = &[
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
    "bar_write",
    "bar_write_offset",
    "bar_write_value",
];

/// A VCD file read back: timestamps, every value change by signal name, comments.
pub struct Wave {
    /// The declared timescale.
    pub timescale: Option<(u32, TimescaleUnit)>,
    /// Every timestamp, in order.
    pub stamps: Vec<u64>,
    /// Value changes `(time, value)` per signal name.
    pub changes: BTreeMap<String, Vec<(u64, u64)>>,
    /// Comments `(time, text)`.
    pub comments: Vec<(u64, String)>,
}

impl Wave {
    /// Reads and parses `path` (panics on a malformed file: test code).
    pub fn read(path: &Path) -> Self {
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
    pub fn rises(&self, name: &str) -> Vec<u64> {
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
    pub fn high_cycles(&self, name: &str) -> u64 {
        self.high_spans(name)
            .iter()
            .map(|(s, e)| e - s)
            .sum::<u64>()
            / ps(1)
    }

    /// The spans `[start, end)` of time during which `name` was non-zero (a span still
    /// open at the last timestamp ends there).
    fn high_spans(&self, name: &str) -> Vec<(u64, u64)> {
        let end = self.stamps.last().copied().unwrap_or(0);
        let mut since: Option<u64> = None;
        let mut spans = Vec::new();
        for (t, x) in &self.changes[name] {
            match (since, *x != 0) {
                (None, true) => since = Some(*t),
                (Some(s), false) => {
                    spans.push((s, *t));
                    since = None;
                }
                _ => {}
            }
        }
        spans.extend(since.map(|s| (s, end)));
        spans
    }

    /// Every register write the trace shows, in order: `(cycle, offset, value)` for each
    /// cycle the `bar_write` strobe is high.
    pub fn bar_writes(&self) -> Vec<(u64, u32, u32)> {
        let word = |name: &str, t: u64| u32::try_from(self.at(name, t)).unwrap();
        self.high_spans("bar_write")
            .into_iter()
            .flat_map(|(s, e)| s / ps(1)..e / ps(1))
            .map(|c| {
                let t = ps(c);
                (c, word("bar_write_offset", t), word("bar_write_value", t))
            })
            .collect()
    }

    /// The value of `name` at time `t`.
    pub fn at(&self, name: &str, t: u64) -> u64 {
        self.changes[name]
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .map_or(0, |(_, x)| *x)
    }
}

/// Converts the VCD file `vcd` to FST with GTKWave's `vcd2fst` and back with `fst2vcd`
/// (beside it, as `.fst` and `.fst.vcd`), and asserts that both succeed and that the round
/// trip keeps every value change of every signal. Without the tools: false and a skip
/// locally, a panic under `CI=true` ([`require_tool`]).
pub fn assert_converts_to_fst(vcd: &Path) -> bool {
    if !(require_tool("vcd2fst") && require_tool("fst2vcd")) {
        return false;
    }
    let fst = vcd.with_extension("fst");
    let back = vcd.with_extension("fst.vcd");
    succeeds(Command::new("vcd2fst").arg(vcd).arg(&fst));
    succeeds(Command::new("fst2vcd").arg(&fst).arg("-o").arg(&back));
    let (original, converted) = (Wave::read(vcd), Wave::read(&back));
    assert_eq!(original.timescale, converted.timescale);
    for (name, changes) in &original.changes {
        assert_eq!(
            Some(changes),
            converted.changes.get(name),
            "{name}: the FST of {} differs",
            vcd.display()
        );
    }
    true
}

/// Runs `cmd` and asserts that it succeeds (a crash or a non-zero exit fails the test).
fn succeeds(cmd: &mut Command) {
    let run = cmd.output().unwrap();
    assert!(
        run.status.success(),
        "{cmd:?} failed ({}): {}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
}
