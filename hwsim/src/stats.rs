//! The device's 64-bit statistics: live counters and the snapshot `CTRL.stats_snapshot`
//! latches. Counter identities come from `nsflow_rtl::regs::GLOBAL_STATS` and
//! `PROFILE_STATS` by name, resolved at compile time, so a renamed or removed statistic
//! fails the build instead of silently reading 0. Ingress counters are kept by the
//! contract's own `IngressCounters` (the same code the reference aggregator counts with).

use nsflow_rtl::parser::ParseErrorReason;
use nsflow_rtl::reference::IngressCounters;
use nsflow_rtl::regs::{global_stat_index, GLOBAL_STATS, NUM_PROFILES, PROFILE_STATS};

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Index of `name` in a statistics table; a name not in the table is a compile error
/// where this is evaluated in a constant.
const fn index_of(table: &[(&str, &str)], name: &str) -> usize {
    let mut i = 0;
    while i < table.len() {
        if str_eq(table[i].0, name) {
            return i;
        }
        i += 1;
    }
    panic!("statistic not in the register map")
}

/// Indices of the global statistics the engine counts (the ingress ones come from
/// [`IngressCounters`] at snapshot time).
pub(crate) mod global {
    use super::{index_of, GLOBAL_STATS as G};
    /// Original flows created.
    pub const ORIG_CREATED: usize = index_of(&G, "orig_created");
    /// Original flows evicted.
    pub const ORIG_EVICTED: usize = index_of(&G, "orig_evicted");
    /// Aged idle.
    pub const ORIG_AGED_IDLE: usize = index_of(&G, "orig_aged_idle");
    /// Aged active.
    pub const ORIG_AGED_ACTIVE: usize = index_of(&G, "orig_aged_active");
    /// Aged FIN/RST or overflow.
    pub const ORIG_AGED_END: usize = index_of(&G, "orig_aged_end");
    /// Aged by flush.
    pub const ORIG_AGED_FORCED: usize = index_of(&G, "orig_aged_forced");
    /// Records in the ring.
    pub const RECORDS_WRITTEN: usize = index_of(&G, "records_written");
    /// Record FIFO waiting for ring space, cycles.
    pub const STALL_RING_FULL: usize = index_of(&G, "stall_ring_full");
    /// Packets waiting at ingress, cycles.
    pub const STALL_INGRESS: usize = index_of(&G, "stall_ingress");
    /// Table bandwidth and hazards, cycles.
    pub const STALL_TABLE: usize = index_of(&G, "stall_table");
}

/// Indices of the per-profile statistics.
pub(crate) mod profile {
    use super::{index_of, PROFILE_STATS as P};
    /// Records written to the ring.
    pub const RECORDS: usize = index_of(&P, "records");
    /// Aggregates created.
    pub const CREATED: usize = index_of(&P, "created");
    /// Aggregates evicted.
    pub const EVICTED: usize = index_of(&P, "evicted");
    /// Flows merged.
    pub const MERGED_FLOWS: usize = index_of(&P, "merged_flows");
    /// Packets merged.
    pub const MERGED_PACKETS: usize = index_of(&P, "merged_packets");
    /// Bytes merged.
    pub const MERGED_BYTES: usize = index_of(&P, "merged_bytes");
    /// Records dropped.
    pub const DROP_RECORDS: usize = index_of(&P, "drop_records");
    /// Flows in dropped records.
    pub const DROP_FLOWS: usize = index_of(&P, "drop_flows");
    /// Packets in dropped records.
    pub const DROP_PACKETS: usize = index_of(&P, "drop_packets");
    /// Bytes in dropped records.
    pub const DROP_BYTES: usize = index_of(&P, "drop_bytes");
}

const NG: usize = GLOBAL_STATS.len();
const NP: usize = PROFILE_STATS.len();
const PROFILES: usize = NUM_PROFILES as usize;

/// The ingress counters' places among the global statistics, looked up once.
#[derive(Debug, Clone)]
struct IngressIndex {
    simple: [Option<usize>; 7],
    errors: [Option<usize>; ParseErrorReason::ALL.len()],
}

impl IngressIndex {
    fn new() -> Self {
        let simple = [
            "rx_frames",
            "ipv6_packets",
            "ipv6_bytes",
            "ipv4_packets",
            "ipv4_bytes",
            "other_frames",
            "err_ipv6_bytes",
        ]
        .map(global_stat_index);
        let errors = ParseErrorReason::ALL.map(|r| global_stat_index(&format!("err_{}", r.name())));
        Self { simple, errors }
    }

    fn fill(&self, c: &IngressCounters, out: &mut [u64; NG]) {
        let values = [
            c.rx_frames,
            c.ipv6_packets,
            c.ipv6_bytes,
            c.ipv4_packets,
            c.ipv4_bytes,
            c.other_frames,
            c.err_ipv6_bytes,
        ];
        for (i, v) in self.simple.iter().zip(values) {
            if let Some(i) = i {
                out[*i] = v;
            }
        }
        for (i, r) in self.errors.iter().zip(ParseErrorReason::ALL) {
            if let Some(i) = i {
                out[*i] = c.errors_of(r);
            }
        }
    }
}

/// Every statistic as one set of values (live or latched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Values {
    /// Global statistics in `GLOBAL_STATS` order.
    pub global: [u64; NG],
    /// Per profile, in `PROFILE_STATS` order.
    pub profile: [[u64; NP]; PROFILES],
}

impl Default for Values {
    fn default() -> Self {
        Self {
            global: [0; NG],
            profile: [[0; NP]; PROFILES],
        }
    }
}

/// The live counters and the latched snapshot.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    /// Parser-stage counters, counted by the contract's `IngressCounters::count`.
    pub ingress: IngressCounters,
    /// Engine counters (ingress slots unused here; filled at snapshot).
    pub live: Values,
    latched: Values,
    index: IngressIndex,
}

impl Stats {
    /// Zeroed counters.
    pub(crate) fn new() -> Self {
        Self {
            ingress: IngressCounters::default(),
            live: Values::default(),
            latched: Values::default(),
            index: IngressIndex::new(),
        }
    }

    /// Zeroes everything (soft reset).
    pub(crate) fn reset(&mut self) {
        self.ingress = IngressCounters::default();
        self.live = Values::default();
        self.latched = Values::default();
    }

    /// Adds to global statistic `i`.
    pub(crate) fn add(&mut self, i: usize, n: u64) {
        self.live.global[i] = self.live.global[i].wrapping_add(n);
    }

    /// Adds to statistic `i` of profile `p`.
    pub(crate) fn add_profile(&mut self, p: usize, i: usize, n: u64) {
        if let Some(row) = self.live.profile.get_mut(p) {
            row[i] = row[i].wrapping_add(n);
        }
    }

    /// Every statistic now; `ring_stall_open` adds the cycles of a ring-full wait still
    /// in progress.
    pub(crate) fn current(&self, ring_stall_open: u64) -> Values {
        let mut v = self.live.clone();
        self.index.fill(&self.ingress, &mut v.global);
        v.global[global::STALL_RING_FULL] =
            v.global[global::STALL_RING_FULL].wrapping_add(ring_stall_open);
        v
    }

    /// Latches every statistic at once (`CTRL.stats_snapshot`).
    pub(crate) fn snapshot(&mut self, ring_stall_open: u64) {
        self.latched = self.current(ring_stall_open);
    }

    /// The latched values, as BAR reads return them.
    pub(crate) fn latched(&self) -> &Values {
        &self.latched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ingress_counter_has_a_register() {
        let ix = IngressIndex::new();
        assert!(ix.simple.iter().all(Option::is_some));
        assert!(ix.errors.iter().all(Option::is_some));
        // Ingress + engine indices cover every global statistic exactly once.
        let mut seen = [0u32; NG];
        for i in ix.simple.iter().chain(ix.errors.iter()).flatten() {
            seen[*i] += 1;
        }
        for i in [
            global::ORIG_CREATED,
            global::ORIG_EVICTED,
            global::ORIG_AGED_IDLE,
            global::ORIG_AGED_ACTIVE,
            global::ORIG_AGED_END,
            global::ORIG_AGED_FORCED,
            global::RECORDS_WRITTEN,
            global::STALL_RING_FULL,
            global::STALL_INGRESS,
            global::STALL_TABLE,
        ] {
            seen[i] += 1;
        }
        assert!(seen.iter().all(|n| *n == 1), "{seen:?}");
    }

    #[test]
    fn snapshot_latches() {
        let mut s = Stats::new();
        s.ingress.rx_frames = 3;
        s.add(global::ORIG_CREATED, 2);
        s.add_profile(1, profile::DROP_BYTES, 7);
        s.snapshot(5);
        s.add(global::ORIG_CREATED, 1);
        let l = s.latched();
        assert_eq!(l.global[global_stat_index("rx_frames").unwrap()], 3);
        assert_eq!(l.global[global::ORIG_CREATED], 2);
        assert_eq!(l.global[global::STALL_RING_FULL], 5);
        assert_eq!(l.profile[1][profile::DROP_BYTES], 7);
    }
}
