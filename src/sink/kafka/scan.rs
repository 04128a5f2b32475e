//! The at-least-once takeover scan: a new leader reads this cluster's last message of each
//! partition it writes to and skips rows at or before its (`maxwell.position`,
//! `maxwell.row`) headers — only while the source server is the one that wrote it.
//!
//! Invariants: messages of other clusters sharing the topic are passed over (read back with
//! `readback`); a partition without a message of this cluster
//! with those headers skips nothing. Exactly-once mode does not scan: it resumes from the
//! checkpoint committed with the rows.

use super::KafkaSinkError;
use crate::binlog::position::BinlogPosition;
use super::readback::{self, Lookback};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::Message;
use std::time::Duration;

/// A consumer kept connected for the takeover scan: a standby creates it while standing by,
/// so a takeover does not wait for a new connection.
pub type Scanner = std::sync::Arc<BaseConsumer>;

/// Creates the takeover scan's consumer (only the connection and security settings of
/// `props` apply) and connects it in the background.
pub fn create_scanner(props: &[(String, String)]) -> Result<Scanner, KafkaSinkError> {
    // The scan reads one message per partition that is already there: never wait for more.
    let consumer = std::sync::Arc::new(super::config::read_back_consumer(props, "scan", None)?);
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
/// `maxwell.cluster` header; any message when `cluster` is `None`), read back from the end
/// so messages of other clusters sharing the topic are passed over. `None` for a partition
/// without one (nothing of ours is skipped there).
pub(super) fn read_last_rows(consumer: &BaseConsumer, topic: &str, partitions: i32, cluster: Option<&str>) -> Result<Vec<Option<LastRow>>, String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let lookback = Lookback { first: 1, max: MAX_LOOKBACK };
    (0..partitions)
        .map(|p| {
            // A message of this cluster without the row headers skips nothing: `Some(None)`.
            let found = readback::newest(consumer, topic, p, lookback, deadline, |m| Ok(ours(m, cluster)));
            found.map(Option::flatten).map_err(|e| e.to_string())
        })
        .collect()
}

/// `Some(row headers)` for a message of `cluster`, `None` for another cluster's.
fn ours(m: &BorrowedMessage<'_>, cluster: Option<&str>) -> Option<Option<LastRow>> {
    let (mut pos, mut row, mut server, mut owner) = (None, None, None, None);
    if let Some(h) = m.headers() {
        for hd in h.iter() {
            let v = hd.value.and_then(|v| std::str::from_utf8(v).ok());
            match hd.key {
                "maxwell.position" => pos = v.and_then(|v| v.parse::<BinlogPosition>().ok()),
                "maxwell.row" => row = v.and_then(|v| v.parse::<usize>().ok()),
                "maxwell.server_id" => server = v.and_then(|v| v.parse::<u32>().ok()),
                "maxwell.cluster" => owner = v,
                _ => {}
            }
        }
    }
    (cluster.is_none() || owner == cluster).then(|| pos.zip(row).map(|(position, row)| LastRow { position, row, server_id: server }))
}
