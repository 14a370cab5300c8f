//! The full flow key vector, its packed wire form, and bit-exact key and prefix masking.
//!
//! Stage 1 (original flows) keys every packet by the whole [`FlowKey`]; stage 2 keys an
//! aged original flow by [`FlowKey::masked`] with the profile's [`FieldSelect`] and prefix
//! minima (decision A13). The packed form ([`FlowKey::pack`]) is what the flow hash and
//! the DMA record carry.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Size of a packed [`FlowKey`] in bytes.
pub const KEY_BYTES: usize = 88;

/// One field of the key vector, by its [`FieldSelect`] bit (the discriminant). The
/// aggregation mode table names a mode's key fields with these, in template order, so that
/// the device's field selection and the exporter's template come from one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum KeyField {
    /// IPv6 source address (masked to the prefix when [`FieldSelect::PREFIX_MASK`] is set).
    SrcAddr = 0,
    /// IPv6 destination address (masked to the prefix when [`FieldSelect::PREFIX_MASK`] is set).
    DstAddr = 1,
    /// Source prefix length (route result, raised to the profile's minimum).
    SrcPlen = 2,
    /// Destination prefix length (route result, raised to the profile's minimum).
    DstPlen = 3,
    /// Final next-header value (the L4 protocol).
    Protocol = 4,
    /// L4 source port (0 for ICMPv6 and non-first fragments).
    SrcPort = 5,
    /// L4 destination port (type × 256 + code for ICMPv6).
    DstPort = 6,
    /// IPv6 Traffic Class (decision A10).
    Tos = 7,
    /// Ingress ifIndex from the interface table.
    InIf = 8,
    /// Egress ifIndex from the destination route.
    OutIf = 9,
    /// Outer VLAN ID (decision A11).
    Vlan = 10,
    /// Top MPLS label stack section: label, EXP and S.
    Mpls1 = 11,
    /// Second MPLS label, label value only (EXP and S masked, N3).
    Mpls2 = 12,
    /// Third MPLS label, label value only (EXP and S masked, N3).
    Mpls3 = 13,
    /// IPv4 address the label table gives for the top label.
    TopLabelAddr = 14,
    /// Source AS from the source route.
    SrcAs = 15,
    /// Destination AS from the destination route.
    DstAs = 16,
    /// BGP next hop from the destination route.
    NextHop = 17,
    /// Flow direction (0 ingress).
    Direction = 18,
}

impl KeyField {
    /// The [`FieldSelect`] bit that selects this field.
    pub const fn select(self) -> FieldSelect {
        FieldSelect(1 << self as u32)
    }
}

/// A bit set over the key fields: bit N selects one field of the key vector.
/// Programmed into each profile's `FIELD_SELECT` register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FieldSelect(pub u32);

impl FieldSelect {
    /// The bit of [`KeyField::SrcAddr`].
    pub const SRC_ADDR: Self = KeyField::SrcAddr.select();
    /// The bit of [`KeyField::DstAddr`].
    pub const DST_ADDR: Self = KeyField::DstAddr.select();
    /// The bit of [`KeyField::SrcPlen`].
    pub const SRC_PLEN: Self = KeyField::SrcPlen.select();
    /// The bit of [`KeyField::DstPlen`].
    pub const DST_PLEN: Self = KeyField::DstPlen.select();
    /// The bit of [`KeyField::Protocol`].
    pub const PROTOCOL: Self = KeyField::Protocol.select();
    /// The bit of [`KeyField::SrcPort`].
    pub const SRC_PORT: Self = KeyField::SrcPort.select();
    /// The bit of [`KeyField::DstPort`].
    pub const DST_PORT: Self = KeyField::DstPort.select();
    /// The bit of [`KeyField::Tos`].
    pub const TOS: Self = KeyField::Tos.select();
    /// The bit of [`KeyField::InIf`].
    pub const IN_IF: Self = KeyField::InIf.select();
    /// The bit of [`KeyField::OutIf`].
    pub const OUT_IF: Self = KeyField::OutIf.select();
    /// The bit of [`KeyField::Vlan`].
    pub const VLAN: Self = KeyField::Vlan.select();
    /// The bit of [`KeyField::Mpls1`].
    pub const MPLS1: Self = KeyField::Mpls1.select();
    /// The bit of [`KeyField::Mpls2`].
    pub const MPLS2: Self = KeyField::Mpls2.select();
    /// The bit of [`KeyField::Mpls3`].
    pub const MPLS3: Self = KeyField::Mpls3.select();
    /// The bit of [`KeyField::TopLabelAddr`].
    pub const TOP_LABEL_ADDR: Self = KeyField::TopLabelAddr.select();
    /// The bit of [`KeyField::SrcAs`].
    pub const SRC_AS: Self = KeyField::SrcAs.select();
    /// The bit of [`KeyField::DstAs`].
    pub const DST_AS: Self = KeyField::DstAs.select();
    /// The bit of [`KeyField::NextHop`].
    pub const NEXT_HOP: Self = KeyField::NextHop.select();
    /// The bit of [`KeyField::Direction`].
    pub const DIRECTION: Self = KeyField::Direction.select();
    /// Not a field: mask selected addresses to their effective prefix length (A13).
    pub const PREFIX_MASK: Self = Self(1 << 19);
    /// Every key field, no prefix masking: the stage-1 (original flow) key.
    pub const ORIGINAL: Self = Self((1 << 19) - 1);
    /// Bits that mean something; the rest of the register is reserved.
    pub const DEFINED: Self = Self((1 << 20) - 1);

    /// Names of the defined bits, in bit order, for documentation and reports.
    pub const BIT_NAMES: [&'static str; 20] = [
        "src_addr",
        "dst_addr",
        "src_plen",
        "dst_plen",
        "protocol",
        "src_port",
        "dst_port",
        "tos",
        "in_if",
        "out_if",
        "vlan",
        "mpls1",
        "mpls2",
        "mpls3",
        "top_label_addr",
        "src_as",
        "dst_as",
        "next_hop",
        "direction",
        "prefix_mask",
    ];

    /// Whether every bit of `other` is set here.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of two selections.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// The full key vector of a packet or flow. Addresses are in network order; the MPLS
/// entries are 24-bit label stack sections (label << 4 | EXP << 1 | S). Equality is field
/// by field (implemented by hand to compare without a branch per field: the flow tables
/// compare a key on every lookup hit); the order is the fields' in declaration order.
#[derive(Debug, Clone, Copy, PartialOrd, Ord, Default)]
pub struct FlowKey {
    /// IPv6 source address.
    pub src_addr: [u8; 16],
    /// IPv6 destination address.
    pub dst_addr: [u8; 16],
    /// BGP next hop of the destination route (:: on a miss).
    pub next_hop: [u8; 16],
    /// Origin AS of the source route (0 on a miss).
    pub src_as: u32,
    /// Origin AS of the destination route (0 on a miss).
    pub dst_as: u32,
    /// Ingress ifIndex.
    pub in_if: u32,
    /// Egress ifIndex.
    pub out_if: u32,
    /// Top-label IPv4 address from the label table (0 when unknown).
    pub top_label_addr: u32,
    /// Top three MPLS label stack sections, 24 bits each (0 when absent).
    pub mpls: [u32; 3],
    /// Outer VLAN ID (0 when untagged).
    pub vlan: u16,
    /// L4 source port.
    pub src_port: u16,
    /// L4 destination port.
    pub dst_port: u16,
    /// L4 protocol (final next header).
    pub protocol: u8,
    /// Traffic Class.
    pub tos: u8,
    /// Source prefix length.
    pub src_plen: u8,
    /// Destination prefix length.
    pub dst_plen: u8,
    /// Flow direction: 0 ingress, 1 egress.
    pub direction: u8,
}

impl PartialEq for FlowKey {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        // Destructured without `..`: a field added to the key must be added here.
        let Self {
            src_addr,
            dst_addr,
            next_hop,
            src_as,
            dst_as,
            in_if,
            out_if,
            top_label_addr,
            mpls,
            vlan,
            src_port,
            dst_port,
            protocol,
            tos,
            src_plen,
            dst_plen,
            direction,
        } = self;
        let x16 = |a: &[u8; 16], b: &[u8; 16]| u128::from_ne_bytes(*a) ^ u128::from_ne_bytes(*b);
        let addrs = x16(src_addr, &other.src_addr)
            | x16(dst_addr, &other.dst_addr)
            | x16(next_hop, &other.next_hop);
        let words = (src_as ^ other.src_as)
            | (dst_as ^ other.dst_as)
            | (in_if ^ other.in_if)
            | (out_if ^ other.out_if)
            | (top_label_addr ^ other.top_label_addr)
            | (mpls[0] ^ other.mpls[0])
            | (mpls[1] ^ other.mpls[1])
            | (mpls[2] ^ other.mpls[2]);
        let halves =
            (vlan ^ other.vlan) | (src_port ^ other.src_port) | (dst_port ^ other.dst_port);
        let bytes = (protocol ^ other.protocol)
            | (tos ^ other.tos)
            | (src_plen ^ other.src_plen)
            | (dst_plen ^ other.dst_plen)
            | (direction ^ other.direction);
        addrs == 0 && words | u32::from(halves) | u32::from(bytes) == 0
    }
}

impl Eq for FlowKey {}

impl std::hash::Hash for FlowKey {
    /// Every field in declaration order (what a derived `Hash` does), consistent with the
    /// hand-written equality.
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let Self {
            src_addr,
            dst_addr,
            next_hop,
            src_as,
            dst_as,
            in_if,
            out_if,
            top_label_addr,
            mpls,
            vlan,
            src_port,
            dst_port,
            protocol,
            tos,
            src_plen,
            dst_plen,
            direction,
        } = self;
        (src_addr, dst_addr, next_hop).hash(h);
        (src_as, dst_as, in_if, out_if, top_label_addr, mpls).hash(h);
        (vlan, src_port, dst_port).hash(h);
        (protocol, tos, src_plen, dst_plen, direction).hash(h);
    }
}

/// Offsets of the fields inside the packed key (documented in the generated register map).
pub mod layout {
    /// (name, offset, length) of every packed key field, in order.
    pub const FIELDS: [(&str, usize, usize); 19] = [
        ("src_addr", 0, 16),
        ("dst_addr", 16, 16),
        ("next_hop", 32, 16),
        ("src_as", 48, 4),
        ("dst_as", 52, 4),
        ("in_if", 56, 4),
        ("out_if", 60, 4),
        ("top_label_addr", 64, 4),
        ("mpls1", 68, 3),
        ("mpls2", 71, 3),
        ("mpls3", 74, 3),
        ("vlan", 77, 2),
        ("src_port", 79, 2),
        ("dst_port", 81, 2),
        ("protocol", 83, 1),
        ("tos", 84, 1),
        ("src_plen", 85, 1),
        ("dst_plen", 86, 1),
        ("direction", 87, 1),
    ];
}

/// The 24-bit mask that keeps only the label value of a label stack section.
pub const MPLS_LABEL_ONLY: u32 = 0x00FF_FFF0;

impl FlowKey {
    /// The packed, fixed-size form: byte strings and addresses as they are, integers
    /// little-endian, MPLS sections as 3 big-endian octets (as IPFIX carries them).
    pub fn pack(&self) -> [u8; KEY_BYTES] {
        let mut b = [0u8; KEY_BYTES];
        b[0..16].copy_from_slice(&self.src_addr);
        b[16..32].copy_from_slice(&self.dst_addr);
        b[32..48].copy_from_slice(&self.next_hop);
        b[48..52].copy_from_slice(&self.src_as.to_le_bytes());
        b[52..56].copy_from_slice(&self.dst_as.to_le_bytes());
        b[56..60].copy_from_slice(&self.in_if.to_le_bytes());
        b[60..64].copy_from_slice(&self.out_if.to_le_bytes());
        b[64..68].copy_from_slice(&self.top_label_addr.to_le_bytes());
        for (i, m) in self.mpls.iter().enumerate() {
            b[68 + 3 * i..71 + 3 * i].copy_from_slice(&m.to_be_bytes()[1..4]);
        }
        b[77..79].copy_from_slice(&self.vlan.to_le_bytes());
        b[79..81].copy_from_slice(&self.src_port.to_le_bytes());
        b[81..83].copy_from_slice(&self.dst_port.to_le_bytes());
        b[83] = self.protocol;
        b[84] = self.tos;
        b[85] = self.src_plen;
        b[86] = self.dst_plen;
        b[87] = self.direction;
        b
    }

    /// The inverse of [`Self::pack`]. Every byte string is a valid key.
    #[inline]
    pub fn unpack(b: &[u8; KEY_BYTES]) -> Self {
        let a16 = |o: usize| {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[o..o + 16]);
            a
        };
        let u32le = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u16le = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        let m = |o: usize| u32::from_be_bytes([0, b[o], b[o + 1], b[o + 2]]);
        Self {
            src_addr: a16(0),
            dst_addr: a16(16),
            next_hop: a16(32),
            src_as: u32le(48),
            dst_as: u32le(52),
            in_if: u32le(56),
            out_if: u32le(60),
            top_label_addr: u32le(64),
            mpls: [m(68), m(71), m(74)],
            vlan: u16le(77),
            src_port: u16le(79),
            dst_port: u16le(81),
            protocol: b[83],
            tos: b[84],
            src_plen: b[85],
            dst_plen: b[86],
            direction: b[87],
        }
    }

    /// The key a profile stores for this flow: fields not in `select` are zero; with
    /// [`FieldSelect::PREFIX_MASK`], each prefix length becomes `max(route length,
    /// minimum)` (capped at 128) and the selected address is masked to it (A13).
    pub fn masked(&self, select: FieldSelect, src_min: u8, dst_min: u8) -> Self {
        let s = select;
        let mut src_plen = self.src_plen;
        let mut dst_plen = self.dst_plen;
        let mut src_addr = self.src_addr;
        let mut dst_addr = self.dst_addr;
        if s.contains(FieldSelect::PREFIX_MASK) {
            src_plen = src_plen.max(src_min).min(128);
            dst_plen = dst_plen.max(dst_min).min(128);
            src_addr = mask_prefix(src_addr, src_plen);
            dst_addr = mask_prefix(dst_addr, dst_plen);
        }
        let pick = |f: FieldSelect| s.contains(f);
        Self {
            src_addr: if pick(FieldSelect::SRC_ADDR) {
                src_addr
            } else {
                [0; 16]
            },
            dst_addr: if pick(FieldSelect::DST_ADDR) {
                dst_addr
            } else {
                [0; 16]
            },
            next_hop: if pick(FieldSelect::NEXT_HOP) {
                self.next_hop
            } else {
                [0; 16]
            },
            src_as: if pick(FieldSelect::SRC_AS) {
                self.src_as
            } else {
                0
            },
            dst_as: if pick(FieldSelect::DST_AS) {
                self.dst_as
            } else {
                0
            },
            in_if: if pick(FieldSelect::IN_IF) {
                self.in_if
            } else {
                0
            },
            out_if: if pick(FieldSelect::OUT_IF) {
                self.out_if
            } else {
                0
            },
            top_label_addr: if pick(FieldSelect::TOP_LABEL_ADDR) {
                self.top_label_addr
            } else {
                0
            },
            mpls: [
                if pick(FieldSelect::MPLS1) {
                    self.mpls[0] & 0x00FF_FFFF
                } else {
                    0
                },
                if pick(FieldSelect::MPLS2) {
                    self.mpls[1] & MPLS_LABEL_ONLY
                } else {
                    0
                },
                if pick(FieldSelect::MPLS3) {
                    self.mpls[2] & MPLS_LABEL_ONLY
                } else {
                    0
                },
            ],
            vlan: if pick(FieldSelect::VLAN) {
                self.vlan & 0x0FFF
            } else {
                0
            },
            src_port: if pick(FieldSelect::SRC_PORT) {
                self.src_port
            } else {
                0
            },
            dst_port: if pick(FieldSelect::DST_PORT) {
                self.dst_port
            } else {
                0
            },
            protocol: if pick(FieldSelect::PROTOCOL) {
                self.protocol
            } else {
                0
            },
            tos: if pick(FieldSelect::TOS) { self.tos } else { 0 },
            src_plen: if pick(FieldSelect::SRC_PLEN) {
                src_plen
            } else {
                0
            },
            dst_plen: if pick(FieldSelect::DST_PLEN) {
                dst_plen
            } else {
                0
            },
            direction: if pick(FieldSelect::DIRECTION) {
                self.direction
            } else {
                0
            },
        }
    }

    /// Source address as an [`Ipv6Addr`].
    pub fn src_ip(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.src_addr)
    }

    /// Destination address as an [`Ipv6Addr`].
    pub fn dst_ip(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.dst_addr)
    }

    /// BGP next hop as an [`Ipv6Addr`].
    pub fn next_hop_ip(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.next_hop)
    }

    /// Top-label address as an [`Ipv4Addr`].
    pub fn top_label_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.top_label_addr)
    }
}

/// `addr` with every bit after the first `len` cleared (len ≥ 128 keeps it whole).
pub fn mask_prefix(addr: [u8; 16], len: u8) -> [u8; 16] {
    let bits = u128::from_be_bytes(addr);
    let mask = match len {
        0 => 0,
        l if l >= 128 => u128::MAX,
        l => u128::MAX << (128 - u32::from(l)),
    };
    (bits & mask).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AggregationMode;
    use proptest::prelude::*;

    fn full_key() -> FlowKey {
        FlowKey {
            src_addr: "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff"
                .parse::<Ipv6Addr>()
                .unwrap()
                .octets(),
            dst_addr: "2001:db8:1111:2222:3333:4444:5555:6666"
                .parse::<Ipv6Addr>()
                .unwrap()
                .octets(),
            next_hop: "fe80::1".parse::<Ipv6Addr>().unwrap().octets(),
            src_as: 64500,
            dst_as: 64501,
            in_if: 7,
            out_if: 9,
            top_label_addr: 0x0a00_0001,
            mpls: [
                (100 << 4) | (5 << 1),
                (200 << 4) | (3 << 1),
                (300 << 4) | (1 << 1) | 1,
            ],
            vlan: 42,
            src_port: 1234,
            dst_port: 443,
            protocol: 6,
            tos: 0xb8,
            src_plen: 48,
            dst_plen: 32,
            direction: 0,
        }
    }

    /// Names of the fields of `k` that are not zero.
    fn nonzero_fields(k: &FlowKey) -> Vec<&'static str> {
        let p = k.pack();
        layout::FIELDS
            .iter()
            .filter(|(_, o, l)| p[*o..o + l].iter().any(|b| *b != 0))
            .map(|(n, _, _)| *n)
            .collect()
    }

    /// The key fields of every mode, written out by hand from ../shared/NETSTREAM.md Part B §1.1
    /// (Huawei's IPv6 configuration guide, Table 1) and decisions A3/A12/A13. Direction is
    /// keyed but 0 (ingress) in this key, so it never shows as non-zero.
    #[test]
    fn every_mode_keeps_exactly_its_documented_fields() {
        let expected: [(AggregationMode, &[&str]); 14] = [
            (
                AggregationMode::As,
                &["src_as", "dst_as", "in_if", "out_if"],
            ),
            (
                AggregationMode::AsTos,
                &["src_as", "dst_as", "in_if", "out_if", "tos"],
            ),
            (
                AggregationMode::BgpNexthopTos,
                &["next_hop", "src_as", "dst_as", "in_if", "out_if", "tos"],
            ),
            (
                AggregationMode::DestinationPrefix,
                &["dst_addr", "dst_as", "out_if", "dst_plen"],
            ),
            (
                AggregationMode::DestinationPrefixTos,
                &["dst_addr", "dst_as", "out_if", "tos", "dst_plen"],
            ),
            (AggregationMode::IndexTos, &["in_if", "out_if", "tos"]),
            (
                AggregationMode::MplsLabel,
                &["top_label_addr", "mpls1", "mpls2", "mpls3"],
            ),
            (
                AggregationMode::Prefix,
                &[
                    "src_addr", "dst_addr", "src_as", "dst_as", "in_if", "out_if", "src_plen",
                    "dst_plen",
                ],
            ),
            (
                AggregationMode::PrefixTos,
                &[
                    "src_addr", "dst_addr", "src_as", "dst_as", "in_if", "out_if", "tos",
                    "src_plen", "dst_plen",
                ],
            ),
            (
                AggregationMode::ProtocolPort,
                &["src_port", "dst_port", "protocol"],
            ),
            (
                AggregationMode::ProtocolPortTos,
                &["in_if", "out_if", "src_port", "dst_port", "protocol", "tos"],
            ),
            (
                AggregationMode::SourcePrefix,
                &["src_addr", "src_as", "in_if", "src_plen"],
            ),
            (
                AggregationMode::SourcePrefixTos,
                &["src_addr", "src_as", "in_if", "tos", "src_plen"],
            ),
            (AggregationMode::VlanId, &["in_if", "vlan"]),
        ];
        let k = full_key();
        for (mode, fields) in expected {
            let m = k.masked(mode.field_select(), 0, 0);
            assert_eq!(nonzero_fields(&m), fields.to_vec(), "{mode}");
        }
    }

    #[test]
    fn prefix_modes_mask_addresses_to_the_route_length_or_the_minimum() {
        let k = full_key();
        let m = k.masked(AggregationMode::Prefix.field_select(), 0, 0);
        assert_eq!(m.src_ip(), "2001:db8:aaaa::".parse::<Ipv6Addr>().unwrap());
        assert_eq!(m.dst_ip(), "2001:db8::".parse::<Ipv6Addr>().unwrap());
        // A larger configured minimum wins over the route's length.
        let m = k.masked(AggregationMode::Prefix.field_select(), 64, 20);
        assert_eq!(m.src_plen, 64);
        assert_eq!(
            m.src_ip(),
            "2001:db8:aaaa:bbbb::".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(m.dst_plen, 32, "route length 32 beats minimum 20");
        // A route miss (length 0) with no minimum keys on ::/0.
        let mut miss = k;
        miss.src_plen = 0;
        let m = miss.masked(AggregationMode::SourcePrefix.field_select(), 0, 0);
        assert_eq!((m.src_addr, m.src_plen), ([0; 16], 0));
    }

    #[test]
    fn mpls_labels_two_and_three_lose_exp_and_s() {
        let m = full_key().masked(AggregationMode::MplsLabel.field_select(), 0, 0);
        assert_eq!(m.mpls, [(100 << 4) | (5 << 1), 200 << 4, 300 << 4]);
    }

    #[test]
    fn mask_prefix_edges() {
        let ones = [0xffu8; 16];
        assert_eq!(mask_prefix(ones, 0), [0; 16]);
        assert_eq!(mask_prefix(ones, 128), ones);
        assert_eq!(mask_prefix(ones, 200), ones);
        let m = mask_prefix(ones, 13);
        assert_eq!(&m[..3], &[0xff, 0xf8, 0x00]);
    }

    fn arb_key() -> impl Strategy<Value = FlowKey> {
        (
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<[u32; 5]>(),
            any::<[u32; 3]>(),
            any::<[u16; 3]>(),
            any::<[u8; 5]>(),
        )
            .prop_map(|(s, d, n, w, m, h, b)| FlowKey {
                src_addr: s,
                dst_addr: d,
                next_hop: n,
                src_as: w[0],
                dst_as: w[1],
                in_if: w[2],
                out_if: w[3],
                top_label_addr: w[4],
                mpls: m.map(|x| x & 0x00FF_FFFF),
                vlan: h[0],
                src_port: h[1],
                dst_port: h[2],
                protocol: b[0],
                tos: b[1],
                src_plen: b[2],
                dst_plen: b[3],
                direction: b[4],
            })
    }

    proptest! {
        #[test]
        fn pack_unpack_round_trip(k in arb_key()) {
            prop_assert_eq!(FlowKey::unpack(&k.pack()), k);
        }

        #[test]
        fn keys_differing_in_any_bit_are_unequal(b in proptest::collection::vec(any::<u8>(), KEY_BYTES), i in 0..KEY_BYTES, bit in 0u8..8) {
            let mut a = [0u8; KEY_BYTES];
            a.copy_from_slice(&b);
            let mut c = a;
            c[i] ^= 1 << bit;
            let (ka, kc) = (FlowKey::unpack(&a), FlowKey::unpack(&c));
            prop_assert!(ka == FlowKey::unpack(&a));
            prop_assert!(ka != kc, "byte {} bit {}", i, bit);
            // The order agrees with equality.
            prop_assert_ne!(ka.cmp(&kc), std::cmp::Ordering::Equal);
            let h = |k: &FlowKey| {
                use std::hash::{BuildHasher, BuildHasherDefault};
                BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(k)
            };
            prop_assert_eq!(h(&ka), h(&FlowKey::unpack(&a)));
        }

        #[test]
        fn masking_is_idempotent_and_never_adds_bits(k in arb_key(), sel in any::<u32>(), smin in 0u8..=128, dmin in 0u8..=128) {
            let mut sel = FieldSelect(sel & FieldSelect::DEFINED.0);
            if sel.contains(FieldSelect::PREFIX_MASK) {
                // As in every prefix mode: masked addresses travel with their lengths.
                sel = sel.union(FieldSelect::SRC_PLEN).union(FieldSelect::DST_PLEN);
            }
            let once = k.masked(sel, smin, dmin);
            prop_assert_eq!(once.masked(sel, smin, dmin), once);
            if !sel.contains(FieldSelect::PREFIX_MASK) {
                // Without prefix masking every kept byte is a byte of the original.
                let (a, b) = (k.pack(), once.pack());
                for i in 0..KEY_BYTES {
                    prop_assert_eq!(b[i] & !a[i], 0, "byte {}", i);
                }
            }
        }

        #[test]
        fn prefix_mask_keeps_exactly_len_leading_bits(a in any::<[u8;16]>(), len in 0u8..=128) {
            let m = u128::from_be_bytes(mask_prefix(a, len));
            let orig = u128::from_be_bytes(a);
            let keep = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            prop_assert_eq!(m, orig & keep);
            prop_assert!(m.trailing_zeros() >= 128 - u32::from(len) || m == 0);
        }
    }
}
