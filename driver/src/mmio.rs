//! BAR0 mapped into the process (kernel VFIO backend): 32-bit volatile accesses through
//! raw pointers, bounds- and alignment-checked.
//!
//! Every register is reached through [`Mmio::read32`]/[`Mmio::write32`], one
//! `read_volatile`/`write_volatile` each, never through a reference: TIME_LO latches
//! TIME_HI when read, INT_STATUS is write-1-to-clear and CTRL triggers actions, so a
//! spurious read through a reference (which `volatile-register`'s cells allow, see
//! rust-embedded/volatile-register#10) would be a bug. `volatile-register` was kept for the
//! side-effect-free identification block only while something read it; nothing did, so
//! it went (docs/architecture.md).
#![allow(unsafe_code)]

use memmap2::MmapRaw;
use nsflow_rtl::regs;

/// Why an MMIO access was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("BAR0 access at {offset:#x} outside the {size:#x}-byte BAR or not 4-byte aligned")]
pub struct MmioError {
    /// Offset of the access.
    pub offset: u32,
    /// BAR size.
    pub size: usize,
}

/// BAR0 of a device, mapped.
#[derive(Debug)]
pub struct Mmio {
    map: MmapRaw,
}

impl Mmio {
    /// Wraps a mapping of BAR0 (at least the map's size is required).
    pub fn new(map: MmapRaw) -> Result<Self, MmioError> {
        if map.len() < regs::BAR0_SIZE as usize {
            return Err(MmioError {
                offset: regs::BAR0_SIZE,
                size: map.len(),
            });
        }
        Ok(Self { map })
    }

    fn ptr(&self, offset: u32) -> Result<*mut u32, MmioError> {
        let o = offset as usize;
        if o % 4 != 0 || o.checked_add(4).is_none_or(|e| e > self.map.len()) {
            return Err(MmioError {
                offset,
                size: self.map.len(),
            });
        }
        // SAFETY: `o + 4 <= len` was checked, so the pointer stays inside the mapping.
        Ok(unsafe { self.map.as_mut_ptr().add(o) }.cast::<u32>())
    }

    /// One 32-bit volatile read.
    pub fn read32(&self, offset: u32) -> Result<u32, MmioError> {
        let p = self.ptr(offset)?;
        // SAFETY: `p` is aligned and inside the live BAR mapping (checked by `ptr`); a
        // volatile access through a raw pointer is exactly one bus read.
        Ok(u32::from_le(unsafe { std::ptr::read_volatile(p) }))
    }

    /// One 32-bit volatile write.
    pub fn write32(&self, offset: u32, value: u32) -> Result<(), MmioError> {
        let p = self.ptr(offset)?;
        // SAFETY: as in `read32`; one bus write.
        unsafe { std::ptr::write_volatile(p, value.to_le()) };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memmap2::MmapOptions;

    #[test]
    fn accesses_are_bounded_aligned_and_read_what_was_written() {
        // Anonymous memory standing in for a BAR.
        let map = MmapOptions::new()
            .len(regs::BAR0_SIZE as usize)
            .map_anon()
            .unwrap();
        let m = Mmio::new(MmapRaw::from(map)).unwrap();
        m.write32(regs::ID_MAGIC.offset, regs::MAGIC).unwrap();
        m.write32(regs::CAP_CLOCK.offset, 250_000).unwrap();
        assert_eq!(m.read32(regs::ID_MAGIC.offset).unwrap(), regs::MAGIC);
        assert_eq!(m.read32(regs::CAP_CLOCK.offset).unwrap(), 250_000);
        assert!(m.read32(regs::BAR0_SIZE).is_err());
        assert!(m.read32(2).is_err());
        assert!(m.write32(u32::MAX - 1, 0).is_err());
        let small = MmapOptions::new().len(4096).map_anon().unwrap();
        assert!(Mmio::new(MmapRaw::from(small)).is_err());
    }
}
