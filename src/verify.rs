//! `nsflow verify`: the flow comparison report, in the style of CESNET FlowTest's
//! validation. For one run it sets the flows the engine must export beside the flows a
//! collector received and lists, per aggregation mode, the keys expected but not received
//! (missing), the keys received but not expected (unexpected) and the keys whose counters
//! differ (field, expected, received), with per-mode totals and an overall verdict.
//!
//! * **Expected** ([`expected`]): the reference aggregator
//!   ([`nsflow_rtl::reference::ReferenceAggregator`], the golden model) over the same
//!   frames, with the engine configuration the VRP configuration gives and the same route
//!   tables. Its per-profile totals are already keyed by the masked key
//!   ([`nsflow_rtl::FlowKey::masked`] with the profile's field select and prefix minima);
//!   each key is then taken as the mode's template carries it on the wire ([`wire_key`]):
//!   with the 2-octet AS width (`as-mode 16`, the default) an AS above 65535 is sent as
//!   AS_TRANS 23456, with the 2-octet ifIndex width (`index-switch 16`, the default) an
//!   ifIndex above 65535 as 0, and keys that become equal are summed.
//! * **Received** ([`add_received`]): every data record an in-process collector decoded
//!   ([`nsflow_exporter::Decoder`] through [`crate::collect::collect`]), summed per mode and
//!   key: deltaFlowCount, packetDeltaCount, octetDeltaCount.
//! * **Compared** ([`compare`]): per-key totals, not records — the aggregation timers and
//!   the scanner may split one key into several records, which is not a difference.
//!
//! [`verify`] runs the main job ([`crate::run::run`]) with the configuration redirected to
//! the collector ([`redirect`]): the system view's hosts become the single collector on a
//! free 127.0.0.1 port (by precedence A1 every enabled mode then exports there, and only
//! there), every view's own hosts and sources are removed and the system view's IPv4 source
//! becomes 127.0.0.1 (port 40000, the default), so no record leaves the machine and every
//! enabled mode reaches the collector. Everything else — modes, versions, widths, timers,
//! masks — is the configuration as given.

use crate::collect::{self, key_text, CollectTotals};
use crate::run::{self, RunError, RunOptions, RunReport};
use crate::traffic::{Frames, Source};
use crate::vrp::{self, Config};
use nsflow_exporter::template::AS_TRANS;
use nsflow_exporter::{CollectedFlow, Collector, ExportSource, FieldWidth, SourceAddr};
use nsflow_hwsim::capture::CaptureError;
use nsflow_rtl::reference::{ReferenceAggregator, Totals};
use nsflow_rtl::tables::Tables;
use nsflow_rtl::{AggregationMode, FlowKey};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

/// Per-key totals of one mode.
pub type KeyTotals = BTreeMap<FlowKey, Totals>;

/// Per-key totals of every mode.
pub type ModeKeys = BTreeMap<AggregationMode, KeyTotals>;

/// How many keys of each kind the text report lists per mode (the JSON lists all).
const TEXT_LIST_LIMIT: usize = 20;

/// A key as the mode's template carries it: the 2-octet widths truncate ASes above 65535
/// to AS_TRANS (23456, RFC 6793) and ifIndexes above 65535 to 0, as the exporter does.
pub fn wire_key(key: &FlowKey, as_width: FieldWidth, ifindex_width: FieldWidth) -> FlowKey {
    let mut k = *key;
    if as_width == FieldWidth::Two {
        for a in [&mut k.src_as, &mut k.dst_as] {
            if *a > u32::from(u16::MAX) {
                *a = u32::from(AS_TRANS);
            }
        }
    }
    if ifindex_width == FieldWidth::Two {
        for i in [&mut k.in_if, &mut k.out_if] {
            if *i > u32::from(u16::MAX) {
                *i = 0;
            }
        }
    }
    k
}

/// What the engine must export for `config` on the frames of `source` with `tables`:
/// the reference aggregator's per-key totals of every enabled mode, keys as the wire
/// carries them ([`wire_key`] with the mode's widths).
pub fn expected(
    config: &Config,
    tables: Tables,
    source: &Source,
) -> Result<ModeKeys, CaptureError> {
    let engine = config.engine_config();
    let modes: Vec<AggregationMode> = engine.profiles.iter().map(|p| p.mode).collect();
    let mut reference = ReferenceAggregator::new(engine, tables);
    for f in Frames::new(source) {
        let f = f?;
        reference.offer(f.ts_ns, f.link, &f.data);
    }
    let out = reference.finish();
    let widths = (config.system.as_mode, config.system.index_switch);
    let mut keys = ModeKeys::new();
    for (mode, aggregates) in modes.into_iter().zip(out.aggregates) {
        let m = keys.entry(mode).or_default();
        for (k, t) in aggregates {
            m.entry(wire_key(&k, widths.0, widths.1))
                .or_default()
                .add(t.flows, t.packets, t.bytes);
        }
    }
    Ok(keys)
}

/// Adds one decoded flow to the received totals of its mode and key.
pub fn add_received(keys: &mut ModeKeys, flow: &CollectedFlow) {
    keys.entry(flow.mode)
        .or_default()
        .entry(flow.key)
        .or_default()
        .add(flow.flows, flow.packets, flow.bytes);
}

/// `config` exporting every enabled mode to `collector` and nowhere else: the system
/// view's hosts are that one collector (A1 then sends every mode there), the views' own
/// hosts and sources are removed, and the system view's source of the collector's family
/// is its loopback address (default port 40000); the other family's source is removed.
pub fn redirect(config: &Config, collector: SocketAddr) -> Config {
    let mut c = config.clone();
    c.system.export.hosts = vec![Collector::new(collector.ip(), collector.port())];
    let loopback = SourceAddr {
        addr: match collector.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        },
        port: None,
    };
    c.system.export.source = match collector.ip() {
        IpAddr::V4(_) => ExportSource {
            v4: Some(loopback),
            v6: None,
        },
        IpAddr::V6(_) => ExportSource {
            v4: None,
            v6: Some(loopback),
        },
    };
    for a in c.aggregations.values_mut() {
        a.export.hosts.clear();
        a.export.source = ExportSource::default();
    }
    c
}

/// A counter of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// Original flows (deltaFlowCount).
    Flows,
    /// Packets (packetDeltaCount).
    Packets,
    /// Bytes (octetDeltaCount).
    Bytes,
}

impl Field {
    /// The name in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Flows => "flows",
            Self::Packets => "packets",
            Self::Bytes => "bytes",
        }
    }
}

/// One counter that differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDiff {
    /// Which counter.
    pub field: Field,
    /// The reference's value.
    pub expected: u64,
    /// The collector's value.
    pub received: u64,
}

/// A key present on both sides whose counters differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Differing {
    /// The key.
    pub key: FlowKey,
    /// The counters that differ, in [`Field`] order.
    pub fields: Vec<FieldDiff>,
}

/// The comparison of one mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeComparison {
    /// The mode.
    pub mode: AggregationMode,
    /// Keys expected.
    pub expected_keys: usize,
    /// Keys received.
    pub received_keys: usize,
    /// Sum over the expected keys.
    pub expected: Totals,
    /// Sum over the received keys.
    pub received: Totals,
    /// Keys expected but not received, with their expected totals.
    pub missing: Vec<(FlowKey, Totals)>,
    /// Keys received but not expected, with their received totals.
    pub unexpected: Vec<(FlowKey, Totals)>,
    /// Keys on both sides with different counters.
    pub differing: Vec<Differing>,
}

impl ModeComparison {
    /// No missing, unexpected or differing key.
    pub fn passed(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.differing.is_empty()
    }

    /// Keys equal on both sides.
    pub fn matched(&self) -> usize {
        self.expected_keys - self.missing.len() - self.differing.len()
    }
}

/// The comparison of every mode that has expected or received keys, in mode order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Comparison {
    /// Per mode.
    pub modes: Vec<ModeComparison>,
}

fn sum(keys: &KeyTotals) -> Totals {
    keys.values().fold(Totals::default(), |mut a, t| {
        a.add(t.flows, t.packets, t.bytes);
        a
    })
}

fn field_diffs(e: &Totals, r: &Totals) -> Vec<FieldDiff> {
    [
        (Field::Flows, e.flows, r.flows),
        (Field::Packets, e.packets, r.packets),
        (Field::Bytes, e.bytes, r.bytes),
    ]
    .into_iter()
    .filter(|(_, e, r)| e != r)
    .map(|(field, expected, received)| FieldDiff {
        field,
        expected,
        received,
    })
    .collect()
}

/// Compares per-key totals: every mode present on either side (an expected mode with no
/// key is listed too, so that a run with no traffic for a mode shows it).
pub fn compare(expected: &ModeKeys, received: &ModeKeys) -> Comparison {
    let empty = KeyTotals::new();
    let mut modes: Vec<AggregationMode> = expected.keys().chain(received.keys()).copied().collect();
    modes.sort();
    modes.dedup();
    let modes = modes
        .into_iter()
        .map(|mode| {
            let e = expected.get(&mode).unwrap_or(&empty);
            let r = received.get(&mode).unwrap_or(&empty);
            let mut c = ModeComparison {
                mode,
                expected_keys: e.len(),
                received_keys: r.len(),
                expected: sum(e),
                received: sum(r),
                missing: Vec::new(),
                unexpected: Vec::new(),
                differing: Vec::new(),
            };
            for (k, et) in e {
                match r.get(k) {
                    None => c.missing.push((*k, *et)),
                    Some(rt) if rt != et => c.differing.push(Differing {
                        key: *k,
                        fields: field_diffs(et, rt),
                    }),
                    Some(_) => {}
                }
            }
            c.unexpected = r
                .iter()
                .filter(|(k, _)| !e.contains_key(k))
                .map(|(k, t)| (*k, *t))
                .collect();
            c
        })
        .collect();
    Comparison { modes }
}

fn totals_text(t: &Totals) -> String {
    format!("flows {} packets {} bytes {}", t.flows, t.packets, t.bytes)
}

/// Up to [`TEXT_LIST_LIMIT`] lines, then how many more there are.
fn listed<T>(out: &mut String, title: &str, items: &[T], line: impl Fn(&T) -> String) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}:");
    for i in items.iter().take(TEXT_LIST_LIMIT) {
        let _ = writeln!(out, "  {}", line(i));
    }
    if items.len() > TEXT_LIST_LIMIT {
        let _ = writeln!(
            out,
            "  ... and {} more (--json lists all)",
            items.len() - TEXT_LIST_LIMIT
        );
    }
}

impl Comparison {
    /// No mode has a missing, unexpected or differing key.
    pub fn passed(&self) -> bool {
        self.modes.iter().all(ModeComparison::passed)
    }

    /// Missing, unexpected and differing keys over every mode.
    pub fn problems(&self) -> (usize, usize, usize) {
        self.modes.iter().fold((0, 0, 0), |a, m| {
            (
                a.0 + m.missing.len(),
                a.1 + m.unexpected.len(),
                a.2 + m.differing.len(),
            )
        })
    }

    /// The text report: a key table and a totals table per mode, then the missing,
    /// unexpected and differing keys of each mode (at most 20 of each per mode).
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<24} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9}  verdict",
            "mode", "expected", "received", "matched", "missing", "unexpected", "differing"
        );
        for m in &self.modes {
            let _ = writeln!(
                s,
                "{:<24} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9}  {}",
                m.mode.name(),
                m.expected_keys,
                m.received_keys,
                m.matched(),
                m.missing.len(),
                m.unexpected.len(),
                m.differing.len(),
                if m.passed() { "ok" } else { "DIFFERS" }
            );
        }
        let _ = writeln!(
            s,
            "\n{:<24} {:>10} {:>10} {:>12} {:>12} {:>14} {:>14}",
            "totals",
            "flows exp",
            "flows rcv",
            "packets exp",
            "packets rcv",
            "bytes exp",
            "bytes rcv"
        );
        for m in &self.modes {
            let (e, r) = (&m.expected, &m.received);
            let _ = writeln!(
                s,
                "{:<24} {:>10} {:>10} {:>12} {:>12} {:>14} {:>14}",
                m.mode.name(),
                e.flows,
                r.flows,
                e.packets,
                r.packets,
                e.bytes,
                r.bytes
            );
        }
        for m in self.modes.iter().filter(|m| !m.passed()) {
            let mode = m.mode;
            s.push('\n');
            listed(
                &mut s,
                &format!("{mode}: missing (expected, not received)"),
                &m.missing,
                |(k, t)| format!("{}  {}", key_text(mode, k).trim_start(), totals_text(t)),
            );
            listed(
                &mut s,
                &format!("{mode}: unexpected (received, not expected)"),
                &m.unexpected,
                |(k, t)| format!("{}  {}", key_text(mode, k).trim_start(), totals_text(t)),
            );
            listed(
                &mut s,
                &format!("{mode}: differing (field: expected -> received)"),
                &m.differing,
                |d| {
                    let fields: Vec<String> = d
                        .fields
                        .iter()
                        .map(|f| format!("{}: {} -> {}", f.field.name(), f.expected, f.received))
                        .collect();
                    format!(
                        "{}  {}",
                        key_text(mode, &d.key).trim_start(),
                        fields.join(", ")
                    )
                },
            );
        }
        s
    }

    /// The comparison as a JSON array of modes, every key listed (keys as the text
    /// report writes them).
    pub fn json(&self) -> serde_json::Value {
        use serde_json::json;
        let totals = |t: &Totals| json!({"flows": t.flows, "packets": t.packets, "bytes": t.bytes});
        let keyed = |mode: AggregationMode, v: &[(FlowKey, Totals)]| -> serde_json::Value {
            v.iter()
                .map(|(k, t)| json!({"key": key_text(mode, k).trim_start(), "totals": totals(t)}))
                .collect()
        };
        self.modes
            .iter()
            .map(|m| {
                let differing: Vec<serde_json::Value> = m
                    .differing
                    .iter()
                    .map(|d| {
                        let fields: Vec<serde_json::Value> = d
                            .fields
                            .iter()
                            .map(|f| {
                                json!({
                                    "field": f.field.name(),
                                    "expected": f.expected,
                                    "received": f.received,
                                })
                            })
                            .collect();
                        json!({"key": key_text(m.mode, &d.key).trim_start(), "fields": fields})
                    })
                    .collect();
                json!({
                    "mode": m.mode.name(),
                    "passed": m.passed(),
                    "expected_keys": m.expected_keys,
                    "received_keys": m.received_keys,
                    "matched": m.matched(),
                    "expected": totals(&m.expected),
                    "received": totals(&m.received),
                    "missing": keyed(m.mode, &m.missing),
                    "unexpected": keyed(m.mode, &m.unexpected),
                    "differing": differing,
                })
            })
            .collect()
    }
}

/// Why `nsflow verify` could not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The configuration has errors (rendered VRP-style).
    #[error("{0}")]
    Config(vrp::Errors),
    /// The configuration enables no aggregation mode.
    #[error("the configuration enables no aggregation mode: nothing to verify")]
    NoModes,
    /// The main job failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The traffic could not be read for the reference aggregator.
    #[error(transparent)]
    Traffic(#[from] CaptureError),
    /// The in-process collector could not start or stopped unexpectedly.
    #[error("collector: {0}")]
    Collector(String),
}

/// What `nsflow verify` needs.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The VRP configuration text (its hosts and sources are replaced, see [`redirect`]).
    pub config: String,
    /// The route file's text, if any.
    pub routes: Option<String>,
    /// Device specification (`sim`, `vfio-user:PATH`): a modelled device, since the
    /// reference aggregator needs the frames the device gets.
    pub device: String,
    /// The traffic.
    pub source: Source,
    /// Ring size, log2 of records.
    pub ring_log2: u8,
}

/// The outcome of `nsflow verify`.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The comparison.
    pub comparison: Comparison,
    /// The run's own report.
    pub run: RunReport,
    /// Where the collector listened.
    pub collector: SocketAddr,
    /// What the collector received (messages, undecodable messages, per-mode totals).
    pub collected: CollectTotals,
    /// The received per-key totals the comparison used.
    pub received: ModeKeys,
}

impl VerifyReport {
    /// The verdict: the comparison passed and every message decoded.
    pub fn passed(&self) -> bool {
        self.comparison.passed() && self.collected.decode_errors == 0
    }

    /// The verdict line.
    pub fn verdict(&self) -> String {
        if self.passed() {
            let keys: usize = self.comparison.modes.iter().map(|m| m.expected_keys).sum();
            return format!(
                "verdict: PASS ({} modes, {keys} keys, every one received with equal flows, packets and bytes)",
                self.comparison.modes.len()
            );
        }
        let (missing, unexpected, differing) = self.comparison.problems();
        let modes = self.comparison.modes.iter().filter(|m| !m.passed()).count();
        format!(
            "verdict: FAIL ({missing} missing, {unexpected} unexpected, {differing} differing keys in {modes} modes; {} messages could not be decoded)",
            self.collected.decode_errors
        )
    }

    /// A note on the device's drop counters when it dropped records (a device built to
    /// drop on a full ring): the dropped aggregates are what is missing.
    fn drops(&self) -> String {
        let dropped: Vec<String> = self
            .run
            .modes
            .iter()
            .filter(|(_, m)| m.drop_packets > 0)
            .map(|(mode, m)| format!("{mode} {} packets", m.drop_packets))
            .collect();
        if dropped.is_empty() {
            return String::new();
        }
        format!("device dropped records of: {}\n", dropped.join(", "))
    }

    /// The text report.
    pub fn render(&self) -> String {
        format!(
            "nsflow verify: expected = reference aggregator; received = collector on {} ({} messages, {} undecodable; every mode's export redirected there)\ndevice: {}, {} frames\n\n{}\n{}{}\n",
            self.collector,
            self.collected.messages,
            self.collected.decode_errors,
            self.run.device_name,
            self.run.frames,
            self.comparison.render(),
            self.drops(),
            self.verdict()
        )
    }

    /// The report as one JSON object.
    pub fn json(&self) -> String {
        serde_json::json!({
            "passed": self.passed(),
            "collector": self.collector.to_string(),
            "frames": self.run.frames,
            "messages": self.collected.messages,
            "decode_errors": self.collected.decode_errors,
            "modes": self.comparison.json(),
        })
        .to_string()
    }
}

/// Runs the main job with every enabled mode exported to an in-process collector, the
/// reference aggregator on the same frames, and compares.
pub fn verify(opts: VerifyOptions) -> Result<VerifyReport, VerifyError> {
    let (config, _) = vrp::parse_config(&opts.config).map_err(VerifyError::Config)?;
    if config.enabled_modes().next().is_none() {
        return Err(VerifyError::NoModes);
    }
    let tables = run::route_tables(opts.routes.as_deref())?;
    let receiver = collect::Listener::start(
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        ModeKeys::new(),
        add_received,
    )
    .map_err(|e| VerifyError::Collector(format!("cannot listen on 127.0.0.1: {e}")))?;
    let collector = receiver.addr;
    let run_opts = RunOptions {
        config: vrp::render(&redirect(&config, collector)),
        routes: opts.routes,
        device: opts.device,
        source: Some(opts.source.clone()),
        collect: None,
        ring_log2: opts.ring_log2,
        commits: Vec::new(),
        faults: Vec::new(),
        flush_timeout: None,
    };
    let result = run::run(
        run_opts,
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let sent = result.as_ref().map_or(0, |r| {
        r.collectors
            .iter()
            .filter(|c| c.stats.collector == collector)
            .map(|c| c.stats.records_sent)
            .sum()
    });
    let (collected, received) = receiver
        .finish(sent, collect::ARRIVAL_GRACE)
        .map_err(|e| VerifyError::Collector(e.to_string()))?;
    let run = result?;
    let expected = expected(&config, tables, &opts.source)?;
    Ok(VerifyReport {
        comparison: compare(&expected, &received),
        run,
        collector,
        collected,
        received,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16, as_: u32, ifindex: u32) -> FlowKey {
        FlowKey {
            protocol: 6,
            src_port: port,
            dst_port: 80,
            src_as: as_,
            in_if: ifindex,
            ..FlowKey::default()
        }
    }

    fn totals(flows: u64, packets: u64, bytes: u64) -> Totals {
        Totals {
            flows,
            packets,
            bytes,
        }
    }

    #[test]
    fn differences_are_listed_exactly() {
        let m = AggregationMode::ProtocolPort;
        let expected: KeyTotals = (1..=5)
            .map(|p| {
                (
                    key(p, 0, 0),
                    totals(1, u64::from(p) * 10, u64::from(p) * 1000),
                )
            })
            .collect();
        let mut received = expected.clone();
        // One flow removed, one added, one with a changed packet count.
        received.remove(&key(2, 0, 0));
        received.insert(key(9, 0, 0), totals(1, 7, 700));
        received.insert(key(4, 0, 0), totals(1, 41, 4000));
        let c = compare(
            &ModeKeys::from([(m, expected)]),
            &ModeKeys::from([(m, received)]),
        );
        assert!(!c.passed());
        assert_eq!(c.problems(), (1, 1, 1));
        let mc = &c.modes[0];
        assert_eq!(mc.missing, vec![(key(2, 0, 0), totals(1, 20, 2000))]);
        assert_eq!(mc.unexpected, vec![(key(9, 0, 0), totals(1, 7, 700))]);
        assert_eq!(
            mc.differing,
            vec![Differing {
                key: key(4, 0, 0),
                fields: vec![FieldDiff {
                    field: Field::Packets,
                    expected: 40,
                    received: 41,
                }],
            }]
        );
        assert_eq!(
            (mc.expected_keys, mc.received_keys, mc.matched()),
            (5, 5, 3)
        );
        assert_eq!(mc.expected, totals(5, 150, 15_000));
        assert_eq!(mc.received, totals(5, 138, 13_700));
        let text = c.render();
        assert!(
            text.contains("proto 6 2->80  flows 1 packets 20 bytes 2000"),
            "{text}"
        );
        assert!(
            text.contains("proto 6 9->80  flows 1 packets 7 bytes 700"),
            "{text}"
        );
        assert!(text.contains("proto 6 4->80  packets: 40 -> 41"), "{text}");
        let json = c.json();
        let differing = json
            .as_array()
            .and_then(|modes| modes.first())
            .map(|m| m["differing"].clone());
        assert_eq!(
            differing,
            Some(serde_json::json!([{
                "key": "proto 6 4->80",
                "fields": [{"field": "packets", "expected": 40, "received": 41}]
            }])),
            "{json}"
        );
    }

    #[test]
    fn equal_sides_pass_and_a_mode_on_one_side_only_is_reported() {
        let m = AggregationMode::ProtocolPort;
        let keys: KeyTotals = [(key(1, 0, 0), totals(2, 3, 4))].into();
        let same = compare(
            &ModeKeys::from([(m, keys.clone())]),
            &ModeKeys::from([(m, keys.clone())]),
        );
        assert!(same.passed());
        assert_eq!(same.modes[0].matched(), 1);
        let other = compare(
            &ModeKeys::from([(m, keys.clone())]),
            &ModeKeys::from([(AggregationMode::As, keys)]),
        );
        assert_eq!(other.modes.len(), 2);
        assert_eq!(other.problems(), (1, 1, 0));
    }

    #[test]
    fn two_octet_widths_truncate_as_the_exporter_does() {
        let k = key(1, 70_000, 70_000);
        let two = wire_key(&k, FieldWidth::Two, FieldWidth::Two);
        assert_eq!((two.src_as, two.in_if), (23_456, 0));
        let four = wire_key(&k, FieldWidth::Four, FieldWidth::Four);
        assert_eq!(four, k);
        let small = key(1, 65_535, 65_535);
        assert_eq!(wire_key(&small, FieldWidth::Two, FieldWidth::Two), small);
    }

    #[test]
    fn redirect_sends_every_mode_to_the_collector_only() {
        let text = "system-view\nipv6 netstream export source 10.0.0.1\nipv6 netstream export host 10.0.0.2 9995\n\
                    ipv6 netstream aggregation as\nenable\nipv6 netstream export host 10.0.0.3 9996\nipv6 netstream export source 10.0.0.4\nquit\n\
                    ipv6 netstream aggregation prefix\nenable\nexport version ipfix\nipv6 netstream export host ipv6 2001:db8::1 9997\nquit\ncommit\n";
        let (config, _) = vrp::parse_config(text).unwrap();
        let at: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let r = redirect(&config, at);
        // The rendered text reads back to the same configuration (what `run` is given).
        assert_eq!(vrp::parse_config(&vrp::render(&r)).unwrap().0, r);
        let exports = r.export_configs();
        assert_eq!(exports.len(), 2);
        let want: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        for (mode, cfg) in exports {
            let d = cfg.destinations();
            assert_eq!(d.len(), 1, "{mode:?}");
            assert_eq!((d[0].0.addr, d[0].0.port), (at.ip(), at.port()));
            assert_eq!(d[0].1, want);
        }
        assert_eq!(r.engine_config(), config.engine_config());
    }
}
