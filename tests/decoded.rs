//! Flow records as a third-party decoder prints them, compared with the reference
//! aggregator's aggregates: each key field under its IANA element (chosen here from the
//! key field's meaning, not from nsflow's templates), and the counters summed per key.
//! Shared by the decoder interop tests (`interop_ipfixdump`, `interop_decoders`).

use nsflow_rtl::reference::Totals;
use nsflow_rtl::{AggregationMode, FieldSelect, FlowKey, KeyField};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// The captures the decoder tests export: plain IPv6 browsing, IPv6 behind MPLS labels,
/// IPv6 behind 802.1Q tags (`shared/pcaps`).
pub fn captures(shared: &Path) -> Vec<PathBuf> {
    [
        "ndpi-reddit-ipv6.pcap",
        "akvorado-encap-ipv6.pcap",
        "ndpi-hsrp2-ipv6-vlan.pcap",
    ]
    .iter()
    .map(|c| shared.join("pcaps").join(c))
    .collect()
}

/// A record's key: (IANA element ID, value as text), sorted.
pub type Key = Vec<(u16, String)>;
/// (flows, packets, bytes) per key.
pub type Sums = BTreeMap<Key, (u64, u64, u64)>;
/// One decoded data record: element ID → value as text.
pub type Fields = BTreeMap<u16, String>;

/// deltaFlowCount, packetDeltaCount, octetDeltaCount (v9: FLOWS, IN_PKTS, IN_BYTES).
pub const COUNTERS: [u16; 3] = [3, 2, 1];
/// Elements that are neither keys nor counters: times (IPFIX 152/153, v9 21/22
/// LAST/FIRST_SWITCHED), ipVersion, flowEndReason.
pub const NOT_KEYS: [u16; 6] = [152, 153, 21, 22, 60, 136];

/// How a decoder names the address of a prefix mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefixes {
    /// IPFIX: sourceIPv6Prefix (170), destinationIPv6Prefix (169).
    PrefixElements,
    /// NetFlow v9 (no prefix elements in RFC 3954): IPV6_SRC_ADDR (27), IPV6_DST_ADDR (28).
    AddressElements,
}

/// Every key field of the device's key vector.
pub const KEY_FIELDS: [KeyField; 19] = [
    KeyField::SrcAddr,
    KeyField::DstAddr,
    KeyField::SrcPlen,
    KeyField::DstPlen,
    KeyField::Protocol,
    KeyField::SrcPort,
    KeyField::DstPort,
    KeyField::Tos,
    KeyField::InIf,
    KeyField::OutIf,
    KeyField::Vlan,
    KeyField::Mpls1,
    KeyField::Mpls2,
    KeyField::Mpls3,
    KeyField::TopLabelAddr,
    KeyField::SrcAs,
    KeyField::DstAs,
    KeyField::NextHop,
    KeyField::Direction,
];

/// IPv6 address elements (compared as addresses, whatever form a decoder prints).
pub const IPV6_ELEMENTS: [u16; 6] = [27, 28, 62, 63, 169, 170];

/// The element and value of one key field, by the field's meaning (IANA IPFIX
/// registry). MPLS label stack sections are the 3 octets sent, as a big-endian integer.
pub fn element(k: &FlowKey, f: KeyField, prefix: bool, p: Prefixes) -> (u16, String) {
    let (src, dst) = match (prefix, p) {
        (true, Prefixes::PrefixElements) => (170, 169),
        _ => (27, 28),
    };
    match f {
        KeyField::SrcAddr => (src, v6(k.src_addr)),
        KeyField::DstAddr => (dst, v6(k.dst_addr)),
        KeyField::SrcPlen => (29, k.src_plen.to_string()),
        KeyField::DstPlen => (30, k.dst_plen.to_string()),
        KeyField::Protocol => (4, k.protocol.to_string()),
        KeyField::SrcPort => (7, k.src_port.to_string()),
        KeyField::DstPort => (11, k.dst_port.to_string()),
        KeyField::Tos => (5, k.tos.to_string()),
        KeyField::InIf => (10, k.in_if.to_string()),
        KeyField::OutIf => (14, k.out_if.to_string()),
        KeyField::Vlan => (58, k.vlan.to_string()),
        KeyField::Mpls1 => (70, k.mpls[0].to_string()),
        KeyField::Mpls2 => (71, k.mpls[1].to_string()),
        KeyField::Mpls3 => (72, k.mpls[2].to_string()),
        KeyField::TopLabelAddr => (47, Ipv4Addr::from(k.top_label_addr).to_string()),
        KeyField::SrcAs => (16, k.src_as.to_string()),
        KeyField::DstAs => (17, k.dst_as.to_string()),
        KeyField::NextHop => (63, v6(k.next_hop)),
        KeyField::Direction => (61, k.direction.to_string()),
    }
}

fn v6(a: [u8; 16]) -> String {
    Ipv6Addr::from(a).to_string()
}

/// Whether `ie` is the element of some key field.
fn is_key_element(ie: u16) -> bool {
    let k = FlowKey::default();
    KEY_FIELDS.iter().any(|f| {
        [Prefixes::PrefixElements, Prefixes::AddressElements]
            .iter()
            .any(|p| element(&k, *f, true, *p).0 == ie || element(&k, *f, false, *p).0 == ie)
    })
}

/// What a decoder must show for `mode`: the reference's aggregates (one profile's),
/// summed per key as the decoder names it.
pub fn expected(
    mode: AggregationMode,
    aggregates: &BTreeMap<FlowKey, Totals>,
    p: Prefixes,
) -> Sums {
    let select = mode.field_select();
    let prefix = select.contains(FieldSelect::PREFIX_MASK);
    let mut want = Sums::new();
    for (k, t) in aggregates {
        let mut key: Key = KEY_FIELDS
            .iter()
            .filter(|f| select.contains(f.select()))
            .map(|f| element(k, *f, prefix, p))
            .collect();
        key.sort();
        let e = want.entry(key).or_default();
        *e = (e.0 + t.flows, e.1 + t.packets, e.2 + t.bytes);
    }
    want
}

/// The decoded records summed per key, and every element the comparison does not know
/// (each named: a field a decoder shows that no key field, counter or known non-key
/// accounts for). IPv6 addresses are compared as addresses.
pub fn decoded(records: &[Fields]) -> (Sums, Vec<String>) {
    let mut got = Sums::new();
    let mut unknown = Vec::new();
    for r in records {
        let mut key = Key::new();
        let mut counters = [0u64; 3];
        for (ie, v) in r {
            if let Some(i) = COUNTERS.iter().position(|c| c == ie) {
                counters[i] = v.parse().unwrap_or(u64::MAX);
            } else if NOT_KEYS.contains(ie) {
            } else if is_key_element(*ie) {
                let v = if IPV6_ELEMENTS.contains(ie) {
                    v.parse::<Ipv6Addr>()
                        .map_or_else(|_| format!("not an IPv6 address: {v}"), |a| a.to_string())
                } else {
                    v.clone()
                };
                key.push((*ie, v));
            } else {
                unknown.push(format!("element {ie} = {v}"));
            }
        }
        key.sort();
        let e = got.entry(key).or_default();
        *e = (e.0 + counters[0], e.1 + counters[1], e.2 + counters[2]);
    }
    (got, unknown)
}

/// `s` with `elements` left out of every key (the counters of keys that become equal
/// summed): for a decoder that cannot express those elements, named by the caller.
pub fn without(s: &Sums, elements: &[u16]) -> Sums {
    let mut out = Sums::new();
    for (k, c) in s {
        let key: Key = k
            .iter()
            .filter(|(ie, _)| !elements.contains(ie))
            .cloned()
            .collect();
        let e = out.entry(key).or_default();
        *e = (e.0 + c.0, e.1 + c.1, e.2 + c.2);
    }
    out
}

/// Checks the IPFIX options a decoder read (template 270: loss counters, 271: timeouts,
/// each scoped by observationDomainId, 149): for every domain 1..=`domains`, the last
/// loss counters all 0 (a clean run) and the timeouts `active`/`idle` seconds.
pub fn check_options(what: &str, options: &[(u16, Fields)], domains: u32, active: u64, idle: u64) {
    for d in 1..=domains {
        let scoped = |tid: u16| {
            options
                .iter()
                .filter(|(t, f)| *t == tid && f.get(&149) == Some(&d.to_string()))
                .map(|(_, f)| f)
                .next_back()
        };
        let loss = scoped(270).unwrap_or_else(|| panic!("{what}: no loss counters of domain {d}"));
        for ie in [164, 165, 166, 167, 168] {
            assert_eq!(
                loss.get(&ie).map(String::as_str),
                Some("0"),
                "{what}: domain {d}: element {ie} of {loss:?}"
            );
        }
        let t = scoped(271).unwrap_or_else(|| panic!("{what}: no timeouts of domain {d}"));
        assert_eq!(
            t.get(&36),
            Some(&active.to_string()),
            "{what}: domain {d}: {t:?}"
        );
        assert_eq!(
            t.get(&37),
            Some(&idle.to_string()),
            "{what}: domain {d}: {t:?}"
        );
    }
}
