//! Rows Kafka refuses for good, and Maxwell's rules for them (`ignore_producer_error`,
//! `dead_letter_topic`): which errors refuse a row, what is done with it, the dead-letter
//! record, and how a refused row is named.
//!
//! Invariants:
//! - Only an error about the row itself refuses it ([`reason`]: too large, an invalid record,
//!   an invalid topic name), by Maxwell's name for it (the Java client's exception). Every
//!   other error is the stream's, and is retried as before.
//! - A refusal is certain only for a row librdkafka refused when it was handed over, or one
//!   that failed when sent alone. A delivery that failed with such a code while other rows
//!   travelled with it (one broker request per partition batch) is only a suspect: the broker
//!   refuses a whole batch that is too large. Suspects are sent again each alone
//!   ([`Known::suspect`]), so a row is never skipped for a companion's size.
//! - A row is named by the end of its binlog transaction and its index there ([`RowRef`],
//!   `FILE:POS#ROW`; the GTID set after the transaction matches too, for a source that
//!   changed), so every node that reads the binlog again finds the same row.
//! - The verdict ([`decide`]): a dead-letter record when `dead_letter_topic` is set and
//!   `ignore_producer_error` is true, or the row is too large (as in Maxwell); else skipped
//!   when `ignore_producer_error` is true; else the stream stops there. (Maxwell skips a row
//!   too large even with `ignore_producer_error=false`; here false means nothing is lost
//!   unless an operator says so.)

use crate::binlog::gtid::GtidSet;
use crate::binlog::json::write_json_str;
use crate::binlog::position::BinlogPosition;
use crate::config::producer_errors::ProducerErrors;
use crate::encode::RowMeta;
use rdkafka::error::RDKafkaErrorCode;
use serde::{Deserialize, Serialize};

/// Maxwell's name for the refusal of a row too large.
pub const TOO_LARGE: &str = "RecordTooLargeException";

/// Maxwell's name (the Java client's exception) for an error that refuses a row for good;
/// `None` for every other error.
pub fn reason(code: RDKafkaErrorCode) -> Option<&'static str> {
    use RDKafkaErrorCode::*;
    Some(match code {
        MessageSizeTooLarge => TOO_LARGE,
        MessageBatchTooLarge => "RecordBatchTooLargeException",
        InvalidRecord => "InvalidRecordException",
        InvalidTopic => "InvalidTopicException",
        _ => return None,
    })
}

/// A delivery failure that may be the row's own refusal or a batch companion's (librdkafka
/// fails the others of a batch with an invalid record as `InvalidDifferentRecord`).
pub fn suspect(code: RDKafkaErrorCode) -> bool {
    reason(code).is_some() || code == RDKafkaErrorCode::InvalidDifferentRecord
}

/// One row of the binlog: the end of its transaction, the GTID set after it, its index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowRef {
    pub position: BinlogPosition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<GtidSet>,
    pub row: usize,
}

impl RowRef {
    /// Whether row `row` of the transaction ending at `position` (GTID set `gtid` after it)
    /// is this one.
    pub fn is(&self, position: &BinlogPosition, gtid: Option<&GtidSet>, row: usize) -> bool {
        self.row == row && (self.position == *position || matches!((&self.gtid, gtid), (Some(a), Some(b)) if a == b))
    }
}

impl std::fmt::Display for RowRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.position, self.row)
    }
}

impl std::str::FromStr for RowRef {
    type Err = String;
    /// `FILE:POS#ROW` (the GTID set is not part of the text).
    fn from_str(s: &str) -> Result<Self, String> {
        let (pos, row) = s.rsplit_once('#').ok_or_else(|| format!("{s:?}: expected FILE:POS#ROW, e.g. mysql-bin.000003:1234#2"))?;
        let row = row.parse().map_err(|_| format!("{s:?}: the row index after '#' must be a number"))?;
        Ok(Self { position: pos.parse().map_err(|e| format!("{e}"))?, gtid: None, row })
    }
}

/// What is done with a refused row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Verdict {
    Skip,
    /// Maxwell's dead-letter record goes to `topic` (a template) in the row's place.
    DeadLetter {
        topic: String,
    },
    /// The stream stops at the row.
    Stop,
}

impl Verdict {
    /// The `action` label of `maxwell_refused_rows_total`.
    pub fn metric(&self) -> &'static str {
        match self {
            Verdict::Skip => "skipped",
            Verdict::DeadLetter { .. } => "dead_lettered",
            Verdict::Stop => "stuck",
        }
    }
}

/// Maxwell's rule for a row refused for `reason`.
pub fn decide(policy: &ProducerErrors, reason: &str) -> Verdict {
    match &policy.dead_letter_topic {
        Some(t) if policy.ignore || reason == TOO_LARGE => Verdict::DeadLetter { topic: t.clone() },
        _ if policy.ignore => Verdict::Skip,
        _ => Verdict::Stop,
    }
}

/// What is known about a row before it comes by again (a stream read again after a refusal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub row: RowRef,
    /// `None`: a suspect (failed with a refusal code beside other rows): send it alone to find
    /// out. Otherwise refused, and this is done (an operator's decision, or one made before a
    /// redo).
    pub verdict: Option<Verdict>,
    /// Maxwell's name for the refusal.
    pub reason: String,
}

impl Known {
    pub fn suspect(row: RowRef) -> Self {
        Self { row, verdict: None, reason: String::new() }
    }
}

/// Adds `k` to `known` (in place of what was known about its row), keeping the newest 1 000.
pub fn remember(known: &mut Vec<Known>, k: Known) {
    known.retain(|o| o.row != k.row);
    known.push(k);
    if known.len() > 1000 {
        known.remove(0);
    }
}

/// A refused row, named for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedRow {
    pub row: RowRef,
    pub database: String,
    pub table: Option<String>,
    /// `insert`, `update`, `delete`, `bootstrap-insert`, or a DDL record's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its primary key as a JSON object (`{"id":5}`; `{}` without one).
    pub primary_key: String,
    pub topic: String,
    pub bytes: usize,
    /// Maxwell's name for the refusal.
    pub reason: String,
    /// librdkafka's words.
    pub error: String,
}

impl RefusedRow {
    /// The refused row `meta` (its message `value`) at `row`, sent to `topic`.
    pub fn new(row: RowRef, meta: &RowMeta, value: &[u8], topic: &str, reason: &str, error: String) -> Self {
        let (database, table) = match meta {
            RowMeta::Row { table, .. } => (table.database.clone(), Some(table.table.clone())),
            RowMeta::Ddl { database, table, .. } => (database.clone(), table.clone()),
        };
        Self { row, database, table, kind: row_type(value), primary_key: primary_key(meta), topic: topic.to_string(), bytes: value.len(), reason: reason.into(), error }
    }
}

impl std::fmt::Display for RefusedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let table = self.table.as_deref().map(|t| format!(".{t}")).unwrap_or_default();
        write!(
            f,
            "{}{table} primary key {} ({}), row {} of the binlog transaction ending at {}, {} bytes for topic {}: {} ({})",
            self.database, self.primary_key, self.kind, self.row.row, self.row.position, self.bytes, self.topic, self.reason, self.error
        )
    }
}

/// The stream stopped on a refused row: what the caller does next.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// Deliveries failed with a refusal code beside other rows: read again from the last
    /// acknowledged position, sending these rows each alone.
    Suspects(Vec<RowRef>),
    /// Exactly-once: a row sent alone was refused and the Kafka transaction cannot commit:
    /// read again from the checkpoint with this verdict for the row.
    Redo(Box<RefusedRow>, Verdict),
    /// `ignore_producer_error=false`: the stream holds at this row until an operator decides.
    Stop(Box<RefusedRow>),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Suspects(rows) => {
                let rows: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
                write!(f, "Kafka refused row(s) {} with others of their batch: sending each alone to find which", rows.join(", "))
            }
            Refusal::Redo(r, v) => write!(f, "Kafka refused {r}; the Kafka transaction is redone with the row {}", v.metric().replace('_', "-")),
            Refusal::Stop(r) => write!(f, "Kafka refused {r}, and ignore_producer_error is false: stopped at this row"),
        }
    }
}

/// The marker of a stream held at a refused row (a cluster's `stuck` znode, the `stuck_rows`
/// table of a node alone): every node respects it until an operator resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StuckRow {
    pub refused: RefusedRow,
    /// The operator's decision (`Skip` or `DeadLetter`), once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Verdict>,
    /// The node and term that stopped, and when (Unix ms).
    pub node_id: String,
    pub epoch: u64,
    pub at: u64,
}

/// `topic` (a template) with `%{database}` and `%{table}` of `meta` substituted.
pub fn dead_letter_topic(topic: &str, meta: &RowMeta) -> String {
    let (db, table) = match meta {
        RowMeta::Row { table, .. } => (table.database.as_str(), table.table.as_str()),
        RowMeta::Ddl { database, table, .. } => (database.as_str(), table.as_deref().unwrap_or("")),
    };
    topic.replace("%{database}", db).replace("%{table}", table)
}

/// Maxwell's dead-letter record of a row refused for `reason`:
/// `{"database":…,"table":…,"type":…,"reason":…,"data":{<primary key columns>}}`.
pub fn dead_letter_value(meta: &RowMeta, value: &[u8], reason: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"{\"database\":");
    match meta {
        RowMeta::Row { table, .. } => {
            write_json_str(&mut out, &table.database);
            out.extend_from_slice(b",\"table\":");
            write_json_str(&mut out, &table.table);
        }
        RowMeta::Ddl { database, table, .. } => {
            write_json_str(&mut out, database);
            out.extend_from_slice(b",\"table\":");
            match table {
                Some(t) => write_json_str(&mut out, t),
                None => out.extend_from_slice(b"null"),
            }
        }
    }
    out.extend_from_slice(b",\"type\":");
    write_json_str(&mut out, &row_type(value));
    out.extend_from_slice(b",\"reason\":");
    write_json_str(&mut out, reason);
    out.extend_from_slice(b",\"data\":");
    out.extend_from_slice(primary_key(meta).as_bytes());
    out.push(b'}');
    out
}

/// The primary key of a row as a JSON object, columns by name (`{}` without one).
fn primary_key(meta: &RowMeta) -> String {
    let mut out = vec![b'{'];
    if let RowMeta::Row { table, pk, .. } = meta {
        for (n, (v, &col)) in pk.iter().zip(&table.primary_key).enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_json_str(&mut out, &table.columns[col].name);
            out.push(b':');
            out.extend_from_slice(v);
        }
    }
    out.push(b'}');
    String::from_utf8_lossy(&out).into_owned()
}

/// The `type` of a record's JSON (read without the rest of it).
fn row_type(value: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Typed {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_slice::<Typed>(value).map(|t| t.kind).unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
#[path = "refusal_tests.rs"]
mod tests;
