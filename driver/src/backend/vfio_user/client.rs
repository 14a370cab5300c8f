//! The vfio-user client: one request at a time, each with a deadline, each reply checked
//! before it is believed.
//!
//! The `vfio_user` crate's client (0.1.7), which the backend used before, trusted the
//! server: it had no timeout (a silent server, or one serving another client, hung the
//! driver until killed), allocated the size a VERSION reply claims (a huge size aborted
//! the process, a small one panicked), read replies without looking at their error flag
//! or ID (an error reply — shorter than the reply expected — stalled the connection), and
//! did not expose its socket, so no timeout could be set from outside. Here:
//!
//! - every request has a deadline ([`Client::timeout`], by default [`DEFAULT_TIMEOUT`]):
//!   sending and the whole reply must be done by then, else [`ClientError::Timeout`];
//! - a reply's size is checked against the protocol's maximum before its body is read
//!   (`nsflow_rtl::vfio_user::Header::body_len`), then its type, ID and command against
//!   the request, then its body against the command's layout and the request (region,
//!   offset, count);
//! - an error reply is [`ClientError::Refused`] with its errno, or [`ClientError::Busy`]
//!   for `EBUSY` (the server serves another client);
//! - after a timeout, a closed connection or a malformed reply the connection is out of
//!   step, so every later request fails at once with [`ClientError::Broken`] and the first
//!   error, rather than reading a stale reply as its own.
//!
//! The client reads through a [`Transport`], so that it can be driven without a socket
//! (the `vfio_user_client` fuzz target plays a malicious server). The module denies
//! `clippy::indexing_slicing`: it slices nothing.
#![deny(clippy::indexing_slicing)]

use nsflow_rtl::vfio_user::{
    errno, Command, DmaMap, DmaUnmap, Header, IrqInfo, RegionAccess, RegionInfo, Reply, Request,
    SetIrqs, WireError, DEVICE_FLAGS_PCI, HEADER_BYTES, VERSION,
};
use std::io::{self, IoSlice, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a request may take, sending and the whole reply, unless the backend is told
/// otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Regions the client asks about: the PCI ones (BAR0 to BAR5, ROM, configuration space,
/// VGA). A server claiming more is not asked about the rest.
const PCI_REGIONS: u32 = 9;

/// `VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE`.
const DMA_READ_WRITE: u32 = 0x3;

/// How a client reaches its server.
pub trait Transport {
    /// Sends one whole message by `deadline`, the file descriptors `fds` with its first
    /// byte.
    fn send(&mut self, msg: &[u8], fds: &[BorrowedFd<'_>], deadline: Instant) -> io::Result<()>;
    /// Fills `buf` by `deadline`: `io::ErrorKind::TimedOut` after it,
    /// `io::ErrorKind::UnexpectedEof` when the server closes the connection first.
    fn recv(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<()>;
}

/// What is left until `deadline`, or a timeout error once it has passed.
fn remaining(deadline: Instant) -> io::Result<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))
}

/// A UNIX stream socket to the server.
#[derive(Debug)]
pub struct SocketTransport(UnixStream);

impl SocketTransport {
    /// Connects to the server listening at `path` by `deadline`. The connection is made
    /// without blocking: a server whose queue of connections is full is retried until the
    /// deadline rather than waited for.
    pub fn connect(path: &Path, deadline: Instant) -> io::Result<Self> {
        use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
        let fd = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )?;
        let addr = SocketAddrUnix::new(path)?;
        loop {
            match rustix::net::connect(&fd, &addr) {
                Ok(()) => break,
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {
                    std::thread::sleep(remaining(deadline)?.min(Duration::from_millis(10)));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let stream = UnixStream::from(fd);
        stream.set_nonblocking(false)?;
        Ok(Self(stream))
    }
}

/// Whether `e` says the wait ran out.
fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl Transport for SocketTransport {
    fn send(&mut self, msg: &[u8], fds: &[BorrowedFd<'_>], deadline: Instant) -> io::Result<()> {
        use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
        let mut sent = 0;
        if !fds.is_empty() {
            self.0.set_write_timeout(Some(remaining(deadline)?))?;
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
            let mut control = SendAncillaryBuffer::new(&mut space);
            if !control.push(SendAncillaryMessage::ScmRights(fds)) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "too many file descriptors for one message",
                ));
            }
            sent = rustix::net::sendmsg(
                &self.0,
                &[IoSlice::new(msg)],
                &mut control,
                SendFlags::NOSIGNAL,
            )
            .map_err(|e| {
                let e = io::Error::from(e);
                if timed_out(&e) {
                    io::ErrorKind::TimedOut.into()
                } else {
                    e
                }
            })?;
        }
        let mut rest = msg.get(sent..).unwrap_or_default();
        while !rest.is_empty() {
            self.0.set_write_timeout(Some(remaining(deadline)?))?;
            match self.0.write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if timed_out(&e) => return Err(io::ErrorKind::TimedOut.into()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<()> {
        let mut done = 0;
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            self.0.set_read_timeout(Some(remaining(deadline)?))?;
            match self.0.read(rest) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if timed_out(&e) => return Err(io::ErrorKind::TimedOut.into()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No whole reply by the deadline.
    #[error(
        "no reply within {0:?}: the server is stuck, or is serving another client (it serves one at a time) without saying so"
    )]
    Timeout(Duration),
    /// The server closed the connection.
    #[error("the server closed the connection (it exited, was killed, or dropped this client)")]
    Closed,
    /// The server serves another client (`EBUSY`).
    #[error("another client holds the device (the server serves one client at a time)")]
    Busy,
    /// The server refused the request with an error reply.
    #[error("the server refused it: errno {0} ({desc})", desc = errno::describe(*.0))]
    Refused(u32),
    /// The reply is not a reply to the request.
    #[error("malformed reply: {0}")]
    Malformed(String),
    /// Reading or writing the socket failed otherwise.
    #[error("{0}")]
    Io(String),
    /// An earlier request left the connection out of step; nothing more is sent.
    #[error("the connection failed earlier: {0}")]
    Broken(Box<ClientError>),
}

impl ClientError {
    fn io(e: io::Error, timeout: Duration) -> Self {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Self::Timeout(timeout),
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted => Self::Closed,
            _ => Self::Io(e.to_string()),
        }
    }

    /// Whether the connection is still in step after this error (the server refused the
    /// request and said so).
    fn keeps_connection(&self) -> bool {
        matches!(self, Self::Refused(_) | Self::Busy)
    }
}

impl From<WireError> for ClientError {
    fn from(e: WireError) -> Self {
        Self::Malformed(e.to_string())
    }
}

/// A request of [`Client::connect`]'s handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{step}: {error}")]
pub struct ConnectError {
    /// The request that failed.
    pub step: String,
    /// Why.
    pub error: ClientError,
}

/// A connected client: the version agreed, the device's regions known.
#[derive(Debug)]
pub struct Client<T> {
    transport: T,
    timeout: Duration,
    next_id: u16,
    regions: Vec<RegionInfo>,
    num_irqs: u32,
    /// The error that left the connection out of step.
    broken: Option<ClientError>,
}

impl<T: Transport> Client<T> {
    /// Negotiates the version over `transport`, checks the device is a PCI device and
    /// reads its regions (the PCI ones), each request within `timeout`.
    pub fn connect(transport: T, timeout: Duration) -> Result<Self, ConnectError> {
        let mut c = Self {
            transport,
            timeout,
            next_id: 0,
            regions: Vec::new(),
            num_irqs: 0,
            broken: None,
        };
        let step = |step: &str| {
            let step = step.to_owned();
            move |error| ConnectError { step, error }
        };
        let caps = format!(
            "{{\"capabilities\":{{\"max_msg_fds\":1,\"max_data_xfer_size\":{}}}}}",
            nsflow_rtl::vfio_user::MAX_DATA_XFER
        );
        let version = Request::Version {
            major: VERSION.0,
            minor: VERSION.1,
            caps: &caps,
        };
        let body = c.call(&version, &[]).map_err(step("VERSION"))?;
        match Reply::decode(Command::Version, &body) {
            Ok(Reply::Version { major, .. }) if major == VERSION.0 => {}
            Ok(Reply::Version { major, minor, .. }) => {
                return Err(step("VERSION")(ClientError::Malformed(format!(
                    "the server speaks vfio-user {major}.{minor}, this client {}.{}",
                    VERSION.0, VERSION.1
                ))))
            }
            other => return Err(step("VERSION")(unexpected(other))),
        }
        let body = c
            .call(&Request::DeviceGetInfo, &[])
            .map_err(step("DEVICE_GET_INFO"))?;
        let info = match Reply::decode(Command::DeviceGetInfo, &body) {
            Ok(Reply::DeviceInfo(i)) => i,
            other => return Err(step("DEVICE_GET_INFO")(unexpected(other))),
        };
        if info.flags & DEVICE_FLAGS_PCI == 0 {
            return Err(step("DEVICE_GET_INFO")(ClientError::Malformed(
                "not a PCI device".into(),
            )));
        }
        c.num_irqs = info.num_irqs;
        for index in 0..info.num_regions.min(PCI_REGIONS) {
            let what = format!("DEVICE_GET_REGION_INFO {index}");
            let req = Request::RegionInfo { argsz: 32, index };
            let body = c.call(&req, &[]).map_err(step(&what))?;
            match Reply::decode(Command::DeviceGetRegionInfo, &body) {
                Ok(Reply::RegionInfo(r)) if r.index == index => c.regions.push(r),
                other => return Err(step(&what)(unexpected(other))),
            }
        }
        Ok(c)
    }

    /// How long each request may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Region `index` as the server described it (`None`: it has no such region, or one
    /// of size 0).
    pub fn region(&self, index: u32) -> Option<&RegionInfo> {
        self.regions.iter().find(|r| r.index == index && r.size > 0)
    }

    /// Sends `req` (with `fds`) and returns the body of its successful reply.
    fn call(&mut self, req: &Request<'_>, fds: &[BorrowedFd<'_>]) -> Result<Vec<u8>, ClientError> {
        if let Some(e) = &self.broken {
            return Err(ClientError::Broken(Box::new(e.clone())));
        }
        let r = self.exchange(req, fds);
        if let Err(e) = &r {
            if !e.keeps_connection() {
                self.broken = Some(e.clone());
            }
        }
        r
    }

    fn exchange(
        &mut self,
        req: &Request<'_>,
        fds: &[BorrowedFd<'_>],
    ) -> Result<Vec<u8>, ClientError> {
        let deadline = Instant::now() + self.timeout;
        let io = |e| ClientError::io(e, self.timeout);
        let id = self.next_id;
        self.next_id = id.wrapping_add(1);
        self.transport
            .send(&req.encode(id), fds, deadline)
            .map_err(io)?;
        let mut head = [0u8; HEADER_BYTES];
        self.transport.recv(&mut head, deadline).map_err(io)?;
        let h = Header::decode(&head);
        // Bounded before anything is allocated for it.
        let mut body = vec![0u8; h.body_len()?];
        self.transport.recv(&mut body, deadline).map_err(io)?;
        let command = req.command();
        if !h.is_reply() || h.id != id || h.command != command as u16 {
            return Err(ClientError::Malformed(format!(
                "{} message {} of command {} in answer to {command:?} {id}",
                if h.is_reply() { "reply" } else { "request" },
                h.id,
                h.command
            )));
        }
        match h.error() {
            Some(errno::EBUSY) => Err(ClientError::Busy),
            Some(e) => Err(ClientError::Refused(e)),
            None => Ok(body),
        }
    }

    /// Reads `data.len()` bytes at `offset` of region `region`.
    pub fn region_read(
        &mut self,
        region: u32,
        offset: u64,
        data: &mut [u8],
    ) -> Result<(), ClientError> {
        let asked = access(region, offset, data.len())?;
        let body = self.call(&Request::RegionRead(asked), &[])?;
        match Reply::decode(Command::RegionRead, &body) {
            Ok(Reply::RegionRead(got, bytes)) if got == asked => {
                data.copy_from_slice(bytes);
                Ok(())
            }
            other => Err(self.out_of_step(unexpected(other))),
        }
    }

    /// Writes `data` at `offset` of region `region`.
    pub fn region_write(
        &mut self,
        region: u32,
        offset: u64,
        data: &[u8],
    ) -> Result<(), ClientError> {
        let asked = access(region, offset, data.len())?;
        let body = self.call(&Request::RegionWrite(asked, data), &[])?;
        match Reply::decode(Command::RegionWrite, &body) {
            Ok(Reply::RegionWrite(got)) if got == asked => Ok(()),
            other => Err(self.out_of_step(unexpected(other))),
        }
    }

    /// Maps `size` bytes of the memory file `fd` from `file_offset` at device address
    /// `iova`.
    pub fn dma_map(
        &mut self,
        iova: u64,
        size: u64,
        fd: BorrowedFd<'_>,
        file_offset: u64,
    ) -> Result<(), ClientError> {
        let req = Request::DmaMap(DmaMap {
            flags: DMA_READ_WRITE,
            offset: file_offset,
            address: iova,
            size,
        });
        let body = self.call(&req, &[fd])?;
        match Reply::decode(Command::DmaMap, &body) {
            Ok(Reply::DmaMap) => Ok(()),
            other => Err(self.out_of_step(unexpected(other))),
        }
    }

    /// Withdraws the mapping of `size` bytes at `iova`.
    pub fn dma_unmap(&mut self, iova: u64, size: u64) -> Result<(), ClientError> {
        let req = Request::DmaUnmap(DmaUnmap {
            flags: 0,
            address: iova,
            size,
        });
        let body = self.call(&req, &[])?;
        match Reply::decode(Command::DmaUnmap, &body) {
            Ok(Reply::DmaUnmap(u)) if (u.address, u.size) == (iova, size) => Ok(()),
            other => Err(self.out_of_step(unexpected(other))),
        }
    }

    /// Interrupt index `index`: `None` when the device has no such index.
    pub fn irq_info(&mut self, index: u32) -> Result<Option<IrqInfo>, ClientError> {
        if index >= self.num_irqs {
            return Ok(None);
        }
        let body = self.call(&Request::IrqInfo { index }, &[])?;
        match Reply::decode(Command::GetIrqInfo, &body) {
            Ok(Reply::IrqInfo(i)) if i.index == index => Ok(Some(i)),
            other => Err(self.out_of_step(unexpected(other))),
        }
    }

    /// Binds interrupt vectors as `s` says, to the eventfds `fds`.
    pub fn set_irqs(&mut self, s: SetIrqs, fds: &[BorrowedFd<'_>]) -> Result<(), ClientError> {
        let body = self.call(&Request::SetIrqs(s), fds)?;
        match Reply::decode(Command::SetIrqs, &body) {
            Ok(Reply::SetIrqs) => Ok(()),
            other => Err(self.out_of_step(unexpected(other))),
        }
    }

    /// A reply of the right header whose body does not answer the request: the server
    /// cannot be trusted on this connection any more.
    fn out_of_step(&mut self, e: ClientError) -> ClientError {
        self.broken = Some(e.clone());
        e
    }
}

/// A region access of `len` bytes, refused here when no message carries it.
fn access(region: u32, offset: u64, len: usize) -> Result<RegionAccess, ClientError> {
    let count = u32::try_from(len)
        .ok()
        .filter(|c| *c <= nsflow_rtl::vfio_user::MAX_DATA_XFER)
        .ok_or_else(|| {
            ClientError::Io(format!(
                "a region access of {len} bytes: at most {} bytes per message",
                nsflow_rtl::vfio_user::MAX_DATA_XFER
            ))
        })?;
    Ok(RegionAccess {
        offset,
        region,
        count,
    })
}

/// The error for a reply body that does not decode, or decodes to something else.
fn unexpected(r: Result<Reply<'_>, WireError>) -> ClientError {
    match r {
        Err(e) => e.into(),
        Ok(r) => ClientError::Malformed(format!(
            "a {:?} reply that does not answer the request",
            r.command()
        )),
    }
}
