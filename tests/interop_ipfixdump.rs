//! libfixbuf's `ipfixDump` (Debian libfixbuf-tools), a reader nobody here wrote, reads the
//! IPFIX File (RFC 5655) that `nsflow collect --write FILE` stores, and every data record
//! it prints equals, field by field, what the reference aggregator expects: for every
//! mode, real captures with IPv6 over Ethernet, 802.1Q and MPLS are exported by
//! `nsflow run`'s pipeline to `nsflow collect --write` (the binary, over loopback), then
//! `ipfixDump --in FILE` prints the records. Compared per key: each key field under its
//! IANA element (the expected element is chosen here from the key field's meaning, not
//! from the exporter's template), the counters (deltaFlowCount, packetDeltaCount,
//! octetDeltaCount) summed per key, and the times within the capture's span. An element
//! the test does not know fails it, named. ipfixDump must report no warning (no
//! sequence gap, no malformed set).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow::run::{self, RunOptions};
use nsflow::traffic::{Frames, Source};
use nsflow::vrp;
use nsflow_rtl::reference::ReferenceAggregator;
use nsflow_rtl::AggregationMode;
use nsflow_tests::decoded::{captures, decoded, expected, Fields, Prefixes};
use nsflow_tests::{free_udp_port, nsflow_binary, require_shared, require_tool, workspace_root};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Times: flowStartMilliseconds, flowEndMilliseconds.
const TIMES: [u16; 2] = [152, 153];

fn config(mode: AggregationMode, port: u16) -> String {
    format!(
        "system-view\n\
         ipv6 netstream export template sequence-number fixed\n\
         ipv6 netstream mpls-aware label-and-ip\n\
         ipv6 netstream export source 127.0.0.1\n\
         ipv6 netstream export host 127.0.0.1 {port}\n\
         ipv6 netstream aggregation {}\n enable\n export version ipfix\n quit\n\
         commit\n",
        mode.name()
    )
}

/// MPLS label stack sections (octetArray, 3 octets here): ipfixDump prints an octetArray
/// of up to 8 octets as a host-order (little-endian) integer, so label 100 with S set,
/// sent as 00 06 41, prints as 0x410600. Turned back into the octets sent.
const MPLS_ELEMENTS: [u16; 3] = [70, 71, 72];

fn octets_sent(v: &str) -> String {
    v.parse::<u32>().map_or_else(
        |_| format!("not a label stack section: {v}"),
        |n| {
            let [a, b, c, _] = n.to_le_bytes();
            u32::from_be_bytes([0, a, b, c]).to_string()
        },
    )
}

/// UNIX milliseconds as ipfixDump prints a dateTimeMilliseconds in UTC.
fn utc_ms(ms: u64) -> String {
    let (days, rem) = (ms / 86_400_000, ms % 86_400_000);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// The data records ipfixDump printed for template `tid`, each as element → value.
fn records(dump: &str, tid: u16) -> Vec<Fields> {
    let mut out = Vec::new();
    let mut cur: Option<Fields> = None;
    for line in dump.lines() {
        if line.starts_with("--- ") || line.starts_with("*** ") {
            out.extend(cur.take());
        } else if let Some(rest) = line.trim().strip_prefix("count:") {
            let t = rest.split_whitespace().nth(2).and_then(|w| w.parse().ok());
            cur = (t == Some(tid)).then(BTreeMap::new);
        } else if let (Some(rec), Some(rest)) = (cur.as_mut(), line.trim().strip_prefix('(')) {
            let (ie, rest) = rest.split_once(')').unwrap();
            let (_, value) = rest.split_once(" : ").unwrap();
            let ie: u16 = ie.parse().unwrap();
            let value = value.trim();
            let value = if MPLS_ELEMENTS.contains(&ie) {
                octets_sent(value)
            } else {
                value.to_owned()
            };
            rec.insert(ie, value);
        }
    }
    out.extend(cur);
    out
}

/// `nsflow collect --listen 127.0.0.1:PORT --write FILE --summary`, started.
fn start_collect(port: u16, file: &Path, dir: &Path) -> (Child, PathBuf, PathBuf) {
    let (out, err) = (dir.join("collect.out"), dir.join("collect.err"));
    let child = Command::new(nsflow_binary())
        .args([
            "collect",
            "--summary",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--write")
        .arg(file)
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&err)
        .unwrap_or_default()
        .contains("collecting on")
    {
        assert!(Instant::now() < until, "nsflow collect did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, out, err)
}

#[test]
fn ipfixdump_reads_every_mode_from_the_collectors_ipfix_file_field_by_field() {
    if !require_tool("ipfixDump") {
        return;
    }
    let Some(shared) = require_shared() else {
        return;
    };
    let source = Source::Captures(captures(&shared));
    let routes = std::fs::read_to_string(workspace_root().join("examples/routes.txt")).unwrap();
    let tables = vrp::parse_routes(&routes).unwrap().tables().unwrap();
    let (mut first_ms, mut last_ms) = (u64::MAX, 0);
    for f in Frames::new(&source) {
        let ms = f.unwrap().ts_ns / 1_000_000;
        first_ms = first_ms.min(ms);
        last_ms = last_ms.max(ms);
    }
    let span = utc_ms(first_ms)..=utc_ms(last_ms + 1);
    let mut unknown = Vec::new();
    for (index, mode) in AggregationMode::ALL.into_iter().enumerate() {
        let port = free_udp_port();
        let cfg = config(mode, port);
        let (parsed, _) = vrp::parse_config(&cfg).unwrap();
        let mut reference = ReferenceAggregator::new(parsed.engine_config(), tables.clone());
        for f in Frames::new(&source) {
            let f = f.unwrap();
            reference.offer(f.ts_ns, f.link, &f.data);
        }
        let want = expected(
            mode,
            &reference.finish().aggregates[0],
            Prefixes::PrefixElements,
        );
        assert!(!want.is_empty(), "{mode}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flows.ipfix");
        let (mut collect, out, err) = start_collect(port, &file, dir.path());
        let report = run::run(
            RunOptions::replay(cfg, Some(routes.clone()), source.clone()),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        )
        .unwrap();
        let sent: u64 = report.collectors.iter().map(|c| c.stats.records_sent).sum();
        // Let the last datagrams arrive, then stop the collector as a user would.
        std::thread::sleep(Duration::from_millis(300));
        let st = Command::new("kill")
            .args(["-TERM", &collect.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let status = collect.wait().unwrap();
        let summary = std::fs::read_to_string(&out).unwrap();
        assert!(
            status.success(),
            "{mode}: collect {status}: {summary}{}",
            std::fs::read_to_string(&err).unwrap()
        );
        assert!(
            summary.contains("not written: 0 NetFlow v9 messages")
                && summary.contains(", 0 malformed datagrams"),
            "{mode}: {summary}"
        );

        let dump = Command::new("ipfixDump")
            .env("TZ", "UTC")
            .arg("--in")
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&dump.stderr);
        assert!(dump.status.success(), "{mode}: ipfixDump: {stderr}");
        assert!(
            !stderr.contains("WARNING") && !stderr.contains("ERROR"),
            "{mode}: ipfixDump reported: {stderr}"
        );
        let text = String::from_utf8(dump.stdout).unwrap();
        let tid = 256 + u16::try_from(index).unwrap();
        let recs = records(&text, tid);
        assert_eq!(recs.len() as u64, sent, "{mode}: records ipfixDump read");
        for r in &recs {
            for t in TIMES {
                let v = r.get(&t).cloned().unwrap_or_default();
                assert!(
                    span.contains(&v),
                    "{mode}: element {t} = {v} outside {span:?}"
                );
            }
            assert!(r.get(&152) <= r.get(&153), "{mode}: times {r:?}");
            assert_eq!(
                r.get(&60).map(String::as_str),
                Some("6"),
                "{mode}: ipVersion"
            );
        }
        let (got, strange) = decoded(&recs);
        unknown.extend(strange.into_iter().map(|u| format!("{mode}: {u}")));
        assert_eq!(got.len(), want.len(), "{mode}: keys");
        assert_eq!(got, want, "{mode}: per key flows, packets, bytes");
        // The options of the mode's domain: loss counters and timeouts, read by ipfixDump.
        let loss = records(&text, 270);
        assert!(
            loss.iter()
                .any(|r| r.get(&149) == Some(&(index + 1).to_string())
                    && r.get(&167).map(String::as_str) == Some("0")),
            "{mode}: no loss counters of domain {}",
            index + 1
        );
        eprintln!(
            "{mode}: ipfixDump read {} records, {} keys, equal to the reference",
            recs.len(),
            got.len()
        );
    }
    assert!(
        unknown.is_empty(),
        "elements the test does not know: {unknown:#?}"
    );
}
