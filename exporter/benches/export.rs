//! `cargo bench -p nsflow-exporter`: records encoded per second on one core (IPFIX and v9,
//! three representative modes) and messages per second sent on loopback through the
//! tokio transport. Prints the median of several runs; no external harness.

// A benchmark: a failed unwrap is a broken setup, reported by the panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_exporter::transport::Transport;
use nsflow_exporter::{
    Collector, ExportConfig, ExportSource, ExportStream, FieldWidth, FlowRecord, Message,
    SourceAddr, Version,
};
use nsflow_rtl::{AggregationMode as M, EndReason, FlowKey};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

const T0: u64 = 1_700_000_000_000;
const RUNS: usize = 7;
const ENCODE_RECORDS: usize = 4_000_000;

fn records(mode: M, n: usize) -> Vec<FlowRecord> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut a = [0u8; 16];
            a[..8].copy_from_slice(&x.to_be_bytes());
            let key = FlowKey {
                src_addr: a,
                dst_addr: a,
                next_hop: a,
                src_as: x as u32,
                dst_as: (x >> 32) as u32,
                in_if: (x >> 8) as u32,
                out_if: (x >> 16) as u32,
                src_port: x as u16,
                dst_port: (x >> 16) as u16,
                protocol: 6,
                tos: x as u8,
                src_plen: 48,
                dst_plen: 56,
                ..FlowKey::default()
            }
            .masked(mode.field_select(), 0, 0);
            FlowRecord {
                mode,
                key,
                flows: 1,
                packets: 10 + (x & 0xff),
                bytes: 1500 + (x & 0xffff),
                start_ms: T0 + i as u64,
                end_ms: T0 + i as u64 + 500,
                end_reason: EndReason::Idle,
            }
        })
        .collect()
}

fn config(version: Version) -> ExportConfig {
    let mut c = ExportConfig::new(
        vec![],
        ExportSource {
            v4: Some(SourceAddr {
                addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                port: Some(0),
            }),
            v6: None,
        },
    );
    c.version = version;
    c.as_width = FieldWidth::Four;
    c.ifindex_width = FieldWidth::Four;
    c.system_init_ms = Some(T0);
    c
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Records per second through `ExportStream::push` (encoding, packing, sequence, header).
fn encode_rate(version: Version, mode: M) -> (f64, usize) {
    let recs = records(mode, 65_536);
    let cfg = config(version);
    let mut rates = Vec::new();
    let mut bytes = 0;
    for _ in 0..RUNS {
        let mut s = ExportStream::new(&cfg, T0 + 3_600_000);
        s.take_messages();
        let mut out: Vec<Message> = Vec::with_capacity(1024);
        let t = Instant::now();
        let mut done = 0;
        while done < ENCODE_RECORDS {
            for r in &recs {
                s.push(r, T0 + 3_600_000);
            }
            done += recs.len();
            s.drain_messages(&mut out);
            bytes = out.iter().map(|m| m.bytes.len()).sum::<usize>();
            black_box(&out);
            out.clear();
        }
        s.flush(T0 + 3_600_000);
        black_box(s.take_messages());
        rates.push(done as f64 / t.elapsed().as_secs_f64());
    }
    (median(rates), bytes)
}

/// Messages per second handed to the kernel by one collector's sender task (sendmmsg).
fn send_rate(rt: &tokio::runtime::Runtime) -> (f64, f64) {
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    sink.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let port = sink.local_addr().unwrap().port();
    let drain = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut n = 0u64;
        while sink.recv(&mut buf).is_ok() {
            n += 1;
        }
        n
    });
    let mut cfg = config(Version::Ipfix);
    cfg.collectors = vec![Collector::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)];
    // 1400-byte messages of `as` records, encoded once.
    let mut s = ExportStream::new(&cfg, T0 + 3_600_000);
    s.take_messages();
    for r in records(M::As, 24 * 2000) {
        s.push(&r, T0 + 3_600_000);
    }
    s.flush(T0 + 3_600_000);
    let msgs: Vec<Arc<Message>> = s.take_messages().into_iter().map(Arc::new).collect();
    let per_round = msgs.len() as u64;
    let mut rates = Vec::new();
    rt.block_on(async {
        let t = Transport::open(&cfg);
        let stats = t.stats_handle();
        for _ in 0..RUNS {
            let done = || {
                let s = &stats.snapshot()[0];
                s.messages_sent + s.messages_failed
            };
            let before = done();
            let mut queued = before;
            let start = Instant::now();
            // 25 rounds of ~2000 messages; at most ~4000 in flight (the queue holds 4096).
            for _ in 0..25 {
                while queued - done() > 2048 {
                    tokio::task::yield_now().await;
                }
                t.send(&msgs);
                queued += per_round;
            }
            while done() < queued {
                tokio::task::yield_now().await;
            }
            rates.push((per_round * 25) as f64 / start.elapsed().as_secs_f64());
        }
        let s = &stats.snapshot()[0];
        assert_eq!(s.messages_failed, 0, "{s:?}");
        t.close().await;
    });
    let received = drain.join().unwrap() as f64;
    let sent = (per_round * 25 * RUNS as u64) as f64;
    (median(rates), received / sent)
}

fn main() {
    println!("nsflow-exporter benchmark: median of {RUNS} runs");
    println!("encode: ExportStream::push, {ENCODE_RECORDS} records per run, 4-octet AS/ifIndex, MTU 1400");
    for version in [Version::Ipfix, Version::V9] {
        for mode in [M::As, M::PrefixTos, M::ProtocolPort] {
            let (rate, _) = encode_rate(version, mode);
            println!(
                "  {:<6} {:<14} {:>7.1} M records/s",
                format!("{version:?}"),
                mode.name(),
                rate / 1e6
            );
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (rate, delivered) = send_rate(&rt);
    println!(
        "send: one collector on 127.0.0.1, 1400-byte IPFIX messages, sendmmsg batches of 64: {:.0} k messages/s ({:.1}% read back by the sink thread)",
        rate / 1e3,
        delivered * 100.0
    );
}
