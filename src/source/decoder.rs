//! The event state machine: raw binlog events in, finished transactions out.
//!
//! Invariants:
//! - Output happens only at transaction boundaries: XID, a COMMIT/ROLLBACK query, a standalone
//!   statement (DDL), or XA PREPARE. Each [`Transaction`] carries the position *after* its
//!   last event, which is a valid resume point.
//! - A transaction that produced no rows (all filtered) is still reported, so positions keep
//!   moving; a ROLLBACK discards its rows.
//! - A transaction whose rows outgrow the buffer's memory limit is spilled to disk and handed
//!   on in parts ([`Part`]): the first from [`Decoder::handle`], the rest from
//!   [`Decoder::next_part`], which must be drained before the next event is fed. Only the last
//!   part is a resume point; every part carries the transaction's end position and fields.
//! - The GTID state is advanced only when a transaction ends, so `gtid_set` on a transaction
//!   includes it and nothing after it.
//! - Table schemas are cached per table id; a TABLE_MAP identical to the cached one is a
//!   byte comparison, not a re-parse. Excluded tables are never decoded.
//! - No allocation per row on the hot path beyond the output buffers (fragment and span
//!   buffers are reused).

use crate::binlog::bytes::Reader;
pub use crate::binlog::events::{ev, RawEvent};
use crate::binlog::events::{Corrupt, Event, Query};
use crate::binlog::charset::CollationMap;
use crate::binlog::history::Schema;
use crate::binlog::gtid::{GtidSet, MariaGtid, MariaGtidSet, MysqlGtidSet, Sid};
use crate::binlog::position::BinlogPosition;
use crate::binlog::rows::{check_columns, decode_image, parse_rows_event, RowKind, RowsError};
use crate::binlog::schema::{build_table_info, parse_table_map, MetadataRules, SchemaError, TableInfo};
use crate::binlog::values::ValueOpts;
use crate::encode::{ddl, Image, OutputConfig, Part, Transaction, TxBuffer, TxFields};
use crate::filter::Filter;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Rows(#[from] RowsError),
    #[error("rows event for table id {0} without a preceding TABLE_MAP (resume position is not a transaction boundary?)")]
    UnknownTable(u64),
    #[error("corrupt {what} event at {position}")]
    Corrupt { what: &'static str, position: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("the source logged an INCIDENT event at {0}: changes may be missing from the binlog; resolve it on the server and restart from a position after it")]
    Incident(String),
    #[error(transparent)]
    History(#[from] crate::binlog::history::DdlError),
    #[error("a large transaction could not be buffered on disk: {0}")]
    Spill(#[from] std::io::Error),
}

struct TableEntry {
    raw: Vec<u8>,
    info: Option<Arc<TableInfo>>,
}

/// Decoder options that come from configuration.
#[derive(Clone, Default)]
pub struct DecoderConfig {
    pub output: OutputConfig,
    pub filter: Filter,
    /// How the source's TABLE_MAP metadata is laid out (set from the server's family).
    pub rules: MetadataRules,
    /// Bytes of one transaction's encoded rows kept in memory before it spills to disk
    /// (0: the default).
    pub memory_limit: usize,
}

/// A finished, spilled transaction whose later parts are still to be handed on.
struct Draining {
    rows: crate::encode::spill::SpillReader,
    template: Transaction,
    thread_id: Option<u32>,
}

pub struct Decoder {
    cfg: DecoderConfig,
    vopts: ValueOpts,
    collations: CollationMap,
    json_columns: HashSet<(String, String, String)>,
    /// The schema as of the event being decoded (TABLE_MAPs without column names need it).
    history: Option<Schema>,
    /// Whether a DDL statement the history cannot follow stops decoding (the source's
    /// TABLE_MAPs do not name columns) or only ends the history (they do).
    history_required: bool,
    /// What the last transaction's statement did to the history, for the reader to store.
    history_event: Option<super::history::HistoryEvent>,
    /// Schema changes the history holds up to here (`output_schema_id`): set at the start
    /// from the stored history, one more for each statement that changes it.
    schema_id: u64,
    /// Where the previous event ended, so where the current one starts (Maxwell's `position`
    /// of a row or DDL record).
    prev_end: u64,
    /// Where the event being handled starts.
    event_start: u64,
    tables: HashMap<u64, TableEntry>,
    file: String,
    gtid_state: Option<GtidSet>,
    // open transaction
    in_tx: bool,
    tx: TxBuffer,
    tx_gtid_maria: Option<MariaGtid>,
    tx_gtid_mysql: Option<(Sid, u64)>,
    tx_thread: Option<u32>,
    tx_server: u32,
    row_query: Option<String>,
    draining: Option<Draining>,
    // scratch
    frag_b: Vec<u8>,
    spans_b: Vec<(u32, u32)>,
    frag_a: Vec<u8>,
    spans_a: Vec<(u32, u32)>,
}

impl Decoder {
    pub fn new(cfg: DecoderConfig, collations: CollationMap) -> Self {
        let vopts = ValueOpts { null_zerodates: cfg.output.null_zerodates };
        let limit = if cfg.memory_limit == 0 { crate::encode::DEFAULT_MEMORY_LIMIT } else { cfg.memory_limit };
        Self {
            cfg,
            vopts,
            collations,
            json_columns: HashSet::new(),
            history: None,
            history_required: false,
            history_event: None,
            schema_id: 0,
            prev_end: 4,
            event_start: 4,
            tables: HashMap::new(),
            file: String::new(),
            gtid_state: None,
            in_tx: false,
            tx: TxBuffer::with_limit(limit),
            tx_gtid_maria: None,
            tx_gtid_mysql: None,
            tx_thread: None,
            tx_server: 0,
            row_query: None,
            draining: None,
            frag_b: Vec::new(),
            spans_b: Vec::new(),
            frag_a: Vec::new(),
            spans_a: Vec::new(),
        }
    }

    /// Sets the known start state (file and GTID position) before the first event.
    pub fn start_at(&mut self, file: &str, gtid: Option<GtidSet>) {
        self.file = file.to_string();
        self.gtid_state = gtid;
    }

    /// Prepares for a new dump connection at a transaction boundary: the half-read
    /// transaction is dropped and table ids are forgotten (they change across restarts).
    pub fn restart_at(&mut self, file: &str, gtid: Option<GtidSet>) {
        self.reset_tx();
        self.tables.clear();
        self.start_at(file, gtid);
    }

    /// Replaces the set of (db, table, column) holding JSON text; drops cached schemas.
    pub fn set_json_columns(&mut self, cols: HashSet<(String, String, String)>) {
        if cols != self.json_columns {
            self.json_columns = cols;
            self.tables.clear();
        }
    }

    /// Decodes with `schema` (as of the next event) where a TABLE_MAP does not name the
    /// columns, and moves it forward by every DDL statement read from here on. `required`:
    /// a statement it cannot follow stops decoding (else it only ends the history, with a
    /// warning, and TABLE_MAPs must name their columns from there on).
    pub fn set_history(&mut self, schema: Schema, required: bool) {
        self.history = Some(schema);
        self.history_required = required;
        self.tables.clear();
    }

    /// What the statement of the transaction just returned did to the history: applied, or
    /// not followed (stored so that no later start trusts a schema across it).
    pub fn take_history_event(&mut self) -> Option<super::history::HistoryEvent> {
        self.history_event.take()
    }

    /// Sets the schema id at the start (see [`crate::binlog::history::stored::schema_id_at`]).
    pub fn set_schema_id(&mut self, id: u64) {
        self.schema_id = id;
    }

    /// The schema id as of the last event.
    pub fn schema_id(&self) -> u64 {
        self.schema_id
    }

    /// The schema history as of the last event, when one is kept.
    pub fn history(&self) -> Option<&Schema> {
        self.history.as_ref()
    }

    pub fn current_file(&self) -> &str {
        &self.file
    }
    /// `output_row_query`: the rows carry their statement (MariaDB must be asked for it).
    pub fn row_query(&self) -> bool {
        self.cfg.output.row_query
    }
    pub fn in_transaction(&self) -> bool {
        self.in_tx
    }
    pub fn gtid_state(&self) -> Option<&GtidSet> {
        self.gtid_state.as_ref()
    }

    fn corrupt(&self, what: &'static str, ev: &RawEvent) -> DecodeError {
        DecodeError::Corrupt { what, position: format!("{}:{}", self.file, ev.log_pos) }
    }

    fn reset_tx(&mut self) {
        self.in_tx = false;
        self.tx.clear();
        self.tx_gtid_maria = None;
        self.tx_gtid_mysql = None;
        self.tx_thread = None;
        self.row_query = None;
        self.draining = None;
    }

    /// Feeds one event; returns a transaction when `ev` ended one.
    pub fn handle(&mut self, ev: &RawEvent) -> Result<Option<Transaction>, DecodeError> {
        // Events are contiguous in a file: this one starts where the previous one ended (an
        // artificial ROTATE or FORMAT_DESCRIPTION, with log_pos 0, moves nothing).
        if ev.log_pos != 0 {
            (self.event_start, self.prev_end) = (self.prev_end, ev.log_pos as u64);
        }
        match Event::parse(ev).map_err(|Corrupt(what)| self.corrupt(what, ev))? {
            Event::Rows => self.rows(ev).map(|()| None),
            Event::TableMap => self.table_map(ev).map(|()| None),
            Event::Xid(xid) => self.finish(ev, Some(xid), None).map(Some),
            Event::Query(q) => self.query(ev, q),
            Event::MariaGtid(g) => {
                self.reset_tx();
                self.tx_gtid_maria = Some(g);
                self.tx_server = ev.server_id;
                Ok(None)
            }
            Event::MysqlGtid(sid, gno) => {
                self.reset_tx();
                self.tx_gtid_mysql = Some((sid, gno));
                self.tx_server = ev.server_id;
                Ok(None)
            }
            Event::PreviousGtids(set) => {
                self.gtid_state.get_or_insert(GtidSet::Mysql(set));
                Ok(None)
            }
            Event::GtidList(set) => {
                self.gtid_state.get_or_insert(GtidSet::Maria(set));
                Ok(None)
            }
            Event::Rotate { file, new_file } => {
                self.file = file;
                // Table ids are per binlog file.
                if new_file {
                    self.tables.clear();
                }
                Ok(None)
            }
            Event::RowsQuery(mut sql) => {
                crate::encode::truncate_query(&mut sql, self.cfg.output.row_query_max_length);
                self.row_query = Some(sql);
                Ok(None)
            }
            Event::XaPrepare => self.finish(ev, None, None).map(Some),
            Event::Incident => Err(DecodeError::Incident(format!("{}:{}", self.file, ev.log_pos))),
            Event::Unsupported(what) => Err(DecodeError::Unsupported(what.into())),
            Event::Other => Ok(None),
        }
    }

    fn table_map(&mut self, ev: &RawEvent) -> Result<(), DecodeError> {
        let raw = parse_table_map(ev.data)?;
        if let Some(e) = self.tables.get(&raw.table_id) {
            if e.raw == ev.data {
                return Ok(());
            }
        }
        let def = self.history.as_ref().and_then(|h| h.table(raw.database, raw.table));
        // Without case-sensitive names (lower_case_table_names 1 or 2) rows carry, and filters
        // see, the history's names, as Maxwell's do (docs/maxwell-compatibility.md).
        let named = def.filter(|_| self.history.as_ref().is_some_and(|h| h.lower_case_table_names != 0));
        let (db, table) = named.map_or((raw.database, raw.table), |d| (d.database.as_str(), d.table.as_str()));
        let info = if !self.cfg.filter.is_blacklisted(raw.database, raw.table) && self.cfg.filter.may_emit(db, table) {
            let mut info = build_table_info(&raw, &self.collations, &self.json_columns, self.cfg.rules, def)?;
            if let Some(d) = named {
                info.rename(&d.database, &d.table);
            }
            if let Some(def) = def {
                check_against_history(&info, def);
            }
            let exclude = &self.cfg.output.exclude_columns;
            if !exclude.is_empty() {
                info.exclude(|name| exclude.matches(name));
            }
            if self.cfg.output.naming == crate::config::NamingStrategy::CamelCase {
                info.rename_keys(crate::config::newer::camel_case);
            }
            Some(Arc::new(info))
        } else {
            None
        };
        self.tables.insert(raw.table_id, TableEntry { raw: ev.data.to_vec(), info });
        Ok(())
    }

    fn rows(&mut self, ev: &RawEvent) -> Result<(), DecodeError> {
        let re = parse_rows_event(ev.type_code, ev.data)?;
        let entry = self.tables.get(&re.table_id).ok_or(DecodeError::UnknownTable(re.table_id))?;
        let Some(t) = entry.info.clone() else { return Ok(()) };
        check_columns(&re, &t)?;
        if !self.in_tx {
            // Row events outside BEGIN…COMMIT (non-transactional engines without GTID):
            // the statement's end is marked by a COMMIT query; open an implicit group.
            self.in_tx = true;
            self.tx_server = ev.server_id;
        }
        let column_rules = self.cfg.filter.has_column_rules_for(&t.database, &t.table);
        let spilled = self.tx.is_spilled();
        let mut r = Reader::new(re.rows);
        while r.remaining() > 0 {
            let (before, after) = match re.kind {
                RowKind::Insert => {
                    decode_image(&t, re.present, &mut r, &mut self.frag_a, &mut self.spans_a, self.vopts)?;
                    (false, true)
                }
                RowKind::Delete => {
                    decode_image(&t, re.present, &mut r, &mut self.frag_b, &mut self.spans_b, self.vopts)?;
                    (true, false)
                }
                RowKind::Update => {
                    decode_image(&t, re.present, &mut r, &mut self.frag_b, &mut self.spans_b, self.vopts)?;
                    decode_image(&t, re.present_after, &mut r, &mut self.frag_a, &mut self.spans_a, self.vopts)?;
                    (true, true)
                }
            };
            let b = before.then(|| Image { frag: &self.frag_b, spans: &self.spans_b });
            let a = after.then(|| Image { frag: &self.frag_a, spans: &self.spans_a });
            if column_rules {
                let main = if after { a.as_ref() } else { b.as_ref() }.unwrap();
                let lookup = |col: &str| column_text(&t, main, col);
                if !self.cfg.filter.includes_row(&t.database, &t.table, lookup) {
                    continue;
                }
            }
            self.tx.push_row(self.event_start, &t, re.kind, ev.timestamp, self.row_query.as_deref(), b.as_ref(), a.as_ref(), &self.cfg.output)?;
        }
        if !spilled && self.tx.is_spilled() {
            tracing::info!(file = %self.file, log_pos = ev.log_pos, "transaction larger than tx_memory_mb: its rows go to a temporary file until it commits");
        }
        Ok(())
    }

    fn query(&mut self, ev: &RawEvent, q: Query) -> Result<Option<Transaction>, DecodeError> {
        let thread = q.thread_id;
        let sql = &*q.sql;
        match sql {
            "BEGIN" => {
                self.in_tx = true;
                self.tx_thread = Some(thread);
                self.tx_server = ev.server_id;
                Ok(None)
            }
            "COMMIT" => self.finish(ev, None, None).map(Some),
            "ROLLBACK" => {
                self.tx.clear();
                self.finish(ev, None, None).map(Some)
            }
            // A statement inside BEGIN…COMMIT (e.g. SAVEPOINT) does not end the group.
            _ if self.in_tx => Ok(None),
            _ => {
                self.tx_thread = Some(thread);
                self.tx_server = ev.server_id;
                let sql = sql.to_string();
                self.finish(ev, None, Some((q.database.into_owned(), sql))).map(Some)
            }
        }
    }

    /// Ends the open transaction at `ev` and returns it (its first part when it spilled).
    fn finish(&mut self, ev: &RawEvent, xid: Option<u64>, stmt: Option<(String, String)>) -> Result<Transaction, DecodeError> {
        let position = BinlogPosition::new(self.file.clone(), ev.log_pos as u64);
        let gtid = if let Some(g) = self.tx_gtid_maria {
            match &mut self.gtid_state {
                Some(GtidSet::Maria(s)) => s.add(g),
                _ => {
                    let mut s = MariaGtidSet::default();
                    s.add(g);
                    self.gtid_state = Some(GtidSet::Maria(s));
                }
            }
            Some(g.to_string())
        } else if let Some((sid, gno)) = self.tx_gtid_mysql {
            match &mut self.gtid_state {
                Some(GtidSet::Mysql(s)) => s.add(sid, gno),
                _ => {
                    let mut s = MysqlGtidSet::default();
                    s.add(sid, gno);
                    self.gtid_state = Some(GtidSet::Mysql(s));
                }
            }
            Some(format!("{sid}:{gno}"))
        } else {
            None
        };
        let pos_text = position.to_string();
        let mut tx = Transaction {
            position,
            gtid,
            schema_id: self.schema_id,
            gtid_set: self.gtid_state.clone(),
            xid,
            ts: ev.timestamp,
            server_id: if self.tx_server != 0 { self.tx_server } else { ev.server_id },
            thread_id: self.tx_thread,
            ..Default::default()
        };
        self.history_event = None;
        // What the statement changed, when the history followed it (the DDL records' `def`/`old`).
        let mut applied = None;
        if let Some((db, sql)) = &stmt {
            use super::history::HistoryEvent;
            match &mut self.history {
                Some(history) => match history.apply(sql, db) {
                    // Table ids are not promised to change with a definition: build them anew.
                    Ok(changes) if !changes.is_empty() => {
                        self.tables.clear();
                        self.schema_id += 1;
                        self.history_event = Some(HistoryEvent::Applied { database: db.clone(), sql: sql.clone() });
                        applied = Some(changes);
                    }
                    Ok(_) => applied = Some(Vec::new()),
                    Err(e) if self.history_required => return Err(e.into()),
                    Err(e) => {
                        tracing::warn!(error = %e, "the schema history stops here; TABLE_MAP events name the columns (binlog_row_metadata=FULL)");
                        self.history = None;
                        self.history_event = Some(HistoryEvent::Lost { sql: sql.clone() });
                    }
                },
                None if crate::binlog::history::may_change_tables(sql) => self.history_event = Some(HistoryEvent::Lost { sql: sql.clone() }),
                None => {}
            }
        }
        if let Some((db, sql)) = stmt {
            // Any statement outside a transaction (CREATE INDEX, views, grants…) may change
            // column facts; let the reader refresh them.
            tx.schema_changed = true;
            if self.cfg.output.ddl {
                let records: Vec<ddl::Ddl> = match (&applied, &self.history) {
                    (Some(changes), Some(schema)) => changes.iter().map(|c| ddl::Ddl::from_change(c, schema)).collect(),
                    _ => ddl::classify(&sql, &db).into_iter().collect(),
                };
                // Maxwell's: where the statement's event starts.
                let start_text = self.cfg.output.binlog_position.then(|| format!("{}:{}", self.file, self.event_start));
                let at = ddl::DdlPosition {
                    position: start_text.as_deref(),
                    gtid: if self.cfg.output.gtid_position { tx.gtid.as_deref() } else { None },
                    schema_id: self.cfg.output.schema_id.then_some(self.schema_id),
                };
                // Maxwell prints the statement's names; they differ from the history's in case
                // only without case-sensitive names.
                let written = match (&self.history, records.len()) {
                    (Some(h), 1) if h.lower_case_table_names != 0 => ddl::classify(&sql, &db),
                    _ => None,
                };
                for d in records.iter().filter(|d| d.names().into_iter().all(|(db, t)| self.cfg.filter.emits_ddl(db, t))) {
                    let d = &d.as_written(written.as_ref());
                    ddl::write_ddl(&mut tx.json, d, &sql, ev.timestamp, &at);
                    tx.row_ends.push(tx.json.len());
                    if self.cfg.output.row_meta {
                        tx.meta.push(crate::encode::RowMeta::Ddl { database: d.database.clone(), table: d.table.clone(), at: Some(self.event_start) });
                    }
                }
            }
        }
        if let Some(rows) = self.tx.seal()? {
            let thread_id = self.tx_thread;
            self.reset_tx();
            self.draining = Some(Draining { rows, template: tx, thread_id });
            return Ok(self.next_part()?.expect("a spilled transaction has rows"));
        }
        if !self.tx.is_empty() {
            let fields = TxFields {
                xid,
                file: &self.file,
                position: &pos_text,
                gtid: tx.gtid.as_deref(),
                server_id: self.tx_server,
                thread_id: self.tx_thread,
                schema_id: self.schema_id,
            };
            tx.meta.extend(self.tx.take_metas());
            self.tx.commit(&fields, &self.cfg.output, &mut tx.json, &mut tx.row_ends);
        }
        self.reset_tx();
        Ok(tx)
    }

    /// The next part of a spilled transaction, `None` once it is all handed on.
    pub fn next_part(&mut self) -> Result<Option<Transaction>, DecodeError> {
        let Some(d) = &mut self.draining else { return Ok(None) };
        if d.rows.remaining() == 0 {
            self.draining = None;
            return Ok(None);
        }
        let t = &d.template;
        let pos_text = t.position.to_string();
        let fields = TxFields { xid: t.xid, file: &t.position.file, position: &pos_text, gtid: t.gtid.as_deref(), server_id: t.server_id, thread_id: d.thread_id, schema_id: t.schema_id };
        let mut part = Transaction { json: Vec::with_capacity(crate::encode::spill::PART_BYTES + 4096), ..t.clone() };
        let enc = self.tx.encryptor(&self.cfg.output);
        let (first_row, _) = d.rows.read_part(&fields, &self.cfg.output, enc, crate::encode::spill::PART_BYTES, &mut part.json, &mut part.row_ends, &mut part.meta)?;
        part.part = Some(Part { first_row, total_rows: d.rows.rows() });
        if d.rows.remaining() == 0 {
            self.draining = None;
        }
        Ok(Some(part))
    }
}

/// A TABLE_MAP that named its columns (FULL metadata) is checked against the history, which
/// it wins over: a difference is logged and counted, since rows of a source at NO_LOG would be
/// named by the history alone.
fn check_against_history(info: &TableInfo, def: &crate::binlog::history::TableDef) {
    let named: Vec<&str> = info.columns.iter().map(|c| c.name.as_str()).collect();
    let held: Vec<&str> = def.columns.iter().map(|c| c.name.as_str()).collect();
    let same = named.len() == held.len() && named.iter().zip(&held).all(|(a, b)| a.eq_ignore_ascii_case(b));
    if !same {
        crate::metrics::get().schema_mismatches.inc();
        tracing::warn!(database = %info.database, table = %info.table, binlog = ?named, history = ?held, "the schema history differs from the TABLE_MAP (which is used)");
    }
}

/// Text of column `col` in `img` for column-value filters.
fn column_text(t: &TableInfo, img: &Image, col: &str) -> Option<Option<String>> {
    let i = t.columns.iter().position(|c| c.name == col)?;
    let v = img.get(i)?;
    if v == b"null" {
        return Some(None);
    }
    if v.first() == Some(&b'"') {
        return Some(serde_json::from_slice::<String>(v).ok());
    }
    Some(Some(String::from_utf8_lossy(v).into_owned()))
}

#[cfg(test)]
#[path = "decoder_tests.rs"]
mod tests;
