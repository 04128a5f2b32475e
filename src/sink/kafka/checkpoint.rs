//! The exactly-once resume point, kept in Kafka itself: one record per Kafka transaction on
//! the cluster's checkpoint topic (one partition, compacted, key = the cluster's root),
//! produced in the same transaction as the rows it covers.
//!
//! Invariants:
//! - A checkpoint is visible to a `read_committed` reader exactly when the rows it covers
//!   are: both commit or abort together. So the last committed checkpoint is where the rows
//!   in Kafka end, whatever happened to the leader that wrote them.
//! - `position`/`gtid` is always a transaction boundary. A binlog transaction too large for
//!   one Kafka transaction is split; `partial` then says how many of the rows of the
//!   transaction ending at `partial.position` are already committed, and a new leader
//!   re-reads that transaction from `position` and skips exactly those rows.
//! - Read only after `init_transactions` returned for this term: by then the previous
//!   producer's transaction has been committed or aborted, so nothing of this cluster's is
//!   pending, except a transaction Kafka left *hanging* (see [`CheckpointReader::latest`]):
//!   its checkpoint is the resume point, and the new term's first commit completes it.

pub use crate::config::kafka::default_topic;
use super::config::connection_settings;
use super::KafkaSinkError;
use crate::binlog::gtid::GtidSet;
use crate::binlog::position::BinlogPosition;
use crate::binlog::position::{ResumePoint, StartPosition};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use super::readback::{self, Lookback, ReadBackError};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::Message;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Rows of one binlog transaction already committed to Kafka (a split transaction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partial {
    /// End of the split transaction (its resume point once complete).
    pub position: BinlogPosition,
    /// Rows of it, in binlog order, already in Kafka.
    pub rows: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Every row before this transaction boundary is in Kafka.
    pub position: BinlogPosition,
    /// The GTID set at `position`, when the source has GTIDs.
    pub gtid: Option<GtidSet>,
    /// server_id of the source that wrote the transaction ending at `position`.
    pub server_id: u32,
    /// server_id of the server `position` was read from (whose binlog it is in); absent in
    /// checkpoints of earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_server_id: Option<u32>,
    pub partial: Option<Partial>,
    /// The latest bootstrap's state (absent when none ran since the cluster started them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<crate::binlog::position::BootstrapState>,
    /// The term (ZooKeeper epoch) and node that committed it.
    pub epoch: u64,
    pub node_id: String,
    /// Unix milliseconds.
    pub committed_at: u64,
}

impl Checkpoint {
    pub fn resume_point(&self) -> ResumePoint {
        ResumePoint { position: self.position.clone(), gtid: self.gtid.clone(), server_id: self.server_id }
    }

    /// Where the binlog must be re-read from to continue after this checkpoint.
    pub fn start(&self, gtid_mode: bool) -> StartPosition {
        StartPosition::resume(&self.position, self.gtid.as_ref(), gtid_mode)
    }
}

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| std::fmt::Error)?)
    }
}

impl std::str::FromStr for Checkpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_str(s).map_err(|e| format!("not a checkpoint record ({e}): {s}"))
    }
}

/// Creates the checkpoint topic when it does not exist (1 partition, compacted, the broker's
/// default replication factor and min.insync.replicas).
pub async fn ensure_topic(props: &[(String, String)], topic: &str) -> Result<(), KafkaSinkError> {
    let admin: AdminClient<DefaultClientContext> =
        connection_settings(props).create().map_err(|e| KafkaSinkError::Config(format!("librdkafka refused the kafka.* settings: {e}")))?;
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(-1)).set("cleanup.policy", "compact");
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))).request_timeout(Some(Duration::from_secs(15)));
    let res = admin.create_topics([&new], &opts).await.map_err(|e| KafkaSinkError::Transient(format!("cannot create the checkpoint topic {topic}: {e}")))?;
    for r in res {
        match r {
            Ok(_) => tracing::info!(topic, "created the checkpoint topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) if matches!(code, RDKafkaErrorCode::TopicAuthorizationFailed | RDKafkaErrorCode::ClusterAuthorizationFailed | RDKafkaErrorCode::PolicyViolation) => {
                return Err(KafkaSinkError::Config(format!(
                    "cannot create the checkpoint topic {topic} ({code:?}): create it with 1 partition and cleanup.policy=compact, or name an existing one with ha_checkpoint_topic"
                )))
            }
            Err((_, code)) => return Err(KafkaSinkError::Transient(format!("cannot create the checkpoint topic {topic}: {code:?}"))),
        }
    }
    Ok(())
}

/// The checkpoint reader a cluster member keeps connected between terms: one `read_committed`
/// consumer (the committed checkpoints) and one `read_uncommitted` consumer (the partition's
/// true end, and the records of a transaction that is still open).
pub struct CheckpointReader {
    committed: BaseConsumer,
    uncommitted: BaseConsumer,
}

/// How long, after `init_transactions`, a transaction still open on the checkpoint partition
/// may take to complete before it is looked at (another cluster's, on a shared topic, ends
/// within its commit interval; a transaction of this cluster's own cannot be open any more).
const SETTLE: Duration = Duration::from_secs(1);

impl CheckpointReader {
    pub fn new(props: &[(String, String)]) -> Result<Self, KafkaSinkError> {
        let consumer = |isolation| super::config::read_back_consumer(props, "checkpoint", Some(isolation));
        Ok(Self { committed: consumer("read_committed")?, uncommitted: consumer("read_uncommitted")? })
    }

    /// Connects both consumers to the partition's leader (a takeover then does not).
    pub fn warm(&self, topic: &str) {
        let _ = self.committed.fetch_watermarks(topic, 0, Duration::from_secs(5));
        let _ = self.uncommitted.fetch_watermarks(topic, 0, Duration::from_secs(5));
    }

    /// Where the cluster keyed `key` resumes: its newest checkpoint on `topic` (blocking: run
    /// it off the runtime). Only valid after this term's `init_transactions` returned.
    ///
    /// Normally that is the newest committed one. But a broker that restarts while it writes
    /// the markers of a transaction can complete it in its own state and leave the markers of
    /// some partitions unwritten (a *hanging* transaction: its records there stay open, and
    /// the next marker this producer id writes to such a partition, normally a commit of
    /// this cluster's next term, decides them). Seen with `kill -9` of a broker mid-commit.
    /// Then the checkpoint partition's last stable offset stays below its end after the claim
    /// with a record of this cluster's at that offset: its newest checkpoint there is where
    /// the rows in Kafka end once the next commit lands, so that is the resume point. (Going
    /// back to the last committed one would send the hanging rows a second time, and the
    /// next commit would make both copies visible.)
    pub fn latest(&self, topic: &str, key: &str, timeout: Duration) -> Result<Option<Checkpoint>, KafkaSinkError> {
        let deadline = Instant::now() + timeout;
        let unavailable = |e: rdkafka::error::KafkaError| KafkaSinkError::Transient(format!("cannot read the offsets of the checkpoint topic {topic}: {e}"));
        let left = || deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100));
        let (_, end) = self.uncommitted.fetch_watermarks(topic, 0, left()).map_err(unavailable)?;
        let settle = Instant::now() + SETTLE;
        let stable = loop {
            let (_, stable) = self.committed.fetch_watermarks(topic, 0, left()).map_err(unavailable)?;
            if stable >= end || Instant::now() >= settle {
                break stable;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if stable >= end {
            return read_latest(&self.committed, topic, key, timeout);
        }
        // A transaction open at `stable` that does not complete: whose?
        let ours = readback::read_window(&self.uncommitted, topic, 0, stable, stable + 1, deadline, &mut |m| Ok(Some(m.key() == Some(key.as_bytes()))))
            .map_err(|e| read_error(topic, e))?
            .unwrap_or(false);
        if !ours {
            return Err(KafkaSinkError::Transient(format!(
                "the checkpoint topic {topic} is held by another producer's transaction, open at offset {stable}: this cluster's newest checkpoint may be behind it. \
                 Waiting for it to end; if it never does, give this cluster a checkpoint topic of its own (ha_checkpoint_topic)"
            )));
        }
        let hanging = readback::read_window(&self.uncommitted, topic, 0, stable, end, deadline, &mut |m| pick(m, topic, key)).map_err(|e| read_error(topic, e))?;
        let committed = read_latest(&self.committed, topic, key, timeout)?;
        match hanging {
            Some(cp) => {
                tracing::warn!(
                    topic, offset = stable, hanging = %cp, last_committed = ?committed.as_ref().map(|c| c.to_string()),
                    "Kafka left this cluster's last transaction open on the checkpoint partition (a broker restarted while writing its markers): \
                     resuming after it, the next commit completes it"
                );
                Ok(Some(cp))
            }
            None => Ok(committed),
        }
    }
}

/// A record of the cluster keyed `key`, parsed; any other record is passed over.
fn pick(m: &rdkafka::message::BorrowedMessage<'_>, topic: &str, key: &str) -> Result<Option<Checkpoint>, String> {
    if m.key() != Some(key.as_bytes()) {
        return Ok(None);
    }
    let text = std::str::from_utf8(m.payload().unwrap_or_default()).unwrap_or_default();
    text.parse::<Checkpoint>().map(Some).map_err(|e| {
        format!("{topic} offset {} holds a record for this cluster that is {e}: fix or delete it (maxwell-cli position set), nothing was skipped", m.offset())
    })
}

fn read_error(topic: &str, e: ReadBackError) -> KafkaSinkError {
    match e {
        ReadBackError::Unavailable(m) => KafkaSinkError::Transient(format!("cannot read the checkpoint topic {topic}: {m}")),
        ReadBackError::Rejected(m) => KafkaSinkError::Fatal(m),
    }
}

/// The newest committed checkpoint of the cluster keyed `key` on `topic`, read by a
/// `read_committed` consumer (whose end is the last stable offset). `None` when the topic
/// holds none yet.
fn read_latest(consumer: &BaseConsumer, topic: &str, key: &str, timeout: Duration) -> Result<Option<Checkpoint>, KafkaSinkError> {
    let deadline = Instant::now() + timeout;
    let lookback = Lookback { first: 16, max: i64::MAX };
    readback::newest(consumer, topic, 0, lookback, deadline, |m| pick(m, topic, key)).map_err(|e| read_error(topic, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_json() {
        let cp = Checkpoint {
            position: BinlogPosition::new("mysql-bin.000003", 1234),
            gtid: Some("0-1-99".parse().unwrap()),
            server_id: 1,
            source_server_id: Some(2),
            partial: Some(Partial { position: BinlogPosition::new("mysql-bin.000003", 99999), rows: 50000 }),
            bootstrap: Some(crate::binlog::position::BootstrapState {
                id: 3,
                database: "shop".into(),
                table: "orders".into(),
                rows: 15000,
                last_key: Some(vec!["15000".into()]),
                complete: false,
                held_from: Some("mysql-bin.000003:400 gtid=0-1-90 server_id=1".parse().unwrap()),
                held_until: None,
            }),
            epoch: 7,
            node_id: "n1".into(),
            committed_at: 1,
        };
        let text = cp.to_string();
        assert!(text.contains("\"position\":\"mysql-bin.000003:1234\"") && text.contains("\"rows\":50000"), "{text}");
        assert_eq!(text.parse::<Checkpoint>().unwrap(), cp);
        // Written before `held_from`/`held_until` existed: read as a bootstrap that holds nothing.
        let older = text.replace(r#","held_from":{"position":"mysql-bin.000003:400","gtid":"0-1-90","server_id":1}"#, "");
        assert_ne!(older, text, "{text}");
        assert_eq!(older.parse::<Checkpoint>().unwrap().bootstrap.unwrap().held_from, None);
        assert!(text.contains("\"source_server_id\":2"), "{text}");
        // A checkpoint written before the source's identity was recorded still reads.
        let old = text.replace(",\"source_server_id\":2", "");
        assert_eq!(old.parse::<Checkpoint>().unwrap().source_server_id, None);
        assert!(matches!(cp.start(false), StartPosition::Checked { position, .. } if position == BinlogPosition::new("mysql-bin.000003", 1234)));
        assert!(matches!(cp.start(true), StartPosition::Gtid(_)));
        assert!("{\"position\":1}".parse::<Checkpoint>().unwrap_err().contains("not a checkpoint"));
    }
}
