//! Soft reset (`CTRL.soft_reset`): the device returns to its reset state at the current
//! cycle.

use super::Device;
use crate::flush::Flush;
use crate::pipeline::Hazard;
use crate::scanner::{Cursor, Schedule};
use crate::table::Table;
use crate::windows::Windows;
use nsflow_rtl::regs;

impl Device {
    /// `CTRL.soft_reset`: registers, tables, queues, statistics and the clock return to
    /// their reset state at the current cycle. The DMA map table, the interrupt handler
    /// and injected faults stay.
    pub(super) fn soft_reset(&mut self) {
        let now = self.now;
        self.regs.reset();
        self.windows = Windows::new();
        self.orig.clear();
        self.aggs.iter_mut().for_each(Table::clear);
        self.cursors.iter_mut().for_each(|c| *c = Cursor::new());
        self.sched = Schedule::new(now, self.regs.get(regs::SCAN_CTRL.offset));
        self.time.reset(now);
        self.pipeline.clear();
        self.last_ingress = None;
        self.table_free = now;
        self.flow_room_at = now;
        self.fifo_room_at = now;
        self.orig_hazard.clear();
        self.flows.clear();
        self.merge_free = now;
        self.agg_hazards.iter_mut().for_each(Hazard::clear);
        self.fifo.clear();
        self.inflight.clear();
        self.inflight_records.clear();
        self.link_free = now;
        self.issued = 0;
        self.prod = 0;
        self.flush = Flush::default();
        self.error = None;
        self.flush_count = 0;
        self.unknown_access = 0;
        self.stats.reset();
        self.ring_stall_since = None;
        self.capture.clear();
        self.last_arrival_ns = 0;
        self.aging_floor_ns = 0;
        self.irq.reset();
        self.decode_config();
    }
}
