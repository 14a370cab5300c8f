//! Bring-up and control of one engine through any [`Backend`]: reset, identify, program
//! the tables, timers and profiles, allocate and program the record ring, enable; then
//! drain, flush, read statistics, reconfigure and stop.
//!
//! **Handing a running device to a new driver instance.** [`Device::detach`] lets go of a
//! device without touching it (no flush, no disable, no unmap), as a driver instance that
//! goes away does, and hands back the backend and the ring memory — which the device keeps
//! writing. [`Device::attach`] takes them up again: it identifies the device without a
//! reset, checks that the ring the device writes (`RING_SIZE`, `RING_BASE`, `RING_WB`) is
//! the memory handed over and that the programmed configuration is the one expected, and
//! resumes draining at the device's consumer index (`RING_CONS`): records the previous
//! instance acknowledged are not read again, records it did not are read — each record
//! exactly once. Acknowledging is part of [`Device::drain`] (also for the records taken
//! before a bad one), so nothing the previous instance took is offered twice. The device
//! must keep running and keep writing the same memory, so the handover is within one
//! process and keeps the backend's connection: `nsflow-hwsim serve` returns to its
//! power-on state when its vfio-user client disconnects, and kernel VFIO resets the device
//! when its container closes — after a process restart the device is brought up afresh.

use crate::backend::{Backend, BackendError};
use crate::dma::DmaMemory;
use crate::ring::{RingConsumer, RingError};
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::counters::Counters;
use nsflow_rtl::program::{self, EngineRegs, LimitError};
use nsflow_rtl::record::{Record, RECORD_BYTES, RECORD_FORMAT_VERSION};
use nsflow_rtl::regs::{self, Ctrl, IntBits, Status};
use nsflow_rtl::tables::Tables;
use nsflow_rtl::AggregationMode;
use std::time::{Duration, Instant};

/// Why the driver gave up on a device.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The ring cannot be trusted: the device was stopped.
    #[error("device stopped: {0}")]
    Ring(#[from] RingError),
    /// Not an nsflow engine, or one this driver does not support: refused before anything
    /// was written to it.
    #[error("not a supported nsflow engine: {0}")]
    Identity(#[from] IdentityError),
    /// A configuration the hardware cannot hold (rtl-model's limits).
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// The device reports its error state.
    #[error("device error state, code {0} (1 DMA fault, 2 bad ring configuration)")]
    DeviceFault(u8),
    /// The device failed again right after each of several recoveries in a row.
    #[error("device error state, code {code}, again after {attempts} recoveries in a row with no record in between: giving up")]
    Unrecoverable {
        /// The error code.
        code: u8,
        /// Recoveries tried.
        attempts: u32,
    },
    /// Every register reads all ones: the device is gone from the bus (surprise removal,
    /// a link down, a hung endpoint).
    #[error("the device does not answer (STATUS reads 0xFFFFFFFF): removed or hung")]
    NotAnswering,
    /// A flush did not complete in time.
    #[error("flush did not complete within {0:?}")]
    FlushTimeout(Duration),
    /// A value that does not fit the device.
    #[error("{0}")]
    Invalid(String),
    /// The running device is not in the state [`Device::attach`] was told to expect.
    #[error("the running device does not match: {0}")]
    Mismatch(String),
}

/// A running device let go of by [`Device::detach`]: what the next driver instance needs
/// to [`Device::attach`] to it.
pub struct Detached {
    /// The backend, still connected to the running device.
    pub backend: Box<dyn Backend>,
    /// The ring memory the device keeps writing.
    pub ring: DmaMemory,
    /// Its device address (IOVA), still mapped.
    pub ring_iova: u64,
    /// The tables programmed (a recovery programs them again).
    pub tables: Tables,
    /// What the device's lives before its last reset left ([`Device::recover`]).
    pub carried: Carried,
}

/// What a device's lives before its last reset by [`Device::recover`] leave to the next:
/// its counters and its clock, so that counters and times read later continue them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carried {
    /// Counters at the reset (added to every later readout).
    pub stats: DeviceStats,
    /// Device time at the reset, ns (added to later device times and record times: the
    /// clock restarts at 0 on a reset).
    pub clock_ns: u64,
}

impl std::fmt::Debug for Detached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detached")
            .field("backend", &self.backend.describe())
            .field("ring", &self.ring)
            .field("ring_iova", &format_args!("{:#x}", self.ring_iova))
            .finish()
    }
}

/// Why [`Device::attach`] refused, with the backend and ring memory handed back unchanged
/// so that the caller can bring the device up afresh instead.
#[derive(Debug, thiserror::Error)]
#[error("cannot attach to the running device: {error}")]
pub struct AttachError {
    /// What did not match or could not be read.
    pub error: DeviceError,
    /// The parts, as they were passed in.
    pub detached: Box<Detached>,
}

/// What the identification registers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// Register-map major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Aggregation profiles.
    pub profiles: u32,
    /// Ring record size.
    pub record_bytes: u32,
    /// Record format.
    pub record_format: u32,
    /// Largest ring, log2.
    pub ring_max_log2: u32,
    /// Stage-1 sets (log2) and ways.
    pub orig_table: (u32, u32),
    /// Stage-2 sets (log2) and ways, per profile.
    pub agg_table: (u32, u32),
    /// Core clock, kHz.
    pub clock_khz: u32,
    /// Address bits the engine's DMA drives (`CAP_DMA.addr_bits`; 64 on a map of minor
    /// version 0, which has no `CAP_DMA`): every IOVA the driver gives it fits.
    pub dma_addr_bits: u32,
}

/// Why the identification block does not name a device this driver may touch: what was
/// read, and what was expected. Every entry point reads the block, and only reads it,
/// before it writes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// `ID_MAGIC` is not "NSFL": another device (QEMU's `edu` reads 0x010000ed), or none
    /// (a device gone from the bus reads 0xffffffff).
    #[error("ID_MAGIC reads {read:#010x}, expected {expected:#010x} (\"NSFL\")")]
    Magic {
        /// The value read.
        read: u32,
        /// [`regs::MAGIC`].
        expected: u32,
    },
    /// A register map of another major version.
    #[error("ID_VERSION reads {read:#010x} (register map v{major}.{minor}), expected major version {expected}")]
    Version {
        /// The value read.
        read: u32,
        /// Its major version.
        major: u32,
        /// Its minor version.
        minor: u32,
        /// [`regs::VERSION_MAJOR`].
        expected: u32,
    },
    /// Ring records of another size or format.
    #[error("CAP_PROFILES says records of {bytes} bytes, format {format}; expected {RECORD_BYTES}-byte format {RECORD_FORMAT_VERSION}")]
    Records {
        /// Record size read.
        bytes: u32,
        /// Record format read.
        format: u32,
    },
    /// No profile, more profiles than the map has room for, or no clock.
    #[error("CAP_PROFILES/CAP_CLOCK say {profiles} profiles at {clock_khz} kHz; expected 1..={} profiles and a clock", regs::NUM_PROFILES)]
    Capabilities {
        /// Profiles read.
        profiles: u32,
        /// Clock read, kHz.
        clock_khz: u32,
    },
}

/// Reads `ID_MAGIC` and `ID_VERSION` (reads only, no side effect) and checks that they name
/// an nsflow engine of this register map's major version; returns the version read.
/// Called before the first write by every entry point ([`identify`], `regcheck`), each
/// with its own error type.
pub fn check_id<E>(dev: &mut dyn Backend) -> Result<(u32, u32), E>
where
    E: From<BackendError> + From<IdentityError>,
{
    let magic = dev.read32(regs::ID_MAGIC.offset)?;
    if magic != regs::MAGIC {
        return Err(IdentityError::Magic {
            read: magic,
            expected: regs::MAGIC,
        }
        .into());
    }
    use regs::field::ID_VERSION;
    let ver = dev.read32(regs::ID_VERSION.offset)?;
    let (major, minor) = (ID_VERSION::major.get(ver), ID_VERSION::minor.get(ver));
    if major != regs::VERSION_MAJOR {
        return Err(IdentityError::Version {
            read: ver,
            major,
            minor,
            expected: regs::VERSION_MAJOR,
        }
        .into());
    }
    Ok((major, minor))
}

/// Reads and checks the identification block ([`check_id`]) and the capabilities the
/// driver depends on, reading only.
pub fn identify(dev: &mut dyn Backend) -> Result<Identity, DeviceError> {
    let (major, minor) = check_id::<DeviceError>(dev)?;
    use regs::field::{CAP_AGG_TABLE, CAP_ORIG_TABLE, CAP_PROFILES};
    let caps = dev.read32(regs::CAP_PROFILES.offset)?;
    let orig = dev.read32(regs::CAP_ORIG_TABLE.offset)?;
    let agg = dev.read32(regs::CAP_AGG_TABLE.offset)?;
    let id = Identity {
        major,
        minor,
        profiles: CAP_PROFILES::profiles.get(caps),
        record_bytes: CAP_PROFILES::record_bytes.get(caps),
        record_format: CAP_PROFILES::record_format.get(caps),
        ring_max_log2: CAP_PROFILES::ring_max_log2.get(caps),
        orig_table: (
            CAP_ORIG_TABLE::sets_log2.get(orig),
            CAP_ORIG_TABLE::ways.get(orig),
        ),
        agg_table: (
            CAP_AGG_TABLE::sets_log2.get(agg),
            CAP_AGG_TABLE::ways.get(agg),
        ),
        clock_khz: dev.read32(regs::CAP_CLOCK.offset)?,
        dma_addr_bits: match regs::field::CAP_DMA::addr_bits.get(dev.read32(regs::CAP_DMA.offset)?)
        {
            0 => 64,
            bits => bits,
        },
    };
    if id.record_bytes as usize != RECORD_BYTES
        || id.record_format != u32::from(RECORD_FORMAT_VERSION)
    {
        return Err(IdentityError::Records {
            bytes: id.record_bytes,
            format: id.record_format,
        }
        .into());
    }
    if id.profiles == 0 || id.profiles > regs::NUM_PROFILES || id.clock_khz == 0 {
        return Err(IdentityError::Capabilities {
            profiles: id.profiles,
            clock_khz: id.clock_khz,
        }
        .into());
    }
    Ok(id)
}

/// 64-bit statistics, read consistently through one snapshot (the contract's
/// [`Counters`]).
pub type DeviceStats = Counters;

fn read64(dev: &mut dyn Backend, lo: u32) -> Result<u64, BackendError> {
    let l = dev.read32(lo)?;
    let h = dev.read32(lo + 4)?;
    Ok(u64::from(h) << 32 | u64::from(l))
}

fn ctrl_bits(f: impl Fn(&mut Ctrl)) -> u32 {
    let mut c = Ctrl(0);
    f(&mut c);
    c.0
}

/// What [`Device::attach`] found on a running device.
struct Running {
    id: Identity,
    log2: u8,
    cons: u32,
    enabled: bool,
}

/// What [`Device::attach`] checks on a running device, reading only: identity, no error,
/// the ring it writes is the `ring_len` bytes at `ring_iova`, the programmed
/// configuration is `config`, and the indices are in range.
fn check_running(
    be: &mut dyn Backend,
    ring_len: usize,
    ring_iova: u64,
    config: &EngineConfig,
) -> Result<Running, DeviceError> {
    let id = identify(be)?;
    let status = Status(be.read32(regs::STATUS.offset)?);
    if status.error() {
        return Err(DeviceError::DeviceFault(status.error_code()));
    }
    let log2 = be.read32(regs::RING_SIZE.offset)? & regs::RING_SIZE.rw_mask();
    if !(regs::RING_MIN_LOG2..=id.ring_max_log2.min(regs::RING_MAX_LOG2)).contains(&log2) {
        return Err(DeviceError::Mismatch(format!(
            "RING_SIZE {log2}: no ring is programmed"
        )));
    }
    let log2 = log2 as u8;
    if RingConsumer::bytes(log2) > ring_len {
        return Err(DeviceError::Mismatch(format!(
            "a ring of 2^{log2} records needs {} bytes, the memory handed over has {}",
            RingConsumer::bytes(log2),
            ring_len
        )));
    }
    let base = read64(be, regs::RING_BASE_LO.offset)? & !u64::from(!regs::RING_BASE_LO.rw_mask());
    let wb = read64(be, regs::RING_WB_LO.offset)? & !u64::from(!regs::RING_WB_LO.rw_mask());
    let want_wb = ring_iova + (RECORD_BYTES << log2) as u64;
    if (base, wb) != (ring_iova, want_wb) {
        return Err(DeviceError::Mismatch(format!(
            "the device writes a ring at {base:#x} (write-back {wb:#x}), the memory handed over is at {:#x} (write-back {want_wb:#x})",
            ring_iova
        )));
    }
    let programmed = read_engine_config(be, id.profiles)?;
    if programmed != *config {
        return Err(DeviceError::Mismatch(format!(
            "programmed configuration {programmed:?}, expected {config:?}"
        )));
    }
    let cons = be.read32(regs::RING_CONS.offset)?;
    let prod = be.read32(regs::RING_PROD.offset)?;
    if prod.wrapping_sub(cons) > 1 << log2 {
        return Err(RingError::IndexOutOfRange {
            prod,
            cons,
            entries: 1 << log2,
        }
        .into());
    }
    let enabled = Ctrl(be.read32(regs::CTRL.offset)?).enable();
    Ok(Running {
        id,
        log2,
        cons,
        enabled,
    })
}

/// Reads back the timers and profiles programmed, as [`Device::program_engine`] writes
/// them (rtl-model's programming path): enabled profiles first, in slot order, the rest
/// disabled.
fn read_engine_config(dev: &mut dyn Backend, profiles: u32) -> Result<EngineConfig, DeviceError> {
    EngineRegs::read(|o| dev.read32(o), profiles)?
        .config()
        .map_err(|e| DeviceError::Mismatch(e.to_string()))
}

/// One engine, brought up and programmed.
pub struct Device {
    backend: Box<dyn Backend>,
    id: Identity,
    ring: RingConsumer,
    ring_iova: u64,
    modes: Vec<AggregationMode>,
    config: EngineConfig,
    enabled: bool,
    tables: Tables,
    carried: Carried,
    recoveries: u64,
    held_until: Option<Instant>,
}

impl Device {
    /// Identifies the device (reading only: a device that is not an nsflow engine of this
    /// map is refused before anything is written to it), resets it, allocates and maps a
    /// ring of `1 << ring_log2` records, programs `tables` and `config`, and enables it.
    pub fn bring_up(
        mut backend: Box<dyn Backend>,
        tables: &Tables,
        config: &EngineConfig,
        ring_log2: u8,
    ) -> Result<Self, DeviceError> {
        let id = identify(backend.as_mut())?;
        if u32::from(ring_log2) > id.ring_max_log2 {
            return Err(DeviceError::Invalid(format!(
                "ring of 2^{ring_log2} records, the device takes at most 2^{}",
                id.ring_max_log2
            )));
        }
        backend.write32(regs::CTRL.offset, ctrl_bits(|c| c.set_soft_reset(true)))?;
        backend.set_dma_address_width(id.dma_addr_bits)?;
        let mem = DmaMemory::new(RingConsumer::bytes(ring_log2)).map_err(BackendError::from)?;
        let ring = RingConsumer::new(mem, ring_log2, config.profiles.len())?;
        let ring_iova = backend.map_dma(ring.memory())?;
        let mut dev = Self {
            backend,
            id,
            ring,
            ring_iova,
            modes: Vec::new(),
            config: config.clone(),
            enabled: false,
            tables: tables.clone(),
            carried: Carried::default(),
            recoveries: 0,
            held_until: None,
        };
        dev.program_tables(tables)?;
        dev.program_engine(config)?;
        dev.program_ring()?;
        dev.enable(true)?;
        Ok(dev)
    }

    /// Lets go of the running device without touching it — no flush, no disable, no
    /// unmap — and hands back what a new driver instance needs to [`Device::attach`].
    /// Records published but not yet drained stay in the ring for that instance.
    pub fn detach(self) -> Detached {
        Detached {
            backend: self.backend,
            ring: self.ring.into_memory(),
            ring_iova: self.ring_iova,
            tables: self.tables,
            carried: self.carried,
        }
    }

    /// Takes up a running device that another driver instance let go of (see the module
    /// documentation): no reset; the device must be writing the ring in `d` and run
    /// `config`. Draining resumes at the device's consumer index.
    pub fn attach(mut d: Detached, config: &EngineConfig) -> Result<Self, Box<AttachError>> {
        match check_running(d.backend.as_mut(), d.ring.len(), d.ring_iova, config) {
            Ok(running) => Ok(Self {
                backend: d.backend,
                id: running.id,
                ring: RingConsumer::resume(
                    d.ring,
                    running.log2,
                    config.profiles.len(),
                    running.cons,
                ),
                ring_iova: d.ring_iova,
                modes: config.profiles.iter().map(|p| p.mode).collect(),
                config: config.clone(),
                enabled: running.enabled,
                tables: d.tables,
                carried: d.carried,
                recoveries: 0,
                held_until: None,
            }),
            Err(error) => Err(Box::new(AttachError {
                error,
                detached: Box::new(d),
            })),
        }
    }

    /// A driver restart in place: forgets everything this instance knew of the ring and
    /// takes the running device up again exactly as a new instance does in
    /// [`Self::attach`] — the same checks, and draining resumes at the device's consumer
    /// index, so each record is still read once. The backend connection and the ring
    /// memory stay (see the module documentation).
    pub fn restart(&mut self) -> Result<(), DeviceError> {
        let running = check_running(
            self.backend.as_mut(),
            self.ring.memory().len(),
            self.ring_iova,
            &self.config,
        )?;
        self.ring.resume_at(running.log2, running.cons);
        self.id = running.id;
        self.enabled = running.enabled;
        self.held_until = None;
        Ok(())
    }

    /// The identification read at bring-up.
    pub fn identity(&self) -> Identity {
        self.id
    }

    /// Backend description.
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// The aggregation mode of each programmed profile slot.
    pub fn modes(&self) -> &[AggregationMode] {
        &self.modes
    }

    /// The configuration programmed.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Direct register access, for tests and regcheck.
    pub fn backend(&mut self) -> &mut dyn Backend {
        self.backend.as_mut()
    }

    fn w(&mut self, off: u32, v: u32) -> Result<(), DeviceError> {
        Ok(self.backend.write32(off, v)?)
    }

    fn r(&mut self, off: u32) -> Result<u32, DeviceError> {
        Ok(self.backend.read32(off)?)
    }

    /// Writes the route, interface and label tables through their windows.
    pub fn program_tables(&mut self, t: &Tables) -> Result<(), DeviceError> {
        if self.tables != *t {
            self.tables = t.clone();
        }
        self.apply(&program::table_writes(t))
    }

    /// Applies register writes of the programming path, in order.
    fn apply(&mut self, writes: &[program::Write]) -> Result<(), DeviceError> {
        for &(offset, value) in writes {
            self.w(offset, value)?;
        }
        Ok(())
    }

    /// Programs the original-flow timers and one profile per configured mode; profiles
    /// beyond the configuration are disabled.
    pub fn program_engine(&mut self, c: &EngineConfig) -> Result<(), DeviceError> {
        let writes = program::engine_writes(c, self.id.profiles)?;
        // The hardware takes 0 (every entry ends at its next check); a driver that programs
        // it was handed a configuration nobody means, so it refuses.
        let timers = [c.orig_active_s, c.orig_inactive_s].into_iter();
        if timers
            .chain(c.profiles.iter().flat_map(|p| [p.active_s, p.inactive_s]))
            .any(|s| s == 0)
        {
            return Err(DeviceError::Invalid(
                "a timeout of 0 s would end every entry at its next check".into(),
            ));
        }
        self.apply(&writes)?;
        self.modes = c.profiles.iter().map(|p| p.mode).collect();
        self.ring.set_profiles(c.profiles.len());
        self.config = c.clone();
        Ok(())
    }

    fn program_ring(&mut self) -> Result<(), DeviceError> {
        let base = self.ring_iova;
        let wb = base + self.ring.writeback_offset() as u64;
        self.apply(&program::ring_writes(base, wb, self.ring.log2()))
    }

    /// Sets CTRL.enable.
    pub fn enable(&mut self, on: bool) -> Result<(), DeviceError> {
        self.w(regs::CTRL.offset, ctrl_bits(|c| c.set_enable(on)))?;
        self.enabled = on;
        Ok(())
    }

    /// STATUS, or [`DeviceError::NotAnswering`] when it reads all ones (no defined STATUS
    /// value has every bit set).
    fn status(&mut self) -> Result<Status, DeviceError> {
        match self.r(regs::STATUS.offset)? {
            u32::MAX => Err(DeviceError::NotAnswering),
            v => Ok(Status(v)),
        }
    }

    /// Fails with [`DeviceError::DeviceFault`] when the device is in its error state, and
    /// with [`DeviceError::NotAnswering`] when it is gone.
    pub fn check_status(&mut self) -> Result<Status, DeviceError> {
        let s = self.status()?;
        if s.error() {
            return Err(DeviceError::DeviceFault(s.error_code()));
        }
        Ok(s)
    }

    /// Acknowledges pending interrupt causes (W1C) and returns them.
    pub fn ack_interrupts(&mut self) -> Result<IntBits, DeviceError> {
        let st = self.r(regs::INT_STATUS.offset)?;
        if st != 0 {
            self.w(regs::INT_STATUS.offset, st)?;
        }
        Ok(IntBits(st))
    }

    /// Drains published records into `out` (at most `max`) and writes the doorbell
    /// (RING_CONS). A validation failure stops the device (CTRL.enable cleared) and is
    /// returned; the valid records before the bad one are in `out` and acknowledged.
    /// Record times continue the clock of earlier lives ([`Self::time_ns`]).
    pub fn drain(&mut self, out: &mut Vec<Record>, max: usize) -> Result<usize, DeviceError> {
        if self.held_until.is_some_and(|t| Instant::now() < t) {
            return Ok(0);
        }
        let before = self.ring.consumer_index();
        let from = out.len();
        let polled = self.ring.poll(out, max);
        if self.carried.clock_ns != 0 {
            for r in out.iter_mut().skip(from) {
                r.first_ns = r.first_ns.saturating_add(self.carried.clock_ns);
                r.last_ns = r.last_ns.saturating_add(self.carried.clock_ns);
            }
        }
        let cons = self.ring.consumer_index();
        if cons != before {
            self.w(regs::RING_CONS.offset, cons)?;
        }
        match polled {
            Ok(n) => Ok(n),
            Err(e) => {
                let _ = self.enable(false);
                Err(e.into())
            }
        }
    }

    /// Stops consuming the ring for `d` (a stalled consumer, `nsflow run --fault
    /// ring-stall`): [`Self::drain`] takes nothing until then, so the ring fills and the
    /// device holds records back (or drops and counts them, if built to drop).
    pub fn hold_ring(&mut self, d: Duration) {
        self.held_until = Some(Instant::now() + d);
    }

    /// Ends a stall of the ring consumer ([`Self::hold_ring`]): the next drain takes what
    /// the ring holds. A stop request, a recovery and a flush that timed out end it.
    pub fn release_ring(&mut self) {
        self.held_until = None;
    }

    /// Ring consumer counters.
    pub fn ring_counters(&self) -> crate::ring::RingCounters {
        self.ring.counters()
    }

    /// The ring consumer (its memory, geometry and consumer index), for reports and tests.
    pub fn ring(&self) -> &RingConsumer {
        &self.ring
    }

    /// Starts a flush and returns the flush count to wait past.
    pub fn start_flush(&mut self) -> Result<u32, DeviceError> {
        let before = self.r(regs::FLUSH_COUNT.offset)?;
        self.w(
            regs::CTRL.offset,
            ctrl_bits(|c| {
                c.set_flush(true);
                c.set_enable(self.enabled);
            }),
        )?;
        Ok(before)
    }

    /// Whether the flush started when FLUSH_COUNT was `before` has completed.
    pub fn flush_complete(&mut self, before: u32) -> Result<bool, DeviceError> {
        self.check_status()?;
        self.flush_done(before)
    }

    /// Whether the flush started when FLUSH_COUNT was `before` has completed, in the error
    /// state too (a flush still runs there).
    fn flush_done(&mut self, before: u32) -> Result<bool, DeviceError> {
        Ok(self.r(regs::FLUSH_COUNT.offset)? != before && !self.status()?.flush_busy())
    }

    /// Flushes the device and drains everything into `out`: on return every entry of
    /// both stages has been exported and read.
    pub fn flush_and_drain(
        &mut self,
        out: &mut Vec<Record>,
        timeout: Duration,
    ) -> Result<(), DeviceError> {
        let before = self.start_flush()?;
        let deadline = Instant::now() + timeout;
        loop {
            self.drain(out, usize::MAX)?;
            if self.flush_complete(before)? {
                // Records written before the flush counted as complete are published.
                while self.drain(out, usize::MAX)? > 0 {}
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(DeviceError::FlushTimeout(timeout));
            }
            std::thread::yield_now();
        }
    }

    /// Reprograms a running device: flushes (exporting every affected flow into `out`
    /// first, so nothing is lost), then programs the new configuration.
    pub fn reconfigure(
        &mut self,
        c: &EngineConfig,
        tables: Option<&Tables>,
        out: &mut Vec<Record>,
        timeout: Duration,
    ) -> Result<(), DeviceError> {
        self.flush_and_drain(out, timeout)?;
        if let Some(t) = tables {
            self.program_tables(t)?;
        }
        self.program_engine(c)?;
        Ok(())
    }

    /// Brings the device back from its error state (a DMA fault, a bad ring): takes the
    /// records published before the fault into `out`, lets a flush push every entry out
    /// (a device in its error state writes nothing and counts what it drops, so every
    /// packet it took is in `out` or in its drop counters), keeps its counters, then
    /// resets it and programs it again as at bring-up: tables, configuration, the same
    /// ring memory from index 0, and the enable state.
    pub fn recover(&mut self, out: &mut Vec<Record>, timeout: Duration) -> Result<(), DeviceError> {
        self.release_ring();
        self.drain(out, usize::MAX)?;
        let before = self.start_flush()?;
        let deadline = Instant::now() + timeout;
        loop {
            if self.flush_done(before)? {
                break;
            }
            if Instant::now() > deadline {
                return Err(DeviceError::FlushTimeout(timeout));
            }
            std::thread::yield_now();
        }
        let stats = self.stats()?;
        let clock_ns = self.time_ns()?;
        let enabled = self.enabled;
        self.backend
            .write32(regs::CTRL.offset, ctrl_bits(|c| c.set_soft_reset(true)))?;
        self.carried = Carried { stats, clock_ns };
        self.enabled = false;
        self.ring.restart()?;
        let tables = self.tables.clone();
        self.program_tables(&tables)?;
        let config = self.config.clone();
        self.program_engine(&config)?;
        self.program_ring()?;
        self.enable(enabled)?;
        self.recoveries += 1;
        Ok(())
    }

    /// Recoveries by [`Self::recover`] so far.
    pub fn recoveries(&self) -> u64 {
        self.recoveries
    }

    /// Latches and reads every statistic, with the counters of the device's lives before
    /// its resets by [`Self::recover`] added: every counter only grows.
    pub fn stats(&mut self) -> Result<DeviceStats, DeviceError> {
        // A device gone from the bus would read as counters of all ones.
        self.status()?;
        self.w(
            regs::CTRL.offset,
            ctrl_bits(|c| {
                c.set_stats_snapshot(true);
                c.set_enable(self.enabled);
            }),
        )?;
        let backend = self.backend.as_mut();
        let mut s = Counters::read(|o| backend.read32(o), self.modes.len() as u32)?;
        s.add(&self.carried.stats);
        Ok(s)
    }

    /// The device clock in nanoseconds (TIME_LO latches TIME_HI), continuing the clock
    /// of the device's lives before a reset by [`Self::recover`].
    pub fn time_ns(&mut self) -> Result<u64, DeviceError> {
        let lo = self.r(regs::TIME_LO.offset)?;
        let hi = self.r(regs::TIME_HI.offset)?;
        Ok((u64::from(hi) << 32 | u64::from(lo)).saturating_add(self.carried.clock_ns))
    }

    /// Stops the device: disable, flush, drain into `out`, then unmap the ring.
    pub fn shutdown(mut self, out: &mut Vec<Record>, timeout: Duration) -> Result<(), DeviceError> {
        self.enable(false)?;
        self.flush_and_drain(out, timeout)?;
        self.w(regs::RING_SIZE.offset, 0)?;
        let len = self.ring.memory().len();
        self.backend.unmap_dma(self.ring_iova, len)?;
        Ok(())
    }
}
