//! `cargo bench -p nsflow --bench drain`: records drained per second on one core,
//! from a pre-filled DMA ring into exporter flows — `RingConsumer::poll` (producer index,
//! phase bit, `Record::decode`, profile check for every record) then `convert::to_flows`.
//! The device is played by this program: before each timed pass it writes one ring's
//! worth of valid records and publishes the producer index, as the DMA engine does (the
//! records are then in the cache, as DMA writes are with DDIO); the pass drains the whole
//! ring with a new consumer over the same memory (`RingConsumer::resume` at index 0, as a
//! restarted driver would). Only the drain is timed. As the drain task does, records are taken in
//! batches of `DrainConfig::default().batch` (one lock of the device each) and each batch
//! is converted before the next is taken. Prints the median of several runs.

// A benchmark: a failed unwrap is a broken setup, reported by the panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow::convert::{to_flows, TimeBase};
use nsflow_driver::dma::DmaMemory;
use nsflow_driver::drain::DrainConfig;
use nsflow_driver::ring::RingConsumer;
use nsflow_exporter::FlowRecord;
use nsflow_rtl::record::{phase_for, Record, RECORD_BYTES};
use nsflow_rtl::{AggregationMode, EndReason, FlowKey};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Ring of 2^16 records (8 MiB), the size `nsflow run` uses by default.
const LOG2: u8 = 16;
/// Passes over the ring per run (2^16 records each).
const PASSES: u32 = 32;
const RUNS: usize = 7;

/// A record as the device would export it for free-running ring index `i`: every profile
/// in turn, keys and counters that vary.
fn record(i: u32) -> [u8; RECORD_BYTES] {
    let x = u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut a = [0u8; 16];
    a[..8].copy_from_slice(&x.to_be_bytes());
    Record {
        profile: (i % AggregationMode::ALL.len() as u32) as u8,
        reason: EndReason::Idle,
        phase: phase_for(i, LOG2),
        flows: 1 + (i & 3),
        packets: 10 + (x & 0xff),
        bytes: 1500 + (x & 0xffff),
        first_ns: 1_000_000_000 + u64::from(i),
        last_ns: 1_500_000_000 + u64::from(i),
        key: FlowKey {
            src_addr: a,
            dst_addr: a,
            src_as: x as u32,
            dst_as: (x >> 32) as u32,
            src_port: x as u16,
            dst_port: (x >> 16) as u16,
            protocol: 6,
            src_plen: 48,
            dst_plen: 56,
            ..FlowKey::default()
        },
    }
    .encode()
}

/// Plays the device: writes one ring's worth of records (indices `0..entries`, first
/// pass) and publishes the producer index.
fn produce(ring: &RingConsumer) {
    for i in 0..ring.entries() {
        ring.memory()
            .write(i as usize * RECORD_BYTES, &record(i))
            .unwrap();
    }
    ring.memory()
        .write(
            ring.writeback_offset(),
            &u64::from(ring.entries()).to_le_bytes(),
        )
        .unwrap();
}

/// One run: `PASSES` passes over a full ring, each drained and converted; returns records
/// and the time spent draining.
fn run() -> (u64, Duration) {
    let modes = AggregationMode::ALL;
    let mem = DmaMemory::new(RingConsumer::bytes(LOG2)).unwrap();
    let mut mem = Some(
        RingConsumer::new(mem, LOG2, modes.len())
            .unwrap()
            .into_memory(),
    );
    let time = TimeBase {
        device_ns: 0,
        unix_ns: 1_700_000_000_000_000_000,
    };
    let batch = DrainConfig::default().batch;
    let mut recs: Vec<Record> = Vec::with_capacity(batch);
    let mut flows: Vec<FlowRecord> = Vec::with_capacity(batch);
    let (mut n, mut spent) = (0u64, Duration::ZERO);
    for _ in 0..PASSES {
        let mut ring = RingConsumer::resume(mem.take().unwrap(), LOG2, modes.len(), 0);
        produce(&ring);
        let mut left = ring.entries() as usize;
        let t = Instant::now();
        while left > 0 {
            recs.clear();
            flows.clear();
            let got = ring.poll(&mut recs, batch).unwrap();
            assert!(got > 0, "the ring holds {left} more records");
            to_flows(&recs, &modes, &time, &mut flows);
            black_box(&flows);
            left -= got;
            n += got as u64;
        }
        spent += t.elapsed();
        mem = Some(ring.into_memory());
    }
    assert_eq!(n, u64::from(PASSES) << LOG2);
    (n, spent)
}

fn main() {
    let mut rates: Vec<f64> = (0..RUNS)
        .map(|_| {
            let (n, d) = run();
            n as f64 / d.as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "drain (poll + to_flows), ring 2^{LOG2}, batches of {}, {} records per run: median {:.1} M records/s (min {:.1}, max {:.1})",
        DrainConfig::default().batch,
        u64::from(PASSES) << LOG2,
        rates[RUNS / 2] / 1e6,
        rates[0] / 1e6,
        rates[RUNS - 1] / 1e6
    );
}
