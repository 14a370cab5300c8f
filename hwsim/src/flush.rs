//! The flush sequencer (`CTRL.flush`): export every entry of both stages with reason
//! forced, and report completion when the flush's last record is in the ring.
//!
//! Phases: wait for the packets already in the pipeline (ingress is closed while a flush
//! runs); walk stage 1, one occupied set per cycle, handing every original flow to the
//! merge unit; wait until the merge unit has merged them all; walk every profile table in
//! parallel, one occupied set per table per cycle, pushing every aggregate as a record;
//! wait until the record FIFO and the DMA engine are empty. Then `FLUSH_COUNT` increments,
//! `STATUS.flush_busy` clears and `INT_STATUS.flush_done` is raised. The aging scanner
//! pauses during a flush.

/// Where the flush is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Phase {
    /// No flush running.
    #[default]
    Idle,
    /// Waiting for the pipeline to drain.
    Pipeline,
    /// Walking stage 1 from this set on.
    Stage1(u64),
    /// Waiting for the merge unit.
    Merge,
    /// Walking the profile tables; the next set of each.
    Stage2(Vec<u64>),
    /// Waiting for the last record to reach the ring.
    Ring,
}

/// The flush sequencer's state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Flush {
    /// Current phase.
    pub phase: Phase,
    /// Earliest cycle of its next step.
    pub next: u64,
}

impl Flush {
    /// Whether a flush is running (`STATUS.flush_busy`).
    pub(crate) fn busy(&self) -> bool {
        self.phase != Phase::Idle
    }

    /// Starts a flush at cycle `now` (ignored while one runs).
    pub(crate) fn start(&mut self, now: u64) {
        if !self.busy() {
            self.phase = Phase::Pipeline;
            self.next = now + 1;
        }
    }
}
