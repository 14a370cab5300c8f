//! The engine configuration (timers and profiles) read back from the register file, through
//! the contract's one decoding of those registers (`nsflow_rtl::program::EngineRegs`).

use super::{Device, PROFILES};
use crate::scanner::Cursor;
use crate::table::Table;
use nsflow_rtl::program::EngineRegs;

impl Device {
    /// Decodes timers and profiles from the registers; the scanners forget their expiry
    /// bounds (the timers may have changed).
    pub(super) fn decode_config(&mut self) {
        let regs = &self.regs;
        let Ok(cfg) = EngineRegs::read(
            |o| Ok::<_, std::convert::Infallible>(regs.get(o)),
            PROFILES as u32,
        );
        self.enabled = cfg.enabled_slots();
        self.cfg = cfg;
        self.orig.all_due();
        self.aggs.iter_mut().for_each(Table::all_due);
        self.cursors.iter_mut().for_each(Cursor::invalidate);
    }
}
