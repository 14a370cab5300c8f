//! The running exporter on loopback: every record reaches a live collector while another
//! is down, IPv6 collectors, source port binding, and the injected clock driving the
//! template refresh of a running exporter.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use nsflow_exporter::{
    Clock, Collector, Decoder, ExportSource, Exporter, ManualClock, SourceAddr, SystemClock,
    Version,
};
use nsflow_rtl::AggregationMode as M;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Receives datagrams until `done` says so or `limit` passes.
fn receive(
    sock: &UdpSocket,
    limit: Duration,
    mut done: impl FnMut(&[(SocketAddr, Vec<u8>)]) -> bool,
) -> Vec<(SocketAddr, Vec<u8>)> {
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut got = Vec::new();
    let end = Instant::now() + limit;
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < end && !done(&got) {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            got.push((from, buf[..n].to_vec()));
        }
    }
    got
}

fn flows_in(got: &[(SocketAddr, Vec<u8>)]) -> usize {
    let mut d = Decoder::new();
    got.iter()
        .map(|(from, b)| d.decode(*from, b).unwrap().flows().len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_collector_loses_nothing_at_the_live_one() {
    let live = UdpSocket::bind("127.0.0.1:0").unwrap();
    live.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let live_port = live.local_addr().unwrap().port();
    // A port nobody listens on: the kernel answers with ICMP port unreachable.
    let dead_port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = localhost_config(Version::Ipfix, dead_port);
    cfg.collectors
        .push(Collector::new(IpAddr::V4(Ipv4Addr::LOCALHOST), live_port));
    cfg.sequence_fixed = true;
    let exp = Exporter::start(cfg, Arc::new(SystemClock::new())).unwrap();
    let mut g = Gen(20);
    let n = 3000;
    let receiver = std::thread::spawn(move || {
        receive(&live, Duration::from_secs(20), |got| flows_in(got) >= n)
    });
    for chunk in 0..30 {
        let recs: Vec<_> = (0..100)
            .map(|i| record(&mut g, M::ALL[(chunk + i) % 14], true))
            .collect();
        exp.export(recs).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    exp.flush().await.unwrap();
    let got = receiver.join().unwrap();
    let stats = exp.shutdown().await;
    assert_eq!(flows_in(&got), n);
    // RFC 7011 sequence numbers at the live collector have no gap, in each stream (flow
    // records in domain 1, options in domain 0).
    let mut d = Decoder::new();
    let mut expect = std::collections::HashMap::<u32, u32>::new();
    for (from, b) in &got {
        let m = d.decode(*from, b).unwrap();
        let e = expect.entry(m.header.domain).or_insert(0);
        assert_eq!(m.header.sequence, *e);
        *e += m.data_records() as u32;
    }
    let dead = &stats[0];
    let alive = &stats[1];
    assert_eq!(alive.records_sent, n as u64, "{alive:?}");
    assert_eq!((alive.messages_failed, alive.records_failed), (0, 0));
    assert!(dead.messages_failed > 0, "{dead:?}");
    assert!(dead.last_error.is_some(), "{dead:?}");
    assert_eq!(
        dead.records_sent + dead.records_failed,
        n as u64,
        "{dead:?}"
    );
}

#[tokio::test]
async fn ipv6_collector_and_configured_source_port() {
    let col = UdpSocket::bind("[::1]:0").unwrap();
    let port = col.local_addr().unwrap().port();
    let src_port = UdpSocket::bind("[::1]:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = localhost_config(Version::V9, port);
    cfg.collectors = vec![Collector::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port)];
    cfg.source = ExportSource {
        v4: None,
        v6: Some(SourceAddr {
            addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
            port: Some(src_port),
        }),
    };
    let exp = Exporter::start(cfg, Arc::new(SystemClock::new())).unwrap();
    let mut g = Gen(21);
    exp.try_export(vec![record(&mut g, M::VlanId, true); 3])
        .unwrap();
    exp.flush().await.unwrap();
    let got = tokio::task::spawn_blocking(move || {
        receive(&col, Duration::from_secs(5), |got| flows_in(got) >= 3)
    })
    .await
    .unwrap();
    exp.shutdown().await;
    assert_eq!(flows_in(&got), 3);
    assert!(got
        .iter()
        .all(|(from, _)| *from == SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), src_port)));
}

#[tokio::test]
async fn source_without_port_sends_from_40000() {
    let col = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = col.local_addr().unwrap().port();
    let mut cfg = localhost_config(Version::V9, port);
    cfg.source.v4 = Some(SourceAddr {
        addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: None,
    });
    let exp = Exporter::start(cfg, Arc::new(SystemClock::new())).unwrap();
    let got = tokio::task::spawn_blocking(move || {
        receive(&col, Duration::from_secs(5), |got| !got.is_empty())
    })
    .await
    .unwrap();
    exp.shutdown().await;
    assert_eq!(got[0].0.port(), 40000);
}

#[tokio::test]
async fn running_exporter_refreshes_templates_on_the_injected_clock() {
    let col = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = col.local_addr().unwrap().port();
    let mut cfg = localhost_config(Version::Ipfix, port);
    cfg.modes = vec![M::As];
    cfg.template_timeout_minutes = 30;
    cfg.options_refresh_minutes = 3600;
    cfg.options_refresh_packets = 600;
    let clock = ManualClock::new(T0);
    let exp = Exporter::start(cfg, Arc::new(clock.clone())).unwrap();
    let col = Arc::new(col);
    let c2 = Arc::clone(&col);
    // Start: `as` template (domain 1), options templates and options data (domain 0).
    let start =
        tokio::task::spawn_blocking(move || receive(&c2, Duration::from_secs(5), |g| g.len() >= 3))
            .await
            .unwrap();
    assert_eq!(start.len(), 3);
    // 29 minutes: nothing. 30 minutes: the `as` template again, with no real waiting.
    clock.advance(Duration::from_secs(29 * 60));
    let c2 = Arc::clone(&col);
    let quiet = tokio::task::spawn_blocking(move || {
        receive(&c2, Duration::from_millis(300), |g| !g.is_empty())
    })
    .await
    .unwrap();
    assert!(quiet.is_empty());
    clock.advance(Duration::from_secs(60));
    let c2 = Arc::clone(&col);
    let refresh = tokio::task::spawn_blocking(move || {
        receive(&c2, Duration::from_secs(5), |g| !g.is_empty())
    })
    .await
    .unwrap();
    exp.shutdown().await;
    assert_eq!(refresh.len(), 1);
    let mut d = Decoder::new();
    let m = d.decode(refresh[0].0, &refresh[0].1).unwrap();
    assert_eq!(m.template_records(), 1);
    assert_eq!(u64::from(m.header.export_secs), (T0 + 30 * 60_000) / 1000);
    assert!(clock.now_ms() > T0);
}
