//! `device_bus` input: a sequence of bus operations, each an opcode byte (taken modulo the
//! number of operations) and its fixed-size little-endian fields; a truncated last
//! operation is ignored.
//!
//! | opcode | operation | fields |
//! |---|---|---|
//! | 0 | BAR0 write | register `u16`, value `u32` |
//! | 1 | BAR0 read | register `u16` |
//! | 2 | frames from the generator into the traffic port | seed `u8`, count `u8`, gap µs `u16` |
//! | 3 | a raw batch at `SIM_PORT_DATA` | length `u8`, that many bytes |
//! | 4 | traffic port read | offset `u8` |
//! | 5 | any region access | write `u8` (bit 0), region `u8`, offset `u32`, count `u16` |
//! | 6 | DMA map of the scratch file | address `u8`, size `u8`, file offset `u8` (table selectors) |
//! | 7 | DMA unmap | address `u8`, size `u8`, all `u8` (bit 0) |
//! | 8 | DEVICE_RESET | — |
//!
//! A register `u16` below 0x8000 picks an instance of the register map (modulo their
//! number); from 0x8000 on, its low 14 bits are a raw BAR0 offset (inside BAR0 or past it).

use nsflow_rtl::regs::REGISTERS;

/// Device addresses a DMA map or unmap picks from.
pub const ADDRESSES: [u64; 6] = [
    RING_IOVA,
    RING_IOVA + 4096,
    RING_IOVA + 8192,
    0,
    0x1000,
    u64::MAX - 4095,
];
/// Sizes a DMA map or unmap picks from.
pub const SIZES: [u64; 6] = [4096, 8192, 12288, 0, 1 << 40, u64::MAX];
/// Offsets in the scratch file a DMA map picks from.
pub const FILE_OFFSETS: [u64; 4] = [0, 4096, 60 * 1024, 96 * 1024];

/// Where the harness maps its ring.
pub const RING_IOVA: u64 = 0x1_0000_0000;

/// One bus operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A 32-bit BAR0 write.
    Bar0Write {
        /// Register selector (see the module documentation).
        reg: u16,
        /// The value.
        value: u32,
    },
    /// A 32-bit BAR0 read.
    Bar0Read {
        /// Register selector.
        reg: u16,
    },
    /// Frames of the seeded generator, `gap_us` apart, written as one batch.
    Frames {
        /// Generator seed (the number of flows follows from it).
        seed: u8,
        /// Frames.
        count: u8,
        /// Microseconds between frames.
        gap_us: u16,
    },
    /// Bytes written at `SIM_PORT_DATA` as a batch.
    Batch(Vec<u8>),
    /// A 32-bit read of the traffic port.
    PortRead {
        /// Offset in the port region.
        offset: u8,
    },
    /// Any access to any region.
    Access {
        /// A write (of zeros) rather than a read.
        write: bool,
        /// Region index.
        region: u8,
        /// Offset.
        offset: u32,
        /// Bytes.
        count: u16,
    },
    /// DMA_MAP of a window of the scratch file.
    DmaMap {
        /// Index into [`ADDRESSES`].
        address: u8,
        /// Index into [`SIZES`].
        size: u8,
        /// Index into [`FILE_OFFSETS`].
        offset: u8,
    },
    /// DMA_UNMAP.
    DmaUnmap {
        /// Index into [`ADDRESSES`].
        address: u8,
        /// Index into [`SIZES`].
        size: u8,
        /// Every mapping.
        all: bool,
    },
    /// DEVICE_RESET.
    Reset,
}

/// Number of opcodes.
const OPCODES: u8 = 9;

/// Every BAR0 register instance's offset, in map order.
pub fn register_offsets() -> Vec<u32> {
    REGISTERS
        .iter()
        .flat_map(|r| (0..r.count).map(move |i| r.at(i)))
        .collect()
}

/// The BAR0 offset register selector `reg` picks among `offsets`.
pub fn bar0_offset(reg: u16, offsets: &[u32]) -> u64 {
    if reg < 0x8000 && !offsets.is_empty() {
        u64::from(offsets[usize::from(reg) % offsets.len()])
    } else {
        u64::from(reg & 0x3FFF)
    }
}

/// The register selector that [`bar0_offset`] reads back as `offset`: the first register
/// instance there, or the raw offset.
pub fn selector(offset: u32) -> u16 {
    register_offsets()
        .iter()
        .position(|o| *o == offset)
        .map_or(0x8000 | (offset & 0x3FFF) as u16, |i| i as u16)
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes::<1>().map(|[b]| b)
    }
    fn u16(&mut self) -> Option<u16> {
        self.bytes().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.bytes().map(u32::from_le_bytes)
    }
    fn vec(&mut self, n: usize) -> Option<Vec<u8>> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head.to_vec())
    }
}

/// The operations of a fuzz input.
pub fn parse(data: &[u8]) -> Vec<Op> {
    let mut r = Reader(data);
    let mut ops = Vec::new();
    while let Some(code) = r.u8() {
        let op = match code % OPCODES {
            0 => r
                .u16()
                .zip(r.u32())
                .map(|(reg, value)| Op::Bar0Write { reg, value }),
            1 => r.u16().map(|reg| Op::Bar0Read { reg }),
            2 => (|| {
                Some(Op::Frames {
                    seed: r.u8()?,
                    count: r.u8()?,
                    gap_us: r.u16()?,
                })
            })(),
            3 => r.u8().and_then(|n| r.vec(usize::from(n))).map(Op::Batch),
            4 => r.u8().map(|offset| Op::PortRead { offset }),
            5 => (|| {
                Some(Op::Access {
                    write: r.u8()? & 1 == 1,
                    region: r.u8()?,
                    offset: r.u32()?,
                    count: r.u16()?,
                })
            })(),
            6 => (|| {
                Some(Op::DmaMap {
                    address: r.u8()?,
                    size: r.u8()?,
                    offset: r.u8()?,
                })
            })(),
            7 => (|| {
                Some(Op::DmaUnmap {
                    address: r.u8()?,
                    size: r.u8()?,
                    all: r.u8()? & 1 == 1,
                })
            })(),
            _ => Some(Op::Reset),
        };
        match op {
            Some(op) => ops.push(op),
            None => break,
        }
    }
    ops
}

/// The fuzz input that [`parse`] reads back as `ops` (a batch is cut to 255 bytes).
pub fn encode(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Bar0Write { reg, value } => {
                out.push(0);
                out.extend_from_slice(&reg.to_le_bytes());
                out.extend_from_slice(&value.to_le_bytes());
            }
            Op::Bar0Read { reg } => {
                out.push(1);
                out.extend_from_slice(&reg.to_le_bytes());
            }
            Op::Frames {
                seed,
                count,
                gap_us,
            } => {
                out.extend_from_slice(&[2, *seed, *count]);
                out.extend_from_slice(&gap_us.to_le_bytes());
            }
            Op::Batch(b) => {
                let b = &b[..b.len().min(255)];
                out.extend_from_slice(&[3, b.len() as u8]);
                out.extend_from_slice(b);
            }
            Op::PortRead { offset } => out.extend_from_slice(&[4, *offset]),
            Op::Access {
                write,
                region,
                offset,
                count,
            } => {
                out.extend_from_slice(&[5, u8::from(*write), *region]);
                out.extend_from_slice(&offset.to_le_bytes());
                out.extend_from_slice(&count.to_le_bytes());
            }
            Op::DmaMap {
                address,
                size,
                offset,
            } => out.extend_from_slice(&[6, *address, *size, *offset]),
            Op::DmaUnmap { address, size, all } => {
                out.extend_from_slice(&[7, *address, *size, u8::from(*all)])
            }
            Op::Reset => out.push(8),
        }
    }
    out
}
