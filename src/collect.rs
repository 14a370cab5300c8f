//! `nsflow collect`: a small NetFlow v9 / IPFIX collector for users without one, and the
//! in-process collector of `nsflow run --collect`. It decodes with the exporter crate's
//! decoder and keeps totals per aggregation mode.
//!
//! Datagrams come from the network: the module denies `clippy::indexing_slicing`; the
//! received bytes are taken with `get` and decoded by the bound-checked decoder.
#![deny(clippy::indexing_slicing)]

use nsflow_exporter::{CollectedFlow, DecodeError, Decoded, Decoder, LossCounters};
use nsflow_rtl::{AggregationMode, FlowKey};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
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
                self.missing_v9_messages = self.missing_v9_messages.saturating_add(u64::from(gap));
            } else {
                self.missing_ipfix_records =
                    self.missing_ipfix_records.saturating_add(u64::from(gap));
            }
        }
        self.next_sequence
            .insert(key, h.sequence.wrapping_add(step));
    }

    /// Adds one decoded flow. The counts come from the network: the sums saturate at
    /// `u64::MAX` rather than overflow.
    pub fn add(&mut self, f: &CollectedFlow) {
        let t = self.modes.entry(f.mode).or_default();
        t.records += 1;
        t.flows = t.flows.saturating_add(f.flows);
        t.packets = t.packets.saturating_add(f.packets);
        t.bytes = t.bytes.saturating_add(f.bytes);
    }

    /// Sum over modes (saturating, as [`Self::add`]).
    pub fn total(&self) -> ModeTotals {
        self.modes
            .values()
            .fold(ModeTotals::default(), |a, t| ModeTotals {
                records: a.records.saturating_add(t.records),
                flows: a.flows.saturating_add(t.flows),
                packets: a.packets.saturating_add(t.packets),
                bytes: a.bytes.saturating_add(t.bytes),
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
        if self.missing_v9_messages > 0 || self.missing_ipfix_records > 0 {
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

/// Receives on `sock` until `stop` turns true, decoding every message; `on_message` sees
/// each datagram with its sender and whether it decoded (`nsflow collect --write` stores
/// it), `on_flow` each flow. Decoding errors are counted, never fatal.
pub async fn collect(
    sock: UdpSocket,
    mut stop: watch::Receiver<bool>,
    mut on_message: impl FnMut(SocketAddr, &[u8], bool),
    mut on_flow: impl FnMut(&CollectedFlow),
) -> CollectTotals {
    let mut dec = Decoder::new();
    let mut totals = CollectTotals::default();
    let mut buf = vec![0u8; 65_536];
    let mut take = |totals: &mut CollectTotals, from: SocketAddr, msg: &[u8]| {
        let decoded = dec.decode(from, msg);
        on_message(from, msg, decoded.is_ok());
        totals.take(from, decoded, &mut on_flow);
    };
    loop {
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { continue };
                // n <= buf.len(): the bytes received.
                let Some(msg) = buf.get(..n) else { continue };
                take(&mut totals, from, msg);
            }
            _ = stop.changed() => {
                if *stop.borrow() {
                    // Take what is already queued on the socket, then stop.
                    while let Ok((n, from)) = sock.try_recv_from(&mut buf) {
                        if let Some(msg) = buf.get(..n) {
                            take(&mut totals, from, msg);
                        }
                    }
                    return totals;
                }
            }
        }
    }
}

/// How long an in-process collector waits for the last datagrams of a run after it
/// ended ([`Listener::finish`]).
pub const ARRIVAL_GRACE: Duration = Duration::from_secs(3);

/// A collector on a thread of its own, with a runtime of its own, so that a busy
/// pipeline never keeps it from draining its socket (a collector that falls behind loses
/// datagrams): the in-process collector of `nsflow run --collect` and of `nsflow verify`.
/// It keeps [`CollectTotals`], and `state` with what `on_flow` adds to it for each flow.
pub struct Listener<T> {
    /// The address it listens on (with the port the kernel chose for port 0).
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    heard: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<(CollectTotals, T)>,
}

impl<T: Default + Send + 'static> Listener<T> {
    /// Binds `addr` and starts listening; returns once the socket is bound.
    pub fn start(
        addr: SocketAddr,
        mut state: T,
        on_flow: fn(&mut T, &CollectedFlow),
    ) -> std::io::Result<Self> {
        let (stop, stop_rx) = watch::channel(false);
        let heard = Arc::new(AtomicU64::new(0));
        let h = heard.clone();
        let (ready_tx, ready) = std::sync::mpsc::channel::<std::io::Result<SocketAddr>>();
        let thread = std::thread::Builder::new()
            .name("nsflow-collector".into())
            .spawn(move || {
                let bound = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .and_then(|rt| {
                        let _guard = rt.enter();
                        let sock = bind(addr)?;
                        let at = sock.local_addr()?;
                        Ok((rt, sock, at))
                    });
                let (rt, sock) = match bound {
                    Ok((rt, sock, at)) => {
                        let _ = ready_tx.send(Ok(at));
                        (rt, sock)
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return (CollectTotals::default(), state);
                    }
                };
                let totals = rt.block_on(collect(
                    sock,
                    stop_rx,
                    |_, _, _| {},
                    |f| {
                        on_flow(&mut state, f);
                        h.fetch_add(1, Ordering::Relaxed);
                    },
                ));
                (totals, state)
            })?;
        let addr = ready.recv().map_err(|_| {
            std::io::Error::other(format!("the collector on {addr} did not start"))
        })??;
        Ok(Self {
            addr,
            stop,
            heard,
            thread,
        })
    }

    /// Waits until `records` flow records have arrived or `grace` has passed (the last
    /// datagrams of a run are still on their way), then stops and returns what it got.
    pub fn finish(self, records: u64, grace: Duration) -> std::io::Result<(CollectTotals, T)> {
        let deadline = std::time::Instant::now() + grace;
        while self.heard.load(Ordering::Relaxed) < records && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.stop.send(true);
        self.thread
            .join()
            .map_err(|_| std::io::Error::other("the collector thread panicked"))
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
