//! The model's traffic port: how frames reach a modelled device that runs in another
//! process (`nsflow-hwsim serve`). Not part of the silicon contract — real hardware takes
//! packets from its Ethernet ports — but a contract between the vfio-user backend of the
//! driver and the model, so it lives here with the rest.
//!
//! The port is PCI region [`SIM_PORT_REGION`] (BAR2), [`SIM_PORT_SIZE`] bytes:
//! - a 32-bit read at offset 0 returns how many bytes of frames the model can take now
//!   (its injection queue's free space; 0 while the engine is holding back);
//! - a 32-bit read at offset 4 returns the frames accepted so far (low 32 bits);
//! - a write at offset [`SIM_PORT_DATA`] carries a batch of frames, each encoded by
//!   [`encode_frame`]: `ts_ns` u64, pcap link type u32 ([`NO_LINK`] when the frame has no
//!   link adapter), captured length u32, the bytes, zero padding to 8 bytes. A batch
//!   larger than the free space is refused whole (and counted as an unknown access).
//!
//! Batches are written by the vfio-user client, so the module denies
//! `clippy::indexing_slicing`: [`decode_batch`] reads headers as fixed-size arrays and
//! frame bytes through bound-checked `get`, with checked arithmetic on the lengths the
//! batch declares.
#![deny(clippy::indexing_slicing)]

use crate::parser::LinkType;

/// One frame offered to a modelled device: what a capture reader or generator yields and
/// what the traffic port carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Capture time, nanoseconds since the UNIX epoch.
    pub ts_ns: u64,
    /// The parser's link adapter, or `None` for a link type the device has no adapter for.
    pub link: Option<LinkType>,
    /// The captured bytes.
    pub data: Vec<u8>,
}

/// PCI region index of the traffic port.
pub const SIM_PORT_REGION: u32 = 2;
/// Size of the traffic port region.
pub const SIM_PORT_SIZE: u64 = 1 << 20;
/// Offset of the free-space register.
pub const SIM_PORT_FREE: u64 = 0;
/// Offset of the accepted-frames counter.
pub const SIM_PORT_ACCEPTED: u64 = 4;
/// Offset where frame batches are written.
pub const SIM_PORT_DATA: u64 = 64;
/// Link-type value meaning "no link adapter for this frame".
pub const NO_LINK: u32 = u32::MAX;
/// Bytes of a frame header in a batch.
pub const FRAME_HEADER: usize = 16;

/// Appends one frame to a batch.
pub fn encode_frame(out: &mut Vec<u8>, ts_ns: u64, linktype: u32, data: &[u8]) {
    out.extend_from_slice(&ts_ns.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(8), 0);
}

/// Bytes one frame takes in a batch.
pub fn encoded_len(data_len: usize) -> usize {
    (FRAME_HEADER + data_len).next_multiple_of(8)
}

/// Why a batch is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed frame batch at byte {offset}: {reason}")]
pub struct BatchError {
    /// Where.
    pub offset: usize,
    /// What.
    pub reason: &'static str,
}

/// One frame of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchFrame<'a> {
    /// Capture time, ns.
    pub ts_ns: u64,
    /// pcap link type, or [`NO_LINK`].
    pub linktype: u32,
    /// The frame's bytes.
    pub data: &'a [u8],
}

/// Decodes a batch into frames; never panics.
pub fn decode_batch(mut b: &[u8]) -> Result<Vec<BatchFrame<'_>>, BatchError> {
    let total = b.len();
    let mut v = Vec::new();
    while !b.is_empty() {
        let offset = total.saturating_sub(b.len());
        let err = |reason| BatchError { offset, reason };
        let h: &[u8; FRAME_HEADER] = b.first_chunk().ok_or(err("truncated frame header"))?;
        let [ts @ .., l0, l1, l2, l3, n0, n1, n2, n3] = *h;
        let len = u32::from_le_bytes([n0, n1, n2, n3]) as usize;
        let long = || err("frame longer than the batch");
        let end = FRAME_HEADER.checked_add(len).ok_or_else(long)?;
        let data = b.get(FRAME_HEADER..end).ok_or_else(long)?;
        v.push(BatchFrame {
            ts_ns: u64::from_le_bytes(ts),
            linktype: u32::from_le_bytes([l0, l1, l2, l3]),
            data,
        });
        // The padding after the last frame may be missing: the batch ends there.
        b = end
            .checked_next_multiple_of(8)
            .and_then(|step| b.get(step..))
            .unwrap_or_default();
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn batch_round_trip_and_layout() {
        let mut b = Vec::new();
        encode_frame(&mut b, 7, 1, &[1, 2, 3]);
        encode_frame(&mut b, 9, NO_LINK, &[]);
        assert_eq!(b.len(), 24 + 16);
        assert_eq!(&b[..8], &7u64.to_le_bytes());
        assert_eq!(&b[12..16], &3u32.to_le_bytes());
        let f = decode_batch(&b).unwrap();
        assert_eq!(
            f,
            vec![
                BatchFrame {
                    ts_ns: 7,
                    linktype: 1,
                    data: &[1u8, 2, 3][..]
                },
                BatchFrame {
                    ts_ns: 9,
                    linktype: NO_LINK,
                    data: &[][..]
                }
            ]
        );
        assert!(decode_batch(&b[..10]).is_err());
        let mut long = b.clone();
        long[12] = 200;
        assert!(decode_batch(&long).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_batch(&b);
        }
    }
}
