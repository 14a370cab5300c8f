//! The device: BAR0, the clocked engine and its host-memory interface.
//!
//! The engine is a discrete-event model at cycle resolution. Each unit — the stage-1
//! table port, the stage-2 merge unit, the DMA engine, the aging scanner of every table,
//! the flush sequencer and the interrupt-moderation timer — knows the cycle of its next
//! step; the device repeatedly takes the earliest one. Nothing is stepped while it has
//! nothing to do, so idle time costs nothing, and the scanners' cursors still visit
//! exactly the sets they would have visited (see the `scanner` module).
//!
//! Functional behaviour comes from `nsflow_rtl` only: `IngressCounters::count` (the
//! parser and its counters), `Tables::key`, `flow_hash`/`bucket`, `Entry::expired`,
//! `Entry::add_packet`/`merge`, `ends_flow`, `FlowKey::masked` and `Record`.
//!
//! Time: a frame's capture timestamp is mapped onto device nanoseconds by a constant
//! offset fixed by the first frame after reset, and never runs backwards (a frame older
//! than the last arrival, or than the time an aging decision was made at, is stamped with
//! that time). That stamp is the packet's time for stage 1, as in the reference
//! aggregator. Aging decisions use the *aging clock*: the device time, but never later
//! than the stamp of the oldest packet still on its way to stage 1 — so the scanner never
//! ends a flow that a packet already in flight would have continued, and stage-1 flow
//! boundaries equal the reference aggregator's whenever the tables do not fill.

use crate::capture::Frame;
use crate::clock::{CaptureBase, Clock, TimeBase};
use crate::fault::{Fault, Faults};
use crate::flush::{Flush, Phase};
use crate::irq::{Irq, IrqHandler};
use crate::memory::HostMemory;
use crate::params::{BuildError, BuildParams};
use crate::pipeline::{EndedFlow, Hazard, Packet, QueuedRecord};
use crate::regfile::{Kind, RegFile};
use crate::ring::RingConfig;
use crate::scanner::{Cursor, Schedule, Visit};
use crate::stats::{global, profile, Stats};
use crate::table::{expiry_ns, Table};
use crate::windows::Windows;
use nsflow_rtl::parser::LinkType;
use nsflow_rtl::record::{EndReason, Record, RECORD_BYTES};
use nsflow_rtl::regs::{self, error_code, Ctrl, IntBits, PrefixMin, ProfCtrl, Status};
use nsflow_rtl::stage::{ends_flow, Entry};
use nsflow_rtl::FieldSelect;
use std::collections::VecDeque;

// Waveform tracing (the `trace` module): the hooks called below and `set_trace`.
mod probe;

const PROFILES: usize = regs::NUM_PROFILES as usize;

/// Why [`Device::offer`] did not take a frame. The frame was not counted; offer it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The engine is holding (the ring is full and the record FIFO and pipeline behind it
    /// are full, or a flush waits for ring space): consume records (advance `RING_CONS`)
    /// and retry.
    #[error("engine holding: ring full, consume records and retry")]
    Busy,
    /// `CTRL.enable` is 0.
    #[error("engine disabled (CTRL.enable = 0)")]
    Disabled,
    /// The device is in its error state (`STATUS.error`) until a soft reset: it takes no
    /// packets (a driver that recovers by reset and reprogramming makes it take them
    /// again).
    #[error("device stopped on an error; soft reset required")]
    Stopped,
    /// The device is gone from the bus ([`Fault::Removed`]).
    #[error("device removed from the bus")]
    Removed,
}

/// What the engine achieved since the last reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throughput {
    /// Cycles elapsed.
    pub cycles: u64,
    /// Frames accepted at ingress.
    pub packets: u64,
}

impl Throughput {
    /// Packets per cycle (0 before the first cycle).
    pub fn per_cycle(&self) -> f64 {
        if self.cycles == 0 {
            0.0
        } else {
            self.packets as f64 / self.cycles as f64
        }
    }
}

/// A profile's configuration as the datapath uses it.
#[derive(Debug, Clone, Copy, Default)]
struct ProfileCfg {
    enabled: bool,
    select: FieldSelect,
    src_min: u8,
    dst_min: u8,
    active_s: u32,
    inactive_s: u32,
}

/// The engine configuration decoded from the registers.
#[derive(Debug, Clone, Default)]
struct EngineCfg {
    orig_active_s: u32,
    orig_inactive_s: u32,
    fin_rst: bool,
    profiles: [ProfileCfg; PROFILES],
    enabled: Vec<usize>,
}

/// A DMA write in flight.
#[derive(Debug, Clone, Copy)]
struct Batch {
    done: u64,
    records: u32,
}

/// The unit whose step comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    DmaDone,
    DmaIssue,
    Table,
    Merge,
    Flush,
    IrqTimer,
    Scan(usize),
}

/// The modelled device. See the module documentation and docs/hwsim.md.
pub struct Device {
    params: BuildParams,
    /// The nanosecond clock (core clock, last reset, clock jumps).
    time: TimeBase,
    regs: RegFile,
    memory: HostMemory,
    irq: Irq,
    /// Injected faults.
    faults: Faults,
    windows: Windows,
    cfg: EngineCfg,
    orig: Table,
    aggs: Vec<Table>,
    /// Index 0: stage 1; 1 + p: profile p.
    cursors: Vec<Cursor>,
    sched: Schedule,
    /// The earliest planned scanner visit and its table, when known.
    scan_cache: Option<Option<(u64, usize)>>,
    now: u64,
    /// Cycle the flow queue last regained room for a packet's flows (stall accounting:
    /// waiting for room is backpressure, not table bandwidth).
    flow_room_at: u64,
    /// Cycle the record FIFO last regained room for a merge's records.
    fifo_room_at: u64,
    pipeline: VecDeque<Packet>,
    last_ingress: Option<u64>,
    table_free: u64,
    orig_hazard: Hazard,
    flows: VecDeque<EndedFlow>,
    merge_free: u64,
    agg_hazards: Vec<Hazard>,
    fifo: VecDeque<QueuedRecord>,
    inflight: VecDeque<Batch>,
    inflight_records: VecDeque<Record>,
    link_free: u64,
    issued: u32,
    prod: u32,
    dma_buf: Vec<u8>,
    flush: Flush,
    error: Option<u8>,
    flush_count: u32,
    unknown_access: u32,
    stats: Stats,
    ring_stall_since: Option<u64>,
    capture: CaptureBase,
    last_arrival_ns: u64,
    aging_floor_ns: u64,
    scratch: Vec<Entry>,
    /// Waveform recorder, when tracing (`set_trace`); each hook below is one branch without.
    trace: Option<Box<crate::trace::Tracer>>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("now", &self.now)
            .field("pipeline", &self.pipeline.len())
            .field("flows", &self.flows.len())
            .field("fifo", &self.fifo.len())
            .field("orig_entries", &self.orig.len())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// A device of this build, in its reset state at cycle 0.
    pub fn new(params: BuildParams) -> Result<Self, BuildError> {
        params.validate()?;
        let t = &params.timing;
        let hazard_depth = t.table_latency as usize + 1;
        let regs = RegFile::new(&params);
        let share = regs.get(regs::SCAN_CTRL.offset);
        let mut d = Self {
            time: TimeBase::new(Clock::new(params.clock_hz)),
            orig: Table::new(params.orig_sets_log2, params.orig_ways),
            aggs: (0..PROFILES)
                .map(|_| Table::new(params.agg_sets_log2, params.agg_ways))
                .collect(),
            cursors: (0..=PROFILES).map(|_| Cursor::new()).collect(),
            sched: Schedule::new(0, share),
            scan_cache: None,
            regs,
            memory: HostMemory::new(),
            irq: Irq::default(),
            faults: Faults::default(),
            windows: Windows::new(),
            cfg: EngineCfg::default(),
            now: 0,
            flow_room_at: 0,
            fifo_room_at: 0,
            pipeline: VecDeque::with_capacity(
                (t.parser_latency + t.lookup_latency + t.ingress_depth) as usize,
            ),
            last_ingress: None,
            table_free: 0,
            orig_hazard: Hazard::new(hazard_depth),
            flows: VecDeque::with_capacity(t.flow_queue_depth as usize),
            merge_free: 0,
            agg_hazards: (0..PROFILES).map(|_| Hazard::new(hazard_depth)).collect(),
            fifo: VecDeque::with_capacity(t.record_fifo_depth as usize),
            inflight: VecDeque::new(),
            inflight_records: VecDeque::new(),
            link_free: 0,
            issued: 0,
            prod: 0,
            dma_buf: Vec::with_capacity(t.dma_burst_records as usize * RECORD_BYTES),
            flush: Flush::default(),
            error: None,
            flush_count: 0,
            unknown_access: 0,
            stats: Stats::new(),
            ring_stall_since: None,
            capture: CaptureBase::default(),
            last_arrival_ns: 0,
            aging_floor_ns: 0,
            scratch: Vec::new(),
            trace: None,
            params,
        };
        d.decode_config();
        Ok(d)
    }

    /// The build this device was made with.
    pub fn params(&self) -> &BuildParams {
        &self.params
    }

    /// The DMA map table (host memory as the device reaches it).
    pub fn memory(&self) -> &HostMemory {
        &self.memory
    }

    /// The DMA map table, to map or unmap regions.
    pub fn memory_mut(&mut self) -> &mut HostMemory {
        &mut self.memory
    }

    /// Installs the interrupt handler, called (synchronously, from whichever `Device`
    /// method advanced time or wrote a register) each time an unmasked cause becomes
    /// pending. It must not block; signalling an eventfd or a flag is typical.
    pub fn set_irq(&mut self, handler: IrqHandler) {
        self.irq.set_handler(handler);
    }

    /// Interrupt messages delivered since the device was made.
    pub fn irq_count(&self) -> u64 {
        self.irq.delivered()
    }

    /// The current cycle (since the device was made).
    pub fn now_cycles(&self) -> u64 {
        self.now
    }

    /// The device nanosecond clock (`TIME_LO/HI`).
    pub fn now_ns(&self) -> u64 {
        self.dev_ns(self.now)
    }

    /// Cycles elapsed and frames accepted since the last reset.
    pub fn throughput(&self) -> Throughput {
        Throughput {
            cycles: self.now - self.time.origin(),
            packets: self.stats.ingress.rx_frames,
        }
    }

    /// Original flows in the stage-1 table.
    pub fn orig_occupancy(&self) -> usize {
        self.orig.len()
    }

    /// Aggregates in profile `p`'s table (`PROF_OCCUPANCY[p]`; 0 for no such profile).
    pub fn agg_occupancy(&self, p: usize) -> usize {
        self.aggs.get(p).map_or(0, Table::len)
    }

    /// Whether nothing is in flight: pipeline, flow queue, record FIFO and DMA empty and no
    /// flush running (the tables may hold entries).
    pub fn is_idle(&self) -> bool {
        self.pipeline.is_empty()
            && self.flows.is_empty()
            && self.fifo.is_empty()
            && self.inflight.is_empty()
            && !self.flush.busy()
    }

    // ----- faults ----------------------------------------------------------------------

    /// Injects a fault (see [`Fault`] and docs/hwsim.md "Fault modes"): one-shot faults act
    /// on the next record or DMA write, or at once; `LostInterrupts` and `Removed` last
    /// until [`Self::clear_faults`].
    pub fn inject(&mut self, fault: Fault) {
        self.faults.arm(fault);
        match fault {
            Fault::ProducerBeyondRing => {
                let ring = self.ring();
                let cons = self.regs.get(regs::RING_CONS.offset);
                let bogus = self.faults.publish_bogus_producer(cons, ring.size());
                if ring.wb != 0
                    && self
                        .memory
                        .write(ring.wb, &u64::from(bogus).to_le_bytes())
                        .is_err()
                {
                    self.fail(error_code::DMA_FAULT);
                }
            }
            Fault::ClockJump { seconds } => {
                let ns = u64::from(seconds) * 1_000_000_000;
                self.time.jump(ns);
                self.capture.jump(ns);
                self.cursors.iter_mut().for_each(Cursor::invalidate);
                self.scan_changed();
            }
            Fault::LostInterrupts => self.irq.set_lost(true),
            _ => {}
        }
    }

    /// Ends every fault: persistent ones stop, armed one-shot ones are disarmed.
    pub fn clear_faults(&mut self) {
        self.faults.clear();
        self.irq.set_lost(false);
    }

    // ----- time ------------------------------------------------------------------------

    fn dev_ns(&self, c: u64) -> u64 {
        self.time.ns(c)
    }

    fn cycle_of_ns(&self, ns: u64) -> u64 {
        self.time.cycle_of(ns)
    }

    /// The aging clock at cycle `c`: device time, held back to the oldest packet still on
    /// its way to stage 1.
    fn aging_ns(&mut self, c: u64) -> u64 {
        let a = self.aging_at(c);
        self.aging_floor_ns = self.aging_floor_ns.max(a);
        a
    }

    /// The aging clock at cycle `c`, without recording a decision made at it.
    fn aging_at(&self, c: u64) -> u64 {
        let n = self.dev_ns(c);
        self.pipeline.front().map_or(n, |p| p.ts_ns.min(n))
    }

    /// Runs the engine until just before capture time `ts_ns` (mapped like frame times),
    /// e.g. to let idle flows age out after the last frame. Idle time is skipped.
    pub fn advance_to(&mut self, ts_ns: u64) {
        let now_ns = self.now_ns();
        let mapped = self.capture.map(ts_ns, now_ns);
        let a = self.cycle_of_ns(mapped);
        self.run_until(a);
        self.now = self.now.max(a);
    }

    /// Runs the engine for `cycles` more cycles.
    pub fn advance_cycles(&mut self, cycles: u64) {
        let target = self.now.saturating_add(cycles);
        self.run_until(target.saturating_add(1));
        self.now = self.now.max(target);
    }

    /// Runs until nothing is in flight, or until the engine waits for the host (ring full)
    /// or has stopped; pending interrupt moderation completes. The aging scanner's work
    /// up to the returned cycle is done. Returns the current cycle.
    pub fn run_until_idle(&mut self) -> u64 {
        while let Some(c) = self.next_work(true) {
            self.run_until(c.saturating_add(1));
        }
        self.now
    }

    // ----- ingress ---------------------------------------------------------------------

    /// Offers one frame captured at `ts_ns` (capture time). The device first runs up to
    /// the frame's arrival; the frame then enters the pipeline at the next free ingress
    /// cycle (at most one frame per cycle). When the pipeline is full the engine runs on
    /// until there is room; if it cannot make room without the host (the ring is full),
    /// it refuses with [`Refused::Busy`] and the frame is not counted.
    pub fn offer(
        &mut self,
        ts_ns: u64,
        link: Option<LinkType>,
        data: &[u8],
    ) -> Result<(), Refused> {
        if self.faults.removed() {
            return Err(Refused::Removed);
        }
        if self.error.is_some() {
            return Err(Refused::Stopped);
        }
        if !Ctrl(self.regs.get(regs::CTRL.offset)).enable() {
            return Err(Refused::Disabled);
        }
        let now_ns = self.now_ns();
        let arrival = self
            .capture
            .map(ts_ns, now_ns)
            .max(self.last_arrival_ns)
            .max(self.aging_floor_ns);
        let a = self.cycle_of_ns(arrival);
        self.run_until(a);
        self.now = self.now.max(a);
        let t = &self.params.timing;
        let capacity = (t.parser_latency + t.lookup_latency + t.ingress_depth) as usize;
        loop {
            if self.error.is_some() {
                return Err(Refused::Stopped);
            }
            if !self.flush.busy() && self.pipeline.len() < capacity {
                break;
            }
            match self.next_work(false) {
                Some(c) => self.run_until(c.saturating_add(1)),
                None => return Err(Refused::Busy),
            }
        }
        let i = a.max(self.now).max(self.last_ingress.map_or(0, |l| l + 1));
        self.stats.add(global::STALL_INGRESS, i - a);
        self.last_ingress = Some(i);
        self.last_arrival_ns = arrival;
        if let Some(fields) = self.stats.ingress.count(link, data) {
            let key = self.windows.tables.key(&fields);
            let hash = self.orig.hash_of(&key);
            let set = self.orig.set_of(hash);
            let t = &self.params.timing;
            self.pipeline.push_back(Packet {
                ready: i + u64::from(t.parser_latency + t.lookup_latency),
                ts_ns: arrival,
                key,
                hash,
                set,
                fields,
            });
        }
        self.trace_ingress(i); // trace hook
        Ok(())
    }

    /// [`Self::offer`] for a captured [`Frame`].
    pub fn offer_frame(&mut self, f: &Frame) -> Result<(), Refused> {
        self.offer(f.ts_ns, f.link, &f.data)
    }

    // ----- the event loop --------------------------------------------------------------

    /// Runs every step due before cycle `limit`.
    fn run_until(&mut self, limit: u64) {
        self.trace_settle(); // trace hook
        while let Some((c, unit)) = self.next_event() {
            if c >= limit {
                break;
            }
            self.now = self.now.max(c);
            self.fire(unit);
            self.sync_ring_full();
            self.trace_step(unit); // trace hook
        }
    }

    /// The earliest step of the units that move records and packets (not the scanners);
    /// with `timer`, the moderation timer too.
    fn next_work(&self, timer: bool) -> Option<u64> {
        if self.faults.removed() {
            return None;
        }
        [
            self.dma_done_next(),
            self.dma_issue_next(),
            self.table_next(),
            self.merge_next(),
            self.flush_next(),
            if timer { self.irq_next() } else { None },
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn next_event(&mut self) -> Option<(u64, Unit)> {
        if self.faults.removed() {
            return None;
        }
        let mut best: Option<(u64, Unit)> = None;
        let mut consider = |c: Option<u64>, u: Unit| {
            if let Some(c) = c {
                if best.is_none_or(|(b, _)| c < b) {
                    best = Some((c, u));
                }
            }
        };
        consider(self.dma_done_next(), Unit::DmaDone);
        consider(self.dma_issue_next(), Unit::DmaIssue);
        consider(self.table_next(), Unit::Table);
        consider(self.merge_next(), Unit::Merge);
        consider(self.flush_next(), Unit::Flush);
        consider(self.irq_next(), Unit::IrqTimer);
        if self.sched.active() && !self.flush.busy() {
            let (c, i) = self.scan_earliest().unzip();
            consider(c, Unit::Scan(i.unwrap_or(0)));
        }
        best
    }

    /// The earliest planned scanner visit over every table (the first table on a tie),
    /// cached until something that can bring a visit forward happens
    /// ([`Self::scan_changed`]); recomputed every time while a cursor is blocked (its
    /// visit waits on room downstream).
    fn scan_earliest(&mut self) -> Option<(u64, usize)> {
        if let Some(cached) = self.scan_cache {
            return cached;
        }
        let mut best: Option<(u64, usize)> = None;
        let mut blocked = false;
        for i in 0..self.cursors.len() {
            let occupied = if i == 0 {
                self.orig.len()
            } else {
                self.aggs[i - 1].len()
            };
            blocked |= self.cursors[i].blocked();
            if occupied > 0 {
                if let Some(v) = self.scan_next(i) {
                    if best.is_none_or(|(b, _)| v.cycle < b) {
                        best = Some((v.cycle, i));
                    }
                }
            }
        }
        if !blocked {
            self.scan_cache = Some(best);
        }
        best
    }

    /// A scanner's plan may have changed (a visit was made, an expiry came down, a set
    /// became occupied, a register or the flush changed): forget the cached earliest visit.
    fn scan_changed(&mut self) {
        self.scan_cache = None;
    }

    fn fire(&mut self, unit: Unit) {
        match unit {
            Unit::DmaDone => self.dma_done(),
            Unit::DmaIssue => self.dma_issue(),
            Unit::Table => self.table_step(),
            Unit::Merge => self.merge_step(),
            Unit::Flush => {
                self.scan_changed();
                self.flush_step();
            }
            Unit::IrqTimer => {
                self.irq.timer_fired();
                self.raise(records_bit());
            }
            Unit::Scan(i) => {
                self.scan_changed();
                if let Some(v) = self.scan_next(i) {
                    self.scan_step(i, v);
                }
            }
        }
    }

    // ----- stage 1 -----------------------------------------------------------------------

    fn flow_room(&self) -> usize {
        (self.params.timing.flow_queue_depth as usize).saturating_sub(self.flows.len())
    }

    fn fifo_room(&self) -> usize {
        (self.params.timing.record_fifo_depth as usize).saturating_sub(self.fifo.len())
    }

    fn table_base(&self, p: &Packet) -> u64 {
        p.ready.max(self.table_free).max(self.now)
    }

    fn table_next(&self) -> Option<u64> {
        let p = self.pipeline.front()?;
        if self.flow_room() < 2 {
            return None;
        }
        let lat = u64::from(self.params.timing.table_latency);
        let t = self.orig_hazard.clear_at(p.set, self.table_base(p), lat);
        Some(self.sched.free_cycle(t))
    }

    fn table_step(&mut self) {
        let Some(t) = self.table_next() else { return };
        let Some(p) = self.pipeline.pop_front() else {
            return;
        };
        // Cycles beyond its earliest possible access: scanner slots and hazards.
        let base = p.ready.max(self.table_free).max(self.flow_room_at);
        self.stats.add(global::STALL_TABLE, t - base);
        self.table_free = t + 1;
        self.orig_hazard.record(p.set, t);
        self.stage1(t, &p);
    }

    fn count_orig_end(&mut self, reason: EndReason) {
        let i = match reason {
            EndReason::Idle => global::ORIG_AGED_IDLE,
            EndReason::Active => global::ORIG_AGED_ACTIVE,
            EndReason::EndOfFlow => global::ORIG_AGED_END,
            EndReason::Forced => global::ORIG_AGED_FORCED,
            EndReason::LackOfResources => global::ORIG_EVICTED,
        };
        self.stats.add(i, 1);
    }

    fn end_flow(&mut self, entry: Entry, reason: EndReason, ready: u64) {
        self.count_orig_end(reason);
        self.flows.push_back(EndedFlow { ready, entry });
    }

    /// One packet at the stage-1 table at cycle `t`: the reference aggregator's rules.
    fn stage1(&mut self, t: u64, p: &Packet) {
        let (act, inact, fin) = (
            self.cfg.orig_active_s,
            self.cfg.orig_inactive_s,
            self.cfg.fin_rst,
        );
        let done = t + u64::from(self.params.timing.table_latency);
        let fresh = Entry::from_packet(p.key, p.ts_ns, &p.fields);
        let mut first = true;
        let slot = match self.orig.find(p.hash, &p.key) {
            Some(slot) => {
                let e = self.orig.entry_mut(slot);
                match e.expired(p.ts_ns, act, inact) {
                    Some(reason) => {
                        let old = std::mem::replace(e, fresh);
                        self.stats.add(global::ORIG_CREATED, 1);
                        self.end_flow(old, reason, done);
                    }
                    None => {
                        e.add_packet(p.ts_ns, &p.fields);
                        first = false;
                    }
                }
                slot
            }
            None => {
                let (slot, evicted, was_empty) = self.orig.insert(p.hash, fresh);
                self.stats.add(global::ORIG_CREATED, 1);
                if let Some(ev) = evicted {
                    self.end_flow(ev, EndReason::LackOfResources, done);
                }
                if was_empty {
                    self.cursors[0].note_occupied();
                    self.scan_changed();
                }
                slot
            }
        };
        if ends_flow(self.orig.entry(slot), &p.fields, first, fin) {
            let e = self.orig.remove(slot);
            self.end_flow(e, EndReason::EndOfFlow, done);
        } else {
            let x = expiry_ns(self.orig.entry(slot), act, inact);
            if self.orig.note_expiry(slot, x) {
                self.cursors[0].note_expiry(x);
                self.scan_changed();
            }
        }
    }

    // ----- stage 2 -----------------------------------------------------------------------

    fn merge_next(&self) -> Option<u64> {
        let f = self.flows.front()?;
        if !self.params.drop_on_full && self.fifo_room() < self.cfg.enabled.len() {
            return None;
        }
        let t = f.ready.max(self.merge_free).max(self.now);
        Some(self.sched.free_cycle(t))
    }

    fn merge_step(&mut self) {
        let Some(t) = self.merge_next() else { return };
        let room_before = self.flow_room();
        let Some(f) = self.flows.pop_front() else {
            return;
        };
        if room_before < 2 && self.flow_room() >= 2 {
            self.flow_room_at = t;
        }
        let base = f.ready.max(self.merge_free).max(self.fifo_room_at);
        let aging = self.aging_ns(t);
        let lat = u64::from(self.params.timing.table_latency);
        let mut end = t;
        for i in 0..self.cfg.enabled.len() {
            let p = self.cfg.enabled[i];
            let pc = self.cfg.profiles[p];
            let key = f.entry.key.masked(pc.select, pc.src_min, pc.dst_min);
            let hash = self.aggs[p].hash_of(&key);
            let set = self.aggs[p].set_of(hash);
            let tp = self.agg_hazards[p].clear_at(set, t, lat);
            self.agg_hazards[p].record(set, tp);
            end = end.max(tp);
            let ready = tp + lat;
            let fresh = Entry::from_flow(key, &f.entry);
            let slot = match self.aggs[p].find(hash, &key) {
                Some(slot) => {
                    let e = self.aggs[p].entry_mut(slot);
                    match e.expired(aging, pc.active_s, pc.inactive_s) {
                        Some(reason) => {
                            let old = std::mem::replace(e, fresh);
                            self.stats.add_profile(p, profile::CREATED, 1);
                            self.emit(p, old, reason, ready);
                        }
                        None => e.merge(&f.entry),
                    }
                    slot
                }
                None => {
                    let (slot, evicted, was_empty) = self.aggs[p].insert(hash, fresh);
                    self.stats.add_profile(p, profile::CREATED, 1);
                    if let Some(ev) = evicted {
                        self.stats.add_profile(p, profile::EVICTED, 1);
                        self.emit(p, ev, EndReason::LackOfResources, ready);
                    }
                    if was_empty {
                        self.cursors[p + 1].note_occupied();
                        self.scan_changed();
                    }
                    slot
                }
            };
            let x = expiry_ns(self.aggs[p].entry(slot), pc.active_s, pc.inactive_s);
            if self.aggs[p].note_expiry(slot, x) {
                self.cursors[p + 1].note_expiry(x);
                self.scan_changed();
            }
            self.stats
                .add_profile(p, profile::MERGED_FLOWS, f.entry.flows);
            self.stats
                .add_profile(p, profile::MERGED_PACKETS, f.entry.packets);
            self.stats
                .add_profile(p, profile::MERGED_BYTES, f.entry.bytes);
        }
        self.stats.add(global::STALL_TABLE, end - base);
        self.merge_free = end + 1;
    }

    /// An aggregate leaves profile `p`: into the record FIFO, or — when the FIFO is full,
    /// which only a `drop_on_full` build allows to happen, or the device is in its error
    /// state and writes nothing — dropped and counted.
    fn emit(&mut self, p: usize, e: Entry, reason: EndReason, ready: u64) {
        let record = Record {
            profile: p as u8,
            reason,
            phase: false,
            flows: u32::try_from(e.flows).unwrap_or(u32::MAX),
            packets: e.packets,
            bytes: e.bytes,
            first_ns: e.first_ns,
            last_ns: e.last_ns,
            key: e.key,
        };
        if self.fifo_room() > 0 && self.error.is_none() {
            self.fifo.push_back(QueuedRecord { ready, record });
        } else {
            self.count_drop(&record);
        }
    }

    fn count_drop(&mut self, r: &Record) {
        let p = usize::from(r.profile);
        self.stats.add_profile(p, profile::DROP_RECORDS, 1);
        self.stats
            .add_profile(p, profile::DROP_FLOWS, u64::from(r.flows));
        self.stats.add_profile(p, profile::DROP_PACKETS, r.packets);
        self.stats.add_profile(p, profile::DROP_BYTES, r.bytes);
    }

    // ----- aging scanner -----------------------------------------------------------------

    fn scan_room(&self, i: usize) -> bool {
        if i == 0 {
            self.flow_room() >= self.orig.ways()
        } else {
            self.params.drop_on_full || self.fifo_room() >= self.aggs[i - 1].ways()
        }
    }

    #[inline]
    fn scan_next(&mut self, i: usize) -> Option<Visit> {
        if self.flush.busy() || (self.cursors[i].blocked() && !self.scan_room(i)) {
            return None;
        }
        let (act, inact) = self.timers(i);
        let table = if i == 0 {
            &mut self.orig
        } else {
            &mut self.aggs[i - 1]
        };
        self.cursors[i].next(&self.sched, table, &self.time, self.now, &|e| {
            expiry_ns(e, act, inact)
        })
    }

    fn timers(&self, i: usize) -> (u32, u32) {
        if i == 0 {
            (self.cfg.orig_active_s, self.cfg.orig_inactive_s)
        } else {
            let p = &self.cfg.profiles[i - 1];
            (p.active_s, p.inactive_s)
        }
    }

    /// Cursor `i` reads set `v.set` at `v.cycle` and exports what has expired. A visit
    /// that finds something expired is an aging decision (it sets the floor of later
    /// arrival stamps); one that finds nothing has no effect.
    fn scan_step(&mut self, i: usize, v: Visit) {
        let t = v.cycle;
        let aging = self.aging_at(t);
        let now_ns = self.dev_ns(t);
        let (act, inact) = self.timers(i);
        let expired = |e: &Entry| e.expired(aging, act, inact).is_some();
        let room = if i == 0 {
            self.flow_room()
        } else if self.params.drop_on_full {
            usize::MAX
        } else {
            self.fifo_room()
        };
        let table = if i == 0 {
            &mut self.orig
        } else {
            &mut self.aggs[i - 1]
        };
        let n = table.count_where(v.set, expired);
        if n > 0 {
            self.aging_floor_ns = self.aging_floor_ns.max(aging);
        }
        if n > room {
            self.cursors[i].block(v);
            return;
        }
        let mut out = std::mem::take(&mut self.scratch);
        table.take_where(v.set, expired, |e| out.push(e));
        table.settle(v.set, now_ns, &|e| expiry_ns(e, act, inact));
        self.cursors[i].visited(v);
        let ready = t + u64::from(self.params.timing.table_latency);
        for e in out.drain(..) {
            let reason = e.expired(aging, act, inact).unwrap_or(EndReason::Idle);
            if i == 0 {
                self.end_flow(e, reason, ready);
            } else {
                self.emit(i - 1, e, reason, ready);
            }
        }
        self.scratch = out;
    }

    // ----- DMA and the ring --------------------------------------------------------------

    fn ring(&self) -> RingConfig {
        let r = &self.regs;
        let lo = regs::RING_BASE_LO.rw_mask() & r.get(regs::RING_BASE_LO.offset);
        let wb_lo = regs::RING_WB_LO.rw_mask() & r.get(regs::RING_WB_LO.offset);
        RingConfig {
            base: u64::from(r.get(regs::RING_BASE_HI.offset)) << 32 | u64::from(lo),
            log2: regs::RING_SIZE.rw_mask() & r.get(regs::RING_SIZE.offset),
            wb: u64::from(r.get(regs::RING_WB_HI.offset)) << 32 | u64::from(wb_lo),
        }
    }

    fn ring_room(&self) -> u32 {
        let ring = self.ring();
        if !ring.valid(self.params.ring_max_log2.into()) {
            return 0;
        }
        ring.free(self.issued, self.regs.get(regs::RING_CONS.offset))
    }

    fn dma_done_next(&self) -> Option<u64> {
        self.inflight.front().map(|b| b.done.max(self.now))
    }

    fn dma_issue_next(&self) -> Option<u64> {
        let front = self.fifo.front()?;
        if self.ring_room() == 0 {
            return None;
        }
        Some(front.ready.max(self.link_free).max(self.now))
    }

    /// The DMA engine takes up to a burst of contiguous ring slots' worth of records from
    /// the FIFO; the link is busy for their transfer time, the data lands after the
    /// latency.
    fn dma_issue(&mut self) {
        let t = self.now;
        let ring = self.ring();
        let timing = &self.params.timing;
        let ready = self.fifo.iter().take_while(|r| r.ready <= t).count();
        let n = self
            .ring_room()
            .min(ring.slots_before_wrap(self.issued))
            .min(timing.dma_burst_records)
            .min(u32::try_from(ready).unwrap_or(u32::MAX));
        if n == 0 {
            return;
        }
        let transfer =
            (u64::from(n) * RECORD_BYTES as u64).div_ceil(u64::from(timing.dma_bytes_per_cycle));
        self.link_free = t + transfer;
        self.inflight.push_back(Batch {
            done: t + transfer + u64::from(timing.dma_latency),
            records: n,
        });
        let need = self.cfg.enabled.len();
        let room_before = self.fifo_room();
        self.inflight_records
            .extend(self.fifo.drain(..n as usize).map(|q| q.record));
        if room_before < need && self.fifo_room() >= need {
            self.fifo_room_at = t;
        }
        self.issued = self.issued.wrapping_add(n);
    }

    /// A batch lands: records with their phase bits into the ring, then the producer
    /// index (register and write-back), then interrupt moderation.
    fn dma_done(&mut self) {
        let Some(b) = self.inflight.pop_front() else {
            return;
        };
        let ring = self.ring();
        let first = self.prod;
        self.dma_buf.clear();
        let n = (b.records as usize).min(self.inflight_records.len());
        for (k, r) in self.inflight_records.iter_mut().take(n).enumerate() {
            r.phase = ring.phase(first.wrapping_add(k as u32));
            let mut bytes = r.encode();
            self.faults.corrupt(&mut bytes);
            self.dma_buf.extend_from_slice(&bytes);
        }
        let iova = ring.slot_iova(first);
        let len = self.dma_buf.len() as u64;
        let prod = first.wrapping_add(b.records);
        let failed = self.faults.take_dma()
            || !ring.contains(iova, len)
            || self.memory.write(iova, &self.dma_buf).is_err()
            || (ring.wb != 0
                && self
                    .memory
                    .write(ring.wb, &u64::from(prod).to_le_bytes())
                    .is_err());
        if failed {
            // The batch is not published (the producer index stays): `fail` counts its
            // records as drops.
            self.inflight.push_front(b);
            return self.fail(error_code::DMA_FAULT);
        }
        for r in self.inflight_records.drain(..n) {
            self.stats
                .add_profile(usize::from(r.profile), profile::RECORDS, 1);
        }
        self.prod = prod;
        self.faults.published();
        self.stats
            .add(global::RECORDS_WRITTEN, u64::from(b.records));
        let count = regs::INT_MOD_RECORDS.rw_mask() & self.regs.get(regs::INT_MOD_RECORDS.offset);
        if self
            .irq
            .records_written(u64::from(b.records), self.now, u64::from(count))
        {
            self.raise(records_bit());
        }
    }

    /// Opens or closes a ring-full wait (records waiting, no ring slot free).
    fn sync_ring_full(&mut self) {
        let holding = !self.fifo.is_empty() && self.ring_room() == 0 && {
            let ring = self.ring();
            ring.valid(self.params.ring_max_log2.into())
        };
        match (holding, self.ring_stall_since) {
            (true, None) => {
                self.ring_stall_since = Some(self.now);
                let mut b = IntBits(0);
                b.set_ring_full(true);
                self.raise(b.0);
            }
            (false, Some(since)) => {
                self.stats.add(global::STALL_RING_FULL, self.now - since);
                self.ring_stall_since = None;
            }
            _ => {}
        }
    }

    fn irq_next(&self) -> Option<u64> {
        let us = regs::INT_MOD_TIME.rw_mask() & self.regs.get(regs::INT_MOD_TIME.offset);
        self.irq
            .deadline(self.time.cycles_of_us(us.into()))
            .map(|d| d.max(self.now))
    }

    /// Sets interrupt causes and delivers a message for new unmasked ones.
    fn raise(&mut self, bits: u32) {
        let before = self.regs.get(regs::INT_STATUS.offset);
        self.regs.set_bits(regs::INT_STATUS.offset, bits);
        let after = self.regs.get(regs::INT_STATUS.offset);
        let mask = self.regs.get(regs::INT_MASK.offset);
        self.irq.deliver_if_new(before, mask, after, mask);
    }

    /// Enters the error state until a soft reset: ingress stops and the DMA engine writes
    /// nothing more. The records it holds (in flight, the failed batch among them, and in
    /// the FIFO) and every record the engine emits from now on — aged, evicted, or pushed
    /// out by a flush, which still runs — are dropped and counted per profile, so that
    /// every packet taken is still in a record or a drop counter.
    fn fail(&mut self, code: u8) {
        if self.error.is_some() {
            return;
        }
        self.error = Some(code);
        let held: Vec<Record> = self
            .inflight_records
            .drain(..)
            .chain(self.fifo.drain(..).map(|q| q.record))
            .collect();
        for r in &held {
            self.count_drop(r);
        }
        self.inflight.clear();
        let mut b = IntBits(0);
        b.set_error(true);
        self.raise(b.0);
    }

    // ----- flush -----------------------------------------------------------------------------

    fn flush_next(&self) -> Option<u64> {
        let t = self.flush.next.max(self.now);
        match &self.flush.phase {
            Phase::Idle => None,
            Phase::Pipeline => self.pipeline.is_empty().then_some(t.max(self.table_free)),
            Phase::Stage1(_) => (self.flow_room() >= self.orig.ways()).then_some(t),
            Phase::Merge => self.flows.is_empty().then_some(t.max(self.merge_free)),
            Phase::Stage2(_) => (self.params.drop_on_full
                || self.fifo_room() >= self.params.agg_ways.into())
            .then_some(t),
            Phase::Ring => (self.fifo.is_empty() && self.inflight.is_empty()).then_some(t),
        }
    }

    fn flush_step(&mut self) {
        let t = self.now;
        let lat = u64::from(self.params.timing.table_latency);
        self.flush.next = t + 1;
        self.flush.phase = match std::mem::take(&mut self.flush.phase) {
            Phase::Idle => Phase::Idle,
            Phase::Pipeline => Phase::Stage1(0),
            Phase::Stage1(from) => match self.orig.next_set(from) {
                None => Phase::Merge,
                Some(set) => {
                    let mut out = std::mem::take(&mut self.scratch);
                    self.orig.take_where(set, |_| true, |e| out.push(e));
                    for e in out.drain(..) {
                        self.end_flow(e, EndReason::Forced, t + lat);
                    }
                    self.scratch = out;
                    Phase::Stage1(u64::from(set) + 1)
                }
            },
            Phase::Merge => Phase::Stage2(vec![0; PROFILES]),
            Phase::Stage2(mut next) => {
                let mut left = false;
                for (p, from) in next.iter_mut().enumerate() {
                    let Some(set) = self.aggs[p].next_set(*from) else {
                        continue;
                    };
                    left = true;
                    let n = self.aggs[p].count_where(set, |_| true);
                    if !self.params.drop_on_full && self.fifo_room() < n {
                        continue;
                    }
                    let mut out = std::mem::take(&mut self.scratch);
                    self.aggs[p].take_where(set, |_| true, |e| out.push(e));
                    for e in out.drain(..) {
                        self.emit(p, e, EndReason::Forced, t + lat);
                    }
                    self.scratch = out;
                    *from = u64::from(set) + 1;
                }
                if left {
                    Phase::Stage2(next)
                } else {
                    Phase::Ring
                }
            }
            Phase::Ring => {
                self.flush_count = self.flush_count.wrapping_add(1);
                let mut b = IntBits(0);
                b.set_flush_done(true);
                self.raise(b.0);
                Phase::Idle
            }
        };
    }

    // ----- configuration ---------------------------------------------------------------------

    fn field(&self, reg: &regs::Register, i: u32, name: &str) -> u32 {
        reg.field(name)
            .map_or(0, |f| f.get(self.regs.get(reg.at(i))))
    }

    /// Decodes timers and profiles from the registers; the scanners forget their expiry
    /// bounds (the timers may have changed).
    fn decode_config(&mut self) {
        let mut c = EngineCfg {
            orig_active_s: self.field(&regs::ORIG_ACTIVE, 0, "seconds"),
            orig_inactive_s: self.field(&regs::ORIG_INACTIVE, 0, "seconds"),
            fin_rst: self.field(&regs::ORIG_CTRL, 0, "fin_rst_aging") == 1,
            ..EngineCfg::default()
        };
        for p in 0..PROFILES {
            let i = p as u32;
            let min = PrefixMin(self.regs.get(regs::PROF_PREFIX_MIN.at(i)));
            c.profiles[p] = ProfileCfg {
                enabled: ProfCtrl(self.regs.get(regs::PROF_CTRL.at(i))).enable(),
                select: FieldSelect(
                    self.regs.get(regs::PROF_FIELDS.at(i)) & FieldSelect::DEFINED.0,
                ),
                src_min: min.src(),
                dst_min: min.dst(),
                active_s: self.field(&regs::PROF_ACTIVE, i, "seconds"),
                inactive_s: self.field(&regs::PROF_INACTIVE, i, "seconds"),
            };
            if c.profiles[p].enabled {
                c.enabled.push(p);
            }
        }
        self.cfg = c;
        self.orig.all_due();
        self.aggs.iter_mut().for_each(Table::all_due);
        self.cursors.iter_mut().for_each(Cursor::invalidate);
    }

    fn soft_reset(&mut self) {
        let now = self.now;
        self.regs.reset();
        self.windows = Windows::new();
        self.orig.clear();
        self.aggs.iter_mut().for_each(Table::clear);
        self.cursors.iter_mut().for_each(|c| *c = Cursor::new());
        self.sched = Schedule::new(now, self.regs.get(regs::SCAN_CTRL.offset));
        self.time.reset(now);
        self.pipeline.clear();
        self.last_ingress = None;
        self.table_free = now;
        self.flow_room_at = now;
        self.fifo_room_at = now;
        self.orig_hazard.clear();
        self.flows.clear();
        self.merge_free = now;
        self.agg_hazards.iter_mut().for_each(Hazard::clear);
        self.fifo.clear();
        self.inflight.clear();
        self.inflight_records.clear();
        self.link_free = now;
        self.issued = 0;
        self.prod = 0;
        self.flush = Flush::default();
        self.error = None;
        self.flush_count = 0;
        self.unknown_access = 0;
        self.stats.reset();
        self.ring_stall_since = None;
        self.capture.clear();
        self.last_arrival_ns = 0;
        self.aging_floor_ns = 0;
        self.irq.reset();
        self.decode_config();
    }

    /// `RING_SIZE` was written: both indices restart at 0. Records in flight to the old
    /// ring are dropped and counted as drops of their profiles.
    fn ring_resized(&mut self) {
        let lost: Vec<Record> = self.inflight_records.drain(..).collect();
        for r in &lost {
            self.count_drop(r);
        }
        self.inflight.clear();
        self.issued = 0;
        self.prod = 0;
        self.regs.set(regs::RING_CONS.offset, 0);
        if Ctrl(self.regs.get(regs::CTRL.offset)).enable() {
            self.check_ring();
        }
    }

    fn check_ring(&mut self) {
        if !self.ring().valid(self.params.ring_max_log2.into()) {
            self.fail(error_code::BAD_RING);
        }
    }

    // ----- BAR0 ------------------------------------------------------------------------------

    /// One 32-bit read of BAR0. Unknown or unaligned offsets read 0; `TIME_LO` latches
    /// `TIME_HI`; statistics return the values latched by the last `CTRL.stats_snapshot`.
    pub fn bar_read(&mut self, offset: u32) -> u32 {
        if self.faults.removed() {
            return u32::MAX;
        }
        let Some(info) = self.regs.info(offset) else {
            return 0;
        };
        let (kind, mask) = (info.kind, info.read_mask);
        let half = |v: u64, hi: bool| if hi { (v >> 32) as u32 } else { v as u32 };
        let v = match kind {
            Kind::Status => {
                let mut s = Status(0);
                s.set_flush_busy(self.flush.busy());
                s.set_error(self.error.is_some());
                s.set_ring_full(self.ring_stall_since.is_some());
                s.set_error_code(self.error.unwrap_or(0));
                s.0
            }
            Kind::FlushCount => self.flush_count,
            Kind::UnknownAccess => self.unknown_access,
            Kind::TimeLo => {
                let ns = self.now_ns();
                self.regs.set(regs::TIME_HI.offset, (ns >> 32) as u32);
                ns as u32
            }
            Kind::RingProd => self.faults.ring_prod(self.prod),
            Kind::ProfOccupancy(p) => {
                u32::try_from(self.agg_occupancy(p.into())).unwrap_or(u32::MAX)
            }
            Kind::GlobalStat { index, hi } => {
                half(self.stats.latched().global[usize::from(index)], hi)
            }
            Kind::ProfStat { profile, index, hi } => half(
                self.stats.latched().profile[usize::from(profile)][usize::from(index)],
                hi,
            ),
            _ => self.regs.get(offset),
        };
        v & mask
    }

    /// One 32-bit write of BAR0, with the register map's access rules and side effects.
    /// Never panics: unknown offsets, read-only registers and reserved bits are ignored
    /// and counted in `UNKNOWN_ACCESS`.
    pub fn bar_write(&mut self, offset: u32, value: u32) {
        self.scan_changed();
        self.trace_bar_write(offset, value); // trace hook
        if self.faults.removed() {
            return;
        }
        let Some(w) = self.regs.write(offset, value) else {
            self.unknown_access = self.unknown_access.saturating_add(1);
            return;
        };
        if w.ignored_bits {
            self.unknown_access = self.unknown_access.saturating_add(1);
        }
        match w.kind {
            Kind::Ctrl => {
                let pulse = Ctrl(w.pulse);
                if pulse.soft_reset() {
                    return self.soft_reset();
                }
                if pulse.stats_snapshot() {
                    let open = self.ring_stall_since.map_or(0, |s| self.now - s);
                    self.stats.snapshot(open);
                }
                if !Ctrl(w.old).enable() && Ctrl(value).enable() {
                    self.check_ring();
                }
                if pulse.flush() {
                    self.flush.start(self.now);
                }
            }
            Kind::EngineConfig => self.decode_config(),
            Kind::ScanCtrl => {
                let old = self.sched;
                self.cursors
                    .iter_mut()
                    .for_each(|c| c.reschedule(&old, self.now));
                self.sched = Schedule::new(self.now, self.regs.get(offset));
            }
            Kind::IntMask => {
                let status = self.regs.get(regs::INT_STATUS.offset);
                let mask = self.regs.get(offset);
                self.irq.deliver_if_new(status, w.old, status, mask);
            }
            Kind::RingSize => self.ring_resized(),
            Kind::RouteCmd => self.windows.route_cmd(&mut self.regs, w.pulse),
            Kind::IfaceCmd => self.windows.iface_cmd(&mut self.regs, w.pulse),
            Kind::LabelCmd => self.windows.label_cmd(&mut self.regs, w.pulse),
            _ => {}
        }
        self.sync_ring_full();
    }

    /// Counts an access refused outside BAR0 in `UNKNOWN_ACCESS` (the model's traffic
    /// port, `nsflow_rtl::sim_port`, refuses malformed or oversized batches this way), and
    /// a BAR0 access of a size other than 32 bits the server could not pass on.
    pub fn count_unknown_access(&mut self) {
        self.unknown_access = self.unknown_access.saturating_add(1);
    }
}

fn records_bit() -> u32 {
    let mut b = IntBits(0);
    b.set_records(true);
    b.0
}
