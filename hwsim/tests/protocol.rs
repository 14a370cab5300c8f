//! The register protocol of the map (`nsflow_rtl::protocol`, docs/regmap.md "Protocol
//! rules") checked on the model, one test per rule: bounds in cycles measured on the
//! device's clock, atomicity through the keys of the records, orderings observed between
//! cycles in host memory. `every_rule_has_a_check` fails when a rule joins the map
//! without a check here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::frames_1mpps;
use nsflow_hwsim::ring::WB_BYTES;
use nsflow_hwsim::{BuildParams, Device};
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::protocol::{self, Rule};
use nsflow_rtl::record::{Record, RECORD_BYTES};
use nsflow_rtl::regs::{
    self, all_registers, window_op, Access, Ctrl, GlobalStat, IntBits, RouteMeta, Status,
};
use nsflow_rtl::AggregationMode;
use nsflow_testkit::harness::{Consumer, Harness, HarnessConfig, RING_IOVA};
use std::collections::BTreeMap;

/// The rules the tests below check, each by the test named after it.
const CHECKED: &[Rule] = &[
    protocol::REGISTER_PORT,
    protocol::TABLE_COMMAND,
    protocol::TABLE_ENTRY_ATOMIC,
    protocol::STATS_SNAPSHOT,
    protocol::SOFT_RESET,
    protocol::FLUSH,
    protocol::DMA_ORDER,
    protocol::PHASE,
    protocol::CONSUMER_AHEAD,
];

#[test]
fn every_rule_has_a_check() {
    let names = |rules: &[Rule]| {
        let mut v: Vec<&str> = rules.iter().map(|r| r.name).collect();
        v.sort_unstable();
        v
    };
    assert_eq!(names(CHECKED), names(protocol::RULES));
}

/// Its bound: the rules checked for one have one.
fn bound(rule: &Rule) -> u64 {
    rule.bound_cycles.map(u64::from).unwrap()
}

/// Writes `value` at `offset` on a free register port and returns the cycles the write
/// took: from the cycle the port took it through the cycle its effect is complete (the
/// caller checks the effect right after, without the device running on).
fn timed_write(d: &mut Device, offset: u32, value: u32) -> u64 {
    d.advance_cycles(1);
    let before = d.now_cycles();
    d.bar_write(offset, value);
    d.now_cycles() - before + 1
}

fn ctrl(d: &mut Device, set: impl Fn(&mut Ctrl)) -> u32 {
    let mut c = Ctrl(d.bar_read(regs::CTRL.offset));
    set(&mut c);
    c.0
}

fn harness(modes: &[AggregationMode], ring_log2: u8) -> Harness {
    Harness::new(&HarnessConfig {
        engine: EngineConfig::with_modes(modes),
        ring_log2,
        ..HarnessConfig::default()
    })
    .unwrap()
}

#[test]
fn register_port() {
    let mut d = Device::new(BuildParams::default()).unwrap();
    d.advance_cycles(1);
    let start = d.now_cycles();
    // Back-to-back writes: one per cycle, in order (the last one stays).
    for v in 1..=10 {
        d.bar_write(regs::INT_MOD_RECORDS.offset, v);
    }
    assert_eq!(
        d.now_cycles() - start + 1,
        10 * bound(&protocol::REGISTER_PORT)
    );
    assert_eq!(d.bar_read(regs::INT_MOD_RECORDS.offset), 10);
    assert!(timed_write(&mut d, regs::INT_MOD_TIME.offset, 7) <= bound(&protocol::REGISTER_PORT));
    assert_eq!(d.bar_read(regs::INT_MOD_TIME.offset), 7);
}

#[test]
fn table_command() {
    let b = bound(&protocol::TABLE_COMMAND);
    let mut d = Device::new(BuildParams::default()).unwrap();
    // A route: written, then read back into a cleared window, each command within the
    // bound and its effect visible at once.
    let mut meta = RouteMeta(0);
    meta.set_prefix_len(48);
    meta.set_valid(true);
    let entry = [
        (regs::ROUTE_PREFIX.at(0), 0x2001_0db8),
        (regs::ROUTE_PREFIX.at(1), 0x0042_0000),
        (regs::ROUTE_NEXTHOP.at(3), 1),
        (regs::ROUTE_META.offset, meta.0),
        (regs::ROUTE_AS.offset, 64_500),
        (regs::ROUTE_OUTIF.offset, 9),
    ];
    d.bar_write(regs::ROUTE_INDEX.offset, 3);
    for (o, v) in entry {
        d.bar_write(o, v);
    }
    assert!(timed_write(&mut d, regs::ROUTE_CMD.offset, window_op::WRITE) <= b);
    for (o, _) in entry {
        d.bar_write(o, 0);
    }
    assert!(timed_write(&mut d, regs::ROUTE_CMD.offset, window_op::READ) <= b);
    for (o, v) in entry {
        assert_eq!(d.bar_read(o), v, "route word at {o:#x}");
    }
    assert!(timed_write(&mut d, regs::ROUTE_CMD.offset, window_op::CLEAR) <= b);
    assert!(timed_write(&mut d, regs::ROUTE_CMD.offset, window_op::READ) <= b);
    assert!(!RouteMeta(d.bar_read(regs::ROUTE_META.offset)).valid());

    // An interface and a label, the same way.
    d.bar_write(regs::IFACE_INDEX.offset, 10);
    d.bar_write(regs::IFACE_IFINDEX.offset, 77);
    assert!(timed_write(&mut d, regs::IFACE_CMD.offset, window_op::WRITE) <= b);
    d.bar_write(regs::IFACE_IFINDEX.offset, 0);
    assert!(timed_write(&mut d, regs::IFACE_CMD.offset, window_op::READ) <= b);
    assert_eq!(d.bar_read(regs::IFACE_IFINDEX.offset), 77);
    let label = 1 << 31 | 16_004;
    d.bar_write(regs::LABEL_INDEX.offset, 5);
    d.bar_write(regs::LABEL_VALUE.offset, label);
    d.bar_write(regs::LABEL_ADDR.offset, 0x0A00_0001);
    assert!(timed_write(&mut d, regs::LABEL_CMD.offset, window_op::WRITE) <= b);
    d.bar_write(regs::LABEL_VALUE.offset, 0);
    d.bar_write(regs::LABEL_ADDR.offset, 0);
    assert!(timed_write(&mut d, regs::LABEL_CMD.offset, window_op::READ) <= b);
    assert_eq!(d.bar_read(regs::LABEL_VALUE.offset), label);
    assert_eq!(d.bar_read(regs::LABEL_ADDR.offset), 0x0A00_0001);
}

/// Stages route 0 as a /0 (every address) with origin AS `asn` and egress `out_if`;
/// applies it with a WRITE command when `apply`.
fn stage_default_route(d: &mut Device, asn: u32, out_if: u32, apply: bool) {
    let mut meta = RouteMeta(0);
    meta.set_valid(true);
    d.bar_write(regs::ROUTE_INDEX.offset, 0);
    d.bar_write(regs::ROUTE_META.offset, meta.0);
    d.bar_write(regs::ROUTE_AS.offset, asn);
    d.bar_write(regs::ROUTE_OUTIF.offset, out_if);
    if apply {
        d.bar_write(regs::ROUTE_CMD.offset, window_op::WRITE);
    }
}

#[test]
fn table_entry_atomic() {
    let mut h = harness(&[AggregationMode::As], 12);
    let traffic = frames_1mpps(50, 300);
    stage_default_route(h.device(), 100, 7, true);
    for f in &traffic[..100] {
        h.offer_frame(f).unwrap();
    }
    // A new entry staged word by word, not applied: frames still see the old one whole.
    stage_default_route(h.device(), 200, 9, false);
    for f in &traffic[100..200] {
        h.offer_frame(f).unwrap();
    }
    h.device()
        .bar_write(regs::ROUTE_CMD.offset, window_op::WRITE);
    for f in &traffic[200..] {
        h.offer_frame(f).unwrap();
    }
    h.flush().unwrap();
    let mut by_key: BTreeMap<(u32, u32, u32), u64> = BTreeMap::new();
    for r in h.records() {
        *by_key
            .entry((r.key.src_as, r.key.dst_as, r.key.out_if))
            .or_default() += r.packets;
    }
    assert_eq!(
        by_key,
        BTreeMap::from([((100, 100, 7), 200), ((200, 200, 9), 100)])
    );
}

#[test]
fn stats_snapshot() {
    let mut h = harness(&[AggregationMode::ProtocolPort], 12);
    let traffic = frames_1mpps(10, 60);
    let rx = regs::global_stat(GlobalStat::RxFrames);
    for f in &traffic[..50] {
        h.offer_frame(f).unwrap();
    }
    let d = h.device();
    d.run_until_idle();
    let snap = ctrl(d, |c| c.set_stats_snapshot(true));
    assert!(timed_write(d, regs::CTRL.offset, snap) <= bound(&protocol::STATS_SNAPSHOT));
    assert_eq!(d.bar_read(rx), 50);
    for f in &traffic[50..] {
        h.offer_frame(f).unwrap();
    }
    let d = h.device();
    d.run_until_idle();
    assert_eq!(d.bar_read(rx), 50, "latched until the next snapshot");
    assert!(timed_write(d, regs::CTRL.offset, snap) <= bound(&protocol::STATS_SNAPSHOT));
    assert_eq!(d.bar_read(rx), 60);
}

#[test]
fn soft_reset() {
    let mut h = harness(&[AggregationMode::ProtocolPort], 12);
    for f in &frames_1mpps(200, 500) {
        h.offer_frame(f).unwrap();
    }
    // A flush under way, records in flight to the ring: then the reset.
    let d = h.device();
    let flush = ctrl(d, |c| c.set_flush(true));
    d.bar_write(regs::CTRL.offset, flush);
    d.advance_cycles(300);
    let ring_bytes = (RECORD_BYTES << 12) + WB_BYTES;
    let memory = |d: &Device| {
        let mut m = vec![0u8; ring_bytes];
        d.memory().read(RING_IOVA, &mut m).unwrap();
        m
    };
    let reset = ctrl(d, |c| c.set_soft_reset(true));
    assert!(timed_write(d, regs::CTRL.offset, reset) <= bound(&protocol::SOFT_RESET));
    for r in all_registers() {
        let readable = r.reg.defined_mask() & !r.reg.access_mask(Access::Wo);
        assert_eq!(
            d.bar_read(r.offset),
            r.reg.reset() & readable,
            "{} right after the reset",
            r.name
        );
    }
    let after = memory(d);
    d.run_until_idle();
    d.advance_cycles(100_000);
    assert_eq!(memory(d), after, "host memory written after the reset");
    // The next write is the reset device's.
    d.bar_write(regs::INT_MASK.offset, 0);
    assert_eq!(d.bar_read(regs::INT_MASK.offset), 0);
}

#[test]
fn flush() {
    let mut h = harness(&[AggregationMode::ProtocolPort], 12);
    for f in &frames_1mpps(200, 500) {
        h.offer_frame(f).unwrap();
    }
    let d = h.device();
    let count = d.bar_read(regs::FLUSH_COUNT.offset);
    let flush = ctrl(d, |c| c.set_flush(true));
    d.bar_write(regs::CTRL.offset, flush);
    let mut done = IntBits(0);
    done.set_flush_done(true);
    // Cycle by cycle: busy from the write's cycle; busy clears, the count increments and
    // flush_done rises in one cycle.
    let mut cycles = 0u64;
    loop {
        let busy = Status(d.bar_read(regs::STATUS.offset)).flush_busy();
        let counted = d.bar_read(regs::FLUSH_COUNT.offset) != count;
        let raised = d.bar_read(regs::INT_STATUS.offset) & done.0 != 0;
        assert!(busy != counted && counted == raised, "cycle {cycles}");
        if counted {
            assert_eq!(d.bar_read(regs::FLUSH_COUNT.offset), count + 1);
            break;
        }
        d.advance_cycles(1);
        cycles += 1;
        assert!(cycles < 10_000_000, "the flush did not complete");
    }
    assert!(cycles > 1);
}

/// Reads the producer index written back after the harness's ring of 2^`log2` records.
fn written_back(d: &Device, log2: u8) -> u32 {
    let mut wb = [0u8; WB_BYTES];
    d.memory()
        .read(RING_IOVA + ((RECORD_BYTES as u64) << log2), &mut wb)
        .unwrap();
    u64::from_le_bytes(wb) as u32
}

/// Record `n`'s slot in the harness's ring of 2^`log2` records.
fn slot(d: &Device, log2: u8, n: u32) -> [u8; RECORD_BYTES] {
    let mut b = [0u8; RECORD_BYTES];
    let at = u64::from(n & ((1 << log2) - 1)) * RECORD_BYTES as u64;
    d.memory().read(RING_IOVA + at, &mut b).unwrap();
    b
}

/// The phase bit record `n` carries in a ring of 2^`log2` records.
fn phase_bit(n: u32, log2: u8) -> u8 {
    u8::from((n >> log2) & 1 == 0)
}

#[test]
fn dma_order() {
    let log2 = 12;
    let mut h = harness(
        &[
            AggregationMode::ProtocolPort,
            AggregationMode::ProtocolPortTos,
        ],
        log2,
    );
    for f in &frames_1mpps(1000, 3000) {
        h.offer_frame(f).unwrap();
    }
    let d = h.device();
    let flush = ctrl(d, |c| c.set_flush(true));
    d.bar_write(regs::CTRL.offset, flush);
    // Between every two cycles, the producer index the host can read covers complete
    // records only, and RING_PROD never runs ahead of the write-back.
    let mut checked = written_back(d, log2);
    let start = checked;
    while Status(d.bar_read(regs::STATUS.offset)).flush_busy() {
        d.advance_cycles(1);
        let wb = written_back(d, log2);
        assert_eq!(d.bar_read(regs::RING_PROD.offset), wb);
        while checked != wb {
            let b = slot(d, log2, checked);
            assert_eq!(b[3] & 1, phase_bit(checked, log2), "record {checked}");
            Record::decode(&b).unwrap();
            checked = checked.wrapping_add(1);
        }
    }
    assert!(checked - start > 500, "{} records", checked - start);
}

#[test]
fn phase() {
    let log2 = 4;
    let mut h = Harness::new(&HarnessConfig {
        engine: EngineConfig::with_modes(&[AggregationMode::ProtocolPort]),
        ring_log2: log2,
        consumer: Consumer {
            drain_every: 8,
            ..Consumer::default()
        },
        ..HarnessConfig::default()
    })
    .unwrap();
    // Several passes over 16 slots; the harness checks every record's phase as it
    // drains, and afterwards every slot holds the last record written to it.
    h.run(frames_1mpps(100, 400)).unwrap();
    let d = h.device();
    let prod = d.bar_read(regs::RING_PROD.offset);
    assert!(prod > 4 << log2, "{prod} records");
    for n in prod - (1 << log2)..prod {
        assert_eq!(slot(d, log2, n)[3] & 1, phase_bit(n, log2), "record {n}");
    }
}

#[test]
fn consumer_ahead() {
    let log2 = 4;
    let mut h = harness(&[AggregationMode::ProtocolPort], log2);
    let traffic = frames_1mpps(100, 200);
    for f in &traffic {
        h.offer_frame(f).unwrap();
    }
    h.drain().unwrap();
    let d = h.device();
    let prod = d.bar_read(regs::RING_PROD.offset);
    let flush = ctrl(d, |c| c.set_flush(true));
    d.bar_write(regs::CTRL.offset, flush);
    // Ahead of the producer, then more than a ring behind it: no room, no error.
    for cons in [prod.wrapping_add(1), prod.wrapping_sub((1 << log2) + 1)] {
        d.bar_write(regs::RING_CONS.offset, cons);
        d.run_until_idle();
        let s = Status(d.bar_read(regs::STATUS.offset));
        assert_eq!(d.bar_read(regs::RING_PROD.offset), prod, "cons {cons:#x}");
        assert!(
            s.ring_full() && !s.error() && s.flush_busy(),
            "cons {cons:#x}"
        );
    }
    // Back in range: every record arrives.
    d.bar_write(regs::RING_CONS.offset, prod);
    h.flush().unwrap();
    let packets: u64 = h.records().iter().map(|r| r.packets).sum();
    assert_eq!(packets, traffic.len() as u64);
}
