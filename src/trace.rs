//! `nsflow trace`: a VCD waveform of a window of a run. The driver brings the in-process
//! model up exactly as `nsflow run` does (reset, tables, profiles, ring, enable), with the
//! model's tracer attached first, replays a capture through the traffic port, drains the
//! ring, flushes, and hands the tracer's window to `nsflow_hwsim::trace` to finish.

use nsflow_driver::backend::sim::SimBackend;
use nsflow_driver::device::Device;
use nsflow_hwsim::capture::{CaptureReader, Frame};
use nsflow_hwsim::trace::Tracer;
use nsflow_rtl::config::EngineConfig;
use nsflow_rtl::record::Record;
use nsflow_rtl::tables::Tables;
use nsflow_rtl::AggregationMode;
use std::path::PathBuf;
use std::time::Duration;

/// Frames offered to the traffic port at once.
const BATCH: usize = 256;
/// The ring, log2 of records (as the harness and the tests have always traced).
const RING_LOG2: u8 = 12;
/// Bound on the final flush (a hang guard, not a measurement).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// What to trace.
#[derive(Debug, Clone)]
pub struct TraceOptions {
    /// The capture to replay.
    pub pcap: PathBuf,
    /// Profiles: the first N aggregation modes, one each.
    pub profiles: usize,
    /// The window, cycles `[from, to)`.
    pub from: u64,
    /// End of the window (exclusive).
    pub to: u64,
    /// The VCD file.
    pub out: PathBuf,
}

/// What a trace run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceReport {
    /// Frames replayed.
    pub frames: u64,
    /// Records drained.
    pub records: usize,
    /// Value changes written.
    pub value_changes: u64,
    /// Cycle at which the model stopped.
    pub stopped_at: u64,
    /// Whether the run reached the window at all.
    pub reached_window: bool,
}

/// Runs the trace (see the module documentation).
pub fn trace(o: &TraceOptions) -> Result<TraceReport, String> {
    let modes = AggregationMode::ALL.get(..o.profiles).ok_or_else(|| {
        format!(
            "{} profiles: the device has {}",
            o.profiles,
            AggregationMode::ALL.len()
        )
    })?;
    let tracer = Tracer::create(&o.out, o.from..o.to).map_err(|e| e.to_string())?;
    let mut sim = SimBackend::default_build().map_err(|e| e.to_string())?;
    sim.model().set_trace(tracer);
    let mut dev = Device::bring_up(
        Box::new(sim),
        &Tables::default(),
        &EngineConfig::with_modes(modes),
        RING_LOG2,
    )
    .map_err(|e| e.to_string())?;
    let mut records: Vec<Record> = Vec::new();
    let mut frames = 0u64;
    let mut batch: Vec<Frame> = Vec::with_capacity(BATCH);
    for f in CaptureReader::open(&o.pcap).map_err(|e| e.to_string())? {
        batch.push(f.map_err(|e| e.to_string())?);
        frames += 1;
        if batch.len() == BATCH {
            offer_all(&mut dev, &batch, &mut records)?;
            batch.clear();
        }
    }
    offer_all(&mut dev, &batch, &mut records)?;
    dev.flush_and_drain(&mut records, FLUSH_TIMEOUT)
        .map_err(|e| e.to_string())?;
    let sim = dev
        .backend()
        .as_any_mut()
        .downcast_mut::<SimBackend>()
        .ok_or("the traced device is not the in-process model")?;
    let tracer = sim.model().take_trace().ok_or("the tracer was lost")?;
    let s = tracer.finish().map_err(|e| e.to_string())?;
    Ok(TraceReport {
        frames,
        records: records.len(),
        value_changes: s.value_changes,
        stopped_at: s.stopped_at,
        reached_window: s.reached_window,
    })
}

/// Offers `frames` to the model's traffic port, draining the ring whenever the model holds
/// back (a full ring), until every frame is taken.
fn offer_all(dev: &mut Device, frames: &[Frame], out: &mut Vec<Record>) -> Result<(), String> {
    let mut done = 0;
    let mut idle_rounds = 0u32;
    while let Some(rest) = frames.get(done..).filter(|r| !r.is_empty()) {
        let port = dev
            .backend()
            .traffic()
            .ok_or("the device takes no traffic from the host")?;
        let taken = port.offer(rest).map_err(|e| e.to_string())?;
        done += taken;
        // A status read lets the model finish its work before the ring is looked at.
        dev.check_status().map_err(|e| e.to_string())?;
        let drained = dev.drain(out, usize::MAX).map_err(|e| e.to_string())?;
        idle_rounds = if taken == 0 && drained == 0 {
            idle_rounds + 1
        } else {
            0
        };
        if idle_rounds > 1000 {
            return Err("the model took no frame and wrote no record: stuck".into());
        }
    }
    Ok(())
}
