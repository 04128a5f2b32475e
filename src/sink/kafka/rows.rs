//! One row handed to the producer: its topic, partition, key and headers, what is already
//! known about it (a verdict, or a suspect to send alone), and what a refusal means for it.
//!
//! Invariants:
//! - A row refused when it is handed over (librdkafka's own size check, a topic name Kafka
//!   does not allow) never entered the producer: its verdict is applied in place, and an open
//!   Kafka transaction is not affected (nothing of the row is in it).
//! - A row sent alone (a suspect) is sent after every earlier row was delivered and before
//!   any later one is handed over, and its delivery is awaited: what fails is its own fault.
//!   In exactly-once mode its refusal leaves the Kafka transaction unable to commit, so the
//!   stream ends with [`Refusal::Redo`] and is read again with the verdict known.
//! - A dead-letter record takes the row's place: same headers, the row's key, Maxwell's
//!   partition for a keyed record (murmur2 of the key); it is counted once it is handed
//!   over (at-least-once) or committed (exactly-once).

use super::ack::{delivery, describe, Failed};
use super::refusal::{dead_letter_topic, dead_letter_value, decide, reason, Known, Refusal, RefusedRow, RowRef, Verdict};
use super::{scan, KafkaSink, KafkaSinkError, Mode, Partial};
use crate::binlog::gtid::GtidSet;
use crate::binlog::position::BinlogPosition;
use crate::config::producer_errors::valid_topic;
use crate::encode::{Route, RowMeta};
use crate::sink::partition::{murmur2_partition, partition_for, TxIds};
use futures_util::future::BoxFuture;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureRecord, Producer};
use std::time::{Duration, Instant};

/// The facts of one transaction (or part) that each of its rows repeats.
pub(super) struct TxFacts {
    pub position: BinlogPosition,
    pub gtid: Option<GtidSet>,
    pub server_id: u32,
    pub source_server_id: u32,
    pub xid: Option<u64>,
    /// The client thread that ran the transaction (`producer_partition_by=thread_id`).
    pub thread_id: Option<u32>,
    pub bootstrap: bool,
    pub pos_text: String,
    pub gtid_text: Option<String>,
    pub server_text: String,
    pub source_text: String,
    pub rows_text: String,
}

impl TxFacts {
    fn row(&self, i: usize) -> RowRef {
        RowRef { position: self.position.clone(), gtid: self.gtid.clone(), row: i }
    }
}

/// Why a message was not handed over.
enum NotSent {
    /// librdkafka refused it for good (`reason` is Maxwell's name).
    Refused(&'static str, String),
    Sink(KafkaSinkError),
}

/// How long a suspect waits for the rows before it to be delivered, and for its own delivery.
const ALONE: Duration = Duration::from_secs(60);

impl KafkaSink {
    /// Hands row `i` of `tx` (JSON `value`) to the producer, or applies what is known about it.
    pub(super) async fn send_row(
        &mut self,
        tx: &TxFacts,
        i: usize,
        meta: &RowMeta,
        value: &[u8],
        route: Option<&Route>,
        deliveries: &mut Vec<(usize, BoxFuture<'static, Result<(), Failed>>)>,
    ) -> Result<(), KafkaSinkError> {
        if let Some(e) = self.in_doubt() {
            return Err(e);
        }
        // A bootstrap's rows are not binlog rows: nothing is known about them.
        let known = if tx.bootstrap || self.known.is_empty() { None } else { self.known.iter().find(|k| k.row.is(&tx.position, tx.gtid.as_ref(), i)).cloned() };
        let alone = match known {
            Some(Known { verdict: Some(v), reason, .. }) => return self.apply(tx, i, meta, value, v, &reason, deliveries).await,
            Some(Known { verdict: None, .. }) => true,
            None => false,
        };
        // A `javascript` filter's overrides, as Maxwell takes them.
        let topic = route.and_then(|r| r.topic.clone()).unwrap_or_else(|| self.routing.topic_for(meta));
        if !self.partitions.contains_key(&topic) && !valid_topic(&topic) {
            return self.refused(tx, i, meta, value, &topic, "InvalidTopicException", "not a valid Kafka topic name".into(), deliveries).await;
        }
        let parts = self.partition_count(&topic).await?;
        let pstring = match route.and_then(|r| r.partition.as_deref()) {
            Some(p) => p.to_string(),
            None => self.routing.partition_string(meta, TxIds { xid: tx.xid, thread_id: tx.thread_id }),
        };
        let partition = partition_for(&pstring, parts, self.routing.hash);
        if self.already_written(tx, i, &topic, partition) {
            return Ok(());
        }
        if let Mode::ExactlyOnce(t) = &mut self.mode {
            // (A bootstrap chunk is never split: it holds at most bootstrap_chunk_rows.)
            if t.full() && i > 0 && !tx.bootstrap {
                // One binlog transaction larger than a Kafka transaction: commit the rows so
                // far, recording how many of this transaction they are.
                t.partial = Some(Partial { position: tx.position.clone(), rows: i });
                t.commit().await?;
            }
        }
        let key = self.routing.key(meta);
        // Newer Maxwell's push_ts: the time the row is handed to the producer.
        let stamped = match (self.push_ts, meta) {
            (Some(naming), RowMeta::Row { .. }) => crate::encode::fields::stamp(value, naming, std::time::SystemTime::now()),
            _ => None,
        };
        let value = stamped.as_deref().unwrap_or(value);
        if alone {
            return self.send_alone(tx, i, meta, value, &topic, partition, &key, deliveries).await;
        }
        match self.enqueue(tx, i, &topic, partition, &key, value).await {
            Ok(d) => {
                self.sent(tx, i, d, deliveries);
                Ok(())
            }
            Err(NotSent::Refused(why, error)) => self.refused(tx, i, meta, value, &topic, why, error, deliveries).await,
            Err(NotSent::Sink(e)) => Err(e),
        }
    }

    /// Records a handed-over message: its delivery awaited in order (at-least-once) or kept
    /// with the open Kafka transaction (exactly-once, to name a refused row).
    fn sent(&mut self, tx: &TxFacts, i: usize, d: DeliveryFuture, deliveries: &mut Vec<(usize, BoxFuture<'static, Result<(), Failed>>)>) {
        match &mut self.mode {
            Mode::ExactlyOnce(t) => {
                t.rows += 1;
                if !tx.bootstrap {
                    t.track(&tx.position, tx.gtid.as_ref(), i, d);
                }
            }
            Mode::AtLeastOnce { .. } => deliveries.push((i, delivery(d))),
        }
    }

    /// At-least-once after a takeover: whether the previous term already wrote row `i` to
    /// `topic`/`partition` (it is then skipped). A bootstrap's records are never skipped: a
    /// bootstrap that starts again sends all of them again.
    fn already_written(&mut self, tx: &TxFacts, i: usize, topic: &str, partition: i32) -> bool {
        let Mode::AtLeastOnce { last_written, skipped, .. } = &mut self.mode else { return false };
        if tx.bootstrap {
            return false;
        }
        let Some(Some(l)) = last_written.get(&(topic.to_string(), partition)) else { return false };
        let c = scan::Candidate { position: &tx.position, row: i, server_id: tx.server_id, source_server_id: tx.source_server_id, gtid: tx.gtid.as_ref() };
        if l.covers(&c) {
            *skipped += 1;
            return true;
        }
        false
    }

    /// The headers of row `i` (and, at-least-once in a cluster, its number in `partition`).
    fn headers(&self, tx: &TxFacts, i: usize, topic: &str, partition: i32) -> (OwnedHeaders, Option<u64>) {
        let row_text = i.to_string();
        let mut h = OwnedHeaders::new_with_capacity(11)
            .insert(Header { key: "maxwell.position", value: Some(tx.pos_text.as_str()) })
            .insert(Header { key: "maxwell.row", value: Some(row_text.as_str()) })
            .insert(Header { key: "maxwell.rows", value: Some(tx.rows_text.as_str()) })
            .insert(Header { key: "maxwell.server_id", value: Some(tx.server_text.as_str()) })
            .insert(Header { key: "maxwell.source_server_id", value: Some(tx.source_text.as_str()) });
        if let Some(g) = &tx.gtid_text {
            h = h.insert(Header { key: "maxwell.gtid", value: Some(g.as_str()) });
        }
        if let Some(p) = &self.provenance {
            h = h
                .insert(Header { key: "maxwell.cluster", value: Some(p.cluster.as_str()) })
                .insert(Header { key: "maxwell.node", value: Some(p.node.as_str()) })
                .insert(Header { key: "maxwell.epoch", value: Some(p.epoch.as_str()) });
        }
        // At-least-once in a cluster: this message's number in its partition this term.
        let numbered = match &self.mode {
            Mode::AtLeastOnce { dedup: Some(_), seq, run, .. } => Some((*run, seq.get(&(topic.to_string(), partition)).copied().unwrap_or(0))),
            _ => None,
        };
        if let Some((run, n)) = numbered {
            h = h.insert(Header { key: "maxwell.seq", value: Some(format!("{run}-{n}").as_str()) });
        }
        (h, numbered.map(|(_, n)| n))
    }

    /// Hands one message to librdkafka, waiting while its queue is full.
    async fn enqueue(&mut self, tx: &TxFacts, i: usize, topic: &str, partition: i32, key: &[u8], value: &[u8]) -> Result<DeliveryFuture, NotSent> {
        let (headers, numbered) = self.headers(tx, i, topic, partition);
        let mut record = FutureRecord::to(topic).payload(value).key(key).partition(partition).headers(headers);
        loop {
            match self.producer.send_result(record) {
                Ok(d) => {
                    if let (Some(n), Mode::AtLeastOnce { seq, .. }) = (numbered, &mut self.mode) {
                        seq.insert((topic.to_string(), partition), n + 1);
                    }
                    crate::metrics::get().bytes.inc_by((value.len() + key.len()) as u64);
                    self.progress.sent(1);
                    return Ok(d);
                }
                Err((e, r)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                    record = r;
                    if let Some(e) = self.failure().or_else(|| self.in_doubt()) {
                        return Err(NotSent::Sink(e));
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => {
                    if let Some(why) = e.rdkafka_error_code().and_then(reason) {
                        return Err(NotSent::Refused(why, e.to_string()));
                    }
                    let what = format!("cannot enqueue a row for {topic}: {}", describe(&e));
                    // Exactly-once: a row delivered earlier may have been refused, which
                    // makes the transaction refuse more rows; any other failed delivery
                    // leaves it to abort (librdkafka's `_STATE`), and a newer leader fences.
                    if let Mode::ExactlyOnce(t) = &mut self.mode {
                        if let Some(rows) = t.refused_rows().await {
                            return Err(NotSent::Sink(KafkaSinkError::Refused(Box::new(Refusal::Suspects(rows)))));
                        }
                        use RDKafkaErrorCode::*;
                        match e.rdkafka_error_code() {
                            Some(State) => return Err(NotSent::Sink(KafkaSinkError::Abortable(what))),
                            Some(Fenced | ProducerFenced | InvalidProducerEpoch) => return Err(NotSent::Sink(KafkaSinkError::Fenced(what))),
                            _ => {}
                        }
                    }
                    return Err(NotSent::Sink(KafkaSinkError::Fatal(what)));
                }
            }
        }
    }

    /// A suspect: sent after every earlier row was delivered, its own delivery awaited.
    #[allow(clippy::too_many_arguments)]
    async fn send_alone(
        &mut self,
        tx: &TxFacts,
        i: usize,
        meta: &RowMeta,
        value: &[u8],
        topic: &str,
        partition: i32,
        key: &[u8],
        deliveries: &mut Vec<(usize, BoxFuture<'static, Result<(), Failed>>)>,
    ) -> Result<(), KafkaSinkError> {
        let deadline = Instant::now() + ALONE;
        while self.producer.in_flight_count() > 0 {
            if let Some(e) = self.failure().or_else(|| self.in_doubt()) {
                return Err(e);
            }
            if Instant::now() > deadline {
                return Err(KafkaSinkError::Transient(format!("rows before {} were not delivered within {ALONE:?}", tx.row(i))));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let d = match self.enqueue(tx, i, topic, partition, key, value).await {
            Ok(d) => d,
            Err(NotSent::Refused(why, error)) => return self.refused(tx, i, meta, value, topic, why, error, deliveries).await,
            Err(NotSent::Sink(e)) => return Err(e),
        };
        let result = match tokio::time::timeout(ALONE, d).await {
            Ok(Ok(Ok(_))) => Ok(()),
            Ok(Ok(Err((e, _)))) => Err(e),
            Ok(Err(_)) | Err(_) => return Err(KafkaSinkError::Transient(format!("no delivery report for {} sent alone", tx.row(i)))),
        };
        let eos = self.is_exactly_once();
        match result {
            Ok(()) => {
                tracing::info!(row = %tx.row(i), "a row refused beside others was delivered alone: its batch was refused, not the row");
                match &mut self.mode {
                    Mode::ExactlyOnce(t) => t.rows += 1,
                    Mode::AtLeastOnce { .. } => deliveries.push((i, Box::pin(async { Ok(()) }))),
                }
                Ok(())
            }
            Err(e) => match e.rdkafka_error_code().and_then(reason) {
                // At-least-once: nothing else is affected; apply the verdict in place.
                Some(why) if !eos => self.refused(tx, i, meta, value, topic, why, e.to_string(), deliveries).await,
                // Exactly-once: the Kafka transaction cannot commit any more.
                Some(why) => {
                    let r = RefusedRow::new(tx.row(i), meta, value, topic, why, e.to_string());
                    Err(KafkaSinkError::Refused(Box::new(match decide(&self.policy, why) {
                        Verdict::Stop => Refusal::Stop(Box::new(r)),
                        v => Refusal::Redo(Box::new(r), v),
                    })))
                }
                None if eos => Err(KafkaSinkError::Abortable(format!("{} sent alone: {}", tx.row(i), describe(&e)))),
                None => Err(if matches!(e.rdkafka_error_code(), Some(RDKafkaErrorCode::MessageTimedOut)) {
                    KafkaSinkError::Transient(format!("{} sent alone: {}", tx.row(i), describe(&e)))
                } else {
                    KafkaSinkError::Fatal(format!("{} sent alone: {}", tx.row(i), describe(&e)))
                }),
            },
        }
    }

    /// Row `i` was refused for good (`why`) when handed over: Maxwell's rule decides.
    #[allow(clippy::too_many_arguments)]
    async fn refused(
        &mut self,
        tx: &TxFacts,
        i: usize,
        meta: &RowMeta,
        value: &[u8],
        topic: &str,
        why: &'static str,
        error: String,
        deliveries: &mut Vec<(usize, BoxFuture<'static, Result<(), Failed>>)>,
    ) -> Result<(), KafkaSinkError> {
        if tx.bootstrap && !self.policy.ignore && self.policy.dead_letter_topic.is_none() {
            return Err(KafkaSinkError::Fatal(format!("Kafka refused a bootstrap record of {topic} ({why}: {error}), and ignore_producer_error is false")));
        }
        let r = RefusedRow::new(tx.row(i), meta, value, topic, why, error);
        let v = decide(&self.policy, why);
        tracing::warn!(row = %r.row, refused = %r, verdict = v.metric(), "Kafka refused a row");
        match v {
            Verdict::Stop => Err(KafkaSinkError::Refused(Box::new(Refusal::Stop(Box::new(r))))),
            v => self.apply(tx, i, meta, value, v, why, deliveries).await,
        }
    }

    /// Applies a verdict to row `i` (refused for `why`): skip it, or its dead-letter record
    /// in its place, or stop.
    #[allow(clippy::too_many_arguments)]
    async fn apply(
        &mut self,
        tx: &TxFacts,
        i: usize,
        meta: &RowMeta,
        value: &[u8],
        v: Verdict,
        why: &str,
        deliveries: &mut Vec<(usize, BoxFuture<'static, Result<(), Failed>>)>,
    ) -> Result<(), KafkaSinkError> {
        let template = match v {
            Verdict::Skip => {
                tracing::warn!(row = %tx.row(i), reason = why, "skipped a row Kafka refused (ignore_producer_error)");
                self.count_refused("skipped");
                return Ok(());
            }
            Verdict::Stop => {
                let r = RefusedRow::new(tx.row(i), meta, value, &self.routing.topic_for(meta), why, "held by an earlier refusal".into());
                return Err(KafkaSinkError::Refused(Box::new(Refusal::Stop(Box::new(r)))));
            }
            Verdict::DeadLetter { topic } => topic,
        };
        let topic = dead_letter_topic(&template, meta);
        let dead = |sink: &mut Self, error: String| {
            // Maxwell: a dead-letter record that cannot be written either is skipped when
            // errors are ignored, else it stops.
            let r = RefusedRow::new(tx.row(i), meta, value, &topic, why, format!("its dead-letter record was refused too: {error}"));
            if sink.policy.ignore {
                tracing::warn!(row = %r.row, refused = %r, "skipped a row whose dead-letter record Kafka refused");
                sink.count_refused("skipped");
                Ok(())
            } else {
                Err(KafkaSinkError::Refused(Box::new(Refusal::Stop(Box::new(r)))))
            }
        };
        if !self.partitions.contains_key(&topic) && !valid_topic(&topic) {
            return dead(self, format!("{topic:?} is not a valid Kafka topic name"));
        }
        let parts = self.partition_count(&topic).await?;
        let key = self.routing.key(meta);
        let partition = murmur2_partition(&key, parts);
        if self.already_written(tx, i, &topic, partition) {
            return Ok(());
        }
        let record = dead_letter_value(meta, value, why);
        match self.enqueue(tx, i, &topic, partition, &key, &record).await {
            Ok(d) => {
                tracing::warn!(row = %tx.row(i), topic, reason = why, "wrote a dead-letter record for a row Kafka refused");
                self.sent(tx, i, d, deliveries);
                self.count_refused("dead_lettered");
                Ok(())
            }
            Err(NotSent::Refused(_, error)) => dead(self, error),
            Err(NotSent::Sink(e)) => Err(e),
        }
    }

    /// Counts a refused row: at once (at-least-once), or with the Kafka transaction's commit.
    fn count_refused(&mut self, action: &'static str) {
        match &mut self.mode {
            Mode::ExactlyOnce(t) => t.refused.push(action),
            Mode::AtLeastOnce { .. } => crate::metrics::get().refused_rows.with_label_values(&[action]).inc(),
        }
    }
}
