//! Device time: the core clock counts cycles; the nanosecond clock (`TIME_LO/HI`, record
//! timestamps) is `cycles × 10^9 / clock_hz` since the last reset. Capture timestamps are
//! mapped onto the device clock by a constant offset fixed by the first frame after reset,
//! so relative timing is kept exactly.

const NS_PER_S: u64 = 1_000_000_000;
const US_PER_S: u64 = 1_000_000;

/// `a × num / den` rounded down (`up`: rounded up), exact; u64 arithmetic when the
/// product fits (every conversion on the hot path), u128 otherwise.
#[inline]
fn scale(a: u64, num: u64, den: u64, up: bool) -> u64 {
    match a.checked_mul(num) {
        Some(p) if up => p.div_ceil(den),
        Some(p) => p / den,
        None => {
            let p = u128::from(a) * u128::from(num);
            let q = if up {
                p.div_ceil(u128::from(den))
            } else {
                p / u128::from(den)
            };
            u64::try_from(q).unwrap_or(u64::MAX)
        }
    }
}

const fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Conversions between cycles and nanoseconds for one clock frequency. The ratios are
/// kept reduced (250 MHz: 4 ns per cycle exactly), so that the conversions rarely need
/// more than a 64-bit multiply and divide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clock {
    /// 10^9 / gcd(hz, 10^9) and hz / gcd(hz, 10^9).
    ns_num: u64,
    ns_den: u64,
    /// hz / gcd(hz, 10^6) and 10^6 / gcd(hz, 10^6).
    us_num: u64,
    us_den: u64,
}

impl Clock {
    /// A clock of `hz` (non-zero; checked by `BuildParams::validate`).
    pub(crate) fn new(hz: u64) -> Self {
        let hz = hz.max(1);
        let (g, h) = (gcd(hz, NS_PER_S), gcd(hz, US_PER_S));
        Self {
            ns_num: NS_PER_S / g,
            ns_den: hz / g,
            us_num: hz / h,
            us_den: US_PER_S / h,
        }
    }

    /// Nanoseconds elapsed after `cycles` cycles (rounded down).
    pub(crate) fn ns(self, cycles: u64) -> u64 {
        scale(cycles, self.ns_num, self.ns_den, false)
    }

    /// The first cycle at which at least `ns` nanoseconds have elapsed.
    pub(crate) fn cycle_at_or_after(self, ns: u64) -> u64 {
        scale(ns, self.ns_den, self.ns_num, true)
    }

    /// Cycles in `us` microseconds (rounded down).
    pub(crate) fn cycles_of_us(self, us: u64) -> u64 {
        scale(us, self.us_num, self.us_den, false)
    }
}

/// The device's nanosecond clock: cycles since the last reset at the core clock, plus the
/// forward jumps the clock-jump fault made since then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeBase {
    clock: Clock,
    origin: u64,
    jumped_ns: u64,
}

impl TimeBase {
    /// Time 0 at cycle 0.
    pub(crate) fn new(clock: Clock) -> Self {
        Self {
            clock,
            origin: 0,
            jumped_ns: 0,
        }
    }

    /// Restarts the clock at 0 at cycle `now` (soft reset).
    pub(crate) fn reset(&mut self, now: u64) {
        self.origin = now;
        self.jumped_ns = 0;
    }

    /// The cycle of the last reset.
    pub(crate) fn origin(&self) -> u64 {
        self.origin
    }

    /// Moves device time forward by `ns` from now on.
    pub(crate) fn jump(&mut self, ns: u64) {
        self.jumped_ns = self.jumped_ns.saturating_add(ns);
    }

    /// Device nanoseconds at cycle `c`.
    pub(crate) fn ns(&self, c: u64) -> u64 {
        self.clock
            .ns(c.saturating_sub(self.origin))
            .saturating_add(self.jumped_ns)
    }

    /// The first cycle at which device time is at least `ns`.
    pub(crate) fn cycle_of(&self, ns: u64) -> u64 {
        self.origin.saturating_add(
            self.clock
                .cycle_at_or_after(ns.saturating_sub(self.jumped_ns)),
        )
    }

    /// Cycles in `us` microseconds.
    pub(crate) fn cycles_of_us(&self, us: u64) -> u64 {
        self.clock.cycles_of_us(us)
    }
}

/// The mapping of capture time onto device time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CaptureBase {
    base: Option<(u64, u64)>,
}

impl CaptureBase {
    /// Device nanoseconds of capture time `ts_ns`; the first call fixes the mapping so
    /// that `ts_ns` is `device_now_ns`. Capture times before the first frame map to the
    /// mapping's origin (never below it).
    pub(crate) fn map(&mut self, ts_ns: u64, device_now_ns: u64) -> u64 {
        let (cap0, dev0) = *self.base.get_or_insert((ts_ns, device_now_ns));
        dev0.saturating_add(ts_ns.saturating_sub(cap0))
    }

    /// Device time jumped forward by `ns`: capture time maps that much later too.
    pub(crate) fn jump(&mut self, ns: u64) {
        if let Some((_, dev0)) = self.base.as_mut() {
            *dev0 = dev0.saturating_add(ns);
        }
    }

    /// Forgets the mapping (soft reset): the next frame fixes a new one.
    pub(crate) fn clear(&mut self) {
        self.base = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip() {
        let c = Clock::new(250_000_000);
        assert_eq!(c.ns(250_000_000), 1_000_000_000);
        assert_eq!(c.ns(3), 12);
        assert_eq!(c.cycle_at_or_after(12), 3);
        assert_eq!(c.cycle_at_or_after(13), 4);
        assert_eq!(c.cycles_of_us(50), 12_500);
        let odd = Clock::new(156_250_000);
        for ns in [0u64, 1, 6, 7, 1_000_000_007] {
            let cy = odd.cycle_at_or_after(ns);
            assert!(odd.ns(cy) >= ns && (cy == 0 || odd.ns(cy - 1) < ns));
        }
    }

    #[test]
    fn conversions_are_exact_beyond_64_bit_products() {
        // 2^58 cycles at an odd clock: the products overflow u64, the results do not.
        let odd = Clock::new(156_250_001);
        let c = 1u64 << 58;
        let exact = |n: u128, d: u128| u64::try_from(n / d).unwrap();
        let ns = odd.ns(c);
        assert_eq!(ns, exact(u128::from(c) * 1_000_000_000, 156_250_001));
        assert_eq!(
            odd.cycle_at_or_after(ns),
            u64::try_from((u128::from(ns) * 156_250_001).div_ceil(1_000_000_000)).unwrap()
        );
        assert_eq!(
            odd.cycles_of_us(1 << 50),
            exact(u128::from(1u64 << 50) * 156_250_001, 1_000_000)
        );
        assert_eq!(Clock::new(1).ns(u64::MAX), u64::MAX, "saturates");
    }

    #[test]
    fn capture_mapping_keeps_relative_time() {
        let mut m = CaptureBase::default();
        assert_eq!(m.map(1_700_000_000_000_000_000, 500), 500);
        assert_eq!(m.map(1_700_000_000_000_000_123, 999), 623);
        assert_eq!(m.map(5, 999), 500);
        m.jump(1000);
        assert_eq!(m.map(1_700_000_000_000_000_123, 0), 1623);
        m.clear();
        assert_eq!(m.map(5, 999), 999);
    }

    #[test]
    fn a_jump_moves_device_time_and_its_inverse() {
        let mut t = TimeBase::new(Clock::new(250_000_000));
        t.reset(100);
        assert_eq!((t.ns(100), t.ns(103), t.cycle_of(12)), (0, 12, 103));
        t.jump(2_000_000_000);
        assert_eq!(t.ns(103), 2_000_000_012);
        assert_eq!(t.cycle_of(2_000_000_012), 103);
        assert_eq!(
            t.cycle_of(5),
            100,
            "times before the jump are at the origin"
        );
        t.reset(200);
        assert_eq!(t.ns(200), 0);
    }
}
