//! Stress with exact accounting: table-full floods, ring-full backpressure with a slow
//! consumer (hold mode: nothing dropped), drop mode (every loss counted), flushes at
//! arbitrary points, and random builds and consumers under proptest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::assert_conserved;
use nsflow_hwsim::capture::Frame;
use nsflow_hwsim::generator::{Generator, GeneratorConfig};
use nsflow_hwsim::{BuildParams, Timing};
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::regs::{self, Ctrl, IntBits, Status};
use nsflow_rtl::regs::{GlobalStat, ProfileStat};
use nsflow_rtl::{AggregationMode, EndReason};
use nsflow_testkit::harness::{Consumer, Harness, HarnessConfig, StatsReadout};
use proptest::prelude::*;

fn modes() -> EngineConfig {
    let mut e = EngineConfig::with_modes(&[
        AggregationMode::ProtocolPort,
        AggregationMode::SourcePrefix,
        AggregationMode::As,
        AggregationMode::Prefix,
    ]);
    e.orig_inactive_s = 1;
    e.orig_active_s = 2;
    // Keep whole source addresses in the prefix modes, so that a flood of random sources
    // floods stage 2 too.
    for p in &mut e.profiles {
        if p.mode.is_prefix_mode() {
            p.src_min = 128;
        }
    }
    e
}

fn small_build() -> BuildParams {
    BuildParams {
        orig_sets_log2: 4,
        orig_ways: 2,
        agg_sets_log2: 3,
        agg_ways: 2,
        timing: Timing {
            record_fifo_depth: 16,
            flow_queue_depth: 4,
            ..Timing::default()
        },
        ..BuildParams::default()
    }
}

fn run(cfg: &HarnessConfig, frames: &[Frame]) -> (Vec<nsflow_rtl::Record>, StatsReadout, Harness) {
    let mut h = Harness::new(cfg).unwrap();
    let records = h.run(frames.iter().cloned()).unwrap().to_vec();
    let stats = h.stats();
    (records, stats, h)
}

fn flood(n_ms: u64) -> Vec<Frame> {
    Generator::new(GeneratorConfig {
        flows: 1,
        random_sources: true,
        rate_pps: 1_000_000,
        duration_ns: n_ms * 1_000_000,
        ..GeneratorConfig::default()
    })
    .collect()
}

#[test]
fn table_full_flood_evicts_and_accounts_exactly() {
    let frames = flood(5);
    let cfg = HarnessConfig {
        params: small_build(),
        engine: modes(),
        ..HarnessConfig::default()
    };
    let (records, stats, _) = run(&cfg, &frames);
    // Every packet is a new flow: created = packets; all but the last few were evicted.
    let n = frames.len() as u64;
    assert_eq!(stats.global(GlobalStat::Ipv6Packets), n);
    assert_eq!(stats.global(GlobalStat::OrigCreated), n);
    assert!(stats.global(GlobalStat::OrigEvicted) >= n - 32);
    assert!(
        stats.profile(1, ProfileStat::Evicted) > 0 && stats.profile(3, ProfileStat::Evicted) > 0
    );
    assert!(records
        .iter()
        .any(|r| r.reason == EndReason::LackOfResources));
    assert_conserved("flood", &records, &stats, 4, n);
    assert_eq!(stats.profile(0, ProfileStat::DropRecords), 0);
    // The tables are small: the flood cannot have run faster than the ports allow.
    assert!(stats.global(GlobalStat::StallTable) > 0);
}

#[test]
fn ring_full_backpressure_holds_and_loses_nothing() {
    let frames = flood(3);
    let cfg = HarnessConfig {
        params: small_build(),
        engine: modes(),
        ring_log2: 4,
        consumer: Consumer {
            max_per_drain: 3,
            drain_every: 0,
            delay_cycles: 2_000,
        },
        ..HarnessConfig::default()
    };
    let mut h = Harness::new(&cfg).unwrap();
    let mut saw_ring_full = false;
    for f in &frames {
        h.offer_frame(f).unwrap();
        saw_ring_full |= Status(h.device().bar_read(regs::STATUS.offset)).ring_full();
    }
    assert!(saw_ring_full, "STATUS.ring_full never seen");
    let ints = IntBits(h.device().bar_read(regs::INT_STATUS.offset));
    assert!(ints.ring_full(), "INT_STATUS.ring_full not raised");
    h.flush().unwrap();
    let records = h.records().to_vec();
    let stats = h.stats();
    let n = frames.len() as u64;
    assert_conserved("backpressure", &records, &stats, 4, n);
    for p in 0..4 {
        assert_eq!(
            stats.profile(p, ProfileStat::DropRecords),
            0,
            "hold mode dropped"
        );
    }
    assert!(stats.global(GlobalStat::StallRingFull) > 0);
    assert!(stats.global(GlobalStat::StallIngress) > 0);
    assert!(records.len() > 16 * 4, "the ring wrapped several times");
}

#[test]
fn drop_mode_counts_every_lost_record() {
    let frames = flood(3);
    let mut params = small_build();
    params.drop_on_full = true;
    let cfg = HarnessConfig {
        params,
        engine: modes(),
        ring_log2: 4,
        consumer: Consumer {
            max_per_drain: 2,
            drain_every: 50,
            delay_cycles: 0,
        },
        ..HarnessConfig::default()
    };
    let (records, stats, _) = run(&cfg, &frames);
    let n = frames.len() as u64;
    let dropped: u64 = (0..4)
        .map(|p| stats.profile(p, ProfileStat::DropRecords))
        .sum();
    assert!(
        dropped > 0,
        "nothing was dropped: the test does not test drops"
    );
    assert_conserved("drop", &records, &stats, 4, n);
}

#[test]
fn line_rate_replay_reports_throughput_and_occupancy() {
    // 64-byte frames at one per 4 ns: the datapath's limit is one packet per cycle minus
    // the scanner's share.
    let frames: Vec<Frame> = Generator::new(GeneratorConfig {
        flows: 2000,
        sizes: vec![(64, 1)],
        rate_pps: 250_000_000,
        duration_ns: 200_000,
        ..GeneratorConfig::default()
    })
    .collect();
    let mut h = Harness::new(&HarnessConfig {
        engine: modes(),
        ..HarnessConfig::default()
    })
    .unwrap();
    let start = h.device().throughput();
    for f in &frames {
        h.offer_frame(f).unwrap();
    }
    let t = h.device().throughput();
    let ppc = (t.packets - start.packets) as f64 / (t.cycles - start.cycles) as f64;
    let share = f64::from(regs::SCAN_CTRL.reset()) / 256.0;
    assert!(
        ppc <= 1.0 - share + 0.01 && ppc > 0.5,
        "packets per cycle {ppc}"
    );
    assert_eq!(h.device().orig_occupancy(), 2000);
    h.device().run_until_idle();
    let stats = h.stats();
    assert!(stats.global(GlobalStat::StallIngress) > 0 && stats.global(GlobalStat::StallTable) > 0);
    // Occupancy registers agree with the model's accessors.
    for p in 0..14u32 {
        let reg = h.device().bar_read(regs::PROF_OCCUPANCY.at(p));
        assert_eq!(reg as usize, h.device().agg_occupancy(p as usize));
    }
    h.flush().unwrap();
    assert_eq!(h.device().orig_occupancy(), 0);
    assert_eq!(h.device().bar_read(regs::PROF_OCCUPANCY.at(0)), 0);
}

fn flush_now(h: &mut Harness) {
    let mut c = Ctrl(h.device().bar_read(regs::CTRL.offset));
    c.set_flush(true);
    h.device().bar_write(regs::CTRL.offset, c.0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random builds, consumers, policies and flush points: whatever happens, the records
    /// plus the counted drops carry every packet, byte and original flow, and a hold-mode
    /// build never drops.
    #[test]
    fn conservation_under_random_builds_and_flushes(
        seed in any::<u64>(),
        orig_sets in 0u8..6, orig_ways in 1u8..4, agg_sets in 0u8..5, agg_ways in 1u8..4,
        fifo_extra in 0u32..20, flow_extra in 0u32..6, ring_log2 in 4u8..7,
        drop_on_full in any::<bool>(), max_per_drain in 1usize..40, drain_every in 0u64..40,
        delay in 0u64..5_000, share in 0u8..=255, latency in 1u32..20,
        flows in 1u32..400, random_sources in any::<bool>(),
        flush_at in proptest::collection::vec(0usize..3000, 0..4),
    ) {
        let params = BuildParams {
            orig_sets_log2: orig_sets,
            orig_ways,
            agg_sets_log2: agg_sets,
            agg_ways,
            drop_on_full,
            timing: Timing {
                record_fifo_depth: 14u32.max(agg_ways.into()) + fifo_extra,
                flow_queue_depth: u32::from(orig_ways).max(2) + flow_extra,
                table_latency: latency,
                ..Timing::default()
            },
            ..BuildParams::default()
        };
        let frames: Vec<Frame> = Generator::new(GeneratorConfig {
            seed, flows, random_sources, rate_pps: 1_000_000, duration_ns: 3_000_000,
            ..GeneratorConfig::default()
        }).collect();
        let mut engine = modes();
        engine.orig_inactive_s = 0;
        let cfg = HarnessConfig {
            params, engine, ring_log2, scan_share: Some(share),
            consumer: Consumer { max_per_drain, drain_every, delay_cycles: delay },
            ..HarnessConfig::default()
        };
        let mut h = Harness::new(&cfg).unwrap();
        for (i, f) in frames.iter().enumerate() {
            if flush_at.contains(&i) {
                flush_now(&mut h);
            }
            h.offer_frame(f).unwrap();
        }
        h.flush().unwrap();
        let records = h.records().to_vec();
        let stats = h.stats();
        let orig = stats.global(GlobalStat::OrigCreated);
        assert_conserved("random", &records, &stats, 4, orig);
        let ended: u64 = [
            GlobalStat::OrigEvicted,
            GlobalStat::OrigAgedIdle,
            GlobalStat::OrigAgedActive,
            GlobalStat::OrigAgedEnd,
            GlobalStat::OrigAgedForced,
        ]
        .iter()
        .map(|n| stats.global(*n))
        .sum();
        prop_assert_eq!(ended, orig);
        if !drop_on_full {
            for p in 0..4 {
                prop_assert_eq!(stats.profile(p, ProfileStat::DropRecords), 0);
            }
        }
        let mut points: Vec<usize> = flush_at.iter().copied().filter(|i| *i < frames.len()).collect();
        points.sort_unstable();
        points.dedup();
        prop_assert_eq!(h.device().bar_read(regs::FLUSH_COUNT.offset) as usize, 1 + points.len());
    }
}
