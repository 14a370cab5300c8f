//! `nsflow-hwsim serve`: the model as a PCI device over vfio-user, so that the driver
//! (`--device vfio-user:PATH`, `nsflow_driver::backend::vfio_user`) or any vfio-user
//! client drives it exactly as it drives silicon, from another process.
//!
//! - Regions: BAR0 (index 0, `BAR0_SIZE`) is [`Device::bar_read`]/[`Device::bar_write`],
//!   32-bit accesses only (others read 0, and writes are dropped, counted in
//!   `UNKNOWN_ACCESS`); BAR2 (index 2, `SIM_PORT_SIZE`) is the model's traffic port
//!   (`nsflow_rtl::sim_port`); BAR4 (`regs::MSIX_BAR`, `MSIX_BAR_SIZE`) holds the MSI-X
//!   vector table and pending-bit array (`msix`); the configuration space (index 7) is the
//!   minimal header of `pci`, with the MSI-X capability the register map defines. Other
//!   regions have size 0.
//! - Interrupt: MSI-X (index 2), `regs::MSIX_VECTORS` vector(s); SET_IRQS hands an
//!   eventfd, the model's interrupt messages write 1 to it.
//! - DMA: DMA_MAP with a file descriptor maps the client's memory file into the model's
//!   map table ([`crate::HostMemory`]); the model writes records into it directly.
//! - Reset: `CTRL.soft_reset` and an emptied traffic queue. When the client disconnects
//!   the device returns to its power-on state and the next connection is served.
//! - Threading: the protocol loop is synchronous; a model thread offers queued frames
//!   whenever the model can take them and then lets work in flight finish, so records land
//!   and interrupts fire while the client waits. Every region access first offers the
//!   frames written before it (posted writes stay ordered), and BAR0 reads first run the
//!   model until idle, as the in-process backend does.
//! - The socket is created private (mode 0600) and removed when the server ends; an
//!   existing path is refused.
//!
//! docs/hwsim.md ("Serving the model over vfio-user") has the details.

mod backend;
mod msix;
pub mod pci;
mod port;

pub use port::MAX_QUEUE_BYTES;

use crate::device::Device;
use crate::params::{BuildError, BuildParams};
use backend::{Backend, Shared};
use nix::sys::stat::{umask, Mode};
use nsflow_rtl::regs::{BAR0_SIZE, MSIX_BAR, MSIX_BAR_SIZE, MSIX_VECTORS};
use nsflow_rtl::sim_port::{SIM_PORT_REGION, SIM_PORT_SIZE};
use std::convert::Infallible;
use std::os::unix::fs::PermissionsExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use vfio_bindings::bindings::vfio::{
    vfio_region_info, VFIO_IRQ_INFO_EVENTFD, VFIO_PCI_BAR0_REGION_INDEX,
    VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_NUM_IRQS, VFIO_PCI_NUM_REGIONS,
    VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
};
use vfio_user::{IrqInfo, ServerRegion};

/// What to serve, and where.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The UNIX socket to create.
    pub socket: PathBuf,
    /// The hardware build to model.
    pub params: BuildParams,
    /// Bytes of frames the traffic port queues (at most [`MAX_QUEUE_BYTES`]).
    pub queue_bytes: usize,
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The build parameters describe no device.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Something is at the socket path already.
    #[error(
        "{0} already exists: another server is listening there, or a stale socket was left \
         behind (remove it)"
    )]
    SocketExists(PathBuf),
    /// The socket could not be created.
    #[error("cannot listen on {path}: {message}")]
    Listen {
        /// The socket.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The socket could not be made private.
    #[error("cannot set mode 0600 on {path}: {source}")]
    Permissions {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The model thread could not be started.
    #[error("cannot start the model thread: {0}")]
    Thread(std::io::Error),
    /// Accepting a connection failed.
    #[error("accepting a connection on {path}: {message}")]
    Accept {
        /// The socket.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// A listening server: the socket, the model and its thread.
pub struct Server {
    listener: vfio_user::Server,
    path: PathBuf,
    backend: Backend,
    shared: Arc<Shared>,
    model: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// One region: readable and writable when it has a size.
fn region(index: u32, size: u64) -> ServerRegion {
    let flags = if size > 0 {
        VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE
    } else {
        0
    };
    ServerRegion {
        region_info: vfio_region_info {
            argsz: std::mem::size_of::<vfio_region_info>() as u32,
            flags,
            index,
            cap_offset: 0,
            size,
            offset: 0,
        },
        sparse_areas: Vec::new(),
        mmap_fd: None,
    }
}

/// Every PCI region index, sized as the module documentation says.
fn regions() -> Vec<ServerRegion> {
    (0..VFIO_PCI_NUM_REGIONS)
        .map(|i| {
            let size = match i {
                VFIO_PCI_BAR0_REGION_INDEX => BAR0_SIZE.into(),
                SIM_PORT_REGION => SIM_PORT_SIZE,
                VFIO_PCI_CONFIG_REGION_INDEX => pci::CONFIG_SIZE,
                i if i == u32::from(MSIX_BAR) => MSIX_BAR_SIZE.into(),
                _ => 0,
            };
            region(i, size)
        })
        .collect()
}

/// Every PCI interrupt index; only MSI-X has vectors, as many as the map's MSI-X table.
fn irqs() -> Vec<IrqInfo> {
    (0..VFIO_PCI_NUM_IRQS)
        .map(|index| {
            let msix = index == VFIO_PCI_MSIX_IRQ_INDEX;
            IrqInfo {
                index,
                flags: if msix { VFIO_IRQ_INFO_EVENTFD } else { 0 },
                count: if msix { MSIX_VECTORS.into() } else { 0 },
            }
        })
        .collect()
}

impl Server {
    /// Builds the model, creates the socket (private from the start: it is bound under
    /// umask 0177, then set to 0600) and starts the model thread.
    pub fn bind(cfg: &ServeConfig) -> Result<Self, ServeError> {
        let dev = Device::new(cfg.params.clone())?;
        let path = cfg.socket.clone();
        // The umask is per process: a file another thread creates meanwhile is private
        // too, which errs on the safe side.
        let old = umask(Mode::from_bits_truncate(0o177));
        let bound = vfio_user::Server::new(&path, true, irqs(), regions());
        umask(old);
        let listener = bound.map_err(|e| match e {
            vfio_user::Error::SocketPathExists => ServeError::SocketExists(path.clone()),
            e => ServeError::Listen {
                path: path.clone(),
                message: e.to_string(),
            },
        })?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(
            |source| ServeError::Permissions {
                path: path.clone(),
                source,
            },
        )?;
        let shared = Arc::new(Shared::new(dev, port::Port::new(cfg.queue_bytes)));
        let runner = Arc::clone(&shared);
        let model = std::thread::Builder::new()
            .name("model".into())
            .spawn(move || runner.run_model())
            .map_err(ServeError::Thread)?;
        Ok(Self {
            listener,
            path,
            backend: Backend::new(Arc::clone(&shared)),
            shared,
            model: Some(model),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves clients one after another, each from a power-on device, until accepting
    /// fails. A connection that breaks off (the client died mid-message) is reported on
    /// stderr and the next one is served; so is one whose malformed message made the
    /// protocol code panic (the `vfio_user` crate unwraps some of what clients send).
    pub fn run(&mut self) -> Result<Infallible, ServeError> {
        loop {
            let (listener, backend) = (&self.listener, &mut self.backend);
            match std::panic::catch_unwind(AssertUnwindSafe(|| listener.run(backend))) {
                Ok(Ok(())) => {}
                Ok(Err(vfio_user::Error::SocketAccept(e))) => {
                    return Err(ServeError::Accept {
                        path: self.path.clone(),
                        message: e.to_string(),
                    })
                }
                Ok(Err(e)) => eprintln!("nsflow-hwsim serve: connection ended: {e}"),
                Err(_) => eprintln!("nsflow-hwsim serve: connection dropped: malformed message"),
            }
            self.backend.power_on();
        }
    }
}

impl Drop for Server {
    /// Stops the model thread; the listener removes the socket.
    fn drop(&mut self) {
        self.shared.shut_down();
        if let Some(t) = self.model.take() {
            let _ = t.join();
        }
    }
}
