//! The Kafka clients a cluster member keeps between terms, so a takeover does not wait for
//! connections, and the exactly-once claim a new leader makes.
//!
//! Invariants:
//! - At-least-once: one producer and one takeover-scan consumer for the life of the process.
//! - Exactly-once: each term gets a fresh transactional producer (librdkafka initialises a
//!   producer's transactions once). A standby holds one that is connected but never calls
//!   `init_transactions`, so standing by never fences the leader. The producer of an ended
//!   term is dropped off the runtime.
//! - `claim` runs only after the epoch bump: `init_transactions` (fencing every earlier
//!   producer of the cluster and completing its open transaction), then the cluster's newest
//!   checkpoint is read (the last committed one, or the one of a transaction Kafka left
//!   hanging, which the term's first commit completes).

use crate::config::HaConfig;
use crate::sink::kafka::{self, Checkpoint, Delivery, KafkaConfig, KafkaSinkError, Scanner};
use rdkafka::producer::FutureProducer;
use std::sync::Arc;
use std::time::Duration;

pub struct Producers {
    cfg: KafkaConfig,
    delivery: Delivery,
    transactional_id: String,
    checkpoint_topic: String,
    /// At-least-once: the process's producer. Exactly-once: the next term's, not initialised.
    producer: Option<FutureProducer>,
    /// Exactly-once: the current term's producer, ended by `term_ended`.
    in_term: Option<FutureProducer>,
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
            scanner: None,
            reader: None,
            topic_ready: false,
            warmed: false,
        };
        match me.delivery {
            Delivery::AtLeastOnce => me.scanner = Some(kafka::create_scanner(&me.cfg.props)?),
            Delivery::ExactlyOnce => me.reader = Some(Arc::new(kafka::checkpoint::CheckpointReader::new(&me.cfg.props)?)),
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
        if let Some(r) = self.reader.clone() {
            let topic = self.checkpoint_topic.clone();
            tokio::task::spawn_blocking(move || r.warm(&topic));
        }
    }

    /// Exactly-once: claims the cluster's transactional id with `producer` (fencing every
    /// earlier leader's producer) and reads the cluster's newest checkpoint.
    pub async fn claim(&mut self, producer: &FutureProducer, timeout: Duration) -> Result<Option<Checkpoint>, KafkaSinkError> {
        if !self.topic_ready {
            kafka::checkpoint::ensure_topic(&self.cfg.props, &self.checkpoint_topic).await?;
            self.topic_ready = true;
        }
        kafka::transactions::init(producer, timeout).await?;
        let reader = match &self.reader {
            Some(r) => r.clone(),
            None => Arc::new(kafka::checkpoint::CheckpointReader::new(&self.cfg.props)?),
        };
        let (topic, key) = (self.checkpoint_topic.clone(), self.transactional_id.clone());
        tokio::task::spawn_blocking(move || reader.latest(&topic, &key, timeout)).await.expect("checkpoint read task")
    }

    /// Key of this cluster's checkpoint records.
    pub fn checkpoint_key(&self) -> &str {
        &self.transactional_id
    }
}
