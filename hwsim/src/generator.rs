//! A seeded synthetic traffic generator: real Ethernet/IPv6/TCP-or-UDP frames (so they go
//! through the real parser), deterministic for a given configuration and seed.
//!
//! Packets are evenly spaced at `rate_pps` from `start_ns` for `duration_ns`; each picks
//! one of `flows` flows uniformly at random and a frame size from the weighted `sizes`
//! mix. A flow's addresses and ports are a function of its number, so flow `n` is the
//! same 5-tuple in every run. With `random_sources`, every packet instead gets a fresh
//! random source address (a flood of new flows, for table-full tests).

use crate::capture::Frame;
use nsflow_rtl::parser::LinkType;

/// Ethernet + IPv6 + TCP header bytes: the smallest TCP frame the generator builds.
const MIN_TCP_FRAME: usize = 14 + 40 + 20;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// Seed of the pseudo-random sequence.
    pub seed: u64,
    /// Number of distinct flows (≥ 1).
    pub flows: u32,
    /// Frame sizes in bytes with weights; sizes below a frame's headers are raised to
    /// them, above 9000 lowered to 9000.
    pub sizes: Vec<(u16, u32)>,
    /// Packets per second (≥ 1).
    pub rate_pps: u64,
    /// Time of the first packet, ns (capture time).
    pub start_ns: u64,
    /// Length of the run, ns.
    pub duration_ns: u64,
    /// Share of flows that are TCP, percent (the rest UDP).
    pub tcp_percent: u8,
    /// Each packet from a fresh random source address.
    pub random_sources: bool,
}

impl Default for GeneratorConfig {
    /// 1000 flows, the IMIX size mix (7:4:1 of 64, 576, 1500 bytes), 1 Mpps for 10 ms,
    /// half TCP.
    fn default() -> Self {
        Self {
            seed: 1,
            flows: 1000,
            sizes: vec![(64, 7), (576, 4), (1500, 1)],
            rate_pps: 1_000_000,
            start_ns: 1_700_000_000_000_000_000,
            duration_ns: 10_000_000,
            tcp_percent: 50,
            random_sources: false,
        }
    }
}

/// SplitMix64: small, fast, and good enough to pick flows and sizes.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n ≥ 1).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n.max(1))) >> 64) as u64
    }
}

/// The generator; an iterator of [`Frame`]s, or allocation-free with [`Self::next_into`].
#[derive(Debug, Clone)]
pub struct Generator {
    cfg: GeneratorConfig,
    rng: SplitMix64,
    index: u64,
    count: u64,
    total_weight: u64,
}

impl Generator {
    /// A generator for `cfg`.
    pub fn new(cfg: GeneratorConfig) -> Self {
        let rate = cfg.rate_pps.max(1);
        let count = u64::try_from(u128::from(cfg.duration_ns) * u128::from(rate) / 1_000_000_000)
            .unwrap_or(u64::MAX);
        let total_weight = cfg.sizes.iter().map(|(_, w)| u64::from(*w)).sum();
        Self {
            rng: SplitMix64(cfg.seed),
            cfg,
            index: 0,
            count,
            total_weight,
        }
    }

    /// Packets this run produces.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether the run produces no packet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn size(&mut self) -> usize {
        if self.total_weight == 0 {
            return MIN_TCP_FRAME;
        }
        let mut x = self.rng.below(self.total_weight);
        for (s, w) in &self.cfg.sizes {
            if x < u64::from(*w) {
                return usize::from(*s);
            }
            x -= u64::from(*w);
        }
        MIN_TCP_FRAME
    }

    /// Writes the next frame into `buf` (cleared first) and returns its capture time, or
    /// `None` at the end of the run. Frames are Ethernet.
    pub fn next_into(&mut self, buf: &mut Vec<u8>) -> Option<u64> {
        if self.index >= self.count {
            return None;
        }
        let ts = self.cfg.start_ns.saturating_add(
            u64::try_from(
                u128::from(self.index) * 1_000_000_000 / u128::from(self.cfg.rate_pps.max(1)),
            )
            .unwrap_or(u64::MAX),
        );
        self.index += 1;
        let flow = self.rng.below(u64::from(self.cfg.flows.max(1))) as u32;
        let size = self.size();
        let random_src = self.cfg.random_sources.then(|| self.rng.next());
        let tcp = u64::from(flow) * 100 / u64::from(self.cfg.flows.max(1))
            < u64::from(self.cfg.tcp_percent);
        build_frame(buf, flow, random_src, tcp, size);
        Some(ts)
    }
}

/// Ethernet/IPv6/TCP-or-UDP frame of about `size` bytes for flow `flow`.
fn build_frame(buf: &mut Vec<u8>, flow: u32, random_src: Option<u64>, tcp: bool, size: usize) {
    let l4 = if tcp { 20 } else { 8 };
    let size = size.clamp(14 + 40 + l4, 9000);
    let payload_len = size - 14 - 40;
    buf.clear();
    buf.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd]);
    // IPv6: version 6, traffic class from the flow, payload length, next header, hop limit.
    let tc = (flow % 4) as u8 * 0x20;
    buf.extend_from_slice(&[0x60 | (tc >> 4), tc << 4, 0, 0]);
    buf.extend_from_slice(&(payload_len as u16).to_be_bytes());
    buf.extend_from_slice(&[if tcp { 6 } else { 17 }, 64]);
    let mut src = [0u8; 16];
    src[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    match random_src {
        Some(r) => src[8..].copy_from_slice(&r.to_be_bytes()),
        None => src[12..].copy_from_slice(&flow.to_be_bytes()),
    }
    buf.extend_from_slice(&src);
    let mut dst = [0u8; 16];
    dst[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    dst[4] = 0xff;
    dst[15] = (flow % 251) as u8;
    buf.extend_from_slice(&dst);
    let sport = 1024 + (flow % 60000) as u16;
    let dport = [80u16, 443, 53, 123][(flow % 4) as usize];
    buf.extend_from_slice(&sport.to_be_bytes());
    buf.extend_from_slice(&dport.to_be_bytes());
    if tcp {
        // seq, ack, data offset 5, flags ACK, window, checksum, urgent.
        buf.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
    } else {
        buf.extend_from_slice(&(payload_len as u16).to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
    }
    buf.resize(size, 0);
}

impl Iterator for Generator {
    type Item = Frame;

    fn next(&mut self) -> Option<Frame> {
        let mut data = Vec::new();
        let ts_ns = self.next_into(&mut data)?;
        Some(Frame {
            ts_ns,
            link: Some(LinkType::Ethernet),
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsflow_rtl::parser::{parse, Parsed};
    use std::collections::HashSet;

    #[test]
    fn deterministic_parsable_and_as_configured() {
        let cfg = GeneratorConfig {
            flows: 50,
            rate_pps: 1_000_000,
            duration_ns: 2_000_000,
            ..GeneratorConfig::default()
        };
        let a: Vec<Frame> = Generator::new(cfg.clone()).collect();
        let b: Vec<Frame> = Generator::new(cfg.clone()).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 2000);
        assert_ne!(
            a,
            Generator::new(GeneratorConfig { seed: 2, ..cfg }).collect::<Vec<_>>()
        );
        let mut tuples = HashSet::new();
        let mut sizes = HashSet::new();
        for (i, f) in a.iter().enumerate() {
            assert_eq!(f.ts_ns - a[0].ts_ns, i as u64 * 1000);
            let Ok(Parsed::Ipv6(p)) = parse(LinkType::Ethernet, &f.data) else {
                panic!("frame {i} does not parse as IPv6");
            };
            assert_eq!(p.bytes as usize, f.data.len() - 14);
            assert!(p.protocol == 6 || p.protocol == 17);
            tuples.insert((p.src, p.dst, p.src_port, p.dst_port, p.protocol));
            sizes.insert(f.data.len());
        }
        assert_eq!(tuples.len(), 50);
        assert!(
            sizes.is_subset(&HashSet::from([64, 74, 576, 1500])),
            "{sizes:?}"
        );
        assert!(sizes.contains(&576) && sizes.contains(&1500));
    }

    #[test]
    fn random_sources_make_new_flows() {
        let cfg = GeneratorConfig {
            flows: 1,
            random_sources: true,
            duration_ns: 1_000_000,
            ..GeneratorConfig::default()
        };
        let srcs: HashSet<Vec<u8>> = Generator::new(cfg)
            .map(|f| f.data[22..38].to_vec())
            .collect();
        assert_eq!(srcs.len(), 1000);
    }
}
