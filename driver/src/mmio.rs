//! BAR0 mapped into the process (kernel VFIO backend): 32-bit volatile accesses through
//! raw pointers, bounds- and alignment-checked.
//!
//! `volatile-register` is used only for the identification block (ID_MAGIC..CAP_TABLES):
//! its types are accessed through references, and Rust may insert spurious reads through
//! a reference (rust-embedded/volatile-register#10). Those registers are read-only with no
//! read side effects, so a spurious read is harmless. Every other register — TIME_LO
//! latches TIME_HI when read, INT_STATUS is write-1-to-clear, CTRL triggers actions — is
//! reached only through [`Mmio::read32`]/[`Mmio::write32`], never through a reference.
#![allow(unsafe_code)]

use memmap2::MmapRaw;
use nsflow_rtl::regs;
use volatile_register::RO;

/// The side-effect-free identification registers at the start of BAR0, in map order.
#[repr(C)]
pub struct IdBlock {
    /// `ID_MAGIC`.
    pub magic: RO<u32>,
    /// `ID_VERSION`.
    pub version: RO<u32>,
    /// `CAP_PROFILES`.
    pub cap_profiles: RO<u32>,
    /// `CAP_ORIG_TABLE`.
    pub cap_orig_table: RO<u32>,
    /// `CAP_AGG_TABLE`.
    pub cap_agg_table: RO<u32>,
    /// `CAP_CLOCK`.
    pub cap_clock: RO<u32>,
    /// `CAP_TABLES`.
    pub cap_tables: RO<u32>,
}

// The block's layout is the map's: checked at compile time.
const _: () = {
    assert!(std::mem::offset_of!(IdBlock, magic) as u32 == regs::ID_MAGIC.offset);
    assert!(std::mem::offset_of!(IdBlock, version) as u32 == regs::ID_VERSION.offset);
    assert!(std::mem::offset_of!(IdBlock, cap_profiles) as u32 == regs::CAP_PROFILES.offset);
    assert!(std::mem::offset_of!(IdBlock, cap_orig_table) as u32 == regs::CAP_ORIG_TABLE.offset);
    assert!(std::mem::offset_of!(IdBlock, cap_agg_table) as u32 == regs::CAP_AGG_TABLE.offset);
    assert!(std::mem::offset_of!(IdBlock, cap_clock) as u32 == regs::CAP_CLOCK.offset);
    assert!(std::mem::offset_of!(IdBlock, cap_tables) as u32 == regs::CAP_TABLES.offset);
};

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

    /// The identification block, through `volatile-register` (see the module docs for
    /// why a reference is acceptable here and nowhere else).
    pub fn id_block(&self) -> &IdBlock {
        // SAFETY: the mapping is at least BAR0_SIZE bytes (checked in `new`), page aligned,
        // and lives as long as `self`; IdBlock is repr(C) u32 cells matching the map (the
        // const assertions above), all read-only without read side effects.
        unsafe { &*self.map.as_ptr().cast::<IdBlock>() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memmap2::MmapOptions;

    #[test]
    fn accesses_are_bounded_and_the_id_block_reads_the_same_words() {
        // Anonymous memory standing in for a BAR.
        let map = MmapOptions::new()
            .len(regs::BAR0_SIZE as usize)
            .map_anon()
            .unwrap();
        let m = Mmio::new(MmapRaw::from(map)).unwrap();
        m.write32(regs::ID_MAGIC.offset, regs::MAGIC).unwrap();
        m.write32(regs::CAP_CLOCK.offset, 250_000).unwrap();
        assert_eq!(m.id_block().magic.read(), regs::MAGIC);
        assert_eq!(m.id_block().cap_clock.read(), 250_000);
        assert_eq!(m.read32(regs::CAP_CLOCK.offset).unwrap(), 250_000);
        assert!(m.read32(regs::BAR0_SIZE).is_err());
        assert!(m.read32(2).is_err());
        assert!(m.write32(u32::MAX - 1, 0).is_err());
        let small = MmapOptions::new().len(4096).map_anon().unwrap();
        assert!(Mmio::new(MmapRaw::from(small)).is_err());
    }
}
