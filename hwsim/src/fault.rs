//! Device faults injected at run time ([`crate::Device::inject`]), so that a driver's
//! robustness can be tested against a device that misbehaves the ways real ones do: a
//! producer that publishes garbage, records that break the format, an IOMMU fault, lost
//! interrupts, a device that vanished from the bus, a clock that jumps.
//!
//! One-shot faults act once (on the next record, the next DMA write, or at once) and are
//! then spent; persistent ones ([`Fault::LostInterrupts`], [`Fault::Removed`]) last until
//! [`crate::Device::clear_faults`]. A soft reset clears neither: it is the device's own
//! state that resets, not the platform's. docs/hwsim.md ("Fault modes") describes each.

use nsflow_rtl::record::{RECORD_BYTES, RECORD_FORMAT_VERSION};

/// A fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// At once: publish a producer index more than a ring ahead of the consumer
    /// (`RING_CONS + size + 1`), in the write-back slot and in `RING_PROD`, as a broken
    /// producer would. The next DMA batch publishes the true index again.
    ProducerBeyondRing,
    /// The next record written carries format version 0xEE instead of
    /// `RECORD_FORMAT_VERSION`.
    BadRecordVersion,
    /// The next record written carries end reason 0 (IPFIX codes are 1–5).
    BadRecordReason,
    /// The next record written claims 0 packets (with its bytes and flows unchanged).
    ImpossibleCounters,
    /// The next record written keeps the previous pass's phase bit (its slot looks old to
    /// a consumer that checks phases).
    StalePhase,
    /// The next DMA write fails as on an IOMMU fault: nothing of it is written, the device
    /// enters its error state (`STATUS.error`, `error_code = DMA_FAULT`, `INT_STATUS.error`)
    /// until `CTRL.soft_reset`: it takes no packets and writes nothing; the records of the
    /// failed write, those queued and those emitted later (aging, a flush) are dropped and
    /// counted per profile.
    DmaFault,
    /// From now on no interrupt message is delivered (causes are still set in
    /// `INT_STATUS`; the handler is not called and `irq_count` does not move).
    LostInterrupts,
    /// From now on the device is gone from the bus, like a surprise-removed PCIe device:
    /// BAR reads return 0xFFFF_FFFF, writes are ignored, the engine does nothing (no DMA,
    /// no interrupts) and `offer` refuses with `Refused::Removed`.
    Removed,
    /// At once: device time (`TIME_LO/HI`, the aging clock, the stamps of later frames)
    /// jumps forward by this many seconds.
    ClockJump {
        /// Seconds to jump.
        seconds: u32,
    },
}

/// How the next record is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordFault {
    Version,
    Reason,
    Counters,
    Phase,
}

/// Format version a [`Fault::BadRecordVersion`] record carries.
pub const BAD_RECORD_VERSION: u8 = 0xEE;
const _: () = assert!(BAD_RECORD_VERSION != RECORD_FORMAT_VERSION);

/// The faults armed on a device.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {
    record: Option<RecordFault>,
    dma: bool,
    removed: bool,
    prod: Option<u32>,
}

impl Faults {
    /// Arms `f`. The faults that act at once ([`Fault::ProducerBeyondRing`],
    /// [`Fault::ClockJump`]) and lost interrupts are carried out by the device.
    pub(crate) fn arm(&mut self, f: Fault) {
        match f {
            Fault::BadRecordVersion => self.record = Some(RecordFault::Version),
            Fault::BadRecordReason => self.record = Some(RecordFault::Reason),
            Fault::ImpossibleCounters => self.record = Some(RecordFault::Counters),
            Fault::StalePhase => self.record = Some(RecordFault::Phase),
            Fault::DmaFault => self.dma = true,
            Fault::Removed => self.removed = true,
            // Carried out by the device (the interrupt unit loses messages itself).
            Fault::ProducerBeyondRing | Fault::ClockJump { .. } | Fault::LostInterrupts => {}
        }
    }

    /// Disarms everything.
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Whether the device is gone from the bus.
    pub(crate) fn removed(&self) -> bool {
        self.removed
    }

    /// Whether this DMA write fails (spends the fault).
    pub(crate) fn take_dma(&mut self) -> bool {
        std::mem::take(&mut self.dma)
    }

    /// Breaks an encoded record as armed (spends the fault).
    pub(crate) fn corrupt(&mut self, rec: &mut [u8; RECORD_BYTES]) {
        match self.record.take() {
            None => {}
            Some(RecordFault::Version) => rec[0] = BAD_RECORD_VERSION,
            Some(RecordFault::Reason) => rec[2] = 0,
            Some(RecordFault::Counters) => rec[8..16].fill(0),
            Some(RecordFault::Phase) => rec[3] ^= 1,
        }
    }

    /// The bogus producer index for a consumer at `cons` of a ring of `size` slots, now
    /// shown by `RING_PROD` until [`Self::published`].
    pub(crate) fn publish_bogus_producer(&mut self, cons: u32, size: u32) -> u32 {
        let bogus = cons.wrapping_add(size).wrapping_add(1);
        self.prod = Some(bogus);
        bogus
    }

    /// `RING_PROD` as the host reads it: the bogus index while one is published.
    pub(crate) fn ring_prod(&self, prod: u32) -> u32 {
        self.prod.unwrap_or(prod)
    }

    /// The device published its true producer index again.
    pub(crate) fn published(&mut self) {
        self.prod = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsflow_rtl::record::{EndReason, Record, RecordError};
    use nsflow_rtl::FlowKey;

    fn record() -> [u8; RECORD_BYTES] {
        Record {
            profile: 0,
            reason: EndReason::Idle,
            phase: true,
            flows: 1,
            packets: 2,
            bytes: 100,
            first_ns: 1,
            last_ns: 2,
            key: FlowKey::default(),
        }
        .encode()
    }

    #[test]
    fn each_record_fault_breaks_one_record_the_way_it_says() {
        let mut f = Faults::default();
        let cases = [
            (
                Fault::BadRecordVersion,
                RecordError::Version(BAD_RECORD_VERSION),
            ),
            (Fault::BadRecordReason, RecordError::Reason(0)),
            (
                Fault::ImpossibleCounters,
                RecordError::Impossible("no packets or no flows"),
            ),
        ];
        for (fault, err) in cases {
            f.arm(fault);
            let mut r = record();
            f.corrupt(&mut r);
            assert_eq!(Record::decode(&r), Err(err), "{fault:?}");
            // Spent: the next record is intact.
            let mut r = record();
            f.corrupt(&mut r);
            assert!(Record::decode(&r).is_ok());
        }
        f.arm(Fault::StalePhase);
        let mut r = record();
        f.corrupt(&mut r);
        assert_eq!(r[3] & 1, 0, "phase of the previous pass");
        assert!(!Record::decode(&r).is_ok_and(|d| d.phase));
    }

    #[test]
    fn removal_lasts_until_cleared_and_dma_is_one_shot() {
        let mut f = Faults::default();
        f.arm(Fault::Removed);
        f.arm(Fault::DmaFault);
        assert!(f.take_dma() && !f.take_dma());
        assert!(f.removed());
        assert_eq!(f.publish_bogus_producer(10, 16), 27);
        assert_eq!(f.ring_prod(12), 27);
        f.published();
        assert_eq!(f.ring_prod(12), 12);
        f.clear();
        assert!(!f.removed());
    }
}
