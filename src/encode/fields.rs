//! Newer Maxwell's field options: the names `output_naming_strategy` gives a row's fields, and
//! the `push_ts` field `output_push_timestamp` stamps on a row as it is handed to the producer.
//!
//! Invariants:
//! - With `underscore_to_camelcase` every field name of a row is camel case, as Maxwell's
//!   `FieldNameStrategy` writes it (`server_id` → `serverId`); column names are renamed once
//!   per table (the `TableInfo`'s keys), field names here. DDL records keep their names.
//! - `push_ts` is the time the sink hands the row on, seconds since the epoch with
//!   microseconds, written as Maxwell's `BigDecimal` is: trailing zeros dropped, at least one
//!   decimal (`1700000000.5`, `1700000000.0`). It sits where Maxwell puts it: after the
//!   transaction and position fields (`schema_id`, and this project's `resume_position`),
//!   before `primary_key`, `data` and anything a script added. A DDL record gets none.

use crate::config::NamingStrategy;
use std::time::{SystemTime, UNIX_EPOCH};

/// `name` (a snake-case field name, with its quotes) as `naming` writes it.
pub fn name(naming: NamingStrategy, snake: &'static str, camel: &'static str) -> &'static str {
    match naming {
        NamingStrategy::None => snake,
        NamingStrategy::CamelCase => camel,
    }
}

/// `t` as Maxwell writes `push_ts`.
pub fn push_ts_text(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let micros = d.subsec_micros();
    let frac = format!("{micros:06}");
    let frac = frac.trim_end_matches('0');
    format!("{}.{}", d.as_secs(), if frac.is_empty() { "0" } else { frac })
}

/// Appends `,"push_ts":<t>` (named by `naming`).
pub fn write_push_ts(out: &mut Vec<u8>, naming: NamingStrategy, t: SystemTime) {
    out.extend_from_slice(name(naming, ",\"push_ts\":", ",\"pushTs\":").as_bytes());
    out.extend_from_slice(push_ts_text(t).as_bytes());
}

/// The top-level fields that come before `push_ts` (either naming).
const BEFORE_PUSH_TS: &[&str] = &[
    "database", "table", "query", "type", "ts", "xid", "xoffset", "commit", "position", "gtid", "server_id", "serverId", "thread_id", "threadId", "schema_id", "schemaId",
    "resume_position", "resumePosition",
];

/// `line` (one row's JSON object, no newline) with `push_ts` = `t` put in its place; `None`
/// when the line is not a row's object (a DDL record, an `encrypt=all` record, text that is
/// not a JSON object).
pub fn stamp(line: &[u8], naming: NamingStrategy, t: SystemTime) -> Option<Vec<u8>> {
    if !line.starts_with(b"{\"database\":") {
        return None;
    }
    let at = insertion_point(line)?;
    let mut out = Vec::with_capacity(line.len() + 32);
    out.extend_from_slice(&line[..at]);
    write_push_ts(&mut out, naming, t);
    out.extend_from_slice(&line[at..]);
    Some(out)
}

/// Offset of the `,` (or the closing `}`) before the first top-level field that comes after
/// `push_ts`.
fn insertion_point(line: &[u8]) -> Option<usize> {
    let mut i = 1; // after '{'
    loop {
        // At a key (first field) or at the ',' before one.
        let field_start = i;
        if line.get(i) == Some(&b',') {
            i += 1;
        }
        match line.get(i)? {
            b'}' => return Some(i),
            b'"' => {}
            _ => return None,
        }
        let key_end = string_end(line, i)?;
        let key = std::str::from_utf8(&line[i + 1..key_end - 1]).ok()?;
        if !BEFORE_PUSH_TS.contains(&key) {
            return Some(field_start);
        }
        i = key_end;
        if line.get(i) != Some(&b':') {
            return None;
        }
        i = value_end(line, i + 1)?;
    }
}

/// The offset after the JSON string starting at `i` (a `"`).
fn string_end(line: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        match line.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// The offset after the JSON value starting at `i`.
fn value_end(line: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        match line.get(i)? {
            b'"' => i = string_end(line, i)?,
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' if depth == 0 => return Some(i),
            b'}' | b']' => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b',' if depth == 0 => return Some(i),
            _ => i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, micros: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros)
    }

    #[test]
    fn push_ts_is_written_as_maxwells_big_decimal() {
        assert_eq!(push_ts_text(at(1_700_000_000, 123_456)), "1700000000.123456");
        assert_eq!(push_ts_text(at(1_700_000_000, 500_000)), "1700000000.5");
        assert_eq!(push_ts_text(at(1_700_000_000, 0)), "1700000000.0");
        assert_eq!(push_ts_text(at(1_700_000_000, 120)), "1700000000.00012");
        // Nanoseconds are truncated to microseconds, as Maxwell's Instant is.
        assert_eq!(push_ts_text(at(1_700_000_000, 7) + Duration::from_nanos(999)), "1700000000.000007");
    }

    #[test]
    fn push_ts_goes_after_the_transaction_fields() {
        let t = at(1_700_000_000, 250_000);
        let n = NamingStrategy::None;
        let row = br#"{"database":"d","table":"t","type":"insert","ts":5,"xid":9,"commit":true,"server_id":1,"thread_id":8,"schema_id":3,"primary_key":[1],"data":{"id":1}}"#;
        assert_eq!(
            String::from_utf8(stamp(row, n, t).unwrap()).unwrap(),
            r#"{"database":"d","table":"t","type":"insert","ts":5,"xid":9,"commit":true,"server_id":1,"thread_id":8,"schema_id":3,"push_ts":1700000000.25,"primary_key":[1],"data":{"id":1}}"#
        );
        // A query that looks like fields, a position and a script's attribute.
        let row = br#"{"database":"d","table":"t","query":"x,\"data\":{\"a\":1}","type":"delete","ts":5,"position":"b.1:4","gtid":"0-1-2","resume_position":"b.1:9","extra":{"a":[1,{"b":2}]},"data":{"id":1}}"#;
        let out = String::from_utf8(stamp(row, n, t).unwrap()).unwrap();
        assert!(out.contains(r#""resume_position":"b.1:9","push_ts":1700000000.25,"extra":"#), "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["push_ts"].as_f64(), Some(1_700_000_000.25));
        // Camel case names.
        let row = br#"{"database":"d","table":"t","type":"insert","ts":5,"serverId":1,"data":{"aB":1}}"#;
        assert_eq!(String::from_utf8(stamp(row, NamingStrategy::CamelCase, t).unwrap()).unwrap(), r#"{"database":"d","table":"t","type":"insert","ts":5,"serverId":1,"pushTs":1700000000.25,"data":{"aB":1}}"#);
        // Not rows: a DDL record, an encrypt=all record.
        assert_eq!(stamp(br#"{"type":"table-create","database":"d","table":"t","ts":1,"sql":"x"}"#, n, t), None);
        assert_eq!(stamp(br#"{"encrypted":{"iv":"a","bytes":"b"}}"#, n, t), None);
        // Nothing after the head fields: before the closing brace.
        assert_eq!(String::from_utf8(stamp(br#"{"database":"d","table":"t","ts":1}"#, n, t).unwrap()).unwrap(), r#"{"database":"d","table":"t","ts":1,"push_ts":1700000000.25}"#);
    }
}
