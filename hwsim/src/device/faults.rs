//! Fault injection (see [`Fault`] and docs/hwsim.md "Fault modes"): arming a fault and
//! the immediate effect of those that act at once.

use super::Device;
use crate::fault::Fault;
use crate::scanner::Cursor;
use nsflow_rtl::regs::{self, error_code};

impl Device {
    /// Injects a fault (see [`Fault`] and docs/hwsim.md "Fault modes"): one-shot faults act
    /// on the next record or DMA write, or at once; `LostInterrupts` and `Removed` last
    /// until [`Self::clear_faults`].
    pub fn inject(&mut self, fault: Fault) {
        self.faults.arm(fault);
        match fault {
            Fault::ProducerBeyondRing => {
                let ring = self.ring();
                let cons = self.regs.get(regs::RING_CONS.offset);
                let bogus = self.faults.publish_bogus_producer(cons, ring.size());
                if ring.wb != 0
                    && self
                        .memory
                        .write(ring.wb, &u64::from(bogus).to_le_bytes())
                        .is_err()
                {
                    self.fail(error_code::DMA_FAULT);
                }
            }
            Fault::ClockJump { seconds } => {
                let ns = u64::from(seconds) * 1_000_000_000;
                self.time.jump(ns);
                self.capture.jump(ns);
                self.cursors.iter_mut().for_each(Cursor::invalidate);
                self.scan_changed();
            }
            Fault::LostInterrupts => self.irq.set_lost(true),
            // Armed above: they act on the next record or DMA write, or (removal) from now
            // on through `faults`. Listed, not `_`, so that a new fault must say when it acts.
            Fault::BadRecordVersion
            | Fault::BadRecordReason
            | Fault::ImpossibleCounters
            | Fault::StalePhase
            | Fault::DmaFault
            | Fault::Removed => {}
        }
    }

    /// Ends every fault: persistent ones stop, armed one-shot ones are disarmed.
    pub fn clear_faults(&mut self) {
        self.faults.clear();
        self.irq.set_lost(false);
    }
}
