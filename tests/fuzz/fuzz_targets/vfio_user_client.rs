//! Fuzz target `vfio_user_client`: a malicious vfio-user server against the driver's
//! client ([`nsflow_driver::backend::vfio_user::client::Client`]) through an in-memory
//! [`Transport`]: the input is the byte stream the server answers with. The client
//! connects (VERSION, DEVICE_GET_INFO, the region infos) and, when that succeeds, makes
//! the requests the backend makes: MSI-X information and binding, BAR0 and traffic port
//! reads and writes, a DMA map and unmap. Checks:
//! * no panic, and no allocation beyond libFuzzer's limit (before, the crate's client
//!   allocated the size a VERSION reply claimed);
//! * once a request fails other than by an error reply (the connection is out of step),
//!   every later request fails at once with `Broken`, reading nothing more;
//! * the client never reads past what the server sent (the transport's end is an error,
//!   not a hang).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsflow_driver::backend::vfio_user::client::{Client, ClientError, Transport};
use nsflow_rtl::vfio_user::SetIrqs;
use std::cell::Cell;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The server's side of the connection, in memory; `pos` is shared with the harness.
struct Memory<'a> {
    stream: &'a [u8],
    pos: Rc<Cell<usize>>,
}

impl Transport for Memory<'_> {
    fn send(&mut self, _msg: &[u8], _fds: &[BorrowedFd<'_>], _deadline: Instant) -> io::Result<()> {
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8], _deadline: Instant) -> io::Result<()> {
        let pos = self.pos.get();
        let rest = self.stream.get(pos..).unwrap_or_default();
        let Some(bytes) = rest.get(..buf.len()) else {
            self.pos.set(self.stream.len());
            return Err(io::ErrorKind::UnexpectedEof.into());
        };
        buf.copy_from_slice(bytes);
        self.pos.set(pos + buf.len());
        Ok(())
    }
}

/// The requests the backend makes after connecting.
fn request(c: &mut Client<Memory<'_>>, i: usize, fd: BorrowedFd<'_>) -> Result<(), ClientError> {
    match i {
        0 => c.irq_info(2).map(|_| ()),
        1 => {
            let bind = SetIrqs {
                flags: 0x24,
                index: 2,
                start: 0,
                count: 1,
            };
            c.set_irqs(bind, &[fd])
        }
        2 => c.region_read(0, 0, &mut [0u8; 4]),
        3 => c.region_write(0, 0x10, &[1, 2, 3, 4]),
        4 => c.region_read(2, 0, &mut [0u8; 8]),
        5 => c.region_write(2, 64, &[0x5A; 100]),
        6 => c.dma_map(0x1_0000_0000, 8192, fd, 0),
        _ => c.dma_unmap(0x1_0000_0000, 8192),
    }
}

fuzz_target!(|data: &[u8]| {
    let pos = Rc::new(Cell::new(0));
    let transport = Memory {
        stream: data,
        pos: Rc::clone(&pos),
    };
    let Ok(mut c) = Client::connect(transport, Duration::from_secs(1)) else {
        return;
    };
    let _ = c.region(0).map(|r| r.size);
    let memfd: OwnedFd = rustix::fs::memfd_create("nsflow-fuzz", rustix::fs::MemfdFlags::CLOEXEC)
        .unwrap_or_else(|e| panic!("fuzz harness: memfd: {e}"));
    let mut broken = false;
    for i in 0..8 {
        let before = pos.get();
        let r = request(&mut c, i, memfd.as_fd());
        if broken {
            assert!(
                matches!(r, Err(ClientError::Broken(_))),
                "request {i}: {r:?} after a break"
            );
            assert_eq!(pos.get(), before, "request {i} read after a break");
        }
        if !matches!(r, Ok(()) | Err(ClientError::Refused(_) | ClientError::Busy)) {
            broken = true;
        }
    }
});
