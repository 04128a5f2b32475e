//! Binlog file positions as value types.
//!
//! Invariants:
//! - A [`BinlogPosition`] names a *transaction boundary*: the byte offset just after the event
//!   that ended a transaction (XID, COMMIT query or a standalone DDL). Resuming a dump there never
//!   re-delivers half a transaction; MariaDB refuses other offsets with error 1236.
//! - Text form is `FILE:POS` (Maxwell's `init_position` form); `Display` and `FromStr` round-trip.
//! - Ordering compares the file's numeric suffix first (`mysql-bin.000010` > `mysql-bin.000009`),
//!   then the offset.
//! - A [`ResumePoint`] is always a transaction boundary, known by file position and (where
//!   the source has them) GTID set; a [`StartPosition`] is where a reader is asked to start.
//!   Both have a text form (`Display`/`FromStr`) that round-trips, and a `ResumePoint` a serde
//!   form. This module imports nothing from the reader: every room can name a position.

use super::gtid::{GtidParseError, GtidSet};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A `file:offset` position in the source server's binary logs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct BinlogPosition {
    pub file: String,
    pub pos: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid binlog position {input:?}: expected FILE:POS such as mysql-bin.000001:4 ({reason})")]
pub struct PositionParseError {
    pub input: String,
    pub reason: &'static str,
}

impl BinlogPosition {
    pub fn new(file: impl Into<String>, pos: u64) -> Self {
        Self { file: file.into(), pos }
    }

    /// Numeric suffix of the file name (`mysql-bin.000042` → 42), if it has one.
    pub fn file_index(&self) -> Option<u64> {
        self.file.rsplit('.').next().and_then(|s| s.parse().ok())
    }
}

impl fmt::Display for BinlogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

impl FromStr for BinlogPosition {
    type Err = PositionParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| PositionParseError { input: s.to_string(), reason };
        let (file, pos) = s.trim().rsplit_once(':').ok_or_else(|| err("no ':'"))?;
        if file.is_empty() {
            return Err(err("empty file name"));
        }
        if file.contains(char::is_whitespace) {
            return Err(err("file name contains white space"));
        }
        let pos: u64 = pos.parse().map_err(|_| err("offset is not a number"))?;
        if pos < 4 {
            return Err(err("offsets start at 4, after the binlog magic"));
        }
        Ok(Self::new(file, pos))
    }
}

impl PartialOrd for BinlogPosition {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BinlogPosition {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.file_index(), other.file_index()) {
            (Some(a), Some(b)) if a != b => a.cmp(&b),
            _ => self.file.cmp(&other.file),
        }
        .then(self.pos.cmp(&other.pos))
    }
}

impl Serialize for BinlogPosition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BinlogPosition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Where to start reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPosition {
    /// The server's current end of binlog.
    Current,
    File(BinlogPosition),
    Gtid(GtidSet),
    /// A stored boundary known both ways: its file position where that position is on the
    /// server reached now and holds the same GTID state (same server), else its GTID set
    /// (another server behind the same address: file positions differ between servers).
    Checked { position: BinlogPosition, gtid: GtidSet },
}

impl StartPosition {
    /// Where to re-read from to continue after a stored boundary: its GTID set in
    /// `gtid_mode` when it has one, else its file position — checked against the GTID set
    /// when there is one.
    pub fn resume(position: &BinlogPosition, gtid: Option<&GtidSet>, gtid_mode: bool) -> Self {
        match gtid {
            Some(g) if gtid_mode => StartPosition::Gtid(g.clone()),
            Some(g) => StartPosition::Checked { position: position.clone(), gtid: g.clone() },
            None => StartPosition::File(position.clone()),
        }
    }
}

/// Why a start position's text was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StartParseError {
    #[error("{0} (expected FILE:POS or a GTID set)")]
    Position(#[from] PositionParseError),
    #[error(transparent)]
    Gtid(#[from] GtidParseError),
}

fn looks_like_uuid(s: &str) -> bool {
    let s = s.trim();
    s.chars().all(|c| c.is_ascii_hexdigit() || c == '-') && s.chars().filter(|c| *c != '-').count() == 32
}

/// `current`, `FILE:POS` (Maxwell's `FILE:POS:HEARTBEAT` too: the heartbeat only orders
/// Maxwell's own positions table), a GTID set (`0-1-100` MariaDB, `uuid:1-5` MySQL), or
/// `FILE:POS@GTID` (a checked position, as `Display` writes it).
impl FromStr for StartPosition {
    type Err = StartParseError;
    fn from_str(v: &str) -> Result<Self, Self::Err> {
        if v == "current" {
            return Ok(StartPosition::Current);
        }
        if let Some((p, g)) = v.split_once('@') {
            return Ok(StartPosition::Checked { position: p.parse()?, gtid: g.parse()? });
        }
        if v.contains(':') && !looks_like_uuid(v.split(':').next().unwrap_or("")) {
            let parts: Vec<&str> = v.split(':').collect();
            let v = match parts.as_slice() {
                [file, pos, hb] if !hb.is_empty() && hb.chars().all(|c| c.is_ascii_digit()) => format!("{file}:{pos}"),
                _ => v.to_string(),
            };
            return Ok(StartPosition::File(v.parse()?));
        }
        Ok(StartPosition::Gtid(v.parse()?))
    }
}

impl fmt::Display for StartPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartPosition::Current => f.write_str("current"),
            StartPosition::File(p) => write!(f, "{p}"),
            StartPosition::Gtid(g) => write!(f, "{g}"),
            StartPosition::Checked { position, gtid } => write!(f, "{position}@{gtid}"),
        }
    }
}

/// A resume point: always a transaction boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePoint {
    pub position: BinlogPosition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<GtidSet>,
    /// server_id of the source that wrote the transaction ending here (0 when unknown).
    #[serde(default)]
    pub server_id: u32,
}

/// `FILE:POS`, then ` gtid=SET` when known and ` server_id=N` when known; `FromStr` reads
/// the same form back.
impl fmt::Display for ResumePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.position)?;
        if let Some(g) = &self.gtid {
            write!(f, " gtid={g}")?;
        }
        if self.server_id != 0 {
            write!(f, " server_id={}", self.server_id)?;
        }
        Ok(())
    }
}

impl FromStr for ResumePoint {
    type Err = StartParseError;
    fn from_str(v: &str) -> Result<Self, Self::Err> {
        let mut parts = v.split_whitespace();
        let position: BinlogPosition = parts.next().unwrap_or("").parse()?;
        let mut point = ResumePoint { position, gtid: None, server_id: 0 };
        for p in parts {
            match p.split_once('=') {
                Some(("gtid", g)) => point.gtid = Some(g.parse()?),
                Some(("server_id", n)) => {
                    point.server_id = n.parse().map_err(|_| PositionParseError { input: v.to_string(), reason: "server_id is not a number" })?
                }
                _ => return Err(PositionParseError { input: v.to_string(), reason: "expected FILE:POS [gtid=SET] [server_id=N]" }.into()),
            }
        }
        Ok(point)
    }
}

/// Where a bootstrap stands; carried by its records and committed in exactly-once checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BootstrapState {
    /// `maxwell.bootstrap.id`.
    pub id: u64,
    pub database: String,
    pub table: String,
    /// Rows sent so far.
    pub rows: u64,
    /// Primary key of the last row sent, as SQL literals (`None` before the first chunk).
    pub last_key: Option<Vec<String>>,
    /// `bootstrap-complete` sent (or cancelled): no more rows to read for `id`.
    pub complete: bool,
    /// `bootstrapper=async`: the table's live changes after this point are held (not yet
    /// sent); after the bootstrap they are read again from here and sent (`bootstrap::hold`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_from: Option<ResumePoint>,
    /// Set once the bootstrap ended: the held changes end here (the stream stood here then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_until: Option<ResumePoint>,
}

impl BootstrapState {
    /// A bootstrap of `database`.`table` with nothing sent yet.
    pub fn new(id: u64, database: &str, table: &str) -> Self {
        Self { id, database: database.into(), table: table.into(), rows: 0, last_key: None, complete: false, held_from: None, held_until: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_positions_parse_and_print() {
        assert_eq!("current".parse::<StartPosition>().unwrap(), StartPosition::Current);
        assert_eq!("mysql-bin.000002:154".parse::<StartPosition>().unwrap(), StartPosition::File(BinlogPosition::new("mysql-bin.000002", 154)));
        // Maxwell's FILE:POS:HEARTBEAT.
        assert_eq!("mysql-bin.000002:154:1700000000".parse::<StartPosition>().unwrap(), StartPosition::File(BinlogPosition::new("mysql-bin.000002", 154)));
        assert!(matches!("0-1-100,1-2-3".parse::<StartPosition>().unwrap(), StartPosition::Gtid(GtidSet::Maria(_))));
        assert!(matches!("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5".parse::<StartPosition>().unwrap(), StartPosition::Gtid(GtidSet::Mysql(_))));
        for text in ["current", "mysql-bin.000002:154", "0-1-100", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", "mysql-bin.000003:4@0-1-7"] {
            let p: StartPosition = text.parse().unwrap();
            assert_eq!(p.to_string(), text, "round trip");
            assert_eq!(p.to_string().parse::<StartPosition>().unwrap(), p);
        }
        for bad in ["mysql-bin.000001:x", "0-1", "", "f:4@nope"] {
            assert!(bad.parse::<StartPosition>().is_err(), "{bad:?} accepted");
        }
        assert!("mysql-bin.000001:x".parse::<StartPosition>().unwrap_err().to_string().contains("FILE:POS or a GTID set"));
    }

    #[test]
    fn resume_prefers_the_gtid_set_in_gtid_mode_and_checks_it_otherwise() {
        let p = BinlogPosition::new("mysql-bin.000001", 400);
        let g: GtidSet = "0-1-9".parse().unwrap();
        assert_eq!(StartPosition::resume(&p, Some(&g), true), StartPosition::Gtid(g.clone()));
        assert_eq!(StartPosition::resume(&p, Some(&g), false), StartPosition::Checked { position: p.clone(), gtid: g });
        assert_eq!(StartPosition::resume(&p, None, true), StartPosition::File(p));
    }

    #[test]
    fn resume_points_round_trip_as_text_and_json() {
        let full = ResumePoint { position: BinlogPosition::new("mysql-bin.000004", 1234), gtid: Some("0-1-77".parse().unwrap()), server_id: 3 };
        let bare = ResumePoint { position: BinlogPosition::new("mysql-bin.000004", 4), gtid: None, server_id: 0 };
        assert_eq!(full.to_string(), "mysql-bin.000004:1234 gtid=0-1-77 server_id=3");
        assert_eq!(bare.to_string(), "mysql-bin.000004:4");
        for p in [&full, &bare] {
            assert_eq!(&p.to_string().parse::<ResumePoint>().unwrap(), p);
            let j = serde_json::to_string(p).unwrap();
            assert_eq!(&serde_json::from_str::<ResumePoint>(&j).unwrap(), p);
        }
        assert_eq!(serde_json::to_string(&bare).unwrap(), r#"{"position":"mysql-bin.000004:4","server_id":0}"#);
        for bad in ["", "f:4 gtid=", "f:4 server_id=x", "f:4 what=1"] {
            assert!(bad.parse::<ResumePoint>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn round_trip() {
        let p: BinlogPosition = "mysql-bin.000003:1234".parse().unwrap();
        assert_eq!(p, BinlogPosition::new("mysql-bin.000003", 1234));
        assert_eq!(p.to_string(), "mysql-bin.000003:1234");
        assert_eq!(p.file_index(), Some(3));
    }

    #[test]
    fn rejects_bad_input() {
        for bad in ["", "mysql-bin.000001", ":4", "f:x", "f:-1", "f:3", "a b:5"] {
            assert!(bad.parse::<BinlogPosition>().is_err(), "{bad:?} accepted");
        }
        let e = "f:x".parse::<BinlogPosition>().unwrap_err().to_string();
        assert!(e.contains("FILE:POS"), "{e}");
    }

    #[test]
    fn orders_by_file_number_then_offset() {
        let a: BinlogPosition = "mysql-bin.000009:900".parse().unwrap();
        let b: BinlogPosition = "mysql-bin.000010:4".parse().unwrap();
        let c: BinlogPosition = "mysql-bin.000010:5".parse().unwrap();
        assert!(a < b && b < c);
    }

    #[test]
    fn serde_as_string() {
        let p = BinlogPosition::new("bin.000001", 77);
        let j = serde_json::to_string(&p).unwrap();
        assert_eq!(j, "\"bin.000001:77\"");
        assert_eq!(serde_json::from_str::<BinlogPosition>(&j).unwrap(), p);
        assert!(serde_json::from_str::<BinlogPosition>("\"nope\"").is_err());
    }
}
