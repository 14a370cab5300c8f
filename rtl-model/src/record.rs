//! The DMA record the device writes into the host ring for every exported aggregate.
//!
//! Fixed size ([`RECORD_BYTES`]), little-endian, self-describing by a format version. The
//! layout (byte offsets) is part of the generated register-map documentation.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | format version ([`RECORD_FORMAT_VERSION`]) |
//! | 1 | 1 | profile index |
//! | 2 | 1 | end reason (IPFIX flowEndReason 1–5) |
//! | 3 | 1 | flags: bit 0 phase (flips each pass over the ring), bits 1–7 reserved (0) |
//! | 4 | 4 | deltaFlowCount: original flows merged |
//! | 8 | 8 | packets |
//! | 16 | 8 | bytes (IPv6 header + payload) |
//! | 24 | 8 | first packet, device nanoseconds |
//! | 32 | 8 | last packet, device nanoseconds |
//! | 40 | 88 | masked key ([`crate::FlowKey::pack`]) |
//!
//! Records come from device memory, so the module denies `clippy::indexing_slicing`:
//! [`Record::decode`] first makes the bytes a `[u8; RECORD_BYTES]` (any other length is
//! [`RecordError::Length`]) and then reads only constant offsets of that array, which the
//! compiler checks.
#![deny(clippy::indexing_slicing)]

use crate::key::{FlowKey, KEY_BYTES};

/// Size of one ring record in bytes.
pub const RECORD_BYTES: usize = 128;
/// The record format this contract defines; also readable from the capability registers.
pub const RECORD_FORMAT_VERSION: u8 = 1;
/// Offset of the packed key inside a record.
pub const RECORD_KEY_OFFSET: usize = 40;

/// The phase bit the producer writes into the record at free-running ring index `index`
/// of a ring of `1 << log2` entries: 1 on the first pass over the ring, 0 on the second,
/// and so on. A consumer that finds the expected phase in a slot knows the record is new
/// (ring memory starts zeroed, so nothing is taken for a record before the first pass).
pub const fn phase_for(index: u32, log2: u8) -> bool {
    (index >> log2) & 1 == 0
}

/// Why an entry left a table: the IPFIX `flowEndReason` (IE 136) codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum EndReason {
    /// No packet for the inactive timeout.
    Idle = 1,
    /// Active timeout reached (counters restart).
    Active = 2,
    /// End of flow detected (TCP FIN or RST), or a counter about to overflow.
    EndOfFlow = 3,
    /// Forced end: flush, reset or reconfiguration.
    Forced = 4,
    /// Evicted to make room in a full bucket.
    LackOfResources = 5,
}

impl EndReason {
    /// All reasons, in code order.
    pub const ALL: [EndReason; 5] = [
        Self::Idle,
        Self::Active,
        Self::EndOfFlow,
        Self::Forced,
        Self::LackOfResources,
    ];

    /// The reason with this IPFIX code.
    #[inline]
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Idle),
            2 => Some(Self::Active),
            3 => Some(Self::EndOfFlow),
            4 => Some(Self::Forced),
            5 => Some(Self::LackOfResources),
            _ => None,
        }
    }

    /// Short lower-case name for reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Active => "active",
            Self::EndOfFlow => "end-of-flow",
            Self::Forced => "forced",
            Self::LackOfResources => "lack-of-resources",
        }
    }
}

/// One exported aggregate as the device writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Profile (aggregation table) that exported it.
    pub profile: u8,
    /// Why it was exported.
    pub reason: EndReason,
    /// Phase bit: the value the producer writes on this pass over the ring.
    pub phase: bool,
    /// Original flows merged (deltaFlowCount).
    pub flows: u32,
    /// Packets.
    pub packets: u64,
    /// Bytes (IPv6 header + payload).
    pub bytes: u64,
    /// First packet time, device nanoseconds.
    pub first_ns: u64,
    /// Last packet time, device nanoseconds.
    pub last_ns: u64,
    /// The profile's masked key.
    pub key: FlowKey,
}

/// Why bytes from the ring are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Fewer bytes than a record.
    #[error("record is {0} bytes, expected {RECORD_BYTES}")]
    Length(usize),
    /// A format version this contract does not define.
    #[error("record format version {0}, expected {RECORD_FORMAT_VERSION}")]
    Version(u8),
    /// An end-reason code outside 1–5.
    #[error("record end reason {0} is not an IPFIX flowEndReason 1-5")]
    Reason(u8),
    /// Reserved flag bits set.
    #[error("record flags {0:#04x} set reserved bits")]
    Flags(u8),
    /// Last packet before first packet, or a record with no packets.
    #[error("record is impossible: {0}")]
    Impossible(&'static str),
}

impl Record {
    /// The record's bytes as the device writes them.
    pub fn encode(&self) -> [u8; RECORD_BYTES] {
        let mut b = [0u8; RECORD_BYTES];
        b[0] = RECORD_FORMAT_VERSION;
        b[1] = self.profile;
        b[2] = self.reason as u8;
        b[3] = u8::from(self.phase);
        b[4..8].copy_from_slice(&self.flows.to_le_bytes());
        b[8..16].copy_from_slice(&self.packets.to_le_bytes());
        b[16..24].copy_from_slice(&self.bytes.to_le_bytes());
        b[24..32].copy_from_slice(&self.first_ns.to_le_bytes());
        b[32..40].copy_from_slice(&self.last_ns.to_le_bytes());
        b[RECORD_KEY_OFFSET..].copy_from_slice(&self.key.pack());
        b
    }

    /// Parses and validates a record; never panics, whatever the bytes. On the driver's
    /// drain path for every record, hence always inlined (returned through memory from a
    /// call, the 136-byte result halved the drain rate): the checks run on the bytes
    /// before anything is built, and the key is unpacked straight from them.
    #[inline(always)]
    pub fn decode(b: &[u8]) -> Result<Self, RecordError> {
        let b: &[u8; RECORD_BYTES] = b.try_into().map_err(|_| RecordError::Length(b.len()))?;
        if b[0] != RECORD_FORMAT_VERSION {
            return Err(RecordError::Version(b[0]));
        }
        let reason = EndReason::from_code(b[2]).ok_or(RecordError::Reason(b[2]))?;
        if b[3] & !1 != 0 {
            return Err(RecordError::Flags(b[3]));
        }
        // Offsets are the constants of the layout, all inside the array: the `None` arm
        // cannot be taken (it would be a length error, like the key's below).
        let u64le = |o: usize| {
            b.get(o..)
                .and_then(<[u8]>::first_chunk::<8>)
                .map(|x| u64::from_le_bytes(*x))
                .ok_or(RecordError::Length(b.len()))
        };
        let flows = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        let (packets, last_ns, first_ns) = (u64le(8)?, u64le(32)?, u64le(24)?);
        if packets == 0 || flows == 0 {
            return Err(RecordError::Impossible("no packets or no flows"));
        }
        if last_ns < first_ns {
            return Err(RecordError::Impossible("last packet before first packet"));
        }
        if u64::from(flows) > packets {
            return Err(RecordError::Impossible("more flows than packets"));
        }
        let (_, key) = b.split_at(RECORD_KEY_OFFSET);
        let key: &[u8; KEY_BYTES] = key.try_into().map_err(|_| RecordError::Length(b.len()))?;
        Ok(Self {
            profile: b[1],
            reason,
            phase: b[3] & 1 == 1,
            flows,
            packets,
            bytes: u64le(16)?,
            first_ns,
            last_ns,
            key: FlowKey::unpack(key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Record {
        Record {
            profile: 3,
            reason: EndReason::Idle,
            phase: true,
            flows: 2,
            packets: 10,
            bytes: 1500,
            first_ns: 1_000,
            last_ns: 2_000,
            key: FlowKey {
                protocol: 17,
                src_port: 53,
                ..FlowKey::default()
            },
        }
    }

    #[test]
    fn layout_is_as_documented() {
        let b = sample().encode();
        assert_eq!(&b[..4], &[1, 3, 1, 1]);
        assert_eq!(&b[4..8], &[2, 0, 0, 0]);
        assert_eq!(&b[8..16], &[10, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[16..18], &[0xdc, 0x05]);
        assert_eq!(&b[24..26], &[0xe8, 0x03]);
        assert_eq!(b[RECORD_KEY_OFFSET + 83], 17, "protocol byte of the key");
        assert_eq!(&b[RECORD_KEY_OFFSET + 79..RECORD_KEY_OFFSET + 81], &[53, 0]);
    }

    #[test]
    fn phase_alternates_per_pass() {
        assert!(phase_for(0, 4) && phase_for(15, 4));
        assert!(!phase_for(16, 4) && !phase_for(31, 4));
        assert!(phase_for(32, 4));
        assert!(phase_for(u32::MAX >> 1, 31) && !phase_for(u32::MAX, 31));
    }

    #[test]
    fn bad_records_are_typed_errors() {
        let good = sample().encode();
        assert_eq!(Record::decode(&good[..100]), Err(RecordError::Length(100)));
        let mut b = good;
        b[0] = 2;
        assert_eq!(Record::decode(&b), Err(RecordError::Version(2)));
        let mut b = good;
        b[2] = 6;
        assert_eq!(Record::decode(&b), Err(RecordError::Reason(6)));
        let mut b = good;
        b[3] = 0x81;
        assert_eq!(Record::decode(&b), Err(RecordError::Flags(0x81)));
        let mut b = good;
        b[32..40].copy_from_slice(&5u64.to_le_bytes());
        assert!(matches!(
            Record::decode(&b),
            Err(RecordError::Impossible(_))
        ));
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(profile in any::<u8>(), reason in 1u8..=5, phase in any::<bool>(),
            flows in 1u32.., extra in 0u64..1 << 40, bytes in any::<u64>(), first in 0u64..1 << 62,
            dur in 0u64..1 << 40, key in any::<[u8; KEY_BYTES]>()) {
            let r = Record {
                profile, reason: EndReason::from_code(reason).unwrap(), phase, flows,
                packets: u64::from(flows) + extra, bytes, first_ns: first, last_ns: first + dur,
                key: FlowKey::unpack(&key),
            };
            prop_assert_eq!(Record::decode(&r.encode()), Ok(r));
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Record::decode(&b);
        }
    }
}
