//! Host-memory interface: DMA only inside mapped memory and the ring / write-back slot
//! (else DMA_FAULT and a stop), phase bits and the write-back, interrupt moderation and
//! masking, and flush completion waiting for the ring.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{eth, tcp_frame, S};
use nsflow_hwsim::{BuildParams, Device, Refused};
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::parser::LinkType;
use nsflow_rtl::record::RECORD_BYTES;
use nsflow_rtl::regs::{self, error_code, Ctrl, IntBits, Status};
use nsflow_rtl::regs::{GlobalStat, ProfileStat};
use nsflow_rtl::tables::Tables;
use nsflow_rtl::AggregationMode;
use nsflow_testkit::harness::{program, Consumer, Harness, HarnessConfig, RING_IOVA};
use std::os::unix::fs::FileExt;

fn one_profile() -> EngineConfig {
    EngineConfig::with_modes(&[AggregationMode::ProtocolPort])
}

fn ctrl(d: &mut Device, f: impl Fn(&mut Ctrl)) {
    let mut c = Ctrl(d.bar_read(regs::CTRL.offset));
    f(&mut c);
    d.bar_write(regs::CTRL.offset, c.0);
}

/// A device with a 16-record ring at RING_IOVA and the write-back at `wb`; the caller maps
/// memory.
fn device(wb: u64) -> Device {
    let mut d = Device::new(BuildParams::default()).unwrap();
    program(&mut d, &one_profile(), &Tables::default()).unwrap();
    d.bar_write(regs::RING_BASE_LO.offset, RING_IOVA as u32);
    d.bar_write(regs::RING_BASE_HI.offset, (RING_IOVA >> 32) as u32);
    d.bar_write(regs::RING_WB_LO.offset, wb as u32);
    d.bar_write(regs::RING_WB_HI.offset, (wb >> 32) as u32);
    d.bar_write(regs::RING_SIZE.offset, 4);
    d.bar_write(regs::INT_MASK.offset, 0);
    ctrl(&mut d, |c| c.set_enable(true));
    d
}

fn flows(d: &mut Device, n: u16) {
    for i in 0..n {
        d.offer(
            u64::from(i),
            Some(LinkType::Ethernet),
            &tcp_frame(1, 1000 + i, 0x10, 0),
        )
        .unwrap();
    }
}

#[test]
fn dma_outside_the_mapping_faults_and_writes_nothing() {
    let wb = RING_IOVA + 0x10_0000;
    let mut d = device(wb);
    let file = tempfile::tempfile().unwrap();
    file.set_len(4096).unwrap();
    // Only the first half of the ring is mapped; the write-back slot is.
    d.memory_mut()
        .map(
            RING_IOVA,
            8 * RECORD_BYTES as u64,
            file.try_clone().unwrap(),
            0,
        )
        .unwrap();
    d.memory_mut()
        .map(wb, 8, file.try_clone().unwrap(), 3000)
        .unwrap();
    flows(&mut d, 12);
    ctrl(&mut d, |c| c.set_flush(true));
    d.run_until_idle();
    let s = Status(d.bar_read(regs::STATUS.offset));
    assert!(s.error());
    assert_eq!(s.error_code(), error_code::DMA_FAULT);
    assert!(IntBits(d.bar_read(regs::INT_STATUS.offset)).error());
    assert!(d.irq_count() >= 1);
    // Batches inside the mapping landed; the one that did not fit was not written at
    // all, and the producer index stopped before it.
    let prod = d.bar_read(regs::RING_PROD.offset) as usize;
    assert!(prod < 8, "producer index {prod} passed the mapping");
    let mut all = vec![0u8; 4096];
    file.read_exact_at(&mut all, 0).unwrap();
    for (slot, rec) in all[..8 * RECORD_BYTES].chunks(RECORD_BYTES).enumerate() {
        if slot < prod {
            assert!(nsflow_rtl::Record::decode(rec).is_ok(), "slot {slot}");
        } else {
            assert!(
                rec.iter().all(|b| *b == 0),
                "slot {slot} written by a faulting DMA"
            );
        }
    }
    assert!(all[8 * RECORD_BYTES..3000].iter().all(|b| *b == 0));
    let mut wbv = [0u8; 8];
    file.read_exact_at(&mut wbv, 3000).unwrap();
    assert_eq!(u64::from_le_bytes(wbv), prod as u64);
    assert_eq!(
        d.offer(S, Some(LinkType::Ethernet), &tcp_frame(1, 1, 0x10, 0)),
        Err(Refused::Stopped)
    );
}

#[test]
fn unmapped_write_back_faults() {
    let mut d = device(0x20_0000_0000);
    let file = tempfile::tempfile().unwrap();
    d.memory_mut()
        .map(RING_IOVA, 16 * RECORD_BYTES as u64, file, 0)
        .unwrap();
    flows(&mut d, 3);
    ctrl(&mut d, |c| c.set_flush(true));
    d.run_until_idle();
    let s = Status(d.bar_read(regs::STATUS.offset));
    assert_eq!((s.error(), s.error_code()), (true, error_code::DMA_FAULT));
    // The batch whose producer index could not be published is not published at all:
    // its records are counted as drops, not as written, and the flush completes.
    assert_eq!(d.bar_read(regs::RING_PROD.offset), 0);
    assert_eq!(d.bar_read(regs::FLUSH_COUNT.offset), 1);
    let st = nsflow_testkit::harness::read_stats(&mut d);
    assert_eq!(
        (
            st.global(GlobalStat::RecordsWritten),
            st.profile(0, ProfileStat::Records),
            st.profile(0, ProfileStat::DropRecords),
            st.profile(0, ProfileStat::DropPackets),
        ),
        (0, 0, 3, st.global(GlobalStat::Ipv6Packets))
    );
}

#[test]
fn write_back_and_phase_bits_follow_the_producer() {
    let mut h = Harness::new(&HarnessConfig {
        engine: one_profile(),
        ring_log2: 4,
        ..HarnessConfig::default()
    })
    .unwrap();
    // 40 flows: 40 records, 2.5 passes over a 16-record ring (the harness checks every
    // record's phase while draining).
    let frames: Vec<_> = (0..40)
        .map(|i| eth(i, tcp_frame(1, 1000 + i as u16, 0x10, 0)))
        .collect();
    h.run(frames).unwrap();
    assert_eq!(h.records().len(), 40);
    let prod = h.device().bar_read(regs::RING_PROD.offset);
    assert_eq!(prod, 40);
    let mut wb = [0u8; 8];
    let ring_bytes = 16 * RECORD_BYTES as u64;
    h.device()
        .memory()
        .read(RING_IOVA + ring_bytes, &mut wb)
        .unwrap();
    assert_eq!(u64::from_le_bytes(wb), 40);
    // Slot 0 holds record 32 (third pass: phase 1); slot 10 record 26 (second pass: 0).
    let mut rec = [0u8; RECORD_BYTES];
    h.device().memory().read(RING_IOVA, &mut rec).unwrap();
    assert_eq!(rec[3] & 1, 1);
    h.device()
        .memory()
        .read(RING_IOVA + 10 * RECORD_BYTES as u64, &mut rec)
        .unwrap();
    assert_eq!(rec[3] & 1, 0);
    // RING_SIZE resets both indices.
    assert_eq!(h.device().bar_read(regs::RING_CONS.offset), 40);
    h.device().bar_write(regs::RING_SIZE.offset, 4);
    assert_eq!(h.device().bar_read(regs::RING_PROD.offset), 0);
    assert_eq!(h.device().bar_read(regs::RING_CONS.offset), 0);
}

#[test]
fn interrupt_moderation_by_count_and_time_and_masking() {
    let mut h = Harness::new(&HarnessConfig {
        engine: one_profile(),
        int_mod_records: Some(4),
        ..HarnessConfig::default()
    })
    .unwrap();
    let records = IntBits({
        let mut b = IntBits(0);
        b.set_records(true);
        b.0
    });
    let d = h.device();
    d.bar_write(regs::INT_MOD_TIME.offset, 50);
    flows(d, 3);
    ctrl(d, |c| c.set_flush(true));
    d.advance_cycles(5_000); // DMA done, 20 µs: under the 50 µs moderation time
    assert_eq!(d.bar_read(regs::RING_PROD.offset), 3);
    let st = IntBits(d.bar_read(regs::INT_STATUS.offset));
    assert!(st.flush_done() && !st.records(), "{st:?}");
    let irqs = d.irq_count();
    d.advance_cycles(12_500); // 50 µs
    assert!(IntBits(d.bar_read(regs::INT_STATUS.offset)).records());
    assert_eq!(d.irq_count(), irqs + 1);
    d.bar_write(regs::INT_STATUS.offset, u32::MAX >> 28);
    assert_eq!(d.bar_read(regs::INT_STATUS.offset), 0);
    // Count: 4 records raise at once. Masked: pending but no message until unmasked.
    d.bar_write(regs::INT_MASK.offset, records.0);
    for i in 0..4u16 {
        d.offer(
            S + u64::from(i),
            Some(LinkType::Ethernet),
            &tcp_frame(2, i, 0x10, 0),
        )
        .unwrap();
    }
    ctrl(d, |c| c.set_flush(true));
    d.advance_cycles(5_000);
    let irqs = d.irq_count();
    let st = IntBits(d.bar_read(regs::INT_STATUS.offset));
    assert!(st.records() && st.flush_done());
    d.bar_write(regs::INT_MASK.offset, 0);
    assert_eq!(
        d.irq_count(),
        irqs + 1,
        "unmasking a pending cause delivers"
    );
}

#[test]
fn flush_completes_only_when_its_last_record_is_in_the_ring() {
    let mut h = Harness::new(&HarnessConfig {
        engine: one_profile(),
        ring_log2: 4,
        consumer: Consumer {
            drain_every: 0,
            ..Consumer::default()
        },
        ..HarnessConfig::default()
    })
    .unwrap();
    let d = h.device();
    flows(d, 40);
    ctrl(d, |c| c.set_flush(true));
    d.run_until_idle();
    // 16 records in the ring, the rest held: the flush is still busy.
    assert!(Status(d.bar_read(regs::STATUS.offset)).flush_busy());
    assert!(Status(d.bar_read(regs::STATUS.offset)).ring_full());
    assert_eq!(d.bar_read(regs::FLUSH_COUNT.offset), 0);
    assert_eq!(d.bar_read(regs::RING_PROD.offset), 16);
    // New frames wait for the flush.
    assert_eq!(
        d.offer(S, Some(LinkType::Ethernet), &tcp_frame(9, 9, 0x10, 0)),
        Err(Refused::Busy)
    );
    while h.drain().unwrap() > 0 {
        h.device().run_until_idle();
    }
    let d = h.device();
    assert_eq!(d.bar_read(regs::FLUSH_COUNT.offset), 1);
    assert!(!Status(d.bar_read(regs::STATUS.offset)).flush_busy());
    assert!(IntBits(d.bar_read(regs::INT_STATUS.offset)).flush_done());
    assert_eq!(h.records().len(), 40);
}
