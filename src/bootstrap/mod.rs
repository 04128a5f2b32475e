//! Bootstrap: a table's existing rows sent downstream as Maxwell's `bootstrap-start`,
//! `bootstrap-insert` … `bootstrap-complete` records, started by a row in Maxwell's
//! `maxwell.bootstrap` table (`maxwell-cli bootstrap`, Maxwell's own `maxwell-bootstrap`, or an
//! INSERT by hand).
//!
//! Invariants:
//! - A bootstrap starts at a binlog transaction boundary; its rows are read in primary-key
//!   chunks, each one consistent read. `bootstrapper=sync`: the binlog waits until it
//!   completes, so every live change made after it started comes after `bootstrap-complete`,
//!   in commit order. `async` (the default): other tables stream on and only the table's own
//!   changes wait, held in the binlog and read again after it ([`hold`]), in commit order.
//! - Every record of a bootstrap is a synthetic transaction at that boundary carrying the
//!   bootstrap's [`State`]; exactly-once mode commits the state in the Kafka checkpoint with
//!   the rows, so a new leader continues after the last committed chunk (no row missing, none
//!   twice, `bootstrap-start` and `bootstrap-complete` once). At-least-once mode and a node
//!   alone restart an interrupted bootstrap from its first row (repeats, never a gap).
//! - Both producers run bootstraps alike ([`drive`]): stdout and Kafka (`node.rs`,
//!   `node_stdout.rs`). An at-least-once cluster runs `async` as `sync` (see [`hold`]).
//! - The table row is informational and for Maxwell's tools: `started_at`, `total_rows`,
//!   `inserted_rows` after each chunk, `is_complete`/`completed_at` only once the completion
//!   is delivered (Kafka: acknowledged, exactly-once: committed; stdout: flushed). A cancelled bootstrap (`maxwell-cli bootstrap
//!   --cancel`) stops at the next chunk without `bootstrap-complete`.

pub mod chunk;
pub mod drive;
pub mod hold;
pub mod runner;

pub use runner::Bootstrapper;

pub use crate::binlog::position::BootstrapState as State;
use crate::positions::quote_ident as ident;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

/// One row of `maxwell.bootstrap` to work on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: u64,
    pub database: String,
    pub table: String,
    pub where_clause: Option<String>,
    pub comment: Option<String>,
}

/// Maxwell's `bootstrap` table in `schema` (its columns, in its order), created when missing.
pub async fn ensure_table(conn: &mut Conn, schema: &str) -> Result<(), mysql_async::Error> {
    conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS {}", ident(schema))).await?;
    conn.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {}.`bootstrap` (
            id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
            database_name VARCHAR(255) CHARACTER SET utf8mb4 NOT NULL,
            table_name VARCHAR(255) CHARACTER SET utf8mb4 NOT NULL,
            where_clause TEXT CHARACTER SET utf8mb4,
            is_complete TINYINT UNSIGNED NOT NULL DEFAULT 0,
            inserted_rows BIGINT UNSIGNED NOT NULL DEFAULT 0,
            total_rows BIGINT UNSIGNED NOT NULL DEFAULT 0,
            created_at DATETIME DEFAULT NULL,
            started_at DATETIME DEFAULT NULL,
            completed_at DATETIME DEFAULT NULL,
            binlog_file VARCHAR(255) DEFAULT NULL,
            binlog_position INT UNSIGNED DEFAULT 0,
            client_id VARCHAR(255) CHARACTER SET latin1 NOT NULL DEFAULT 'maxwell',
            comment VARCHAR(255) CHARACTER SET utf8mb4 DEFAULT NULL
        )",
        ident(schema)
    ))
    .await
}

/// The oldest incomplete bootstrap of `client_id` whose time has come (Maxwell: a future
/// `started_at` schedules it).
pub async fn next_task(conn: &mut Conn, schema: &str, client_id: &str) -> Result<Option<Task>, mysql_async::Error> {
    type Row = (u64, String, String, Option<String>, Option<String>);
    let row: Option<Row> = conn
        .exec_first(
            format!(
                "SELECT id, database_name, table_name, where_clause, comment FROM {}.`bootstrap` \
                 WHERE is_complete = 0 AND client_id = ? AND (started_at IS NULL OR started_at <= NOW()) ORDER BY id LIMIT 1",
                ident(schema)
            ),
            (client_id,),
        )
        .await?;
    Ok(row.map(|(id, database, table, where_clause, comment)| Task { id, database, table, where_clause, comment }))
}

/// Whether bootstrap `id` is still to be done (not completed or cancelled meanwhile).
pub async fn is_open(conn: &mut Conn, schema: &str, id: u64) -> Result<bool, mysql_async::Error> {
    let done: Option<u8> = conn.exec_first(format!("SELECT is_complete FROM {}.`bootstrap` WHERE id = ?", ident(schema)), (id,)).await?;
    Ok(done == Some(0))
}

pub async fn mark_started(conn: &mut Conn, schema: &str, id: u64, total: u64, file: &str, pos: u64) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        format!("UPDATE {}.`bootstrap` SET started_at = COALESCE(started_at, NOW()), total_rows = ?, binlog_file = ?, binlog_position = ? WHERE id = ?", ident(schema)),
        (total, file, pos, id),
    )
    .await
}

pub async fn mark_progress(conn: &mut Conn, schema: &str, id: u64, rows: u64) -> Result<(), mysql_async::Error> {
    conn.exec_drop(format!("UPDATE {}.`bootstrap` SET inserted_rows = ? WHERE id = ?", ident(schema)), (rows, id)).await
}

pub async fn mark_complete(conn: &mut Conn, schema: &str, id: u64, rows: u64) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        format!("UPDATE {}.`bootstrap` SET is_complete = 1, inserted_rows = ?, completed_at = COALESCE(completed_at, NOW()) WHERE id = ?", ident(schema)),
        (rows, id),
    )
    .await
}

/// Requests a bootstrap (what `maxwell-bootstrap` does); returns its id.
pub async fn request(conn: &mut Conn, schema: &str, task: &Task, client_id: &str) -> Result<u64, mysql_async::Error> {
    ensure_table(conn, schema).await?;
    conn.exec_drop(
        format!("INSERT INTO {}.`bootstrap` (database_name, table_name, where_clause, client_id, comment, created_at) VALUES (?, ?, ?, ?, ?, NOW())", ident(schema)),
        (&task.database, &task.table, &task.where_clause, client_id, &task.comment),
    )
    .await?;
    Ok(conn.last_insert_id().unwrap_or(0))
}

/// Cancels bootstrap `id` (marks it complete with a comment): the leader stops at its next
/// chunk. `false` when there is no such open bootstrap.
pub async fn cancel(conn: &mut Conn, schema: &str, id: u64) -> Result<bool, mysql_async::Error> {
    conn.exec_drop(
        format!("UPDATE {}.`bootstrap` SET is_complete = 1, completed_at = NOW(), comment = CONCAT(COALESCE(comment, ''), ' (cancelled)') WHERE id = ? AND is_complete = 0", ident(schema)),
        (id,),
    )
    .await?;
    Ok(conn.affected_rows() > 0)
}
