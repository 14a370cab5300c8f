//! Waveforms of the model: a [`Tracer`] attached with [`Device::set_trace`] records a
//! window of cycles `[from, to)` of the pipeline's signals and of the host's BAR0 writes as
//! a VCD file (value change dump, IEEE 1364), for a waveform viewer and for comparing the
//! model with an RTL simulation of the same traffic.
//!
//! The device reports each step of its event loop, each accepted frame and each BAR0
//! write; the tracer turns what changed into value changes. Nothing is sampled between
//! steps — the model skips idle time, and no signal changes there. Time is device time:
//! cycle `c` is written at `c × 10¹² / clock_hz` picoseconds (`$timescale 1 ps`; 4000 ps
//! per cycle at 250 MHz), cycles counted from the device's creation like
//! [`Device::now_cycles`] (a soft reset does not restart them).
//!
//! Signals (scope `nsflow`). *Pulse* signals hold their value for the one cycle of the
//! event; consecutive events keep them high. Vectors saturate at their width.
//!
//! | signal | width | meaning |
//! |---|---|---|
//! | `ingress_valid` | 1 | pulse: a frame accepted at ingress, at the cycle it enters |
//! | `ingress_ipv6` | 1 | pulse: that frame is an IPv6 packet entering the pipeline (the parser counts and drops others) |
//! | `ingress_frames` | 32 | frames accepted since reset (`rx_frames`, low 32 bits) |
//! | `ingress_wait` | 16 | pulse: cycles that frame waited for ingress (adds to `stall_ingress`) |
//! | `pipeline_depth` | 16 | packets between ingress and the stage-1 table |
//! | `s1_hit`, `s1_miss` | 1 | pulse: stage-1 lookup outcome at the table access |
//! | `s1_evict` | 1 | pulse: that miss evicted the least recently used flow of a full set |
//! | `s1_entries` | 32 | original flows in stage 1 |
//! | `flow_queue_depth` | 16 | ended original flows waiting for the merge unit |
//! | `merge_p00` … `merge_p13` | 1 | pulse: an ended flow merged into profile NN |
//! | `table_wait` | 16 | pulse: cycles a stage-1 or merge step waited for its table port — scanner slots, hazards (adds to `stall_table`) |
//! | `record_fifo_depth` | 16 | records waiting for DMA |
//! | `dma_write` | 1 | pulse: a DMA batch of records landed in host memory |
//! | `dma_records` | 8 | pulse: the records in that batch |
//! | `dma_inflight` | 8 | DMA batches issued and not landed |
//! | `ring_prod`, `ring_cons` | 32 | producer index (`RING_PROD`), consumer index (`RING_CONS`) |
//! | `ring_full` | 1 | stall: records wait for ring space (`stall_ring_full`, `STATUS.ring_full`) |
//! | `irq` | 1 | pulse: an interrupt message delivered |
//! | `int_status` | 32 | `INT_STATUS` |
//! | `flush_busy`, `error` | 1 | `STATUS.flush_busy`, `STATUS.error` |
//! | `bar_write` | 1 | pulse: BAR0's register port took a write |
//! | `bar_write_offset`, `bar_write_value` | 16, 32 | that write's offset and value (held until the next) |
//!
//! The register port takes one write per cycle (`Device::bar_write`), so every write has a
//! cycle of its own: a window from cycle 0 shows the driver's whole programming sequence,
//! one write per cycle, before the first frame.
//!
//! [`Device::set_trace`]: crate::Device::set_trace
//! [`Device::now_cycles`]: crate::Device::now_cycles

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use vcd::{IdCode, SimulationCommand, TimescaleUnit, Value, Writer};

const PROFILES: usize = nsflow_rtl::regs::NUM_PROFILES as usize;

/// Pending changes kept before the ones no later event can precede are written.
const FLUSH_AT: usize = 1 << 14;

macro_rules! signals {
    ($($id:ident = $name:literal, $width:literal;)*) => {
        /// A signal of the fixed set (the per-profile merge pulses follow them).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Sig {
            $($id,)*
        }
        /// Names and widths, in `Sig` order.
        const FIXED: &[(&str, u32)] = &[$(($name, $width),)*];
    };
}

signals! {
    IngressValid = "ingress_valid", 1;
    IngressIpv6 = "ingress_ipv6", 1;
    IngressFrames = "ingress_frames", 32;
    IngressWait = "ingress_wait", 16;
    PipelineDepth = "pipeline_depth", 16;
    S1Hit = "s1_hit", 1;
    S1Miss = "s1_miss", 1;
    S1Evict = "s1_evict", 1;
    S1Entries = "s1_entries", 32;
    FlowQueueDepth = "flow_queue_depth", 16;
    TableWait = "table_wait", 16;
    RecordFifoDepth = "record_fifo_depth", 16;
    DmaWrite = "dma_write", 1;
    DmaRecords = "dma_records", 8;
    DmaInflight = "dma_inflight", 8;
    RingProd = "ring_prod", 32;
    RingCons = "ring_cons", 32;
    RingFull = "ring_full", 1;
    Irq = "irq", 1;
    IntStatus = "int_status", 32;
    FlushBusy = "flush_busy", 1;
    Error = "error", 1;
    BarWrite = "bar_write", 1;
    BarWriteOffset = "bar_write_offset", 16;
    BarWriteValue = "bar_write_value", 32;
}

/// Index of a signal in the tracer's tables.
fn idx(s: Sig) -> usize {
    s as usize
}

/// Index of profile `p`'s merge pulse.
fn merge_idx(p: usize) -> usize {
    FIXED.len() + p
}

/// What the device reports at each sample (filled in `device/probe.rs`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Probe {
    pub(crate) rx_frames: u64,
    pub(crate) ipv6_packets: u64,
    pub(crate) stall_ingress: u64,
    pub(crate) pipeline: usize,
    pub(crate) orig_created: u64,
    /// Stage-1 flows ended by the idle or active timer (by a packet or the scanner).
    pub(crate) orig_aged_timer: u64,
    pub(crate) orig_evicted: u64,
    pub(crate) s1_entries: usize,
    pub(crate) flow_queue: usize,
    pub(crate) merged: [u64; PROFILES],
    pub(crate) stall_table: u64,
    pub(crate) record_fifo: usize,
    pub(crate) records_written: u64,
    pub(crate) dma_inflight: usize,
    pub(crate) ring_prod: u32,
    pub(crate) ring_cons: u32,
    pub(crate) ring_full: bool,
    pub(crate) irqs: u64,
    pub(crate) int_status: u32,
    pub(crate) flush_busy: bool,
    pub(crate) error: bool,
}

/// Why the device samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// Before the event loop runs, or when tracing stops.
    Settle,
    /// After a stage-1 table step (one packet looked up).
    Table,
    /// After any other step.
    Other,
    /// A frame was accepted; it enters ingress at this cycle (possibly ahead of now).
    Ingress(u64),
}

/// A waveform could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// `to` is not after `from`.
    #[error("empty trace window: cycles [{from}, {to})")]
    EmptyWindow {
        /// First cycle.
        from: u64,
        /// End (exclusive).
        to: u64,
    },
    /// The output file could not be created.
    #[error("cannot create {path}: {source}")]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Writing the waveform failed (the first error; recording stopped there).
    #[error("cannot write the waveform: {0}")]
    Write(#[from] io::Error),
}

/// What a finished trace holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceSummary {
    /// Value changes written (the initial `$dumpvars` values included).
    pub value_changes: u64,
    /// Whether the device reached the window (if not, the file has a header only).
    pub reached_window: bool,
    /// The device's cycle when tracing stopped.
    pub stopped_at: u64,
}

/// Ordering of changes within a cycle: a pulse ending is applied before anything set in
/// the same cycle (so back-to-back pulses stay high).
const OFF: u8 = 0;
const ON: u8 = 1;

/// Signal `signal` takes `value` at `cycle`.
#[derive(Debug, Clone, Copy)]
struct Change {
    cycle: u64,
    order: u8,
    signal: usize,
    value: u64,
}

/// Records a window of the device's signals as VCD; see the module documentation.
pub struct Tracer {
    window: Range<u64>,
    out: Writer<Box<dyn Write + Send>>,
    widths: Vec<u32>,
    ids: Vec<IdCode>,
    clock_hz: u64,
    /// The previous sample (None until attached to a device).
    last: Option<Probe>,
    /// Changes not yet written, in the order they were made.
    pending: Vec<Change>,
    /// Signal values as of the last cycle written (or applied, before the window).
    state: Vec<u64>,
    /// The window's first values are written.
    started: bool,
    /// Nothing more to record (past the window, or an output error).
    closed: bool,
    /// The last timestamp written, in cycles.
    last_written: Option<u64>,
    stopped_at: u64,
    value_changes: u64,
    error: Option<io::Error>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("window", &self.window)
            .field("pending", &self.pending.len())
            .field("started", &self.started)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Tracer {
    /// A tracer of cycles `window` writing VCD to `out` (buffer it: every change is a
    /// small write). Nothing is written until it is attached to a device.
    pub fn new(out: Box<dyn Write + Send>, window: Range<u64>) -> Result<Self, TraceError> {
        if window.end <= window.start {
            return Err(TraceError::EmptyWindow {
                from: window.start,
                to: window.end,
            });
        }
        let widths: Vec<u32> = FIXED
            .iter()
            .map(|(_, w)| *w)
            .chain(std::iter::repeat_n(1, PROFILES))
            .collect();
        Ok(Self {
            window,
            out: Writer::new(out),
            state: vec![0; widths.len()],
            widths,
            ids: Vec::new(),
            clock_hz: 1,
            last: None,
            pending: Vec::new(),
            started: false,
            closed: false,
            last_written: None,
            stopped_at: 0,
            value_changes: 0,
            error: None,
        })
    }

    /// A tracer writing to a new file at `path`.
    pub fn create(path: &Path, window: Range<u64>) -> Result<Self, TraceError> {
        let file = File::create(path).map_err(|source| TraceError::Create {
            path: path.to_owned(),
            source,
        })?;
        Self::new(Box::new(BufWriter::new(file)), window)
    }

    /// The names of every signal, in declaration order.
    pub fn signal_names() -> Vec<String> {
        FIXED
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .chain((0..PROFILES).map(|p| format!("merge_p{p:02}")))
            .collect()
    }

    /// Writes the header and takes the device's present state as the starting values.
    pub(crate) fn attach(&mut self, clock_hz: u64, now: Probe) {
        self.clock_hz = clock_hz.max(1);
        let r = self.write_header();
        self.keep(r);
        self.state = self.levels(&now);
        self.last = Some(now);
    }

    fn write_header(&mut self) -> io::Result<()> {
        let ps = 1_000_000_000_000 / u128::from(self.clock_hz);
        self.out.comment(&format!(
            "nsflow-hwsim trace: cycles [{}, {}) at {} Hz; cycle c at c * {ps} ps",
            self.window.start, self.window.end, self.clock_hz
        ))?;
        self.out
            .version(concat!("nsflow-hwsim ", env!("CARGO_PKG_VERSION")))?;
        self.out.timescale(1, TimescaleUnit::PS)?;
        self.out.add_module("nsflow")?;
        for (name, width) in Self::signal_names().iter().zip(&self.widths) {
            let id = self.out.add_wire(*width, name)?;
            self.ids.push(id);
        }
        self.out.upscope()?;
        self.out.enddefinitions()
    }

    /// Whether samples are still wanted.
    pub(crate) fn is_recording(&self) -> bool {
        self.last.is_some() && !self.closed
    }

    /// The level signals' values in `p`, indexed like the signals (pulses 0).
    fn levels(&self, p: &Probe) -> Vec<u64> {
        let mut v = vec![0; self.widths.len()];
        let n = |x: usize| x as u64;
        let b = |x: bool| u64::from(x);
        for (s, x) in [
            (Sig::IngressFrames, p.rx_frames & 0xFFFF_FFFF),
            (Sig::PipelineDepth, n(p.pipeline)),
            (Sig::S1Entries, n(p.s1_entries)),
            (Sig::FlowQueueDepth, n(p.flow_queue)),
            (Sig::RecordFifoDepth, n(p.record_fifo)),
            (Sig::DmaInflight, n(p.dma_inflight)),
            (Sig::RingProd, u64::from(p.ring_prod)),
            (Sig::RingCons, u64::from(p.ring_cons)),
            (Sig::RingFull, b(p.ring_full)),
            (Sig::IntStatus, u64::from(p.int_status)),
            (Sig::FlushBusy, b(p.flush_busy)),
            (Sig::Error, b(p.error)),
        ] {
            v[idx(s)] = x;
        }
        v
    }

    fn set(&mut self, cycle: u64, signal: usize, value: u64) {
        self.pending.push(Change {
            cycle,
            order: ON,
            signal,
            value,
        });
    }

    fn pulse(&mut self, cycle: u64, signal: usize, value: u64) {
        self.set(cycle, signal, value);
        self.pending.push(Change {
            cycle: cycle.saturating_add(1),
            order: OFF,
            signal,
            value: 0,
        });
    }

    /// One sample of the device at cycle `now`.
    pub(crate) fn sample(&mut self, now: u64, event: Event, p: &Probe) {
        if self.closed {
            return;
        }
        let Some(prev) = self.last.take() else {
            return;
        };
        let grew = |a: u64, b: u64| b.saturating_sub(a);
        match event {
            Event::Ingress(at) => {
                if p.rx_frames > prev.rx_frames {
                    self.pulse(at, idx(Sig::IngressValid), 1);
                }
                if p.ipv6_packets > prev.ipv6_packets {
                    self.pulse(at, idx(Sig::IngressIpv6), 1);
                }
                let wait = grew(prev.stall_ingress, p.stall_ingress);
                if wait > 0 {
                    self.pulse(at, idx(Sig::IngressWait), wait);
                }
            }
            Event::Table => {
                // A packet that finds its flow expired also creates one, but ends the old
                // one by a timer first: a miss creates without a timer ending.
                let miss =
                    p.orig_created > prev.orig_created && p.orig_aged_timer == prev.orig_aged_timer;
                let s = if miss { Sig::S1Miss } else { Sig::S1Hit };
                self.pulse(now, idx(s), 1);
                if p.orig_evicted > prev.orig_evicted {
                    self.pulse(now, idx(Sig::S1Evict), 1);
                }
            }
            Event::Settle | Event::Other => {}
        }
        for q in 0..PROFILES {
            if p.merged[q] > prev.merged[q] {
                self.pulse(now, merge_idx(q), 1);
            }
        }
        let wait = grew(prev.stall_table, p.stall_table);
        if wait > 0 {
            self.pulse(now, idx(Sig::TableWait), wait);
        }
        let written = grew(prev.records_written, p.records_written);
        if written > 0 {
            self.pulse(now, idx(Sig::DmaWrite), 1);
            self.pulse(now, idx(Sig::DmaRecords), written);
        }
        if p.irqs > prev.irqs {
            self.pulse(now, idx(Sig::Irq), 1);
        }
        let (before, after) = (self.levels(&prev), self.levels(p));
        for (s, (a, b)) in before.iter().zip(&after).enumerate() {
            if a != b {
                self.set(now, s, *b);
            }
        }
        self.last = Some(p.clone());
        if now >= self.window.end {
            self.emit_before(self.window.end);
            self.closed = true;
        } else if self.pending.len() >= FLUSH_AT {
            // Every later change is at `now` or after it.
            self.emit_before(now);
        }
    }

    /// The register port took the host's write of `value` at BAR0 `offset` at cycle `now`.
    pub(crate) fn bar_write(&mut self, now: u64, offset: u32, value: u32) {
        if !self.is_recording() {
            return;
        }
        self.pulse(now, idx(Sig::BarWrite), 1);
        self.set(now, idx(Sig::BarWriteOffset), offset.into());
        self.set(now, idx(Sig::BarWriteValue), value.into());
    }

    /// Tracing stops at cycle `now` (the device's last sample was taken).
    pub(crate) fn stop(&mut self, now: u64) {
        self.stopped_at = now;
    }

    /// Writes what is left of the window and flushes the output.
    pub fn finish(mut self) -> Result<TraceSummary, TraceError> {
        if !self.closed {
            self.emit_before(self.window.end);
        }
        let reached = self.started || self.stopped_at >= self.window.start;
        if !self.started && reached && self.error.is_none() {
            let r = self.dump();
            self.keep(r);
        }
        let end = self.stopped_at.clamp(self.window.start, self.window.end);
        if reached && self.error.is_none() && self.last_written.is_none_or(|l| l < end) {
            let ts = self.ps(end);
            let r = self.out.timestamp(ts);
            self.keep(r);
        }
        if let Some(e) = self.error.take() {
            return Err(TraceError::Write(e));
        }
        self.out.flush()?;
        Ok(TraceSummary {
            value_changes: self.value_changes,
            reached_window: reached,
            stopped_at: self.stopped_at,
        })
    }

    /// Picoseconds of cycle `c`.
    fn ps(&self, c: u64) -> u64 {
        let ps = u128::from(c) * 1_000_000_000_000 / u128::from(self.clock_hz);
        u64::try_from(ps).unwrap_or(u64::MAX)
    }

    /// Keeps the first output error and stops recording.
    fn keep(&mut self, r: io::Result<()>) {
        if let Err(e) = r {
            if self.error.is_none() {
                self.error = Some(e);
            }
            self.closed = true;
            self.pending.clear();
        }
    }

    /// Writes (or, before the window, applies) every pending change before cycle `limit`;
    /// changes at or after the window's end are dropped.
    fn emit_before(&mut self, limit: u64) {
        self.pending.sort_by_key(|c| (c.cycle, c.order));
        let n = self.pending.partition_point(|c| c.cycle < limit);
        let ready: Vec<Change> = self.pending.drain(..n).collect();
        let mut i = 0;
        while i < ready.len() && self.error.is_none() {
            let cycle = ready[i].cycle;
            let j = i + ready[i..].iter().take_while(|c| c.cycle == cycle).count();
            let r = self.emit_cycle(cycle, &ready[i..j]);
            self.keep(r);
            i = j;
        }
        self.pending.retain(|c| c.cycle < self.window.end);
    }

    /// One cycle's changes.
    fn emit_cycle(&mut self, cycle: u64, changes: &[Change]) -> io::Result<()> {
        if cycle >= self.window.end {
            return Ok(());
        }
        let mut next = self.state.clone();
        for c in changes {
            next[c.signal] = c.value.min(mask(self.widths[c.signal]));
        }
        if cycle < self.window.start {
            self.state = next;
            return Ok(());
        }
        if !self.started {
            if cycle == self.window.start {
                self.state = next.clone();
            }
            self.dump()?;
        }
        let mut stamped = self.last_written == Some(cycle);
        for (s, v) in next.iter().enumerate() {
            if *v != self.state[s] {
                self.stamp(cycle, &mut stamped)?;
                self.change(s, *v)?;
            }
        }
        self.state = next;
        Ok(())
    }

    /// Writes cycle's timestamp once.
    fn stamp(&mut self, cycle: u64, stamped: &mut bool) -> io::Result<()> {
        if !*stamped {
            let ts = self.ps(cycle);
            self.out.timestamp(ts)?;
            self.last_written = Some(cycle);
            *stamped = true;
        }
        Ok(())
    }

    /// The window's first values (`$dumpvars` at its first cycle).
    fn dump(&mut self) -> io::Result<()> {
        self.started = true;
        let from = self.window.start;
        self.out.timestamp(self.ps(from))?;
        self.last_written = Some(from);
        self.out.begin(SimulationCommand::Dumpvars)?;
        for s in 0..self.state.len() {
            self.change(s, self.state[s])?;
        }
        self.out.end()
    }

    fn change(&mut self, s: usize, v: u64) -> io::Result<()> {
        self.value_changes += 1;
        let bit = |b: bool| if b { Value::V1 } else { Value::V0 };
        let width = self.widths[s];
        if width == 1 {
            self.out.change_scalar(self.ids[s], bit(v & 1 == 1))
        } else {
            self.out
                .change_vector(self.ids[s], (0..width).rev().map(|b| bit(v >> b & 1 == 1)))
        }
    }
}

/// The largest value of a `width`-bit signal.
fn mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1 << width) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// An output the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn text(s: &Shared) -> String {
        String::from_utf8(s.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn empty_window_is_refused() {
        assert!(matches!(
            Tracer::new(Box::new(Shared::default()), 5..5),
            Err(TraceError::EmptyWindow { from: 5, to: 5 })
        ));
    }

    /// Every timestamp written, and the values `name` took at each (in ps).
    fn parse(vcd_text: &str, name: &str) -> (Vec<u64>, Vec<(u64, Value)>) {
        let mut p = vcd::Parser::new(vcd_text.as_bytes());
        let h = p.parse_header().unwrap();
        let id = h.find_var(&["nsflow", name]).unwrap().code;
        let (mut stamps, mut values, mut now) = (Vec::new(), Vec::new(), 0);
        for c in p {
            match c.unwrap() {
                vcd::Command::Timestamp(t) => {
                    now = t;
                    stamps.push(t);
                }
                vcd::Command::ChangeScalar(i, v) if i == id => values.push((now, v)),
                _ => {}
            }
        }
        (stamps, values)
    }

    #[test]
    fn back_to_back_pulses_stay_high_and_nothing_outside_the_window_is_written() {
        let out = Shared::default();
        // 1 GHz: one cycle is 1000 ps.
        let mut t = Tracer::new(Box::new(out.clone()), 10..20).unwrap();
        t.attach(1_000_000_000, Probe::default());
        let mut p = Probe::default();
        for at in [5, 12, 13, 25] {
            p.rx_frames += 1;
            t.sample(at.min(12), Event::Ingress(at), &p);
        }
        t.stop(30);
        let s = t.finish().unwrap();
        assert!(s.reached_window);
        let (stamps, values) = parse(&text(&out), "ingress_valid");
        // The window opens at 10 with the pulse at 5 long over; high from 12 through 13,
        // low at 14; the frame at 25 is past the window; the file ends at the window end.
        use Value::{V0, V1};
        assert_eq!(values, vec![(10_000, V0), (12_000, V1), (14_000, V0)]);
        assert_eq!(stamps.first(), Some(&10_000));
        assert_eq!(stamps.last(), Some(&20_000));
        assert!(stamps.iter().all(|t| (10_000..=20_000).contains(t)));
    }

    #[test]
    fn a_window_the_device_never_reached_has_no_values() {
        let out = Shared::default();
        let mut t = Tracer::new(Box::new(out.clone()), 100..200).unwrap();
        t.attach(250_000_000, Probe::default());
        let p = Probe {
            rx_frames: 1,
            ..Probe::default()
        };
        t.sample(3, Event::Ingress(3), &p);
        t.stop(50);
        let s = t.finish().unwrap();
        assert!(!s.reached_window);
        assert_eq!(s.value_changes, 0);
        let (stamps, values) = parse(&text(&out), "ingress_valid");
        assert!(stamps.is_empty() && values.is_empty());
    }
}
