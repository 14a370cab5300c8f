//! The tables of the end-of-run summary, also shown by the shell's `display ipv6
//! netstream statistics` and `display ipv6 netstream export`.

use super::{CollectorReport, ModeReport};
use nsflow_driver::device::DeviceStats;
use nsflow_rtl::record::EndReason;
use nsflow_rtl::regs::GlobalStat;
use nsflow_rtl::regs::ProfileStat;
use nsflow_rtl::AggregationMode;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The name of an end reason as the summary prints it.
pub fn reason_name(r: EndReason) -> &'static str {
    match r {
        EndReason::Idle => "inactive",
        EndReason::Active => "active",
        EndReason::EndOfFlow => "end of flow",
        EndReason::Forced => "forced (flush)",
        EndReason::LackOfResources => "lack of resources",
    }
}

/// Device statistics: packets and bytes, original flows created and aged by reason,
/// records exported by reason, parse errors by reason, drops and ring stalls.
pub fn device(d: &DeviceStats, frames: u64, reasons: &BTreeMap<EndReason, u64>) -> String {
    let g = |n: GlobalStat| d.global(n);
    let mut s = String::new();
    let errors: u64 = GlobalStat::parse_errors().map(g).sum();
    let _ = writeln!(
        s,
        "frames offered {frames}, received {}: IPv6 {} packets / {} bytes keyed, IPv4 {} packets, other {} frames, parse errors {errors} ({} IPv6 bytes ignored)",
        g(GlobalStat::RxFrames),
        g(GlobalStat::Ipv6Packets),
        g(GlobalStat::Ipv6Bytes),
        g(GlobalStat::Ipv4Packets),
        g(GlobalStat::OtherFrames),
        g(GlobalStat::ErrIpv6Bytes),
    );
    let _ = writeln!(
        s,
        "original flows created {}, aged: inactive {}, active {}, end of flow {}, flush {}, evicted for room {}",
        g(GlobalStat::OrigCreated),
        g(GlobalStat::OrigAgedIdle),
        g(GlobalStat::OrigAgedActive),
        g(GlobalStat::OrigAgedEnd),
        g(GlobalStat::OrigAgedForced),
        g(GlobalStat::OrigEvicted)
    );
    let by_reason: Vec<String> = EndReason::ALL
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                reason_name(*r),
                reasons.get(r).copied().unwrap_or(0)
            )
        })
        .collect();
    let _ = writeln!(
        s,
        "records written {}, exported by reason: {}",
        g(GlobalStat::RecordsWritten),
        by_reason.join(", ")
    );
    let errs: Vec<String> = GlobalStat::parse_errors()
        .map(|n| format!("{} {}", n.name().trim_start_matches("err_"), g(n)))
        .collect();
    let _ = writeln!(s, "parse errors: {}", errs.join(", "));
    let _ = writeln!(
        s,
        "drops: {} records / {} packets / {} bytes; stalls (cycles): ring full {}, ingress {}, table {}",
        d.profile_total(ProfileStat::DropRecords),
        d.profile_total(ProfileStat::DropPackets),
        d.profile_total(ProfileStat::DropBytes),
        g(GlobalStat::StallRingFull),
        g(GlobalStat::StallIngress),
        g(GlobalStat::StallTable),
    );
    s
}

/// One line per mode: original flows, aggregates, records, packets, bytes, drops.
pub fn modes(modes: &BTreeMap<AggregationMode, ModeReport>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<24} {:>10} {:>10} {:>9} {:>12} {:>14} {:>10}  export",
        "mode", "orig flows", "aggregates", "records", "packets", "bytes", "drops"
    );
    for (m, r) in modes {
        let _ = writeln!(
            s,
            "{:<24} {:>10} {:>10} {:>9} {:>12} {:>14} {:>10}  {}",
            m.name(),
            r.flows,
            r.aggregates,
            r.records,
            r.packets,
            r.bytes,
            r.drop_packets,
            if r.exported {
                "yes"
            } else {
                "no (no host or no source)"
            }
        );
    }
    s
}

/// One line per mode and collector: messages and records sent and failed (with the
/// packets and bytes of failed records, what the kernel's ICMP reports say, and the last
/// error, under it), then what UDP cannot tell.
pub fn collectors(c: &[CollectorReport]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<24} {:<46} {:>10} {:>10} {:>10} {:>10}",
        "mode", "collector", "messages", "records", "msg fail", "rec fail"
    );
    for c in c {
        let st = &c.stats;
        let _ = writeln!(
            s,
            "{:<24} {:<46} {:>10} {:>10} {:>10} {:>10}",
            c.mode.name(),
            st.collector.to_string(),
            st.messages_sent,
            st.records_sent,
            st.messages_failed,
            st.records_failed
        );
        if st.records_failed > 0 {
            let _ = writeln!(
                s,
                "    not delivered: {} packets / {} bytes in the failed records",
                st.packets_failed, st.bytes_failed
            );
        }
        if st.icmp_reports > 0 {
            let _ = writeln!(
                s,
                "    unreachable: the kernel reported it {} times (ICMP, rate-limited, so datagrams were lost unreported too); {} messages / {} records sent since the first report may not have arrived",
                st.icmp_reports, st.messages_unconfirmed, st.records_unconfirmed
            );
        }
        if let Some(e) = &st.last_error {
            let _ = writeln!(s, "    last error: {e}");
        }
    }
    if !c.is_empty() {
        let _ = writeln!(
            s,
            "\n(UDP gives no receipts: \"messages\" are what the kernel accepted, \"msg fail\" what was never sent; only the collector knows what arrived, from its sequence numbers)"
        );
    }
    s
}
