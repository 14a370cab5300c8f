//! The device's side of waveform tracing ([`crate::trace`]): attaching a [`Tracer`], the
//! state it samples ([`Probe`]), and the hooks the event loop, ingress and BAR0 call.
//! Without a tracer every hook is one branch; this lives beside `device.rs` so that the
//! datapath code only carries the one-line calls.

use super::{Device, Unit, PROFILES};
use crate::stats::{global, profile};
use crate::trace::{Event, Probe, Tracer};
use nsflow_rtl::regs;

impl Device {
    /// Starts recording a waveform window into `tracer` (see [`crate::trace`] and
    /// docs/hwsim.md, "Tracing"). Replaces a tracer attached before, which is dropped
    /// unfinished.
    pub fn set_trace(&mut self, mut tracer: Tracer) {
        tracer.attach(self.params.clock_hz, self.probe());
        self.trace = Some(Box::new(tracer));
    }

    /// Stops recording: samples the present state and hands the tracer back, to be
    /// completed with [`Tracer::finish`]. `None` when no tracer is attached.
    pub fn take_trace(&mut self) -> Option<Tracer> {
        self.trace_sample(Event::Settle);
        let mut tracer = self.trace.take()?;
        tracer.stop(self.now);
        Some(*tracer)
    }

    /// Hook: before the event loop runs (catches what BAR0 writes changed, at their cycle).
    #[inline]
    pub(super) fn trace_settle(&mut self) {
        if self.trace.is_some() {
            self.trace_sample(Event::Settle);
        }
    }

    /// Hook: after each step of the event loop.
    #[inline]
    pub(super) fn trace_step(&mut self, unit: Unit) {
        if self.trace.is_some() {
            let event = if unit == Unit::Table {
                Event::Table
            } else {
                Event::Other
            };
            self.trace_sample(event);
        }
    }

    /// Hook: a frame was accepted and enters ingress at `cycle`.
    #[inline]
    pub(super) fn trace_ingress(&mut self, cycle: u64) {
        if self.trace.is_some() {
            self.trace_sample(Event::Ingress(cycle));
        }
    }

    /// Hook: the register port takes the host's write of `value` at BAR0 `offset`.
    #[inline]
    pub(super) fn trace_bar_write(&mut self, offset: u32, value: u32) {
        let now = self.now;
        if let Some(t) = self.trace.as_mut() {
            t.bar_write(now, offset, value);
        }
    }

    #[inline(never)]
    fn trace_sample(&mut self, event: Event) {
        let Some(mut t) = self.trace.take() else {
            return;
        };
        if t.is_recording() {
            let p = self.probe();
            t.sample(self.now, event, &p);
        }
        self.trace = Some(t);
    }

    /// The state the tracer turns into signals.
    fn probe(&self) -> Probe {
        let g = &self.stats.live.global;
        let ingress = &self.stats.ingress;
        let mut merged = [0; PROFILES];
        for (m, row) in merged.iter_mut().zip(&self.stats.live.profile) {
            *m = row[profile::MERGED_FLOWS];
        }
        Probe {
            rx_frames: ingress.rx_frames,
            ipv6_packets: ingress.ipv6_packets,
            stall_ingress: g[global::STALL_INGRESS],
            pipeline: self.pipeline.len(),
            orig_created: g[global::ORIG_CREATED],
            orig_aged_timer: g[global::ORIG_AGED_IDLE].wrapping_add(g[global::ORIG_AGED_ACTIVE]),
            orig_evicted: g[global::ORIG_EVICTED],
            s1_entries: self.orig.len(),
            flow_queue: self.flows.len(),
            merged,
            stall_table: g[global::STALL_TABLE],
            record_fifo: self.fifo.len(),
            records_written: g[global::RECORDS_WRITTEN],
            dma_inflight: self.inflight.len(),
            ring_prod: self.prod,
            ring_cons: self.regs.get(regs::RING_CONS.offset),
            ring_full: self.ring_stall_since.is_some(),
            irqs: self.irq.delivered(),
            int_status: self.regs.get(regs::INT_STATUS.offset),
            flush_busy: self.flush.busy(),
            error: self.error.is_some(),
        }
    }
}
