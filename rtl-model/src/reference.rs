//! The untimed reference aggregator: the golden model of what the engine must export.
//!
//! Given packets with timestamps, the tables and a configuration, it computes the exact
//! set of original flows (stage 1) and, per profile, the per-key totals of the aggregates
//! (stage 2) that the hardware must export when its tables never fill. Stage-1 boundaries
//! depend only on packet times (a packet that finds its flow expired starts a new one,
//! whether or not the scanner already exported the old one), so they are exact; stage-2
//! records may be split differently by the scanner's timing, so the comparison is on the
//! totals per key: flows (deltaFlowCount), packets and bytes.

use crate::config::EngineConfig;
use crate::key::FlowKey;
use crate::parser::{parse, LinkType, ParseErrorReason, Parsed};
use crate::record::EndReason;
use crate::sim_port::Frame;
use crate::stage::{ends_flow, Entry};
use crate::tables::Tables;
use std::collections::{BTreeMap, HashMap};

/// What the parser stage saw, counted as the device's ingress statistics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IngressCounters {
    /// Frames offered.
    pub rx_frames: u64,
    /// IPv6 packets keyed.
    pub ipv6_packets: u64,
    /// Their bytes (IPv6 header + payload).
    pub ipv6_bytes: u64,
    /// IPv4 packets.
    pub ipv4_packets: u64,
    /// IPv4 Total Length summed.
    pub ipv4_bytes: u64,
    /// Frames without IP or without a link adapter.
    pub other_frames: u64,
    /// Parse errors by [`ParseErrorReason`] (index = discriminant).
    pub errors: [u64; 7],
    /// Bytes of IPv6 packets the parser rejected.
    pub err_ipv6_bytes: u64,
    /// IPv6 packets the parser rejected.
    pub err_ipv6_packets: u64,
}

impl IngressCounters {
    /// Counts one frame and returns the IPv6 fields when it is to be keyed.
    pub fn count(
        &mut self,
        link: Option<LinkType>,
        frame: &[u8],
    ) -> Option<crate::parser::Ipv6Fields> {
        self.rx_frames += 1;
        let Some(link) = link else {
            self.other_frames += 1;
            return None;
        };
        match parse(link, frame) {
            Ok(Parsed::Ipv6(f)) => {
                self.ipv6_packets += 1;
                self.ipv6_bytes += u64::from(f.bytes);
                Some(f)
            }
            Ok(Parsed::Ipv4 { bytes }) => {
                self.ipv4_packets += 1;
                self.ipv4_bytes += u64::from(bytes);
                None
            }
            Ok(Parsed::Other) => {
                self.other_frames += 1;
                None
            }
            Err(e) => {
                self.errors[e.reason as usize] += 1;
                if let Some(b) = e.ipv6_bytes {
                    self.err_ipv6_packets += 1;
                    self.err_ipv6_bytes += u64::from(b);
                }
                None
            }
        }
    }

    /// Parse errors of one reason.
    pub fn errors_of(&self, reason: ParseErrorReason) -> u64 {
        self.errors[reason as usize]
    }
}

/// An original flow as stage 1 ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginalFlow {
    /// Counters, times and key.
    pub entry: Entry,
    /// Why it ended.
    pub reason: EndReason,
}

/// Per-key totals of one profile's aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Original flows merged (sum of deltaFlowCount).
    pub flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Totals {
    /// Adds counters.
    pub fn add(&mut self, flows: u64, packets: u64, bytes: u64) {
        self.flows += flows;
        self.packets += packets;
        self.bytes += bytes;
    }
}

/// The reference aggregator's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceOutput {
    /// Ingress counters.
    pub ingress: IngressCounters,
    /// Every original flow, in the order stage 1 ended them.
    pub original_flows: Vec<OriginalFlow>,
    /// Per profile (configuration order): totals per masked key.
    pub aggregates: Vec<BTreeMap<FlowKey, Totals>>,
}

/// The golden model. Feed frames in timestamp order with [`Self::offer`], then
/// [`Self::finish`] (a flush) to get everything that must be exported.
pub struct ReferenceAggregator {
    config: EngineConfig,
    tables: Tables,
    ingress: IngressCounters,
    flows: HashMap<FlowKey, Entry>,
    ended: Vec<OriginalFlow>,
    /// The latest frame time seen: the device's clock never runs backwards, so a frame
    /// older than the one before it is stamped with that one's time (as the device does).
    now_ns: u64,
}

impl ReferenceAggregator {
    /// A model with this configuration and these tables.
    pub fn new(config: EngineConfig, tables: Tables) -> Self {
        Self {
            config,
            tables,
            ingress: IngressCounters::default(),
            flows: HashMap::new(),
            ended: Vec::new(),
            now_ns: 0,
        }
    }

    /// The whole run over `frames`: every frame offered in order, then [`Self::finish`].
    pub fn run<'a>(
        config: EngineConfig,
        tables: Tables,
        frames: impl IntoIterator<Item = &'a Frame>,
    ) -> ReferenceOutput {
        let mut r = Self::new(config, tables);
        for f in frames {
            r.offer(f.ts_ns, f.link, &f.data);
        }
        r.finish()
    }

    /// One frame captured at `ts_ns` (`link` is `None` when no link adapter fits). Time
    /// never runs backwards: a frame older than the latest one is stamped with the latest
    /// time, as the device's clock does.
    pub fn offer(&mut self, ts_ns: u64, link: Option<LinkType>, frame: &[u8]) {
        let ts_ns = ts_ns.max(self.now_ns);
        self.now_ns = ts_ns;
        let Some(f) = self.ingress.count(link, frame) else {
            return;
        };
        let key = self.tables.key(&f);
        let c = &self.config;
        let mut first_packet = true;
        if let Some(e) = self.flows.get_mut(&key) {
            if let Some(reason) = e.expired(ts_ns, c.orig_active_s, c.orig_inactive_s) {
                self.ended.push(OriginalFlow { entry: *e, reason });
                *e = Entry::from_packet(key, ts_ns, &f);
            } else {
                e.add_packet(ts_ns, &f);
                first_packet = false;
            }
        } else {
            self.flows.insert(key, Entry::from_packet(key, ts_ns, &f));
        }
        if let Some(e) = self.flows.get(&key) {
            if ends_flow(e, &f, first_packet, c.fin_rst_aging) {
                self.ended.push(OriginalFlow {
                    entry: *e,
                    reason: EndReason::EndOfFlow,
                });
                self.flows.remove(&key);
            }
        }
    }

    /// Ends the run with a flush: every remaining original flow ends (forced), and every
    /// original flow is merged into every profile.
    pub fn finish(mut self) -> ReferenceOutput {
        let mut rest: Vec<Entry> = self.flows.into_values().collect();
        rest.sort_by_key(|e| (e.first_ns, e.key));
        self.ended
            .extend(rest.into_iter().map(|entry| OriginalFlow {
                entry,
                reason: EndReason::Forced,
            }));
        let aggregates = self
            .config
            .profiles
            .iter()
            .map(|p| {
                let mut m: BTreeMap<FlowKey, Totals> = BTreeMap::new();
                for o in &self.ended {
                    let k = o.entry.key.masked(p.select, p.src_min, p.dst_min);
                    m.entry(k)
                        .or_default()
                        .add(1, o.entry.packets, o.entry.bytes);
                }
                m
            })
            .collect();
        ReferenceOutput {
            ingress: self.ingress,
            original_flows: self.ended,
            aggregates,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EngineConfig;
    use crate::mode::AggregationMode;

    /// Ethernet + IPv6 (payload length 20) + TCP from port `sport` with `flags`.
    fn tcp_frame(sport: u16, flags: u8) -> Vec<u8> {
        let mut v = vec![0u8; 12];
        v.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 20, 6, 64]);
        v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        v.extend_from_slice(&sport.to_be_bytes());
        v.extend_from_slice(&[0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, flags, 0, 0, 0, 0, 0, 0]);
        v
    }

    const S: u64 = 1_000_000_000;

    fn run(frames: &[(u64, Vec<u8>)], config: EngineConfig) -> ReferenceOutput {
        let mut r = ReferenceAggregator::new(config, Tables::default());
        for (t, f) in frames {
            r.offer(*t, Some(LinkType::Ethernet), f);
        }
        r.finish()
    }

    #[test]
    fn inactive_gap_splits_and_active_timeout_restarts() {
        let mut c = EngineConfig::with_modes(&[AggregationMode::ProtocolPort]);
        c.orig_inactive_s = 10;
        c.orig_active_s = 60;
        let f = tcp_frame(1000, 0x10);
        // 0 s, 5 s, then 20 s later (idle), then every 9 s past the 60 s active limit.
        let times = [0, 5, 25, 34, 43, 52, 61, 70, 79, 88];
        let out = run(
            &times.iter().map(|t| (t * S, f.clone())).collect::<Vec<_>>(),
            c,
        );
        let flows: Vec<(u64, EndReason)> = out
            .original_flows
            .iter()
            .map(|o| (o.entry.packets, o.reason))
            .collect();
        // Flow 1: 0, 5 (idle before 25). Flow 2: 25..79 (active at 88 - 25 = 63 s >= 60).
        assert_eq!(
            flows,
            vec![
                (2, EndReason::Idle),
                (7, EndReason::Active),
                (1, EndReason::Forced)
            ]
        );
        let agg = &out.aggregates[0];
        assert_eq!(agg.len(), 1);
        let t = agg.values().next().unwrap();
        assert_eq!((t.flows, t.packets, t.bytes), (3, 10, 600));
    }

    #[test]
    fn fin_ends_a_flow_except_on_its_first_packet() {
        let c = EngineConfig::with_modes(&[AggregationMode::ProtocolPort]);
        let syn = tcp_frame(1000, 0x02);
        let fin = tcp_frame(1000, 0x11);
        let out = run(
            &[
                (0, fin.clone()),
                (S, syn.clone()),
                (2 * S, fin.clone()),
                (3 * S, syn),
            ],
            c,
        );
        let flows: Vec<(u64, EndReason)> = out
            .original_flows
            .iter()
            .map(|o| (o.entry.packets, o.reason))
            .collect();
        assert_eq!(
            flows,
            vec![(3, EndReason::EndOfFlow), (1, EndReason::Forced)]
        );
    }

    #[test]
    fn conservation_over_keys_and_modes() {
        let c = EngineConfig::with_modes(&AggregationMode::ALL);
        let frames: Vec<(u64, Vec<u8>)> = (0..100u64)
            .map(|i| (i * S / 10, tcp_frame((i % 7) as u16, 0x10)))
            .collect();
        let out = run(&frames, c);
        assert_eq!(out.ingress.ipv6_packets, 100);
        assert_eq!(out.original_flows.len(), 7);
        for agg in &out.aggregates {
            let packets: u64 = agg.values().map(|t| t.packets).sum();
            let flows: u64 = agg.values().map(|t| t.flows).sum();
            assert_eq!((packets, flows), (100, 7));
        }
        // protocol-port keeps the 7 source ports apart; as collapses them (no routes).
        assert_eq!(
            out.aggregates[AggregationMode::ProtocolPort.index() as usize].len(),
            7
        );
        assert_eq!(
            out.aggregates[AggregationMode::As.index() as usize].len(),
            1
        );
    }
}
