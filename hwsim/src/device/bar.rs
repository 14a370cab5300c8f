//! BAR0: the host's 32-bit register reads and writes, with the register map's access
//! rules and side effects.

use super::Device;
use crate::regfile::Kind;
use crate::scanner::Schedule;
use nsflow_rtl::regs::{self, Ctrl, Status};

impl Device {
    /// One 32-bit read of BAR0. Unknown or unaligned offsets read 0; `TIME_LO` latches
    /// `TIME_HI`; statistics return the values latched by the last `CTRL.stats_snapshot`.
    pub fn bar_read(&mut self, offset: u32) -> u32 {
        if self.faults.removed() {
            return u32::MAX;
        }
        let Some(info) = self.regs.info(offset) else {
            return 0;
        };
        let (kind, mask) = (info.kind, info.read_mask);
        let half = |v: u64, hi: bool| if hi { (v >> 32) as u32 } else { v as u32 };
        let v = match kind {
            Kind::Status => {
                let mut s = Status(0);
                s.set_flush_busy(self.flush.busy());
                s.set_error(self.error.is_some());
                s.set_ring_full(self.ring_stall_since.is_some());
                s.set_error_code(self.error.unwrap_or(0));
                s.0
            }
            Kind::FlushCount => self.flush_count,
            Kind::UnknownAccess => self.unknown_access,
            Kind::TimeLo => {
                let ns = self.now_ns();
                self.regs.set(regs::TIME_HI.offset, (ns >> 32) as u32);
                ns as u32
            }
            Kind::RingProd => self.faults.ring_prod(self.prod),
            Kind::ProfOccupancy(p) => {
                u32::try_from(self.agg_occupancy(p.into())).unwrap_or(u32::MAX)
            }
            Kind::GlobalStat { index, hi } => {
                half(self.stats.latched().global[usize::from(index)], hi)
            }
            Kind::ProfStat { profile, index, hi } => half(
                self.stats.latched().profile[usize::from(profile)][usize::from(index)],
                hi,
            ),
            _ => self.regs.get(offset),
        };
        v & mask
    }

    /// One 32-bit write of BAR0, with the register map's access rules and side effects.
    /// The register port takes one write per cycle: a write issued in the cycle of the
    /// previous one takes effect at the next cycle, the engine running up to it. Never
    /// panics: unknown offsets, read-only registers and reserved bits are ignored and
    /// counted in `UNKNOWN_ACCESS`.
    pub fn bar_write(&mut self, offset: u32, value: u32) {
        self.take_bar_port();
        self.scan_changed();
        self.trace_bar_write(offset, value); // trace hook
        if self.faults.removed() {
            return;
        }
        let Some(w) = self.regs.write(offset, value) else {
            self.unknown_access = self.unknown_access.saturating_add(1);
            return;
        };
        if w.ignored_bits {
            self.unknown_access = self.unknown_access.saturating_add(1);
        }
        match w.kind {
            Kind::Ctrl => {
                let pulse = Ctrl(w.pulse);
                if pulse.soft_reset() {
                    return self.soft_reset();
                }
                if pulse.stats_snapshot() {
                    let open = self.ring_stall_since.map_or(0, |s| self.now - s);
                    self.stats.snapshot(open);
                }
                if !Ctrl(w.old).enable() && Ctrl(value).enable() {
                    self.check_ring();
                }
                if pulse.flush() {
                    self.flush.start(self.now);
                }
            }
            Kind::EngineConfig => self.decode_config(),
            Kind::ScanCtrl => {
                let old = self.sched;
                self.cursors
                    .iter_mut()
                    .for_each(|c| c.reschedule(&old, self.now));
                self.sched = Schedule::new(self.now, self.regs.get(offset));
            }
            Kind::IntMask => {
                let status = self.regs.get(regs::INT_STATUS.offset);
                let mask = self.regs.get(offset);
                self.irq.deliver_if_new(status, w.old, status, mask);
            }
            Kind::RingSize => self.ring_resized(),
            Kind::RouteCmd => self.windows.route_cmd(&mut self.regs, w.pulse),
            Kind::IfaceCmd => self.windows.iface_cmd(&mut self.regs, w.pulse),
            Kind::LabelCmd => self.windows.label_cmd(&mut self.regs, w.pulse),
            _ => {}
        }
        self.sync_ring_full();
    }

    /// Waits for the register port (one write per cycle) and takes it for this cycle.
    fn take_bar_port(&mut self) {
        if self.now < self.bar_free {
            self.run_until(self.bar_free);
            self.now = self.bar_free;
        }
        self.bar_free = self.now + 1;
    }

    /// Counts an access refused outside BAR0 in `UNKNOWN_ACCESS` (the model's traffic
    /// port, `nsflow_rtl::sim_port`, refuses malformed or oversized batches this way), and
    /// a BAR0 access of a size other than 32 bits the server could not pass on.
    pub fn count_unknown_access(&mut self) {
        self.unknown_access = self.unknown_access.saturating_add(1);
    }
}
