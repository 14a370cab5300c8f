//! Stage-1 semantics against the reference aggregator on generated traffic (routes,
//! interfaces, prefix minima), and the timers: active-timeout spans, idle gaps, FIN/RST,
//! and aging of idle flows during skipped idle time (scanner catch-up).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{addr, all_modes, assert_conserved, eth, reference, tcp_frame, totals, S};
use nsflow_hwsim::capture::Frame;
use nsflow_hwsim::generator::{Generator, GeneratorConfig};
use nsflow_rtl::config::{EngineConfig, ProfileConfig};
use nsflow_rtl::regs;
use nsflow_rtl::regs::GlobalStat;
use nsflow_rtl::tables::{Route, Tables};
use nsflow_rtl::{AggregationMode, EndReason};
use nsflow_testkit::harness::{Harness, HarnessConfig};

fn tables() -> Tables {
    let mut gen_dst = [0u8; 16];
    gen_dst[..5].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0xff]);
    Tables::new(
        &[
            Route {
                prefix: addr(0),
                len: 32,
                origin_as: 65000,
                out_if: 5,
                ..Route::default()
            },
            Route {
                prefix: gen_dst,
                len: 40,
                origin_as: 65001,
                out_if: 7,
                next_hop: addr(0xfe),
            },
        ],
        &[(0, 3)],
        &[],
    )
    .unwrap()
}

fn frames(cfg: GeneratorConfig) -> Vec<Frame> {
    Generator::new(cfg).collect()
}

/// Scan period of the default build at the default share: every set once.
fn scan_period_ns(sets_log2: u8) -> u64 {
    let share = u64::from(regs::SCAN_CTRL.reset());
    ((1u64 << sets_log2) * 256 / share) * 4 + 4
}

#[test]
fn generated_traffic_equals_the_reference_with_routes_and_minima() {
    let mut engine = all_modes();
    engine.orig_inactive_s = 1;
    engine.orig_active_s = 3;
    for p in &mut engine.profiles {
        if p.mode.is_prefix_mode() {
            p.src_min = 48;
            p.dst_min = 24;
        }
        p.inactive_s = 2;
        p.active_s = 5;
    }
    let tables = tables();
    // 300 flows at 20 kpps for 4 s, a 5 s silence, then 2 s more.
    let mut f = frames(GeneratorConfig {
        flows: 300,
        rate_pps: 20_000,
        duration_ns: 4 * S,
        ..GeneratorConfig::default()
    });
    let t1 = f.last().unwrap().ts_ns + 5 * S;
    f.extend(frames(GeneratorConfig {
        seed: 9,
        flows: 300,
        rate_pps: 20_000,
        start_ns: t1,
        duration_ns: 2 * S,
        ..GeneratorConfig::default()
    }));
    let mut h = Harness::new(&HarnessConfig {
        engine: engine.clone(),
        tables: tables.clone(),
        ..HarnessConfig::default()
    })
    .unwrap();
    let records = h.run(f.iter().cloned()).unwrap().to_vec();
    let stats = h.stats();
    let r = reference(&engine, &tables, &f);
    let orig = r.original_flows.len() as u64;
    assert!(
        orig > 600,
        "traffic should split into many original flows: {orig}"
    );
    assert_eq!(stats.global(GlobalStat::OrigCreated), orig);
    assert_conserved("generated", &records, &stats, 14, orig);
    assert_eq!(totals(&records, 14), r.aggregates);
    // Routes were applied: the as profile sees the two origin ASes.
    let as_keys = &r.aggregates[AggregationMode::As.index() as usize];
    assert!(as_keys
        .keys()
        .any(|k| k.src_as == 65000 && k.dst_as == 65001 && k.out_if == 7 && k.in_if == 3));
    // The scanner exported idle flows and aggregates during the silence, not the flush.
    assert!(stats.global(GlobalStat::OrigAgedIdle) > 0);
    assert!(records.iter().any(|r| r.reason == EndReason::Idle));
}

#[test]
fn no_record_spans_more_than_the_active_timeout_plus_a_scan_period() {
    let active = 2;
    let engine = EngineConfig {
        orig_active_s: active,
        orig_inactive_s: 60,
        fin_rst_aging: true,
        profiles: [AggregationMode::ProtocolPort, AggregationMode::As]
            .map(|m| ProfileConfig {
                active_s: active,
                inactive_s: 60,
                ..ProfileConfig::for_mode(m)
            })
            .to_vec(),
    };
    // 40 long-lived flows at 2 kpps for 9 s, with a 3 s hole in the middle.
    let mut f = frames(GeneratorConfig {
        flows: 40,
        rate_pps: 2_000,
        duration_ns: 3 * S,
        ..GeneratorConfig::default()
    });
    let t1 = f.last().unwrap().ts_ns + 3 * S;
    f.extend(frames(GeneratorConfig {
        flows: 40,
        rate_pps: 2_000,
        start_ns: t1,
        duration_ns: 3 * S,
        ..GeneratorConfig::default()
    }));
    let mut h = Harness::new(&HarnessConfig {
        engine: engine.clone(),
        ..HarnessConfig::default()
    })
    .unwrap();
    let records = h.run(f.iter().cloned()).unwrap().to_vec();
    let limit = u64::from(active) * S + scan_period_ns(BuildDefaults::ORIG_SETS);
    let active_records = records
        .iter()
        .filter(|r| r.reason == EndReason::Active)
        .count();
    assert!(
        active_records > 0,
        "some aggregates must end on the active timer"
    );
    for r in &records {
        assert!(
            r.last_ns - r.first_ns <= limit,
            "record spans {} ns > {limit}: {r:?}",
            r.last_ns - r.first_ns
        );
    }
    let stats = h.stats();
    let orig = reference(&engine, &Tables::default(), &f)
        .original_flows
        .len() as u64;
    assert_eq!(stats.global(GlobalStat::OrigCreated), orig);
    assert!(stats.global(GlobalStat::OrigAgedActive) > 0);
    assert_conserved("active", &records, &stats, 2, orig);
}

#[test]
fn idle_device_time_passes_without_traffic_and_ages_what_expires() {
    let mut engine = EngineConfig::with_modes(&[AggregationMode::ProtocolPort]);
    engine.orig_inactive_s = 3;
    engine.profiles[0].inactive_s = 3;
    let mut h = Harness::new(&HarnessConfig {
        engine,
        ..HarnessConfig::default()
    })
    .unwrap();
    for i in 0..20u64 {
        h.offer_frame(&eth(1_000 * S + i * S / 10, tcp_frame(1, 1000, 0x10, 100)))
            .unwrap();
    }
    let before = h.device().now_ns();
    // Less than the inactive timeout: nothing leaves yet.
    h.device().advance_ns(2 * S);
    h.device().run_until_idle();
    h.drain().unwrap();
    assert!(h.records().is_empty());
    assert!(h.device().now_ns() >= before + 2 * S);
    // Past it (the aggregate's idle time counts from the flow's last packet too): the
    // flow and then its aggregate leave on their idle timers.
    h.device().advance_ns(2 * S);
    h.device().run_until_idle();
    h.drain().unwrap();
    assert_eq!(h.records().len(), 1);
    assert_eq!(h.records()[0].reason, EndReason::Idle);
    assert_eq!(h.records()[0].packets, 20);
}

/// Default geometry constants, from the register map.
struct BuildDefaults;
impl BuildDefaults {
    const ORIG_SETS: u8 = 17;
}

#[test]
fn idle_gaps_split_records_and_idle_flows_leave_without_a_flush() {
    let inactive = 3;
    let mut engine = EngineConfig::with_modes(&[AggregationMode::ProtocolPort]);
    engine.orig_inactive_s = inactive;
    engine.profiles[0].inactive_s = inactive;
    let t0 = 1_000 * S;
    let burst =
        |t: u64| (0..20u64).map(move |i| eth(t + i * S / 10, tcp_frame(1, 1000, 0x10, 100)));
    let gap_start = t0 + 2 * S;
    let gap_end = gap_start + u64::from(inactive) * S + S;
    let mut h = Harness::new(&HarnessConfig {
        engine: engine.clone(),
        ..HarnessConfig::default()
    })
    .unwrap();
    for f in burst(t0) {
        h.offer_frame(&f).unwrap();
    }
    // Long idle stretch: skipped, not stepped; the scanner still ages the flow and then
    // the aggregate (3 s + 3 s + two scan periods), and the record reaches the ring.
    h.device().advance_to(t0 + 20 * S);
    h.device().run_until_idle();
    h.drain().unwrap();
    assert_eq!(
        h.records().len(),
        1,
        "the idle aggregate left without a flush"
    );
    assert_eq!(h.records()[0].reason, EndReason::Idle);
    assert_eq!(h.records()[0].packets, 20);
    for f in burst(gap_end.max(t0 + 20 * S)) {
        h.offer_frame(&f).unwrap();
    }
    h.flush().unwrap();
    let records = h.records();
    assert_eq!(records.len(), 2);
    let first = records[0].first_ns;
    for r in records {
        assert!(
            !(r.first_ns < first + 2 * S && r.last_ns >= first + 2 * S + u64::from(inactive) * S),
            "a record spans the idle gap: {r:?}"
        );
        assert_eq!((r.packets, r.flows), (20, 1));
    }
    assert_eq!(records[1].reason, EndReason::Forced);
    let stats = h.stats();
    assert_eq!(stats.global(GlobalStat::OrigAgedIdle), 1);
    assert_eq!(stats.global(GlobalStat::OrigAgedForced), 1);
}

#[test]
fn fin_and_rst_end_original_flows_except_on_their_first_packet() {
    const FIN: u8 = 0x11;
    const RST: u8 = 0x04;
    const ACK: u8 = 0x10;
    const SYN: u8 = 0x02;
    let f = [
        // Flow A: SYN, ACK, FIN — ends on the FIN; then SYN starts A again.
        (0, tcp_frame(1, 1000, SYN, 0)),
        (1, tcp_frame(1, 1000, ACK, 10)),
        (2, tcp_frame(1, 1000, FIN, 0)),
        (3, tcp_frame(1, 1000, SYN, 0)),
        // Flow B: FIN on its first packet does not end it; RST on the second does.
        (4, tcp_frame(2, 2000, FIN, 0)),
        (5, tcp_frame(2, 2000, RST, 0)),
        // Flow C: RST on its first packet, then data: one flow, ended by the flush.
        (6, tcp_frame(3, 3000, RST, 0)),
        (7, tcp_frame(3, 3000, ACK, 5)),
    ]
    .map(|(t, d)| eth(10 * S + t * S / 100, d));
    for fin_rst in [true, false] {
        let mut engine = EngineConfig::with_modes(&[AggregationMode::ProtocolPort]);
        engine.fin_rst_aging = fin_rst;
        let mut h = Harness::new(&HarnessConfig {
            engine: engine.clone(),
            ..HarnessConfig::default()
        })
        .unwrap();
        let records = h.run(f.iter().cloned()).unwrap().to_vec();
        let stats = h.stats();
        let r = reference(&engine, &Tables::default(), &f);
        let ends = r
            .original_flows
            .iter()
            .filter(|o| o.reason == EndReason::EndOfFlow)
            .count() as u64;
        assert_eq!(stats.global(GlobalStat::OrigAgedEnd), ends);
        assert_eq!(ends, if fin_rst { 2 } else { 0 });
        assert_eq!(
            stats.global(GlobalStat::OrigCreated),
            if fin_rst { 4 } else { 3 }
        );
        assert_eq!(totals(&records, 1), r.aggregates);
    }
}
