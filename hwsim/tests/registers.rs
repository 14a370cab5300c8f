//! BAR0 behaviour checked against the register map itself (`all_registers()`): reset
//! values (also after a soft reset and for a non-default build), access types (RO writes
//! ignored and counted, RW read back, WO reads 0, W1C), reserved bits, unknown offsets,
//! the TIME_LO/HI latch, the statistics snapshot, RING_SIZE resetting the indices, and the
//! BAD_RING error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{eth, tcp_frame, S};
use nsflow_hwsim::{BuildParams, Device, Refused};
use nsflow_rtl::parser::LinkType;
use nsflow_rtl::regs::{
    self, all_registers, error_code, Access, Ctrl, Instance, IntBits, Status, BAR0_SIZE,
};

fn dev() -> Device {
    Device::new(BuildParams::default()).unwrap()
}

fn unknown(d: &mut Device) -> u32 {
    d.bar_read(regs::UNKNOWN_ACCESS.offset)
}

fn readable(r: &Instance) -> u32 {
    r.reg.defined_mask() & !r.reg.access_mask(Access::Wo)
}

#[test]
fn every_register_resets_to_its_map_value() {
    let mut d = dev();
    for r in all_registers() {
        assert_eq!(
            d.bar_read(r.offset),
            r.reg.reset() & readable(&r),
            "{}",
            r.name
        );
    }
    // Scribble over every writable register, run traffic, then soft reset.
    for r in all_registers() {
        if r.reg.name != "CTRL" {
            d.bar_write(r.offset, u32::MAX);
        }
    }
    let mut c = Ctrl(0);
    c.set_enable(true);
    d.bar_write(regs::CTRL.offset, c.0);
    d.advance_cycles(1_000_000);
    let mut c = Ctrl(0);
    c.set_soft_reset(true);
    d.bar_write(regs::CTRL.offset, c.0);
    for r in all_registers() {
        assert_eq!(
            d.bar_read(r.offset),
            r.reg.reset() & readable(&r),
            "{} after soft reset",
            r.name
        );
    }
}

#[test]
fn capability_registers_report_the_build() {
    let p = BuildParams {
        clock_hz: 200_000_000,
        orig_sets_log2: 10,
        orig_ways: 4,
        agg_sets_log2: 9,
        agg_ways: 2,
        ring_max_log2: 12,
        ..BuildParams::default()
    };
    let mut d = Device::new(p).unwrap();
    let o = d.bar_read(regs::CAP_ORIG_TABLE.offset);
    assert_eq!(
        (
            regs::field::CAP_ORIG_TABLE::sets_log2.get(o),
            regs::field::CAP_ORIG_TABLE::ways.get(o)
        ),
        (10, 4)
    );
    let a = d.bar_read(regs::CAP_AGG_TABLE.offset);
    assert_eq!(
        (
            regs::field::CAP_AGG_TABLE::sets_log2.get(a),
            regs::field::CAP_AGG_TABLE::ways.get(a)
        ),
        (9, 2)
    );
    assert_eq!(d.bar_read(regs::CAP_CLOCK.offset), 200_000);
    let c = d.bar_read(regs::CAP_PROFILES.offset);
    assert_eq!(regs::field::CAP_PROFILES::ring_max_log2.get(c), 12);
    assert_eq!(
        regs::field::CAP_PROFILES::profiles.get(c),
        regs::NUM_PROFILES
    );
    assert_eq!(regs::field::CAP_PROFILES::record_bytes.get(c), 128);
}

#[test]
fn access_types_and_reserved_bits() {
    let mut d = dev();
    for r in all_registers() {
        let rw = r.reg.access_mask(Access::Rw);
        let w1c = r.reg.access_mask(Access::W1c);
        let wo = r.reg.access_mask(Access::Wo);
        let writable = rw | w1c | wo;
        let before = d.bar_read(r.offset);
        let count = unknown(&mut d);
        if writable == 0 {
            // RO: any write is ignored and counted.
            if r.reg == regs::TIME_LO {
                continue; // its value moves with time; checked below
            }
            d.bar_write(r.offset, !before);
            // UNKNOWN_ACCESS counts the write to itself.
            let bump = u32::from(r.reg == regs::UNKNOWN_ACCESS);
            assert_eq!(d.bar_read(r.offset), before + bump, "{} RO changed", r.name);
            assert_eq!(
                unknown(&mut d),
                count + 1,
                "{} RO write not counted",
                r.name
            );
            continue;
        }
        if r.reg == regs::CTRL || w1c != 0 {
            continue; // side effects: checked in their own tests
        }
        // Writable bits only: not counted; RW bits read back, WO bits read 0.
        for pattern in [rw, 0, 0x5A5A_5A5A & rw, 0xA5A5_A5A5 & rw] {
            d.bar_write(r.offset, pattern);
            let expect = pattern;
            assert_eq!(
                d.bar_read(r.offset),
                expect,
                "{} RW read-back of {pattern:#x}",
                r.name
            );
        }
        assert_eq!(unknown(&mut d), count, "{} writable write counted", r.name);
        // Reserved bits: ignored, read 0, and the write is counted.
        if writable != u32::MAX {
            d.bar_write(r.offset, !writable);
            assert_eq!(
                d.bar_read(r.offset) & !r.reg.defined_mask(),
                0,
                "{} reserved bits",
                r.name
            );
            assert_eq!(
                unknown(&mut d),
                count + 1,
                "{} reserved write not counted",
                r.name
            );
        }
        if wo != 0 {
            assert_eq!(d.bar_read(r.offset) & wo, 0, "{} WO bits read", r.name);
        }
    }
}

#[test]
fn unknown_and_unaligned_offsets_are_ignored_and_counted() {
    let mut d = dev();
    let known: Vec<u32> = all_registers().iter().map(|r| r.offset).collect();
    let mut n = 0;
    for off in (0..BAR0_SIZE).step_by(4).filter(|o| !known.contains(o)) {
        d.bar_write(off, u32::MAX);
        assert_eq!(d.bar_read(off), 0, "{off:#x}");
        n += 1;
    }
    for off in [
        1,
        2,
        3,
        regs::CTRL.offset + 1,
        BAR0_SIZE,
        BAR0_SIZE + 4,
        u32::MAX - 3,
    ] {
        d.bar_write(off, u32::MAX);
        assert_eq!(d.bar_read(off), 0, "{off:#x}");
        n += 1;
    }
    assert!(n > 100);
    assert_eq!(unknown(&mut d), n);
    // Nothing was enabled or started by any of it.
    assert_eq!(d.bar_read(regs::CTRL.offset), 0);
    assert_eq!(d.bar_read(regs::STATUS.offset), 0);
}

#[test]
fn time_lo_latches_time_hi() {
    let mut d = dev();
    d.advance_cycles(250_000_000 * 5 + 17); // 5 s: past 2^32 ns
    let lo = d.bar_read(regs::TIME_LO.offset);
    let hi_at_latch = d.now_ns() >> 32;
    d.advance_cycles(250_000_000 * 5);
    let hi = d.bar_read(regs::TIME_HI.offset);
    assert_eq!(
        u64::from(hi),
        hi_at_latch,
        "TIME_HI moved without a TIME_LO read"
    );
    assert_eq!((u64::from(hi) << 32) | u64::from(lo), 5 * S + 68);
    let lo2 = d.bar_read(regs::TIME_LO.offset);
    let hi2 = d.bar_read(regs::TIME_HI.offset);
    assert_eq!((u64::from(hi2) << 32) | u64::from(lo2), d.now_ns());
    let before = unknown(&mut d);
    d.bar_write(regs::TIME_LO.offset, 0);
    assert_eq!(unknown(&mut d), before + 1);
}

fn enable(d: &mut Device) {
    let mut c = Ctrl(0);
    c.set_enable(true);
    d.bar_write(regs::CTRL.offset, c.0);
}

fn snapshot(d: &mut Device) {
    let mut c = Ctrl(d.bar_read(regs::CTRL.offset));
    c.set_stats_snapshot(true);
    d.bar_write(regs::CTRL.offset, c.0);
}

#[test]
fn statistics_read_the_snapshot() {
    let mut d = dev();
    d.bar_write(regs::RING_SIZE.offset, 4);
    enable(&mut d);
    let rx = regs::global_stat(regs::GlobalStat::RxFrames);
    for i in 0..10 {
        d.offer_frame(&eth(i, tcp_frame(1, 1, 0x10, 0))).unwrap();
    }
    assert_eq!(d.bar_read(rx), 0, "no snapshot yet");
    snapshot(&mut d);
    assert_eq!(d.bar_read(rx), 10);
    d.offer(20, Some(LinkType::Ethernet), &tcp_frame(1, 1, 0x10, 0))
        .unwrap();
    assert_eq!(d.bar_read(rx), 10, "the snapshot holds while traffic runs");
    assert_eq!(d.bar_read(rx + 4), 0);
    snapshot(&mut d);
    assert_eq!(d.bar_read(rx), 11);
}

#[test]
fn bad_ring_stops_the_device_until_soft_reset() {
    for log2 in [0u32, 3, 21] {
        let mut d = dev();
        d.bar_write(regs::INT_MASK.offset, 0);
        d.bar_write(regs::RING_SIZE.offset, log2);
        enable(&mut d);
        let s = Status(d.bar_read(regs::STATUS.offset));
        assert!(s.error(), "log2 {log2}");
        assert_eq!(s.error_code(), error_code::BAD_RING);
        assert!(IntBits(d.bar_read(regs::INT_STATUS.offset)).error());
        assert_eq!(d.irq_count(), 1);
        assert_eq!(
            d.offer(0, Some(LinkType::Ethernet), &[0; 60]),
            Err(Refused::Stopped)
        );
        // W1C: writing 0 keeps the cause, writing 1 clears it.
        let mut e = IntBits(0);
        e.set_error(true);
        d.bar_write(regs::INT_STATUS.offset, 0);
        assert!(IntBits(d.bar_read(regs::INT_STATUS.offset)).error());
        d.bar_write(regs::INT_STATUS.offset, e.0);
        assert_eq!(d.bar_read(regs::INT_STATUS.offset), 0);
        let mut c = Ctrl(0);
        c.set_soft_reset(true);
        d.bar_write(regs::CTRL.offset, c.0);
        assert_eq!(d.bar_read(regs::STATUS.offset), 0);
        d.bar_write(regs::RING_SIZE.offset, 4);
        enable(&mut d);
        assert_eq!(d.bar_read(regs::STATUS.offset), 0);
        assert_eq!(d.offer(0, Some(LinkType::Ethernet), &[0; 60]), Ok(()));
    }
}

#[test]
fn disabled_device_refuses_frames() {
    let mut d = dev();
    assert_eq!(
        d.offer(0, Some(LinkType::Ethernet), &[0; 60]),
        Err(Refused::Disabled)
    );
}
