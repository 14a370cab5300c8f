//! Tests of the language as a whole: every command, every error path, commit semantics,
//! precedence A1/A2, the resolved views, display round trips, the shell API, the examples.

use super::command::View;
use super::error::ErrorKind;
use super::model::*;
use super::resolve::{Diff, Warning};
use super::session::{Response, Session, EXIT_QUESTION};
use super::{parse_config, parse_routes, render};
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::AggregationMode as M;
use std::net::{IpAddr, SocketAddr};

/// A session after `system-view` and `lines` (one per line), every line accepted.
fn session(lines: &str) -> Session {
    let mut s = Session::default();
    for l in std::iter::once("system-view").chain(lines.lines()) {
        if let Err(e) = s.feed_line(l) {
            panic!("`{l}` refused:\n{e}");
        }
    }
    s
}

fn candidate(lines: &str) -> Config {
    session(lines).candidate().clone()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn host(addr: &str, port: u16) -> Collector {
    Collector::new(ip(addr), port)
}

fn agg(enabled: bool) -> AggregationConfig {
    AggregationConfig {
        enabled,
        ..AggregationConfig::default()
    }
}

#[test]
fn every_command_changes_what_it_says() {
    type Edit = fn(&mut Config);
    let cases: &[(&str, Edit)] = &[
        ("", |_| {}),
        ("# a comment\n\n   \n! header", |_| {}),
        ("ipv6 netstream timeout active 10", |c| {
            c.system.original_active = ActiveTimeout::Minutes(10)
        }),
        ("ipv6 netstream timeout active interval-second 15", |c| {
            c.system.original_active = ActiveTimeout::Seconds(15)
        }),
        ("ipv6 netstream timeout active 10\nundo ipv6 netstream timeout active", |_| {}),
        ("ipv6 netstream timeout inactive 600", |c| c.system.original_inactive_s = 600),
        ("ipv6 netstream timeout inactive 5\nundo ipv6 netstream timeout inactive", |_| {}),
        // `undo` with the configured value works as without it.
        ("ipv6 netstream timeout inactive 5\nundo ipv6 netstream timeout inactive 5", |_| {}),
        ("ipv6 netstream timeout active interval-second 20\nundo ipv6 netstream timeout active interval-second 20", |_| {}),
        ("undo ipv6 netstream as-mode 16", |_| {}),
        ("ipv6 netstream mpls-aware label-only\nundo ipv6 netstream mpls-aware label-only", |_| {}),
        ("ipv6 netstream export template option timeout-rate 9\nundo ipv6 netstream export template option timeout-rate 9", |_| {}),
        ("ipv6 netstream aggregation as\ntemplate timeout-rate 20\nundo template timeout-rate 20", |c| {
            c.aggregations.insert(M::As, agg(false));
        }),
        ("ipv6 netstream aggregation as\nexport version ipfix\nundo export version ipfix", |c| {
            c.aggregations.insert(M::As, agg(false));
        }),
        ("ipv6 netstream aggregation prefix\nmask source minimum 24\nundo mask source minimum 24", |c| {
            c.aggregations.insert(M::Prefix, agg(false));
        }),
        ("ipv6 netstream aggregation timeout active 60", |c| {
            c.system.aggregation_active = ActiveTimeout::Minutes(60)
        }),
        ("ipv6 netstream aggregation timeout active interval-second 59", |c| {
            c.system.aggregation_active = ActiveTimeout::Seconds(59)
        }),
        // The later of the two forms wins (A4).
        (
            "ipv6 netstream aggregation timeout active interval-second 20\nipv6 netstream aggregation timeout active 2",
            |c| c.system.aggregation_active = ActiveTimeout::Minutes(2),
        ),
        ("ipv6 netstream aggregation timeout active 1\nundo ipv6 netstream aggregation timeout active", |_| {}),
        ("ipv6 netstream aggregation timeout inactive 5", |c| c.system.aggregation_inactive_s = 5),
        ("ipv6 netstream aggregation timeout inactive 9\nundo ipv6 netstream aggregation timeout inactive", |_| {}),
        ("ipv6 netstream export template sequence-number fixed", |c| c.system.sequence_fixed = true),
        (
            "ipv6 netstream export template sequence-number fixed\nundo ipv6 netstream export template sequence-number fixed",
            |_| {},
        ),
        ("ipv6 netstream as-mode 32", |c| c.system.as_mode = FieldWidth::Four),
        ("ipv6 netstream as-mode 32\nipv6 netstream as-mode 16", |_| {}),
        ("ipv6 netstream as-mode 32\nundo ipv6 netstream as-mode", |_| {}),
        ("ipv6 netstream export index-switch 32", |c| c.system.index_switch = FieldWidth::Four),
        ("ipv6 netstream export index-switch 32\nundo ipv6 netstream export index-switch", |_| {}),
        ("ipv6 netstream mpls-aware label-only", |c| c.system.mpls_aware = MplsAware::LabelOnly),
        ("ipv6 netstream mpls-aware label-and-ip", |c| c.system.mpls_aware = MplsAware::LabelAndIp),
        ("ipv6 netstream mpls-aware label-only\nipv6 netstream mpls-aware ip-only", |_| {}),
        ("ipv6 netstream mpls-aware label-only\nundo ipv6 netstream mpls-aware", |_| {}),
        ("ipv6 netstream export template option refresh-rate 600", |c| {
            c.system.option_refresh_packets = 600
        }),
        ("ipv6 netstream export template option refresh-rate 1\nundo ipv6 netstream export template option refresh-rate", |_| {}),
        ("ipv6 netstream export template option timeout-rate 3600", |c| {
            c.system.option_timeout_min = 3600
        }),
        ("ipv6 netstream export template option timeout-rate 1\nundo ipv6 netstream export template option timeout-rate", |_| {}),
        ("ipv6 netstream export host 127.0.0.1 9995", |c| {
            c.system.export.hosts.push(host("127.0.0.1", 9995))
        }),
        ("ipv6 netstream export host ipv6 ::1 1 vpn-instance Vpn_A dscp 63", |c| {
            c.system.export.hosts.push(Collector {
                vpn_instance: Some("Vpn_A".into()),
                dscp: 63,
                ..host("::1", 1)
            })
        }),
        ("ipv6 netstream export host 127.0.0.1 65535 dscp 0", |c| {
            c.system.export.hosts.push(host("127.0.0.1", 65535))
        }),
        (
            "ipv6 netstream export host 127.0.0.1 9 vpn-instance a\nundo ipv6 netstream export host 127.0.0.1 9 vpn-instance a",
            |_| {},
        ),
        ("ipv6 netstream export source 127.0.0.1", |c| {
            c.system.export.source.v4 = Some(SourceAddr {
                addr: ip("127.0.0.1"),
                port: None,
            })
        }),
        ("ipv6 netstream export source ipv6 ::1 6000", |c| {
            c.system.export.source.v6 = Some(SourceAddr {
                addr: ip("::1"),
                port: Some(6000),
            })
        }),
        ("ipv6 netstream export source ipv6 ::1\nundo ipv6 netstream export source ipv6 ::1", |_| {}),
        ("ipv6 netstream aggregation as", |c| {
            c.aggregations.insert(M::As, agg(false));
        }),
        ("ipv6 netstream aggregation as\nquit\nundo ipv6 netstream aggregation as", |_| {}),
        ("ipv6 netstream aggregation vlan-id\nenable", |c| {
            c.aggregations.insert(M::VlanId, agg(true));
        }),
        ("ipv6 netstream aggregation as\nenable\nundo enable", |c| {
            c.aggregations.insert(M::As, agg(false));
        }),
        ("ipv6 netstream aggregation as\nexport version ipfix", |c| {
            c.aggregations.insert(
                M::As,
                AggregationConfig {
                    version: Version::Ipfix,
                    ..agg(false)
                },
            );
        }),
        ("ipv6 netstream aggregation as\nexport version ipfix\nexport version 9", |c| {
            c.aggregations.insert(M::As, agg(false));
        }),
        ("ipv6 netstream aggregation as\nexport version ipfix\nundo export version", |c| {
            c.aggregations.insert(M::As, agg(false));
        }),
        ("ipv6 netstream aggregation as\ntemplate timeout-rate 3600", |c| {
            c.aggregations.insert(
                M::As,
                AggregationConfig {
                    template_timeout_min: 3600,
                    ..agg(false)
                },
            );
        }),
        ("ipv6 netstream aggregation as\ntemplate timeout-rate 1\nundo template timeout-rate", |c| {
            c.aggregations.insert(M::As, agg(false));
        }),
        ("ipv6 netstream aggregation prefix\nmask source minimum 1\nmask destination minimum 128", |c| {
            c.aggregations.insert(
                M::Prefix,
                AggregationConfig {
                    mask_source: Some(1),
                    mask_destination: Some(128),
                    ..agg(false)
                },
            );
        }),
        ("ipv6 netstream aggregation prefix\nmask source minimum 1\nundo mask source minimum", |c| {
            c.aggregations.insert(M::Prefix, agg(false));
        }),
        ("ipv6 netstream aggregation as\nipv6 netstream export host 127.0.0.1 9995", |c| {
            let mut a = agg(false);
            a.export.hosts.push(host("127.0.0.1", 9995));
            c.aggregations.insert(M::As, a);
        }),
        (
            "ipv6 netstream aggregation as\nipv6 netstream export host 127.0.0.1 9995\nundo ipv6 netstream export host 127.0.0.1 9995",
            |c| {
                c.aggregations.insert(M::As, agg(false));
            },
        ),
        ("ipv6 netstream aggregation as\nipv6 netstream export source 10.1.1.1 1", |c| {
            let mut a = agg(false);
            a.export.source.v4 = Some(SourceAddr {
                addr: ip("10.1.1.1"),
                port: Some(1),
            });
            c.aggregations.insert(M::As, a);
        }),
        (
            "ipv6 netstream aggregation as\nipv6 netstream export source 10.1.1.1\nundo ipv6 netstream export source 10.1.1.1",
            |c| {
                c.aggregations.insert(M::As, agg(false));
            },
        ),
        // A system-view command in an aggregation view runs in the system view (fallback).
        ("ipv6 netstream aggregation as\nipv6 netstream as-mode 32", |c| {
            c.aggregations.insert(M::As, agg(false));
            c.system.as_mode = FieldWidth::Four;
        }),
        // Abbreviations and upper case.
        ("IPV6 NETS EXP TEMP SEQ FIX", |c| c.system.sequence_fixed = true),
        ("ipv6 netstream aggregation prefix-\nen", |c| {
            c.aggregations.insert(M::PrefixTos, agg(true));
        }),
        // display, commit and view changes edit nothing.
        ("display current-configuration\ndisplay configuration candidate\ncommit\nquit\nsystem-view\nreturn\nsystem-view", |_| {}),
    ];
    for (lines, edit) in cases {
        let mut want = Config::default();
        edit(&mut want);
        assert_eq!(candidate(lines), want, "{lines}");
    }
}

#[test]
fn every_mode_has_an_aggregation_view() {
    for m in M::ALL {
        let s = session(&format!("ipv6 netstream aggregation {m}\nenable"));
        assert_eq!(s.view(), View::Aggregation(m));
        assert_eq!(s.prompt(), format!("[*nsflow-aggregation-ipv6-{m}]"));
        assert!(s.candidate().aggregations[&m].enabled);
    }
}

/// (setup lines after `system-view`, line, kind, column, words the explanation contains)
type ErrorCase = (&'static str, &'static str, ErrorKind, usize, &'static str);

#[test]
fn every_error_points_at_its_token() {
    use ErrorKind::*;
    let as_view = "ipv6 netstream aggregation as";
    let prefix_view = "ipv6 netstream aggregation prefix";
    let eight_hosts = "ipv6 netstream aggregation as\nipv6 netstream export host 127.0.0.1 1\nipv6 netstream export host 127.0.0.1 2\nipv6 netstream export host 127.0.0.1 3\nipv6 netstream export host 127.0.0.1 4\nipv6 netstream export host 127.0.0.1 5\nipv6 netstream export host 127.0.0.1 6\nipv6 netstream export host 127.0.0.1 7\nipv6 netstream export host 127.0.0.1 8";
    let cases: &[ErrorCase] = &[
        ("", "ipv6 netstrem export", Unrecognized, 6, "expected one of: netstream"),
        ("", "ipv6 netstream", Incomplete, 15, "export, aggregation, timeout, as-mode, mpls-aware"),
        ("", "ipv6 netstream export host 10.0.0.1 70000", WrongParameter, 37, "UDP port 70000 is out of range: it must be an integer from 1 to 65535"),
        ("", "ipv6 netstream export host 10.0.0.1 0", WrongParameter, 37, "from 1 to 65535"),
        ("", "ipv6 netstream export host 10.0.0.1", Incomplete, 36, "<1-65535>"),
        ("", "ipv6 netstream export host 2001:db8::1 9995", WrongParameter, 28, "ipv6 netstream export host ipv6 ADDRESS PORT"),
        ("", "ipv6 netstream export host ipv6 10.0.0.1 9995", WrongParameter, 33, "must be IPv6"),
        ("", "ipv6 netstream export host 10.0.0.300 9995", WrongParameter, 28, "not a valid ipv4-address"),
        ("", "ipv6 netstream export host 0.0.0.0 9995", WrongParameter, 28, "cannot be a collector"),
        ("", "ipv6 netstream export host 255.255.255.255 9995", WrongParameter, 28, "not by broadcast or multicast"),
        ("", "ipv6 netstream export host 224.0.0.1 9995", WrongParameter, 28, "not by broadcast or multicast"),
        ("", "ipv6 netstream export host ipv6 ff02::1 9995", WrongParameter, 33, "not by broadcast or multicast"),
        ("", "ipv6 netstream export host ipv6 fe80::1 9995", WrongParameter, 33, "fe80::1 is link-local"),
        ("", "ipv6 netstream export host ipv6 fe80::1 9995 dscp 1", WrongParameter, 33, "`vpn-instance NAME`"),
        ("", "ipv6 netstream export host 10.0.0.1 9995 dscp 64", WrongParameter, 47, "from 0 to 63"),
        ("", "ipv6 netstream export host 10.0.0.1 9995 vpn-instance", Incomplete, 54, "<vpn-instance-name>"),
        ("", "ipv6 netstream export host 10.0.0.1 9995 vpn-instance abcdefghijabcdefghijabcdefghijab", WrongParameter, 55, "32 characters: it must have 1 to 31"),
        ("", "ipv6 netstream export host 10.0.0.1 9995 foo", Unrecognized, 42, "vpn-instance, dscp, <cr>"),
        ("", "ipv6 netstream export host 10.0.0.1 9995 dscp 1 x", TooManyParameters, 49, "complete before `x`"),
        ("", "ipv6 netstream export host 10.0.0.1 9995 dscp 1 vpn-instance a", TooManyParameters, 49, ""),
        ("", "ipv6 netstream export source 224.0.0.1", WrongParameter, 30, "source address"),
        ("", "ipv6 netstream export source ipv6 ::", WrongParameter, 35, "cannot be a source"),
        ("", "ipv6 netstream export source ::1", WrongParameter, 30, "export source ipv6 ADDRESS"),
        ("", "ipv6 netstream export source ipv6 10.0.0.1", WrongParameter, 35, "an IPv4 source is written without `ipv6`"),
        ("", "ipv6 netstream export source 10.0.0.1 x", WrongParameter, 39, "not an integer"),
        ("", "ipv6 netstream export source 10.0.0.1 65536", WrongParameter, 39, "from 1 to 65535"),
        ("", "ipv6 netstream aggregation bogus", Unrecognized, 28, "as, as-tos"),
        ("", "ipv6 netstream aggregation s", Ambiguous, 28, "source-prefix, source-prefix-tos"),
        ("", "ipv6 netstream aggregation as extra", TooManyParameters, 31, ""),
        ("", "ipv6 netstream aggregation timeout active 61", WrongParameter, 43, "from 1 to 60"),
        ("", "ipv6 netstream aggregation timeout active 0", WrongParameter, 43, "from 1 to 60"),
        ("", "ipv6 netstream aggregation timeout active interval-second 14", WrongParameter, 59, "from 15 to 59"),
        ("", "ipv6 netstream aggregation timeout active interval-second 60", WrongParameter, 59, "from 15 to 59"),
        ("", "ipv6 netstream aggregation timeout active", Incomplete, 42, "interval-second, <1-60>"),
        ("", "ipv6 netstream aggregation timeout inactive 4", WrongParameter, 45, "from 5 to 600"),
        ("", "ipv6 netstream aggregation timeout inactive 601", WrongParameter, 45, "from 5 to 600"),
        ("", "ipv6 netstream timeout inactive 601", WrongParameter, 33, "from 5 to 600"),
        ("", "ipv6 netstream timeout active 0", WrongParameter, 31, "from 1 to 60"),
        ("", "ipv6 netstream export template option refresh-rate 601", WrongParameter, 52, "from 1 to 600"),
        ("", "ipv6 netstream export template option refresh-rate 0", WrongParameter, 52, "from 1 to 600"),
        ("", "ipv6 netstream export template option timeout-rate 3601", WrongParameter, 52, "from 1 to 3600"),
        ("", "ipv6 netstream as-mode 24", Unrecognized, 24, "16, 32"),
        ("", "ipv6 netstream export index-switch 8", Unrecognized, 36, "16, 32"),
        ("", "ipv6 netstream mpls-aware label", Ambiguous, 27, "label-only, label-and-ip"),
        ("", "ipv6 netstream export template sequence-number", Incomplete, 47, "fixed"),
        ("", "enable", Unrecognized, 1, "a command of an aggregation view"),
        ("", "undo ipv6 netstream export host 10.0.0.9 9995", NotConfigured, 33, "no export host 10.0.0.9 9995 is configured"),
        ("", "undo ipv6 netstream export source 10.0.0.9", NotConfigured, 35, "10.0.0.9 is not configured"),
        ("ipv6 netstream export source 10.0.0.8", "undo ipv6 netstream export source 10.0.0.9", NotConfigured, 35, ""),
        ("", "undo ipv6 netstream aggregation as", NotConfigured, 33, "no ipv6 netstream aggregation as view"),
        ("", "undo ipv6 netstream as-mode 32", NotConfigured, 29, "`ipv6 netstream as-mode 32` is not configured (the configuration is `ipv6 netstream as-mode 16`)"),
        ("", "undo ipv6 netstream as-mode 32 x", TooManyParameters, 32, ""),
        ("", "undo ipv6 netstream timeout active interval-second", Incomplete, 51, "<15-59>"),
        ("ipv6 netstream timeout active 5", "undo ipv6 netstream timeout active interval-second 30", NotConfigured, 36, "(the configuration is `ipv6 netstream timeout active 5`)"),
        ("ipv6 netstream aggregation timeout inactive 60", "undo ipv6 netstream aggregation timeout inactive 61", NotConfigured, 50, "(the configuration is `ipv6 netstream aggregation timeout inactive 60`)"),
        ("", "undo ipv6 netstream mpls-aware label-only", NotConfigured, 32, "(the configuration is `ipv6 netstream mpls-aware ip-only`)"),
        (as_view, "undo template timeout-rate 20", NotConfigured, 28, "`template timeout-rate 20` is not configured (the configuration is `template timeout-rate 30`)"),
        (as_view, "undo export version ipfix", NotConfigured, 21, "(the configuration is `export version 9`)"),
        (prefix_view, "undo mask destination minimum 24", NotConfigured, 31, "`mask destination minimum 24` is not configured (the configuration is `undo mask destination minimum`)"),
        ("return", "display this", Unrecognized, 9, "the user view has none"),
        ("", "display current-configuration | count", Unrecognized, 33, "begin, exclude, include"),
        ("", "display current-configuration | include [", WrongParameter, 41, "`[` is not a regular expression"),
        ("", "display current-configuration |", Incomplete, 32, "begin, exclude, include"),
        ("", "display current-configuration x", Unrecognized, 31, "|, <cr>"),
        ("", "undo ipv6 netstream export host 10.0.0.1 1 dscp 3", Unrecognized, 44, "vpn-instance, <cr>"),
        ("", "undo enable", Unrecognized, 6, "expected one of: ipv6"),
        ("", "display", Incomplete, 8, "current-configuration, configuration"),
        ("", "display configuration", Incomplete, 22, "candidate"),
        ("", "commit now", TooManyParameters, 8, ""),
        ("", "x", Unrecognized, 1, "ipv6, ip, undo, commit, display, quit, return"),
        ("return", "ipv6 netstream as-mode 32", Unrecognized, 1, "a command of the system view"),
        ("return", "commit", Unrecognized, 1, "system-view, display, reset, quit"),
        (as_view, "mask source minimum 10", Unrecognized, 1, "only to the prefix modes"),
        (as_view, "undo mask source minimum", Unrecognized, 6, "only to the prefix modes"),
        (as_view, "enable 1", TooManyParameters, 8, ""),
        (as_view, "e", Ambiguous, 1, "enable, export"),
        (as_view, "export version 5", WrongParameter, 16, "can only be exported as V9 or IPFIX"),
        (as_view, "export version 8", WrongParameter, 16, "V5 and V8 are IPv4 formats"),
        (as_view, "export version 10", Unrecognized, 16, "9, ipfix"),
        (as_view, "template timeout-rate 0", WrongParameter, 23, "from 1 to 3600"),
        (as_view, "template timeout-rate 3601", WrongParameter, 23, "from 1 to 3600"),
        (as_view, "ipv6 netstream export host 10.0.0.1 99999", WrongParameter, 37, "from 1 to 65535"),
        (prefix_view, "mask source minimum 129", WrongParameter, 21, "from 1 to 128"),
        (prefix_view, "mask destination minimum 0", WrongParameter, 26, "from 1 to 128"),
        (prefix_view, "mask sideways minimum 3", Unrecognized, 6, "source, destination"),
        (prefix_view, "mask source", Incomplete, 12, "minimum"),
        (eight_hosts, "ipv6 netstream export host 127.0.0.1 9", LimitExceeded, 28, "already has 8 export hosts"),
        (eight_hosts, "ipv6 netstream export host ipv6 ::1 9", LimitExceeded, 33, ""),
    ];
    assert_refused(cases);
}

/// Each case (after its setup lines) is refused with its error kind at its column, the
/// detail containing its text; nothing changes but the line count, and the error renders
/// as VRP does: the line, a caret under the token, the headline.
fn assert_refused(cases: &[(&str, &str, ErrorKind, usize, &str)]) {
    for (setup, line, kind, column, detail) in cases {
        let mut s = session(setup);
        let before = s.clone();
        let e = s.feed_line(line).unwrap_err().0.remove(0);
        let loc = e.location.clone().unwrap();
        assert_eq!((e.kind, loc.column), (*kind, *column), "`{line}`:\n{e}");
        assert!(
            e.detail.contains(detail),
            "`{line}`: `{}` lacks `{detail}`",
            e.detail
        );
        assert_eq!(loc.text, *line);
        assert_eq!(s.candidate(), before.candidate(), "{line}");
        assert_eq!(s.view(), before.view(), "{line}");
        let text = e.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], line.trim_end());
        assert_eq!(lines[2], format!("{}^", " ".repeat(column - 1)));
        assert_eq!(lines[3], kind.headline());
    }
}

#[test]
fn nothing_takes_effect_before_commit() {
    let mut s =
        session("ipv6 netstream export source 127.0.0.1\nipv6 netstream aggregation as\nenable");
    assert_eq!(s.running(), &Config::default());
    assert_eq!(s.prompt(), "[*nsflow-aggregation-ipv6-as]");
    let r = s.feed_line("commit").unwrap();
    let Response::Committed(report) = r else {
        panic!("{r:?}")
    };
    assert_eq!(report.diff.added, vec![M::As]);
    assert_eq!(report.warnings, vec![Warning::NoHosts(M::As)]);
    assert_eq!(s.running(), s.candidate());
    assert_eq!(s.prompt(), "[~nsflow-aggregation-ipv6-as]");
}

#[test]
fn an_invalid_candidate_leaves_running_unchanged() {
    let mut s = session(
        "ipv6 netstream export source 127.0.0.1\nipv6 netstream export host 127.0.0.1 9995\nipv6 netstream aggregation as\nenable\ncommit",
    );
    let running = s.running().clone();
    s.feed_line("quit").unwrap();
    s.feed_line("ipv6 netstream aggregation mpls-label")
        .unwrap();
    s.feed_line(" enable").unwrap();
    let errors = s.feed_line("commit").unwrap_err().0;
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert_eq!(e.kind, ErrorKind::CommitCheck);
    assert!(e.detail.contains("mpls-aware label-only"), "{}", e.detail);
    // The caret points at the command that broke the rule.
    let loc = e.location.as_ref().unwrap();
    assert_eq!((loc.text.as_str(), loc.column), (" enable", 2));
    assert_eq!(s.running(), &running);
    assert_ne!(s.candidate(), &running, "the candidate is kept for fixing");
    // Fixing it makes the commit pass; the later command is the one pointed at.
    s.feed_line("ipv6 netstream mpls-aware label-and-ip")
        .unwrap();
    s.feed_line("undo ipv6 netstream mpls-aware").unwrap();
    let e = s.commit().unwrap_err();
    assert_eq!(
        e.0[0].location.as_ref().unwrap().text,
        "undo ipv6 netstream mpls-aware"
    );
    s.feed_line("ipv6 netstream mpls-aware label-only").unwrap();
    let report = s.commit().unwrap();
    assert_eq!(report.diff.added, vec![M::MplsLabel]);
    // Configurations built in code are checked too; their errors have no line.
    let mut bad = Config::default();
    bad.system.original_inactive_s = 0;
    let mut t = Session::new(bad.clone());
    assert!(t.commit().is_err_and(|e| e.0[0].location.is_none()));
    assert_eq!(t.running(), &bad);
}

#[test]
fn the_diff_says_exactly_what_changed() {
    let base = "ipv6 netstream export source 127.0.0.1\nipv6 netstream export host 127.0.0.1 9995\n\
                ipv6 netstream aggregation as\nenable\nquit\nipv6 netstream aggregation prefix\nenable\nquit\n\
                ipv6 netstream aggregation vlan-id\nenable\nquit\ncommit";
    let cases: &[(&str, Diff)] = &[
        ("", Diff::default()),
        // A disabled view has no effect.
        ("ipv6 netstream aggregation index-tos", Diff::default()),
        ("ipv6 netstream aggregation index-tos\nenable", Diff { added: vec![M::IndexTos], ..Diff::default() }),
        ("ipv6 netstream aggregation as\nundo enable", Diff { removed: vec![M::As], ..Diff::default() }),
        ("undo ipv6 netstream aggregation vlan-id", Diff { removed: vec![M::VlanId], ..Diff::default() }),
        ("ipv6 netstream aggregation prefix\nmask source minimum 24", Diff { reprogrammed: vec![M::Prefix], ..Diff::default() }),
        // Global aggregation timers reprogram every enabled mode.
        ("ipv6 netstream aggregation timeout inactive 60", Diff { reprogrammed: vec![M::As, M::Prefix, M::VlanId], ..Diff::default() }),
        ("ipv6 netstream aggregation timeout active 30", Diff::default()),
        ("ipv6 netstream timeout active interval-second 20", Diff { original_timers: true, ..Diff::default() }),
        ("ipv6 netstream aggregation as\nexport version ipfix", Diff { export_only: vec![M::As], ..Diff::default() }),
        ("ipv6 netstream aggregation vlan-id\ntemplate timeout-rate 5", Diff { export_only: vec![M::VlanId], ..Diff::default() }),
        ("ipv6 netstream export host 127.0.0.1 9996", Diff { export_only: vec![M::As, M::Prefix, M::VlanId], ..Diff::default() }),
        // A host without a source of its family receives nothing, but it is a change.
        ("ipv6 netstream export host ipv6 ::1 9996", Diff { export_only: vec![M::As, M::Prefix, M::VlanId], ..Diff::default() }),
        // System-view hosts win (A1), so a view's own host changes nothing.
        ("ipv6 netstream aggregation as\nipv6 netstream export host 127.0.0.1 1", Diff::default()),
        ("ipv6 netstream aggregation as\nipv6 netstream export source 127.0.0.2", Diff { export_only: vec![M::As], ..Diff::default() }),
        ("ipv6 netstream as-mode 32", Diff { export_only: vec![M::As, M::Prefix, M::VlanId], ..Diff::default() }),
        (
            "ipv6 netstream aggregation as\nundo enable\nquit\nipv6 netstream aggregation prefix-tos\nenable\nquit\nipv6 netstream aggregation prefix\nmask destination minimum 64\nquit\nipv6 netstream aggregation vlan-id\nexport version ipfix\nquit\nipv6 netstream timeout inactive 10",
            Diff {
                original_timers: true,
                added: vec![M::PrefixTos],
                removed: vec![M::As],
                reprogrammed: vec![M::Prefix],
                export_only: vec![M::VlanId],
            },
        ),
    ];
    for (change, want) in cases {
        let mut s = session(base);
        s.feed_line("return").unwrap();
        s.feed_line("system-view").unwrap();
        for l in change.lines() {
            s.feed_line(l).unwrap();
        }
        let report = s.commit().unwrap();
        assert_eq!(&report.diff, want, "{change}");
        assert_eq!(report.diff.is_empty(), *want == Diff::default());
    }
    let d = Diff {
        original_timers: true,
        added: vec![M::PrefixTos],
        removed: vec![M::As],
        reprogrammed: vec![M::Prefix, M::SourcePrefix],
        export_only: vec![M::VlanId],
    };
    assert_eq!(
        d.to_string(),
        "original-flow timers changed\nadded: prefix-tos\nremoved: as\nreprogrammed: prefix, source-prefix\nexport changed: vlan-id"
    );
    assert_eq!(Diff::default().to_string(), "no change");
}

#[test]
fn a1_system_view_hosts_win_when_there_are_any() {
    let c = candidate(
        "ipv6 netstream export source 127.0.0.1\nipv6 netstream export host 127.0.0.1 1\nipv6 netstream aggregation as\nenable\nipv6 netstream export host 127.0.0.1 2",
    );
    let p = c.export_config(M::As).unwrap();
    assert_eq!(p.collectors, vec![host("127.0.0.1", 1)]);
    assert_eq!(c.warnings(), vec![Warning::AggregationHostsIgnored(M::As)]);
}

#[test]
fn a1_aggregation_view_hosts_when_the_system_view_has_none() {
    let c = candidate(
        "ipv6 netstream export source 127.0.0.1\nipv6 netstream aggregation as\nenable\nipv6 netstream export host 127.0.0.1 2\nipv6 netstream export host 127.0.0.1 3",
    );
    let p = c.export_config(M::As).unwrap();
    assert_eq!(
        p.collectors,
        vec![host("127.0.0.1", 2), host("127.0.0.1", 3)]
    );
    assert_eq!(c.warnings(), vec![]);
}

#[test]
fn a2_aggregation_view_source_wins() {
    let c = candidate(
        "ipv6 netstream export source 10.0.0.1 5000\nipv6 netstream export source ipv6 2001:db8::1\nipv6 netstream aggregation as\nenable\nipv6 netstream export source 10.0.0.2",
    );
    let p = c.export_config(M::As).unwrap();
    // Per family: the view's IPv4 source (no port: 40000), the system view's IPv6 one.
    let sock = |s: &str| s.parse::<SocketAddr>().unwrap();
    assert_eq!(
        p.source_for(&host("127.0.0.1", 1)),
        Some(sock("10.0.0.2:40000"))
    );
    assert_eq!(
        p.source_for(&host("::1", 1)),
        Some(sock("[2001:db8::1]:40000"))
    );
}

#[test]
fn a2_system_view_source_is_the_fallback() {
    let c = candidate(
        "ipv6 netstream export source 10.0.0.1 5000\nipv6 netstream export host 127.0.0.1 1\nipv6 netstream export host ipv6 ::1 1\nipv6 netstream aggregation as\nenable",
    );
    let p = c.export_config(M::As).unwrap();
    assert_eq!(
        p.source_for(&host("127.0.0.1", 1)),
        Some("10.0.0.1:5000".parse().unwrap())
    );
    assert_eq!(p.source.v6, None);
    // The IPv6 host has no source of its family: it gets nothing, and commit says so.
    assert_eq!(p.destinations().len(), 1);
    assert_eq!(p.collectors, vec![host("127.0.0.1", 1)]);
    assert_eq!(p.source_for(&host("::1", 1)), None);
    let e = c.effective_export(M::As).unwrap();
    assert_eq!(e.hosts, vec![host("127.0.0.1", 1), host("::1", 1)]);
    assert_eq!(
        c.warnings(),
        vec![Warning::HostWithoutSource(M::As, host("::1", 1))]
    );
}

#[test]
fn no_source_commits_with_a_warning() {
    let mut s =
        session("ipv6 netstream export host 127.0.0.1 1\nipv6 netstream aggregation as\nenable");
    let report = s.commit().unwrap();
    assert_eq!(report.warnings, vec![Warning::NoSource(M::As)]);
    assert_eq!(
        report.warnings[0].to_string(),
        "aggregation as: no ipv6 netstream export source in this view or the system view; nothing is exported"
    );
    assert_eq!(
        s.running().export_config(M::As).unwrap().destinations(),
        vec![]
    );
    let w = [
        Warning::NoHosts(M::As),
        Warning::HostWithoutSource(M::Prefix, host("::1", 9)),
        Warning::AggregationHostsIgnored(M::VlanId),
    ];
    let text: Vec<String> = w.iter().map(|w| w.to_string()).collect();
    assert!(text[0].contains("no ipv6 netstream export host"));
    assert!(text[1].contains("export host ::1 9 gets nothing: no IPv6 export source"));
    assert!(text[2].contains("the system view's hosts take precedence"));
}

#[test]
fn export_config_carries_every_setting() {
    let c = candidate(
        "ipv6 netstream export source 127.0.0.1\nipv6 netstream export template sequence-number fixed\nipv6 netstream as-mode 32\nipv6 netstream export index-switch 32\n\
         ipv6 netstream export template option refresh-rate 7\nipv6 netstream export template option timeout-rate 8\n\
         ipv6 netstream aggregation timeout active interval-second 20\nipv6 netstream aggregation timeout inactive 40\n\
         ipv6 netstream aggregation as\nenable\nexport version ipfix\ntemplate timeout-rate 9\n\
         ipv6 netstream export host 127.0.0.1 9995 vpn-instance red dscp 46",
    );
    let p = c.export_config(M::As).unwrap();
    assert_eq!(p.version, Version::Ipfix);
    assert_eq!(p.template_timeout_minutes, 9);
    assert!(p.sequence_fixed);
    assert_eq!((p.as_width.octets(), p.ifindex_width.octets()), (4, 4));
    assert_eq!(
        (p.options_refresh_packets, p.options_refresh_minutes),
        (7, 8)
    );
    assert_eq!((p.active_timeout_secs, p.inactive_timeout_secs), (20, 40));
    assert_eq!(p.collectors[0].vpn_instance.as_deref(), Some("red"));
    assert_eq!(p.collectors[0].dscp, 46);
    assert_eq!(p.modes, vec![M::As]);
    assert_eq!(p.observation_domain, 1 + u32::from(M::As.index()));
    assert_eq!(p.validate(), Ok(()));
    // Defaults.
    let c =
        candidate("ipv6 netstream aggregation as\nenable\nquit\nipv6 netstream aggregation prefix");
    let p = c.export_config(M::As).unwrap();
    assert_eq!(p.version, Version::V9);
    assert_eq!(p.template_timeout_minutes, 30);
    assert!(!p.sequence_fixed);
    assert_eq!((p.as_width.octets(), p.ifindex_width.octets()), (2, 2));
    assert_eq!(
        (p.options_refresh_packets, p.options_refresh_minutes),
        (20, 30)
    );
    assert_eq!(
        (p.active_timeout_secs, p.inactive_timeout_secs),
        (1800, 300)
    );
    assert_eq!(c.export_config(M::Prefix), None, "disabled");
    assert_eq!(c.export_config(M::VlanId), None, "absent");
    assert_eq!(c.export_configs().len(), 1);
}

#[test]
fn engine_config_has_one_profile_per_enabled_mode() {
    assert_eq!(Config::default().engine_config(), EngineConfig::default());
    let c = candidate(
        "ipv6 netstream timeout active 10\nipv6 netstream timeout inactive 60\n\
         ipv6 netstream aggregation timeout active 2\nipv6 netstream aggregation timeout inactive 100\n\
         ipv6 netstream aggregation vlan-id\nenable\nquit\nipv6 netstream aggregation as\nquit\n\
         ipv6 netstream aggregation source-prefix\nenable\nmask source minimum 48",
    );
    let e = c.engine_config();
    assert_eq!((e.orig_active_s, e.orig_inactive_s), (600, 60));
    assert!(e.fin_rst_aging);
    let modes: Vec<M> = e.profiles.iter().map(|p| p.mode).collect();
    assert_eq!(
        modes,
        vec![M::SourcePrefix, M::VlanId],
        "enabled only, mode order"
    );
    let p = e.profiles[0];
    assert_eq!(p.select, M::SourcePrefix.field_select());
    assert_eq!((p.src_min, p.dst_min), (48, 0));
    assert_eq!((p.active_s, p.inactive_s), (120, 100));
    // interval-second gives seconds; the later form wins.
    let c = candidate(
        "ipv6 netstream aggregation timeout active 2\nipv6 netstream aggregation timeout active interval-second 45\nipv6 netstream aggregation as\nenable",
    );
    assert_eq!(c.engine_config().profiles[0].active_s, 45);
    // Defaults (A4, A14).
    let e = candidate("ipv6 netstream aggregation as\nenable").engine_config();
    assert_eq!((e.orig_active_s, e.orig_inactive_s), (1800, 30));
    assert_eq!(
        (e.profiles[0].active_s, e.profiles[0].inactive_s),
        (1800, 300)
    );
}

#[test]
fn display_is_canonical_and_omits_defaults() {
    assert_eq!(render(&Config::default()), "#\nreturn\n");
    let c = candidate(
        "ipv6 netstream aggregation prefix\nmask destination minimum 64\nenable\nipv6 netstream export host ipv6 2001:DB8:0::1 9995 dscp 0\nquit\n\
         ipv6 netstream aggregation as\nquit\nip vpn-instance V\nvrf-device vrf-v\nip vpn-instance W\n\
         ipv6 netstream export host 127.0.0.1 9995 vpn-instance V dscp 8\nipv6 netstream export source ipv6 ::1\nipv6 netstream export source 127.0.0.1 7\n\
         ipv6 netstream mpls-aware ip-only\nipv6 netstream mpls-aware label-only\nipv6 netstream timeout active 30\n\
         ipv6 netstream aggregation timeout active interval-second 15\nipv6 netstream timeout inactive 10\n\
         ipv6 netstream as-mode 32\nipv6 netstream export index-switch 32\nipv6 netstream export template sequence-number fixed\n\
         ipv6 netstream export template option refresh-rate 1\nipv6 netstream export template option timeout-rate 2\n\
         ipv6 netstream aggregation timeout inactive 5\nipv6 netstream timeout active interval-second 16",
    );
    let want = "#
ip vpn-instance V
 vrf-device vrf-v
#
ip vpn-instance W
#
ipv6 netstream timeout active interval-second 16
ipv6 netstream timeout inactive 10
ipv6 netstream as-mode 32
ipv6 netstream export index-switch 32
ipv6 netstream mpls-aware label-only
ipv6 netstream export template sequence-number fixed
ipv6 netstream export template option refresh-rate 1
ipv6 netstream export template option timeout-rate 2
ipv6 netstream aggregation timeout active interval-second 15
ipv6 netstream aggregation timeout inactive 5
ipv6 netstream export source 127.0.0.1 7
ipv6 netstream export source ipv6 ::1
ipv6 netstream export host 127.0.0.1 9995 vpn-instance V dscp 8
#
ipv6 netstream aggregation as
#
ipv6 netstream aggregation prefix
 enable
 mask destination minimum 64
 ipv6 netstream export host ipv6 2001:db8::1 9995
#
return
";
    assert_eq!(render(&c), want);
    let mut all = candidate(
        "ipv6 netstream aggregation prefix\nenable\nexport version ipfix\ntemplate timeout-rate 1\nmask source minimum 2\nmask destination minimum 3\nipv6 netstream export source 10.0.0.1\nipv6 netstream export source ipv6 ::2 9",
    );
    assert!(render(&all).contains(
        "ipv6 netstream aggregation prefix\n enable\n export version ipfix\n template timeout-rate 1\n mask source minimum 2\n mask destination minimum 3\n ipv6 netstream export source 10.0.0.1\n ipv6 netstream export source ipv6 ::2 9\n#\n"
    ));
    // Reading the display back gives the same configuration.
    for c in [c, std::mem::take(&mut all)] {
        assert_eq!(parse_config(&render(&c)).unwrap().0, c);
    }
}

#[test]
fn display_commands_show_running_and_candidate() {
    let mut s = session("ipv6 netstream as-mode 32");
    let Ok(Response::Output(run)) = s.feed_line("display current-configuration") else {
        panic!()
    };
    let Ok(Response::Output(cand)) = s.feed_line("display configuration candidate") else {
        panic!()
    };
    assert_eq!(run, "#\nreturn\n");
    assert!(cand.contains("ipv6 netstream as-mode 32"));
    // `display` works in every view and does not change it.
    s.feed_line("ipv6 netstream aggregation as").unwrap();
    assert!(matches!(s.feed_line("disp cur"), Ok(Response::Output(_))));
    assert_eq!(s.view(), View::Aggregation(M::As));
    s.feed_line("commit").unwrap();
    s.feed_line("return").unwrap();
    assert!(matches!(
        s.feed_line("display current-configuration"),
        Ok(Response::Output(_))
    ));
}

fn output(s: &mut Session, line: &str) -> String {
    match s.feed_line(line) {
        Ok(Response::Output(text)) => text,
        other => panic!("`{line}`: {other:?}"),
    }
}

#[test]
fn display_this_shows_the_running_configuration_of_the_view() {
    let mut s = session(
        "ipv6 netstream as-mode 32\nipv6 netstream export source 127.0.0.1\nipv6 netstream aggregation as\nenable\nexport version ipfix\ncommit",
    );
    assert_eq!(
        output(&mut s, "display this"),
        "#\nipv6 netstream aggregation as\n enable\n export version ipfix\n#\nreturn\n"
    );
    s.feed_line("quit").unwrap();
    assert_eq!(
        output(&mut s, "display this"),
        "#\nipv6 netstream as-mode 32\nipv6 netstream export source 127.0.0.1\n#\nreturn\n"
    );
    // The running configuration: a view not committed yet shows nothing, an uncommitted
    // change is not shown.
    s.feed_line("ipv6 netstream aggregation prefix").unwrap();
    assert_eq!(output(&mut s, "dis th"), "#\nreturn\n");
    s.feed_line("ipv6 netstream aggregation as").unwrap();
    s.feed_line("undo enable").unwrap();
    assert!(output(&mut s, "display this").contains(" enable\n"));
    let help: Vec<String> = s
        .help("display ")
        .unwrap()
        .into_iter()
        .map(|i| i.word)
        .collect();
    assert!(help.contains(&"this".to_owned()), "{help:?}");
}

#[test]
fn output_filters_of_display_commands() {
    let mut s = session(
        "ipv6 netstream as-mode 32\nipv6 netstream aggregation as\nenable\nipv6 netstream aggregation vlan-id\ncommit",
    );
    assert_eq!(
        output(
            &mut s,
            "display current-configuration | include aggregation"
        ),
        "ipv6 netstream aggregation as\nipv6 netstream aggregation vlan-id\n"
    );
    assert_eq!(
        output(&mut s, "display current-configuration | exclude ^(#| )"),
        "ipv6 netstream as-mode 32\nipv6 netstream aggregation as\nipv6 netstream aggregation vlan-id\nreturn\n"
    );
    assert_eq!(
        output(&mut s, "disp cur | b vlan-id"),
        "ipv6 netstream aggregation vlan-id\n#\nreturn\n"
    );
    assert_eq!(
        output(
            &mut s,
            "display configuration candidate | include ^ enable$"
        ),
        " enable\n"
    );
    assert_eq!(output(&mut s, "display this | include as-mode"), "");
    // Device displays carry their filter to the shell.
    let Ok(Response::Operation(op, Some(f))) =
        s.feed_line("display ipv6 netstream statistics | include drops")
    else {
        panic!()
    };
    assert_eq!(op, super::command::Operation::Statistics);
    assert_eq!(f.apply("a\nno drops\n"), "no drops\n");
    let words: Vec<String> = s
        .help("display current-configuration | ")
        .unwrap()
        .into_iter()
        .map(|i| i.word)
        .collect();
    assert_eq!(words, ["begin", "exclude", "include"]);
    let words: Vec<String> = s
        .help("display current-configuration ")
        .unwrap()
        .into_iter()
        .map(|i| i.word)
        .collect();
    assert_eq!(words, ["|", "<cr>"]);
}

#[test]
fn leaving_with_uncommitted_changes_asks() {
    // `return` asks; `c` stays.
    let mut s = session("ipv6 netstream as-mode 32");
    assert_eq!(s.feed_line("return"), Ok(Response::Done));
    assert_eq!(s.prompt(), EXIT_QUESTION);
    assert_eq!(s.view(), View::System);
    // Anything but an answer asks again.
    assert_eq!(s.feed_line("maybe"), Ok(Response::Done));
    assert_eq!(s.prompt(), EXIT_QUESTION);
    assert_eq!(s.feed_line("C"), Ok(Response::Done));
    assert_eq!(s.prompt(), "[*nsflow]");
    // `n` discards and leaves.
    s.feed_line("quit").unwrap();
    assert_eq!(s.feed_line("no"), Ok(Response::Done));
    assert_eq!(s.view(), View::User);
    assert_eq!(s.candidate(), &Config::default());
    assert_eq!(s.prompt(), "<nsflow>");
    // `y` commits and leaves.
    let mut s = session("ipv6 netstream aggregation as\nenable");
    s.feed_line("return").unwrap();
    let Ok(Response::Committed(report)) = s.feed_line("y") else {
        panic!()
    };
    assert_eq!(report.diff.added, [M::As]);
    assert_eq!(s.view(), View::User);
    assert!(s.running().aggregations[&M::As].enabled);
    // A refused commit stays in the view, the candidate kept.
    let mut s = session("ipv6 netstream aggregation mpls-label\nenable");
    s.feed_line("return").unwrap();
    assert_eq!(
        s.feed_line("Y").unwrap_err().0[0].kind,
        ErrorKind::CommitCheck
    );
    assert_eq!(s.view(), View::Aggregation(M::MplsLabel));
    assert_eq!(s.prompt(), "[*nsflow-aggregation-ipv6-mpls-label]");
    // `cancel_exit` forgets the question.
    s.feed_line("return").unwrap();
    s.cancel_exit();
    assert_eq!(s.prompt(), "[*nsflow-aggregation-ipv6-mpls-label]");
    // Nothing to commit: no question; a file's `return` never asks.
    let mut s = session("");
    s.feed_line("return").unwrap();
    assert_eq!(s.view(), View::User);
    let (s, _) = Session::from_script(
        "ipv6 netstream as-mode 32\nreturn\nsystem-view\nipv6 netstream export index-switch 32",
    )
    .unwrap();
    assert_eq!(s.running().system.index_switch, FieldWidth::Four);
}

#[test]
fn commit_messages() {
    let mut s = session("ipv6 netstream as-mode 32");
    let m = s.commit().unwrap().message();
    assert_eq!(m, "Info: the configuration was committed; no enabled aggregation mode uses what changed, so the device and the exporters are unchanged.\n");
    assert_eq!(s.commit().unwrap().message(), "Info: no change.\n");
    s.feed_line("ipv6 netstream aggregation as").unwrap();
    s.feed_line("enable").unwrap();
    s.feed_line("ipv6 netstream timeout inactive 10").unwrap();
    assert_eq!(
        s.commit().unwrap().message(),
        "Warning: aggregation as: no ipv6 netstream export source in this view or the system view; nothing is exported\nWarning: aggregation as: no ipv6 netstream export host in this view or the system view; nothing is exported\nInfo: original-flow timers changed; added: as.\n"
    );
}

#[test]
fn errors_in_a_session_have_no_line_numbers() {
    let mut s = session("");
    let e = s.feed_line("ipv6 netstream as-mode 8").unwrap_err();
    assert_eq!(
        e.interactive().to_string(),
        "ipv6 netstream as-mode 8\n                       ^\nError: Unrecognized command found at '^' position.\n  `8` is not valid here; expected one of: 16, 32\n"
    );
    // A file's errors keep them.
    let e = Session::from_script("\nipv6 netstream as-mode 8").unwrap_err();
    assert!(e.to_string().starts_with("line 2, column 24:\n"), "{e}");
}

#[test]
fn views_prompts_quit_and_return() {
    let mut s = Session::default();
    assert_eq!(s.prompt(), "<nsflow>");
    assert_eq!(s.feed_line("system-view"), Ok(Response::Done));
    assert_eq!(s.prompt(), "[~nsflow]");
    s.feed_line("ipv6 netstream aggregation protocol-port")
        .unwrap();
    assert_eq!(s.prompt(), "[*nsflow-aggregation-ipv6-protocol-port]");
    s.feed_line("quit").unwrap();
    assert_eq!(s.view(), View::System);
    s.feed_line("ipv6 netstream aggregation as").unwrap();
    // A system-view command moves to the system view.
    s.feed_line("ipv6 netstream aggregation as-tos").unwrap();
    assert_eq!(s.view(), View::Aggregation(M::AsTos));
    s.feed_line("system-view").unwrap();
    assert_eq!(s.view(), View::System);
    s.feed_line("ipv6 netstream aggregation as").unwrap();
    s.feed_line("commit").unwrap();
    s.feed_line("return").unwrap();
    assert_eq!(s.view(), View::User);
    s.feed_line("system-view").unwrap();
    s.feed_line("quit").unwrap();
    assert_eq!(s.view(), View::User);
    assert_eq!(s.candidate().aggregations.len(), 3);
    assert_eq!(s.feed_line("quit"), Ok(Response::Closed));
}

#[test]
fn help_lists_what_may_come_next() {
    let s = session("ipv6 netstream aggregation prefix");
    let words = |partial: &str| -> Vec<String> {
        s.help(partial)
            .unwrap()
            .into_iter()
            .map(|h| h.word)
            .collect()
    };
    assert_eq!(
        words(""),
        [
            "enable",
            "export",
            "template",
            "mask",
            "ipv6",
            "undo",
            "commit",
            "display",
            "quit",
            "return",
            "ip",
            "system-view",
            "reset"
        ]
    );
    assert_eq!(words("mask source minimum "), ["<1-128>"]);
    assert_eq!(
        words("ipv6 netstream export host 10.0.0.1 99 "),
        ["vpn-instance", "dscp", "<cr>"]
    );
    // Views fallen back to contribute their words too.
    assert_eq!(
        words("ipv6 netstream "),
        ["export", "aggregation", "timeout", "as-mode", "mpls-aware"]
    );
    assert!(words("enable").contains(&"<cr>".to_string()));
    assert_eq!(
        words("ipv6 netstream export host"),
        ["ipv6", "<ipv4-address>"]
    );
    let e = s.help("bogus ").unwrap_err();
    assert_eq!((e.kind, e.column), (ErrorKind::Unrecognized, 1));
    // No `mask` in a view where it does not apply.
    let s = session("ipv6 netstream aggregation as");
    assert!(!s.help("").unwrap().iter().any(|h| h.word == "mask"));
}

#[test]
fn completion_of_a_partial_word() {
    let s = session("ipv6 netstream aggregation as");
    assert_eq!(s.complete("e"), ["enable", "export"]);
    assert_eq!(
        s.complete("ipv6 netstream aggregation as"),
        ["as", "as-tos"]
    );
    assert_eq!(
        s.complete("ipv6 netstream mpls-aware label-"),
        ["label-only", "label-and-ip"]
    );
    assert_eq!(s.complete("export version "), ["9", "ipfix"]);
    assert!(s.complete("zzz ").is_empty());
    let u = Session::default();
    assert_eq!(u.complete("sys"), ["system-view"]);
}

#[test]
fn a_script_is_all_or_nothing() {
    let mut s = Session::default();
    let good = "system-view\nipv6 netstream export source 127.0.0.1\nipv6 netstream aggregation as\n enable\n";
    let report = s.execute_script(good).unwrap();
    assert_eq!(report.diff.added, vec![M::As]);
    assert_eq!(s.view(), View::User, "a script does not move the shell");
    let before = s.clone();
    let bad = "ipv6 netstream aggregation prefix\n enable\n mask source minimum 200\nquit\nipv6 netstream export host 1.1.1.1\n# fine\nipv6 netstream as-mode 32\n";
    let errors = s.execute_script(bad).unwrap_err().0;
    let lines: Vec<usize> = errors
        .iter()
        .map(|e| e.location.as_ref().unwrap().line)
        .collect();
    assert_eq!(lines, vec![3, 5], "every error, with file line numbers");
    assert_eq!(s, before, "nothing changed");
    // A commit failure at the end also changes nothing; an explicit commit line inside a
    // failing script is rolled back too.
    let errors = s
        .execute_script("ipv6 netstream aggregation as-tos\nenable\ncommit\nquit\nipv6 netstream aggregation mpls-label\nenable\n")
        .unwrap_err()
        .0;
    assert_eq!(errors[0].kind, ErrorKind::CommitCheck);
    assert_eq!(errors[0].location.as_ref().unwrap().line, 6);
    assert_eq!(s, before);
    let errors = s
        .execute_script(
            "ipv6 netstream aggregation mpls-label\nenable\ncommit\nquit\nipv6 netstream as-mode 7",
        )
        .unwrap_err()
        .0;
    assert_eq!(errors.len(), 2);
    assert_eq!(s, before);
    // The report covers what the whole script changed.
    let r = s
        .execute_script("ipv6 netstream aggregation vlan-id\nenable\ncommit\nundo enable\nquit\nipv6 netstream aggregation index-tos\nenable")
        .unwrap();
    assert_eq!(r.diff.added, vec![M::IndexTos]);
    // The rendering of a script error names the line.
    let e = parse_config("ipv6 netstream export host 10.0.0.1 70000").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 1, column 37:\nipv6 netstream export host 10.0.0.1 70000\n                                    ^\nError: Wrong parameter found at '^' position.\n  UDP port 70000 is out of range: it must be an integer from 1 to 65535\n"
    );
}

fn example(name: &str) -> String {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_examples_parse_and_commit() {
    let families: &[(&str, &[M])] = &[
        ("as.cfg", &[M::As, M::AsTos, M::BgpNexthopTos, M::IndexTos]),
        (
            "prefix.cfg",
            &[
                M::DestinationPrefix,
                M::DestinationPrefixTos,
                M::Prefix,
                M::PrefixTos,
                M::SourcePrefix,
                M::SourcePrefixTos,
            ],
        ),
        ("protocol-port.cfg", &[M::ProtocolPort, M::ProtocolPortTos]),
        ("mpls-vlan.cfg", &[M::MplsLabel, M::VlanId]),
        ("all-modes.cfg", &M::ALL),
    ];
    for (file, modes) in families {
        let (c, warnings) = parse_config(&example(file)).unwrap_or_else(|e| panic!("{file}:\n{e}"));
        assert_eq!(warnings, vec![], "{file}");
        let enabled: Vec<M> = c.enabled_modes().map(|(m, _)| m).collect();
        assert_eq!(enabled, *modes, "{file}");
        assert!(c.system.sequence_fixed, "{file}");
        for (_, p) in c.export_configs() {
            assert!(!p.destinations().is_empty(), "{file}");
            for (h, _) in p.destinations() {
                assert!(h.addr.is_loopback(), "{file}: {}", h.addr);
            }
        }
        if file.starts_with("prefix") {
            assert!(c
                .engine_config()
                .profiles
                .iter()
                .all(|p| p.src_min + p.dst_min > 0));
        }
        assert_eq!(parse_config(&render(&c)).unwrap().0, c, "{file}");
    }
    let (all, _) = parse_config(&example("all-modes.cfg")).unwrap();
    let ports: Vec<u16> = all
        .export_configs()
        .iter()
        .map(|(_, p)| p.collectors[0].port)
        .collect();
    assert_eq!(ports, (9901..=9914).collect::<Vec<u16>>());
    let routes = parse_routes(&example("routes.txt")).unwrap();
    let tables = routes.tables().unwrap();
    let lookup = |a: &str| {
        tables
            .lookup(&a.parse::<std::net::Ipv6Addr>().unwrap().octets())
            .copied()
    };
    assert_eq!(lookup("2001:db8:5::1").unwrap().len, 32);
    assert_eq!(lookup("fe80::1").unwrap().len, 10);
    assert!(routes.interfaces.contains(&(0, 1)));
    assert_eq!(routes.labels.len(), 2);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// One valid command line in the system view, or a whole aggregation block.
    fn system_line() -> impl Strategy<Value = String> {
        prop_oneof![
            (1u16..=60).prop_map(|m| format!("ipv6 netstream timeout active {m}")),
            (15u16..=59).prop_map(|s| format!("ipv6 netstream timeout active interval-second {s}")),
            (5u16..=600).prop_map(|s| format!("ipv6 netstream timeout inactive {s}")),
            (1u16..=60).prop_map(|m| format!("ipv6 netstream aggregation timeout active {m}")),
            (15u16..=59).prop_map(|s| format!(
                "ipv6 netstream aggregation timeout active interval-second {s}"
            )),
            (5u16..=600).prop_map(|s| format!("ipv6 netstream aggregation timeout inactive {s}")),
            any::<bool>().prop_map(|b| format!(
                "{}ipv6 netstream export template sequence-number fixed",
                if b { "" } else { "undo " }
            )),
            prop_oneof![Just("16"), Just("32")].prop_map(|w| format!("ipv6 netstream as-mode {w}")),
            prop_oneof![Just("16"), Just("32")]
                .prop_map(|w| format!("ipv6 netstream export index-switch {w}")),
            (1u16..=600)
                .prop_map(|p| format!("ipv6 netstream export template option refresh-rate {p}")),
            (1u16..=3600)
                .prop_map(|t| format!("ipv6 netstream export template option timeout-rate {t}")),
            prop_oneof![
                Just("undo ipv6 netstream timeout active"),
                Just("undo ipv6 netstream aggregation timeout inactive"),
                Just("undo ipv6 netstream as-mode"),
                Just("undo ipv6 netstream export template option refresh-rate"),
            ]
            .prop_map(str::to_owned),
        ]
    }

    /// A host or source line (valid in either view); ports 1-4 keep hosts few and colliding.
    fn export_line() -> impl Strategy<Value = String> {
        let addr = prop_oneof![
            (1u8..=3).prop_map(|i| format!("127.0.0.{i}")),
            (1u8..=3).prop_map(|i| format!("ipv6 2001:db8::{i}")),
        ];
        prop_oneof![
            (
                addr.clone(),
                1u16..=4,
                proptest::option::of("[A-Za-z0-9_]{1,31}"),
                0u8..=63
            )
                .prop_map(|(a, p, vpn, d)| {
                    let vpn = vpn.map_or(String::new(), |v| format!(" vpn-instance {v}"));
                    format!("ipv6 netstream export host {a} {p}{vpn} dscp {d}")
                }),
            (addr, proptest::option::of(1u16..=65535)).prop_map(|(a, p)| {
                let p = p.map_or(String::new(), |p| format!(" {p}"));
                format!("ipv6 netstream export source {a}{p}")
            }),
        ]
    }

    fn aggregation_block() -> impl Strategy<Value = Vec<String>> {
        let mode = proptest::sample::select(M::ALL.to_vec());
        let line = prop_oneof![
            Just("enable".to_owned()),
            Just("undo enable".to_owned()),
            prop_oneof![Just("9"), Just("ipfix")].prop_map(|v| format!("export version {v}")),
            (1u16..=3600).prop_map(|t| format!("template timeout-rate {t}")),
            (
                prop_oneof![Just("source"), Just("destination")],
                proptest::option::of(1u8..=128)
            )
                .prop_map(|(d, l)| match l {
                    Some(l) => format!("mask {d} minimum {l}"),
                    None => format!("undo mask {d} minimum"),
                }),
            export_line(),
        ];
        (mode, proptest::collection::vec(line, 0..8)).prop_map(|(m, lines)| {
            std::iter::once(format!("ipv6 netstream aggregation {m}"))
                .chain(
                    lines
                        .into_iter()
                        .filter(|l| m.is_prefix_mode() || !l.contains("mask")),
                )
                .chain(std::iter::once("quit".to_owned()))
                .collect()
        })
    }

    fn script() -> impl Strategy<Value = Vec<String>> {
        let item = prop_oneof![
            system_line().prop_map(|l| vec![l]),
            export_line().prop_map(|l| vec![l]),
            aggregation_block(),
        ];
        let aware = prop_oneof![Just("label-only"), Just("label-and-ip"), Just("ip-only")];
        (proptest::collection::vec(item, 0..25), aware).prop_map(|(items, aware)| {
            let items: Vec<String> = items.into_iter().flatten().collect();
            // Every VPN instance a host names is declared first; one whose name is too
            // long for a device name gets a `vrf-device`.
            let vpns: std::collections::BTreeSet<&str> = items
                .iter()
                .filter_map(|l| l.split(" vpn-instance ").nth(1))
                .filter_map(|rest| rest.split(' ').next())
                .collect();
            let mut lines = vec!["system-view".to_owned()];
            for (i, name) in vpns.into_iter().enumerate() {
                lines.push(format!("ip vpn-instance {name}"));
                if name.len() > 15 {
                    lines.push(format!(" vrf-device vrf{i}"));
                }
            }
            lines.extend(items);
            lines.push(format!("ipv6 netstream mpls-aware {aware}"));
            lines
        })
    }

    /// Feeds `lines`, skipping the ones refused only because a view has 8 hosts (the
    /// generator does not track them).
    fn run(lines: &[String]) -> Session {
        let mut s = Session::default();
        for l in lines {
            if let Err(e) = s.feed_line(l) {
                assert_eq!(e.0[0].kind, ErrorKind::LimitExceeded, "`{l}`: {e}");
            }
        }
        if s.candidate().system.mpls_aware == MplsAware::IpOnly {
            let _ = s.feed_line("undo ipv6 netstream aggregation mpls-label");
        }
        s
    }

    proptest! {
        #[test]
        fn display_reads_back_to_the_same_running_configuration(lines in script()) {
            let mut s = run(&lines);
            let report = s.commit();
            prop_assert!(report.is_ok(), "{:?}", report);
            let text = render(s.running());
            let (again, _) = parse_config(&text).map_err(|e| TestCaseError::fail(format!("{text}\n{e}")))?;
            prop_assert_eq!(&again, s.running(), "{}", text);
            prop_assert_eq!(render(&again), text);
        }

        #[test]
        fn any_text_gives_a_result_never_a_panic(text in "(\\PC|[ \t\n#])*") {
            let _ = parse_config(&text);
            let _ = parse_routes(&text);
            let s = session("ipv6 netstream aggregation prefix");
            let _ = s.help(&text);
            let _ = s.complete(&text);
        }

        #[test]
        fn near_valid_lines_never_panic(
            words in proptest::collection::vec(prop_oneof![
                Just("ipv6"), Just("netstream"), Just("export"), Just("host"), Just("source"),
                Just("aggregation"), Just("timeout"), Just("active"), Just("interval-second"),
                Just("undo"), Just("mask"), Just("minimum"), Just("enable"), Just("10.0.0.1"),
                Just("::1"), Just("99999999999999999999"), Just("0"), Just("65535"), Just("prefix"),
                Just("quit"), Just("commit"), Just("return"), Just("system-view"), Just("display"),
                Just("vpn-instance"), Just("dscp"), Just("template"), Just("option"), Just("é"),
            ], 0..12),
            n in 1usize..6,
        ) {
            let line = words.join(" ");
            let text = vec![line.as_str(); n].join("\n");
            let _ = parse_config(&text);
            let mut s = Session::default();
            let _ = s.feed_line(&line);
            let _ = s.help(&line);
        }
    }
}

#[test]
fn device_operations_are_handed_to_the_shell() {
    use super::command::Operation as Op;
    let mut s = Session::default();
    let cases = [
        ("display ipv6 netstream statistics", Op::Statistics),
        ("dis ipv6 nets exp", Op::Export),
        ("display ipv6 netstream template", Op::Template),
        (
            "display ipv6 netstream cache aggregation protocol-port",
            Op::Cache(M::ProtocolPort),
        ),
        ("reset ipv6 netstream cache", Op::ResetCache),
    ];
    for (line, op) in cases {
        assert_eq!(
            s.feed_line(line),
            Ok(Response::Operation(op, None)),
            "{line}"
        );
    }
    // From the system and aggregation views too (displays fall back to the user view's
    // `reset`); nothing changes the configuration.
    s.feed_line("system-view").unwrap();
    assert_eq!(
        s.feed_line("display ipv6 netstream statistics"),
        Ok(Response::Operation(Op::Statistics, None))
    );
    s.feed_line("ipv6 netstream aggregation as").unwrap();
    assert_eq!(
        s.feed_line("reset ipv6 netstream cache"),
        Ok(Response::Operation(Op::ResetCache, None))
    );
    // VRP climbs back to the system view at most: a user-view command leaves the session
    // in its view.
    assert_eq!(s.view(), View::Aggregation(M::As));
    let e = s
        .feed_line("display ipv6 netstream cache aggregation bogus")
        .unwrap_err();
    assert_eq!(e.0[0].kind, ErrorKind::Unrecognized);
    let e = s.feed_line("display ipv6 netstream cache").unwrap_err();
    assert_eq!(e.0[0].kind, ErrorKind::Incomplete);
    let words: Vec<String> = s
        .help("display ipv6 netstream ")
        .unwrap()
        .into_iter()
        .map(|i| i.word)
        .collect();
    assert_eq!(words, ["cache", "statistics", "export", "template"]);
}

#[test]
fn a1_no_warning_when_both_views_name_the_same_hosts() {
    let c = candidate(
        "ipv6 netstream export source 127.0.0.1\nipv6 netstream export host 127.0.0.1 1\nipv6 netstream aggregation as\nenable\nipv6 netstream export host 127.0.0.1 1",
    );
    assert_eq!(
        c.export_config(M::As).unwrap().collectors,
        vec![host("127.0.0.1", 1)]
    );
    assert_eq!(c.warnings(), vec![]);
}

#[test]
fn vpn_instances_are_declared_before_hosts_use_them() {
    // A host naming an undeclared instance: commit refuses it, pointing at the host.
    let mut s = session("ipv6 netstream aggregation as\nenable\nipv6 netstream export source 127.0.0.1\nipv6 netstream export host 127.0.0.1 9995 vpn-instance blue");
    let e = s.commit().unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].kind, ErrorKind::CommitCheck);
    assert_eq!(
        e.0[0].detail,
        "ipv6 netstream aggregation as: export host 127.0.0.1 9995 names vpn-instance `blue`, which does not exist: declare it with `ip vpn-instance blue` in the system view"
    );
    assert_eq!(e.0[0].location.as_ref().unwrap().line, 5);
    assert_eq!(s.running(), &Config::default());
    // Declared, with its VRF device: the prompt, `display this`, the exporter's device.
    s.feed_line("ip vpn-instance blue").unwrap();
    assert_eq!(s.view(), View::VpnInstance("blue".into()));
    assert_eq!(s.prompt(), "[*nsflow-vpn-instance-blue]");
    s.feed_line("vrf-device vrf-blue").unwrap();
    let report = s.commit().unwrap();
    assert_eq!(report.diff.added, [M::As]);
    assert_eq!(s.prompt(), "[~nsflow-vpn-instance-blue]");
    assert_eq!(
        output(&mut s, "display this"),
        "#\nip vpn-instance blue\n vrf-device vrf-blue\n#\nreturn\n"
    );
    let c = &s.running().export_config(M::As).unwrap().collectors[0];
    assert_eq!(
        (c.vpn_instance.as_deref(), c.device()),
        (Some("blue"), Some("vrf-blue"))
    );
    // `undo vrf-device VALUE` must name the configured device; without it the device is
    // the instance's name again, and the export changes.
    let e = s.feed_line("undo vrf-device vrf-red").unwrap_err();
    assert_eq!(e.0[0].kind, ErrorKind::NotConfigured);
    assert!(
        e.0[0]
            .detail
            .ends_with("(the configuration is `vrf-device vrf-blue`)"),
        "{e}"
    );
    s.feed_line("undo vrf-device vrf-blue").unwrap();
    let report = s.commit().unwrap();
    assert_eq!(report.diff.export_only, [M::As]);
    let c = &s.running().export_config(M::As).unwrap().collectors[0];
    assert_eq!(c.device(), Some("blue"));
    // A system-view command leaves the instance's view; deleting an instance in use is
    // refused at commit, pointing at the `undo`.
    s.feed_line("undo ip vpn-instance blue").unwrap();
    assert_eq!(s.view(), View::System);
    let e = s.commit().unwrap_err();
    assert_eq!(
        e.0[0].location.as_ref().unwrap().text,
        "undo ip vpn-instance blue"
    );
    s.feed_line("ip vpn-instance blue").unwrap();
    s.commit().unwrap();
    // A name too long for a device name needs a `vrf-device`.
    let long = "a".repeat(16);
    s.feed_line(&format!("ip vpn-instance {long}")).unwrap();
    let e = s.commit().unwrap_err();
    assert!(
        e.0[0].detail.starts_with(&format!(
            "ip vpn-instance {long}: vrf-device `{long}` has 16 characters: it must have 1 to 15; give its VRF device"
        )),
        "{e}"
    );
    s.feed_line("vrf-device short").unwrap();
    s.commit().unwrap();
    // Reading the display back gives the same configuration.
    assert_eq!(parse_config(&render(s.running())).unwrap().0, *s.running());
}

#[test]
fn vpn_instance_errors() {
    use ErrorKind::*;
    let blue = "ip vpn-instance blue";
    let cases: &[(&str, &str, ErrorKind, usize, &str)] = &[
        ("", "ip vpn-instance", Incomplete, 16, "<vpn-instance-name>"),
        ("", "ip vpn-instance a b", TooManyParameters, 19, ""),
        (
            "",
            &format!("ip vpn-instance {}", "a".repeat(32)),
            WrongParameter,
            17,
            "1 to 31",
        ),
        (
            "",
            "undo ip vpn-instance nope",
            NotConfigured,
            22,
            "no ip vpn-instance nope is configured",
        ),
        (
            "",
            "vrf-device x",
            Unrecognized,
            1,
            "a command of a VPN instance view",
        ),
        (blue, "vrf-device", Incomplete, 11, "<vrf-device>"),
        (
            blue,
            "vrf-device a/b",
            WrongParameter,
            12,
            "cannot name a Linux network device",
        ),
        (
            blue,
            "vrf-device ..",
            WrongParameter,
            12,
            "cannot name a Linux network device",
        ),
        (
            blue,
            "vrf-device 0123456789abcdef",
            WrongParameter,
            12,
            "1 to 15",
        ),
        (
            blue,
            "undo vrf-device x",
            NotConfigured,
            17,
            "(the configuration is `undo vrf-device`)",
        ),
        (
            blue,
            "enable",
            Unrecognized,
            1,
            "a command of an aggregation view",
        ),
    ];
    assert_refused(cases);
}
