//! Host memory as the device sees it: a DMA map table of regions (IOVA, length) each
//! backed by a file the host shares — a memfd or any file the driver also maps. The device
//! writes with `FileExt::write_all_at` (no `mmap`, no `unsafe`); a write must lie wholly
//! inside one mapped region, otherwise it is a fault and nothing is written.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// One mapping.
#[derive(Debug)]
struct Region {
    iova: u64,
    len: u64,
    file: File,
    file_offset: u64,
}

impl Region {
    fn contains(&self, iova: u64, len: u64) -> bool {
        iova >= self.iova && iova - self.iova < self.len && len <= self.len - (iova - self.iova)
    }
}

/// Why a mapping was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// Zero length, or IOVA + length overflows.
    #[error("mapping {iova:#x}+{len:#x} is empty or wraps the address space")]
    Invalid {
        /// Start.
        iova: u64,
        /// Length.
        len: u64,
    },
    /// The range overlaps an existing mapping.
    #[error("mapping {iova:#x}+{len:#x} overlaps an existing mapping")]
    Overlap {
        /// Start.
        iova: u64,
        /// Length.
        len: u64,
    },
}

/// A DMA access the map table does not allow, or that the backing file refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DMA access {iova:#x}+{len} is not inside one mapped region")]
pub struct DmaFault {
    /// Start of the access.
    pub iova: u64,
    /// Length of the access.
    pub len: usize,
}

/// The DMA map table.
#[derive(Debug, Default)]
pub struct HostMemory {
    regions: Vec<Region>,
}

impl HostMemory {
    /// An empty map table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps `len` bytes at device address `iova` onto `file` from `file_offset`. The file
    /// should be at least `file_offset + len` long (writes past its end extend it).
    pub fn map(
        &mut self,
        iova: u64,
        len: u64,
        file: File,
        file_offset: u64,
    ) -> Result<(), MapError> {
        if len == 0 || iova.checked_add(len).is_none() || file_offset.checked_add(len).is_none() {
            return Err(MapError::Invalid { iova, len });
        }
        if self
            .regions
            .iter()
            .any(|r| iova < r.iova + r.len && r.iova < iova + len)
        {
            return Err(MapError::Overlap { iova, len });
        }
        self.regions.push(Region {
            iova,
            len,
            file,
            file_offset,
        });
        Ok(())
    }

    /// Removes the mapping that starts at `iova` with length `len`, returning its file.
    pub fn unmap(&mut self, iova: u64, len: u64) -> Option<File> {
        let i = self
            .regions
            .iter()
            .position(|r| r.iova == iova && r.len == len)?;
        Some(self.regions.swap_remove(i).file)
    }

    /// Whether `[iova, iova + len)` lies inside one mapped region.
    pub fn is_mapped(&self, iova: u64, len: u64) -> bool {
        self.regions.iter().any(|r| r.contains(iova, len))
    }

    fn region(&self, iova: u64, len: usize) -> Result<&Region, DmaFault> {
        self.regions
            .iter()
            .find(|r| r.contains(iova, len as u64))
            .ok_or(DmaFault { iova, len })
    }

    /// Device write of `data` at `iova`.
    pub fn write(&self, iova: u64, data: &[u8]) -> Result<(), DmaFault> {
        let r = self.region(iova, data.len())?;
        r.file
            .write_all_at(data, r.file_offset + (iova - r.iova))
            .map_err(|_| DmaFault {
                iova,
                len: data.len(),
            })
    }

    /// Reads `buf.len()` bytes at `iova` (the host's view, for harnesses and backends that
    /// do not map the file themselves).
    pub fn read(&self, iova: u64, buf: &mut [u8]) -> Result<(), DmaFault> {
        let r = self.region(iova, buf.len())?;
        r.file
            .read_exact_at(buf, r.file_offset + (iova - r.iova))
            .map_err(|_| DmaFault {
                iova,
                len: buf.len(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_land_in_the_file_only_inside_a_region() {
        let f = tempfile::tempfile().unwrap();
        f.set_len(8192).unwrap();
        let mut m = HostMemory::new();
        m.map(0x10_0000, 4096, f.try_clone().unwrap(), 4096)
            .unwrap();
        assert!(matches!(
            m.map(0x10_0800, 16, f.try_clone().unwrap(), 0),
            Err(MapError::Overlap { .. })
        ));
        assert!(m.map(u64::MAX - 1, 16, f.try_clone().unwrap(), 0).is_err());
        m.write(0x10_0010, b"hello").unwrap();
        let mut b = [0u8; 5];
        f.read_exact_at(&mut b, 4096 + 16).unwrap();
        assert_eq!(&b, b"hello");
        m.read(0x10_0010, &mut b).unwrap();
        assert_eq!(&b, b"hello");
        assert!(m.write(0x10_0FFC, b"12345").is_err(), "crosses the end");
        assert!(m.write(0x0F_FFFF, b"1").is_err(), "before the start");
        assert!(m.write(0x10_1000, b"").is_err(), "past the end");
        assert!(m.is_mapped(0x10_0000, 4096));
        assert!(m.unmap(0x10_0000, 4096).is_some());
        assert!(m.write(0x10_0010, b"x").is_err());
    }
}
