//! `ring` input: an 11-byte header `[log2 selector][profiles][max][consumer index: u32 LE]
//! [producer index: u32 LE]`, then the bytes of the ring (record slots from slot 0). The
//! target writes the ring bytes into a DMA block and the producer index into its
//! write-back slot, as a device would, then drains with
//! [`nsflow_driver::ring::RingConsumer`].

use nsflow_rtl::regs::{RING_MAX_LOG2, RING_MIN_LOG2};

/// Bytes of the header before the ring bytes.
pub const HEADER_BYTES: usize = 11;
/// The `max` byte that means "no limit" on the records one poll takes.
pub const NO_LIMIT: u8 = u8::MAX;

/// One decoded `ring` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingInput<'a> {
    /// Ring size as RING_SIZE holds it, always within the device's range.
    pub log2: u8,
    /// Profiles the driver programmed (records of others are errors).
    pub profiles: usize,
    /// Most records one poll may take.
    pub max: usize,
    /// The consumer index the drain resumes at.
    pub cons: u32,
    /// The producer index the device published.
    pub prod: u32,
    /// The record slots' bytes, from slot 0.
    pub ring: &'a [u8],
}

impl<'a> RingInput<'a> {
    /// Reads a fuzz input; `None` when it is shorter than the header.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (h, ring) = data.split_at_checked(HEADER_BYTES)?;
        let sizes = RING_MAX_LOG2 - RING_MIN_LOG2 + 1;
        Some(Self {
            log2: (RING_MIN_LOG2 + u32::from(h[0]) % sizes) as u8,
            profiles: usize::from(h[1]),
            max: if h[2] == NO_LIMIT {
                usize::MAX
            } else {
                usize::from(h[2])
            },
            cons: u32::from_le_bytes([h[3], h[4], h[5], h[6]]),
            prod: u32::from_le_bytes([h[7], h[8], h[9], h[10]]),
            ring,
        })
    }

    /// The fuzz input that [`Self::parse`] reads back as `self` (`log2` must be in the
    /// device's range, `profiles` at most 255 and `max` below 255 or `usize::MAX`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_BYTES + self.ring.len());
        out.push((u32::from(self.log2) - RING_MIN_LOG2) as u8);
        out.push(self.profiles.min(255) as u8);
        out.push(if self.max == usize::MAX {
            NO_LIMIT
        } else {
            self.max.min(254) as u8
        });
        out.extend_from_slice(&self.cons.to_le_bytes());
        out.extend_from_slice(&self.prod.to_le_bytes());
        out.extend_from_slice(self.ring);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_parse_gives_the_same_input() {
        for (log2, max) in [(4u8, usize::MAX), (20, 0), (9, 254)] {
            let input = RingInput {
                log2,
                profiles: 3,
                max,
                cons: u32::MAX - 1,
                prod: 5,
                ring: &[1, 2, 3],
            };
            assert_eq!(RingInput::parse(&input.encode()), Some(input));
        }
    }

    #[test]
    fn any_selector_gives_a_size_the_device_takes() {
        for sel in 0..=255u8 {
            let mut data = vec![0u8; HEADER_BYTES];
            data[0] = sel;
            let log2 = u32::from(RingInput::parse(&data).map(|i| i.log2).unwrap_or(0));
            assert!((RING_MIN_LOG2..=RING_MAX_LOG2).contains(&log2), "{sel}");
        }
        assert_eq!(RingInput::parse(&[0; HEADER_BYTES - 1]), None);
    }
}
