//! The data templates: one per aggregation mode, for v9 and IPFIX and each AS / ifIndex
//! width (decisions A7, A8, A9 and ../shared/NETSTREAM.md Part B §3.2), and the record writer that
//! fills a template's fields from a [`FlowRecord`].
//!
//! Every template starts with the common fields deltaFlowCount(3), packetDeltaCount(2),
//! octetDeltaCount(1) (8 octets each) and the start and end times (v9: FIRST_SWITCHED 22,
//! LAST_SWITCHED 21, 4 octets relative to the system init time; IPFIX: 152, 153, 8
//! octets UNIX ms), then the mode's key fields in the §3.2 order, then flowDirection(61)
//! and, in IPFIX only, flowEndReason(136). `docs/export.md` lists every template.

use crate::config::{FieldWidth, Format, Version};
use crate::ie;
use crate::record::FlowRecord;
use nsflow_rtl::{AggregationMode, KeyField};

/// AS number sent for a 4-octet AS in a 2-octet field (RFC 6793 AS_TRANS).
pub const AS_TRANS: u16 = 23456;

/// Where a template field's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// `flows`.
    Flows,
    /// `packets`.
    Packets,
    /// `bytes`.
    Bytes,
    /// `start_ms` relative to the system init time (v9 FIRST_SWITCHED), mod 2^32.
    StartUptime,
    /// `end_ms` relative to the system init time (v9 LAST_SWITCHED), mod 2^32.
    EndUptime,
    /// `start_ms` (IPFIX flowStartMilliseconds).
    StartMs,
    /// `end_ms` (IPFIX flowEndMilliseconds).
    EndMs,
    /// `key.direction`.
    Direction,
    /// The flow's IP version (6: nsflow aggregates IPv6).
    IpVersion,
    /// `end_reason` code.
    EndReason,
    /// `key.src_as` (2 or 4 octets).
    SrcAs,
    /// `key.dst_as` (2 or 4 octets).
    DstAs,
    /// `key.in_if` (2 or 4 octets).
    InIf,
    /// `key.out_if` (2 or 4 octets).
    OutIf,
    /// `key.tos`.
    Tos,
    /// `key.src_addr` (the masked prefix in prefix modes).
    SrcAddr,
    /// `key.dst_addr` (the masked prefix in prefix modes).
    DstAddr,
    /// `key.src_plen`.
    SrcPlen,
    /// `key.dst_plen`.
    DstPlen,
    /// `key.next_hop`.
    NextHop,
    /// `key.protocol`.
    Protocol,
    /// `key.src_port`.
    SrcPort,
    /// `key.dst_port`.
    DstPort,
    /// `key.mpls[0]`, 3 octets.
    Mpls1,
    /// `key.mpls[1]`, 3 octets.
    Mpls2,
    /// `key.mpls[2]`, 3 octets.
    Mpls3,
    /// `key.top_label_addr`, 4 octets.
    TopLabelAddr,
    /// `key.vlan`.
    Vlan,
}

/// One field of a template: Information Element, length on the wire, value source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Information Element (v9 field type) ID.
    pub ie: u16,
    /// Length in octets.
    pub len: u16,
    /// Where the value comes from.
    pub value: Value,
}

/// The data template of one mode in one [`Format`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Template ID: 256 + mode index (A7), the same in v9 and IPFIX.
    pub id: u16,
    /// The mode whose records it carries.
    pub mode: AggregationMode,
    /// Fields in wire order.
    pub fields: Vec<Field>,
    /// Octets of one data record.
    pub record_len: usize,
}

const fn f(ie: u16, len: u16, value: Value) -> Field {
    Field { ie, len, value }
}

/// The template field that carries key field `key` (../shared/NETSTREAM.md Part B §3.2), the one
/// mapping from key fields to Information Elements: ASes and ifIndexes in the format's
/// widths; addresses as IPFIX's prefix elements in a prefix mode (`prefix`), otherwise (and
/// always in v9, which has no prefix elements) as the address elements.
fn key_field(key: KeyField, prefix: bool, format: Format) -> Field {
    let asw = format.as_width.octets();
    let ifw = format.ifindex_width.octets();
    let ipfix_prefix = prefix && format.version == Version::Ipfix;
    match key {
        KeyField::SrcAddr if ipfix_prefix => f(ie::SOURCE_IPV6_PREFIX, 16, Value::SrcAddr),
        KeyField::SrcAddr => f(ie::SOURCE_IPV6_ADDRESS, 16, Value::SrcAddr),
        KeyField::DstAddr if ipfix_prefix => f(ie::DESTINATION_IPV6_PREFIX, 16, Value::DstAddr),
        KeyField::DstAddr => f(ie::DESTINATION_IPV6_ADDRESS, 16, Value::DstAddr),
        KeyField::SrcPlen => f(ie::SOURCE_IPV6_PREFIX_LENGTH, 1, Value::SrcPlen),
        KeyField::DstPlen => f(ie::DESTINATION_IPV6_PREFIX_LENGTH, 1, Value::DstPlen),
        KeyField::Protocol => f(ie::PROTOCOL_IDENTIFIER, 1, Value::Protocol),
        KeyField::SrcPort => f(ie::SOURCE_TRANSPORT_PORT, 2, Value::SrcPort),
        KeyField::DstPort => f(ie::DESTINATION_TRANSPORT_PORT, 2, Value::DstPort),
        KeyField::Tos => f(ie::IP_CLASS_OF_SERVICE, 1, Value::Tos),
        KeyField::InIf => f(ie::INGRESS_INTERFACE, ifw, Value::InIf),
        KeyField::OutIf => f(ie::EGRESS_INTERFACE, ifw, Value::OutIf),
        KeyField::Vlan => f(ie::VLAN_ID, 2, Value::Vlan),
        KeyField::Mpls1 => f(ie::MPLS_TOP_LABEL_STACK_SECTION, 3, Value::Mpls1),
        KeyField::Mpls2 => f(ie::MPLS_LABEL_STACK_SECTION2, 3, Value::Mpls2),
        KeyField::Mpls3 => f(ie::MPLS_LABEL_STACK_SECTION3, 3, Value::Mpls3),
        KeyField::TopLabelAddr => f(ie::MPLS_TOP_LABEL_IPV4_ADDRESS, 4, Value::TopLabelAddr),
        KeyField::SrcAs => f(ie::BGP_SOURCE_AS_NUMBER, asw, Value::SrcAs),
        KeyField::DstAs => f(ie::BGP_DESTINATION_AS_NUMBER, asw, Value::DstAs),
        KeyField::NextHop => f(ie::BGP_NEXT_HOP_IPV6_ADDRESS, 16, Value::NextHop),
        KeyField::Direction => f(ie::FLOW_DIRECTION, 1, Value::Direction),
    }
}

impl Template {
    /// The template of `mode` in `format`.
    pub fn new(mode: AggregationMode, format: Format) -> Self {
        let ipfix = format.version == Version::Ipfix;
        let mut fields = vec![
            f(ie::DELTA_FLOW_COUNT, 8, Value::Flows),
            f(ie::PACKET_DELTA_COUNT, 8, Value::Packets),
            f(ie::OCTET_DELTA_COUNT, 8, Value::Bytes),
        ];
        if ipfix {
            fields.push(f(ie::FLOW_START_MILLISECONDS, 8, Value::StartMs));
            fields.push(f(ie::FLOW_END_MILLISECONDS, 8, Value::EndMs));
        } else {
            fields.push(f(ie::FLOW_START_SYS_UP_TIME, 4, Value::StartUptime));
            fields.push(f(ie::FLOW_END_SYS_UP_TIME, 4, Value::EndUptime));
        }
        // The mode's key fields from the mode table, then the implicit direction (N6) and
        // the IP version, which tells collectors the family of keys without an address.
        let keys = mode.key_fields().iter().chain(&[KeyField::Direction]);
        fields.extend(keys.map(|k| key_field(*k, mode.is_prefix_mode(), format)));
        fields.push(f(ie::IP_VERSION, 1, Value::IpVersion));
        if ipfix {
            fields.push(f(ie::FLOW_END_REASON, 1, Value::EndReason));
        }
        let record_len = fields.iter().map(|x| usize::from(x.len)).sum();
        Self {
            id: mode.template_id(),
            mode,
            fields,
            record_len,
        }
    }

    /// Octets of this template's template record: ID, field count, then (IE, length) pairs.
    pub fn template_record_len(&self) -> usize {
        4 + 4 * self.fields.len()
    }

    /// Appends the template record (RFC 3954 §5.2 / RFC 7011 §3.4.1; the layouts are the same
    /// for IANA elements without enterprise numbers).
    pub fn write_template_record(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.to_be_bytes());
        let n = u16::try_from(self.fields.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_be_bytes());
        for x in &self.fields {
            out.extend_from_slice(&x.ie.to_be_bytes());
            out.extend_from_slice(&x.len.to_be_bytes());
        }
    }

    /// Writes one data record of `rec` into `out`, which must be exactly
    /// [`Self::record_len`] octets long (a shorter or longer slice is left partly written).
    /// `init_ms` is the system init time that v9 relative times are measured from.
    #[inline]
    pub fn write_record(&self, rec: &FlowRecord, init_ms: u64, out: &mut [u8]) {
        let k = &rec.key;
        let mut o = 0usize;
        for x in &self.fields {
            let len = usize::from(x.len);
            let Some(dst) = out.get_mut(o..o + len) else {
                return;
            };
            match x.value {
                Value::Flows => dst.copy_from_slice(&rec.flows.to_be_bytes()),
                Value::Packets => dst.copy_from_slice(&rec.packets.to_be_bytes()),
                Value::Bytes => dst.copy_from_slice(&rec.bytes.to_be_bytes()),
                Value::StartUptime => dst.copy_from_slice(&uptime(rec.start_ms, init_ms)),
                Value::EndUptime => dst.copy_from_slice(&uptime(rec.end_ms, init_ms)),
                Value::StartMs => dst.copy_from_slice(&rec.start_ms.to_be_bytes()),
                Value::EndMs => dst.copy_from_slice(&rec.end_ms.to_be_bytes()),
                Value::Direction => dst[0] = k.direction,
                Value::IpVersion => dst[0] = 6,
                Value::EndReason => dst[0] = rec.end_reason as u8,
                Value::SrcAs => put_as(dst, k.src_as),
                Value::DstAs => put_as(dst, k.dst_as),
                Value::InIf => put_ifindex(dst, k.in_if),
                Value::OutIf => put_ifindex(dst, k.out_if),
                Value::Tos => dst[0] = k.tos,
                Value::SrcAddr => dst.copy_from_slice(&k.src_addr),
                Value::DstAddr => dst.copy_from_slice(&k.dst_addr),
                Value::SrcPlen => dst[0] = k.src_plen,
                Value::DstPlen => dst[0] = k.dst_plen,
                Value::NextHop => dst.copy_from_slice(&k.next_hop),
                Value::Protocol => dst[0] = k.protocol,
                Value::SrcPort => dst.copy_from_slice(&k.src_port.to_be_bytes()),
                Value::DstPort => dst.copy_from_slice(&k.dst_port.to_be_bytes()),
                Value::Mpls1 => dst.copy_from_slice(&k.mpls[0].to_be_bytes()[1..]),
                Value::Mpls2 => dst.copy_from_slice(&k.mpls[1].to_be_bytes()[1..]),
                Value::Mpls3 => dst.copy_from_slice(&k.mpls[2].to_be_bytes()[1..]),
                Value::TopLabelAddr => dst.copy_from_slice(&k.top_label_addr.to_be_bytes()),
                Value::Vlan => dst.copy_from_slice(&k.vlan.to_be_bytes()),
            }
            o += len;
        }
    }
}

/// v9 relative time: milliseconds since the system init time, mod 2^32 (times before the
/// init time are sent as 0).
#[inline]
fn uptime(t_ms: u64, init_ms: u64) -> [u8; 4] {
    (t_ms.saturating_sub(init_ms) as u32).to_be_bytes()
}

#[inline]
fn put_as(dst: &mut [u8], v: u32) {
    if dst.len() == 4 {
        dst.copy_from_slice(&v.to_be_bytes());
    } else {
        let v16 = u16::try_from(v).unwrap_or(AS_TRANS);
        dst.copy_from_slice(&v16.to_be_bytes());
    }
}

#[inline]
fn put_ifindex(dst: &mut [u8], v: u32) {
    if dst.len() == 4 {
        dst.copy_from_slice(&v.to_be_bytes());
    } else {
        let v16 = u16::try_from(v).unwrap_or(0);
        dst.copy_from_slice(&v16.to_be_bytes());
    }
}

/// The data templates of a format, one per mode, indexed by mode index.
pub fn templates(format: Format) -> Vec<Template> {
    AggregationMode::ALL
        .iter()
        .map(|m| Template::new(*m, format))
        .collect()
}

/// Every format: 2 versions × 2 AS widths × 2 ifIndex widths.
pub fn all_formats() -> Vec<Format> {
    let mut v = Vec::new();
    for version in [Version::V9, Version::Ipfix] {
        for as_width in [FieldWidth::Two, FieldWidth::Four] {
            for ifindex_width in [FieldWidth::Two, FieldWidth::Four] {
                v.push(Format {
                    version,
                    as_width,
                    ifindex_width,
                });
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsflow_rtl::{EndReason, FlowKey};

    const IPFIX4: Format = Format {
        version: Version::Ipfix,
        as_width: FieldWidth::Four,
        ifindex_width: FieldWidth::Four,
    };
    const V9_2: Format = Format {
        version: Version::V9,
        as_width: FieldWidth::Two,
        ifindex_width: FieldWidth::Two,
    };

    fn ies(t: &Template) -> Vec<(u16, u16)> {
        t.fields.iter().map(|x| (x.ie, x.len)).collect()
    }

    /// One data template per mode row, IDs 256 + index (A7), and no ID shared between
    /// any two data templates or a data and an options template.
    #[test]
    fn template_ids_are_distinct_and_cover_every_mode() {
        use crate::options::{RELIABILITY_TEMPLATE_ID, TIMEOUTS_TEMPLATE_ID};
        let mut ids =
            std::collections::BTreeSet::from([RELIABILITY_TEMPLATE_ID, TIMEOUTS_TEMPLATE_ID]);
        for format in all_formats() {
            let ts = templates(format);
            assert_eq!(ts.len(), AggregationMode::ALL.len());
            for (i, t) in ts.iter().enumerate() {
                assert_eq!(usize::from(t.mode.index()), i, "indices dense from 0");
                assert_eq!(t.id, 256 + u16::from(t.mode.index()));
                ids.insert(t.id);
            }
        }
        assert_eq!(ids.len(), AggregationMode::ALL.len() + 2, "{ids:?}");
    }

    #[test]
    fn as_template_ipfix_4_octets_matches_the_spec_table() {
        let t = Template::new(AggregationMode::As, IPFIX4);
        assert_eq!(t.id, 256);
        assert_eq!(
            ies(&t),
            vec![
                (3, 8),
                (2, 8),
                (1, 8),
                (152, 8),
                (153, 8),
                (16, 4),
                (17, 4),
                (10, 4),
                (14, 4),
                (61, 1),
                (60, 1),
                (136, 1)
            ]
        );
        // §3.2 gives 57 octets for `as` without flowEndReason; A8 adds it in IPFIX, and
        // every template carries ipVersion (60) for collectors (docs/export.md).
        assert_eq!(t.record_len, 59);
    }

    #[test]
    fn v9_prefix_template_uses_masked_addresses_and_relative_times() {
        let t = Template::new(AggregationMode::PrefixTos, V9_2);
        assert_eq!(t.id, 256 + 8);
        assert_eq!(
            ies(&t),
            vec![
                (3, 8),
                (2, 8),
                (1, 8),
                (22, 4),
                (21, 4),
                (27, 16),
                (28, 16),
                (29, 1),
                (30, 1),
                (16, 2),
                (17, 2),
                (10, 2),
                (14, 2),
                (5, 1),
                (61, 1),
                (60, 1)
            ]
        );
        assert_eq!(t.record_len, 24 + 8 + 32 + 2 + 8 + 1 + 1 + 1);
    }

    #[test]
    fn ipfix_record_sizes_are_the_spec_table_plus_flow_end_reason() {
        // ../shared/NETSTREAM.md §3.2 "IPFIX record bytes" (4-octet AS/ifIndex, no 136)
        // + 1 (flowEndReason) + 1 (ipVersion).
        let table = [57, 58, 74, 66, 67, 50, 54, 91, 92, 46, 55, 66, 67, 47];
        for (m, bytes) in AggregationMode::ALL.iter().zip(table) {
            assert_eq!(Template::new(*m, IPFIX4).record_len, bytes + 2, "{m}");
        }
    }

    #[test]
    fn template_record_bytes_for_vlan_id_v9() {
        let t = Template::new(AggregationMode::VlanId, V9_2);
        let mut b = Vec::new();
        t.write_template_record(&mut b);
        #[rustfmt::skip]
        let want = [
            0x01, 0x0d, 0x00, 0x09, // template 269, 9 fields
            0, 3, 0, 8,  0, 2, 0, 8,  0, 1, 0, 8, // flows, packets, octets
            0, 22, 0, 4,  0, 21, 0, 4,            // FIRST/LAST_SWITCHED
            0, 58, 0, 2,  0, 10, 0, 2,            // vlan, ingress ifIndex
            0, 61, 0, 1,                          // direction
            0, 60, 0, 1,                          // IP version
        ];
        assert_eq!(b, want);
        assert_eq!(b.len(), t.template_record_len());
    }

    #[test]
    fn data_record_bytes_for_mpls_label_ipfix() {
        let t = Template::new(AggregationMode::MplsLabel, IPFIX4);
        let rec = FlowRecord {
            mode: AggregationMode::MplsLabel,
            key: FlowKey {
                mpls: [(100 << 4) | (5 << 1) | 1, 200 << 4, 0xFFFFF << 4],
                top_label_addr: 0xC000_0201,
                direction: 1,
                ..FlowKey::default()
            },
            flows: 2,
            packets: 3,
            bytes: 0x0102,
            start_ms: 0x0000_0190_0000_0001,
            end_ms: 0x0000_0190_0000_0002,
            end_reason: EndReason::LackOfResources,
        };
        let mut b = vec![0u8; t.record_len];
        t.write_record(&rec, 0, &mut b);
        #[rustfmt::skip]
        let want = [
            0, 0, 0, 0, 0, 0, 0, 2,
            0, 0, 0, 0, 0, 0, 0, 3,
            0, 0, 0, 0, 0, 0, 1, 2,
            0, 0, 1, 0x90, 0, 0, 0, 1,
            0, 0, 1, 0x90, 0, 0, 0, 2,
            0x00, 0x06, 0x4b,  // label 100, EXP 5, S 1: 0x0064b
            0x00, 0x0c, 0x80,  // label 200
            0xff, 0xff, 0xf0,  // label 1048575
            192, 0, 2, 1,
            1,                 // egress
            6,                 // IP version
            5,                 // lack of resources
        ];
        assert_eq!(b, want);
    }

    #[test]
    fn two_octet_fields_use_as_trans_and_zero_for_large_values() {
        let t = Template::new(AggregationMode::As, V9_2);
        let rec = FlowRecord {
            mode: AggregationMode::As,
            key: FlowKey {
                src_as: 65535,
                dst_as: 4_200_000_000,
                in_if: 7,
                out_if: 70_000,
                ..FlowKey::default()
            },
            flows: 1,
            packets: 1,
            bytes: 40,
            start_ms: 10_500,
            end_ms: 11_000,
            end_reason: EndReason::Idle,
        };
        let mut b = vec![0u8; t.record_len];
        t.write_record(&rec, 10_000, &mut b);
        assert_eq!(&b[24..32], &[0, 0, 0x01, 0xf4, 0, 0, 0x03, 0xe8]); // 500, 1000 ms
        assert_eq!(&b[32..40], &[0xff, 0xff, 0x5b, 0xa0, 0, 7, 0, 0]);
    }
}
