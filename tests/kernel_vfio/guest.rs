//! The payload of the kernel-VFIO guest test (tests/kernel_vfio/run.sh boots it in QEMU):
//! QEMU's `edu` device, bound to vfio-pci behind an emulated VT-d IOMMU, driven through the
//! driver's kernel-VFIO backend exactly as nsflow drives its engine — `VfioBackend::open`
//! (container, group, device, function reset, BAR0 region info and mmap, interrupt
//! eventfd), `Backend::{read32, write32, map_dma, unmap_dma, irq}`, `DmaMemory` and the
//! interrupt awaited through `Irq` as the drain does. Only the register offsets and the
//! 28-bit DMA width are edu's (QEMU docs/specs/edu.rst).
//!
//! Usage: `kernel_vfio_guest BDF`. Prints one `KVFIO check NAME: ok|FAIL - detail` line per
//! check and exits 1 when one fails. `KVFIO_BREAK=pattern` compares the DMA round trip
//! against a wrong pattern and `KVFIO_BREAK=iova` leaves the IOVA window above 2^28, each
//! to show that the checks catch it.

use nsflow_driver::backend::vfio::{VfioBackend, MSI_IRQ_INDEX};
use nsflow_driver::backend::{Backend, BackendError};
use nsflow_driver::dma::DmaMemory;
use nsflow_driver::irq::Irq;
use nsflow_driver::regcheck::RegcheckError;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;
use std::time::Duration;

/// edu's registers (BAR0 offsets) and constants.
mod edu {
    /// Identification: 0xRRrr00ed, major and minor version.
    pub const ID: u32 = 0x00;
    /// What the identification register reads.
    pub const ID_VALUE: u32 = 0x0100_00ed;
    /// Reads the bitwise inverse of the last value written.
    pub const LIVENESS: u32 = 0x04;
    /// Interrupt status; [`INT_ACK`] clears bits.
    pub const INT_STATUS: u32 = 0x24;
    /// Interrupt acknowledge.
    pub const INT_ACK: u32 = 0x64;
    /// DMA source, destination, byte count and command.
    pub const DMA_SRC: u32 = 0x80;
    /// See [`DMA_SRC`].
    pub const DMA_DST: u32 = 0x88;
    /// See [`DMA_SRC`].
    pub const DMA_COUNT: u32 = 0x90;
    /// See [`DMA_SRC`].
    pub const DMA_CMD: u32 = 0x98;
    /// Command: start the transfer.
    pub const CMD_START: u32 = 1;
    /// Command: from the device buffer to host memory (else host memory to the buffer).
    pub const CMD_TO_HOST: u32 = 2;
    /// Command: raise [`INT_DMA`] when done.
    pub const CMD_IRQ: u32 = 4;
    /// Interrupt status bit of a completed DMA.
    pub const INT_DMA: u32 = 0x100;
    /// The device buffer's address on edu's side of its DMA engine.
    pub const BUFFER: u32 = 0x40000;
    /// Bytes per transfer: half the 4 KiB device buffer. QEMU 7.2's edu stops the whole
    /// machine (`hw_error`) on a transfer that ends at the buffer's last byte (an
    /// off-by-one in its range check, fixed in later versions).
    pub const TRANSFER: usize = 2048;
    /// The address bits edu's DMA engine drives.
    pub const DMA_BITS: u32 = 28;
}

/// How long a DMA may take to complete (edu starts it 100 ms of virtual time later).
const DMA_TIMEOUT: Duration = Duration::from_secs(5);

/// A check's outcome: its detail line either way.
type Outcome = Result<String, String>;

fn fail<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// edu through the backend, its interrupt awaited as nsflow's drain awaits its engine's.
struct Edu {
    be: VfioBackend,
    irq: Irq,
}

impl Edu {
    fn read(&mut self, offset: u32) -> Result<u32, String> {
        self.be
            .read32(offset)
            .map_err(fail(&format!("read {offset:#x}")))
    }

    fn write(&mut self, offset: u32, value: u32) -> Result<(), String> {
        self.be
            .write32(offset, value)
            .map_err(fail(&format!("write {offset:#x}")))
    }

    /// One DMA of `len` bytes between host IOVA `iova` and the device buffer; returns the
    /// interrupt status that came with the completion interrupt (then acknowledged).
    /// edu's address registers take the IOVA's low 32 bits (the driver's BAR accesses are
    /// 32-bit) and its DMA engine masks them to [`edu::DMA_BITS`].
    async fn dma(&mut self, iova: u64, len: usize, to_host: bool) -> Result<u32, String> {
        let (src, dst, dir) = if to_host {
            (edu::BUFFER, iova as u32, edu::CMD_TO_HOST)
        } else {
            (iova as u32, edu::BUFFER, 0)
        };
        self.write(edu::DMA_SRC, src)?;
        self.write(edu::DMA_DST, dst)?;
        self.write(edu::DMA_COUNT, len as u32)?;
        self.write(edu::DMA_CMD, edu::CMD_START | dir | edu::CMD_IRQ)?;
        tokio::time::timeout(DMA_TIMEOUT, self.irq.wait())
            .await
            .map_err(|_| format!("no completion interrupt within {DMA_TIMEOUT:?}"))?
            .map_err(fail("interrupt eventfd"))?;
        let status = self.read(edu::INT_STATUS)?;
        self.write(edu::INT_ACK, status)?;
        Ok(status)
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31) ^ (i >> 8)) as u8).collect()
}

fn first_difference(got: &[u8], want: &[u8]) -> Option<(usize, u8, u8)> {
    got.iter()
        .zip(want)
        .enumerate()
        .find(|(_, (g, w))| g != w)
        .map(|(i, (g, w))| (i, *g, *w))
}

/// The kernel log from now on (`/dev/kmsg` past its end), to find the IOMMU's fault report.
struct KernelLog(std::fs::File);

impl KernelLog {
    fn from_now() -> Result<Self, String> {
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .map_err(fail("/dev/kmsg"))?;
        f.seek(SeekFrom::End(0)).map_err(fail("/dev/kmsg"))?;
        Ok(Self(f))
    }

    /// The first new message containing every one of `words`, waiting up to 2 s.
    async fn find(&mut self, words: &[&str]) -> Option<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        let mut buf = vec![0u8; 8192];
        while tokio::time::Instant::now() < deadline {
            match self.0.read(&mut buf) {
                Ok(n) => {
                    let rec = String::from_utf8_lossy(&buf[..n]);
                    let msg = rec.split_once(';').map_or(&*rec, |(_, m)| m).trim_end();
                    if words.iter().all(|w| msg.contains(w)) {
                        return Some(msg.to_owned());
                    }
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        None
    }
}

/// Prints a check's line; returns whether it passed.
fn report(name: &str, outcome: &Outcome) -> bool {
    match outcome {
        Ok(detail) => println!("KVFIO check {name}: ok - {detail}"),
        Err(detail) => println!("KVFIO check {name}: FAIL - {detail}"),
    }
    outcome.is_ok()
}

fn open(bdf: &str) -> Result<Edu, BackendError> {
    let be = VfioBackend::open(bdf)?;
    let efd = be
        .irq()
        .map(|e| e.try_clone())
        .transpose()
        .map_err(|source| BackendError::Io {
            context: "eventfd".into(),
            source,
        })?;
    let irq = efd
        .map(Irq::new)
        .transpose()
        .map_err(|source| BackendError::Io {
            context: "register the eventfd".into(),
            source,
        })?;
    match irq {
        Some(irq) => Ok(Edu { be, irq }),
        None => Err(BackendError::Vfio {
            context: bdf.into(),
            message: "no interrupt bound (edu has MSI)".into(),
        }),
    }
}

async fn run(bdf: &str, broken: &str) -> bool {
    let mut edu = match open(bdf) {
        Ok(edu) => edu,
        Err(e) => return report("open", &Err(e.to_string())),
    };
    let setup = edu.be.setup();
    let mut ok = report(
        "open",
        &Ok(format!(
            "container, group and device of {bdf}; BAR0 region {} KiB, mmapped",
            setup.bar0_size >> 10
        )),
    );
    ok &= report(
        "reset",
        &if setup.reset {
            Ok("VFIO_DEVICE_RESET done at open (bus reset through the root port)".into())
        } else {
            Err("the function was not reset: the kernel found no reset method".into())
        },
    );
    ok &= report(
        "msi",
        &if setup.irq_index == Some(MSI_IRQ_INDEX) {
            Ok("no MSI-X on edu: MSI bound to the interrupt eventfd".into())
        } else {
            Err(format!(
                "interrupt index {:?} bound, MSI ({MSI_IRQ_INDEX}) expected",
                setup.irq_index
            ))
        },
    );
    let id = edu.read(edu::ID).and_then(|v| {
        if v == edu::ID_VALUE {
            Ok(format!("ID register reads {v:#010x}"))
        } else {
            Err(format!(
                "ID register reads {v:#010x}, not {:#010x}",
                edu::ID_VALUE
            ))
        }
    });
    ok &= report("id", &id);
    let live = [0u32, 0x1234_5678, 0xa5a5_a5a5, u32::MAX]
        .iter()
        .try_for_each(|&x| {
            edu.write(edu::LIVENESS, x)?;
            match edu.read(edu::LIVENESS)? {
                v if v == !x => Ok(()),
                v => Err(format!("wrote {x:#010x}, read {v:#010x}, not {:#010x}", !x)),
            }
        })
        .map(|()| "4 values written read back inverted".to_owned());
    ok &= report("liveness", &live);
    ok &= report("regcheck-refuses", &regcheck_refuses(&mut edu));
    let width = if broken == "iova" {
        Ok("KVFIO_BREAK=iova: IOVA window left at 4 GiB..2^39".to_owned())
    } else {
        edu.be
            .set_dma_address_width(edu::DMA_BITS)
            .map(|()| format!("IOVAs limited to the {} bits edu drives", edu::DMA_BITS))
            .map_err(|e| e.to_string())
    };
    ok &= report("dma-width", &width);
    ok &= dma_checks(&mut edu, broken).await;
    ok
}

/// nsflow's regcheck, run on this device through the same backend, must refuse it on its
/// identity before writing anything: sentinels written to two of edu's read/write registers
/// (the liveness register and the DMA source address) read back unchanged afterwards, where
/// regcheck's bit-bash would have left its own patterns.
fn regcheck_refuses(edu: &mut Edu) -> Outcome {
    const LIVE: u32 = 0x0bad_cafe;
    const SRC: u32 = 0x0123_4000;
    edu.write(edu::LIVENESS, LIVE)?;
    edu.write(edu::DMA_SRC, SRC)?;
    let refusal = match nsflow_driver::regcheck::run(&mut edu.be) {
        Err(e @ RegcheckError::Identity(_)) => e.to_string(),
        Err(e) => return Err(format!("regcheck failed otherwise: {e}")),
        Ok(r) => return Err(format!("regcheck ran {} checks on edu", r.results.len())),
    };
    let (live, src) = (edu.read(edu::LIVENESS)?, edu.read(edu::DMA_SRC)?);
    if (live, src) != (!LIVE, SRC) {
        return Err(format!(
            "after the refusal the liveness register reads {live:#010x} (expected {:#010x}) and DMA source {src:#010x} (expected {SRC:#010x}): something was written",
            !LIVE
        ));
    }
    Ok(format!(
        "\"{refusal}\"; liveness and DMA source registers unchanged"
    ))
}

/// The DMA round trip, its interrupts, unmap, and a DMA to the unmapped IOVA.
async fn dma_checks(edu: &mut Edu, broken: &str) -> bool {
    let len = edu::TRANSFER;
    let mem = |what| DmaMemory::new(len).map_err(fail(what));
    let (src, dst) = match (mem("source"), mem("destination")) {
        (Ok(s), Ok(d)) => (s, d),
        (Err(e), _) | (_, Err(e)) => return report("dma", &Err(e)),
    };
    let data = pattern(len);
    let mut want = data.clone();
    if broken == "pattern" {
        want[1234] ^= 0xff;
    }
    let mut statuses = Vec::new();
    let round_trip: Result<(u64, u64), String> = async {
        src.write(0, &data).map_err(fail("fill the source"))?;
        let map = |be: &mut VfioBackend, m: &DmaMemory| be.map_dma(m).map_err(fail("map"));
        let s = map(&mut edu.be, &src)?;
        let d = map(&mut edu.be, &dst)?;
        statuses.push(edu.dma(s, len, false).await?);
        statuses.push(edu.dma(d, len, true).await?);
        Ok((s, d))
    }
    .await;
    let mut got = vec![0u8; len];
    let dma = round_trip.and_then(|(s, d)| {
        dst.read(0, &mut got)
            .map_err(fail("read the destination"))?;
        let top = s.max(d) + len as u64;
        let reach = 1u64 << edu::DMA_BITS;
        let path =
            format!("{len} bytes from IOVA {s:#x} to the device buffer and back to IOVA {d:#x}");
        match first_difference(&got, &want) {
            None if top <= reach => Ok((s, d, format!("{path}: identical"))),
            None => Err(format!("{path}: IOVAs end at {top:#x}, above 2^28")),
            Some((i, g, w)) => Err(format!(
                "{path}: byte {i} reads {g:#04x}, {w:#04x} expected{}",
                if top > reach {
                    format!(" (IOVAs above 2^{}: edu cannot reach them)", edu::DMA_BITS)
                } else {
                    String::new()
                }
            )),
        }
    });
    let (s, d) = match dma {
        Ok((s, d, detail)) => {
            report("dma", &Ok(detail));
            (s, d)
        }
        Err(e) => {
            report("dma", &Err(e));
            return false;
        }
    };
    let irqs = if statuses.iter().all(|st| st & edu::INT_DMA != 0) {
        Ok(format!(
            "both completions arrived by MSI on the eventfd, INT_STATUS {:#x}, acknowledged",
            edu::INT_DMA
        ))
    } else {
        Err(format!("INT_STATUS at the interrupts: {statuses:#x?}"))
    };
    let mut ok = report("irq", &irqs);
    let unmap = edu
        .be
        .unmap_dma(s, src.len())
        .and_then(|()| edu.be.unmap_dma(d, dst.len()))
        .map(|()| format!("IOVAs {s:#x} and {d:#x} withdrawn from the IOMMU"))
        .map_err(|e| e.to_string());
    ok &= report("unmap", &unmap);
    ok & report("iommu-blocks", &blocked(edu, &dst, d).await)
}

/// A DMA from the device buffer (holding the pattern) to the IOVA just unmapped: the
/// memory that was there must stay as it is; the IOMMU's fault report is the evidence.
async fn blocked(edu: &mut Edu, dst: &DmaMemory, iova: u64) -> Outcome {
    const SENTINEL: u8 = 0x5a;
    let len = dst.len().min(edu::TRANSFER);
    dst.write(0, &vec![SENTINEL; len])
        .map_err(fail("fill the destination"))?;
    let mut log = KernelLog::from_now()?;
    let completion = match edu.dma(iova, len, true).await {
        Ok(st) => format!("edu reported the DMA complete anyway (INT_STATUS {st:#x})"),
        Err(e) => format!("edu did not complete it ({e})"),
    };
    let mut got = vec![0u8; len];
    dst.read(0, &mut got)
        .map_err(fail("read the destination"))?;
    if let Some((i, g, _)) = first_difference(&got, &vec![SENTINEL; len]) {
        return Err(format!(
            "the DMA reached host memory: byte {i} reads {g:#04x}, {SENTINEL:#04x} left there"
        ));
    }
    let fault = log
        .find(&["DMAR", &format!("fault addr {iova:#x}")])
        .await
        .ok_or_else(|| format!("no DMAR fault at {iova:#x} in the kernel log"))?;
    Ok(format!(
        "DMA to unmapped IOVA {iova:#x}: host memory untouched ({len} bytes of {SENTINEL:#04x}); \
         {completion}; kernel: \"{fault}\""
    ))
}

fn main() -> ExitCode {
    let Some(bdf) = std::env::args().nth(1) else {
        eprintln!("usage: kernel_vfio_guest DDDD:BB:DD.F");
        return ExitCode::from(2);
    };
    let broken = std::env::var("KVFIO_BREAK").unwrap_or_default();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if rt.block_on(run(&bdf, &broken)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
