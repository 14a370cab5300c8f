//! Nothing lost whatever fails (issue 7) and on any exit path: `nsflow run` (through the
//! library) on the embedded simulator with each `--fault` injected halfway through a
//! synthetic replay; and through the binary, every way a run ends early — SIGTERM,
//! SIGHUP, SIGQUIT, a capture cut short, a missing second capture, a flush that times
//! out, SIGTERM during a ring stall — each checked for conservation and the collector's
//! totals in the summary ([`assert_exported`]).
//!
//! For every fault, per mode:
//! * every IPv6 packet the device took is in exactly one drained record or in the mode's
//!   drop counters (packets and bytes), and the device took every frame offered;
//! * the in-process collector received exactly the records drained (records, packets,
//!   bytes), nothing undecodable;
//! * the loss counters of A15 it received last (options data, per observation domain)
//!   equal the device's final drop and parse-error counters;
//!
//! and the fault did what it says: a DMA fault was recovered once and its losses counted,
//! a stalled consumer made the device hold records back, a table flood evicted original
//! flows for room, a removed device ended the run with the error after exporting what was
//! drained.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow::run::fault::{parse_fault, FaultAt};
use nsflow::run::{self, RunOptions, RunReport};
use nsflow::traffic::{parse_generate, Source};
use nsflow_rtl::regs::GlobalStat;
use nsflow_rtl::AggregationMode as M;
use nsflow_tests::{free_udp_port, hwsim_binary, nsflow_binary, require_shared, workspace_root};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Generated traffic: 200 000 IPv6 packets of 20 000 flows over 40 s of capture time
/// (replayed as fast as the model goes), so that the 15 s active timers export records
/// throughout, before and after each fault.
const TRAFFIC: &str = "flows=20000,pps=5000,seconds=40,seed=7";
const PACKETS: u64 = 200_000;
/// Where the faults strike.
const HALFWAY: u64 = PACKETS / 2;
/// A stalled consumer from 28 s of traffic time for 1 s of wall time: the flows' 30 s
/// active-timer wave comes 10 000 frames later, well within the stall on any machine,
/// and fills the ring.
const STALL: &str = "ring-stall=1000@140000";
/// The modes exported (v9 and IPFIX both).
const MODES: [(M, &str); 4] = [
    (M::ProtocolPort, "ipfix"),
    (M::SourcePrefix, "9"),
    (M::DestinationPrefixTos, "ipfix"),
    (M::As, "9"),
];

/// Modes whose keys ignore the source address: a flood from random sources fills the
/// stage-1 table but merges into few aggregates (few records for the collector).
const FLOOD_MODES: [(M, &str); 2] = [(M::As, "9"), (M::DestinationPrefixTos, "ipfix")];

/// The configuration with every mode exported to each of `ports` on 127.0.0.1.
fn config(ports: &[u16], modes: &[(M, &str)]) -> String {
    let mut c = String::from(
        "system-view\nipv6 netstream export template sequence-number fixed\n\
         ipv6 netstream timeout active interval-second 15\n\
         ipv6 netstream timeout inactive 5\n\
         ipv6 netstream aggregation timeout active interval-second 15\n\
         ipv6 netstream aggregation timeout inactive 20\n\
         ipv6 netstream export source 127.0.0.1\n",
    );
    for port in ports {
        c.push_str(&format!("ipv6 netstream export host 127.0.0.1 {port}\n"));
    }
    for (m, v) in modes {
        c.push_str(&format!(
            "ipv6 netstream aggregation {m}\n enable\n export version {v}\n quit\n"
        ));
    }
    c.push_str("commit\n");
    c
}

/// Runs the synthetic replay on the default model with `faults`, a ring of
/// 2^`ring_log2` records and [`MODES`] exported to the in-process collector only.
fn run_with(faults: &[&str], ring_log2: u8) -> RunReport {
    run_on("sim", faults, ring_log2, &MODES, &[])
}

/// The synthetic replay on `device` with `faults`, a ring of 2^`ring_log2` records and
/// `modes` exported to the in-process collector and to the `more` ports on 127.0.0.1.
fn run_on(
    device: &str,
    faults: &[&str],
    ring_log2: u8,
    modes: &[(M, &str)],
    more: &[u16],
) -> RunReport {
    let port = free_udp_port();
    let ports: Vec<u16> = std::iter::once(port).chain(more.iter().copied()).collect();
    let opts = RunOptions {
        config: config(&ports, modes),
        routes: Some(
            std::fs::read_to_string(workspace_root().join("examples/routes.txt")).unwrap(),
        ),
        device: device.into(),
        source: Some(Source::Generate(parse_generate(TRAFFIC).unwrap())),
        collect: Some(format!("127.0.0.1:{port}").parse().unwrap()),
        ring_log2,
        commits: Vec::new(),
        faults: faults.iter().map(|f| parse_fault(f).unwrap()).collect(),
        flush_timeout: None,
    };
    run::run(
        opts,
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    )
    .unwrap()
}

/// The conservation and loss-counter checks every fault must pass; `offered` frames
/// were offered (a flood adds its own).
fn assert_accounted(what: &str, r: &RunReport, offered: u64) {
    assert_accounted_modes(what, r, offered, &MODES);
}

fn assert_accounted_modes(what: &str, r: &RunReport, offered: u64, modes: &[(M, &str)]) {
    eprintln!("--- {what}\n{}", r.render());
    let keyed = (
        r.device.global(GlobalStat::Ipv6Packets),
        r.device.global(GlobalStat::Ipv6Bytes),
    );
    assert_eq!(r.frames, offered, "{what}: frames offered");
    if r.failure.is_none() {
        assert_eq!(keyed.0, offered, "{what}: the device took every frame");
    }
    let collected = r.collected.as_ref().expect("in-process collector");
    assert_eq!(collected.decode_errors, 0, "{what}");
    assert_eq!(
        (
            collected.missing_v9_messages,
            collected.missing_ipfix_records
        ),
        (0, 0),
        "{what}: no sequence gap at the in-process collector"
    );
    assert_eq!(r.conservation(), Vec::<String>::new(), "{what}");
    for (mode, _) in modes {
        let mode = *mode;
        let m = &r.modes[&mode];
        assert_eq!(
            (m.packets + m.drop_packets, m.bytes + m.drop_bytes),
            keyed,
            "{what}: {mode}: drained {:?} + dropped {:?} vs keyed",
            (m.packets, m.bytes),
            (m.drop_packets, m.drop_bytes)
        );
        let c = collected.modes.get(&mode).copied().unwrap_or_default();
        assert_eq!(
            (c.records, c.packets, c.bytes, c.flows),
            (m.records, m.packets, m.bytes, m.flows),
            "{what}: {mode}: collected vs drained"
        );
        // Each mode's domain carries its own mode's losses (decision D2): what the
        // device dropped of it, and what it still held when a flush was given up.
        let domain = 1 + u32::from(mode.index());
        let loss = r.loss.get(&mode).copied().unwrap_or_default();
        assert_eq!(
            collected.loss.get(&domain),
            Some(&loss),
            "{what}: {mode}: loss counters at the collector (domain {domain})"
        );
        let (held_p, held_b) = m.not_exported();
        assert_eq!(
            (loss.not_sent_packets, loss.not_sent_octets),
            (m.drop_packets + held_p, m.drop_bytes + held_b),
            "{what}: {mode}: loss counters are the mode's own"
        );
        assert!(loss.not_sent_packets <= keyed.0, "{what}: {mode}: {loss:?}");
    }
}

#[test]
fn no_fault_baseline() {
    let r = run_with(&[], 10);
    assert_accounted("baseline", &r, PACKETS);
    assert_eq!((r.recoveries, r.failure.as_deref()), (0, None));
    assert_eq!(r.loss.values().map(|l| l.not_sent_packets).sum::<u64>(), 0);
}

#[test]
fn a_dma_fault_is_recovered_and_its_losses_exported() {
    let r = run_with(&[&format!("dma@{HALFWAY}")], 10);
    assert_accounted("dma", &r, PACKETS);
    assert_eq!((r.recoveries, r.failure.as_deref()), (1, None));
    for (mode, _) in MODES {
        let m = &r.modes[&mode];
        assert!(
            m.drop_packets > 0 && m.packets > 0,
            "{mode}: what the device held at the fault is dropped and counted, the rest exported: {m:?}"
        );
    }
}

#[test]
fn lost_interrupts_lose_nothing() {
    let r = run_with(&[&format!("lost-irq@{HALFWAY}")], 10);
    assert_accounted("lost-irq", &r, PACKETS);
    assert_eq!(r.loss.values().map(|l| l.not_sent_packets).sum::<u64>(), 0);
}

#[test]
fn a_clock_jump_loses_nothing() {
    let r = run_with(&[&format!("clock-jump=3600@{HALFWAY}")], 10);
    assert_accounted("clock-jump", &r, PACKETS);
    assert_eq!(r.loss.values().map(|l| l.not_sent_packets).sum::<u64>(), 0);
}

#[test]
fn a_stalled_consumer_fills_the_ring_and_loses_nothing() {
    let r = run_with(&[STALL], 6);
    assert_accounted("ring-stall", &r, PACKETS);
    assert!(
        r.device.global(GlobalStat::StallRingFull) > 0,
        "the device held records back while the ring was full"
    );
    assert_eq!(r.loss.values().map(|l| l.not_sent_packets).sum::<u64>(), 0);
}

#[test]
fn a_stalled_consumer_on_a_dropping_device_exports_its_drops() {
    let r = run_on("sim:drop-on-full", &[STALL], 6, &MODES, &[]);
    assert_accounted("ring-stall, drop-on-full", &r, PACKETS);
    assert!(
        r.loss
            .values()
            .any(|l| l.not_sent_packets > 0 && l.not_sent_flows > 0),
        "the full ring made the device drop records, counted and exported: {:?}",
        r.loss
    );
}

#[test]
fn a_table_flood_evicts_for_room_and_loses_nothing() {
    const FLOOD: u64 = 600_000;
    let r = run_on(
        "sim",
        &[&format!("table-flood={FLOOD}@{HALFWAY}")],
        12,
        &FLOOD_MODES,
        &[],
    );
    assert_accounted_modes("table-flood", &r, PACKETS + FLOOD, &FLOOD_MODES);
    assert!(
        r.device.global(GlobalStat::OrigEvicted) > 0,
        "the flood overflowed stage-1 sets"
    );
}

#[test]
fn a_driver_restart_mid_stream_reads_each_record_once() {
    let r = run_with(&[&format!("restart@{HALFWAY}")], 8);
    assert_accounted("restart", &r, PACKETS);
    assert_eq!(r.loss.values().map(|l| l.not_sent_packets).sum::<u64>(), 0);
}

#[test]
fn several_faults_in_one_run_lose_nothing() {
    let r = run_with(
        &[
            "lost-irq@10000",
            "ring-stall=100@30000",
            "dma@50000",
            "restart@60000",
            "clock-jump=600@70000",
            "dma@120000",
        ],
        8,
    );
    assert_accounted("several", &r, PACKETS);
    assert_eq!(r.recoveries, 2);
}

#[test]
fn a_device_that_stops_answering_ends_the_run_with_what_was_drained_exported() {
    let r = run_with(&[&format!("removed@{HALFWAY}")], 10);
    let why = r.failure.as_deref().expect("the run reports the failure");
    assert!(why.contains("does not answer"), "{why}");
    assert!(r.frames >= HALFWAY && r.frames < PACKETS, "{}", r.frames);
    let collected = r.collected.as_ref().unwrap();
    for (mode, _) in MODES {
        let m = &r.modes[&mode];
        let c = collected.modes.get(&mode).copied().unwrap_or_default();
        assert_eq!(
            (c.records, c.packets, c.bytes),
            (m.records, m.packets, m.bytes),
            "{mode}: everything drained reached the collector"
        );
        assert_eq!(
            collected.loss.get(&(1 + u32::from(mode.index()))),
            r.loss.get(&mode),
            "{mode}: the last loss counters read reached the collector"
        );
    }
}

#[test]
fn faults_need_the_embedded_simulator() {
    let opts = RunOptions {
        config: config(&[free_udp_port()], &MODES),
        routes: None,
        device: "vfio-user:/nonexistent/nsflow.sock".into(),
        source: None,
        collect: None,
        ring_log2: 10,
        commits: Vec::new(),
        faults: vec![FaultAt {
            frames: 1,
            kind: parse_fault("dma").unwrap().kind,
        }],
        flush_timeout: None,
    };
    let e = run::run(
        opts.clone(),
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("--fault injects into the embedded simulator"),
        "{e}"
    );
    // A bad specification on the command line names the accepted kinds.
    let out = Command::new(nsflow_binary())
        .args([
            "run",
            "--config",
            "examples/quickstart.cfg",
            "--fault",
            "melt@3",
        ])
        .current_dir(workspace_root())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("unknown fault `melt`") && err.contains("dma, lost-irq"),
        "{err}"
    );
}

/// The number after `label` in `text`.
fn number_after(text: &str, label: &str) -> u64 {
    text.split(label)
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|w| w.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("no `{label}` in:\n{text}"))
}

/// What a run of the `nsflow` binary printed, and how it exited.
struct Ran {
    status: std::process::ExitStatus,
    out: String,
    err: String,
}

/// Runs `nsflow run --config CFG ARGS --collect 127.0.0.1:PORT --quiet` in the workspace
/// with [`MODES`] exported to the in-process collector (and to the system-view `hosts`
/// lines, if any); with `signal`,
/// sends it `(after, NAME)` once that long has passed, while it still runs. Gives it two
/// minutes to exit.
fn nsflow_run(args: &[&str], hosts: &str, signal: Option<(Duration, &str)>) -> Ran {
    nsflow_run_while(args, hosts, |child| {
        if let Some((after, name)) = signal {
            std::thread::sleep(after);
            assert!(child.try_wait().unwrap().is_none(), "still running");
            let pid = i32::try_from(child.id()).unwrap();
            Command::new("kill")
                .args([&format!("-{name}"), &pid.to_string()])
                .status()
                .unwrap();
        }
    })
}

/// As [`nsflow_run`], with `during` called on the running child (to disturb it).
fn nsflow_run_while(args: &[&str], hosts: &str, during: impl FnOnce(&mut Child)) -> Ran {
    let port = free_udp_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("faults.cfg");
    let text =
        config(&[port], &MODES).replacen("system-view\n", &format!("system-view\n{hosts}"), 1);
    std::fs::write(&cfg, text).unwrap();
    let mut child = Command::new(nsflow_binary())
        .args(["run", "--config"])
        .arg(&cfg)
        .args(["--routes", "examples/routes.txt"])
        .args(args)
        .args(["--collect", &format!("127.0.0.1:{port}"), "--quiet"])
        .current_dir(workspace_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the pipes as the run goes, so that a full pipe never holds it up.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    during(&mut child);
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no exit within two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ran {
        status,
        out: out.join().unwrap(),
        err: err.join().unwrap(),
    }
}

/// The numbers after the name on the line of `name` in the table of `out` that starts
/// at `header`.
fn row(out: &str, header: &str, name: &str) -> Vec<u64> {
    let table = &out[out
        .find(header)
        .unwrap_or_else(|| panic!("no {header}:\n{out}"))..];
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} row:\n{out}"))
        .split_whitespace()
        .skip(1)
        .map_while(|w| w.parse().ok())
        .collect()
}

/// What a run's summary must show whatever ended it: the run's own conservation line,
/// per mode every packet the device keyed in a record or a drop counter, and the
/// in-process collector holding every record drained (records, flows, packets, bytes).
/// Returns the packets keyed.
fn assert_exported(r: &Ran) -> u64 {
    let out = &r.out;
    assert!(
        out.contains(
            "conservation: every packet merged is in one record or one drop counter, every mode"
        ),
        "{}\n{out}",
        r.err
    );
    let keyed = number_after(out, "IPv6 ");
    let collected = &out[out
        .find("collected (in-process collector):")
        .unwrap_or_else(|| panic!("no collector table:\n{out}"))..];
    for (mode, _) in MODES {
        // orig flows, aggregates, records, packets, bytes, drops
        let m = row(out, "orig flows", mode.name());
        assert_eq!(m[3] + m[5], keyed, "{mode}: records + drops = keyed\n{out}");
        // records, flows, packets, bytes
        let c = row(collected, "records", mode.name());
        assert_eq!(
            (c[0], c[1], c[2], c[3]),
            (m[2], m[0], m[3], m[4]),
            "{mode}: collected = drained\n{out}"
        );
    }
    assert!(!out.contains("WARNING"), "{out}");
    keyed
}

#[test]
fn sigterm_during_a_replay_stops_gracefully_and_exports_everything() {
    // 20 s of traffic at 1 Mpps: far more than is replayed before the signal.
    let r = nsflow_run(
        &["--generate", "flows=20000,pps=1000000,seconds=20,seed=7"],
        "",
        Some((Duration::from_secs(2), "TERM")),
    );
    assert!(r.status.success(), "{}: {}\n{}", r.status, r.err, r.out);
    let out = &r.out;
    let offered = number_after(out, "frames offered ");
    assert!(
        offered > 0 && offered < 20_000_000,
        "stopped mid-replay: {offered} frames"
    );
    assert_eq!(
        assert_exported(&r),
        offered,
        "the device took every frame offered"
    );
    assert!(
        out.contains(&format!(
            "stopped: interrupted by SIGTERM after {offered} frames"
        )),
        "{out}"
    );
    let collected = &out[out.find("collected (in-process collector):").unwrap()..];
    for (mode, _) in MODES {
        let domain = 1 + u32::from(mode.index());
        assert!(
            collected.contains(&format!(
                "loss counters of domain {domain}: not sent 0 flows 0 packets 0 bytes"
            )),
            "{mode}: the final loss counters reached the collector\n{out}"
        );
    }
}

#[test]
fn sighup_and_sigquit_stop_gracefully_like_sigterm() {
    for name in ["HUP", "QUIT"] {
        let r = nsflow_run(
            &["--generate", "flows=20000,pps=1000000,seconds=20,seed=7"],
            "",
            Some((Duration::from_secs(2), name)),
        );
        assert!(
            r.status.success(),
            "SIG{name}: {}: {}\n{}",
            r.status,
            r.err,
            r.out
        );
        let offered = number_after(&r.out, "frames offered ");
        assert!(offered > 0 && offered < 20_000_000, "SIG{name}: {offered}");
        assert_eq!(assert_exported(&r), offered, "SIG{name}");
        assert!(
            r.out.contains(&format!(
                "stopped: interrupted by SIG{name} after {offered} frames"
            )),
            "{}",
            r.out
        );
    }
}

#[test]
fn sigterm_during_a_ring_stall_ends_the_stall_and_exports_everything() {
    // The consumer stalls for 10 minutes from frame 1000 on a 64-record ring: the ring
    // fills at the first timer wave and the traffic waits, until the signal.
    let r = nsflow_run(
        &[
            "--generate",
            TRAFFIC,
            "--ring-log2",
            "6",
            "--fault",
            "ring-stall=600000@1000",
        ],
        "",
        Some((Duration::from_secs(3), "TERM")),
    );
    assert!(r.status.success(), "{}: {}\n{}", r.status, r.err, r.out);
    let offered = number_after(&r.out, "frames offered ");
    assert_eq!(assert_exported(&r), offered);
    assert!(
        r.out.contains(&format!(
            "stopped: interrupted by SIGTERM after {offered} frames"
        )),
        "{}",
        r.out
    );
    assert!(!r.out.contains("FAILED"), "{}", r.out);
}

#[test]
fn a_flush_that_times_out_exports_what_it_drained_and_counts_the_rest() {
    // At the end of the traffic the consumer stalls for 20 s, longer than the flush may
    // take (1 s): the flush writes 64 records into the ring and holds the rest.
    let r = nsflow_run(
        &[
            "--generate",
            "flows=20000,pps=5000,seconds=4,seed=7",
            "--ring-log2",
            "6",
            "--fault",
            "ring-stall=20000@1000000",
            "--flush-timeout-ms",
            "1000",
        ],
        "",
        None,
    );
    let out = &r.out;
    assert_eq!(r.status.code(), Some(1), "{}\n{out}", r.err);
    assert!(
        out.contains("FAILED: flush did not complete within 1s"),
        "{out}"
    );
    assert!(
        r.err
            .contains("the run stopped early: flush did not complete within 1s"),
        "{}",
        r.err
    );
    assert!(
        out.contains("stopped: end of the traffic, 20000 frames offered (complete)"),
        "{out}"
    );
    assert!(
        out.contains("conservation: every packet merged is in one record, one drop counter or a not-exported count, every mode"),
        "{out}"
    );
    let keyed = number_after(out, "IPv6 ");
    assert_eq!(keyed, 20_000);
    let collected = &out[out.find("collected (in-process collector):").unwrap()..];
    let (mut records, mut held) = (0, 0);
    let mut held_by_mode = Vec::new();
    for (mode, _) in MODES {
        let m = row(out, "orig flows", mode.name());
        let not_exported = out
            .lines()
            .find_map(|l| l.strip_prefix(&format!("not exported: {}: ", mode.name())))
            .map_or(0, |rest| {
                rest.split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap()
            });
        assert_eq!(
            m[3] + m[5] + not_exported,
            keyed,
            "{mode}: records + drops + not exported = keyed\n{out}"
        );
        let c = row(collected, "records", mode.name());
        assert_eq!(
            (c[0], c[1], c[2], c[3]),
            (m[2], m[0], m[3], m[4]),
            "{mode}: collected = drained\n{out}"
        );
        records += m[2];
        held += not_exported;
        held_by_mode.push(not_exported);
    }
    assert!(
        records > 0 && records <= 64,
        "what the 64-record ring held was drained and exported\n{out}"
    );
    assert!(held > 0, "{out}");
    // The collector heard what was not sent in the final loss counters: each mode's
    // domain its own mode's (decision D2).
    for ((mode, _), held) in MODES.into_iter().zip(held_by_mode) {
        let domain = 1 + u32::from(mode.index());
        let sent = number_after(
            collected,
            &format!("loss counters of domain {domain}: not sent "),
        );
        let packets = number_after(
            collected,
            &format!("loss counters of domain {domain}: not sent {sent} flows "),
        );
        assert_eq!(packets, held, "{mode}\n{out}");
    }
}

/// The capture of the read-error tests: 1 801 whole records, then one cut short.
const CUT_AT: usize = 700_000;

#[test]
fn a_capture_cut_short_exports_everything_before_the_cut_and_fails() {
    let Some(shared) = require_shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcap");
    let whole = std::fs::read(shared.join("pcaps/ndpi-reddit-ipv6.pcap")).unwrap();
    std::fs::write(&cut, &whole[..CUT_AT]).unwrap();
    let r = nsflow_run(&["--pcap", cut.to_str().unwrap()], "", None);
    assert_eq!(r.status.code(), Some(1), "{}\n{}", r.err, r.out);
    assert_eq!(assert_exported(&r), 1801, "every whole record was replayed");
    let why = format!(
        "capture {} is cut short: it ends inside the record at byte 699059",
        cut.display()
    );
    assert!(
        r.out
            .contains("stopped: read error after 1801 frames (incomplete"),
        "{}",
        r.out
    );
    assert!(r.out.contains(&why), "{}", r.out);
    assert!(r.err.contains(&why), "{}", r.err);
}

#[test]
fn a_missing_second_capture_exports_the_first_and_fails() {
    let Some(shared) = require_shared() else {
        return;
    };
    let good = shared.join("pcaps/ndpi-http-ipv6.pcap");
    let r = nsflow_run(
        &["--pcap", good.to_str().unwrap(), "/nonexistent/second.pcap"],
        "",
        None,
    );
    assert_eq!(r.status.code(), Some(1), "{}\n{}", r.err, r.out);
    let offered = number_after(&r.out, "frames offered ");
    assert!(offered > 0, "{}", r.out);
    assert_eq!(assert_exported(&r), offered);
    assert!(
        r.out.contains(&format!(
            "stopped: read error after {offered} frames (incomplete: everything offered until then was flushed, drained and exported): cannot read capture /nonexistent/second.pcap: No such file or directory"
        )),
        "{}",
        r.out
    );
}

/// Per mode, the exporter's counters for the collector on `port`.
fn stats_for(r: &RunReport, mode: M, port: u16) -> &nsflow_exporter::DestinationStats {
    &r.collectors
        .iter()
        .find(|c| c.mode == mode && c.stats.collector.port() == port)
        .unwrap_or_else(|| panic!("no counters for {mode} to port {port}"))
        .stats
}

#[test]
fn an_unreachable_collector_costs_nothing_at_the_live_one() {
    // A port nobody listens on: the kernel answers with ICMP port unreachable.
    let dead = free_udp_port();
    let r = run_on("sim", &[], 10, &MODES, &[dead]);
    assert_accounted("unreachable collector", &r, PACKETS);
    let mut failed = 0;
    for (mode, _) in MODES {
        let d = stats_for(&r, mode, dead);
        assert_eq!(
            d.records_sent + d.records_failed,
            r.modes[&mode].records,
            "{mode}: every record is sent or counted as failed for the dead collector: {d:?}"
        );
        assert!(
            d.packets_failed <= r.modes[&mode].packets
                && (d.records_failed == 0) == (d.packets_failed == 0),
            "{mode}: the failed records' packets are counted: {d:?}"
        );
        failed += d.messages_failed;
        if d.messages_failed > 0 {
            assert!(
                d.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("refused")),
                "{d:?}"
            );
        }
    }
    assert!(
        failed > 0,
        "ICMP port unreachable turned into send failures"
    );
    // What the transport knows is the kernel's (rate-limited) ICMP reports: counted, and
    // the summary says what UDP cannot tell.
    let reports: u64 = MODES
        .iter()
        .map(|(m, _)| stats_for(&r, *m, dead).icmp_reports)
        .sum();
    assert!(reports > 0, "ICMP reports counted");
    let text = r.render();
    assert!(
        text.contains("unreachable: the kernel reported it")
            && text.contains("UDP gives no receipts"),
        "{text}"
    );
}

#[test]
fn a_slow_collector_costs_nothing_at_the_live_one_and_sees_its_losses() {
    use nsflow::collect::CollectTotals;
    use nsflow_exporter::Decoder;
    use std::sync::atomic::Ordering;

    // A collector with a small socket buffer (64 KiB asked: a few dozen datagrams) that
    // reads slowly at first (3 ms per datagram for 300 datagrams), then as fast as it can
    // until told to stop.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    sock.set_recv_buffer_size(64 << 10).unwrap();
    sock.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    let slow: std::net::UdpSocket = sock.into();
    let port = slow.local_addr().unwrap().port();
    slow.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let stop = done.clone();
    let reader = std::thread::spawn(move || {
        let mut dec = Decoder::new();
        let mut t = CollectTotals::default();
        let mut buf = vec![0u8; 65_536];
        let mut n = 0;
        loop {
            match slow.recv_from(&mut buf) {
                Ok((len, from)) => {
                    t.take(from, dec.decode(from, &buf[..len]), &mut |_| {});
                    n += 1;
                    if n < 300 {
                        std::thread::sleep(Duration::from_millis(3));
                    }
                }
                Err(_) if stop.load(Ordering::Relaxed) => return t,
                Err(_) => {}
            }
        }
    });
    let v9: [(M, &str); 3] = [(M::ProtocolPort, "9"), (M::As, "9"), (M::SourcePrefix, "9")];
    let r = run_on("sim", &[], 10, &v9, &[port]);
    done.store(true, Ordering::Relaxed);
    let got = reader.join().unwrap();
    // The live collector lost nothing and the run was not held back.
    assert_accounted_modes("slow collector", &r, PACKETS, &v9);
    // At the slow one: the exporter handed every message to the kernel (nothing failed or
    // waited on its account), the collector's socket overflowed, and the collector sees
    // its losses through the v9 sequence numbers — never more than were sent (losses
    // after the last message it received are invisible to sequence numbers).
    let mut sent = 0;
    for (m, _) in v9 {
        let st = stats_for(&r, m, port);
        assert_eq!(
            (st.messages_failed, st.records_sent),
            (0, r.modes[&m].records),
            "{m}: {st:?}"
        );
        sent += st.messages_sent;
    }
    eprintln!(
        "slow collector: {} of {sent} messages received, {} missing by sequence numbers",
        got.messages, got.missing_v9_messages
    );
    assert_eq!(got.decode_errors, 0);
    assert!(got.messages < sent, "the slow collector lost messages");
    assert!(
        got.missing_v9_messages > 0,
        "the losses show in the sequence numbers"
    );
    assert!(got.messages + got.missing_v9_messages <= sent);
}

#[test]
fn a_host_that_can_never_work_is_refused_and_one_that_fails_at_run_time_fails_alone() {
    // Refused when the configuration is committed, VRP-style, by check-config and run.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad-host.cfg");
    for (host, column, why) in [
        ("255.255.255.255 9995", 28, "255.255.255.255 cannot be a collector address: a collector is reached by unicast, not by broadcast or multicast"),
        ("224.0.0.1 9995", 28, "224.0.0.1 cannot be a collector address"),
        ("ipv6 fe80::1 9995", 33, "fe80::1 is link-local: it is reached through one interface, named only by `vpn-instance NAME`"),
    ] {
        let text = config(&[9995], &MODES).replacen(
            "system-view\n",
            &format!("system-view\nipv6 netstream export host {host}\n"),
            1,
        );
        std::fs::write(&cfg, text).unwrap();
        let cfg = cfg.to_str().unwrap();
        for args in [
            &["check-config", cfg][..],
            &["run", "--config", cfg, "--generate", "flows=1"],
        ] {
            let out = Command::new(nsflow_binary())
                .args(args)
                .current_dir(workspace_root())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(
                err.contains(&format!("line 2, column {column}:")) && err.contains(why),
                "{args:?}: {err}"
            );
            assert!(out.stdout.is_empty(), "{args:?}");
        }
    }
    // A VPN instance must be declared: refused at commit, pointing at the host.
    let text = config(&[9995], &MODES).replacen(
        "system-view\n",
        "system-view\nipv6 netstream export host 127.0.0.1 9 vpn-instance blue\n",
        1,
    );
    std::fs::write(&cfg, text).unwrap();
    let out = Command::new(nsflow_binary())
        .args(["check-config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("line 2, column 28:\nipv6 netstream export host 127.0.0.1 9 vpn-instance blue\n")
            && err.contains("Error: The configuration cannot be committed.\n  system view: export host 127.0.0.1 9 names vpn-instance `blue`, which does not exist: declare it with `ip vpn-instance blue` in the system view"),
        "{err}"
    );
    // A declared instance whose VRF device does not exist shows only when the socket is
    // set up: that host fails alone, every record counted as failed for it, and the others
    // export everything.
    let r = nsflow_run(
        &["--generate", "flows=2000,pps=100000,seconds=1,seed=7"],
        "ip vpn-instance blue\n vrf-device nsflow-no-vrf\nipv6 netstream export host 127.0.0.1 9 vpn-instance blue\n",
        None,
    );
    assert!(r.status.success(), "{}: {}\n{}", r.status, r.err, r.out);
    assert_eq!(assert_exported(&r), 100_000);
    for (mode, _) in MODES {
        let m = row(&r.out, "orig flows", mode.name());
        // messages, records, msg fail, rec fail
        let dead: Vec<u64> = r
            .out
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w.len() == 6 && w[0] == mode.name() && w[1] == "127.0.0.1:9")
            .unwrap_or_else(|| panic!("no {mode} row for 127.0.0.1:9\n{}", r.out))
            .iter()
            .skip(2)
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(
            (dead[0], dead[1], dead[3]),
            (0, 0, m[2]),
            "{mode}: every record failed for the dead host\n{}",
            r.out
        );
    }
    assert!(
        r.out.contains(
            "last error: vpn-instance `blue` (export host 127.0.0.1:9): its VRF device `nsflow-no-vrf` does not exist"
        ) || r.out.contains("SO_BINDTODEVICE (vpn-instance)"),
        "{}",
        r.out
    );
}

/// Writes a capture of 1 000 000 64-byte frames of 20 000 flows over 40 s of capture time
/// (the 15 s active timers export records from its first third on); returns the frames.
fn write_capture(path: &std::path::Path) -> u64 {
    use nsflow_hwsim::generator::{Generator, GeneratorConfig};
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = pcap_file::pcap::PcapWriter::new(f).unwrap();
    let mut n = 0;
    for fr in Generator::new(GeneratorConfig {
        seed: 7,
        flows: 20_000,
        sizes: vec![(64, 1)],
        rate_pps: 25_000,
        duration_ns: 40_000_000_000,
        ..GeneratorConfig::default()
    }) {
        let ts = Duration::from_nanos(fr.ts_ns);
        let p = pcap_file::pcap::PcapPacket::new(ts, fr.data.len() as u32, &fr.data);
        w.write_packet(&p).unwrap();
        n += 1;
    }
    n
}

#[test]
fn a_vfio_user_server_killed_mid_run_ends_it_like_a_failed_device() {
    use nsflow_exporter::decode::{Decoder, Set};
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("traffic.pcap");
    let total = write_capture(&pcap);
    let socket = dir.path().join("hwsim.sock");
    let mut server = Command::new(hwsim_binary())
        .arg("serve")
        .arg("--socket")
        .arg(&socket)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.starts_with("listening on"), "{ready}");
    // A second collector, the test's own: once flow records reach it, the replay is well
    // under way — the server is killed then, halfway through the capture.
    let watch = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    watch
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let hosts = format!(
        "ipv6 netstream export host 127.0.0.1 {}\n",
        watch.local_addr().unwrap().port()
    );
    let device = format!("vfio-user:{}", socket.display());
    let r = nsflow_run_while(
        &["--device", &device, "--pcap", pcap.to_str().unwrap()],
        &hosts,
        |child| {
            let mut decoder = Decoder::new();
            let mut buf = [0u8; 65536];
            let deadline = Instant::now() + Duration::from_secs(60);
            let flowing = loop {
                assert!(Instant::now() < deadline, "no flow record within 60 s");
                assert!(child.try_wait().unwrap().is_none(), "the run ended first");
                let Ok((n, from)) = watch.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(d) = decoder.decode(from, &buf[..n]) else {
                    continue;
                };
                if d.sets.iter().any(|s| {
                    matches!(s, Set::Data { options: false, records, .. } if !records.is_empty())
                }) {
                    break true;
                }
            };
            assert!(flowing);
            server.kill().unwrap();
            server.wait().unwrap();
        },
    );
    let out = &r.out;
    eprintln!("{out}\n{}", r.err);
    // Before: the summary said `stopped: end of the traffic … (complete)` and the failure
    // was a broken pipe; with the crate's client some requests waited forever.
    assert_eq!(r.status.code(), Some(1), "{}", r.err);
    let frames = number_after(out, "stopped: the device failed after ");
    assert!(frames > 0 && frames < total, "{frames} of {total}");
    assert!(
        out.contains("FAILED: vfio-user: ")
            && out.contains("the server closed the connection (it exited, was killed"),
        "{out}"
    );
    assert!(r.err.contains("the run stopped early"), "{}", r.err);
    assert!(!out.contains("CONSERVATION MISMATCH"), "{out}");
    // Everything drained reached the collector: records, flows, packets, bytes per mode.
    let collected = &out[out
        .find("collected (in-process collector):")
        .unwrap_or_else(|| panic!("no collector table:\n{out}"))..];
    let mut drained = 0;
    for (mode, _) in MODES {
        let m = row(out, "orig flows", mode.name());
        let c = row(collected, "records", mode.name());
        assert_eq!(
            (c[0], c[1], c[2], c[3]),
            (m[2], m[0], m[3], m[4]),
            "{mode}: collected = drained\n{out}"
        );
        drained += m[2];
    }
    assert!(drained > 0, "records were drained before the kill\n{out}");
}
