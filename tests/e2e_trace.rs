//! `nsflow trace`: the driver brings the in-process model up and drains it; a window from
//! reset holds the driver's programming sequence, one register write per cycle, and a
//! later window holds exactly the events the documented timing puts in it. Every trace
//! written here must convert to FST with GTKWave's `vcd2fst` and back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::regs::{self, Ctrl};
use nsflow_rtl::tables::Tables;
use nsflow_rtl::{program, AggregationMode};
use nsflow_testkit::wave::{assert_converts_to_fst, ps, traffic_1mpps as traffic, Wave, SIGNALS};
use std::path::Path;
use std::process::{Command, Output};

/// Frames in the capture, 250 cycles apart.
const FRAMES: u64 = 300;
/// Profiles the trace enables.
const PROFILES: usize = 3;

/// A capture of [`FRAMES`] generated frames at `path`.
fn write_capture(path: &Path) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = pcap_file::pcap::PcapWriter::new(f).unwrap();
    for fr in &traffic(FRAMES) {
        let ts = std::time::Duration::from_nanos(fr.ts_ns);
        let p = pcap_file::pcap::PcapPacket::new(ts, fr.data.len() as u32, &fr.data);
        w.write_packet(&p).unwrap();
    }
}

/// `nsflow trace` of cycles `[from, to)` of a replay of `pcap` into `out`; it succeeds.
fn trace(pcap: &Path, from: u64, to: u64, out: &Path) -> Output {
    let run = Command::new(nsflow_tests::nsflow_binary())
        .arg("trace")
        .arg("--pcap")
        .arg(pcap)
        .args(["--config-profiles", &PROFILES.to_string()])
        .args(["--from", &from.to_string(), "--to", &to.to_string()])
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    run
}

/// The driver's bring-up: soft reset, tables, engine, ring (its addresses are the
/// driver's, so offsets only), enable.
fn bring_up_writes() -> Vec<(u32, Option<u32>)> {
    let ctrl = |f: fn(&mut Ctrl)| {
        let mut c = Ctrl(0);
        f(&mut c);
        (regs::CTRL.offset, Some(c.0))
    };
    let engine = EngineConfig::with_modes(&AggregationMode::ALL[..PROFILES]);
    let known = |w: Vec<program::Write>| w.into_iter().map(|(o, v)| (o, Some(v)));
    std::iter::once(ctrl(|c| c.set_soft_reset(true)))
        .chain(known(program::table_writes(&Tables::default())))
        .chain(known(
            program::engine_writes(&engine, regs::NUM_PROFILES).unwrap(),
        ))
        .chain(
            program::ring_writes(0, 0, 12)
                .into_iter()
                .map(|(o, _)| (o, None)),
        )
        .chain(std::iter::once(ctrl(|c| c.set_enable(true))))
        .collect()
}

#[test]
fn the_trace_command_shows_the_programming_sequence_then_a_window_of_a_capture() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("t.pcap");
    write_capture(&pcap);

    // From reset: every bring-up write, one per cycle from cycle 0, then the first frame
    // at the cycle of the last (CTRL.enable).
    let reset = dir.path().join("reset.vcd");
    let run = trace(&pcap, 0, 2000, &reset);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains(&format!("{FRAMES} frames")), "{stdout}");
    let w = Wave::read(&reset);
    let expected = bring_up_writes();
    let seen = w.bar_writes();
    assert_eq!(seen.len(), expected.len(), "{seen:x?}");
    for (i, (&(cycle, offset, value), &(want_offset, want_value))) in
        seen.iter().zip(&expected).enumerate()
    {
        assert_eq!((cycle, offset), (i as u64, want_offset), "write {i}");
        assert!(
            want_value.is_none_or(|v| v == value),
            "write {i}: {value:#x}"
        );
    }
    let t0 = expected.len() as u64 - 1;
    let first: Vec<u64> = (0..8).map(|k| ps(t0 + 250 * k)).collect();
    assert_eq!(w.rises("ingress_valid"), first);
    assert!(w.comments.is_empty(), "{:?}", w.comments);
    assert_converts_to_fst(&reset);

    // A later window: exactly its frames, nothing outside it.
    let (from, to) = (50_000u64, 60_000u64);
    let out = dir.path().join("t.vcd");
    trace(&pcap, from, to, &out);
    let w = Wave::read(&out);
    for s in SIGNALS {
        assert!(w.changes.contains_key(*s), "{s} not declared");
    }
    let expected: Vec<u64> = (0..FRAMES)
        .map(|k| t0 + 250 * k)
        .filter(|c| (from..to).contains(c))
        .map(ps)
        .collect();
    assert_eq!(expected.len(), 40);
    assert_eq!(w.rises("ingress_valid"), expected);
    assert!(w.stamps.iter().all(|t| (ps(from)..=ps(to)).contains(t)));
    assert_converts_to_fst(&out);
}

#[test]
fn the_trace_command_refuses_an_empty_window() {
    let dir = tempfile::tempdir().unwrap();
    let run = Command::new(nsflow_tests::nsflow_binary())
        .args(["trace", "--pcap", "/nonexistent.pcap"])
        .args(["--from", "10", "--to", "10", "--out"])
        .arg(dir.path().join("x.vcd"))
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("empty trace window"), "{err}");
}
