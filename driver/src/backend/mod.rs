//! What the driver needs from a device, and the three ways of reaching one: kernel VFIO
//! ([`vfio`]), a vfio-user server such as `nsflow-hwsim serve` ([`vfio_user`]), and the
//! cycle-level model in this process ([`sim`]).
//!
//! A backend moves 32-bit register values, maps DMA memory at device addresses, and
//! delivers interrupts as an eventfd. Everything above it (bring-up, ring drain,
//! regcheck) is the same code on all three. The in-process model is the default `sim`
//! feature; a build for real hardware leaves it (and the simulator) out.

#[cfg(feature = "sim")]
pub mod sim;
pub mod vfio;
pub mod vfio_user;

use crate::dma::{DmaError, DmaMemory};
use crate::mmio::MmioError;
use nsflow_rtl::sim_port::Frame;
use vmm_sys_util::eventfd::EventFd;

/// A backend failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A BAR access was refused (out of range or unaligned).
    #[error(transparent)]
    Mmio(#[from] MmioError),
    /// DMA memory or IOVA space could not be had.
    #[error(transparent)]
    Dma(#[from] DmaError),
    /// The kernel VFIO layer refused an operation.
    #[error("VFIO: {context}: {message}")]
    Vfio {
        /// What was being done.
        context: String,
        /// The error.
        message: String,
    },
    /// The vfio-user transport failed.
    #[error("vfio-user: {context}: {message}")]
    VfioUser {
        /// What was being done.
        context: String,
        /// The error.
        message: String,
    },
    /// An I/O error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The device's MSI-X capability disagrees with the register map (vfio-user).
    #[error("MSI-X: {0}")]
    Msix(#[from] vfio_user::MsixError),
    /// The in-process model refused (bad build parameters, stopped, disabled).
    #[error("model: {0}")]
    Model(String),
    /// A device specification the driver does not understand.
    #[error(
        "bad device `{0}`: expected sim, sim:drop-on-full, vfio-user:PATH or vfio:DDDD:BB:DD.F"
    )]
    BadSpec(String),
}

/// A device as the driver sees it.
pub trait Backend: Send + 'static {
    /// Human-readable description, for reports.
    fn describe(&self) -> String;
    /// One 32-bit read of BAR0.
    fn read32(&mut self, offset: u32) -> Result<u32, BackendError>;
    /// One 32-bit write of BAR0.
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), BackendError>;
    /// Makes `mem` reachable by the device and returns its device address (IOVA).
    fn map_dma(&mut self, mem: &DmaMemory) -> Result<u64, BackendError>;
    /// Withdraws a mapping made by [`Backend::map_dma`].
    fn unmap_dma(&mut self, iova: u64, len: usize) -> Result<(), BackendError>;
    /// The eventfd signalled on the device's interrupt, when it has one.
    fn irq(&self) -> Option<&EventFd>;
    /// Where frames enter a modelled device; `None` on silicon (its ports take packets).
    fn traffic(&mut self) -> Option<&mut dyn TrafficPort> {
        None
    }
    /// Narrows the IOVAs [`Backend::map_dma`] hands out to what a DMA engine that drives
    /// `bits` address bits reaches (`CAP_DMA.addr_bits`; bring-up sets it from the
    /// identification block). Refused while memory is mapped.
    fn set_dma_address_width(&mut self, bits: u32) -> Result<(), BackendError>;

    /// The backend itself, for its own API beyond this trait (the in-process model's
    /// fault injection and statistics: `downcast_mut::<sim::SimBackend>()`).
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
}

/// The ingress of a modelled device: frames offered with their capture timestamps.
pub trait TrafficPort {
    /// Offers frames in order; returns how many the device took (0 while it is holding
    /// back, e.g. with its record ring full, or in its error state until the driver recovers
    /// it). The caller offers the rest later.
    fn offer(&mut self, frames: &[Frame]) -> Result<usize, BackendError>;

    /// Lets `ns` nanoseconds of device time pass with no traffic. A model's clock moves
    /// only with the frames offered (their capture times) and the work the host asks for,
    /// so a host that wants idle time to count as on a running router (flows aging out
    /// after the traffic stopped) says how much passed. Returns false when this port
    /// cannot move its device's clock (the default): the clock stands still while idle.
    fn idle(&mut self, ns: u64) -> Result<bool, BackendError> {
        let _ = ns;
        Ok(false)
    }
}

/// Opens a device by its command-line specification: `sim` (the in-process model, default
/// build), `sim:drop-on-full` (a build that drops and counts records when its ring is
/// full instead of holding traffic back), `vfio-user:PATH` or `vfio:DDDD:BB:DD.F`.
pub fn open(spec: &str) -> Result<Box<dyn Backend>, BackendError> {
    #[cfg(feature = "sim")]
    if spec == "sim" {
        return Ok(Box::new(sim::SimBackend::default_build()?));
    }
    #[cfg(feature = "sim")]
    if spec == "sim:drop-on-full" {
        return Ok(Box::new(sim::SimBackend::new(nsflow_hwsim::BuildParams {
            drop_on_full: true,
            ..nsflow_hwsim::BuildParams::default()
        })?));
    }
    if let Some(path) = spec.strip_prefix("vfio-user:") {
        return Ok(Box::new(vfio_user::VfioUserBackend::connect(
            std::path::Path::new(path),
        )?));
    }
    if let Some(bdf) = spec.strip_prefix("vfio:") {
        return Ok(Box::new(vfio::VfioBackend::open(bdf)?));
    }
    Err(BackendError::BadSpec(spec.to_owned()))
}
