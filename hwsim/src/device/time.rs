//! Device time: the nanosecond clock, the aging clock, and running the engine up to a
//! capture time, for some cycles, or until it is idle.

use super::Device;

impl Device {
    /// The device nanosecond clock at cycle `c`.
    pub(super) fn dev_ns(&self, c: u64) -> u64 {
        self.time.ns(c)
    }

    /// The first cycle at which the device clock reads at least `ns`.
    pub(super) fn cycle_of_ns(&self, ns: u64) -> u64 {
        self.time.cycle_of(ns)
    }

    /// The aging clock at cycle `c`: device time, held back to the oldest packet still on
    /// its way to stage 1.
    pub(super) fn aging_ns(&mut self, c: u64) -> u64 {
        let a = self.aging_at(c);
        self.aging_floor_ns = self.aging_floor_ns.max(a);
        a
    }

    /// The aging clock at cycle `c`, without recording a decision made at it.
    pub(super) fn aging_at(&self, c: u64) -> u64 {
        let n = self.dev_ns(c);
        self.pipeline.front().map_or(n, |p| p.ts_ns.min(n))
    }

    /// Runs the engine until just before capture time `ts_ns` (mapped like frame times),
    /// e.g. to let idle flows age out after the last frame. Idle time is skipped.
    pub fn advance_to(&mut self, ts_ns: u64) {
        let now_ns = self.now_ns();
        let mapped = self.capture.map(ts_ns, now_ns);
        self.run_to_cycle(self.cycle_of_ns(mapped));
    }

    /// Runs the engine for `ns` more nanoseconds of device time with no traffic (a host
    /// that keeps the model on the wall clock while no frame arrives): the scanner ages
    /// what expires meanwhile. Idle time is skipped; the capture mapping is untouched.
    pub fn advance_ns(&mut self, ns: u64) {
        let target = self.now_ns().saturating_add(ns);
        self.run_to_cycle(self.cycle_of_ns(target));
    }

    /// Runs the engine up to cycle `a` and makes it the current cycle (never backwards).
    fn run_to_cycle(&mut self, a: u64) {
        self.run_until(a);
        self.now = self.now.max(a);
    }

    /// Runs the engine for `cycles` more cycles.
    pub fn advance_cycles(&mut self, cycles: u64) {
        let target = self.now.saturating_add(cycles);
        self.run_until(target.saturating_add(1));
        self.now = self.now.max(target);
    }

    /// Runs until nothing is in flight, or until the engine waits for the host (ring full)
    /// or has stopped; pending interrupt moderation completes. The aging scanner's work
    /// up to the returned cycle is done. Returns the current cycle.
    pub fn run_until_idle(&mut self) -> u64 {
        while let Some(c) = self.next_work(true) {
            self.run_until(c.saturating_add(1));
        }
        self.now
    }
}
