//! Reading a table in primary-key chunks and writing its rows as Maxwell JSON.
//!
//! Invariants:
//! - A chunk is one `SELECT … WHERE key > last ORDER BY key LIMIT n` statement: one consistent
//!   read (InnoDB), in key order, so the last key of a chunk is where the next one starts
//!   and a chunk that comes back short is the last.
//! - Values come over the text protocol and are written as the binlog path writes them
//!   (`binlog/values.rs`): numbers as JSON numbers, binary strings base64, SET as an array,
//!   BIT as a number, TIMESTAMP in UTC (the session's time zone is `+00:00`), geometry as WKT
//!   from its internal form (SRID + WKB, as the binlog holds it), JSON columns as JSON, and
//!   BINARY(n) without its trailing zero bytes (the binlog does not keep them).
//! - Key values are kept as SQL literals (numbers as they are, everything else quoted with
//!   its quotes and backslashes escaped, `NO_BACKSLASH_ESCAPES` off for the session).

use crate::binlog::schema::{ColKind, Column, TableInfo};
use crate::binlog::json::write_json_str;
use crate::positions::quote_ident as ident;
use base64::Engine;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use std::sync::Arc;

/// How one column's text value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fmt {
    Number,
    Bit,
    Text,
    Binary,
    /// BINARY(n): zero-padded by the server on read.
    FixedBinary,
    Set,
    Json,
    Geometry,
}

impl Fmt {
    /// From `information_schema.COLUMNS.DATA_TYPE`.
    pub fn of(data_type: &str, json: bool) -> Self {
        match data_type.to_ascii_lowercase().as_str() {
            _ if json => Fmt::Json,
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "decimal" | "float" | "double" | "year" => Fmt::Number,
            "bit" => Fmt::Bit,
            "binary" => Fmt::FixedBinary,
            "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => Fmt::Binary,
            "set" => Fmt::Set,
            "json" => Fmt::Json,
            "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring" | "multipolygon" | "geometrycollection" => Fmt::Geometry,
            _ => Fmt::Text,
        }
    }
}

/// A table as the bootstrap reads it.
#[derive(Debug, Clone)]
pub struct Shape {
    pub info: Arc<TableInfo>,
    pub formats: Vec<Fmt>,
}

/// A value as an SQL literal (see the module's invariants).
pub fn literal(text: &str, fmt: Fmt) -> String {
    if fmt == Fmt::Number && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'e' | b'E' | b'+')) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

impl Shape {
    /// Reads the table's columns and primary key; `None` when the table does not exist.
    pub async fn load(conn: &mut Conn, database: &str, table: &str, json_columns: &std::collections::HashSet<(String, String, String)>) -> Result<Option<Self>, mysql_async::Error> {
        let cols: Vec<(String, String)> = conn
            .exec(
                "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (database, table),
            )
            .await?;
        if cols.is_empty() {
            return Ok(None);
        }
        let pk: Vec<String> = conn
            .exec(
                "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
                (database, table),
            )
            .await?;
        let formats = cols.iter().map(|(c, t)| Fmt::of(t, json_columns.contains(&(database.to_string(), table.to_string(), c.clone())))).collect();
        let columns: Vec<Column> = cols
            .iter()
            .map(|(name, _)| {
                let mut key_json = Vec::new();
                write_json_str(&mut key_json, name);
                key_json.push(b':');
                Column { name: name.clone(), key_json, kind: ColKind::Year }
            })
            .collect();
        let primary_key = pk.iter().filter_map(|k| cols.iter().position(|(c, _)| c == k)).collect();
        let mut head_json = b"\"database\":".to_vec();
        write_json_str(&mut head_json, database);
        head_json.extend_from_slice(b",\"table\":");
        write_json_str(&mut head_json, table);
        let info = TableInfo { table_id: 0, database: database.into(), table: table.into(), columns, primary_key, head_json, excluded: Vec::new() };
        Ok(Some(Self { info: Arc::new(info), formats }))
    }

    fn key_names(&self) -> Vec<String> {
        self.info.primary_key.iter().map(|&i| ident(&self.info.columns[i].name)).collect()
    }

    /// `db`.`table`.
    fn name(&self) -> String {
        format!("{}.{}", ident(&self.info.database), ident(&self.info.table))
    }

    /// The rows a bootstrap with the user's `where` covers (Maxwell's `total_rows`).
    pub fn count_sql(&self, where_clause: Option<&str>) -> String {
        let filter = user_filter(where_clause).map(|w| format!(" WHERE {w}")).unwrap_or_default();
        format!("SELECT COUNT(*) FROM {}{filter}", self.name())
    }

    /// The chunk query after `last` (key literals), with the user's `where`.
    pub fn chunk_sql(&self, last: Option<&[String]>, where_clause: Option<&str>, limit: usize) -> String {
        let select: Vec<String> = self
            .info
            .columns
            .iter()
            .map(|c| ident(&c.name))
            .collect();
        let keys = self.key_names();
        let mut conds = Vec::new();
        if let Some(last) = last {
            // (a, b) > (x, y) spelled out, so MariaDB's range optimizer uses the key.
            let mut alts = Vec::new();
            for i in 0..keys.len() {
                let mut parts: Vec<String> = (0..i).map(|j| format!("{} = {}", keys[j], last[j])).collect();
                parts.push(format!("{} > {}", keys[i], last[i]));
                alts.push(format!("({})", parts.join(" AND ")));
            }
            conds.push(format!("({})", alts.join(" OR ")));
        }
        conds.extend(user_filter(where_clause));
        let filter = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
        format!("SELECT {} FROM {}{filter} ORDER BY {} LIMIT {limit}", select.join(", "), self.name(), keys.join(", "))
    }

    /// Writes one row's `"data":{…}` object into `out`; returns the row's key literals and
    /// where each column's JSON value lies in `out` (for the message key and partitioning,
    /// taken from those bytes as the binlog path takes them from its row image).
    pub fn write_data(&self, out: &mut Vec<u8>, row: &[Value]) -> (Vec<String>, Vec<std::ops::Range<usize>>) {
        fn text(v: &Value) -> Option<&[u8]> {
            match v {
                Value::Bytes(b) => Some(b.as_slice()),
                _ => None,
            }
        }
        out.push(b'{');
        let mut spans = Vec::with_capacity(row.len());
        for (i, ((col, fmt), v)) in self.info.columns.iter().zip(&self.formats).zip(row).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&col.key_json);
            let start = out.len();
            write_value(out, text(v), *fmt);
            spans.push(start..out.len());
        }
        out.push(b'}');
        let key = self.info.primary_key.iter().map(|&i| literal(&String::from_utf8_lossy(text(&row[i]).unwrap_or_default()), self.formats[i])).collect();
        (key, spans)
    }
}

/// The user's `where` as one parenthesised condition (none when blank).
fn user_filter(where_clause: Option<&str>) -> Option<String> {
    where_clause.filter(|w| !w.trim().is_empty()).map(|w| format!("({w})"))
}

/// One value's JSON (text protocol bytes; `None` is SQL NULL).
pub fn write_value(out: &mut Vec<u8>, text: Option<&[u8]>, fmt: Fmt) {
    let Some(b) = text else {
        out.extend_from_slice(b"null");
        return;
    };
    match fmt {
        Fmt::Number => out.extend_from_slice(b),
        Fmt::Bit => {
            let n = b.iter().fold(0u64, |n, &x| (n << 8) | x as u64);
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Fmt::Binary | Fmt::FixedBinary => {
            let b = if fmt == Fmt::FixedBinary { &b[..b.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1)] } else { b };
            out.push(b'"');
            out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(b).as_bytes());
            out.push(b'"');
        }
        Fmt::Set => {
            let s = String::from_utf8_lossy(b);
            out.push(b'[');
            for (i, label) in s.split(',').filter(|l| !l.is_empty()).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(out, label);
            }
            out.push(b']');
        }
        Fmt::Json => match serde_json::from_slice::<serde_json::Value>(b) {
            Ok(v) => serde_json::to_writer(&mut *out, &v).expect("writing to a Vec"),
            Err(_) => write_json_str(out, &String::from_utf8_lossy(b)),
        },
        Fmt::Geometry => crate::binlog::wkt::write_geometry(out, b),
        Fmt::Text => write_json_str(out, &String::from_utf8_lossy(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(cols: &[(&str, Fmt)], pk: &[usize]) -> Shape {
        let columns = cols.iter().map(|(n, _)| Column { name: n.to_string(), key_json: format!("\"{n}\":").into_bytes(), kind: ColKind::Year }).collect();
        let info = TableInfo { table_id: 0, database: "d".into(), table: "t".into(), columns, primary_key: pk.to_vec(), head_json: Vec::new(), excluded: Vec::new() };
        Shape { info: Arc::new(info), formats: cols.iter().map(|c| c.1).collect() }
    }

    #[test]
    fn chunks_follow_the_key_and_the_users_where() {
        let s = shape(&[("a", Fmt::Number), ("b", Fmt::Text), ("g", Fmt::Geometry)], &[0, 1]);
        assert_eq!(s.chunk_sql(None, None, 10), "SELECT `a`, `b`, `g` FROM `d`.`t` ORDER BY `a`, `b` LIMIT 10");
        assert_eq!(s.count_sql(Some(" ")), "SELECT COUNT(*) FROM `d`.`t`");
        assert_eq!(s.count_sql(Some("a < 100")), "SELECT COUNT(*) FROM `d`.`t` WHERE (a < 100)");
        let last = vec!["5".to_string(), "'x\\'y'".to_string()];
        assert_eq!(
            s.chunk_sql(Some(&last), Some("a < 100"), 10),
            "SELECT `a`, `b`, `g` FROM `d`.`t` WHERE ((`a` > 5) OR (`a` = 5 AND `b` > 'x\\'y')) AND (a < 100) ORDER BY `a`, `b` LIMIT 10"
        );
    }

    #[test]
    fn values_are_written_as_the_binlog_path_writes_them() {
        let s = shape(&[("id", Fmt::Number), ("s", Fmt::Text), ("bin", Fmt::Binary), ("bits", Fmt::Bit), ("tags", Fmt::Set), ("j", Fmt::Json), ("n", Fmt::Text)], &[0]);
        let row = vec![
            Value::Bytes(b"42".to_vec()),
            Value::Bytes("it's \"q\"".as_bytes().to_vec()),
            Value::Bytes(vec![0, 255]),
            Value::Bytes(vec![1, 2]),
            Value::Bytes(b"a,c".to_vec()),
            Value::Bytes(br#"{"k": [1, 2]}"#.to_vec()),
            Value::NULL,
        ];
        let mut out = Vec::new();
        let (key, spans) = s.write_data(&mut out, &row);
        let key_json = vec![out[spans[0].clone()].to_vec()];
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"id":42,"s":"it's \"q\"","bin":"AP8=","bits":258,"tags":["a","c"],"j":{"k":[1,2]},"n":null}"#);
        assert_eq!((key, key_json), (vec!["42".to_string()], vec![b"42".to_vec()]));
        assert_eq!(literal("it's \\", Fmt::Text), "'it\\'s \\\\'");
        assert_eq!(literal("1 OR 1=1", Fmt::Number), "'1 OR 1=1'", "a number column's value that is not a number is quoted");
    }
}
