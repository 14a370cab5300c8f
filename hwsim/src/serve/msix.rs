//! BAR4 (`regs::MSIX_BAR`): the MSI-X vector table and pending-bit array where the
//! register map puts them (`nsflow_rtl::msix::Msix::CONTRACT`), 32-bit accesses.
//!
//! The table keeps what the client writes — message address (dword aligned), data, and
//! vector control's mask bit, set at reset — and reads it back; the pending-bit array reads
//! 0. Delivery follows the vfio model, where the client owns the table's emulation: each
//! interrupt message of the model signals the eventfd bound to the vector with SET_IRQS,
//! so the stored entries gate nothing and no bit is ever pending.
//!
//! Offsets and sizes come from the client, so the module denies
//! `clippy::indexing_slicing`: entries are reached with `get`/`get_mut`.
#![deny(clippy::indexing_slicing)]

use nsflow_rtl::msix::{Msix, ENTRY_BYTES};

/// Vector control: the vector is masked.
const VECTOR_MASKED: u32 = 1;
/// Writable bits of each dword of an entry: address low (dword aligned), address high,
/// data, vector control.
const WRITABLE: [u32; 4] = [!3, u32::MAX, u32::MAX, VECTOR_MASKED];

/// The vector table (the pending-bit array has no state: it reads 0).
#[derive(Debug, Clone)]
pub(crate) struct MsixBar {
    table: Vec<[u32; 4]>,
}

impl Default for MsixBar {
    /// Every vector masked, address and data 0 (the reset state).
    fn default() -> Self {
        Self {
            table: vec![[0, 0, 0, VECTOR_MASKED]; usize::from(Msix::CONTRACT.vectors)],
        }
    }
}

impl MsixBar {
    /// The table entry and dword of a 32-bit access at `offset`, if it is one.
    fn dword(offset: u64, len: usize) -> Option<(usize, usize)> {
        let m = Msix::CONTRACT;
        let rel = offset.checked_sub(m.table_offset.into())?;
        if len != 4 || rel % 4 != 0 || rel >= u64::from(m.table_bytes()) {
            return None;
        }
        let entry = usize::try_from(rel / u64::from(ENTRY_BYTES)).ok()?;
        let word = usize::try_from(rel % u64::from(ENTRY_BYTES) / 4).ok()?;
        Some((entry, word))
    }

    /// A read: a table dword, or 0 (the pending-bit array, anything else).
    pub(crate) fn read(&self, offset: u64, data: &mut [u8]) {
        let v = Self::dword(offset, data.len())
            .and_then(|(e, w)| self.table.get(e)?.get(w).copied())
            .unwrap_or(0);
        if let Ok(word) = <&mut [u8; 4]>::try_from(data) {
            *word = v.to_le_bytes();
        }
    }

    /// A write: a table dword takes its writable bits; anything else is ignored.
    pub(crate) fn write(&mut self, offset: u64, data: &[u8]) {
        let (Some((e, w)), Ok(v)) = (Self::dword(offset, data.len()), <[u8; 4]>::try_from(data))
        else {
            return;
        };
        if let (Some(slot), Some(mask)) = (
            self.table.get_mut(e).and_then(|x| x.get_mut(w)),
            WRITABLE.get(w),
        ) {
            *slot = u32::from_le_bytes(v) & mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r32(b: &MsixBar, at: u64) -> u32 {
        let mut d = [0xAAu8; 4];
        b.read(at, &mut d);
        u32::from_le_bytes(d)
    }

    #[test]
    fn the_table_stores_entries_and_the_pba_reads_zero() {
        let m = Msix::CONTRACT;
        let t = u64::from(m.table_offset);
        let mut b = MsixBar::default();
        assert_eq!(r32(&b, t + 12), VECTOR_MASKED, "masked at reset");
        for (i, v) in [0xFEE0_0003u32, 0x1, 0x4021, 0xFFFF_FFFE]
            .into_iter()
            .enumerate()
        {
            b.write(t + 4 * i as u64, &v.to_le_bytes());
        }
        assert_eq!(
            (0..4).map(|i| r32(&b, t + 4 * i)).collect::<Vec<_>>(),
            vec![0xFEE0_0000, 0x1, 0x4021, 0]
        );
        // Outside 32-bit table dwords: ignored, read 0.
        b.write(t + 2, &[1, 2, 3, 4]);
        b.write(t, &[1, 2]);
        assert_eq!(r32(&b, t), 0xFEE0_0000);
        assert_eq!(r32(&b, m.pba_offset.into()), 0);
        assert_eq!(r32(&b, t + u64::from(m.table_bytes())), 0);
    }
}
