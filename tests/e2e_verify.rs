//! `nsflow verify`, the flow comparison report (issue 7):
//!
//! * through the library, every capture of `shared/pcaps` with all 14 modes (and the
//!   example routes) passes: no missing, unexpected or differing key, and every mode's
//!   expected and received packets and bytes are the IPv6 packets and bytes the device
//!   counted (its own ingress counters, not the comparison's);
//! * the 2-octet AS and ifIndex widths: with routes giving AS 4200000000 and ifIndex 70000
//!   the wire carries AS_TRANS and 0 (default widths) or the values (`as-mode 32`,
//!   `index-switch 32`), and both pass;
//! * the binary prints the report and exits 0 when everything agrees, 1 on differences
//!   (a device served by `nsflow-hwsim serve --drop-on-full` with a 16-record ring drops
//!   records), 2 when it cannot run; `--json` prints one object;
//! * against the independent oracle `shared/pcaps/flowtest-expected/*.yml` (CESNET
//!   FlowTest's expected biflows for the `flowtest-*.pcap` captures), see
//!   [`flowtest_expected_flows_agree_with_what_the_collector_received`].

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow::traffic::Source;
use nsflow::verify::{self, ModeKeys, VerifyOptions, VerifyReport};
use nsflow_rtl::regs::GlobalStat;
use nsflow_rtl::AggregationMode as M;
use nsflow_tests::{nsflow_binary, require_shared, traffic_captures, workspace_root};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn example(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("examples").join(name)).unwrap()
}

fn run_verify(config: &str, routes: Option<&str>, pcaps: &[PathBuf]) -> VerifyReport {
    verify::verify(VerifyOptions {
        config: config.to_owned(),
        routes: routes.map(str::to_owned),
        device: "sim".into(),
        source: Source::Captures(pcaps.to_vec()),
        ring_log2: 14,
    })
    .unwrap_or_else(|e| panic!("{pcaps:?}: {e}"))
}

#[test]
fn every_shared_capture_passes_in_all_fourteen_modes() {
    let Some(shared) = require_shared() else {
        return;
    };
    let config = example("all-modes.cfg");
    let routes = example("routes.txt");
    let captures: Vec<PathBuf> = traffic_captures(&shared)
        .into_iter()
        .filter(|p| p.parent() == Some(&shared.join("pcaps")))
        .collect();
    assert!(captures.len() > 40, "{} captures", captures.len());
    let mut keys_per_mode: BTreeMap<M, usize> = BTreeMap::new();
    for pcap in &captures {
        let r = run_verify(&config, Some(&routes), std::slice::from_ref(pcap));
        assert!(r.passed(), "{}:\n{}", pcap.display(), r.render());
        assert_eq!(r.comparison.modes.len(), 14, "{}", pcap.display());
        let keyed = (
            r.run.device.global(GlobalStat::Ipv6Packets),
            r.run.device.global(GlobalStat::Ipv6Bytes),
        );
        for m in &r.comparison.modes {
            assert_eq!(
                (m.expected.packets, m.expected.bytes),
                keyed,
                "{} {}",
                pcap.display(),
                m.mode
            );
            assert_eq!(m.received, m.expected, "{} {}", pcap.display(), m.mode);
            *keys_per_mode.entry(m.mode).or_default() += m.received_keys;
        }
        assert_eq!(r.collected.decode_errors, 0);
    }
    eprintln!("keys compared per mode: {keys_per_mode:?}");
    assert!(keys_per_mode.values().all(|k| *k > 40), "{keys_per_mode:?}");
    // Several captures in one run.
    let r = run_verify(&config, Some(&routes), &captures[..6]);
    assert!(r.passed(), "{}", r.render());
}

/// Every IPv6 destination routed to AS 4200000000 through ifIndex 70000.
const BIG_ROUTES: &str = "route ::/0 as 4200000000 next-hop 2001:db8::1 interface 70000\n";

#[test]
fn two_octet_widths_are_compared_as_the_wire_carries_them() {
    let Some(shared) = require_shared() else {
        return;
    };
    let pcap = [shared.join("pcaps/zeek-http-1000-requests-ipv6.pcap")];
    let base = "system-view\nipv6 netstream export source 127.0.0.1\nipv6 netstream export host 127.0.0.1 9995\n";
    let modes = "ipv6 netstream aggregation as\nenable\nquit\nipv6 netstream aggregation index-tos\nenable\nexport version ipfix\nquit\ncommit\n";
    for (widths, want_as, want_if) in [
        ("", 23_456, 0),
        (
            "ipv6 netstream as-mode 32\nipv6 netstream export index-switch 32\n",
            4_200_000_000,
            70_000,
        ),
    ] {
        let config = format!("{base}{widths}{modes}");
        let r = run_verify(&config, Some(BIG_ROUTES), &pcap);
        assert!(r.passed(), "{widths}\n{}", r.render());
        let as_keys = &r.received[&M::As];
        assert!(!as_keys.is_empty());
        for k in as_keys.keys() {
            assert_eq!((k.src_as, k.dst_as, k.out_if), (want_as, want_as, want_if));
        }
        assert!(r.received[&M::IndexTos].keys().all(|k| k.out_if == want_if));
    }
}

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

/// `target/<profile>/nsflow-hwsim`, built like the `nsflow` binary.
fn hwsim_binary() -> PathBuf {
    let bin = nsflow_binary().with_file_name("nsflow-hwsim");
    let release = bin
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "release");
    let mut cmd = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    cmd.args(["build", "-q", "-p", "nsflow-hwsim", "--bin", "nsflow-hwsim"])
        .current_dir(workspace_root());
    if release {
        cmd.arg("--release");
    }
    let built = cmd.status().is_ok_and(|s| s.success());
    assert!(built || bin.is_file(), "cannot build {}", bin.display());
    bin
}

#[test]
fn the_binary_prints_the_report_and_exits_by_verdict() {
    let Some(shared) = require_shared() else {
        return;
    };
    let a = shared.join("pcaps/flowtest-ipv6-smtp.pcap");
    let b = shared.join("pcaps/suricata-ipv6-frag-15.pcap");
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let common = [
        "verify",
        "--config",
        "examples/all-modes.cfg",
        "--routes",
        "examples/routes.txt",
    ];
    // Agreement: exit 0, a table row per mode, the verdict.
    let out = nsflow(&[&common[..], &["--pcap", a, b]].concat());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    for m in M::ALL {
        let row = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(m.name()))
            .unwrap_or_else(|| panic!("{m}:\n{stdout}"));
        assert!(row.ends_with(" ok"), "{row}");
    }
    assert!(stdout.contains("verdict: PASS (14 modes"), "{stdout}");
    // JSON: one object, every mode.
    let out = nsflow(&[&common[..], &["--json", "--pcap", a]].concat());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout.trim_end().lines().count(), 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["passed"], true, "{stdout}");
    let modes = report["modes"].as_array().unwrap();
    assert_eq!(modes.len(), 14, "{stdout}");
    assert!(modes
        .iter()
        .all(|m| m["passed"] == true && m["missing"] == serde_json::json!([])));
    // Cannot run: exit 2 with the reason.
    let out = nsflow(&[&common[..], &["--pcap", "no/such.pcap"]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("nsflow verify: "),
        "{}",
        text(&out.stderr)
    );

    // Differences: a device that drops records when its ring is full, with a 16-record
    // ring, and 5000 flows flushed at the end.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("hwsim.sock");
    let mut server = Command::new(hwsim_binary())
        .args(["serve", "--drop-on-full", "--socket"])
        .arg(&socket)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let device = format!("vfio-user:{}", socket.display());
    let out = nsflow(&[
        "verify",
        "--config",
        "examples/protocol-port.cfg",
        "--device",
        &device,
        "--ring-log2",
        "4",
        "--generate",
        "flows=5000,pps=1000000,seconds=0.05,seed=7",
    ]);
    // Stopped by its PID whatever happened.
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(ready.starts_with("listening on"), "{ready}");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("verdict: FAIL ("), "{stdout}");
    assert!(
        stdout.contains("protocol-port: missing (expected, not received):"),
        "{stdout}"
    );
    assert!(stdout.contains("device dropped records of: "), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("protocol-port "))
        .unwrap();
    assert!(row.ends_with(" DIFFERS"), "{row}");
}

/// Protocol, source port, destination port.
type PortKey = (u8, u16, u16);

/// One direction of a FlowTest biflow.
#[derive(Debug, Clone)]
struct Direction {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    /// nsflow's ports: the transport ports, or 0 and type × 256 + code for ICMPv6.
    ports: (u16, u16),
    packets: u64,
    bytes: u64,
    tos: Option<u8>,
}

/// A FlowTest validation file: the capture it names and its flows (flat `key: value`
/// maps; the files use no other YAML).
fn flowtest_file(text: &str) -> (String, Vec<BTreeMap<String, String>>) {
    let mut pcap = String::new();
    let mut flows: Vec<BTreeMap<String, String>> = Vec::new();
    let mut in_flows = false;
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("pcap: ") {
            pcap = p.trim().to_owned();
        }
        if line == "flows:" {
            in_flows = true;
            continue;
        }
        if !in_flows || line.trim().is_empty() {
            continue;
        }
        let item = line.trim_start();
        let item = match item.strip_prefix("- ") {
            Some(rest) => {
                flows.push(BTreeMap::new());
                rest
            }
            None => item,
        };
        let (k, v) = item.split_once(": ").unwrap();
        flows.last_mut().unwrap().insert(k.into(), v.trim().into());
    }
    (pcap, flows)
}

/// The shared capture of a FlowTest pcap name (`ipv6-smtp.pcap` →
/// `flowtest-ipv6-smtp.pcap`, `802.1Q_tunneling.pcap` → `flowtest-802-1q-tunneling.pcap`).
fn flowtest_capture(shared: &Path, name: &str) -> PathBuf {
    let stem = name.strip_suffix(".pcap").unwrap();
    let stem: String = stem
        .to_lowercase()
        .chars()
        .map(|c| if c == '.' || c == '_' { '-' } else { c })
        .collect();
    shared.join(format!("pcaps/flowtest-{stem}.pcap"))
}

/// Both directions of a biflow (the reverse one when it has packets).
fn directions(f: &BTreeMap<String, String>) -> Vec<Direction> {
    let num = |k: &str| f.get(k).map(|v| v.parse::<u64>().unwrap());
    let tos = |k: &str| {
        f.get(k)
            .map(|v| u8::from_str_radix(v.trim_start_matches("0x"), 16).unwrap())
    };
    let protocol = num("protocol").unwrap() as u8;
    let ports = match num("icmp_type_code") {
        Some(tc) => (0, tc as u16),
        None => (
            num("src_port").unwrap_or(0) as u16,
            num("dst_port").unwrap_or(0) as u16,
        ),
    };
    let src: IpAddr = f["src_ip"].parse().unwrap();
    let dst: IpAddr = f["dst_ip"].parse().unwrap();
    let mut v = vec![Direction {
        src,
        dst,
        protocol,
        ports,
        packets: num("packets").unwrap(),
        bytes: num("bytes").unwrap(),
        tos: tos("tos"),
    }];
    if let Some(packets) = num("packets@rev") {
        v.push(Direction {
            src: dst,
            dst: src,
            protocol,
            ports: (ports.1, ports.0),
            packets,
            bytes: num("bytes@rev").unwrap(),
            tos: tos("tos@rev"),
        });
    }
    v
}

/// Packets and bytes of the received keys of `mode` that `pick` selects.
fn received_sum(r: &ModeKeys, mode: M, pick: impl Fn(&nsflow_rtl::FlowKey) -> bool) -> (u64, u64) {
    r.get(&mode)
        .into_iter()
        .flatten()
        .filter(|(k, _)| pick(k))
        .fold((0, 0), |a, (_, t)| (a.0 + t.packets, a.1 + t.bytes))
}

/// Full addresses (prefix mode with both minima at 128), ports, and ports with the Traffic
/// Class: the parts of FlowTest's 5-tuple nsflow's modes carry.
const FLOWTEST_CONFIG: &str = "system-view
ipv6 netstream export source 127.0.0.1
ipv6 netstream export host 127.0.0.1 9995
ipv6 netstream aggregation prefix
 enable
 export version ipfix
 mask source minimum 128
 mask destination minimum 128
 quit
ipv6 netstream aggregation protocol-port
 enable
 export version ipfix
 quit
ipv6 netstream aggregation protocol-port-tos
 enable
 quit
commit
";

/// nsflow against CESNET FlowTest's expected flows. FlowTest lists bidirectional 5-tuple
/// flows (packets, bytes as IP-layer bytes, ToS) per capture; nsflow has no mode keyed by
/// the whole 5-tuple, so each part is compared in the mode that carries it, on what the
/// collector received (and `verify` must pass on each capture as well):
///
/// * addresses — `prefix` with both masks at /128 (no routes, so the keys are the full
///   addresses): per (source, destination), nsflow's packets and bytes equal FlowTest's
///   direction exactly, and no other pair appears. Must agree: bytes are IPv6 header +
///   payload on both sides (FlowTest's "IP-layer bytes"), extension headers included.
/// * ports — `protocol-port`: per direction (proto, sport, dport), with ICMPv6 as port 0
///   and type × 256 + code (FlowTest's icmp_type_code). Differs by design for fragments:
///   nsflow keys a non-first fragment without ports (proto, 0, 0), FlowTest folds it into
///   its flow. So: without port-less keys every direction agrees exactly; with them each
///   direction's ported part is at most FlowTest's and the shortfalls sum to the port-less
///   keys; per protocol the totals agree.
/// * ToS — `protocol-port-tos`: every key of a direction carries FlowTest's ToS.
/// * flows — FlowTest counts one biflow; nsflow counts original flows per direction (a
///   TCP FIN or RST ends one, so a session can be several): reported, not compared.
/// * IPv4 captures (MPLS, QinQ) — nsflow aggregates IPv6 only, by design: nothing is
///   received, and the device's IPv4 counters (packets, Total Length) equal FlowTest's
///   packets and bytes.
#[test]
fn flowtest_expected_flows_agree_with_what_the_collector_received() {
    let Some(shared) = require_shared() else {
        return;
    };
    let dir = shared.join("pcaps/flowtest-expected");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 8, "{files:?}");
    let mut ipv6_files = 0;
    for file in &files {
        let (name, flows) = flowtest_file(&std::fs::read_to_string(file).unwrap());
        let pcap = flowtest_capture(&shared, &name);
        assert!(pcap.is_file(), "{}", pcap.display());
        let dirs: Vec<Direction> = flows.iter().flat_map(directions).collect();
        assert!(!dirs.is_empty(), "{}", file.display());
        let r = run_verify(FLOWTEST_CONFIG, None, std::slice::from_ref(&pcap));
        assert!(r.passed(), "{}\n{}", pcap.display(), r.render());
        let label = file.file_name().unwrap().to_string_lossy().into_owned();
        if dirs.iter().all(|d| d.src.is_ipv4()) {
            let want = dirs
                .iter()
                .fold((0, 0), |a, d| (a.0 + d.packets, a.1 + d.bytes));
            let got = (
                r.run.device.global(GlobalStat::Ipv4Packets),
                r.run.device.global(GlobalStat::Ipv4Bytes),
            );
            eprintln!("{label}: IPv4 flows; FlowTest packets/bytes {want:?}, nsflow IPv4 counters {got:?}, keys received {}",
                r.received.values().map(|k| k.len()).sum::<usize>());
            assert_eq!(got, want, "{label}");
            assert!(r.received.values().all(|k| k.is_empty()), "{label}");
            continue;
        }
        ipv6_files += 1;
        let v6 = |a: IpAddr| match a {
            IpAddr::V6(a) => a,
            IpAddr::V4(_) => panic!("{label}: mixed families"),
        };
        // Addresses.
        let mut want_pairs: BTreeMap<(Ipv6Addr, Ipv6Addr), (u64, u64)> = BTreeMap::new();
        for d in &dirs {
            let e = want_pairs.entry((v6(d.src), v6(d.dst))).or_default();
            *e = (e.0 + d.packets, e.1 + d.bytes);
        }
        let mut got_pairs: BTreeMap<(Ipv6Addr, Ipv6Addr), (u64, u64)> = BTreeMap::new();
        for (k, t) in r.received.get(&M::Prefix).into_iter().flatten() {
            assert_eq!((k.src_plen, k.dst_plen), (128, 128), "{label}");
            let e = got_pairs.entry((k.src_ip(), k.dst_ip())).or_default();
            *e = (e.0 + t.packets, e.1 + t.bytes);
        }
        assert_eq!(got_pairs, want_pairs, "{label}: per address pair");
        for d in &dirs {
            let on_pair = |k: &nsflow_rtl::FlowKey| {
                IpAddr::V6(k.src_ip()) == d.src && IpAddr::V6(k.dst_ip()) == d.dst
            };
            let by_address = received_sum(&r.received, M::Prefix, on_pair);
            let orig_flows: u64 = r.received[&M::Prefix]
                .iter()
                .filter(|(k, _)| on_pair(k))
                .map(|(_, t)| t.flows)
                .sum();
            eprintln!(
                "{label}: {} -> {} proto {} ports {:?}: FlowTest packets/bytes ({}, {}); nsflow by address {by_address:?}, original flows {orig_flows} (FlowTest: 1 biflow)",
                d.src, d.dst, d.protocol, d.ports, d.packets, d.bytes
            );
        }
        // Ports: protocol-port has no addresses, so directions with the same (proto,
        // sport, dport) — e.g. UDP 6363 -> 6363 both ways — share one key.
        let mut want_ports: BTreeMap<PortKey, ((u64, u64), Vec<u8>)> = BTreeMap::new();
        for d in &dirs {
            let e = want_ports
                .entry((d.protocol, d.ports.0, d.ports.1))
                .or_default();
            e.0 = (e.0 .0 + d.packets, e.0 .1 + d.bytes);
            e.1.extend(d.tos);
        }
        let portless = |p: u8| {
            received_sum(&r.received, M::ProtocolPort, |k| {
                k.protocol == p && (k.src_port, k.dst_port) == (0, 0)
            })
        };
        let mut shortfall: BTreeMap<u8, (u64, u64)> = BTreeMap::new();
        for (&(proto, sport, dport), (want, tos_want)) in &want_ports {
            let key = |k: &nsflow_rtl::FlowKey| {
                (k.protocol, k.src_port, k.dst_port) == (proto, sport, dport)
            };
            let got = received_sum(&r.received, M::ProtocolPort, key);
            eprintln!(
                "{label}: proto {proto} {sport} -> {dport}: FlowTest {want:?}, nsflow {got:?}"
            );
            if portless(proto) == (0, 0) {
                assert_eq!(got, *want, "{label}: proto {proto} {sport} -> {dport}");
            } else {
                assert!(
                    got.0 <= want.0 && got.1 <= want.1,
                    "{label}: proto {proto} {sport} -> {dport}"
                );
                let s = shortfall.entry(proto).or_default();
                *s = (s.0 + want.0 - got.0, s.1 + want.1 - got.1);
            }
            // ToS: every key carries a ToS FlowTest gives for these ports.
            let tos: Vec<u8> = r.received[&M::ProtocolPortTos]
                .keys()
                .filter(|k| key(k))
                .map(|k| k.tos)
                .collect();
            assert!(
                !tos.is_empty() && tos.iter().all(|t| tos_want.contains(t)),
                "{label}: ToS {tos:?}, FlowTest {tos_want:?}"
            );
        }
        for (p, s) in &shortfall {
            eprintln!(
                "{label}: proto {p}: non-first fragments keyed without ports: {:?} (packets, bytes)",
                portless(*p)
            );
            assert_eq!(*s, portless(*p), "{label}: proto {p} port-less keys");
        }
        let want_total = dirs
            .iter()
            .fold((0, 0), |a, d| (a.0 + d.packets, a.1 + d.bytes));
        assert_eq!(
            received_sum(&r.received, M::ProtocolPort, |_| true),
            want_total,
            "{label}: protocol-port totals"
        );
    }
    assert_eq!(ipv6_files, 5);
}
