//! The record ring in host memory: its configuration (`RING_BASE`, `RING_SIZE`,
//! `RING_WB`), the free-running producer and consumer indices, the phase bit and the
//! producer-index write-back.
//!
//! Record `n` (free-running) goes to slot `n mod size`; its phase bit is 1 on the first
//! pass over the ring, 0 on the second, and so on (`((n >> log2) & 1) == 0`), so a driver
//! that zeroes the ring sees new records by their phase. After each DMA batch the producer
//! index is written back as 8 bytes, little-endian (the 32-bit index zero-extended), to
//! `RING_WB` when that register is non-zero.

use nsflow_rtl::record::RECORD_BYTES;
use nsflow_rtl::regs::RING_MIN_LOG2;

/// Bytes of the producer-index write-back.
pub const WB_BYTES: usize = 8;

/// The ring as programmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RingConfig {
    /// IOVA of slot 0.
    pub base: u64,
    /// log2 of the number of slots (0 = no ring).
    pub log2: u32,
    /// Write-back IOVA (0 = no write-back).
    pub wb: u64,
}

impl RingConfig {
    /// Whether the ring can be used: size within `RING_MIN_LOG2..=max_log2`, and the whole
    /// ring and the write-back slot within the `addr_bits` the DMA engine drives.
    pub(crate) fn valid(&self, max_log2: u32, addr_bits: u8) -> bool {
        let reach =
            |end: Option<u64>| end.is_some_and(|e| addr_bits >= 64 || e <= 1u64 << addr_bits);
        (RING_MIN_LOG2..=max_log2).contains(&self.log2)
            && reach(self.base.checked_add(self.bytes()))
            && reach(self.wb.checked_add(8))
    }

    /// Slots.
    pub(crate) fn size(&self) -> u32 {
        1u32.checked_shl(self.log2).unwrap_or(0)
    }

    /// Bytes of the ring.
    pub(crate) fn bytes(&self) -> u64 {
        u64::from(self.size()) * RECORD_BYTES as u64
    }

    /// IOVA of record `n`'s slot.
    pub(crate) fn slot_iova(&self, n: u32) -> u64 {
        let mask = self.size().wrapping_sub(1);
        self.base
            .wrapping_add(u64::from(n & mask) * RECORD_BYTES as u64)
    }

    /// Phase bit of record `n`.
    pub(crate) fn phase(&self, n: u32) -> bool {
        (n >> self.log2) & 1 == 0
    }

    /// Slots from record `n` to the end of the ring (before wrapping).
    pub(crate) fn slots_before_wrap(&self, n: u32) -> u32 {
        self.size() - (n & self.size().wrapping_sub(1))
    }

    /// Whether `[iova, iova + len)` lies inside the ring.
    pub(crate) fn contains(&self, iova: u64, len: u64) -> bool {
        iova >= self.base
            && iova - self.base < self.bytes()
            && len <= self.bytes() - (iova - self.base)
    }

    /// Free slots for a producer at `issued` and a consumer at `cons`; a consumer index
    /// ahead of the producer or more than a ring behind (a driver bug) leaves no room.
    pub(crate) fn free(&self, issued: u32, cons: u32) -> u32 {
        self.size().saturating_sub(issued.wrapping_sub(cons))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_phase_and_room() {
        let r = RingConfig {
            base: 0x1000,
            log2: 4,
            wb: 0,
        };
        assert!(r.valid(20, 64));
        assert!(!RingConfig { log2: 3, ..r }.valid(20, 64));
        assert!(!RingConfig { log2: 21, ..r }.valid(20, 64));
        assert!(!RingConfig {
            base: u64::MAX - 100,
            ..r
        }
        .valid(20, 64));
        // The ring and the write-back slot must lie within the DMA engine's address bits.
        assert!(r.valid(20, 32));
        assert!(!RingConfig { base: 1 << 32, ..r }.valid(20, 32));
        assert!(!RingConfig { wb: 1 << 32, ..r }.valid(20, 32));
        assert!(RingConfig {
            wb: (1 << 32) - 8,
            ..r
        }
        .valid(20, 32));
        assert_eq!(r.slot_iova(17), 0x1000 + 128);
        assert!(r.phase(15) && !r.phase(16) && r.phase(32));
        assert_eq!(r.slots_before_wrap(14), 2);
        assert_eq!(r.free(20, 4), 0);
        assert_eq!(r.free(20, 10), 6);
        assert_eq!(r.free(3, 5), 0, "consumer ahead of producer");
        assert!(r.contains(0x1000, 2048) && !r.contains(0x1000, 2049) && !r.contains(0xF80, 128));
    }
}
