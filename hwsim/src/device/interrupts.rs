//! Interrupts: raising `INT_STATUS` causes, the moderation timer, and the host's
//! handler (see [`crate::irq`]).

use super::Device;
use crate::irq::IrqHandler;
use nsflow_rtl::regs::{self, IntBits};

impl Device {
    /// Installs the interrupt handler, called (synchronously, from whichever `Device`
    /// method advanced time or wrote a register) each time an unmasked cause becomes
    /// pending. It must not block; signalling an eventfd or a flag is typical.
    pub fn set_irq(&mut self, handler: IrqHandler) {
        self.irq.set_handler(handler);
    }

    /// Interrupt messages delivered since the device was made.
    pub fn irq_count(&self) -> u64 {
        self.irq.delivered()
    }

    /// The cycle the interrupt-moderation timer (`INT_MOD_TIME`) fires, when it runs.
    pub(super) fn irq_next(&self) -> Option<u64> {
        let us = regs::INT_MOD_TIME.rw_mask() & self.regs.get(regs::INT_MOD_TIME.offset);
        self.irq
            .deadline(self.time.cycles_of_us(us.into()))
            .map(|d| d.max(self.now))
    }

    /// Sets interrupt causes and delivers a message for new unmasked ones.
    pub(super) fn raise(&mut self, bits: u32) {
        let before = self.regs.get(regs::INT_STATUS.offset);
        self.regs.set_bits(regs::INT_STATUS.offset, bits);
        let after = self.regs.get(regs::INT_STATUS.offset);
        let mask = self.regs.get(regs::INT_MASK.offset);
        self.irq.deliver_if_new(before, mask, after, mask);
    }
}

/// `INT_STATUS` with only the records cause set.
pub(super) fn records_bit() -> u32 {
    let mut b = IntBits(0);
    b.set_records(true);
    b.0
}
