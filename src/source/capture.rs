//! Capturing the source's schema once: every database, table and column from
//! `information_schema`, at a binlog position from which the schema history moves forward.
//!
//! Invariants:
//! - The capture is consistent with its position: the position is read before the tables and
//!   again after; when it moved, the binlog between the two is searched for a statement that
//!   changes the captured tables ([`first_change`]), and the capture is taken again if one is
//!   found (DML moving the position does not change the schema). After [`ATTEMPTS`] tries the capture fails, naming why.
//! - Capturing changes nothing on the server and takes no lock: it runs a handful of reads of
//!   `information_schema`, whatever the number of tables.
//! - Columns are described as [`crate::binlog::history`] describes them after a DDL
//!   statement, so that a capture and a schema moved forward by DDL compare equal: MariaDB's
//!   JSON columns (LONGTEXT with a `json_valid` check) are `json`, `utf8` is `utf8mb3`.

use super::reader::{classify, load_json_columns, Flavor, ReaderError};
use crate::binlog::history::{charset_name, may_change_tables, one_line, Change, ColumnDef, DatabaseDef, Schema, TableDef};
use crate::binlog::position::BinlogPosition;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use std::collections::BTreeMap;

/// Tries before a capture that keeps racing a DDL statement gives up.
pub const ATTEMPTS: usize = 5;

/// Schemas a binlog never carries rows of.
const SKIPPED: &str = "'information_schema', 'performance_schema', 'sys'";

/// The schema, and the position it is the schema of.
pub async fn capture(conn: &mut Conn, flavor: Flavor) -> Result<(Schema, BinlogPosition), ReaderError> {
    let mut raced = String::new();
    for _ in 0..ATTEMPTS {
        let before = position(conn).await?;
        let schema = read(conn, flavor).await?;
        let after = position(conn).await?;
        if before == after {
            return Ok((schema, before));
        }
        match first_change(&schema, &statements_between(conn, &before, &after).await?) {
            None => return Ok((schema, before)),
            Some(sql) => raced = sql,
        }
    }
    Err(ReaderError::Transient(format!(
        "the schema kept changing while it was captured ({ATTEMPTS} tries; the last statement in the way: {}); capture it again when no DDL runs",
        one_line(&raced)
    )))
}

async fn position(conn: &mut Conn) -> Result<BinlogPosition, ReaderError> {
    let row: Option<mysql_async::Row> = conn.query_first("SHOW MASTER STATUS").await.map_err(|e| classify(e, "reading the binlog position"))?;
    let row = row.ok_or_else(|| ReaderError::Definite("SHOW MASTER STATUS returned nothing: binary logging is off; set log_bin on the server".into()))?;
    let file: String = row.get(0).unwrap_or_default();
    let pos: u64 = row.get(1).unwrap_or_default();
    Ok(BinlogPosition::new(file, pos))
}

/// The first of `statements` (default database, text) that changes `schema` when applied to
/// it in turn: one it cannot apply counts, one that changes nothing there does not (the
/// node's own `CREATE … IF NOT EXISTS`, an index added).
pub fn first_change(schema: &Schema, statements: &[(String, String)]) -> Option<String> {
    let mut probe = schema.clone();
    statements.iter().find_map(|(db, sql)| match probe.apply(sql, db) {
        Ok(changes) if changes.iter().all(|c| matches!(c, Change::TableAltered { old, new } if old == new)) => None,
        _ => Some(sql.clone()),
    })
}

/// The statements between `from` and `to` that may change tables, with their default
/// database, in binlog order.
pub async fn statements_between(conn: &mut Conn, from: &BinlogPosition, to: &BinlogPosition) -> Result<Vec<(String, String)>, ReaderError> {
    let mut out = Vec::new();
    let logs: Vec<String> = conn.query_map("SHOW BINARY LOGS", |row: mysql_async::Row| row.get::<String, _>(0).unwrap_or_default()).await.map_err(|e| classify(e, "listing binary logs"))?;
    for file in logs.iter().filter(|f| f.as_str() >= from.file.as_str() && f.as_str() <= to.file.as_str()) {
        let start = if *file == from.file { from.pos } else { 4 };
        let events: Vec<(String, u64, String)> = conn
            .query_map(format!("SHOW BINLOG EVENTS IN '{}' FROM {start}", file.replace('\'', "''")), |row: mysql_async::Row| {
                // Info holds statement text in the client's character set, not always UTF-8
                // (a latin1 or binary literal): read as bytes (only DDL text matters here).
                let info = row.get_opt::<Vec<u8>, _>(5).and_then(Result::ok).unwrap_or_default();
                (row.get::<String, _>(2).unwrap_or_default(), row.get::<u64, _>(4).unwrap_or_default(), String::from_utf8_lossy(&info).into_owned())
            })
            .await
            .map_err(|e| classify(e, "reading the binlog between two positions"))?;
        for (kind, end, info) in events {
            if *file == to.file && end > to.pos {
                break;
            }
            if kind == "Query" {
                let (db, sql) = split_use(&info);
                if may_change_tables(&sql) {
                    out.push((db, sql));
                }
            }
        }
    }
    Ok(out)
}

/// SHOW BINLOG EVENTS's `use `db`; statement` as (db, statement).
fn split_use(info: &str) -> (String, String) {
    match info.strip_prefix("use ").and_then(|rest| rest.split_once("; ")) {
        Some((db, sql)) => (db.trim_matches('`').replace("``", "`"), sql.to_string()),
        None => (String::new(), info.to_string()),
    }
}

async fn read(conn: &mut Conn, flavor: Flavor) -> Result<Schema, ReaderError> {
    let q = |e| classify(e, "capturing the schema from information_schema");
    let server: Option<String> = conn.query_first("SELECT @@character_set_server").await.map_err(q)?;
    let lower: Option<u8> = conn.query_first("SELECT @@lower_case_table_names").await.map_err(q)?;
    let mut schema = Schema { charset: charset_name(&server.unwrap_or_default()), databases: BTreeMap::new(), lower_case_table_names: lower.unwrap_or(0) };
    let dbs: Vec<(String, String)> = conn
        .query(format!("SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ({SKIPPED})"))
        .await
        .map_err(q)?;
    for (name, charset) in dbs {
        schema.databases.insert(name.clone(), DatabaseDef { name, charset: charset_name(&charset), tables: BTreeMap::new() });
    }
    let tables: Vec<(String, String, Option<String>)> = conn
        .query(format!(
            "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, c.CHARACTER_SET_NAME FROM information_schema.TABLES t \
             LEFT JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY c ON c.COLLATION_NAME = t.TABLE_COLLATION \
             WHERE t.TABLE_TYPE = 'BASE TABLE' AND t.TABLE_SCHEMA NOT IN ({SKIPPED})"
        ))
        .await
        .map_err(q)?;
    for (db, table, charset) in tables {
        let Some(d) = schema.databases.get_mut(&db) else { continue };
        let charset = charset.map(|c| charset_name(&c)).unwrap_or_else(|| d.charset.clone());
        d.tables.insert(table.clone(), TableDef { database: db, table, charset, primary_key: Vec::new(), columns: Vec::new() });
    }
    let json = load_json_columns(conn, flavor).await?;
    let columns: Vec<mysql_async::Row> = conn
        .query(format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, DATETIME_PRECISION \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA NOT IN ({SKIPPED}) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
        ))
        .await
        .map_err(q)?;
    for row in columns {
        let get = |i: usize| row.get::<Option<String>, _>(i).flatten().unwrap_or_default();
        let (db, table, name) = (get(0), get(1), get(2));
        let Some(t) = schema.databases.get_mut(&db).and_then(|d| d.tables.get_mut(&table)) else { continue };
        let is_json = json.contains(&(db.clone(), table.clone(), name.clone()));
        let charset = row.get::<Option<String>, _>(5).flatten().map(|c| charset_name(&c));
        let fsp = row.get::<Option<u32>, _>(6).flatten();
        t.columns.push(column(name, &get(3), &get(4), charset, fsp, is_json));
    }
    let keys: Vec<(String, String, String)> = conn
        .query(format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE INDEX_NAME = 'PRIMARY' AND TABLE_SCHEMA NOT IN ({SKIPPED}) ORDER BY TABLE_SCHEMA, TABLE_NAME, SEQ_IN_INDEX"
        ))
        .await
        .map_err(q)?;
    for (db, table, col) in keys {
        if let Some(t) = schema.databases.get_mut(&db).and_then(|d| d.tables.get_mut(&table)) {
            t.primary_key.push(col);
        }
    }
    Ok(schema)
}

/// One column from its `information_schema.COLUMNS` facts.
pub fn column(name: String, data_type: &str, column_type: &str, charset: Option<String>, fsp: Option<u32>, is_json: bool) -> ColumnDef {
    let data_type = data_type.to_ascii_lowercase();
    let column_type_lc = column_type.to_ascii_lowercase();
    let type_name = if is_json { "json".to_string() } else { data_type };
    // Maxwell's definitions give `signed` for integers only.
    let numeric = matches!(type_name.as_str(), "tinyint" | "smallint" | "mediumint" | "int" | "bigint");
    let signed = numeric.then(|| !(column_type_lc.contains("unsigned") || column_type_lc.contains("zerofill")));
    let enum_values = matches!(type_name.as_str(), "enum" | "set").then(|| labels(column_type));
    let column_length = matches!(type_name.as_str(), "time" | "datetime" | "timestamp").then(|| fsp.unwrap_or(0));
    let charset = if type_name == "json" { None } else { charset };
    ColumnDef { type_name, name, signed, charset, enum_values, column_length }
}

/// The labels of `enum('a','b''c')` / `set(...)`.
fn labels(column_type: &str) -> Vec<String> {
    let Some(inner) = column_type.find('(').map(|i| &column_type[i + 1..column_type.len().saturating_sub(1)]) else { return Vec::new() };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = inner.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '\'') => quoted = true,
            (true, '\'') if chars.peek() == Some(&'\'') => {
                chars.next();
                cur.push('\'');
            }
            (true, '\'') => {
                quoted = false;
                out.push(std::mem::take(&mut cur));
            }
            (true, c) => cur.push(c),
            (false, _) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_read_as_ddl_describes_them() {
        let c = column("e".into(), "enum", "enum('a','b''c','d,e')", Some("utf8mb4".into()), None, false);
        assert_eq!(c.enum_values.as_deref(), Some(&["a".to_string(), "b'c".into(), "d,e".into()][..]));
        assert_eq!(c.signed, None);
        let c = column("i".into(), "int", "int(10) unsigned", None, None, false);
        assert_eq!((c.type_name.as_str(), c.signed), ("int", Some(false)));
        let c = column("t".into(), "datetime", "datetime(3)", None, Some(3), false);
        assert_eq!(c.column_length, Some(3));
        let c = column("j".into(), "longtext", "longtext", Some("utf8mb4".into()), None, true);
        assert_eq!((c.type_name.as_str(), c.charset), ("json", None));
        assert_eq!(charset_name("UTF8"), "utf8mb3");
    }

    #[test]
    fn statements_that_may_change_tables() {
        let may = |info: &str| may_change_tables(&split_use(info).1);
        assert!(may("use `shop`; ALTER TABLE t ADD c int"));
        assert!(may("CREATE TABLE t (i int)"));
        assert!(may("  drop table t"));
        assert!(may("use `shop`; /*!40101 ALTER TABLE t ADD c int */"));
        assert!(!may("BEGIN"));
        assert!(!may("use `shop`; INSERT INTO t VALUES (1)"));
        assert_eq!(one_line(&"x ".repeat(300)).chars().count(), 201);
        assert_eq!(split_use("use `a``b`; DROP TABLE t"), ("a`b".to_string(), "DROP TABLE t".to_string()));
    }

    #[test]
    fn statements_that_change_nothing_in_the_capture_do_not_count() {
        let mut schema = Schema { charset: "utf8mb4".into(), ..Default::default() };
        schema.apply("CREATE DATABASE d", "").unwrap();
        schema.apply("CREATE TABLE t (i INT)", "d").unwrap();
        let s = |sql: &str| ("d".to_string(), sql.to_string());
        assert_eq!(first_change(&schema, &[s("CREATE TABLE IF NOT EXISTS t (i INT)"), s("CREATE DATABASE IF NOT EXISTS d"), s("ALTER TABLE t ADD INDEX (i)")]), None);
        assert_eq!(first_change(&schema, &[s("CREATE DATABASE IF NOT EXISTS d"), s("ALTER TABLE t ADD COLUMN j INT")]).as_deref(), Some("ALTER TABLE t ADD COLUMN j INT"));
        assert_eq!(first_change(&schema, &[s("ALTER TABLE t FROBNICATE")]).as_deref(), Some("ALTER TABLE t FROBNICATE"));
    }
}
