//! The record ring: host memory the device fills with 128-byte records, and the consumer
//! that drains it without losing or inventing a record.
//!
//! Layout of the DMA block: `entries × RECORD_BYTES` of ring, then the 8-byte
//! producer-index write-back slot. The device publishes its free-running producer index
//! there (and in RING_PROD); the consumer reads it with acquire ordering, checks it (an
//! index more than a ring ahead is impossible), then checks every record: the phase bit
//! of its pass ([`phase_for`]), its format and counters ([`Record::decode`]) and its profile
//! index. Anything wrong is a [`RingError`]: the caller stops the device; nothing is read
//! or written outside the block.
//!
//! Ring memory is written by the device: the module denies `clippy::indexing_slicing`.
//! Records are copied out of the block by `DmaMemory::read` (bound-checked, a
//! [`RingError::Dma`] when outside) into a `[u8; RECORD_BYTES]` read at constant offsets,
//! and the indices the device publishes are only compared with wrapping arithmetic and
//! masked to a slot.
#![deny(clippy::indexing_slicing)]

use crate::dma::{DmaError, DmaMemory};
use nsflow_rtl::record::{phase_for, Record, RecordError, RECORD_BYTES};
use nsflow_rtl::regs;

/// Why the ring cannot be trusted any more.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// The producer index is more than one ring ahead of the consumer.
    #[error("device producer index {prod} is {} records ahead of consumer {cons} in a ring of {entries}", prod.wrapping_sub(*cons))]
    IndexOutOfRange {
        /// Producer index read.
        prod: u32,
        /// Consumer index.
        cons: u32,
        /// Ring entries.
        entries: u32,
    },
    /// A published slot does not carry the phase of the current pass.
    #[error(
        "ring slot {slot} (index {index}) has the phase of another pass: not written by the device"
    )]
    Phase {
        /// Slot.
        slot: u32,
        /// Free-running index.
        index: u32,
    },
    /// A record fails validation.
    #[error("ring slot {slot} (index {index}): {source}")]
    Record {
        /// Slot.
        slot: u32,
        /// Free-running index.
        index: u32,
        /// What is wrong with it.
        source: RecordError,
    },
    /// A record names a profile the driver did not program.
    #[error("ring slot {slot}: record of profile {profile}, but only {profiles} are programmed")]
    Profile {
        /// Slot.
        slot: u32,
        /// Profile index in the record.
        profile: u8,
        /// Profiles programmed.
        profiles: usize,
    },
    /// Reading DMA memory failed (a bug: every offset is computed inside the block).
    #[error(transparent)]
    Dma(#[from] DmaError),
    /// A ring size outside what the device supports.
    #[error("ring of 2^{0} entries: the device takes 2^{min}..2^{max}", min = regs::RING_MIN_LOG2, max = regs::RING_MAX_LOG2)]
    Size(u8),
}

/// Counters of what the consumer did, for statistics and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RingCounters {
    /// Records drained and accepted.
    pub records: u64,
    /// Polls that found the ring empty.
    pub empty_polls: u64,
    /// Validation errors (the device is then stopped).
    pub errors: u64,
}

/// The consumer side of the ring.
#[derive(Debug)]
pub struct RingConsumer {
    mem: DmaMemory,
    log2: u8,
    cons: u32,
    profiles: usize,
    counters: RingCounters,
}

impl RingConsumer {
    /// Bytes of DMA memory a ring of `1 << log2` entries needs (ring + write-back slot).
    pub fn bytes(log2: u8) -> usize {
        (RECORD_BYTES << log2) + 64
    }

    /// A consumer over `mem` (zeroed here), for records of `profiles` profiles.
    pub fn new(mem: DmaMemory, log2: u8, profiles: usize) -> Result<Self, RingError> {
        if !(regs::RING_MIN_LOG2..=regs::RING_MAX_LOG2).contains(&u32::from(log2)) {
            return Err(RingError::Size(log2));
        }
        if mem.len() < Self::bytes(log2) {
            return Err(RingError::Dma(DmaError::OutOfBounds {
                offset: 0,
                len: Self::bytes(log2),
                size: mem.len(),
            }));
        }
        mem.zero()?;
        Ok(Self {
            mem,
            log2,
            cons: 0,
            profiles,
            counters: RingCounters::default(),
        })
    }

    /// Starts over after a device reset: the memory zeroed (no stale record or producer
    /// index can be read), draining from index 0 with the first pass's phase.
    pub fn restart(&mut self) -> Result<(), RingError> {
        self.mem.zero()?;
        self.cons = 0;
        Ok(())
    }

    /// Entries in the ring.
    pub fn entries(&self) -> u32 {
        1 << self.log2
    }

    /// log2 of the entries, as RING_SIZE takes it.
    pub fn log2(&self) -> u8 {
        self.log2
    }

    /// Offset of the write-back slot inside the block.
    pub fn writeback_offset(&self) -> usize {
        RECORD_BYTES << self.log2
    }

    /// The DMA block (to map it and program its address).
    pub fn memory(&self) -> &DmaMemory {
        &self.mem
    }

    /// The consumer index to write to RING_CONS.
    pub fn consumer_index(&self) -> u32 {
        self.cons
    }

    /// Counters so far.
    pub fn counters(&self) -> RingCounters {
        self.counters
    }

    /// Records of profiles `0..profiles` are valid from now on (the device was
    /// reprogrammed with that many profiles, after a flush drained the old ones).
    pub fn set_profiles(&mut self, profiles: usize) {
        self.profiles = profiles;
    }

    /// A consumer over `mem` that a running device is already writing, as a new driver
    /// instance takes it up: the memory is kept as it is, and draining resumes at `cons`,
    /// the device's consumer index — the records between it and the producer are still to
    /// be drained (nothing lost, nothing twice). The geometry is the device's (RING_SIZE):
    /// a block too small for it only makes [`Self::poll`] fail with a DMA bounds error.
    pub fn resume(mem: DmaMemory, log2: u8, profiles: usize, cons: u32) -> Self {
        Self {
            mem,
            log2,
            cons,
            profiles,
            counters: RingCounters::default(),
        }
    }

    /// [`Self::resume`] on the memory this consumer has: geometry `log2`, draining from
    /// `cons`, counters from zero (a new driver instance's view of the same ring).
    pub fn resume_at(&mut self, log2: u8, cons: u32) {
        self.log2 = log2;
        self.cons = cons;
        self.counters = RingCounters::default();
    }

    /// Gives the memory back (the device may still be writing it).
    pub fn into_memory(self) -> DmaMemory {
        self.mem
    }

    /// Drains every published record into `out` (at most `max`), validating each.
    /// Returns how many were taken; the caller then writes [`Self::consumer_index`] to
    /// RING_CONS.
    pub fn poll(&mut self, out: &mut Vec<Record>, max: usize) -> Result<usize, RingError> {
        let prod = self.mem.read_u32_acquire(self.writeback_offset())?;
        let avail = prod.wrapping_sub(self.cons);
        if avail > self.entries() {
            self.counters.errors += 1;
            return Err(RingError::IndexOutOfRange {
                prod,
                cons: self.cons,
                entries: self.entries(),
            });
        }
        let n = (avail as usize).min(max);
        if n == 0 {
            self.counters.empty_polls += 1;
            return Ok(0);
        }
        let mask = self.entries() - 1;
        let mut buf = [0u8; RECORD_BYTES];
        let first = self.cons;
        for k in 0..n as u32 {
            let index = first.wrapping_add(k);
            let slot = index & mask;
            self.mem.read(slot as usize * RECORD_BYTES, &mut buf)?;
            let phase = buf[3] & 1 == 1;
            if phase != phase_for(index, self.log2) {
                self.counters.errors += 1;
                return Err(RingError::Phase { slot, index });
            }
            let rec = Record::decode(&buf).map_err(|source| RingError::Record {
                slot,
                index,
                source,
            });
            let rec = match rec {
                Ok(r) if usize::from(r.profile) < self.profiles => r,
                Ok(r) => {
                    self.counters.errors += 1;
                    return Err(RingError::Profile {
                        slot,
                        profile: r.profile,
                        profiles: self.profiles,
                    });
                }
                Err(e) => {
                    self.counters.errors += 1;
                    return Err(e);
                }
            };
            out.push(rec);
            // Advance one record at a time so that an error leaves the index at the bad
            // record: what came before it is consumed exactly once.
            self.cons = index.wrapping_add(1);
            self.counters.records += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsflow_rtl::{EndReason, FlowKey};

    fn rec(i: u32, log2: u8, profile: u8) -> [u8; RECORD_BYTES] {
        Record {
            profile,
            reason: EndReason::Idle,
            phase: phase_for(i, log2),
            flows: 1,
            packets: u64::from(i) + 1,
            bytes: 100,
            first_ns: 0,
            last_ns: 1,
            key: FlowKey {
                src_port: i as u16,
                ..FlowKey::default()
            },
        }
        .encode()
    }

    /// Plays the device: writes records for indices `from..to` and publishes `to`.
    fn produce(c: &RingConsumer, from: u32, to: u32) {
        let mask = c.entries() - 1;
        for i in from..to {
            c.memory()
                .write((i & mask) as usize * RECORD_BYTES, &rec(i, c.log2(), 0))
                .unwrap();
        }
        c.memory()
            .write(c.writeback_offset(), &to.to_le_bytes())
            .unwrap();
    }

    #[test]
    fn drains_across_wraps_in_order() {
        let mut c =
            RingConsumer::new(DmaMemory::new(RingConsumer::bytes(4)).unwrap(), 4, 1).unwrap();
        let mut out = Vec::new();
        let mut next = 0u32;
        for batch in [5u32, 16, 3, 16, 9] {
            produce(&c, next, next + batch);
            next += batch;
            assert_eq!(c.poll(&mut out, usize::MAX).unwrap(), batch as usize);
        }
        assert_eq!(out.len(), next as usize);
        for (i, r) in out.iter().enumerate() {
            assert_eq!(r.packets, i as u64 + 1, "record {i} in order, once");
        }
        assert_eq!(c.poll(&mut out, usize::MAX).unwrap(), 0);
        assert_eq!(c.counters().empty_polls, 1);
    }

    #[test]
    fn malicious_device_writes_are_errors_not_accesses() {
        let mut c =
            RingConsumer::new(DmaMemory::new(RingConsumer::bytes(4)).unwrap(), 4, 2).unwrap();
        let mut out = Vec::new();
        // Producer more than a ring ahead.
        c.memory()
            .write(c.writeback_offset(), &17u32.to_le_bytes())
            .unwrap();
        assert!(matches!(
            c.poll(&mut out, usize::MAX),
            Err(RingError::IndexOutOfRange { prod: 17, .. })
        ));
        // Published but never written (phase of the previous pass: zeroed memory).
        c.memory()
            .write(c.writeback_offset(), &1u32.to_le_bytes())
            .unwrap();
        assert!(matches!(
            c.poll(&mut out, usize::MAX),
            Err(RingError::Phase { slot: 0, .. })
        ));
        // A record with a bad reason code.
        let mut bad = rec(0, 4, 0);
        bad[2] = 9;
        c.memory().write(0, &bad).unwrap();
        assert!(matches!(
            c.poll(&mut out, usize::MAX),
            Err(RingError::Record { .. })
        ));
        // A profile that was never programmed.
        c.memory().write(0, &rec(0, 4, 7)).unwrap();
        assert!(matches!(
            c.poll(&mut out, usize::MAX),
            Err(RingError::Profile { profile: 7, .. })
        ));
        assert!(out.is_empty());
        assert_eq!(c.counters().errors, 4);
        assert_eq!(c.consumer_index(), 0, "nothing consumed past a bad record");
        assert!(RingConsumer::new(DmaMemory::new(4096).unwrap(), 30, 1).is_err());
    }

    #[test]
    fn resume_drains_what_is_left_exactly_once() {
        let mut c =
            RingConsumer::new(DmaMemory::new(RingConsumer::bytes(4)).unwrap(), 4, 1).unwrap();
        produce(&c, 0, 10);
        let mut out = Vec::new();
        assert_eq!(c.poll(&mut out, 4).unwrap(), 4);
        let cons = c.consumer_index();
        // A new consumer over the same memory, as after a driver restart: it starts from
        // the device's consumer index, not from zero.
        let mut c2 = RingConsumer::resume(c.into_memory(), 4, 1, cons);
        assert_eq!(c2.poll(&mut out, usize::MAX).unwrap(), 6);
        let seen: Vec<u64> = out.iter().map(|r| r.packets).collect();
        assert_eq!(seen, (1..=10).collect::<Vec<u64>>());
    }
}
