//! Building one export message: the v9 / IPFIX header, sets, records and padding, kept
//! within the path MTU.
//!
//! * v9 (RFC 3954 §5): 20-octet header (version 9, count = every record in the packet,
//!   sysUpTime, UNIX seconds, sequence, source ID); FlowSets padded with zero octets to a
//!   32-bit boundary (§5.3, "should"), the padding counted in the FlowSet length.
//! * IPFIX (RFC 7011 §3): 16-octet header (version 10, message length, export time,
//!   sequence, observation domain); sets are not padded (padding is optional, §3.3.1).
//!
//! The v9 sysUpTime is taken at the export second (`floor(now / 1000) * 1000 − init`), so
//! that a collector's boot time `UNIX secs × 1000 − sysUpTime` is exactly the init time and
//! FIRST/LAST_SWITCHED convert back to the exact milliseconds that were sent.

use crate::config::Version;
use crate::record::FlowRecord;
use crate::sequence::{MessageKind, Sequence};
use crate::template::Template;

/// Octets of the NetFlow v9 header.
pub const V9_HEADER_LEN: usize = 20;
/// Octets of the IPFIX message header.
pub const IPFIX_HEADER_LEN: usize = 16;
/// Octets of a set (FlowSet) header: ID and length.
pub const SET_HEADER_LEN: usize = 4;
/// v9 FlowSet ID of template FlowSets.
pub const V9_TEMPLATE_SET: u16 = 0;
/// v9 FlowSet ID of options template FlowSets.
pub const V9_OPTIONS_TEMPLATE_SET: u16 = 1;
/// IPFIX Set ID of template sets.
pub const IPFIX_TEMPLATE_SET: u16 = 2;
/// IPFIX Set ID of options template sets.
pub const IPFIX_OPTIONS_TEMPLATE_SET: u16 = 3;

/// The template set ID of a version.
pub const fn template_set_id(v: Version) -> u16 {
    match v {
        Version::V9 => V9_TEMPLATE_SET,
        Version::Ipfix => IPFIX_TEMPLATE_SET,
    }
}

/// The options template set ID of a version.
pub const fn options_template_set_id(v: Version) -> u16 {
    match v {
        Version::V9 => V9_OPTIONS_TEMPLATE_SET,
        Version::Ipfix => IPFIX_OPTIONS_TEMPLATE_SET,
    }
}

/// A finished export message: one UDP payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The UDP payload.
    pub bytes: Vec<u8>,
    /// Template message or data message.
    pub kind: MessageKind,
    /// The header sequence number.
    pub sequence: u32,
    /// Data records inside, options data included.
    pub data_records: u32,
    /// Flow data records inside (options data excluded): what per-destination counters count.
    pub flow_records: u32,
    /// Packets in those flow records (packetDeltaCount summed).
    pub flow_packets: u64,
    /// Bytes in those flow records (octetDeltaCount summed).
    pub flow_bytes: u64,
}

/// What the header needs besides the contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderInfo {
    /// Export time, UNIX ms.
    pub now_ms: u64,
    /// System init time, UNIX ms (v9 sysUpTime base; a whole second).
    pub init_ms: u64,
    /// v9 Source ID / IPFIX Observation Domain ID.
    pub domain: u32,
}

/// A message under construction.
#[derive(Debug)]
pub struct MessageBuilder {
    version: Version,
    kind: MessageKind,
    mtu: usize,
    buf: Vec<u8>,
    set_start: Option<usize>,
    set_id: u16,
    records: u32,
    data_records: u32,
    flow_records: u32,
    flow_packets: u64,
    flow_bytes: u64,
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

impl MessageBuilder {
    /// An empty message of `kind` whose payload will not exceed `mtu` octets (capped at 65535).
    pub fn new(version: Version, kind: MessageKind, mtu: usize) -> Self {
        let mtu = mtu.min(usize::from(u16::MAX));
        let header = match version {
            Version::V9 => V9_HEADER_LEN,
            Version::Ipfix => IPFIX_HEADER_LEN,
        };
        let mut buf = Vec::with_capacity(mtu);
        buf.resize(header, 0);
        Self {
            version,
            kind,
            mtu,
            buf,
            set_start: None,
            set_id: 0,
            records: 0,
            data_records: 0,
            flow_records: 0,
            flow_packets: 0,
            flow_bytes: 0,
        }
    }

    /// Whether no record was added yet.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Whether a record of `len` octets in set `set_id` still fits, counting the set header
    /// when a new set is needed and the v9 padding of the sets.
    pub fn fits(&self, set_id: u16, len: usize) -> bool {
        let same_set = self.set_start.is_some() && self.set_id == set_id;
        let end = if same_set {
            self.buf.len() + len
        } else {
            self.closed_len() + SET_HEADER_LEN + len
        };
        let end = match self.version {
            Version::V9 => align4(end),
            Version::Ipfix => end,
        };
        end <= self.mtu
    }

    fn closed_len(&self) -> usize {
        match (self.version, self.set_start) {
            (Version::V9, Some(_)) => align4(self.buf.len()),
            _ => self.buf.len(),
        }
    }

    /// Makes `set_id` the open set, closing the current one if it is another.
    pub fn begin_set(&mut self, set_id: u16) {
        if self.set_start.is_some() && self.set_id == set_id {
            return;
        }
        self.close_set();
        self.set_start = Some(self.buf.len());
        self.set_id = set_id;
        self.buf.extend_from_slice(&set_id.to_be_bytes());
        self.buf.extend_from_slice(&[0, 0]);
    }

    /// Closes the open set: v9 pads it to 32 bits, then its length is written.
    pub fn close_set(&mut self) {
        let Some(start) = self.set_start.take() else {
            return;
        };
        if self.version == Version::V9 {
            let padded = align4(self.buf.len());
            self.buf.resize(padded, 0);
        }
        let len = u16::try_from(self.buf.len() - start).unwrap_or(u16::MAX);
        self.buf[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Appends a template record of `t` to the open set.
    pub fn add_template(&mut self, t: &Template) {
        t.write_template_record(&mut self.buf);
        self.records += 1;
    }

    /// Appends raw bytes forming `records` (options) template records to the open set.
    pub fn add_raw_template(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.records += 1;
    }

    /// Appends one flow data record of `t` to the open set.
    #[inline]
    pub fn add_flow_record(&mut self, t: &Template, rec: &FlowRecord, init_ms: u64) {
        let start = self.buf.len();
        self.buf.resize(start + t.record_len, 0);
        t.write_record(rec, init_ms, &mut self.buf[start..]);
        self.records += 1;
        self.data_records += 1;
        self.flow_records += 1;
        self.flow_packets = self.flow_packets.saturating_add(rec.packets);
        self.flow_bytes = self.flow_bytes.saturating_add(rec.bytes);
    }

    /// Appends one options data record (already encoded) to the open set.
    pub fn add_options_record(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.records += 1;
        self.data_records += 1;
    }

    /// Closes the open set, stamps the sequence number and writes the header.
    pub fn finish(mut self, seq: &mut Sequence, h: HeaderInfo) -> Message {
        self.close_set();
        let sequence = seq.stamp(self.kind, self.data_records);
        let secs = h.now_ms / 1000;
        let b = &mut self.buf;
        match self.version {
            Version::V9 => {
                let count = u16::try_from(self.records).unwrap_or(u16::MAX);
                let uptime = (secs * 1000).saturating_sub(h.init_ms) as u32;
                b[0..2].copy_from_slice(&9u16.to_be_bytes());
                b[2..4].copy_from_slice(&count.to_be_bytes());
                b[4..8].copy_from_slice(&uptime.to_be_bytes());
                b[8..12].copy_from_slice(&(secs as u32).to_be_bytes());
                b[12..16].copy_from_slice(&sequence.to_be_bytes());
                b[16..20].copy_from_slice(&h.domain.to_be_bytes());
            }
            Version::Ipfix => {
                let len = u16::try_from(b.len()).unwrap_or(u16::MAX);
                b[0..2].copy_from_slice(&10u16.to_be_bytes());
                b[2..4].copy_from_slice(&len.to_be_bytes());
                b[4..8].copy_from_slice(&(secs as u32).to_be_bytes());
                b[8..12].copy_from_slice(&sequence.to_be_bytes());
                b[12..16].copy_from_slice(&h.domain.to_be_bytes());
            }
        }
        Message {
            bytes: self.buf,
            kind: self.kind,
            sequence,
            data_records: self.data_records,
            flow_records: self.flow_records,
            flow_packets: self.flow_packets,
            flow_bytes: self.flow_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FieldWidth, Format};
    use crate::sequence::SequenceRule;
    use nsflow_rtl::{AggregationMode, EndReason, FlowKey};

    fn format(version: Version) -> Format {
        Format {
            version,
            as_width: FieldWidth::Two,
            ifindex_width: FieldWidth::Two,
        }
    }

    fn index_tos_record() -> FlowRecord {
        FlowRecord {
            mode: AggregationMode::IndexTos,
            key: FlowKey {
                in_if: 3,
                out_if: 4,
                tos: 0xb8,
                ..FlowKey::default()
            },
            flows: 1,
            packets: 2,
            bytes: 300,
            start_ms: 1_700_000_000_250,
            end_ms: 1_700_000_001_000,
            end_reason: EndReason::Active,
        }
    }

    const H: HeaderInfo = HeaderInfo {
        now_ms: 1_700_000_002_999,
        init_ms: 1_700_000_000_000,
        domain: 0x0000_0102,
    };

    #[test]
    fn v9_data_flowset_layout_with_padding() {
        let t = Template::new(AggregationMode::IndexTos, format(Version::V9));
        assert_eq!(t.record_len, 24 + 8 + 2 + 2 + 1 + 1 + 1); // 39
        let mut m = MessageBuilder::new(Version::V9, MessageKind::Data, 1400);
        m.begin_set(t.id);
        m.add_flow_record(&t, &index_tos_record(), H.init_ms);
        let mut seq = Sequence::new(SequenceRule::V9PerPacket);
        let msg = m.finish(&mut seq, H);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            0, 9, 0, 1,                 // version 9, count 1
            0, 0, 0x07, 0xd0,           // sysUpTime 2000 ms (export second 1700000002)
            0x65, 0x53, 0xf1, 0x02,     // UNIX secs 1700000002
            0, 0, 0, 0,                 // sequence 0
            0, 0, 1, 2,                 // source ID
            0x01, 0x05, 0, 44,          // FlowSet 261, length 4 + 39 + 1 padding
            0, 0, 0, 0, 0, 0, 0, 1,     // flows
            0, 0, 0, 0, 0, 0, 0, 2,     // packets
            0, 0, 0, 0, 0, 0, 1, 0x2c,  // octets 300
            0, 0, 0, 250,               // FIRST_SWITCHED 250
            0, 0, 0x03, 0xe8,           // LAST_SWITCHED 1000
            0, 3, 0, 4,                 // in, out ifIndex
            0xb8,                       // tos
            0,                          // direction
            6,                          // IP version
            0,                          // padding
        ];
        assert_eq!(msg.bytes, want);
        assert_eq!(
            (msg.sequence, msg.data_records, msg.flow_records),
            (0, 1, 1)
        );
        // The packets and octets of the flow record, as written above.
        assert_eq!((msg.flow_packets, msg.flow_bytes), (2, 300));
        assert_eq!(seq.current(), 1);
    }

    #[test]
    fn ipfix_data_set_layout_without_padding() {
        let t = Template::new(AggregationMode::IndexTos, format(Version::Ipfix));
        assert_eq!(t.record_len, 24 + 16 + 2 + 2 + 1 + 1 + 1 + 1); // 48
        let mut m = MessageBuilder::new(Version::Ipfix, MessageKind::Data, 1400);
        m.begin_set(t.id);
        m.add_flow_record(&t, &index_tos_record(), H.init_ms);
        let mut seq = Sequence::new(SequenceRule::IpfixRfc7011);
        let msg = m.finish(&mut seq, H);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            0, 10, 0, 68,               // version 10, length 16 + 4 + 48
            0x65, 0x53, 0xf1, 0x02,     // export time
            0, 0, 0, 0,                 // sequence 0
            0, 0, 1, 2,                 // observation domain
            0x01, 0x05, 0, 52,          // set 261, length 4 + 48
            0, 0, 0, 0, 0, 0, 0, 1,
            0, 0, 0, 0, 0, 0, 0, 2,
            0, 0, 0, 0, 0, 0, 1, 0x2c,
            0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0xfa, // 1700000000250
            0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x6b, 0xe8, // 1700000001000
            0, 3, 0, 4,
            0xb8,
            0,
            6,                          // IP version
            2,                          // flowEndReason active
        ];
        assert_eq!(msg.bytes, want);
        assert_eq!(seq.current(), 1);
    }

    #[test]
    fn v9_template_flowset_layout() {
        let t = Template::new(AggregationMode::ProtocolPort, format(Version::V9));
        let mut m = MessageBuilder::new(Version::V9, MessageKind::Template, 1400);
        m.begin_set(V9_TEMPLATE_SET);
        m.add_template(&t);
        let mut seq = Sequence::new(SequenceRule::V9PerPacket);
        let msg = m.finish(&mut seq, H);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            0, 9, 0, 1, 0, 0, 0x07, 0xd0, 0x65, 0x53, 0xf1, 0x02, 0, 0, 0, 0, 0, 0, 1, 2,
            0, 0, 0, 48,                // FlowSet 0, length 4 + 4 + 10 × 4
            0x01, 0x09, 0, 10,          // template 265, 10 fields
            0, 3, 0, 8, 0, 2, 0, 8, 0, 1, 0, 8,
            0, 22, 0, 4, 0, 21, 0, 4,
            0, 4, 0, 1, 0, 7, 0, 2, 0, 11, 0, 2,
            0, 61, 0, 1, 0, 60, 0, 1,
        ];
        assert_eq!(msg.bytes, want);
        assert_eq!(msg.data_records, 0);
        assert_eq!(seq.current(), 1, "v9 template packets count too");
    }

    #[test]
    fn ipfix_template_set_layout_and_sequence_unchanged_when_fixed() {
        let t = Template::new(AggregationMode::VlanId, format(Version::Ipfix));
        let mut m = MessageBuilder::new(Version::Ipfix, MessageKind::Template, 1400);
        m.begin_set(IPFIX_TEMPLATE_SET);
        m.add_template(&t);
        let mut seq = Sequence::new(SequenceRule::IpfixRfc7011);
        let msg = m.finish(&mut seq, H);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            0, 10, 0, 64, 0x65, 0x53, 0xf1, 0x02, 0, 0, 0, 0, 0, 0, 1, 2,
            0, 2, 0, 48,                // set 2, length 4 + 4 + 10 × 4
            0x01, 0x0d, 0, 10,          // template 269, 10 fields
            0, 3, 0, 8, 0, 2, 0, 8, 0, 1, 0, 8,
            0, 152, 0, 8, 0, 153, 0, 8,
            0, 58, 0, 2, 0, 10, 0, 2,
            0, 61, 0, 1, 0, 60, 0, 1, 0, 136, 0, 1,
        ];
        assert_eq!(msg.bytes, want);
        assert_eq!(seq.current(), 0);
    }

    #[test]
    fn fits_counts_set_header_and_v9_padding() {
        let t = Template::new(AggregationMode::IndexTos, format(Version::V9));
        // 20 header + 4 set header + 38 record → 62, padded to 64.
        let m = MessageBuilder::new(Version::V9, MessageKind::Data, 64);
        assert!(m.fits(t.id, t.record_len));
        let m = MessageBuilder::new(Version::V9, MessageKind::Data, 63);
        assert!(!m.fits(t.id, t.record_len));
        let mut m = MessageBuilder::new(Version::V9, MessageKind::Data, 104);
        m.begin_set(t.id);
        m.add_flow_record(&t, &index_tos_record(), 0);
        // second record in the same set: 62 + 38 = 100 → fits in 100..=103? padded 100.
        assert!(m.fits(t.id, t.record_len));
        // in another set: padded 64 + 4 + 38 = 106 → 108 > 104.
        assert!(!m.fits(t.id + 1, t.record_len));
    }
}
