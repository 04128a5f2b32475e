//! The Kafka sink: Maxwell's routing on rdkafka, in one of two delivery modes.
//!
//! - At-least-once (single node; a cluster with `ha_delivery=at_least_once`): idempotent
//!   producer, `acks=all`; a transaction's position becomes *acknowledged* only when every row
//!   of it and of every earlier transaction has been acknowledged (`ack`). After a takeover
//!   the last message of each partition is read and rows at or before it are skipped, never
//!   past a hole in the previous term's message numbers (`maxwell.seq`, `scan`).
//! - Exactly-once (a cluster's default): rows in Kafka transactions of the cluster's one
//!   `transactional.id`, each closed by a checkpoint record (`transactions`, `checkpoint`);
//!   the acknowledged position is the last committed checkpoint.
//!
//! Invariants (both modes):
//! - Rows are handed to librdkafka in binlog order. A full local queue is backpressure:
//!   sending waits, reading stops; nothing is dropped.
//! - `abort` is honoured between rows, not only between transactions: once the stream is
//!   aborted nothing more is handed to the producer.
//! - A row Kafka refuses for good follows Maxwell's `ignore_producer_error` and
//!   `dead_letter_topic` (`refusal`, `rows`); every other error is the stream's. A refusal the
//!   sink cannot settle in place ends the stream with [`KafkaSinkError::Refused`], which names
//!   the rows: the caller reads again from the last acknowledged/committed position with them
//!   known, or holds. After an error inside a binlog transaction, exactly-once records how
//!   many of its rows were handed over (`partial`), so that a commit by the drain is a
//!   checkpoint that resumes exactly after them.
//! - Every message carries `maxwell.position` (end of its transaction), `maxwell.gtid` (GTID
//!   set after it, when known), `maxwell.row`/`maxwell.rows` (index and count in the
//!   transaction), `maxwell.server_id` (the source server that wrote it),
//!   `maxwell.source_server_id` (the server it was read from: in a dual-master pair not always
//!   the writer) and, in a cluster, `maxwell.cluster`, `maxwell.node` and `maxwell.epoch`
//!   (at-least-once also `maxwell.seq`).
//! - A `javascript` filter has run before the sink: row indexes count the rows it let
//!   through, and a row it routed (`Transaction::routes`) goes to that topic (as is) and to
//!   the partition of that partition string, hashed as Maxwell's partitioner hashes it.

mod ack;
pub mod checkpoint;
pub mod config;
mod freeze;
mod readback;
pub mod refusal;
mod rows;
mod scan;
pub mod security;
pub mod transactions;

pub use ack::is_retriable;
pub use checkpoint::{Checkpoint, Partial};
pub use config::{client_config, create_producer, create_transactional_producer, Delivery, KafkaConfig};
pub use freeze::FreezeGuard;
pub use scan::{create_scanner, read_last_rows, LastRow, Scanner};
pub use transactions::TxnSettings;

use crate::encode::Transaction;
use crate::binlog::position::ResumePoint;
use ack::{ack_in_order, describe, Pending};
use rdkafka::producer::{FutureProducer, Producer, PurgeConfig};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use transactions::Transactional;

#[derive(Debug, thiserror::Error, Clone)]
pub enum KafkaSinkError {
    #[error("Kafka configuration: {0}")]
    Config(String),
    #[error("Kafka: {0}")]
    Fatal(String),
    /// The broker is slow or unreachable right now (metadata, the takeover scan): try again.
    #[error("Kafka: {0}")]
    Transient(String),
    /// The open Kafka transaction cannot commit: abort it and resume from the checkpoint.
    #[error("Kafka transaction aborted: {0}")]
    Abortable(String),
    /// A newer producer claimed the cluster's transactional id: leadership is lost.
    #[error("fenced by a newer leader: {0}")]
    Fenced(String),
    /// Kafka refused a row for good (see `refusal`): the caller reads again or holds.
    #[error("{0}")]
    Refused(Box<refusal::Refusal>),
}

/// The writer of a cluster's messages: its root, the leading node and its term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub cluster: String,
    pub node: String,
    /// The epoch, as its header carries it.
    pub epoch: String,
}

/// Connects `producer` to the cluster in the background (metadata of every topic).
pub fn warm_up(producer: &FutureProducer) {
    let p = producer.clone();
    tokio::task::spawn_blocking(move || {
        let _ = p.client().fetch_metadata(None, Duration::from_secs(10));
    });
}

enum Mode {
    AtLeastOnce {
        pending: mpsc::Sender<Pending>,
        acker: tokio::task::JoinHandle<()>,
        /// After a takeover: the new term's start, so the scan checks the previous term's
        /// messages back to it (`None`: skip nothing, number nothing).
        dedup: Option<ResumePoint>,
        /// This sink's run (its start in ms: a term may stream more than once) and, per
        /// (topic, partition), the messages it sent there (`maxwell.seq`).
        run: u64,
        seq: HashMap<(String, i32), u64>,
        /// Per (topic, partition): the last row already in Kafka, once looked up.
        last_written: HashMap<(String, i32), Option<scan::LastRow>>,
        /// Rows skipped because they were already in Kafka (logged when the sink drains).
        skipped: u64,
    },
    ExactlyOnce(Box<Transactional>),
}

pub struct KafkaSink {
    /// Refuses sends after this process was paused (cluster mode).
    pub freeze_guard: Option<std::sync::Arc<FreezeGuard>>,
    /// Cluster mode: who writes, sent as `maxwell.cluster`, `maxwell.node`, `maxwell.epoch`.
    pub provenance: Option<Provenance>,
    /// A connected consumer for the takeover scan (one is created when absent).
    pub scanner: Option<Scanner>,
    /// What is already known about rows Kafka refused (from a stream read before, or an
    /// operator's decision).
    pub known: Vec<refusal::Known>,
    /// Maxwell's rules for a row Kafka refuses (`ignore_producer_error`, `dead_letter_topic`).
    policy: crate::config::producer_errors::ProducerErrors,
    /// Leadership in doubt: stop handing rows to the producer at once.
    pub abort: CancellationToken,
    /// Rows sent and confirmed (the stall watchdog's view of Kafka).
    progress: std::sync::Arc<crate::progress::Progress>,
    producer: FutureProducer,
    props: Vec<(String, String)>,
    routing: super::partition::Routing,
    /// `output_push_timestamp`: rows get `push_ts` (so named) as they are handed over.
    push_ts: Option<crate::config::NamingStrategy>,
    partitions: HashMap<String, i32>,
    mode: Mode,
    acked: watch::Receiver<Option<ResumePoint>>,
    failed: watch::Receiver<Option<KafkaSinkError>>,
    /// Exactly-once: nothing reports failures asynchronously (the commit does); the sender
    /// is kept so that waiting on `failed` waits.
    _failed_tx: Option<watch::Sender<Option<KafkaSinkError>>>,
}

impl KafkaSink {
    /// An at-least-once sink. `dedup`: a cluster term's start, after which rows already in
    /// Kafka are skipped (see `scan`). `producer`: an already connected producer to reuse (a
    /// standby keeps one warm, so a takeover does not wait for connections and a producer id).
    pub fn new(cfg: &KafkaConfig, dedup: Option<ResumePoint>, producer: Option<FutureProducer>, progress: std::sync::Arc<crate::progress::Progress>) -> Result<Self, KafkaSinkError> {
        let producer = match producer {
            Some(p) => p,
            None => create_producer(cfg)?,
        };
        let (ptx, prx) = mpsc::channel::<Pending>(4096);
        let (atx, arx) = watch::channel(None);
        let (ftx, frx) = watch::channel(None);
        let acker = tokio::spawn(ack_in_order(prx, atx, ftx, progress.clone()));
        let mode = Mode::AtLeastOnce { pending: ptx, acker, dedup, run: crate::metrics::now_ms(), seq: HashMap::new(), last_written: HashMap::new(), skipped: 0 };
        Ok(Self::with_mode(cfg, producer, mode, arx, frx, None, progress))
    }

    /// An exactly-once sink on a producer whose `init_transactions` this term already made,
    /// resuming after `start` (and `partial`, the committed rows of a split transaction).
    pub fn exactly_once(
        cfg: &KafkaConfig,
        producer: FutureProducer,
        settings: TxnSettings,
        start: ResumePoint,
        partial: Option<Partial>,
        bootstrap: Option<crate::binlog::position::BootstrapState>,
        progress: std::sync::Arc<crate::progress::Progress>,
    ) -> Self {
        let (atx, arx) = watch::channel(None);
        let (ftx, frx) = watch::channel(None);
        let t = Transactional::new(producer.clone(), settings, start, partial, bootstrap, atx, progress.clone());
        Self::with_mode(cfg, producer, Mode::ExactlyOnce(Box::new(t)), arx, frx, Some(ftx), progress)
    }

    fn with_mode(
        cfg: &KafkaConfig,
        producer: FutureProducer,
        mode: Mode,
        acked: watch::Receiver<Option<ResumePoint>>,
        failed: watch::Receiver<Option<KafkaSinkError>>,
        keep: Option<watch::Sender<Option<KafkaSinkError>>>,
        progress: std::sync::Arc<crate::progress::Progress>,
    ) -> Self {
        crate::metrics::get().watch_producer(&producer);
        Self {
            _failed_tx: keep,
            freeze_guard: None,
            provenance: None,
            scanner: None,
            known: Vec::new(),
            policy: cfg.errors.clone(),
            abort: CancellationToken::new(),
            progress,
            producer,
            props: cfg.props.clone(),
            routing: cfg.routing.clone(),
            push_ts: cfg.push_timestamp,
            partitions: HashMap::new(),
            mode,
            acked,
            failed,
        }
    }

    /// The position up to which every row is acknowledged (at-least-once) or committed
    /// (exactly-once).
    pub fn acked(&self) -> watch::Receiver<Option<ResumePoint>> {
        self.acked.clone()
    }

    /// Changes once, when a delivery fails (at-least-once).
    pub fn failed(&self) -> watch::Receiver<Option<KafkaSinkError>> {
        self.failed.clone()
    }

    fn failure(&self) -> Option<KafkaSinkError> {
        self.failed.borrow().clone()
    }

    /// Exactly-once: the bootstrap state of the last committed checkpoint.
    pub fn committed_bootstrap(&self) -> Option<&crate::binlog::position::BootstrapState> {
        match &self.mode {
            Mode::ExactlyOnce(t) => t.committed_bootstrap.as_ref(),
            Mode::AtLeastOnce { .. } => None,
        }
    }

    /// Exactly-once: the open Kafka transaction ends inside a split binlog transaction (a
    /// bootstrap must not start before that transaction is through).
    pub fn mid_split(&self) -> bool {
        matches!(&self.mode, Mode::ExactlyOnce(t) if t.partial.is_some())
    }

    pub fn is_exactly_once(&self) -> bool {
        matches!(self.mode, Mode::ExactlyOnce(_))
    }

    async fn partition_count(&mut self, topic: &str) -> Result<i32, KafkaSinkError> {
        if let Some(n) = self.partitions.get(topic) {
            return Ok(*n);
        }
        let producer = self.producer.clone();
        let t = topic.to_string();
        let props = self.props.clone();
        let md = tokio::task::spawn_blocking(move || {
            producer.client().fetch_metadata(Some(&t), Duration::from_secs(10)).map_err(|e| (e, security::login_refused(&props, Duration::from_secs(5))))
        })
        .await
        .expect("metadata task")
        .map_err(|(e, refused)| match refused {
            Some(why) => KafkaSinkError::Fatal(format!(
                "Kafka refused this node's login ({why}): check kafka.sasl.mechanism, kafka.sasl.username and kafka.sasl.password (or kafka.sasl.jaas.config)"
            )),
            None => KafkaSinkError::Transient(format!("cannot read metadata of topic {topic}: {}", describe(&e))),
        })?;
        let n = md.topics().iter().find(|t| t.name() == topic).map(|t| (t.error(), t.partitions().len() as i32));
        match n {
            Some((None, n)) if n > 0 => {
                self.partitions.insert(topic.to_string(), n);
                if let Mode::AtLeastOnce { dedup: Some(start), .. } = &self.mode {
                    let start = start.clone();
                    self.scan_topic(topic, n, start).await?;
                }
                Ok(n)
            }
            _ => Err(KafkaSinkError::Fatal(format!(
                "topic {topic} does not exist on the broker; create it (or enable the broker's topic auto-creation)"
            ))),
        }
    }

    /// Drops what librdkafka has not yet sent (leadership is in doubt); those rows will
    /// never be acknowledged.
    fn purge(&self) {
        self.producer.purge(PurgeConfig::default().queue().inflight().non_blocking());
    }

    /// Reads the last row of every partition of `topic` (one consumer, all partitions at once).
    async fn scan_topic(&mut self, topic: &str, partitions: i32, start: ResumePoint) -> Result<(), KafkaSinkError> {
        let scanner = match &self.scanner {
            Some(s) => s.clone(),
            None => create_scanner(&self.props)?,
        };
        let t = topic.to_string();
        let cluster = self.provenance.as_ref().map(|p| p.cluster.clone());
        let found = tokio::task::spawn_blocking(move || scan::read_last_rows(&scanner, &t, partitions, cluster.as_deref(), &start))
            .await
            .expect("scan task")
            .map_err(|e| KafkaSinkError::Transient(format!("cannot read the last messages of {topic} to avoid duplicates: {e}")))?;
        let Mode::AtLeastOnce { last_written, .. } = &mut self.mode else { return Ok(()) };
        for (p, last) in found.into_iter().enumerate() {
            if let Some(l) = &last {
                tracing::info!(topic, partition = p, position = %l.position, row = l.row, server_id = ?l.server_id, "resuming after rows already in Kafka");
            }
            last_written.insert((topic.to_string(), p as i32), last);
        }
        Ok(())
    }

    /// Exactly-once: commits a checkpoint at the current boundary now (a term's first act,
    /// so a new cluster's start point is recorded before any row).
    pub async fn checkpoint_now(&mut self) -> Result<(), KafkaSinkError> {
        match &mut self.mode {
            Mode::ExactlyOnce(t) => t.commit().await,
            Mode::AtLeastOnce { .. } => Ok(()),
        }
    }

    /// Exactly-once: when the open Kafka transaction is due for its commit.
    pub fn next_commit(&self) -> Option<std::time::Instant> {
        match &self.mode {
            Mode::ExactlyOnce(t) => t.due(),
            Mode::AtLeastOnce { .. } => None,
        }
    }

    /// Exactly-once: commits the open Kafka transaction if it is due.
    pub async fn commit_if_due(&mut self) -> Result<(), KafkaSinkError> {
        match &mut self.mode {
            Mode::ExactlyOnce(t) if t.due().is_some_and(|d| d <= std::time::Instant::now()) => t.commit().await,
            _ => Ok(()),
        }
    }

    fn in_doubt(&self) -> Option<KafkaSinkError> {
        if self.abort.is_cancelled() {
            return Some(KafkaSinkError::Transient("leadership in doubt: nothing more is sent".into()));
        }
        if let Some(g) = &self.freeze_guard {
            if !g.check() {
                return Some(KafkaSinkError::Transient("this process was paused for longer than a lease: leadership in doubt, nothing more is sent".into()));
            }
        }
        None
    }

    /// Hands every row of `tx` to the producer (waiting while its queue is full). At-least-
    /// once: queues the transaction for in-order acknowledgement. Exactly-once: adds its rows
    /// to the open Kafka transaction and commits that when it is due or full.
    pub async fn send(&mut self, tx: Transaction) -> Result<(), KafkaSinkError> {
        self.send_more(tx, 0).await
    }

    /// [`send`](Self::send), told how many transactions are already waiting behind this one
    /// (a backlog: exactly-once mode then makes fewer, larger Kafka transactions).
    pub async fn send_more(&mut self, tx: Transaction, queued: usize) -> Result<(), KafkaSinkError> {
        let more_queued = queued >= transactions::BACKLOG_QUEUED;
        if let Some(e) = self.failure() {
            return Err(e);
        }
        let point = tx.resume_point();
        let facts = rows::TxFacts {
            pos_text: tx.position.to_string(),
            gtid_text: tx.gtid_set.as_ref().map(|g| g.to_string()),
            server_text: tx.server_id.to_string(),
            source_text: tx.source_server_id.to_string(),
            rows_text: tx.total_rows().to_string(),
            position: tx.position.clone(),
            gtid: tx.gtid_set.clone(),
            server_id: tx.server_id,
            source_server_id: tx.source_server_id,
            xid: tx.xid,
            thread_id: tx.thread_id,
            bootstrap: tx.bootstrap.is_some(),
        };
        let n = tx.row_ends.len();
        // A part of a spilled transaction: row indexes count from the transaction's start.
        let first = tx.first_row();
        // Exactly-once after a split transaction: its first rows are already committed.
        let skip = match &self.mode {
            Mode::ExactlyOnce(t) => t.partial.as_ref().filter(|p| p.position == tx.position).map_or(0, |p| p.rows),
            Mode::AtLeastOnce { .. } => 0,
        };
        let mut deliveries = Vec::with_capacity(n);
        let mut start = 0usize;
        for (local, (&end, meta)) in tx.row_ends.iter().zip(&tx.meta).enumerate() {
            let i = first + local;
            let value = &tx.json[start..end - 1]; // without the newline
            start = end;
            if i < skip {
                continue;
            }
            if let Mode::ExactlyOnce(t) = &mut self.mode {
                t.begin()?;
            }
            if let Err(e) = self.send_row(&facts, i, meta, value, tx.route(local), &mut deliveries).await {
                // Exactly-once: what was handed over of this transaction is counted, so that a
                // commit of the open Kafka transaction (the drain's) records where it stops.
                if let Mode::ExactlyOnce(t) = &mut self.mode {
                    if i > 0 {
                        t.partial = Some(Partial { position: tx.position.clone(), rows: i });
                    }
                }
                return Err(e);
            }
        }
        match &mut self.mode {
            Mode::AtLeastOnce { pending, .. } => pending
                .send(Pending { point: tx.ends_transaction().then_some(point), at: (!facts.bootstrap).then_some((facts.position, facts.gtid)), ts: tx.ts, deliveries })
                .await
                .map_err(|_| self.failed.borrow().clone().unwrap_or_else(|| KafkaSinkError::Fatal("acknowledgement task ended".into()))),
            Mode::ExactlyOnce(t) if !tx.ends_transaction() => {
                // More parts follow: a commit now (it is due) records the rows so far.
                let rows = first + n;
                if t.partial.as_ref().is_none_or(|p| p.position != tx.position || p.rows < rows) {
                    t.partial = Some(Partial { position: tx.position.clone(), rows });
                }
                Ok(())
            }
            Mode::ExactlyOnce(t) => {
                t.boundary = point;
                if let Some(b) = tx.bootstrap {
                    t.bootstrap = Some(b);
                }
                t.source_server_id = Some(tx.source_server_id).filter(|id| *id != 0);
                t.partial = None;
                t.last_ts = tx.ts;
                t.txs += 1;
                if t.commit_now(more_queued) || t.idle_checkpoint_due() {
                    t.commit().await?;
                }
                Ok(())
            }
        }
    }

    /// Ends the sink. Not aborted: waits until every row is acknowledged (at-least-once) or
    /// commits the open Kafka transaction (exactly-once). Aborted: purges what was not sent
    /// and aborts the open Kafka transaction.
    pub async fn drain(self) -> (Option<ResumePoint>, Option<KafkaSinkError>) {
        let abort = self.abort.clone();
        let aborted = abort.is_cancelled();
        if aborted {
            self.purge();
        }
        let KafkaSink { producer, mode, acked, failed, .. } = self;
        let mut err = None;
        match mode {
            Mode::AtLeastOnce { pending, acker, skipped, .. } => {
                if skipped > 0 {
                    tracing::info!(rows = skipped, "skipped rows the previous leader had already written to Kafka");
                }
                drop(pending);
                let _ = acker.await;
                err = failed.borrow().clone();
                if err.is_some() {
                    // A row failed: rows queued behind it are dropped (the next term's scan
                    // would not skip past the hole they leave, but they would be repeats).
                    producer.purge(PurgeConfig::default().queue().non_blocking());
                }
                let p = producer.clone();
                let _ = tokio::task::spawn_blocking(move || p.flush(Duration::from_secs(30))).await;
            }
            Mode::ExactlyOnce(mut t) => {
                if aborted {
                    t.abort().await;
                } else if t.due().is_some() {
                    if let Err(e) = t.commit().await {
                        t.abort().await;
                        err = Some(e);
                    }
                }
            }
        }
        drop(producer);
        let acked = acked.borrow().clone();
        // Aborted meanwhile counts too: nothing left undelivered is an error then.
        (acked, if abort.is_cancelled() { None } else { err })
    }
}
