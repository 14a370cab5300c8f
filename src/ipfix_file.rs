//! `nsflow collect --write FILE`: the IPFIX messages a collector receives, stored as an
//! IPFIX File (RFC 5655) for archiving and for offline tools (libfixbuf's `ipfixDump`,
//! YAF's tooling, nfdump's `nfpcapd` readers of IPFIX files).
//!
//! An IPFIX File is a serialised stream of IPFIX Messages, each exactly as it travels
//! (RFC 5655 §5: "the file format is simply a serialized stream of IPFIX Messages"), so
//! a received message that is well formed is written byte for byte, in the order of
//! arrival: templates precede the data they describe because the exporter sent them
//! first. What is not written, and why, is counted: NetFlow v9 messages (an IPFIX File
//! holds IPFIX only), and datagrams that are not a well-formed IPFIX message (a reader
//! of the file would stop at them). A file has no transport sessions: messages of one
//! Observation Domain ID from several exporters share its template and sequence-number
//! space there (RFC 5655 leaves it to the writer; IPFIXcol2's file output documents the
//! same limit), so the writer reports every domain that more than one exporter wrote.
//! Datagrams come from the network: they are read with `get`, never indexed.
#![deny(clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Why an IPFIX File could not be written.
#[derive(Debug, thiserror::Error)]
pub enum IpfixFileError {
    /// The file could not be created.
    #[error("cannot create the IPFIX file {path}: {source}")]
    Create {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A write (or the final flush) failed, e.g. the disk is full.
    #[error("cannot write the IPFIX file {path} after {messages} messages: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Messages accepted before the failure (buffered: the last of them may not
        /// have reached the file).
        messages: u64,
        /// The error.
        source: std::io::Error,
    },
}

/// What went into the file and what did not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpfixFileStats {
    /// IPFIX messages written.
    pub messages: u64,
    /// Bytes written.
    pub bytes: u64,
    /// NetFlow v9 messages received and not written (an IPFIX File holds IPFIX only).
    pub v9_skipped: u64,
    /// Datagrams not written because they are not a well-formed IPFIX message.
    pub malformed_skipped: u64,
    /// Messages received after a write failed, not written.
    pub after_failure: u64,
}

/// An IPFIX File being written.
pub struct IpfixFileWriter {
    path: PathBuf,
    out: BufWriter<File>,
    stats: IpfixFileStats,
    failed: Option<IpfixFileError>,
    /// The exporters that wrote each Observation Domain ID.
    exporters: BTreeMap<u32, BTreeSet<SocketAddr>>,
}

impl IpfixFileWriter {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> Result<Self, IpfixFileError> {
        let file = File::create(path).map_err(|source| IpfixFileError::Create {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            path: path.to_owned(),
            out: BufWriter::new(file),
            stats: IpfixFileStats::default(),
            failed: None,
            exporters: BTreeMap::new(),
        })
    }

    /// Offers one datagram received from `from`: written when it is one well-formed IPFIX
    /// message (`decoded` tells whether the collector's decoder took it), counted
    /// otherwise. After a write failure nothing more is written; the failure is kept for
    /// [`Self::finish`].
    pub fn offer(&mut self, from: SocketAddr, datagram: &[u8], decoded: bool) {
        if self.failed.is_some() {
            self.stats.after_failure += 1;
            return;
        }
        let domain = match message_kind(datagram) {
            Kind::V9 => {
                self.stats.v9_skipped += 1;
                return;
            }
            Kind::Other => {
                self.stats.malformed_skipped += 1;
                return;
            }
            Kind::Ipfix(_) if !decoded => {
                self.stats.malformed_skipped += 1;
                return;
            }
            Kind::Ipfix(domain) => domain,
        };
        match self.out.write_all(datagram) {
            Ok(()) => {
                self.exporters.entry(domain).or_default().insert(from);
                self.stats.messages += 1;
                self.stats.bytes += datagram.len() as u64;
            }
            Err(source) => {
                self.failed = Some(IpfixFileError::Write {
                    path: self.path.clone(),
                    messages: self.stats.messages,
                    source,
                })
            }
        }
    }

    /// The Observation Domain IDs that more than one exporter wrote, with how many
    /// exporters wrote each.
    pub fn shared_domains(&self) -> Vec<(u32, usize)> {
        self.exporters
            .iter()
            .filter(|(_, e)| e.len() > 1)
            .map(|(d, e)| (*d, e.len()))
            .collect()
    }

    /// Flushes the file: its statistics, or the first failure with the statistics of
    /// what was written before it.
    pub fn finish(mut self) -> (IpfixFileStats, Result<(), IpfixFileError>) {
        if let Some(e) = self.failed.take() {
            return (self.stats, Err(e));
        }
        let flushed = self
            .out
            .flush()
            .and_then(|()| self.out.get_ref().sync_all());
        let r = flushed.map_err(|source| IpfixFileError::Write {
            path: self.path.clone(),
            messages: self.stats.messages,
            source,
        });
        (self.stats, r)
    }
}

/// What a datagram is, by its header.
enum Kind {
    /// Version 10 with a Length field equal to the datagram's length (RFC 7011 §3.1),
    /// and its Observation Domain ID.
    Ipfix(u32),
    /// Version 9.
    V9,
    /// Anything else.
    Other,
}

fn message_kind(d: &[u8]) -> Kind {
    if d.first_chunk::<2>().map(|v| u16::from_be_bytes(*v)) == Some(9) {
        return Kind::V9;
    }
    let Some(&[v0, v1, l0, l1, _, _, _, _, _, _, _, _, o0, o1, o2, o3]) = d.first_chunk::<16>()
    else {
        return Kind::Other;
    };
    if u16::from_be_bytes([v0, v1]) == 10 && usize::from(u16::from_be_bytes([l0, l1])) == d.len() {
        Kind::Ipfix(u32::from_be_bytes([o0, o1, o2, o3]))
    } else {
        Kind::Other
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A 16-byte IPFIX header with the given length field, padded to `len` bytes.
    fn ipfix(length_field: u16, len: usize) -> Vec<u8> {
        in_domain(length_field, len, 1)
    }

    /// As [`ipfix`], with the Observation Domain ID `domain`.
    fn in_domain(length_field: u16, len: usize, domain: u32) -> Vec<u8> {
        let mut m = vec![0u8; len.max(16)];
        m[..2].copy_from_slice(&10u16.to_be_bytes());
        m[2..4].copy_from_slice(&length_field.to_be_bytes());
        m[12..16].copy_from_slice(&domain.to_be_bytes());
        m.truncate(len);
        m
    }

    fn exporter(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn only_whole_ipfix_messages_are_written_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.ipfix");
        let mut w = IpfixFileWriter::create(&path).unwrap();
        let mut a = ipfix(20, 20);
        a[19] = 1;
        let mut b = ipfix(16, 16);
        b[15] = 2;
        w.offer(exporter(1), &a, true);
        w.offer(exporter(1), &[0, 9, 0, 1, 0, 0], true); // v9
        w.offer(exporter(1), &ipfix(40, 20), true); // length field longer than the datagram
        w.offer(exporter(1), &ipfix(12, 12), true); // shorter than a header
        w.offer(exporter(1), &ipfix(16, 16), false); // the decoder refused it
        w.offer(exporter(1), &[0xff], true);
        w.offer(exporter(1), &b, true);
        let (stats, r) = w.finish();
        r.unwrap();
        assert_eq!(
            stats,
            IpfixFileStats {
                messages: 2,
                bytes: 36,
                v9_skipped: 1,
                malformed_skipped: 4,
                after_failure: 0,
            }
        );
        assert_eq!(std::fs::read(&path).unwrap(), [a, b].concat());
    }

    #[test]
    fn a_domain_written_by_two_exporters_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = IpfixFileWriter::create(&dir.path().join("f.ipfix")).unwrap();
        w.offer(exporter(1), &in_domain(16, 16, 0), true);
        w.offer(exporter(1), &in_domain(16, 16, 5), true);
        w.offer(exporter(2), &in_domain(16, 16, 0), true);
        w.offer(exporter(3), &in_domain(16, 16, 0), true);
        w.offer(exporter(2), &in_domain(16, 16, 6), true);
        // Not written, so not counted: a v9 message of another exporter.
        w.offer(exporter(4), &[0, 9, 0, 1, 0, 0], true);
        assert_eq!(w.shared_domains(), [(0, 3)]);
        assert_eq!(w.finish().0.messages, 5);
    }

    #[test]
    fn a_full_disk_is_reported_with_what_was_written() {
        // /dev/full fails every write with ENOSPC.
        let mut w = IpfixFileWriter::create(Path::new("/dev/full")).unwrap();
        w.offer(exporter(1), &ipfix(16, 16), true);
        // The buffered writer fails on the flush at the latest.
        let big = ipfix(16 * 1024, 16 * 1024);
        w.offer(exporter(1), &big, true);
        w.offer(exporter(1), &big, true);
        let (stats, r) = w.finish();
        let e = r.unwrap_err();
        assert!(matches!(e, IpfixFileError::Write { .. }), "{e}");
        assert!(e.to_string().contains("/dev/full"), "{e}");
        assert!(stats.messages < 3, "{stats:?}");
    }
}
