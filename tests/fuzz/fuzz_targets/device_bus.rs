//! Fuzz target `device_bus`: hwsim's device driven through its buses
//! ([`nsflow_hwsim::serve::Bus`], what the vfio-user server serves) by a sequence of
//! operations from the input (see `nsflow_fuzz::bus_ops`): BAR0 writes and reads of any
//! register with any value, frames and raw batches into the traffic port (BAR2), accesses
//! of any size to any region, DMA maps and unmaps of a scratch file at chosen addresses,
//! resets. The harness plays a driver that owns the ring: it maps a ring (and its
//! write-back) of 64 records, keeps the ring registers programmed (writes to them from
//! the input are not passed on; after a reset they are programmed again, as a driver
//! recovers), and consumes every record published after each operation. The input may
//! unmap the ring and map its scratch file there instead (the device then faults and
//! drops); the harness maps its ring again only for the final flush. Checks:
//! * no panic, whatever the operations;
//! * the device publishes no more records than the ring has room for, each one valid
//!   (`Record::decode`), of a profile that exists and with its pass's phase;
//! * no write outside mapped memory: the scratch file is zero outside every window ever
//!   mapped and grows at most to a window's end, the ring file is zero past the ring and
//!   its write-back and never grows;
//! * conservation: after a final flush (traffic queue drained, `CTRL.enable | flush`, every
//!   record consumed), per profile the packets and bytes merged since the last reset equal
//!   those in the records consumed since then plus those dropped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsflow_fuzz::bus_ops::{
    bar0_offset, parse, register_offsets, Op, ADDRESSES, FILE_OFFSETS, RING_IOVA, SIZES,
};
use nsflow_hwsim::generator::{Generator, GeneratorConfig};
use nsflow_hwsim::serve::Bus;
use nsflow_hwsim::BuildParams;
use nsflow_rtl::record::{phase_for, Record, RECORD_BYTES};
use nsflow_rtl::regs::{self, Ctrl, ProfileStat, Status, NUM_PROFILES};
use nsflow_rtl::sim_port::{self, SIM_PORT_DATA, SIM_PORT_FREE, SIM_PORT_REGION};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Ring entries, log2.
const RING_LOG2: u8 = 6;
const RING_BYTES: u64 = (RECORD_BYTES as u64) << RING_LOG2;
/// The ring file: the ring, then a page for the write-back.
const RING_FILE: u64 = RING_BYTES + 4096;
const WRITE_BACK: u64 = RING_IOVA + RING_BYTES;
/// The scratch file the input maps.
const SCRATCH: u64 = 64 * 1024;
/// Bytes of frames the traffic port queues.
const QUEUE: usize = 16 * 1024;
const BAR0: u32 = 0;

/// The registers the harness owns.
const RING_REGS: [u32; 6] = [
    regs::RING_BASE_LO.offset,
    regs::RING_BASE_HI.offset,
    regs::RING_WB_LO.offset,
    regs::RING_WB_HI.offset,
    regs::RING_SIZE.offset,
    regs::RING_CONS.offset,
];

fn memfd(len: u64) -> File {
    let fd = rustix::fs::memfd_create("nsflow-fuzz", rustix::fs::MemfdFlags::CLOEXEC)
        .unwrap_or_else(|e| panic!("fuzz harness: memfd: {e}"));
    let f = File::from(fd);
    f.set_len(len)
        .unwrap_or_else(|e| panic!("fuzz harness: memfd size: {e}"));
    f
}

fn clone(f: &File) -> File {
    f.try_clone()
        .unwrap_or_else(|e| panic!("fuzz harness: dup: {e}"))
}

struct Harness {
    bus: Bus,
    offsets: Vec<u32>,
    ring: File,
    scratch: File,
    /// Scratch windows ever mapped (file offset, length, device address).
    windows: Vec<(u64, u64, u64)>,
    /// The consumer index.
    cons: u32,
    /// Packets and bytes of the records consumed since the last reset, per profile.
    consumed: Vec<(u64, u64)>,
    /// Capture time of the next frame.
    clock_ns: u64,
}

impl Harness {
    fn new(drop_on_full: bool) -> Self {
        let params = BuildParams {
            orig_sets_log2: 3,
            orig_ways: 2,
            agg_sets_log2: 2,
            agg_ways: 2,
            drop_on_full,
            ..BuildParams::default()
        };
        let bus = Bus::new(params, QUEUE).unwrap_or_else(|e| panic!("fuzz harness: {e}"));
        let mut h = Self {
            bus,
            offsets: register_offsets(),
            ring: memfd(RING_FILE),
            scratch: memfd(SCRATCH),
            windows: Vec::new(),
            cons: 0,
            consumed: vec![(0, 0); NUM_PROFILES as usize],
            clock_ns: 1_700_000_000_000_000_000,
        };
        h.remap();
        h.repair();
        h
    }

    fn read32(&mut self, offset: u32) -> u32 {
        match self.bus.region_read(BAR0, offset.into(), 4) {
            Ok(b) => u32::from_le_bytes(b.try_into().unwrap_or_default()),
            Err(e) => panic!("BAR0 read of {offset:#x}: {e}"),
        }
    }

    /// A BAR0 write of the harness itself.
    fn write32(&mut self, offset: u32, value: u32) {
        if let Err(e) = self
            .bus
            .region_write(BAR0, offset.into(), &value.to_le_bytes())
        {
            panic!("BAR0 write of {offset:#x}: {e}");
        }
    }

    /// The device's stats were reset: what was consumed before no longer counts.
    fn forget(&mut self) {
        self.cons = 0;
        self.consumed.iter_mut().for_each(|c| *c = (0, 0));
    }

    /// A BAR0 write from the input: the ring registers are the harness's, and a write of
    /// `CTRL.soft_reset` resets the counts.
    fn input_bar0_write(&mut self, offset: u64, data: &[u8]) {
        if let Ok(off) = u32::try_from(offset) {
            if RING_REGS.contains(&off) {
                return;
            }
            if off == regs::CTRL.offset && data.len() == 4 {
                let v = u32::from_le_bytes(data.try_into().unwrap_or_default());
                if Ctrl(v).soft_reset() {
                    let _ = self.bus.region_write(BAR0, offset, data);
                    self.forget();
                    return;
                }
            }
        }
        let _ = self.bus.region_write(BAR0, offset, data);
    }

    /// Consumes every record published: checks each, counts its packets and bytes.
    fn consume(&mut self) {
        let prod = self.read32(regs::RING_PROD.offset);
        let n = prod.wrapping_sub(self.cons);
        assert!(
            n <= 1 << RING_LOG2,
            "producer {prod} is {n} records past consumer {}",
            self.cons
        );
        for k in 0..n {
            let i = self.cons.wrapping_add(k);
            let slot = u64::from(i & ((1 << RING_LOG2) - 1));
            let mut b = [0u8; RECORD_BYTES];
            let iova = RING_IOVA + slot * RECORD_BYTES as u64;
            let read = self.bus.with_device(|d| d.memory().read(iova, &mut b));
            assert!(read.is_ok(), "record {i} published where nothing is mapped");
            let r = Record::decode(&b).unwrap_or_else(|e| panic!("record {i}: {e}"));
            assert_eq!(r.phase, phase_for(i, RING_LOG2), "record {i}: phase");
            let Some(c) = self.consumed.get_mut(usize::from(r.profile)) else {
                panic!("record {i}: profile {}", r.profile);
            };
            c.0 += r.packets;
            c.1 += r.bytes;
        }
        if n > 0 {
            self.cons = prod;
            self.write32(regs::RING_CONS.offset, prod);
        }
    }

    /// Maps the ring file at the ring's address, in place of whatever the input mapped
    /// (every mapping of the input is withdrawn then).
    fn remap(&mut self) {
        let mapped = self
            .bus
            .with_device(|d| d.memory().is_mapped(RING_IOVA, RING_FILE));
        if !mapped {
            let _ = self
                .bus
                .dma_unmap(nsflow_rtl::vfio_user::DMA_UNMAP_ALL, 0, 0);
            if let Err(e) = self.bus.dma_map(RING_IOVA, RING_FILE, clone(&self.ring), 0) {
                panic!("fuzz harness: the ring cannot be mapped again: {e}");
            }
        }
    }

    /// What a driver does after each operation: its ring programmed (a ring programmed
    /// anew restarts both indices).
    fn repair(&mut self) {
        let want = [
            (regs::RING_BASE_LO.offset, RING_IOVA as u32),
            (regs::RING_BASE_HI.offset, (RING_IOVA >> 32) as u32),
            (regs::RING_WB_LO.offset, WRITE_BACK as u32),
            (regs::RING_WB_HI.offset, (WRITE_BACK >> 32) as u32),
        ];
        for (off, v) in want {
            if self.read32(off) != v {
                self.write32(off, v);
            }
        }
        if self.read32(regs::RING_SIZE.offset) != u32::from(RING_LOG2) {
            self.consume();
            self.write32(regs::RING_SIZE.offset, RING_LOG2.into());
            self.cons = 0;
        }
    }

    fn frames(&mut self, seed: u8, count: u8, gap_us: u16) {
        let gap_ns = u64::from(gap_us.max(1)) * 1000;
        let frames = Generator::new(GeneratorConfig {
            seed: seed.into(),
            flows: 1 + u32::from(seed % 32),
            sizes: vec![(64, 3), (200, 1)],
            rate_pps: (1_000_000_000 / gap_ns).max(1),
            start_ns: self.clock_ns,
            duration_ns: gap_ns * u64::from(count),
            tcp_percent: 50,
            random_sources: seed & 0x80 != 0,
        });
        let mut batch = Vec::new();
        for f in frames.take(count.into()) {
            self.clock_ns = self.clock_ns.max(f.ts_ns);
            sim_port::encode_frame(&mut batch, f.ts_ns, 1, &f.data);
        }
        self.clock_ns += gap_ns;
        let _ = self
            .bus
            .region_write(SIM_PORT_REGION, SIM_PORT_DATA, &batch);
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Bar0Write { reg, value } => {
                let off = bar0_offset(*reg, &self.offsets);
                self.input_bar0_write(off, &value.to_le_bytes());
            }
            Op::Bar0Read { reg } => {
                let off = bar0_offset(*reg, &self.offsets);
                let _ = self.bus.region_read(BAR0, off, 4);
            }
            Op::Frames {
                seed,
                count,
                gap_us,
            } => self.frames(*seed, *count, *gap_us),
            Op::Batch(b) => {
                let _ = self.bus.region_write(SIM_PORT_REGION, SIM_PORT_DATA, b);
            }
            Op::PortRead { offset } => {
                let _ = self.bus.region_read(SIM_PORT_REGION, u64::from(*offset), 4);
            }
            Op::Access {
                write,
                region,
                offset,
                count,
            } => {
                let (region, offset) = (u32::from(*region % 10), u64::from(*offset));
                if *write {
                    let data = vec![0u8; usize::from(*count)];
                    if region == BAR0 {
                        self.input_bar0_write(offset, &data);
                    } else {
                        let _ = self.bus.region_write(region, offset, &data);
                    }
                } else {
                    let _ = self.bus.region_read(region, offset, (*count).into());
                }
            }
            Op::DmaMap {
                address,
                size,
                offset,
            } => {
                let pick = |t: &[u64], i: u8| t[usize::from(i) % t.len()];
                let (iova, len) = (pick(&ADDRESSES, *address), pick(&SIZES, *size));
                let off = pick(&FILE_OFFSETS, *offset);
                // A driver never maps one piece of memory at two device addresses: the
                // device's write-back through one would overwrite the records it wrote
                // through the other (the fuzzer found exactly that: scratch offset 0 at
                // both the ring and the write-back, record 0 overwritten by the producer
                // index). Not a property of the device: such a map is not made.
                let aliases = self.windows.iter().any(|(o, l, at)| {
                    *at != iova && off < o.saturating_add(*l) && *o < off.saturating_add(len)
                });
                if !aliases
                    && self
                        .bus
                        .dma_map(iova, len, clone(&self.scratch), off)
                        .is_ok()
                {
                    self.windows.push((off, len, iova));
                }
            }
            Op::DmaUnmap { address, size, all } => {
                let pick = |t: &[u64], i: u8| t[usize::from(i) % t.len()];
                let flags = if *all {
                    nsflow_rtl::vfio_user::DMA_UNMAP_ALL
                } else {
                    0
                };
                let _ = self
                    .bus
                    .dma_unmap(flags, pick(&ADDRESSES, *address), pick(&SIZES, *size));
            }
            Op::Reset => {
                self.bus.reset();
                self.forget();
            }
        }
    }

    /// The final flush: the traffic queue drained, then `CTRL.enable | flush` until the
    /// flush is done and every record consumed.
    fn flush(&mut self) {
        self.consume();
        self.remap();
        for _ in 0..10_000 {
            self.consume();
            // A register write lets a port that held frames offer them again.
            self.write32(regs::RING_CONS.offset, self.cons);
            let free = self.bus.region_read(SIM_PORT_REGION, SIM_PORT_FREE, 4);
            let free = u32::from_le_bytes(
                free.ok()
                    .and_then(|b| b.try_into().ok())
                    .unwrap_or_default(),
            );
            let stopped = Status(self.read32(regs::STATUS.offset)).error();
            // Held frames of a device in its error state are never taken.
            if free as usize == QUEUE || stopped {
                break;
            }
        }
        // A flush the input started completes first: the final one then covers
        // everything taken.
        for round in 0.. {
            self.consume();
            if !Status(self.read32(regs::STATUS.offset)).flush_busy() {
                break;
            }
            assert!(round < 10_000, "the input's flush did not complete");
        }
        let before = self.read32(regs::FLUSH_COUNT.offset);
        let mut c = Ctrl(0);
        c.set_enable(true);
        c.set_flush(true);
        self.write32(regs::CTRL.offset, c.0);
        for round in 0.. {
            self.consume();
            let status = Status(self.read32(regs::STATUS.offset));
            if !status.flush_busy() && self.read32(regs::FLUSH_COUNT.offset) != before {
                break;
            }
            assert!(round < 10_000, "the flush did not complete: {status:?}");
        }
        self.consume();
    }

    /// Per profile: merged = consumed + dropped (packets and bytes).
    fn check_conservation(&mut self) {
        let mut c = Ctrl(0);
        c.set_enable(true);
        c.set_stats_snapshot(true);
        self.write32(regs::CTRL.offset, c.0);
        for p in 0..NUM_PROFILES {
            let mut stat = |s: ProfileStat| {
                let lo = regs::profile_stat(p, s);
                u64::from(self.read32(lo)) | u64::from(self.read32(lo + 4)) << 32
            };
            let merged = (
                stat(ProfileStat::MergedPackets),
                stat(ProfileStat::MergedBytes),
            );
            let dropped = (stat(ProfileStat::DropPackets), stat(ProfileStat::DropBytes));
            let consumed = self.consumed[p as usize];
            assert_eq!(
                merged,
                (consumed.0 + dropped.0, consumed.1 + dropped.1),
                "profile {p}: merged (packets, bytes) != consumed {consumed:?} + dropped {dropped:?}"
            );
        }
    }

    /// No byte outside the windows ever mapped was written.
    fn check_memory(&self) {
        let len = |f: &File| f.metadata().map(|m| m.len()).unwrap_or(0);
        let reach = self
            .windows
            .iter()
            .map(|(off, len, _)| off.saturating_add(*len))
            .fold(SCRATCH, u64::max);
        let scratch_len = len(&self.scratch);
        assert!(
            scratch_len <= reach,
            "the scratch file grew to {scratch_len:#x}"
        );
        assert_eq!(len(&self.ring), RING_FILE, "the ring file grew");
        // Windows start at most at the largest of FILE_OFFSETS, so past it and its
        // smallest window every byte of the file lies in a window that reaches it (the
        // file only grows by writes inside windows): only the start need be read.
        let start = (FILE_OFFSETS.iter().copied().fold(SCRATCH, u64::max) + 4096).min(scratch_len);
        let mut scratch = vec![0u8; start as usize];
        let _ = self.scratch.read_exact_at(&mut scratch, 0);
        // Whole words first (most of the file is zero), bytes only where a word is not.
        for (w, word) in scratch.chunks(8).enumerate() {
            if word.iter().fold(0u8, |a, b| a | b) == 0 {
                continue;
            }
            for (k, b) in word.iter().enumerate() {
                let i = (w * 8 + k) as u64;
                let inside = self
                    .windows
                    .iter()
                    .any(|(off, len, _)| i >= *off && i - off < *len);
                assert!(
                    *b == 0 || inside,
                    "scratch byte {i:#x} written outside every window"
                );
            }
        }
        let mut tail = vec![0u8; (RING_FILE - RING_BYTES - 8) as usize];
        let _ = self.ring.read_exact_at(&mut tail, RING_BYTES + 8);
        assert!(
            tail.iter().all(|b| *b == 0),
            "the ring file written past the write-back"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((flags, ops)) = data.split_first() else {
        return;
    };
    let mut h = Harness::new(flags & 1 == 1);
    for op in parse(ops) {
        h.apply(&op);
        h.consume();
        h.repair();
    }
    h.flush();
    h.check_conservation();
    h.check_memory();
});
