//! What `display ipv6 netstream cache aggregation MODE` shows: the device exports
//! aggregates rather than exposing its tables, so the driver keeps, per mode, every
//! aggregate it has exported so far, merged by key (an aggregate exported several times,
//! e.g. by the active timeout, is one line with the sum of its records).

use nsflow_exporter::FlowRecord;
use nsflow_rtl::FlowKey;
use std::collections::BTreeMap;

/// Distinct keys kept per mode; records of further keys are only counted.
pub const KEYS_PER_MODE: usize = 100_000;

/// One aggregate as exported so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheEntry {
    /// Records exported for this key.
    pub records: u64,
    /// Original flows merged.
    pub flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// First packet, UNIX ms.
    pub start_ms: u64,
    /// Last packet, UNIX ms.
    pub end_ms: u64,
}

/// The exported aggregates of one mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModeCache {
    /// By masked key, at most [`KEYS_PER_MODE`].
    pub entries: BTreeMap<FlowKey, CacheEntry>,
    /// Records of keys beyond the limit (counted, not kept).
    pub untracked_records: u64,
    /// Packets of those records.
    pub untracked_packets: u64,
}

impl ModeCache {
    /// Adds one exported record.
    pub fn add(&mut self, f: &FlowRecord) {
        let full = self.entries.len() >= KEYS_PER_MODE;
        let e = match self.entries.get_mut(&f.key) {
            Some(e) => e,
            None if full => {
                self.untracked_records += 1;
                self.untracked_packets += f.packets;
                return;
            }
            None => self.entries.entry(f.key).or_insert(CacheEntry {
                start_ms: f.start_ms,
                end_ms: f.end_ms,
                ..CacheEntry::default()
            }),
        };
        e.records += 1;
        e.flows += f.flows;
        e.packets += f.packets;
        e.bytes += f.bytes;
        e.start_ms = e.start_ms.min(f.start_ms);
        e.end_ms = e.end_ms.max(f.end_ms);
    }

    /// Packets over every record seen (kept or not).
    pub fn packets(&self) -> u64 {
        self.entries.values().map(|e| e.packets).sum::<u64>() + self.untracked_packets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsflow_rtl::{AggregationMode, EndReason};

    fn rec(port: u16, packets: u64, start_ms: u64, end_ms: u64) -> FlowRecord {
        FlowRecord {
            mode: AggregationMode::ProtocolPort,
            key: FlowKey {
                dst_port: port,
                ..FlowKey::default()
            },
            flows: 1,
            packets,
            bytes: 100 * packets,
            start_ms,
            end_ms,
            end_reason: EndReason::Active,
        }
    }

    #[test]
    fn records_of_one_key_merge_and_times_widen() {
        let mut c = ModeCache::default();
        c.add(&rec(80, 2, 1000, 2000));
        c.add(&rec(80, 3, 500, 1500));
        c.add(&rec(443, 1, 7, 7));
        assert_eq!(c.entries.len(), 2);
        let e = c.entries[&rec(80, 0, 0, 0).key];
        assert_eq!(
            (e.records, e.flows, e.packets, e.bytes, e.start_ms, e.end_ms),
            (2, 2, 5, 500, 500, 2000)
        );
        assert_eq!(c.packets(), 6);
    }

    #[test]
    fn keys_beyond_the_limit_are_counted_not_kept() {
        let mut c = ModeCache::default();
        for p in 0..KEYS_PER_MODE as u64 + 3 {
            let mut r = rec(0, 1, 0, 0);
            r.key.src_as = p as u32;
            c.add(&r);
        }
        assert_eq!(c.entries.len(), KEYS_PER_MODE);
        assert_eq!((c.untracked_records, c.untracked_packets), (3, 3));
        assert_eq!(c.packets(), KEYS_PER_MODE as u64 + 3);
        // A key already kept still merges at the limit.
        let mut r = rec(0, 5, 0, 0);
        r.key.src_as = 0;
        c.add(&r);
        assert_eq!(c.entries[&r.key].packets, 6);
    }
}
