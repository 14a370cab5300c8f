//! The PCI configuration space the server presents (vfio-user region 7): a minimal
//! type-0 header with two 32-bit memory BARs — BAR0, the register map, and BAR2, the
//! model's traffic port — no capability list and no legacy interrupt pin (the interrupt
//! is MSI-X vector 0, bound through vfio-user SET_IRQS).
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

use nsflow_rtl::regs::BAR0_SIZE;
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

/// The writable state of the header.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConfigSpace {
    command: u16,
    bar0: u32,
    bar2: u32,
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
        b[0x08] = REVISION;
        b[0x09..0x0C].copy_from_slice(&CLASS_CODE.to_le_bytes()[..3]);
        // 0x0E header type 0 (single function); 0x10.. BARs: memory, 32-bit, not
        // prefetchable (type bits 0).
        b[BAR0..BAR0 + 4].copy_from_slice(&self.bar0.to_le_bytes());
        b[BAR2..BAR2 + 4].copy_from_slice(&self.bar2.to_le_bytes());
        b[0x2C..0x2E].copy_from_slice(&VENDOR_ID.to_le_bytes());
        b[0x2E..0x30].copy_from_slice(&DEVICE_ID.to_le_bytes());
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

    /// A write of any size: the command register's implemented bits and the BARs' address
    /// bits (so BAR sizing reads back the size) take it; everything else ignores it.
    pub(crate) fn write(&mut self, offset: u64, data: &[u8]) {
        for (i, v) in data.iter().enumerate() {
            let Some(pos) = offset
                .checked_add(i as u64)
                .and_then(|p| usize::try_from(p).ok())
            else {
                continue;
            };
            // Byte `pos - at` of a register at `at` (in range: each arm checks `pos`).
            let patch = |word: u32, at: usize| {
                let mut b = word.to_le_bytes();
                if let Some(byte) = pos.checked_sub(at).and_then(|i| b.get_mut(i)) {
                    *byte = *v;
                }
                u32::from_le_bytes(b)
            };
            match pos {
                p if (COMMAND..COMMAND + 2).contains(&p) => {
                    let mut b = self.command.to_le_bytes();
                    if let Some(byte) = p.checked_sub(COMMAND).and_then(|i| b.get_mut(i)) {
                        *byte = *v;
                    }
                    self.command = u16::from_le_bytes(b) & COMMAND_MASK;
                }
                p if (BAR0..BAR0 + 4).contains(&p) => {
                    self.bar0 = patch(self.bar0, BAR0) & bar_mask(BAR0_SIZE.into());
                }
                p if (BAR2..BAR2 + 4).contains(&p) => {
                    self.bar2 = patch(self.bar2, BAR2) & bar_mask(SIM_PORT_SIZE);
                }
                _ => {}
            }
        }
    }
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
        // Command: only memory, bus master and INTx disable stick; status stays 0.
        c.write(4, &0xFFFF_FFFFu32.to_le_bytes());
        assert_eq!(r32(&c, 4), 0x0000_0406);
        // Read-only bytes ignore writes; reads past the header are 0.
        c.write(0, &[0, 0]);
        assert_eq!(r32(&c, 0), 0xF10F_1234);
        let mut tail = [0xAAu8; 8];
        c.read(252, &mut tail);
        assert_eq!(tail, [0; 8]);
        c.read(u64::MAX - 1, &mut tail);
        assert_eq!(tail, [0; 8]);
    }
}
