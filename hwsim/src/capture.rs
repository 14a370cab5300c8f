//! Traffic from capture files: pcap and pcapng, read through the `pcap-file` crate and
//! handed to the model one frame at a time with its capture timestamp.
//!
//! Classic pcap records are parsed by `pcap-file`'s parser straight out of a read buffer
//! of [`READ_CHUNK`] bytes, small enough to stay in the core's cache between the kernel's
//! copy and the parser's reads (the crate's own reader refills 8 MB at a time, which the
//! records have left the cache by the time they are parsed).
//!
//! Capture files are untrusted input, so the module denies `clippy::indexing_slicing`:
//! the read buffer is only accessed through bound-checked `get`/`get_mut` (its positions
//! come from what `pcap-file`'s parser consumed; a position outside the buffer would be a
//! bug and is reported as a format error, never a panic), and the record timestamp is
//! computed in `u64` where it cannot overflow.
#![deny(clippy::indexing_slicing)]

use byteorder_slice::{BigEndian, LittleEndian};
use nsflow_rtl::parser::LinkType;
use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::blocks::{ENHANCED_PACKET_BLOCK, SIMPLE_PACKET_BLOCK};
use pcap_file::pcapng::{Block, PcapNgReader};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The frames a capture yields are the traffic port's frames (defined with the port in
/// the contract, so that the driver's backends need not link the model).
pub use nsflow_rtl::sim_port::Frame;

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("cannot read capture {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is empty: it holds no capture at all.
    #[error("capture {path} is empty (0 bytes): not a pcap/pcapng capture")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a pcap or pcapng capture, or is corrupt at `offset`.
    #[error("capture {path} is not a valid pcap/pcapng file (at byte {offset}): {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Where the header, record or block that does not parse starts.
        offset: u64,
        /// What the pcap reader said.
        reason: String,
    },
    /// The file ends inside a header, record or block (a capture cut short, e.g. copied
    /// while it was being written): the frames before it were read.
    #[error("capture {path} is cut short: it ends inside the record at byte {offset}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where the incomplete header, record or block starts.
        offset: u64,
    },
}

impl CaptureError {
    /// The error for what `pcap-file` said about the header, record or block at `offset`
    /// of `path`: an unexpected end of file is [`CaptureError::Truncated`].
    fn at(path: &Path, offset: u64, e: pcap_file::PcapError) -> Self {
        match e {
            pcap_file::PcapError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                Self::Truncated {
                    path: path.to_owned(),
                    offset,
                }
            }
            e => Self::Format {
                path: path.to_owned(),
                offset,
                reason: e.to_string(),
            },
        }
    }
}

/// Bytes asked of the file per read of a classic pcap.
const READ_CHUNK: usize = 256 * 1024;
/// Largest record (header and data) a classic pcap may hold: `pcap-file`'s own reader
/// buffer, so that the same records are accepted and refused as through its reader.
const MAX_RECORD: usize = 8_000_000;

/// A classic pcap: the parser (global header read) and the read buffer, `buf[pos..len]`
/// not yet parsed, `buf[0]` at byte `base` of the file.
struct PcapStream {
    file: File,
    parser: PcapParser,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    base: u64,
}

/// One classic pcap record located in the read buffer.
struct RawRecord {
    ts_sec: u32,
    ts_frac: u32,
    data: std::ops::Range<usize>,
}

impl PcapStream {
    /// Reads the global header.
    fn open(mut file: File) -> Result<Self, pcap_file::PcapError> {
        let mut buf = vec![0; READ_CHUNK];
        let mut len = 0;
        let (parser, pos) = loop {
            let filled = buf.get(..len).ok_or_else(out_of_buffer)?;
            match PcapParser::new(filled) {
                // `rem` is the unparsed tail of `filled`.
                Ok((rem, parser)) => break (parser, len.saturating_sub(rem.len())),
                Err(pcap_file::PcapError::IncompleteBuffer) => {
                    let free = buf.get_mut(len..).ok_or_else(out_of_buffer)?;
                    let n = file.read(free).map_err(pcap_file::PcapError::IoError)?;
                    if n == 0 {
                        return Err(eof());
                    }
                    len += n;
                }
                Err(e) => return Err(e),
            }
        };
        Ok(Self {
            file,
            parser,
            buf,
            pos,
            len,
            base: 0,
        })
    }

    /// The file offset of the next record (of the one that failed, after an error).
    fn offset(&self) -> u64 {
        self.base.saturating_add(self.pos as u64)
    }

    /// The next record, `None` at the end of the file; a record cut short by the end of
    /// the file is an error.
    fn next(&mut self) -> Option<Result<RawRecord, pcap_file::PcapError>> {
        loop {
            let Some(avail) = self.buf.get(self.pos..self.len) else {
                return Some(Err(out_of_buffer()));
            };
            match self.parser.next_raw_packet(avail) {
                Ok((rem, p)) => {
                    // `rem` is the unparsed tail of `avail`, `p.data` the bytes just
                    // before it.
                    let end = self.len.saturating_sub(rem.len());
                    let rec = RawRecord {
                        ts_sec: p.ts_sec,
                        ts_frac: p.ts_frac,
                        data: end.saturating_sub(p.data.len())..end,
                    };
                    self.pos = end;
                    return Some(Ok(rec));
                }
                Err(pcap_file::PcapError::IncompleteBuffer) => match self.refill() {
                    Ok(0) if self.pos == self.len => return None,
                    Ok(0) => return Some(Err(eof())),
                    Ok(_) => {}
                    Err(e) => return Some(Err(e)),
                },
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Moves the unparsed bytes to the front (growing the buffer when a record does not
    /// fit, up to [`MAX_RECORD`]) and reads more after them; returns the bytes read.
    fn refill(&mut self) -> Result<usize, pcap_file::PcapError> {
        if self.pos > self.len || self.len > self.buf.len() {
            return Err(out_of_buffer());
        }
        self.buf.copy_within(self.pos..self.len, 0);
        self.base = self.offset();
        self.len -= self.pos;
        self.pos = 0;
        if self.len == self.buf.len() {
            if self.len >= MAX_RECORD {
                return Err(eof());
            }
            let grown = (self.buf.len() * 2).min(MAX_RECORD);
            self.buf.resize(grown, 0);
        }
        let free = self.buf.get_mut(self.len..).ok_or_else(out_of_buffer)?;
        let n = self
            .file
            .read(free)
            .map_err(pcap_file::PcapError::IoError)?;
        self.len += n;
        Ok(n)
    }
}

/// The error `pcap-file` reports for a file that ends inside a header or record.
fn eof() -> pcap_file::PcapError {
    pcap_file::PcapError::IoError(std::io::ErrorKind::UnexpectedEof.into())
}

/// A read-buffer position outside the buffer: cannot happen (positions are what the
/// parser consumed of `buf[pos..len]`, `len` what was read into it), reported instead of
/// panicking.
fn out_of_buffer() -> pcap_file::PcapError {
    pcap_file::PcapError::InvalidField("record position outside the read buffer")
}

/// The first bytes of a pcapng file (a section header block's type).
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
/// The first bytes of a classic pcap: micro- and nanosecond, either byte order.
const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x4d, 0x3c, 0xb2, 0xa1],
];

/// A classic pcap (its link type and the nanoseconds of a timestamp fraction unit), or a
/// pcapng (with the file offset of its next block).
enum Inner {
    Pcap(PcapStream, Option<LinkType>, u64),
    PcapNg(PcapNgReader<BufReader<File>>, u64),
}

/// A streaming reader over the frames of one capture file.
pub struct CaptureReader {
    inner: Inner,
    path: PathBuf,
    buf: Vec<u8>,
    /// Frames with no link adapter, and what their link was.
    unsupported: Unsupported,
}

/// The frames of a capture the parser has no link adapter for: the device counts them as
/// "other", and the operator is told once per file ([`CaptureReader::unsupported`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Unsupported {
    /// How many.
    frames: u64,
    /// Their links: "link type N", or "no interface block" for pcapng packets that name
    /// an interface the file does not describe.
    links: std::collections::BTreeSet<String>,
}

impl CaptureReader {
    /// Opens a pcap or pcapng file (told apart by its magic number). An empty file, or one
    /// that starts with neither magic number, is refused as not a capture.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let io = |source| CaptureError::Io {
            path: path.to_owned(),
            source,
        };
        let at_start = |e| CaptureError::at(path, 0, e);
        let mut file = File::open(path).map_err(io)?;
        // The magic number, and for pcapng the section header's length and byte order.
        let mut head = [0u8; 12];
        let mut got = 0;
        while got < head.len() {
            let free = head.get_mut(got..).unwrap_or_default();
            match file.read(free).map_err(io)? {
                0 => break,
                n => got += n,
            }
        }
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let not_capture = |reason: String| CaptureError::Format {
            path: path.to_owned(),
            offset: 0,
            reason,
        };
        let [m0, m1, m2, m3, l0, l1, l2, l3, b0, ..] = head;
        let inner = match [m0, m1, m2, m3] {
            _ if got == 0 => {
                return Err(CaptureError::Empty {
                    path: path.to_owned(),
                })
            }
            _ if got < 4 => {
                return Err(not_capture(format!(
                    "{got} byte(s) long: not a pcap/pcapng capture"
                )))
            }
            PCAPNG_MAGIC => {
                // The section header's byte-order magic (0x1A2B3C4D) tells how to read
                // its length; a cut-short header is the reader's error below.
                let len = if b0 == 0x4D {
                    u32::from_le_bytes([l0, l1, l2, l3])
                } else {
                    u32::from_be_bytes([l0, l1, l2, l3])
                };
                let r = PcapNgReader::new(BufReader::new(file)).map_err(at_start)?;
                Inner::PcapNg(r, u64::from(len))
            }
            m if PCAP_MAGICS.contains(&m) => {
                let r = PcapStream::open(file).map_err(at_start)?;
                let h = r.parser.header();
                // The upper bits of the link-type field carry FCS information (pcap spec).
                let link = LinkType::from_pcap(u32::from(h.datalink) & 0xFFFF);
                let frac_ns = match h.ts_resolution {
                    pcap_file::TsResolution::MicroSecond => 1_000,
                    pcap_file::TsResolution::NanoSecond => 1,
                };
                Inner::Pcap(r, link, frac_ns)
            }
            m => {
                return Err(not_capture(format!(
                    "it starts with {m:02x?}, neither a pcap nor a pcapng magic number"
                )))
            }
        };
        Ok(Self {
            inner,
            path: path.to_owned(),
            buf: Vec::new(),
            unsupported: Unsupported::default(),
        })
    }

    /// Reads a whole capture into memory.
    pub fn read_all(path: &Path) -> Result<Vec<Frame>, CaptureError> {
        Self::open(path)?.collect()
    }
}

/// One captured frame borrowed from the reader (valid until its next read):
/// [`CaptureReader::next_frame`] hands frames over without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// Capture time, nanoseconds since the UNIX epoch.
    pub ts_ns: u64,
    /// The parser's link adapter, or `None` for a link type the device has no adapter for.
    pub link: Option<LinkType>,
    /// The captured bytes.
    pub data: &'a [u8],
}

impl FrameRef<'_> {
    /// An owned copy.
    pub fn to_frame(&self) -> Frame {
        Frame {
            ts_ns: self.ts_ns,
            link: self.link,
            data: self.data.to_vec(),
        }
    }
}

impl CaptureReader {
    /// The next frame, borrowed from the reader: pcap records straight from its read
    /// buffer, pcapng ones copied into a buffer the reader reuses. The fast path for
    /// replaying large captures (no allocation per frame). `None` at the end of the file.
    pub fn next_frame(&mut self) -> Option<Result<FrameRef<'_>, CaptureError>> {
        let Self {
            inner,
            path,
            buf,
            unsupported,
        } = self;
        match inner {
            Inner::Pcap(r, link, frac_ns) => {
                // Raw records: captures written by fuzzers and old tools break rules (a
                // captured length above the snap length) that tshark tolerates too.
                let p = match r.next()? {
                    Ok(p) => p,
                    Err(e) => return Some(Err(CaptureError::at(path, r.offset(), e))),
                };
                // At most (2^32 - 1) * (10^9 + 1000): no overflow in u64.
                let ts_ns = u64::from(p.ts_sec) * 1_000_000_000 + u64::from(p.ts_frac) * *frac_ns;
                let offset = r.offset();
                let Some(data) = r.buf.get(p.data) else {
                    return Some(Err(CaptureError::at(path, offset, out_of_buffer())));
                };
                if link.is_none() {
                    unsupported.frames += 1;
                    if unsupported.links.is_empty() {
                        let raw = u32::from(r.parser.header().datalink) & 0xFFFF;
                        unsupported.links.insert(format!("link type {raw}"));
                    }
                }
                Some(Ok(FrameRef {
                    ts_ns,
                    link: *link,
                    data,
                }))
            }
            Inner::PcapNg(r, offset) => loop {
                let at = *offset;
                // A section header may change the byte order: it is only read by the
                // reader itself, never converted here.
                let endianness = r.section().endianness;
                let raw = match r.next_raw_block()? {
                    Ok(raw) => raw,
                    Err(e) => return Some(Err(CaptureError::at(path, at, e))),
                };
                *offset = at.saturating_add(u64::from(raw.initial_len));
                if raw.type_ != ENHANCED_PACKET_BLOCK && raw.type_ != SIMPLE_PACKET_BLOCK {
                    continue;
                }
                let block = match endianness {
                    pcap_file::Endianness::Big => raw.try_into_block::<BigEndian>(),
                    pcap_file::Endianness::Little => raw.try_into_block::<LittleEndian>(),
                };
                let block = match block {
                    Ok(b) => b,
                    Err(e) => return Some(Err(CaptureError::at(path, at, e))),
                };
                let (iface, ts, data) = match &block {
                    Block::EnhancedPacket(p) => (p.interface_id, p.timestamp, &*p.data),
                    Block::SimplePacket(p) => (0, std::time::Duration::ZERO, &*p.data),
                    _ => continue,
                };
                buf.clear();
                buf.extend_from_slice(data);
                let interface = r.interfaces().get(iface as usize);
                let link = interface.and_then(|i| LinkType::from_pcap(u32::from(i.linktype)));
                if link.is_none() {
                    unsupported.frames += 1;
                    unsupported.links.insert(interface.map_or_else(
                        || "no interface block".to_owned(),
                        |i| format!("link type {}", u32::from(i.linktype)),
                    ));
                }
                return Some(Ok(FrameRef {
                    ts_ns: u64::try_from(ts.as_nanos()).unwrap_or(u64::MAX),
                    link,
                    data: buf,
                }));
            },
        }
    }
}

impl CaptureReader {
    /// What the operator should hear about frames read so far that the parser has no link
    /// adapter for (the device counts them as "other"), or `None` when there were none:
    /// e.g. "capture x.pcap: 3 frames with link type 229, which the parser does not take
    /// (counted as other frames)".
    pub fn unsupported(&self) -> Option<String> {
        let u = &self.unsupported;
        (u.frames > 0).then(|| {
            let links: Vec<&str> = u.links.iter().map(String::as_str).collect();
            format!(
                "capture {}: {} frame{} with {}, which the parser does not take (counted as other frames)",
                self.path.display(),
                u.frames,
                if u.frames == 1 { "" } else { "s" },
                links.join(", ")
            )
        })
    }
}

impl Iterator for CaptureReader {
    type Item = Result<Frame, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_frame().map(|r| r.map(|f| f.to_frame()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcap::{PcapHeader, PcapReader, PcapWriter, RawPcapPacket};
    use std::borrow::Cow;
    use std::io::Write;

    /// A big-endian nanosecond pcap of records of these sizes (bytes derived from the
    /// index), and the whole file's bytes.
    fn pcap_of(sizes: &[usize]) -> Vec<u8> {
        let header = PcapHeader {
            ts_resolution: pcap_file::TsResolution::NanoSecond,
            snaplen: 1 << 20,
            ..PcapHeader::default()
        };
        let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
        for (i, &n) in sizes.iter().enumerate() {
            let data: Vec<u8> = (0..n).map(|k| (k * 7 + i) as u8).collect();
            w.write_raw_packet(&RawPcapPacket {
                ts_sec: 1_700_000_000 + i as u32,
                ts_frac: i as u32 * 1000,
                incl_len: n as u32,
                orig_len: n as u32,
                data: Cow::Owned(data),
            })
            .unwrap();
        }
        w.into_writer()
    }

    #[test]
    fn frames_of_a_link_the_parser_does_not_take_are_reported_once_with_their_count() {
        let write = |datalink: u32| {
            let header = PcapHeader {
                datalink: pcap_file::DataLink::from(datalink),
                ..PcapHeader::default()
            };
            let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
            for i in 0..3u32 {
                w.write_raw_packet(&RawPcapPacket {
                    ts_sec: i,
                    ts_frac: 0,
                    incl_len: 4,
                    orig_len: 4,
                    data: Cow::Owned(vec![0; 4]),
                })
                .unwrap();
            }
            let mut f = tempfile::NamedTempFile::new().unwrap();
            f.write_all(&w.into_writer()).unwrap();
            f
        };
        let f = write(229);
        let mut r = CaptureReader::open(f.path()).unwrap();
        assert!(r.unsupported().is_none(), "nothing read yet");
        assert_eq!(r.by_ref().count(), 3);
        let w = r.unsupported().unwrap();
        assert!(w.contains("3 frames with link type 229"), "{w}");
        let f = write(1);
        let mut r = CaptureReader::open(f.path()).unwrap();
        assert_eq!(r.by_ref().count(), 3);
        assert_eq!(r.unsupported(), None, "Ethernet is taken");
    }

    /// What `pcap-file`'s own reader makes of `bytes`: (ts_ns, data) per record, then
    /// whether it ended on an error.
    fn crate_reader(bytes: &[u8]) -> (Vec<(u64, Vec<u8>)>, bool) {
        let mut r = PcapReader::new(bytes).unwrap();
        let mut out = Vec::new();
        while let Some(p) = r.next_raw_packet() {
            match p {
                Ok(p) => out.push((
                    u64::from(p.ts_sec) * 1_000_000_000 + u64::from(p.ts_frac),
                    p.data.to_vec(),
                )),
                Err(_) => return (out, true),
            }
        }
        (out, false)
    }

    fn ours(bytes: &[u8]) -> (Vec<(u64, Vec<u8>)>, bool) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        let mut r = CaptureReader::open(f.path()).unwrap();
        let mut out = Vec::new();
        while let Some(fr) = r.next_frame() {
            match fr {
                Ok(fr) => {
                    assert_eq!(fr.link, Some(LinkType::Ethernet));
                    out.push((fr.ts_ns, fr.data.to_vec()));
                }
                Err(_) => return (out, true),
            }
        }
        (out, false)
    }

    #[test]
    fn pcap_records_across_refills_match_the_crate_reader() {
        // Records straddle READ_CHUNK boundaries; one is larger than a chunk.
        let mut sizes: Vec<usize> = (0..3000).map(|i| 40 + (i * 131) % 1500).collect();
        sizes.insert(1234, 3 * READ_CHUNK / 2);
        sizes.push(0);
        let bytes = pcap_of(&sizes);
        let (frames, failed) = ours(&bytes);
        assert!(!failed);
        assert_eq!(frames.len(), sizes.len());
        assert_eq!((frames, failed), crate_reader(&bytes));
    }

    /// What opening `bytes` as a capture and reading it to its end gives: the frames
    /// read, then the error, if any.
    fn read_file(bytes: &[u8]) -> (usize, Option<CaptureError>) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        let mut r = match CaptureReader::open(f.path()) {
            Ok(r) => r,
            Err(e) => return (0, Some(e)),
        };
        let mut n = 0;
        while let Some(fr) = r.next_frame() {
            match fr {
                Ok(_) => n += 1,
                Err(e) => return (n, Some(e)),
            }
        }
        (n, None)
    }

    #[test]
    fn read_errors_name_the_byte_offset_and_files_that_are_no_capture_say_so() {
        // pcap: the third record starts after the global header and two records.
        let bytes = pcap_of(&[100, 200, 300]);
        let third = 24 + (16 + 100) + (16 + 200);
        for cut in [third + 10, third + 16 + 299] {
            let (n, e) = read_file(&bytes[..cut]);
            assert_eq!(n, 2);
            assert!(
                matches!(e, Some(CaptureError::Truncated { offset, .. }) if offset == third as u64),
                "{e:?}"
            );
        }
        // pcapng: the second packet block starts after the section header, the
        // interface and the first packet.
        let mut w = pcap_file::pcapng::PcapNgWriter::new(Vec::new()).unwrap();
        let iface = pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock {
            linktype: pcap_file::DataLink::ETHERNET,
            snaplen: 0,
            options: vec![],
        };
        w.write_pcapng_block(iface).unwrap();
        let after_iface = w.get_ref().len();
        for i in 0..2u8 {
            let p = pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock {
                interface_id: 0,
                timestamp: std::time::Duration::from_secs(u64::from(i)),
                original_len: 60,
                data: Cow::Owned(vec![i; 60]),
                options: vec![],
            };
            w.write_pcapng_block(p).unwrap();
        }
        let ng = w.into_inner();
        let second = after_iface + (ng.len() - after_iface) / 2;
        let (n, e) = read_file(&ng[..second + 20]);
        assert_eq!(n, 1);
        assert!(
            matches!(e, Some(CaptureError::Truncated { offset, .. }) if offset == second as u64),
            "{e:?}"
        );
        assert_eq!(read_file(&ng).0, 2);
        // Not a capture at all.
        let (_, e) = read_file(b"");
        assert!(matches!(e, Some(CaptureError::Empty { .. })), "{e:?}");
        let msg = |bytes: &[u8]| read_file(bytes).1.unwrap().to_string();
        assert!(msg(b"ab").contains("(at byte 0): 2 byte(s) long: not a pcap/pcapng capture"));
        assert!(
            msg(b"system-view\n").contains("neither a pcap nor a pcapng magic number"),
            "{}",
            msg(b"system-view\n")
        );
    }

    #[test]
    fn a_record_cut_short_by_the_end_of_file_is_an_error_after_the_whole_ones() {
        let bytes = pcap_of(&[100, 200, 300]);
        let cut = &bytes[..bytes.len() - 150];
        let (frames, failed) = ours(cut);
        assert!(failed);
        assert_eq!(frames.len(), 2);
        assert_eq!((frames, failed), crate_reader(cut));
        // A header cut short: no frame, an error.
        let (frames, failed) = ours(&bytes[..24 + 10]);
        assert!(failed && frames.is_empty());
    }
}
