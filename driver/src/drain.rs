//! The drain task: wakes on the device's interrupt (or on a polling interval, so a lost
//! interrupt costs latency, never records), drains the ring under the device lock, and
//! hands the records to a bounded channel — when the exporter is slow the channel fills,
//! the task waits, the ring fills and the device holds records back: backpressure all
//! the way, never an unbounded queue.

use crate::device::{Device, DeviceError};
use crate::irq::Irq;
use nsflow_rtl::record::Record;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use vmm_sys_util::eventfd::EventFd;

/// How the drain task behaves.
#[derive(Debug, Clone, Copy)]
pub struct DrainConfig {
    /// Poll the ring at least this often, interrupt or not.
    pub poll_interval: Duration,
    /// Records taken per lock of the device.
    pub batch: usize,
    /// How long a final flush may take.
    pub flush_timeout: Duration,
    /// Recover a device that enters its error state (a DMA fault) by reset and
    /// reprogramming ([`Device::recover`]) instead of stopping.
    pub recover: bool,
}

impl Default for DrainConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(10),
            batch: 4096,
            flush_timeout: Duration::from_secs(30),
            recover: true,
        }
    }
}

/// What the drain task did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainSummary {
    /// Records handed on.
    pub records: u64,
    /// Wake-ups by interrupt.
    pub interrupts: u64,
    /// Wake-ups by the polling interval.
    pub polls: u64,
    /// Recoveries from the device's error state.
    pub recoveries: u64,
}

/// Why the drain task stopped early.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    /// The device failed or was stopped for a bad ring.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The receiving side went away.
    #[error("the record consumer has gone away")]
    Closed,
    /// The interrupt eventfd could not be registered with the runtime.
    #[error("interrupt eventfd: {0}")]
    Irq(std::io::Error),
}

/// The shared device handle: the drain task, the traffic source and the control path
/// take turns through this lock.
pub type SharedDevice = Arc<Mutex<Device>>;

/// Locks the device (or any state the pipeline shares); a poisoned lock (a panicked
/// holder) is still usable: draining and reporting go on.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Recoveries in a row (no record drained in between) after which the drain task gives
/// up on a device that keeps failing.
pub const MAX_RECOVERY_STREAK: u32 = 3;

/// One locked drain: the records taken, and whether the device is still sound. The records
/// are taken even when it is not (the valid ones before a bad record are acknowledged to
/// the device, so they must be handed on, not dropped). A device in its error state is
/// recovered when `cfg.recover` says so (its records then come too), unless it failed
/// again [`MAX_RECOVERY_STREAK`] times with no record drained in between.
fn drain_once(
    dev: &SharedDevice,
    cfg: &DrainConfig,
    recoveries: &mut u64,
    streak: &mut u32,
) -> (Vec<Record>, Result<(), DeviceError>) {
    let mut d = lock(dev);
    let mut out = Vec::new();
    let sound = d
        .ack_interrupts()
        .and_then(|_| d.drain(&mut out, cfg.batch))
        .and_then(|_| d.check_status().map(|_| ()));
    if !out.is_empty() {
        *streak = 0;
    }
    let sound = match sound {
        Err(DeviceError::DeviceFault(code)) if cfg.recover => {
            if *streak >= MAX_RECOVERY_STREAK {
                Err(DeviceError::Unrecoverable {
                    code,
                    attempts: *streak,
                })
            } else {
                *recoveries += 1;
                *streak += 1;
                d.recover(&mut out, cfg.flush_timeout)
            }
        }
        other => other,
    };
    (out, sound)
}

/// Hands a batch on (waiting while the sink is full), then reports the device's state.
/// Returns whether anything was handed on.
async fn forward(
    (recs, sound): (Vec<Record>, Result<(), DeviceError>),
    sink: &mpsc::Sender<Vec<Record>>,
    sum: &mut DrainSummary,
) -> Result<bool, DrainError> {
    let any = !recs.is_empty();
    if any {
        sum.records += recs.len() as u64;
        sink.send(recs).await.map_err(|_| DrainError::Closed)?;
    }
    sound?;
    Ok(any)
}

/// Runs until `stop` turns true, then flushes the device, drains everything and returns.
/// Each non-empty batch is sent on `sink` (waiting while it is full). A flush that does not
/// complete within `cfg.flush_timeout` ends with [`DeviceError::FlushTimeout`] after the
/// records the ring holds then have been sent.
pub async fn run(
    dev: SharedDevice,
    irq: Option<EventFd>,
    cfg: DrainConfig,
    sink: mpsc::Sender<Vec<Record>>,
    mut stop: watch::Receiver<bool>,
) -> Result<DrainSummary, DrainError> {
    let irq = match irq {
        Some(e) => Some(Irq::new(e).map_err(DrainError::Irq)?),
        None => None,
    };
    let mut sum = DrainSummary::default();
    let mut streak = 0;
    let mut ticker = tokio::time::interval(cfg.poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            r = async {
                match &irq {
                    Some(i) => i.wait().await,
                    None => std::future::pending().await,
                }
            } => {
                if r.is_ok() {
                    sum.interrupts += 1;
                }
            }
            _ = ticker.tick() => sum.polls += 1,
            _ = stop.changed() => {}
        }
        while forward(
            drain_once(&dev, &cfg, &mut sum.recoveries, &mut streak),
            &sink,
            &mut sum,
        )
        .await?
        {}
    }
    // Graceful stop: flush both stages and drain until the flush has completed, sending
    // as we go so that a small ring cannot stall the flush.
    // A recovery (which flushes itself) restarts the flush.
    let mut before = lock(&dev).start_flush()?;
    let deadline = tokio::time::Instant::now() + cfg.flush_timeout;
    let all = DrainConfig {
        batch: usize::MAX,
        ..cfg
    };
    loop {
        let recoveries = sum.recoveries;
        let batch = drain_once(&dev, &cfg, &mut sum.recoveries, &mut streak);
        let recovered = sum.recoveries != recoveries;
        let took = forward(batch, &sink, &mut sum).await?;
        if recovered {
            before = lock(&dev).start_flush()?;
        }
        if took {
            continue;
        }
        let complete = lock(&dev).flush_complete(before);
        match complete {
            Ok(true) => {
                let batch = drain_once(&dev, &all, &mut sum.recoveries, &mut streak);
                if forward(batch, &sink, &mut sum).await? {
                    continue;
                }
                break;
            }
            Ok(false) => {}
            // The next drain recovers it.
            Err(DeviceError::DeviceFault(_)) if cfg.recover => continue,
            Err(e) => return Err(e.into()),
        }
        if tokio::time::Instant::now() > deadline {
            // Give up on the flush, not on what the ring holds: end a stall of this
            // consumer and hand on every record published. The rest stays in the device
            // (the caller counts it as not exported).
            lock(&dev).release_ring();
            let batch = drain_once(&dev, &all, &mut sum.recoveries, &mut streak);
            forward(batch, &sink, &mut sum).await?;
            return Err(DeviceError::FlushTimeout(cfg.flush_timeout).into());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    Ok(sum)
}
