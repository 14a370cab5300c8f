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
//!   regions have size 0. An access outside its region is refused with an error reply
//!   ([`Bus`]).
//! - Interrupt: MSI-X (index 2), `regs::MSIX_VECTORS` vector(s); SET_IRQS hands an
//!   eventfd, the model's interrupt messages write 1 to it.
//! - DMA: DMA_MAP with a file descriptor maps the client's memory file into the model's
//!   map table ([`crate::HostMemory`]); the model writes records into it directly.
//! - Reset: `CTRL.soft_reset` and an emptied traffic queue. When the client disconnects
//!   the device returns to its power-on state and the next connection is served.
//! - Protocol: [`Session`] reads, checks and answers the messages (the `vfio_user` crate's
//!   server trusted the lengths clients send; `session` says what it did). Every length is
//!   bounded by the region and the protocol's maximum message size before anything is
//!   allocated for it; a refusal is an error reply, and the server keeps serving.
//! - One client at a time: a client that connects while another holds the device is
//!   answered at once with an error reply (`EBUSY`, which the driver reports as "another
//!   client holds the device") and disconnected, rather than left waiting.
//! - Threading: sessions run on a thread of their own while the listener turns others
//!   away; a model thread offers queued frames whenever the model can take them and then
//!   lets work in flight finish, so records land and interrupts fire while the client
//!   waits. Every region access first offers the frames written before it (posted writes
//!   stay ordered), and BAR0 reads first run the model until idle, as the in-process
//!   backend does.
//! - The socket is created private (mode 0600) and removed when the server ends. An
//!   existing socket that nothing listens on (a server was killed) is replaced; a socket
//!   a server listens on, or anything that is not a socket, is refused.
//!
//! docs/hwsim.md ("Serving the model over vfio-user") has the details.

mod bus;
mod msix;
pub mod pci;
mod port;
mod session;

pub use bus::{Bus, BusError, NUM_IRQS, NUM_REGIONS};
pub use port::MAX_QUEUE_BYTES;
pub use session::{Channel, Session, SessionError};

use crate::params::{BuildError, BuildParams};
use bus::Shared;
use nix::sys::stat::{umask, Mode};
use nsflow_rtl::vfio_user::{errno, Header, HEADER_BYTES};
use std::convert::Infallible;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

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
    /// A server listens on the socket path already.
    #[error("{0} is in use: another server is listening there")]
    InUse(PathBuf),
    /// Something that is not a socket is at the socket path.
    #[error(
        "{0} already exists and is not a socket: not replaced (remove it, or choose another path)"
    )]
    NotASocket(PathBuf),
    /// The socket could not be created.
    #[error("cannot listen on {path}: {source}")]
    Listen {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The socket could not be made private.
    #[error("cannot set mode 0600 on {path}: {source}")]
    Permissions {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A thread could not be started.
    #[error("cannot start the {what} thread: {source}")]
    Thread {
        /// Which thread.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// Accepting a connection failed.
    #[error("accepting a connection on {path}: {source}")]
    Accept {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// How long a client turned away (another holds the device) has to send its first
/// message before it is answered anyway.
const TURN_AWAY_WAIT: Duration = Duration::from_millis(500);

/// A listening server: the socket, the device on its bus, the model thread, and the
/// session being served.
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    /// The socket file this server bound (device, inode): removed on drop only if the path
    /// still names it.
    inode: (u64, u64),
    shared: Arc<Shared>,
    /// The bus while no session holds it.
    bus: Option<Bus>,
    /// Where the session holding the bus hands it back when its client leaves.
    returned: Option<mpsc::Receiver<Bus>>,
    model: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Binds the socket at `path`. A path in use is probed: a socket nothing listens on (its
/// server was killed: `connect` is refused) is removed and bound again; a live socket, or
/// anything that is not a socket, is refused.
fn bind_socket(path: &Path) -> Result<UnixListener, ServeError> {
    let listen = |source| ServeError::Listen {
        path: path.to_owned(),
        source,
    };
    match UnixListener::bind(path) {
        Err(e) if e.kind() == ErrorKind::AddrInUse => {}
        bound => return bound.map_err(listen),
    }
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    if !is_socket {
        return Err(ServeError::NotASocket(path.to_owned()));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(ServeError::InUse(path.to_owned())),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            std::fs::remove_file(path).map_err(listen)?;
            eprintln!(
                "nsflow-hwsim serve: replaced the stale socket {} (nothing listened there)",
                path.display()
            );
            UnixListener::bind(path).map_err(listen)
        }
        Err(e) => Err(listen(e)),
    }
}

/// Answers a client that connected while another holds the device: its first message
/// (waited for briefly) gets an `EBUSY` error reply, then the connection is closed.
fn turn_away(mut stream: UnixStream) {
    let mut head = [0u8; HEADER_BYTES];
    let _ = stream.set_read_timeout(Some(TURN_AWAY_WAIT));
    let _ = stream.set_write_timeout(Some(TURN_AWAY_WAIT));
    let h = match stream.read_exact(&mut head) {
        Ok(()) => Header::decode(&head),
        Err(_) => Header::default(),
    };
    let _ = stream.write_all(&h.error_reply(errno::EBUSY));
}

impl Server {
    /// Builds the model, creates the socket (private from the start: it is bound under
    /// umask 0177, then set to 0600) and starts the model thread.
    pub fn bind(cfg: &ServeConfig) -> Result<Self, ServeError> {
        let bus = Bus::new(cfg.params.clone(), cfg.queue_bytes)?;
        let path = cfg.socket.clone();
        // The umask is per process: a file another thread creates meanwhile is private
        // too, which errs on the safe side.
        let old = umask(Mode::from_bits_truncate(0o177));
        let bound = bind_socket(&path);
        umask(old);
        let listener = bound?;
        let meta = std::fs::metadata(&path).map_err(|source| ServeError::Listen {
            path: path.clone(),
            source,
        })?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(
            |source| ServeError::Permissions {
                path: path.clone(),
                source,
            },
        )?;
        let shared = bus.shared();
        let runner = Arc::clone(&shared);
        let model = std::thread::Builder::new()
            .name("model".into())
            .spawn(move || runner.run_model())
            .map_err(|source| ServeError::Thread {
                what: "model",
                source,
            })?;
        Ok(Self {
            listener,
            path,
            inode: (meta.dev(), meta.ino()),
            shared,
            bus: Some(bus),
            returned: None,
            model: Some(model),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bus, once the session holding it (if any) has handed it back, waiting up to
    /// `wait` for that (a client that just left is still being powered off); `None` while
    /// a client is served.
    fn idle_bus(&mut self, wait: Duration) -> Option<Bus> {
        if let Some(rx) = &self.returned {
            let bus = match rx.recv_timeout(wait) {
                Ok(bus) => bus,
                Err(mpsc::RecvTimeoutError::Timeout) => return None,
                // The session thread died without handing the bus back; the model it
                // drove is still shared.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let mut bus = Bus::from_shared(Arc::clone(&self.shared));
                    bus.power_on();
                    bus
                }
            };
            self.returned = None;
            self.bus = Some(bus);
        }
        self.bus.take()
    }

    /// Serves clients one after another, each from a power-on device, until accepting
    /// fails. A session that ends on an error (a connection broken off, a message the
    /// protocol does not carry) is reported on stderr and the next client is served; a
    /// client that connects while another is served is told so ([`turn_away`]).
    pub fn run(&mut self) -> Result<Infallible, ServeError> {
        loop {
            let (stream, _) = self
                .listener
                .accept()
                .map_err(|source| ServeError::Accept {
                    path: self.path.clone(),
                    source,
                })?;
            let Some(mut bus) = self.idle_bus(TURN_AWAY_WAIT) else {
                turn_away(stream);
                continue;
            };
            let (tx, rx) = mpsc::channel();
            std::thread::Builder::new()
                .name("session".into())
                .spawn(move || {
                    let mut stream = stream;
                    let served = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        Session::new(&mut bus).serve(&mut stream)
                    }));
                    match served {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => eprintln!("nsflow-hwsim serve: connection ended: {e}"),
                        Err(_) => eprintln!(
                            "nsflow-hwsim serve: connection dropped: the session panicked"
                        ),
                    }
                    bus.power_on();
                    let _ = tx.send(bus);
                })
                .map_err(|source| ServeError::Thread {
                    what: "session",
                    source,
                })?;
            self.returned = Some(rx);
        }
    }
}

impl Drop for Server {
    /// Stops the model thread and removes the socket, if the path still names it.
    fn drop(&mut self) {
        self.shared.shut_down();
        if let Some(t) = self.model.take() {
            let _ = t.join();
        }
        let ours =
            std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.inode);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
