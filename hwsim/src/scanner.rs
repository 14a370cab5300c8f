//! The aging scanner's share of table bandwidth and its position in each table.
//!
//! `SCAN_CTRL.share` gives the scanner `share` of every 256 cycles of each table port,
//! spread evenly: slot `j` (counted from the last change of `share`) is cycle
//! `epoch + ceil((j + 1) × 256 / share) − 1`. Every table (stage 1 and each profile) has
//! its own port and cursor; at each slot the cursor reads one whole set (all ways) and
//! exports the expired entries. Packets and merges never use a scanner slot.
//!
//! The model does not step through slots one by one: a [`Cursor`] computes the next slot
//! at which it can find something to do — it skips empty sets with the table's occupancy
//! bitmap, and skips whole stretches in which nothing can expire using a lower bound of
//! the earliest expiry in the table (recomputed exactly after every full sweep). The sets
//! it visits, and when, are exactly those of a scanner stepping every slot, so idle time
//! is skipped without losing any aging work (catch-up).

use crate::clock::TimeBase;
use crate::table::Table;
use nsflow_rtl::stage::Entry;

/// The slot schedule shared by every table port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    epoch: u64,
    share: u64,
}

impl Schedule {
    /// `share` slots per 256 cycles from cycle `epoch` (0 = no scanner).
    pub(crate) fn new(epoch: u64, share: u32) -> Self {
        Self {
            epoch,
            share: u64::from(share.min(255)),
        }
    }

    /// Whether the scanner runs at all.
    pub(crate) fn active(&self) -> bool {
        self.share > 0
    }

    /// Cycle of slot `j`.
    pub(crate) fn slot_cycle(&self, j: u64) -> u64 {
        let s = self.share.max(1);
        // u64 unless (j + 1) × 256 overflows it (decades of device time).
        let off = match j.checked_add(1).and_then(|n| n.checked_mul(256)) {
            Some(n) => n.div_ceil(s) - 1,
            None => {
                let off = ((u128::from(j) + 1) * 256).div_ceil(u128::from(s)) - 1;
                u64::try_from(off).unwrap_or(u64::MAX)
            }
        };
        self.epoch.saturating_add(off)
    }

    /// The first slot at or after cycle `c`.
    pub(crate) fn first_slot_from(&self, c: u64) -> u64 {
        let d = u128::from(c.saturating_sub(self.epoch));
        u64::try_from(d * u128::from(self.share) / 256).unwrap_or(u64::MAX)
    }

    /// Whether cycle `c` is a scanner slot (a table port is busy with the scanner).
    pub(crate) fn is_slot(&self, c: u64) -> bool {
        if self.share == 0 || c < self.epoch {
            return false;
        }
        let d = c - self.epoch;
        match d.checked_add(1).and_then(|n| n.checked_mul(self.share)) {
            Some(next) => next / 256 > (next - self.share) / 256,
            // u128: cycle counts of decades of device time times the share overflow u64.
            None => {
                let (d, share) = (u128::from(d), u128::from(self.share));
                (d + 1) * share / 256 > d * share / 256
            }
        }
    }

    /// The first cycle at or after `c` that is not a scanner slot.
    pub(crate) fn free_cycle(&self, mut c: u64) -> u64 {
        while self.is_slot(c) {
            c += 1;
        }
        c
    }
}

/// A visit the cursor will make: at `cycle` (slot `slot`) it reads `set`, sweep position
/// `pos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Visit {
    /// Cycle of the visit.
    pub cycle: u64,
    /// Slot index in the current schedule.
    pub slot: u64,
    /// Set read.
    pub set: u32,
    /// Position (visits since the cursor started, ever increasing).
    pub pos: u64,
}

/// The scanner's position in one table.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    pos: u64,
    slot: u64,
    blocked: bool,
    cached: Option<Visit>,
    /// Device time of the cached visit: a set whose entries may expire by then must be
    /// planned in.
    horizon_ns: u64,
}

impl Cursor {
    /// A cursor at set 0 of a new schedule.
    pub(crate) fn new() -> Self {
        Self {
            pos: 0,
            slot: 0,
            blocked: false,
            cached: None,
            horizon_ns: 0,
        }
    }

    /// Moves the cursor onto a new schedule starting at `now` (after `SCAN_CTRL` changed):
    /// first the slots of the old schedule up to `now` pass.
    pub(crate) fn reschedule(&mut self, old: &Schedule, now: u64) {
        if !self.blocked && old.active() {
            let j = old.first_slot_from(now);
            self.pos += j.saturating_sub(self.slot);
        }
        self.slot = 0;
        self.cached = None;
    }

    /// A set's earliest expiry came down to `expiry_ns` (the table's expiry index says
    /// so): plan again if that is before the planned visit.
    pub(crate) fn note_expiry(&mut self, expiry_ns: u64) {
        if self.cached.is_some() && expiry_ns <= self.horizon_ns {
            self.cached = None;
        }
    }

    /// A set became occupied: a blocked cursor (which walks occupied sets) plans again.
    pub(crate) fn note_occupied(&mut self) {
        if self.blocked {
            self.cached = None;
        }
    }

    /// Forget the planned visit (the timers changed).
    pub(crate) fn invalidate(&mut self) {
        self.cached = None;
    }

    /// Whether the last visit found too little room downstream and waits to redo it.
    pub(crate) fn blocked(&self) -> bool {
        self.blocked
    }

    /// The next visit at or after cycle `now` that may find something expired, or `None`
    /// when the scanner is stopped or nothing in the table can expire. `expiry` gives an
    /// entry's expiry time under the table's timers.
    #[inline]
    pub(crate) fn next(
        &mut self,
        sched: &Schedule,
        table: &mut Table,
        time: &TimeBase,
        now: u64,
        expiry: &impl Fn(&Entry) -> u64,
    ) -> Option<Visit> {
        if !sched.active() || table.len() == 0 {
            return None;
        }
        match self.cached {
            Some(v) if v.cycle >= now => Some(v),
            _ => self.plan(sched, table, time, now, expiry),
        }
    }

    /// Computes (and caches) the next visit. A blocked cursor redoes its visit (the next
    /// occupied set from its position). Otherwise it skips to the first slot at which the
    /// table's earliest expiry can have passed, then takes the first due set in sweep
    /// order, making due every set whose expiry falls before that visit.
    fn plan(
        &mut self,
        sched: &Schedule,
        table: &mut Table,
        time: &TimeBase,
        now: u64,
        expiry: &impl Fn(&Entry) -> u64,
    ) -> Option<Visit> {
        let jn = sched.first_slot_from(now);
        let sets = table.sets();
        let visit = |slot: u64, pos: u64, set: u32| {
            let from = pos % sets;
            let d = (u64::from(set) + sets - from) % sets;
            Visit {
                cycle: sched.slot_cycle(slot + d),
                slot: slot + d,
                set,
                pos: pos + d,
            }
        };
        if self.blocked {
            let slot = self.slot.max(jn);
            let set = table.next_set_wrapping(self.pos)?;
            let v = visit(slot, self.pos, set);
            self.cached = Some(v);
            self.horizon_ns = 0;
            return Some(v);
        }
        // Nothing can expire before `x`: the slots before it pass without a visit.
        let x = table.earliest(expiry)?;
        let at = time.cycle_of(x);
        let slot = self.slot.max(jn).max(sched.first_slot_from(at));
        table.promote(x, expiry);
        let pos = self.pos + (slot - self.slot);
        loop {
            let set = table.next_due_wrapping(pos)?;
            let v = visit(slot, pos, set);
            let horizon = time.ns(v.cycle);
            if !table.promote(horizon, expiry) {
                self.cached = Some(v);
                self.horizon_ns = horizon;
                return Some(v);
            }
        }
    }

    /// `v` was carried out.
    pub(crate) fn visited(&mut self, v: Visit) {
        self.pos = v.pos + 1;
        self.slot = v.slot + 1;
        self.blocked = false;
        self.cached = None;
    }

    /// `v` could not export for lack of room downstream: redo it at a later slot.
    pub(crate) fn block(&mut self, v: Visit) {
        self.pos = v.pos;
        self.slot = v.slot + 1;
        self.blocked = true;
        self.cached = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use nsflow_rtl::FlowKey;

    #[test]
    fn slot_test_does_not_overflow_after_decades_of_cycles() {
        let s = Schedule::new(0, 255);
        // 2^62 cycles (~585 years at 250 MHz) times the share overflows u64 arithmetic.
        let c = 1u64 << 62;
        let slots = (c..c + 256).filter(|x| s.is_slot(*x)).count();
        assert_eq!(slots, 255, "255 of every 256 cycles are scanner slots");
        assert!(
            s.is_slot(u64::MAX - 1) || s.is_slot(u64::MAX),
            "no overflow at the end"
        );
    }

    #[test]
    fn slots_are_spread_evenly() {
        let s = Schedule::new(100, 32);
        let slots: Vec<u64> = (100..140).filter(|c| s.is_slot(*c)).collect();
        assert_eq!(slots, vec![107, 115, 123, 131, 139]);
        for (j, c) in slots.iter().enumerate() {
            assert_eq!(s.slot_cycle(j as u64), *c);
            assert_eq!(s.first_slot_from(*c), j as u64);
            assert_eq!(s.first_slot_from(c - 7), j as u64);
        }
        assert_eq!(s.free_cycle(107), 108);
        let all = Schedule::new(0, 255);
        assert!((0..255).filter(|c| all.is_slot(*c)).count() == 254);
        assert!(!Schedule::new(0, 0).active());
    }

    #[test]
    fn cursor_visits_due_sets_in_sweep_order_and_jumps_to_the_first_expiry() {
        let clock = TimeBase::new(Clock::new(1_000_000_000)); // 1 ns cycles
        let sched = Schedule::new(0, 128); // a slot every 2 cycles: 1, 3, 5, ...
        let exp = |e: &Entry| e.last_ns + 1000;
        let mut t = Table::new(3, 2);
        let e = |port: u16, last_ns: u64| Entry {
            key: FlowKey {
                src_port: port,
                ..FlowKey::default()
            },
            flows: 1,
            packets: 1,
            bytes: 1,
            first_ns: 0,
            last_ns,
            tcp_flags: 0,
        };
        let (a, _, _) = t.insert(5, e(1, 0));
        t.note_expiry(a, 1000);
        let (b, _, _) = t.insert(2, e(2, 10));
        t.note_expiry(b, 1010);
        let mut c = Cursor::new();
        // Nothing can expire before 1000 ns: the first visit is set 5's first slot from
        // there (slot 499 is cycle 999; position 499 is set 3, so set 5 is 2 slots on).
        let v = c.next(&sched, &mut t, &clock, 0, &exp).unwrap();
        assert_eq!((v.set, v.slot, v.cycle), (5, 501, 1003));
        // Set 2 (expiring at 1010) is due by then too, but comes later in the sweep.
        c.visited(v);
        t.entry_mut(a).last_ns = 4000; // refreshed: expires at 5000
        t.settle(5, 1003, &exp);
        let v = c.next(&sched, &mut t, &clock, 1004, &exp).unwrap();
        assert_eq!((v.set, v.slot), (2, 506));
        c.visited(v);
        t.entry_mut(b).last_ns = 5000;
        t.settle(2, v.cycle, &exp);
        // Both pending again, and a new entry in set 7 expiring at 2000: the next visit is
        // set 7's first slot from there.
        let (d, _, _) = t.insert(7, e(3, 1000));
        assert!(t.note_expiry(d, 2000));
        let w = c.next(&sched, &mut t, &clock, v.cycle + 1, &exp).unwrap();
        assert!(
            w.set == 7 && w.cycle >= 2000 && w.cycle < 2000 + 16,
            "{w:?}"
        );
        // A lower expiry noted before the planned visit makes the cursor plan again.
        let (f, _, _) = t.insert(3, e(4, 500));
        assert!(t.note_expiry(f, 1500));
        c.note_expiry(1500);
        // Nothing before 1500; set 7, already due, comes first in the sweep (a visit that
        // finds nothing), then set 3.
        let x = c.next(&sched, &mut t, &clock, v.cycle + 1, &exp).unwrap();
        assert_eq!((x.set, x.cycle), (7, 1503));
        c.visited(x);
        t.settle(7, x.cycle, &exp);
        let y = c.next(&sched, &mut t, &clock, x.cycle + 1, &exp).unwrap();
        assert_eq!((y.set, y.cycle, y.pos % 8), (3, 1511, 3));
    }
}
