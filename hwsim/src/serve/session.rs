//! One client's connection: vfio-user messages read off the socket, checked, handled
//! against the [`Bus`] and answered.
//!
//! The server's side of the protocol is implemented here rather than by the `vfio_user`
//! crate's `Server` because that one (0.1.7) trusts what clients send: it allocates the
//! count of a REGION_READ or REGION_WRITE (`vec![0u8; count as usize]`) and the size of a
//! VERSION message before the backend sees them — 4 GiB for a count of 0xFFFFFFFF, which
//! aborts the process — subtracts the header from VERSION's size without checking it (a
//! panic), and unwraps the capabilities string. Here every length is checked before
//! anything is allocated for it (`nsflow_rtl::vfio_user`: the message size against
//! `MAX_MESSAGE`, a region access's count against `MAX_DATA_XFER` and then against the
//! region), and every refusal is an error reply with an errno:
//!
//! - a message the protocol does not carry (size below the header or above
//!   `MAX_MESSAGE`): `EMSGSIZE`, and the connection is closed, since where the next
//!   message starts is unknown;
//! - an unsupported command: `ENOTSUP`; a body without its command's layout, a region
//!   access outside its region, a DMA mapping or interrupt binding the device does not
//!   take, file descriptors where the command takes none: `EINVAL` — the connection goes
//!   on with the next message.
//!
//! The session reads through a [`Channel`], so that it can be driven without a socket
//! (the `vfio_user_server` fuzz target feeds it bytes). The module denies
//! `clippy::indexing_slicing`: it slices nothing.
#![deny(clippy::indexing_slicing)]

use super::bus::{Bus, BusError};
use nsflow_rtl::vfio_user::{
    errno, Header, Reply, Request, WireError, DEVICE_FLAGS_PCI, DEVICE_FLAGS_RESET, HEADER_BYTES,
    MAX_DATA_XFER, MAX_FDS, VERSION,
};
use nsflow_rtl::vfio_user::{Command, DeviceInfo};
use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

/// The server's capabilities, sent in its VERSION reply.
fn capabilities() -> String {
    format!(
        "{{\"capabilities\":{{\"max_msg_fds\":{MAX_FDS},\"max_data_xfer_size\":{MAX_DATA_XFER}}}}}"
    )
}

/// A connection's byte stream, as a session reads and answers it.
pub trait Channel {
    /// Reads up to `buf.len()` bytes, with the file descriptors that came with them;
    /// `Ok((0, _))` at the end of the stream.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)>;
    /// Sends a whole message.
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;
}

/// Room for more descriptors than a message may carry, so that extra ones are received
/// (and closed) rather than left to the kernel's truncation.
const FD_ROOM: usize = 8;

impl Channel for UnixStream {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
        use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(FD_ROOM))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = recvmsg(
            &*self,
            &mut [io::IoSliceMut::new(buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?;
        let mut fds = Vec::new();
        for m in control.drain() {
            if let RecvAncillaryMessage::ScmRights(r) = m {
                fds.extend(r);
            }
        }
        Ok((got.bytes, fds))
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        io::Write::write_all(self, msg)
    }
}

/// Why a session ended other than by the client closing the connection between messages.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Reading or writing the socket failed.
    #[error("connection: {0}")]
    Io(#[from] io::Error),
    /// The client closed the connection inside a message.
    #[error("the client closed the connection inside a message")]
    Truncated,
    /// A message the protocol does not carry: refused, and the connection closed.
    #[error("{0}: refused, connection closed")]
    Framing(WireError),
}

/// A refusal: the errno of the error reply, and why.
#[derive(Debug)]
struct Refusal {
    errno: u32,
}

impl From<WireError> for Refusal {
    fn from(e: WireError) -> Self {
        Self { errno: e.errno() }
    }
}

impl From<BusError> for Refusal {
    fn from(_: BusError) -> Self {
        Self {
            errno: errno::EINVAL,
        }
    }
}

fn einval() -> Refusal {
    Refusal {
        errno: errno::EINVAL,
    }
}

/// One client's connection to the bus.
#[derive(Debug)]
pub struct Session<'a> {
    bus: &'a mut Bus,
    /// The body of the message being read (kept between messages).
    body: Vec<u8>,
}

impl<'a> Session<'a> {
    /// A session of a newly connected client.
    pub fn new(bus: &'a mut Bus) -> Self {
        Self {
            bus,
            body: Vec::new(),
        }
    }

    /// Serves messages until the client closes the connection between two of them
    /// (`Ok`), or until the connection fails or carries something that is not a message.
    pub fn serve(&mut self, ch: &mut impl Channel) -> Result<(), SessionError> {
        loop {
            let mut head = [0u8; HEADER_BYTES];
            let mut fds = Vec::new();
            if !fill(ch, &mut head, &mut fds, true)? {
                return Ok(());
            }
            let h = Header::decode(&head);
            let len = match h.body_len() {
                Ok(len) => len,
                Err(e) => {
                    ch.send(&h.error_reply(e.errno()))?;
                    return Err(SessionError::Framing(e));
                }
            };
            let mut body = std::mem::take(&mut self.body);
            body.clear();
            body.resize(len, 0);
            fill(ch, &mut body, &mut fds, false)?;
            let answer = self.handle(&h, &body, fds);
            self.body = body;
            if h.wants_reply() {
                match answer {
                    Ok(reply) => ch.send(&reply)?,
                    Err(r) => ch.send(&h.error_reply(r.errno))?,
                }
            }
        }
    }

    /// Handles one message whose header is `h`; returns the reply to send.
    fn handle(&mut self, h: &Header, body: &[u8], fds: Vec<OwnedFd>) -> Result<Vec<u8>, Refusal> {
        if h.is_reply() {
            return Err(einval());
        }
        let req = Request::decode(h, body)?;
        let takes_fds = matches!(req.command(), Command::DmaMap | Command::SetIrqs);
        if fds.len() > MAX_FDS || (!takes_fds && !fds.is_empty()) {
            return Err(einval());
        }
        let reply = match req {
            Request::Version { major, .. } => {
                if major != VERSION.0 {
                    return Err(Refusal {
                        errno: errno::ENOTSUP,
                    });
                }
                return Ok(Reply::Version {
                    major: VERSION.0,
                    minor: VERSION.1,
                    caps: &capabilities(),
                }
                .encode(h.id));
            }
            Request::DeviceGetInfo => Reply::DeviceInfo(DeviceInfo {
                flags: DEVICE_FLAGS_PCI | DEVICE_FLAGS_RESET,
                num_regions: super::bus::NUM_REGIONS,
                num_irqs: super::bus::NUM_IRQS,
            }),
            Request::RegionInfo { index, .. } => {
                Reply::RegionInfo(Bus::region(index).ok_or_else(einval)?)
            }
            Request::IrqInfo { index } => Reply::IrqInfo(Bus::irq(index).ok_or_else(einval)?),
            Request::SetIrqs(s) => {
                self.bus.set_irqs(s, fds)?;
                Reply::SetIrqs
            }
            Request::DmaMap(m) => {
                let fd = fds.into_iter().next().ok_or_else(einval)?;
                self.bus
                    .dma_map(m.address, m.size, File::from(fd), m.offset)?;
                Reply::DmaMap
            }
            Request::DmaUnmap(u) => {
                self.bus.dma_unmap(u.flags, u.address, u.size)?;
                Reply::DmaUnmap(u)
            }
            Request::RegionRead(a) => {
                let data = self.bus.region_read(a.region, a.offset, a.count)?;
                return Ok(Reply::RegionRead(a, &data).encode(h.id));
            }
            Request::RegionWrite(a, data) => {
                self.bus.region_write(a.region, a.offset, data)?;
                Reply::RegionWrite(a)
            }
            Request::DeviceReset => {
                self.bus.reset();
                Reply::DeviceReset
            }
        };
        Ok(reply.encode(h.id))
    }
}

/// Fills `buf` from the channel, collecting the descriptors that come with the bytes.
/// Returns `false` when the stream ended before the first byte and `at_boundary` allows
/// that (between messages); an end anywhere else is [`SessionError::Truncated`].
fn fill(
    ch: &mut impl Channel,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    at_boundary: bool,
) -> Result<bool, SessionError> {
    let mut done = 0;
    while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
        let (n, more) = match ch.recv(rest) {
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        // Descriptors beyond what any message may carry are closed here (dropped).
        fds.extend(more.into_iter().take(FD_ROOM.saturating_sub(fds.len())));
        if n == 0 {
            return if done == 0 && at_boundary {
                Ok(false)
            } else {
                Err(SessionError::Truncated)
            };
        }
        done += n;
    }
    Ok(true)
}
