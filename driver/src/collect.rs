//! `nsflow collect`: a small NetFlow v9 / IPFIX collector for users without one, and the
//! in-process collector of `nsflow run --collect`. It decodes with the exporter crate's
//! decoder and keeps totals per aggregation mode.

use nsflow_exporter::{CollectedFlow, DecodeError, Decoded, Decoder, LossCounters};
use nsflow_rtl::{AggregationMode, FlowKey};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// Totals of one aggregation mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModeTotals {
    /// Data records.
    pub records: u64,
    /// Original flows (sum of deltaFlowCount).
    pub flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// What a collector received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectTotals {
    /// UDP messages received.
    pub messages: u64,
    /// Messages that did not decode.
    pub decode_errors: u64,
    /// Per mode.
    pub modes: BTreeMap<AggregationMode, ModeTotals>,
    /// The latest loss counters of A15 (options data) per observation domain / source
    /// ID they are about (the options record's scope): cumulative, so the latest is the
    /// total.
    pub loss: BTreeMap<u32, LossCounters>,
    /// Export packets missing by the v9 header sequence numbers (RFC 3954: +1 per export
    /// packet), over every exporter and source ID: lost in transit.
    pub missing_v9_messages: u64,
    /// Data records missing by the IPFIX header sequence numbers (RFC 7011: data records
    /// sent before the message), over every exporter and domain. Exact with `sequence-number
    /// fixed`; the Huawei default numbering also counts one per template message.
    pub missing_ipfix_records: u64,
    /// The sequence number expected next, per exporter, version and domain.
    next_sequence: BTreeMap<(SocketAddr, u16, u32), u32>,
}

impl CollectTotals {
    /// Counts one message received from `from`: its flows (each also handed to
    /// `on_flow`), loss counters and sequence gap, or a decoding error.
    pub fn take(
        &mut self,
        from: SocketAddr,
        msg: Result<Decoded, DecodeError>,
        on_flow: &mut impl FnMut(&CollectedFlow),
    ) {
        self.messages += 1;
        match msg {
            Ok(d) => {
                self.check_sequence(from, &d);
                for f in d.flows() {
                    self.add(&f);
                    on_flow(&f);
                }
                if let Some((domain, l)) = d.loss_counters() {
                    self.loss.insert(domain, l);
                }
            }
            Err(_) => self.decode_errors += 1,
        }
    }

    /// Counts the gap between the message's sequence number and the one expected next in
    /// its stream (a message older than expected, reordered, moves nothing).
    fn check_sequence(&mut self, from: SocketAddr, d: &Decoded) {
        let h = &d.header;
        let step = if h.version == 9 {
            1
        } else {
            u32::try_from(d.data_records()).unwrap_or(u32::MAX)
        };
        let key = (from, h.version, h.domain);
        if let Some(expected) = self.next_sequence.get(&key) {
            let gap = h.sequence.wrapping_sub(*expected);
            if gap >= 1 << 31 {
                return;
            }
            if h.version == 9 {
                self.missing_v9_messages += u64::from(gap);
            } else {
                self.missing_ipfix_records += u64::from(gap);
            }
        }
        self.next_sequence
            .insert(key, h.sequence.wrapping_add(step));
    }

    /// Adds one decoded flow.
    pub fn add(&mut self, f: &CollectedFlow) {
        let t = self.modes.entry(f.mode).or_default();
        t.records += 1;
        t.flows += f.flows;
        t.packets += f.packets;
        t.bytes += f.bytes;
    }

    /// Sum over modes.
    pub fn total(&self) -> ModeTotals {
        self.modes
            .values()
            .fold(ModeTotals::default(), |a, t| ModeTotals {
                records: a.records + t.records,
                flows: a.flows + t.flows,
                packets: a.packets + t.packets,
                bytes: a.bytes + t.bytes,
            })
    }

    /// A table: one line per mode and a total.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<24} {:>10} {:>12} {:>12} {:>14}",
            "mode", "records", "flows", "packets", "bytes"
        );
        for (m, t) in &self.modes {
            let _ = writeln!(
                s,
                "{:<24} {:>10} {:>12} {:>12} {:>14}",
                m.name(),
                t.records,
                t.flows,
                t.packets,
                t.bytes
            );
        }
        let t = self.total();
        let _ = writeln!(
            s,
            "{:<24} {:>10} {:>12} {:>12} {:>14}",
            "total", t.records, t.flows, t.packets, t.bytes
        );
        let _ = writeln!(
            s,
            "{} messages received, {} could not be decoded",
            self.messages, self.decode_errors
        );
        if self.missing_v9_messages + self.missing_ipfix_records > 0 {
            let _ = writeln!(
                s,
                "lost in transit by sequence numbers: {} v9 export packets, {} IPFIX data records",
                self.missing_v9_messages, self.missing_ipfix_records
            );
        }
        for (domain, l) in &self.loss {
            let _ = writeln!(
                s,
                "loss counters of domain {domain}: not sent {} flows {} packets {} bytes, \
                 ignored {} packets {} bytes",
                l.not_sent_flows,
                l.not_sent_packets,
                l.not_sent_octets,
                l.ignored_packets,
                l.ignored_octets
            );
        }
        s
    }
}

/// One flow as a line of text.
pub fn flow_line(f: &CollectedFlow) -> String {
    format!(
        "{:<22}{}  flows {} packets {} bytes {}",
        f.mode.name(),
        key_text(f.mode, &f.key),
        f.flows,
        f.packets,
        f.bytes
    )
}

/// The key fields `mode` uses, as text (e.g. ` proto 6 1234->80`).
pub fn key_text(mode: AggregationMode, k: &FlowKey) -> String {
    let mut s = String::new();
    let sel = mode.field_select();
    use nsflow_rtl::FieldSelect as F;
    if sel.contains(F::SRC_ADDR) {
        let _ = write!(s, " src {}/{}", k.src_ip(), k.src_plen);
    }
    if sel.contains(F::DST_ADDR) {
        let _ = write!(s, " dst {}/{}", k.dst_ip(), k.dst_plen);
    }
    if sel.contains(F::PROTOCOL) {
        let _ = write!(s, " proto {} {}->{}", k.protocol, k.src_port, k.dst_port);
    }
    if sel.contains(F::SRC_AS) || sel.contains(F::DST_AS) {
        let _ = write!(s, " as {}->{}", k.src_as, k.dst_as);
    }
    if sel.contains(F::NEXT_HOP) {
        let _ = write!(s, " nh {}", k.next_hop_ip());
    }
    if sel.contains(F::IN_IF) || sel.contains(F::OUT_IF) {
        let _ = write!(s, " if {}->{}", k.in_if, k.out_if);
    }
    if sel.contains(F::TOS) {
        let _ = write!(s, " tos {}", k.tos);
    }
    if sel.contains(F::VLAN) {
        let _ = write!(s, " vlan {}", k.vlan);
    }
    if sel.contains(F::MPLS1) {
        let _ = write!(
            s,
            " labels {}/{}/{} top {}",
            k.mpls[0] >> 4,
            k.mpls[1] >> 4,
            k.mpls[2] >> 4,
            k.top_label_ip()
        );
    }
    s
}

/// Receives on `sock` until `stop` turns true, decoding every message; `on_flow` sees
/// each flow. Decoding errors are counted, never fatal.
pub async fn collect(
    sock: UdpSocket,
    mut stop: watch::Receiver<bool>,
    mut on_flow: impl FnMut(&CollectedFlow),
) -> CollectTotals {
    let mut dec = Decoder::new();
    let mut totals = CollectTotals::default();
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { continue };
                totals.take(from, dec.decode(from, &buf[..n]), &mut on_flow);
            }
            _ = stop.changed() => {
                if *stop.borrow() {
                    // Take what is already queued on the socket, then stop.
                    while let Ok((n, from)) = sock.try_recv_from(&mut buf) {
                        totals.take(from, dec.decode(from, &buf[..n]), &mut on_flow);
                    }
                    return totals;
                }
            }
        }
    }
}

/// Binds a UDP socket with a large receive buffer (collectors must not drop bursts).
pub fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    let _ = sock.set_recv_buffer_size(8 << 20);
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    UdpSocket::from_std(sock.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsflow_exporter::{
        Collector, ExportConfig, ExportSource, ExportStream, FlowRecord, Version,
    };
    use nsflow_rtl::EndReason;
    use std::net::{IpAddr, Ipv4Addr};

    /// The messages of `records` single-record flushes of a v9 or IPFIX (fixed) stream.
    fn messages(version: Version, records: u64) -> Vec<nsflow_exporter::Message> {
        let mut c = ExportConfig::new(
            vec![Collector::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9995)],
            ExportSource::default(),
        );
        c.version = version;
        c.sequence_fixed = true;
        c.modes = vec![AggregationMode::ProtocolPort];
        let mut s = ExportStream::new(&c, 1_000);
        for i in 0..records {
            let key = FlowKey {
                src_port: i as u16,
                ..FlowKey::default()
            };
            s.push(
                &FlowRecord {
                    mode: AggregationMode::ProtocolPort,
                    key,
                    flows: 1,
                    packets: 1,
                    bytes: 100,
                    start_ms: 1_000,
                    end_ms: 1_000,
                    end_reason: EndReason::Idle,
                },
                1_000,
            );
            s.flush(1_000);
        }
        s.take_messages()
    }

    /// Every other data message is lost: the collector counts exactly what the sequence
    /// numbers say is missing, in export packets (v9) or data records (IPFIX).
    #[test]
    fn sequence_gaps_count_what_was_lost_in_transit() {
        let from: SocketAddr = "127.0.0.1:40000".parse().unwrap_or_else(|_| unreachable!());
        for version in [Version::V9, Version::Ipfix] {
            let all = messages(version, 10);
            let mut dec = Decoder::new();
            let mut t = CollectTotals::default();
            let mut dropped_msgs = 0u64;
            let mut dropped_recs = 0u64;
            let mut data_seen = 0;
            for m in &all {
                let data = m.data_records > 0;
                // Keep templates and every other data message; never drop the last one
                // (a loss at the tail is invisible to sequence numbers).
                if data && data_seen % 2 == 1 && m.sequence != all[all.len() - 1].sequence {
                    dropped_msgs += 1;
                    dropped_recs += u64::from(m.data_records);
                } else {
                    t.take(from, dec.decode(from, &m.bytes), &mut |_| {});
                }
                data_seen += usize::from(data);
            }
            assert!(dropped_msgs > 0);
            let want = match version {
                Version::V9 => (dropped_msgs, 0),
                Version::Ipfix => (0, dropped_recs),
            };
            assert_eq!(
                (t.missing_v9_messages, t.missing_ipfix_records),
                want,
                "{version:?}"
            );
            assert_eq!(t.decode_errors, 0);
        }
    }
}
