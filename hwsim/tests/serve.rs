//! `nsflow-hwsim serve` end to end: the real binary on a socket in a temporary directory,
//! driven with the third-party `vfio_user::Client` — registers, configuration space, DMA
//! into a file the test maps, the traffic port with backpressure, the interrupt eventfd,
//! resets and reconnection — and, as a hostile client, with raw messages on the socket:
//! lengths the protocol does not carry, a second client while one holds the device, a
//! stale socket left by a killed server. Each test stops its server by PID (SIGTERM, or
//! SIGKILL on panic).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::frames_1mpps;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use nsflow_hwsim::capture::Frame;
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::record::{Record, RECORD_BYTES};
use nsflow_rtl::regs::GlobalStat;
use nsflow_rtl::regs::{self, Ctrl, PrefixMin, ProfCtrl};
use nsflow_rtl::sim_port::{self, SIM_PORT_ACCEPTED, SIM_PORT_DATA, SIM_PORT_FREE};
use nsflow_rtl::vfio_user::{
    errno, Command as Cmd, Header, RegionAccess, Reply, Request, HEADER_BYTES, MAX_DATA_XFER,
};
use nsflow_rtl::AggregationMode;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use vfio_user::Client;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

const BAR0: u32 = 0;
const PORT: u32 = sim_port::SIM_PORT_REGION;
const CONFIG: u32 = 7;
const MSIX: u32 = 2;
/// `VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER`.
const EVENTFD_TRIGGER: u32 = 0x4 | 0x20;
const RING_IOVA: u64 = 0x1_0000_0000;

/// A running `nsflow-hwsim serve`.
struct Served {
    child: Child,
    socket: PathBuf,
    _stdout: BufReader<ChildStdout>,
    _dir: tempfile::TempDir,
}

impl Served {
    /// Starts the server and waits for its readiness line.
    fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("hwsim.sock");
        Self::start_at(dir, socket, extra)
    }

    /// Starts the server on `socket` (in `dir`) and waits for its readiness line.
    fn start_at(dir: tempfile::TempDir, socket: PathBuf, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nsflow-hwsim"))
            .arg("serve")
            .arg("--socket")
            .arg(&socket)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(
            line.trim_end(),
            format!("listening on {}", socket.display())
        );
        Self {
            child,
            socket,
            _stdout: stdout,
            _dir: dir,
        }
    }

    fn connect(&self) -> Client {
        Client::new(&self.socket).unwrap()
    }

    /// SIGTERM by PID; returns how it exited.
    fn stop(mut self) -> ExitStatus {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        kill(pid, Signal::SIGTERM).unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // After `stop` this finds the child reaped; after a panic it kills it by PID.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn r32(c: &mut Client, region: u32, offset: u64) -> u32 {
    let mut b = [0u8; 4];
    c.region_read(region, offset, &mut b).unwrap();
    u32::from_le_bytes(b)
}

fn w32(c: &mut Client, region: u32, offset: u32, v: u32) {
    c.region_write(region, offset.into(), &v.to_le_bytes())
        .unwrap();
}

fn reg(c: &mut Client, offset: u32) -> u32 {
    r32(c, BAR0, offset.into())
}

fn ctrl(f: impl Fn(&mut Ctrl)) -> u32 {
    let mut c = Ctrl(0);
    f(&mut c);
    c.0
}

fn stat(c: &mut Client, name: GlobalStat) -> u64 {
    w32(
        c,
        BAR0,
        regs::CTRL.offset,
        ctrl(|c| {
            c.set_enable(true);
            c.set_stats_snapshot(true);
        }),
    );
    let lo = regs::global_stat(name);
    u64::from(reg(c, lo)) | u64::from(reg(c, lo + 4)) << 32
}

/// The record ring in a file the server maps with DMA_MAP, and a consumer like a
/// driver's: producer index from the write-back slot after the ring, phase bits checked.
struct Ring {
    file: File,
    log2: u8,
    cons: u32,
    records: Vec<Record>,
}

impl Ring {
    fn bytes(&self) -> u64 {
        (RECORD_BYTES as u64) << self.log2
    }

    /// Maps the ring and programs it, one profile of `mode`, every interrupt unmasked,
    /// and enables the engine.
    fn program(c: &mut Client, log2: u8, mode: AggregationMode) -> Self {
        let ring = Ring {
            file: tempfile::tempfile().unwrap(),
            log2,
            cons: 0,
            records: Vec::new(),
        };
        let len = ring.bytes() + 4096;
        ring.file.set_len(len).unwrap();
        c.dma_map(0, RING_IOVA, len, ring.file.as_raw_fd()).unwrap();
        w32(c, BAR0, regs::CTRL.offset, ctrl(|c| c.set_soft_reset(true)));
        let p = EngineConfig::with_modes(&[mode]).profiles[0];
        let mut min = PrefixMin(0);
        min.set_src(p.src_min);
        min.set_dst(p.dst_min);
        let mut pc = ProfCtrl(0);
        pc.set_enable(true);
        pc.set_mode(mode.index());
        w32(c, BAR0, regs::PROF_FIELDS.at(0), p.select.0);
        w32(c, BAR0, regs::PROF_PREFIX_MIN.at(0), min.0);
        w32(c, BAR0, regs::PROF_CTRL.at(0), pc.0);
        let wb = RING_IOVA + ring.bytes();
        w32(c, BAR0, regs::RING_BASE_LO.offset, RING_IOVA as u32);
        w32(c, BAR0, regs::RING_BASE_HI.offset, (RING_IOVA >> 32) as u32);
        w32(c, BAR0, regs::RING_WB_LO.offset, wb as u32);
        w32(c, BAR0, regs::RING_WB_HI.offset, (wb >> 32) as u32);
        w32(c, BAR0, regs::RING_SIZE.offset, log2.into());
        w32(c, BAR0, regs::INT_MASK.offset, 0);
        w32(c, BAR0, regs::CTRL.offset, ctrl(|c| c.set_enable(true)));
        assert!(!regs::Status(reg(c, regs::STATUS.offset)).error());
        ring
    }

    /// Consumes every record published; returns how many.
    fn drain(&mut self, c: &mut Client) -> usize {
        let mut wb = [0u8; 8];
        self.file.read_exact_at(&mut wb, self.bytes()).unwrap();
        let prod = u64::from_le_bytes(wb) as u32;
        let n = prod.wrapping_sub(self.cons);
        for k in 0..n {
            let index = self.cons.wrapping_add(k);
            let slot = u64::from(index & ((1 << self.log2) - 1));
            let mut b = [0u8; RECORD_BYTES];
            self.file
                .read_exact_at(&mut b, slot * RECORD_BYTES as u64)
                .unwrap();
            let r = Record::decode(&b).unwrap();
            assert_eq!(r.phase, (index >> self.log2) & 1 == 0, "record {index}");
            self.records.push(r);
        }
        if n > 0 {
            self.cons = prod;
            w32(c, BAR0, regs::RING_CONS.offset, self.cons);
        }
        n as usize
    }

    /// Flushes and drains until the flush has completed and everything is consumed.
    fn flush(&mut self, c: &mut Client) {
        let before = reg(c, regs::FLUSH_COUNT.offset);
        w32(
            c,
            BAR0,
            regs::CTRL.offset,
            ctrl(|c| {
                c.set_enable(true);
                c.set_flush(true);
            }),
        );
        self.finish_flush(c, before);
    }

    fn finish_flush(&mut self, c: &mut Client, before: u32) {
        loop {
            let n = self.drain(c);
            if reg(c, regs::FLUSH_COUNT.offset) != before {
                break;
            }
            assert!(
                n > 0 || regs::Status(reg(c, regs::STATUS.offset)).flush_busy(),
                "flush neither busy nor complete"
            );
        }
        while self.drain(c) > 0 {}
    }
}

fn batch(frames: &[Frame]) -> Vec<u8> {
    let mut b = Vec::new();
    for f in frames {
        sim_port::encode_frame(&mut b, f.ts_ns, 1, &f.data);
    }
    b
}

/// Writes every frame through the traffic port, batches no larger than the free-space
/// register allows, draining the ring whenever the port holds.
fn send(c: &mut Client, ring: &mut Ring, frames: &[Frame]) {
    let mut i = 0;
    while i < frames.len() {
        let free = r32(c, PORT, SIM_PORT_FREE) as usize;
        let mut n = 0;
        let mut len = 0;
        while i + n < frames.len() {
            let l = sim_port::encoded_len(frames[i + n].data.len());
            if len + l > free.min(256 << 10) {
                break;
            }
            len += l;
            n += 1;
        }
        if n == 0 {
            assert!(ring.drain(c) > 0, "the port holds with nothing to consume");
            continue;
        }
        c.region_write(PORT, SIM_PORT_DATA, &batch(&frames[i..i + n]))
            .unwrap();
        i += n;
    }
}

/// (protocol, source port, destination port) of a generated Ethernet/IPv6 frame.
fn ports_key(f: &Frame) -> (u8, u16, u16) {
    let d = &f.data;
    (
        d[14 + 6],
        u16::from_be_bytes([d[54], d[55]]),
        u16::from_be_bytes([d[56], d[57]]),
    )
}

fn assert_socket_gone(path: &Path, status: ExitStatus) {
    assert!(status.success(), "server exited with {status}");
    assert!(!path.exists(), "{} left behind", path.display());
}

#[test]
fn identity_config_space_and_private_socket() {
    let s = Served::start(&[]);
    let meta = std::fs::metadata(&s.socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    let mut c = s.connect();
    assert_eq!(c.region(BAR0).unwrap().size, u64::from(regs::BAR0_SIZE));
    assert_eq!(c.region(PORT).unwrap().size, sim_port::SIM_PORT_SIZE);
    assert_eq!(c.region(CONFIG).unwrap().size, 256);
    assert_eq!(c.region(1).unwrap().size, 0);
    assert_eq!(c.get_irq_info(MSIX).unwrap().count, 1);
    assert_eq!(c.get_irq_info(0).unwrap().count, 0);

    assert_eq!(reg(&mut c, regs::ID_MAGIC.offset), regs::MAGIC);
    let v = reg(&mut c, regs::ID_VERSION.offset);
    assert_eq!(regs::field::ID_VERSION::major.get(v), regs::VERSION_MAJOR);

    // The documented experimental IDs, class "network controller, other", BAR sizing.
    assert_eq!(r32(&mut c, CONFIG, 0), 0xF10F_1234);
    assert_eq!(r32(&mut c, CONFIG, 8) >> 8, 0x02_80_00);
    w32(&mut c, CONFIG, 0x10, u32::MAX);
    assert_eq!(r32(&mut c, CONFIG, 0x10), !(regs::BAR0_SIZE - 1));
    w32(&mut c, CONFIG, 0x18, u32::MAX);
    assert_eq!(
        u64::from(r32(&mut c, CONFIG, 0x18)),
        !(sim_port::SIM_PORT_SIZE - 1) & 0xFFFF_FFFF
    );

    // BAR0 takes 32-bit accesses only: others read 0, and are counted.
    let unknown = reg(&mut c, regs::UNKNOWN_ACCESS.offset);
    let mut two = [0xAAu8; 2];
    c.region_read(BAR0, regs::ID_MAGIC.offset.into(), &mut two)
        .unwrap();
    assert_eq!(two, [0, 0]);
    c.region_write(BAR0, regs::INT_MASK.offset.into(), &[0, 0])
        .unwrap();
    assert_eq!(reg(&mut c, regs::INT_MASK.offset), regs::INT_MASK.reset());
    assert_eq!(reg(&mut c, regs::UNKNOWN_ACCESS.offset), unknown + 2);

    drop(c);
    let socket = s.socket.clone();
    assert_socket_gone(&socket, s.stop());
}

/// The MSI-X capability, read the way a PCI driver reads it — status bit 4, the
/// capabilities pointer, the list walked by hand — states the register map's layout, and
/// BAR4 is there with the table at its offset.
#[test]
fn config_space_has_the_msix_capability_of_the_map() {
    let s = Served::start(&[]);
    let mut c = s.connect();
    let status = r32(&mut c, CONFIG, 4) >> 16;
    assert_ne!(status & (1 << 4), 0, "status: capability list");
    let mut at = r32(&mut c, CONFIG, 0x34) & 0xFF;
    let cap = loop {
        assert!(
            (0x40..0x100).contains(&at) && at % 4 == 0,
            "pointer {at:#x}"
        );
        let head = r32(&mut c, CONFIG, at.into());
        if head & 0xFF == 0x11 {
            break at;
        }
        at = head >> 8 & 0xFF;
    };
    let head = r32(&mut c, CONFIG, cap.into());
    let control = head >> 16;
    assert_eq!(
        control & 0x7FF,
        u32::from(regs::MSIX_VECTORS) - 1,
        "table size"
    );
    assert_eq!(control & 0xC000, 0, "disabled and unmasked at reset");
    let table = r32(&mut c, CONFIG, u64::from(cap) + 4);
    let pba = r32(&mut c, CONFIG, u64::from(cap) + 8);
    assert_eq!(table & 7, u32::from(regs::MSIX_BAR));
    assert_eq!(table & !7, regs::MSIX_TABLE_OFFSET);
    assert_eq!(pba & 7, u32::from(regs::MSIX_BAR));
    assert_eq!(pba & !7, regs::MSIX_PBA_OFFSET);
    assert_eq!(
        c.get_irq_info(MSIX).unwrap().count,
        u32::from(regs::MSIX_VECTORS)
    );

    // The BAR: sized by config space and served, the vector masked at reset.
    let bar = u32::from(regs::MSIX_BAR);
    assert_eq!(c.region(bar).unwrap().size, u64::from(regs::MSIX_BAR_SIZE));
    let bar_reg = 0x10 + 4 * bar;
    w32(&mut c, CONFIG, bar_reg, u32::MAX);
    assert_eq!(
        r32(&mut c, CONFIG, bar_reg.into()),
        !(regs::MSIX_BAR_SIZE - 1)
    );
    let vector_control = regs::MSIX_TABLE_OFFSET + 12;
    assert_eq!(r32(&mut c, bar, vector_control.into()), 1);
    w32(&mut c, bar, vector_control, 0);
    assert_eq!(r32(&mut c, bar, vector_control.into()), 0);
    drop(c);
    let socket = s.socket.clone();
    assert_socket_gone(&socket, s.stop());
}

#[test]
fn an_existing_socket_path_is_refused() {
    let s = Served::start(&[]);
    let out = Command::new(env!("CARGO_BIN_EXE_nsflow-hwsim"))
        .arg("serve")
        .arg("--socket")
        .arg(&s.socket)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is in use: another server is listening there"),
        "{err}"
    );
    // The first server still serves, on the socket the second left alone.
    let mut c = s.connect();
    assert_eq!(reg(&mut c, regs::ID_MAGIC.offset), regs::MAGIC);
    drop(c);
    let socket = s.socket.clone();
    assert_socket_gone(&socket, s.stop());
}

#[test]
fn frames_through_the_port_come_back_as_records_with_backpressure_and_interrupts() {
    let s = Served::start(&[]);
    let mut c = s.connect();
    let irq = EventFd::new(EFD_NONBLOCK).unwrap();
    c.set_irqs(MSIX, EVENTFD_TRIGGER, 0, 1, &[irq.as_raw_fd()])
        .unwrap();
    // A 16-record ring and one protocol-port profile: the flush of ~500 aggregates
    // cannot fit in the ring and the record FIFO, so the engine must hold.
    let mode = AggregationMode::ProtocolPort;
    let mut ring = Ring::program(&mut c, 4, mode);
    let mut traffic = frames_1mpps(500, 2000);
    let extra = traffic.pop().unwrap();
    let sent = traffic.len() as u32;
    send(&mut c, &mut ring, &traffic);
    assert_eq!(r32(&mut c, PORT, SIM_PORT_ACCEPTED), sent);

    let before = reg(&mut c, regs::FLUSH_COUNT.offset);
    w32(
        &mut c,
        BAR0,
        regs::CTRL.offset,
        ctrl(|c| {
            c.set_enable(true);
            c.set_flush(true);
        }),
    );
    // A frame written during the flush waits in the port: the engine is holding (ring
    // full, nothing consumed), so it is not accepted and the port has no room.
    let mut late = extra.clone();
    late.data[54..56].copy_from_slice(&65535u16.to_be_bytes());
    c.region_write(PORT, SIM_PORT_DATA, &batch(std::slice::from_ref(&late)))
        .unwrap();
    assert_eq!(r32(&mut c, PORT, SIM_PORT_ACCEPTED), sent);
    assert_eq!(r32(&mut c, PORT, SIM_PORT_FREE), 0);
    assert!(regs::Status(reg(&mut c, regs::STATUS.offset)).ring_full());
    ring.finish_flush(&mut c, before);
    let first: Vec<Record> = ring.records.clone();
    // Consuming let the flush finish, and then the held frame in.
    assert_eq!(r32(&mut c, PORT, SIM_PORT_ACCEPTED), sent + 1);
    ring.flush(&mut c);

    // One record per distinct key in the first flush; every packet in exactly one record.
    let keys: BTreeSet<_> = traffic.iter().map(ports_key).collect();
    assert_eq!(first.len(), keys.len());
    assert!(
        first.len() > 16 + 256,
        "{} records cannot have held",
        first.len()
    );
    let late_records = &ring.records[first.len()..];
    assert_eq!(late_records.len(), 1);
    assert_eq!(late_records[0].packets, 1);
    assert!(ring.records.iter().all(|r| r.profile == 0));
    let packets: u64 = ring.records.iter().map(|r| r.packets).sum();
    assert_eq!(packets, u64::from(sent) + 1);
    let bytes: u64 = ring.records.iter().map(|r| r.bytes).sum();
    let ipv6_bytes: u64 = traffic
        .iter()
        .chain([&late])
        .map(|f| f.data.len() as u64 - 14)
        .sum();
    assert_eq!(bytes, ipv6_bytes);
    assert_eq!(stat(&mut c, GlobalStat::RxFrames), u64::from(sent) + 1);
    assert!(stat(&mut c, GlobalStat::StallRingFull) > 0);

    // flush_done (unmasked) was raised: the eventfd counts at least one message.
    assert!(irq.read().unwrap() >= 1);

    c.dma_unmap(RING_IOVA, ring.bytes() + 4096).unwrap();
    drop(c);
    let socket = s.socket.clone();
    assert_socket_gone(&socket, s.stop());
}

#[test]
fn the_port_refuses_malformed_and_oversized_batches_whole() {
    let s = Served::start(&["--port-queue-bytes", "4096"]);
    let mut c = s.connect();
    let mut ring = Ring::program(&mut c, 8, AggregationMode::ProtocolPort);
    assert_eq!(r32(&mut c, PORT, SIM_PORT_FREE), 4096);
    let unknown = |c: &mut Client| reg(c, regs::UNKNOWN_ACCESS.offset);
    let u0 = unknown(&mut c);

    // Truncated frame header.
    c.region_write(PORT, SIM_PORT_DATA, &[0u8; 10]).unwrap();
    // 64 frames of 60 bytes: 64 × 80 = 5120 bytes, more than the 4096 free.
    let traffic = frames_1mpps(10, 64);
    let big = batch(&traffic);
    assert!(big.len() > 4096);
    c.region_write(PORT, SIM_PORT_DATA, &big).unwrap();
    // A batch anywhere but at SIM_PORT_DATA.
    c.region_write(PORT, SIM_PORT_DATA + 8, &batch(&traffic[..1]))
        .unwrap();
    assert_eq!(r32(&mut c, PORT, SIM_PORT_ACCEPTED), 0);
    assert_eq!(unknown(&mut c), u0 + 3);

    send(&mut c, &mut ring, &traffic);
    assert_eq!(r32(&mut c, PORT, SIM_PORT_ACCEPTED), 64);
    ring.flush(&mut c);
    let packets: u64 = ring.records.iter().map(|r| r.packets).sum();
    assert_eq!(packets, 64);
    assert_eq!(unknown(&mut c), u0 + 3);
    drop(c);
    s.stop();
}

#[test]
fn reset_and_reconnection_return_the_device_to_power_on() {
    let s = Served::start(&[]);
    let mut c = s.connect();
    let reset = regs::INT_MASK.reset();
    assert_ne!(reset, 0);
    w32(&mut c, BAR0, regs::INT_MASK.offset, 0);
    assert_eq!(reg(&mut c, regs::INT_MASK.offset), 0);
    c.reset().unwrap();
    assert_eq!(reg(&mut c, regs::INT_MASK.offset), reset);

    // Frames queued and the accepted count belong to the connection.
    let mut ring = Ring::program(&mut c, 8, AggregationMode::ProtocolPort);
    send(&mut c, &mut ring, &frames_1mpps(10, 5));
    assert_eq!(r32(&mut c, PORT, SIM_PORT_ACCEPTED), 5);
    w32(&mut c, BAR0, regs::INT_MASK.offset, 0);
    drop(c);

    let mut c = s.connect();
    assert_eq!(reg(&mut c, regs::INT_MASK.offset), reset);
    assert_eq!(r32(&mut c, PORT, SIM_PORT_ACCEPTED), 0);
    assert!(!Ctrl(reg(&mut c, regs::CTRL.offset)).enable());
    // The old client's ring is no longer mapped: a new one maps at the same address (the
    // client does not report DMA_MAP errors, so this shows in where the records land).
    let mut ring = Ring::program(&mut c, 8, AggregationMode::ProtocolPort);
    send(&mut c, &mut ring, &frames_1mpps(10, 7));
    ring.flush(&mut c);
    let packets: u64 = ring.records.iter().map(|r| r.packets).sum();
    assert_eq!(packets, 7);
    drop(c);
    s.stop();
}

/// A raw connection to the server: messages encoded with `nsflow_rtl::vfio_user`, or
/// written by hand where they are malformed.
struct Raw(UnixStream);

impl Raw {
    fn connect(s: &Served) -> Self {
        let stream = UnixStream::connect(&s.socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Self(stream)
    }

    fn send(&mut self, msg: &[u8]) {
        self.0.write_all(msg).unwrap();
    }

    /// The next reply: its header and body.
    fn reply(&mut self) -> (Header, Vec<u8>) {
        let mut head = [0u8; HEADER_BYTES];
        self.0.read_exact(&mut head).unwrap();
        let h = Header::decode(&head);
        let mut body = vec![0u8; h.body_len().unwrap()];
        self.0.read_exact(&mut body).unwrap();
        (h, body)
    }

    /// Sends `req` and returns the errno of its error reply (`None`: it succeeded).
    fn errno(&mut self, req: &[u8]) -> Option<u32> {
        self.send(req);
        let (h, _) = self.reply();
        assert!(h.is_reply());
        h.error()
    }

    fn read32(&mut self, region: u32, offset: u64) -> u32 {
        self.send(&Request::RegionRead(access(region, offset, 4)).encode(7));
        let (h, body) = self.reply();
        assert_eq!(h.error(), None);
        match Reply::decode(Cmd::RegionRead, &body).unwrap() {
            Reply::RegionRead(_, data) => u32::from_le_bytes(data.try_into().unwrap()),
            r => panic!("{r:?}"),
        }
    }
}

fn access(region: u32, offset: u64, count: u32) -> RegionAccess {
    RegionAccess {
        offset,
        region,
        count,
    }
}

/// A message of `command` whose header claims `size` bytes, followed by `body`.
fn message(command: Cmd, size: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Header {
        id: 3,
        command: command as u16,
        size,
        flags: 0,
        error: 0,
    }
    .encode()
    .to_vec();
    m.extend_from_slice(body);
    m
}

/// Peak resident memory of process `pid`, kB (`VmHWM`).
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn lengths_a_client_claims_are_bounded_answered_with_errors_and_the_server_keeps_serving() {
    let s = Served::start(&[]);
    let mut raw = Raw::connect(&s);
    // Before: the crate's server allocated the count of a read before looking at it —
    // 1 GiB of resident memory for this read, an abort ("memory allocation of 4294967295
    // bytes failed") for the next one.
    for count in [1 << 30, u32::MAX, MAX_DATA_XFER + 1] {
        let req = Request::RegionRead(access(BAR0, 0, count)).encode(1);
        assert_eq!(raw.errno(&req), Some(errno::EMSGSIZE), "count {count:#x}");
    }
    // Within the protocol's maximum but past the region's end, or in no region at all.
    for (region, offset, count) in [
        (BAR0, 4, regs::BAR0_SIZE),
        (BAR0, u64::MAX - 1, 4),
        (PORT, sim_port::SIM_PORT_SIZE, 1),
        (CONFIG, 0, 257),
        (1, 0, 4),
        (1000, 0, 4),
    ] {
        let req = Request::RegionRead(access(region, offset, count)).encode(2);
        assert_eq!(
            raw.errno(&req),
            Some(errno::EINVAL),
            "{region} {offset:#x}+{count}"
        );
        let data = vec![0u8; count as usize];
        let req = Request::RegionWrite(access(region, offset, count), &data).encode(2);
        assert_eq!(
            raw.errno(&req),
            Some(errno::EINVAL),
            "{region} {offset:#x}+{count}"
        );
    }
    // A write whose count is not the data it carries; an unsupported command; a reply
    // sent as a command; VERSION capabilities without their NUL; a file descriptor where
    // the command takes none.
    let mut body = vec![0u8; 8 + 4];
    body.extend_from_slice(&4u32.to_le_bytes());
    body.extend_from_slice(&[0; 8]);
    // The count says 4 and 8 bytes follow.
    assert_eq!(
        raw.errno(&message(Cmd::RegionWrite, 16 + 16 + 8, &body)),
        Some(errno::EINVAL)
    );
    let mut unsupported = message(Cmd::Version, 16, &[]);
    unsupported[2..4].copy_from_slice(&6u16.to_le_bytes());
    assert_eq!(raw.errno(&unsupported), Some(errno::ENOTSUP));
    let mut reply = Reply::DeviceReset.encode(4);
    reply[8] = 1;
    assert_eq!(raw.errno(&reply), Some(errno::EINVAL));
    assert_eq!(
        raw.errno(&message(Cmd::Version, 23, b"\0\0\x01\0{}x")),
        Some(errno::EINVAL)
    );
    let efd = EventFd::new(0).unwrap();
    let reset = Request::DeviceReset.encode(5);
    send_with_fd(&raw.0, &reset, efd.as_raw_fd());
    let (h, _) = raw.reply();
    assert_eq!(h.error(), Some(errno::EINVAL));
    // The same connection still serves.
    assert_eq!(raw.read32(BAR0, regs::ID_MAGIC.offset.into()), regs::MAGIC);
    let pid = s.child.id();
    assert!(
        peak_rss_kb(pid) < 256 * 1024,
        "peak RSS {} kB",
        peak_rss_kb(pid)
    );

    // A message larger than the protocol carries: refused unread, connection closed
    // (where the next message would start is unknown).
    raw.send(&message(Cmd::RegionWrite, u32::MAX, &[0; 64]));
    let (h, _) = raw.reply();
    assert_eq!(h.error(), Some(errno::EMSGSIZE));
    let mut rest = Vec::new();
    match raw.0.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "{rest:?}"),
        // Closed with the unread body in its buffer.
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
    // The next client is served.
    let mut c = s.connect();
    assert_eq!(reg(&mut c, regs::ID_MAGIC.offset), regs::MAGIC);
    drop(c);
    let socket = s.socket.clone();
    assert_socket_gone(&socket, s.stop());
}

/// Sends `msg` with the file descriptor `fd` (SCM_RIGHTS).
fn send_with_fd(stream: &UnixStream, msg: &[u8], fd: i32) {
    use vmm_sys_util::sock_ctrl_msg::ScmSocket;
    let n = stream.send_with_fd(msg, fd).unwrap();
    assert_eq!(n, msg.len());
}

#[test]
fn a_second_client_is_told_another_holds_the_device() {
    let s = Served::start(&[]);
    let mut first = s.connect();
    assert_eq!(reg(&mut first, regs::ID_MAGIC.offset), regs::MAGIC);
    // Before: the second client's VERSION waited, unanswered, for as long as the first
    // stayed connected.
    let mut second = Raw::connect(&s);
    let t = Instant::now();
    let version = Request::Version {
        major: 0,
        minor: 1,
        caps: "{}",
    }
    .encode(0);
    assert_eq!(second.errno(&version), Some(errno::EBUSY));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // The first client was not disturbed; once it leaves, the next one is served.
    assert_eq!(reg(&mut first, regs::ID_MAGIC.offset), regs::MAGIC);
    drop(first);
    let mut third = s.connect();
    assert_eq!(reg(&mut third, regs::ID_MAGIC.offset), regs::MAGIC);
    drop(third);
    s.stop();
}

#[test]
fn a_stale_socket_is_replaced_and_anything_else_at_the_path_refused() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("hwsim.sock");
    // A server killed with SIGKILL leaves its socket behind; nothing listens there.
    let killed = Served::start_at(tempfile::tempdir().unwrap(), socket.clone(), &[]);
    let mut killed = killed;
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    assert!(socket.exists(), "the killed server's socket is left behind");
    // Before: "already exists … (remove it)", exit 1.
    let s = Served::start_at(dir, socket.clone(), &[]);
    let mut c = s.connect();
    assert_eq!(reg(&mut c, regs::ID_MAGIC.offset), regs::MAGIC);
    drop(c);
    assert_socket_gone(&socket, s.stop());

    // A file that is not a socket is never replaced.
    let other = tempfile::tempdir().unwrap();
    let file = other.path().join("not-a-socket");
    std::fs::write(&file, "data").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nsflow-hwsim"))
        .arg("serve")
        .arg("--socket")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a socket: not replaced"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "data");
}
