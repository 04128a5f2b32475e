//! The stuck marker of a node running alone: the row Kafka refused where it stopped
//! (`ignore_producer_error=false`), kept beside its position in `schema_database`'s
//! `stuck_rows` table (one row per `client_id`, the marker as JSON), so that
//! `maxwell-cli row skip` or `row dead-letter` can tell its next start what to do with it.
//!
//! Invariants:
//! - Written when the node stops at such a row; read at start (a resolved marker's verdict is
//!   applied to its row); deleted once the stored position is past the row's transaction.
//! - An unresolved marker does not stop a start: the row is decided again by the settings of
//!   that start (a node alone holds nobody else up).

use super::{connect, quote_ident, PositionsError};
use crate::config::SourceConfig;
use crate::sink::kafka::refusal::StuckRow;
use mysql_async::prelude::*;

/// The `stuck_rows` table of `schema_database` on `host`, for one `client_id`.
pub struct StuckStore {
    db: SourceConfig,
    schema: String,
    client_id: String,
}

impl StuckStore {
    pub fn new(db: SourceConfig, schema: &str, client_id: &str) -> Self {
        Self { db, schema: schema.to_string(), client_id: client_id.to_string() }
    }

    fn table(&self) -> String {
        format!("{}.`stuck_rows`", quote_ident(&self.schema))
    }

    fn error(&self, e: mysql_async::Error, doing: &str) -> PositionsError {
        match &e {
            mysql_async::Error::Server(s) => {
                PositionsError::Definite(format!("cannot {doing} {} on {}:{} (server error {}: {})", self.table(), self.db.host, self.db.port, s.code, s.message))
            }
            _ => PositionsError::Transient(format!("cannot {doing} {}: {e}", self.table())),
        }
    }

    /// The marker of this `client_id`, if any.
    pub async fn load(&self) -> Result<Option<StuckRow>, PositionsError> {
        let mut c = connect(&self.db).await?;
        let row: Result<Option<String>, _> = c.exec_first(format!("SELECT marker FROM {} WHERE client_id = ?", self.table()), (&self.client_id,)).await;
        let _ = c.disconnect().await;
        let text = match row {
            Ok(r) => r,
            // No such schema or table: nothing held.
            Err(mysql_async::Error::Server(s)) if matches!(s.code, 1049 | 1146) => None,
            Err(e) => return Err(self.error(e, "read")),
        };
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| PositionsError::Definite(format!("{} holds a marker for client_id {} that does not read ({e}): delete the row", self.table(), self.client_id)))
        })
        .transpose()
    }

    /// Writes (or replaces) the marker.
    pub async fn save(&self, s: &StuckRow) -> Result<(), PositionsError> {
        let mut c = connect(&self.db).await?;
        let db = quote_ident(&self.schema);
        c.query_drop(format!("CREATE DATABASE IF NOT EXISTS {db}")).await.map_err(|e| self.error(e, "create"))?;
        c.query_drop(format!("CREATE TABLE IF NOT EXISTS {} (client_id VARCHAR(255) CHARSET latin1 NOT NULL PRIMARY KEY, marker TEXT NOT NULL)", self.table()))
            .await
            .map_err(|e| self.error(e, "create"))?;
        let json = serde_json::to_string(s).expect("a marker serialises");
        let q = format!("INSERT INTO {} (client_id, marker) VALUES (?, ?) ON DUPLICATE KEY UPDATE marker = VALUES(marker)", self.table());
        let r = c.exec_drop(q, (&self.client_id, json)).await.map_err(|e| self.error(e, "write"));
        let _ = c.disconnect().await;
        r
    }

    /// Deletes the marker.
    pub async fn clear(&self) -> Result<(), PositionsError> {
        let mut c = connect(&self.db).await?;
        let r = c.exec_drop(format!("DELETE FROM {} WHERE client_id = ?", self.table()), (&self.client_id,)).await;
        let _ = c.disconnect().await;
        match r {
            Ok(()) => Ok(()),
            Err(mysql_async::Error::Server(s)) if matches!(s.code, 1049 | 1146) => Ok(()),
            Err(e) => Err(self.error(e, "delete from")),
        }
    }

    /// Where it is, for messages.
    pub fn describe(&self) -> String {
        format!("{} on {}:{} (client_id {})", self.table(), self.db.host, self.db.port, self.client_id)
    }
}
