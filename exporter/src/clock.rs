//! The time source of the export pipeline, injectable so that tests can drive template
//! refresh, options refresh and flush deadlines without waiting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of the current time in UNIX epoch milliseconds. Schedules (template refresh,
/// flush deadline) and header times (export time, sysUpTime) all read it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in milliseconds since the UNIX epoch. Must never go backwards.
    fn now_ms(&self) -> u64;
}

/// The real clock: the wall-clock time at creation plus a monotonic elapsed time, so that
/// it never goes backwards even when the system time is stepped.
#[derive(Debug)]
pub struct SystemClock {
    base_unix_ms: u64,
    base: Instant,
}

impl SystemClock {
    /// A clock reading the system time now and advancing monotonically from it.
    pub fn new() -> Self {
        let base_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self {
            base_unix_ms,
            base: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.base_unix_ms.saturating_add(elapsed)
    }
}

/// A clock that moves only when told to; clones share the same time. For tests.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<AtomicU64>,
}

impl ManualClock {
    /// A manual clock reading `unix_ms`.
    pub fn new(unix_ms: u64) -> Self {
        Self {
            now: Arc::new(AtomicU64::new(unix_ms)),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.now.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced_and_clones_share_it() {
        let c = ManualClock::new(1_000);
        let d = c.clone();
        assert_eq!(c.now_ms(), 1_000);
        d.advance(Duration::from_secs(2));
        assert_eq!(c.now_ms(), 3_000);
    }

    #[test]
    fn system_clock_is_near_the_system_time_and_monotonic() {
        let c = SystemClock::new();
        let sys = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let a = c.now_ms();
        let b = c.now_ms();
        assert!(a.abs_diff(sys) < 1_000, "{a} vs {sys}");
        assert!(b >= a);
    }
}
