//! The at-least-once takeover scan: a new leader reads this cluster's last message of each
//! partition it writes to and skips rows at or before it: by (`maxwell.position`,
//! `maxwell.row`) when both were read from the same server (file positions are per server),
//! else by GTID (`maxwell.gtid`, the set after the transaction, and the row index).
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
    /// `maxwell.source_server_id`: the server it was read from (absent in older messages).
    pub source_server_id: Option<u32>,
    /// `maxwell.gtid`: the GTID set after its transaction, when the source has GTIDs.
    pub gtid: Option<crate::binlog::GtidSet>,
}

/// One row about to be written, as the takeover scan compares it.
pub struct Candidate<'a> {
    pub position: &'a BinlogPosition,
    pub row: usize,
    /// The server that wrote it and the one it was read from (0: unknown).
    pub server_id: u32,
    pub source_server_id: u32,
    /// The GTID set after its transaction.
    pub gtid: Option<&'a crate::binlog::GtidSet>,
}

impl LastRow {
    /// Whether `c` is at or before this row, so already in Kafka. File positions compare only
    /// when both were read from the same server; otherwise GTID sets decide (the same set:
    /// the same transaction, then the row index; a set this one covers: an earlier
    /// transaction). Without either, nothing is skipped (at-least-once: a repeat, not a gap).
    pub fn covers(&self, c: &Candidate<'_>) -> bool {
        let same_server = match (self.source_server_id, c.source_server_id) {
            (Some(a), b) if b != 0 => a == b,
            // Older messages: the writer's id is all there is.
            _ => self.server_id.is_none_or(|s| s == c.server_id),
        };
        if same_server {
            return (c.position, c.row) <= (&self.position, self.row);
        }
        match (&self.gtid, c.gtid) {
            (Some(mine), Some(theirs)) if mine == theirs => c.row <= self.row,
            (Some(mine), Some(theirs)) => mine.covers(theirs),
            _ => false,
        }
    }
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
    let (mut pos, mut row, mut server, mut owner, mut source, mut gtid) = (None, None, None, None, None, None);
    if let Some(h) = m.headers() {
        for hd in h.iter() {
            let v = hd.value.and_then(|v| std::str::from_utf8(v).ok());
            match hd.key {
                "maxwell.position" => pos = v.and_then(|v| v.parse::<BinlogPosition>().ok()),
                "maxwell.row" => row = v.and_then(|v| v.parse::<usize>().ok()),
                "maxwell.server_id" => server = v.and_then(|v| v.parse::<u32>().ok()),
                "maxwell.source_server_id" => source = v.and_then(|v| v.parse::<u32>().ok()).filter(|s| *s != 0),
                "maxwell.gtid" => gtid = v.and_then(|v| v.parse::<crate::binlog::GtidSet>().ok()),
                "maxwell.cluster" => owner = v,
                _ => {}
            }
        }
    }
    (cluster.is_none() || owner == cluster).then(|| pos.zip(row).map(|(position, row)| LastRow { position, row, server_id: server, source_server_id: source, gtid }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_by_position_on_one_server_and_by_gtid_across_servers() {
        let g = |t: &str| t.parse::<crate::binlog::GtidSet>().unwrap();
        let last = LastRow {
            position: BinlogPosition::new("mysql-bin.000002", 500),
            row: 3,
            server_id: Some(11),
            source_server_id: Some(11),
            gtid: Some(g("1-11-40,2-12-7")),
        };
        let check = |file: &str, pos: u64, row: usize, source: u32, gtid: &str| {
            let (p, gs) = (BinlogPosition::new(file, pos), g(gtid));
            last.covers(&Candidate { position: &p, row, server_id: 11, source_server_id: source, gtid: Some(&gs) })
        };
        // Same server: file positions.
        assert!(check("mysql-bin.000002", 500, 3, 11, "1-11-40,2-12-7"));
        assert!(!check("mysql-bin.000002", 500, 4, 11, "1-11-40,2-12-7"));
        assert!(check("mysql-bin.000001", 9000, 0, 11, "1-11-30"));
        assert!(!check("mysql-bin.000003", 4, 0, 11, "1-11-41,2-12-7"));
        // Another server (its file numbers mean nothing here): GTIDs.
        assert!(check("mysql-bin.000009", 1, 3, 12, "1-11-40,2-12-7"), "same transaction, same row");
        assert!(!check("mysql-bin.000009", 1, 4, 12, "1-11-40,2-12-7"), "same transaction, a later row");
        assert!(check("mysql-bin.000001", 99999, 0, 12, "1-11-39,2-12-7"), "an earlier transaction");
        assert!(!check("mysql-bin.000001", 4, 0, 12, "1-11-40,2-12-8"), "a later one");
        // Older messages without the reader's id: the writer's id decides, as before.
        let old = LastRow { source_server_id: None, gtid: None, ..last.clone() };
        let p = BinlogPosition::new("mysql-bin.000002", 400);
        assert!(old.covers(&Candidate { position: &p, row: 0, server_id: 11, source_server_id: 12, gtid: None }));
        assert!(!old.covers(&Candidate { position: &p, row: 0, server_id: 12, source_server_id: 12, gtid: None }));
    }
}
