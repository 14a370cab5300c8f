//! DMA memory: host memory the device writes, reachable only through raw pointers.
//!
//! Memory comes from a memfd (2 MiB huge pages when the system has them, else 4 KiB
//! pages) mapped with `memmap2::MmapRaw`, which never hands out references. The same file
//! is what the in-process model and the vfio-user server write through, so the device
//! really writes the driver's memory. As vfio-ioctls' safety contract demands for memory
//! mapped for DMA, no Rust reference into it is ever created: reads are volatile or
//! `copy_nonoverlapping` from raw pointers after an acquire fence. This module and
//! [`crate::mmio`] are the only places with `unsafe` in nsflow.
#![allow(unsafe_code)]

use memmap2::{MmapOptions, MmapRaw};
use std::fs::File;
use std::os::fd::FromRawFd;
use std::sync::atomic::{fence, Ordering};

/// Why DMA memory could not be had or used.
#[derive(Debug, thiserror::Error)]
pub enum DmaError {
    /// memfd_create, ftruncate or mmap failed.
    #[error("cannot allocate {len} bytes of DMA memory: {source}")]
    Alloc {
        /// Requested size.
        len: usize,
        /// The system error.
        source: std::io::Error,
    },
    /// An access outside the region.
    #[error("DMA access at {offset:#x}+{len} outside a {size}-byte region")]
    OutOfBounds {
        /// Offset of the access.
        offset: usize,
        /// Length of the access.
        len: usize,
        /// Region size.
        size: usize,
    },
    /// A DMA address width that leaves no IOVA window.
    #[error(
        "a DMA address width of {bits} bits leaves no IOVA window ({} to 64 bits)",
        MIN_DMA_ADDRESS_BITS
    )]
    AddressWidth {
        /// The width asked for.
        bits: u32,
    },
    /// The IOVA window was to change while memory is mapped at IOVAs of the old one.
    #[error("the IOVA window cannot change while {mappings} DMA mapping(s) are live")]
    IovaWindowInUse {
        /// Mappings not yet withdrawn.
        mappings: usize,
    },
    /// The IOVA space is exhausted.
    #[error("no IOVA space left for {len} bytes (window {base:#x}..{limit:#x})")]
    IovaExhausted {
        /// Requested size.
        len: u64,
        /// Window start.
        base: u64,
        /// Window end.
        limit: u64,
    },
}

/// Size of a huge page, the allocation granule when huge pages are used.
pub const HUGE_PAGE: usize = 2 << 20;
/// Size of a base page.
pub const PAGE: usize = 4096;

/// A block of DMA-able memory backed by a memfd.
#[derive(Debug)]
pub struct DmaMemory {
    file: File,
    map: MmapRaw,
    len: usize,
    huge: bool,
}

fn memfd(name: &std::ffi::CStr, flags: libc::c_uint) -> std::io::Result<File> {
    // SAFETY: `name` is a valid NUL-terminated string and memfd_create has no other
    // preconditions; the returned descriptor is checked before use.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

impl DmaMemory {
    /// Allocates `len` bytes (rounded up to the page size), zeroed. Tries huge pages
    /// first; falls back to base pages where the system has none.
    pub fn new(len: usize) -> Result<Self, DmaError> {
        let err = |source| DmaError::Alloc { len, source };
        let name = c"nsflow-dma";
        let huge_len = len.div_ceil(HUGE_PAGE) * HUGE_PAGE;
        if let Ok(f) = memfd(name, libc::MFD_CLOEXEC | libc::MFD_HUGETLB) {
            if f.set_len(huge_len as u64).is_ok() {
                if let Ok(map) = MmapOptions::new().len(huge_len).map_raw(&f) {
                    return Ok(Self {
                        file: f,
                        map,
                        len: huge_len,
                        huge: true,
                    });
                }
            }
        }
        let len4k = len.max(1).div_ceil(PAGE) * PAGE;
        let file = memfd(name, libc::MFD_CLOEXEC).map_err(err)?;
        file.set_len(len4k as u64).map_err(err)?;
        let map = MmapOptions::new().len(len4k).map_raw(&file).map_err(err)?;
        Ok(Self {
            file,
            map,
            len: len4k,
            huge: false,
        })
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty (never, once allocated).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether huge pages back it.
    pub fn huge_pages(&self) -> bool {
        self.huge
    }

    /// The backing file, to share with a device model or a vfio-user server.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Host virtual address of the mapping (for the kernel IOMMU mapping call).
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    fn check(&self, offset: usize, len: usize) -> Result<(), DmaError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(DmaError::OutOfBounds {
                offset,
                len,
                size: self.len,
            }),
        }
    }

    /// Volatile read of a little-endian u32 the device may be writing (e.g. an index);
    /// followed by an acquire fence so later reads see what the device wrote before it.
    pub fn read_u32_acquire(&self, offset: usize) -> Result<u32, DmaError> {
        self.check(offset, 4)?;
        if offset % 4 != 0 {
            return Err(DmaError::OutOfBounds {
                offset,
                len: 4,
                size: self.len,
            });
        }
        // SAFETY: bounds and alignment checked above; the mapping lives as long as self;
        // a volatile read through a raw pointer creates no reference into DMA memory.
        let v = unsafe { std::ptr::read_volatile(self.map.as_ptr().add(offset).cast::<u32>()) };
        fence(Ordering::Acquire);
        Ok(u32::from_le(v))
    }

    /// Copies `out.len()` bytes at `offset` into `out`.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), DmaError> {
        self.check(offset, out.len())?;
        // SAFETY: the source range is inside the mapping (checked) and `out` is a distinct
        // Rust buffer; reading through a raw pointer creates no reference into DMA memory.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.map.as_ptr().add(offset),
                out.as_mut_ptr(),
                out.len(),
            )
        };
        Ok(())
    }

    /// Writes `data` at `offset` (used to clear the ring before handing it to the device).
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), DmaError> {
        self.check(offset, data.len())?;
        // SAFETY: the destination range is inside the mapping (checked); the device does
        // not own this memory yet (the ring is not programmed) or only reads it.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.map.as_mut_ptr().add(offset),
                data.len(),
            )
        };
        fence(Ordering::Release);
        Ok(())
    }

    /// Fills the whole region with zeros.
    pub fn zero(&self) -> Result<(), DmaError> {
        // SAFETY: writes exactly the mapping's bytes, through a raw pointer.
        unsafe { std::ptr::write_bytes(self.map.as_mut_ptr(), 0, self.len) };
        fence(Ordering::Release);
        Ok(())
    }
}

/// IOVA window the driver allocates from (above 4 GiB minus nothing, below 39-bit VT-d).
pub const IOVA_BASE: u64 = 1 << 32;
/// End of the IOVA window: 39-bit address width, the smallest common VT-d width.
pub const IOVA_LIMIT: u64 = 1 << 39;
/// Start of the IOVA window of a device whose DMA engine cannot reach [`IOVA_BASE`]: clear
/// of IOVA 0 (which reads as "not programmed") and of the legacy low megabyte.
pub const IOVA_LOW_BASE: u64 = 1 << 20;
/// The x86 interrupt (MSI) address window, 0xfee0_0000..0xfef0_0000: the IOMMU reserves
/// it, so a window below 4 GiB ends here.
pub const MSI_WINDOW: u64 = 0xfee0_0000;
/// The narrowest DMA address width the backend accepts: 21 bits leave [`IOVA_LOW_BASE`]
/// ..2 MiB.
pub const MIN_DMA_ADDRESS_BITS: u32 = 21;

/// The IOVA window for a DMA engine that drives `bits` address bits: [`IOVA_BASE`] up to
/// 2^`bits` (at most [`IOVA_LIMIT`]) when the device reaches above 4 GiB; otherwise
/// [`IOVA_LOW_BASE`] up to 2^`bits`, ending before the [`MSI_WINDOW`].
pub fn iova_window(bits: u32) -> Result<(u64, u64), DmaError> {
    if !(MIN_DMA_ADDRESS_BITS..=64).contains(&bits) {
        return Err(DmaError::AddressWidth { bits });
    }
    let top = 1u64.checked_shl(bits).unwrap_or(u64::MAX).min(IOVA_LIMIT);
    if top > IOVA_BASE {
        Ok((IOVA_BASE, top))
    } else {
        Ok((IOVA_LOW_BASE, top.min(MSI_WINDOW)))
    }
}

/// Hands out device addresses (IOVAs) from a window, aligned, never overlapping.
/// Freed ranges are reused first-fit.
#[derive(Debug, Clone)]
pub struct IovaAllocator {
    base: u64,
    limit: u64,
    next: u64,
    free: Vec<(u64, u64)>,
    /// Ranges handed out and not freed.
    live: usize,
}

impl Default for IovaAllocator {
    /// The window of a device that drives 64 address bits: [`IOVA_BASE`]..[`IOVA_LIMIT`].
    fn default() -> Self {
        Self::new(IOVA_BASE, IOVA_LIMIT)
    }
}

impl IovaAllocator {
    /// An allocator over `[base, limit)`.
    pub fn new(base: u64, limit: u64) -> Self {
        Self {
            base,
            limit,
            next: base,
            free: Vec::new(),
            live: 0,
        }
    }

    /// Hands out IOVAs only in [`iova_window`]`(bits)`, for a DMA engine that drives `bits`
    /// address bits (nsflow's engine reports them in `CAP_DMA.addr_bits`; QEMU's `edu`
    /// drives 28). Refused while ranges are handed out, since those were chosen from the
    /// old window.
    pub fn set_width(&mut self, bits: u32) -> Result<(), DmaError> {
        if self.live > 0 {
            return Err(DmaError::IovaWindowInUse {
                mappings: self.live,
            });
        }
        let (base, limit) = iova_window(bits)?;
        *self = Self::new(base, limit);
        Ok(())
    }

    /// A range of `len` bytes aligned to `align` (a power of two).
    pub fn alloc(&mut self, len: u64, align: u64) -> Result<u64, DmaError> {
        let align = align.max(1).next_power_of_two();
        let exhausted = DmaError::IovaExhausted {
            len,
            base: self.base,
            limit: self.limit,
        };
        if let Some(i) = self
            .free
            .iter()
            .position(|(a, l)| a % align == 0 && *l >= len)
        {
            let (a, l) = self.free.remove(i);
            if l > len {
                self.free.push((a + len, l - len));
            }
            self.live += 1;
            return Ok(a);
        }
        let start = self.next.checked_next_multiple_of(align).ok_or(exhausted)?;
        let end =
            start
                .checked_add(len)
                .filter(|e| *e <= self.limit)
                .ok_or(DmaError::IovaExhausted {
                    len,
                    base: self.base,
                    limit: self.limit,
                })?;
        self.next = end;
        self.live += 1;
        Ok(start)
    }

    /// Returns a range to the allocator.
    pub fn free(&mut self, iova: u64, len: u64) {
        self.free.push((iova, len));
        self.live = self.live.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_iova_window_follows_the_dma_address_width() {
        assert_eq!(iova_window(64).unwrap(), (IOVA_BASE, IOVA_LIMIT));
        assert_eq!(iova_window(39).unwrap(), (IOVA_BASE, IOVA_LIMIT));
        assert_eq!(iova_window(36).unwrap(), (IOVA_BASE, 1 << 36));
        assert_eq!(iova_window(33).unwrap(), (IOVA_BASE, 1 << 33));
        assert_eq!(iova_window(32).unwrap(), (IOVA_LOW_BASE, MSI_WINDOW));
        assert_eq!(iova_window(28).unwrap(), (IOVA_LOW_BASE, 1 << 28));
        assert_eq!(iova_window(21).unwrap(), (IOVA_LOW_BASE, 1 << 21));
        for bad in [0, 20, 65] {
            assert!(
                matches!(iova_window(bad), Err(DmaError::AddressWidth { bits }) if bits == bad),
                "{bad}"
            );
        }
        let mut a = IovaAllocator::default();
        let iova = a.alloc(4096, 4096).unwrap();
        assert!(matches!(
            a.set_width(28),
            Err(DmaError::IovaWindowInUse { mappings: 1 })
        ));
        a.free(iova, 4096);
        a.set_width(28).unwrap();
        let low = a.alloc(4096, 4096).unwrap();
        assert!(low >= IOVA_LOW_BASE && low + 4096 <= 1 << 28);
    }

    #[test]
    fn memory_is_zeroed_bounded_and_shared_through_its_file() {
        use std::os::unix::fs::FileExt;
        let m = DmaMemory::new(10_000).unwrap();
        assert!(m.len() >= 10_000 && m.len() % PAGE == 0);
        let mut b = [1u8; 8];
        m.read(0, &mut b).unwrap();
        assert_eq!(b, [0; 8]);
        // A write through the file (as the device model does) is seen through the mapping.
        m.file().write_at(&[7, 0, 0, 0], 64).unwrap();
        assert_eq!(m.read_u32_acquire(64).unwrap(), 7);
        assert!(matches!(
            m.read(m.len() - 4, &mut b),
            Err(DmaError::OutOfBounds { .. })
        ));
        assert!(m.read_u32_acquire(usize::MAX - 1).is_err());
        assert!(m.read_u32_acquire(2).is_err(), "unaligned");
        m.write(100, &[1, 2, 3]).unwrap();
        let mut c = [0u8; 3];
        m.read(100, &mut c).unwrap();
        assert_eq!(c, [1, 2, 3]);
        m.zero().unwrap();
        m.read(100, &mut c).unwrap();
        assert_eq!(c, [0, 0, 0]);
    }

    #[test]
    fn iova_allocator_aligns_reuses_and_refuses_overflow() {
        let mut a = IovaAllocator::new(0x1000, 0x10_0000);
        let x = a.alloc(100, 4096).unwrap();
        let y = a.alloc(100, 4096).unwrap();
        assert_eq!((x, y), (0x1000, 0x2000));
        a.free(x, 100);
        assert_eq!(
            a.alloc(64, 8).unwrap(),
            0x1000,
            "first fit from the free list"
        );
        assert!(a.alloc(0x20_0000, 4096).is_err());
        let mut b = IovaAllocator::new(u64::MAX - 10, u64::MAX);
        assert!(b.alloc(100, 1).is_err(), "no wrap-around");
    }
}
