//! The rtl-model packet parser against tshark's dissectors, frame by frame, on every
//! traffic capture in shared/pcaps (and its edge/ folder).
//!
//! For every frame whose outermost IP header tshark dissects as IPv6, the parser must
//! either produce the same source and destination, traffic class, VLAN IDs, MPLS labels,
//! byte count (40 + payload length), protocol and ports, or reject the frame with a parse
//! error on a frame tshark itself flags malformed or with an expert error. Frames tshark
//! sees as IPv4 must be IPv4 to the parser; frames without IP must not be IPv6.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_hwsim::capture::CaptureReader;
use nsflow_rtl::parser::{parse, Ipv6Fields, Parsed};
use nsflow_tests::{require_shared, require_tool, traffic_captures};
use std::net::Ipv6Addr;
use std::path::Path;
use std::process::Command;

const FIELDS: &[&str] = &[
    "frame.protocols",
    "frame.len",
    "frame.cap_len",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.tclass",
    "ipv6.plen",
    "ieee8021ad.id",
    "vlan.id",
    "mpls.label",
    "mpls.exp",
    "mpls.bottom",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "udp.srcport",
    "udp.dstport",
    "sctp.srcport",
    "sctp.dstport",
    "icmpv6.type",
    "icmpv6.code",
    "_ws.malformed",
    "_ws.expert.severity",
];

/// One frame as tshark dissected it: every occurrence of every field.
struct TsharkFrame(Vec<Vec<String>>);

impl TsharkFrame {
    fn all(&self, name: &str) -> &[String] {
        let i = FIELDS.iter().position(|f| *f == name).unwrap();
        &self.0[i]
    }
    fn first(&self, name: &str) -> Option<&str> {
        self.all(name).first().map(String::as_str)
    }
    fn num(&self, name: &str) -> Option<u32> {
        let s = self.first(name)?;
        match s.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16).ok(),
            None => s.parse().ok(),
        }
    }
    /// The protocol tokens of frame.protocols with IPv6 extension headers dropped.
    fn protocols(&self) -> Vec<&str> {
        self.first("frame.protocols")
            .unwrap_or("")
            .split(':')
            .filter(|t| !t.starts_with("ipv6."))
            .collect()
    }
    fn outer_ip(&self) -> Option<&str> {
        self.protocols()
            .into_iter()
            .find(|t| *t == "ip" || *t == "ipv6")
    }
    /// The token right after the outer IPv6 header (its L4 protocol, or what follows).
    fn after_ipv6(&self) -> Option<&str> {
        let p = self.protocols();
        let i = p.iter().position(|t| *t == "ipv6")?;
        p.get(i + 1).copied()
    }
    /// tshark found the frame malformed or raised an expert error on it, or the capture
    /// cut the frame short (the device sees whole frames; a capture tool does not).
    fn flagged(&self) -> bool {
        self.num("frame.cap_len") < self.num("frame.len")
            || !self.all("_ws.malformed").is_empty()
            || self
                .all("_ws.expert.severity")
                .iter()
                .any(|s| s.parse::<u64>().is_ok_and(|v| v >= 0x0080_0000))
    }
}

fn tshark(pcap: &Path) -> Vec<TsharkFrame> {
    let mut cmd = Command::new("tshark");
    cmd.args([
        "-n",
        "-o",
        "ipv6.defragment:FALSE",
        "-o",
        "ip.defragment:FALSE",
    ]);
    cmd.args(["-o", "tcp.desegment_tcp_streams:FALSE", "-r"])
        .arg(pcap);
    cmd.args([
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let cols: Vec<Vec<String>> = l
                .split('|')
                .map(|c| {
                    if c.is_empty() {
                        vec![]
                    } else {
                        c.split(',').map(str::to_owned).collect()
                    }
                })
                .collect();
            assert_eq!(cols.len(), FIELDS.len(), "tshark line: {l}");
            TsharkFrame(cols)
        })
        .collect()
}

/// Differences between the parser's IPv6 fields and tshark's, as readable strings.
fn compare(f: &Ipv6Fields, t: &TsharkFrame) -> Vec<String> {
    let mut d = Vec::new();
    // A field tshark printed no value for (it stopped dissecting) is not compared.
    let mut check = |what: &str, ours: String, theirs: String| {
        if !theirs.is_empty() && ours != theirs {
            d.push(format!("{what}: parser {ours}, tshark {theirs}"));
        }
    };
    let ip = |s: Option<&str>| {
        s.and_then(|s| s.parse::<Ipv6Addr>().ok())
            .map(|a| a.to_string())
            .unwrap_or_default()
    };
    check(
        "src",
        Ipv6Addr::from(f.src).to_string(),
        ip(t.first("ipv6.src")),
    );
    check(
        "dst",
        Ipv6Addr::from(f.dst).to_string(),
        ip(t.first("ipv6.dst")),
    );
    check(
        "tclass",
        f.tos.to_string(),
        t.num("ipv6.tclass").unwrap_or(0).to_string(),
    );
    check(
        "bytes",
        f.bytes.to_string(),
        (40 + t.num("ipv6.plen").unwrap_or(0)).to_string(),
    );
    // Outer VLAN first: an 802.1ad tag, then 802.1Q tags.
    let mut vlans: Vec<u32> = t
        .all("ieee8021ad.id")
        .iter()
        .chain(t.all("vlan.id"))
        .filter_map(|v| v.parse().ok())
        .collect();
    vlans.truncate(2);
    let ours: Vec<u32> = f
        .vlans
        .iter()
        .take(
            vlans
                .len()
                .max(usize::from(f.vlans[0] != 0) + usize::from(f.vlans[1] != 0)),
        )
        .map(|v| u32::from(*v))
        .collect();
    check("vlans", format!("{ours:?}"), format!("{vlans:?}"));
    let labels: Vec<u32> = t
        .all("mpls.label")
        .iter()
        .filter_map(|v| v.parse().ok())
        .take(3)
        .collect();
    let ours: Vec<u32> = f.mpls.iter().take(labels.len()).map(|m| m >> 4).collect();
    check("mpls labels", format!("{ours:?}"), format!("{labels:?}"));
    if let Some(exp) = t.num("mpls.exp") {
        check(
            "mpls exp",
            ((f.mpls[0] >> 1) & 7).to_string(),
            exp.to_string(),
        );
    }
    let (sp, dp) = match t.after_ipv6() {
        Some("tcp") => ("tcp.srcport", "tcp.dstport"),
        Some("udp") => ("udp.srcport", "udp.dstport"),
        Some("sctp") => ("sctp.srcport", "sctp.dstport"),
        Some("icmpv6") => {
            check("protocol", f.protocol.to_string(), "58".into());
            if let (Some(ty), Some(code)) = (t.num("icmpv6.type"), t.num("icmpv6.code")) {
                check(
                    "icmpv6 type/code",
                    f.dst_port.to_string(),
                    (ty * 256 + code).to_string(),
                );
            }
            return d;
        }
        _ => return d,
    };
    let proto = match sp {
        "tcp.srcport" => "6",
        "udp.srcport" => "17",
        _ => "132",
    };
    check("protocol", f.protocol.to_string(), proto.into());
    if f.later_fragment {
        d.push("tshark dissected L4 on a non-first fragment".into());
        return d;
    }
    check(
        "src port",
        f.src_port.to_string(),
        t.num(sp).map(|v| v.to_string()).unwrap_or_default(),
    );
    check(
        "dst port",
        f.dst_port.to_string(),
        t.num(dp).map(|v| v.to_string()).unwrap_or_default(),
    );
    if t.after_ipv6() == Some("tcp") {
        check(
            "tcp flags",
            f.tcp_flags.to_string(),
            t.num("tcp.flags")
                .map(|v| (v & 0xff).to_string())
                .unwrap_or_default(),
        );
    }
    d
}

#[test]
fn parser_agrees_with_tshark_on_every_shared_capture() {
    let Some(shared) = require_shared() else {
        return;
    };
    if !require_tool("tshark") {
        return;
    }
    let (mut compared_v6, mut errors_v6, mut v4, mut other, mut files) = (0, 0, 0, 0, 0);
    let mut problems = Vec::new();
    for pcap in traffic_captures(&shared) {
        let frames = CaptureReader::read_all(&pcap).unwrap_or_else(|e| panic!("{e}"));
        let dissected = tshark(&pcap);
        assert_eq!(
            frames.len(),
            dissected.len(),
            "{}: frame count",
            pcap.display()
        );
        files += 1;
        for (i, (frame, t)) in frames.iter().zip(&dissected).enumerate() {
            let name = format!(
                "{} frame {}",
                pcap.file_name().unwrap().to_string_lossy(),
                i + 1
            );
            let ours = frame.link.map(|l| parse(l, &frame.data));
            match (t.outer_ip(), ours) {
                (Some("ipv6"), Some(Ok(Parsed::Ipv6(f)))) => {
                    compared_v6 += 1;
                    for p in compare(&f, t) {
                        problems.push(format!("{name}: {p}"));
                    }
                }
                (Some("ipv6"), Some(Err(e))) if e.ipv6_bytes.is_some() => {
                    errors_v6 += 1;
                    if !t.flagged() {
                        problems.push(format!(
                            "{name}: parser error `{e}` on a frame tshark dissects cleanly"
                        ));
                    }
                }
                (Some("ip"), Some(Ok(Parsed::Ipv4 { .. }))) => v4 += 1,
                // Vendor tags in front of IPv4 (Arista AVSP) are not parsed: IPv4 is not
                // aggregated, so it is enough that the frame is not taken for IPv6.
                (Some("ip"), Some(Ok(Parsed::Other))) if t.protocols().contains(&"avsp") => {
                    other += 1
                }
                (None, None | Some(Ok(Parsed::Other)) | Some(Err(_))) => other += 1,
                (theirs, ours) => problems.push(format!(
                    "{name}: tshark outer IP {theirs:?}, parser {ours:?}"
                )),
            }
        }
    }
    eprintln!(
        "compared {files} captures: {compared_v6} IPv6 frames field by field, {errors_v6} IPv6 frames rejected where tshark flags them, {v4} IPv4, {other} other"
    );
    assert!(
        compared_v6 > 50_000,
        "too few IPv6 frames compared: {compared_v6}"
    );
    assert!(
        problems.is_empty(),
        "{} disagreements:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
