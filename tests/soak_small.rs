//! A reduced soak (issue 7, item 6; the full one is `tests/soak.sh`): the `nsflow`
//! binary replays 2 M generated packets of 200 k flows through the embedded model with
//! the soak configuration and its four mid-run commits (`examples/soak/`), exporting to
//! the in-process collector on 127.0.0.1, and the run summary must show exact
//! conservation:
//!
//! * device: per mode, the packets in records plus the packets dropped are the frames
//!   offered while the mode was enabled, and the bytes in records are exactly those
//!   frames' IPv6 bytes, computed here from the same seeded generator (nothing is
//!   dropped: the device holds rather than drops by default);
//! * exporter: per mode, every record drained was sent to the collector, none failed;
//! * collector: per mode, the records, flows, packets and bytes it decoded are those
//!   drained; it received every message sent and decoded them all.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_hwsim::generator::{Generator, GeneratorConfig};
use nsflow_rtl::parser::{parse, LinkType, Parsed};
use nsflow_tests::{free_udp_port, nsflow_binary, workspace_root};
use std::collections::BTreeMap;
use std::process::Command;

/// Generated flows.
const FLOWS: u32 = 200_000;
/// Packets per second of traffic time: one per flow and second on average.
const PPS: u64 = 200_000;
/// Traffic time, seconds.
const SECONDS: u64 = 10;
/// Generator seed.
const SEED: u64 = 7;
/// Packets of the run.
const PACKETS: u64 = PPS * SECONDS;

/// The commit files, applied at 1/5, 2/5, 3/5 and 4/5 of the packets (as `soak.sh`).
const COMMITS: [&str; 4] = [
    "examples/soak/commit-1.cfg",
    "examples/soak/commit-2.cfg",
    "examples/soak/commit-3.cfg",
    "examples/soak/commit-4.cfg",
];

/// The frame at which commit `i` (0-based) is applied.
fn commit_frame(i: usize) -> u64 {
    PACKETS * (i as u64 + 1) / 5
}

/// The frames each mode of the soak sees, given the commit files: `as` is removed by
/// commit 1 and back with commit 4, `vlan-id` is there in between, `source-prefix` is
/// removed and `mpls-label` added by commit 3; the others run throughout.
/// Each window is `(first frame, end frame)`, end exclusive.
fn windows() -> BTreeMap<&'static str, Vec<(u64, u64)>> {
    let (c1, c3, c4) = (commit_frame(0), commit_frame(2), commit_frame(3));
    let mut w: BTreeMap<&'static str, Vec<(u64, u64)>> = BTreeMap::new();
    w.insert("as", vec![(0, c1), (c4, PACKETS)]);
    w.insert("vlan-id", vec![(c1, c4)]);
    w.insert("source-prefix", vec![(0, c3)]);
    w.insert("mpls-label", vec![(c3, PACKETS)]);
    for m in [
        "as-tos",
        "bgp-nexthop-tos",
        "destination-prefix",
        "destination-prefix-tos",
        "index-tos",
        "prefix",
        "prefix-tos",
        "source-prefix-tos",
    ] {
        w.insert(m, vec![(0, PACKETS)]);
    }
    w
}

/// The IPv6 bytes (40 + payload length, as the device counts them) of every generated
/// frame, in order, from the same seeded generator the run uses.
fn frame_bytes() -> Vec<u64> {
    let mut g = Generator::new(GeneratorConfig {
        seed: SEED,
        flows: FLOWS,
        rate_pps: PPS,
        duration_ns: SECONDS * 1_000_000_000,
        ..GeneratorConfig::default()
    });
    let mut buf = Vec::new();
    let mut out = Vec::with_capacity(PACKETS as usize);
    while g.next_into(&mut buf).is_some() {
        match parse(LinkType::Ethernet, &buf) {
            Ok(Parsed::Ipv6(f)) => out.push(u64::from(f.bytes)),
            other => panic!("a generated frame is not IPv6: {other:?}"),
        }
    }
    out
}

/// The rows of the table whose header line starts with `mode` and contains `marker`,
/// up to the next blank line (or a `total` row): first column → the other columns.
fn table(out: &str, marker: &str) -> BTreeMap<String, Vec<String>> {
    let mut lines = out
        .lines()
        .skip_while(|l| !(l.starts_with("mode") && l.contains(marker)));
    assert!(lines.next().is_some(), "no table with {marker}:\n{out}");
    let mut rows = BTreeMap::new();
    for l in lines {
        let cols: Vec<String> = l.split_whitespace().map(str::to_owned).collect();
        match cols.first().map(String::as_str) {
            None | Some("total") => break,
            Some("last") => continue, // "    last error: ..." under a collector
            Some(name) => {
                assert!(
                    rows.insert(name.to_owned(), cols[1..].to_vec()).is_none(),
                    "{name} twice in the table with {marker}:\n{out}"
                );
            }
        }
    }
    rows
}

/// Column `i` of `row` as a number.
fn num(row: &[String], i: usize) -> u64 {
    row.get(i)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("column {i} of {row:?} is not a number"))
}

/// The number after `before` in `out` (up to a space, comma or colon).
fn after(out: &str, before: &str) -> u64 {
    out.split(before)
        .nth(1)
        .and_then(|s| s.split([' ', ',', ':']).next().and_then(|n| n.parse().ok()))
        .unwrap_or_else(|| panic!("no number after `{before}`:\n{out}"))
}

#[test]
fn a_reduced_soak_with_four_commits_conserves_every_packet_per_mode_to_the_collector() {
    let root = workspace_root();
    let port = free_udp_port();
    assert_ne!(port, 0, "no free UDP port on 127.0.0.1");
    let config = std::fs::read_to_string(root.join("examples/soak/soak.cfg")).unwrap();
    let host = "ipv6 netstream export host 127.0.0.1 9995";
    assert!(config.contains(host), "soak.cfg has no `{host}` line");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("soak.cfg");
    std::fs::write(
        &cfg,
        config.replace(
            host,
            &format!("ipv6 netstream export host 127.0.0.1 {port}"),
        ),
    )
    .unwrap();

    let mut cmd = Command::new(nsflow_binary());
    cmd.current_dir(&root)
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .arg("--generate")
        .arg(format!(
            "flows={FLOWS},pps={PPS},seconds={SECONDS},seed={SEED}"
        ))
        .arg("--collect")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--quiet");
    for (i, file) in COMMITS.iter().enumerate() {
        cmd.arg("--commit-at")
            .arg(format!("{}:{file}", commit_frame(i)));
    }
    let run = cmd.output().unwrap();
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{}\n{out}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!out.contains("FAILED:"), "{out}");

    // Every generated frame offered and keyed as IPv6, with the bytes the generator made.
    let bytes = frame_bytes();
    assert_eq!(bytes.len() as u64, PACKETS);
    assert_eq!(after(&out, "frames offered "), PACKETS, "{out}");
    assert_eq!(after(&out, "IPv6 "), PACKETS, "{out}");
    assert_eq!(
        after(&out, " packets / "),
        bytes.iter().sum::<u64>(),
        "keyed bytes\n{out}"
    );
    assert_eq!(
        after(&out, "drops: "),
        0,
        "the device holds, never drops\n{out}"
    );

    // Each commit at its frame.
    for (i, file) in COMMITS.iter().enumerate() {
        assert_eq!(
            after(&out, &format!("commit {file} at frame ")),
            commit_frame(i),
            "{out}"
        );
    }

    let modes = table(&out, "orig flows");
    let sent = table(&out, "msg fail");
    let collected_part = out
        .split("collected (in-process collector):")
        .nth(1)
        .unwrap_or_else(|| panic!("no collector totals:\n{out}"));
    let collected = table(collected_part, "records");
    let windows = windows();
    let names = |t: &BTreeMap<String, Vec<String>>| t.keys().cloned().collect::<Vec<_>>();
    let expected: Vec<String> = windows.keys().map(|m| (*m).to_owned()).collect();
    assert_eq!(
        names(&modes),
        expected,
        "modes enabled during the run\n{out}"
    );
    assert_eq!(names(&sent), expected, "modes exported\n{out}");
    assert_eq!(names(&collected), expected, "modes collected\n{out}");

    let mut messages_sent = 0;
    for (mode, ranges) in &windows {
        // mode table: orig flows, aggregates, records, packets, bytes, drops, export
        let m = &modes[*mode];
        let (flows, records, packets, mode_bytes, drops) =
            (num(m, 0), num(m, 2), num(m, 3), num(m, 4), num(m, 5));
        let want_packets: u64 = ranges.iter().map(|(a, b)| b - a).sum();
        let want_bytes: u64 = ranges
            .iter()
            .map(|(a, b)| bytes[*a as usize..*b as usize].iter().sum::<u64>())
            .sum();
        assert_eq!(drops, 0, "{mode}: drops\n{out}");
        assert_eq!(packets + drops, want_packets, "{mode}: packets\n{out}");
        assert_eq!(mode_bytes, want_bytes, "{mode}: bytes\n{out}");
        assert!(records > 0 && flows >= records, "{mode}: records\n{out}");
        assert_eq!(m.get(6).map(String::as_str), Some("yes"), "{mode}\n{out}");

        // collectors table: collector, messages, records, msg fail, rec fail
        let s = &sent[*mode];
        assert_eq!(s[0], format!("127.0.0.1:{port}"), "{mode}\n{out}");
        assert_eq!(num(s, 2), records, "{mode}: records sent\n{out}");
        assert_eq!((num(s, 3), num(s, 4)), (0, 0), "{mode}: failures\n{out}");
        messages_sent += num(s, 1);

        // collected table: records, flows, packets, bytes
        let c = &collected[*mode];
        assert_eq!(
            (num(c, 0), num(c, 1), num(c, 2), num(c, 3)),
            (records, flows, packets, mode_bytes),
            "{mode}: collected\n{out}"
        );
    }
    let received_line = collected_part
        .lines()
        .find(|l| l.contains(" messages received, "))
        .unwrap_or_else(|| panic!("no message count:\n{out}"));
    assert_eq!(
        received_line,
        format!("{messages_sent} messages received, 0 could not be decoded"),
        "{out}"
    );
}
