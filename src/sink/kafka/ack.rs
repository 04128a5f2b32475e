//! At-least-once acknowledgement: deliveries awaited strictly in binlog order, so the
//! published position never passes a row the broker has not acknowledged.
//!
//! Invariants: the watermark only advances when every row of a transaction and of every
//! earlier one is acknowledged; the first failed delivery freezes it and is reported once. A
//! binlog row that failed with a code that may refuse it for good is reported as a suspect
//! (`refusal`), to be sent again alone; any other failure as before.

use super::refusal::{suspect, Refusal, RowRef};
use super::KafkaSinkError;
use crate::binlog::gtid::GtidSet;
use crate::binlog::position::{BinlogPosition, ResumePoint};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::DeliveryFuture;
use tokio::sync::{mpsc, watch};

/// Whether an error code is worth retrying at the application level.
pub fn is_retriable(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode::*;
    matches!(code, QueueFull | NotEnoughReplicas | NotEnoughReplicasAfterAppend | LeaderNotAvailable | NotLeaderForPartition | RequestTimedOut | NetworkException | BrokerTransportFailure | AllBrokersDown)
}

pub(super) fn describe(e: &KafkaError) -> String {
    match e.rdkafka_error_code() {
        Some(c) => format!("{e} ({c:?}{})", if is_retriable(c) { ", retriable, retries exhausted" } else { ", not retriable" }),
        None => e.to_string(),
    }
}

/// A failed delivery: librdkafka's code (when it has one) and its description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failed {
    pub code: Option<RDKafkaErrorCode>,
    pub text: String,
}

impl From<&str> for Failed {
    fn from(text: &str) -> Self {
        Self { code: None, text: text.into() }
    }
}

/// One transaction's deliveries, each with its row's index in the transaction.
pub(super) struct Pending {
    /// Where to resume once these deliveries are acknowledged; `None` for a part of a
    /// transaction that is not its last (not a resume point).
    pub point: Option<ResumePoint>,
    /// The end of the binlog transaction and the GTID set after it (its rows' names);
    /// `None` for a bootstrap's records.
    pub at: Option<(BinlogPosition, Option<GtidSet>)>,
    /// Commit time of the transaction (Unix seconds), for the commit-to-ack latency.
    pub ts: u32,
    pub deliveries: Vec<(usize, futures_util::future::BoxFuture<'static, Result<(), Failed>>)>,
}

pub(super) fn delivery(d: DeliveryFuture) -> futures_util::future::BoxFuture<'static, Result<(), Failed>> {
    Box::pin(async move {
        match d.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((e, _))) => Err(Failed { code: e.rdkafka_error_code(), text: describe(&e) }),
            Err(_) => Err("the producer was dropped before the broker answered".into()),
        }
    })
}

pub(super) async fn ack_in_order(
    mut rx: mpsc::Receiver<Pending>,
    acked: watch::Sender<Option<ResumePoint>>,
    failed: watch::Sender<Option<KafkaSinkError>>,
    progress: std::sync::Arc<crate::progress::Progress>,
) {
    let m = crate::metrics::get();
    while let Some(p) = rx.recv().await {
        for (row, d) in p.deliveries {
            let Err(f) = d.await else {
                m.messages_succeeded.inc();
                progress.confirmed(1);
                continue;
            };
            m.messages_failed.inc();
            if let (Some((position, gtid)), Some(code)) = (&p.at, f.code.filter(|c| suspect(*c))) {
                tracing::warn!(row, position = %position, error = %f.text, ?code, "a delivery failed with a code that may refuse the row for good");
                m.kafka_errors.with_label_values(&["fatal"]).inc();
                let r = RowRef { position: position.clone(), gtid: gtid.clone(), row };
                let _ = failed.send(Some(KafkaSinkError::Refused(Box::new(Refusal::Suspects(vec![r])))));
                return;
            }
            let err = f.text;
            let transient = err.contains("MessageTimedOut") || err.contains("Purge");
            m.kafka_errors.with_label_values(&[if transient || err.contains("retriable,") { "retriable" } else { "fatal" }]).inc();
            let last = acked.borrow().as_ref().map(|p| p.position.to_string()).unwrap_or_else(|| "none".into());
            let msg = format!("delivery failed: {err}; last acknowledged position {last}");
            let _ = failed.send(Some(if transient { KafkaSinkError::Transient(msg) } else { KafkaSinkError::Fatal(msg) }));
            return;
        }
        if let Some(point) = p.point {
            m.acked(p.ts);
            progress.acked_at(p.ts);
            let _ = acked.send(Some(point));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        let task = tokio::spawn(ack_in_order(prx, atx, ftx, Default::default()));
        let mut senders = Vec::new();
        for (pos, rows) in [(10, 2), (20, 1), (30, 1)] {
            let mut deliveries = Vec::new();
            for _ in 0..rows {
                let (tx, rx) = tokio::sync::oneshot::channel::<Result<(), Failed>>();
                senders.push(tx);
                deliveries.push((0, Box::pin(async move { rx.await.unwrap() }) as futures_util::future::BoxFuture<'static, _>));
            }
            ptx.send(Pending { point: Some(point(pos)), at: None, ts: 0, deliveries }).await.unwrap();
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
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<(), Failed>>();
        ptx.send(Pending { point: Some(point(40)), at: None, ts: 0, deliveries: vec![(0, Box::pin(async move { rx.await.unwrap() }))] }).await.unwrap();
        tx.send(Err("boom".into())).unwrap();
        task.await.unwrap();
        assert_eq!(arx.borrow().as_ref().unwrap().position.pos, 30);
        let f = frx.borrow().clone().unwrap().to_string();
        assert!(f.contains("boom") && f.contains("f:30"), "{f}");
    }

    /// A part of a transaction that is not its last is acknowledged without publishing a
    /// position (it is no resume point); the transaction's last part publishes it.
    #[tokio::test]
    async fn a_part_that_is_not_last_publishes_nothing() {
        let (ptx, prx) = mpsc::channel(16);
        let (atx, mut arx) = watch::channel(None);
        let (ftx, _frx) = watch::channel(None);
        tokio::spawn(ack_in_order(prx, atx, ftx, Default::default()));
        let done = || (0, Box::pin(async { Ok(()) }) as futures_util::future::BoxFuture<'static, _>);
        ptx.send(Pending { point: None, at: None, ts: 0, deliveries: vec![done(), done()] }).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(*arx.borrow_and_update(), None);
        ptx.send(Pending { point: Some(point(50)), at: None, ts: 0, deliveries: vec![done()] }).await.unwrap();
        tokio::time::timeout(Duration::from_secs(1), arx.changed()).await.unwrap().unwrap();
        assert_eq!(arx.borrow().as_ref().unwrap().position.pos, 50);
    }

    /// A binlog row that failed with a code that may refuse it for good is reported as a
    /// suspect, named by its transaction's end and its index; the watermark stays before it.
    #[tokio::test]
    async fn a_refusal_code_names_a_suspect_row() {
        let (ptx, prx) = mpsc::channel(16);
        let (atx, arx) = watch::channel(None);
        let (ftx, frx) = watch::channel(None);
        let task = tokio::spawn(ack_in_order(prx, atx, ftx, Default::default()));
        let ok = |i| (i, Box::pin(async { Ok(()) }) as futures_util::future::BoxFuture<'static, _>);
        let too_large = Failed { code: Some(RDKafkaErrorCode::MessageSizeTooLarge), text: "too large".into() };
        let bad = (2, Box::pin(async move { Err(too_large) }) as futures_util::future::BoxFuture<'static, _>);
        let at = Some((crate::binlog::BinlogPosition::new("f", 70), None));
        ptx.send(Pending { point: Some(point(60)), at: at.clone(), ts: 0, deliveries: vec![ok(0)] }).await.unwrap();
        ptx.send(Pending { point: Some(point(70)), at, ts: 0, deliveries: vec![ok(0), ok(1), bad] }).await.unwrap();
        task.await.unwrap();
        assert_eq!(arx.borrow().as_ref().unwrap().position.pos, 60);
        let failure = frx.borrow().clone();
        match failure {
            Some(KafkaSinkError::Refused(r)) => assert!(matches!(*r, Refusal::Suspects(ref rows) if rows.len() == 1 && rows[0].to_string() == "f:70#2"), "{r}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn classification() {
        assert!(is_retriable(RDKafkaErrorCode::QueueFull));
        assert!(is_retriable(RDKafkaErrorCode::NotEnoughReplicas));
        assert!(!is_retriable(RDKafkaErrorCode::MessageSizeTooLarge));
        assert!(!is_retriable(RDKafkaErrorCode::InvalidProducerEpoch));
    }
}
