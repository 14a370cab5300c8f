//! Traffic from capture files: pcap and pcapng, read through the `pcap-file` crate and
//! handed to the model one frame at a time with its capture timestamp.

use nsflow_rtl::parser::LinkType;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Capture time, nanoseconds since the UNIX epoch.
    pub ts_ns: u64,
    /// The parser's link adapter, or `None` for a link type the device has no adapter for.
    pub link: Option<LinkType>,
    /// The captured bytes.
    pub data: Vec<u8>,
}

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
    /// The file is not a pcap or pcapng capture, or is corrupt.
    #[error("capture {path} is not a valid pcap/pcapng file: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the pcap reader said.
        reason: String,
    },
}

enum Inner {
    Pcap(PcapReader<BufReader<File>>, Option<LinkType>, u64),
    PcapNg(PcapNgReader<BufReader<File>>),
}

/// A streaming reader over the frames of one capture file.
pub struct CaptureReader {
    inner: Inner,
    path: PathBuf,
    buf: Vec<u8>,
}

impl CaptureReader {
    /// Opens a pcap or pcapng file (told apart by its magic number).
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let io = |source| CaptureError::Io {
            path: path.to_owned(),
            source,
        };
        let fmt = |e: pcap_file::PcapError| CaptureError::Format {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let mut file = File::open(path).map_err(io)?;
        let mut magic = [0u8; 4];
        file.read_exact(&mut magic).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let rd = BufReader::new(file);
        let inner = if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
            Inner::PcapNg(PcapNgReader::new(rd).map_err(fmt)?)
        } else {
            let r = PcapReader::new(rd).map_err(fmt)?;
            let h = r.header();
            // The upper bits of the link-type field carry FCS information (pcap spec).
            let link = LinkType::from_pcap(u32::from(h.datalink) & 0xFFFF);
            let frac_ns = match h.ts_resolution {
                pcap_file::TsResolution::MicroSecond => 1_000,
                pcap_file::TsResolution::NanoSecond => 1,
            };
            Inner::Pcap(r, link, frac_ns)
        };
        Ok(Self {
            inner,
            path: path.to_owned(),
            buf: Vec::new(),
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
        let Self { inner, path, buf } = self;
        let fmt = |e: pcap_file::PcapError| CaptureError::Format {
            path: path.clone(),
            reason: e.to_string(),
        };
        match inner {
            Inner::Pcap(r, link, frac_ns) => {
                // Raw records: captures written by fuzzers and old tools break rules (a
                // captured length above the snap length) that tshark tolerates too.
                let p = match r.next_raw_packet()? {
                    Ok(p) => p,
                    Err(e) => return Some(Err(fmt(e))),
                };
                let ts_ns = u64::from(p.ts_sec) * 1_000_000_000 + u64::from(p.ts_frac) * *frac_ns;
                let data: &[u8] = match p.data {
                    Cow::Borrowed(d) => d,
                    Cow::Owned(v) => {
                        *buf = v;
                        buf
                    }
                };
                Some(Ok(FrameRef {
                    ts_ns,
                    link: *link,
                    data,
                }))
            }
            Inner::PcapNg(r) => loop {
                let block = match r.next_block()? {
                    Ok(b) => b,
                    Err(e) => return Some(Err(fmt(e))),
                };
                let (iface, ts, data) = match &block {
                    Block::EnhancedPacket(p) => (p.interface_id, p.timestamp, &p.data[..]),
                    Block::SimplePacket(p) => (0, std::time::Duration::ZERO, &p.data[..]),
                    _ => continue,
                };
                buf.clear();
                buf.extend_from_slice(data);
                let link = r
                    .interfaces()
                    .get(iface as usize)
                    .and_then(|i| LinkType::from_pcap(u32::from(i.linktype)));
                return Some(Ok(FrameRef {
                    ts_ns: u64::try_from(ts.as_nanos()).unwrap_or(u64::MAX),
                    link,
                    data: buf,
                }));
            },
        }
    }
}

impl Iterator for CaptureReader {
    type Item = Result<Frame, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_frame().map(|r| r.map(|f| f.to_frame()))
    }
}
