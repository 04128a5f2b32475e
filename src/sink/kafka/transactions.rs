//! Exactly-once writing: rows go out in Kafka transactions of the cluster's one stable
//! `transactional.id`, each closed by a checkpoint record in the same transaction.
//!
//! Invariants:
//! - `init_transactions` is called once per term, only after this node won the election and
//!   bumped the epoch. It fences every earlier producer of the cluster: their open
//!   transaction is aborted and any later write or commit of theirs fails (ProducerFenced),
//!   whatever they believe about ZooKeeper. A standby never calls it.
//! - A Kafka transaction ends on a binlog transaction boundary (every `interval` while the
//!   stream is live, at most every second while a backlog is read, or when it holds
//!   `max_rows`), except when one binlog transaction alone exceeds `max_rows`: it is
//!   then split and the checkpoint's `partial` counts the rows already committed.
//! - The acknowledged position is published only after `commit_transaction` returned.
//! - Errors: fenced (ProducerFenced, InvalidProducerEpoch, librdkafka's fatal `_FENCED`) =
//!   leadership lost; abortable = abort, resume from the last checkpoint; retriable commit
//!   errors are retried within the transaction timeout. A transaction that cannot commit
//!   because rows of it were refused for good reports those rows (`refusal`): each binlog
//!   row's delivery is kept until the commit for that.

use super::checkpoint::{Checkpoint, Partial};
use super::refusal::{suspect, Refusal, RowRef};
use super::KafkaSinkError;
use crate::binlog::gtid::GtidSet;
use crate::binlog::position::{BinlogPosition, ResumePoint};
use rdkafka::producer::DeliveryFuture;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Longest a Kafka transaction stays open while the reader has a backlog.
pub const BACKLOG_INTERVAL: Duration = Duration::from_secs(1);
/// How often a stream whose filter matched nothing lately still commits its checkpoint (at a
/// binlog boundary), so its resume point follows the binlog (see
/// [`Transactional::idle_checkpoint_due`]).
pub const IDLE_CHECKPOINT: Duration = Duration::from_secs(1);
/// Transactions read and waiting that make a backlog (the reader's queue holds 256; a live
/// stream keeps it near empty).
pub const BACKLOG_QUEUED: usize = 64;

/// The term's exactly-once settings.
#[derive(Debug, Clone)]
pub struct TxnSettings {
    pub checkpoint_topic: String,
    /// Key of this cluster's checkpoint records (its ZooKeeper root).
    pub key: String,
    pub epoch: u64,
    pub node_id: String,
    /// Close a Kafka transaction this long after it opened (at the next binlog boundary).
    pub interval: Duration,
    /// Close a Kafka transaction once it holds this many rows (splitting a larger binlog
    /// transaction).
    pub max_rows: usize,
    /// Bound of one `commit_transaction`/`init_transactions` call.
    pub timeout: Duration,
}

/// Maps an error of the transactional API to what the leader must do.
pub fn classify(e: &KafkaError, what: &str) -> KafkaSinkError {
    use RDKafkaErrorCode::*;
    let msg = format!("{what}: {e}");
    match e {
        KafkaError::Transaction(r) => {
            if matches!(r.code(), ProducerFenced | InvalidProducerEpoch | Fenced) {
                KafkaSinkError::Fenced(msg)
            } else if r.is_fatal() {
                KafkaSinkError::Fatal(msg)
            } else if r.txn_requires_abort() {
                KafkaSinkError::Abortable(msg)
            } else {
                KafkaSinkError::Transient(msg)
            }
        }
        _ => KafkaSinkError::Transient(msg),
    }
}

/// How a claim of the cluster's transactional id ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Done,
    /// Not done in time: the coordinator was still completing an earlier producer's open
    /// transaction (librdkafka asks again 500 ms after that answer).
    Concurrent,
    /// Not done in time, for another reason (librdkafka goes on trying in the background;
    /// a later call waits for the same attempt).
    TimedOut,
    /// Refused for now with a retriable answer (the coordinator is loading its state, as
    /// right after a broker started, or moving): the same producer may claim again.
    Retry,
}

/// Claims the cluster's transactional id for this term (fencing every earlier producer),
/// waiting at most `timeout`.
pub async fn init(producer: &FutureProducer, timeout: Duration) -> Result<Claim, KafkaSinkError> {
    let p = producer.clone();
    let r = tokio::task::spawn_blocking(move || p.init_transactions(timeout)).await.expect("init_transactions task");
    match r {
        Ok(()) => Ok(Claim::Done),
        // A call that timed out reports the last answer it had.
        Err(KafkaError::Transaction(e)) if e.code() == RDKafkaErrorCode::ConcurrentTransactions => Ok(Claim::Concurrent),
        Err(KafkaError::Transaction(e)) if e.code() == RDKafkaErrorCode::OperationTimedOut => Ok(Claim::TimedOut),
        Err(KafkaError::Transaction(e)) if e.is_retriable() && !e.is_fatal() => {
            tracing::info!(answer = %e, "the transaction coordinator is not ready; claiming again");
            Ok(Claim::Retry)
        }
        Err(e) => Err(match classify(&e, "claiming the cluster's transactional id") {
            // A newer producer already claimed it: this node is not the leader any more.
            KafkaSinkError::Fenced(m) => KafkaSinkError::Fenced(m),
            other => KafkaSinkError::Transient(other.to_string()),
        }),
    }
}

pub(super) struct Transactional {
    producer: FutureProducer,
    s: TxnSettings,
    open: bool,
    opened_at: Instant,
    /// Rows in the open Kafka transaction.
    pub rows: usize,
    /// The last binlog boundary every row before which is in the open (or a committed)
    /// Kafka transaction.
    pub boundary: ResumePoint,
    /// Rows of the binlog transaction after `boundary` already handed to Kafka.
    pub partial: Option<Partial>,
    /// The server `boundary` was read from.
    pub source_server_id: Option<u32>,
    /// The latest bootstrap's state as of the rows handed over, and as last committed.
    pub bootstrap: Option<crate::binlog::position::BootstrapState>,
    pub committed_bootstrap: Option<crate::binlog::position::BootstrapState>,
    /// Commit time (Unix seconds) of the last binlog transaction added, for the latency metric.
    pub last_ts: u32,
    /// Binlog transactions completed in the open Kafka transaction.
    pub txs: u32,
    acked: watch::Sender<Option<ResumePoint>>,
    /// When the last checkpoint was committed.
    checkpointed: Instant,
    /// Told how many rows each commit confirmed.
    progress: std::sync::Arc<crate::progress::Progress>,
    /// The binlog transactions with rows in the open Kafka transaction, and each of those
    /// rows (its transaction in `spans`, its index there) with its delivery.
    spans: Vec<(BinlogPosition, Option<GtidSet>)>,
    sent: Vec<(u32, usize, DeliveryFuture)>,
    /// Rows refused and skipped or dead-lettered in the open transaction: counted in
    /// `maxwell_refused_rows_total` once it commits.
    pub refused: Vec<&'static str>,
}

impl Transactional {
    pub fn new(
        producer: FutureProducer,
        s: TxnSettings,
        start: ResumePoint,
        partial: Option<Partial>,
        bootstrap: Option<crate::binlog::position::BootstrapState>,
        acked: watch::Sender<Option<ResumePoint>>,
        progress: std::sync::Arc<crate::progress::Progress>,
    ) -> Self {
        Self {
            producer,
            s,
            open: false,
            opened_at: Instant::now(),
            rows: 0,
            boundary: start,
            partial,
            source_server_id: None,
            committed_bootstrap: bootstrap.clone(),
            bootstrap,
            last_ts: 0,
            txs: 0,
            acked,
            checkpointed: Instant::now(),
            progress,
            spans: Vec::new(),
            sent: Vec::new(),
            refused: Vec::new(),
        }
    }

    /// Keeps the delivery of row `row` of the binlog transaction ending at `position`.
    pub fn track(&mut self, position: &BinlogPosition, gtid: Option<&GtidSet>, row: usize, d: DeliveryFuture) {
        if self.spans.last().is_none_or(|(p, _)| p != position) {
            self.spans.push((position.clone(), gtid.cloned()));
        }
        self.sent.push(((self.spans.len() - 1) as u32, row, d));
    }

    /// The rows of the open transaction whose delivery failed with a code that may refuse
    /// them for good (`None` when there is none), waiting up to 2 s for delivery reports
    /// still on their way. Their deliveries are consumed: the transaction cannot commit.
    pub async fn refused_rows(&mut self) -> Option<Vec<RowRef>> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        let mut rows = Vec::new();
        for (span, row, d) in self.sent.drain(..) {
            if let Ok(Ok(Err((e, _)))) = tokio::time::timeout_at(deadline, d).await {
                if e.rdkafka_error_code().is_some_and(suspect) {
                    let (position, gtid) = &self.spans[span as usize];
                    rows.push(RowRef { position: position.clone(), gtid: gtid.clone(), row });
                }
            }
        }
        self.spans.clear();
        (!rows.is_empty()).then_some(rows)
    }

    /// `e`, or the refused rows that made the transaction fail.
    async fn because(&mut self, e: KafkaSinkError) -> KafkaSinkError {
        match self.refused_rows().await {
            Some(rows) => KafkaSinkError::Refused(Box::new(Refusal::Suspects(rows))),
            None => e,
        }
    }

    /// Opens a Kafka transaction unless one is open.
    pub fn begin(&mut self) -> Result<(), KafkaSinkError> {
        if !self.open {
            self.producer.begin_transaction().map_err(|e| classify(&e, "beginning a Kafka transaction"))?;
            self.open = true;
            self.opened_at = Instant::now();
            self.rows = 0;
        }
        Ok(())
    }

    /// When the open transaction is due for its commit.
    pub fn due(&self) -> Option<Instant> {
        self.open.then(|| self.opened_at + self.s.interval)
    }

    pub fn full(&self) -> bool {
        self.rows >= self.s.max_rows
    }

    /// Whether to commit at this binlog boundary: when full; when due and nothing more is
    /// waiting to be sent (live: latency bounded by the interval); while catching up with a
    /// backlog, once the transaction is [`BACKLOG_INTERVAL`] old (fewer, larger commits).
    pub fn commit_now(&self, more_queued: bool) -> bool {
        let Some(due) = self.due() else { return false };
        let now = Instant::now();
        self.full() || (now >= due && (!more_queued || now >= self.opened_at + BACKLOG_INTERVAL.max(self.s.interval)))
    }

    /// No Kafka transaction is open (nothing of this stream's tables came by) but binlog
    /// transactions did, and the last checkpoint is [`IDLE_CHECKPOINT`] old: commit a
    /// checkpoint alone. Otherwise a stream that matches little (a quiet shard) would keep
    /// an old resume point, re-read the binlog since then after every takeover, and lose its
    /// place once those files are purged.
    pub fn idle_checkpoint_due(&self) -> bool {
        !self.open && self.txs > 0 && self.checkpointed.elapsed() >= IDLE_CHECKPOINT.max(self.s.interval)
    }

    /// Writes the checkpoint (`boundary`, `partial`) and commits the open transaction (one is
    /// opened when none is: a checkpoint alone is a valid transaction).
    pub async fn commit(&mut self) -> Result<(), KafkaSinkError> {
        self.begin()?;
        let cp = Checkpoint {
            position: self.boundary.position.clone(),
            gtid: self.boundary.gtid.clone(),
            server_id: self.boundary.server_id,
            source_server_id: self.source_server_id,
            partial: self.partial.clone(),
            bootstrap: self.bootstrap.clone(),
            epoch: self.s.epoch,
            node_id: self.s.node_id.clone(),
            committed_at: crate::metrics::now_ms(),
        };
        let value = cp.to_string();
        let mut record = FutureRecord::to(&self.s.checkpoint_topic).key(&self.s.key).payload(&value).partition(0);
        loop {
            match self.producer.send_result(record) {
                Ok(_) => break,
                Err((e, r)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(self.because(KafkaSinkError::Abortable(format!("cannot enqueue the checkpoint: {e}"))).await),
            }
        }
        let started = Instant::now();
        let deadline = started + self.s.timeout;
        // Wait for the deliveries here: rdkafka's commit_transaction flushes by polling the
        // event queue in 100 ms steps, competing with the producer's own polling thread, so
        // anything still in flight when it starts costs a full 100 ms.
        while self.producer.in_flight_count() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        loop {
            let (p, left) = (self.producer.clone(), deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100)));
            let r = tokio::task::spawn_blocking(move || p.commit_transaction(left)).await.expect("commit task");
            match r {
                Ok(()) => {
                    let m = crate::metrics::get();
                    m.kafka_commit(started.elapsed());
                    m.messages_succeeded.inc_by(self.rows as u64);
                    self.progress.confirmed(self.rows as u64);
                    if self.txs > 0 {
                        self.progress.acked_at(self.last_ts);
                    }
                    for _ in 0..std::mem::take(&mut self.txs) {
                        m.acked(self.last_ts);
                    }
                    for action in self.refused.drain(..) {
                        m.refused_rows.with_label_values(&[action]).inc();
                    }
                    self.sent.clear();
                    self.spans.clear();
                    self.open = false;
                    self.rows = 0;
                    self.checkpointed = Instant::now();
                    self.committed_bootstrap = cp.bootstrap.clone();
                    tracing::debug!(position = %cp.position, partial = ?cp.partial, "Kafka transaction committed");
                    if cp.partial.is_none() {
                        let _ = self.acked.send(Some(self.boundary.clone()));
                    }
                    return Ok(());
                }
                Err(e) => match classify(&e, "committing a Kafka transaction") {
                    KafkaSinkError::Transient(m) if Instant::now() < deadline => {
                        tracing::warn!(error = %m, "Kafka transaction commit: retrying");
                    }
                    KafkaSinkError::Fenced(m) => return Err(KafkaSinkError::Fenced(m)),
                    other => return Err(self.because(other).await),
                },
            }
        }
    }

    /// Aborts the open transaction (best effort: a fenced or dead producer cannot, and the
    /// next leader's `init_transactions` aborts it anyway).
    pub async fn abort(&mut self) {
        self.refused.clear();
        self.sent.clear();
        self.spans.clear();
        if !self.open {
            return;
        }
        self.open = false;
        let p = self.producer.clone();
        let r = tokio::task::spawn_blocking(move || p.abort_transaction(Duration::from_secs(2))).await;
        if let Ok(Err(e)) = r {
            match classify(&e, "aborting the open Kafka transaction") {
                KafkaSinkError::Fenced(m) => tracing::warn!(error = %m, "this producer was fenced by a newer leader: nothing it sent after that is visible"),
                other => tracing::debug!(error = %other, "aborting the open Kafka transaction failed (the next leader's claim aborts it)"),
            }
        }
    }
}
