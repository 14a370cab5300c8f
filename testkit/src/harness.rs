//! A small test driver: programs a [`Device`] through BAR writes only, gives it a record
//! ring in a temporary file mapped as host memory, replays frames, and drains the ring the
//! way a driver does (producer index from the write-back slot, phase bit and
//! `Record::decode` checked on every record, `RING_CONS` advanced). It is deliberately
//! simple and single-threaded: the device runs only inside the harness's calls. The real
//! driver (nsflow-driver) has its own; this one exists so that hwsim's tests and other
//! crates' tests share one well-checked way of running the model.

use nsflow_hwsim::capture::Frame;
use nsflow_hwsim::device::{Device, Refused};
use nsflow_hwsim::params::BuildParams;
use nsflow_hwsim::ring::WB_BYTES;
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::counters::Counters;
use nsflow_rtl::parser::LinkType;
use nsflow_rtl::program::{self, LimitError};
use nsflow_rtl::record::{Record, RecordError, RECORD_BYTES};
use nsflow_rtl::regs::{self, Ctrl, NUM_PROFILES};
use nsflow_rtl::tables::Tables;
use std::convert::Infallible;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Device address of the ring the harness maps.
pub const RING_IOVA: u64 = 0x10_0000_0000;

/// How the harness consumes records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// Records consumed per drain at most.
    pub max_per_drain: usize,
    /// Drain after every this many frames offered (0: only when the device refuses).
    pub drain_every: u64,
    /// Device cycles that pass during each drain (a slow consumer).
    pub delay_cycles: u64,
}

impl Default for Consumer {
    /// A prompt consumer: everything, every 64 frames, in no device time.
    fn default() -> Self {
        Self {
            max_per_drain: usize::MAX,
            drain_every: 64,
            delay_cycles: 0,
        }
    }
}

/// What to build and how to program it.
#[derive(Debug, Clone)]
pub struct HarnessConfig {
    /// The hardware build.
    pub params: BuildParams,
    /// Timers and profiles (profile slot i = `engine.profiles[i]`).
    pub engine: EngineConfig,
    /// Route, interface and label tables, programmed through the windows.
    pub tables: Tables,
    /// Ring size, log2 of records.
    pub ring_log2: u8,
    /// `SCAN_CTRL.share` (None: leave the reset value).
    pub scan_share: Option<u8>,
    /// `INT_MOD_RECORDS` (None: leave the reset value).
    pub int_mod_records: Option<u16>,
    /// The consumer.
    pub consumer: Consumer,
}

impl Default for HarnessConfig {
    fn default() -> Self {
        Self {
            params: BuildParams::default(),
            engine: EngineConfig::default(),
            tables: Tables::default(),
            ring_log2: 12,
            scan_share: None,
            int_mod_records: None,
            consumer: Consumer::default(),
        }
    }
}

/// Why the harness stopped.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The device could not be built.
    #[error(transparent)]
    Build(#[from] nsflow_hwsim::params::BuildError),
    /// Host memory could not be had or read.
    #[error("host memory: {0}")]
    Io(#[from] std::io::Error),
    /// Host memory could not be mapped.
    #[error(transparent)]
    Map(#[from] nsflow_hwsim::memory::MapError),
    /// A configuration the hardware cannot hold.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// A record in the ring did not decode.
    #[error("record {index}: {error}")]
    Record {
        /// Its free-running index.
        index: u32,
        /// Why.
        error: RecordError,
    },
    /// A record below the producer index did not carry the expected phase bit.
    #[error("record {index}: phase bit is not the current pass's")]
    Phase {
        /// Its free-running index.
        index: u32,
    },
    /// The device stopped (`STATUS.error`).
    #[error("device stopped with error code {0}")]
    Device(u8),
    /// The device refused a frame and there was nothing to consume.
    #[error("the device made no progress: {0}")]
    Stuck(&'static str),
}

/// The 64-bit statistics read through BAR0 after a snapshot (the contract's
/// [`Counters`]).
pub type StatsReadout = Counters;

/// Programs timers, profiles and tables through BAR writes, by rtl-model's programming
/// path (the writes the driver makes). Profiles beyond `engine.profiles` are disabled.
pub fn program(
    dev: &mut Device,
    engine: &EngineConfig,
    tables: &Tables,
) -> Result<(), HarnessError> {
    let engine = program::engine_writes(engine, NUM_PROFILES)?;
    for (offset, value) in engine.into_iter().chain(program::table_writes(tables)) {
        dev.bar_write(offset, value);
    }
    Ok(())
}

/// A device, its ring in host memory, and a consumer.
pub struct Harness {
    dev: Device,
    file: File,
    ring_log2: u8,
    cons: u32,
    records: Vec<Record>,
    consumer: Consumer,
    offered: u64,
    irqs: Arc<AtomicU64>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("dev", &self.dev)
            .field("cons", &self.cons)
            .field("records", &self.records.len())
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// Builds the device, maps a ring (and the write-back slot after it) in a temporary
    /// file, programs everything through BAR0, unmasks every interrupt and enables the
    /// engine.
    pub fn new(cfg: &HarnessConfig) -> Result<Self, HarnessError> {
        let mut dev = Device::new(cfg.params.clone())?;
        let ring_bytes = (RECORD_BYTES as u64) << cfg.ring_log2;
        let len = ring_bytes + 4096;
        let file = tempfile::tempfile()?;
        file.set_len(len)?;
        dev.memory_mut().map(RING_IOVA, len, file.try_clone()?, 0)?;
        let irqs = Arc::new(AtomicU64::new(0));
        let counter = irqs.clone();
        dev.set_irq(Box::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        }));
        program(&mut dev, &cfg.engine, &cfg.tables)?;
        if let Some(s) = cfg.scan_share {
            dev.bar_write(regs::SCAN_CTRL.offset, s.into());
        }
        if let Some(n) = cfg.int_mod_records {
            dev.bar_write(regs::INT_MOD_RECORDS.offset, n.into());
        }
        for (offset, value) in
            program::ring_writes(RING_IOVA, RING_IOVA + ring_bytes, cfg.ring_log2)
        {
            dev.bar_write(offset, value);
        }
        let mut ctrl = Ctrl(0);
        ctrl.set_enable(true);
        dev.bar_write(regs::CTRL.offset, ctrl.0);
        let mut h = Self {
            dev,
            file,
            ring_log2: cfg.ring_log2,
            cons: 0,
            records: Vec::new(),
            consumer: cfg.consumer.clone(),
            offered: 0,
            irqs,
            buf: Vec::new(),
        };
        h.check()?;
        Ok(h)
    }

    /// The device, for BAR accesses and time control.
    pub fn device(&mut self) -> &mut Device {
        &mut self.dev
    }

    /// Interrupt messages received.
    pub fn irqs(&self) -> u64 {
        self.irqs.load(Ordering::Relaxed)
    }

    /// Records drained so far, in ring order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    fn check(&mut self) -> Result<(), HarnessError> {
        let s = regs::Status(self.dev.bar_read(regs::STATUS.offset));
        if s.error() {
            return Err(HarnessError::Device(s.error_code()));
        }
        Ok(())
    }

    /// Offers a frame, draining and retrying while the device holds; drains every
    /// `consumer.drain_every` frames.
    pub fn offer(
        &mut self,
        ts_ns: u64,
        link: Option<LinkType>,
        data: &[u8],
    ) -> Result<(), HarnessError> {
        loop {
            match self.dev.offer(ts_ns, link, data) {
                Ok(()) => break,
                Err(Refused::Busy) => {
                    if self.drain()? == 0 {
                        return Err(HarnessError::Stuck("device busy with nothing to consume"));
                    }
                }
                Err(Refused::Stopped) => {
                    self.check()?;
                    return Err(HarnessError::Stuck("device stopped"));
                }
                Err(Refused::Disabled) => return Err(HarnessError::Stuck("device disabled")),
                Err(Refused::Removed) => return Err(HarnessError::Stuck("device removed")),
            }
        }
        self.offered += 1;
        let every = self.consumer.drain_every;
        if every > 0 && self.offered % every == 0 {
            self.drain()?;
        }
        Ok(())
    }

    /// [`Self::offer`] for a [`Frame`].
    pub fn offer_frame(&mut self, f: &Frame) -> Result<(), HarnessError> {
        self.offer(f.ts_ns, f.link, &f.data)
    }

    /// Consumes up to `consumer.max_per_drain` records: reads the write-back producer
    /// index, checks each record's phase bit and decodes it, then writes `RING_CONS`.
    /// Returns the number consumed.
    pub fn drain(&mut self) -> Result<usize, HarnessError> {
        self.check()?;
        let ring_bytes = (RECORD_BYTES as u64) << self.ring_log2;
        let mut wb = [0u8; WB_BYTES];
        self.file.read_exact_at(&mut wb, ring_bytes)?;
        let prod = u64::from_le_bytes(wb) as u32;
        let avail = prod.wrapping_sub(self.cons) as usize;
        let mut n = avail.min(self.consumer.max_per_drain);
        let size = 1u32 << self.ring_log2;
        let taken = n;
        while n > 0 {
            let slot = self.cons & (size - 1);
            let chunk = n.min((size - slot) as usize);
            self.buf.resize(chunk * RECORD_BYTES, 0);
            self.file
                .read_exact_at(&mut self.buf, u64::from(slot) * RECORD_BYTES as u64)?;
            for (k, b) in self.buf.chunks(RECORD_BYTES).enumerate() {
                let index = self.cons.wrapping_add(k as u32);
                let phase = (index >> self.ring_log2) & 1 == 0;
                if b[3] & 1 != u8::from(phase) {
                    return Err(HarnessError::Phase { index });
                }
                let r = Record::decode(b).map_err(|error| HarnessError::Record { index, error })?;
                self.records.push(r);
            }
            self.cons = self.cons.wrapping_add(chunk as u32);
            n -= chunk;
        }
        if taken > 0 {
            self.dev.bar_write(regs::RING_CONS.offset, self.cons);
        }
        if self.consumer.delay_cycles > 0 {
            self.dev.advance_cycles(self.consumer.delay_cycles);
        }
        Ok(taken)
    }

    fn ctrl_pulse(&mut self, set: impl Fn(&mut Ctrl)) {
        let mut c = Ctrl(self.dev.bar_read(regs::CTRL.offset));
        set(&mut c);
        self.dev.bar_write(regs::CTRL.offset, c.0);
    }

    /// Flushes (`CTRL.flush`) and drains until `FLUSH_COUNT` shows the flush complete and
    /// every record is consumed.
    pub fn flush(&mut self) -> Result<(), HarnessError> {
        let before = self.dev.bar_read(regs::FLUSH_COUNT.offset);
        self.ctrl_pulse(|c| c.set_flush(true));
        loop {
            self.dev.run_until_idle();
            let n = self.drain()?;
            if self.dev.bar_read(regs::FLUSH_COUNT.offset) != before {
                break;
            }
            if n == 0 && self.dev.is_idle() {
                return Err(HarnessError::Stuck("flush did not complete"));
            }
        }
        while self.drain()? > 0 {}
        Ok(())
    }

    /// Replays frames, then flushes; returns every record drained.
    pub fn run<I: IntoIterator<Item = Frame>>(
        &mut self,
        frames: I,
    ) -> Result<&[Record], HarnessError> {
        for f in frames {
            self.offer_frame(&f)?;
        }
        self.flush()?;
        Ok(&self.records)
    }

    /// Latches (`CTRL.stats_snapshot`) and reads every 64-bit statistic through BAR0.
    pub fn stats(&mut self) -> StatsReadout {
        read_stats(&mut self.dev)
    }
}

/// Latches (`CTRL.stats_snapshot`, keeping `CTRL.enable`) and reads every 64-bit
/// statistic of `dev` through BAR0.
pub fn read_stats(dev: &mut Device) -> StatsReadout {
    let mut c = Ctrl(dev.bar_read(regs::CTRL.offset));
    c.set_stats_snapshot(true);
    dev.bar_write(regs::CTRL.offset, c.0);
    let Ok(c) = Counters::read(|o| Ok::<_, Infallible>(dev.bar_read(o)), NUM_PROFILES);
    c
}
