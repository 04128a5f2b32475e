//! The Kafka clients a cluster member keeps between terms, so a takeover does not wait for
//! connections, and the exactly-once claim a new leader makes.
//!
//! Invariants:
//! - At-least-once: one producer and one takeover-scan consumer for the life of the process.
//! - Exactly-once: each term gets a fresh transactional producer (librdkafka initialises a
//!   producer's transactions once). A standby holds one that is connected but never calls
//!   `init_transactions`, so standing by never fences the leader, and a connected spare for
//!   a claim given up (see [`Producers::claim`]). The producer of an ended term is dropped
//!   off the runtime.
//! - `claim` runs only after the epoch bump: `init_transactions` (fencing every earlier
//!   producer of the cluster and completing its open transaction), then the cluster's newest
//!   checkpoint is read (the last committed one, or the one of a transaction Kafka left
//!   hanging, which the term's first commit completes).

use crate::config::HaConfig;
use crate::sink::kafka::{self, Checkpoint, Delivery, KafkaConfig, KafkaSinkError, Scanner};
use crate::sink::kafka::transactions::Claim;
use rdkafka::producer::FutureProducer;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a claim may take before it is given up for a fresh one (see [`Producers::claim`]):
/// a claim that meets no open transaction takes a few ms on a LAN.
const PROBE: Duration = Duration::from_millis(60);
/// Claims given up at most, before the last one waits.
const PROBES: u32 = 3;
/// The pause before claiming again after a retriable refusal (a coordinator still loading).
const RETRY: Duration = Duration::from_millis(100);

pub struct Producers {
    cfg: KafkaConfig,
    delivery: Delivery,
    transactional_id: String,
    checkpoint_topic: String,
    /// At-least-once: the process's producer. Exactly-once: the next term's, not initialised.
    producer: Option<FutureProducer>,
    /// Exactly-once: the current term's producer, ended by `term_ended`.
    in_term: Option<FutureProducer>,
    /// Exactly-once: a second connected producer, for a claim given up (see `claim`).
    spare: Option<FutureProducer>,
    pub scanner: Option<Scanner>,
    /// Exactly-once: the checkpoint reader, kept connected between terms.
    reader: Option<Arc<kafka::checkpoint::CheckpointReader>>,
    topic_ready: bool,
    warmed: bool,
}

impl Producers {
    pub fn new(k: &KafkaConfig, ha: &HaConfig) -> Result<Self, KafkaSinkError> {
        let mut k = k.clone();
        if ha.delivery == Delivery::AtLeastOnce {
            // Messages still queued when a leader freezes must not go out after it thaws:
            // unless set explicitly, they expire after one session timeout (a frozen leader
            // is replaced only after that long), and an expiry makes the leader step down.
            if !k.props.iter().any(|(p, _)| p == "message.timeout.ms" || p == "delivery.timeout.ms") {
                k.props.push(("message.timeout.ms".into(), ha.session_timeout.as_millis().to_string()));
            }
            // Without idempotence a failed request could leave a gap behind a later one that
            // succeeded, and the takeover scan would skip over the gap: one request in flight.
            let idempotent = k.get("enable.idempotence").is_none_or(|v| v == "true");
            if !idempotent && !k.props.iter().any(|(p, _)| p.starts_with("max.in.flight")) {
                k.props.push(("max.in.flight.requests.per.connection".into(), "1".into()));
            }
        }
        let mut me = Self {
            cfg: k,
            delivery: ha.delivery,
            transactional_id: ha.transactional_id.clone(),
            checkpoint_topic: ha.checkpoint_topic.clone(),
            producer: None,
            in_term: None,
            spare: None,
            scanner: None,
            reader: None,
            topic_ready: false,
            warmed: false,
        };
        match me.delivery {
            Delivery::AtLeastOnce => me.scanner = Some(kafka::create_scanner(&me.cfg.props)?),
            Delivery::ExactlyOnce => {
                me.reader()?;
            }
        }
        me.refill()?;
        Ok(me)
    }

    pub fn delivery(&self) -> Delivery {
        self.delivery
    }

    pub fn checkpoint_topic(&self) -> &str {
        &self.checkpoint_topic
    }

    /// Makes sure a producer is ready for the next term (connected in the background).
    pub fn refill(&mut self) -> Result<(), KafkaSinkError> {
        if self.producer.is_none() {
            let p = match self.delivery {
                Delivery::AtLeastOnce => kafka::create_producer(&self.cfg)?,
                Delivery::ExactlyOnce => kafka::create_transactional_producer(&self.cfg, &self.transactional_id)?,
            };
            kafka::warm_up(&p);
            self.producer = Some(p);
        }
        if self.delivery == Delivery::ExactlyOnce && self.spare.is_none() {
            let p = kafka::create_transactional_producer(&self.cfg, &self.transactional_id)?;
            kafka::warm_up(&p);
            self.spare = Some(p);
        }
        Ok(())
    }

    /// The producer for this term. At-least-once: the process's (kept); exactly-once: taken,
    /// and held until `term_ended`.
    pub fn for_term(&mut self) -> Result<FutureProducer, KafkaSinkError> {
        self.refill()?;
        let p = self.producer.clone().expect("refilled");
        if self.delivery == Delivery::ExactlyOnce {
            self.producer = None;
            self.in_term = Some(p.clone());
        }
        Ok(p)
    }

    /// Ends the term: its exactly-once producer is dropped (off the runtime: destroying it
    /// may wait for the broker) and the next one prepared.
    pub fn term_ended(&mut self) {
        if let Some(p) = self.in_term.take() {
            tokio::task::spawn_blocking(move || drop(p));
        }
        if let Err(e) = self.refill() {
            tracing::warn!(error = %e, "cannot prepare the next term's Kafka producer");
        }
    }

    /// Exactly-once, while standing by (once): makes sure the checkpoint topic exists and
    /// connects the checkpoint reader to its leader, so a takeover does neither. Failures
    /// only cost that time later.
    pub async fn warm(&mut self) {
        if self.warmed || self.delivery != Delivery::ExactlyOnce {
            return;
        }
        self.warmed = true;
        if !self.topic_ready {
            match kafka::checkpoint::ensure_topic(&self.cfg.props, &self.checkpoint_topic).await {
                Ok(()) => self.topic_ready = true,
                Err(e) => tracing::debug!(error = %e, "checkpoint topic not ready yet"),
            }
        }
        match self.reader() {
            Ok(r) => {
                let topic = self.checkpoint_topic.clone();
                tokio::task::spawn_blocking(move || r.warm(&topic));
            }
            Err(e) => tracing::debug!(error = %e, "cannot create the checkpoint reader yet"),
        }
    }

    /// Exactly-once: claims the cluster's transactional id with this term's producer (fencing
    /// every earlier leader's producer) and reads the cluster's newest checkpoint; returns
    /// the producer that holds the claim.
    ///
    /// The previous leader usually died inside a transaction. The coordinator then answers
    /// the first claim with CONCURRENT_TRANSACTIONS while it aborts that transaction (a few
    /// ms), and librdkafka asks again only after a fixed 500 ms. So a claim that got that
    /// answer and is not done within [`PROBE`] is given up: its producer is destroyed
    /// (completely, so its retry never goes out and cannot fence the next one) and a fresh
    /// producer claims, up to [`PROBES`] times. A claim that is merely slow, and the last
    /// one, wait as long as `timeout` allows.
    pub async fn claim(&mut self, timeout: Duration) -> Result<(FutureProducer, Option<Checkpoint>), KafkaSinkError> {
        if !self.topic_ready {
            kafka::checkpoint::ensure_topic(&self.cfg.props, &self.checkpoint_topic).await?;
            self.topic_ready = true;
        }
        let deadline = Instant::now() + timeout;
        let mut producer = self.for_term()?;
        let mut given_up = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let window = if given_up < PROBES { PROBE.min(left) } else { left };
            match kafka::transactions::init(&producer, window).await? {
                Claim::Done => break,
                _ if Instant::now() >= deadline => {
                    return Err(KafkaSinkError::Transient(format!("claiming the cluster's transactional id: not done within {timeout:?}")));
                }
                Claim::Concurrent if given_up < PROBES => {
                    given_up += 1;
                    let fresh = match self.spare.take() {
                        Some(p) => p,
                        None => kafka::create_transactional_producer(&self.cfg, &self.transactional_id)?,
                    };
                    self.in_term = Some(fresh.clone());
                    let stale = std::mem::replace(&mut producer, fresh);
                    let t0 = Instant::now();
                    tokio::task::spawn_blocking(move || drop(stale)).await.expect("producer drop task");
                    tracing::info!(
                        attempt = given_up,
                        destroyed_ms = t0.elapsed().as_millis() as u64,
                        "the coordinator is completing the previous leader's transaction; claiming again with a fresh producer"
                    );
                }
                Claim::Retry => tokio::time::sleep(RETRY.min(deadline.saturating_duration_since(Instant::now()))).await,
                // Slow rather than refused, or no fresh attempt left: wait on for this one.
                _ => given_up = PROBES,
            }
        }
        let reader = self.reader()?;
        let (topic, key) = (self.checkpoint_topic.clone(), self.transactional_id.clone());
        // The read gets what the claim left of `timeout`, and never less than half of it.
        let left = deadline.saturating_duration_since(Instant::now()).max(timeout / 2);
        match tokio::task::spawn_blocking(move || reader.latest(&topic, &key, left)).await.expect("checkpoint read task") {
            Ok(cp) => Ok((producer, cp)),
            Err(e) => {
                // A kept consumer can hold metadata from an outage (the partition unknown)
                // that it never refreshes by itself: the next claim reads with new ones.
                self.reader = None;
                self.warmed = false;
                Err(e)
            }
        }
    }

    /// The kept checkpoint reader, made when there is none (at start, or dropped after a
    /// failed read).
    fn reader(&mut self) -> Result<Arc<kafka::checkpoint::CheckpointReader>, KafkaSinkError> {
        if let Some(r) = &self.reader {
            return Ok(r.clone());
        }
        let r = Arc::new(kafka::checkpoint::CheckpointReader::new(&self.cfg.props)?);
        self.reader = Some(r.clone());
        Ok(r)
    }

    /// Key of this cluster's checkpoint records.
    pub fn checkpoint_key(&self) -> &str {
        &self.transactional_id
    }
}
