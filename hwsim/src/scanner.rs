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

use crate::clock::Clock;
use crate::table::Table;

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
        let s = u128::from(self.share.max(1));
        let off = ((u128::from(j) + 1) * 256).div_ceil(s) - 1;
        self.epoch
            .saturating_add(u64::try_from(off).unwrap_or(u64::MAX))
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
        (d + 1) * self.share / 256 > d * self.share / 256
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
    bound_ns: u64,
    sweep_start: u64,
    cached: Option<Visit>,
}

impl Cursor {
    /// A cursor at set 0 of a new schedule, with no knowledge of expiries yet.
    pub(crate) fn new() -> Self {
        Self {
            pos: 0,
            slot: 0,
            blocked: false,
            bound_ns: 0,
            sweep_start: 0,
            cached: None,
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

    /// An entry may now expire at `expiry_ns`: keep the lower bound below it.
    pub(crate) fn note_expiry(&mut self, expiry_ns: u64) {
        if expiry_ns < self.bound_ns {
            self.bound_ns = expiry_ns;
            self.cached = None;
        }
    }

    /// A set became occupied, or the timers changed: forget the planned visit.
    pub(crate) fn invalidate(&mut self) {
        self.cached = None;
    }

    /// Forget what is known about expiries (timers changed).
    pub(crate) fn forget_bound(&mut self) {
        self.bound_ns = 0;
        self.cached = None;
    }

    /// Whether the last visit found too little room downstream and waits to redo it.
    pub(crate) fn blocked(&self) -> bool {
        self.blocked
    }

    /// The next visit at or after cycle `now`, or `None` when the scanner is stopped or
    /// the table empty.
    #[inline]
    pub(crate) fn next(
        &mut self,
        sched: &Schedule,
        table: &Table,
        clock: Clock,
        origin: u64,
        now: u64,
    ) -> Option<Visit> {
        if !sched.active() || table.len() == 0 {
            return None;
        }
        match self.cached {
            Some(v) if v.cycle >= now => Some(v),
            _ => self.plan(sched, table, clock, origin, now),
        }
    }

    /// Computes (and caches) the next visit.
    fn plan(
        &mut self,
        sched: &Schedule,
        table: &Table,
        clock: Clock,
        origin: u64,
        now: u64,
    ) -> Option<Visit> {
        if !self.blocked && self.bound_ns == u64::MAX {
            return None;
        }
        let jn = sched.first_slot_from(now);
        let (slot, pos) = if self.blocked {
            (self.slot.max(jn), self.pos)
        } else {
            let bound_cycle = origin.saturating_add(clock.cycle_at_or_after(self.bound_ns));
            let j = self.slot.max(jn).max(sched.first_slot_from(bound_cycle));
            (j, self.pos + (j - self.slot))
        };
        let sets = table.sets();
        let from = pos % sets;
        let set = table.next_set_wrapping(from)?;
        let d = (u64::from(set) + sets - from) % sets;
        let v = Visit {
            cycle: sched.slot_cycle(slot + d),
            slot: slot + d,
            set,
            pos: pos + d,
        };
        self.cached = Some(v);
        Some(v)
    }

    /// `v` was carried out. Returns true when a full sweep has passed since the expiry
    /// bound was last computed: the caller recomputes it ([`Self::set_bound`]).
    pub(crate) fn visited(&mut self, v: Visit, sets: u64) -> bool {
        self.pos = v.pos + 1;
        self.slot = v.slot + 1;
        self.blocked = false;
        self.cached = None;
        self.pos - self.sweep_start >= sets
    }

    /// `v` could not export for lack of room downstream: redo it at a later slot.
    pub(crate) fn block(&mut self, v: Visit) {
        self.pos = v.pos;
        self.slot = v.slot + 1;
        self.blocked = true;
        self.cached = None;
    }

    /// The exact earliest expiry in the table, computed after a sweep.
    pub(crate) fn set_bound(&mut self, bound_ns: u64) {
        self.bound_ns = bound_ns;
        self.sweep_start = self.pos;
        self.cached = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsflow_rtl::stage::Entry;
    use nsflow_rtl::FlowKey;

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
    fn cursor_skips_empty_sets_and_waits_for_the_bound() {
        let clock = Clock::new(1_000_000_000); // 1 ns cycles
        let sched = Schedule::new(0, 128); // a slot every 2 cycles: 1, 3, 5, ...
        let mut t = Table::new(3, 2);
        let e = Entry {
            key: FlowKey::default(),
            flows: 1,
            packets: 1,
            bytes: 1,
            first_ns: 0,
            last_ns: 0,
            tcp_flags: 0,
        };
        t.insert(5, e);
        let mut c = Cursor::new();
        let v = c.next(&sched, &t, clock, 0, 0).unwrap();
        assert_eq!((v.set, v.slot, v.cycle), (5, 5, 11));
        assert!(!c.visited(v, t.sets()));
        // Next visit of set 5 is a sweep (8 slots) later.
        let v = c.next(&sched, &t, clock, 0, 12).unwrap();
        assert_eq!((v.set, v.slot), (5, 13));
        assert!(c.visited(v, t.sets()));
        // Nothing can expire before 1000 ns: the cursor jumps there.
        c.set_bound(1000);
        let v = c.next(&sched, &t, clock, 0, 28).unwrap();
        assert!(v.cycle >= 1000 && v.set == 5, "{v:?}");
        assert_eq!(v.pos % 8, 5);
    }
}
