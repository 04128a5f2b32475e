//! The leader's bootstrap runner: finds the next bootstrap, turns it into synthetic
//! transactions (start, one per chunk, complete) for the sink, and records progress.
//!
//! Invariants: see the module above. Additionally: `next` is only called at a binlog
//! transaction boundary and returns a transaction positioned at it, so the sink's resume
//! point never moves during a bootstrap; the throttle (`bootstrap_rows_per_second`) only
//! delays chunks. Records are encoded as Maxwell encodes its bootstrap rows: `exclude_columns`,
//! `encrypt` and `output_naming_strategy` apply as to binlog rows, and `bootstrap-insert`
//! records carry `schema_id` (the schema id at the boundary) with `output_schema_id`.

use super::chunk::Shape;
use super::{State, Task};
use crate::encode::Transaction;
use crate::binlog::position::ResumePoint;
use crate::config::{EncryptMode, OutputConfig, SourceConfig};
use crate::encode::encrypt::Encryptor;
use crate::encode::RowMeta;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// This bootstrap cannot be done as asked (no such table, no primary key, a bad `where`).
    #[error("bootstrap {id}: {msg}")]
    Definite { id: u64, msg: String },
    /// The server did not answer: try again.
    #[error("bootstrap: {0}")]
    Transient(String),
}

/// What the runner needs from the node's configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the rows are read (`replication_host` or `host`).
    pub data: SourceConfig,
    /// Where `maxwell.bootstrap` is (`host`).
    pub meta: SourceConfig,
    pub schema: String,
    pub client_id: String,
    pub chunk_rows: usize,
    /// 0: as fast as the sink takes them.
    pub rows_per_second: u64,
    /// The node's output settings (`partition_columns`, `exclude_columns`, `encrypt`,
    /// `output_schema_id`).
    pub output: OutputConfig,
}

struct Active {
    task: Task,
    shape: Shape,
    /// Index of each `partition_columns` entry among the table's columns.
    partition_columns: Vec<Option<usize>>,
    state: State,
    start_sent: bool,
    total: u64,
    started: Instant,
    rows_at_start: u64,
}

pub struct Bootstrapper {
    s: Settings,
    /// Exactly-once: the state of the last committed checkpoint (continued, not restarted).
    resumed: Option<State>,
    active: Option<Active>,
    /// Completions to record in the table once they are in Kafka.
    to_mark: Vec<State>,
    data: Option<Conn>,
    meta: Option<Conn>,
    json_columns: std::collections::HashSet<(String, String, String)>,
    last_poll: Option<Instant>,
    /// `encrypt`: made at the first record.
    enc: Option<Encryptor>,
    /// The last bootstrap given up without `bootstrap-complete` (cancelled, refused, or a
    /// resumed one no longer requested): a hold on its table ends ([`super::hold`]).
    pub ended: Option<u64>,
}

fn transient(e: mysql_async::Error) -> BootstrapError {
    BootstrapError::Transient(e.to_string())
}

impl Bootstrapper {
    pub fn new(s: Settings, resumed: Option<State>) -> Self {
        Self { s, resumed, active: None, to_mark: Vec::new(), data: None, meta: None, json_columns: Default::default(), last_poll: None, enc: None, ended: None }
    }

    /// The last completion handed to the sink (at-least-once counts it as written).
    pub fn last_sent(&self) -> Option<State> {
        self.to_mark.last().cloned()
    }

    pub fn active(&self) -> bool {
        self.active.is_some()
    }

    /// Where the running bootstrap stands (none between bootstraps).
    pub fn active_state(&self) -> Option<&State> {
        self.active.as_ref().map(|a| &a.state)
    }

    /// `bootstrap_rows_per_second`: when the next chunk is due, if not yet.
    pub fn throttled_until(&self) -> Option<Instant> {
        let a = self.active.as_ref().filter(|_| self.s.rows_per_second > 0)?;
        let due = a.started + Duration::from_secs_f64((a.state.rows - a.rows_at_start) as f64 / self.s.rows_per_second as f64);
        (due > Instant::now()).then_some(due)
    }

    /// Whether a poll is due (once a second while idle).
    pub fn poll_due(&self) -> bool {
        self.active.is_none() && self.last_poll.is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
    }

    async fn meta(&mut self) -> Result<&mut Conn, BootstrapError> {
        if self.meta.is_none() {
            let mut c = self.s.meta.connect().await.map_err(|e| BootstrapError::Transient(e.to_string()))?;
            super::ensure_table(&mut c, &self.s.schema).await.map_err(transient)?;
            self.meta = Some(c);
        }
        Ok(self.meta.as_mut().expect("connected above"))
    }

    async fn data(&mut self) -> Result<&mut Conn, BootstrapError> {
        if self.data.is_none() {
            let mut c = self.s.data.connect().await.map_err(|e| BootstrapError::Transient(e.to_string()))?;
            c.query_drop("SET SESSION time_zone = '+00:00', SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '')").await.map_err(transient)?;
            self.json_columns = crate::source::reader::load_json_columns(&mut c, crate::source::reader::Flavor::MariaDb).await.unwrap_or_default();
            self.data = Some(c);
        }
        Ok(self.data.as_mut().expect("connected above"))
    }

    /// Looks for work: records completions now in Kafka (`committed`: the bootstrap state of
    /// the last committed checkpoint, exactly-once; else the last one sent), continues a
    /// resumed bootstrap, else takes the next requested one. Connection errors are dropped
    /// (the next poll retries).
    pub async fn poll(&mut self, committed: Option<&State>) -> Result<(), BootstrapError> {
        self.last_poll = Some(Instant::now());
        let r = self.poll_inner(committed).await;
        if r.is_err() {
            self.meta = None;
            self.data = None;
        }
        r
    }

    async fn poll_inner(&mut self, committed: Option<&State>) -> Result<(), BootstrapError> {
        let schema = self.s.schema.clone();
        let ready: Vec<State> = self.to_mark.iter().filter(|s| committed.is_some_and(|c| c.id > s.id || (c.id == s.id && c.complete))).cloned().collect();
        for s in ready {
            super::mark_complete(self.meta().await?, &schema, s.id, s.rows).await.map_err(transient)?;
            self.to_mark.retain(|m| m.id != s.id);
            tracing::info!(id = s.id, database = %s.database, table = %s.table, rows = s.rows, "bootstrap complete");
        }
        if self.active.is_some() {
            return Ok(());
        }
        let resumed = self.resumed.take();
        if let Some(r) = &resumed {
            if r.complete {
                self.to_mark.push(r.clone());
            }
        }
        let client_id = self.s.client_id.clone();
        let next = super::next_task(self.meta().await?, &schema, &client_id).await.map_err(transient)?;
        if let Some(r) = resumed.as_ref().filter(|r| !r.complete && next.as_ref().is_none_or(|t| t.id != r.id)) {
            tracing::info!(id = r.id, "the resumed bootstrap is no longer requested (cancelled)");
            self.ended = Some(r.id);
        }
        let Some(task) = next else { return Ok(()) };
        if self.to_mark.iter().any(|m| m.id == task.id) {
            return Ok(()); // done, its completion not yet in Kafka: marked at a later poll
        }
        let (state, start_sent) = match resumed.filter(|r| r.id == task.id && !r.complete) {
            Some(r) => {
                tracing::info!(id = r.id, rows = r.rows, "continuing the bootstrap after the last committed chunk");
                (r, true)
            }
            None => (State::new(task.id, &task.database, &task.table), false),
        };
        self.data().await?;
        let conn = self.data.as_mut().expect("connected above");
        let shape = Shape::load(conn, &task.database, &task.table, &self.json_columns).await.map_err(transient)?;
        let definite = |msg: String| BootstrapError::Definite { id: task.id, msg };
        let shape = match shape {
            None => return self.refuse(definite(format!("table `{}`.`{}` does not exist", task.database, task.table))).await,
            Some(s) if s.info.primary_key.is_empty() => {
                return self.refuse(definite(format!("table `{}`.`{}` has no primary key: maxwell-ha bootstraps in key order (add a primary key)", task.database, task.table))).await
            }
            Some(s) => s,
        };
        let rows_at_start = state.rows;
        let mut shape = shape;
        let exclude = &self.s.output.exclude_columns;
        if !exclude.is_empty() {
            std::sync::Arc::make_mut(&mut shape.info).exclude(|name| exclude.matches(name));
        }
        // `output_naming_strategy`: the columns' keys in `data`, as binlog rows have them.
        if self.s.output.naming == crate::config::NamingStrategy::CamelCase {
            std::sync::Arc::make_mut(&mut shape.info).rename_keys(crate::config::newer::camel_case);
        }
        // An excluded column is no partition column (Maxwell strips it from the data first).
        let partition_columns = self.s.output.partition_columns.iter().map(|name| shape.info.columns.iter().position(|c| c.name == *name).filter(|&i| !shape.info.is_excluded(i))).collect();
        self.active = Some(Active { task, shape, partition_columns, state, start_sent, total: 0, started: Instant::now(), rows_at_start });
        Ok(())
    }

    /// Drops the connections (after a poll was cut short).
    pub fn reset(&mut self) {
        self.meta = None;
        self.data = None;
    }

    /// Gives up a bootstrap that cannot be done: logged, marked in the table.
    async fn refuse(&mut self, e: BootstrapError) -> Result<(), BootstrapError> {
        tracing::error!(error = %e, "bootstrap refused");
        if let BootstrapError::Definite { id, .. } = &e {
            self.ended = Some(*id);
            let schema = self.s.schema.clone();
            super::cancel(self.meta().await?, &schema, *id).await.map_err(transient)?;
        }
        self.active = None;
        crate::metrics::status().bootstrap = None;
        Ok(())
    }

    /// The next record(s) of the running bootstrap as one transaction at boundary `at`, where
    /// the schema id is `schema_id`.
    pub async fn next(&mut self, at: &ResumePoint, schema_id: u64) -> Result<Option<Transaction>, BootstrapError> {
        let Some(a) = self.active.as_ref() else { return Ok(None) };
        let (id, schema) = (a.task.id, self.s.schema.clone());
        if !super::is_open(self.meta().await?, &schema, id).await.map_err(transient)? {
            tracing::warn!(id, "bootstrap cancelled: stopping without bootstrap-complete");
            self.active = None;
            self.ended = Some(id);
            crate::metrics::status().bootstrap = None;
            return Ok(None);
        }
        if self.active.as_ref().expect("checked").total == 0 {
            // Counted once per term (Maxwell's total_rows; the ETA's base).
            let a = self.active.as_ref().expect("checked");
            let count = a.shape.count_sql(a.task.where_clause.as_deref());
            let total: u64 = match self.data().await?.query_first::<u64, _>(count).await {
                Ok(n) => n.unwrap_or(0),
                Err(mysql_async::Error::Server(e)) => {
                    let msg = format!("cannot count its rows: {} (check the where clause)", e.message);
                    return self.refuse(BootstrapError::Definite { id, msg }).await.map(|_| None);
                }
                Err(e) => return Err(transient(e)),
            };
            self.active.as_mut().expect("checked").total = total.max(1);
        }
        if !self.active.as_ref().expect("checked").start_sent {
            let total = self.active.as_ref().expect("checked").total;
            super::mark_started(self.meta().await?, &schema, id, total, &at.position.file, at.position.pos).await.map_err(transient)?;
            let a = self.active.as_mut().expect("checked");
            a.start_sent = true;
            tracing::info!(id, database = %a.task.database, table = %a.task.table, total, "bootstrap started");
            let a = self.active.as_ref().expect("checked");
            return Ok(Some(Self::record(&self.s.output, crate::encode::encryptor(&mut self.enc, &self.s.output), a, at, "bootstrap-start", Vec::new(), Vec::new(), None)));
        }
        self.throttle().await;
        let (sql, shape, partition_columns) = {
            let a = self.active.as_ref().expect("checked");
            (a.shape.chunk_sql(a.state.last_key.as_deref(), a.task.where_clause.as_deref(), self.s.chunk_rows), a.shape.clone(), a.partition_columns.clone())
        };
        let rows: Vec<mysql_async::Row> = match self.data().await?.query(sql).await {
            Ok(r) => r,
            Err(mysql_async::Error::Server(e)) => {
                let _ = self.refuse(BootstrapError::Definite { id, msg: format!("reading a chunk failed: {}", e.message) }).await;
                return Ok(None);
            }
            Err(e) => {
                self.data = None;
                return Err(transient(e));
            }
        };
        if rows.is_empty() {
            let mut a = self.active.take().expect("checked");
            a.state.complete = true;
            self.to_mark.push(a.state.clone());
            crate::metrics::status().bootstrap = None;
            return Ok(Some(Self::record(&self.s.output, crate::encode::encryptor(&mut self.enc, &self.s.output), &a, at, "bootstrap-complete", Vec::new(), Vec::new(), None)));
        }
        let mut lines = Vec::with_capacity(rows.len());
        let mut metas = Vec::with_capacity(rows.len());
        for row in rows {
            let values = row.unwrap();
            let mut data = Vec::with_capacity(256);
            let (key, spans) = shape.write_data(&mut data, &values);
            let pk = shape.info.primary_key.iter().map(|&i| data[spans[i].clone()].to_vec()).collect();
            let partition_columns = partition_columns.iter().map(|i| i.map(|i| data[spans[i].clone()].to_vec())).collect();
            metas.push(RowMeta::Row { table: shape.info.clone(), kind: crate::binlog::rows::RowKind::Insert, pk, partition_columns, at: None });
            lines.push(if shape.info.excluded.is_empty() { data } else { without_excluded(&shape.info, &data, &spans) });
            let a = self.active.as_mut().expect("checked");
            a.state.last_key = Some(key);
            a.state.rows += 1;
        }
        crate::metrics::get().bootstrap_rows.inc_by(lines.len() as u64);
        let a = self.active.as_ref().expect("checked");
        let rows = a.state.rows;
        self.report();
        let schema_id = self.s.output.schema_id.then_some(schema_id);
        let tx = Self::record(&self.s.output, crate::encode::encryptor(&mut self.enc, &self.s.output), self.active.as_ref().expect("checked"), at, "bootstrap-insert", lines, metas, schema_id);
        super::mark_progress(self.meta().await?, &schema, id, rows).await.map_err(transient)?;
        Ok(Some(tx))
    }

    async fn throttle(&self) {
        if let Some(due) = self.throttled_until() {
            tokio::time::sleep_until(due.into()).await;
        }
    }

    fn report(&self) {
        let Some(a) = &self.active else { return };
        let secs = a.started.elapsed().as_secs_f64().max(0.001);
        let rate = (a.state.rows - a.rows_at_start) as f64 / secs;
        let left = a.total.saturating_sub(a.state.rows) as f64;
        crate::metrics::status().bootstrap = Some(crate::metrics::BootstrapStatus {
            id: a.state.id,
            database: a.state.database.clone(),
            table: a.state.table.clone(),
            rows: a.state.rows,
            total: a.total,
            rows_per_second: rate,
            eta_seconds: (rate > 0.0).then(|| left / rate),
        });
    }

    /// A synthetic transaction at `at` holding `kind` records (one per data object in `rows`,
    /// or one with empty data when `rows` is empty), with `schema_id` when given, encoded by
    /// `out` (`encrypt` with `enc`).
    #[allow(clippy::too_many_arguments)]
    fn record(out: &OutputConfig, mut enc: Option<&mut Encryptor>, a: &Active, at: &ResumePoint, kind: &str, rows: Vec<Vec<u8>>, mut metas: Vec<RowMeta>, schema_id: Option<u64>) -> Transaction {
        let ts = (crate::metrics::now_ms() / 1000) as u32;
        let mut head = a.shape.info.head_json.clone();
        head.extend_from_slice(format!(",\"type\":\"{kind}\",\"ts\":{ts}").as_bytes());
        if let Some(id) = schema_id {
            head.extend_from_slice(crate::encode::fields::name(out.naming, ",\"schema_id\":", ",\"schemaId\":").as_bytes());
            head.extend_from_slice(id.to_string().as_bytes());
        }
        if let Some(c) = &a.task.comment {
            head.extend_from_slice(b",\"comment\":");
            crate::binlog::json::write_json_str(&mut head, c);
        }
        let mode = out.encrypt.as_ref().map(|e| e.mode);
        let bodies = if rows.is_empty() { vec![b"{}".to_vec()] } else { rows };
        if metas.is_empty() {
            let pk = vec![b"null".to_vec(); a.shape.info.primary_key.len()];
            metas.push(RowMeta::Row { table: a.shape.info.clone(), kind: crate::binlog::rows::RowKind::Insert, pk, partition_columns: Vec::new(), at: None });
        }
        let mut json = Vec::with_capacity(bodies.iter().map(|b| b.len() + head.len() + 3).sum());
        let mut row_ends = Vec::with_capacity(bodies.len());
        for b in bodies {
            match (mode, enc.as_deref_mut()) {
                (Some(EncryptMode::Data), Some(e)) => {
                    json.push(b'{');
                    json.extend_from_slice(&head);
                    json.push(b',');
                    e.plain.clear();
                    e.plain.extend_from_slice(b"{\"data\":");
                    e.plain.extend_from_slice(&b);
                    e.plain.push(b'}');
                    e.write_plain_field(&mut json);
                    json.push(b'}');
                }
                (Some(EncryptMode::All), Some(e)) => {
                    e.plain.clear();
                    e.plain.push(b'{');
                    e.plain.extend_from_slice(&head);
                    e.plain.extend_from_slice(b",\"data\":");
                    e.plain.extend_from_slice(&b);
                    e.plain.push(b'}');
                    e.write_record(&mut json);
                }
                _ => {
                    json.push(b'{');
                    json.extend_from_slice(&head);
                    json.extend_from_slice(b",\"data\":");
                    json.extend_from_slice(&b);
                    json.push(b'}');
                }
            }
            json.push(b'\n');
            row_ends.push(json.len());
        }
        Transaction {
            json,
            row_ends,
            position: at.position.clone(),
            gtid_set: at.gtid.clone(),
            ts,
            meta: metas,
            server_id: at.server_id,
            source_server_id: at.server_id,
            bootstrap: Some(a.state.clone()),
            ..Default::default()
        }
    }
}

/// A bootstrap row's `data` object without the excluded columns (`spans`: where each column's
/// value lies in `data`).
fn without_excluded(info: &crate::binlog::schema::TableInfo, data: &[u8], spans: &[std::ops::Range<usize>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    out.push(b'{');
    for (i, (col, span)) in info.columns.iter().zip(spans).enumerate() {
        if info.is_excluded(i) {
            continue;
        }
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(&col.key_json);
        out.extend_from_slice(&data[span.clone()]);
    }
    out.push(b'}');
    out
}
