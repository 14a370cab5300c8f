//! The PCI configuration space the server presents (vfio-user region 7): a minimal
//! type-0 header with three 32-bit memory BARs — BAR0, the register map; BAR2, the model's
//! traffic port; BAR4 (`regs::MSIX_BAR`), the MSI-X vector table and pending-bit array —
//! a capability list holding the MSI-X capability the register map defines
//! (`nsflow_rtl::msix::Msix::CONTRACT`), and no legacy interrupt pin (the interrupt is
//! MSI-X vector 0, bound through vfio-user SET_IRQS).
//!
//! The IDs are experimental: vendor 0x1234 is the unassigned ID QEMU uses for its
//! emulated test devices, device 0xF10F is ours. Drivers identify the engine by
//! `ID_MAGIC`/`ID_VERSION` in BAR0, never by PCI ID; silicon carries its vendor's IDs.
//!
//! Offsets and sizes of configuration-space accesses come from the vfio-user client, so
//! the module denies `clippy::indexing_slicing`: accesses go through checked arithmetic
//! and `get`/`get_mut`; only the header image is built with constant offsets into its
//! fixed-size array, which the compiler checks.
#![deny(clippy::indexing_slicing)]

use nsflow_rtl::msix::{
    Msix, CAP_BYTES, CAP_POINTER, CTRL_ENABLE, CTRL_FUNCTION_MASK, STATUS, STATUS_CAP_LIST,
};
use nsflow_rtl::regs::{BAR0_SIZE, MSIX_BAR_SIZE};
use nsflow_rtl::sim_port::SIM_PORT_SIZE;

/// Vendor ID (experimental, see the module documentation).
pub const VENDOR_ID: u16 = 0x1234;
/// Device ID (experimental).
pub const DEVICE_ID: u16 = 0xF10F;
/// Class code: network controller (0x02), other (0x80), programming interface 0.
pub const CLASS_CODE: u32 = 0x02_80_00;
/// Revision ID.
pub const REVISION: u8 = 1;
/// Size of the configuration space region.
pub const CONFIG_SIZE: u64 = 256;

/// Command register bits the device implements: memory space, bus master, INTx disable.
const COMMAND_MASK: u16 = 0x0406;
const COMMAND: usize = 0x04;
const BAR0: usize = 0x10;
const BAR2: usize = 0x18;
const BAR4: usize = 0x20;
/// Offset of the MSI-X capability, the first and only one of the list.
pub const MSIX_CAP: u8 = 0x40;
/// [`MSIX_CAP`] as an index.
const MSIX_AT: usize = MSIX_CAP as usize;
/// Offset of its message control register.
const MSIX_CONTROL: usize = MSIX_AT + 2;
/// Message control bits software sets: enable and function mask.
const MSIX_CONTROL_MASK: u16 = CTRL_ENABLE | CTRL_FUNCTION_MASK;

/// The writable state of the header.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConfigSpace {
    command: u16,
    bar0: u32,
    bar2: u32,
    bar4: u32,
    /// MSI-X message control's enable and function-mask bits (stored: interrupts follow
    /// the eventfd bound by SET_IRQS, as in vfio).
    msix_control: u16,
}

/// The address bits of a 32-bit memory BAR of `size` bytes (a power of two ≥ 16).
fn bar_mask(size: u64) -> u32 {
    !(u32::try_from(size).unwrap_or(u32::MAX).wrapping_sub(1)) & !0xF
}

impl ConfigSpace {
    /// The 256-byte header as it reads now.
    fn image(&self) -> [u8; CONFIG_SIZE as usize] {
        let mut b = [0u8; CONFIG_SIZE as usize];
        b[0..2].copy_from_slice(&VENDOR_ID.to_le_bytes());
        b[2..4].copy_from_slice(&DEVICE_ID.to_le_bytes());
        b[COMMAND..COMMAND + 2].copy_from_slice(&self.command.to_le_bytes());
        b[STATUS..STATUS + 2].copy_from_slice(&STATUS_CAP_LIST.to_le_bytes());
        b[0x08] = REVISION;
        b[0x09..0x0C].copy_from_slice(&CLASS_CODE.to_le_bytes()[..3]);
        // 0x0E header type 0 (single function); 0x10.. BARs: memory, 32-bit, not
        // prefetchable (type bits 0).
        b[BAR0..BAR0 + 4].copy_from_slice(&self.bar0.to_le_bytes());
        b[BAR2..BAR2 + 4].copy_from_slice(&self.bar2.to_le_bytes());
        b[BAR4..BAR4 + 4].copy_from_slice(&self.bar4.to_le_bytes());
        b[0x2C..0x2E].copy_from_slice(&VENDOR_ID.to_le_bytes());
        b[0x2E..0x30].copy_from_slice(&DEVICE_ID.to_le_bytes());
        b[CAP_POINTER] = MSIX_CAP;
        b[MSIX_AT..MSIX_AT + CAP_BYTES]
            .copy_from_slice(&Msix::CONTRACT.encode(0, self.msix_control));
        // Interrupt line: unknown; pin 0: no INTx.
        b[0x3C] = 0xFF;
        b
    }

    /// A read of any size at any offset; bytes beyond the header read 0.
    pub(crate) fn read(&self, offset: u64, data: &mut [u8]) {
        let img = self.image();
        for (i, d) in data.iter_mut().enumerate() {
            let pos = offset
                .checked_add(i as u64)
                .and_then(|p| usize::try_from(p).ok());
            *d = pos.and_then(|p| img.get(p)).copied().unwrap_or(0);
        }
    }

    /// A write of any size: the command register's implemented bits, the BARs' address
    /// bits (so BAR sizing reads back the size) and MSI-X message control's enable and
    /// function-mask bits take it; everything else ignores it.
    pub(crate) fn write(&mut self, offset: u64, data: &[u8]) {
        for (i, v) in data.iter().enumerate() {
            let Some(pos) = offset
                .checked_add(i as u64)
                .and_then(|p| usize::try_from(p).ok())
            else {
                continue;
            };
            let word =
                |reg: u32, at: usize| u32::from_le_bytes(patch(reg.to_le_bytes(), at, pos, *v));
            let half =
                |reg: u16, at: usize| u16::from_le_bytes(patch(reg.to_le_bytes(), at, pos, *v));
            match pos {
                p if (COMMAND..COMMAND + 2).contains(&p) => {
                    self.command = half(self.command, COMMAND) & COMMAND_MASK;
                }
                p if (BAR0..BAR0 + 4).contains(&p) => {
                    self.bar0 = word(self.bar0, BAR0) & bar_mask(BAR0_SIZE.into());
                }
                p if (BAR2..BAR2 + 4).contains(&p) => {
                    self.bar2 = word(self.bar2, BAR2) & bar_mask(SIM_PORT_SIZE);
                }
                p if (BAR4..BAR4 + 4).contains(&p) => {
                    self.bar4 = word(self.bar4, BAR4) & bar_mask(MSIX_BAR_SIZE.into());
                }
                p if (MSIX_CONTROL..MSIX_CONTROL + 2).contains(&p) => {
                    self.msix_control = half(self.msix_control, MSIX_CONTROL) & MSIX_CONTROL_MASK;
                }
                _ => {}
            }
        }
    }
}

/// The little-endian register `reg` at configuration offset `at` with its byte at offset
/// `pos` replaced by `v` (unchanged when `pos` is outside it).
fn patch<const N: usize>(mut reg: [u8; N], at: usize, pos: usize, v: u8) -> [u8; N] {
    if let Some(byte) = pos.checked_sub(at).and_then(|i| reg.get_mut(i)) {
        *byte = v;
    }
    reg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r32(c: &ConfigSpace, at: u64) -> u32 {
        let mut b = [0u8; 4];
        c.read(at, &mut b);
        u32::from_le_bytes(b)
    }

    #[test]
    fn header_and_bar_sizing() {
        let mut c = ConfigSpace::default();
        assert_eq!(r32(&c, 0), 0xF10F_1234);
        assert_eq!(r32(&c, 8), 0x0280_0001);
        assert_eq!(r32(&c, 0x0C), 0);
        // Sizing: all ones reads back the size's complement, with the type bits 0.
        c.write(0x10, &u32::MAX.to_le_bytes());
        c.write(0x18, &u32::MAX.to_le_bytes());
        assert_eq!(r32(&c, 0x10), 0xFFFF_E000);
        assert_eq!(r32(&c, 0x18), 0xFFF0_0000);
        c.write(0x10, &0xFEBF_1234u32.to_le_bytes());
        assert_eq!(r32(&c, 0x10), 0xFEBF_0000);
        c.write(0x20, &u32::MAX.to_le_bytes());
        assert_eq!(r32(&c, 0x20), 0xFFFF_F000);
        // Command: only memory, bus master and INTx disable stick; status reads the
        // capability list bit only.
        c.write(4, &0xFFFF_FFFFu32.to_le_bytes());
        assert_eq!(r32(&c, 4), 0x0010_0406);
        // Read-only bytes ignore writes; reads past the header are 0.
        c.write(0, &[0, 0]);
        assert_eq!(r32(&c, 0), 0xF10F_1234);
        let mut tail = [0xAAu8; 8];
        c.read(252, &mut tail);
        assert_eq!(tail, [0; 8]);
        c.read(u64::MAX - 1, &mut tail);
        assert_eq!(tail, [0; 8]);
    }

    #[test]
    fn msix_capability_states_the_contract_and_takes_enable_and_mask() {
        let mut c = ConfigSpace::default();
        let mut img = [0u8; 256];
        c.read(0, &mut img);
        assert_eq!(nsflow_rtl::msix::find(&img), Ok((MSIX_CAP, Msix::CONTRACT)));
        // Enable and function mask stick; the table size and ID ignore writes.
        c.write(u64::from(MSIX_CAP), &u32::MAX.to_le_bytes());
        assert_eq!(r32(&c, MSIX_CAP.into()) >> 16, 0xC000);
        assert_eq!(r32(&c, MSIX_CAP.into()) & 0xFFFF, 0x0011);
        c.write(u64::from(MSIX_CAP) + 3, &[0]);
        assert_eq!(r32(&c, MSIX_CAP.into()), 0x0000_0011);
    }
}
