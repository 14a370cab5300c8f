//! Every statistic of the register map is really counted: a hold-mode run with every
//! kind of frame and event, and a drop-mode run, together leave no GlobalStat or
//! ProfileStat counter at zero — and the ingress counters equal the reference's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{addr, eth, reference, tcp_frame, S};
use nsflow_hwsim::capture::Frame;
use nsflow_hwsim::generator::{Generator, GeneratorConfig};
use nsflow_hwsim::{BuildParams, Timing};
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::regs::{GlobalStat, ProfileStat};
use nsflow_rtl::tables::Tables;
use nsflow_rtl::AggregationMode;
use nsflow_testkit::harness::{Consumer, Harness, HarnessConfig, StatsReadout};

/// One frame for each parse error reason, an IPv4 packet and an ARP frame.
fn odd_frames(t: u64) -> Vec<Frame> {
    let ip6 = |nh: u8, plen: u16| {
        let mut v = vec![0u8; 12];
        v.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        v.extend_from_slice(&plen.to_be_bytes());
        v.extend_from_slice(&[nh, 64]);
        v.extend_from_slice(&addr(7));
        v.extend_from_slice(&addr(8));
        v
    };
    let mut vlan3 = vec![0u8; 12];
    for _ in 0..3 {
        vlan3.extend_from_slice(&[0x81, 0x00, 0, 5]);
    }
    vlan3.extend_from_slice(&[0x86, 0xdd]);
    let mut l4 = ip6(6, 20);
    l4.extend_from_slice(&[0, 1, 0, 2]);
    let mut ipv4 = vec![0u8; 12];
    ipv4.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 40]);
    ipv4.resize(54, 0);
    let mut arp = vec![0u8; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.resize(42, 0);
    let mut badver = vec![0u8; 12];
    badver.extend_from_slice(&[0x86, 0xdd, 0x45]);
    badver.resize(60, 0);
    let mut mpls = vec![0u8; 12];
    mpls.extend_from_slice(&[0x88, 0x47, 0, 1]);
    [
        vec![0u8; 10],             // truncated L2
        vlan3,                     // too many VLAN tags
        mpls,                      // MPLS stack truncated
        badver,                    // IPv6 ethertype, version 4
        ip6(6, 20)[..30].to_vec(), // truncated IPv6 header
        ip6(0, 8),                 // hop-by-hop header missing
        l4,                        // TCP header cut short
        ipv4,
        arp,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, d)| eth(t + i as u64, d))
    .collect()
}

fn engine() -> EngineConfig {
    let mut e = EngineConfig::with_modes(&[AggregationMode::SourcePrefix, AggregationMode::Prefix]);
    e.orig_inactive_s = 1;
    e.orig_active_s = 2;
    for p in &mut e.profiles {
        p.src_min = 128;
        p.inactive_s = 1;
        p.active_s = 2;
    }
    e
}

fn small(drop_on_full: bool) -> BuildParams {
    BuildParams {
        orig_sets_log2: 3,
        orig_ways: 2,
        agg_sets_log2: 3,
        agg_ways: 2,
        drop_on_full,
        timing: Timing {
            record_fifo_depth: 14,
            flow_queue_depth: 2,
            ..Timing::default()
        },
        ..BuildParams::default()
    }
}

fn traffic() -> Vec<Frame> {
    let t0 = 100 * S;
    let mut f = odd_frames(t0);
    // A long flow (active timer), FIN-ended flows, idle ones, and a flood.
    for i in 0..40u64 {
        f.push(eth(t0 + S + i * S / 10, tcp_frame(1, 1, 0x10, 100)));
        if i < 3 {
            // A short flow that goes idle long before its active timer.
            f.push(eth(t0 + S + i * S / 10 + 1, tcp_frame(3, 3, 0x10, 10)));
        }
    }
    for i in 0..5u16 {
        f.push(eth(
            t0 + 6 * S + u64::from(i),
            tcp_frame(2, 10 + i, 0x02, 0),
        ));
        f.push(eth(
            t0 + 6 * S + 100 + u64::from(i),
            tcp_frame(2, 10 + i, 0x11, 0),
        ));
    }
    f.extend(Generator::new(GeneratorConfig {
        flows: 1,
        random_sources: true,
        rate_pps: 250_000_000,
        duration_ns: 20_000,
        start_ns: t0 + 7 * S,
        ..GeneratorConfig::default()
    }));
    f
}

fn run(drop_on_full: bool) -> StatsReadout {
    let cfg = HarnessConfig {
        params: small(drop_on_full),
        engine: engine(),
        ring_log2: 4,
        // One record consumed per frame while the flood makes two: the ring fills.
        consumer: Consumer {
            max_per_drain: 1,
            drain_every: 1,
            delay_cycles: 0,
        },
        ..HarnessConfig::default()
    };
    let mut h = Harness::new(&cfg).unwrap();
    let frames = traffic();
    h.run(frames.iter().cloned()).unwrap();
    let s = h.stats();
    let r = reference(&engine(), &Tables::default(), &frames);
    assert_eq!(s.global(GlobalStat::RxFrames), r.ingress.rx_frames);
    assert_eq!(s.global(GlobalStat::ErrIpv6Bytes), r.ingress.err_ipv6_bytes);
    s
}

#[test]
fn every_statistic_is_counted() {
    let hold = run(false);
    let drop = run(true);
    for s in GlobalStat::ALL {
        assert!(
            hold.global(*s) > 0 || drop.global(*s) > 0,
            "global statistic {} never counted",
            s.name()
        );
    }
    for p in 0..2 {
        for s in ProfileStat::ALL {
            assert!(
                hold.profile(p, *s) > 0 || drop.profile(p, *s) > 0,
                "profile {p} statistic {} never counted",
                s.name()
            );
        }
    }
    // Hold mode never drops; profiles 2.. were never enabled.
    assert_eq!(
        hold.profile(0, ProfileStat::DropRecords) + hold.profile(1, ProfileStat::DropRecords),
        0
    );
    assert!(hold.profiles[2..].iter().all(|p| p.iter().all(|v| *v == 0)));
}
