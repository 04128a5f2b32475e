//! The schema history as it is stored beside a resume point: full schemas (*bases*) and the
//! DDL statements read after them (*changes*), each marked with where in the binlog it holds,
//! so that the schema as of any resume point the stream passed can be rebuilt, by any node,
//! after a restart or a takeover (Maxwell's `schemas` table with its deltas does the same).
//!
//! Invariants:
//! - Entries are facts about the binlog: a statement at a position, or the schema at a
//!   position. Two leaders (one of them deposed) that store the same fact store equal entries,
//!   so a store needs no fencing, only the order *entry stored, then a resume point after it
//!   committed*, which the reader keeps.
//! - [`schema_at`] uses the newest base at or before the point and the changes after that
//!   base and at or before the point, each once, in binlog order. A [`Entry::Lost`] between
//!   them (a statement the history could not follow) means no schema is known there.
//! - "At or before" compares file positions of the same server, and GTID sets across the
//!   servers of a replication topology; marks of different servers without GTIDs are never
//!   comparable.

use super::{DdlError, Schema};
use crate::binlog::gtid::GtidSet;
use crate::binlog::position::BinlogPosition;
use serde::{Deserialize, Serialize};

/// Where in the binlog an entry holds: just after the transaction it ends (a change), or the
/// position the schema was captured at (a base).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub position: BinlogPosition,
    /// The GTID set at `position`, when the source has GTIDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<GtidSet>,
    /// server_id of the server whose binlog `position` is in.
    pub server_id: u32,
}

impl Mark {
    /// Whether `self` is at or before `other` (see the module's invariants).
    pub fn at_or_before(&self, other: &Mark) -> bool {
        if self.server_id == other.server_id {
            return self.position <= other.position;
        }
        match (&self.gtid, &other.gtid) {
            (Some(a), Some(b)) if !a.is_empty() => b.covers(a),
            _ => false,
        }
    }

    fn same(&self, other: &Mark) -> bool {
        self.at_or_before(other) && other.at_or_before(self)
    }
}

impl std::fmt::Display for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (server_id {}", self.position, self.server_id)?;
        if let Some(g) = &self.gtid {
            write!(f, ", GTID set {g}")?;
        }
        f.write_str(")")
    }
}

/// One stored fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Entry {
    /// The whole schema as of `at`.
    Base { at: Mark, schema: Schema },
    /// A statement that changed tables, run with default database `database`, ending at `at`.
    Change { at: Mark, database: String, sql: String },
    /// A statement the history could not follow ends at `at`: no schema is known after it
    /// until the next base.
    Lost { at: Mark, sql: String },
}

impl Entry {
    pub fn at(&self) -> &Mark {
        match self {
            Entry::Base { at, .. } | Entry::Change { at, .. } | Entry::Lost { at, .. } => at,
        }
    }

    pub fn is_base(&self) -> bool {
        matches!(self, Entry::Base { .. })
    }
}

/// Largest stored form [`Entry::from_bytes`] inflates (a schema of about a million columns).
const MAX_INFLATED: u64 = 1 << 30;

impl Entry {
    /// The stored form: the JSON, deflated (a schema's JSON shrinks about tenfold).
    pub fn to_bytes(&self) -> Vec<u8> {
        use std::io::Write;
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        let json = serde_json::to_vec(self).expect("an entry serializes");
        z.write_all(&json).expect("writing to memory");
        z.finish().expect("writing to memory")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Entry, String> {
        use std::io::Read;
        let mut json = Vec::new();
        flate2::read::DeflateDecoder::new(bytes).take(MAX_INFLATED).read_to_end(&mut json).map_err(|e| format!("not a deflated schema history entry ({e})"))?;
        serde_json::from_slice(&json).map_err(|e| format!("not a schema history entry ({e})"))
    }
}

/// Why no schema could be rebuilt at a point although entries exist.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RebuildError {
    #[error("the statement ending at {at} could not be followed (`{sql}`): no schema is known after it until a new capture")]
    Lost { at: String, sql: String },
    #[error("the stored statement ending at {at} no longer applies to the stored schema: {source}")]
    Apply { at: String, source: DdlError },
}

/// The schema as of `point` from `entries` (in the order they were stored). `Ok(None)` when no
/// base is at or before `point` (a start before everything stored).
pub fn schema_at(entries: &[Entry], point: &Mark) -> Result<Option<Schema>, RebuildError> {
    // The newest base at or before the point: a later one wins when it is at or after the one
    // held, or when the two cannot be compared (stored later, so read later).
    let mut base: Option<(&Mark, &Schema)> = None;
    for e in entries {
        if let Entry::Base { at, schema } = e {
            if at.at_or_before(point) && base.is_none_or(|(held, _)| held.at_or_before(at) || !at.at_or_before(held)) {
                base = Some((at, schema));
            }
        }
    }
    let Some((from, schema)) = base else { return Ok(None) };
    let mut schema = schema.clone();
    let mut applied: Vec<&Mark> = Vec::new();
    // Stored order is binlog order: a reader stores each change before any later one, and a
    // change stored again (by a deposed leader) is the same fact, applied once.
    let after = entries.iter().filter(|e| !e.is_base() && e.at().at_or_before(point) && !e.at().at_or_before(from));
    for e in after {
        if applied.iter().any(|m| m.same(e.at())) {
            continue;
        }
        applied.push(e.at());
        match e {
            Entry::Change { at, database, sql } => {
                schema.apply(sql, database).map_err(|source| RebuildError::Apply { at: at.to_string(), source })?;
            }
            Entry::Lost { at, sql } => return Err(RebuildError::Lost { at: at.to_string(), sql: super::one_line(sql) }),
            Entry::Base { .. } => {}
        }
    }
    Ok(Some(schema))
}

/// The schema id at `point` (`output_schema_id`): how many schema changes `entries` hold at or
/// before it, each distinct change once (a change stored again by a deposed leader is the
/// same fact at the same mark). Bases (captures, compactions) and lost statements do not
/// count, so the id depends on the binlog alone: every node, after any restart or takeover,
/// gives the same id for the same point, and a reader that goes on from `point` adds one for
/// each change it applies, as the store will hold them.
pub fn schema_id_at(entries: &[Entry], point: &Mark) -> u64 {
    let mut seen_at: std::collections::HashSet<(u32, &BinlogPosition)> = std::collections::HashSet::new();
    let mut seen_gtid: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut n = 0;
    for e in entries {
        let Entry::Change { at, .. } = e else { continue };
        if !at.at_or_before(point) {
            continue;
        }
        let gtid = at.gtid.as_ref().filter(|g| !g.is_empty()).map(|g| g.to_string());
        let new_at = seen_at.insert((at.server_id, &at.position));
        let new_gtid = gtid.is_none_or(|g| seen_gtid.insert(g));
        if new_at && new_gtid {
            n += 1;
        }
    }
    n
}

/// Changes stored after the newest base (compaction writes a base when they reach
/// `max_schemas`).
pub fn changes_since_base(entries: &[Entry]) -> usize {
    entries.iter().rev().take_while(|e| !e.is_base()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(pos: u64, gtid: Option<&str>) -> Mark {
        Mark { position: BinlogPosition::new("bin.000001", pos), gtid: gtid.map(|g| g.parse().unwrap()), server_id: 1 }
    }

    fn base(pos: u64) -> (Entry, Schema) {
        let mut s = Schema { charset: "utf8mb4".into(), ..Default::default() };
        s.apply("CREATE DATABASE d", "").unwrap();
        s.apply("CREATE TABLE d.t (id INT PRIMARY KEY, a INT)", "").unwrap();
        (Entry::Base { at: mark(pos, None), schema: s.clone() }, s)
    }

    fn change(pos: u64, sql: &str) -> Entry {
        Entry::Change { at: mark(pos, None), database: "d".into(), sql: sql.into() }
    }

    fn columns(s: &Schema) -> Vec<String> {
        s.table("d", "t").map(|t| t.columns.iter().map(|c| c.name.clone()).collect()).unwrap_or_default()
    }

    #[test]
    fn rebuilds_the_schema_of_each_point() {
        let (b, _) = base(100);
        let entries = vec![b, change(200, "ALTER TABLE t ADD b INT"), change(300, "ALTER TABLE t DROP a")];
        assert_eq!(schema_at(&entries, &mark(50, None)).unwrap(), None, "before every base");
        assert_eq!(columns(&schema_at(&entries, &mark(100, None)).unwrap().unwrap()), ["id", "a"]);
        assert_eq!(columns(&schema_at(&entries, &mark(250, None)).unwrap().unwrap()), ["id", "a", "b"]);
        assert_eq!(columns(&schema_at(&entries, &mark(300, None)).unwrap().unwrap()), ["id", "b"]);
    }

    #[test]
    fn a_fact_stored_twice_applies_once_and_a_later_base_wins() {
        let (b, _) = base(100);
        // A deposed leader stored the same change again, late.
        let entries = vec![b.clone(), change(200, "ALTER TABLE t ADD b INT"), change(300, "ALTER TABLE t ADD c INT"), change(200, "ALTER TABLE t ADD b INT")];
        assert_eq!(columns(&schema_at(&entries, &mark(400, None)).unwrap().unwrap()), ["id", "a", "b", "c"]);
        // A base at 300 holds both changes: only what follows it is applied.
        let mut at300 = schema_at(&entries, &mark(300, None)).unwrap().unwrap();
        let mut with_base = entries.clone();
        with_base.push(Entry::Base { at: mark(300, None), schema: at300.clone() });
        with_base.push(change(400, "ALTER TABLE t DROP c"));
        at300.apply("ALTER TABLE t DROP c", "d").unwrap();
        assert_eq!(schema_at(&with_base, &mark(500, None)).unwrap().unwrap(), at300);
        assert_eq!(changes_since_base(&with_base), 1);
        // The old base still serves points before the new one.
        assert_eq!(columns(&schema_at(&with_base, &mark(250, None)).unwrap().unwrap()), ["id", "a", "b"]);
    }

    #[test]
    fn the_schema_id_counts_each_change_once_up_to_the_point() {
        let (b, s) = base(100);
        let entries = vec![
            b.clone(),
            change(200, "ALTER TABLE t ADD b INT"),
            change(300, "ALTER TABLE t ADD c INT"),
            // A deposed leader stored the change at 200 again; a compaction base after 300.
            change(200, "ALTER TABLE t ADD b INT"),
            Entry::Base { at: mark(300, None), schema: s.clone() },
            Entry::Lost { at: mark(350, None), sql: "ALTER TABLE t FROBNICATE".into() },
            // A recapture at 400, then a change.
            Entry::Base { at: mark(400, None), schema: s },
            change(500, "ALTER TABLE t ADD d INT"),
        ];
        let ids: Vec<u64> = [50, 100, 199, 200, 250, 300, 399, 400, 499, 500, 900].iter().map(|&p| schema_id_at(&entries, &mark(p, None))).collect();
        assert_eq!(ids, [0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3]);
        // The same change seen from another server by its GTID counts once.
        let mut g = change(600, "ALTER TABLE t ADD e INT");
        if let Entry::Change { at, .. } = &mut g {
            at.gtid = Some("0-1-7".parse().unwrap());
        }
        let mut other = g.clone();
        if let Entry::Change { at, .. } = &mut other {
            at.server_id = 2;
            at.position = BinlogPosition::new("other.000001", 99);
        }
        let with_gtid = [entries.clone(), vec![g, other]].concat();
        assert_eq!(schema_id_at(&with_gtid, &Mark { gtid: Some("0-1-7".parse().unwrap()), ..mark(700, None) }), 4);
        assert_eq!(schema_id_at(&[b], &mark(900, None)), 0);
    }

    #[test]
    fn a_lost_statement_ends_the_history_until_a_new_base() {
        let (b, s) = base(100);
        let entries = vec![b, Entry::Lost { at: mark(200, None), sql: "ALTER TABLE t FROBNICATE".into() }];
        assert!(schema_at(&entries, &mark(150, None)).unwrap().is_some());
        assert!(matches!(schema_at(&entries, &mark(250, None)), Err(RebuildError::Lost { .. })));
        let mut more = entries.clone();
        more.push(Entry::Base { at: mark(300, None), schema: s });
        assert!(schema_at(&more, &mark(300, None)).unwrap().is_some());
    }

    #[test]
    fn gtid_sets_compare_across_servers() {
        let (mut b, _) = base(100);
        if let Entry::Base { at, .. } = &mut b {
            at.gtid = Some("0-1-10".parse().unwrap());
        }
        let mut c = change(900, "ALTER TABLE t ADD b INT");
        if let Entry::Change { at, .. } = &mut c {
            at.gtid = Some("0-1-11".parse().unwrap());
        }
        let entries = vec![b, c];
        // Another server (other file positions), same GTID history.
        let other = |g: &str| Mark { position: BinlogPosition::new("other.000009", 4), gtid: Some(g.parse().unwrap()), server_id: 2 };
        assert_eq!(columns(&schema_at(&entries, &other("0-1-10")).unwrap().unwrap()), ["id", "a"]);
        assert_eq!(columns(&schema_at(&entries, &other("0-1-11")).unwrap().unwrap()), ["id", "a", "b"]);
        assert_eq!(schema_at(&entries, &other("0-1-9")).unwrap(), None);
        // Without GTIDs, another server's positions say nothing.
        let bare = Mark { position: BinlogPosition::new("bin.000001", 5000), gtid: None, server_id: 2 };
        assert_eq!(schema_at(&entries, &bare).unwrap(), None);
    }

    #[test]
    fn entries_round_trip_as_json() {
        let (b, _) = base(100);
        let entries = vec![b, change(200, "ALTER TABLE t ADD b INT"), Entry::Lost { at: mark(300, Some("0-1-3")), sql: "x".into() }];
        for e in &entries {
            let text = serde_json::to_string(e).unwrap();
            assert_eq!(&serde_json::from_str::<Entry>(&text).unwrap(), e, "{text}");
        }
        assert!(serde_json::to_string(&entries[1]).unwrap().contains("\"kind\":\"change\""));
        for e in &entries {
            assert_eq!(&Entry::from_bytes(&e.to_bytes()).unwrap(), e);
        }
        assert!(Entry::from_bytes(b"not deflate").is_err());
    }
}
