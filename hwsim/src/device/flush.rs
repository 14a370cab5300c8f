//! The device's side of the flush sequencer ([`crate::flush`]): when its next step is
//! due, and the step itself.

use super::{Device, PROFILES};
use crate::flush::Phase;
use nsflow_rtl::record::EndReason;
use nsflow_rtl::regs::IntBits;

impl Device {
    /// The cycle of the flush sequencer's next step, once its phase's condition holds (see
    /// `crate::flush`); `None` when no flush runs.
    pub(super) fn flush_next(&self) -> Option<u64> {
        let t = self.flush.next.max(self.now);
        match &self.flush.phase {
            Phase::Idle => None,
            Phase::Pipeline => self.pipeline.is_empty().then_some(t.max(self.table_free)),
            Phase::Stage1(_) => (self.flow_room() >= self.orig.ways()).then_some(t),
            Phase::Merge => self.flows.is_empty().then_some(t.max(self.merge_free)),
            Phase::Stage2(_) => (self.params.drop_on_full
                || self.fifo_room() >= self.params.agg_ways.into())
            .then_some(t),
            Phase::Ring => (self.fifo.is_empty() && self.inflight.is_empty()).then_some(t),
        }
    }

    /// One step of the flush sequencer: exports one occupied set of stage 1, or one of
    /// every profile table that has room for it, or moves on to the next phase.
    pub(super) fn flush_step(&mut self) {
        let t = self.now;
        let lat = u64::from(self.params.timing.table_latency);
        self.flush.next = t + 1;
        self.flush.phase = match std::mem::take(&mut self.flush.phase) {
            Phase::Idle => Phase::Idle,
            Phase::Pipeline => Phase::Stage1(0),
            Phase::Stage1(from) => match self.orig.next_set(from) {
                None => Phase::Merge,
                Some(set) => {
                    let mut out = std::mem::take(&mut self.scratch);
                    self.orig.take_where(set, |_| true, |e| out.push(e));
                    for e in out.drain(..) {
                        self.end_flow(e, EndReason::Forced, t + lat);
                    }
                    self.scratch = out;
                    Phase::Stage1(u64::from(set) + 1)
                }
            },
            Phase::Merge => Phase::Stage2(vec![0; PROFILES]),
            Phase::Stage2(mut next) => {
                let mut left = false;
                for (p, from) in next.iter_mut().enumerate() {
                    let Some(set) = self.aggs[p].next_set(*from) else {
                        continue;
                    };
                    left = true;
                    let n = self.aggs[p].count_where(set, |_| true);
                    if !self.params.drop_on_full && self.fifo_room() < n {
                        continue;
                    }
                    let mut out = std::mem::take(&mut self.scratch);
                    self.aggs[p].take_where(set, |_| true, |e| out.push(e));
                    for e in out.drain(..) {
                        self.emit(p, e, EndReason::Forced, t + lat);
                    }
                    self.scratch = out;
                    *from = u64::from(set) + 1;
                }
                if left {
                    Phase::Stage2(next)
                } else {
                    Phase::Ring
                }
            }
            Phase::Ring => {
                self.flush_count = self.flush_count.wrapping_add(1);
                let mut b = IntBits(0);
                b.set_flush_done(true);
                self.raise(b.0);
                Phase::Idle
            }
        };
    }
}
