//! Maxwell JSON encoding.
//!
//! Invariants:
//! - Rows of one transaction are buffered until its end event, because every row carries the
//!   transaction's `xid` and the last one `"commit":true` (non-last rows get `xoffset` when
//!   `output_xoffset` is on). The buffered form is two byte ranges per row (head and body)
//!   around the transaction fields, so committing is a copy, not a re-encode.
//! - Memory is bounded: once the buffered rows exceed the buffer's limit they go to a
//!   temporary file ([`spill`]) and the finished transaction is read back in parts of bounded
//!   size, each line written exactly as an in-memory commit would write it.
//! - `data` holds every column present in the row (after image for insert/update, before image
//!   for delete, plus before-only columns of a MINIMAL update); `old` holds, for updates, the
//!   previous value of each column present in both images whose JSON differs.
//! - Key order follows Maxwell: database, table, [query], type, ts, xid, [xoffset|commit],
//!   [position], [gtid], [server_id], [thread_id], [primary_key], [primary_key_columns], data, [old].

pub mod ddl;
pub mod javascript;
pub mod spill;
mod transaction;

use crate::binlog::rows::{RowKind, ABSENT};
use crate::binlog::schema::TableInfo;
use crate::binlog::json::write_json_str;
pub use crate::config::OutputConfig;
pub use transaction::{Part, Route, Transaction};
use std::sync::Arc;

/// A decoded row image: JSON fragments and per-column spans into them.
pub struct Image<'a> {
    pub frag: &'a [u8],
    pub spans: &'a [(u32, u32)],
}

impl Image<'_> {
    #[inline]
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let (s, e) = *self.spans.get(i)?;
        (s, e).ne(&ABSENT).then(|| &self.frag[s as usize..e as usize])
    }
}

/// What routing needs to know of a row besides its JSON.
#[derive(Debug, Clone)]
pub enum RowMeta {
    Row {
        table: Arc<TableInfo>,
        /// insert, update or delete (`%{type}` in a topic template).
        kind: RowKind,
        /// JSON of each primary-key column, in key order.
        pk: Vec<Vec<u8>>,
        /// JSON of each `partition_columns` entry (`None` when the row lacks it).
        partition_columns: Vec<Option<Vec<u8>>>,
        /// Where the row's rows event starts in the binlog file (`None`: a bootstrap record).
        at: Option<u64>,
    },
    Ddl {
        database: String,
        table: Option<String>,
        /// Where the statement's event starts in the binlog file.
        at: Option<u64>,
    },
}

struct PendingRow {
    start: usize,
    mid: usize,
    end: usize,
    /// Where the row's rows event starts in the binlog file (Maxwell's `position`).
    at: u64,
}

/// Facts about a finished transaction that every row repeats.
pub struct TxFields<'a> {
    pub xid: Option<u64>,
    /// The binlog file the transaction is in (each row's `position` is in it).
    pub file: &'a str,
    /// Where the transaction ends (`resume_position`).
    pub position: &'a str,
    pub gtid: Option<&'a str>,
    pub server_id: u32,
    pub thread_id: Option<u32>,
}

/// Encoded rows held in memory before a transaction spills to disk, by default.
pub const DEFAULT_MEMORY_LIMIT: usize = 16 << 20;

/// Rows of the open transaction, encoded up to the transaction fields.
pub struct TxBuffer {
    arena: Vec<u8>,
    rows: Vec<PendingRow>,
    metas: Vec<RowMeta>,
    /// Bytes of encoded rows kept in memory; beyond it they go to `spill`.
    limit: usize,
    spill: Option<spill::SpillWriter>,
}

impl Default for TxBuffer {
    fn default() -> Self {
        Self::with_limit(DEFAULT_MEMORY_LIMIT)
    }
}

impl TxBuffer {
    /// A buffer that keeps at most about `limit` bytes of encoded rows in memory.
    pub fn with_limit(limit: usize) -> Self {
        Self { arena: Vec::new(), rows: Vec::new(), metas: Vec::new(), limit: limit.max(1), spill: None }
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.spill.is_none()
    }
    /// Whether part of the open transaction is on disk.
    pub fn is_spilled(&self) -> bool {
        self.spill.is_some()
    }
    pub fn clear(&mut self) {
        self.arena.clear();
        self.rows.clear();
        self.metas.clear();
        self.spill = None;
        if self.arena.capacity() > self.limit.saturating_mul(2) {
            // A spilled transaction grew the arena once; give the memory back.
            self.arena = Vec::new();
            self.rows = Vec::new();
        }
    }

    /// Moves the rows held in memory to the spill file.
    fn spill_out(&mut self) -> std::io::Result<()> {
        let w = match &mut self.spill {
            Some(w) => w,
            None => self.spill.insert(spill::SpillWriter::new()?),
        };
        let mut metas = self.metas.drain(..);
        for r in &self.rows {
            w.write_row(&self.arena[r.start..r.mid], &self.arena[r.mid..r.end], metas.next().as_ref(), r.at)?;
        }
        drop(metas);
        self.arena.clear();
        self.rows.clear();
        Ok(())
    }

    /// Ends a spilled transaction: every row goes to the file, which is handed back for
    /// reading in parts. The buffer is empty afterwards. `None` when nothing was spilled
    /// (use [`commit`](Self::commit)).
    pub fn seal(&mut self) -> std::io::Result<Option<spill::SpillReader>> {
        if self.spill.is_none() {
            return Ok(None);
        }
        self.spill_out()?;
        let w = self.spill.take().expect("spill");
        self.clear();
        w.finish().map(Some)
    }

    /// Encodes one row change of the rows event starting at `at` and buffers it (spilling to
    /// disk past the memory limit).
    #[allow(clippy::too_many_arguments)]
    pub fn push_row(
        &mut self,
        at: u64,
        t: &Arc<TableInfo>,
        kind: RowKind,
        ts: u32,
        query: Option<&str>,
        before: Option<&Image>,
        after: Option<&Image>,
        cfg: &OutputConfig,
    ) -> std::io::Result<()> {
        let a = &mut self.arena;
        let start = a.len();
        a.push(b'{');
        a.extend_from_slice(&t.head_json);
        if let (true, Some(q)) = (cfg.row_query, query) {
            a.extend_from_slice(b",\"query\":");
            write_json_str(a, q);
        }
        a.extend_from_slice(b",\"type\":\"");
        a.extend_from_slice(kind.as_str().as_bytes());
        a.extend_from_slice(b"\",\"ts\":");
        a.extend_from_slice(itoa::Buffer::new().format(ts).as_bytes());
        let mid = a.len();
        let (main, other) = match kind {
            RowKind::Insert => (after, None),
            RowKind::Delete => (before, None),
            RowKind::Update => (after, before),
        };
        let main = main.expect("row image for its kind");
        let value = |i: usize| main.get(i).or_else(|| other.and_then(|o| o.get(i)));
        if cfg.row_meta {
            let pk = t.primary_key.iter().map(|&i| value(i).unwrap_or(b"null").to_vec()).collect();
            let partition_columns = cfg
                .partition_columns
                .iter()
                .map(|name| t.columns.iter().position(|c| &c.name == name).and_then(value).map(<[u8]>::to_vec))
                .collect();
            self.metas.push(RowMeta::Row { table: t.clone(), kind, pk, partition_columns, at: Some(at) });
        }
        if cfg.primary_keys {
            a.extend_from_slice(b",\"primary_key\":[");
            for (n, &i) in t.primary_key.iter().enumerate() {
                if n > 0 {
                    a.push(b',');
                }
                let v = value(i).unwrap_or(b"null");
                a.extend_from_slice(v);
            }
            a.push(b']');
        }
        if cfg.primary_key_columns {
            a.extend_from_slice(b",\"primary_key_columns\":[");
            for (n, &i) in t.primary_key.iter().enumerate() {
                if n > 0 {
                    a.push(b',');
                }
                write_json_str(a, &t.columns[i].name);
            }
            a.push(b']');
        }
        a.extend_from_slice(b",\"data\":{");
        let mut first = true;
        for (i, col) in t.columns.iter().enumerate() {
            let v = match main.get(i) {
                Some(v) => v,
                None => match other.and_then(|o| o.get(i)) {
                    Some(v) => v,
                    None => continue,
                },
            };
            if !cfg.nulls && v == b"null" {
                continue;
            }
            if !first {
                a.push(b',');
            }
            first = false;
            a.extend_from_slice(&col.key_json);
            a.extend_from_slice(v);
        }
        a.push(b'}');
        if let Some(old) = other {
            let mut opened = false;
            for (i, col) in t.columns.iter().enumerate() {
                if let (Some(new), Some(prev)) = (main.get(i), old.get(i)) {
                    if new != prev {
                        a.extend_from_slice(if opened { b"," } else { b",\"old\":{" });
                        opened = true;
                        a.extend_from_slice(&col.key_json);
                        a.extend_from_slice(prev);
                    }
                }
            }
            if opened {
                a.push(b'}');
            }
        }
        a.push(b'}');
        let end = a.len();
        self.rows.push(PendingRow { start, mid, end, at });
        if self.arena.len() >= self.limit {
            self.spill_out()?;
        }
        Ok(())
    }

    /// Takes the collected row metadata (empty unless `row_meta`).
    pub fn take_metas(&mut self) -> Vec<RowMeta> {
        std::mem::take(&mut self.metas)
    }

    /// Writes every buffered row as one JSON line to `out` with the transaction fields, and
    /// records each line's end offset in `ends`. Clears the buffer (take metas first). Only
    /// for a transaction that did not spill (see [`seal`](Self::seal)).
    pub fn commit(&mut self, f: &TxFields, cfg: &OutputConfig, out: &mut Vec<u8>, ends: &mut Vec<usize>) {
        debug_assert!(self.spill.is_none(), "a spilled transaction is read back with seal()");
        let n = self.rows.len();
        for (idx, r) in self.rows.iter().enumerate() {
            write_line(out, &self.arena[r.start..r.mid], &self.arena[r.mid..r.end], idx, n, r.at, f, cfg);
            ends.push(out.len());
        }
        self.clear();
    }
}

/// One row's JSON line: `head`, the transaction fields for row `idx` of `n` (whose rows event
/// starts at `at`), `body`, newline.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_line(out: &mut Vec<u8>, head: &[u8], body: &[u8], idx: usize, n: usize, at: u64, f: &TxFields, cfg: &OutputConfig) {
    let mut num = itoa::Buffer::new();
    out.extend_from_slice(head);
    if cfg.commit_info {
        if let Some(x) = f.xid {
            out.extend_from_slice(b",\"xid\":");
            out.extend_from_slice(num.format(x).as_bytes());
        }
        if idx + 1 == n {
            out.extend_from_slice(b",\"commit\":true");
        } else if cfg.xoffset {
            out.extend_from_slice(b",\"xoffset\":");
            out.extend_from_slice(num.format(idx).as_bytes());
        }
    }
    if cfg.binlog_position {
        // Maxwell's: where the row's rows event starts.
        out.extend_from_slice(b",\"position\":\"");
        out.extend_from_slice(f.file.as_bytes());
        out.push(b':');
        out.extend_from_slice(num.format(at).as_bytes());
        out.push(b'"');
    }
    if let (true, Some(g)) = (cfg.gtid_position, f.gtid) {
        out.extend_from_slice(b",\"gtid\":");
        write_json_str(out, g);
    }
    if cfg.server_id {
        out.extend_from_slice(b",\"server_id\":");
        out.extend_from_slice(num.format(f.server_id).as_bytes());
    }
    if let (true, Some(t)) = (cfg.thread_id, f.thread_id) {
        out.extend_from_slice(b",\"thread_id\":");
        out.extend_from_slice(num.format(t).as_bytes());
    }
    if cfg.resume_position {
        out.extend_from_slice(b",\"resume_position\":");
        write_json_str(out, f.position);
    }
    out.extend_from_slice(body);
    out.push(b'\n');
}

#[cfg(test)]
mod tests;
