//! VCD waveforms read back with the `vcd` crate's parser, for the tests of `nsflow
//! trace` and of hwsim's tracer: the signals docs/hwsim.md promises, every value change
//! by signal, and the questions tests ask of them.
// Test code: a malformed file is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use nsflow_hwsim::capture::Frame;
use nsflow_hwsim::generator::{Generator, GeneratorConfig};
use std::collections::BTreeMap;
use std::path::Path;
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
    "bar_writes",
    "bar_offset",
    "bar_value",
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
    pub fn at(&self, name: &str, t: u64) -> u64 {
        self.changes[name]
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .map_or(0, |(_, x)| *x)
    }
}
