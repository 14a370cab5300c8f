//! The kernel VFIO backend: a PCI function bound to vfio-pci, reset when it can be, bus
//! mastering enabled, BAR0 mapped with memmap2, DMA memory mapped into the IOMMU through
//! vfio-ioctls at IOVAs the device's DMA engine reaches, MSI-X vector 0 (else MSI) bound to
//! an eventfd. The bookkeeping around it (BDF parsing, BAR0 and interrupt selection, the
//! IOVA window) is plain code with unit tests; the whole backend runs against QEMU's `edu`
//! device behind an emulated VT-d IOMMU in tests/kernel_vfio.rs, and docs/deploy.md says
//! how, and what only silicon can show.
#![allow(unsafe_code)]

use super::{Backend, BackendError};
use crate::dma::{DmaMemory, IovaAllocator, HUGE_PAGE};
use crate::mmio::Mmio;
use memmap2::MmapOptions;
use nsflow_rtl::regs;
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use vfio_ioctls::{VfioContainer, VfioDevice, VfioOps};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
use vmm_sys_util::ioctl::{ioctl, ioctl_expr, _IOC_NONE};

/// `VFIO_REGION_INFO_FLAG_MMAP` (linux/vfio.h).
pub const REGION_FLAG_MMAP: u32 = 1 << 2;
/// `VFIO_PCI_MSI_IRQ_INDEX`.
pub const MSI_IRQ_INDEX: u32 = 1;
/// `VFIO_PCI_MSIX_IRQ_INDEX`.
pub const MSIX_IRQ_INDEX: u32 = 2;
/// `VFIO_PCI_CONFIG_REGION_INDEX`: the function's configuration space.
pub const CONFIG_REGION_INDEX: u32 = 7;
/// Offset of the PCI command register in configuration space.
const PCI_COMMAND: u64 = 0x04;
/// `PCI_COMMAND_MASTER`: without it the function can neither DMA nor signal MSI/MSI-X
/// (both are memory writes), and vfio-pci leaves it to the user.
const PCI_COMMAND_MASTER: u16 = 1 << 2;
/// `VFIO_DEVICE_RESET`: `_IO(VFIO_TYPE, VFIO_BASE + 11)` (linux/vfio.h).
const VFIO_DEVICE_RESET: libc::c_ulong = ioctl_expr(_IOC_NONE, b';' as u32, 100 + 11, 0);
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

/// What [`VfioBackend::open`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VfioSetup {
    /// BAR0's size, from its region info.
    pub bar0_size: u64,
    /// The interrupt index bound to the eventfd ([`MSIX_IRQ_INDEX`] or [`MSI_IRQ_INDEX`]);
    /// `None` when the device has neither (the driver then polls).
    pub irq_index: Option<u32>,
    /// Whether the function was reset (`VFIO_DEVICE_RESET`: FLR, power-management or bus
    /// reset, whichever the kernel found); false when it has no reset the kernel can use.
    pub reset: bool,
}

/// A device bound to vfio-pci.
pub struct VfioBackend {
    bdf: String,
    container: Arc<VfioContainer>,
    device: VfioDevice,
    bar0: Mmio,
    irq: Option<EventFd>,
    setup: VfioSetup,
    iova: IovaAllocator,
}

fn vfio_err(context: &str) -> impl Fn(vfio_ioctls::VfioError) -> BackendError + '_ {
    move |e| BackendError::Vfio {
        context: context.to_owned(),
        message: e.to_string(),
    }
}

/// Resets the function like vfio-pci users do at open (QEMU, DPDK): `Ok(false)` when the
/// kernel found no reset method for it (`EINVAL`), e.g. a function without FLR or power
/// management alone on a root bus.
fn reset_function(device: &VfioDevice) -> Result<bool, BackendError> {
    // SAFETY: VFIO_DEVICE_RESET takes no argument and `device` is an open VFIO device
    // descriptor; nothing maps device memory or DMA yet, so no Rust state depends on it.
    if unsafe { ioctl(device, VFIO_DEVICE_RESET) } == 0 {
        return Ok(true);
    }
    let source = std::io::Error::last_os_error();
    if source.raw_os_error() == Some(libc::EINVAL) {
        return Ok(false);
    }
    Err(BackendError::Io {
        context: "VFIO_DEVICE_RESET".into(),
        source,
    })
}

/// Turns bus mastering on (read, set [`PCI_COMMAND_MASTER`], write, read back) through
/// the configuration region, as every vfio-pci user must before the device can DMA.
fn enable_bus_master(device: &VfioDevice) -> Result<(), BackendError> {
    let io = |source| BackendError::Io {
        context: "PCI command register (bus master)".into(),
        source,
    };
    // SAFETY: the descriptor is `device`'s, open for the whole call; it is only borrowed to
    // duplicate it, and the File owns the duplicate.
    let fd = unsafe { BorrowedFd::borrow_raw(device.as_raw_fd()) };
    let config = File::from(fd.try_clone_to_owned().map_err(io)?);
    let at = device.get_region_offset(CONFIG_REGION_INDEX) + PCI_COMMAND;
    let read = || -> Result<u16, BackendError> {
        let mut b = [0u8; 2];
        config.read_exact_at(&mut b, at).map_err(io)?;
        Ok(u16::from_le_bytes(b))
    };
    let command = read()? | PCI_COMMAND_MASTER;
    config
        .write_all_at(&command.to_le_bytes(), at)
        .map_err(io)?;
    match read()? {
        c if c & PCI_COMMAND_MASTER != 0 => Ok(()),
        c => Err(BackendError::Vfio {
            context: "enable bus mastering".into(),
            message: format!("the command register reads {c:#06x} after setting bit 2"),
        }),
    }
}

impl VfioBackend {
    /// Opens the function at `bdf` (e.g. `0000:3b:00.0`): container, group, device, a
    /// function reset when the device has one, bus mastering, BAR0 mapping and the
    /// interrupt eventfd. IOVAs
    /// come from the default window until [`Backend::set_dma_address_width`] narrows them.
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
        let bar0_size = device.get_region_size(0);
        check_bar0(device.get_region_flags(0), bar0_size)?;
        let reset = reset_function(&device)?;
        enable_bus_master(&device)?;
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
        let irq_index = choose_irq(count(MSIX_IRQ_INDEX), count(MSI_IRQ_INDEX));
        let irq = match irq_index {
            Some(index) => {
                let efd = EventFd::new(EFD_NONBLOCK).map_err(|e| BackendError::Io {
                    context: "eventfd".into(),
                    source: e,
                })?;
                device
                    .enable_irq(index, vec![&efd])
                    .map_err(vfio_err("enable interrupt"))?;
                Some(efd)
            }
            None => None,
        };
        Ok(Self {
            bdf,
            container,
            device,
            bar0,
            irq,
            setup: VfioSetup {
                bar0_size,
                irq_index,
                reset,
            },
            iova: IovaAllocator::default(),
        })
    }

    /// What opening the device found and did.
    pub fn setup(&self) -> VfioSetup {
        self.setup
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

    fn set_dma_address_width(&mut self, bits: u32) -> Result<(), BackendError> {
        Ok(self.iova.set_width(bits)?)
    }

    fn irq(&self) -> Option<&EventFd> {
        self.irq.as_ref()
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

impl Drop for VfioBackend {
    fn drop(&mut self) {
        if let Some(index) = self.setup.irq_index {
            let _ = self.device.disable_irq(index);
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
    fn the_reset_ioctl_number_is_the_kernels() {
        assert_eq!(VFIO_DEVICE_RESET, 15215, "_IO(';', 111)");
    }

    #[test]
    fn opening_a_missing_device_is_a_clear_error() {
        let e = VfioBackend::open("0000:ff:1f.7").err().unwrap();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }
}
