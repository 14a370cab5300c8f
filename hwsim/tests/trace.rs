//! VCD waveforms: a window of a replay through the harness, read back with the `vcd`
//! crate's parser — the declared signals, events exactly where the documented timing puts
//! them and nowhere outside the window, BAR0 writes as a strobe with their offset and
//! value, the programming sequence from reset. Every trace written here must convert to
//! FST with GTKWave's `vcd2fst` and back. The `nsflow trace` command is tested in
//! tests/e2e_trace.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_hwsim::trace::Tracer;
use nsflow_hwsim::{BuildParams, Device};
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::program;
use nsflow_rtl::regs;
use nsflow_rtl::regs::GlobalStat;
use nsflow_rtl::tables::Tables;
use nsflow_rtl::AggregationMode;
use nsflow_testkit::harness::{self, Harness, HarnessConfig};
use nsflow_testkit::wave::{assert_converts_to_fst, ps, traffic_1mpps as traffic, Wave, SIGNALS};
use vcd::TimescaleUnit;

#[test]
fn a_window_of_a_replay_holds_exactly_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.vcd");
    let mut h = Harness::new(&HarnessConfig {
        engine: EngineConfig::with_modes(&AggregationMode::ALL[..2]),
        ..HarnessConfig::default()
    })
    .unwrap();
    // The register port took the harness's programming one write per cycle; the first
    // frame maps onto the cycle of the last write.
    let t0 = h.device().now_cycles();
    assert!(t0 > 0);
    let (from, to) = (t0 + 10_000, t0 + 20_000);
    h.device()
        .set_trace(Tracer::create(&out, from..to).unwrap());
    let frames = traffic(200);
    for (k, f) in frames.iter().enumerate() {
        h.offer_frame(f).unwrap();
        if k == 60 {
            h.device().bar_write(regs::INT_MOD_RECORDS.offset, 5);
        }
    }
    h.flush().unwrap();
    let summary = h.device().take_trace().unwrap().finish().unwrap();
    assert!(summary.reached_window);
    assert!(summary.stopped_at > to);

    let w = Wave::read(&out);
    assert_eq!(w.timescale, Some((1, TimescaleUnit::PS)));
    for s in SIGNALS {
        assert!(w.changes.contains_key(*s), "{s} not declared");
    }
    for p in 0..14 {
        assert!(w.changes.contains_key(&format!("merge_p{p:02}")));
    }
    assert!(w.stamps.iter().all(|t| (ps(from)..=ps(to)).contains(t)));
    assert_eq!(w.stamps.first(), Some(&ps(from)));
    assert_eq!(w.stamps.last(), Some(&ps(to)));

    // Frame k arrives at cycle t0 + 250k; the window holds frames 40..80 and no other.
    let expected: Vec<u64> = (40..80).map(|k| ps(t0 + 250 * k)).collect();
    assert_eq!(w.rises("ingress_valid"), expected);
    assert_eq!(w.rises("ingress_ipv6"), expected);
    // Counted as they enter: frames 0..=40 at the window's first cycle, 0..80 at its end.
    assert_eq!(w.at("ingress_frames", ps(from)), 41);
    assert_eq!(w.at("ingress_frames", ps(to) - 1), 80);
    // Each reaches the stage-1 table 24 cycles later (parser 16 + lookups 8), or later
    // still by the cycles it waited for the table port (a scanner slot: a `table_wait`
    // pulse at the lookup): a hit or a miss for each of the 40, the first of each flow a
    // miss.
    let mut looked_up = w.rises("s1_hit");
    looked_up.extend(w.rises("s1_miss"));
    looked_up.sort_unstable();
    let due: Vec<u64> = (40..80).map(|k| ps(t0 + 250 * k + 24)).collect();
    let waited: Vec<u64> = looked_up
        .iter()
        .map(|t| t - ps(w.at("table_wait", *t)))
        .collect();
    assert_eq!(waited, due);
    // The generator's flow is its source address (bytes 22..38 of the frame).
    let first_seen = {
        let mut seen = std::collections::HashSet::new();
        frames[..40].iter().for_each(|f| {
            seen.insert(&f.data[22..38]);
        });
        frames[40..80]
            .iter()
            .filter(|f| seen.insert(&f.data[22..38]))
            .count()
    };
    assert_eq!(w.rises("s1_miss").len(), first_seen);
    assert!(w.rises("s1_evict").is_empty());

    // The BAR write after frame 60, at that frame's cycle: the strobe for that one cycle,
    // its offset and value; no write is a comment.
    let c = t0 + 250 * 60;
    assert_eq!(w.rises("bar_write"), vec![ps(c)]);
    assert_eq!(w.high_cycles("bar_write"), 1);
    assert_eq!(w.bar_writes(), vec![(c, regs::INT_MOD_RECORDS.offset, 5)]);
    assert!(w.comments.is_empty(), "{:?}", w.comments);
    // Nothing is merged or written to the ring before the flush, far after the window.
    assert!(w.rises("merge_p00").is_empty() && w.rises("dma_write").is_empty());
    assert_converts_to_fst(&out);
}

#[test]
fn a_window_from_reset_holds_the_programming_sequence_one_write_per_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reset.vcd");
    let mut dev = Device::new(BuildParams::default()).unwrap();
    dev.set_trace(Tracer::create(&out, 0..1000).unwrap());
    let engine = EngineConfig::with_modes(&AggregationMode::ALL[..3]);
    let tables = Tables::default();
    harness::program(&mut dev, &engine, &tables).unwrap();
    dev.take_trace().unwrap().finish().unwrap();

    // The contract's programming path, as the harness writes it: write i at cycle i.
    let writes = program::engine_writes(&engine, regs::NUM_PROFILES).unwrap();
    let expected: Vec<(u64, u32, u32)> = writes
        .into_iter()
        .chain(program::table_writes(&tables))
        .zip(0..)
        .map(|((offset, value), c)| (c, offset, value))
        .collect();
    let w = Wave::read(&out);
    assert_eq!(w.bar_writes(), expected);
    assert_eq!(w.rises("bar_write"), vec![0]);
    assert_eq!(dev.now_cycles(), expected.len() as u64 - 1);
    assert!(w.comments.is_empty(), "{:?}", w.comments);
    assert_converts_to_fst(&out);
}

#[test]
fn a_whole_run_shows_merges_dma_and_interrupts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("all.vcd");
    let mut h = Harness::new(&HarnessConfig {
        engine: EngineConfig::with_modes(&AggregationMode::ALL[..2]),
        ..HarnessConfig::default()
    })
    .unwrap();
    h.device()
        .set_trace(Tracer::create(&out, 0..1 << 40).unwrap());
    let irqs_before = h.irqs();
    h.run(traffic(300)).unwrap();
    let records = h.records().len() as u64;
    let irqs = h.irqs() - irqs_before;
    let stats = h.stats();
    h.device().take_trace().unwrap().finish().unwrap();

    let w = Wave::read(&out);
    assert_eq!(w.high_cycles("ingress_valid"), 300);
    let flows = stats.global(GlobalStat::OrigCreated);
    assert!(flows > 0);
    // Every original flow ends at the flush and merges into both profiles.
    assert_eq!(w.high_cycles("merge_p00"), flows);
    assert_eq!(w.high_cycles("merge_p01"), flows);
    assert_eq!(w.high_cycles("merge_p02"), 0);
    assert_eq!(w.high_cycles("s1_miss"), flows);
    assert_eq!(w.high_cycles("s1_hit"), 300 - flows);
    let last = |name: &str| w.changes[name].last().map_or(0, |(_, x)| *x);
    assert_eq!(last("ring_prod"), records);
    assert_eq!(last("ring_cons"), records);
    assert_eq!(last("s1_entries"), 0);
    assert_eq!(last("flush_busy"), 0);
    assert!(w.high_cycles("flush_busy") > 0);
    assert!(w.high_cycles("dma_write") > 0);
    // Several messages may share a cycle; each cycle with one shows.
    assert!((1..=irqs).contains(&w.high_cycles("irq")), "{irqs}");
    let mut flush_done = regs::IntBits(0);
    flush_done.set_flush_done(true);
    assert!(w.changes["int_status"]
        .iter()
        .any(|(_, x)| *x as u32 & flush_done.0 != 0));
    assert_converts_to_fst(&out);
}
