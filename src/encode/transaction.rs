//! A finished binlog transaction (or standalone statement, or a bootstrap's records), encoded:
//! its Maxwell JSON lines, where it ends, and what the sink needs to route and resume.
//!
//! Invariants:
//! - `position` is the position *after* the transaction's last event and `gtid_set` includes
//!   the transaction and nothing after it, so [`Transaction::resume_point`] of a value that
//!   [`ends its transaction`](Transaction::ends_transaction) is a valid resume point.
//! - A transaction handed on in parts ([`Part`]) repeats its end position and fields on every
//!   part; only the last part ends it.
//! - `meta` is parallel to `row_ends` when routing facts are collected, else empty.

use super::RowMeta;
use crate::binlog::gtid::GtidSet;
use crate::binlog::position::{BinlogPosition, BootstrapState, ResumePoint};
use std::sync::Arc;

/// A finished transaction (or standalone statement).
#[derive(Debug, Default, Clone)]
pub struct Transaction {
    /// Newline-terminated Maxwell JSON lines.
    pub json: Vec<u8>,
    /// End offset in `json` of each line.
    pub row_ends: Vec<usize>,
    pub position: BinlogPosition,
    pub gtid: Option<String>,
    pub gtid_set: Option<GtidSet>,
    pub xid: Option<u64>,
    pub ts: u32,
    /// A schema change (DDL) ended here: schema facts may need a refresh.
    pub schema_changed: bool,
    /// The schema id in force after this transaction (`output_schema_id`; see
    /// [`crate::binlog::history::stored::schema_id_at`]).
    pub schema_id: u64,
    /// Per-row routing facts, parallel to `row_ends` (only with `row_meta`).
    pub meta: Vec<RowMeta>,
    /// server_id of the source that wrote this transaction.
    pub server_id: u32,
    /// server_id of the server it was read from (in a dual-master pair, not always the one
    /// that wrote it); set by the reader.
    pub source_server_id: u32,
    /// Set when this is one part of a transaction handed on in several.
    pub part: Option<Part>,
    /// This transaction's share of the reader's queue budget, given back when it is dropped.
    pub queued: Option<Arc<tokio::sync::OwnedSemaphorePermit>>,
    /// A bootstrap's records (not read from the binlog): where that bootstrap stands after them.
    pub bootstrap: Option<BootstrapState>,
}

/// Where a part sits in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// Index of the part's first row in the transaction.
    pub first_row: usize,
    /// Rows in the whole transaction.
    pub total_rows: usize,
}

impl Transaction {
    /// Index in the transaction of this value's first row.
    pub fn first_row(&self) -> usize {
        self.part.map_or(0, |p| p.first_row)
    }
    /// Rows in the whole transaction (not only in this part).
    pub fn total_rows(&self) -> usize {
        self.part.map_or(self.row_ends.len(), |p| p.total_rows)
    }
    /// Whether this value ends its transaction, so that its position is a resume point.
    pub fn ends_transaction(&self) -> bool {
        self.part.is_none_or(|p| p.first_row + self.row_ends.len() >= p.total_rows)
    }

    /// Where to resume after this transaction.
    pub fn resume_point(&self) -> ResumePoint {
        ResumePoint { position: self.position.clone(), gtid: self.gtid_set.clone(), server_id: self.server_id }
    }
}

