//! Traffic into a modelled device, on a blocking thread: frames in batches through the
//! model's traffic port, waiting while the engine holds back (the drain frees ring
//! space), and stopping exactly at each commit point until the commit is applied.

use super::RunError;
use crate::drain::{lock, SharedDevice};
use crate::traffic::Frames;
use nsflow_hwsim::capture::Frame;
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

/// Where and how a replay runs.
pub struct Replay {
    /// The frames; `first` was taken from it already (for the time anchor).
    pub frames: Frames,
    /// The first frame.
    pub first: Option<Frame>,
    /// The device whose traffic port takes the frames.
    pub dev: SharedDevice,
    /// Stop early (SIGINT/SIGTERM, or the shell's `quit`).
    pub stop: Arc<AtomicBool>,
    /// Frames offered so far, for progress.
    pub seen: Arc<AtomicU64>,
    /// Frame counts at which to stop for a commit, ascending.
    pub commit_points: Vec<u64>,
    /// Where commit requests go.
    pub commits: mpsc::Sender<CommitRequest>,
}

impl Replay {
    /// Offers every frame; returns how many were offered. Commit points past the end of
    /// the traffic are requested at its end.
    pub fn run(mut self) -> Result<u64, RunError> {
        let mut batch: Vec<Frame> = self.first.take().into_iter().collect();
        let mut offered = 0u64;
        let mut points = std::mem::take(&mut self.commit_points)
            .into_iter()
            .enumerate()
            .peekable();
        let mut ended = false;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(offered);
            }
            while let Some((index, _)) = points.next_if(|(_, at)| *at <= offered || ended) {
                self.commit(index, offered)?;
            }
            let limit = points
                .peek()
                .map_or(BATCH as u64, |(_, at)| (at - offered).min(BATCH as u64))
                as usize;
            while batch.len() < limit && !ended {
                match self.frames.next() {
                    Some(f) => batch.push(f?),
                    None => ended = true,
                }
            }
            if batch.is_empty() {
                if ended && points.peek().is_none() {
                    return Ok(offered);
                }
                continue;
            }
            let n = batch.len().min(limit);
            let taken = {
                let mut d = lock(&self.dev);
                match d.backend().traffic() {
                    Some(port) => port.offer(&batch[..n])?,
                    None => {
                        return Err(RunError::Usage(
                            "this device takes no traffic from the host".into(),
                        ))
                    }
                }
            };
            batch.drain(..taken);
            offered += taken as u64;
            self.seen.store(offered, Ordering::Relaxed);
            if taken == 0 {
                // The engine is holding back: the drain task frees ring space.
                std::thread::sleep(Duration::from_micros(100));
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
