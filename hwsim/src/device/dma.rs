//! The DMA engine and the ring: records from the FIFO into ring slots in host memory,
//! the producer index and its write-back, and the error state a DMA or ring fault enters.

use super::interrupts::records_bit;
use super::{Batch, Device};
use crate::ring::RingConfig;
use crate::stats::{global, profile};
use nsflow_rtl::record::{Record, RECORD_BYTES};
use nsflow_rtl::regs::{self, error_code, Ctrl, IntBits};

impl Device {
    /// The ring as its registers describe it: base, size and write-back address.
    pub(super) fn ring(&self) -> RingConfig {
        let r = &self.regs;
        let lo = regs::RING_BASE_LO.rw_mask() & r.get(regs::RING_BASE_LO.offset);
        let wb_lo = regs::RING_WB_LO.rw_mask() & r.get(regs::RING_WB_LO.offset);
        RingConfig {
            base: u64::from(r.get(regs::RING_BASE_HI.offset)) << 32 | u64::from(lo),
            log2: regs::RING_SIZE.rw_mask() & r.get(regs::RING_SIZE.offset),
            wb: u64::from(r.get(regs::RING_WB_HI.offset)) << 32 | u64::from(wb_lo),
        }
    }

    /// Ring slots free for DMA writes (0 while the ring registers are invalid).
    fn ring_room(&self) -> u32 {
        let ring = self.ring();
        if !ring.valid(self.params.ring_max_log2.into(), self.params.dma_addr_bits) {
            return 0;
        }
        ring.free(self.issued, self.regs.get(regs::RING_CONS.offset))
    }

    /// The cycle the oldest DMA write in flight lands.
    pub(super) fn dma_done_next(&self) -> Option<u64> {
        self.inflight.front().map(|b| b.done.max(self.now))
    }

    /// The cycle the DMA engine can issue a write: once the front record is ready and
    /// the link is free. `None` without a record or without ring room.
    pub(super) fn dma_issue_next(&self) -> Option<u64> {
        let front = self.fifo.front()?;
        if self.ring_room() == 0 {
            return None;
        }
        Some(front.ready.max(self.link_free).max(self.now))
    }

    /// The DMA engine takes up to a burst of contiguous ring slots' worth of records from
    /// the FIFO; the link is busy for their transfer time, the data lands after the
    /// latency.
    pub(super) fn dma_issue(&mut self) {
        let t = self.now;
        let ring = self.ring();
        let timing = &self.params.timing;
        let ready = self.fifo.iter().take_while(|r| r.ready <= t).count();
        let n = self
            .ring_room()
            .min(ring.slots_before_wrap(self.issued))
            .min(timing.dma_burst_records)
            .min(u32::try_from(ready).unwrap_or(u32::MAX));
        if n == 0 {
            return;
        }
        let transfer =
            (u64::from(n) * RECORD_BYTES as u64).div_ceil(u64::from(timing.dma_bytes_per_cycle));
        self.link_free = t + transfer;
        self.inflight.push_back(Batch {
            done: t + transfer + u64::from(timing.dma_latency),
            records: n,
        });
        let need = self.enabled.len();
        let room_before = self.fifo_room();
        self.inflight_records
            .extend(self.fifo.drain(..n as usize).map(|q| q.record));
        if room_before < need && self.fifo_room() >= need {
            self.fifo_room_at = t;
        }
        self.issued = self.issued.wrapping_add(n);
    }

    /// A batch lands: records with their phase bits into the ring, then the producer
    /// index (register and write-back), then interrupt moderation.
    pub(super) fn dma_done(&mut self) {
        let Some(b) = self.inflight.pop_front() else {
            return;
        };
        let ring = self.ring();
        let first = self.prod;
        self.dma_buf.clear();
        let n = (b.records as usize).min(self.inflight_records.len());
        for (k, r) in self.inflight_records.iter_mut().take(n).enumerate() {
            r.phase = ring.phase(first.wrapping_add(k as u32));
            let mut bytes = r.encode();
            self.faults.corrupt(&mut bytes);
            self.dma_buf.extend_from_slice(&bytes);
        }
        let iova = ring.slot_iova(first);
        let len = self.dma_buf.len() as u64;
        let prod = first.wrapping_add(b.records);
        let failed = self.faults.take_dma()
            || !ring.contains(iova, len)
            || self.memory.write(iova, &self.dma_buf).is_err()
            || (ring.wb != 0
                && self
                    .memory
                    .write(ring.wb, &u64::from(prod).to_le_bytes())
                    .is_err());
        if failed {
            // The batch is not published (the producer index stays): `fail` counts its
            // records as drops.
            self.inflight.push_front(b);
            return self.fail(error_code::DMA_FAULT);
        }
        for r in self.inflight_records.drain(..n) {
            self.stats
                .add_profile(usize::from(r.profile), profile::RECORDS, 1);
        }
        self.prod = prod;
        self.faults.published();
        self.stats
            .add(global::RECORDS_WRITTEN, u64::from(b.records));
        let count = regs::INT_MOD_RECORDS.rw_mask() & self.regs.get(regs::INT_MOD_RECORDS.offset);
        if self
            .irq
            .records_written(u64::from(b.records), self.now, u64::from(count))
        {
            self.raise(records_bit());
        }
    }

    /// Opens or closes a ring-full wait (records waiting, no ring slot free).
    pub(super) fn sync_ring_full(&mut self) {
        let holding = !self.fifo.is_empty() && self.ring_room() == 0 && {
            let ring = self.ring();
            ring.valid(self.params.ring_max_log2.into(), self.params.dma_addr_bits)
        };
        match (holding, self.ring_stall_since) {
            (true, None) => {
                self.ring_stall_since = Some(self.now);
                let mut b = IntBits(0);
                b.set_ring_full(true);
                self.raise(b.0);
            }
            (false, Some(since)) => {
                self.stats.add(global::STALL_RING_FULL, self.now - since);
                self.ring_stall_since = None;
            }
            _ => {}
        }
    }

    /// Enters the error state until a soft reset: ingress stops and the DMA engine writes
    /// nothing more. The records it holds (in flight, the failed batch among them, and in
    /// the FIFO) and every record the engine emits from now on — aged, evicted, or pushed
    /// out by a flush, which still runs — are dropped and counted per profile, so that
    /// every packet taken is still in a record or a drop counter.
    pub(super) fn fail(&mut self, code: u8) {
        if self.error.is_some() {
            return;
        }
        self.error = Some(code);
        let held: Vec<Record> = self
            .inflight_records
            .drain(..)
            .chain(self.fifo.drain(..).map(|q| q.record))
            .collect();
        for r in &held {
            self.count_drop(r);
        }
        self.inflight.clear();
        let mut b = IntBits(0);
        b.set_error(true);
        self.raise(b.0);
    }

    /// `RING_SIZE` was written: both indices restart at 0. Records in flight to the old
    /// ring are dropped and counted as drops of their profiles.
    pub(super) fn ring_resized(&mut self) {
        let lost: Vec<Record> = self.inflight_records.drain(..).collect();
        for r in &lost {
            self.count_drop(r);
        }
        self.inflight.clear();
        self.issued = 0;
        self.prod = 0;
        self.regs.set(regs::RING_CONS.offset, 0);
        if Ctrl(self.regs.get(regs::CTRL.offset)).enable() {
            self.check_ring();
        }
    }

    /// Enters the error state (`BAD_RING`) when the ring registers do not describe a valid
    /// ring.
    pub(super) fn check_ring(&mut self) {
        if !self
            .ring()
            .valid(self.params.ring_max_log2.into(), self.params.dma_addr_bits)
        {
            self.fail(error_code::BAD_RING);
        }
    }
}
