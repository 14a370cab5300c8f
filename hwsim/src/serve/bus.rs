//! The device on its buses, as a vfio-user client reaches it: region accesses (BAR0, the
//! traffic port BAR2, the MSI-X table BAR4, configuration space), DMA mappings, the interrupt and reset, handled
//! against the model shared with the model thread.
//!
//! Two kinds of refusal. An access the protocol cannot carry out — a region that does not
//! exist or has no size, a range past the region's end, a DMA mapping or interrupt binding
//! the device does not take — is a [`BusError`], which the session answers with an error
//! reply. An access inside a region that the device itself does not take is refused the way
//! hardware refuses it: ignored, read as 0, counted in `UNKNOWN_ACCESS` (BAR0 accesses of
//! other than 32 bits, a malformed or oversized batch at the traffic port).
//!
//! Region offsets, access sizes and data come from the client, so the module denies
//! `clippy::indexing_slicing`: ranges are checked against the region with checked
//! arithmetic before any buffer is allocated, and a 32-bit access is taken as a `[u8; 4]`
//! (any other size is an unknown access, or reads 0), never by copying between slices of
//! unchecked lengths.
#![deny(clippy::indexing_slicing)]

use super::msix::MsixBar;
use super::pci::{self, ConfigSpace};
use super::port::{pump, Port};
use crate::device::Device;
use crate::memory::HostMemory;
use crate::params::{BuildError, BuildParams};
use nsflow_rtl::regs::{self, Ctrl, BAR0_SIZE, MSIX_BAR_SIZE, MSIX_VECTORS};
use nsflow_rtl::sim_port::{self, SIM_PORT_REGION, SIM_PORT_SIZE};
use nsflow_rtl::vfio_user::{
    IrqInfo, RegionInfo, SetIrqs, DMA_UNMAP_ALL, IRQ_INFO_EVENTFD, REGION_READ_WRITE,
};
use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use vfio_bindings::bindings::vfio::{
    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_TYPE_MASK, VFIO_IRQ_SET_DATA_EVENTFD,
    VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_TYPE_MASK, VFIO_PCI_BAR0_REGION_INDEX,
    VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_NUM_IRQS, VFIO_PCI_NUM_REGIONS,
};

/// Frames the model thread offers per turn before letting the protocol in.
const TURN: usize = 64;
/// The region of the MSI-X table and pending-bit array (its BAR's index).
const MSIX_REGION: u32 = regs::MSIX_BAR as u32;

/// The model and its injection queue, shared by the protocol handler and the model
/// thread. Lock order: `dev` before `port`.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) dev: Mutex<Device>,
    pub(crate) port: Mutex<Port>,
    /// Signalled (with `port`) when frames may be offered, and on stop.
    pub(crate) wake: Condvar,
    pub(crate) stop: AtomicBool,
}

/// A lock that survives a panic elsewhere (the state stays usable for the next client).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Shared state around a freshly built model.
    pub(crate) fn new(dev: Device, port: Port) -> Self {
        Self {
            dev: Mutex::new(dev),
            port: Mutex::new(port),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        }
    }

    /// Ends the model thread.
    pub(crate) fn shut_down(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _guard = lock(&self.port);
        self.wake.notify_all();
    }

    /// The model thread: offers queued frames as long as there are any the model may
    /// take, then lets the engine finish what is in flight (records land, interrupts
    /// fire) — so the model makes progress while the client only waits for an interrupt.
    pub(crate) fn run_model(&self) {
        loop {
            {
                let mut port = lock(&self.port);
                while !port.runnable() && !self.stop.load(Ordering::SeqCst) {
                    port = self.wake.wait(port).unwrap_or_else(PoisonError::into_inner);
                }
            }
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let mut dev = lock(&self.dev);
            let mut port = lock(&self.port);
            pump(&mut dev, &mut port, TURN);
            if port.is_empty() {
                drop(port);
                dev.run_until_idle();
            }
        }
    }

    /// Runs `f` on the model after every frame written before it has been offered (PCIe
    /// keeps posted writes in order: frames the client wrote before this access reach the
    /// device first), as far as the model takes them.
    fn with_model<R>(&self, f: impl FnOnce(&mut Device, &mut Port) -> R) -> R {
        let mut dev = lock(&self.dev);
        let mut port = lock(&self.port);
        pump(&mut dev, &mut port, usize::MAX);
        f(&mut dev, &mut port)
    }
}

/// Why the bus refuses an access or a request; the session answers it with an error reply
/// (`EINVAL`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// No such region, or one of size 0.
    #[error("region {0} does not exist")]
    NoRegion(u32),
    /// The range does not lie inside the region.
    #[error("access of {count} bytes at {offset:#x} is outside region {region} ({size:#x} bytes)")]
    Range {
        /// Region index.
        region: u32,
        /// Offset of the access.
        offset: u64,
        /// Bytes of the access.
        count: u64,
        /// Bytes of the region.
        size: u64,
    },
    /// A DMA mapping or unmapping the device does not take.
    #[error("DMA: {0}")]
    Dma(String),
    /// An interrupt binding the device does not take.
    #[error("SET_IRQS: {0}")]
    Irq(String),
}

/// Regions the device reports: every PCI region index, BAR0, BAR2, BAR4 and the
/// configuration space with a size, the others with none.
pub const NUM_REGIONS: u32 = VFIO_PCI_NUM_REGIONS;
/// Interrupt indices the device reports: every PCI one, MSI-X alone with vectors (as many
/// as the map's MSI-X table).
pub const NUM_IRQS: u32 = VFIO_PCI_NUM_IRQS;

/// The size of region `index`: 0 for the regions the device does not have.
fn region_size(index: u32) -> u64 {
    match index {
        VFIO_PCI_BAR0_REGION_INDEX => BAR0_SIZE.into(),
        SIM_PORT_REGION => SIM_PORT_SIZE,
        VFIO_PCI_CONFIG_REGION_INDEX => pci::CONFIG_SIZE,
        MSIX_REGION => MSIX_BAR_SIZE.into(),
        _ => 0,
    }
}

/// The device on its buses.
#[derive(Debug)]
pub struct Bus {
    shared: Arc<Shared>,
    config: ConfigSpace,
    msix: MsixBar,
    /// The eventfd of MSI-X vector 0, as bound by the client.
    irq: Option<Arc<File>>,
}

/// The offset of a 32-bit BAR0 access, if it is one.
fn bar0_offset(offset: u64, len: usize) -> Option<u32> {
    u32::try_from(offset).ok().filter(|_| len == 4)
}

impl Bus {
    /// A power-on device of build `params` whose traffic port queues up to `queue_bytes`
    /// of frames (at most [`super::MAX_QUEUE_BYTES`]). No model thread runs behind it:
    /// every access runs the model itself (frames written before it are offered first,
    /// BAR0 reads run the model until idle), which is what a harness wants; the server
    /// adds the thread.
    pub fn new(params: BuildParams, queue_bytes: usize) -> Result<Self, BuildError> {
        let dev = Device::new(params)?;
        Ok(Self::from_shared(Arc::new(Shared::new(
            dev,
            Port::new(queue_bytes),
        ))))
    }

    /// A bus over a model shared with a model thread.
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            config: ConfigSpace::default(),
            msix: MsixBar::default(),
            irq: None,
        }
    }

    /// The model and queue behind the bus, for the server's model thread.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Region `index` as DEVICE_GET_REGION_INFO describes it; `None` past the last index.
    pub fn region(index: u32) -> Option<RegionInfo> {
        (index < NUM_REGIONS).then(|| {
            let size = region_size(index);
            RegionInfo {
                flags: if size > 0 { REGION_READ_WRITE } else { 0 },
                index,
                size,
                offset: 0,
            }
        })
    }

    /// Interrupt index `index` as DEVICE_GET_IRQ_INFO describes it; `None` past the last.
    pub fn irq(index: u32) -> Option<IrqInfo> {
        (index < NUM_IRQS).then(|| {
            let msix = index == VFIO_PCI_MSIX_IRQ_INDEX;
            IrqInfo {
                flags: if msix { IRQ_INFO_EVENTFD } else { 0 },
                index,
                count: if msix { MSIX_VECTORS.into() } else { 0 },
            }
        })
    }

    /// Checks that `count` bytes at `offset` lie inside region `region`.
    fn check(region: u32, offset: u64, count: u64) -> Result<(), BusError> {
        let size = region_size(region);
        if size == 0 {
            return Err(BusError::NoRegion(region));
        }
        match offset.checked_add(count) {
            Some(end) if end <= size => Ok(()),
            _ => Err(BusError::Range {
                region,
                offset,
                count,
                size,
            }),
        }
    }

    /// Reads `count` bytes at `offset` of region `region`. The range is checked against
    /// the region before the buffer is allocated.
    pub fn region_read(
        &mut self,
        region: u32,
        offset: u64,
        count: u32,
    ) -> Result<Vec<u8>, BusError> {
        Self::check(region, offset, count.into())?;
        let mut data = vec![0u8; count as usize];
        match region {
            VFIO_PCI_BAR0_REGION_INDEX => self.bar0_read(offset, &mut data),
            SIM_PORT_REGION => self.port_read(offset, &mut data),
            MSIX_REGION => self.msix.read(offset, &mut data),
            _ => self.config.read(offset, &mut data),
        }
        Ok(data)
    }

    /// Writes `data` at `offset` of region `region`.
    pub fn region_write(&mut self, region: u32, offset: u64, data: &[u8]) -> Result<(), BusError> {
        Self::check(region, offset, data.len() as u64)?;
        match region {
            VFIO_PCI_BAR0_REGION_INDEX => self.bar0_write(offset, data),
            SIM_PORT_REGION => self.port_write(offset, data),
            MSIX_REGION => self.msix.write(offset, data),
            _ => self.config.write(offset, data),
        }
        Ok(())
    }

    fn bar0_read(&self, offset: u64, data: &mut [u8]) {
        let off = bar0_offset(offset, data.len());
        let word = <&mut [u8; 4]>::try_from(data).ok();
        self.shared.with_model(|dev, _| match (off, word) {
            (Some(off), Some(word)) => {
                // Like the in-process backend: work in flight completes before the host
                // looks (a flush it waits for finishes).
                dev.run_until_idle();
                *word = dev.bar_read(off).to_le_bytes();
            }
            _ => dev.count_unknown_access(),
        });
    }

    fn bar0_write(&self, offset: u64, data: &[u8]) {
        self.shared.with_model(|dev, port| {
            match (bar0_offset(offset, data.len()), <[u8; 4]>::try_from(data)) {
                (Some(off), Ok(v)) => dev.bar_write(off, u32::from_le_bytes(v)),
                _ => dev.count_unknown_access(),
            }
            port.retry();
            if port.runnable() {
                self.shared.wake.notify_one();
            }
        });
    }

    fn port_read(&self, offset: u64, data: &mut [u8]) {
        let v = self.shared.with_model(|_, port| match offset {
            sim_port::SIM_PORT_FREE => u32::try_from(port.free()).unwrap_or(u32::MAX),
            sim_port::SIM_PORT_ACCEPTED => port.accepted() as u32,
            _ => 0,
        });
        if let Ok(word) = <&mut [u8; 4]>::try_from(data) {
            *word = v.to_le_bytes();
        }
    }

    fn port_write(&self, offset: u64, data: &[u8]) {
        let queued = if offset == sim_port::SIM_PORT_DATA {
            let mut port = lock(&self.shared.port);
            let r = port.push_batch(data);
            if r.is_ok() {
                self.shared.wake.notify_one();
            }
            r.is_ok()
        } else {
            false
        };
        if !queued {
            lock(&self.shared.dev).count_unknown_access();
        }
    }

    /// Maps `size` bytes of `file` from `file_offset` at device address `address`: the
    /// model writes records and the write-back into the file directly.
    pub fn dma_map(
        &mut self,
        address: u64,
        size: u64,
        file: File,
        file_offset: u64,
    ) -> Result<(), BusError> {
        lock(&self.shared.dev)
            .memory_mut()
            .map(address, size, file, file_offset)
            .map_err(|e| BusError::Dma(e.to_string()))
    }

    /// Withdraws the mapping of `size` bytes at `address`, or every mapping with
    /// [`DMA_UNMAP_ALL`] in `flags`.
    pub fn dma_unmap(&mut self, flags: u32, address: u64, size: u64) -> Result<(), BusError> {
        let mut dev = lock(&self.shared.dev);
        if flags & DMA_UNMAP_ALL != 0 {
            *dev.memory_mut() = HostMemory::new();
            return Ok(());
        }
        match dev.memory_mut().unmap(address, size) {
            Some(_) => Ok(()),
            None => Err(BusError::Dma(format!(
                "DMA_UNMAP {address:#x}+{size:#x}: no such mapping"
            ))),
        }
    }

    /// DEVICE_RESET: `CTRL.soft_reset`, and the traffic queue is emptied.
    pub fn reset(&mut self) {
        let mut dev = lock(&self.shared.dev);
        soft_reset(&mut dev);
        lock(&self.shared.port).clear(false);
    }

    /// The client went away: the device returns to its power-on state — registers reset,
    /// mappings of the old client's memory dropped, interrupt unbound, queue emptied,
    /// configuration space and MSI-X table at their reset values.
    pub fn power_on(&mut self) {
        let mut dev = lock(&self.shared.dev);
        soft_reset(&mut dev);
        *dev.memory_mut() = HostMemory::new();
        dev.set_irq(Box::new(|| {}));
        lock(&self.shared.port).clear(true);
        self.config = ConfigSpace::default();
        self.msix = MsixBar::default();
        self.irq = None;
    }

    /// Runs `f` on the model behind the bus (a harness's statistics and checks), after
    /// the frames written before have been offered.
    pub fn with_device<R>(&self, f: impl FnOnce(&mut Device) -> R) -> R {
        self.shared.with_model(|dev, _| f(dev))
    }

    /// DEVICE_SET_IRQS: MSI-X vector 0 bound to the eventfd in `fds`
    /// (`DATA_EVENTFD | ACTION_TRIGGER`, start 0, count 1), unbound (`DATA_NONE`, count
    /// 0), or signalled once (`DATA_NONE`, start 0, count 1).
    pub fn set_irqs(&mut self, s: SetIrqs, fds: Vec<OwnedFd>) -> Result<(), BusError> {
        let SetIrqs {
            flags,
            index,
            start,
            count,
        } = s;
        if index != VFIO_PCI_MSIX_IRQ_INDEX {
            return Err(BusError::Irq(format!(
                "index {index}: only MSI-X (index 2) has a vector"
            )));
        }
        let data = flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
        let action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
        if action != VFIO_IRQ_SET_ACTION_TRIGGER {
            return Err(BusError::Irq(format!(
                "flags {flags:#x}: MSI-X vectors cannot be masked"
            )));
        }
        let mut dev = lock(&self.shared.dev);
        match (data, start, count, fds.len()) {
            (VFIO_IRQ_SET_DATA_EVENTFD, 0, 1, 1) => {
                let Some(fd) = fds.into_iter().next() else {
                    return Err(BusError::Irq("no eventfd".into()));
                };
                let efd = Arc::new(File::from(fd));
                let signal = Arc::clone(&efd);
                dev.set_irq(Box::new(move || {
                    // A full eventfd counter only means an interrupt is already pending.
                    let _ = (&*signal).write(&1u64.to_ne_bytes());
                }));
                self.irq = Some(efd);
            }
            (VFIO_IRQ_SET_DATA_NONE, _, 0, 0) => {
                dev.set_irq(Box::new(|| {}));
                self.irq = None;
            }
            (VFIO_IRQ_SET_DATA_NONE, 0, 1, 0) => {
                // Loopback trigger: signal the bound eventfd now.
                if let Some(efd) = &self.irq {
                    let _ = (&**efd).write(&1u64.to_ne_bytes());
                }
            }
            _ => {
                return Err(BusError::Irq(format!(
                    "flags {flags:#x} start {start} count {count} with {} fds: \
                     MSI-X has one vector, bound to one eventfd",
                    fds.len()
                )))
            }
        }
        Ok(())
    }
}

/// `CTRL.soft_reset`, as the register map defines it.
fn soft_reset(dev: &mut Device) {
    let mut c = Ctrl(0);
    c.set_soft_reset(true);
    dev.bar_write(regs::CTRL.offset, c.0);
}
