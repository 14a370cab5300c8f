//! The event loop: repeatedly takes the unit whose next step is earliest and fires it,
//! so that idle time costs nothing.

use super::interrupts::records_bit;
use super::{Device, Unit};

impl Device {
    /// Runs every step due before cycle `limit`.
    pub(super) fn run_until(&mut self, limit: u64) {
        self.trace_settle(); // trace hook
        while let Some((c, unit)) = self.next_event() {
            if c >= limit {
                break;
            }
            self.now = self.now.max(c);
            self.fire(unit);
            self.sync_ring_full();
            self.trace_step(unit); // trace hook
        }
    }

    /// The earliest step of the units that move records and packets (not the scanners);
    /// with `timer`, the moderation timer too.
    pub(super) fn next_work(&self, timer: bool) -> Option<u64> {
        if self.faults.removed() {
            return None;
        }
        [
            self.dma_done_next(),
            self.dma_issue_next(),
            self.table_next(),
            self.merge_next(),
            self.flush_next(),
            if timer { self.irq_next() } else { None },
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The earliest step of every unit, the aging scanners included (not during a flush),
    /// and its unit; the first unit in this order wins a tie. `None` once the device is
    /// removed.
    fn next_event(&mut self) -> Option<(u64, Unit)> {
        if self.faults.removed() {
            return None;
        }
        let mut best: Option<(u64, Unit)> = None;
        let mut consider = |c: Option<u64>, u: Unit| {
            if let Some(c) = c {
                if best.is_none_or(|(b, _)| c < b) {
                    best = Some((c, u));
                }
            }
        };
        consider(self.dma_done_next(), Unit::DmaDone);
        consider(self.dma_issue_next(), Unit::DmaIssue);
        consider(self.table_next(), Unit::Table);
        consider(self.merge_next(), Unit::Merge);
        consider(self.flush_next(), Unit::Flush);
        consider(self.irq_next(), Unit::IrqTimer);
        if self.sched.active() && !self.flush.busy() {
            let (c, i) = self.scan_earliest().unzip();
            consider(c, Unit::Scan(i.unwrap_or(0)));
        }
        best
    }

    /// Runs one step of `unit` at the current cycle.
    fn fire(&mut self, unit: Unit) {
        match unit {
            Unit::DmaDone => self.dma_done(),
            Unit::DmaIssue => self.dma_issue(),
            Unit::Table => self.table_step(),
            Unit::Merge => self.merge_step(),
            Unit::Flush => {
                self.scan_changed();
                self.flush_step();
            }
            Unit::IrqTimer => {
                self.irq.timer_fired();
                self.raise(records_bit());
            }
            Unit::Scan(i) => {
                self.scan_changed();
                if let Some(v) = self.scan_next(i) {
                    self.scan_step(i, v);
                }
            }
        }
    }
}
