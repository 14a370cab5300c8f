//! The export stream, checked by decoding what it produced: templates at start and before
//! first use, template and options refresh on the (injected) time, sequence numbers of
//! the three rules, MTU packing, the flush deadline, and a round trip of every mode and
//! format.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use nsflow_exporter::decode::{Decoded, Set};
use nsflow_exporter::options::{RELIABILITY_TEMPLATE_ID, TIMEOUTS_TEMPLATE_ID};
use nsflow_exporter::template::all_formats;
use nsflow_exporter::{ExportStream, FieldWidth, LossCounters, Message, Version};
use nsflow_rtl::AggregationMode as M;

const MIN: u64 = 60_000;

fn is_template_msg(d: &Decoded) -> bool {
    d.template_records() > 0
}

#[test]
fn start_sends_configured_templates_options_templates_then_options_data() {
    for version in [Version::V9, Version::Ipfix] {
        let mut cfg = localhost_config(version, 9);
        cfg.modes = vec![M::As, M::VlanId];
        cfg.observation_domain = 77;
        let mut s = ExportStream::new(&cfg, T0 + 5 * MIN);
        let d = decode_all(&s.take_messages());
        let ids: Vec<(u32, Vec<u16>, Vec<u16>)> = d
            .iter()
            .map(|m| (m.header.domain, template_ids(m), data_ids(m)))
            .collect();
        let (rel, tmo) = (RELIABILITY_TEMPLATE_ID, TIMEOUTS_TEMPLATE_ID);
        let want = match version {
            // v9: one stream; templates and options templates share a packet.
            Version::V9 => vec![
                (77, vec![256, 269, rel, tmo], vec![]),
                (77, vec![], vec![rel, tmo]),
            ],
            // IPFIX: options in domain 0 (RFC 7011 §3.1), flow templates in domain 77.
            Version::Ipfix => vec![
                (77, vec![256, 269], vec![]),
                (0, vec![rel, tmo], vec![]),
                (0, vec![], vec![rel, tmo]),
            ],
        };
        assert_eq!(ids, want, "{version:?}");
        let Some(Set::Data { records, .. }) = d.last().unwrap().sets.get(1) else {
            panic!("timeouts data")
        };
        assert_eq!(records[0].uint(36), Some(1800));
        assert_eq!(records[0].uint(37), Some(300));
        // The scope names the view's domain in both versions.
        assert_eq!(records[0].fields[0].value, 77u32.to_be_bytes());
    }
}

#[test]
fn template_is_sent_before_the_first_record_of_an_unannounced_mode() {
    let cfg = localhost_config(Version::Ipfix, 9);
    let mut s = ExportStream::new(&cfg, T0);
    let start = s.take_messages();
    let mut g = Gen(1);
    s.push(&record(&mut g, M::ProtocolPort, true), T0);
    s.push(&record(&mut g, M::ProtocolPort, true), T0);
    s.push(&record(&mut g, M::Prefix, true), T0);
    s.flush(T0);
    let msgs: Vec<Message> = start.into_iter().chain(s.take_messages()).collect();
    let d = decode_all(&msgs);
    // start (options templates), options data, template 265, template 263, data.
    assert_eq!(d.len(), 5);
    assert_eq!(template_ids(&d[2]), vec![265]);
    assert_eq!(template_ids(&d[3]), vec![263]);
    assert_eq!(data_ids(&d[4]), vec![265, 265, 263]);
    assert!(d
        .iter()
        .flat_map(|m| &m.sets)
        .all(|s| !matches!(s, Set::Skipped { .. })));
}

#[test]
fn templates_refresh_every_timeout_rate_minutes_on_the_given_clock() {
    let mut cfg = localhost_config(Version::V9, 9);
    cfg.template_timeout_minutes = 7;
    cfg.options_refresh_minutes = 3600;
    cfg.modes = vec![M::IndexTos];
    let mut s = ExportStream::new(&cfg, T0);
    s.take_messages();
    let mut g = Gen(2);
    assert_eq!(s.next_deadline_ms(), T0 + 7 * MIN);
    // A record at 6 min: its message is flushed 1 s later; no template yet.
    s.push(&record(&mut g, M::IndexTos, true), T0 + 6 * MIN);
    s.poll(T0 + 6 * MIN + 999);
    assert!(s.take_messages().is_empty(), "nothing before the deadline");
    s.poll(T0 + 6 * MIN + 1000);
    let d = decode_all(&s.take_messages());
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].template_records(), 0);
    s.poll(T0 + 7 * MIN - 1);
    assert!(s.take_messages().is_empty());
    s.poll(T0 + 7 * MIN);
    let mut dec = nsflow_exporter::Decoder::new();
    let m = s.take_messages();
    assert_eq!(m.len(), 1);
    let d = dec.decode(exporter_addr(), &m[0].bytes).unwrap();
    assert_eq!(template_ids(&d), vec![261]);
    // Next refresh 7 minutes later, not earlier.
    s.poll(T0 + 14 * MIN - 1);
    assert!(s.take_messages().is_empty());
    s.poll(T0 + 14 * MIN);
    assert_eq!(s.take_messages().len(), 1);
}

#[test]
fn options_refresh_every_n_data_packets_and_every_t_minutes() {
    let mut cfg = localhost_config(Version::Ipfix, 9);
    cfg.options_refresh_packets = 3;
    cfg.options_refresh_minutes = 10;
    cfg.template_timeout_minutes = 3600;
    let mut s = ExportStream::new(&cfg, T0);
    s.take_messages();
    s.set_loss_counters(LossCounters {
        not_sent_flows: 1,
        not_sent_packets: 2,
        not_sent_octets: 3,
        ignored_packets: 4,
        ignored_octets: 5,
    });
    let mut g = Gen(3);
    // The first push also sends template 256 (a template message, not a data packet).
    for i in 1..=3 {
        s.push(&record(&mut g, M::As, true), T0 + i);
        s.flush(T0 + i);
    }
    // Three data messages sent: options template + options data follow the third.
    let d = decode_all(&s.take_messages());
    let kinds: Vec<String> = d
        .iter()
        .map(|m| format!("{:?}/{:?}", template_ids(m), data_ids(m)))
        .collect();
    assert_eq!(
        kinds,
        vec![
            "[256]/[]",
            "[]/[256]",
            "[]/[256]",
            "[]/[256]",
            "[270, 271]/[]",
            "[]/[270, 271]"
        ]
    );
    let Set::Data { records, .. } = &d[5].sets[0] else {
        panic!()
    };
    let vals: Vec<u64> = (164..=168).map(|ie| records[0].uint(ie).unwrap()).collect();
    assert_eq!(vals, vec![4, 5, 1, 2, 3]);
    // The decoder reads them back by name; messages without options data carry none.
    let read: Vec<_> = d.iter().map(Decoded::loss_counters).collect();
    assert_eq!(read[..5], [None; 5]);
    assert_eq!(
        read[5],
        Some((
            1,
            LossCounters {
                not_sent_flows: 1,
                not_sent_packets: 2,
                not_sent_octets: 3,
                ignored_packets: 4,
                ignored_octets: 5,
            }
        ))
    );
    // Time trigger: 10 minutes after that refresh, with no data at all.
    s.poll(T0 + 10 * MIN + 2);
    assert!(s.take_messages().is_empty());
    s.poll(T0 + 10 * MIN + 3);
    let d = decode_all(&s.take_messages());
    assert_eq!(d.len(), 2);
    assert_eq!(template_ids(&d[0]), vec![270, 271]);
}

/// The sequence each message must carry, computed from the decoded contents alone, with
/// one counter per header domain (stream).
fn expected_sequences(d: &[Decoded], rule: &str) -> Vec<u32> {
    let mut next: std::collections::HashMap<u32, u32> = Default::default();
    d.iter()
        .map(|m| {
            let n = next.entry(m.header.domain).or_insert(0);
            let s = *n;
            *n = n.wrapping_add(match (rule, is_template_msg(m)) {
                ("v9", _) => 1,
                ("huawei", true) => 1,
                (_, true) => 0,
                (_, false) => m.data_records() as u32,
            });
            s
        })
        .collect()
}

#[test]
fn sequence_numbers_follow_each_rule_when_decoded() {
    for (version, fixed, rule) in [
        (Version::V9, false, "v9"),
        (Version::V9, true, "v9"),
        (Version::Ipfix, true, "rfc"),
        (Version::Ipfix, false, "huawei"),
    ] {
        let mut cfg = localhost_config(version, 9);
        cfg.sequence_fixed = fixed;
        cfg.mtu = 600;
        cfg.options_refresh_packets = 5;
        cfg.template_timeout_minutes = 1;
        cfg.modes = vec![M::As];
        let mut s = ExportStream::new(&cfg, T0);
        let mut g = Gen(4);
        let modes = [M::As, M::PrefixTos, M::MplsLabel];
        for i in 0..300u64 {
            s.push(
                &record(&mut g, modes[(i % 3) as usize], true),
                T0 + i * 1000,
            );
            s.poll(T0 + i * 1000);
        }
        s.flush(T0 + 300_000);
        let msgs = s.take_messages();
        let d = decode_all(&msgs);
        let got: Vec<u32> = d.iter().map(|m| m.header.sequence).collect();
        assert_eq!(
            got,
            expected_sequences(&d, rule),
            "{version:?} fixed={fixed}"
        );
        assert!(d.iter().any(is_template_msg) && d.len() > 30, "{}", d.len());
        let flows: usize = d.iter().map(|m| m.flows().len()).sum();
        assert_eq!(flows, 300);
        // IPFIX flow messages (domain 1) number flow records only; options live in domain 0.
        if version == Version::Ipfix && fixed {
            let flow_msgs: Vec<&Decoded> = d.iter().filter(|m| m.header.domain == 1).collect();
            let last = flow_msgs.last().unwrap();
            assert_eq!(last.header.sequence as usize + last.data_records(), 300);
            assert!(d
                .iter()
                .any(|m| m.header.domain == 0 && m.data_records() == 2));
        }
    }
}

#[test]
fn v9_count_is_every_record_and_ipfix_length_is_the_message_length() {
    let mut cfg = localhost_config(Version::V9, 9);
    cfg.modes = vec![M::As, M::AsTos];
    let mut s = ExportStream::new(&cfg, T0);
    let mut g = Gen(5);
    for _ in 0..5 {
        s.push(&record(&mut g, M::As, true), T0);
    }
    s.flush(T0);
    let msgs = s.take_messages();
    let d = decode_all(&msgs);
    for m in &d {
        let records = m.template_records() + m.data_records();
        assert_eq!(usize::from(m.header.count_or_length), records);
    }
    let cfg = localhost_config(Version::Ipfix, 9);
    let mut s = ExportStream::new(&cfg, T0);
    s.push(&record(&mut g, M::As, true), T0);
    s.flush(T0);
    for m in s.take_messages() {
        assert_eq!(
            usize::from(u16::from_be_bytes([m.bytes[2], m.bytes[3]])),
            m.bytes.len()
        );
    }
}

#[test]
fn records_are_packed_up_to_the_mtu() {
    // IPFIX `as` with 4-octet AS/ifIndex: 59-octet records. 1400 − 16 − 4 = 1380 → 23.
    let mut cfg = localhost_config(Version::Ipfix, 9);
    widths(&mut cfg, FieldWidth::Four, FieldWidth::Four);
    let mut s = ExportStream::new(&cfg, T0);
    s.take_messages();
    let mut g = Gen(6);
    for _ in 0..100 {
        s.push(&record(&mut g, M::As, false), T0);
    }
    s.flush(T0);
    let msgs = s.take_messages();
    let data: Vec<&Message> = msgs.iter().filter(|m| m.flow_records > 0).collect();
    let counts: Vec<u32> = data.iter().map(|m| m.flow_records).collect();
    assert_eq!(counts, vec![23, 23, 23, 23, 8]);
    assert_eq!(data[0].bytes.len(), 16 + 4 + 23 * 59);
    // v9 `prefix-tos` 2-octet: 24+8+32+2+8+1+1+1 = 77 octets; 20 + 4 + 17 × 77 = 1333,
    // padded to 1336 ≤ 1400 (18 records would need 1412).
    let mut cfg = localhost_config(Version::V9, 9);
    cfg.mtu = 1400;
    let mut s = ExportStream::new(&cfg, T0);
    for _ in 0..40 {
        s.push(&record(&mut g, M::PrefixTos, true), T0);
    }
    s.flush(T0);
    let counts: Vec<u32> = s
        .take_messages()
        .iter()
        .filter(|m| m.flow_records > 0)
        .map(|m| m.flow_records)
        .collect();
    assert_eq!(counts, vec![17, 17, 6]);
}

#[test]
fn no_message_exceeds_the_mtu_whatever_the_mix() {
    for mtu in [256usize, 512, 1400, 9000, 65535] {
        for format in all_formats() {
            let mut cfg = localhost_config(format.version, 9);
            widths(&mut cfg, format.as_width, format.ifindex_width);
            cfg.mtu = mtu;
            cfg.modes = M::ALL.to_vec();
            let mut s = ExportStream::new(&cfg, T0);
            let mut g = Gen(mtu as u64);
            for i in 0..3000 {
                let m = M::ALL[(g.next_u64() % 14) as usize];
                s.push(&record(&mut g, m, true), T0 + i);
            }
            s.flush(T0 + 3000);
            let msgs = s.take_messages();
            assert!(msgs.iter().all(|m| m.bytes.len() <= mtu), "mtu {mtu}");
            let d = decode_all(&msgs);
            let n: usize = d.iter().map(|m| m.flows().len()).sum();
            assert_eq!(n, 3000);
        }
    }
}

#[test]
fn flush_deadline_bounds_how_long_a_record_waits() {
    let mut cfg = localhost_config(Version::V9, 9);
    cfg.flush_deadline = std::time::Duration::from_millis(250);
    let mut s = ExportStream::new(&cfg, T0);
    s.take_messages();
    let mut g = Gen(7);
    s.push(&record(&mut g, M::As, true), T0 + 100);
    s.take_messages(); // its template
    s.push(&record(&mut g, M::As, true), T0 + 300);
    assert_eq!(s.next_deadline_ms(), T0 + 350);
    s.poll(T0 + 349);
    assert!(s.take_messages().is_empty());
    s.poll(T0 + 350);
    let m = s.take_messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].flow_records, 2);
}

#[test]
fn v9_times_of_flows_ending_within_the_export_second_convert_back_exactly() {
    // sysUpTime is taken at the export second, so a flow that ended 400 ms ago has
    // LAST_SWITCHED above sysUpTime; the collector arithmetic must still give the time back.
    let cfg = localhost_config(Version::V9, 9);
    let mut s = ExportStream::new(&cfg, T0);
    let mut g = Gen(10);
    let mut r = record(&mut g, M::As, true);
    r.start_ms = T0 + 5_000_100;
    r.end_ms = T0 + 5_000_600;
    s.push(&r, T0 + 5_000_999);
    s.flush(T0 + 5_000_999);
    let d = decode_all(&s.take_messages());
    let last = d.last().unwrap();
    assert_eq!(last.header.sys_uptime_ms, Some(5_000_000));
    let f = last.flows()[0];
    assert_eq!((f.start_ms, f.end_ms), (r.start_ms, r.end_ms));
}

#[test]
fn width_change_resends_templates_and_later_records_use_them() {
    let mut cfg = localhost_config(Version::Ipfix, 9);
    cfg.modes = vec![M::As];
    let mut s = ExportStream::new(&cfg, T0);
    let mut g = Gen(8);
    let r1 = record(&mut g, M::As, true);
    s.push(&r1, T0);
    s.set_widths(FieldWidth::Four, FieldWidth::Four, T0 + 1);
    let mut r2 = record(&mut g, M::As, false);
    r2.key.src_as = 4_200_000_000;
    s.push(&r2, T0 + 2);
    s.flush(T0 + 2);
    let d = decode_all(&s.take_messages());
    let tpl_lens: Vec<usize> = d
        .iter()
        .flat_map(|m| &m.sets)
        .filter_map(|s| match s {
            Set::Templates(t) => Some(t[0].fields.iter().map(|f| usize::from(f.len)).sum()),
            _ => None,
        })
        .collect();
    assert_eq!(tpl_lens, vec![51, 59]);
    let flows: Vec<_> = d.iter().flat_map(|m| m.flows()).collect();
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0].key.src_as, r1.key.src_as);
    assert_eq!(flows[1].key.src_as, 4_200_000_000);
}

#[test]
fn every_mode_and_format_round_trips_field_by_field() {
    for format in all_formats() {
        let small = format.as_width == FieldWidth::Two || format.ifindex_width == FieldWidth::Two;
        let mut cfg = localhost_config(format.version, 9);
        widths(&mut cfg, format.as_width, format.ifindex_width);
        let mut s = ExportStream::new(&cfg, T0);
        let mut g = Gen(9);
        let sent: Vec<_> = (0..14 * 50)
            .map(|i| record(&mut g, M::ALL[i % 14], small))
            .collect();
        // Exported after every record ended (records end by T0 + 70 min).
        for r in &sent {
            s.push(r, T0 + 7_200_000);
        }
        s.flush(T0 + 7_200_000);
        let got: Vec<_> = decode_all(&s.take_messages())
            .iter()
            .flat_map(|m| m.flows())
            .collect();
        assert_eq!(got.len(), sent.len());
        for (r, c) in sent.iter().zip(&got) {
            assert_eq!(c.mode, r.mode);
            assert_eq!(c.key, r.key, "{format:?} {}", r.mode);
            assert_eq!((c.flows, c.packets, c.bytes), (r.flows, r.packets, r.bytes));
            assert_eq!((c.start_ms, c.end_ms), (r.start_ms, r.end_ms), "{format:?}");
            let reason = (format.version == Version::Ipfix).then_some(r.end_reason);
            assert_eq!(c.end_reason, reason);
        }
    }
}
