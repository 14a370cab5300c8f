//! `flow_decoder` input: a sequence of UDP payloads, each `[exporter: u8][len: u16 BE]`
//! then `len` bytes (the last one takes what is left when fewer remain). Bit 0 of the
//! exporter byte picks one of two exporter addresses, whose template caches are separate.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The two exporters a fuzz input's messages come from.
pub const EXPORTERS: [SocketAddr; 2] = [
    SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 2055),
    SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 4739),
];

/// The messages of a fuzz input, in order, each with its exporter.
pub fn split(mut data: &[u8]) -> Vec<(SocketAddr, &[u8])> {
    let mut out = Vec::new();
    while let [sel, hi, lo, rest @ ..] = data {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
        let (msg, tail) = rest.split_at(len);
        out.push((EXPORTERS[usize::from(*sel & 1)], msg));
        data = tail;
    }
    out
}

/// The fuzz input that [`split`] reads back as `msgs` (exporter index, payload); payloads
/// longer than 65535 bytes are cut (a UDP payload is never longer).
pub fn join(msgs: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (sel, msg) in msgs {
        let msg = &msg[..msg.len().min(usize::from(u16::MAX))];
        out.push(*sel);
        out.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        out.extend_from_slice(msg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_then_split_keeps_order_exporters_and_bytes() {
        let a: &[u8] = &[0, 9, 1, 2];
        let b: &[u8] = &[0, 10];
        let input = join(&[(0, a), (1, b), (0, &[])]);
        assert_eq!(
            split(&input),
            vec![
                (EXPORTERS[0], a),
                (EXPORTERS[1], b),
                (EXPORTERS[0], &[][..])
            ]
        );
    }

    #[test]
    fn a_short_last_message_takes_the_rest_and_a_partial_header_nothing() {
        assert_eq!(
            split(&[3, 0, 200, 1, 2]),
            vec![(EXPORTERS[1], &[1u8, 2][..])]
        );
        assert!(split(&[0, 0]).is_empty());
    }
}
