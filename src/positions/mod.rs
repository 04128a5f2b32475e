//! Positions of a node running alone, kept where Maxwell keeps them: the `positions` table of
//! its `schema_database` (default `maxwell`) on `host`, one row per (source `server_id`,
//! `client_id`), same columns. A user switching from Maxwell continues where Maxwell stopped;
//! a cluster reads it (never writes it) on its very first start.
//!
//! Invariants:
//! - A stored position is one the sink acknowledged (never one only read), so a restart
//!   repeats at most what was acknowledged after the last store (at-least-once, as Maxwell)
//!   and a graceful stop, which stores the final position, repeats nothing.
//! - `init_position` wins over a stored position (and is stored from then on), as in Maxwell.
//! - A `client_id` with no row of its own starts where the most recently active other client
//!   of the same source server is (Maxwell's rule, its issue #782: a new client that started
//!   at the end of the binlog would miss the schema changes in between); that client's
//!   schema history is adopted with it ([`history::MysqlHistory::adopt`]).
//! - The table is created when missing; a user who may not create or write it gets one error
//!   naming the grant to add, or `replay=true` to run without stored positions.
//! - A failed store while streaming is retried at the next interval; it never stops the stream.

pub mod history;
pub mod stuck;

use crate::binlog::gtid::GtidSet;
use crate::binlog::position::BinlogPosition;
use crate::binlog::position::{ResumePoint, StartPosition};
use crate::config::SourceConfig;
use mysql_async::prelude::*;
use mysql_async::Conn;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often an acknowledged position is stored.
pub const STORE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum PositionsError {
    /// Privileges or a bad `schema_database`: a person must act.
    #[error("{0}")]
    Definite(String),
    /// The server is unreachable right now.
    #[error("{0}")]
    Transient(String),
}

/// The row of one (server, client) in Maxwell's `positions` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub position: BinlogPosition,
    pub gtid: Option<GtidSet>,
}

impl Stored {
    pub fn start(&self, gtid_mode: bool) -> StartPosition {
        StartPosition::resume(&self.position, self.gtid.as_ref(), gtid_mode)
    }
}

/// Maxwell's `positions` table on `host`.
pub struct Positions {
    db: SourceConfig,
    schema: String,
    client_id: String,
}

/// An SQL identifier in backquotes (backquotes inside doubled).
pub(crate) fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// A `positions` row as read: binlog file, position and GTID set (each may be NULL).
type StoredRow = (Option<String>, Option<u64>, Option<String>);

impl Positions {
    /// `db`: the `host`/`port`/`user`/`password` connection (Maxwell's, not `replication_host`).
    pub fn new(db: SourceConfig, schema: &str, client_id: &str) -> Self {
        Self { db, schema: schema.to_string(), client_id: client_id.to_string() }
    }

    fn what(&self) -> String {
        format!("{}.positions on {}:{}", quote_ident(&self.schema), self.db.host, self.db.port)
    }

    fn error(&self, e: mysql_async::Error, doing: &str) -> PositionsError {
        match &e {
            mysql_async::Error::Server(s) if matches!(s.code, 1044 | 1045 | 1142 | 1143 | 1227 | 1049) => PositionsError::Definite(format!(
                "cannot {doing} {} ({}): grant the user CREATE, SELECT, INSERT and UPDATE on {}.*, or set replay=true to run without stored positions",
                self.what(),
                s.message,
                quote_ident(&self.schema)
            )),
            mysql_async::Error::Server(s) => PositionsError::Definite(format!("cannot {doing} {} (server error {}: {})", self.what(), s.code, s.message)),
            _ => PositionsError::Transient(format!("cannot {doing} {}: {e}", self.what())),
        }
    }

    /// Creates the schema and table when missing (Maxwell's columns).
    async fn ensure(&self, c: &mut Conn) -> Result<(), PositionsError> {
        let db = quote_ident(&self.schema);
        c.query_drop(format!("CREATE DATABASE IF NOT EXISTS {db}")).await.map_err(|e| self.error(e, "create"))?;
        c.query_drop(format!(
            "CREATE TABLE IF NOT EXISTS {db}.`positions` (\
               server_id INT UNSIGNED NOT NULL, binlog_file VARCHAR(255), binlog_position INT UNSIGNED, \
               gtid_set VARCHAR(4096), client_id VARCHAR(255) CHARSET latin1 NOT NULL DEFAULT 'maxwell', \
               heartbeat_at BIGINT NULL DEFAULT NULL, last_heartbeat_read BIGINT NULL DEFAULT NULL, \
               PRIMARY KEY (server_id, client_id))"
        ))
        .await
        .map_err(|e| self.error(e, "create"))
    }

    /// The stored position for source `server_id`, if any. `create`: make the table first
    /// (a node that will store); otherwise a missing table or schema is simply no position.
    pub async fn load(&self, server_id: u32, create: bool) -> Result<Option<Stored>, PositionsError> {
        let mut c = connect(&self.db).await?;
        if create {
            self.ensure(&mut c).await?;
        }
        let q = format!("SELECT binlog_file, binlog_position, gtid_set FROM {}.`positions` WHERE server_id = ? AND client_id = ?", quote_ident(&self.schema));
        let row: Result<Option<StoredRow>, _> = c.exec_first(q, (server_id, &self.client_id)).await;
        let _ = c.disconnect().await;
        let row = match row {
            Ok(r) => r,
            // No such schema or table: nothing stored.
            Err(mysql_async::Error::Server(s)) if !create && matches!(s.code, 1049 | 1146) => None,
            Err(e) => return Err(self.error(e, "read")),
        };
        let Some((Some(file), Some(pos), gtid)) = row else { return Ok(None) };
        let gtid = match gtid.filter(|g| !g.trim().is_empty()) {
            Some(g) => Some(g.parse::<GtidSet>().map_err(|e| PositionsError::Definite(format!("{} holds a gtid_set that is {e}: fix or delete the row", self.what())))?),
            None => None,
        };
        Ok(Some(Stored { position: BinlogPosition::new(file, pos), gtid }))
    }

    /// The position of the other client of source `server_id` that was active last (by
    /// Maxwell's `last_heartbeat_read`, else our `heartbeat_at`), with its `client_id`.
    pub async fn load_other(&self, server_id: u32) -> Result<Option<(String, Stored)>, PositionsError> {
        let mut c = connect(&self.db).await?;
        let q = format!(
            "SELECT client_id, binlog_file, binlog_position, gtid_set FROM {}.`positions` WHERE server_id = ? AND client_id <> ? \
             AND binlog_file IS NOT NULL ORDER BY COALESCE(last_heartbeat_read, heartbeat_at, 0) DESC LIMIT 1",
            quote_ident(&self.schema)
        );
        let row: Result<Option<(String, Option<String>, Option<u64>, Option<String>)>, _> = c.exec_first(q, (server_id, &self.client_id)).await;
        let _ = c.disconnect().await;
        let row = match row {
            Ok(r) => r,
            Err(mysql_async::Error::Server(s)) if matches!(s.code, 1049 | 1146) => None,
            Err(e) => return Err(self.error(e, "read")),
        };
        let Some((client, Some(file), Some(pos), gtid)) = row else { return Ok(None) };
        let gtid = gtid.filter(|g| !g.trim().is_empty()).and_then(|g| g.parse::<GtidSet>().ok());
        Ok(Some((client, Stored { position: BinlogPosition::new(file, pos), gtid })))
    }

    /// Stores `p` as the position of source `server_id`.
    pub async fn store(&self, c: &mut Conn, server_id: u32, p: &ResumePoint) -> Result<(), PositionsError> {
        let q = format!(
            "INSERT INTO {}.`positions` (server_id, binlog_file, binlog_position, gtid_set, client_id, heartbeat_at, last_heartbeat_read) VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE binlog_file = VALUES(binlog_file), binlog_position = VALUES(binlog_position), gtid_set = VALUES(gtid_set), \
             heartbeat_at = VALUES(heartbeat_at), last_heartbeat_read = VALUES(last_heartbeat_read)",
            quote_ident(&self.schema)
        );
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let params = (server_id, p.position.file.as_str(), p.position.pos, p.gtid.as_ref().map(|g| g.to_string()), self.client_id.as_str(), now, now);
        c.exec_drop(q, params).await.map_err(|e| self.error(e, "write"))
    }

    /// Stores every newly acknowledged position (every [`STORE_EVERY`]) until `stop`, then
    /// the last one. Returns the last position stored.
    pub async fn keep(self, server_id: u32, mut acked: watch::Receiver<Option<ResumePoint>>, stop: CancellationToken) -> Option<ResumePoint> {
        let mut conn: Option<Conn> = None;
        let mut stored: Option<ResumePoint> = None;
        let mut tick = tokio::time::interval(STORE_EVERY);
        loop {
            let last_round = tokio::select! {
                _ = stop.cancelled() => true,
                _ = tick.tick() => false,
            };
            let current = acked.borrow_and_update().clone();
            if let Some(p) = current.filter(|p| stored.as_ref() != Some(p)) {
                if conn.is_none() {
                    conn = connect(&self.db).await.map_err(|e| tracing::warn!(error = %e, "cannot store the position (retrying)")).ok();
                }
                if let Some(c) = conn.as_mut() {
                    match self.store(c, server_id, &p).await {
                        Ok(()) => {
                            tracing::debug!(position = %p.position, "position stored");
                            stored = Some(p);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot store the position (retrying)");
                            conn = None;
                        }
                    }
                }
            }
            if last_round {
                return stored;
            }
        }
    }
}

/// A connection to `db`, its failure classified as the reader classifies it.
async fn connect(db: &SourceConfig) -> Result<Conn, PositionsError> {
    db.connect().await.map_err(|e| match e {
        crate::source::reader::ReaderError::Transient(m) => PositionsError::Transient(m),
        other => PositionsError::Definite(other.to_string()),
    })
}

/// `SELECT @@server_id` of the source (the key of its row).
pub async fn source_server_id(source: &SourceConfig) -> Result<u32, PositionsError> {
    let mut c = connect(source).await?;
    let id: Option<u32> = c.query_first("SELECT @@server_id").await.map_err(|e| PositionsError::Transient(format!("reading the source's server_id: {e}")))?;
    let _ = c.disconnect().await;
    Ok(id.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_follows_gtid_mode() {
        let s = Stored { position: BinlogPosition::new("mysql-bin.000003", 120), gtid: Some("0-1-7".parse().unwrap()) };
        assert_eq!(s.start(false), StartPosition::Checked { position: BinlogPosition::new("mysql-bin.000003", 120), gtid: "0-1-7".parse().unwrap() });
        assert!(matches!(s.start(true), StartPosition::Gtid(_)));
        let no_gtid = Stored { gtid: None, ..s };
        assert!(matches!(no_gtid.start(true), StartPosition::File(_)));
        assert_eq!(quote_ident("we`ird"), "`we``ird`");
    }
}
