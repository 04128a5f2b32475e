//! The at-least-once takeover scan: a new leader reads this cluster's last message of each
//! partition it writes to and skips rows at or before its (`maxwell.position`,
//! `maxwell.row`) headers — only while the source server is the one that wrote it.
//!
//! Invariants: only messages of the range asked for count (the consumer is kept across
//! scans, so its queue may hold an earlier scan's messages or errors); messages of other
//! clusters sharing the topic are passed over; a partition without a message of this cluster
//! with those headers skips nothing. Exactly-once mode does not scan: it resumes from the
//! checkpoint committed with the rows.

use super::config::connection_settings;
use super::KafkaSinkError;
use crate::binlog::position::BinlogPosition;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::time::Duration;

/// A consumer kept connected for the takeover scan: a standby creates it while standing by,
/// so a takeover does not wait for a new connection.
pub type Scanner = std::sync::Arc<BaseConsumer>;

/// Creates the takeover scan's consumer (only the connection and security settings of
/// `props` apply) and connects it in the background.
pub fn create_scanner(props: &[(String, String)]) -> Result<Scanner, KafkaSinkError> {
    let mut c = connection_settings(props);
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

/// What the newest message of this cluster in a partition says about the row it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRow {
    /// `maxwell.position`: end of the row's binlog transaction.
    pub position: BinlogPosition,
    /// `maxwell.row`: the row's index in that transaction.
    pub row: usize,
    /// `maxwell.server_id`: the source server that wrote it (absent in older messages).
    pub server_id: Option<u32>,
}

/// Largest number of messages read back per partition to find this cluster's newest one
/// (another cluster may share the topic).
const MAX_LOOKBACK: i64 = 1 << 20;

/// For each partition of `topic`, the newest message written by `cluster` (its
/// `maxwell.cluster` header; any message when `cluster` is `None`): read backwards in
/// growing windows from the end, so messages of other clusters sharing the topic are passed
/// over. `None` for a partition without one (nothing of ours is skipped there).
pub(super) fn read_last_rows(consumer: &BaseConsumer, topic: &str, partitions: i32, cluster: Option<&str>) -> Result<Vec<Option<LastRow>>, String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut out = Vec::with_capacity(partitions as usize);
    for p in 0..partitions {
        let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).map_err(|e| e.to_string())?;
        let mut window = 1i64;
        let found = loop {
            let from = (high - window).max(low).max(high - MAX_LOOKBACK);
            if from >= high {
                break None;
            }
            if let Some(last) = read_window(consumer, topic, p, from, high, cluster, deadline)? {
                break Some(last);
            }
            if from == low || from == high - MAX_LOOKBACK {
                break None;
            }
            window *= 16;
        };
        out.push(found);
    }
    Ok(out)
}

/// The newest message of `cluster` among offsets `[from, to)` of one partition.
fn read_window(consumer: &BaseConsumer, topic: &str, p: i32, from: i64, to: i64, cluster: Option<&str>, deadline: std::time::Instant) -> Result<Option<LastRow>, String> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, p, Offset::Offset(from)).map_err(|e| e.to_string())?;
    while consumer.poll(Duration::ZERO).is_some() {}
    let consumer = Assigned(consumer);
    consumer.0.assign(&tpl).map_err(|e| e.to_string())?;
    let mut last: Option<(i64, Option<LastRow>)> = None;
    let mut last_error: Option<String> = None;
    let mut next = from;
    while next < to {
        if std::time::Instant::now() > deadline {
            let why = last_error.map(|e| format!(": {e}")).unwrap_or_default();
            return Err(format!("partition {p} of {topic} was not read back to offset {to} within 15 s{why}"));
        }
        match consumer.0.poll(Duration::from_millis(100)) {
            // Only this range counts (the consumer is kept across scans, so its queue may
            // still hold messages or errors of an earlier one).
            Some(Ok(m)) if m.topic() == topic && m.partition() == p && (from..to).contains(&m.offset()) => {
                next = next.max(m.offset() + 1);
                let (mut pos, mut row, mut server, mut owner) = (None, None, None, None);
                if let Some(h) = m.headers() {
                    for hd in h.iter() {
                        let v = hd.value.and_then(|v| std::str::from_utf8(v).ok());
                        match hd.key {
                            "maxwell.position" => pos = v.and_then(|v| v.parse::<BinlogPosition>().ok()),
                            "maxwell.row" => row = v.and_then(|v| v.parse::<usize>().ok()),
                            "maxwell.server_id" => server = v.and_then(|v| v.parse::<u32>().ok()),
                            "maxwell.cluster" => owner = v.map(str::to_string),
                            _ => {}
                        }
                    }
                }
                if cluster.is_none() || owner.as_deref() == cluster {
                    let row = pos.zip(row).map(|(position, row)| LastRow { position, row, server_id: server });
                    if last.as_ref().is_none_or(|(o, _)| m.offset() > *o) {
                        last = Some((m.offset(), row));
                    }
                }
            }
            Some(Ok(_)) => {}
            // Connection errors (possibly queued while the broker was away: the consumer is
            // kept across scans) are retried by librdkafka; the deadline bounds the wait.
            Some(Err(e)) => {
                last_error = Some(e.to_string());
                tracing::debug!(error = %e, "takeover scan: consumer error");
            }
            None => {
                // Offsets with no message (compaction, transaction markers) end the range too.
                if let Some(pos) = consumer.0.position().ok().and_then(|t| t.find_partition(topic, p).and_then(|e| e.offset().to_raw())) {
                    next = next.max(pos);
                }
            }
        }
    }
    Ok(last.and_then(|(_, r)| r))
}

/// Unassigns the scan's partitions when the scan ends (the consumer is kept for the next one).
struct Assigned<'a>(&'a BaseConsumer);

impl Drop for Assigned<'_> {
    fn drop(&mut self) {
        let _ = self.0.unassign();
    }
}

