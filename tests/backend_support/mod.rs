//! What the driver's integration suite needs around it: the shared captures, the backends
//! to run it on (the in-process model, and `nsflow-hwsim serve` reached over vfio-user),
//! replaying frames through the driver, and the reference aggregator's totals to compare
//! drained records with.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nsflow_driver::backend::sim::SimBackend;
use nsflow_driver::backend::vfio_user::VfioUserBackend;
use nsflow_driver::backend::{Backend, BackendError, TrafficPort};
use nsflow_driver::device::{Device, DeviceError};
use nsflow_driver::dma::DmaMemory;
use nsflow_hwsim::capture::{CaptureReader, Frame};
use nsflow_hwsim::Fault;
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::record::Record;
use nsflow_rtl::reference::{ReferenceAggregator, ReferenceOutput};
use nsflow_rtl::tables::{Route, Tables};
use nsflow_rtl::FlowKey;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use vmm_sys_util::eventfd::EventFd;

/// Makes a fresh device (a new model, or a new server process) each time it is called.
pub use nsflow_rtl::program::LimitError;
pub use nsflow_rtl::regs::{GlobalStat, ProfileStat};

/// Makes a fresh device (a new model, or a new server process) each time it is called.
pub type Factory = Box<dyn Fn() -> Box<dyn Backend>>;

/// How long a flush may take in these tests (a bound against hangs, not a measurement).
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

pub use nsflow_testkit::shared::in_ci;

/// Every traffic capture of `shared/` (see [`nsflow_testkit::shared::traffic_captures`]);
/// None (a skip, a failure under CI) when `shared/` is missing.
pub fn traffic_captures() -> Option<Vec<PathBuf>> {
    nsflow_testkit::shared::require_shared().map(|d| nsflow_testkit::shared::traffic_captures(&d))
}

/// Every shared capture one after the other, as one long stretch of traffic: the frames
/// in file order, times rewritten so that they never run backwards and no gap between
/// frames exceeds [`MAX_GAP_NS`] (captures whose clocks jump by years would otherwise make
/// decades of device time), each capture starting one maximal gap after the previous
/// one. Relative times within a capture are kept up to that gap, so flows age on timers
/// of seconds as they did on the wire. None (a skip) without `shared/`. Read once per test
/// process.
pub fn all_traffic() -> Option<&'static [Frame]> {
    static ALL: OnceLock<Option<Vec<Frame>>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<Frame> = Vec::new();
        let mut t = 1_700_000_000_000_000_000u64;
        for path in traffic_captures()? {
            let Ok(frames) = CaptureReader::read_all(&path) else {
                continue;
            };
            let mut prev: Option<u64> = None;
            for mut f in frames {
                let gap = prev.map_or(MAX_GAP_NS, |p| f.ts_ns.saturating_sub(p));
                prev = Some(f.ts_ns);
                t += gap.min(MAX_GAP_NS);
                f.ts_ns = t;
                all.push(f);
            }
        }
        Some(all)
    })
    .as_deref()
}

/// The longest gap [`all_traffic`] keeps between two frames: above every timer the suite
/// programs except the default aggregate timers (which then end at the final flush).
pub const MAX_GAP_NS: u64 = 100_000_000_000;

/// A few routes and an interface so that the prefix, AS and interface modes have real keys.
pub fn tables() -> Tables {
    let r = |p: &str, len: u8, asn: u32, out_if: u32| Route {
        prefix: p.parse::<std::net::Ipv6Addr>().unwrap().octets(),
        len,
        origin_as: asn,
        next_hop: "fe80::1".parse::<std::net::Ipv6Addr>().unwrap().octets(),
        out_if,
    };
    Tables::new(
        &[
            r("2000::", 3, 64500, 2),
            r("2001:db8::", 32, 64501, 3),
            r("2a00::", 12, 64502, 4),
            r("fe80::", 10, 0, 1),
        ],
        &[(0, 1), (10, 7)],
        &[],
    )
    .unwrap()
}

// ----- backends ---------------------------------------------------------------------------

/// The in-process model.
pub fn sim() -> Option<Factory> {
    Some(Box::new(|| {
        Box::new(SimBackend::default_build().unwrap()) as Box<dyn Backend>
    }))
}

/// `nsflow-hwsim serve` over vfio-user: one server process per device. None (a skip, a
/// failure under CI) when the server binary is not there and cannot be built.
pub fn vfio_user() -> Option<Factory> {
    let bin = hwsim_binary()?;
    Some(Box::new(move || {
        Box::new(Served::start(&bin)) as Box<dyn Backend>
    }))
}

/// The server binary of this build (`nsflow_tests::try_workspace_binary`, built once per
/// test process).
pub fn hwsim_binary() -> Option<PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = nsflow_tests::try_workspace_binary("nsflow-hwsim", "nsflow-hwsim");
        if bin.is_none() {
            assert!(
                !in_ci(),
                "nsflow-hwsim is required under CI=true and `cargo build -p nsflow-hwsim` did not produce it"
            );
            eprintln!(
                "SKIPPED: nsflow-hwsim could not be built; the vfio-user suite runs under CI=true"
            );
        }
        bin
    })
    .clone()
}

/// A vfio-user backend connected to a server process this test started; the process is
/// stopped (by its PID, through the child handle) when the backend is dropped.
pub struct Served {
    backend: VfioUserBackend,
    child: Child,
    dir: PathBuf,
}

impl Served {
    /// Starts `bin serve --socket PATH` in a fresh directory and connects to it.
    pub fn start(bin: &Path) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "nsflow-driver-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("nsflow.sock");
        let mut child = Command::new(bin)
            .arg("serve")
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the server to listen (a bound against a server that never comes up).
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = None;
        loop {
            if socket.exists() {
                match VfioUserBackend::connect(&socket) {
                    Ok(backend) => {
                        return Self {
                            backend,
                            child,
                            dir,
                        }
                    }
                    Err(e) => last = Some(e),
                }
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("nsflow-hwsim serve exited with {status} before listening");
            }
            assert!(
                Instant::now() < deadline,
                "nsflow-hwsim serve did not take a connection on {} within 30 s: {last:?}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Served {
    /// The server's MSI-X layout, as the backend read it from configuration space.
    pub fn msix(&self) -> nsflow_rtl::msix::Msix {
        self.backend.msix()
    }

    /// The server's socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("nsflow.sock")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Backend for Served {
    fn describe(&self) -> String {
        self.backend.describe()
    }
    fn read32(&mut self, offset: u32) -> Result<u32, BackendError> {
        self.backend.read32(offset)
    }
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), BackendError> {
        self.backend.write32(offset, value)
    }
    fn map_dma(&mut self, mem: &DmaMemory) -> Result<u64, BackendError> {
        self.backend.map_dma(mem)
    }
    fn unmap_dma(&mut self, iova: u64, len: usize) -> Result<(), BackendError> {
        self.backend.unmap_dma(iova, len)
    }
    fn irq(&self) -> Option<&EventFd> {
        self.backend.irq()
    }
    fn traffic(&mut self) -> Option<&mut dyn TrafficPort> {
        self.backend.traffic()
    }
    fn set_dma_address_width(&mut self, bits: u32) -> Result<(), BackendError> {
        self.backend.set_dma_address_width(bits)
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// The in-process model behind a handle the test keeps, so that faults can be injected
/// into it ([`nsflow_hwsim::Device::inject`]) while a driver `Device` runs it.
#[derive(Clone)]
pub struct SharedSim {
    sim: Arc<Mutex<SimBackend>>,
    irq: Arc<EventFd>,
}

impl SharedSim {
    /// A model of the default build.
    pub fn new() -> Self {
        let sim = SimBackend::default_build().unwrap();
        let irq = Arc::new(sim.irq().unwrap().try_clone().unwrap());
        Self {
            sim: Arc::new(Mutex::new(sim)),
            irq,
        }
    }

    /// Injects a fault into the running model.
    pub fn inject(&self, fault: Fault) {
        self.lock().model().inject(fault);
    }

    fn lock(&self) -> MutexGuard<'_, SimBackend> {
        self.sim.lock().unwrap()
    }
}

impl Backend for SharedSim {
    fn describe(&self) -> String {
        self.lock().describe()
    }
    fn read32(&mut self, offset: u32) -> Result<u32, BackendError> {
        self.lock().read32(offset)
    }
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), BackendError> {
        self.lock().write32(offset, value)
    }
    fn map_dma(&mut self, mem: &DmaMemory) -> Result<u64, BackendError> {
        self.lock().map_dma(mem)
    }
    fn unmap_dma(&mut self, iova: u64, len: usize) -> Result<(), BackendError> {
        self.lock().unmap_dma(iova, len)
    }
    fn irq(&self) -> Option<&EventFd> {
        Some(&self.irq)
    }
    fn traffic(&mut self) -> Option<&mut dyn TrafficPort> {
        Some(self)
    }
    fn set_dma_address_width(&mut self, bits: u32) -> Result<(), BackendError> {
        self.lock().set_dma_address_width(bits)
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

impl TrafficPort for SharedSim {
    fn offer(&mut self, frames: &[Frame]) -> Result<usize, BackendError> {
        self.lock().offer(frames)
    }
}

// ----- traffic and totals -----------------------------------------------------------------

/// Offers `frames` to the device through its traffic port, draining the ring whenever the
/// device holds back, until every frame is taken.
pub fn replay(dev: &mut Device, frames: &[Frame], out: &mut Vec<Record>) {
    try_replay(dev, frames, out).unwrap();
}

/// [`replay`], returning the first error (a device that stopped, a ring that cannot be
/// trusted) instead of failing.
pub fn try_replay(
    dev: &mut Device,
    frames: &[Frame],
    out: &mut Vec<Record>,
) -> Result<(), DeviceError> {
    let mut next = 0;
    while next < frames.len() {
        let end = (next + 256).min(frames.len());
        let taken = dev
            .backend()
            .traffic()
            .expect("a modelled device has a traffic port")
            .offer(&frames[next..end])?;
        next += taken;
        dev.drain(out, usize::MAX)?;
        if taken == 0 {
            // The device holds back until ring space is freed: a register read lets an
            // in-process model run, and shows a device that stopped.
            dev.check_status()?;
            std::thread::yield_now();
        }
    }
    Ok(())
}

/// The reference aggregator's output for these frames, stamped as the device stamps them
/// (capture times never running backwards: the reference's own rule).
pub fn reference(cfg: &EngineConfig, tables: &Tables, frames: &[Frame]) -> ReferenceOutput {
    ReferenceAggregator::run(cfg.clone(), tables.clone(), frames)
}

/// (flows, packets, bytes) summed.
pub type Sums = (u64, u64, u64);

/// Per profile: (flows, packets, bytes) per key of the records.
pub fn per_key(records: &[Record], profiles: usize) -> Vec<BTreeMap<FlowKey, Sums>> {
    let mut v = vec![BTreeMap::new(); profiles];
    for r in records {
        let e: &mut Sums = v[usize::from(r.profile)].entry(r.key).or_default();
        e.0 += u64::from(r.flows);
        e.1 += r.packets;
        e.2 += r.bytes;
    }
    v
}

/// The reference's per-key totals in the same shape.
pub fn reference_per_key(r: &ReferenceOutput) -> Vec<BTreeMap<FlowKey, Sums>> {
    r.aggregates
        .iter()
        .map(|m| {
            m.iter()
                .map(|(k, t)| (*k, (t.flows, t.packets, t.bytes)))
                .collect()
        })
        .collect()
}

/// The same with the flow counts left out: what a flush in the middle of the traffic
/// (which splits original flows) leaves unchanged.
pub fn packets_bytes(m: &[BTreeMap<FlowKey, Sums>]) -> Vec<BTreeMap<FlowKey, (u64, u64)>> {
    m.iter()
        .map(|m| m.iter().map(|(k, s)| (*k, (s.1, s.2))).collect())
        .collect()
}

/// Per profile: (packets, bytes) over all records.
pub fn per_profile(records: &[Record], profiles: usize) -> Vec<(u64, u64)> {
    let mut v = vec![(0, 0); profiles];
    for r in records {
        let e = &mut v[usize::from(r.profile)];
        e.0 += r.packets;
        e.1 += r.bytes;
    }
    v
}
