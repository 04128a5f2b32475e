//! Binlog file positions as value types.
//!
//! Invariants:
//! - A [`BinlogPosition`] names a *transaction boundary*: the byte offset just after the event
//!   that ended a transaction (XID, COMMIT query or a standalone DDL). Resuming a dump there never
//!   re-delivers half a transaction; MariaDB refuses other offsets with error 1236.
//! - Text form is `FILE:POS` (Maxwell's `init_position` form); `Display` and `FromStr` round-trip.
//! - Ordering compares the file's numeric suffix first (`mysql-bin.000010` > `mysql-bin.000009`),
//!   then the offset.

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

#[cfg(test)]
mod tests {
    use super::*;

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
