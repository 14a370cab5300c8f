//! The in-process backend: the cycle-level model (`nsflow-hwsim`) in this process, for
//! tests and the default `nsflow run`.
//!
//! The model shares the driver's DMA memory as its file (the memfd), so it really writes
//! the memory the driver reads. Real hardware runs on its own; the model runs when the
//! host looks at it: every BAR read first lets it finish the work in flight
//! (`run_until_idle`), so a flush the driver waits for completes, and idle time is
//! skipped rather than stepped.

use super::{Backend, BackendError, TrafficPort};
use crate::dma::{DmaMemory, IovaAllocator};
use nsflow_hwsim::{BuildParams, Device, Fault, Refused};
use nsflow_rtl::sim_port::Frame;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// The model in this process.
pub struct SimBackend {
    dev: Device,
    irq: EventFd,
    iova: IovaAllocator,
}

impl SimBackend {
    /// A model of the given build, with its interrupt wired to an eventfd.
    pub fn new(params: BuildParams) -> Result<Self, BackendError> {
        let mut dev = Device::new(params).map_err(|e| BackendError::Model(e.to_string()))?;
        let irq = EventFd::new(EFD_NONBLOCK).map_err(|source| BackendError::Io {
            context: "eventfd".into(),
            source,
        })?;
        let signal = irq.try_clone().map_err(|source| BackendError::Io {
            context: "eventfd".into(),
            source,
        })?;
        dev.set_irq(Box::new(move || {
            // A full eventfd counter only means an interrupt is already pending.
            let _ = signal.write(1);
        }));
        Ok(Self {
            dev,
            irq,
            iova: IovaAllocator::default(),
        })
    }

    /// The default build of the contract.
    pub fn default_build() -> Result<Self, BackendError> {
        Self::new(BuildParams::default())
    }

    /// Injects a device fault into the model (`nsflow run --fault`, tests): the simulator's
    /// own API, reached through [`Backend::as_any_mut`].
    pub fn inject(&mut self, fault: Fault) {
        self.dev.inject(fault);
    }

    /// The model, for tests and reports (throughput, occupancy).
    pub fn model(&mut self) -> &mut Device {
        &mut self.dev
    }
}

impl Backend for SimBackend {
    fn describe(&self) -> String {
        "sim (in-process cycle-level model)".into()
    }

    fn read32(&mut self, offset: u32) -> Result<u32, BackendError> {
        self.dev.run_until_idle();
        Ok(self.dev.bar_read(offset))
    }

    fn write32(&mut self, offset: u32, value: u32) -> Result<(), BackendError> {
        self.dev.bar_write(offset, value);
        Ok(())
    }

    fn map_dma(&mut self, mem: &DmaMemory) -> Result<u64, BackendError> {
        let iova = self.iova.alloc(mem.len() as u64, 4096)?;
        let file = mem.file().try_clone().map_err(|source| BackendError::Io {
            context: "share DMA memory".into(),
            source,
        })?;
        self.dev
            .memory_mut()
            .map(iova, mem.len() as u64, file, 0)
            .map_err(|e| BackendError::Model(e.to_string()))?;
        Ok(iova)
    }

    fn unmap_dma(&mut self, iova: u64, len: usize) -> Result<(), BackendError> {
        self.dev.memory_mut().unmap(iova, len as u64);
        self.iova.free(iova, len as u64);
        Ok(())
    }

    fn irq(&self) -> Option<&EventFd> {
        Some(&self.irq)
    }

    fn traffic(&mut self) -> Option<&mut dyn TrafficPort> {
        Some(self)
    }

    fn set_dma_address_width(&mut self, bits: u32) -> Result<(), BackendError> {
        Ok(self.iova.set_width(bits)?)
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

impl TrafficPort for SimBackend {
    fn offer(&mut self, frames: &[Frame]) -> Result<usize, BackendError> {
        for (i, f) in frames.iter().enumerate() {
            match self.dev.offer_frame(f) {
                Ok(()) => {}
                // Holding, in its error state until the driver recovers it, or gone
                // (the driver notices and stops): the frame waits at the port, as on a
                // link with flow control.
                Err(Refused::Busy | Refused::Stopped | Refused::Removed) => return Ok(i),
                Err(e) => return Err(BackendError::Model(e.to_string())),
            }
        }
        Ok(frames.len())
    }

    fn idle(&mut self, ns: u64) -> Result<bool, BackendError> {
        self.dev.advance_ns(ns);
        Ok(true)
    }
}
