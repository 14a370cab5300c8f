//! Every command of the `nsflow` binary and its error paths: the README's first command
//! (flows arrive at the in-process collector, as many packets per mode as the device
//! keyed), `run` with `--generate` and `--commit-at`, `run`'s usage errors, `check-config`
//! on good and bad files (VRP errors with the caret), `collect` receiving a run's export,
//! `regcheck`, and inputs refused saying what they are (an empty capture, a binary
//! configuration, a vfio-user path that is no socket; a byte-order mark is taken, an
//! empty configuration warned about).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_tests::{free_udp_port, nsflow_binary, require_shared, workspace_root};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn nsflow(args: &[&str]) -> Output {
    Command::new(nsflow_binary())
        .args(args)
        .current_dir(workspace_root())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The columns after the name on the line of `name` in a table that starts at `header`.
fn row(out: &str, header: &str, name: &str) -> Vec<u64> {
    let table = &out[out
        .find(header)
        .unwrap_or_else(|| panic!("{header}:\n{out}"))..];
    let line = table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} row:\n{out}"));
    line.split_whitespace()
        .skip(1)
        .map_while(|w| w.parse().ok())
        .collect()
}

/// The README's first command starts with `cargo run --release --`: at the workspace root
/// that must pick the `nsflow` binary (the root package is the only default member), not
/// stop on "could not determine which binary to run". Checked with the test's own profile
/// (`cargo run` picks the binary the same way in every profile).
#[test]
fn cargo_run_at_the_root_runs_nsflow() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let command = readme
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap();
    assert!(command.starts_with("cargo run --release -- "), "{command}");
    let out = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args(["run", "-q", "--", "--version"])
        .current_dir(workspace_root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("nsflow "),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn the_readme_first_command_shows_flows_collected_per_mode() {
    if require_shared().is_none() {
        return;
    }
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let block = readme.split("```sh\n").nth(1).unwrap();
    let command = block.lines().next().unwrap();
    let args = command
        .strip_prefix("cargo run --release -- ")
        .unwrap_or_else(|| panic!("README's first command changed: {command}"));
    let mut args: Vec<&str> = args.split_whitespace().collect();
    args.push("--quiet");
    let out = nsflow(&args);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", text(&out.stderr));
    let ipv6: u64 = stdout
        .split("IPv6 ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        ipv6 > 1000,
        "the quick-start capture has IPv6 traffic: {stdout}"
    );
    let collected = &stdout[stdout.find("collected (in-process collector)").unwrap()..];
    for mode in ["as", "prefix", "protocol-port"] {
        // mode table: orig flows, aggregates, records, packets, bytes, drops
        let m = row(&stdout, "orig flows", mode);
        // collector table: records, flows, packets, bytes
        let c = row(collected, "records", mode);
        assert_eq!(m[3], ipv6, "{mode}: every keyed packet in a record");
        assert_eq!((c[0], c[2], c[3]), (m[2], m[3], m[4]), "{mode}:\n{stdout}");
    }
}

#[test]
fn run_with_generated_traffic_and_a_commit() {
    let out = nsflow(&[
        "run",
        "--config",
        "examples/protocol-port.cfg",
        "--generate",
        "flows=50,pps=10000,seconds=1,seed=3",
        "--commit-at",
        "5000:examples/commit-export.cfg",
        "--quiet",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", text(&out.stderr));
    assert!(stdout.contains("frames offered 10000"), "{stdout}");
    assert!(
        stdout.contains(
            "commit examples/commit-export.cfg at frame 5000: export changed: protocol-port"
        ),
        "{stdout}"
    );
    for mode in ["protocol-port", "protocol-port-tos"] {
        let m = row(&stdout, "orig flows", mode);
        assert_eq!(m[3], 10_000, "{mode}: every generated packet in a record");
    }
}

#[test]
fn run_usage_errors() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "--config", "examples/quickstart.cfg"],
            "nsflow: the embedded simulator needs traffic: give --pcap FILE... or --generate SPEC\n",
        ),
        (
            &["run", "--config", "examples/quickstart.cfg", "--generate", "flows=0"],
            "nsflow: --generate flows=0: flows must be 1..4294967295 (expected e.g. flows=1000,pps=1000000,seconds=1,seed=1,tcp=50,sizes=64:7/576:4/1500:1,random-sources)\n",
        ),
        (
            &["run", "--config", "examples/quickstart.cfg", "--generate", "colour=red"],
            "nsflow: --generate colour=red: unknown key `colour` (expected e.g. flows=1000,pps=1000000,seconds=1,seed=1,tcp=50,sizes=64:7/576:4/1500:1,random-sources)\n",
        ),
        (
            &["run", "--config", "examples/quickstart.cfg", "--generate", "flows=1", "--commit-at", "x:examples/commit-export.cfg"],
            "nsflow: --commit-at x:examples/commit-export.cfg: expected FRAMES:FILE, e.g. 5000:examples/commit.cfg\n",
        ),
        (
            &["run", "--config", "examples/quickstart.cfg", "--generate", "flows=1", "--commit-at", "5"],
            "nsflow: --commit-at 5: expected FRAMES:FILE, e.g. 5000:examples/commit.cfg\n",
        ),
        (
            &["run", "--config", "examples/no-such.cfg", "--generate", "flows=1"],
            "nsflow: cannot read examples/no-such.cfg: No such file or directory (os error 2)\n",
        ),
        (
            &["run", "--config", "examples/quickstart.cfg", "--generate", "flows=1", "--device", "bogus"],
            "",
        ),
        (
            &["run", "--config", "examples/quickstart.cfg", "--pcap", "examples/routes.txt"],
            "",
        ),
        (
            &["run", "--config", "examples/routes.txt", "--generate", "flows=1"],
            "nsflow: line 6, column 1:\nroute 2001:db8::/32",
        ),
        (
            &["run", "--config", "examples/quickstart.cfg", "--routes", "examples/quickstart.cfg", "--generate", "flows=1"],
            "nsflow: route file: ",
        ),
    ];
    for (args, want) in cases {
        let out = nsflow(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with("nsflow: "), "{args:?}: {err}");
        assert!(err.starts_with(want), "{args:?}:\n{err}\nwanted:\n{want}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // clap's own errors: exit 2.
    for args in [
        &["run"][..],
        &[
            "run",
            "--config",
            "x",
            "--pcap",
            "a",
            "--generate",
            "flows=1",
        ],
        &["frobnicate"],
    ] {
        assert_eq!(nsflow(args).status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn check_config_prints_the_configuration_or_the_errors_with_the_caret() {
    let out = nsflow(&["check-config", "examples/quickstart.cfg"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.starts_with("#\nipv6 netstream export template sequence-number fixed\n"));
    assert!(shown.contains("ipv6 netstream aggregation prefix\n enable\n export version ipfix\n mask source minimum 48\n"));
    assert!(shown.ends_with("#\nreturn\n"));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.cfg");
    std::fs::write(
        &bad,
        "system-view\nipv6 netstream export host 10.0.0.1 70000\nipv6 netstream aggregation as\n enable\n tmplate timeout-rate 5\n",
    )
    .unwrap();
    let out = nsflow(&["check-config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "{}: line 2, column 37:\nipv6 netstream export host 10.0.0.1 70000\n                                    ^\nError: Wrong parameter found at '^' position.\n  UDP port 70000 is out of range: it must be an integer from 1 to 65535\n\n",
            bad.display()
        )),
        "{err}"
    );
    assert!(text(&out.stderr).contains("line 5, column 2:\n tmplate timeout-rate 5\n ^\nError: Unrecognized command found at '^' position."));

    // Commit check (A12) and warnings.
    std::fs::write(
        &bad,
        "system-view\nipv6 netstream aggregation mpls-label\n enable\n",
    )
    .unwrap();
    let out = nsflow(&["check-config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("line 3, column 2:\n enable\n ^\nError: The configuration cannot be committed.\n  ipv6 netstream aggregation mpls-label is enabled, but it needs"), "{err}");
    std::fs::write(
        &bad,
        "system-view\nipv6 netstream aggregation as\n enable\n",
    )
    .unwrap();
    let out = nsflow(&["check-config", bad.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("Warning: aggregation as: no ipv6 netstream export source"));
    let out = nsflow(&["check-config", "no-such-file.cfg"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("nsflow: cannot read no-such-file.cfg"));
}

fn stop_with_sigint(child: &std::process::Child) {
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// The quick-start configuration sending to `port` instead of 9995.
fn quickstart_to(port: u16, dir: &Path) -> std::path::PathBuf {
    let cfg = std::fs::read_to_string(workspace_root().join("examples/quickstart.cfg"))
        .unwrap()
        .replace("127.0.0.1 9995", &format!("127.0.0.1 {port}"));
    let p = dir.join("quickstart.cfg");
    std::fs::write(&p, cfg).unwrap();
    p
}

#[test]
fn collect_receives_what_a_run_exports() {
    let port = free_udp_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = quickstart_to(port, dir.path());
    for summary in [true, false] {
        let mut args = vec![
            "collect".to_owned(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ];
        if summary {
            args.push("--summary".into());
        }
        let mut child = Command::new(nsflow_binary())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The collector says when it listens.
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        std::io::BufRead::read_line(&mut err, &mut first).unwrap();
        assert_eq!(
            first,
            format!("collecting on 127.0.0.1:{port} (Ctrl-C or SIGTERM to stop)\n")
        );
        let run = nsflow(&[
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--generate",
            "flows=20,pps=1000,seconds=2,seed=9",
            "--quiet",
        ]);
        assert!(run.status.success(), "{}", text(&run.stderr));
        let sent = text(&run.stdout);
        stop_with_sigint(&child);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let got = text(&out.stdout);
        for mode in ["as", "prefix", "protocol-port"] {
            let m = row(&sent, "orig flows", mode);
            let c = row(&got, "records", mode);
            // records, packets, bytes
            assert_eq!((c[0], c[2], c[3]), (m[2], m[3], m[4]), "{mode}:\n{got}");
            assert_eq!(m[3], 2000, "{mode}");
        }
        let flow_lines = got
            .lines()
            .filter(|l| l.starts_with("protocol-port ") && l.contains(" proto "))
            .count();
        if summary {
            assert_eq!(flow_lines, 0, "{got}");
        } else {
            assert!(flow_lines > 0, "{got}");
        }
        assert!(got.contains("messages received, 0 could not be decoded"));
    }
    let out = nsflow(&["collect", "--listen", "192.0.2.1:9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("nsflow: cannot listen on 192.0.2.1:9: "));
}

#[test]
fn regcheck_passes_on_the_model() {
    let out = nsflow(&["regcheck"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).starts_with("regcheck of sim"));
    let out = nsflow(&["regcheck", "--device", "bogus"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn inputs_that_are_not_what_they_should_be_are_refused_saying_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    // A zero-byte capture: not "failed to fill whole buffer".
    std::fs::write(path("empty.pcap"), b"").unwrap();
    let empty = path("empty.pcap");
    let out = nsflow(&[
        "run",
        "--config",
        "examples/quickstart.cfg",
        "--pcap",
        &empty,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("nsflow: capture {empty} is empty (0 bytes): not a pcap/pcapng capture\n")
    );
    // A configuration saved with a UTF-8 byte-order mark is taken.
    let quickstart = std::fs::read(workspace_root().join("examples/quickstart.cfg")).unwrap();
    let bom = [&b"\xEF\xBB\xBF"[..], &quickstart].concat();
    std::fs::write(path("bom.cfg"), bom).unwrap();
    let out = nsflow(&["check-config", &path("bom.cfg")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A binary file given as a configuration: its first line that is not text is named.
    std::fs::write(
        path("binary.cfg"),
        b"system-view\n\x7fELF\x02\x01\x01\xff\xfe\n",
    )
    .unwrap();
    let binary = path("binary.cfg");
    let out = nsflow(&["check-config", &binary]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("nsflow: cannot read {binary}: line 2 is not UTF-8 text (byte 19): not a configuration or text file\n")
    );
    // A configuration that enables nothing runs, and says it exports nothing.
    std::fs::write(path("nothing.cfg"), b"system-view\ncommit\n").unwrap();
    let out = nsflow(&[
        "run",
        "--config",
        &path("nothing.cfg"),
        "--generate",
        "flows=10,pps=1000,seconds=1",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .contains("warning: no aggregation mode is enabled: nothing is aggregated or exported"),
        "{}",
        text(&out.stdout)
    );
    // vfio-user: a directory or a file is not a socket; nothing there is no server.
    for (target, why) in [
        (
            dir.path().to_str().unwrap().to_owned(),
            "it is a directory, not a vfio-user socket",
        ),
        (binary.clone(), "it is a file, not a vfio-user socket"),
        (
            path("nothing.sock"),
            "no such socket: no vfio-user server listens there",
        ),
    ] {
        let out = nsflow(&[
            "run",
            "--config",
            "examples/quickstart.cfg",
            "--device",
            &format!("vfio-user:{target}"),
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr)
                .starts_with(&format!("nsflow: vfio-user: connect to {target}: {why}")),
            "{}",
            text(&out.stderr)
        );
    }
}

/// A capture whose link type the parser does not take is replayed (its frames count as
/// "other") and the operator is warned once for the file, with the count and the link
/// type, instead of silently.
#[test]
fn frames_of_a_link_type_the_parser_does_not_take_are_warned_about_once_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("linktype229.pcap");
    // A classic little-endian microsecond pcap of link type 229, which the parser has no
    // adapter for, with 5 records of 40 bytes.
    let mut bytes = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
    bytes.extend_from_slice(&[2, 0, 4, 0]); // version 2.4, two u16s
    for v in [0u32, 0, 65_535, 229] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    for i in 0..5u32 {
        for v in [1_700_000_000 + i, 0, 40, 40] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.extend_from_slice(&[0x60; 40]);
    }
    std::fs::write(&pcap, &bytes).unwrap();
    let out = nsflow(&[
        "run",
        "--config",
        "examples/quickstart.cfg",
        "--quiet",
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{stdout}");
    assert!(
        stdout.contains("frames offered 5, received 5") && stdout.contains("other 5 frames"),
        "{stdout}"
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("does not take"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("5 frames with link type 229"),
        "{stderr}"
    );
}
