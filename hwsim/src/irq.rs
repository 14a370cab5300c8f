//! The interrupt: causes in `INT_STATUS` (W1C), masked by `INT_MASK`, delivered as one
//! MSI-X-like message (a call of the host's callback) whenever a cause that is not masked
//! becomes pending — when it is set while clear, or unmasked while set. The records cause
//! is moderated: it is raised once `INT_MOD_RECORDS` records (0: every record) have been
//! written since the last time it was raised, or `INT_MOD_TIME` microseconds after the
//! first of them, whichever comes first.

/// A host interrupt handler (e.g. one that signals an eventfd).
pub type IrqHandler = Box<dyn FnMut() + Send>;

/// Interrupt moderation and delivery.
#[derive(Default)]
pub(crate) struct Irq {
    pending_records: u64,
    first_pending: Option<u64>,
    handler: Option<IrqHandler>,
    delivered: u64,
    lost: bool,
}

impl std::fmt::Debug for Irq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Irq")
            .field("pending_records", &self.pending_records)
            .field("first_pending", &self.first_pending)
            .field("handler", &self.handler.is_some())
            .field("delivered", &self.delivered)
            .field("lost", &self.lost)
            .finish()
    }
}

impl Irq {
    /// Installs the handler.
    pub(crate) fn set_handler(&mut self, h: IrqHandler) {
        self.handler = Some(h);
    }

    /// Forgets moderation state (soft reset); the handler stays.
    pub(crate) fn reset(&mut self) {
        self.pending_records = 0;
        self.first_pending = None;
    }

    /// Loses every message from now on (`lost`), or delivers them again: the
    /// lost-interrupts fault. Causes are still set in `INT_STATUS` either way.
    pub(crate) fn set_lost(&mut self, lost: bool) {
        self.lost = lost;
    }

    /// Messages delivered so far.
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Delivers a message if `status` has an unmasked cause that `before` (under
    /// `mask_before`) did not present.
    pub(crate) fn deliver_if_new(&mut self, before: u32, mask_before: u32, status: u32, mask: u32) {
        if !self.lost && status & !mask & !(before & !mask_before) != 0 {
            self.delivered += 1;
            if let Some(h) = self.handler.as_mut() {
                h();
            }
        }
    }

    /// `n` records reached the ring at cycle `now`; returns true when the records cause
    /// must be raised (count threshold `count`, 0 meaning every record).
    pub(crate) fn records_written(&mut self, n: u64, now: u64, count: u64) -> bool {
        if n == 0 {
            return false;
        }
        self.pending_records += n;
        self.first_pending.get_or_insert(now);
        if self.pending_records >= count.max(1) {
            self.pending_records = 0;
            self.first_pending = None;
            return true;
        }
        false
    }

    /// The cycle at which the moderation timer raises the records cause, if records are
    /// pending.
    pub(crate) fn deadline(&self, timer_cycles: u64) -> Option<u64> {
        self.first_pending.map(|f| f.saturating_add(timer_cycles))
    }

    /// The moderation timer fired.
    pub(crate) fn timer_fired(&mut self) {
        self.pending_records = 0;
        self.first_pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[test]
    fn moderation_by_count_and_delivery_on_new_causes() {
        let mut i = Irq::default();
        let n = Arc::new(AtomicU32::new(0));
        let n2 = n.clone();
        i.set_handler(Box::new(move || {
            n2.fetch_add(1, Ordering::SeqCst);
        }));
        assert!(!i.records_written(3, 10, 4));
        assert_eq!(i.deadline(100), Some(110));
        assert!(i.records_written(1, 20, 4));
        assert_eq!(i.deadline(100), None);
        assert!(i.records_written(1, 30, 0), "0 = every record");
        // New unmasked cause: delivered; already pending: not again; masked: not.
        i.deliver_if_new(0, 0, 1, 0);
        i.deliver_if_new(1, 0, 1, 0);
        i.deliver_if_new(0, 0, 2, 2);
        assert_eq!(n.load(Ordering::SeqCst), 1);
        // Unmasking a pending cause delivers.
        i.deliver_if_new(2, 2, 2, 0);
        assert_eq!((n.load(Ordering::SeqCst), i.delivered()), (2, 2));
        // Lost: nothing is delivered or counted.
        i.set_lost(true);
        i.deliver_if_new(0, 0, 4, 0);
        assert_eq!((n.load(Ordering::SeqCst), i.delivered()), (2, 2));
    }
}
