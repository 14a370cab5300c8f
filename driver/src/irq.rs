//! The interrupt eventfd as an async wake-up source: part of the device-access layer
//! (with [`crate::dma`] and [`crate::mmio`]), because registering a raw descriptor with
//! the runtime is an I/O-safety promise only the owner of the descriptor can make.
#![allow(unsafe_code)]

use tokio::io::unix::AsyncFd;
use vmm_sys_util::eventfd::EventFd;

/// An eventfd the runtime watches.
pub struct Irq(AsyncFd<EventFd>);

impl Irq {
    /// Takes ownership of `efd` and registers it with the current tokio runtime.
    pub fn new(efd: EventFd) -> std::io::Result<Self> {
        // SAFETY: the AsyncFd owns the EventFd for its whole life, and EventFd::as_raw_fd
        // always returns the descriptor it opened, which stays open until it is dropped.
        let fd = unsafe { AsyncFd::register(efd) }.map_err(|e| e.into_parts().1)?;
        Ok(Self(fd))
    }

    /// Waits for the interrupt and consumes its count.
    pub async fn wait(&self) -> std::io::Result<()> {
        let mut guard = self.0.readable().await?;
        // EAGAIN means another wake-up consumed the count first: nothing lost either way.
        let _ = guard.get_inner().read();
        guard.clear_ready();
        Ok(())
    }
}

/// The descriptor of `efd`, borrowed for as long as `efd` is (to hand it to a server with
/// SCM_RIGHTS): vmm-sys-util's `EventFd` has no `AsFd`.
pub fn eventfd_fd(efd: &EventFd) -> std::os::fd::BorrowedFd<'_> {
    use std::os::fd::AsRawFd;
    // SAFETY: EventFd::as_raw_fd returns the descriptor the EventFd opened, which stays
    // open until the EventFd is dropped; the borrow cannot outlive `efd`.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(efd.as_raw_fd()) }
}
