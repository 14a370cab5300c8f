//! The vfio-user backend: a device served over a UNIX socket by another process, such as
//! `nsflow-hwsim serve --socket PATH`.
//!
//! BAR0 accesses are region read/write messages. DMA memory is shared as a file
//! descriptor (DMA_MAP with the memfd), so the device process writes the driver's memory
//! directly: the Rust vfio-user crate cannot start DMA from the server side, so shared
//! mappings are the design. The interrupt is an eventfd handed over with SET_IRQS. Frames
//! reach a modelled device through its traffic port (`nsflow_rtl::sim_port`, BAR2).

use super::{Backend, BackendError, TrafficPort};
use crate::dma::{DmaMemory, IovaAllocator};
use nsflow_rtl::sim_port;
use nsflow_rtl::sim_port::Frame;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use vfio_user::Client;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// `VFIO_PCI_BAR0_REGION_INDEX`.
const BAR0: u32 = 0;
/// `VFIO_PCI_MSIX_IRQ_INDEX`.
const MSIX: u32 = 2;
/// `VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER`.
const IRQ_EVENTFD_TRIGGER: u32 = 0x4 | 0x20;
/// Largest batch written in one message (the crate's default transfer limit is 1 MiB).
const MAX_BATCH: usize = 256 << 10;

/// A device reached through a vfio-user socket.
pub struct VfioUserBackend {
    path: PathBuf,
    client: Client,
    irq: Option<EventFd>,
    iova: IovaAllocator,
    batch: Vec<u8>,
}

fn err(context: &str) -> impl Fn(vfio_user::Error) -> BackendError + '_ {
    move |e| BackendError::VfioUser {
        context: context.to_owned(),
        message: e.to_string(),
    }
}

/// Why `path` cannot be a vfio-user server's socket, when that shows before connecting
/// (the client would only say "Connection refused"): nothing there, or not a socket.
fn not_a_socket(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(
            "no such socket: no vfio-user server listens there (start one with `nsflow-hwsim serve --socket PATH`)".into(),
        ),
        Ok(m) if m.is_dir() => Some("it is a directory, not a vfio-user socket".into()),
        Ok(m) if !m.file_type().is_socket() => {
            Some("it is a file, not a vfio-user socket".into())
        }
        _ => None,
    }
}

impl VfioUserBackend {
    /// Connects to the server at `path`, checks BAR0 is there and binds the interrupt.
    pub fn connect(path: &Path) -> Result<Self, BackendError> {
        if let Some(why) = not_a_socket(path) {
            return Err(BackendError::VfioUser {
                context: format!("connect to {}", path.display()),
                message: why,
            });
        }
        let mut client = Client::new(path).map_err(|e| BackendError::VfioUser {
            context: format!("connect to {}", path.display()),
            message: e.to_string(),
        })?;
        let bar0 = client.region(BAR0).map(|r| r.size).unwrap_or(0);
        if bar0 < u64::from(nsflow_rtl::regs::BAR0_SIZE) {
            return Err(BackendError::VfioUser {
                context: path.display().to_string(),
                message: format!(
                    "BAR0 is {bar0:#x} bytes, the register map needs {:#x}",
                    nsflow_rtl::regs::BAR0_SIZE
                ),
            });
        }
        let irq = match client.get_irq_info(MSIX) {
            Ok(info) if info.count > 0 => {
                let efd = EventFd::new(EFD_NONBLOCK).map_err(|source| BackendError::Io {
                    context: "eventfd".into(),
                    source,
                })?;
                client
                    .set_irqs(MSIX, IRQ_EVENTFD_TRIGGER, 0, 1, &[efd.as_raw_fd()])
                    .map_err(err("bind MSI-X vector 0"))?;
                Some(efd)
            }
            _ => None,
        };
        Ok(Self {
            path: path.to_owned(),
            client,
            irq,
            iova: IovaAllocator::default(),
            batch: Vec::new(),
        })
    }

    fn port_read32(&mut self, offset: u64) -> Result<u32, BackendError> {
        let mut b = [0u8; 4];
        self.client
            .region_read(sim_port::SIM_PORT_REGION, offset, &mut b)
            .map_err(err("traffic port read"))?;
        Ok(u32::from_le_bytes(b))
    }
}

impl Backend for VfioUserBackend {
    fn describe(&self) -> String {
        format!("vfio-user:{}", self.path.display())
    }

    fn read32(&mut self, offset: u32) -> Result<u32, BackendError> {
        let mut b = [0u8; 4];
        self.client
            .region_read(BAR0, u64::from(offset), &mut b)
            .map_err(err("BAR0 read"))?;
        Ok(u32::from_le_bytes(b))
    }

    fn write32(&mut self, offset: u32, value: u32) -> Result<(), BackendError> {
        self.client
            .region_write(BAR0, u64::from(offset), &value.to_le_bytes())
            .map_err(err("BAR0 write"))
    }

    fn map_dma(&mut self, mem: &DmaMemory) -> Result<u64, BackendError> {
        let iova = self.iova.alloc(mem.len() as u64, 4096)?;
        self.client
            .dma_map(0, iova, mem.len() as u64, mem.file().as_raw_fd())
            .map_err(err("DMA_MAP"))?;
        Ok(iova)
    }

    fn unmap_dma(&mut self, iova: u64, len: usize) -> Result<(), BackendError> {
        self.client
            .dma_unmap(iova, len as u64)
            .map_err(err("DMA_UNMAP"))?;
        self.iova.free(iova, len as u64);
        Ok(())
    }

    fn irq(&self) -> Option<&EventFd> {
        self.irq.as_ref()
    }

    fn traffic(&mut self) -> Option<&mut dyn TrafficPort> {
        if self.client.region(sim_port::SIM_PORT_REGION).is_some() {
            Some(self)
        } else {
            None
        }
    }
    fn set_dma_address_width(&mut self, bits: u32) -> Result<(), BackendError> {
        Ok(self.iova.set_width(bits)?)
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

impl TrafficPort for VfioUserBackend {
    fn offer(&mut self, frames: &[Frame]) -> Result<usize, BackendError> {
        let free = (self.port_read32(sim_port::SIM_PORT_FREE)? as usize).min(MAX_BATCH);
        self.batch.clear();
        let mut n = 0;
        for f in frames {
            if self.batch.len() + sim_port::encoded_len(f.data.len()) > free {
                break;
            }
            let link = f.link.map_or(sim_port::NO_LINK, |l| l.to_pcap());
            sim_port::encode_frame(&mut self.batch, f.ts_ns, link, &f.data);
            n += 1;
        }
        if n > 0 {
            self.client
                .region_write(
                    sim_port::SIM_PORT_REGION,
                    sim_port::SIM_PORT_DATA,
                    &self.batch,
                )
                .map_err(err("traffic port write"))?;
        }
        Ok(n)
    }
}
