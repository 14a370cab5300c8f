//! The device: BAR0, the clocked engine and its host-memory interface.
//!
//! The engine is a discrete-event model at cycle resolution. Each unit — the stage-1
//! table port, the stage-2 merge unit, the DMA engine, the aging scanner of every table,
//! the flush sequencer and the interrupt-moderation timer — knows the cycle of its next
//! step; the device repeatedly takes the earliest one. Nothing is stepped while it has
//! nothing to do, so idle time costs nothing, and the scanners' cursors still visit
//! exactly the sets they would have visited (see `crate::scanner`).
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
//!
//! This file holds the [`Device`] struct, its constructor, its accessors and the small
//! types its units share; each unit's steps live in a file of their own under `device/`:
//!
//! - `ingress.rs`: offering frames, their stamps and the packet pipeline;
//! - `event_loop.rs`: taking the earliest step of every unit and firing it;
//! - `stage1.rs`: the stage-1 original-flow table port and the flow queue;
//! - `merge.rs`: stage 2, the merge into the profiles' aggregation tables, and records
//!   into the record FIFO;
//! - `scanner.rs`: the aging scanners' planned visits and what a visit exports;
//! - `dma.rs`: the DMA engine, the ring and the error state;
//! - `interrupts.rs`: interrupt causes, moderation timer and handler;
//! - `flush.rs`: the flush sequencer's steps;
//! - `config.rs`: the engine configuration read back from the registers;
//! - `reset.rs`: soft reset;
//! - `bar.rs`: BAR0 reads and writes;
//! - `faults.rs`: fault injection;
//! - `time.rs`: the device and aging clocks, and running the engine in time;
//! - `probe.rs`: waveform tracing hooks.

use crate::clock::{CaptureBase, Clock, TimeBase};
use crate::fault::Faults;
use crate::flush::Flush;
use crate::irq::Irq;
use crate::memory::HostMemory;
use crate::params::{BuildError, BuildParams};
use crate::pipeline::{EndedFlow, Hazard, Packet, QueuedRecord};
use crate::regfile::RegFile;
use crate::scanner::{Cursor, Schedule};
use crate::stats::Stats;
use crate::table::Table;
use crate::windows::Windows;
use nsflow_rtl::program::EngineRegs;
use nsflow_rtl::record::{Record, RECORD_BYTES};
use nsflow_rtl::regs;
use nsflow_rtl::stage::Entry;
use std::collections::VecDeque;

mod bar;
mod config;
mod dma;
mod event_loop;
mod faults;
mod flush;
mod ingress;
mod interrupts;
mod merge;
// Waveform tracing (the `trace` module): the hooks called by the units and `set_trace`.
mod probe;
mod reset;
mod scanner;
mod stage1;
mod time;

/// Profiles in a build (the register map's `NUM_PROFILES`), as an index bound.
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

/// A DMA write in flight.
#[derive(Debug, Clone, Copy)]
struct Batch {
    /// Cycle the write lands in host memory.
    done: u64,
    /// Records it carries (the front of `Device::inflight_records`).
    records: u32,
}

/// The unit whose step comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// The oldest DMA write lands.
    DmaDone,
    /// The DMA engine issues a write.
    DmaIssue,
    /// The stage-1 table port takes a packet.
    Table,
    /// The merge unit takes an ended flow.
    Merge,
    /// The flush sequencer steps.
    Flush,
    /// The interrupt-moderation timer fires.
    IrqTimer,
    /// The aging scanner visits a set of table `i` (0: stage 1; 1 + p: profile p).
    Scan(usize),
}

/// The modelled device. See the module documentation and docs/hwsim.md.
pub struct Device {
    /// The build (sizes, timing, options) the device was made with.
    params: BuildParams,
    /// The nanosecond clock (core clock, last reset, clock jumps).
    time: TimeBase,
    /// BAR0's register file.
    regs: RegFile,
    /// Host memory as the DMA engine reaches it (the map table).
    memory: HostMemory,
    /// Interrupt moderation and delivery.
    irq: Irq,
    /// Injected faults.
    faults: Faults,
    /// The route, interface and label tables behind their BAR0 windows.
    windows: Windows,
    /// The engine configuration decoded from the registers.
    cfg: EngineRegs,
    /// The enabled profile slots, in order: the merge unit's loop.
    enabled: Vec<usize>,
    /// The stage-1 original-flow table.
    orig: Table,
    /// The stage-2 aggregation tables, one per profile.
    aggs: Vec<Table>,
    /// The aging scanner's cursors. Index 0: stage 1; 1 + p: profile p.
    cursors: Vec<Cursor>,
    /// The aging scanner's slots on the table ports (`SCAN_CTRL`).
    sched: Schedule,
    /// The earliest planned scanner visit and its table, when known.
    scan_cache: Option<Option<(u64, usize)>>,
    /// The current cycle.
    now: u64,
    /// First cycle BAR0's register port takes another write (one write per cycle).
    bar_free: u64,
    /// Cycle the flow queue last regained room for a packet's flows (stall accounting:
    /// waiting for room is backpressure, not table bandwidth).
    flow_room_at: u64,
    /// Cycle the record FIFO last regained room for a merge's records.
    fifo_room_at: u64,
    /// Packets parsed and keyed, on their way to the stage-1 table, oldest first.
    pipeline: VecDeque<Packet>,
    /// Cycle the last frame entered the pipeline (one frame per cycle).
    last_ingress: Option<u64>,
    /// First cycle the stage-1 table port is free.
    table_free: u64,
    /// Stage-1 sets read and not yet written back.
    orig_hazard: Hazard,
    /// The flow queue: ended original flows waiting for the merge unit.
    flows: VecDeque<EndedFlow>,
    /// First cycle the merge unit is free.
    merge_free: u64,
    /// Each profile table's sets read and not yet written back.
    agg_hazards: Vec<Hazard>,
    /// The record FIFO: records waiting for the DMA engine.
    fifo: VecDeque<QueuedRecord>,
    /// DMA writes in flight, oldest first.
    inflight: VecDeque<Batch>,
    /// The records of `inflight`'s writes, in order.
    inflight_records: VecDeque<Record>,
    /// First cycle the DMA link is free.
    link_free: u64,
    /// Ring slots handed to DMA writes (the producer index once they land).
    issued: u32,
    /// The producer index published (`RING_PROD` and its write-back).
    prod: u32,
    /// A DMA write's encoded records (kept to reuse its allocation).
    dma_buf: Vec<u8>,
    /// The flush sequencer.
    flush: Flush,
    /// The error code while in the error state (`STATUS.error`).
    error: Option<u8>,
    /// Flushes completed since reset (`FLUSH_COUNT`).
    flush_count: u32,
    /// Refused or partly ignored accesses (`UNKNOWN_ACCESS`).
    unknown_access: u32,
    /// The statistics counters, live and latched.
    stats: Stats,
    /// Cycle the present ring-full wait began (`STATUS.ring_full`).
    ring_stall_since: Option<u64>,
    /// The mapping of capture time onto device time.
    capture: CaptureBase,
    /// Arrival stamp of the last frame taken.
    last_arrival_ns: u64,
    /// The latest aging-clock time an aging decision was made at (no later arrival is stamped earlier).
    aging_floor_ns: u64,
    /// Entries taken out of a set (kept to reuse its allocation).
    scratch: Vec<Entry>,
    /// Waveform recorder, when tracing (`set_trace`); each hook below is one branch without.
    trace: Option<Box<crate::trace::Tracer>>,
}

/// A summary: the cycle, the queue depths, stage-1 occupancy and the error state.
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
            cfg: EngineRegs::default(),
            enabled: Vec::new(),
            now: 0,
            bar_free: 0,
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
}
