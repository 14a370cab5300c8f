//! `vfio_user_server` input: a policy byte, then the byte stream a client sends. The
//! policy says which messages come with file descriptors and how the stream is cut into
//! reads:
//!
//! - bit 0: the header of each DMA_MAP and SET_IRQS message comes with a descriptor (a
//!   memory file), as a well-behaved client sends them;
//! - bit 1: every header comes with one (descriptors where none belong);
//! - bit 2: two descriptors instead of one;
//! - bits 4–7: the most bytes one read returns (0: as many as asked for).
//!
//! (`vfio_user_client`'s input is the byte stream a server answers with, as it is.)

/// Descriptors with DMA_MAP and SET_IRQS.
pub const FDS_WHERE_TAKEN: u8 = 1;
/// Descriptors with every message.
pub const FDS_EVERYWHERE: u8 = 2;
/// Two descriptors instead of one.
pub const TWO_FDS: u8 = 4;

/// The policy and the stream of a fuzz input (`None` when it is empty).
pub fn split(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(p, s)| (*p, s))
}

/// The most bytes one read returns under `policy` (`usize::MAX`: no limit).
pub fn chunk(policy: u8) -> usize {
    match policy >> 4 {
        0 => usize::MAX,
        n => usize::from(n),
    }
}

/// The fuzz input of `policy` and `stream`.
pub fn join(policy: u8, stream: &[u8]) -> Vec<u8> {
    let mut out = vec![policy];
    out.extend_from_slice(stream);
    out
}
