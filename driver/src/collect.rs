//! `nsflow collect`: a small NetFlow v9 / IPFIX collector for users without one, and the
//! in-process collector of `nsflow run --collect`. It decodes with the exporter crate's
//! decoder and keeps totals per aggregation mode.

use nsflow_exporter::{CollectedFlow, Decoder};
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
}

impl CollectTotals {
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
                totals.messages += 1;
                match dec.decode(from, &buf[..n]) {
                    Ok(d) => {
                        for f in d.flows() {
                            totals.add(&f);
                            on_flow(&f);
                        }
                    }
                    Err(_) => totals.decode_errors += 1,
                }
            }
            _ = stop.changed() => {
                if *stop.borrow() {
                    // Take what is already queued on the socket, then stop.
                    while let Ok((n, from)) = sock.try_recv_from(&mut buf) {
                        totals.messages += 1;
                        match dec.decode(from, &buf[..n]) {
                            Ok(d) => d.flows().iter().for_each(|f| { totals.add(f); on_flow(f); }),
                            Err(_) => totals.decode_errors += 1,
                        }
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
