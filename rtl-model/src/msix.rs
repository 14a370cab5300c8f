//! MSI-X as the PCI function presents it: the layout the register map fixes
//! ([`regs::MSIX_VECTORS`], [`regs::MSIX_BAR`], [`regs::MSIX_TABLE_OFFSET`],
//! [`regs::MSIX_PBA_OFFSET`]) as an [`Msix`], the 12-byte MSI-X capability structure of
//! PCI configuration space that states it (PCI Express Base Specification, "MSI-X
//! Capability and Table Structure"), and the walk of a configuration space's capability
//! list that finds it. A device (the vfio-user server) builds its capability with
//! [`Msix::encode`]; a driver reads one with [`find`] and compares it with
//! [`Msix::CONTRACT`].

use crate::regs;

/// Capability ID of MSI-X.
pub const CAP_ID: u8 = 0x11;
/// Bytes of the MSI-X capability structure.
pub const CAP_BYTES: usize = 12;
/// Offset of the PCI status register in configuration space.
pub const STATUS: usize = 0x06;
/// Status bit: the function has a capability list.
pub const STATUS_CAP_LIST: u16 = 1 << 4;
/// Offset of the capabilities pointer in a type-0 header.
pub const CAP_POINTER: usize = 0x34;
/// Message control: the table size field (vectors − 1).
pub const CTRL_TABLE_SIZE: u16 = 0x07FF;
/// Message control: every vector masked.
pub const CTRL_FUNCTION_MASK: u16 = 1 << 14;
/// Message control: MSI-X enabled.
pub const CTRL_ENABLE: u16 = 1 << 15;
/// Bytes of one vector-table entry (message address low and high, data, vector control).
pub const ENTRY_BYTES: u32 = 16;
/// The first offset a capability may take (the type-0 header ends there).
const FIRST_CAP: usize = 0x40;
/// Most capabilities a 256-byte configuration space can hold: a longer walk is a loop.
const MAX_CAPS: usize = (256 - FIRST_CAP) / 4;

/// An MSI-X layout: what an MSI-X capability states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msix {
    /// Vectors (the table's entries).
    pub vectors: u16,
    /// The BAR of the vector table (BIR, 0..=5).
    pub table_bar: u8,
    /// Offset of the vector table in its BAR (8-byte aligned).
    pub table_offset: u32,
    /// The BAR of the pending-bit array.
    pub pba_bar: u8,
    /// Offset of the pending-bit array in its BAR (8-byte aligned).
    pub pba_offset: u32,
}

/// Why a configuration space has no MSI-X capability to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    /// The image is shorter than a type-0 header.
    #[error("configuration space of {0} bytes: a type-0 header has 64")]
    Short(usize),
    /// Status bit 4 ("capabilities list") is clear.
    #[error("the status register has no capability list (bit 4 clear)")]
    NoList,
    /// A pointer of the list leads outside the capability area or into the middle of a
    /// dword, or the capability there does not fit.
    #[error("capability pointer {0:#04x} is outside 0x40..0x100 or misaligned")]
    BadPointer(u8),
    /// The list does not end.
    #[error("the capability list loops")]
    Loop,
    /// The list ends without an MSI-X capability.
    #[error("no MSI-X capability (ID 0x11) in the capability list")]
    Missing,
}

impl Msix {
    /// The layout the register map defines.
    pub const CONTRACT: Self = Self {
        vectors: regs::MSIX_VECTORS,
        table_bar: regs::MSIX_BAR,
        table_offset: regs::MSIX_TABLE_OFFSET,
        pba_bar: regs::MSIX_BAR,
        pba_offset: regs::MSIX_PBA_OFFSET,
    };

    /// Bytes of the vector table.
    pub const fn table_bytes(&self) -> u32 {
        self.vectors as u32 * ENTRY_BYTES
    }

    /// Bytes of the pending-bit array (a 64-bit word per 64 vectors).
    pub const fn pba_bytes(&self) -> u32 {
        (self.vectors as u32).div_ceil(64) * 8
    }

    /// The capability structure: ID, `next` pointer, message control (the table size
    /// with the `control` bits [`CTRL_ENABLE`] and [`CTRL_FUNCTION_MASK`]), then the
    /// table and PBA offset/BIR dwords, little-endian.
    pub fn encode(&self, next: u8, control: u16) -> [u8; CAP_BYTES] {
        let size = self.vectors.saturating_sub(1) & CTRL_TABLE_SIZE;
        let ctrl = size | (control & (CTRL_ENABLE | CTRL_FUNCTION_MASK));
        let table = (self.table_offset & !7) | u32::from(self.table_bar & 7);
        let pba = (self.pba_offset & !7) | u32::from(self.pba_bar & 7);
        let mut b = [0u8; CAP_BYTES];
        b[0] = CAP_ID;
        b[1] = next;
        b[2..4].copy_from_slice(&ctrl.to_le_bytes());
        b[4..8].copy_from_slice(&table.to_le_bytes());
        b[8..12].copy_from_slice(&pba.to_le_bytes());
        b
    }

    /// The layout a capability structure states (its ID is the caller's to check).
    pub fn decode(b: &[u8; CAP_BYTES]) -> Self {
        let ctrl = u16::from_le_bytes([b[2], b[3]]);
        let table = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        let pba = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        Self {
            vectors: (ctrl & CTRL_TABLE_SIZE) + 1,
            table_bar: (table & 7) as u8,
            table_offset: table & !7,
            pba_bar: (pba & 7) as u8,
            pba_offset: pba & !7,
        }
    }
}

/// Walks the capability list of configuration space `config` (from the capabilities
/// pointer at 0x34) to the MSI-X capability: its offset and the layout it states.
pub fn find(config: &[u8]) -> Result<(u8, Msix), CapError> {
    let byte = |at: usize| config.get(at).copied().unwrap_or(0);
    if config.len() < FIRST_CAP {
        return Err(CapError::Short(config.len()));
    }
    if u16::from_le_bytes([byte(STATUS), byte(STATUS + 1)]) & STATUS_CAP_LIST == 0 {
        return Err(CapError::NoList);
    }
    let mut at = byte(CAP_POINTER);
    for _ in 0..MAX_CAPS {
        if at == 0 {
            return Err(CapError::Missing);
        }
        let start = usize::from(at);
        if start < FIRST_CAP || start % 4 != 0 || start + 2 > config.len() {
            return Err(CapError::BadPointer(at));
        }
        if byte(start) == CAP_ID {
            let cap = config
                .get(start..start + CAP_BYTES)
                .and_then(|b| <[u8; CAP_BYTES]>::try_from(b).ok())
                .ok_or(CapError::BadPointer(at))?;
            return Ok((at, Msix::decode(&cap)));
        }
        at = byte(start + 1);
    }
    Err(CapError::Loop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration space with the capability list `caps` ((offset, ID, next)), MSI-X
    /// stating `m` where its ID is [`CAP_ID`].
    fn space(first: u8, caps: &[(u8, u8, u8)], m: Msix) -> Vec<u8> {
        let mut c = vec![0u8; 256];
        c[STATUS] = STATUS_CAP_LIST as u8;
        c[CAP_POINTER] = first;
        for &(at, id, next) in caps {
            let at = usize::from(at);
            if id == CAP_ID {
                c[at..at + CAP_BYTES].copy_from_slice(&m.encode(next, 0));
            } else {
                c[at] = id;
                c[at + 1] = next;
            }
        }
        c
    }

    #[test]
    fn the_contract_fits_its_bar_without_overlap() {
        let m = Msix::CONTRACT;
        assert_eq!(m.table_bar, m.pba_bar);
        assert!(m.table_offset % 8 == 0 && m.pba_offset % 8 == 0);
        assert!(m.table_offset + m.table_bytes() <= m.pba_offset);
        assert!(m.pba_offset + m.pba_bytes() <= regs::MSIX_BAR_SIZE);
        assert!(regs::MSIX_BAR_SIZE.is_power_of_two() && m.table_bar <= 5);
        assert_ne!(m.table_bar, 0, "BAR0 is the register map's");
    }

    #[test]
    fn encode_and_decode_agree_and_keep_the_control_bits() {
        let m = Msix {
            vectors: 2048,
            table_bar: 5,
            table_offset: 0x3000,
            pba_bar: 3,
            pba_offset: 0x10_0008,
        };
        let b = m.encode(0x50, CTRL_ENABLE | CTRL_FUNCTION_MASK);
        assert_eq!((b[0], b[1]), (CAP_ID, 0x50));
        assert_eq!(u16::from_le_bytes([b[2], b[3]]), 0xC7FF);
        assert_eq!(Msix::decode(&b), m);
        assert_eq!(Msix::CONTRACT.encode(0, 0)[2..4], [0, 0]);
    }

    #[test]
    fn the_walk_finds_msix_behind_other_capabilities() {
        let m = Msix::CONTRACT;
        let c = space(0x40, &[(0x40, 0x01, 0x60), (0x60, CAP_ID, 0)], m);
        assert_eq!(find(&c), Ok((0x60, m)));
    }

    #[test]
    fn the_walk_refuses_what_is_not_a_list() {
        let m = Msix::CONTRACT;
        assert_eq!(find(&[0; 16]), Err(CapError::Short(16)));
        let mut c = space(0x40, &[(0x40, CAP_ID, 0)], m);
        c[STATUS] = 0;
        assert_eq!(find(&c), Err(CapError::NoList));
        let c = space(0x40, &[(0x40, 0x05, 0)], m);
        assert_eq!(find(&c), Err(CapError::Missing));
        let c = space(0x40, &[(0x40, 0x05, 0x40)], m);
        assert_eq!(find(&c), Err(CapError::Loop));
        for bad in [0x10, 0x42] {
            let c = space(0x40, &[(0x40, 0x05, bad)], m);
            assert_eq!(find(&c), Err(CapError::BadPointer(bad)), "{bad:#x}");
        }
        // MSI-X at 0xF8 would run past the 256 bytes.
        let mut c = space(0x40, &[(0x40, 0x05, 0xF8)], m);
        c[0xF8] = CAP_ID;
        assert_eq!(find(&c), Err(CapError::BadPointer(0xF8)));
    }
}
