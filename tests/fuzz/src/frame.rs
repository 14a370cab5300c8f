//! `parser` input: the first byte chooses the link adapter, the rest is the frame.

use nsflow_rtl::parser::LinkType;

/// Link adapters in the order the first byte selects them (byte modulo their number).
pub const LINKS: [LinkType; 5] = [
    LinkType::Ethernet,
    LinkType::RawIp,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
];

/// Splits a fuzz input into link adapter and frame; `None` for an empty input.
pub fn split(data: &[u8]) -> Option<(LinkType, &[u8])> {
    let (&sel, frame) = data.split_first()?;
    Some((LINKS[usize::from(sel) % LINKS.len()], frame))
}

/// The fuzz input that [`split`] reads back as `link` and `frame`.
pub fn join(link: LinkType, frame: &[u8]) -> Vec<u8> {
    // LINKS holds every variant, so the position is always found.
    let sel = LINKS.iter().position(|l| *l == link).unwrap_or(0) as u8;
    let mut out = Vec::with_capacity(frame.len() + 1);
    out.push(sel);
    out.extend_from_slice(frame);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_then_split_gives_each_link_back() {
        for link in LINKS {
            assert_eq!(split(&join(link, b"abc")), Some((link, &b"abc"[..])));
        }
        assert_eq!(split(&[7, 1]), Some((LinkType::LinuxSll, &[1u8][..])));
        assert_eq!(split(&[]), None);
    }
}
