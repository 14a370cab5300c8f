//! What both benchmarks share: a device programmed like the harness programs it, with a
//! ring in a temporary file and a consumer that only moves `RING_CONS` (no decoding, so
//! the figures are the model's, not a driver's), timing and medians.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use nsflow_hwsim::ring::WB_BYTES;
use nsflow_hwsim::{BuildParams, Device, Refused};
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::parser::LinkType;
use nsflow_rtl::record::RECORD_BYTES;
use nsflow_rtl::regs::{self, Ctrl};
use nsflow_rtl::tables::Tables;
use nsflow_rtl::AggregationMode;
use nsflow_testkit::harness::program;
use std::time::{Duration, Instant};

const RING_IOVA: u64 = 0x10_0000_0000;
/// 2^16 records: a driver-sized ring.
const RING_LOG2: u32 = 16;

/// Runs of every measurement (the median is reported); `NSFLOW_BENCH_RUNS` overrides.
pub fn runs() -> usize {
    std::env::var("NSFLOW_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(5)
}

/// The first `n` aggregation modes, one profile each, default timers.
pub fn engine(n: usize) -> EngineConfig {
    EngineConfig::with_modes(&AggregationMode::ALL[..n])
}

/// A device of `params`, programmed with `engine`, its ring mapped and the engine on.
pub struct Bench {
    /// The device.
    pub dev: Device,
    wb: u64,
    records: u64,
}

impl Bench {
    /// Builds and programs the device.
    pub fn new(params: BuildParams, engine: &EngineConfig) -> Self {
        let mut dev = Device::new(params).unwrap();
        let ring_bytes = (RECORD_BYTES as u64) << RING_LOG2;
        let len = ring_bytes + 4096;
        let file = tempfile::tempfile().unwrap();
        file.set_len(len).unwrap();
        dev.memory_mut().map(RING_IOVA, len, file, 0).unwrap();
        program(&mut dev, engine, &Tables::default()).unwrap();
        let wb = RING_IOVA + ring_bytes;
        dev.bar_write(regs::RING_BASE_LO.offset, RING_IOVA as u32);
        dev.bar_write(regs::RING_BASE_HI.offset, (RING_IOVA >> 32) as u32);
        dev.bar_write(regs::RING_WB_LO.offset, wb as u32);
        dev.bar_write(regs::RING_WB_HI.offset, (wb >> 32) as u32);
        dev.bar_write(regs::RING_SIZE.offset, RING_LOG2);
        let mut ctrl = Ctrl(0);
        ctrl.set_enable(true);
        dev.bar_write(regs::CTRL.offset, ctrl.0);
        Self {
            dev,
            wb,
            records: 0,
        }
    }

    /// Consumes everything the device has written: producer index from the write-back
    /// slot, consumer index set to it.
    pub fn consume(&mut self) -> u32 {
        let mut b = [0u8; WB_BYTES];
        self.dev.memory().read(self.wb, &mut b).unwrap();
        let prod = u64::from_le_bytes(b) as u32;
        let cons = self.dev.bar_read(regs::RING_CONS.offset);
        let n = prod.wrapping_sub(cons);
        if n > 0 {
            self.records += u64::from(n);
            self.dev.bar_write(regs::RING_CONS.offset, prod);
        }
        n
    }

    /// Offers a frame, consuming while the device holds.
    #[inline]
    pub fn offer(&mut self, ts_ns: u64, link: Option<LinkType>, data: &[u8]) {
        loop {
            match self.dev.offer(ts_ns, link, data) {
                Ok(()) => return,
                Err(Refused::Busy) => {
                    assert!(self.consume() > 0, "device busy with nothing to consume");
                }
                Err(e) => panic!("device refused: {e}"),
            }
        }
    }

    /// Flushes and consumes until the flush completed; returns the records consumed.
    pub fn finish(mut self) -> u64 {
        let before = self.dev.bar_read(regs::FLUSH_COUNT.offset);
        let mut c = Ctrl(self.dev.bar_read(regs::CTRL.offset));
        c.set_flush(true);
        self.dev.bar_write(regs::CTRL.offset, c.0);
        while self.dev.bar_read(regs::FLUSH_COUNT.offset) == before {
            self.dev.run_until_idle();
            self.consume();
        }
        self.consume();
        self.records
    }
}

/// The median of `runs` timings of `f` (which returns the packets it handled), as
/// packets per second, and the packets.
pub fn median_pps(runs: usize, mut f: impl FnMut() -> u64) -> (f64, u64) {
    let mut rates = Vec::with_capacity(runs);
    let mut packets = 0;
    for _ in 0..runs {
        let t = Instant::now();
        packets = f();
        rates.push(packets as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    (rates[rates.len() / 2], packets)
}

/// The median of `runs` wall-clock timings of `f`.
pub fn median_time(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Millions, one decimal.
pub fn mega(x: f64) -> String {
    format!("{:.2} M", x / 1e6)
}
