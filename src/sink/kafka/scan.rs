//! The at-least-once takeover scan: a new leader reads the last message of each partition it
//! writes to and skips rows at or before its (`maxwell.position`, `maxwell.row`) headers.
//!
//! Invariants: only the message at the offset asked for counts (the consumer is kept across
//! scans, so its queue may hold an earlier scan's messages or errors); a partition whose last
//! message has no such headers skips nothing. Exactly-once mode does not scan: it resumes
//! from the checkpoint committed with the rows.

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

/// Reads the newest message of each partition of `topic` and returns, per partition, its
/// (`maxwell.position`, `maxwell.row`) headers; `None` for an empty partition or a message
/// without them.
pub(super) fn read_last_rows(consumer: &BaseConsumer, topic: &str, partitions: i32) -> Result<Vec<Option<(BinlogPosition, usize)>>, String> {
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

