//! Traffic into a modelled device, on a blocking thread: frames in batches through the
//! model's traffic port, waiting while the engine holds back (the drain frees ring
//! space), stopping exactly at each commit point until the commit is applied, and
//! injecting each `--fault` at its frame count.

use super::fault::{self, FaultAt, FaultKind};
use super::{Ending, RunError};
use crate::traffic::Frames;
use nsflow_driver::backend::sim::SimBackend;
use nsflow_driver::drain::{lock, SharedDevice};
use nsflow_hwsim::capture::{CaptureError, Frame};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Frames offered per lock of the device.
const BATCH: usize = 256;

/// A request to apply commit number `index` now (the replay waits for `done`).
#[derive(Debug)]
pub struct CommitRequest {
    /// Index into the run's commit list.
    pub index: usize,
    /// Frames offered before it.
    pub frames: u64,
    /// Answered (or dropped, which ends the replay) once the commit is applied.
    pub done: oneshot::Sender<()>,
}

/// Why the traffic stopped.
#[derive(Debug)]
pub enum TrafficEnd {
    /// Every frame was offered.
    Input,
    /// Told to stop (SIGINT/SIGTERM/SIGHUP/SIGQUIT, the shell's `quit`).
    Stopped,
    /// The device failed: the drain task ended on an error (the job reports it), or
    /// offering frames failed, with this error (a vfio-user server that died or stopped
    /// answering). Every frame before it was offered.
    DeviceFailed(Option<String>),
    /// The traffic could not be read on: every frame before the error was offered.
    ReadError(CaptureError),
}

impl TrafficEnd {
    /// How a run whose traffic ended so ended: a stop is an interruption by `by`.
    pub fn ending(self, by: &str) -> Ending {
        match self {
            TrafficEnd::Input => Ending::Complete,
            TrafficEnd::Stopped => Ending::Interrupted(by.to_owned()),
            TrafficEnd::DeviceFailed(_) => Ending::DeviceFailed,
            TrafficEnd::ReadError(e) => Ending::ReadError(e.to_string()),
        }
    }

    /// The error offering frames ended on, if it did.
    pub fn error(&self) -> Option<&str> {
        match self {
            TrafficEnd::DeviceFailed(e) => e.as_deref(),
            _ => None,
        }
    }
}

/// What a replay did.
#[derive(Debug)]
pub struct Replayed {
    /// Frames offered (a table flood's frames included).
    pub frames: u64,
    /// Why it stopped.
    pub end: TrafficEnd,
}

/// Where and how a replay runs.
pub struct Replay {
    /// The frames; `first` was taken from it already (for the time anchor).
    pub frames: Frames,
    /// The first frame.
    pub first: Option<Frame>,
    /// The device whose traffic port takes the frames.
    pub dev: SharedDevice,
    /// Stop early (SIGINT/SIGTERM/SIGHUP/SIGQUIT, or the shell's `quit`).
    pub stop: Arc<AtomicBool>,
    /// Frames offered so far, for progress.
    pub seen: Arc<AtomicU64>,
    /// Frame counts at which to stop for a commit, ascending.
    pub commit_points: Vec<u64>,
    /// Where commit requests go.
    pub commits: mpsc::Sender<CommitRequest>,
    /// Faults to inject, by frame count.
    pub faults: Vec<FaultAt>,
    /// Set when the pipeline failed (the drain task ended on an error): stop offering.
    pub failed: Arc<AtomicBool>,
}

impl Replay {
    /// Offers every frame until the end of the traffic, a read error, a stop or a device
    /// failure; returns how many were offered and why it stopped. Commit points and faults
    /// past the end of the traffic (or past a read error) are applied at its end. A device
    /// that fails — the drain task stops on its error, or offering frames to it fails (a
    /// vfio-user server that died) — ends the traffic like a stop
    /// ([`TrafficEnd::DeviceFailed`]), so that the job is finished and everything drained
    /// exported. An error here is a commit's or a fault's: the frames offered until then
    /// are in the `seen` counter.
    pub fn run(mut self) -> Result<Replayed, RunError> {
        match self.replay() {
            Err(RunError::Backend(e)) => {
                self.failed.store(true, Ordering::Relaxed);
                Ok(Replayed {
                    frames: self.seen.load(Ordering::Relaxed),
                    end: TrafficEnd::DeviceFailed(Some(e.to_string())),
                })
            }
            r => r,
        }
    }

    fn replay(&mut self) -> Result<Replayed, RunError> {
        let mut batch: Vec<Frame> = self.first.take().into_iter().collect();
        let mut read_error = None;
        let mut ended = false;
        let mut offered = 0u64;
        let mut flooded = 0u64;
        let mut last_ts = batch.first().map_or(0, |f| f.ts_ns);
        let mut points = std::mem::take(&mut self.commit_points)
            .into_iter()
            .enumerate()
            .peekable();
        let mut faults = std::mem::take(&mut self.faults);
        faults.sort_by_key(|f| f.frames);
        let mut faults = faults.into_iter().peekable();
        loop {
            if self.failed.load(Ordering::Relaxed) {
                return Ok(Replayed {
                    frames: offered + flooded,
                    end: TrafficEnd::DeviceFailed(None),
                });
            }
            if self.stop.load(Ordering::Relaxed) {
                return Ok(Replayed {
                    frames: offered + flooded,
                    end: TrafficEnd::Stopped,
                });
            }
            while let Some((index, _)) = points.next_if(|(_, at)| *at <= offered || ended) {
                self.commit(index, offered)?;
            }
            while let Some(f) = faults.next_if(|f| f.frames <= offered || ended) {
                flooded += self.inject(f.kind, last_ts, offered)?;
            }
            let next_stop = [
                points.peek().map(|(_, at)| *at),
                faults.peek().map(|f| f.frames),
            ]
            .into_iter()
            .flatten()
            .min();
            let limit =
                next_stop.map_or(BATCH as u64, |at| (at - offered).min(BATCH as u64)) as usize;
            while batch.len() < limit && !ended {
                match self.frames.next() {
                    Some(Ok(f)) => batch.push(f),
                    Some(Err(e)) => (read_error, ended) = (Some(e), true),
                    None => ended = true,
                }
            }
            if batch.is_empty() {
                if ended && points.peek().is_none() && faults.peek().is_none() {
                    return Ok(Replayed {
                        frames: offered + flooded,
                        end: read_error.map_or(TrafficEnd::Input, TrafficEnd::ReadError),
                    });
                }
                continue;
            }
            let n = batch.len().min(limit);
            let taken = self.offer(&batch[..n])?;
            if let Some(f) = batch[..taken].last() {
                last_ts = f.ts_ns;
            }
            batch.drain(..taken);
            offered += taken as u64;
            self.seen.store(offered + flooded, Ordering::Relaxed);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.failed.load(Ordering::Relaxed)
    }

    /// Offers `frames` through the traffic port; returns how many the device took, after
    /// a short wait when it took none (the engine is holding back: the drain task frees
    /// ring space, or recovers the device).
    fn offer(&self, frames: &[Frame]) -> Result<usize, RunError> {
        let taken = {
            let mut d = lock(&self.dev);
            match d.backend().traffic() {
                Some(port) => port.offer(frames)?,
                None => {
                    return Err(RunError::Usage(
                        "this device takes no traffic from the host".into(),
                    ))
                }
            }
        };
        if taken == 0 {
            std::thread::sleep(Duration::from_micros(100));
        }
        Ok(taken)
    }

    /// Injects one fault; returns the frames it offered itself (a table flood).
    fn inject(&self, kind: FaultKind, last_ts: u64, offered: u64) -> Result<u64, RunError> {
        match kind {
            FaultKind::RingStall(d) => {
                lock(&self.dev).hold_ring(d);
                Ok(0)
            }
            FaultKind::Restart => {
                lock(&self.dev).restart()?;
                Ok(0)
            }
            FaultKind::TableFlood(n) => {
                let frames: Vec<Frame> = fault::flood(n, last_ts, offered).collect();
                let mut done = 0;
                while done < frames.len() && !self.stopped() {
                    let end = (done + BATCH).min(frames.len());
                    done += self.offer(&frames[done..end])?;
                }
                Ok(done as u64)
            }
            FaultKind::Dma
            | FaultKind::LostInterrupts
            | FaultKind::ClockJump(_)
            | FaultKind::Removed => {
                if let Some(f) = kind.device_fault() {
                    let mut d = lock(&self.dev);
                    let sim = d
                        .backend()
                        .as_any_mut()
                        .downcast_mut::<SimBackend>()
                        .ok_or_else(|| {
                            RunError::Usage(format!(
                                "--fault {f:?} is injected into the embedded simulator: use --device sim"
                            ))
                        })?;
                    sim.inject(f);
                }
                Ok(0)
            }
        }
    }

    fn commit(&self, index: usize, frames: u64) -> Result<(), RunError> {
        let (done, wait) = oneshot::channel();
        self.commits
            .blocking_send(CommitRequest {
                index,
                frames,
                done,
            })
            .map_err(|_| RunError::Task("commit requested after the run stopped".into()))?;
        wait.blocking_recv()
            .map_err(|_| RunError::Task(format!("the commit at frame {frames} was not applied")))
    }
}
