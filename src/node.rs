//! One node's main job: read the binlog, encode, write to the sink, track the position.
//!
//! Invariants:
//! - The reader runs on its own task and hands whole transactions to the sink task over a
//!   bounded channel (backpressure, not unbounded buffering).
//! - The reported position is that of the last transaction the sink acknowledged, never one
//!   only read.
//! - Shutdown (SIGINT/SIGTERM, or cancellation): the reader stops at the next transaction
//!   boundary, the sink drains what was read, and the final position is logged.

use crate::binlog::decoder::{DecoderConfig, Transaction};
use crate::binlog::reader::{Reader, ReaderError, ResumePoint};
use crate::config::Config;
use crate::sink::kafka::{KafkaSink, KafkaSinkError};
use crate::sink::stdout::StdoutSink;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Reader(#[from] ReaderError),
    #[error("writing to stdout failed: {0}")]
    Sink(std::io::Error),
    #[error(transparent)]
    Kafka(#[from] KafkaSinkError),
}

/// Streams until `cancel` fires or a definite error; returns the last acknowledged point.
pub async fn run(cfg: &Config, cancel: CancellationToken) -> Result<Option<ResumePoint>, (NodeError, Option<ResumePoint>)> {
    let dcfg = DecoderConfig { output: cfg.output.clone(), filter: cfg.filter.clone(), ..Default::default() };
    let mut reader = Reader::open(cfg.source.clone(), dcfg, &cfg.init_position).await.map_err(|e| (e.into(), None))?;
    tracing::info!(
        server = %reader.info.version,
        position = %reader.resume.position,
        gtid = %reader.resume.gtid.as_ref().map(|g| g.to_string()).unwrap_or_default(),
        "starting binlog stream"
    );
    let (tx, mut rx) = mpsc::channel::<Transaction>(256);
    let use_gtid = cfg.gtid_mode;
    let rcancel = cancel.clone();
    let reader_task = tokio::spawn(async move { reader.run(use_gtid, &rcancel, &tx).await });
    let result = match &cfg.kafka {
        None => to_stdout(&mut rx, &cancel),
        Some(k) => match KafkaSink::new(k) {
            Ok(sink) => to_kafka(sink, &mut rx, &cancel).await,
            Err(e) => (None, Some(e.into())),
        },
    };
    drop(rx);
    let reader_result = reader_task.await.expect("reader task panicked");
    match (result, reader_result) {
        ((last, Some(e)), _) => Err((e, last)),
        ((last, None), Err(e)) => Err((e.into(), last)),
        ((last, None), Ok(())) => Ok(last),
    }
}

/// Writes each transaction as it arrives; the position advances after the flush.
fn to_stdout(rx: &mut mpsc::Receiver<Transaction>, cancel: &CancellationToken) -> (Option<ResumePoint>, Option<NodeError>) {
    let mut sink = StdoutSink::new(std::io::stdout().lock());
    let mut last = None;
    while let Some(t) = tokio::task::block_in_place(|| rx.blocking_recv()) {
        if let Err(e) = sink.write(&t) {
            cancel.cancel();
            return (last, Some(NodeError::Sink(e)));
        }
        last = Some(ResumePoint { position: t.position, gtid: t.gtid_set });
    }
    (last, None)
}

/// Hands transactions to Kafka; the position is the acknowledged watermark.
async fn to_kafka(mut sink: KafkaSink, rx: &mut mpsc::Receiver<Transaction>, cancel: &CancellationToken) -> (Option<ResumePoint>, Option<NodeError>) {
    let mut acked = sink.acked();
    let progress = tokio::spawn(async move {
        while acked.changed().await.is_ok() {
            if let Some(p) = acked.borrow().as_ref() {
                tracing::debug!(position = %p.position, "acknowledged by Kafka");
            }
        }
    });
    let mut err = None;
    while let Some(t) = rx.recv().await {
        if let Err(e) = sink.send(t).await {
            err = Some(e);
            cancel.cancel();
            break;
        }
    }
    let (last, drain_err) = sink.drain().await;
    progress.abort();
    (last, err.or(drain_err).map(NodeError::from))
}
