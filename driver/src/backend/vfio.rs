//! The kernel VFIO backend: a PCI function bound to vfio-pci, BAR0 mapped with memmap2,
//! DMA memory mapped into the IOMMU through vfio-ioctls, MSI-X vector 0 bound to an
//! eventfd. What needs a real IOMMU and device is documented in docs/deploy.md; the
//! bookkeeping around it (BDF parsing, BAR0 and interrupt selection, IOVA allocation) is
//! plain code with unit tests.
#![allow(unsafe_code)]

use super::{Backend, BackendError};
use crate::dma::{DmaMemory, IovaAllocator, HUGE_PAGE};
use crate::mmio::Mmio;
use memmap2::MmapOptions;
use nsflow_rtl::regs;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use vfio_ioctls::{VfioContainer, VfioDevice, VfioOps};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// `VFIO_REGION_INFO_FLAG_MMAP` (linux/vfio.h).
pub const REGION_FLAG_MMAP: u32 = 1 << 2;
/// `VFIO_PCI_MSI_IRQ_INDEX`.
pub const MSI_IRQ_INDEX: u32 = 1;
/// `VFIO_PCI_MSIX_IRQ_INDEX`.
pub const MSIX_IRQ_INDEX: u32 = 2;
/// IOVA window the driver allocates from (above 4 GiB minus nothing, below 39-bit VT-d).
pub const IOVA_BASE: u64 = 1 << 32;
/// End of the IOVA window: 39-bit address width, the smallest common VT-d width.
pub const IOVA_LIMIT: u64 = 1 << 39;

/// A PCI address `DDDD:BB:DD.F`, validated.
pub fn parse_bdf(s: &str) -> Result<String, BackendError> {
    let bad = || BackendError::BadSpec(format!("vfio:{s}"));
    let (dom, rest) = s.split_once(':').ok_or_else(bad)?;
    let (bus, rest) = rest.split_once(':').ok_or_else(bad)?;
    let (dev, func) = rest.split_once('.').ok_or_else(bad)?;
    let hex = |p: &str, n: usize| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit());
    if !(hex(dom, 4) && hex(bus, 2) && hex(dev, 2) && hex(func, 1)) {
        return Err(bad());
    }
    let d = u8::from_str_radix(dev, 16).map_err(|_| bad())?;
    let f = u8::from_str_radix(func, 16).map_err(|_| bad())?;
    if d > 0x1f || f > 7 {
        return Err(bad());
    }
    Ok(s.to_ascii_lowercase())
}

/// Checks BAR0's region info: mappable and at least as large as the register map.
pub fn check_bar0(flags: u32, size: u64) -> Result<(), BackendError> {
    let fail = |m: String| BackendError::Vfio {
        context: "BAR0".into(),
        message: m,
    };
    if flags & REGION_FLAG_MMAP == 0 {
        return Err(fail(
            "region 0 cannot be mmapped (VFIO_REGION_INFO_FLAG_MMAP missing)".into(),
        ));
    }
    if size < u64::from(regs::BAR0_SIZE) {
        return Err(fail(format!(
            "region 0 is {size:#x} bytes, the register map needs {:#x}",
            regs::BAR0_SIZE
        )));
    }
    Ok(())
}

/// Which interrupt index to bind: MSI-X when the device has vectors, else MSI, else none
/// (the driver then polls).
pub fn choose_irq(msix_count: u32, msi_count: u32) -> Option<u32> {
    if msix_count > 0 {
        Some(MSIX_IRQ_INDEX)
    } else if msi_count > 0 {
        Some(MSI_IRQ_INDEX)
    } else {
        None
    }
}

/// A device bound to vfio-pci.
pub struct VfioBackend {
    bdf: String,
    container: Arc<VfioContainer>,
    device: VfioDevice,
    bar0: Mmio,
    irq: Option<(u32, EventFd)>,
    iova: IovaAllocator,
}

fn vfio_err(context: &str) -> impl Fn(vfio_ioctls::VfioError) -> BackendError + '_ {
    move |e| BackendError::Vfio {
        context: context.to_owned(),
        message: e.to_string(),
    }
}

impl VfioBackend {
    /// Opens the function at `bdf` (e.g. `0000:3b:00.0`): container, group, device, BAR0
    /// mapping and the interrupt eventfd.
    pub fn open(bdf: &str) -> Result<Self, BackendError> {
        let bdf = parse_bdf(bdf)?;
        let path = PathBuf::from(format!("/sys/bus/pci/devices/{bdf}"));
        if !path.exists() {
            return Err(BackendError::Vfio {
                context: bdf,
                message: format!("{} does not exist", path.display()),
            });
        }
        let container =
            Arc::new(VfioContainer::new(None).map_err(vfio_err("open /dev/vfio/vfio"))?);
        let ops: Arc<dyn VfioOps> = container.clone();
        let device = VfioDevice::new(&path, ops, false)
            .map_err(vfio_err("open device (is it bound to vfio-pci?)"))?;
        check_bar0(device.get_region_flags(0), device.get_region_size(0))?;
        let map = MmapOptions::new()
            .offset(device.get_region_offset(0))
            .len(regs::BAR0_SIZE as usize)
            .map_raw(device.as_raw_fd())
            .map_err(|source| BackendError::Io {
                context: "mmap BAR0".into(),
                source,
            })?;
        let bar0 = Mmio::new(map)?;
        let count = |i| device.get_irq_info(i).map_or(0, |q| q.count);
        let irq = match choose_irq(count(MSIX_IRQ_INDEX), count(MSI_IRQ_INDEX)) {
            Some(index) => {
                let efd = EventFd::new(EFD_NONBLOCK).map_err(|e| BackendError::Io {
                    context: "eventfd".into(),
                    source: e,
                })?;
                device
                    .enable_irq(index, vec![&efd])
                    .map_err(vfio_err("enable interrupt"))?;
                Some((index, efd))
            }
            None => None,
        };
        Ok(Self {
            bdf,
            container,
            device,
            bar0,
            irq,
            iova: IovaAllocator::new(IOVA_BASE, IOVA_LIMIT),
        })
    }
}

impl Backend for VfioBackend {
    fn describe(&self) -> String {
        format!("vfio:{}", self.bdf)
    }

    fn read32(&mut self, offset: u32) -> Result<u32, BackendError> {
        Ok(self.bar0.read32(offset)?)
    }

    fn write32(&mut self, offset: u32, value: u32) -> Result<(), BackendError> {
        Ok(self.bar0.write32(offset, value)?)
    }

    fn map_dma(&mut self, mem: &DmaMemory) -> Result<u64, BackendError> {
        let align = if mem.huge_pages() {
            HUGE_PAGE as u64
        } else {
            4096
        };
        let iova = self.iova.alloc(mem.len() as u64, align)?;
        // SAFETY: `mem` is a live memfd mapping of `mem.len()` bytes that nsflow only
        // reaches through raw pointers (volatile reads, copies), never through references,
        // as vfio_dma_map's contract requires; the driver unmaps it before freeing it.
        unsafe {
            self.container
                .vfio_dma_map(iova, mem.len(), mem.as_mut_ptr())
        }
        .map_err(vfio_err("map DMA memory into the IOMMU"))?;
        Ok(iova)
    }

    fn unmap_dma(&mut self, iova: u64, len: usize) -> Result<(), BackendError> {
        self.container
            .vfio_dma_unmap(iova, len)
            .map_err(vfio_err("unmap DMA memory"))?;
        self.iova.free(iova, len as u64);
        Ok(())
    }

    fn irq(&self) -> Option<&EventFd> {
        self.irq.as_ref().map(|(_, e)| e)
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

impl Drop for VfioBackend {
    fn drop(&mut self) {
        if let Some((index, _)) = &self.irq {
            let _ = self.device.disable_irq(*index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bdf_parsing() {
        assert_eq!(parse_bdf("0000:3B:00.0").unwrap(), "0000:3b:00.0");
        for bad in [
            "3b:00.0",
            "0000:3b:00",
            "0000:3b:20.0",
            "0000:3b:00.8",
            "000g:3b:00.0",
            "",
            "0000:3b:00.0.1",
        ] {
            assert!(parse_bdf(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bar0_and_irq_selection() {
        assert!(check_bar0(REGION_FLAG_MMAP | 3, u64::from(regs::BAR0_SIZE)).is_ok());
        assert!(check_bar0(3, 1 << 20).is_err(), "not mappable");
        assert!(check_bar0(REGION_FLAG_MMAP, 0x1000).is_err(), "too small");
        assert_eq!(choose_irq(4, 1), Some(MSIX_IRQ_INDEX));
        assert_eq!(choose_irq(0, 1), Some(MSI_IRQ_INDEX));
        assert_eq!(choose_irq(0, 0), None);
    }

    #[test]
    fn opening_a_missing_device_is_a_clear_error() {
        let e = VfioBackend::open("0000:ff:1f.7").err().unwrap();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }
}
