//! The vfio-user backend: a device served over a UNIX socket by another process, such as
//! `nsflow-hwsim serve --socket PATH`.
//!
//! BAR0 accesses are region read/write messages. DMA memory is shared as a file
//! descriptor (DMA_MAP with the memfd), so the device process writes the driver's memory
//! directly: shared mappings are the design (the server starts no DMA of its own). The
//! interrupt is an eventfd handed over with SET_IRQS, bound to MSI-X vector 0 once the
//! device's MSI-X capability (read from configuration space) is found to state the register
//! map's layout ([`check_msix`]). Frames reach a modelled device through its traffic port
//! (`nsflow_rtl::sim_port`, BAR2).
//!
//! The protocol is [`client`]'s: every request has a deadline and every reply is checked,
//! so a server that is silent, answers garbage or an error, claims a huge size, serves
//! another client, or dies mid-run makes the request fail with a
//! [`BackendError::VfioUser`] that says which request and why — never a hang.

pub mod client;

use super::{Backend, BackendError, TrafficPort};
use crate::dma::{DmaMemory, IovaAllocator};
use client::{Client, ClientError, SocketTransport, DEFAULT_TIMEOUT};
use nsflow_rtl::msix::{self, CapError, Msix};
use nsflow_rtl::sim_port;
use nsflow_rtl::sim_port::Frame;
use nsflow_rtl::vfio_user::SetIrqs;
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// `VFIO_PCI_BAR0_REGION_INDEX`.
const BAR0: u32 = 0;
/// `VFIO_PCI_MSIX_IRQ_INDEX`.
const MSIX: u32 = 2;
/// `VFIO_PCI_CONFIG_REGION_INDEX`.
const CONFIG: u32 = 7;
/// Bytes of configuration space read: the PCI-compatible part, where the list is.
const CONFIG_BYTES: usize = 256;
/// `VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER`.
const IRQ_EVENTFD_TRIGGER: u32 = 0x4 | 0x20;
/// Largest batch written in one message (a quarter of the protocol's 1 MiB limit).
const MAX_BATCH: usize = 256 << 10;

/// A device reached through a vfio-user socket.
pub struct VfioUserBackend {
    path: PathBuf,
    client: Client<SocketTransport>,
    msix: Msix,
    irq: EventFd,
    iova: IovaAllocator,
    batch: Vec<u8>,
    /// The request that left the connection out of step, and why: later requests, which
    /// fail at once, name it.
    first_failure: Option<String>,
}

/// The device's MSI-X disagrees with the register map ([`check_msix`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsixError {
    /// Configuration space holds no MSI-X capability to read.
    #[error("configuration space: {0}")]
    Capability(#[from] CapError),
    /// The capability states another layout than the map.
    #[error("the MSI-X capability states {found:?}, the register map {expected:?}")]
    Layout {
        /// What the capability states.
        found: Msix,
        /// What the map defines ([`Msix::CONTRACT`]).
        expected: Msix,
    },
    /// The server offers another number of MSI-X interrupts than the table has vectors.
    #[error("the server offers {irqs} MSI-X interrupts, the capability's table has {vectors}")]
    Interrupts {
        /// Interrupts of the MSI-X index (vfio-user GET_IRQ_INFO).
        irqs: u32,
        /// Vectors of the table.
        vectors: u16,
    },
    /// The BAR of the table and PBA is smaller than they need.
    #[error("BAR{bar} is {size:#x} bytes: the MSI-X table and PBA end at {needed:#x}")]
    Bar {
        /// The BAR.
        bar: u8,
        /// Its size (0: absent).
        size: u64,
        /// Where the table and PBA end.
        needed: u64,
    },
}

/// Reads the MSI-X capability in configuration space `config` and checks it against the
/// register map: the layout [`Msix::CONTRACT`], `irqs` MSI-X interrupts (one per vector),
/// and a BAR (`bar_size` of its index) that holds the table and PBA.
pub fn check_msix(
    config: &[u8],
    irqs: u32,
    bar_size: impl Fn(u8) -> u64,
) -> Result<Msix, MsixError> {
    let (_, found) = msix::find(config)?;
    if found != Msix::CONTRACT {
        return Err(MsixError::Layout {
            found,
            expected: Msix::CONTRACT,
        });
    }
    if irqs != u32::from(found.vectors) {
        return Err(MsixError::Interrupts {
            irqs,
            vectors: found.vectors,
        });
    }
    let needed = u64::from(found.table_offset + found.table_bytes())
        .max(u64::from(found.pba_offset + found.pba_bytes()));
    let size = bar_size(found.table_bar);
    if size < needed {
        return Err(MsixError::Bar {
            bar: found.table_bar,
            size,
            needed,
        });
    }
    Ok(found)
}

/// The backend error for a failed request, saying what it was.
fn err(context: String) -> impl FnOnce(ClientError) -> BackendError {
    move |e| BackendError::VfioUser {
        context,
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
    /// Connects to the server at `path`, checks that BAR0 is there and that the MSI-X
    /// capability states the register map's layout ([`BackendError::Msix`] otherwise), and
    /// binds MSI-X vector 0 to the interrupt eventfd, each request within
    /// [`DEFAULT_TIMEOUT`].
    pub fn connect(path: &Path) -> Result<Self, BackendError> {
        Self::connect_with_timeout(path, DEFAULT_TIMEOUT)
    }

    /// As [`Self::connect`], each request (this one's and every later one) within
    /// `timeout`.
    pub fn connect_with_timeout(path: &Path, timeout: Duration) -> Result<Self, BackendError> {
        let context = || format!("connect to {}", path.display());
        if let Some(why) = not_a_socket(path) {
            return Err(BackendError::VfioUser {
                context: context(),
                message: why,
            });
        }
        let transport = SocketTransport::connect(path, Instant::now() + timeout).map_err(|e| {
            BackendError::VfioUser {
                context: context(),
                message: if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    "connection refused: nothing listens on this socket (a server that was killed leaves it behind)".into()
                } else {
                    e.to_string()
                },
            }
        })?;
        let mut client =
            Client::connect(transport, timeout).map_err(|e| BackendError::VfioUser {
                context: format!("{} ({})", context(), e.step),
                message: e.error.to_string(),
            })?;
        let bar0 = client.region(BAR0).map_or(0, |r| r.size);
        if bar0 < u64::from(nsflow_rtl::regs::BAR0_SIZE) {
            return Err(BackendError::VfioUser {
                context: path.display().to_string(),
                message: format!(
                    "BAR0 is {bar0:#x} bytes, the register map needs {:#x}",
                    nsflow_rtl::regs::BAR0_SIZE
                ),
            });
        }
        let msix = read_msix(&mut client, &context())?;
        let irq = EventFd::new(EFD_NONBLOCK).map_err(|source| BackendError::Io {
            context: "eventfd".into(),
            source,
        })?;
        let bind = SetIrqs {
            flags: IRQ_EVENTFD_TRIGGER,
            index: MSIX,
            start: 0,
            count: 1,
        };
        client
            .set_irqs(bind, &[crate::irq::eventfd_fd(&irq)])
            .map_err(err(format!("{}: bind MSI-X vector 0", context())))?;
        Ok(Self {
            path: path.to_owned(),
            client,
            msix,
            irq,
            iova: IovaAllocator::default(),
            batch: Vec::new(),
            first_failure: None,
        })
    }

    /// The device's MSI-X layout, as its capability states it (the map's, once connected).
    pub fn msix(&self) -> Msix {
        self.msix
    }

    /// The backend error for the request `context` that failed with `e`. The first
    /// failure that broke the connection is remembered, and the requests that fail at once
    /// after it name it (the drain's BAR0 read then says that the traffic port write before
    /// it found the server gone, rather than only that the connection failed earlier).
    fn fail(&mut self, context: String, e: ClientError) -> BackendError {
        let message = match (&e, &self.first_failure) {
            (ClientError::Broken(_), Some(first)) => {
                format!("the connection failed earlier, at {first}")
            }
            _ => e.to_string(),
        };
        if self.first_failure.is_none() && !matches!(e, ClientError::Refused(_) | ClientError::Busy)
        {
            self.first_failure = Some(format!("{context}: {message}"));
        }
        BackendError::VfioUser { context, message }
    }

    fn port_read32(&mut self, offset: u64) -> Result<u32, BackendError> {
        let mut b = [0u8; 4];
        self.client
            .region_read(sim_port::SIM_PORT_REGION, offset, &mut b)
            .map_err(|e| self.fail(format!("traffic port read at {offset:#x}"), e))?;
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
            .map_err(|e| self.fail(format!("BAR0 read at {offset:#x}"), e))?;
        Ok(u32::from_le_bytes(b))
    }

    fn write32(&mut self, offset: u32, value: u32) -> Result<(), BackendError> {
        self.client
            .region_write(BAR0, u64::from(offset), &value.to_le_bytes())
            .map_err(|e| self.fail(format!("BAR0 write at {offset:#x}"), e))
    }

    fn map_dma(&mut self, mem: &DmaMemory) -> Result<u64, BackendError> {
        let iova = self.iova.alloc(mem.len() as u64, 4096)?;
        self.client
            .dma_map(iova, mem.len() as u64, mem.file().as_fd(), 0)
            .map_err(|e| self.fail(format!("DMA_MAP {iova:#x}+{:#x}", mem.len()), e))?;
        Ok(iova)
    }

    fn unmap_dma(&mut self, iova: u64, len: usize) -> Result<(), BackendError> {
        self.client
            .dma_unmap(iova, len as u64)
            .map_err(|e| self.fail(format!("DMA_UNMAP {iova:#x}+{len:#x}"), e))?;
        self.iova.free(iova, len as u64);
        Ok(())
    }

    fn irq(&self) -> Option<&EventFd> {
        Some(&self.irq)
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

/// Reads the server's configuration space and checks its MSI-X capability
/// ([`check_msix`]) against the interrupts and BARs the server offers; `context` names the
/// connection in a failed request's error.
fn read_msix(client: &mut Client<SocketTransport>, context: &str) -> Result<Msix, BackendError> {
    let mut config = [0u8; CONFIG_BYTES];
    if client
        .region(CONFIG)
        .is_some_and(|r| r.size >= CONFIG_BYTES as u64)
    {
        client
            .region_read(CONFIG, 0, &mut config)
            .map_err(err(format!("{context}: configuration space read")))?;
    }
    let irqs = match client.irq_info(MSIX) {
        // A server that refuses the question offers no MSI-X interrupt.
        Err(ClientError::Refused(_)) => 0,
        r => r
            .map_err(err(format!("{context}: MSI-X information")))?
            .map_or(0, |i| i.count),
    };
    let bar_size = |bar: u8| client.region(bar.into()).map_or(0, |r| r.size);
    Ok(check_msix(&config, irqs, bar_size)?)
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
                .map_err(|e| {
                    let what = format!(
                        "traffic port write of {n} frames ({} bytes)",
                        self.batch.len()
                    );
                    self.fail(what, e)
                })?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsflow_rtl::msix::{CAP_BYTES, CAP_POINTER, STATUS, STATUS_CAP_LIST};
    use nsflow_rtl::regs;

    /// A configuration space whose one capability states `m`.
    fn space(m: Msix) -> Vec<u8> {
        let mut c = vec![0u8; CONFIG_BYTES];
        c[STATUS] = STATUS_CAP_LIST as u8;
        c[CAP_POINTER] = 0x40;
        c[0x40..0x40 + CAP_BYTES].copy_from_slice(&m.encode(0, 0));
        c
    }

    fn bar(b: u8) -> u64 {
        if b == regs::MSIX_BAR {
            regs::MSIX_BAR_SIZE.into()
        } else {
            0
        }
    }

    #[test]
    fn the_maps_capability_passes() {
        let m = Msix::CONTRACT;
        assert_eq!(check_msix(&space(m), m.vectors.into(), bar), Ok(m));
    }

    #[test]
    fn every_disagreement_is_typed() {
        let m = Msix::CONTRACT;
        let irqs = u32::from(m.vectors);
        for other in [
            Msix {
                vectors: m.vectors + 1,
                ..m
            },
            Msix { table_bar: 0, ..m },
            Msix {
                pba_offset: m.pba_offset + 8,
                ..m
            },
        ] {
            assert_eq!(
                check_msix(&space(other), irqs, bar),
                Err(MsixError::Layout {
                    found: other,
                    expected: m
                })
            );
        }
        let mut none = space(m);
        none[STATUS] = 0;
        assert_eq!(
            check_msix(&none, irqs, bar),
            Err(MsixError::Capability(CapError::NoList))
        );
        assert_eq!(
            check_msix(&space(m), irqs + 1, bar),
            Err(MsixError::Interrupts {
                irqs: irqs + 1,
                vectors: m.vectors
            })
        );
        assert!(matches!(
            check_msix(&space(m), irqs, |_| 0x100),
            Err(MsixError::Bar { size: 0x100, .. })
        ));
    }
}
