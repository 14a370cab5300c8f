//! Stage 2: the merge unit folds each ended original flow into the aggregation table of
//! every enabled profile, and ended aggregates leave as records into the record FIFO.

use super::Device;
use crate::pipeline::QueuedRecord;
use crate::stats::{global, profile};
use crate::table::expiry_ns;
use nsflow_rtl::record::{EndReason, Record};
use nsflow_rtl::stage::Entry;

impl Device {
    /// Free places in the record FIFO in front of the DMA engine.
    pub(super) fn fifo_room(&self) -> usize {
        (self.params.timing.record_fifo_depth as usize).saturating_sub(self.fifo.len())
    }

    /// The cycle of the next merge: the front flow's, outside scanner slots. `None` without
    /// a flow or, unless the build drops on full, without FIFO room for one record from
    /// every enabled profile.
    pub(super) fn merge_next(&self) -> Option<u64> {
        let f = self.flows.front()?;
        if !self.params.drop_on_full && self.fifo_room() < self.enabled.len() {
            return None;
        }
        let t = f.ready.max(self.merge_free).max(self.now);
        Some(self.sched.free_cycle(t))
    }

    /// The merge unit takes the front flow into every enabled profile's table (one access
    /// per profile, each after its set's hazard); aggregates it ends (expired or evicted)
    /// become records.
    pub(super) fn merge_step(&mut self) {
        let Some(t) = self.merge_next() else { return };
        let room_before = self.flow_room();
        let Some(f) = self.flows.pop_front() else {
            return;
        };
        if room_before < 2 && self.flow_room() >= 2 {
            self.flow_room_at = t;
        }
        let base = f.ready.max(self.merge_free).max(self.fifo_room_at);
        let aging = self.aging_ns(t);
        let lat = u64::from(self.params.timing.table_latency);
        let mut end = t;
        for i in 0..self.enabled.len() {
            let p = self.enabled[i];
            let pc = self.cfg.slots[p];
            let key = f.entry.key.masked(pc.select, pc.src_min, pc.dst_min);
            let hash = self.aggs[p].hash_of(&key);
            let set = self.aggs[p].set_of(hash);
            let tp = self.agg_hazards[p].clear_at(set, t, lat);
            self.agg_hazards[p].record(set, tp);
            end = end.max(tp);
            let ready = tp + lat;
            let fresh = Entry::from_flow(key, &f.entry);
            let slot = match self.aggs[p].find(hash, &key) {
                Some(slot) => {
                    let e = self.aggs[p].entry_mut(slot);
                    match e.expired(aging, pc.active_s, pc.inactive_s) {
                        Some(reason) => {
                            let old = std::mem::replace(e, fresh);
                            self.stats.add_profile(p, profile::CREATED, 1);
                            self.emit(p, old, reason, ready);
                        }
                        None => e.merge(&f.entry),
                    }
                    slot
                }
                None => {
                    let (slot, evicted, was_empty) = self.aggs[p].insert(hash, fresh);
                    self.stats.add_profile(p, profile::CREATED, 1);
                    if let Some(ev) = evicted {
                        self.stats.add_profile(p, profile::EVICTED, 1);
                        self.emit(p, ev, EndReason::LackOfResources, ready);
                    }
                    if was_empty {
                        self.cursors[p + 1].note_occupied();
                        self.scan_changed();
                    }
                    slot
                }
            };
            let x = expiry_ns(self.aggs[p].entry(slot), pc.active_s, pc.inactive_s);
            if self.aggs[p].note_expiry(slot, x) {
                self.cursors[p + 1].note_expiry(x);
                self.scan_changed();
            }
            self.stats
                .add_profile(p, profile::MERGED_FLOWS, f.entry.flows);
            self.stats
                .add_profile(p, profile::MERGED_PACKETS, f.entry.packets);
            self.stats
                .add_profile(p, profile::MERGED_BYTES, f.entry.bytes);
        }
        self.stats.add(global::STALL_TABLE, end - base);
        self.merge_free = end + 1;
    }

    /// An aggregate leaves profile `p`: into the record FIFO, or — when the FIFO is full,
    /// which only a `drop_on_full` build allows to happen, or the device is in its error
    /// state and writes nothing — dropped and counted.
    pub(super) fn emit(&mut self, p: usize, e: Entry, reason: EndReason, ready: u64) {
        let record = Record {
            profile: p as u8,
            reason,
            phase: false,
            flows: u32::try_from(e.flows).unwrap_or(u32::MAX),
            packets: e.packets,
            bytes: e.bytes,
            first_ns: e.first_ns,
            last_ns: e.last_ns,
            key: e.key,
        };
        if self.fifo_room() > 0 && self.error.is_none() {
            self.fifo.push_back(QueuedRecord { ready, record });
        } else {
            self.count_drop(&record);
        }
    }

    /// Counts a record that is not written (FIFO full or error state) in its profile's
    /// drop statistics.
    pub(super) fn count_drop(&mut self, r: &Record) {
        let p = usize::from(r.profile);
        self.stats.add_profile(p, profile::DROP_RECORDS, 1);
        self.stats
            .add_profile(p, profile::DROP_FLOWS, u64::from(r.flows));
        self.stats.add_profile(p, profile::DROP_PACKETS, r.packets);
        self.stats.add_profile(p, profile::DROP_BYTES, r.bytes);
    }
}
