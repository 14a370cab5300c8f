//! The model's traffic port (BAR2, `nsflow_rtl::sim_port`): the bounded queue of frames
//! written by the client and waiting for ingress, and the pump that offers them to the
//! model in order.
//!
//! Batches are written by the vfio-user client, so the module denies
//! `clippy::indexing_slicing`; they are decoded by `nsflow_rtl::sim_port::decode_batch`
//! (bound-checked) and their sizes summed with saturating arithmetic.
#![deny(clippy::indexing_slicing)]

use crate::device::{Device, Refused};
use nsflow_rtl::parser::LinkType;
use nsflow_rtl::sim_port::{self, decode_batch, BatchError};
use std::collections::VecDeque;

/// The largest queue: one batch filling the port's data window.
pub const MAX_QUEUE_BYTES: usize = (sim_port::SIM_PORT_SIZE - sim_port::SIM_PORT_DATA) as usize;

/// A frame waiting for ingress.
#[derive(Debug)]
struct Queued {
    ts_ns: u64,
    link: Option<LinkType>,
    data: Vec<u8>,
}

/// Why a batch written to the port was refused (whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BatchRefused {
    /// It does not decode.
    #[error(transparent)]
    Malformed(#[from] BatchError),
    /// It does not fit in the queue's free space.
    #[error("batch needs {need} bytes, {free} are free")]
    TooBig {
        /// Bytes the batch's frames take.
        need: usize,
        /// Bytes free.
        free: usize,
    },
}

/// The injection queue.
#[derive(Debug)]
pub(crate) struct Port {
    queue: VecDeque<Queued>,
    /// Encoded bytes of the queued frames.
    bytes: usize,
    capacity: usize,
    /// The model refused the front frame (ring full) and nothing has changed since.
    holding: bool,
    accepted: u64,
}

impl Port {
    /// An empty queue of `capacity` bytes (at most [`MAX_QUEUE_BYTES`]).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            queue: VecDeque::new(),
            bytes: 0,
            capacity: capacity.min(MAX_QUEUE_BYTES),
            holding: false,
            accepted: 0,
        }
    }

    /// The free-space register: bytes of frames the port takes now; 0 while the model is
    /// holding back.
    pub(crate) fn free(&self) -> usize {
        if self.holding {
            0
        } else {
            self.capacity.saturating_sub(self.bytes)
        }
    }

    /// Frames the model accepted since power-on (the accepted-frames counter).
    pub(crate) fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Whether the pump has something it may succeed with.
    pub(crate) fn runnable(&self) -> bool {
        !self.queue.is_empty() && !self.holding
    }

    /// Whether no frame is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Something changed that may let the model take frames again (the host wrote a
    /// register, e.g. `RING_CONS`).
    pub(crate) fn retry(&mut self) {
        self.holding = false;
    }

    /// Queues a batch as the client wrote it; a batch that does not decode or does not fit
    /// is refused whole. Returns the frames queued.
    pub(crate) fn push_batch(&mut self, batch: &[u8]) -> Result<usize, BatchRefused> {
        let frames = decode_batch(batch)?;
        let need = frames
            .iter()
            .map(|f| sim_port::encoded_len(f.data.len()))
            .fold(0usize, usize::saturating_add);
        let free = self.free();
        if need > free {
            return Err(BatchRefused::TooBig { need, free });
        }
        self.bytes += need;
        let n = frames.len();
        self.queue.extend(frames.into_iter().map(|f| {
            Queued {
                ts_ns: f.ts_ns,
                link: (f.linktype != sim_port::NO_LINK)
                    .then(|| LinkType::from_pcap(f.linktype))
                    .flatten(),
                data: f.data.to_vec(),
            }
        }));
        Ok(n)
    }

    /// Drops every queued frame (a device reset); with `power_on`, the accepted counter
    /// restarts too.
    pub(crate) fn clear(&mut self, power_on: bool) {
        self.queue.clear();
        self.bytes = 0;
        self.holding = false;
        if power_on {
            self.accepted = 0;
        }
    }

    fn pop(&mut self) {
        if let Some(f) = self.queue.pop_front() {
            self.bytes -= sim_port::encoded_len(f.data.len());
        }
    }
}

/// Offers up to `max` queued frames to the model, in order. A frame the model refuses
/// with `Busy`, or because the engine is in its error state (until the driver resets and
/// reprograms it), stays at the front and the port holds (free space 0) until
/// [`Port::retry`] (every BAR0 write); a frame refused because the engine is disabled or
/// the device is removed is dropped, as a port of a disabled engine drops what it
/// receives. Returns the frames taken off the queue.
pub(crate) fn pump(dev: &mut Device, port: &mut Port, max: usize) -> usize {
    let mut n = 0;
    while n < max {
        let Some(f) = port.queue.front() else { break };
        match dev.offer(f.ts_ns, f.link, &f.data) {
            Ok(()) => port.accepted += 1,
            Err(Refused::Busy | Refused::Stopped) => {
                port.holding = true;
                break;
            }
            Err(Refused::Disabled | Refused::Removed) => {}
        }
        port.holding = false;
        port.pop();
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BuildParams;
    use nsflow_rtl::regs::{self, Ctrl};

    fn batch(frames: &[(u64, u32, &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        for (ts, link, data) in frames {
            sim_port::encode_frame(&mut b, *ts, *link, data);
        }
        b
    }

    #[test]
    fn batches_are_taken_whole_or_refused_whole() {
        let mut p = Port::new(64);
        assert_eq!(p.free(), 64);
        // 16 + 20 → 40 bytes; 16 + 8 → 24 bytes: 64 in all.
        assert_eq!(
            p.push_batch(&batch(&[(1, 1, &[0; 20]), (2, 1, &[0; 8])])),
            Ok(2)
        );
        assert_eq!(p.free(), 0);
        assert_eq!(
            p.push_batch(&batch(&[(3, 1, &[])])),
            Err(BatchRefused::TooBig { need: 16, free: 0 })
        );
        assert!(matches!(
            p.push_batch(&[0; 10]),
            Err(BatchRefused::Malformed(_))
        ));
        assert_eq!(p.queue.len(), 2);
        p.clear(false);
        assert_eq!(p.free(), 64);
        assert!(Port::new(usize::MAX).free() == MAX_QUEUE_BYTES);
    }

    #[test]
    fn pump_drops_while_disabled_and_counts_what_the_model_takes() {
        let mut dev = Device::new(BuildParams::default()).unwrap();
        let mut p = Port::new(MAX_QUEUE_BYTES);
        let frame: &[u8] = &[0u8; 60];
        p.push_batch(&batch(&[(1, 1, frame), (2, sim_port::NO_LINK, frame)]))
            .unwrap();
        // Disabled: both leave the queue, neither is accepted nor counted by the model.
        assert_eq!(pump(&mut dev, &mut p, usize::MAX), 2);
        assert_eq!((p.accepted(), p.free()), (0, MAX_QUEUE_BYTES));
        let mut c = Ctrl(0);
        c.set_enable(true);
        // A valid ring is not needed to accept frames that produce no records yet.
        dev.bar_write(regs::RING_SIZE.offset, 4);
        dev.bar_write(regs::CTRL.offset, c.0);
        p.push_batch(&batch(&[
            (1, 1, frame),
            (2, sim_port::NO_LINK, frame),
            (3, 1, frame),
        ]))
        .unwrap();
        assert_eq!(pump(&mut dev, &mut p, 2), 2);
        assert_eq!(pump(&mut dev, &mut p, usize::MAX), 1);
        assert_eq!(p.accepted(), 3);
        assert!(p.is_empty());
        assert_eq!(dev.throughput().packets, 3);
    }

    #[test]
    fn pump_holds_while_the_engine_is_in_its_error_state() {
        let mut dev = Device::new(BuildParams::default()).unwrap();
        let mut c = Ctrl(0);
        c.set_enable(true);
        // Enabled with no ring: the error state (BAD_RING).
        dev.bar_write(regs::CTRL.offset, c.0);
        assert_eq!(dev.offer(0, None, &[0; 60]), Err(Refused::Stopped));
        let mut p = Port::new(MAX_QUEUE_BYTES);
        let frame: &[u8] = &[0u8; 60];
        p.push_batch(&batch(&[(1, 1, frame), (2, 1, frame)]))
            .unwrap();
        // Held, not dropped: the frames wait, and the port takes nothing more.
        assert_eq!(pump(&mut dev, &mut p, usize::MAX), 0);
        assert_eq!((p.queue.len(), p.free(), p.accepted()), (2, 0, 0));
        // The driver's recovery: soft reset, a ring, enable (BAR0 writes retry the port).
        let mut r = Ctrl(0);
        r.set_soft_reset(true);
        dev.bar_write(regs::CTRL.offset, r.0);
        dev.bar_write(regs::RING_SIZE.offset, 4);
        dev.bar_write(regs::CTRL.offset, c.0);
        p.retry();
        assert_eq!(pump(&mut dev, &mut p, usize::MAX), 2);
        assert_eq!(p.accepted(), 2);
        assert_eq!(dev.throughput().packets, 2);
    }
}
