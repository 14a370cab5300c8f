//! The vfio-user device: region accesses, DMA mappings, the interrupt and reset, handled
//! against the model shared with the model thread.
//!
//! Every reply the protocol expects is sent: the `vfio_user` client does not check the
//! error flag of region and DMA_UNMAP replies (an error reply is shorter than it reads and
//! would stall the connection), so what the device refuses is refused the way hardware
//! refuses it — ignored, read as 0, counted in `UNKNOWN_ACCESS` — never as a protocol
//! error. DMA_MAP and SET_IRQS, whose replies the client reads as headers, do report
//! errors.
//!
//! Region offsets, access sizes and data come from the client, so the module denies
//! `clippy::indexing_slicing`: a 32-bit access is taken as a `[u8; 4]` (any other size is
//! an unknown access, or reads 0), never by copying between slices of unchecked lengths.
#![deny(clippy::indexing_slicing)]

use super::msix::MsixBar;
use super::pci::ConfigSpace;
use super::port::{pump, Port};
use crate::device::Device;
use crate::memory::HostMemory;
use nsflow_rtl::regs::{self, Ctrl};
use nsflow_rtl::sim_port;
use std::fs::File;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use vfio_bindings::bindings::vfio::{
    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_TYPE_MASK, VFIO_IRQ_SET_DATA_EVENTFD,
    VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_TYPE_MASK, VFIO_PCI_BAR0_REGION_INDEX,
    VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_MSIX_IRQ_INDEX,
};
use vfio_user::{DmaMapFlags, DmaUnmapFlags, ServerBackend};

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

/// The device as the vfio-user server sees it.
#[derive(Debug)]
pub(crate) struct Backend {
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

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

impl Backend {
    /// A backend over the shared model.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            config: ConfigSpace::default(),
            msix: MsixBar::default(),
            irq: None,
        }
    }

    /// The client went away: the device returns to its power-on state — registers reset,
    /// mappings of the old client's memory dropped, interrupt unbound, queue emptied,
    /// configuration space and MSI-X table at their reset values.
    pub(crate) fn power_on(&mut self) {
        let mut dev = lock(&self.shared.dev);
        soft_reset(&mut dev);
        *dev.memory_mut() = HostMemory::new();
        dev.set_irq(Box::new(|| {}));
        lock(&self.shared.port).clear(true);
        self.config = ConfigSpace::default();
        self.msix = MsixBar::default();
        self.irq = None;
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
}

/// `CTRL.soft_reset`, as the register map defines it.
fn soft_reset(dev: &mut Device) {
    let mut c = Ctrl(0);
    c.set_soft_reset(true);
    dev.bar_write(regs::CTRL.offset, c.0);
}

impl ServerBackend for Backend {
    fn region_read(&mut self, region: u32, offset: u64, data: &mut [u8]) -> io::Result<()> {
        data.fill(0);
        match region {
            VFIO_PCI_BAR0_REGION_INDEX => self.bar0_read(offset, data),
            sim_port::SIM_PORT_REGION => self.port_read(offset, data),
            VFIO_PCI_CONFIG_REGION_INDEX => self.config.read(offset, data),
            MSIX_REGION => self.msix.read(offset, data),
            _ => {}
        }
        Ok(())
    }

    fn region_write(&mut self, region: u32, offset: u64, data: &[u8]) -> io::Result<()> {
        match region {
            VFIO_PCI_BAR0_REGION_INDEX => self.bar0_write(offset, data),
            sim_port::SIM_PORT_REGION => self.port_write(offset, data),
            VFIO_PCI_CONFIG_REGION_INDEX => self.config.write(offset, data),
            MSIX_REGION => self.msix.write(offset, data),
            _ => {}
        }
        Ok(())
    }

    fn dma_map(
        &mut self,
        _flags: DmaMapFlags,
        offset: u64,
        address: u64,
        size: u64,
        fd: Option<File>,
    ) -> io::Result<()> {
        let file = fd.ok_or_else(|| {
            invalid(format!(
                "DMA_MAP {address:#x}+{size:#x} without a file descriptor: \
                 the server shares memory only through files"
            ))
        })?;
        lock(&self.shared.dev)
            .memory_mut()
            .map(address, size, file, offset)
            .map_err(|e| invalid(e.to_string()))
    }

    fn dma_unmap(&mut self, flags: DmaUnmapFlags, address: u64, size: u64) -> io::Result<()> {
        let mut dev = lock(&self.shared.dev);
        if flags.contains(DmaUnmapFlags::UNMAP_ALL) {
            *dev.memory_mut() = HostMemory::new();
        } else if dev.memory_mut().unmap(address, size).is_none() {
            // Replied as done (see the module documentation): nothing was mapped there.
            eprintln!("nsflow-hwsim serve: DMA_UNMAP {address:#x}+{size:#x}: no such mapping");
        }
        Ok(())
    }

    fn reset(&mut self) -> io::Result<()> {
        let mut dev = lock(&self.shared.dev);
        soft_reset(&mut dev);
        lock(&self.shared.port).clear(false);
        Ok(())
    }

    fn set_irqs(
        &mut self,
        index: u32,
        flags: u32,
        start: u32,
        count: u32,
        fds: Vec<File>,
    ) -> io::Result<()> {
        if index != VFIO_PCI_MSIX_IRQ_INDEX {
            return Err(invalid(format!(
                "SET_IRQS index {index}: only MSI-X (index 2) has a vector"
            )));
        }
        let data = flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
        let action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
        if action != VFIO_IRQ_SET_ACTION_TRIGGER {
            return Err(invalid(format!(
                "SET_IRQS flags {flags:#x}: MSI-X vectors cannot be masked"
            )));
        }
        let mut dev = lock(&self.shared.dev);
        match (data, start, count, fds.len()) {
            (VFIO_IRQ_SET_DATA_EVENTFD, 0, 1, 1) => {
                let Some(file) = fds.into_iter().next() else {
                    return Err(invalid("SET_IRQS: no eventfd".into()));
                };
                let efd = Arc::new(file);
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
                return Err(invalid(format!(
                    "SET_IRQS flags {flags:#x} start {start} count {count} with {} fds: \
                     MSI-X has one vector, bound to one eventfd",
                    fds.len()
                )))
            }
        }
        Ok(())
    }
}
