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
//! - `data` and `old` are written by [`data`] (images merged, `exclude_columns`, `encrypt=data`);
//!   `encrypt=all` encrypts each whole line as it is written ([`encrypt`]).
//! - Key order follows Maxwell: database, table, [query], type, ts, xid, [xoffset|commit],
//!   [position], [gtid], [server_id], [thread_id], [schema_id], [resume_position],
//!   [push_ts], [primary_key], [primary_key_columns], data, [old] (or `encrypted` in place of
//!   data and old). `output_naming_strategy` renames them ([`fields`]); `push_ts` is stamped
//!   by the sink, or here inside an `encrypt=all` record.

pub mod data;
pub mod ddl;
pub mod encrypt;
pub mod fields;
pub mod javascript;
pub mod spill;
mod transaction;

use crate::binlog::rows::{RowKind, ABSENT};
use crate::binlog::schema::TableInfo;
use crate::binlog::json::write_json_str;
pub use crate::config::OutputConfig;
use crate::config::EncryptMode;
use encrypt::Encryptor;
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
    /// The schema id in force (`output_schema_id`).
    pub schema_id: u64,
}

/// `row_query_max_length`: keeps the first `max` characters of a row's statement (0: all), as
/// Maxwell's `substring(0, max)` does; counted in Unicode characters, where Java counts UTF-16
/// units (the two differ only past U+FFFF, which Java would cut in half).
pub fn truncate_query(query: &mut String, max: usize) {
    if max > 0 {
        if let Some((end, _)) = query.char_indices().nth(max) {
            query.truncate(end);
        }
    }
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
    /// `encrypt`: made at the first record that needs it.
    enc: Option<Encryptor>,
}

/// The encryptor in `slot` when `cfg` encrypts (made on first use).
pub fn encryptor<'a>(slot: &'a mut Option<Encryptor>, cfg: &OutputConfig) -> Option<&'a mut Encryptor> {
    let e = cfg.encrypt.as_ref()?;
    Some(slot.get_or_insert_with(|| Encryptor::new(e)))
}

impl Default for TxBuffer {
    fn default() -> Self {
        Self::with_limit(DEFAULT_MEMORY_LIMIT)
    }
}

impl TxBuffer {
    /// A buffer that keeps at most about `limit` bytes of encoded rows in memory.
    pub fn with_limit(limit: usize) -> Self {
        Self { arena: Vec::new(), rows: Vec::new(), metas: Vec::new(), limit: limit.max(1), spill: None, enc: None }
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
                .map(|name| t.columns.iter().position(|c| &c.name == name).and_then(|i| data::partition_value(t, i, value)).map(<[u8]>::to_vec))
                .collect();
            self.metas.push(RowMeta::Row { table: t.clone(), kind, pk, partition_columns, at: Some(at) });
        }
        if cfg.primary_keys {
            a.extend_from_slice(fields::name(cfg.naming, ",\"primary_key\":[", ",\"primaryKey\":[").as_bytes());
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
            a.extend_from_slice(fields::name(cfg.naming, ",\"primary_key_columns\":[", ",\"primaryKeyColumns\":[").as_bytes());
            for (n, &i) in t.primary_key.iter().enumerate() {
                if n > 0 {
                    a.push(b',');
                }
                write_json_str(a, &t.columns[i].name);
            }
            a.push(b']');
        }
        data::write(a, t, main, other, cfg, encryptor(&mut self.enc, cfg));
        a.push(b'}');
        let end = a.len();
        self.rows.push(PendingRow { start, mid, end, at });
        if self.arena.len() >= self.limit {
            self.spill_out()?;
        }
        Ok(())
    }

    /// The encryptor of this buffer's records when `cfg` encrypts (a spilled transaction's
    /// lines are encrypted with it as they are read back).
    pub fn encryptor(&mut self, cfg: &OutputConfig) -> Option<&mut Encryptor> {
        encryptor(&mut self.enc, cfg)
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
        let mut enc = encryptor(&mut self.enc, cfg);
        for (idx, r) in self.rows.iter().enumerate() {
            write_line(out, &self.arena[r.start..r.mid], &self.arena[r.mid..r.end], idx, n, r.at, f, cfg, enc.as_deref_mut());
            ends.push(out.len());
        }
        self.clear();
    }
}

/// One row's JSON line: `head`, the transaction fields for row `idx` of `n` (whose rows event
/// starts at `at`), `body`, newline; with `encrypt=all`, the line encrypted with `enc`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_line(out: &mut Vec<u8>, head: &[u8], body: &[u8], idx: usize, n: usize, at: u64, f: &TxFields, cfg: &OutputConfig, enc: Option<&mut Encryptor>) {
    match enc.filter(|_| cfg.encrypt.as_ref().is_some_and(|e| e.mode == EncryptMode::All)) {
        Some(e) => {
            e.plain.clear();
            write_record(&mut e.plain, head, body, idx, n, at, f, cfg);
            e.write_record(out);
        }
        None => write_record(out, head, body, idx, n, at, f, cfg),
    }
    out.push(b'\n');
}

/// One row's JSON object (see [`write_line`]).
#[allow(clippy::too_many_arguments)]
fn write_record(out: &mut Vec<u8>, head: &[u8], body: &[u8], idx: usize, n: usize, at: u64, f: &TxFields, cfg: &OutputConfig) {
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
    let name = |snake, camel| fields::name(cfg.naming, snake, camel).as_bytes();
    if cfg.server_id {
        out.extend_from_slice(name(",\"server_id\":", ",\"serverId\":"));
        out.extend_from_slice(num.format(f.server_id).as_bytes());
    }
    if let (true, Some(t)) = (cfg.thread_id, f.thread_id) {
        out.extend_from_slice(name(",\"thread_id\":", ",\"threadId\":"));
        out.extend_from_slice(num.format(t).as_bytes());
    }
    if cfg.schema_id {
        out.extend_from_slice(name(",\"schema_id\":", ",\"schemaId\":"));
        out.extend_from_slice(num.format(f.schema_id).as_bytes());
    }
    if cfg.resume_position {
        out.extend_from_slice(name(",\"resume_position\":", ",\"resumePosition\":"));
        write_json_str(out, f.position);
    }
    if cfg.push_timestamp && cfg.push_ts_by_sink().is_none() {
        // encrypt=all: the sink cannot reach inside the record; stamped as it is sealed.
        fields::write_push_ts(out, cfg.naming, std::time::SystemTime::now());
    }
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod options_tests;
