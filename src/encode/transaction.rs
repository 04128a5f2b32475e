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
//! - `routes` (a `javascript` filter's topic and partition-string overrides) is sparse:
//!   ascending row indexes within this value, at most one entry per row.

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
    /// The thread that ran the transaction (from its BEGIN or statement), when known.
    pub thread_id: Option<u32>,
    /// A `javascript` filter's routing of some rows (see the module invariants).
    pub routes: Vec<Route>,
    /// Which of a stream's successive readers read it (a stream restarts its reader to
    /// narrow it for a bootstrap; what an earlier reader read ahead is dropped).
    pub segment: u32,
}

/// Where a `javascript` filter sent one row: Maxwell's `kafka_topic` and `partition_string`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// Index of the row in its [`Transaction`] value (`row_ends`).
    pub row: usize,
    /// The topic instead of `kafka_topic`'s (used as is, nothing substituted).
    pub topic: Option<String>,
    /// The partition string instead of `producer_partition_by`'s (hashed the same way).
    pub partition: Option<String>,
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

    /// The script's routing of row `row` of this value, if it set any.
    pub fn route(&self, row: usize) -> Option<&Route> {
        self.routes.binary_search_by_key(&row, |r| r.row).ok().map(|i| &self.routes[i])
    }

    /// Where to resume after this transaction.
    pub fn resume_point(&self) -> ResumePoint {
        ResumePoint { position: self.position.clone(), gtid: self.gtid_set.clone(), server_id: self.server_id }
    }
}

