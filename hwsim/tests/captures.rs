//! Every traffic capture in shared/pcaps and shared/pcaps/edge through the model with all
//! 14 aggregation profiles enabled at once: packets and bytes conserved per profile, parse
//! errors counted by reason as the reference counts them, and — tables being far from
//! full — per-key totals and the number of original flows equal to the reference
//! aggregator's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{all_modes, assert_conserved, reference, require_shared, totals, traffic_captures};
use nsflow_hwsim::capture::CaptureReader;
use nsflow_rtl::parser::ParseErrorReason;
use nsflow_rtl::regs::GlobalStat;
use nsflow_rtl::tables::Tables;
use nsflow_testkit::harness::{Harness, HarnessConfig};

#[test]
fn every_capture_is_conserved_and_matches_the_reference() {
    let Some(shared) = require_shared() else {
        return;
    };
    let caps = traffic_captures(&shared);
    assert!(
        caps.len() > 100,
        "expected the shared captures, found {}",
        caps.len()
    );
    // Default timers, and short ones so that captures spanning seconds age flows on the
    // scanner and on packet hits too.
    let mut short = all_modes();
    short.orig_inactive_s = 1;
    short.orig_active_s = 4;
    for p in &mut short.profiles {
        p.inactive_s = 2;
        p.active_s = 6;
    }
    let tables = Tables::default();
    let mut totals_checked = 0;
    for (path, engine) in caps
        .iter()
        .flat_map(|p| [(p, all_modes()), (p, short.clone())])
    {
        let what = path.display().to_string();
        let frames = match CaptureReader::read_all(path) {
            Ok(f) => f,
            Err(e) => {
                // The parser test reads the same files; a capture the reader cannot read
                // is reported, not silently passed.
                eprintln!("{what}: unreadable capture skipped: {e}");
                continue;
            }
        };
        let cfg = HarnessConfig {
            engine: engine.clone(),
            tables: tables.clone(),
            ..HarnessConfig::default()
        };
        let mut h = Harness::new(&cfg).unwrap();
        let records = h.run(frames.iter().cloned()).unwrap().to_vec();
        let stats = h.stats();
        let r = reference(&engine, &tables, &frames);
        let ing = &r.ingress;
        assert_eq!(
            [
                stats.global(GlobalStat::RxFrames),
                stats.global(GlobalStat::Ipv6Packets),
                stats.global(GlobalStat::Ipv6Bytes),
                stats.global(GlobalStat::Ipv4Packets),
                stats.global(GlobalStat::Ipv4Bytes),
                stats.global(GlobalStat::OtherFrames),
                stats.global(GlobalStat::ErrIpv6Bytes),
            ],
            [
                ing.rx_frames,
                ing.ipv6_packets,
                ing.ipv6_bytes,
                ing.ipv4_packets,
                ing.ipv4_bytes,
                ing.other_frames,
                ing.err_ipv6_bytes,
            ],
            "{what}: ingress counters"
        );
        for reason in ParseErrorReason::ALL {
            assert_eq!(
                stats.global(GlobalStat::parse_error(reason)),
                ing.errors_of(reason),
                "{what}: parse errors {}",
                reason.name()
            );
        }
        let orig = r.original_flows.len() as u64;
        assert_eq!(
            stats.global(GlobalStat::OrigCreated),
            orig,
            "{what}: original flows"
        );
        assert_conserved(&what, &records, &stats, engine.profiles.len(), orig);
        assert_eq!(
            stats.global(GlobalStat::OrigEvicted),
            0,
            "{what}: tables filled"
        );
        assert_eq!(
            totals(&records, engine.profiles.len()),
            r.aggregates,
            "{what}: per-key totals differ from the reference"
        );
        totals_checked += records.len();
    }
    assert!(
        totals_checked > 10_000,
        "only {totals_checked} records checked"
    );
}
