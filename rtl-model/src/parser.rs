//! The packet parser as the line-rate hardware runs it (DEVICE.md step 1).
//!
//! A fixed pipeline of header stages, each bounded: link adapter, at most two VLAN tags
//! (802.1Q 0x8100, 802.1ad 0x88A8 and the pre-standard 0x9100), PPPoE session, an MPLS
//! stack (top three labels kept, at most [`MAX_MPLS_LABELS`] walked), IPv6 with at most
//! [`MAX_EXT_HEADERS`] extension headers (hop-by-hop, routing, fragment, destination
//! options, AH), then the L4 header: TCP/UDP/UDP-Lite/SCTP ports, ICMPv6 type and code
//! (carried as destination port type × 256 + code), TCP flags. A non-first fragment has no
//! L4 header. IPv4 is recognised and counted, not aggregated. The byte count of an IPv6
//! packet is its header plus payload (40 + Payload Length), as NetFlow counts octets.
//!
//! Every byte comes from the wire, so the module denies `clippy::indexing_slicing`: each
//! header is read through `bytes_at` as a fixed-size array (a bound-checked read that
//! fails into the stage's [`ParseErrorReason`]), and offsets taken from the packet are
//! added with saturating arithmetic.
#![deny(clippy::indexing_slicing)]

use crate::key::FlowKey;

/// At most this many MPLS labels are walked looking for the bottom of the stack.
pub const MAX_MPLS_LABELS: usize = 8;
/// At most this many IPv6 extension headers are walked.
pub const MAX_EXT_HEADERS: usize = 8;

/// How a frame starts: the pcap link type or the port adapter in front of the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet II (pcap link type 1).
    Ethernet,
    /// A bare IP packet (pcap link types 101, 12, 14).
    RawIp,
    /// Linux cooked capture v1 (113).
    LinuxSll,
    /// Linux cooked capture v2 (276).
    LinuxSll2,
    /// BSD loopback: a 4-byte host-order address family (0).
    Null,
}

impl LinkType {
    /// The parser's link adapter for a pcap link-type number, if it has one.
    pub fn from_pcap(linktype: u32) -> Option<Self> {
        match linktype {
            1 => Some(Self::Ethernet),
            12 | 14 | 101 => Some(Self::RawIp),
            113 => Some(Self::LinuxSll),
            276 => Some(Self::LinuxSll2),
            0 => Some(Self::Null),
            _ => None,
        }
    }

    /// The pcap link-type number of this adapter (the canonical one where several map
    /// to it).
    pub const fn to_pcap(self) -> u32 {
        match self {
            Self::Ethernet => 1,
            Self::RawIp => 101,
            Self::LinuxSll => 113,
            Self::LinuxSll2 => 276,
            Self::Null => 0,
        }
    }
}

/// Why a frame could not be keyed. Each reason has its own device counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, thiserror::Error)]
#[repr(u8)]
pub enum ParseErrorReason {
    /// The link-layer header (Ethernet, cooked, loopback, VLAN tag, PPPoE) is cut short.
    #[error("truncated link-layer header")]
    TruncatedL2 = 0,
    /// More than two VLAN tags.
    #[error("more than two VLAN tags")]
    TooManyVlanTags = 1,
    /// The MPLS stack is cut short or has no bottom within the walked depth.
    #[error("MPLS stack truncated or deeper than the parser walks")]
    BadMplsStack = 2,
    /// Ethertype says IPv6 but the version nibble is not 6.
    #[error("IPv6 ethertype with a version other than 6")]
    BadIpVersion = 3,
    /// Fewer than 40 bytes of IPv6 header.
    #[error("truncated IPv6 header")]
    TruncatedIpv6 = 4,
    /// An extension header is cut short or the chain is longer than the parser walks.
    #[error("IPv6 extension header chain truncated or too long")]
    BadExtensionChain = 5,
    /// The TCP/UDP/SCTP/ICMPv6 header is cut short.
    #[error("truncated L4 header")]
    TruncatedL4 = 6,
}

impl ParseErrorReason {
    /// Every reason, in counter order.
    pub const ALL: [ParseErrorReason; 7] = [
        Self::TruncatedL2,
        Self::TooManyVlanTags,
        Self::BadMplsStack,
        Self::BadIpVersion,
        Self::TruncatedIpv6,
        Self::BadExtensionChain,
        Self::TruncatedL4,
    ];

    /// Short snake-case name, used for counter names.
    pub const fn name(self) -> &'static str {
        match self {
            Self::TruncatedL2 => "truncated_l2",
            Self::TooManyVlanTags => "too_many_vlan_tags",
            Self::BadMplsStack => "bad_mpls_stack",
            Self::BadIpVersion => "bad_ip_version",
            Self::TruncatedIpv6 => "truncated_ipv6",
            Self::BadExtensionChain => "bad_extension_chain",
            Self::TruncatedL4 => "truncated_l4",
        }
    }
}

/// A frame the parser rejected: why, and the IPv6 bytes it carried when the error came
/// after the IPv6 header was found (those are reported as ignored octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    /// Why.
    pub reason: ParseErrorReason,
    /// `Some(40 + payload length)` when the frame was IPv6, else `None`.
    pub ipv6_bytes: Option<u32>,
}

/// Fields the parser extracts from an IPv6 packet, before any table lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ipv6Fields {
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// Traffic Class.
    pub tos: u8,
    /// Final next header (the L4 protocol, or 59/50/… where the walk stopped).
    pub protocol: u8,
    /// L4 source port (0 when none).
    pub src_port: u16,
    /// L4 destination port; ICMPv6 type × 256 + code.
    pub dst_port: u16,
    /// TCP flags (low 8 bits of the flags field), 0 for other protocols.
    pub tcp_flags: u8,
    /// VLAN IDs, outer first (0 when absent).
    pub vlans: [u16; 2],
    /// MPLS label stack sections, top first (0 when absent).
    pub mpls: [u32; 3],
    /// 40 + Payload Length.
    pub bytes: u32,
    /// A fragment header was present.
    pub fragment: bool,
    /// The fragment header had a non-zero offset (no L4 header follows).
    pub later_fragment: bool,
}

impl Ipv6Fields {
    /// The key fields that come straight from the packet (route results left zero).
    pub fn key_fields(&self) -> FlowKey {
        FlowKey {
            src_addr: self.src,
            dst_addr: self.dst,
            vlan: self.vlans[0],
            mpls: self.mpls,
            src_port: self.src_port,
            dst_port: self.dst_port,
            protocol: self.protocol,
            tos: self.tos,
            ..FlowKey::default()
        }
    }
}

/// What the parser made of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// An IPv6 packet, ready to be keyed.
    Ipv6(Ipv6Fields),
    /// An IPv4 packet (counted, not aggregated), with its Total Length.
    Ipv4 {
        /// IPv4 Total Length.
        bytes: u32,
    },
    /// No IP packet (ARP, LLDP, unknown ethertype or link family).
    Other,
}

/// TCP flag FIN.
pub const TCP_FIN: u8 = 0x01;
/// TCP flag RST.
pub const TCP_RST: u8 = 0x04;

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86DD;
const ETH_VLAN: [u16; 3] = [0x8100, 0x88A8, 0x9100];
const ETH_MPLS: [u16; 2] = [0x8847, 0x8848];
const ETH_PPPOE_SESSION: u16 = 0x8864;

/// The `N` bytes of `b` at offset `o`, or `None` when the frame ends before them.
fn bytes_at<const N: usize>(b: &[u8], o: usize) -> Option<&[u8; N]> {
    b.get(o..)?.first_chunk::<N>()
}

fn be16(b: &[u8], o: usize) -> Option<u16> {
    bytes_at::<2>(b, o).map(|x| u16::from_be_bytes(*x))
}

fn be32(b: &[u8], o: usize) -> Option<u32> {
    bytes_at::<4>(b, o).map(|x| u32::from_be_bytes(*x))
}

fn l2_err() -> ParseError {
    ParseError {
        reason: ParseErrorReason::TruncatedL2,
        ipv6_bytes: None,
    }
}

/// Parses one frame. Never panics, whatever the bytes.
pub fn parse(link: LinkType, frame: &[u8]) -> Result<Parsed, ParseError> {
    let mut f = Ipv6Fields::default();
    let (ethertype, off) = match link {
        LinkType::Ethernet => (be16(frame, 12).ok_or_else(l2_err)?, 14),
        LinkType::LinuxSll => (be16(frame, 14).ok_or_else(l2_err)?, 16),
        LinkType::LinuxSll2 => (be16(frame, 0).ok_or_else(l2_err)?, 20),
        LinkType::RawIp => match frame.first().map(|b| b >> 4) {
            Some(6) => (ETH_IPV6, 0),
            Some(4) => (ETH_IPV4, 0),
            Some(_) => return Ok(Parsed::Other),
            None => return Err(l2_err()),
        },
        LinkType::Null => {
            let fam = *bytes_at::<4>(frame, 0).ok_or_else(l2_err)?;
            // Host order of the capturing machine: accept both byte orders.
            let le = u32::from_le_bytes(fam);
            let be = u32::from_be_bytes(fam);
            let is = |v: &[u32]| v.contains(&le) || v.contains(&be);
            if is(&[24, 28, 30]) {
                (ETH_IPV6, 4)
            } else if is(&[2]) {
                (ETH_IPV4, 4)
            } else {
                return Ok(Parsed::Other);
            }
        }
    };
    if frame.len() < off {
        return Err(l2_err());
    }
    parse_ethertype(frame, ethertype, off, &mut f)
}

fn parse_ethertype(
    frame: &[u8],
    mut ethertype: u16,
    mut off: usize,
    f: &mut Ipv6Fields,
) -> Result<Parsed, ParseError> {
    let mut tags = 0;
    while ETH_VLAN.contains(&ethertype) {
        // Two tag slots: a third tag finds none.
        let Some(vlan) = f.vlans.get_mut(tags) else {
            return Err(ParseError {
                reason: ParseErrorReason::TooManyVlanTags,
                ipv6_bytes: None,
            });
        };
        let tci = be16(frame, off).ok_or_else(l2_err)?;
        *vlan = tci & 0x0FFF;
        tags += 1;
        ethertype = be16(frame, off.saturating_add(2)).ok_or_else(l2_err)?;
        off = off.saturating_add(4);
    }
    if ethertype == ETH_PPPOE_SESSION {
        // PPPoE header (6 bytes) then the 2-byte PPP protocol.
        let ppp = be16(frame, off.saturating_add(6)).ok_or_else(l2_err)?;
        off = off.saturating_add(8);
        ethertype = match ppp {
            0x0057 => ETH_IPV6,
            0x0021 => ETH_IPV4,
            _ => return Ok(Parsed::Other),
        };
    }
    if ETH_MPLS.contains(&ethertype) {
        let mpls_err = ParseError {
            reason: ParseErrorReason::BadMplsStack,
            ipv6_bytes: None,
        };
        let mut bottom = false;
        for i in 0..MAX_MPLS_LABELS {
            let entry = be32(frame, off).ok_or(mpls_err)?;
            off = off.saturating_add(4);
            // The top three labels are kept.
            if let Some(kept) = f.mpls.get_mut(i) {
                *kept = entry >> 8;
            }
            if entry & 0x100 != 0 {
                bottom = true;
                break;
            }
        }
        if !bottom {
            return Err(mpls_err);
        }
        ethertype = match frame.get(off).map(|b| b >> 4) {
            Some(6) => ETH_IPV6,
            Some(4) => ETH_IPV4,
            _ => return Ok(Parsed::Other),
        };
    }
    match ethertype {
        ETH_IPV6 => parse_ipv6(frame, off, f),
        ETH_IPV4 => {
            let len = be16(frame, off.saturating_add(2)).ok_or_else(l2_err)?;
            Ok(Parsed::Ipv4 {
                bytes: u32::from(len),
            })
        }
        _ => Ok(Parsed::Other),
    }
}

fn parse_ipv6(frame: &[u8], off: usize, f: &mut Ipv6Fields) -> Result<Parsed, ParseError> {
    let first = *frame.get(off).ok_or_else(l2_err)?;
    let plen = be16(frame, off.saturating_add(4));
    let ipv6_bytes = Some(40 + u32::from(plen.unwrap_or(0)));
    let err = |reason| ParseError { reason, ipv6_bytes };
    if first >> 4 != 6 {
        // Not an IPv6 packet at all, whatever the ethertype said: no IPv6 bytes.
        return Err(ParseError {
            reason: ParseErrorReason::BadIpVersion,
            ipv6_bytes: None,
        });
    }
    let hdr = bytes_at::<40>(frame, off).ok_or(err(ParseErrorReason::TruncatedIpv6))?;
    // Constant offsets into the 40-byte array: checked at compile time.
    f.tos = ((u16::from_be_bytes([hdr[0], hdr[1]]) >> 4) & 0xFF) as u8;
    f.bytes = 40 + u32::from(u16::from_be_bytes([hdr[4], hdr[5]]));
    f.src.copy_from_slice(&hdr[8..24]);
    f.dst.copy_from_slice(&hdr[24..40]);
    // Headers past the IPv6 header are read only inside the declared payload: bytes
    // beyond it are link padding or trailer. The frame may end earlier than the payload
    // claims; that is a truncation error where a header is needed. A zero Payload Length
    // (jumbogram, RFC 2675, or a segmentation-offload capture) leaves the frame's end.
    let payload_end = if f.bytes == 40 {
        usize::MAX
    } else {
        off.saturating_add(f.bytes as usize)
    };
    let mut nh = hdr[6];
    let mut p = off.saturating_add(40);
    let mut walked = 0;
    loop {
        let chain_err = err(ParseErrorReason::BadExtensionChain);
        match nh {
            // Hop-by-hop, routing, destination options: (len + 1) * 8 bytes.
            0 | 43 | 60 => {
                let [next, len] = *bytes_at::<2>(frame, p).ok_or(chain_err)?;
                nh = next;
                p = p.saturating_add((usize::from(len) + 1) * 8);
            }
            // Fragment: 8 bytes; a non-zero offset ends the walk (no L4 header).
            44 => {
                let [next, _, off_hi, off_lo, ..] = *bytes_at::<8>(frame, p).ok_or(chain_err)?;
                nh = next;
                f.fragment = true;
                f.later_fragment = u16::from_be_bytes([off_hi, off_lo]) >> 3 != 0;
                p = p.saturating_add(8);
            }
            // Authentication header: (len + 2) * 4 bytes.
            51 => {
                let [next, len] = *bytes_at::<2>(frame, p).ok_or(chain_err)?;
                nh = next;
                p = p.saturating_add((usize::from(len) + 2) * 4);
            }
            _ => break,
        }
        walked += 1;
        if walked > MAX_EXT_HEADERS {
            return Err(err(ParseErrorReason::BadExtensionChain));
        }
        if f.later_fragment {
            break;
        }
    }
    f.protocol = nh;
    if f.later_fragment {
        return Ok(Parsed::Ipv6(*f));
    }
    let l4_err = err(ParseErrorReason::TruncatedL4);
    match nh {
        6 => {
            let Some(&[s0, s1, d0, d1, .., flags]) = l4::<14>(frame, p, payload_end, l4_err)?
            else {
                return Ok(Parsed::Ipv6(*f));
            };
            f.src_port = u16::from_be_bytes([s0, s1]);
            f.dst_port = u16::from_be_bytes([d0, d1]);
            f.tcp_flags = flags;
        }
        17 | 132 | 136 => {
            let Some(&[s0, s1, d0, d1]) = l4::<4>(frame, p, payload_end, l4_err)? else {
                return Ok(Parsed::Ipv6(*f));
            };
            f.src_port = u16::from_be_bytes([s0, s1]);
            f.dst_port = u16::from_be_bytes([d0, d1]);
        }
        58 => {
            let Some(&[icmp_type, code]) = l4::<2>(frame, p, payload_end, l4_err)? else {
                return Ok(Parsed::Ipv6(*f));
            };
            f.dst_port = u16::from_be_bytes([icmp_type, code]);
        }
        _ => {}
    }
    Ok(Parsed::Ipv6(*f))
}

/// The `N`-byte L4 header at `p`. One the declared payload (ending at `payload_end`) is
/// too short for is absent, `Ok(None)` (ports 0); one the payload covers but the frame
/// cuts short is `truncated` (a truncation error).
fn l4<const N: usize>(
    frame: &[u8],
    p: usize,
    payload_end: usize,
    truncated: ParseError,
) -> Result<Option<&[u8; N]>, ParseError> {
    if p.saturating_add(N) > payload_end {
        return Ok(None);
    }
    bytes_at::<N>(frame, p).map(Some).ok_or(truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An Ethernet frame: dst, src MACs, then `rest` (which starts with the ethertype).
    fn eth(rest: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 12];
        v.extend_from_slice(rest);
        v
    }

    /// IPv6 header with traffic class 0xb8, payload length `plen`, next header `nh`,
    /// src 2001:db8::1, dst 2001:db8::2.
    fn ipv6(nh: u8, plen: u16) -> Vec<u8> {
        let mut h = vec![0x6b, 0x80, 0, 0];
        h.extend_from_slice(&plen.to_be_bytes());
        h.extend_from_slice(&[nh, 64]);
        let mut a = [0u8; 16];
        a[0..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        a[15] = 1;
        h.extend_from_slice(&a);
        a[15] = 2;
        h.extend_from_slice(&a);
        h
    }

    fn tcp(flags: u8) -> Vec<u8> {
        let mut t = vec![
            0x04, 0xd2, 0x01, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, flags, 0, 0, 0, 0, 0, 0,
        ];
        t.truncate(20);
        t
    }

    fn v6(p: Parsed) -> Ipv6Fields {
        match p {
            Parsed::Ipv6(f) => f,
            other => panic!("not IPv6: {other:?}"),
        }
    }

    #[test]
    fn tcp_over_ethernet() {
        let mut pkt = vec![0x86, 0xdd];
        pkt.extend(ipv6(6, 20));
        pkt.extend(tcp(0x12));
        let f = v6(parse(LinkType::Ethernet, &eth(&pkt)).unwrap());
        assert_eq!(
            (f.protocol, f.src_port, f.dst_port, f.tcp_flags),
            (6, 1234, 443, 0x12)
        );
        assert_eq!((f.tos, f.bytes), (0xb8, 60));
        assert_eq!(f.src[15], 1);
        assert_eq!(f.dst[15], 2);
    }

    #[test]
    fn two_vlan_tags_then_a_third_is_an_error() {
        let mut pkt = vec![0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x20, 0xc8, 0x86, 0xdd];
        pkt.extend(ipv6(59, 0));
        let f = v6(parse(LinkType::Ethernet, &eth(&pkt)).unwrap());
        assert_eq!(f.vlans, [100, 200]);
        let mut three = vec![
            0x81, 0x00, 0, 1, 0x81, 0x00, 0, 2, 0x81, 0x00, 0, 3, 0x86, 0xdd,
        ];
        three.extend(ipv6(59, 0));
        assert_eq!(
            parse(LinkType::Ethernet, &eth(&three)).unwrap_err().reason,
            ParseErrorReason::TooManyVlanTags
        );
    }

    #[test]
    fn mpls_keeps_top_three_labels() {
        // Labels 16 (EXP 5), 17, 18, 19 (bottom), then IPv6/UDP.
        let mut pkt = vec![0x88, 0x47];
        for (label, exp, s) in [(16u32, 5u32, 0u32), (17, 0, 0), (18, 0, 0), (19, 0, 1)] {
            pkt.extend_from_slice(&((label << 12) | (exp << 9) | (s << 8) | 64).to_be_bytes());
        }
        pkt.extend(ipv6(17, 8));
        pkt.extend_from_slice(&[0, 53, 0x30, 0x39, 0, 8, 0, 0]);
        let f = v6(parse(LinkType::Ethernet, &eth(&pkt)).unwrap());
        assert_eq!(f.mpls, [(16 << 4) | (5 << 1), 17 << 4, 18 << 4]);
        assert_eq!((f.src_port, f.dst_port), (53, 12345));
    }

    #[test]
    fn extension_headers_and_fragments() {
        // Hop-by-hop (8 bytes) -> fragment (first, offset 0) -> UDP.
        let mut pkt = vec![0x86, 0xdd];
        pkt.extend(ipv6(0, 24));
        pkt.extend_from_slice(&[44, 0, 0, 0, 0, 0, 0, 0]);
        pkt.extend_from_slice(&[17, 0, 0x00, 0x01, 0, 0, 0, 1]);
        pkt.extend_from_slice(&[0x12, 0x34, 0x00, 0x35, 0, 8, 0, 0]);
        let f = v6(parse(LinkType::Ethernet, &eth(&pkt)).unwrap());
        assert_eq!((f.protocol, f.src_port, f.dst_port), (17, 0x1234, 53));
        assert!(f.fragment && !f.later_fragment);
        // A later fragment (offset 185) has no ports, even with bytes after it.
        let mut later = vec![0x86, 0xdd];
        later.extend(ipv6(44, 16));
        later.extend_from_slice(&[17, 0, 0x05, 0xc8, 0, 0, 0, 1]);
        later.extend_from_slice(&[0x12, 0x34, 0x00, 0x35, 0, 8, 0, 0]);
        let f = v6(parse(LinkType::Ethernet, &eth(&later)).unwrap());
        assert_eq!((f.protocol, f.src_port, f.dst_port), (17, 0, 0));
        assert!(f.later_fragment);
    }

    #[test]
    fn icmpv6_type_and_code_go_to_the_destination_port() {
        let mut pkt = vec![0x86, 0xdd];
        pkt.extend(ipv6(58, 8));
        pkt.extend_from_slice(&[135, 0, 0, 0, 0, 0, 0, 0]);
        let f = v6(parse(LinkType::Ethernet, &eth(&pkt)).unwrap());
        assert_eq!((f.src_port, f.dst_port), (0, 135 * 256));
    }

    #[test]
    fn errors_by_reason_with_ipv6_bytes_when_known() {
        let mut pkt = vec![0x86, 0xdd];
        pkt.extend(ipv6(6, 20));
        pkt.extend_from_slice(&[0, 1, 0, 2]); // 4 bytes of a TCP header
        let e = parse(LinkType::Ethernet, &eth(&pkt)).unwrap_err();
        assert_eq!(
            e,
            ParseError {
                reason: ParseErrorReason::TruncatedL4,
                ipv6_bytes: Some(60)
            }
        );
        let short = eth(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 8]);
        let e = parse(LinkType::Ethernet, &short).unwrap_err();
        assert_eq!(
            e,
            ParseError {
                reason: ParseErrorReason::TruncatedIpv6,
                ipv6_bytes: Some(48)
            }
        );
        let mut bad = vec![0x86, 0xdd];
        bad.extend(ipv6(59, 0));
        bad[2] = 0x45;
        assert_eq!(
            parse(LinkType::Ethernet, &eth(&bad)).unwrap_err().reason,
            ParseErrorReason::BadIpVersion
        );
        assert_eq!(
            parse(LinkType::Ethernet, &[0u8; 10]).unwrap_err().reason,
            ParseErrorReason::TruncatedL2
        );
    }

    #[test]
    fn ipv4_and_other_link_adapters() {
        let v4 = eth(&[0x08, 0x00, 0x45, 0, 0x01, 0x00]);
        assert_eq!(
            parse(LinkType::Ethernet, &v4),
            Ok(Parsed::Ipv4 { bytes: 256 })
        );
        assert_eq!(
            parse(LinkType::Ethernet, &eth(&[0x08, 0x06, 0, 0])),
            Ok(Parsed::Other)
        );
        let raw = ipv6(59, 0);
        assert!(matches!(parse(LinkType::RawIp, &raw), Ok(Parsed::Ipv6(_))));
        let mut null = 30u32.to_le_bytes().to_vec();
        null.extend(ipv6(59, 0));
        assert!(matches!(parse(LinkType::Null, &null), Ok(Parsed::Ipv6(_))));
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x86, 0xdd]);
        sll.extend(ipv6(59, 0));
        assert!(matches!(
            parse(LinkType::LinuxSll, &sll),
            Ok(Parsed::Ipv6(_))
        ));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), lt in 0usize..5) {
            let link = [LinkType::Ethernet, LinkType::RawIp, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Null][lt];
            let _ = parse(link, &bytes);
        }
    }
}
