//! Helpers shared by hwsim's integration tests: the shared/ captures, the reference
//! aggregator run on the same frames, and per-key totals of drained records.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use nsflow_hwsim::capture::Frame;
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::reference::{ReferenceAggregator, ReferenceOutput, Totals};
use nsflow_rtl::regs::GlobalStat;
use nsflow_rtl::regs::ProfileStat;
use nsflow_rtl::tables::Tables;
use nsflow_rtl::{AggregationMode, FlowKey, Record};
use nsflow_testkit::harness::StatsReadout;
use std::collections::BTreeMap;

pub use nsflow_testkit::shared::{require_shared, shared_dir, traffic_captures};

/// `count` generated frames over `flows` flows at 1 Mpps (one frame a microsecond).
pub fn frames_1mpps(flows: u32, count: u64) -> Vec<Frame> {
    use nsflow_hwsim::generator::{Generator, GeneratorConfig};
    Generator::new(GeneratorConfig {
        flows,
        rate_pps: 1_000_000,
        duration_ns: count * 1000,
        ..GeneratorConfig::default()
    })
    .collect()
}

/// Every aggregation mode, one profile each, default timers.
pub fn all_modes() -> EngineConfig {
    EngineConfig::with_modes(&AggregationMode::ALL)
}

/// The reference aggregator's output for these frames, stamped as the device stamps
/// them (capture times never running backwards: the reference's own rule).
pub fn reference(cfg: &EngineConfig, tables: &Tables, frames: &[Frame]) -> ReferenceOutput {
    ReferenceAggregator::run(cfg.clone(), tables.clone(), frames)
}

/// Per profile: totals per key of the records.
pub fn totals(records: &[Record], profiles: usize) -> Vec<BTreeMap<FlowKey, Totals>> {
    let mut v = vec![BTreeMap::new(); profiles];
    for r in records {
        let m: &mut BTreeMap<FlowKey, Totals> = &mut v[usize::from(r.profile)];
        m.entry(r.key)
            .or_default()
            .add(u64::from(r.flows), r.packets, r.bytes);
    }
    v
}

/// Conservation: per profile, what the records carry plus what was dropped equals the
/// IPv6 packets and bytes keyed and the original flows ended.
pub fn assert_conserved(
    what: &str,
    records: &[Record],
    stats: &StatsReadout,
    profiles: usize,
    orig_flows: u64,
) {
    let t = totals(records, profiles);
    for (p, m) in t.iter().enumerate() {
        let mut sum = Totals::default();
        for v in m.values() {
            sum.add(v.flows, v.packets, v.bytes);
        }
        let d = |n| stats.profile(p, n);
        assert_eq!(
            (
                sum.flows + d(ProfileStat::DropFlows),
                sum.packets + d(ProfileStat::DropPackets),
                sum.bytes + d(ProfileStat::DropBytes)
            ),
            (
                orig_flows,
                stats.global(GlobalStat::Ipv6Packets),
                stats.global(GlobalStat::Ipv6Bytes)
            ),
            "{what}: profile {p} does not conserve flows/packets/bytes"
        );
        let n = records
            .iter()
            .filter(|r| usize::from(r.profile) == p)
            .count() as u64;
        assert_eq!(
            n,
            d(ProfileStat::Records),
            "{what}: profile {p} records counter"
        );
        assert_eq!(
            (
                d(ProfileStat::MergedFlows),
                d(ProfileStat::MergedPackets),
                d(ProfileStat::MergedBytes)
            ),
            (
                orig_flows,
                stats.global(GlobalStat::Ipv6Packets),
                stats.global(GlobalStat::Ipv6Bytes)
            ),
            "{what}: profile {p} merged counters"
        );
    }
}

/// Source address 2001:db8::`host`.
pub fn addr(host: u16) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    a[14..].copy_from_slice(&host.to_be_bytes());
    a
}

/// Ethernet/IPv6/TCP frame from 2001:db8::`src` port `sport` to 2001:db8::2 port 80 with
/// TCP `flags` and `payload` bytes of payload.
pub fn tcp_frame(src: u16, sport: u16, flags: u8, payload: usize) -> Vec<u8> {
    let mut v = vec![0u8; 12];
    v.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    v.extend_from_slice(&((20 + payload) as u16).to_be_bytes());
    v.extend_from_slice(&[6, 64]);
    v.extend_from_slice(&addr(src));
    v.extend_from_slice(&addr(2));
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&[
        0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    v.resize(v.len() + payload, 0);
    v
}

/// A frame at capture time `ts_ns`.
pub fn eth(ts_ns: u64, data: Vec<u8>) -> Frame {
    Frame {
        ts_ns,
        link: Some(nsflow_rtl::parser::LinkType::Ethernet),
        data,
    }
}

/// Nanoseconds per second.
pub const S: u64 = 1_000_000_000;
