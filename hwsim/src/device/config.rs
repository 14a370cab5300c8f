//! The engine configuration (timers and profiles) read back from the register file into
//! the form the datapath uses.

use super::{Device, EngineCfg, ProfileCfg, PROFILES};
use crate::scanner::Cursor;
use crate::table::Table;
use nsflow_rtl::regs::{self, PrefixMin, ProfCtrl};
use nsflow_rtl::FieldSelect;

impl Device {
    /// Field `name` of instance `i` of register `reg`; 0 when the register has no such
    /// field.
    fn field(&self, reg: &regs::Register, i: u32, name: &str) -> u32 {
        reg.field(name)
            .map_or(0, |f| f.get(self.regs.get(reg.at(i))))
    }

    /// Decodes timers and profiles from the registers; the scanners forget their expiry
    /// bounds (the timers may have changed).
    pub(super) fn decode_config(&mut self) {
        let mut c = EngineCfg {
            orig_active_s: self.field(&regs::ORIG_ACTIVE, 0, "seconds"),
            orig_inactive_s: self.field(&regs::ORIG_INACTIVE, 0, "seconds"),
            fin_rst: self.field(&regs::ORIG_CTRL, 0, "fin_rst_aging") == 1,
            ..EngineCfg::default()
        };
        for p in 0..PROFILES {
            let i = p as u32;
            let min = PrefixMin(self.regs.get(regs::PROF_PREFIX_MIN.at(i)));
            c.profiles[p] = ProfileCfg {
                enabled: ProfCtrl(self.regs.get(regs::PROF_CTRL.at(i))).enable(),
                select: FieldSelect(
                    self.regs.get(regs::PROF_FIELDS.at(i)) & FieldSelect::DEFINED.0,
                ),
                src_min: min.src(),
                dst_min: min.dst(),
                active_s: self.field(&regs::PROF_ACTIVE, i, "seconds"),
                inactive_s: self.field(&regs::PROF_INACTIVE, i, "seconds"),
            };
            if c.profiles[p].enabled {
                c.enabled.push(p);
            }
        }
        self.cfg = c;
        self.orig.all_due();
        self.aggs.iter_mut().for_each(Table::all_due);
        self.cursors.iter_mut().for_each(Cursor::invalidate);
    }
}
