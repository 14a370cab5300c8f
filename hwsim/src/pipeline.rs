//! What travels between the engine's stages, and the read-after-write hazard tracker of a
//! table port.
//!
//! Ingress → parser → lookups → stage-1 table: a packet is parsed and keyed when it enters
//! (the functions are the contract's, applied once) and then carries its key, set and
//! fields for `parser_latency + lookup_latency` cycles until its table access. Stage 1
//! hands ended original flows to the merge unit through the flow queue; stage 2 hands
//! records to the DMA engine through the record FIFO.

use nsflow_rtl::parser::Ipv6Fields;
use nsflow_rtl::record::Record;
use nsflow_rtl::stage::Entry;
use nsflow_rtl::FlowKey;

/// A keyed packet on its way to the stage-1 table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Packet {
    /// Cycle it reaches the table stage (ingress + parser + lookup latency).
    pub ready: u64,
    /// Arrival timestamp, device nanoseconds.
    pub ts_ns: u64,
    /// Full stage-1 key.
    pub key: FlowKey,
    /// Its CRC-32C (`flow_hash`).
    pub hash: u32,
    /// Its set in the stage-1 table.
    pub set: u32,
    /// Parsed fields (bytes, TCP flags, protocol).
    pub fields: Ipv6Fields,
}

/// An original flow that stage 1 ended, waiting for the merge unit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EndedFlow {
    /// Cycle its write-back completes (it may be merged from the next cycle on).
    pub ready: u64,
    /// The flow.
    pub entry: Entry,
}

/// A record waiting for the DMA engine.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueuedRecord {
    /// Cycle it entered the FIFO.
    pub ready: u64,
    /// The record (phase bit filled in by the DMA engine).
    pub record: Record,
}

/// Recent accesses of one table port: a set read at cycle `c` is written back at
/// `c + latency`; a second access to the same set must wait for that.
#[derive(Debug, Clone)]
pub(crate) struct Hazard {
    recent: Vec<(u32, u64)>,
    next: usize,
    /// The latest cycle recorded (`None` when nothing is): when its write-back is done,
    /// no access can be waiting.
    newest: Option<u64>,
}

impl Hazard {
    /// A tracker remembering the last `depth` accesses (the port does one per cycle, so
    /// `depth` ≥ latency suffices).
    pub(crate) fn new(depth: usize) -> Self {
        Self {
            recent: vec![(0, u64::MAX); depth.max(1)],
            next: 0,
            newest: None,
        }
    }

    /// The first cycle ≥ `t` at which `set` may be read, given `latency`.
    #[inline]
    pub(crate) fn clear_at(&self, set: u32, t: u64, latency: u64) -> u64 {
        if self.newest.is_none_or(|c| c.saturating_add(latency) <= t) {
            return t;
        }
        self.recent
            .iter()
            .filter(|(s, c)| *s == set && *c != u64::MAX && c + latency > t)
            .map(|(_, c)| c + latency)
            .fold(t, u64::max)
    }

    /// `set` was accessed at cycle `c`.
    pub(crate) fn record(&mut self, set: u32, c: u64) {
        self.recent[self.next] = (set, c);
        self.newest = Some(self.newest.map_or(c, |n| n.max(c)));
        self.next += 1;
        if self.next == self.recent.len() {
            self.next = 0;
        }
    }

    /// Forgets every access (soft reset).
    pub(crate) fn clear(&mut self) {
        self.recent.iter_mut().for_each(|r| *r = (0, u64::MAX));
        self.newest = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_set_waits_for_the_write_back() {
        let mut h = Hazard::new(8);
        assert_eq!(h.clear_at(0, 0, 8), 0);
        h.record(7, 100);
        assert_eq!(h.clear_at(7, 101, 8), 108);
        assert_eq!(h.clear_at(7, 108, 8), 108);
        assert_eq!(h.clear_at(6, 101, 8), 101);
        // Older accesses stay remembered behind a newer one of another set.
        h.record(6, 103);
        assert_eq!(h.clear_at(7, 104, 8), 108);
        assert_eq!(h.clear_at(6, 111, 8), 111);
        h.clear();
        assert_eq!(h.clear_at(6, 104, 8), 104);
    }
}
