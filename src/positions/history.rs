//! The schema history of a node running alone, kept beside its positions: the
//! `schema_history` table of `schema_database` on `host`, one row per stored entry and
//! `client_id` (Maxwell keeps its schemas in the same database, in tables of other names).
//!
//! Invariants:
//! - Rows are only ever added; their order (an auto-increment id) is the order stored.
//! - The table is created on the first write; a store that only reads (`replay`) never
//!   creates it, and a missing table or database is an empty history.
//! - Each row holds one entry in its stored form ([`Entry::to_bytes`]); a row that does not
//!   decode stops the start with an error naming it, never a silently different schema.

use super::{connect, quote_ident, PositionsError};
use crate::binlog::history::Entry;
use crate::config::SourceConfig;
use crate::source::history::{HistoryStore, StoreError, StoreFuture};
use mysql_async::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct MysqlHistory {
    db: SourceConfig,
    schema: String,
    client_id: String,
    created: AtomicBool,
}

impl From<PositionsError> for StoreError {
    fn from(e: PositionsError) -> Self {
        match e {
            PositionsError::Definite(m) => StoreError::Definite(m),
            PositionsError::Transient(m) => StoreError::Transient(m),
        }
    }
}

impl MysqlHistory {
    pub fn new(db: SourceConfig, schema: &str, client_id: &str) -> Self {
        Self { db, schema: schema.to_string(), client_id: client_id.to_string(), created: AtomicBool::new(false) }
    }

    fn table(&self) -> String {
        format!("{}.`schema_history`", quote_ident(&self.schema))
    }

    fn error(&self, e: mysql_async::Error, doing: &str) -> StoreError {
        match &e {
            mysql_async::Error::Server(s) if matches!(s.code, 1044 | 1045 | 1142 | 1143 | 1227 | 1049) => StoreError::Definite(format!(
                "cannot {doing} {} on {}:{} ({}): grant the user CREATE, SELECT and INSERT on {}.*",
                self.table(),
                self.db.host,
                self.db.port,
                s.message,
                quote_ident(&self.schema)
            )),
            mysql_async::Error::Server(s) => StoreError::Definite(format!("cannot {doing} {} (server error {}: {})", self.table(), s.code, s.message)),
            _ => StoreError::Transient(format!("cannot {doing} {}: {e}", self.table())),
        }
    }

    async fn load_rows(&self) -> Result<Vec<Entry>, StoreError> {
        let mut c = connect(&self.db).await?;
        let q = format!("SELECT id, entry FROM {} WHERE client_id = ? ORDER BY id", self.table());
        let rows: Result<Vec<(u64, Vec<u8>)>, _> = c.exec(q, (&self.client_id,)).await;
        let _ = c.disconnect().await;
        let rows = match rows {
            Ok(r) => r,
            Err(mysql_async::Error::Server(s)) if matches!(s.code, 1049 | 1146) => return Ok(Vec::new()),
            Err(e) => return Err(self.error(e, "read")),
        };
        rows.into_iter()
            .map(|(id, bytes)| {
                Entry::from_bytes(&bytes).map_err(|e| {
                    StoreError::Definite(format!("{} row id {id} is {e}: delete the rows of client_id `{}` to capture the schema anew", self.table(), self.client_id))
                })
            })
            .collect()
    }

    async fn append_row(&self, entry: Entry) -> Result<(), StoreError> {
        let mut c = connect(&self.db).await?;
        if !self.created.load(Ordering::Relaxed) {
            c.query_drop(format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(&self.schema))).await.map_err(|e| self.error(e, "create"))?;
            c.query_drop(format!(
                "CREATE TABLE IF NOT EXISTS {} (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, \
                 client_id VARCHAR(255) CHARSET latin1 NOT NULL, kind VARCHAR(16) NOT NULL, position VARCHAR(1024) NOT NULL, \
                 entry LONGBLOB NOT NULL, stored_at BIGINT NOT NULL, KEY (client_id, id))",
                self.table()
            ))
            .await
            .map_err(|e| self.error(e, "create"))?;
            self.created.store(true, Ordering::Relaxed);
        }
        let kind = match &entry {
            Entry::Base { .. } => "base",
            Entry::Change { .. } => "change",
            Entry::Lost { .. } => "lost",
        };
        let q = format!("INSERT INTO {} (client_id, kind, position, entry, stored_at) VALUES (?, ?, ?, ?, ?)", self.table());
        let params = (&self.client_id, kind, entry.at().to_string(), entry.to_bytes(), crate::metrics::now_ms());
        let r = c.exec_drop(q, params).await.map_err(|e| self.error(e, "write"));
        let _ = c.disconnect().await;
        r
    }
}

impl MysqlHistory {
    /// Copies the entries of client `from` to this client when this one has none (a new
    /// client that starts at `from`'s position; entries are facts about the binlog, so they
    /// hold for any client). Returns how many were copied.
    pub async fn adopt(&self, from: &str) -> Result<u64, StoreError> {
        if !self.load_rows().await?.is_empty() {
            return Ok(0);
        }
        let mut c = connect(&self.db).await?;
        let q = format!(
            "INSERT INTO {t} (client_id, kind, position, entry, stored_at) SELECT ?, kind, position, entry, stored_at FROM {t} WHERE client_id = ? ORDER BY id",
            t = self.table()
        );
        let r = c.exec_iter(q, (&self.client_id, from)).await.map(|r| r.affected_rows());
        let _ = c.disconnect().await;
        match r {
            Ok(n) => Ok(n),
            Err(mysql_async::Error::Server(s)) if matches!(s.code, 1049 | 1146) => Ok(0),
            Err(e) => Err(self.error(e, "copy")),
        }
    }
}

impl HistoryStore for MysqlHistory {
    fn load(&self) -> StoreFuture<'_, Result<Vec<Entry>, StoreError>> {
        Box::pin(self.load_rows())
    }

    fn append(&self, entry: Entry) -> StoreFuture<'_, Result<(), StoreError>> {
        Box::pin(self.append_row(entry))
    }

    fn describe(&self) -> String {
        format!("{} on {}:{} (client_id {})", self.table(), self.db.host, self.db.port, self.client_id)
    }
}
