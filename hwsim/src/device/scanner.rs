//! The device's side of the aging scanner ([`crate::scanner`]): planning every table's
//! next visit, and a visit that exports the entries of one set that have expired.

use super::Device;
use crate::scanner::Visit;
use crate::table::expiry_ns;
use nsflow_rtl::record::EndReason;
use nsflow_rtl::stage::Entry;

impl Device {
    /// The earliest planned scanner visit over every table (the first table on a tie),
    /// cached until something that can bring a visit forward happens
    /// ([`Self::scan_changed`]); recomputed every time while a cursor is blocked (its
    /// visit waits on room downstream).
    pub(super) fn scan_earliest(&mut self) -> Option<(u64, usize)> {
        if let Some(cached) = self.scan_cache {
            return cached;
        }
        let mut best: Option<(u64, usize)> = None;
        let mut blocked = false;
        for i in 0..self.cursors.len() {
            let occupied = if i == 0 {
                self.orig.len()
            } else {
                self.aggs[i - 1].len()
            };
            blocked |= self.cursors[i].blocked();
            if occupied > 0 {
                if let Some(v) = self.scan_next(i) {
                    if best.is_none_or(|(b, _)| v.cycle < b) {
                        best = Some((v.cycle, i));
                    }
                }
            }
        }
        if !blocked {
            self.scan_cache = Some(best);
        }
        best
    }

    /// A scanner's plan may have changed (a visit was made, an expiry came down, a set
    /// became occupied, a register or the flush changed): forget the cached earliest visit.
    pub(super) fn scan_changed(&mut self) {
        self.scan_cache = None;
    }

    /// Whether a blocked cursor `i` may visit again: room downstream for a full set of
    /// table `i` (the flow queue for stage 1, the record FIFO for a profile; always with
    /// `drop_on_full`).
    fn scan_room(&self, i: usize) -> bool {
        if i == 0 {
            self.flow_room() >= self.orig.ways()
        } else {
            self.params.drop_on_full || self.fifo_room() >= self.aggs[i - 1].ways()
        }
    }

    /// Cursor `i`'s next planned visit; `None` during a flush, while it waits for room
    /// downstream, or when nothing in its table can expire.
    #[inline]
    pub(super) fn scan_next(&mut self, i: usize) -> Option<Visit> {
        if self.flush.busy() || (self.cursors[i].blocked() && !self.scan_room(i)) {
            return None;
        }
        let (act, inact) = self.timers(i);
        let table = if i == 0 {
            &mut self.orig
        } else {
            &mut self.aggs[i - 1]
        };
        self.cursors[i].next(&self.sched, table, &self.time, self.now, &|e| {
            expiry_ns(e, act, inact)
        })
    }

    /// The active and inactive timeouts (seconds) of table `i` (0: stage 1; 1 + p:
    /// profile p).
    fn timers(&self, i: usize) -> (u32, u32) {
        if i == 0 {
            (self.cfg.orig_active_s, self.cfg.orig_inactive_s)
        } else {
            let p = &self.cfg.slots[i - 1];
            (p.active_s, p.inactive_s)
        }
    }

    /// Cursor `i` reads set `v.set` at `v.cycle` and exports what has expired. A visit
    /// that finds something expired is an aging decision (it sets the floor of later
    /// arrival stamps); one that finds nothing has no effect.
    pub(super) fn scan_step(&mut self, i: usize, v: Visit) {
        let t = v.cycle;
        let aging = self.aging_at(t);
        let now_ns = self.dev_ns(t);
        let (act, inact) = self.timers(i);
        let expired = |e: &Entry| e.expired(aging, act, inact).is_some();
        let room = if i == 0 {
            self.flow_room()
        } else if self.params.drop_on_full {
            usize::MAX
        } else {
            self.fifo_room()
        };
        let table = if i == 0 {
            &mut self.orig
        } else {
            &mut self.aggs[i - 1]
        };
        let n = table.count_where(v.set, expired);
        if n > 0 {
            self.aging_floor_ns = self.aging_floor_ns.max(aging);
        }
        if n > room {
            self.cursors[i].block(v);
            return;
        }
        let mut out = std::mem::take(&mut self.scratch);
        table.take_where(v.set, expired, |e| out.push(e));
        table.settle(v.set, now_ns, &|e| expiry_ns(e, act, inact));
        self.cursors[i].visited(v);
        let ready = t + u64::from(self.params.timing.table_latency);
        for e in out.drain(..) {
            let reason = e.expired(aging, act, inact).unwrap_or(EndReason::Idle);
            if i == 0 {
                self.end_flow(e, reason, ready);
            } else {
                self.emit(i - 1, e, reason, ready);
            }
        }
        self.scratch = out;
    }
}
