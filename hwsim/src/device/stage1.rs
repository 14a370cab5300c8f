//! Stage 1: the original-flow table port, which takes one packet at a time and hands
//! the flows it ends to the merge unit through the flow queue.

use super::Device;
use crate::pipeline::{EndedFlow, Packet};
use crate::stats::global;
use crate::table::expiry_ns;
use nsflow_rtl::record::EndReason;
use nsflow_rtl::stage::{ends_flow, Entry};

impl Device {
    /// Free places in the flow queue between stage 1 and the merge unit.
    pub(super) fn flow_room(&self) -> usize {
        (self.params.timing.flow_queue_depth as usize).saturating_sub(self.flows.len())
    }

    /// The earliest cycle packet `p` can reach the stage-1 table port: when it is ready
    /// and the port is free, not before now.
    fn table_base(&self, p: &Packet) -> u64 {
        p.ready.max(self.table_free).max(self.now)
    }

    /// The cycle of the next stage-1 access: the front packet's, once its set is clear of
    /// hazards and outside scanner slots. `None` without a packet, or without room in the
    /// flow queue for the two flows one packet can end.
    pub(super) fn table_next(&self) -> Option<u64> {
        let p = self.pipeline.front()?;
        if self.flow_room() < 2 {
            return None;
        }
        let lat = u64::from(self.params.timing.table_latency);
        let t = self.orig_hazard.clear_at(p.set, self.table_base(p), lat);
        Some(self.sched.free_cycle(t))
    }

    /// The stage-1 table port takes the front packet; the cycles it waited on scanner
    /// slots and hazards count as table stalls.
    pub(super) fn table_step(&mut self) {
        let Some(t) = self.table_next() else { return };
        let Some(p) = self.pipeline.pop_front() else {
            return;
        };
        // Cycles beyond its earliest possible access: scanner slots and hazards.
        let base = p.ready.max(self.table_free).max(self.flow_room_at);
        self.stats.add(global::STALL_TABLE, t - base);
        self.table_free = t + 1;
        self.orig_hazard.record(p.set, t);
        self.stage1(t, &p);
    }

    /// Counts an original flow ended for `reason` in the stage-1 statistics.
    fn count_orig_end(&mut self, reason: EndReason) {
        let i = match reason {
            EndReason::Idle => global::ORIG_AGED_IDLE,
            EndReason::Active => global::ORIG_AGED_ACTIVE,
            EndReason::EndOfFlow => global::ORIG_AGED_END,
            EndReason::Forced => global::ORIG_AGED_FORCED,
            EndReason::LackOfResources => global::ORIG_EVICTED,
        };
        self.stats.add(i, 1);
    }

    /// An original flow leaves stage 1 for `reason`: counted, and queued for the merge unit
    /// from cycle `ready`.
    pub(super) fn end_flow(&mut self, entry: Entry, reason: EndReason, ready: u64) {
        self.count_orig_end(reason);
        self.flows.push_back(EndedFlow { ready, entry });
    }

    /// One packet at the stage-1 table at cycle `t`: the reference aggregator's rules.
    fn stage1(&mut self, t: u64, p: &Packet) {
        let (act, inact, fin) = (
            self.cfg.orig_active_s,
            self.cfg.orig_inactive_s,
            self.cfg.fin_rst_aging,
        );
        let done = t + u64::from(self.params.timing.table_latency);
        let fresh = Entry::from_packet(p.key, p.ts_ns, &p.fields);
        let mut first = true;
        let slot = match self.orig.find(p.hash, &p.key) {
            Some(slot) => {
                let e = self.orig.entry_mut(slot);
                match e.expired(p.ts_ns, act, inact) {
                    Some(reason) => {
                        let old = std::mem::replace(e, fresh);
                        self.stats.add(global::ORIG_CREATED, 1);
                        self.end_flow(old, reason, done);
                    }
                    None => {
                        e.add_packet(p.ts_ns, &p.fields);
                        first = false;
                    }
                }
                slot
            }
            None => {
                let (slot, evicted, was_empty) = self.orig.insert(p.hash, fresh);
                self.stats.add(global::ORIG_CREATED, 1);
                if let Some(ev) = evicted {
                    self.end_flow(ev, EndReason::LackOfResources, done);
                }
                if was_empty {
                    self.cursors[0].note_occupied();
                    self.scan_changed();
                }
                slot
            }
        };
        if ends_flow(self.orig.entry(slot), &p.fields, first, fin) {
            let e = self.orig.remove(slot);
            self.end_flow(e, EndReason::EndOfFlow, done);
        } else {
            let x = expiry_ns(self.orig.entry(slot), act, inact);
            if self.orig.note_expiry(slot, x) {
                self.cursors[0].note_expiry(x);
                self.scan_changed();
            }
        }
    }
}
