//! The exporter of one view: an [`ExportStream`] driven by a [`Clock`] in a tokio task,
//! feeding a [`Transport`]. This is what the driver talks to.

use crate::clock::Clock;
use crate::config::{ConfigError, ExportConfig, FieldWidth};
use crate::record::{FlowRecord, LossCounters};
use crate::stream::ExportStream;
use crate::transport::{DestinationStats, StatsHandle, Transport};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Commands queued to the exporter task before `export` waits (backpressure).
pub const COMMAND_QUEUE: usize = 1024;
/// The task re-reads the clock at least this often, so a [`crate::ManualClock`] moved by a
/// test is noticed without any record arriving.
pub const MAX_TICK: Duration = Duration::from_millis(50);

/// Why the exporter cannot start or take more work.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The configuration is out of range.
    #[error("export configuration: {0}")]
    Config(#[from] ConfigError),
    /// The exporter task has ended (shut down, or its runtime stopped).
    #[error("the exporter has stopped")]
    Closed,
    /// `try_export` found the command queue full; the records are handed back.
    #[error("the exporter queue is full ({} records not queued)", .0.len())]
    Full(Vec<FlowRecord>),
}

#[derive(Debug)]
enum Command {
    Records(Vec<FlowRecord>),
    Loss(LossCounters),
    Widths(FieldWidth, FieldWidth),
    Flush(oneshot::Sender<()>),
}

/// A running exporter. Records go to every collector of the view; see the crate docs.
#[derive(Debug)]
pub struct Exporter {
    tx: mpsc::Sender<Command>,
    task: JoinHandle<()>,
    stats: StatsHandle,
}

impl Exporter {
    /// Validates `cfg`, opens the sockets, sends the templates and options (A5: at start)
    /// and starts the export task. Must be called inside a tokio runtime.
    pub fn start(cfg: ExportConfig, clock: Arc<dyn Clock>) -> Result<Self, ExportError> {
        cfg.validate()?;
        let transport = Transport::open(&cfg);
        let stats = transport.stats_handle();
        let stream = ExportStream::new(&cfg, clock.now_ms());
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let task = tokio::spawn(run(stream, transport, clock, rx));
        Ok(Self { tx, task, stats })
    }

    /// Queues records for export, waiting while the queue is full.
    pub async fn export(&self, records: Vec<FlowRecord>) -> Result<(), ExportError> {
        self.tx
            .send(Command::Records(records))
            .await
            .map_err(|_| ExportError::Closed)
    }

    /// Queues records without waiting; a full queue hands them back in [`ExportError::Full`].
    pub fn try_export(&self, records: Vec<FlowRecord>) -> Result<(), ExportError> {
        self.tx
            .try_send(Command::Records(records))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(Command::Records(r)) => ExportError::Full(r),
                _ => ExportError::Closed,
            })
    }

    /// Updates the cumulative loss counters sent in the next options refresh (A15).
    pub async fn set_loss_counters(&self, c: LossCounters) -> Result<(), ExportError> {
        self.tx
            .send(Command::Loss(c))
            .await
            .map_err(|_| ExportError::Closed)
    }

    /// Changes the AS / ifIndex widths (`as-mode`, `index-switch`): a template change, so
    /// the templates are re-sent at once (A5).
    pub async fn set_widths(
        &self,
        as_width: FieldWidth,
        ifindex_width: FieldWidth,
    ) -> Result<(), ExportError> {
        self.tx
            .send(Command::Widths(as_width, ifindex_width))
            .await
            .map_err(|_| ExportError::Closed)
    }

    /// Sends the partly filled message now and waits until every queued message has been
    /// handed to the collectors' queues.
    pub async fn flush(&self) -> Result<(), ExportError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Flush(tx))
            .await
            .map_err(|_| ExportError::Closed)?;
        rx.await.map_err(|_| ExportError::Closed)
    }

    /// Per-collector counters of messages and records sent and failed.
    pub fn stats(&self) -> Vec<DestinationStats> {
        self.stats.snapshot()
    }

    /// Flushes, sends everything queued and the options with the last loss counters given
    /// ([`Self::set_loss_counters`]), closes the sockets and returns the final counters.
    pub async fn shutdown(self) -> Vec<DestinationStats> {
        drop(self.tx);
        // The task ends when the queue closes; a join error means it panicked or was
        // cancelled with the runtime, and the counters say what was sent until then.
        let _ = self.task.await;
        self.stats.snapshot()
    }
}

async fn run(
    mut stream: ExportStream,
    transport: Transport,
    clock: Arc<dyn Clock>,
    mut rx: mpsc::Receiver<Command>,
) {
    let mut out = Vec::new();
    loop {
        let now = clock.now_ms();
        let wait =
            Duration::from_millis(stream.next_deadline_ms().saturating_sub(now)).min(MAX_TICK);
        let mut done = None;
        tokio::select! {
            cmd = rx.recv() => match cmd {
                None => break,
                Some(Command::Records(v)) => {
                    let now = clock.now_ms();
                    for r in &v {
                        stream.push(r, now);
                    }
                }
                Some(Command::Loss(c)) => stream.set_loss_counters(c),
                Some(Command::Widths(a, i)) => stream.set_widths(a, i, clock.now_ms()),
                Some(Command::Flush(tx)) => {
                    stream.flush(clock.now_ms());
                    done = Some(tx);
                }
            },
            () = tokio::time::sleep(wait) => {}
        }
        stream.poll(clock.now_ms());
        stream.drain_messages(&mut out);
        if !out.is_empty() {
            let msgs: Vec<_> = out.drain(..).map(Arc::new).collect();
            transport.send(&msgs);
        }
        if let Some(tx) = done {
            // The caller may have stopped waiting; nothing to do then.
            let _ = tx.send(());
        }
    }
    // Last words: what is open, then the options with the final loss counters.
    stream.refresh_options(clock.now_ms());
    stream.drain_messages(&mut out);
    let msgs: Vec<_> = out.drain(..).map(Arc::new).collect();
    transport.send(&msgs);
    transport.close().await;
}
