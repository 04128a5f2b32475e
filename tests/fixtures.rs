//! Maxwell's own JSON conformance fixtures, run against the real MariaDB through the real
//! `maxwell` binary with `producer=stdout`.
//!
//! The files are read by path from `../shared/maxwell-fixtures/` (override with
//! `MAXWELL_FIXTURES`). Pass rule (that folder's README): drop `ts`, `xid`, `xoffset`,
//! `commit` from every emitted row; every expected row must equal one of them, numbers
//! compared by value. Expectations MariaDB cannot produce are listed in [`MARIADB_CANNOT`]
//! with the reason, and are checked to still fail (so the list cannot go stale).

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// (file, expected-row substring, reason). Empty: MariaDB meets every expectation.
const MARIADB_CANNOT: &[(&str, &str, &str)] = &[];

fn fixtures_dir() -> PathBuf {
    std::env::var_os("MAXWELL_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/maxwell-fixtures"))
}

struct Fixture {
    statements: Vec<String>,
    expected: Vec<(String, Value)>,
}

/// Quotes bare object keys (`{database: "x"}` → `{"database": "x"}`), leaving strings alone.
fn relaxed_json(s: &str) -> Value {
    let mut out = String::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut expect_key = false;
    while i < b.len() {
        let c = b[i];
        if c == '"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            out.extend(&b[start..=i.min(b.len() - 1)]);
            i += 1;
            expect_key = false;
            continue;
        }
        if c == '{' || c == ',' {
            expect_key = true;
            out.push(c);
        } else if expect_key && (c.is_alphabetic() || c == '_') {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            let word: String = b[start..i].iter().collect();
            let mut j = i;
            while j < b.len() && b[j].is_whitespace() {
                j += 1;
            }
            if j < b.len() && b[j] == ':' {
                out.push_str(&format!("\"{word}\""));
            } else {
                out.push_str(&word);
            }
            expect_key = false;
            continue;
        } else if !c.is_whitespace() {
            expect_key = false;
            out.push(c);
        } else {
            out.push(c);
        }
        i += 1;
    }
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad expectation {s}: {e}"))
}

fn parse_fixture(text: &str) -> Fixture {
    let mut statements: Vec<String> = Vec::new();
    let mut expected = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(j) = t.strip_prefix("->") {
            expected.push((j.trim().to_string(), relaxed_json(j.trim())));
        } else if line.starts_with(char::is_whitespace) && !statements.is_empty() {
            let last = statements.last_mut().unwrap();
            last.push(' ');
            last.push_str(t);
        } else {
            statements.push(t.to_string());
        }
    }
    Fixture { statements, expected }
}

fn strip(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for k in ["ts", "xid", "xoffset", "commit"] {
            o.remove(k);
        }
    }
    v
}

/// JSON equality with numbers compared by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_u64(), y.as_u64(), x.as_i64(), y.as_i64()) {
            (Some(p), Some(q), _, _) => p == q,
            (_, _, Some(p), Some(q)) => p == q,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w))),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w)),
        _ => a == b,
    }
}

/// Names the fixture creates, so a re-run starts clean.
fn cleanup_statements(f: &Fixture) -> Vec<String> {
    let db_re = regex::Regex::new(r"(?i)^create\s+database\s+(?:if\s+not\s+exists\s+)?`?(\w+)`?").unwrap();
    let tbl_re = regex::Regex::new(r"(?i)^create\s+table\s+(?:if\s+not\s+exists\s+)?`?(\w+)`?\s*(?:\(|like)").unwrap();
    let use_re = regex::Regex::new(r"(?i)^use\s+`?(\w+)`?").unwrap();
    let mut out = Vec::new();
    let mut db = String::from("test");
    for s in &f.statements {
        if let Some(c) = db_re.captures(s) {
            out.push(format!("DROP DATABASE IF EXISTS `{}`", &c[1]));
        } else if let Some(c) = use_re.captures(s) {
            db = c[1].to_string();
        } else if let Some(c) = tbl_re.captures(s) {
            out.push(format!("DROP TABLE IF EXISTS `{db}`.`{}`", &c[1]));
        }
    }
    out
}

/// Runs a fixture file with the source at `metadata` (`binlog_row_metadata`). At FULL the
/// node starts after the statements ran and replays them (TABLE_MAPs name the columns). At
/// NO_LOG (MariaDB's default) it runs while they run, as it would in production: it captures
/// the schema at start and follows the file's DDL with its schema history.
async fn run_fixture(name: &str, metadata: &str) -> (Vec<(String, Value)>, Vec<Value>) {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    let fx = parse_fixture(&text);
    assert!(!fx.expected.is_empty(), "{name}: no expectations parsed");
    let minimal = name == "test_minimal";
    let mut admin = conn().await;
    exec(&mut admin, "CREATE DATABASE IF NOT EXISTS test").await;
    exec(&mut admin, "CREATE DATABASE IF NOT EXISTS maxwell_it").await;
    exec(&mut admin, "CREATE TABLE IF NOT EXISTS maxwell_it.marker (id BIGINT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(64))").await;
    for s in cleanup_statements(&fx) {
        exec(&mut admin, &s).await;
    }
    exec(&mut admin, &format!("SET GLOBAL binlog_row_image='{}'", if minimal { "MINIMAL" } else { "FULL" })).await;
    exec(&mut admin, &format!("SET GLOBAL binlog_row_metadata='{metadata}'")).await;
    let start = master_position(&mut admin).await;
    let live = metadata != "FULL";
    let mut mx = None;
    if live {
        // Started before the statements run, at a position before its marker: once the
        // marker is out, the node has captured the schema and is streaming.
        let ready = format!("{name}-ready-{}", std::process::id());
        exec(&mut admin, &format!("INSERT INTO maxwell_it.marker (tag) VALUES ('{ready}')")).await;
        let mut node = spawn_maxwell(&[format!("--init_position={start}"), "--producer=stdout".into()]);
        let seen = node.read_until(Duration::from_secs(60), |v| v["table"] == "marker" && v["data"]["tag"] == ready.as_str());
        assert!(seen.iter().any(|v| v["data"]["tag"] == ready.as_str()), "{name} at {metadata}: the node never streamed: {}", node.stderr());
        mx = Some(node);
    }
    {
        // A fresh connection so the session picks up the global row image.
        let mut c = conn().await;
        exec(&mut c, "USE test").await;
        for s in &fx.statements {
            exec(&mut c, s).await;
        }
        let _ = c.disconnect().await;
    }
    exec(&mut admin, "SET GLOBAL binlog_row_image='FULL'").await;
    exec(&mut admin, "SET GLOBAL binlog_row_metadata='FULL'").await;
    exec(&mut admin, "SET GLOBAL time_zone='SYSTEM'").await;
    let tag = format!("{name}-{}", std::process::id());
    exec(&mut admin, &format!("INSERT INTO maxwell_it.marker (tag) VALUES ('{tag}')")).await;
    let mut mx = mx.unwrap_or_else(|| spawn_maxwell(&[format!("--init_position={start}"), "--producer=stdout".into()]));
    let rows = mx.read_until(Duration::from_secs(60), |v| v["table"] == "marker" && v["data"]["tag"] == tag.as_str());
    let (status, _, err) = mx.terminate();
    assert!(status.success(), "maxwell exited with {status}: {err}");
    let _ = admin.disconnect().await;
    (fx.expected, rows.iter().filter(|r| r["table"] != "marker").map(strip).collect())
}

async fn check(name: &str, metadata: &str) -> Option<String> {
    let (expected, got) = run_fixture(name, metadata).await;
    let mut failures = Vec::new();
    for (text, exp) in &expected {
        let exp = strip(exp);
        let ok = got.iter().any(|g| same(g, &exp));
        let waived = MARIADB_CANNOT.iter().find(|(f, sub, _)| *f == name && text.contains(sub));
        match (ok, waived) {
            (true, None) => {}
            (false, Some(_)) => {}
            (true, Some((_, _, why))) => failures.push(format!("listed as impossible on MariaDB ({why}) but now passes: {text}")),
            (false, None) => failures.push(format!("expected row not emitted: {text}")),
        }
    }
    (!failures.is_empty()).then(|| {
        format!(
            "{name} (binlog_row_metadata={metadata}):\n  {}\nemitted rows:\n  {}",
            failures.join("\n  "),
            got.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n  ")
        )
    })
}

/// Every file in the fixtures folder has a test below; a new file fails this test.
#[test]
fn every_fixture_file_is_covered() {
    let covered = [
        "test_1j", "test_bignum", "test_bit", "test_blob", "test_charsets", "test_create_like", "test_enum", "test_json", "test_minimal", "test_set", "test_time",
    ];
    let dir = fixtures_dir();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixtures folder {} missing: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("test_"))
        .collect();
    files.sort();
    assert_eq!(files, covered.to_vec(), "fixture files and tests differ");
}

#[test]
fn relaxed_json_quotes_bare_keys_only() {
    let v = relaxed_json(r#"{database:"a", table: "t", data: {"id": 1, s: "x: y, z: w"}}"#);
    assert_eq!(v["data"]["s"], "x: y, z: w");
    assert_eq!(v["table"], "t");
    assert!(same(&serde_json::json!(1.5), &serde_json::json!(1.5)));
    assert!(same(&serde_json::json!(18446744073709551615u64), &serde_json::json!(18446744073709551615u64)));
    assert!(!same(&serde_json::json!({"a": 1}), &serde_json::json!({"a": 2})));
}

// The fixtures share server-global settings (row image, row metadata, time zone), so they run
// one at a time inside a single test: every file at FULL, then every file at NO_LOG.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxwell_fixtures() {
    let mut failures = Vec::new();
    for (metadata, name) in ["FULL", "NO_LOG"].into_iter().flat_map(|m| [
        "test_1j", "test_bignum", "test_bit", "test_blob", "test_charsets", "test_create_like", "test_enum", "test_json", "test_minimal", "test_set", "test_time",
    ].map(move |n| (m, n))) {
        if let Some(f) = check(name, metadata).await {
            failures.push(f);
        }
    }
    assert!(failures.is_empty(), "{} fixture file(s) failed:\n{}", failures.len(), failures.join("\n"));
}
