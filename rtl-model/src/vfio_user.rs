//! The vfio-user messages by which the driver's vfio-user backend and the model's server
//! (`nsflow-hwsim serve`) talk: the header, the commands both implement, their bodies, and
//! the bounds every length is checked against. Like [`crate::sim_port`], not part of the
//! silicon contract but a contract between the two ends, so that they encode and decode
//! the same bytes with the same checks. Pure encoding and decoding: the ends do the I/O
//! (file descriptors travel beside the bytes, as `SCM_RIGHTS`).
//!
//! The layouts are those of the vfio-user specification (version 0.1, little-endian), as
//! the `vfio_user` crate (0.1.7) also sends them: a 16-byte header (message ID, command,
//! message size including the header, flags, error number), then the command's body.
//!
//! Every message comes from a peer that may be hostile — the server reads what any local
//! client writes, the client reads what any server answers — so the module denies
//! `clippy::indexing_slicing`: bodies are decoded through `Fields`, which takes fixed-size
//! chunks with `split_first_chunk`, after the body's length was checked against the
//! command's layout. A message size outside [`HEADER_BYTES`]..=[`MAX_MESSAGE`] and a region
//! access of more than [`MAX_DATA_XFER`] bytes are refused before anything is allocated
//! for them.
#![deny(clippy::indexing_slicing)]

/// Bytes of a message header.
pub const HEADER_BYTES: usize = 16;
/// Bytes of a region access's fixed part (offset, region, count) after the header.
pub const REGION_ACCESS_BYTES: usize = 16;
/// Most data bytes of one region access: the protocol's default `max_data_xfer_size`,
/// which the server advertises and the client keeps to.
pub const MAX_DATA_XFER: u32 = 1 << 20;
/// The largest message either end sends or accepts: a region access carrying
/// [`MAX_DATA_XFER`] bytes. Anything larger is refused unread.
pub const MAX_MESSAGE: u32 = (HEADER_BYTES + REGION_ACCESS_BYTES) as u32 + MAX_DATA_XFER;
/// Most file descriptors one message carries (the server's `max_msg_fds`): DMA_MAP and
/// SET_IRQS of the device's one vector carry one.
pub const MAX_FDS: usize = 1;
/// The protocol version both ends speak (major, minor).
pub const VERSION: (u16, u16) = (0, 1);

/// Flag bits of the header.
pub mod flags {
    /// The message type field: 0 a command, 1 a reply.
    pub const TYPE_MASK: u32 = 0xF;
    /// Type: a reply.
    pub const REPLY: u32 = 1;
    /// The sender expects no reply.
    pub const NO_REPLY: u32 = 1 << 4;
    /// A reply refusing the command; the header's error field holds an errno.
    pub const ERROR: u32 = 1 << 5;
}

/// The error numbers error replies carry (Linux values).
pub mod errno {
    /// Device or resource busy: the server serves another client.
    pub const EBUSY: u32 = 16;
    /// Invalid argument.
    pub const EINVAL: u32 = 22;
    /// Message too long.
    pub const EMSGSIZE: u32 = 90;
    /// Operation not supported.
    pub const ENOTSUP: u32 = 95;

    /// The symbolic name and meaning of `e`, for messages.
    pub fn describe(e: u32) -> &'static str {
        match e {
            EBUSY => "EBUSY: device busy",
            EINVAL => "EINVAL: invalid argument",
            EMSGSIZE => "EMSGSIZE: message too long",
            ENOTSUP => "ENOTSUP: not supported",
            _ => "unknown error number",
        }
    }
}

/// The commands both ends implement (others are refused with `ENOTSUP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Command {
    /// VERSION: protocol version and capabilities; the first message of a connection.
    Version = 1,
    /// DMA_MAP: share memory (a file descriptor) at a device address.
    DmaMap = 2,
    /// DMA_UNMAP: withdraw a mapping.
    DmaUnmap = 3,
    /// DEVICE_GET_INFO: regions and interrupt indices.
    DeviceGetInfo = 4,
    /// DEVICE_GET_REGION_INFO: one region's size and flags.
    DeviceGetRegionInfo = 5,
    /// DEVICE_GET_IRQ_INFO: one interrupt index's vectors.
    GetIrqInfo = 7,
    /// DEVICE_SET_IRQS: bind vectors to eventfds.
    SetIrqs = 8,
    /// REGION_READ.
    RegionRead = 9,
    /// REGION_WRITE.
    RegionWrite = 10,
    /// DEVICE_RESET.
    DeviceReset = 13,
}

impl Command {
    /// The command numbered `v`, if it is one both ends implement.
    pub fn from_u16(v: u16) -> Option<Self> {
        Some(match v {
            1 => Self::Version,
            2 => Self::DmaMap,
            3 => Self::DmaUnmap,
            4 => Self::DeviceGetInfo,
            5 => Self::DeviceGetRegionInfo,
            7 => Self::GetIrqInfo,
            8 => Self::SetIrqs,
            9 => Self::RegionRead,
            10 => Self::RegionWrite,
            13 => Self::DeviceReset,
            _ => return None,
        })
    }
}

/// Why a message is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The header's message size is below the header or above [`MAX_MESSAGE`].
    #[error(
        "message size {size}: a message has {HEADER_BYTES} to {MAX_MESSAGE} bytes (the header and at most {MAX_DATA_XFER} bytes of data)"
    )]
    Size {
        /// The size the header claims.
        size: u32,
    },
    /// A command number this protocol does not implement.
    #[error("command {0} is not supported")]
    Unsupported(u16),
    /// The body does not have the command's layout.
    #[error("{command:?} body of {got} bytes, expected {expected}")]
    Length {
        /// The command.
        command: Command,
        /// Bytes the body has.
        got: usize,
        /// Bytes its layout has.
        expected: usize,
    },
    /// A region access claims more data than the protocol carries in one message.
    #[error("region access of {count} bytes: at most {MAX_DATA_XFER} bytes per message")]
    TooLarge {
        /// The count it claims.
        count: u32,
    },
    /// The VERSION capabilities are not a NUL-terminated UTF-8 string.
    #[error("VERSION capabilities are not a NUL-terminated UTF-8 string")]
    Capabilities,
}

impl WireError {
    /// The errno an error reply refusing the message carries.
    pub fn errno(&self) -> u32 {
        match self {
            Self::Size { .. } | Self::TooLarge { .. } => errno::EMSGSIZE,
            Self::Unsupported(_) => errno::ENOTSUP,
            Self::Length { .. } | Self::Capabilities => errno::EINVAL,
        }
    }
}

/// A message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Message ID: a reply carries its command's.
    pub id: u16,
    /// Command number.
    pub command: u16,
    /// Bytes of the whole message, header included.
    pub size: u32,
    /// [`flags`].
    pub flags: u32,
    /// The errno of an error reply.
    pub error: u32,
}

impl Header {
    /// The header in its 16 bytes.
    pub fn decode(b: &[u8; HEADER_BYTES]) -> Self {
        let [i0, i1, c0, c1, s0, s1, s2, s3, f0, f1, f2, f3, e0, e1, e2, e3] = *b;
        Self {
            id: u16::from_le_bytes([i0, i1]),
            command: u16::from_le_bytes([c0, c1]),
            size: u32::from_le_bytes([s0, s1, s2, s3]),
            flags: u32::from_le_bytes([f0, f1, f2, f3]),
            error: u32::from_le_bytes([e0, e1, e2, e3]),
        }
    }

    /// The 16 bytes of the header.
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut b = [0u8; HEADER_BYTES];
        let mut w = b.as_mut_slice();
        for chunk in [
            &self.id.to_le_bytes()[..],
            &self.command.to_le_bytes(),
            &self.size.to_le_bytes(),
            &self.flags.to_le_bytes(),
            &self.error.to_le_bytes(),
        ] {
            let (head, rest) = w.split_at_mut(chunk.len());
            head.copy_from_slice(chunk);
            w = rest;
        }
        b
    }

    /// Bytes of the body that follows, once the message size is checked against the
    /// bounds: nothing is allocated for a message the protocol does not carry.
    pub fn body_len(&self) -> Result<usize, WireError> {
        if (HEADER_BYTES as u32..=MAX_MESSAGE).contains(&self.size) {
            Ok(self.size as usize - HEADER_BYTES)
        } else {
            Err(WireError::Size { size: self.size })
        }
    }

    /// Whether the message is a reply.
    pub fn is_reply(&self) -> bool {
        self.flags & flags::TYPE_MASK == flags::REPLY
    }

    /// Whether the sender expects a reply.
    pub fn wants_reply(&self) -> bool {
        self.flags & flags::NO_REPLY == 0
    }

    /// The errno, when the message is an error reply.
    pub fn error(&self) -> Option<u32> {
        (self.flags & flags::ERROR != 0).then_some(self.error)
    }

    /// The error reply refusing this message with `errno`.
    pub fn error_reply(&self, errno: u32) -> [u8; HEADER_BYTES] {
        Header {
            id: self.id,
            command: self.command,
            size: HEADER_BYTES as u32,
            flags: flags::REPLY | flags::ERROR,
            error: errno,
        }
        .encode()
    }
}

/// Fixed-size fields taken from the front of a body whose length was checked.
#[derive(Debug)]
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    /// Fields of `body`.
    fn new(body: &'a [u8]) -> Self {
        Self(body)
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        match self.0.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.0 = rest;
                *head
            }
            // Lengths are checked before fields are read: a short body reads zeros.
            None => [0; N],
        }
    }

    /// The next u16.
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }

    /// The next u32.
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    /// The next u64.
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
}

/// A message being encoded: the header (its size filled in at the end), then fields.
struct Writer(Vec<u8>);

impl Writer {
    fn new(id: u16, command: Command, flags: u32) -> Self {
        let h = Header {
            id,
            command: command as u16,
            size: 0,
            flags,
            error: 0,
        };
        Self(h.encode().to_vec())
    }

    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn bytes(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let size = u32::try_from(self.0.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes();
        if let Some(field) = self.0.get_mut(4..8) {
            field.copy_from_slice(&size);
        }
        self.0
    }
}

/// DMA_MAP's body after its `argsz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaMap {
    /// Read/write permission bits.
    pub flags: u32,
    /// Offset of the mapping in the file sent with the message.
    pub offset: u64,
    /// Device address.
    pub address: u64,
    /// Bytes.
    pub size: u64,
}

/// DMA_UNMAP's body after its `argsz` (its reply echoes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaUnmap {
    /// Bit 2: unmap everything.
    pub flags: u32,
    /// Device address.
    pub address: u64,
    /// Bytes.
    pub size: u64,
}

impl DmaUnmap {
    /// The body of a DMA_UNMAP request or of its reply (which echoes it).
    fn decode(command: Command, body: &[u8]) -> Result<Self, WireError> {
        let mut f = exact(command, body, 24)?;
        let _argsz = f.u32();
        Ok(Self {
            flags: f.u32(),
            address: f.u64(),
            size: f.u64(),
        })
    }
}

/// DMA_UNMAP flag: withdraw every mapping.
pub const DMA_UNMAP_ALL: u32 = 1 << 2;

/// DEVICE_GET_INFO's reply after its `argsz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceInfo {
    /// `VFIO_DEVICE_FLAGS_*` (bit 1: PCI, bit 0: resettable).
    pub flags: u32,
    /// Regions.
    pub num_regions: u32,
    /// Interrupt indices.
    pub num_irqs: u32,
}

/// `VFIO_DEVICE_FLAGS_RESET`.
pub const DEVICE_FLAGS_RESET: u32 = 1;
/// `VFIO_DEVICE_FLAGS_PCI`.
pub const DEVICE_FLAGS_PCI: u32 = 2;

/// A region, as DEVICE_GET_REGION_INFO describes it (`vfio_region_info` without `argsz`
/// and the capability offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionInfo {
    /// `VFIO_REGION_INFO_FLAG_*` (bit 0 read, bit 1 write).
    pub flags: u32,
    /// Region index.
    pub index: u32,
    /// Bytes.
    pub size: u64,
    /// Offset for mmap (unused: no region is mappable).
    pub offset: u64,
}

/// `VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE`.
pub const REGION_READ_WRITE: u32 = 0x3;

/// An interrupt index, as DEVICE_GET_IRQ_INFO describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IrqInfo {
    /// `VFIO_IRQ_INFO_*` (bit 0: eventfd).
    pub flags: u32,
    /// The index.
    pub index: u32,
    /// Vectors.
    pub count: u32,
}

/// `VFIO_IRQ_INFO_EVENTFD`.
pub const IRQ_INFO_EVENTFD: u32 = 1;

/// DEVICE_SET_IRQS's body after its `argsz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetIrqs {
    /// `VFIO_IRQ_SET_*`: data type and action.
    pub flags: u32,
    /// Interrupt index.
    pub index: u32,
    /// First vector.
    pub start: u32,
    /// Vectors.
    pub count: u32,
}

/// A region access: REGION_READ's body, and the fixed part of REGION_WRITE and of both
/// replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionAccess {
    /// Offset in the region.
    pub offset: u64,
    /// Region index.
    pub region: u32,
    /// Bytes.
    pub count: u32,
}

impl RegionAccess {
    fn decode(f: &mut Fields<'_>) -> Self {
        Self {
            offset: f.u64(),
            region: f.u32(),
            count: f.u32(),
        }
    }

    fn encode(&self, w: Writer) -> Writer {
        w.u64(self.offset).u32(self.region).u32(self.count)
    }
}

/// A command, as the client sends it and the server decodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// VERSION with the client's capabilities (JSON).
    Version {
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
        /// Capabilities, JSON.
        caps: &'a str,
    },
    /// DMA_MAP (the file descriptor travels beside the message).
    DmaMap(DmaMap),
    /// DMA_UNMAP.
    DmaUnmap(DmaUnmap),
    /// DEVICE_GET_INFO.
    DeviceGetInfo,
    /// DEVICE_GET_REGION_INFO of a region, for a reply of at most `argsz` bytes.
    RegionInfo {
        /// Bytes the client takes (capabilities follow the info when it takes them).
        argsz: u32,
        /// Region index.
        index: u32,
    },
    /// DEVICE_GET_IRQ_INFO of an index.
    IrqInfo {
        /// Interrupt index.
        index: u32,
    },
    /// DEVICE_SET_IRQS (eventfds travel beside the message).
    SetIrqs(SetIrqs),
    /// REGION_READ.
    RegionRead(RegionAccess),
    /// REGION_WRITE with its data.
    RegionWrite(RegionAccess, &'a [u8]),
    /// DEVICE_RESET.
    DeviceReset,
}

/// Bytes of a `vfio_region_info`.
const REGION_INFO_BYTES: u32 = 32;

/// Checks that `body` has exactly the `expected` bytes of `command`'s layout.
fn exact(command: Command, body: &[u8], expected: usize) -> Result<Fields<'_>, WireError> {
    if body.len() == expected {
        Ok(Fields::new(body))
    } else {
        Err(WireError::Length {
            command,
            got: body.len(),
            expected,
        })
    }
}

/// VERSION's body: major, minor, then the capabilities as a NUL-terminated string (or
/// nothing).
fn decode_version(body: &[u8]) -> Result<(u16, u16, &str), WireError> {
    let Some((fixed, caps)) = body.split_first_chunk::<4>() else {
        return Err(WireError::Length {
            command: Command::Version,
            got: body.len(),
            expected: 4,
        });
    };
    let mut f = Fields::new(fixed);
    let (major, minor) = (f.u16(), f.u16());
    let caps = match caps.split_last() {
        None => "",
        Some((0, text)) if !text.contains(&0) => {
            std::str::from_utf8(text).map_err(|_| WireError::Capabilities)?
        }
        Some(_) => return Err(WireError::Capabilities),
    };
    Ok((major, minor, caps))
}

fn encode_version(w: Writer, major: u16, minor: u16, caps: &str) -> Writer {
    let w = w.u16(major).u16(minor);
    if caps.is_empty() {
        w
    } else {
        w.bytes(caps.as_bytes()).bytes(&[0])
    }
}

/// A region access with its data (a REGION_WRITE request, a REGION_READ reply): the
/// data checked against the access's count and the protocol's maximum.
fn access_with_data(command: Command, body: &[u8]) -> Result<(RegionAccess, &[u8]), WireError> {
    let Some((fixed, data)) = body.split_first_chunk::<REGION_ACCESS_BYTES>() else {
        return Err(WireError::Length {
            command,
            got: body.len(),
            expected: REGION_ACCESS_BYTES,
        });
    };
    let access = RegionAccess::decode(&mut Fields::new(fixed));
    if access.count > MAX_DATA_XFER {
        return Err(WireError::TooLarge {
            count: access.count,
        });
    }
    if data.len() != access.count as usize {
        return Err(WireError::Length {
            command,
            got: REGION_ACCESS_BYTES + data.len(),
            expected: REGION_ACCESS_BYTES + access.count as usize,
        });
    }
    Ok((access, data))
}

impl<'a> Request<'a> {
    /// The command.
    pub fn command(&self) -> Command {
        match self {
            Self::Version { .. } => Command::Version,
            Self::DmaMap(_) => Command::DmaMap,
            Self::DmaUnmap(_) => Command::DmaUnmap,
            Self::DeviceGetInfo => Command::DeviceGetInfo,
            Self::RegionInfo { .. } => Command::DeviceGetRegionInfo,
            Self::IrqInfo { .. } => Command::GetIrqInfo,
            Self::SetIrqs(_) => Command::SetIrqs,
            Self::RegionRead(_) => Command::RegionRead,
            Self::RegionWrite(..) => Command::RegionWrite,
            Self::DeviceReset => Command::DeviceReset,
        }
    }

    /// The whole message, with message ID `id`.
    pub fn encode(&self, id: u16) -> Vec<u8> {
        let w = Writer::new(id, self.command(), 0);
        match *self {
            Self::Version { major, minor, caps } => encode_version(w, major, minor, caps),
            Self::DmaMap(m) => w
                .u32(32)
                .u32(m.flags)
                .u64(m.offset)
                .u64(m.address)
                .u64(m.size),
            Self::DmaUnmap(u) => w.u32(24).u32(u.flags).u64(u.address).u64(u.size),
            Self::DeviceGetInfo => w.u32(16).u32(0).u32(0).u32(0),
            Self::RegionInfo { argsz, index } => {
                w.u32(argsz).u32(0).u32(index).u32(0).u64(0).u64(0)
            }
            Self::IrqInfo { index } => w.u32(16).u32(0).u32(index).u32(0),
            Self::SetIrqs(s) => w
                .u32(20)
                .u32(s.flags)
                .u32(s.index)
                .u32(s.start)
                .u32(s.count),
            Self::RegionRead(a) => a.encode(w),
            Self::RegionWrite(a, data) => a.encode(w).bytes(data),
            Self::DeviceReset => w,
        }
        .finish()
    }

    /// Decodes the body of a command whose header is `h`; the body's length is checked
    /// against the command's layout, a region access's count against its data and
    /// [`MAX_DATA_XFER`].
    pub fn decode(h: &Header, body: &'a [u8]) -> Result<Self, WireError> {
        let command = Command::from_u16(h.command).ok_or(WireError::Unsupported(h.command))?;
        Ok(match command {
            Command::Version => {
                let (major, minor, caps) = decode_version(body)?;
                Self::Version { major, minor, caps }
            }
            Command::DmaMap => {
                let mut f = exact(command, body, 32)?;
                let _argsz = f.u32();
                Self::DmaMap(DmaMap {
                    flags: f.u32(),
                    offset: f.u64(),
                    address: f.u64(),
                    size: f.u64(),
                })
            }
            Command::DmaUnmap => Self::DmaUnmap(DmaUnmap::decode(command, body)?),
            Command::DeviceGetInfo => {
                exact(command, body, 16)?;
                Self::DeviceGetInfo
            }
            Command::DeviceGetRegionInfo => {
                let mut f = exact(command, body, REGION_INFO_BYTES as usize)?;
                let argsz = f.u32();
                let _flags = f.u32();
                Self::RegionInfo {
                    argsz,
                    index: f.u32(),
                }
            }
            Command::GetIrqInfo => {
                let mut f = exact(command, body, 16)?;
                let (_argsz, _flags) = (f.u32(), f.u32());
                Self::IrqInfo { index: f.u32() }
            }
            Command::SetIrqs => {
                let mut f = exact(command, body, 20)?;
                let _argsz = f.u32();
                Self::SetIrqs(SetIrqs {
                    flags: f.u32(),
                    index: f.u32(),
                    start: f.u32(),
                    count: f.u32(),
                })
            }
            Command::RegionRead => {
                let a = RegionAccess::decode(&mut exact(command, body, REGION_ACCESS_BYTES)?);
                if a.count > MAX_DATA_XFER {
                    return Err(WireError::TooLarge { count: a.count });
                }
                Self::RegionRead(a)
            }
            Command::RegionWrite => {
                let (a, data) = access_with_data(command, body)?;
                Self::RegionWrite(a, data)
            }
            Command::DeviceReset => {
                exact(command, body, 0)?;
                Self::DeviceReset
            }
        })
    }
}

/// A successful reply, as the server sends it and the client decodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// VERSION with the server's capabilities (JSON).
    Version {
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
        /// Capabilities, JSON.
        caps: &'a str,
    },
    /// DMA_MAP done.
    DmaMap,
    /// DMA_UNMAP done (the request's fields echoed).
    DmaUnmap(DmaUnmap),
    /// DEVICE_GET_INFO.
    DeviceInfo(DeviceInfo),
    /// DEVICE_GET_REGION_INFO.
    RegionInfo(RegionInfo),
    /// DEVICE_GET_IRQ_INFO.
    IrqInfo(IrqInfo),
    /// DEVICE_SET_IRQS done.
    SetIrqs,
    /// REGION_READ with the data read.
    RegionRead(RegionAccess, &'a [u8]),
    /// REGION_WRITE done.
    RegionWrite(RegionAccess),
    /// DEVICE_RESET done.
    DeviceReset,
}

impl<'a> Reply<'a> {
    /// The command replied to.
    pub fn command(&self) -> Command {
        match self {
            Self::Version { .. } => Command::Version,
            Self::DmaMap => Command::DmaMap,
            Self::DmaUnmap(_) => Command::DmaUnmap,
            Self::DeviceInfo(_) => Command::DeviceGetInfo,
            Self::RegionInfo(_) => Command::DeviceGetRegionInfo,
            Self::IrqInfo(_) => Command::GetIrqInfo,
            Self::SetIrqs => Command::SetIrqs,
            Self::RegionRead(..) => Command::RegionRead,
            Self::RegionWrite(_) => Command::RegionWrite,
            Self::DeviceReset => Command::DeviceReset,
        }
    }

    /// The whole reply to message `id`.
    pub fn encode(&self, id: u16) -> Vec<u8> {
        let w = Writer::new(id, self.command(), flags::REPLY);
        match *self {
            Self::Version { major, minor, caps } => encode_version(w, major, minor, caps),
            Self::DmaMap | Self::SetIrqs | Self::DeviceReset => w,
            Self::DmaUnmap(u) => w.u32(24).u32(u.flags).u64(u.address).u64(u.size),
            Self::DeviceInfo(d) => w.u32(16).u32(d.flags).u32(d.num_regions).u32(d.num_irqs),
            Self::RegionInfo(r) => w
                .u32(REGION_INFO_BYTES)
                .u32(r.flags)
                .u32(r.index)
                .u32(0)
                .u64(r.size)
                .u64(r.offset),
            Self::IrqInfo(i) => w.u32(16).u32(i.flags).u32(i.index).u32(i.count),
            Self::RegionRead(a, data) => a.encode(w).bytes(data),
            Self::RegionWrite(a) => a.encode(w),
        }
        .finish()
    }

    /// Decodes the body of a successful reply to `command`. A region-info reply may
    /// carry capabilities after the info (ignored: no region is mappable); every other
    /// body must have its layout exactly, a read's data its count.
    pub fn decode(command: Command, body: &'a [u8]) -> Result<Self, WireError> {
        Ok(match command {
            Command::Version => {
                let (major, minor, caps) = decode_version(body)?;
                Self::Version { major, minor, caps }
            }
            Command::DmaMap => {
                exact(command, body, 0)?;
                Self::DmaMap
            }
            Command::DmaUnmap => Self::DmaUnmap(DmaUnmap::decode(command, body)?),
            Command::DeviceGetInfo => {
                let mut f = exact(command, body, 16)?;
                let _argsz = f.u32();
                Self::DeviceInfo(DeviceInfo {
                    flags: f.u32(),
                    num_regions: f.u32(),
                    num_irqs: f.u32(),
                })
            }
            Command::DeviceGetRegionInfo => {
                let Some((info, _caps)) = body.split_first_chunk::<32>() else {
                    return Err(WireError::Length {
                        command,
                        got: body.len(),
                        expected: REGION_INFO_BYTES as usize,
                    });
                };
                let mut f = Fields::new(info);
                let _argsz = f.u32();
                let flags = f.u32();
                let index = f.u32();
                let _cap_offset = f.u32();
                Self::RegionInfo(RegionInfo {
                    flags,
                    index,
                    size: f.u64(),
                    offset: f.u64(),
                })
            }
            Command::GetIrqInfo => {
                let mut f = exact(command, body, 16)?;
                let _argsz = f.u32();
                Self::IrqInfo(IrqInfo {
                    flags: f.u32(),
                    index: f.u32(),
                    count: f.u32(),
                })
            }
            Command::SetIrqs => {
                exact(command, body, 0)?;
                Self::SetIrqs
            }
            Command::RegionRead => {
                let (a, data) = access_with_data(command, body)?;
                Self::RegionRead(a, data)
            }
            Command::RegionWrite => Self::RegionWrite(RegionAccess::decode(&mut exact(
                command,
                body,
                REGION_ACCESS_BYTES,
            )?)),
            Command::DeviceReset => {
                exact(command, body, 0)?;
                Self::DeviceReset
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(msg: &[u8]) -> (Header, &[u8]) {
        let (h, body) = msg.split_first_chunk::<HEADER_BYTES>().unwrap();
        let h = Header::decode(h);
        assert_eq!(h.size as usize, msg.len());
        (h, body)
    }

    #[test]
    fn every_request_and_reply_decodes_to_itself() {
        let access = RegionAccess {
            offset: 0x40,
            region: 2,
            count: 3,
        };
        let requests = [
            Request::Version {
                major: 0,
                minor: 1,
                caps: "{}",
            },
            Request::DmaMap(DmaMap {
                flags: 3,
                offset: 4096,
                address: 1 << 32,
                size: 8192,
            }),
            Request::DmaUnmap(DmaUnmap {
                flags: 0,
                address: 1 << 32,
                size: 8192,
            }),
            Request::DeviceGetInfo,
            Request::RegionInfo {
                argsz: 32,
                index: 7,
            },
            Request::IrqInfo { index: 2 },
            Request::SetIrqs(SetIrqs {
                flags: 0x24,
                index: 2,
                start: 0,
                count: 1,
            }),
            Request::RegionRead(access),
            Request::RegionWrite(access, &[1, 2, 3]),
            Request::DeviceReset,
        ];
        for (id, r) in requests.iter().enumerate() {
            let msg = r.encode(id as u16);
            let (h, body) = split(&msg);
            assert_eq!(
                (h.id, h.is_reply(), h.wants_reply()),
                (id as u16, false, true)
            );
            assert_eq!(Request::decode(&h, body), Ok(*r));
        }
        let replies = [
            Reply::Version {
                major: 0,
                minor: 1,
                caps: "{\"capabilities\":{}}",
            },
            Reply::DmaMap,
            Reply::DmaUnmap(DmaUnmap {
                flags: 4,
                address: 0,
                size: 0,
            }),
            Reply::DeviceInfo(DeviceInfo {
                flags: DEVICE_FLAGS_PCI | DEVICE_FLAGS_RESET,
                num_regions: 9,
                num_irqs: 5,
            }),
            Reply::RegionInfo(RegionInfo {
                flags: REGION_READ_WRITE,
                index: 0,
                size: 0x2000,
                offset: 0,
            }),
            Reply::IrqInfo(IrqInfo {
                flags: IRQ_INFO_EVENTFD,
                index: 2,
                count: 1,
            }),
            Reply::SetIrqs,
            Reply::RegionRead(access, &[9, 8, 7]),
            Reply::RegionWrite(access),
            Reply::DeviceReset,
        ];
        for r in replies {
            let msg = r.encode(5);
            let (h, body) = split(&msg);
            assert!(h.is_reply() && h.error().is_none());
            assert_eq!(Reply::decode(r.command(), body), Ok(r));
        }
    }

    #[test]
    fn sizes_counts_and_layouts_are_checked_before_anything_is_allocated() {
        let h = |size| Header {
            size,
            ..Header::default()
        };
        assert_eq!(h(15).body_len(), Err(WireError::Size { size: 15 }));
        assert_eq!(h(16).body_len(), Ok(0));
        assert_eq!(h(MAX_MESSAGE).body_len(), Ok(MAX_MESSAGE as usize - 16));
        assert_eq!(h(u32::MAX).body_len().unwrap_err().errno(), errno::EMSGSIZE);
        // A read of 4 GiB - 1 is refused by its count, before any buffer exists.
        let huge = RegionAccess {
            offset: 0,
            region: 0,
            count: u32::MAX,
        };
        let msg = Request::RegionRead(huge).encode(1);
        let (hd, body) = split(&msg);
        assert_eq!(
            Request::decode(&hd, body),
            Err(WireError::TooLarge { count: u32::MAX })
        );
        // A write whose count is not its data.
        let mut msg = Request::RegionWrite(RegionAccess { count: 4, ..huge }, &[0; 4]).encode(2);
        msg.pop();
        let size = (msg.len() as u32).to_le_bytes();
        msg[4..8].copy_from_slice(&size);
        let (hd, body) = split(&msg);
        assert!(matches!(
            Request::decode(&hd, body),
            Err(WireError::Length { .. })
        ));
        // Unknown commands, short bodies, capabilities without their NUL.
        let unknown = Header {
            command: 6,
            ..Header::default()
        };
        assert_eq!(
            Request::decode(&unknown, &[]).unwrap_err().errno(),
            errno::ENOTSUP
        );
        let version = Header {
            command: 1,
            ..Header::default()
        };
        assert!(Request::decode(&version, &[0, 0, 1]).is_err());
        assert_eq!(
            Request::decode(&version, b"\0\0\x01\0{}x"),
            Err(WireError::Capabilities)
        );
        assert_eq!(
            Reply::decode(Command::DeviceGetInfo, &[0; 15])
                .unwrap_err()
                .errno(),
            errno::EINVAL
        );
        assert_eq!(
            Reply::decode(Command::RegionRead, &[0; 16]),
            Ok(Reply::RegionRead(
                RegionAccess {
                    offset: 0,
                    region: 0,
                    count: 0
                },
                &[]
            ))
        );
    }

    #[test]
    fn an_error_reply_names_the_request_and_its_errno() {
        let req = Header {
            id: 9,
            command: Command::RegionRead as u16,
            size: 32,
            flags: 0,
            error: 0,
        };
        let reply = Header::decode(&req.error_reply(errno::EINVAL));
        assert_eq!((reply.id, reply.command, reply.size), (9, 9, 16));
        assert!(reply.is_reply());
        assert_eq!(reply.error(), Some(errno::EINVAL));
        assert_eq!(errno::describe(errno::EBUSY), "EBUSY: device busy");
    }
}
