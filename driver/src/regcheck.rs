//! `nsflow regcheck`: the register-map validation suite for firmware teams, generated from
//! the rtl-model map and run through any [`Backend`] (the model in-process, a vfio-user
//! device, or silicon through VFIO).
//!
//! Before anything else, and before any write, the identification block is read and
//! checked ([`crate::device::check_id`]): a device that is not an nsflow engine of this
//! map's major version is refused with [`RegcheckError::Identity`], untouched.
//!
//! Checks, in order (OpenTitan's five CSR tests plus the map's own semantics):
//! 1. `hw_reset`: after a soft reset every register reads its reset value (build
//!    parameters are reported, not failed: another build may differ).
//! 2. `rw`: RW fields read back what was written; RO fields ignore writes; WO fields read
//!    0; reserved bits read 0 after all-ones writes, and each ignored write is counted in
//!    `UNKNOWN_ACCESS`.
//! 3. `bit_bash`: a walking 1 and a walking 0 through every RW bit change only that bit.
//! 4. `aliasing`: a distinct value in every RW register, then every register read back:
//!    no two addresses alias.
//! 5. `mem_walk`: every entry of the route, interface and label tables written through its
//!    window and read back.
//! 6. `w1c`: INT_STATUS bits set by the hardware (a flush) clear only on a 1 written.
//! 7. `unknown`: writes to offsets outside the map are ignored, read 0 and are counted.
//! 8. `effects` (run after `aliasing`, on the device it left modified): TIME_HI changes
//!    only on a TIME_LO read and the clock never goes back; `CTRL.stats_snapshot` is a
//!    pulse and latched statistics read stably; RING_CONS stores the doorbell and a
//!    RING_SIZE write resets both indices; enabling with an invalid ring stops the device
//!    (`BAD_RING`, `INT_STATUS.error`); then `reset_after`: a soft reset brings every
//!    register of that modified, failed device back to its reset value.
//!
//! Registers whose writes act (CTRL, the window command registers, INT_STATUS, the ring
//! doorbell) are exercised only by the checks made for them, so that the suite never
//! resets or reprograms the device behind its own back.

use crate::backend::{Backend, BackendError};
use crate::device::{check_id, IdentityError};
use nsflow_rtl::regs::{self, Access, Effect, Instance};
use nsflow_rtl::tables::{IFACE_ENTRIES, LABEL_ENTRIES, ROUTE_ENTRIES};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Why regcheck could not run.
#[derive(Debug, thiserror::Error)]
pub enum RegcheckError {
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The identification block does not name an nsflow engine of this map's major
    /// version: the device was refused before anything was written to it.
    #[error("refusing to test the device (nothing was written to it): {0}")]
    Identity(#[from] IdentityError),
}

/// One check on one register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Check name (`hw_reset`, `rw`, ...).
    pub check: &'static str,
    /// Register (or table) name.
    pub register: String,
    /// Offset checked.
    pub offset: u32,
    /// Whether it passed.
    pub pass: bool,
    /// Value read (when meaningful).
    pub observed: u32,
    /// Value expected.
    pub expected: u32,
    /// Extra words.
    pub note: String,
}

/// Everything regcheck found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every result, in run order.
    pub results: Vec<CheckResult>,
}

impl Report {
    /// Results that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.results.iter().filter(|r| !r.pass)
    }

    /// Whether everything passed.
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// A readable report: per check and register, pass/fail with observed vs expected,
    /// then a summary per check.
    pub fn render(&self, verbose: bool) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<10} {:<34} {:>7}  {:<4}  {:>10}  {:>10}  note",
            "check", "register", "offset", "", "observed", "expected"
        );
        for r in &self.results {
            if verbose || !r.pass {
                let _ = writeln!(
                    s,
                    "{:<10} {:<34} {:>#7x}  {:<4}  {:>#10x}  {:>#10x}  {}",
                    r.check,
                    r.register,
                    r.offset,
                    if r.pass { "pass" } else { "FAIL" },
                    r.observed,
                    r.expected,
                    r.note
                );
            }
        }
        let mut checks: Vec<&str> = self.results.iter().map(|r| r.check).collect();
        checks.dedup();
        let _ = writeln!(s, "\nsummary:");
        for c in checks {
            let n = self.results.iter().filter(|r| r.check == c).count();
            let f = self
                .results
                .iter()
                .filter(|r| r.check == c && !r.pass)
                .count();
            let _ = writeln!(s, "  {c:<10} {n:>6} checks  {f:>4} failed");
        }
        let total = self.results.len();
        let failed = self.failures().count();
        let _ = writeln!(
            s,
            "  {:<10} {total:>6} checks  {failed:>4} failed: {}",
            "all",
            if failed == 0 { "PASS" } else { "FAIL" }
        );
        s
    }

    fn push(
        &mut self,
        check: &'static str,
        register: &str,
        offset: u32,
        observed: u32,
        expected: u32,
        note: impl Into<String>,
    ) {
        self.results.push(CheckResult {
            check,
            register: register.to_owned(),
            offset,
            pass: observed == expected,
            observed,
            expected,
            note: note.into(),
        });
    }
}

/// Registers whose writes have effects beyond storing a value.
fn acts_on_write(i: &Instance) -> bool {
    matches!(
        i.reg.name,
        "CTRL" | "ROUTE_CMD" | "IFACE_CMD" | "LABEL_CMD" | "INT_STATUS" | "RING_CONS" | "RING_SIZE"
    )
}

/// Registers whose value the device changes by itself (clock, counters, status).
fn volatile(i: &Instance) -> bool {
    matches!(
        i.reg.name,
        "TIME_LO"
            | "TIME_HI"
            | "UNKNOWN_ACCESS"
            | "STATUS"
            | "FLUSH_COUNT"
            | "RING_PROD"
            | "INT_STATUS"
    )
}

/// A deterministic pattern for register `i` (xorshift of its offset).
fn pattern(offset: u32, salt: u32) -> u32 {
    let mut x = offset.wrapping_mul(0x9E37_79B9) ^ salt;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    x
}

fn soft_reset(dev: &mut dyn Backend) -> Result<(), BackendError> {
    dev.write32(regs::CTRL.offset, regs::field::CTRL::soft_reset.mask())
}

/// Runs the whole suite, after checking the identification block (reading only). The
/// device is left soft-reset.
pub fn run(dev: &mut dyn Backend) -> Result<Report, RegcheckError> {
    check_id::<RegcheckError>(dev)?;
    let mut rep = Report::default();
    let all = regs::all_registers();
    register_block(dev, &all, &mut rep)?;
    effects(dev, &all, &mut rep)?;
    mem_walk(dev, &mut rep)?;
    soft_reset(dev)?;
    w1c(dev, &mut rep)?;
    unknown(dev, &all, &mut rep)?;
    soft_reset(dev)?;
    Ok(rep)
}

/// The checks a register block alone must pass, with the hardware around it idle:
/// `hw_reset`, `rw`, `bit_bash`, `aliasing` (what [`vectors`] records for an RTL
/// simulation of the block generated from docs/nsflow.rdl).
fn register_block(
    dev: &mut dyn Backend,
    all: &[Instance],
    rep: &mut Report,
) -> Result<(), BackendError> {
    soft_reset(dev)?;
    hw_reset(dev, all, rep, "hw_reset")?;
    rw(dev, all, rep)?;
    soft_reset(dev)?;
    bit_bash(dev, all, rep)?;
    soft_reset(dev)?;
    aliasing(dev, all, rep)
}

/// One BAR0 access of the register-block checks, as data for another simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vector {
    /// Write `value` at `offset`.
    Write {
        /// Offset in BAR0.
        offset: u32,
        /// Value written.
        value: u32,
    },
    /// Read `offset`; the bits of `mask` must equal those of `expected`.
    Read {
        /// Offset in BAR0.
        offset: u32,
        /// The contract's value (read from a device that passed every check).
        expected: u32,
        /// Bits the register block decides; the others are driven by the datapath.
        mask: u32,
    },
}

impl Vector {
    /// One line of the vectors file: `W offset value` or `R offset expected mask`, hex.
    pub fn line(&self) -> String {
        match self {
            Self::Write { offset, value } => format!("W {offset:#06x} {value:#010x}"),
            Self::Read {
                offset,
                expected,
                mask,
            } => format!("R {offset:#06x} {expected:#010x} {mask:#010x}"),
        }
    }
}

/// Bits of a register whose value the datapath drives (hardware-written fields: status,
/// counters, the clock, interrupt causes) rather than the register block itself.
fn datapath_bits(i: &Instance) -> u32 {
    i.reg
        .fields
        .iter()
        .filter(|f| {
            matches!(
                (f.access, f.effect),
                (Access::Ro, Effect::None | Effect::ReadStrobe) | (Access::W1c, _)
            )
        })
        .map(|f| f.mask())
        .fold(0, |a, m| a | m)
}

/// A backend that records every access of the device it wraps.
struct Recorder {
    dev: Box<dyn Backend>,
    log: Vec<Vector>,
    datapath: std::collections::HashMap<u32, u32>,
}

impl Backend for Recorder {
    fn describe(&self) -> String {
        self.dev.describe()
    }
    fn read32(&mut self, offset: u32) -> Result<u32, BackendError> {
        let expected = self.dev.read32(offset)?;
        let mask = !self.datapath.get(&offset).copied().unwrap_or(0);
        self.log.push(Vector::Read {
            offset,
            expected,
            mask,
        });
        Ok(expected)
    }
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), BackendError> {
        self.log.push(Vector::Write { offset, value });
        self.dev.write32(offset, value)
    }
    fn map_dma(&mut self, mem: &crate::dma::DmaMemory) -> Result<u64, BackendError> {
        self.dev.map_dma(mem)
    }
    fn unmap_dma(&mut self, iova: u64, len: usize) -> Result<(), BackendError> {
        self.dev.unmap_dma(iova, len)
    }
    fn irq(&self) -> Option<&vmm_sys_util::eventfd::EventFd> {
        self.dev.irq()
    }
    fn set_dma_address_width(&mut self, bits: u32) -> Result<(), BackendError> {
        self.dev.set_dma_address_width(bits)
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// Runs the register-block checks (`hw_reset`, `rw`, `bit_bash`, `aliasing`) on `dev`
/// and records every access: the vectors an RTL simulation of the register block replays
/// (`nsflow regcheck --emit-vectors FILE`). A read's expected value is what `dev` returned,
/// so run it on a device that passes (the model); bits the datapath drives are masked
/// out. A write of `CTRL.soft_reset` stands for the reset the logic around the block
/// gives it. The datapath checks (`mem_walk`, `w1c`, `unknown`) and `UNKNOWN_ACCESS`
/// counting need the engine, not the block, and are not recorded.
pub fn vectors(dev: Box<dyn Backend>) -> Result<(Report, Vec<Vector>), RegcheckError> {
    let all = regs::all_registers();
    let mut rec = Recorder {
        dev,
        log: Vec::new(),
        datapath: all.iter().map(|i| (i.offset, datapath_bits(i))).collect(),
    };
    check_id::<RegcheckError>(&mut rec)?;
    rec.log.clear();
    let mut rep = Report::default();
    register_block(&mut rec, &all, &mut rep)?;
    Ok((rep, rec.log))
}

/// Every register reads its reset value (reported as `check`).
fn hw_reset(
    dev: &mut dyn Backend,
    all: &[Instance],
    rep: &mut Report,
    check: &'static str,
) -> Result<(), BackendError> {
    for i in all {
        if matches!(i.reg.name, "TIME_LO" | "TIME_HI") {
            continue;
        }
        let v = dev.read32(i.offset)?;
        let build_mask: u32 = i
            .reg
            .fields
            .iter()
            .filter(|f| f.build_param)
            .map(|f| f.mask())
            .sum();
        if build_mask != 0 && (v & build_mask) != (i.reg.reset() & build_mask) {
            rep.push(
                check,
                &i.name,
                i.offset,
                v & !build_mask,
                i.reg.reset() & !build_mask,
                format!(
                    "build parameters {:#x} (default build {:#x})",
                    v & build_mask,
                    i.reg.reset() & build_mask
                ),
            );
        } else {
            rep.push(check, &i.name, i.offset, v, i.reg.reset(), "");
        }
    }
    Ok(())
}

fn rw(dev: &mut dyn Backend, all: &[Instance], rep: &mut Report) -> Result<(), BackendError> {
    for i in all.iter().filter(|i| !acts_on_write(i) && !volatile(i)) {
        let before = dev.read32(i.offset)?;
        let unknown_before = dev.read32(regs::UNKNOWN_ACCESS.offset)?;
        dev.write32(i.offset, u32::MAX)?;
        let v = dev.read32(i.offset)?;
        let rw = i.reg.rw_mask();
        let expected = (before & !rw & i.reg.defined_mask() & !i.reg.access_mask(Access::Wo)) | rw;
        rep.push(
            "rw",
            &i.name,
            i.offset,
            v,
            expected,
            "all-ones: RW bits set, RO/WO/reserved bits unchanged or 0",
        );
        let ignored = u32::MAX != rw;
        let unknown_after = dev.read32(regs::UNKNOWN_ACCESS.offset)?;
        rep.push(
            "rw",
            &i.name,
            regs::UNKNOWN_ACCESS.offset,
            unknown_after.wrapping_sub(unknown_before),
            u32::from(ignored),
            "UNKNOWN_ACCESS counts a write touching non-RW bits",
        );
        if rw != 0 {
            let p = pattern(i.offset, 0xA5A5_5A5A) & rw;
            dev.write32(i.offset, p)?;
            rep.push(
                "rw",
                &i.name,
                i.offset,
                dev.read32(i.offset)? & rw,
                p,
                "pattern read-back",
            );
            dev.write32(i.offset, before & rw)?;
        }
    }
    Ok(())
}

fn bit_bash(dev: &mut dyn Backend, all: &[Instance], rep: &mut Report) -> Result<(), BackendError> {
    for i in all
        .iter()
        .filter(|i| i.reg.rw_mask() != 0 && !acts_on_write(i))
    {
        let rw = i.reg.rw_mask();
        let (mut ones, mut zeros) = (0u32, 0u32);
        for bit in (0..32).filter(|b| rw & (1 << b) != 0) {
            dev.write32(i.offset, 1 << bit)?;
            if dev.read32(i.offset)? & rw != 1 << bit {
                ones |= 1 << bit;
            }
            dev.write32(i.offset, rw & !(1 << bit))?;
            if dev.read32(i.offset)? & rw != rw & !(1 << bit) {
                zeros |= 1 << bit;
            }
        }
        rep.push(
            "bit_bash",
            &i.name,
            i.offset,
            ones | zeros,
            0,
            "bits that did not walk cleanly",
        );
        dev.write32(i.offset, i.reg.reset() & rw)?;
    }
    Ok(())
}

fn aliasing(dev: &mut dyn Backend, all: &[Instance], rep: &mut Report) -> Result<(), BackendError> {
    let targets: Vec<&Instance> = all
        .iter()
        .filter(|i| i.reg.rw_mask() != 0 && !acts_on_write(i))
        .collect();
    for i in &targets {
        dev.write32(i.offset, pattern(i.offset, 0x1234_5678) & i.reg.rw_mask())?;
    }
    for i in &targets {
        let want = pattern(i.offset, 0x1234_5678) & i.reg.rw_mask();
        rep.push(
            "aliasing",
            &i.name,
            i.offset,
            dev.read32(i.offset)? & i.reg.rw_mask(),
            want,
            "unique value survives writes to every other register",
        );
    }
    Ok(())
}

/// The 64-bit clock, TIME_LO then TIME_HI (the LO read latches HI).
fn read_time(dev: &mut dyn Backend) -> Result<u64, BackendError> {
    let lo = dev.read32(regs::TIME_LO.offset)?;
    let hi = dev.read32(regs::TIME_HI.offset)?;
    Ok(u64::from(hi) << 32 | u64::from(lo))
}

/// The side effects of the map on a device the register-block checks left modified: the
/// TIME latch, the statistics snapshot, the ring indices, CTRL.enable's ring check, and
/// a soft reset bringing every register back to its reset value (`reset_after`).
fn effects(dev: &mut dyn Backend, all: &[Instance], rep: &mut Report) -> Result<(), BackendError> {
    let (lo, hi) = (regs::TIME_LO.offset, regs::TIME_HI.offset);
    let t1 = read_time(dev)?;
    let latched = dev.read32(hi)?;
    rep.push(
        "effects",
        "TIME_HI",
        hi,
        dev.read32(hi)?,
        latched,
        "TIME_HI changes only on a TIME_LO read",
    );
    let t2 = read_time(dev)?;
    rep.push(
        "effects",
        "TIME_LO",
        lo,
        u32::from(t2 >= t1),
        1,
        "the clock read LO then HI never goes back (1 = monotonic)",
    );

    let ctrl = regs::CTRL.offset;
    let c = |f: fn(&mut regs::Ctrl)| {
        let mut c = regs::Ctrl(0);
        f(&mut c);
        c.0
    };
    dev.write32(ctrl, c(|c| c.set_stats_snapshot(true)))?;
    rep.push(
        "effects",
        "CTRL",
        ctrl,
        dev.read32(ctrl)?,
        0,
        "stats_snapshot is a pulse: CTRL reads 0 after it",
    );
    let stat = regs::global_stat(regs::GlobalStat::RxFrames);
    let first = (dev.read32(stat)?, dev.read32(stat + 4)?);
    let again = (dev.read32(stat)?, dev.read32(stat + 4)?);
    rep.push(
        "effects",
        "STAT_RX_FRAMES",
        stat,
        u32::from(first == again),
        1,
        "latched statistics read the same until the next snapshot (1 = same)",
    );

    let (size, cons, prod) = (
        regs::RING_SIZE.offset,
        regs::RING_CONS.offset,
        regs::RING_PROD.offset,
    );
    dev.write32(cons, 5)?;
    rep.push(
        "effects",
        "RING_CONS",
        cons,
        dev.read32(cons)?,
        5,
        "the doorbell stores the consumer index written",
    );
    dev.write32(size, 2)?;
    rep.push(
        "effects",
        "RING_CONS",
        cons,
        dev.read32(cons)?,
        0,
        "a RING_SIZE write resets RING_CONS",
    );
    rep.push(
        "effects",
        "RING_PROD",
        prod,
        dev.read32(prod)?,
        0,
        "a RING_SIZE write resets RING_PROD",
    );

    dev.write32(ctrl, c(|c| c.set_enable(true)))?;
    let status = regs::Status(dev.read32(regs::STATUS.offset)?);
    rep.push(
        "effects",
        "STATUS",
        regs::STATUS.offset,
        u32::from(status.error_code()),
        u32::from(regs::error_code::BAD_RING),
        "enabling with an invalid RING_SIZE (2) stops the device: error_code BAD_RING",
    );
    let int_error = regs::field::INT_STATUS::error.mask();
    rep.push(
        "effects",
        "INT_STATUS",
        regs::INT_STATUS.offset,
        dev.read32(regs::INT_STATUS.offset)? & int_error,
        int_error,
        "entering the error state sets INT_STATUS.error",
    );

    soft_reset(dev)?;
    hw_reset(dev, all, rep, "reset_after")
}

fn window_cmd(dev: &mut dyn Backend, cmd: u32, op: u32) -> Result<(), BackendError> {
    dev.write32(cmd, op)
}

fn mem_walk(dev: &mut dyn Backend, rep: &mut Report) -> Result<(), BackendError> {
    use regs::window_op::{READ, WRITE};
    // Route table: prefix word 3, AS and egress ifIndex carry a value unique per entry.
    for e in 0..ROUTE_ENTRIES as u32 {
        dev.write32(regs::ROUTE_INDEX.offset, e)?;
        dev.write32(regs::ROUTE_PREFIX.at(3), pattern(e, 1))?;
        dev.write32(regs::ROUTE_AS.offset, pattern(e, 2))?;
        dev.write32(regs::ROUTE_OUTIF.offset, pattern(e, 3))?;
        let mut meta = regs::RouteMeta(0);
        meta.set_prefix_len(128);
        meta.set_valid(true);
        dev.write32(regs::ROUTE_META.offset, meta.0)?;
        window_cmd(dev, regs::ROUTE_CMD.offset, WRITE)?;
    }
    let mut bad = (0u32, 0u32, 0u32);
    for e in 0..ROUTE_ENTRIES as u32 {
        dev.write32(regs::ROUTE_INDEX.offset, e)?;
        dev.write32(regs::ROUTE_AS.offset, 0)?;
        window_cmd(dev, regs::ROUTE_CMD.offset, READ)?;
        let got = (
            dev.read32(regs::ROUTE_PREFIX.at(3))?,
            dev.read32(regs::ROUTE_AS.offset)?,
            dev.read32(regs::ROUTE_OUTIF.offset)?,
        );
        if got != (pattern(e, 1), pattern(e, 2), pattern(e, 3)) {
            bad.0 += 1;
            if bad.0 == 1 {
                bad.1 = e;
                bad.2 = got.1;
            }
        }
    }
    rep.push(
        "mem_walk",
        "route table",
        regs::ROUTE_INDEX.offset,
        bad.0,
        0,
        format!(
            "{ROUTE_ENTRIES} entries; entries that read back wrong (first at {} read AS {:#x})",
            bad.1, bad.2
        ),
    );
    window_walk(
        dev,
        rep,
        "interface table",
        (&regs::IFACE_INDEX, &regs::IFACE_CMD, IFACE_ENTRIES),
        |dev, v| dev.write32(regs::IFACE_IFINDEX.offset, pattern(v, 4)),
        |dev| dev.write32(regs::IFACE_IFINDEX.offset, 0),
        |dev, v| Ok(dev.read32(regs::IFACE_IFINDEX.offset)? == pattern(v, 4)),
    )?;
    let label_mask = regs::field::LABEL_VALUE::label.mask();
    let valid = regs::field::LABEL_VALUE::valid.mask();
    window_walk(
        dev,
        rep,
        "label table",
        (&regs::LABEL_INDEX, &regs::LABEL_CMD, LABEL_ENTRIES),
        |dev, e| {
            dev.write32(
                regs::LABEL_VALUE.offset,
                (pattern(e, 5) & label_mask) | valid,
            )?;
            dev.write32(regs::LABEL_ADDR.offset, pattern(e, 6))
        },
        |dev| dev.write32(regs::LABEL_ADDR.offset, 0),
        |dev, e| {
            Ok(
                dev.read32(regs::LABEL_VALUE.offset)? & label_mask == pattern(e, 5) & label_mask
                    && dev.read32(regs::LABEL_ADDR.offset)? == pattern(e, 6),
            )
        },
    )
}

/// The memory walk of one table window (`index` register, `cmd` register, `entries`):
/// `write` a pattern into every entry, then for each `clear` the value registers, read
/// the entry back and `check` it; reports how many read back wrong.
fn window_walk(
    dev: &mut dyn Backend,
    rep: &mut Report,
    table: &str,
    (index, cmd, entries): (&regs::Register, &regs::Register, usize),
    write: impl Fn(&mut dyn Backend, u32) -> Result<(), BackendError>,
    clear: impl Fn(&mut dyn Backend) -> Result<(), BackendError>,
    check: impl Fn(&mut dyn Backend, u32) -> Result<bool, BackendError>,
) -> Result<(), BackendError> {
    use regs::window_op::{READ, WRITE};
    for e in 0..entries as u32 {
        dev.write32(index.offset, e)?;
        write(dev, e)?;
        window_cmd(dev, cmd.offset, WRITE)?;
    }
    let mut wrong = 0;
    for e in 0..entries as u32 {
        dev.write32(index.offset, e)?;
        clear(dev)?;
        window_cmd(dev, cmd.offset, READ)?;
        wrong += u32::from(!check(dev, e)?);
    }
    rep.push(
        "mem_walk",
        table,
        index.offset,
        wrong,
        0,
        format!("{entries} entries; entries that read back wrong"),
    );
    Ok(())
}

fn w1c(dev: &mut dyn Backend, rep: &mut Report) -> Result<(), BackendError> {
    let flush_done = regs::field::INT_STATUS::flush_done.mask();
    let flush = regs::field::CTRL::flush.mask();
    let before = dev.read32(regs::FLUSH_COUNT.offset)?;
    dev.write32(regs::CTRL.offset, flush)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while dev.read32(regs::FLUSH_COUNT.offset)? == before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    rep.push(
        "w1c",
        "FLUSH_COUNT",
        regs::FLUSH_COUNT.offset,
        dev.read32(regs::FLUSH_COUNT.offset)?.wrapping_sub(before),
        1,
        "a flush completes and is counted",
    );
    let st = regs::INT_STATUS.offset;
    rep.push(
        "w1c",
        "INT_STATUS",
        st,
        dev.read32(st)? & flush_done,
        flush_done,
        "flush_done set by hardware",
    );
    dev.write32(st, 0)?;
    rep.push(
        "w1c",
        "INT_STATUS",
        st,
        dev.read32(st)? & flush_done,
        flush_done,
        "writing 0 leaves it set",
    );
    dev.write32(st, flush_done)?;
    rep.push(
        "w1c",
        "INT_STATUS",
        st,
        dev.read32(st)? & flush_done,
        0,
        "writing 1 clears it",
    );
    Ok(())
}

fn unknown(dev: &mut dyn Backend, all: &[Instance], rep: &mut Report) -> Result<(), BackendError> {
    // Holes: every word of BAR0 that no register occupies, sampled.
    let used: std::collections::HashSet<u32> = all.iter().map(|i| i.offset).collect();
    let holes: Vec<u32> = (0..regs::BAR0_SIZE / 4)
        .map(|w| w * 4)
        .filter(|o| !used.contains(o))
        .step_by(37)
        .collect();
    let before = dev.read32(regs::UNKNOWN_ACCESS.offset)?;
    let mut nonzero = 0;
    for o in &holes {
        dev.write32(*o, 0xDEAD_BEEF)?;
        nonzero += u32::from(dev.read32(*o)? != 0);
    }
    rep.push(
        "unknown",
        "unmapped offsets",
        0,
        nonzero,
        0,
        format!(
            "{} holes written with 0xdeadbeef; holes that read non-zero",
            holes.len()
        ),
    );
    let counted = dev
        .read32(regs::UNKNOWN_ACCESS.offset)?
        .wrapping_sub(before);
    rep.push(
        "unknown",
        "UNKNOWN_ACCESS",
        regs::UNKNOWN_ACCESS.offset,
        counted,
        holes.len() as u32,
        "each ignored write counted",
    );
    Ok(())
}
