//! Injected device faults (`Device::inject`) do what docs/hwsim.md "Fault modes" says,
//! seen from the host side: through the harness's drain, BAR reads and the interrupt
//! callback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{eth, tcp_frame, S};
use nsflow_hwsim::fault::BAD_RECORD_VERSION;
use nsflow_hwsim::{Device, Fault, Refused};
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::parser::LinkType;
use nsflow_rtl::record::{EndReason, RecordError, RECORD_BYTES};
use nsflow_rtl::regs::{self, error_code, Ctrl, IntBits, Status};
use nsflow_rtl::regs::{GlobalStat, ProfileStat};
use nsflow_rtl::AggregationMode;
use nsflow_testkit::harness::{Harness, HarnessConfig, HarnessError, RING_IOVA};

const RING_LOG2: u8 = 6;

/// One profile (protocol-port), 10 s idle timers everywhere, a 64-record ring.
fn harness() -> Harness {
    let mut engine = EngineConfig::with_modes(&[AggregationMode::ProtocolPort]);
    engine.orig_inactive_s = 10;
    engine.profiles[0].inactive_s = 10;
    Harness::new(&HarnessConfig {
        engine,
        ring_log2: RING_LOG2,
        ..HarnessConfig::default()
    })
    .unwrap()
}

/// `n` single-packet flows (source ports 1000..) at 1 µs spacing from `t0`.
fn offer_flows(h: &mut Harness, t0: u64, n: u16) {
    for i in 0..n {
        let f = eth(t0 + u64::from(i) * 1000, tcp_frame(1, 1000 + i, 0x10, 10));
        h.offer_frame(&f).unwrap();
    }
}

fn status(d: &mut Device) -> Status {
    Status(d.bar_read(regs::STATUS.offset))
}

fn write_back(d: &Device) -> u32 {
    let mut b = [0u8; 8];
    let wb = RING_IOVA + ((RECORD_BYTES as u64) << RING_LOG2);
    d.memory().read(wb, &mut b).unwrap();
    u64::from_le_bytes(b) as u32
}

#[test]
fn a_producer_index_beyond_the_ring_is_published_until_the_next_batch() {
    let mut h = harness();
    offer_flows(&mut h, 0, 3);
    h.flush().unwrap();
    assert_eq!(h.records().len(), 3);
    let cons = h.device().bar_read(regs::RING_CONS.offset);
    h.device().inject(Fault::ProducerBeyondRing);
    let size = 1u32 << RING_LOG2;
    let prod = h.device().bar_read(regs::RING_PROD.offset);
    assert_eq!(
        prod.wrapping_sub(cons),
        size + 1,
        "RING_PROD more than a ring ahead"
    );
    assert_eq!(write_back(h.device()), prod, "and the write-back slot too");
    // The drain trusts the index and reads slots that hold no new record.
    assert!(matches!(h.drain(), Err(HarnessError::Phase { index: 3 })));
    // The next batch (a flush of one new flow) publishes the true index again.
    let d = h.device();
    d.offer(10 * S, Some(LinkType::Ethernet), &tcp_frame(2, 7, 0x10, 0))
        .unwrap();
    let mut c = Ctrl(d.bar_read(regs::CTRL.offset));
    c.set_flush(true);
    d.bar_write(regs::CTRL.offset, c.0);
    d.run_until_idle();
    assert_eq!(d.bar_read(regs::RING_PROD.offset), 4);
    assert_eq!(write_back(d), 4);
}

/// Injects `fault` after 2 records were consumed, then makes 2 more: the drain must stop
/// at the third record (index 2) with `expect`.
fn broken_record(fault: Fault, expect: impl Fn(&HarnessError) -> bool) {
    let mut h = harness();
    offer_flows(&mut h, 0, 2);
    h.flush().unwrap();
    assert_eq!(h.records().len(), 2);
    h.device().inject(fault);
    offer_flows(&mut h, S, 2);
    let err = h.flush().unwrap_err();
    assert!(expect(&err), "{fault:?}: {err:?}");
    assert_eq!(h.records().len(), 2, "nothing after the broken record");
    // One record only: the device itself carries on (its status is clean).
    assert!(!status(h.device()).error());
}

#[test]
fn a_record_with_a_bad_format_version() {
    broken_record(
        Fault::BadRecordVersion,
        |e| matches!(e, HarnessError::Record { index: 2, error: RecordError::Version(v) } if *v == BAD_RECORD_VERSION),
    );
}

#[test]
fn a_record_with_a_bad_end_reason() {
    broken_record(Fault::BadRecordReason, |e| {
        matches!(
            e,
            HarnessError::Record {
                index: 2,
                error: RecordError::Reason(0)
            }
        )
    });
}

#[test]
fn a_record_with_impossible_counters() {
    broken_record(Fault::ImpossibleCounters, |e| {
        matches!(
            e,
            HarnessError::Record {
                index: 2,
                error: RecordError::Impossible(_)
            }
        )
    });
}

#[test]
fn a_record_written_without_flipping_the_phase_bit() {
    broken_record(Fault::StalePhase, |e| {
        matches!(e, HarnessError::Phase { index: 2 })
    });
}

#[test]
fn a_dma_fault_stops_the_device_until_a_soft_reset() {
    let mut h = harness();
    let irqs = h.irqs();
    h.device().inject(Fault::DmaFault);
    offer_flows(&mut h, 0, 2);
    assert!(matches!(
        h.flush(),
        Err(HarnessError::Device(error_code::DMA_FAULT))
    ));
    let d = h.device();
    let s = status(d);
    assert!(
        s.error() && s.error_code() == error_code::DMA_FAULT,
        "{s:?}"
    );
    assert!(IntBits(d.bar_read(regs::INT_STATUS.offset)).error());
    assert_eq!(d.bar_read(regs::RING_PROD.offset), 0, "nothing was written");
    assert_eq!(write_back(d), 0);
    assert!(d.irq_count() > irqs, "the error interrupt was delivered");
    assert_eq!(
        d.offer(S, Some(LinkType::Ethernet), &tcp_frame(1, 1, 0x10, 0)),
        Err(Refused::Stopped)
    );
    // In the error state a flush still runs; what it pushes out is dropped and counted, so
    // the two packets taken are in the drop counters and nowhere else.
    let before = d.bar_read(regs::FLUSH_COUNT.offset);
    let mut c = Ctrl(0);
    c.set_flush(true);
    d.bar_write(regs::CTRL.offset, c.0);
    d.run_until_idle();
    assert_eq!(d.bar_read(regs::FLUSH_COUNT.offset), before.wrapping_add(1));
    let st = nsflow_testkit::harness::read_stats(d);
    assert_eq!(st.global(GlobalStat::Ipv6Packets), 2);
    assert_eq!(
        (
            st.profile(0, ProfileStat::MergedPackets),
            st.profile(0, ProfileStat::DropPackets),
            st.profile(0, ProfileStat::DropBytes),
            st.profile(0, ProfileStat::DropRecords),
            st.profile(0, ProfileStat::DropFlows),
            st.profile(0, ProfileStat::Records),
        ),
        (2, 2, st.global(GlobalStat::Ipv6Bytes), 2, 2, 0)
    );
    assert_eq!(write_back(d), 0, "still nothing written");
    // Soft reset: clean status; programmed again, the device writes records again.
    let mut c = Ctrl(0);
    c.set_soft_reset(true);
    d.bar_write(regs::CTRL.offset, c.0);
    let s = status(d);
    assert!(!s.error() && s.error_code() == 0, "{s:?}");
    let wb = RING_IOVA + ((RECORD_BYTES as u64) << RING_LOG2);
    d.bar_write(regs::RING_BASE_LO.offset, RING_IOVA as u32);
    d.bar_write(regs::RING_BASE_HI.offset, (RING_IOVA >> 32) as u32);
    d.bar_write(regs::RING_WB_LO.offset, wb as u32);
    d.bar_write(regs::RING_WB_HI.offset, (wb >> 32) as u32);
    d.bar_write(regs::RING_SIZE.offset, RING_LOG2.into());
    nsflow_testkit::harness::program(
        d,
        &EngineConfig::with_modes(&[AggregationMode::ProtocolPort]),
        &nsflow_rtl::tables::Tables::default(),
    )
    .unwrap();
    let mut c = Ctrl(0);
    c.set_enable(true);
    d.bar_write(regs::CTRL.offset, c.0);
    d.offer(0, Some(LinkType::Ethernet), &tcp_frame(1, 1, 0x10, 0))
        .unwrap();
    c.set_flush(true);
    d.bar_write(regs::CTRL.offset, c.0);
    d.run_until_idle();
    assert!(!status(d).error());
    assert_eq!(write_back(d), 1);
}

#[test]
fn lost_interrupts_leave_records_flowing_and_causes_pending() {
    let mut h = harness();
    let before = h.device().irq_count();
    assert_eq!(before, h.irqs());
    h.device().inject(Fault::LostInterrupts);
    offer_flows(&mut h, 0, 5);
    h.flush().unwrap();
    assert_eq!(h.records().len(), 5, "records are still written");
    let d = h.device();
    let causes = IntBits(d.bar_read(regs::INT_STATUS.offset));
    assert!(causes.records() && causes.flush_done(), "{causes:?}");
    assert_eq!((d.irq_count(), h.irqs()), (before, before), "no message");
    // Cleared: the next new cause is delivered.
    let d = h.device();
    d.clear_faults();
    d.bar_write(regs::INT_STATUS.offset, u32::MAX); // W1C every cause
    offer_flows(&mut h, S, 1);
    h.flush().unwrap();
    assert!(h.irqs() > before);
}

#[test]
fn a_removed_device_reads_all_ones_ignores_writes_and_does_nothing() {
    let mut h = harness();
    offer_flows(&mut h, 0, 3);
    let d = h.device();
    let scan = d.bar_read(regs::SCAN_CTRL.offset);
    let id = d.bar_read(regs::ID_MAGIC.offset);
    d.inject(Fault::Removed);
    for r in [
        regs::ID_MAGIC,
        regs::STATUS,
        regs::CTRL,
        regs::RING_PROD,
        regs::SCAN_CTRL,
    ] {
        assert_eq!(d.bar_read(r.offset), 0xFFFF_FFFF, "{}", r.name);
    }
    d.bar_write(regs::SCAN_CTRL.offset, scan ^ 1);
    let mut c = Ctrl(0);
    c.set_flush(true);
    d.bar_write(regs::CTRL.offset, c.0);
    assert_eq!(
        d.offer(S, Some(LinkType::Ethernet), &tcp_frame(1, 1, 0x10, 0)),
        Err(Refused::Removed)
    );
    let irqs = d.irq_count();
    d.advance_cycles(10_000_000);
    d.run_until_idle();
    assert_eq!(write_back(d), 0, "no DMA while removed");
    assert_eq!(d.irq_count(), irqs, "no interrupt while removed");
    // Back on the bus: the writes made while removed had no effect, the state is intact.
    d.clear_faults();
    assert_eq!(d.bar_read(regs::ID_MAGIC.offset), id);
    assert_eq!(d.bar_read(regs::SCAN_CTRL.offset), scan);
    assert_eq!(
        d.bar_read(regs::FLUSH_COUNT.offset),
        0,
        "the flush was not started"
    );
    h.flush().unwrap();
    assert_eq!(h.records().len(), 3);
}

#[test]
fn a_clock_jump_moves_device_time_aging_and_later_stamps() {
    let mut h = harness();
    offer_flows(&mut h, 0, 2);
    let d = h.device();
    d.run_until_idle();
    let read_time = |d: &mut Device| {
        let lo = d.bar_read(regs::TIME_LO.offset);
        u64::from(d.bar_read(regs::TIME_HI.offset)) << 32 | u64::from(lo)
    };
    let t0 = read_time(d);
    assert!(t0 < S, "{t0}");
    d.inject(Fault::ClockJump { seconds: 100 });
    let t1 = read_time(d);
    assert!(
        (100 * S + t0..100 * S + t0 + 1000).contains(&t1),
        "{t0} -> {t1}"
    );
    // The 10 s idle timers have run out: the scanner ages both flows without a packet.
    d.advance_cycles(2_000_000);
    h.drain().unwrap();
    let recs = h.records().to_vec();
    assert_eq!(recs.len(), 2);
    assert!(recs
        .iter()
        .all(|r| r.reason == EndReason::Idle && r.last_ns < S));
    // A frame captured 1 ms after the first one is stamped after the jump.
    offer_flows(&mut h, 1_000_000, 1);
    h.flush().unwrap();
    let last = h.records().last().copied().unwrap();
    assert!(last.first_ns >= 100 * S, "{last:?}");
}
