//! UDP transport on tokio: one connected socket per collector, each bound to the view's
//! source address and port (A2), marked with the collector's DSCP (IP_TOS / IPV6_TCLASS),
//! bound to the VRF device of its `vpn-instance` (SO_BINDTODEVICE, [`Collector::device`]),
//! and served by its own
//! task with a bounded queue, so that a collector that is down, slow or answering with ICMP
//! unreachable never blocks the others or the pipeline: when its queue is full, messages
//! for it are dropped and counted as failed. Each task sends its queue in batches with
//! `sendmmsg(2)` (nix's safe wrapper). A collector whose socket cannot be set up (a
//! `vpn-instance` with no VRF device, a bind or connect the kernel refuses) fails alone:
//! every message for it is counted as failed, with the reason as its last error, while the
//! others export.

use crate::config::{Collector, ExportConfig};
use crate::encode::Message;
use nix::sys::socket::{sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Messages queued per collector before new ones are dropped (and counted as failed).
pub const QUEUE_MESSAGES: usize = 4096;
/// Messages handed to one `sendmmsg` call at most.
pub const BATCH_MESSAGES: usize = 64;
/// How long one batch may wait for the socket to become writable before it is dropped.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a collector's socket could not be set up (its last error in the counters).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The VRF device of `vpn-instance NAME` does not exist.
    #[error(
        "vpn-instance `{name}` (export host {collector}): its VRF device `{device}` does not exist"
    )]
    NoSuchVpnInstance {
        /// The instance name.
        name: String,
        /// Its VRF device.
        device: String,
        /// The collector that uses it.
        collector: SocketAddr,
    },
    /// A collector whose address family has no source address.
    #[error("export host {0} has no export source address of its address family")]
    NoSource(SocketAddr),
    /// A socket call failed.
    #[error("export host {collector}: {what}: {source}")]
    Socket {
        /// The collector.
        collector: SocketAddr,
        /// Which call.
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

/// Counters of one collector, totals since the transport opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationStats {
    /// The collector.
    pub collector: SocketAddr,
    /// Messages the kernel accepted.
    pub messages_sent: u64,
    /// Flow records in those messages (options data not counted).
    pub records_sent: u64,
    /// Messages dropped: queue full, send error (e.g. ICMP port unreachable) or timeout.
    pub messages_failed: u64,
    /// Flow records in those messages.
    pub records_failed: u64,
    /// Packets in those flow records: what the collector missed, in packets.
    pub packets_failed: u64,
    /// Bytes in those flow records.
    pub bytes_failed: u64,
    /// The last send error, if any.
    pub last_error: Option<String>,
    /// Times the kernel reported the collector unreachable (a send failing with
    /// ECONNREFUSED, EHOSTUNREACH or ENETUNREACH after an ICMP error for an earlier
    /// datagram). The kernel rate-limits ICMP, so this is a lower bound of the datagrams
    /// lost, not a count.
    pub icmp_reports: u64,
    /// Messages the kernel accepted after the first such report: UDP gives no receipt,
    /// so whether they arrived is unknown here (the collector's sequence numbers tell).
    pub messages_unconfirmed: u64,
    /// Flow records in those messages.
    pub records_unconfirmed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    messages_sent: AtomicU64,
    records_sent: AtomicU64,
    messages_failed: AtomicU64,
    records_failed: AtomicU64,
    packets_failed: AtomicU64,
    bytes_failed: AtomicU64,
    last_error: Mutex<Option<String>>,
    icmp_reports: AtomicU64,
    /// Messages and records sent when the first ICMP report came (`None` before).
    at_first_report: Mutex<Option<(u64, u64)>>,
}

impl Counters {
    fn sent(&self, msgs: &[Arc<Message>]) {
        self.messages_sent
            .fetch_add(msgs.len() as u64, Ordering::Relaxed);
        let r: u64 = msgs.iter().map(|m| u64::from(m.flow_records)).sum();
        self.records_sent.fetch_add(r, Ordering::Relaxed);
    }

    fn failed(&self, msgs: &[Arc<Message>], err: Option<String>) {
        self.messages_failed
            .fetch_add(msgs.len() as u64, Ordering::Relaxed);
        let r: u64 = msgs.iter().map(|m| u64::from(m.flow_records)).sum();
        self.records_failed.fetch_add(r, Ordering::Relaxed);
        let p: u64 = msgs.iter().map(|m| m.flow_packets).sum();
        self.packets_failed.fetch_add(p, Ordering::Relaxed);
        let b: u64 = msgs.iter().map(|m| m.flow_bytes).sum();
        self.bytes_failed.fetch_add(b, Ordering::Relaxed);
        if let Some(e) = err {
            if let Ok(mut g) = self.last_error.lock() {
                *g = Some(e);
            }
        }
    }

    /// A send failed because the kernel had an ICMP error for an earlier datagram.
    fn icmp_report(&self) {
        self.icmp_reports.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut g) = self.at_first_report.lock() {
            g.get_or_insert((
                self.messages_sent.load(Ordering::Relaxed),
                self.records_sent.load(Ordering::Relaxed),
            ));
        }
    }

    fn snapshot(&self, collector: SocketAddr) -> DestinationStats {
        let (m0, r0) = self
            .at_first_report
            .lock()
            .ok()
            .and_then(|g| *g)
            .unwrap_or((u64::MAX, u64::MAX));
        let messages_sent = self.messages_sent.load(Ordering::Relaxed);
        let records_sent = self.records_sent.load(Ordering::Relaxed);
        DestinationStats {
            collector,
            messages_sent,
            records_sent,
            messages_failed: self.messages_failed.load(Ordering::Relaxed),
            records_failed: self.records_failed.load(Ordering::Relaxed),
            packets_failed: self.packets_failed.load(Ordering::Relaxed),
            bytes_failed: self.bytes_failed.load(Ordering::Relaxed),
            last_error: self.last_error.lock().ok().and_then(|g| g.clone()),
            icmp_reports: self.icmp_reports.load(Ordering::Relaxed),
            messages_unconfirmed: messages_sent.saturating_sub(m0),
            records_unconfirmed: records_sent.saturating_sub(r0),
        }
    }
}

/// Whether a send error is the kernel passing on an ICMP error about an earlier datagram
/// to this connected socket (port or host unreachable).
fn is_icmp_report(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            nix::libc::ECONNREFUSED
                | nix::libc::EHOSTUNREACH
                | nix::libc::ENETUNREACH
                | nix::libc::EHOSTDOWN
        )
    )
}

#[derive(Debug)]
struct Destination {
    collector: SocketAddr,
    tx: mpsc::Sender<Arc<Message>>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

/// The sockets and sender tasks of one view.
#[derive(Debug)]
pub struct Transport {
    dests: Vec<Destination>,
}

/// A cheap handle that reads the per-collector counters of a [`Transport`].
#[derive(Debug, Clone)]
pub struct StatsHandle {
    dests: Vec<(SocketAddr, Arc<Counters>)>,
}

impl StatsHandle {
    /// The counters of every collector, in configuration order.
    pub fn snapshot(&self) -> Vec<DestinationStats> {
        self.dests.iter().map(|(a, c)| c.snapshot(*a)).collect()
    }
}

fn sock_err(collector: SocketAddr, what: &'static str) -> impl FnOnce(io::Error) -> TransportError {
    move |source| TransportError::Socket {
        collector,
        what,
        source,
    }
}

/// Opens one non-blocking UDP socket for `c`, bound to `src` and connected to the collector.
fn open_socket(c: &Collector, src: SocketAddr) -> Result<Socket, TransportError> {
    let to = c.socket_addr();
    let s = Socket::new(Domain::for_address(to), Type::DGRAM, Some(Protocol::UDP))
        .map_err(sock_err(to, "socket"))?;
    // Every collector's socket shares the view's source port.
    s.set_reuse_address(true)
        .map_err(sock_err(to, "SO_REUSEADDR"))?;
    s.set_reuse_port(true)
        .map_err(sock_err(to, "SO_REUSEPORT"))?;
    if let (Some(name), Some(device)) = (&c.vpn_instance, c.device()) {
        s.bind_device(Some(device.as_bytes())).map_err(|e| {
            if e.raw_os_error() == Some(nix::errno::Errno::ENODEV as i32) {
                TransportError::NoSuchVpnInstance {
                    name: name.clone(),
                    device: device.to_owned(),
                    collector: to,
                }
            } else {
                TransportError::Socket {
                    collector: to,
                    what: "SO_BINDTODEVICE (vpn-instance)",
                    source: e,
                }
            }
        })?;
    }
    if c.dscp != 0 {
        let tos = u32::from(c.dscp) << 2;
        match to {
            SocketAddr::V4(_) => s.set_tos(tos).map_err(sock_err(to, "IP_TOS"))?,
            SocketAddr::V6(_) => s.set_tclass_v6(tos).map_err(sock_err(to, "IPV6_TCLASS"))?,
        }
    }
    s.bind(&src.into()).map_err(sock_err(to, "bind source"))?;
    s.connect(&to.into()).map_err(sock_err(to, "connect"))?;
    s.set_nonblocking(true)
        .map_err(sock_err(to, "O_NONBLOCK"))?;
    Ok(s)
}

/// Sets up the socket of collector `c` of `cfg` on the runtime: from `slot`, the source
/// its family's first collector bound (recorded here when it is the first).
fn connect(
    cfg: &ExportConfig,
    c: &Collector,
    slot: &mut Option<SocketAddr>,
) -> Result<UdpSocket, TransportError> {
    let to = c.socket_addr();
    let src = match *slot {
        Some(a) => a,
        None => cfg.source_for(c).ok_or(TransportError::NoSource(to))?,
    };
    let s = open_socket(c, src)?;
    if slot.is_none() {
        let local = s
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .ok_or_else(|| TransportError::Socket {
                collector: to,
                what: "getsockname",
                source: io::Error::other("no local address"),
            })?;
        *slot = Some(local);
    }
    UdpSocket::from_std(s.into()).map_err(sock_err(to, "tokio register"))
}

impl Transport {
    /// Opens a socket and starts a sender task per collector of `cfg`. Must run inside a
    /// tokio runtime. When a source has port 0, the kernel picks one port for the first
    /// collector of that family and the others share it. A collector whose socket cannot
    /// be set up gets a task that counts every message for it as failed, with why.
    pub fn open(cfg: &ExportConfig) -> Self {
        let mut bound_v4: Option<SocketAddr> = None;
        let mut bound_v6: Option<SocketAddr> = None;
        let mut dests = Vec::with_capacity(cfg.collectors.len());
        for c in &cfg.collectors {
            let to = c.socket_addr();
            let slot = if to.is_ipv4() {
                &mut bound_v4
            } else {
                &mut bound_v6
            };
            let (tx, rx) = mpsc::channel(QUEUE_MESSAGES);
            let counters = Arc::new(Counters::default());
            let task = match connect(cfg, c, slot) {
                Ok(sock) => tokio::spawn(sender(sock, rx, Arc::clone(&counters))),
                Err(e) => {
                    let why = e.to_string();
                    counters.failed(&[], Some(why.clone()));
                    tokio::spawn(refuse(rx, Arc::clone(&counters), why))
                }
            };
            dests.push(Destination {
                collector: to,
                tx,
                counters,
                task,
            });
        }
        Self { dests }
    }

    /// Queues `msgs` for every collector without waiting; a full queue drops the message
    /// for that collector only and counts it as failed.
    pub fn send(&self, msgs: &[Arc<Message>]) {
        for d in &self.dests {
            for m in msgs {
                if d.tx.try_send(Arc::clone(m)).is_err() {
                    d.counters
                        .failed(std::slice::from_ref(m), Some("send queue full".into()));
                }
            }
        }
    }

    /// A handle reading the per-collector counters.
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle {
            dests: self
                .dests
                .iter()
                .map(|d| (d.collector, Arc::clone(&d.counters)))
                .collect(),
        }
    }

    /// Sends what is queued, then closes the sockets.
    pub async fn close(self) {
        for d in self.dests {
            drop(d.tx);
            // A sender task only ends by its queue closing; a join error means it panicked,
            // which its counters already reflect.
            let _ = d.task.await;
        }
    }
}

async fn sender(sock: UdpSocket, mut rx: mpsc::Receiver<Arc<Message>>, c: Arc<Counters>) {
    let mut batch = Vec::with_capacity(BATCH_MESSAGES);
    while rx.recv_many(&mut batch, BATCH_MESSAGES).await > 0 {
        send_batch(&sock, &batch, &c).await;
        batch.clear();
    }
}

/// The sender task of a collector whose socket could not be set up: every message is
/// counted as failed, with `why`.
async fn refuse(mut rx: mpsc::Receiver<Arc<Message>>, c: Arc<Counters>, why: String) {
    let mut batch = Vec::with_capacity(BATCH_MESSAGES);
    while rx.recv_many(&mut batch, BATCH_MESSAGES).await > 0 {
        c.failed(&batch, Some(why.clone()));
        batch.clear();
    }
}

async fn send_batch(sock: &UdpSocket, batch: &[Arc<Message>], c: &Counters) {
    let mut i = 0;
    while i < batch.len() {
        let rest = &batch[i..];
        let attempt = tokio::time::timeout(SEND_TIMEOUT, async {
            loop {
                sock.writable().await?;
                match sock.try_io(Interest::WRITABLE, || send_many(sock, rest)) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    r => return r,
                }
            }
        })
        .await;
        match attempt {
            Ok(Ok(n)) if n > 0 => {
                let n = n.min(rest.len());
                c.sent(&rest[..n]);
                i += n;
            }
            Ok(Ok(_)) => {
                c.failed(&rest[..1], Some("sendmmsg sent nothing".into()));
                i += 1;
            }
            Ok(Err(e)) => {
                // The first message failed (e.g. ECONNREFUSED after an ICMP port
                // unreachable); drop it and go on with the rest.
                if is_icmp_report(&e) {
                    c.icmp_report();
                }
                c.failed(&rest[..1], Some(e.to_string()));
                i += 1;
            }
            Err(_) => {
                c.failed(rest, Some("send timed out".into()));
                return;
            }
        }
    }
}

/// One `sendmmsg(2)` of `msgs` on a connected socket; returns how many were sent.
fn send_many(sock: &UdpSocket, msgs: &[Arc<Message>]) -> io::Result<usize> {
    let iovs: Vec<[IoSlice<'_>; 1]> = msgs.iter().map(|m| [IoSlice::new(&m.bytes)]).collect();
    let addrs: Vec<Option<SockaddrStorage>> = vec![None; iovs.len()];
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(iovs.len(), None);
    let cmsgs: [ControlMessage<'_>; 0] = [];
    let res = sendmmsg(
        sock.as_raw_fd(),
        &mut headers,
        &iovs,
        &addrs,
        cmsgs,
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    Ok(res.count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn collector(addr: IpAddr, dscp: u8, vpn: Option<&str>) -> Collector {
        Collector {
            addr,
            port: 9,
            vpn_instance: vpn.map(str::to_owned),
            vrf_device: None,
            dscp,
        }
    }

    #[test]
    fn dscp_is_written_into_tos_and_traffic_class() {
        let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let s = open_socket(&collector(v4, 46, None), SocketAddr::new(v4, 0)).unwrap();
        assert_eq!(s.tos().unwrap(), 46 << 2);
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        let s = open_socket(&collector(v6, 10, None), SocketAddr::new(v6, 0)).unwrap();
        assert_eq!(s.tclass_v6().unwrap(), 10 << 2);
        let s = open_socket(&collector(v6, 0, None), SocketAddr::new(v6, 0)).unwrap();
        assert_eq!(s.tclass_v6().unwrap(), 0);
    }

    #[test]
    fn socket_is_bound_to_the_source_and_connected_to_the_collector() {
        let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let s = open_socket(&collector(v4, 0, None), SocketAddr::new(v4, 0)).unwrap();
        let local = s.local_addr().unwrap().as_socket().unwrap();
        assert_eq!(local.ip(), v4);
        assert_ne!(local.port(), 0);
        let peer = s.peer_addr().unwrap().as_socket().unwrap();
        assert_eq!(peer, SocketAddr::new(v4, 9));
    }

    #[test]
    fn missing_vpn_instance_is_a_clear_error_naming_it() {
        let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let e = open_socket(
            &collector(v4, 0, Some("no-such-vrf-x")),
            SocketAddr::new(v4, 0),
        )
        .unwrap_err();
        match &e {
            // Root (or CAP_NET_RAW) gets ENODEV for a missing device.
            TransportError::NoSuchVpnInstance { name, device, .. } => {
                assert_eq!(
                    (name.as_str(), device.as_str()),
                    ("no-such-vrf-x", "no-such-vrf-x")
                );
                assert!(e
                    .to_string()
                    .contains("vpn-instance `no-such-vrf-x` (export host 127.0.0.1:9): its VRF device `no-such-vrf-x` does not exist"));
            }
            // Without the capability the kernel refuses SO_BINDTODEVICE first.
            TransportError::Socket { what, .. } => {
                assert_eq!(*what, "SO_BINDTODEVICE (vpn-instance)");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn existing_device_binds() {
        // `lo` always exists; binding to it is what a VRF binding does. The instance's
        // `vrf-device` is the device bound.
        let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let c = Collector {
            vrf_device: Some("lo".into()),
            ..collector(v4, 0, Some("blue"))
        };
        match open_socket(&c, SocketAddr::new(v4, 0)) {
            Ok(s) => assert_eq!(s.device().unwrap().as_deref(), Some(&b"lo"[..])),
            Err(TransportError::Socket { source, .. })
                if source.kind() == io::ErrorKind::PermissionDenied => {}
            Err(e) => panic!("{e}"),
        }
    }
}
