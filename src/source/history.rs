//! The schema history as the reader keeps it: where the schema at the start position comes
//! from, and every schema change it reads stored before the stream passes it.
//!
//! Invariants:
//! - The schema at the start is, in this order: rebuilt from the store (the newest stored
//!   base at or before the start and the changes after it); else captured now, which holds at
//!   the start only when no statement between the start and now changed a table. A capture
//!   is stored as a base at the start, so the next start finds it.
//! - A change is stored before the transaction that ends with it is handed on: a resume point
//!   after a change is never committed before the change is stored, so every node that
//!   resumes after it rebuilds the schema it had (see [`crate::binlog::history::stored`]).
//!   A store that cannot be written holds the stream (retried with backoff); nothing is
//!   skipped.
//! - A statement the history cannot follow (with TABLE_MAPs that name columns, which go on
//!   without it) is stored as lost, so no later start trusts a schema across it.
//! - A read-only keeper (`replay`) reads the store and never writes it.
//! - The schema id at the start (`output_schema_id`) is counted from the stored changes at
//!   or before the start ([`schema_id_at`]), also when the schema is recaptured; without a
//!   store it starts at 0.

use super::reader::{ReaderError, ServerInfo};
use crate::binlog::history::stored::{changes_since_base, schema_at, schema_id_at, Entry, Mark};
use crate::binlog::history::{one_line, Schema};
use crate::binlog::position::ResumePoint;
use mysql_async::Conn;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Corrupt content or missing rights: a person must act.
    #[error("{0}")]
    Definite(String),
    /// The store is unreachable right now.
    #[error("{0}")]
    Transient(String),
}

impl From<StoreError> for ReaderError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Definite(m) => ReaderError::Definite(format!("the schema history store: {m}")),
            StoreError::Transient(m) => ReaderError::Transient(format!("the schema history store: {m}")),
        }
    }
}

/// Where a schema history is kept: a cluster's ZooKeeper, or `schema_database` on `host` for a
/// node running alone.
pub trait HistoryStore: Send + Sync {
    /// Every entry, in the order stored.
    fn load(&self) -> StoreFuture<'_, Result<Vec<Entry>, StoreError>>;
    /// Stores `entry` after every other.
    fn append(&self, entry: Entry) -> StoreFuture<'_, Result<(), StoreError>>;
    /// Where it is, for logs and errors.
    fn describe(&self) -> String;
}

/// Changes stored after a base before the whole schema is stored again (so a start applies at
/// most this many statements to the base it reads).
pub const COMPACT_AFTER: usize = 50;

/// The reader's handle on a store.
#[derive(Clone)]
pub struct Keeper {
    pub store: Arc<dyn HistoryStore>,
    /// `recapture_schema`: capture at the start instead of rebuilding.
    pub recapture: bool,
    /// Never write (`replay`).
    pub read_only: bool,
    /// Changes stored since the newest base.
    since_base: usize,
    /// A lost entry is stored and no base followed yet (one is enough).
    lost: bool,
}

impl Keeper {
    pub fn new(store: Arc<dyn HistoryStore>, recapture: bool, read_only: bool) -> Self {
        Self { store, recapture, read_only, since_base: 0, lost: false }
    }

    /// Stores `entry`, retrying a store that is unreachable until it works or `cancel` fires
    /// (`Ok(false)`); without `cancel`, an unreachable store is an error at once (the caller
    /// retries). A read-only keeper stores nothing.
    async fn store(&mut self, entry: Entry, cancel: Option<&CancellationToken>) -> Result<bool, ReaderError> {
        if self.read_only {
            return Ok(true);
        }
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.store.append(entry.clone()).await {
                Ok(()) => break,
                Err(StoreError::Transient(m)) if cancel.is_some() => {
                    let cancel = cancel.expect("checked");
                    tracing::warn!(error = %m, store = %self.store.describe(), retry_in_ms = backoff.as_millis() as u64, "cannot store a schema change yet: the stream waits for it");
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(false),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e.into()),
            }
        }
        match entry {
            Entry::Base { .. } => (self.since_base, self.lost) = (0, false),
            Entry::Change { .. } => self.since_base += 1,
            Entry::Lost { .. } => self.lost = true,
        }
        Ok(true)
    }

    /// Stores what the decoder did with a statement ending at `at`; `schema` is the history
    /// after it. `Ok(false)`: cancelled before it was stored.
    pub async fn record(&mut self, event: HistoryEvent, at: Mark, schema: Option<&Schema>, cancel: &CancellationToken) -> Result<bool, ReaderError> {
        match event {
            HistoryEvent::Applied { database, sql } => {
                if !self.store(Entry::Change { at: at.clone(), database, sql }, Some(cancel)).await? {
                    return Ok(false);
                }
                match schema {
                    Some(s) if self.since_base >= COMPACT_AFTER => self.store(Entry::Base { at, schema: s.clone() }, Some(cancel)).await,
                    _ => Ok(true),
                }
            }
            HistoryEvent::Lost { .. } if self.lost => Ok(true),
            HistoryEvent::Lost { sql } => self.store(Entry::Lost { at, sql }, Some(cancel)).await,
        }
    }
}

/// What the decoder did with a statement that may change tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryEvent {
    /// Applied to the history, which it changed.
    Applied { database: String, sql: String },
    /// Not followed: the history ended (or there was none).
    Lost { sql: String },
}

/// The mark of resume point `p` read from the server with `server_id`.
pub fn mark(p: &ResumePoint, server_id: u32) -> Mark {
    Mark { position: p.position.clone(), gtid: p.gtid.clone(), server_id }
}

/// The schema as of `at` (see the module's invariants), and the schema id there (counted
/// only when `want_id`). Without a schema, a source whose TABLE_MAPs do not name the columns
/// cannot be read from `at` (a definite error); one whose TABLE_MAPs do is read without a
/// history (`None`).
pub async fn schema_at_start(conn: &mut Conn, info: &ServerInfo, at: &ResumePoint, keeper: Option<&mut Keeper>, want_id: bool) -> Result<(Option<Schema>, u64), ReaderError> {
    let point = mark(at, info.server_id);
    let mut keeper = keeper;
    let mut schema_id = 0;
    if let Some(k) = keeper.as_deref_mut() {
        if k.recapture {
            tracing::info!(store = %k.store.describe(), "recapture_schema: capturing the schema instead of rebuilding the stored one");
            if want_id {
                schema_id = schema_id_at(&k.store.load().await?, &point);
            }
        } else {
            let entries = k.store.load().await?;
            schema_id = schema_id_at(&entries, &point);
            k.since_base = changes_since_base(&entries);
            k.lost = matches!(entries.iter().rev().find(|e| !matches!(e, Entry::Change { .. })), Some(Entry::Lost { .. }));
            match schema_at(&entries, &point) {
                Ok(Some(schema)) => {
                    let (tables, columns) = schema.size();
                    tracing::info!(tables, columns, at = %point, entries = entries.len(), schema_id, store = %k.store.describe(), "schema rebuilt from the stored history");
                    return Ok((Some(schema), schema_id));
                }
                Ok(None) if entries.is_empty() => tracing::info!(store = %k.store.describe(), "no schema history stored yet: capturing the schema"),
                Ok(None) => tracing::info!(at = %point, store = %k.store.describe(), "the start is before the stored schema history: capturing the schema"),
                Err(e) => tracing::warn!(error = %e, at = %point, store = %k.store.describe(), "the stored schema history does not reach the start: capturing the schema"),
            }
        }
    }
    let Some(schema) = captured_at(conn, info, at).await? else { return Ok((None, schema_id)) };
    if let Some(k) = keeper {
        // Valid at the start: nothing between the start and the capture changed a table.
        k.store(Entry::Base { at: point, schema: schema.clone() }, None).await?;
    }
    Ok((Some(schema), schema_id))
}

/// The schema captured now, when it is the schema at `at` too.
async fn captured_at(conn: &mut Conn, info: &ServerInfo, at: &ResumePoint) -> Result<Option<Schema>, ReaderError> {
    let t0 = std::time::Instant::now();
    let (schema, captured_at) = match super::capture::capture(conn, info.flavor).await {
        Ok(c) => c,
        // TABLE_MAPs that name the columns do not need it: stream without.
        Err(e) if info.full_metadata() => {
            tracing::warn!(error = %e, "no schema history: the capture failed; TABLE_MAP events name the columns");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let between = match super::capture::statements_between(conn, &at.position, &captured_at).await {
        Ok(b) => b,
        Err(e) if info.full_metadata() => {
            tracing::warn!(error = %e, "no schema history: the binlog since the start position could not be read; TABLE_MAP events name the columns");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    if let Some(sql) = super::capture::first_change(&schema, &between) {
        if info.full_metadata() {
            tracing::info!(from = %at.position, statement = %one_line(&sql), "no schema history: a statement after the start position changed a table; TABLE_MAP events name the columns");
            return Ok(None);
        }
        return Err(ReaderError::Definite(format!(
            "binlog_row_metadata is {} on the source, so rows are decoded with the schema history, which does not reach the start position {}, and a statement between it and now changed a table (`{}`): the schema at the start position is not known. Set binlog_row_metadata=FULL on the server, or start from a position after that statement",
            info.binlog_row_metadata,
            at.position,
            one_line(&sql)
        )));
    }
    let (tables, columns) = schema.size();
    tracing::info!(tables, columns, at = %captured_at, ms = t0.elapsed().as_millis() as u64, metadata = %info.binlog_row_metadata, "schema captured");
    Ok(Some(schema))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binlog::position::BinlogPosition;
    use std::sync::Mutex;

    /// Entries kept in memory: the keeper's bookkeeping is what is tested here (the real
    /// stores are exercised against ZooKeeper and MariaDB by the integration tests).
    #[derive(Default)]
    struct Memory(Mutex<Vec<Entry>>);

    impl HistoryStore for Memory {
        fn load(&self) -> StoreFuture<'_, Result<Vec<Entry>, StoreError>> {
            let v = self.0.lock().unwrap().clone();
            Box::pin(async move { Ok(v) })
        }
        fn append(&self, entry: Entry) -> StoreFuture<'_, Result<(), StoreError>> {
            self.0.lock().unwrap().push(entry);
            Box::pin(async { Ok(()) })
        }
        fn describe(&self) -> String {
            "memory".into()
        }
    }

    fn at(pos: u64) -> Mark {
        Mark { position: BinlogPosition::new("bin.000001", pos), gtid: None, server_id: 1 }
    }

    #[tokio::test]
    async fn changes_are_stored_and_compacted_and_a_loss_once() {
        let mem = Arc::new(Memory::default());
        let mut k = Keeper::new(mem.clone(), false, false);
        let mut schema = Schema { charset: "utf8mb4".into(), ..Default::default() };
        schema.apply("CREATE DATABASE d", "").unwrap();
        let cancel = CancellationToken::new();
        for i in 0..COMPACT_AFTER as u64 {
            let sql = format!("CREATE TABLE t{i} (id INT)");
            schema.apply(&sql, "d").unwrap();
            let ev = HistoryEvent::Applied { database: "d".into(), sql };
            assert!(k.record(ev, at(100 + i), Some(&schema), &cancel).await.unwrap());
        }
        let stored = mem.0.lock().unwrap().clone();
        assert_eq!(stored.len(), COMPACT_AFTER + 1, "every change, then a base after the last");
        assert!(matches!(stored.last(), Some(Entry::Base { schema: s, .. }) if *s == schema));
        for p in [500, 600] {
            k.record(HistoryEvent::Lost { sql: "ALTER TABLE x".into() }, at(p), None, &cancel).await.unwrap();
        }
        assert_eq!(mem.0.lock().unwrap().len(), COMPACT_AFTER + 2, "one lost entry is enough");
        let mut ro = Keeper::new(mem.clone(), false, true);
        ro.record(HistoryEvent::Lost { sql: "x".into() }, at(700), None, &cancel).await.unwrap();
        assert_eq!(mem.0.lock().unwrap().len(), COMPACT_AFTER + 2, "a read-only keeper writes nothing");
    }
}
