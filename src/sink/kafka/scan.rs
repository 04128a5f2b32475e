//! The at-least-once takeover scan: a new leader reads this cluster's last message of each
//! partition it writes to and skips rows at or before it: by (`maxwell.position`,
//! `maxwell.row`) when both were read from the same server (file positions are per server),
//! else by GTID (`maxwell.gtid`, the set after the transaction, and the row index).
//!
//! Invariants:
//! - Messages of other clusters sharing the topic are passed over (read back with
//!   `readback`); a partition without a message of this cluster with those headers skips
//!   nothing.
//! - Never past a gap: every message carries `maxwell.seq` (`<run>-<n>`): `n` is its number
//!   among the messages its run (one stream of a term, `maxwell.epoch`) sent to that
//!   partition. A row that failed while later ones of the
//!   same partition were delivered (a timeout, an error, librdkafka's epoch bump) leaves a
//!   hole in those numbers; the walk back from the newest message checks them down to a
//!   message the new term's start position covers (acknowledged, so nothing older is
//!   missing) or to the term's first message, and skips only up to the last message before
//!   the oldest hole. The rows after it are written again: duplicates, never a gap.
//! - Reads end at the high watermark: a batch the old leader's broker appended but had not
//!   replicated yet is not seen and is written again (a duplicate, not a gap).
//!
//! Exactly-once mode does not scan: it resumes from the checkpoint committed with the rows.

use super::KafkaSinkError;
use crate::binlog::position::BinlogPosition;
use crate::binlog::position::ResumePoint;
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

    /// Whether this row's transaction ends at or before `start` (a boundary every row before
    /// which was acknowledged): by file position on the same server, else by GTID set.
    fn at_or_before(&self, start: &ResumePoint) -> bool {
        let same_server = [self.source_server_id, self.server_id].contains(&Some(start.server_id));
        if same_server && self.position <= start.position {
            return true;
        }
        matches!((&start.gtid, &self.gtid), (Some(a), Some(b)) if a.covers(b))
    }
}

/// Largest number of messages read back per partition to find this cluster's newest one
/// (another cluster may share the topic) and to check the numbers behind it.
const MAX_LOOKBACK: i64 = 1 << 20;

/// One message of this cluster as the walk back sees it.
#[derive(Debug, Clone)]
struct Seen {
    /// Its row headers (`None`: a message of ours without them).
    row: Option<LastRow>,
    /// The run (`maxwell.epoch` and the run of `maxwell.seq`) and the message's number in it
    /// (absent in messages of older versions).
    term: Option<((u64, u64), u64)>,
}

/// The skip boundary of one partition, found walking back from its newest message.
struct Walk<'a> {
    start: &'a ResumePoint,
    boundary: Option<Option<LastRow>>,
    newer: Option<((u64, u64), u64)>,
    holes: usize,
}

impl<'a> Walk<'a> {
    fn new(start: &'a ResumePoint) -> Self {
        Self { start, boundary: None, newer: None, holes: 0 }
    }

    /// Takes the next older message; `true` when nothing older matters.
    fn step(&mut self, s: Seen) -> bool {
        match (self.boundary.is_some(), self.newer, s.term) {
            (false, _, _) => self.boundary = Some(s.row.clone()),
            // The same run, the number just before: no hole.
            (true, Some((r1, q1)), Some((r0, q0))) if r0 == r1 && q0 + 1 == q1 => {}
            // The newer run's first message and an earlier run's last: the earlier run's tail
            // was settled when the newer one started (its own scan).
            (true, Some((r1, 0)), Some((r0, _))) if r0 != r1 => return true,
            // A hole (or a number missing at a run's start): skip no further than this.
            _ => {
                self.boundary = Some(s.row.clone());
                self.holes += 1;
            }
        }
        self.newer = s.term;
        s.term.is_none() || s.row.as_ref().is_some_and(|r| r.at_or_before(self.start))
    }
}

/// For each partition of `topic`, the last row this cluster wrote there with nothing missing
/// before it (see the module's invariants), read back from the end so messages of other
/// clusters sharing the topic are passed over (`cluster`: its `maxwell.cluster` header; any
/// message when `None`). `start`: where the new term reads from. `None` for a partition
/// without one (nothing of ours is skipped there).
pub fn read_last_rows(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: i32,
    cluster: Option<&str>,
    start: &ResumePoint,
) -> Result<Vec<Option<LastRow>>, String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let lookback = Lookback { first: 16, max: MAX_LOOKBACK };
    (0..partitions)
        .map(|p| {
            let mut walk = Walk::new(start);
            readback::walk_back(consumer, topic, p, lookback, deadline, |m| ours(m, cluster), |s| walk.step(s)).map_err(|e| e.to_string())?;
            if walk.holes > 0 {
                let at = walk.boundary.as_ref().and_then(|b| b.as_ref()).map(|b| format!("{}#{}", b.position, b.row));
                tracing::warn!(topic, partition = p, holes = walk.holes, resume_after = ?at, "rows missing before the previous leader's last message: writing them again from before the first hole");
            }
            Ok(walk.boundary.flatten())
        })
        .collect()
}

/// What a message of `cluster` says (`None` for another cluster's).
fn ours(m: &BorrowedMessage<'_>, cluster: Option<&str>) -> Option<Seen> {
    let (mut pos, mut row, mut server, mut owner, mut source, mut gtid) = (None, None, None, None, None, None);
    let (mut epoch, mut seq) = (None, None);
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
                "maxwell.epoch" => epoch = v.and_then(|v| v.parse::<u64>().ok()),
                "maxwell.seq" => seq = v.and_then(|v| v.split_once('-')).and_then(|(r, n)| r.parse::<u64>().ok().zip(n.parse::<u64>().ok())),
                _ => {}
            }
        }
    }
    (cluster.is_none() || owner == cluster).then(|| Seen {
        row: pos.zip(row).map(|(position, row)| LastRow { position, row, server_id: server, source_server_id: source, gtid }),
        term: epoch.zip(seq).map(|(e, (run, n))| ((e, run), n)),
    })
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

    /// Messages newest first as (file position, epoch, seq); the walk's boundary position.
    fn walk(start_pos: u64, newest_first: &[(u64, u64, u64)]) -> (Option<u64>, usize, usize) {
        let start = ResumePoint { position: BinlogPosition::new("b.000001", start_pos), gtid: None, server_id: 7 };
        let mut w = Walk::new(&start);
        let mut taken = 0;
        for &(pos, epoch, seq) in newest_first {
            taken += 1;
            let row = LastRow { position: BinlogPosition::new("b.000001", pos), row: 0, server_id: Some(7), source_server_id: Some(7), gtid: None };
            if w.step(Seen { row: Some(row), term: Some(((epoch, 1), seq)) }) {
                break;
            }
        }
        (w.boundary.flatten().map(|b| b.position.pos), w.holes, taken)
    }

    #[test]
    fn the_walk_back_never_skips_past_a_hole() {
        // Contiguous down to an acknowledged message: the newest one is the boundary.
        assert_eq!(walk(100, &[(500, 3, 9), (400, 3, 8), (300, 3, 7), (100, 3, 6), (50, 3, 5)]), (Some(500), 0, 4));
        // Seq 7 failed, 8 and 9 were delivered: skip only up to seq 6.
        assert_eq!(walk(100, &[(500, 3, 9), (400, 3, 8), (250, 3, 6), (100, 3, 5)]), (Some(250), 1, 4));
        // Two holes: the oldest decides.
        assert_eq!(walk(100, &[(500, 3, 9), (400, 3, 7), (300, 3, 6), (200, 3, 4), (100, 3, 3)]), (Some(200), 2, 5));
        // Back to the term's first message, then the previous term: no hole, stop there.
        assert_eq!(walk(10, &[(500, 3, 1), (400, 3, 0), (300, 2, 88), (200, 2, 80)]), (Some(500), 0, 3));
        // The term's first messages missing: the previous term's last one bounds the skip,
        // and its own numbers are checked too.
        assert_eq!(walk(10, &[(500, 3, 2), (300, 2, 88), (200, 2, 86), (150, 2, 85)]), (Some(200), 2, 4));
        // A message of an older version (no numbers) ends the walk.
        let start = ResumePoint { position: BinlogPosition::new("b.000001", 10), gtid: None, server_id: 7 };
        let mut w = Walk::new(&start);
        assert!(w.step(Seen { row: None, term: None }));
        assert_eq!(w.boundary, Some(None));
        // A second run in the same epoch (the term went on after a survived disconnection).
        let mut w = Walk::new(&start);
        let row = |pos| Some(LastRow { position: BinlogPosition::new("b.000001", pos), row: 0, server_id: Some(7), source_server_id: Some(7), gtid: None });
        assert!(!w.step(Seen { row: row(500), term: Some(((3, 2), 0)) }));
        assert!(w.step(Seen { row: row(400), term: Some(((3, 1), 57)) }));
        assert_eq!((w.boundary.flatten().unwrap().position.pos, w.holes), (500, 0));
    }

    #[test]
    fn acknowledged_by_position_on_one_server_else_by_gtid() {
        let g = |t: &str| t.parse::<crate::binlog::GtidSet>().unwrap();
        let row = LastRow { position: BinlogPosition::new("b.000002", 500), row: 3, server_id: Some(11), source_server_id: Some(11), gtid: Some(g("0-11-40")) };
        let start = |pos: u64, server_id: u32, gtid: &str| ResumePoint { position: BinlogPosition::new("b.000002", pos), gtid: Some(g(gtid)), server_id };
        assert!(row.at_or_before(&start(500, 11, "0-11-39")));
        assert!(!row.at_or_before(&start(499, 11, "0-11-39")));
        assert!(row.at_or_before(&start(4, 12, "0-11-40")), "another server: the GTID set decides");
        assert!(!row.at_or_before(&start(9000, 12, "0-11-39")));
    }
}
