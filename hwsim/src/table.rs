//! The masked-key table both stages are instances of: `2^sets_log2` sets of `ways` ways,
//! set chosen by the low bits of the key's CRC-32C (`nsflow_rtl::hash::bucket`), least
//! recently used way evicted when a set is full.
//!
//! Storage is sparse so that the default geometry (2^17 × 8 in stage 1, 2^16 × 8 in each
//! of 14 profiles) costs memory only for sets in use: a map from set index to a block of
//! `ways` slots in a slab (blocks are recycled, so steady state allocates nothing), plus a
//! one-bit-per-set occupancy bitmap that the scanner and the flush walk. Behaviour is
//! exactly that of a dense set-associative array.

use nsflow_rtl::hash::{bucket, flow_hash};
use nsflow_rtl::stage::{Entry, NS_PER_S};
use nsflow_rtl::FlowKey;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
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

/// Largest table (log2 of sets) whose set → block index is a plain array (4 bytes per
/// set); larger ones use a hash map, paying a probe per lookup to save memory.
const DENSE_INDEX_MAX_LOG2: u8 = 20;

/// Which block of slots a set uses.
#[derive(Debug, Clone)]
enum BlockIndex {
    /// One entry per set, `u32::MAX` for none.
    Dense(Vec<u32>),
    /// Only the sets in use.
    Sparse(HashMap<u32, u32, BuildHasherDefault<SetHasher>>),
}

impl BlockIndex {
    fn new(sets_log2: u8) -> Self {
        if sets_log2 <= DENSE_INDEX_MAX_LOG2 {
            Self::Dense(vec![u32::MAX; 1usize << sets_log2])
        } else {
            Self::Sparse(HashMap::default())
        }
    }

    #[inline]
    fn get(&self, set: u32) -> Option<usize> {
        match self {
            Self::Dense(v) => v
                .get(set as usize)
                .filter(|b| **b != u32::MAX)
                .map(|b| *b as usize),
            Self::Sparse(m) => m.get(&set).map(|b| *b as usize),
        }
    }

    fn insert(&mut self, set: u32, block: u32) {
        match self {
            Self::Dense(v) => v[set as usize] = block,
            Self::Sparse(m) => {
                m.insert(set, block);
            }
        }
    }

    fn remove(&mut self, set: u32) {
        match self {
            Self::Dense(v) => v[set as usize] = u32::MAX,
            Self::Sparse(m) => {
                m.remove(&set);
            }
        }
    }

    fn clear(&mut self) {
        match self {
            Self::Dense(v) => v.iter_mut().for_each(|b| *b = u32::MAX),
            Self::Sparse(m) => m.clear(),
        }
    }
}

/// One bit per set, with a summary bit per 64-bit word so that searches skip empty
/// stretches quickly, and a count of the bits set.
#[derive(Debug, Clone)]
pub(crate) struct Bitmap {
    words: Vec<u64>,
    summary: Vec<u64>,
    bits: usize,
    ones: usize,
}

impl Bitmap {
    fn new(bits: usize) -> Self {
        let words = bits.div_ceil(64);
        Self {
            words: vec![0; words],
            summary: vec![0; words.div_ceil(64)],
            bits,
            ones: 0,
        }
    }

    fn get(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }

    fn set(&mut self, i: usize, on: bool) {
        let (w, b) = (i / 64, i % 64);
        let before = self.words[w];
        if on {
            self.words[w] |= 1 << b;
        } else {
            self.words[w] &= !(1 << b);
        }
        let after = self.words[w];
        if before != after {
            if on {
                self.ones += 1;
            } else {
                self.ones -= 1;
            }
        }
        if (before == 0) != (after == 0) {
            self.summary[w / 64] ^= 1 << (w % 64);
        }
    }

    /// Number of bits set.
    fn count(&self) -> usize {
        self.ones
    }

    /// First set bit at or after `from` (no wrap-around).
    fn next_from(&self, from: usize) -> Option<usize> {
        if from >= self.bits {
            return None;
        }
        let w = from / 64;
        let word = self.words[w] & (u64::MAX << (from % 64));
        if word != 0 {
            return Some(w * 64 + word.trailing_zeros() as usize);
        }
        // The next non-empty word, through the summary.
        let w = w + 1;
        let mut sw = w / 64;
        let mut bits = match self.summary.get(sw) {
            Some(b) if w % 64 != 0 => b & (u64::MAX << (w % 64)),
            Some(b) => *b,
            None => return None,
        };
        loop {
            if bits != 0 {
                let w = sw * 64 + bits.trailing_zeros() as usize;
                return Some(w * 64 + self.words[w].trailing_zeros() as usize);
            }
            sw += 1;
            bits = *self.summary.get(sw)?;
        }
    }

    /// First set bit at or after `from`, wrapping around to 0.
    fn next_wrapping(&self, from: usize) -> Option<usize> {
        self.next_from(from).or_else(|| self.next_from(0))
    }

    fn clear_all(&mut self) {
        self.words.iter_mut().for_each(|w| *w = 0);
        self.summary.iter_mut().for_each(|w| *w = 0);
        self.ones = 0;
    }

    fn copy_from(&mut self, other: &Bitmap) {
        self.words.copy_from_slice(&other.words);
        self.summary.copy_from_slice(&other.summary);
        self.ones = other.ones;
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

/// A set-associative flow table with LRU replacement, and the index of when its sets'
/// entries may expire that the aging scanner works from.
///
/// Each slot keeps its key's CRC beside the entry (`tags`), so a lookup compares 4 bytes
/// per way and reads a whole entry only on a tag match. The expiry index: every occupied
/// set is either *due* (it may hold an entry whose timer has run out: the scanner visits
/// it when its cursor passes) or *pending* with a lower bound of its earliest expiry in a
/// min-heap (stale heap pairs are skipped; a bound that turns out low is tightened when it
/// reaches the top).
#[derive(Debug, Clone)]
pub(crate) struct Table {
    sets_log2: u8,
    ways: usize,
    blocks: BlockIndex,
    entries: Vec<Entry>,
    tags: Vec<u32>,
    lru: Vec<u64>,
    used: Vec<u32>,
    /// Per block: lower bound of its set's earliest expiry (`u64::MAX`: none noted).
    lower: Vec<u64>,
    free_blocks: Vec<u32>,
    occupied: Bitmap,
    due: Bitmap,
    /// At or below the expiry of every entry of a due set.
    due_floor_ns: u64,
    pending: BinaryHeap<Reverse<(u64, u32)>>,
    len: usize,
    tick: u64,
    /// The last key [`Self::hash_of`] hashed, and its CRC.
    last_hash: Option<(FlowKey, u32)>,
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
            blocks: BlockIndex::new(sets_log2),
            entries: Vec::new(),
            tags: Vec::new(),
            lru: Vec::new(),
            used: Vec::new(),
            lower: Vec::new(),
            free_blocks: Vec::new(),
            occupied: Bitmap::new(1usize << sets_log2),
            due: Bitmap::new(1usize << sets_log2),
            due_floor_ns: u64::MAX,
            pending: BinaryHeap::new(),
            len: 0,
            tick: 0,
            last_hash: None,
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

    /// `flow_hash` of `key`'s packed form. The last key and its CRC are remembered: the
    /// keys a table sees often repeat back to back (a profile's masked key is the same for
    /// many flows; a flow's packets come in bursts), and the CRC is a function of the key
    /// alone, so this only saves the packing and the CRC.
    #[inline]
    pub(crate) fn hash_of(&mut self, key: &FlowKey) -> u32 {
        match &self.last_hash {
            Some((k, h)) if k == key => *h,
            _ => {
                let h = flow_hash(&key.pack());
                self.last_hash = Some((*key, h));
                h
            }
        }
    }

    /// The set of a key hash.
    pub(crate) fn set_of(&self, hash: u32) -> u32 {
        bucket(hash, self.sets_log2)
    }

    /// Looks up `key` (whose CRC is `hash`); a hit makes the entry most recently used.
    #[inline]
    pub(crate) fn find(&mut self, hash: u32, key: &FlowKey) -> Option<Slot> {
        let set = self.set_of(hash);
        let block = self.blocks.get(set)?;
        let base = block * self.ways;
        let mut used = self.used[block];
        while used != 0 {
            let way = used.trailing_zeros() as usize;
            used &= used - 1;
            let index = base + way;
            if self.tags[index] == hash && self.entries[index].key == *key {
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

    /// Inserts `e` (whose key, of CRC `hash`, is not in the table), evicting the least
    /// recently used entry when its set is full. Returns the new slot, the evicted entry,
    /// and whether the set was empty before.
    pub(crate) fn insert(&mut self, hash: u32, e: Entry) -> (Slot, Option<Entry>, bool) {
        let set = self.set_of(hash);
        let (block, was_empty) = match self.blocks.get(set) {
            Some(b) => (b, false),
            None => (self.new_block(set), true),
        };
        let full = (1u64 << self.ways) - 1;
        let used = u64::from(self.used[block]);
        self.tick += 1;
        let base = block * self.ways;
        let (way, evicted) = if used != full {
            ((!used).trailing_zeros() as usize, None)
        } else {
            let way = (0..self.ways)
                .min_by_key(|w| self.lru[base + w])
                .unwrap_or(0);
            self.len -= 1;
            (way, Some(self.entries[base + way]))
        };
        let index = base + way;
        self.entries[index] = e;
        self.tags[index] = hash;
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
                self.lower.push(u64::MAX);
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
                self.tags.resize(self.tags.len() + self.ways, 0);
                self.lru.resize(self.lru.len() + self.ways, 0);
                b
            }
        };
        self.lower[block] = u64::MAX;
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
            self.blocks.remove(slot.set);
            self.free_blocks.push(block as u32);
            self.occupied.set(slot.set as usize, false);
            self.set_due(slot.set, false);
        }
        e
    }

    /// Entries of `set` for which `pred` holds.
    pub(crate) fn count_where(&self, set: u32, mut pred: impl FnMut(&Entry) -> bool) -> usize {
        let Some(block) = self.blocks.get(set) else {
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
        let Some(block) = self.blocks.get(set) else {
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
        self.occupied.next_wrapping(from).map(|s| s as u32)
    }

    /// The first set in use at or after `from` (no wrap-around).
    pub(crate) fn next_set(&self, from: u64) -> Option<u32> {
        usize::try_from(from)
            .ok()
            .and_then(|f| self.occupied.next_from(f))
            .map(|s| s as u32)
    }

    // ----- the expiry index -------------------------------------------------------------

    /// The entry in `slot` may now expire at `expiry_ns`: keeps its set's lower bound at
    /// or below it. Returns true when the bound came down (the scanner may have to plan
    /// again).
    pub(crate) fn note_expiry(&mut self, slot: Slot, expiry_ns: u64) -> bool {
        let block = slot.index / self.ways;
        if expiry_ns >= self.lower[block] {
            return false;
        }
        self.lower[block] = expiry_ns;
        if self.due.get(slot.set as usize) {
            self.due_floor_ns = self.due_floor_ns.min(expiry_ns);
        } else {
            self.pending.push(Reverse((expiry_ns, slot.set)));
        }
        true
    }

    fn set_due(&mut self, set: u32, on: bool) {
        self.due.set(set as usize, on);
        if self.due.count() == 0 {
            self.due_floor_ns = u64::MAX;
        }
    }

    /// Forgets every bound (the timers changed): every occupied set is due.
    pub(crate) fn all_due(&mut self) {
        self.pending.clear();
        if self.len == 0 {
            return; // nothing due, nothing pending
        }
        self.due.copy_from(&self.occupied);
        self.due_floor_ns = 0;
        self.lower.iter_mut().for_each(|l| *l = u64::MAX);
    }

    /// Whether some set is due.
    #[cfg(test)]
    pub(crate) fn any_due(&self) -> bool {
        self.due.count() > 0
    }

    /// A lower bound of every expiry in the table (exact when no set is due), or `None`
    /// when nothing can expire.
    pub(crate) fn earliest(&mut self, expiry: &impl Fn(&Entry) -> u64) -> Option<u64> {
        let pending = self.pending_min(expiry);
        match (self.due.count() > 0).then_some(self.due_floor_ns) {
            Some(d) => Some(pending.map_or(d, |p| p.min(d))),
            None => pending,
        }
    }

    /// The first due set at or after `from`, wrapping around.
    pub(crate) fn next_due_wrapping(&self, from: u64) -> Option<u32> {
        let from = (from % self.sets()) as usize;
        self.due.next_wrapping(from).map(|s| s as u32)
    }

    /// The exact earliest expiry of `set`'s entries (`u64::MAX` when empty).
    fn set_expiry(&self, set: u32, expiry: &impl Fn(&Entry) -> u64) -> u64 {
        let Some(block) = self.blocks.get(set) else {
            return u64::MAX;
        };
        let mut m = u64::MAX;
        let mut used = self.used[block];
        while used != 0 {
            let way = used.trailing_zeros() as usize;
            used &= used - 1;
            m = m.min(expiry(&self.entries[block * self.ways + way]));
        }
        m
    }

    /// The earliest expiry of the pending sets (exact: stale pairs are dropped and low
    /// bounds tightened on the way), or `None` when no set is pending.
    pub(crate) fn pending_min(&mut self, expiry: &impl Fn(&Entry) -> u64) -> Option<u64> {
        while let Some(Reverse((x, set))) = self.pending.peek().copied() {
            let block = self.blocks.get(set);
            let live = block.filter(|b| self.lower[*b] == x && !self.due.get(set as usize));
            let Some(block) = live else {
                self.pending.pop();
                continue;
            };
            let m = self.set_expiry(set, expiry);
            if m == x {
                return Some(x);
            }
            self.pending.pop();
            self.lower[block] = m;
            self.pending.push(Reverse((m, set)));
        }
        None
    }

    /// Makes every pending set whose earliest expiry is at or before `until_ns` due.
    /// Returns whether any was.
    pub(crate) fn promote(&mut self, until_ns: u64, expiry: &impl Fn(&Entry) -> u64) -> bool {
        let mut any = false;
        while self.pending_min(expiry).is_some_and(|x| x <= until_ns) {
            if let Some(Reverse((x, set))) = self.pending.pop() {
                self.due.set(set as usize, true);
                self.due_floor_ns = self.due_floor_ns.min(x);
                any = true;
            }
        }
        any
    }

    /// The scanner has visited `set` at device time `now_ns`: it stays due while one of its
    /// entries has reached its expiry (the aging clock held it back), else it is pending
    /// again with its exact earliest expiry.
    pub(crate) fn settle(&mut self, set: u32, now_ns: u64, expiry: &impl Fn(&Entry) -> u64) {
        let Some(block) = self.blocks.get(set) else {
            return;
        };
        let m = self.set_expiry(set, expiry);
        if m > now_ns {
            self.set_due(set, false);
            self.lower[block] = m;
            self.pending.push(Reverse((m, set)));
        } else {
            self.due.set(set as usize, true);
            self.due_floor_ns = self.due_floor_ns.min(m);
        }
    }

    /// Empties the table (soft reset); keeps the slab for reuse.
    pub(crate) fn clear(&mut self) {
        self.free_blocks.clear();
        self.free_blocks.extend(0..self.used.len() as u32);
        self.used.iter_mut().for_each(|u| *u = 0);
        self.blocks.clear();
        self.occupied.clear_all();
        self.due.clear_all();
        self.due_floor_ns = u64::MAX;
        self.pending.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_hashes_are_the_keys_own() {
        let mut t = Table::new(4, 2);
        let keys: Vec<FlowKey> = [1u16, 1, 2, 2, 1, 3, 3, 3]
            .iter()
            .map(|&p| FlowKey {
                dst_port: p,
                ..FlowKey::default()
            })
            .collect();
        for k in &keys {
            assert_eq!(t.hash_of(k), flow_hash(&k.pack()), "{k:?}");
        }
    }

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
        // Hashes 1, 5 and 9 all select set 1; the tag is the whole hash.
        let (_, ev, empty) = t.insert(1, entry(1, 0));
        assert!(ev.is_none() && empty);
        t.insert(5, entry(2, 0));
        // Touch port 1: port 2 becomes least recently used.
        assert!(t.find(1, &entry(1, 0).key).is_some());
        let (_, ev, empty) = t.insert(9, entry(3, 0));
        assert_eq!(ev.map(|e| e.key.src_port), Some(2));
        assert!(!empty);
        assert_eq!(t.len(), 2);
        assert!(t.find(5, &entry(2, 0).key).is_none());
        assert!(t.find(3, &entry(1, 0).key).is_none(), "other set");
        assert!(t.find(5, &entry(1, 0).key).is_none(), "same set, other tag");
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
        t.clear();
        assert_eq!((t.len(), t.next_set_wrapping(0)), (0, None));
    }

    #[test]
    fn a_large_table_indexes_its_sets_sparsely() {
        let mut t = Table::new(DENSE_INDEX_MAX_LOG2 + 1, 2);
        assert!(matches!(t.blocks, BlockIndex::Sparse(_)));
        let far = (1u32 << (DENSE_INDEX_MAX_LOG2 + 1)) - 1;
        let (s, _, empty) = t.insert(far, entry(1, 0));
        assert!(empty);
        assert_eq!(t.find(far, &entry(1, 0).key), Some(s));
        assert_eq!(t.next_set(0), Some(far));
        t.remove(s);
        assert_eq!((t.find(far, &entry(1, 0).key), t.len()), (None, 0));
    }

    #[test]
    fn bitmap_search_crosses_words_and_summaries() {
        let mut b = Bitmap::new(1 << 14);
        for i in [3usize, 64 * 70 + 5, (1 << 14) - 1] {
            b.set(i, true);
        }
        assert_eq!(b.next_from(0), Some(3));
        assert_eq!(b.next_from(4), Some(64 * 70 + 5));
        assert_eq!(b.next_from(64 * 70 + 6), Some((1 << 14) - 1));
        assert_eq!(b.next_wrapping((1 << 14) - 1), Some((1 << 14) - 1));
        b.set((1 << 14) - 1, false);
        assert_eq!(b.next_from(64 * 70 + 6), None);
        assert_eq!(b.next_wrapping(64 * 70 + 6), Some(3));
        assert_eq!(b.count(), 2);
        b.set(3, true);
        assert_eq!(b.count(), 2, "setting a set bit counts once");
    }

    #[test]
    fn expiry_index_orders_sets_and_tightens_bounds() {
        let exp = |e: &Entry| e.last_ns + 10;
        let mut t = Table::new(4, 2);
        let (a, _, _) = t.insert(3, entry(1, 100));
        let (b, _, _) = t.insert(9, entry(2, 50));
        assert!(t.note_expiry(a, 110));
        assert!(t.note_expiry(b, 60));
        assert!(!t.note_expiry(b, 70), "a later expiry keeps the bound");
        assert_eq!(t.pending_min(&exp), Some(60));
        assert!(!t.any_due());
        assert!(t.promote(60, &exp));
        assert_eq!(t.next_due_wrapping(0), Some(9));
        assert_eq!(t.next_due_wrapping(10), Some(9), "wraps");
        // The entry of set 9 was refreshed: after a visit its set is pending again
        // with the exact expiry.
        t.entry_mut(b).last_ns = 500;
        t.settle(9, 65, &exp);
        assert!(!t.any_due());
        assert_eq!(t.pending_min(&exp), Some(110));
        // A low bound left in the heap is tightened when it reaches the top.
        t.entry_mut(a).last_ns = 1000;
        assert_eq!(t.pending_min(&exp), Some(510));
        // Timers changed: everything occupied is due, bounds forgotten.
        t.all_due();
        assert_eq!(t.pending_min(&exp), None);
        assert_eq!(
            (t.next_due_wrapping(0), t.next_due_wrapping(4)),
            (Some(3), Some(9))
        );
        // Emptying a set takes it off the due list.
        let mut out = Vec::new();
        t.take_where(3, |_| true, |e| out.push(e));
        assert_eq!(t.next_due_wrapping(0), Some(9));
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
