//! Maxwell's `javascript` filter: a script's `process_row(row)` and `process_ddl(ddl)` run on
//! every encoded row and DDL record before it is produced, with Maxwell 1.22.6's row API
//! (`prelude.js`; documented in docs/maxwell-compatibility.md).
//!
//! Invariants:
//! - A suppressed row is taken out of its transaction, which still moves the position: an
//!   all-suppressed transaction is handed on with no rows, as a filtered one is.
//! - Rows keep their order; row indexes (`maxwell.row`) count the rows let through, so a
//!   deterministic script gives every leader the same indexes. A transaction handed on in
//!   parts keeps its parts' indexes contiguous: `first_row` counts the rows let through
//!   before the part and `total_rows` is the transaction's rows less those suppressed so far
//!   (exact on its last part, which alone [ends it](crate::encode::Transaction::ends_transaction)).
//! - `xid`, `commit` and `xoffset` were written before the script ran (Maxwell's order): a
//!   suppressed last row takes its transaction's `"commit":true` with it.
//! - An exception on a row is one [`ScriptError::Runtime`] naming the row: the transaction
//!   is not handed on, so the position stays before it and nothing is skipped.
//! - Bootstrap records go through `process_row` only when they are `bootstrap-insert` rows
//!   (as Maxwell's bootstrappers send them), never `bootstrap-start`/`-complete`.
//! - The script sees rows as written plain: the columns' own names, nothing encrypted;
//!   `output_naming_strategy` and `encrypt` are applied after it ([`seal`]), as Maxwell
//!   applies them while writing the row it ran the script on.

mod apply;
mod engine;
pub mod seal;
pub mod stage;

use crate::binlog::position::BinlogPosition;
pub use crate::config::javascript::JavascriptConfig;
use crate::encode::{OutputConfig, Route, RowMeta, Transaction};
use apply::Changes;
use engine::{Engine, RowCall, TxFacts};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ScriptError {
    /// The file does not compile or defines `process_row` as something else than a function.
    #[error("javascript {path}: {detail}")]
    Compile { path: String, detail: String },
    /// The script threw (or was stopped) on a row.
    #[error("javascript {path}: process_{call} failed on {row}: {detail}. Stopped before it: nothing from this transaction on is written; fix the script and start again")]
    Runtime { path: String, call: &'static str, row: String, detail: String },
    #[error("javascript engine: {0}")]
    Engine(String),
}

/// A compiled script and what it needs to know of the output.
pub struct Script {
    engine: Engine,
    path: String,
    /// The output as the script sees rows: written plain ([`seal::Sealer::plain`]).
    output: OutputConfig,
    /// `output_naming_strategy` and `encrypt`, applied after the script.
    sealer: Option<seal::Sealer>,
    gtid_mode: bool,
    /// The spilled transaction being handed on in parts: its end and the rows suppressed
    /// in its earlier parts.
    split: Option<(BinlogPosition, usize)>,
    /// Rows suppressed so far (for the log and the benchmark).
    pub suppressed: u64,
}

#[derive(serde::Deserialize)]
struct TypeOnly<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
}

fn line_text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

impl Script {
    /// Compiles `js`; `stop` set to true interrupts a call that is running. `output` is the
    /// node's: rows must reach the script written with [`seal::Sealer::plain`] of it.
    pub fn new(js: &JavascriptConfig, output: OutputConfig, gtid_mode: bool, stop: Option<Arc<AtomicBool>>) -> Result<Self, ScriptError> {
        let engine = Engine::new(&js.path, &js.source, stop)?;
        let sealer = seal::Sealer::new(&output);
        Ok(Self { engine, path: js.path.clone(), output: seal::Sealer::plain(&output), sealer, gtid_mode, split: None, suppressed: 0 })
    }

    /// Whether the file compiles and defines its functions as functions.
    pub fn check(js: &JavascriptConfig) -> Result<(), ScriptError> {
        Engine::new(&js.path, &js.source, None).map(drop)
    }

    /// Runs every row and DDL record of `tx` through the script (see the module invariants).
    pub fn process(&mut self, tx: &mut Transaction) -> Result<(), ScriptError> {
        let n = tx.row_ends.len();
        let (has_row, has_ddl) = (self.engine.has_row, self.engine.has_ddl);
        let before = match (&self.split, tx.part) {
            (Some((p, s)), Some(_)) if *p == tx.position => *s,
            _ => 0,
        };
        let done = self.run(tx, n, has_row, has_ddl)?;
        if let Some(s) = &mut self.sealer {
            s.seal(tx).map_err(|e| ScriptError::Engine(format!("a row the script returned could not be written: {e}")))?;
        }
        let dropped = n - tx.row_ends.len();
        self.suppressed += dropped as u64;
        if let Some(p) = &mut tx.part {
            p.first_row -= before;
            p.total_rows -= before + dropped;
            self.split = (!done).then(|| (tx.position.clone(), before + dropped));
        }
        Ok(())
    }

    /// The rows of `tx` through the script; whether `tx` ends its transaction.
    fn run(&self, tx: &mut Transaction, n: usize, has_row: bool, has_ddl: bool) -> Result<bool, ScriptError> {
        let ends = tx.ends_transaction();
        if n == 0 || !(has_row || has_ddl) {
            return Ok(ends);
        }
        if tx.meta.len() != n {
            return Err(ScriptError::Engine("rows without their routing facts (row_meta off)".into()));
        }
        let mut bootstrap_kind = None;
        if tx.bootstrap.is_some() {
            let first = &tx.json[..tx.row_ends[0] - 1];
            let kind = serde_json::from_slice::<TypeOnly>(first).map(|t| t.kind.to_string()).unwrap_or_default();
            if kind != "bootstrap-insert" {
                return Ok(ends);
            }
            bootstrap_kind = Some(kind);
        }
        let path = self.path.clone();
        let facts = TxFacts {
            xid: tx.xid,
            server_id: tx.server_id,
            thread_id: tx.thread_id,
            file: &tx.position.file,
            gtid: if self.gtid_mode { tx.gtid.as_deref() } else { None },
        };
        let first_row = tx.first_row();
        let out = self.engine.with(|c| -> Result<Option<(Vec<u8>, Vec<usize>, Vec<RowMeta>, Vec<Route>)>, ScriptError> {
            c.begin(&facts).map_err(|t| ScriptError::Engine(t.0))?;
            // Built only once a row changes: until then the transaction is kept as it is.
            let mut out: Option<(Vec<u8>, Vec<usize>, Vec<RowMeta>, Vec<Route>)> = None;
            let mut start = 0;
            for i in 0..n {
                let end = tx.row_ends[i];
                let raw = &tx.json[start..end - 1];
                let line = line_text(raw);
                let meta = &tx.meta[i];
                let (call, result) = match meta {
                    RowMeta::Row { table, kind, at, .. } if has_row => {
                        let kind = if bootstrap_kind.is_some() { 3 } else { *kind as u8 };
                        ("row", c.row(&RowCall { line: &line, table, kind, at: *at }))
                    }
                    RowMeta::Ddl { at, .. } if has_ddl => ("ddl", c.ddl(&line, *at)),
                    _ => ("row", Ok(None)),
                };
                let failed = |detail: String| ScriptError::Runtime { path: path.clone(), call, row: describe_row(tx, i, first_row), detail };
                let changes = result.map_err(|t| failed(t.0))?;
                let changed = match &changes {
                    None => None,
                    Some(text) => Some(Changes::parse(text).map_err(failed)?),
                };
                if let Some(ch) = &changed {
                    let o = out.get_or_insert_with(|| (tx.json[..start].to_vec(), tx.row_ends[..i].to_vec(), tx.meta[..i].to_vec(), Vec::new()));
                    if !ch.suppressed() {
                        let mut meta = meta.clone();
                        if ch.rewrites() {
                            let new = match &mut meta {
                                RowMeta::Row { .. } => apply::rewrite_row(&line, ch, &mut meta, &self.output),
                                RowMeta::Ddl { .. } => apply::rewrite_ddl(&line, ch),
                            };
                            o.0.extend_from_slice(&new.map_err(failed)?);
                        } else {
                            o.0.extend_from_slice(raw);
                        }
                        o.0.push(b'\n');
                        o.1.push(o.0.len());
                        // Maxwell's producer sends DDL records to ddl_kafka_topic whatever the script set.
                        if matches!(meta, RowMeta::Row { .. }) && (ch.t.is_some() || ch.p.is_some()) {
                            o.3.push(Route { row: o.1.len() - 1, topic: ch.t.clone(), partition: ch.p.clone() });
                        }
                        o.2.push(meta);
                    }
                } else if let Some(o) = &mut out {
                    o.0.extend_from_slice(&tx.json[start..end]);
                    o.1.push(o.0.len());
                    o.2.push(meta.clone());
                }
                start = end;
            }
            Ok(out)
        })?;
        if let Some((json, row_ends, meta, routes)) = out {
            (tx.json, tx.row_ends, tx.meta, tx.routes) = (json, row_ends, meta, routes);
        }
        Ok(ends)
    }
}

/// A row as an error names it: table, kind, key, binlog position, index in its transaction.
fn describe_row(tx: &Transaction, i: usize, first_row: usize) -> String {
    let file = &tx.position.file;
    match &tx.meta[i] {
        RowMeta::Row { table, kind, pk, at, .. } => {
            let key: Vec<String> = pk.iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect();
            let place = match at {
                Some(a) => format!("at {file}:{a}"),
                None => "of a bootstrap".to_string(),
            };
            format!(
                "the {} row of `{}`.`{}` with primary key [{}] {place} (row {} of the transaction ending at {})",
                kind.as_str(),
                table.database,
                table.table,
                key.join(","),
                first_row + i,
                tx.position
            )
        }
        RowMeta::Ddl { database, table, at } => {
            let name = table.as_ref().map(|t| format!("`{database}`.`{t}`")).unwrap_or_else(|| format!("`{database}`"));
            format!("the DDL record of {name} at {file}:{}", at.unwrap_or(0))
        }
    }
}

#[cfg(test)]
mod tests;
