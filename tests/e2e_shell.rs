//! `nsflow shell` driven through a pipe: prompts per view and the uncommitted mark,
//! `?` help and TAB completion, VRP errors with the caret, a commit mid-replay, the
//! device displays (statistics, cache, template, export), `reset ipv6 netstream cache`,
//! and the final report's conservation.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_tests::{nsflow_binary, require_shared, workspace_root};
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A running shell: its input, and its output as it arrives.
struct Shell {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<(Mutex<String>, Condvar)>,
    /// Set by the reader thread at the end of the output.
    eof: Arc<(Mutex<bool>, Condvar)>,
    /// Output before this offset has been looked at.
    seen: usize,
}

impl Shell {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(nsflow_binary())
            .arg("shell")
            .args(args)
            .current_dir(workspace_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let out = Arc::new((Mutex::new(String::new()), Condvar::new()));
        let o = out.clone();
        let eof = Arc::new((Mutex::new(false), Condvar::new()));
        let e = eof.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                o.0.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
                o.1.notify_all();
            }
            *e.0.lock().unwrap() = true;
            e.1.notify_all();
        });
        Self {
            stdin: child.stdin.take(),
            child,
            out,
            eof,
            seen: 0,
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// The output from the last wait up to and including `what` (a guard against a hung
    /// shell, not a timing assertion: the shell answers in milliseconds).
    fn wait_for(&mut self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        let (lock, cv) = &*self.out;
        let mut s = lock.lock().unwrap();
        loop {
            if let Some(i) = s[self.seen..].find(what) {
                let end = self.seen + i + what.len();
                let got = s[self.seen..end].to_owned();
                self.seen = end;
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "no `{what}` in:\n{}",
                &s[self.seen..]
            );
            s = cv.wait_timeout(s, Duration::from_millis(200)).unwrap().0;
        }
    }

    /// Waits until `what` has been printed anywhere (prompts may be printed around it, so
    /// call [`Self::sync`] next).
    fn wait_anywhere(&mut self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        let (lock, cv) = &*self.out;
        let mut s = lock.lock().unwrap();
        while !s.contains(what) {
            assert!(Instant::now() < deadline, "no `{what}` in:\n{s}");
            s = cv.wait_timeout(s, Duration::from_millis(200)).unwrap().0;
        }
        s.clone()
    }

    /// Consumes the output up to the prompt after a marker line (an unknown command the
    /// shell echoes in its error).
    fn sync(&mut self, prompt: &str) {
        self.send("sync-marker");
        self.wait_for("sync-marker");
        self.wait_for(prompt);
    }

    /// Sends `line` and returns what it printed, up to the next prompt `prompt`.
    fn ask(&mut self, line: &str, prompt: &str) -> String {
        self.send(line);
        let got = self.wait_for(prompt);
        got[..got.len() - prompt.len()].to_owned()
    }

    /// Closes the input and returns the rest of the output (the final report).
    fn close(mut self) -> String {
        drop(self.stdin.take());
        let st = self.child.wait().unwrap();
        assert!(st.success());
        let (lock, cv) = &*self.eof;
        let mut done = lock.lock().unwrap();
        while !*done {
            done = cv.wait(done).unwrap();
        }
        self.out.0.lock().unwrap()[self.seen..].to_owned()
    }
}

/// Numbers after `name` on its line (the first line that starts with it).
fn numbers(out: &str, name: &str) -> Vec<u64> {
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} line in:\n{out}"));
    line.split_whitespace()
        .skip(1)
        .map_while(|w| w.parse().ok())
        .collect()
}

#[test]
fn views_prompts_help_completion_and_errors() {
    let mut sh = Shell::start(&[]);
    sh.wait_for("<nsflow>");
    assert_eq!(sh.ask("system-view", "[~nsflow]"), "\n");
    let out = sh.ask("ipv6 netstream export host 10.0.0.1 70000", "[~nsflow]");
    assert!(
        out.contains("ipv6 netstream export host 10.0.0.1 70000\n                                    ^\nError: Wrong parameter found at '^' position.\n  UDP port 70000 is out of range"),
        "{out}"
    );
    let help = sh.ask("ipv6 netstream as-mode ?", "[~nsflow]");
    assert!(help.contains("  16 ") && help.contains("  32 "), "{help}");
    let help = sh.ask("display ipv6 netstream ?", "[~nsflow]");
    for w in ["cache", "statistics", "export", "template"] {
        assert!(help.contains(&format!("  {w} ")), "{w}: {help}");
    }
    assert_eq!(
        sh.ask("display ipv6 netstream st\t", "[~nsflow]"),
        "\nstatistics\n"
    );
    assert_eq!(sh.ask("ipv6 netstream ex\t", "[~nsflow]"), "\nexport\n");
    sh.ask(
        "ipv6 netstream aggregation vlan-id",
        "[*nsflow-aggregation-ipv6-vlan-id]",
    );
    sh.ask("enable", "[*nsflow-aggregation-ipv6-vlan-id]");
    let out = sh.ask("commit", "[~nsflow-aggregation-ipv6-vlan-id]");
    assert!(
        out.contains("Warning: aggregation vlan-id: no ipv6 netstream export source"),
        "{out}"
    );
    assert!(out.contains("Info: added: vlan-id."), "{out}");
    sh.ask("quit", "[~nsflow]");
    let cfg = sh.ask("display current-configuration", "[~nsflow]");
    assert!(
        cfg.contains("ipv6 netstream aggregation vlan-id\n enable\n#\nreturn\n"),
        "{cfg}"
    );
    sh.ask("return", "<nsflow>");
    let report = sh.close();
    assert!(report.contains("vlan-id"), "{report}");
}

#[test]
fn displays_and_a_commit_during_a_replay() {
    if require_shared().is_none() {
        return;
    }
    let mut sh = Shell::start(&[
        "--config",
        "examples/quickstart.cfg",
        "--routes",
        "examples/routes.txt",
        "--pcap",
        "../shared/pcaps/zeek-http-1000-requests-ipv6.pcap",
        "../shared/pcaps/ndpi-http-ipv6.pcap",
    ]);
    sh.wait_for("<nsflow>");
    // A commit while the replay runs: `as` goes, `vlan-id` comes (timers change too).
    sh.send("system-view");
    sh.send("undo ipv6 netstream aggregation as");
    sh.send("ipv6 netstream aggregation vlan-id");
    sh.send("enable");
    sh.send("export version ipfix");
    let out = sh.ask("commit", "[~nsflow-aggregation-ipv6-vlan-id]");
    assert!(out.contains("Info: added: vlan-id; removed: as."), "{out}");
    sh.send("return");
    let done = sh.wait_anywhere("frames offered.");
    assert!(
        done.contains("Info: replay finished, 4295 frames offered."),
        "{done}"
    );
    sh.sync("<nsflow>");
    sh.ask("reset ipv6 netstream cache", "<nsflow>");

    let stats = sh.ask("display ipv6 netstream statistics", "<nsflow>");
    assert!(
        stats.contains(
            "frames offered 4295, received 4295: IPv6 4295 packets / 1355742 bytes keyed"
        ),
        "{stats}"
    );
    assert!(stats.contains("lack of resources 0"), "{stats}");
    // orig flows, aggregates, records, packets, bytes, drops
    for mode in ["prefix", "protocol-port"] {
        assert_eq!(numbers(&stats, mode)[3], 4295, "{mode}: {stats}");
    }
    let (gone, came) = (numbers(&stats, "as")[3], numbers(&stats, "vlan-id")[3]);
    assert_eq!(gone + came, 4295, "{stats}");

    let cache = sh.ask(
        "display ipv6 netstream cache aggregation protocol-port",
        "<nsflow>",
    );
    let head = cache.lines().nth(1).unwrap();
    assert!(
        head.starts_with("IPv6 aggregation cache of protocol-port (enabled): "),
        "{cache}"
    );
    assert!(
        head.ends_with(" aggregates exported so far, 4295 packets"),
        "{cache}"
    );
    let per_line: u64 = cache
        .lines()
        .filter(|l| l.starts_with("proto "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let i = w.iter().position(|x| *x == "packets").unwrap();
            w[i + 1].parse::<u64>().unwrap()
        })
        .sum();
    assert_eq!(per_line, 4295, "{cache}");
    let cache = sh.ask("display ipv6 netstream cache aggregation as", "<nsflow>");
    assert!(cache.contains("(not enabled)"), "{cache}");

    let t = sh.ask("display ipv6 netstream template", "<nsflow>");
    // mode, template id (256 + mode index), fields, record octets, version: IPFIX
    // protocol-port has 11 fields (3 counters, 2 times, protocol and ports, direction, IP
    // version, end reason)
    assert_eq!(numbers(&t, "protocol-port")[..2], [256 + 9, 11], "{t}");
    assert!(
        t.lines()
            .any(|l| l.starts_with("vlan-id ") && l.contains(" ipfix ")),
        "{t}"
    );
    assert!(!t.lines().any(|l| l.starts_with("as ")), "{t}");

    let e = sh.ask("display ipv6 netstream export", "<nsflow>");
    assert!(
        e.lines()
            .any(|l| l.starts_with("as ") && l.contains("127.0.0.1:9995")),
        "{e}"
    );
    sh.send("quit");
    let report = sh.close();
    // mode table: orig flows, aggregates, records, packets, bytes, drops
    assert_eq!(numbers(&report, "prefix")[3], 4295, "{report}");
    assert_eq!(
        numbers(&report, "as")[3] + numbers(&report, "vlan-id")[3],
        4295,
        "{report}"
    );
}

#[test]
fn vrp_habits_display_this_filters_undo_values_and_leaving_uncommitted() {
    let mut sh = Shell::start(&[]);
    sh.wait_for("<nsflow>");
    sh.ask("system-view", "[~nsflow]");
    // A commit of a system-view setting no mode uses says so, not "no change".
    sh.ask("ipv6 netstream as-mode 32", "[*nsflow]");
    let out = sh.ask("commit", "[~nsflow]");
    assert_eq!(
        out,
        "\nInfo: the configuration was committed; no enabled aggregation mode uses what changed, so the device and the exporters are unchanged.\n"
    );
    assert_eq!(sh.ask("commit", "[~nsflow]"), "\nInfo: no change.\n");
    sh.ask(
        "ipv6 netstream aggregation as",
        "[*nsflow-aggregation-ipv6-as]",
    );
    sh.ask("enable", "[*nsflow-aggregation-ipv6-as]");
    sh.ask("export version ipfix", "[*nsflow-aggregation-ipv6-as]");
    sh.ask("template timeout-rate 20", "[*nsflow-aggregation-ipv6-as]");
    let out = sh.ask("commit", "[~nsflow-aggregation-ipv6-as]");
    // One `Warning: ` per warning.
    assert!(
        out.contains("\nWarning: aggregation as: no ipv6 netstream export source"),
        "{out}"
    );
    assert!(!out.contains("Warning: Warning"), "{out}");
    assert_eq!(
        sh.ask("display this", "[~nsflow-aggregation-ipv6-as]"),
        "\n#\nipv6 netstream aggregation as\n enable\n export version ipfix\n template timeout-rate 20\n#\nreturn\n"
    );
    // `undo` with a value that is not the configured one: VRP's error, no line number.
    let out = sh.ask(
        "undo template timeout-rate 25",
        "[~nsflow-aggregation-ipv6-as]",
    );
    assert_eq!(
        out,
        "\nundo template timeout-rate 25\n                           ^\nError: The configuration to be deleted does not exist at '^' position.\n  `template timeout-rate 25` is not configured (the configuration is `template timeout-rate 20`)\n"
    );
    // With the configured value it works as without one.
    sh.ask(
        "undo template timeout-rate 20",
        "[*nsflow-aggregation-ipv6-as]",
    );
    sh.ask("undo export version ipfix", "[*nsflow-aggregation-ipv6-as]");
    let out = sh.ask("commit", "[~nsflow-aggregation-ipv6-as]");
    assert!(out.ends_with("Info: export changed: as.\n"), "{out}");
    assert_eq!(
        sh.ask("display this", "[~nsflow-aggregation-ipv6-as]"),
        "\n#\nipv6 netstream aggregation as\n enable\n#\nreturn\n"
    );
    // Output filters, on the configuration and on the device's displays.
    assert_eq!(
        sh.ask(
            "display current-configuration | include ^ipv6",
            "[~nsflow-aggregation-ipv6-as]"
        ),
        "\nipv6 netstream as-mode 32\nipv6 netstream aggregation as\n"
    );
    assert_eq!(
        sh.ask(
            "display current-configuration | begin aggregation",
            "[~nsflow-aggregation-ipv6-as]"
        ),
        "\nipv6 netstream aggregation as\n enable\n#\nreturn\n"
    );
    let stats = sh.ask(
        "display ipv6 netstream statistics | include ^(as|vlan-id) ",
        "[~nsflow-aggregation-ipv6-as]",
    );
    assert_eq!(
        stats.lines().filter(|l| !l.is_empty()).count(),
        1,
        "{stats}"
    );
    assert!(stats.starts_with("\nas "), "{stats}");
    let stats = sh.ask(
        "display ipv6 netstream statistics | exclude .",
        "[~nsflow-aggregation-ipv6-as]",
    );
    assert!(stats.trim().is_empty(), "{stats}");
    let out = sh.ask(
        "display current-configuration | include (",
        "[~nsflow-aggregation-ipv6-as]",
    );
    let caret = format!("{}^", " ".repeat(40));
    assert!(
        out.starts_with(&format!("\ndisplay current-configuration | include (\n{caret}\nError: Wrong parameter found at '^' position.\n")),
        "{out}"
    );
    assert!(!out.contains("line "), "{out}");
    // Leaving with uncommitted changes asks; `c` stays, `n` discards, `y` commits.
    sh.ask("undo enable", "[*nsflow-aggregation-ipv6-as]");
    let question = "Warning: Uncommitted configurations found. Are you sure to commit them before exiting? [Y(yes)/N(no)/C(cancel)]:";
    sh.ask("return", question);
    sh.ask("c", "[*nsflow-aggregation-ipv6-as]");
    sh.ask("quit", "[*nsflow]");
    sh.ask("quit", question);
    sh.ask("n", "<nsflow>");
    sh.ask("system-view", "[~nsflow]");
    assert!(sh
        .ask("display current-configuration", "[~nsflow]")
        .contains(" enable\n"));
    sh.ask(
        "ipv6 netstream aggregation as",
        "[~nsflow-aggregation-ipv6-as]",
    );
    sh.ask("undo enable", "[*nsflow-aggregation-ipv6-as]");
    sh.ask("return", question);
    let out = sh.ask("y", "<nsflow>");
    assert_eq!(out, "\nInfo: removed: as.\n");
    // The user view has nothing uncommitted: `quit` ends the shell.
    sh.send("quit");
    let report = sh.close();
    assert!(!report.contains("uncommitted"), "{report}");
}

#[test]
fn input_ending_with_uncommitted_changes_says_they_are_discarded() {
    let mut sh = Shell::start(&[]);
    sh.wait_for("<nsflow>");
    sh.ask("system-view", "[~nsflow]");
    sh.ask("ipv6 netstream as-mode 32", "[*nsflow]");
    let report = sh.close();
    assert!(
        report.contains(
            "Warning: the input ended with uncommitted configurations; they were discarded."
        ),
        "{report}"
    );
}

#[test]
fn vpn_instances_are_declared_in_their_view_before_a_host_names_one() {
    let mut sh = Shell::start(&[]);
    sh.wait_for("<nsflow>");
    sh.ask("system-view", "[~nsflow]");
    sh.ask("ipv6 netstream export source 127.0.0.1", "[*nsflow]");
    sh.ask(
        "ipv6 netstream export host 127.0.0.1 9 vpn-instance blue",
        "[*nsflow]",
    );
    sh.ask(
        "ipv6 netstream aggregation as",
        "[*nsflow-aggregation-ipv6-as]",
    );
    sh.ask("enable", "[*nsflow-aggregation-ipv6-as]");
    let out = sh.ask("commit", "[*nsflow-aggregation-ipv6-as]");
    assert_eq!(
        out,
        "\nipv6 netstream export host 127.0.0.1 9 vpn-instance blue\n                           ^\nError: The configuration cannot be committed.\n  system view: export host 127.0.0.1 9 names vpn-instance `blue`, which does not exist: declare it with `ip vpn-instance blue` in the system view\n"
    );
    sh.ask("ip vpn-instance blue", "[*nsflow-vpn-instance-blue]");
    sh.ask("vrf-device lo", "[*nsflow-vpn-instance-blue]");
    let out = sh.ask("commit", "[~nsflow-vpn-instance-blue]");
    assert!(out.ends_with("Info: added: as.\n"), "{out}");
    assert_eq!(
        sh.ask("display this", "[~nsflow-vpn-instance-blue]"),
        "\n#\nip vpn-instance blue\n vrf-device lo\n#\nreturn\n"
    );
    sh.ask("return", "<nsflow>");
    sh.send("quit");
    let report = sh.close();
    assert!(report.contains("127.0.0.1:9"), "{report}");
}

/// IPv6 packets keyed, from `display ipv6 netstream statistics`.
fn keyed(stats: &str) -> u64 {
    stats
        .split(": IPv6 ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no IPv6 count in:\n{stats}"))
}

#[test]
fn after_the_traffic_the_device_runs_on_the_wall_clock_and_flows_age_out() {
    if require_shared().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("live.cfg");
    std::fs::write(
        &cfg,
        format!(
            "system-view\nipv6 netstream timeout inactive 5\nipv6 netstream aggregation timeout inactive 5\n\
             ipv6 netstream export source 127.0.0.1\nipv6 netstream export host 127.0.0.1 {}\n\
             ipv6 netstream aggregation protocol-port\n enable\ncommit\n",
            nsflow_tests::free_udp_port()
        ),
    )
    .unwrap();
    // 193 frames over 23 s of capture time, replayed at once.
    let mut sh = Shell::start(&[
        "--config",
        cfg.to_str().unwrap(),
        "--pcap",
        "../shared/pcaps/ndpi-http-ipv6.pcap",
    ]);
    sh.wait_for("<nsflow>");
    sh.wait_anywhere("frames offered.");
    let finished = Instant::now();
    sh.sync("<nsflow>");
    // The flows of the capture's last seconds are still in the device.
    let stats = sh.ask("display ipv6 netstream statistics", "<nsflow>");
    let total = keyed(&stats);
    assert!(total > 0, "{stats}");
    let exported = numbers(&stats, "protocol-port")[3];
    assert!(exported < total, "{stats}");
    // With no traffic and no `reset`, idle time passes as on a router: past the
    // inactive timeouts every flow has aged out and been exported.
    let deadline = finished + Duration::from_secs(60);
    let stats = loop {
        let stats = sh.ask("display ipv6 netstream statistics", "<nsflow>");
        if numbers(&stats, "protocol-port")[3] == total {
            break stats;
        }
        assert!(Instant::now() < deadline, "nothing aged out:\n{stats}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let waited = finished.elapsed();
    assert!(
        waited >= Duration::from_secs(2),
        "aged after {waited:?}, before the device could have waited its inactive timeout:\n{stats}"
    );
    let cache = sh.ask(
        "display ipv6 netstream cache aggregation protocol-port",
        "<nsflow>",
    );
    assert!(
        cache
            .lines()
            .nth(1)
            .unwrap()
            .ends_with(&format!(" aggregates exported so far, {total} packets")),
        "{cache}"
    );
    sh.send("quit");
    let report = sh.close();
    assert_eq!(numbers(&report, "protocol-port")[3], total, "{report}");
}
