//! Ingress: a frame offered by the host is stamped, parsed, keyed and queued for the
//! stage-1 table, or refused while the engine cannot take it.

use super::{Device, Refused};
use crate::capture::Frame;
use crate::pipeline::Packet;
use crate::stats::global;
use nsflow_rtl::parser::LinkType;
use nsflow_rtl::regs::{self, Ctrl};

impl Device {
    /// Offers one frame captured at `ts_ns` (capture time). The device first runs up to
    /// the frame's arrival; the frame then enters the pipeline at the next free ingress
    /// cycle (at most one frame per cycle). When the pipeline is full the engine runs on
    /// until there is room; if it cannot make room without the host (the ring is full),
    /// it refuses with [`Refused::Busy`] and the frame is not counted.
    pub fn offer(
        &mut self,
        ts_ns: u64,
        link: Option<LinkType>,
        data: &[u8],
    ) -> Result<(), Refused> {
        if self.faults.removed() {
            return Err(Refused::Removed);
        }
        if self.error.is_some() {
            return Err(Refused::Stopped);
        }
        if !Ctrl(self.regs.get(regs::CTRL.offset)).enable() {
            return Err(Refused::Disabled);
        }
        let now_ns = self.now_ns();
        let arrival = self
            .capture
            .map(ts_ns, now_ns)
            .max(self.last_arrival_ns)
            .max(self.aging_floor_ns);
        let a = self.cycle_of_ns(arrival);
        self.run_until(a);
        self.now = self.now.max(a);
        let t = &self.params.timing;
        let capacity = (t.parser_latency + t.lookup_latency + t.ingress_depth) as usize;
        loop {
            if self.error.is_some() {
                return Err(Refused::Stopped);
            }
            if !self.flush.busy() && self.pipeline.len() < capacity {
                break;
            }
            match self.next_work(false) {
                Some(c) => self.run_until(c.saturating_add(1)),
                None => return Err(Refused::Busy),
            }
        }
        let i = a.max(self.now).max(self.last_ingress.map_or(0, |l| l + 1));
        self.stats.add(global::STALL_INGRESS, i - a);
        self.last_ingress = Some(i);
        self.last_arrival_ns = arrival;
        if let Some(fields) = self.stats.ingress.count(link, data) {
            let key = self.windows.tables.key(&fields);
            let hash = self.orig.hash_of(&key);
            let set = self.orig.set_of(hash);
            let t = &self.params.timing;
            self.pipeline.push_back(Packet {
                ready: i + u64::from(t.parser_latency + t.lookup_latency),
                ts_ns: arrival,
                key,
                hash,
                set,
                fields,
            });
        }
        self.trace_ingress(i); // trace hook
        Ok(())
    }

    /// [`Self::offer`] for a captured [`Frame`].
    pub fn offer_frame(&mut self, f: &Frame) -> Result<(), Refused> {
        self.offer(f.ts_ns, f.link, &f.data)
    }
}
