//! The masked-key table both stages are instances of: `2^sets_log2` sets of `ways` ways,
//! set chosen by the low bits of the key's CRC-32C (`nsflow_rtl::hash::bucket`), least
//! recently used way evicted when a set is full.
//!
//! Storage is sparse so that the default geometry (2^17 × 8 in stage 1, 2^16 × 8 in each
//! of 14 profiles) costs memory only for sets in use: a map from set index to a block of
//! `ways` slots in a slab (blocks are recycled, so steady state allocates nothing), plus a
//! one-bit-per-set occupancy bitmap that the scanner and the flush walk. Behaviour is
//! exactly that of a dense set-associative array.

use nsflow_rtl::hash::bucket;
use nsflow_rtl::stage::{Entry, NS_PER_S};
use nsflow_rtl::FlowKey;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hasher for set indices, which are already CRC bits: one multiply spreads them.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SetHasher(u64);

impl Hasher for SetHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01B3);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// One bit per set.
#[derive(Debug, Clone)]
pub(crate) struct Bitmap {
    words: Vec<u64>,
    bits: usize,
}

impl Bitmap {
    fn new(bits: usize) -> Self {
        Self {
            words: vec![0; bits.div_ceil(64)],
            bits,
        }
    }

    fn set(&mut self, i: usize, on: bool) {
        let (w, b) = (i / 64, i % 64);
        if on {
            self.words[w] |= 1 << b;
        } else {
            self.words[w] &= !(1 << b);
        }
    }

    /// First set bit at or after `from` (no wrap-around).
    fn next_from(&self, from: usize) -> Option<usize> {
        if from >= self.bits {
            return None;
        }
        let mut w = from / 64;
        let mut word = self.words[w] & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                return Some(w * 64 + word.trailing_zeros() as usize);
            }
            w += 1;
            word = *self.words.get(w)?;
        }
    }

    fn clear_all(&mut self) {
        self.words.iter_mut().for_each(|w| *w = 0);
    }
}

/// Earliest time at which [`Entry::expired`] is true for these timers (a zero timer
/// has always expired: `expired` saturates `now - last` at 0, and 0 ≥ 0).
pub(crate) fn expiry_ns(e: &Entry, active_s: u32, inactive_s: u32) -> u64 {
    if active_s == 0 || inactive_s == 0 {
        return 0;
    }
    let idle = e
        .last_ns
        .saturating_add(u64::from(inactive_s).saturating_mul(NS_PER_S));
    let active = e
        .first_ns
        .saturating_add(u64::from(active_s).saturating_mul(NS_PER_S));
    idle.min(active)
}

/// A set-associative flow table with LRU replacement.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    sets_log2: u8,
    ways: usize,
    blocks: HashMap<u32, u32, BuildHasherDefault<SetHasher>>,
    entries: Vec<Entry>,
    lru: Vec<u64>,
    used: Vec<u32>,
    free_blocks: Vec<u32>,
    occupied: Bitmap,
    len: usize,
    tick: u64,
}

/// Where an entry lives: its set and its slot in the slab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    set: u32,
    index: usize,
}

impl Table {
    /// An empty table of `2^sets_log2` sets of `ways` ways (1..=32).
    pub(crate) fn new(sets_log2: u8, ways: u8) -> Self {
        Self {
            sets_log2,
            ways: usize::from(ways.clamp(1, 32)),
            blocks: HashMap::default(),
            entries: Vec::new(),
            lru: Vec::new(),
            used: Vec::new(),
            free_blocks: Vec::new(),
            occupied: Bitmap::new(1usize << sets_log2),
            len: 0,
            tick: 0,
        }
    }

    /// Number of sets.
    pub(crate) fn sets(&self) -> u64 {
        1u64 << self.sets_log2
    }

    /// Ways per set.
    pub(crate) fn ways(&self) -> usize {
        self.ways
    }

    /// Entries in use.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The set of a key hash.
    pub(crate) fn set_of(&self, hash: u32) -> u32 {
        bucket(hash, self.sets_log2)
    }

    /// Looks `key` up in `set`; a hit makes the entry most recently used.
    pub(crate) fn find(&mut self, set: u32, key: &FlowKey) -> Option<Slot> {
        let block = *self.blocks.get(&set)? as usize;
        let mut used = self.used[block];
        while used != 0 {
            let way = used.trailing_zeros() as usize;
            used &= used - 1;
            let index = block * self.ways + way;
            if self.entries[index].key == *key {
                self.tick += 1;
                self.lru[index] = self.tick;
                return Some(Slot { set, index });
            }
        }
        None
    }

    /// The entry in `slot`.
    pub(crate) fn entry(&self, slot: Slot) -> &Entry {
        &self.entries[slot.index]
    }

    /// The entry in `slot`, to update it.
    pub(crate) fn entry_mut(&mut self, slot: Slot) -> &mut Entry {
        &mut self.entries[slot.index]
    }

    /// Inserts `e` (whose key is not in `set`), evicting the least recently used entry
    /// when the set is full. Returns the new slot, the evicted entry, and whether the set
    /// was empty before.
    pub(crate) fn insert(&mut self, set: u32, e: Entry) -> (Slot, Option<Entry>, bool) {
        let (block, was_empty) = match self.blocks.get(&set) {
            Some(b) => (*b as usize, false),
            None => (self.new_block(set), true),
        };
        let full = (1u64 << self.ways) - 1;
        let used = u64::from(self.used[block]);
        self.tick += 1;
        let (way, evicted) = if used != full {
            ((!used).trailing_zeros() as usize, None)
        } else {
            let base = block * self.ways;
            let way = (0..self.ways)
                .min_by_key(|w| self.lru[base + w])
                .unwrap_or(0);
            self.len -= 1;
            (way, Some(self.entries[base + way]))
        };
        let index = block * self.ways + way;
        self.entries[index] = e;
        self.lru[index] = self.tick;
        self.used[block] |= 1 << way;
        self.len += 1;
        (Slot { set, index }, evicted, was_empty)
    }

    fn new_block(&mut self, set: u32) -> usize {
        let block = match self.free_blocks.pop() {
            Some(b) => b as usize,
            None => {
                let b = self.used.len();
                self.used.push(0);
                let blank = self.entries.first().copied().unwrap_or(Entry {
                    key: FlowKey::default(),
                    flows: 0,
                    packets: 0,
                    bytes: 0,
                    first_ns: 0,
                    last_ns: 0,
                    tcp_flags: 0,
                });
                self.entries.resize(self.entries.len() + self.ways, blank);
                self.lru.resize(self.lru.len() + self.ways, 0);
                b
            }
        };
        self.blocks.insert(set, block as u32);
        self.occupied.set(set as usize, true);
        block
    }

    /// Removes the entry in `slot` and returns it.
    pub(crate) fn remove(&mut self, slot: Slot) -> Entry {
        let e = self.entries[slot.index];
        let block = slot.index / self.ways;
        self.used[block] &= !(1 << (slot.index % self.ways));
        self.len -= 1;
        if self.used[block] == 0 {
            self.blocks.remove(&slot.set);
            self.free_blocks.push(block as u32);
            self.occupied.set(slot.set as usize, false);
        }
        e
    }

    /// Entries of `set` for which `pred` holds.
    pub(crate) fn count_where(&self, set: u32, mut pred: impl FnMut(&Entry) -> bool) -> usize {
        let Some(block) = self.blocks.get(&set).map(|b| *b as usize) else {
            return 0;
        };
        (0..self.ways)
            .filter(|w| self.used[block] & (1 << w) != 0)
            .filter(|w| pred(&self.entries[block * self.ways + w]))
            .count()
    }

    /// Removes the entries of `set` for which `pred` holds, calling `out` on each (in way
    /// order).
    pub(crate) fn take_where(
        &mut self,
        set: u32,
        mut pred: impl FnMut(&Entry) -> bool,
        mut out: impl FnMut(Entry),
    ) {
        let Some(block) = self.blocks.get(&set).map(|b| *b as usize) else {
            return;
        };
        for way in 0..self.ways {
            let index = block * self.ways + way;
            if self.used[block] & (1 << way) != 0 && pred(&self.entries[index]) {
                out(self.remove(Slot { set, index }));
            }
        }
    }

    /// The first set in use at or after `from`, wrapping around.
    pub(crate) fn next_set_wrapping(&self, from: u64) -> Option<u32> {
        let from = (from % self.sets()) as usize;
        self.occupied
            .next_from(from)
            .or_else(|| self.occupied.next_from(0))
            .map(|s| s as u32)
    }

    /// The first set in use at or after `from` (no wrap-around).
    pub(crate) fn next_set(&self, from: u64) -> Option<u32> {
        usize::try_from(from)
            .ok()
            .and_then(|f| self.occupied.next_from(f))
            .map(|s| s as u32)
    }

    /// The smallest `f(entry)` over all entries (`u64::MAX` when empty).
    pub(crate) fn min_over(&self, f: impl Fn(&Entry) -> u64) -> u64 {
        let mut m = u64::MAX;
        for block in self.blocks.values() {
            let block = *block as usize;
            for way in 0..self.ways {
                if self.used[block] & (1 << way) != 0 {
                    m = m.min(f(&self.entries[block * self.ways + way]));
                }
            }
        }
        m
    }

    /// Empties the table (soft reset); keeps the slab for reuse.
    pub(crate) fn clear(&mut self) {
        self.free_blocks.clear();
        self.free_blocks.extend(0..self.used.len() as u32);
        self.used.iter_mut().for_each(|u| *u = 0);
        self.blocks.clear();
        self.occupied.clear_all();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(port: u16, t: u64) -> Entry {
        Entry {
            key: FlowKey {
                src_port: port,
                ..FlowKey::default()
            },
            flows: 1,
            packets: 1,
            bytes: 100,
            first_ns: t,
            last_ns: t,
            tcp_flags: 0,
        }
    }

    #[test]
    fn lru_eviction_in_a_full_set() {
        let mut t = Table::new(2, 2);
        let (_, ev, empty) = t.insert(1, entry(1, 0));
        assert!(ev.is_none() && empty);
        t.insert(1, entry(2, 0));
        // Touch port 1: port 2 becomes least recently used.
        assert!(t.find(1, &entry(1, 0).key).is_some());
        let (_, ev, empty) = t.insert(1, entry(3, 0));
        assert_eq!(ev.map(|e| e.key.src_port), Some(2));
        assert!(!empty);
        assert_eq!(t.len(), 2);
        assert!(t.find(1, &entry(2, 0).key).is_none());
        assert!(t.find(3, &entry(1, 0).key).is_none());
    }

    #[test]
    fn remove_frees_the_set_and_occupancy_walks() {
        let mut t = Table::new(4, 4);
        t.insert(3, entry(1, 0));
        t.insert(9, entry(2, 0));
        assert_eq!(t.next_set_wrapping(4), Some(9));
        assert_eq!(t.next_set_wrapping(10), Some(3));
        assert_eq!(t.next_set(10), None);
        let mut out = Vec::new();
        t.take_where(3, |_| true, |e| out.push(e));
        assert_eq!(out.len(), 1);
        assert_eq!(t.next_set_wrapping(10), Some(9));
        assert_eq!(t.len(), 1);
        // The freed block is reused.
        t.insert(5, entry(5, 0));
        assert_eq!(t.entries.len(), 8);
        assert_eq!(t.min_over(|e| u64::from(e.key.src_port)), 2);
        t.clear();
        assert_eq!((t.len(), t.next_set_wrapping(0)), (0, None));
    }

    #[test]
    fn expiry_matches_entry_expired() {
        let e = Entry {
            last_ns: 50 * NS_PER_S,
            ..entry(1, 10 * NS_PER_S)
        };
        for (a, i) in [(60u32, 30u32), (30, 60), (0, 0)] {
            let x = expiry_ns(&e, a, i);
            assert!(e.expired(x, a, i).is_some());
            assert!(x == 0 || e.expired(x - 1, a, i).is_none());
        }
    }
}
