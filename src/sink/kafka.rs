//! The Kafka producer: Maxwell's routing on rdkafka, `acks=all` + idempotence, a delivery-
//! ordered position watermark.
//!
//! Invariants:
//! - Rows are handed to librdkafka in binlog order; a transaction's position becomes
//!   *acknowledged* only when every row of it and of every earlier transaction has been
//!   acknowledged by the broker (the acker awaits deliveries strictly in order).
//! - A full local queue is backpressure: sending waits, reading stops; nothing is dropped.
//! - librdkafka retries retriable errors itself (idempotently); an error that reaches a
//!   delivery report is final: the node stops with that error and the last acknowledged
//!   position, and nothing after it is considered written.
//! - After a takeover (`dedup`), the last message of each partition written to is read first;
//!   rows at or before its (`maxwell.position`, `maxwell.row`) are already in Kafka and are
//!   skipped, so a new leader does not duplicate what the old one wrote after its last commit.
//! - Every message carries `maxwell.position` (end of its transaction, the resume point),
//!   `maxwell.gtid` (GTID set after it, when known), `maxwell.row` (index in the
//!   transaction) and `maxwell.rows` (rows in the transaction) headers.

use super::partition::{partition_for, Routing};
use crate::binlog::decoder::Transaction;
use crate::binlog::reader::ResumePoint;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use crate::binlog::position::BinlogPosition;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer, PurgeConfig};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

#[derive(Debug, thiserror::Error, Clone)]
pub enum KafkaSinkError {
    #[error("Kafka configuration: {0}")]
    Config(String),
    #[error("Kafka: {0}")]
    Fatal(String),
    /// The broker is slow or unreachable right now (metadata, the takeover scan): try again.
    #[error("Kafka: {0}")]
    Transient(String),
}

/// Settings for the producer: `kafka.*` properties (prefix stripped) and Maxwell's routing.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    pub props: Vec<(String, String)>,
    pub routing: Routing,
}

/// librdkafka settings we insist on unless the user says otherwise, and conflicts we refuse.
pub fn client_config(props: &[(String, String)]) -> Result<ClientConfig, KafkaSinkError> {
    let get = |k: &str| props.iter().rev().find(|(p, _)| p == k).map(|(_, v)| v.as_str());
    if get("bootstrap.servers").is_none() {
        return Err(KafkaSinkError::Config("`kafka.bootstrap.servers` is required with producer=kafka".into()));
    }
    let idempotent = get("enable.idempotence").unwrap_or("true");
    let acks = get("acks").or(get("request.required.acks")).unwrap_or("all");
    if idempotent == "true" && !matches!(acks, "all" | "-1") {
        return Err(KafkaSinkError::Config(format!(
            "`kafka.acks={acks}` conflicts with idempotence (on by default): use acks=all, or set kafka.enable.idempotence=false to accept possible loss"
        )));
    }
    if let Some(n) = get("max.in.flight.requests.per.connection").or(get("max.in.flight")) {
        if idempotent == "true" && n.parse::<u32>().map_or(true, |n| n > 5) {
            return Err(KafkaSinkError::Config(format!("`kafka.max.in.flight.requests.per.connection={n}` must be 1..5 with idempotence")));
        }
    }
    if get("transactional.id").is_some() {
        return Err(KafkaSinkError::Config("`kafka.transactional.id` is not supported (positions are fenced in ZooKeeper)".into()));
    }
    let mut c = ClientConfig::new();
    c.set("enable.idempotence", idempotent).set("acks", acks).set("linger.ms", "5");
    for (k, v) in props {
        c.set(k, v);
    }
    Ok(c)
}

/// Creates a producer with our settings.
pub fn create_producer(cfg: &KafkaConfig) -> Result<FutureProducer, KafkaSinkError> {
    client_config(&cfg.props)?.create().map_err(|e| KafkaSinkError::Config(format!("librdkafka refused the kafka.* settings: {e}")))
}

/// A consumer kept connected for the takeover scan: a standby creates it while standing by,
/// so a takeover does not wait for a new connection.
pub type Scanner = std::sync::Arc<BaseConsumer>;

/// Creates the takeover scan's consumer (only the connection and security settings of
/// `props` apply) and connects it in the background.
pub fn create_scanner(props: &[(String, String)]) -> Result<Scanner, KafkaSinkError> {
    let mut c = ClientConfig::new();
    for (k, v) in props {
        if k == "bootstrap.servers" || k.starts_with("security.") || k.starts_with("sasl.") || k.starts_with("ssl.") || k.starts_with("reconnect.") {
            c.set(k, v);
        }
    }
    // The scan reads one message per partition that is already there: never wait for more.
    c.set("group.id", format!("maxwell-ha-scan-{}", std::process::id())).set("enable.auto.commit", "false").set("fetch.wait.max.ms", "10");
    let consumer: BaseConsumer = c.create().map_err(|e| KafkaSinkError::Config(format!("librdkafka refused the kafka.* settings: {e}")))?;
    let consumer = std::sync::Arc::new(consumer);
    let warm = consumer.clone();
    std::thread::spawn(move || {
        let _ = warm.fetch_metadata(None, Duration::from_secs(10));
    });
    Ok(consumer)
}

/// Connects `producer` to the cluster in the background (metadata of every topic).
pub fn warm_up(producer: &FutureProducer) {
    let p = producer.clone();
    tokio::task::spawn_blocking(move || {
        let _ = p.client().fetch_metadata(None, Duration::from_secs(10));
    });
}

/// Whether an error code is worth retrying at the application level.
pub fn is_retriable(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode::*;
    matches!(code, QueueFull | NotEnoughReplicas | NotEnoughReplicasAfterAppend | LeaderNotAvailable | NotLeaderForPartition | RequestTimedOut | NetworkException | BrokerTransportFailure | AllBrokersDown)
}

fn describe(e: &KafkaError) -> String {
    match e.rdkafka_error_code() {
        Some(c) => format!("{e} ({c:?}{})", if is_retriable(c) { ", retriable, retries exhausted" } else { ", not retriable" }),
        None => e.to_string(),
    }
}

/// One transaction's deliveries: each resolves to `Err(description)` on failure.
struct Pending {
    point: ResumePoint,
    /// Commit time of the transaction (Unix seconds), for the commit-to-ack latency.
    ts: u32,
    deliveries: Vec<futures_util::future::BoxFuture<'static, Result<(), String>>>,
}

fn delivery(d: DeliveryFuture) -> futures_util::future::BoxFuture<'static, Result<(), String>> {
    Box::pin(async move {
        match d.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((e, _))) => Err(describe(&e)),
            Err(_) => Err("the producer was dropped before the broker answered".to_string()),
        }
    })
}

/// Detects that this process was paused (SIGSTOP, VM freeze, long GC-like stalls): a ticker
/// records the time every 100 ms; a gap longer than `max_gap` means every lease this process
/// held may have expired meanwhile, so nothing more may be handed to the producer.
pub struct FreezeGuard {
    last_tick_ms: std::sync::atomic::AtomicU64,
    tripped: std::sync::atomic::AtomicBool,
    max_gap_ms: u64,
}

impl FreezeGuard {
    /// Starts the ticker; `on_trip` runs once when a pause is detected.
    pub fn start(max_gap: Duration, on_trip: impl Fn() + Send + 'static) -> std::sync::Arc<Self> {
        let g = std::sync::Arc::new(Self {
            last_tick_ms: std::sync::atomic::AtomicU64::new(now_ms()),
            tripped: std::sync::atomic::AtomicBool::new(false),
            max_gap_ms: max_gap.as_millis() as u64,
        });
        let weak = std::sync::Arc::downgrade(&g);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let Some(g) = weak.upgrade() else { return };
                if !g.check() {
                    on_trip();
                    return;
                }
                g.last_tick_ms.store(now_ms(), std::sync::atomic::Ordering::SeqCst);
            }
        });
        g
    }

    /// `false` once a pause has been seen (by the ticker or by this check).
    pub fn check(&self) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        if self.tripped.load(SeqCst) {
            return false;
        }
        if now_ms().saturating_sub(self.last_tick_ms.load(SeqCst)) > self.max_gap_ms {
            self.tripped.store(true, SeqCst);
            return false;
        }
        true
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub struct KafkaSink {
    /// Refuses sends after this process was paused (cluster mode).
    pub freeze_guard: Option<std::sync::Arc<FreezeGuard>>,
    /// Cluster mode: the writing node and its epoch, sent as `maxwell.node`/`maxwell.epoch`.
    pub provenance: Option<(String, String)>,
    /// A connected consumer for the takeover scan (one is created when absent).
    pub scanner: Option<Scanner>,
    producer: FutureProducer,
    props: Vec<(String, String)>,
    dedup: bool,
    /// Per (topic, partition): the last row already in Kafka, once looked up.
    last_written: HashMap<(String, i32), Option<(BinlogPosition, usize)>>,
    /// Rows skipped because they were already in Kafka (logged when the sink drains).
    skipped: u64,
    routing: Routing,
    partitions: HashMap<String, i32>,
    pending: mpsc::Sender<Pending>,
    acked: watch::Receiver<Option<ResumePoint>>,
    failed: watch::Receiver<Option<KafkaSinkError>>,
    acker: tokio::task::JoinHandle<()>,
}

impl KafkaSink {
    /// `producer`: an already connected producer to reuse (a standby keeps one warm, so a
    /// takeover does not wait for connections and an idempotent producer id).
    pub fn new(cfg: &KafkaConfig, dedup: bool, producer: Option<FutureProducer>) -> Result<Self, KafkaSinkError> {
        let producer = match producer {
            Some(p) => p,
            None => create_producer(cfg)?,
        };
        crate::metrics::get().watch_producer(&producer);
        let (ptx, prx) = mpsc::channel::<Pending>(4096);
        let (atx, arx) = watch::channel(None);
        let (ftx, frx) = watch::channel(None);
        let acker = tokio::spawn(ack_in_order(prx, atx, ftx));
        Ok(Self {
            freeze_guard: None,
            provenance: None,
            scanner: None,
            producer,
            props: cfg.props.clone(),
            dedup,
            last_written: HashMap::new(),
            skipped: 0,
            routing: cfg.routing.clone(),
            partitions: HashMap::new(),
            pending: ptx,
            acked: arx,
            failed: frx,
            acker,
        })
    }

    /// The position up to which every row is acknowledged.
    pub fn acked(&self) -> watch::Receiver<Option<ResumePoint>> {
        self.acked.clone()
    }

    /// Changes once, when a delivery fails.
    pub fn failed(&self) -> watch::Receiver<Option<KafkaSinkError>> {
        self.failed.clone()
    }

    fn failure(&self) -> Option<KafkaSinkError> {
        self.failed.borrow().clone()
    }

    async fn partition_count(&mut self, topic: &str) -> Result<i32, KafkaSinkError> {
        if let Some(n) = self.partitions.get(topic) {
            return Ok(*n);
        }
        let producer = self.producer.clone();
        let t = topic.to_string();
        let md = tokio::task::spawn_blocking(move || producer.client().fetch_metadata(Some(&t), Duration::from_secs(10)))
            .await
            .expect("metadata task")
            .map_err(|e| KafkaSinkError::Transient(format!("cannot read metadata of topic {topic}: {}", describe(&e))))?;
        let n = md.topics().iter().find(|t| t.name() == topic).map(|t| (t.error(), t.partitions().len() as i32));
        match n {
            Some((None, n)) if n > 0 => {
                self.partitions.insert(topic.to_string(), n);
                if self.dedup {
                    self.scan_topic(topic, n).await?;
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
    pub fn purge(&self) {
        self.producer.purge(PurgeConfig::default().queue().inflight().non_blocking());
    }

    /// Reads the last row of every partition of `topic` (one consumer, all partitions at once).
    async fn scan_topic(&mut self, topic: &str, partitions: i32) -> Result<(), KafkaSinkError> {
        let scanner = match &self.scanner {
            Some(s) => s.clone(),
            None => create_scanner(&self.props)?,
        };
        let t = topic.to_string();
        let found = tokio::task::spawn_blocking(move || read_last_rows(&scanner, &t, partitions))
            .await
            .expect("scan task")
            .map_err(|e| KafkaSinkError::Transient(format!("cannot read the last messages of {topic} to avoid duplicates: {e}")))?;
        for (p, last) in found.into_iter().enumerate() {
            if let Some((pos, row)) = &last {
                tracing::info!(topic, partition = p, position = %pos, row, "resuming after rows already in Kafka");
            }
            self.last_written.insert((topic.to_string(), p as i32), last);
        }
        Ok(())
    }

    /// Hands every row of `tx` to the producer (waiting while its queue is full) and queues
    /// the transaction for in-order acknowledgement.
    pub async fn send(&mut self, tx: Transaction) -> Result<(), KafkaSinkError> {
        if let Some(e) = self.failure() {
            return Err(e);
        }
        let point = tx.resume_point();
        let pos_text = tx.position.to_string();
        let gtid_text = tx.gtid_set.as_ref().map(|g| g.to_string());
        let n = tx.row_ends.len();
        let rows_text = n.to_string();
        let mut deliveries = Vec::with_capacity(n);
        let mut start = 0usize;
        for (i, (&end, meta)) in tx.row_ends.iter().zip(&tx.meta).enumerate() {
            let value = &tx.json[start..end - 1]; // without the newline
            start = end;
            let topic = self.routing.topic_for(meta);
            let parts = self.partition_count(&topic).await?;
            let partition = partition_for(&self.routing.partition_string(meta, tx.xid), parts, self.routing.hash);
            if let Some(Some((p, r))) = self.last_written.get(&(topic.clone(), partition)) {
                if (&tx.position, i) <= (p, *r) {
                    self.skipped += 1;
                    continue;
                }
            }
            let key = self.routing.key(meta);
            let row_text = i.to_string();
            let mut headers = OwnedHeaders::new_with_capacity(4)
                .insert(Header { key: "maxwell.position", value: Some(pos_text.as_str()) })
                .insert(Header { key: "maxwell.row", value: Some(row_text.as_str()) })
                .insert(Header { key: "maxwell.rows", value: Some(rows_text.as_str()) });
            if let Some(g) = &gtid_text {
                headers = headers.insert(Header { key: "maxwell.gtid", value: Some(g.as_str()) });
            }
            if let Some((node, epoch)) = &self.provenance {
                headers = headers
                    .insert(Header { key: "maxwell.node", value: Some(node.as_str()) })
                    .insert(Header { key: "maxwell.epoch", value: Some(epoch.as_str()) });
            }
            if let Some(g) = &self.freeze_guard {
                if !g.check() {
                    return Err(KafkaSinkError::Transient("this process was paused for longer than a lease: leadership in doubt, nothing more is sent".into()));
                }
            }
            let mut record = FutureRecord::to(&topic).payload(value).key(&key).partition(partition).headers(headers);
            loop {
                match self.producer.send_result(record) {
                    Ok(d) => {
                        crate::metrics::get().bytes.inc_by((value.len() + key.len()) as u64);
                        deliveries.push(delivery(d));
                        break;
                    }
                    Err((e, r)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                        record = r;
                        if let Some(e) = self.failure() {
                            return Err(e);
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((e, _)) => return Err(KafkaSinkError::Fatal(format!("cannot enqueue a row for {topic}: {}", describe(&e)))),
                }
            }
        }
        self.pending
            .send(Pending { point, ts: tx.ts, deliveries })
            .await
            .map_err(|_| self.failure().unwrap_or_else(|| KafkaSinkError::Fatal("acknowledgement task ended".into())))
    }

    /// Waits until every queued row is acknowledged (or a delivery failed).
    pub async fn drain(self) -> (Option<ResumePoint>, Option<KafkaSinkError>) {
        if self.skipped > 0 {
            tracing::info!(rows = self.skipped, "skipped rows the previous leader had already written to Kafka");
        }
        let KafkaSink { producer, pending, acked, failed, acker, .. } = self;
        drop(pending);
        let _ = acker.await;
        let p = producer.clone();
        let _ = tokio::task::spawn_blocking(move || p.flush(Duration::from_secs(30))).await;
        drop(producer);
        let acked = acked.borrow().clone();
        let failed = failed.borrow().clone();
        (acked, failed)
    }
}

/// Reads the newest message of each partition of `topic` and returns, per partition, its
/// (`maxwell.position`, `maxwell.row`) headers; `None` for an empty partition or a message
/// without them.
fn read_last_rows(consumer: &BaseConsumer, topic: &str, partitions: i32) -> Result<Vec<Option<(BinlogPosition, usize)>>, String> {
    let mut out = vec![None; partitions as usize];
    let mut tpl = TopicPartitionList::new();
    let mut waiting = 0;
    // The offset read in each partition: only that message counts (the consumer is kept
    // across scans, so its queue may still hold messages or errors of an earlier one).
    let mut want = vec![None; partitions as usize];
    for p in 0..partitions {
        let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).map_err(|e| e.to_string())?;
        if high > low {
            tpl.add_partition_offset(topic, p, Offset::Offset(high - 1)).map_err(|e| e.to_string())?;
            want[p as usize] = Some(high - 1);
            waiting += 1;
        }
    }
    if waiting == 0 {
        return Ok(out);
    }
    while consumer.poll(Duration::ZERO).is_some() {}
    let consumer = Assigned(consumer);
    consumer.0.assign(&tpl).map_err(|e| e.to_string())?;
    let mut seen = vec![false; partitions as usize];
    let mut last_error: Option<String> = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while waiting > 0 {
        if std::time::Instant::now() > deadline {
            let why = last_error.map(|e| format!(": {e}")).unwrap_or_default();
            return Err(format!("the newest messages did not arrive within 15 s ({waiting} partitions left){why}"));
        }
        match consumer.0.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let p = m.partition() as usize;
                if m.topic() != topic || p >= want.len() || seen[p] || want[p] != Some(m.offset()) {
                    continue;
                }
                seen[p] = true;
                waiting -= 1;
                let (mut pos, mut row) = (None, None);
                if let Some(h) = m.headers() {
                    for hd in h.iter() {
                        let v = hd.value.and_then(|v| std::str::from_utf8(v).ok());
                        match hd.key {
                            "maxwell.position" => pos = v.and_then(|v| v.parse::<BinlogPosition>().ok()),
                            "maxwell.row" => row = v.and_then(|v| v.parse::<usize>().ok()),
                            _ => {}
                        }
                    }
                }
                out[p] = pos.zip(row);
            }
            // Connection errors (possibly queued while the broker was away: the consumer is
            // kept across scans) are retried by librdkafka; the deadline bounds the wait.
            Some(Err(e)) => {
                last_error = Some(e.to_string());
                tracing::debug!(error = %e, "takeover scan: consumer error");
            }
            None => {}
        }
    }
    Ok(out)
}

/// Unassigns the scan's partitions when the scan ends (the consumer is kept for the next one).
struct Assigned<'a>(&'a BaseConsumer);

impl Drop for Assigned<'_> {
    fn drop(&mut self) {
        let _ = self.0.unassign();
    }
}

async fn ack_in_order(mut rx: mpsc::Receiver<Pending>, acked: watch::Sender<Option<ResumePoint>>, failed: watch::Sender<Option<KafkaSinkError>>) {
    let m = crate::metrics::get();
    while let Some(p) = rx.recv().await {
        for d in p.deliveries {
            let Err(err) = d.await else {
                m.messages_succeeded.inc();
                continue;
            };
            let transient = err.contains("MessageTimedOut") || err.contains("Purge");
            m.messages_failed.inc();
            m.kafka_errors.with_label_values(&[if transient || err.contains("retriable,") { "retriable" } else { "fatal" }]).inc();
            let last = acked.borrow().as_ref().map(|p| p.position.to_string()).unwrap_or_else(|| "none".into());
            let msg = format!("delivery failed: {err}; last acknowledged position {last}");
            let _ = failed.send(Some(if transient { KafkaSinkError::Transient(msg) } else { KafkaSinkError::Fatal(msg) }));
            return;
        }
        m.acked(p.ts);
        let _ = acked.send(Some(p.point));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_and_conflicts() {
        let c = client_config(&props(&[("bootstrap.servers", "127.0.0.1:9092")])).unwrap();
        assert_eq!(c.get("acks"), Some("all"));
        assert_eq!(c.get("enable.idempotence"), Some("true"));
        for (bad, needle) in [
            (props(&[]), "kafka.bootstrap.servers"),
            (props(&[("bootstrap.servers", "x"), ("acks", "1")]), "conflicts with idempotence"),
            (props(&[("bootstrap.servers", "x"), ("max.in.flight.requests.per.connection", "10")]), "1..5"),
            (props(&[("bootstrap.servers", "x"), ("transactional.id", "t")]), "transactional.id"),
        ] {
            let e = client_config(&bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
        let c = client_config(&props(&[("bootstrap.servers", "x"), ("enable.idempotence", "false"), ("acks", "1")])).unwrap();
        assert_eq!(c.get("acks"), Some("1"));
    }

    fn point(pos: u64) -> ResumePoint {
        ResumePoint { position: crate::binlog::BinlogPosition::new("f", pos), gtid: None, server_id: 1 }
    }

    /// Acknowledgements that arrive out of order never move the watermark past a row that
    /// is not acknowledged; a failure freezes it and is reported.
    #[tokio::test]
    async fn watermark_advances_only_in_delivery_order() {
        let (ptx, prx) = mpsc::channel(16);
        let (atx, mut arx) = watch::channel(None);
        let (ftx, frx) = watch::channel(None);
        let task = tokio::spawn(ack_in_order(prx, atx, ftx));
        let mut senders = Vec::new();
        for (pos, rows) in [(10, 2), (20, 1), (30, 1)] {
            let mut deliveries = Vec::new();
            for _ in 0..rows {
                let (tx, rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
                senders.push(tx);
                deliveries.push(Box::pin(async move { rx.await.unwrap() }) as futures_util::future::BoxFuture<'static, _>);
            }
            ptx.send(Pending { point: point(pos), ts: 0, deliveries }).await.unwrap();
        }
        let mut s = senders.into_iter();
        let (a1, a2, b, c) = (s.next().unwrap(), s.next().unwrap(), s.next().unwrap(), s.next().unwrap());
        // Transaction 20 and 30 acknowledged first: nothing may advance.
        b.send(Ok(())).unwrap();
        c.send(Ok(())).unwrap();
        a2.send(Ok(())).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(*arx.borrow_and_update(), None);
        a1.send(Ok(())).unwrap();
        tokio::time::timeout(Duration::from_secs(1), async {
            while arx.borrow().as_ref().map(|p| p.position.pos) != Some(30) {
                arx.changed().await.unwrap();
            }
        })
        .await
        .unwrap();
        // A failure stops acknowledgement at the last good transaction.
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
        ptx.send(Pending { point: point(40), ts: 0, deliveries: vec![Box::pin(async move { rx.await.unwrap() })] }).await.unwrap();
        tx.send(Err("boom".into())).unwrap();
        task.await.unwrap();
        assert_eq!(arx.borrow().as_ref().unwrap().position.pos, 30);
        let f = frx.borrow().clone().unwrap().to_string();
        assert!(f.contains("boom") && f.contains("f:30"), "{f}");
    }

    #[test]
    fn classification() {
        assert!(is_retriable(RDKafkaErrorCode::QueueFull));
        assert!(is_retriable(RDKafkaErrorCode::NotEnoughReplicas));
        assert!(!is_retriable(RDKafkaErrorCode::MessageSizeTooLarge));
        assert!(!is_retriable(RDKafkaErrorCode::InvalidProducerEpoch));
    }
}
