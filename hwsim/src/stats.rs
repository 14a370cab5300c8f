//! The device's 64-bit statistics: live counters and the snapshot `CTRL.stats_snapshot`
//! latches. Counter identities are `nsflow_rtl::regs::GlobalStat` and `ProfileStat`, the
//! enums generated from the register map, so a renamed or removed statistic fails the
//! build instead of silently reading 0. Ingress counters are kept by the
//! contract's own `IngressCounters` (the same code the reference aggregator counts with).

use nsflow_rtl::parser::ParseErrorReason;
use nsflow_rtl::reference::IngressCounters;
use nsflow_rtl::regs::{GlobalStat, ProfileStat, NUM_PROFILES};

/// Indices of the global statistics the engine counts (the ingress ones come from
/// [`IngressCounters`] at snapshot time).
pub(crate) mod global {
    use nsflow_rtl::regs::GlobalStat;
    /// Original flows created.
    pub const ORIG_CREATED: usize = GlobalStat::OrigCreated.index();
    /// Original flows evicted.
    pub const ORIG_EVICTED: usize = GlobalStat::OrigEvicted.index();
    /// Aged idle.
    pub const ORIG_AGED_IDLE: usize = GlobalStat::OrigAgedIdle.index();
    /// Aged active.
    pub const ORIG_AGED_ACTIVE: usize = GlobalStat::OrigAgedActive.index();
    /// Aged FIN/RST or overflow.
    pub const ORIG_AGED_END: usize = GlobalStat::OrigAgedEnd.index();
    /// Aged by flush.
    pub const ORIG_AGED_FORCED: usize = GlobalStat::OrigAgedForced.index();
    /// Records in the ring.
    pub const RECORDS_WRITTEN: usize = GlobalStat::RecordsWritten.index();
    /// Record FIFO waiting for ring space, cycles.
    pub const STALL_RING_FULL: usize = GlobalStat::StallRingFull.index();
    /// Packets waiting at ingress, cycles.
    pub const STALL_INGRESS: usize = GlobalStat::StallIngress.index();
    /// Table bandwidth and hazards, cycles.
    pub const STALL_TABLE: usize = GlobalStat::StallTable.index();
}

/// Indices of the per-profile statistics.
pub(crate) mod profile {
    use nsflow_rtl::regs::ProfileStat;
    /// Records written to the ring.
    pub const RECORDS: usize = ProfileStat::Records.index();
    /// Aggregates created.
    pub const CREATED: usize = ProfileStat::Created.index();
    /// Aggregates evicted.
    pub const EVICTED: usize = ProfileStat::Evicted.index();
    /// Flows merged.
    pub const MERGED_FLOWS: usize = ProfileStat::MergedFlows.index();
    /// Packets merged.
    pub const MERGED_PACKETS: usize = ProfileStat::MergedPackets.index();
    /// Bytes merged.
    pub const MERGED_BYTES: usize = ProfileStat::MergedBytes.index();
    /// Records dropped.
    pub const DROP_RECORDS: usize = ProfileStat::DropRecords.index();
    /// Flows in dropped records.
    pub const DROP_FLOWS: usize = ProfileStat::DropFlows.index();
    /// Packets in dropped records.
    pub const DROP_PACKETS: usize = ProfileStat::DropPackets.index();
    /// Bytes in dropped records.
    pub const DROP_BYTES: usize = ProfileStat::DropBytes.index();
}

const NG: usize = GlobalStat::ALL.len();
const NP: usize = ProfileStat::ALL.len();
const PROFILES: usize = NUM_PROFILES as usize;

/// The ingress counters' places among the global statistics.
#[derive(Debug, Clone)]
struct IngressIndex {
    simple: [usize; 7],
    errors: [usize; ParseErrorReason::ALL.len()],
}

impl IngressIndex {
    fn new() -> Self {
        let simple = [
            GlobalStat::RxFrames,
            GlobalStat::Ipv6Packets,
            GlobalStat::Ipv6Bytes,
            GlobalStat::Ipv4Packets,
            GlobalStat::Ipv4Bytes,
            GlobalStat::OtherFrames,
            GlobalStat::ErrIpv6Bytes,
        ]
        .map(GlobalStat::index);
        let errors = ParseErrorReason::ALL.map(|r| GlobalStat::parse_error(r).index());
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
            out[*i] = v;
        }
        for (i, r) in self.errors.iter().zip(ParseErrorReason::ALL) {
            {
                out[*i] = c.errors_of(r);
            }
        }
    }
}

/// Every statistic as one set of values (live or latched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Values {
    /// Global statistics in `GlobalStat` order.
    pub global: [u64; NG],
    /// Per profile, in `ProfileStat` order.
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
        // Ingress + engine indices cover every global statistic exactly once.
        let mut seen = [0u32; NG];
        for i in ix.simple.iter().chain(ix.errors.iter()) {
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
        assert_eq!(l.global[GlobalStat::RxFrames.index()], 3);
        assert_eq!(l.global[global::ORIG_CREATED], 2);
        assert_eq!(l.global[global::STALL_RING_FULL], 5);
        assert_eq!(l.profile[1][profile::DROP_BYTES], 7);
    }
}
