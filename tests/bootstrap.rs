//! Bootstrap on the real services: a table of 1 000 000 rows (written with the binlog off, so
//! only the bootstrap can bring them) is bootstrapped by a two-node exactly-once cluster
//! while a writer changes the table, and the leader is killed (-9) mid-bootstrap. Everything
//! is read back by an independent consumer (Python confluent-kafka, read_committed):
//! every existing row exactly once as `bootstrap-insert`, `bootstrap-start` and
//! `bootstrap-complete` once, every live change exactly once and in commit order per row.

mod common;

use common::cluster::*;
use common::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROWS: u64 = 1_000_000;

/// The leader's running bootstrap, from its /api/status: rows sent.
fn bootstrap_rows(http: u16) -> Option<u64> {
    let (_, body) = http_get(http, "/api/status")?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["bootstrap"]["rows"].as_u64()
}

/// `maxwell-cli` on the test source with the cluster's `schema_database`.
fn cli(schema: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_maxwell-cli"))
        .args(["--set", "host=127.0.0.1", "--set", &format!("port={}", mysql_port()), "--set", "user=root", "--set", &format!("schema_database={schema}")])
        .args(args)
        .output()
        .unwrap()
}

/// Creates `db.table` with `columns` and fills it from `select`, with the binlog off (only a
/// bootstrap can bring these rows).
async fn table_without_binlog(c: &mut mysql_async::Conn, db: &str, table: &str, columns: &str, select: &str) {
    exec(c, "SET SESSION sql_log_bin = 0").await;
    exec(c, &format!("CREATE TABLE {db}.{table} ({columns})")).await;
    exec(c, &format!("INSERT INTO {db}.{table} {select}")).await;
    exec(c, "SET SESSION sql_log_bin = 1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bootstrap_of_a_million_rows_survives_a_leader_kill() {
    let tag = unique("boot");
    let (topic, db) = setup(&tag, 3).await;
    let schema = format!("{tag}_mx");
    let mut c = conn().await;
    let columns = "id BIGINT PRIMARY KEY, v BIGINT, s VARCHAR(32), at DATETIME(3), ver INT NOT NULL DEFAULT 0";
    table_without_binlog(&mut c, &db, "big", columns, &format!("SELECT seq, seq * 7, CONCAT('row-', seq), '2026-01-02 03:04:05.678', 0 FROM {db}.seq_1_to_{ROWS}")).await;

    let mut cl = Cluster::new(&tag, &topic, &db);
    cl.extra = vec![format!("--schema_database={schema}"), "--bootstrap_chunk_rows=5000".into()];
    cl.start("a", None);
    let (first, _) = cl.wait_leader(None, Duration::from_secs(30)).await;
    cl.wait_committed().await;
    cl.start("b", None);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Live changes all along: an update of a random existing row (ver + 1) and an insert of a
    // new row, one transaction each.
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, db2) = (stop.clone(), db.clone());
    let writer = tokio::spawn(async move {
        let mut c = conn().await;
        let mut vers: BTreeMap<u64, u64> = BTreeMap::new();
        let mut next_new = ROWS + 1;
        let mut x: u64 = 88172645463325252;
        while !s2.load(Ordering::Relaxed) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = 1 + x % ROWS;
            exec(&mut c, &format!("UPDATE {db2}.big SET ver = ver + 1, v = v + 1 WHERE id = {id}")).await;
            *vers.entry(id).or_default() += 1;
            exec(&mut c, &format!("INSERT INTO {db2}.big VALUES ({next_new}, 0, 'live', NOW(3), 0)")).await;
            next_new += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (vers, next_new - 1)
    });

    let out = cli(&schema, &["bootstrap", "--database", &db, "--table", "big"]);
    assert!(out.status.success(), "maxwell-cli bootstrap: {}", String::from_utf8_lossy(&out.stderr));
    let requested = Instant::now();

    // Kill the leader once it has sent 300 000 rows of the bootstrap.
    let http = cl.node(&first).http;
    loop {
        if bootstrap_rows(http).is_some_and(|n| n >= 300_000) {
            break;
        }
        assert!(requested.elapsed() < Duration::from_secs(120), "the bootstrap did not reach 300 000 rows\n{}", cl.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal(cl.node(&first).child.id(), "KILL");
    let killed = Instant::now();
    let (next, _) = cl.wait_leader(Some(&first), Duration::from_secs(SESSION_MS / 1000 + 20)).await;
    // The new leader continues and completes it; then a few more live changes.
    loop {
        let mut m = conn().await;
        let done: Option<u8> = mysql_async::prelude::Queryable::query_first(&mut m, format!("SELECT is_complete FROM {schema}.bootstrap")).await.unwrap();
        if done == Some(1) {
            break;
        }
        assert!(killed.elapsed() < Duration::from_secs(180), "the bootstrap did not complete after the takeover\n{}", cl.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let took = requested.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let (vers, last_new) = writer.await.unwrap();
    let _ = next;

    let out = kafka_tool(&["bootstrap-check", &topic, "big", "240"]);
    assert!(out.status.success(), "bootstrap-check: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds = &v["kinds"];
    eprintln!("bootstrap of {ROWS} rows with a kill -9 after 300 000: {:.1} s from request to complete; kinds {kinds}; new rows up to {last_new}", took.as_secs_f64());
    assert_eq!(kinds["bootstrap-start"], 1, "bootstrap-start once");
    assert_eq!(kinds["bootstrap-complete"], 1, "bootstrap-complete once");
    assert_eq!(v["repeated_count"], 0, "bootstrap-insert rows sent twice: {}", v["repeated"]);
    let ids = v["insert_ids"].as_u64().unwrap();
    assert!(ids >= ROWS && v["insert_max_id"].as_u64().unwrap() >= ROWS, "{ids} distinct bootstrap-insert rows, expected every one of the {ROWS}");
    // ids above ROWS are live inserts the chunks also read: at most the ones written.
    assert!(ids <= last_new, "{ids} bootstrap-insert rows but only {last_new} rows exist");
    // Live updates: each exactly once, in commit order per row.
    let mut seen: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for u in v["updates"].as_array().unwrap() {
        seen.entry(u[0].as_u64().unwrap()).or_default().push(u[1].as_u64().unwrap());
    }
    for (id, n) in &vers {
        let expected: Vec<u64> = (1..=*n).collect();
        assert_eq!(seen.get(id), Some(&expected), "live updates of row {id}: versions in the order they arrived");
    }
    assert_eq!(seen.len(), vers.len(), "updates of rows nobody updated");
    cl.stop_all();
}

/// Every value a bootstrap reads (text protocol) comes out as the binlog path writes the same
/// row: the same table's rows, inserted (binlog) and then bootstrapped, compared field by field.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bootstrap_rows_match_the_binlog_rows() {
    let tag = unique("bootv");
    let (topic, db) = setup(&tag, 1).await;
    let schema = format!("{tag}_mx");
    let mut c = conn().await;
    exec(
        &mut c,
        &format!(
            "CREATE TABLE {db}.types (id INT PRIMARY KEY, ti TINYINT, us SMALLINT UNSIGNED, mi MEDIUMINT, bi BIGINT, ubi BIGINT UNSIGNED,
             de DECIMAL(20,6), de0 DECIMAL(10,0), f FLOAT, d DOUBLE, b1 BIT(1), b12 BIT(12), dt DATE, dtm DATETIME, dtm3 DATETIME(3),
             ts TIMESTAMP NULL, ts6 TIMESTAMP(6) NULL, tm TIME, tm3 TIME(3), y YEAR, ch CHAR(5), vc VARCHAR(100), l1 VARCHAR(20) CHARACTER SET latin1,
             bn BINARY(3), vb VARBINARY(10), tx TEXT, bl BLOB, en ENUM('a','b','c'), st SET('x','y','z'), js JSON, pt POINT)"
        ),
    )
    .await;
    let mut cl = Cluster::new(&tag, &topic, &db);
    cl.extra = vec![format!("--schema_database={schema}")];
    cl.start("a", None);
    cl.wait_leader(None, Duration::from_secs(30)).await;
    cl.wait_committed().await;
    let rows = [
        "(1, -128, 0, -8388608, -9223372036854775808, 0, -99999999999999.999999, -9999999999, -1.5, -1.7976931348623157e308, b'0', b'0',
          '1000-01-01', '1000-01-01 00:00:00', '1000-01-01 00:00:00.000', '1970-01-01 00:00:01', '1970-01-01 00:00:01.000001', '-838:59:59', '-838:59:59.000',
          1901, '', '', '', x'000000', x'', '', x'', 'a', '', '{}', ST_GeomFromText('POINT(-180 -90)'))",
        "(2, 127, 65535, 8388607, 9223372036854775807, 18446744073709551615, 99999999999999.999999, 9999999999, 3.25, 2.5e-300, b'1', b'111111111111',
          '9999-12-31', '9999-12-31 23:59:59', '2026-12-02 11:30:00.123', '2038-01-19 03:14:07', '2026-12-02 11:30:00.654321', '838:59:59', '12:34:56.789',
          2155, 'abcde', 'é€😀 \"quoted\" \\\\ back', 'Ünïcödé', x'ff00ff', x'00ff10', 'line1\\nline2', x'deadbeef', 'c', 'x,z',
          '{\"a\": [1, 2.5, \"s\", null, true], \"b\": {\"c\": -1}}', ST_GeomFromText('POINT(1.5 2.25)'))",
        "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    ];
    for r in rows {
        exec(&mut c, &format!("INSERT INTO {db}.types VALUES {r}")).await;
    }
    let out = cli(&schema, &["bootstrap", "--database", &db, "--table", "types", "--comment", "check"]);
    assert!(out.status.success(), "maxwell-cli bootstrap: {}", String::from_utf8_lossy(&out.stderr));
    let msgs = consume(std::slice::from_ref(&topic), 3 + 3 + 2, 60, "database", "default");
    let data = |kind: &str| -> BTreeMap<i64, serde_json::Value> {
        msgs.iter().filter(|m| m["value"]["type"] == kind).map(|m| (m["value"]["data"]["id"].as_i64().unwrap(), m["value"]["data"].clone())).collect()
    };
    let (inserted, booted) = (data("insert"), data("bootstrap-insert"));
    assert_eq!(inserted.len(), 3, "{msgs:?}");
    assert_eq!(booted.len(), 3, "bootstrap-insert rows: {msgs:?}\n{}", cl.logs());
    let mut diffs = Vec::new();
    for (id, row) in &inserted {
        for (col, v) in row.as_object().unwrap() {
            let b = &booted[id][col];
            if b != v {
                diffs.push(format!("row {id} {col}: binlog {v} bootstrap {b}"));
            }
        }
    }
    assert!(diffs.is_empty(), "bootstrap values differ from the binlog's:\n{}", diffs.join("\n"));
    let start = msgs.iter().find(|m| m["value"]["type"] == "bootstrap-start").expect("bootstrap-start");
    assert_eq!(start["value"]["comment"], "check");
    assert_eq!(start["value"]["data"], serde_json::json!({}));
    assert!(msgs.iter().any(|m| m["value"]["type"] == "bootstrap-complete"));
    cl.stop_all();
}

/// A throttled bootstrap cancelled from the status page's action stops at its next chunk without
/// `bootstrap-complete`; another table streams on while it runs (`bootstrapper=async`), and the
/// change of the bootstrapped table held meanwhile arrives after the cancel, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_bootstrap_stops_and_the_stream_goes_on() {
    let tag = unique("bootc");
    let (topic, db) = setup(&tag, 1).await;
    let schema = format!("{tag}_mx");
    let mut c = conn().await;
    table_without_binlog(&mut c, &db, "slow", "id INT PRIMARY KEY, v INT", &format!("SELECT seq, seq FROM {db}.seq_1_to_50000")).await;
    let mut cl = Cluster::new(&tag, &topic, &db);
    cl.extra = vec![
        format!("--schema_database={schema}"),
        "--bootstrap_chunk_rows=500".into(),
        "--bootstrap_rows_per_second=2000".into(),
        "--http_admin_token=tok".into(),
    ];
    cl.start("a", None);
    cl.wait_leader(None, Duration::from_secs(30)).await;
    cl.wait_committed().await;
    let cli = |args: &[&str]| cli(&schema, args);
    let out = cli(&["bootstrap", "--database", &db, "--table", "slow"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let http = cl.node("a").http;
    let t0 = Instant::now();
    while bootstrap_rows(http).is_none_or(|n| n < 2000) {
        assert!(t0.elapsed() < Duration::from_secs(30), "the bootstrap did not start\n{}", cl.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A live row of another table and a held change of the bootstrapped one, then the cancel.
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (1, 'live')")).await;
    exec(&mut c, &format!("UPDATE {db}.slow SET v = -1 WHERE id = 1")).await;
    // The status page's cancel button: refused without the token, done with it.
    let (code, text) = http_post(http, "/api/bootstrap/cancel", &[], r#"{"id":1}"#).unwrap();
    assert_eq!(code, 401, "{text}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(bootstrap_rows(http).is_some(), "a refused cancel leaves the bootstrap running");
    let (code, text) = http_post(http, "/api/bootstrap/cancel", &["Authorization: Bearer tok"], r#"{"id":1}"#).unwrap();
    assert_eq!(code, 202, "cancel: {text}");
    assert_eq!(cli(&["bootstrap", "--cancel", "1"]).status.code(), Some(1), "nothing left to cancel");
    assert_eq!(http_post(http, "/api/bootstrap/cancel", &["Authorization: Bearer tok"], r#"{"id":1}"#).unwrap().0, 404);
    let msgs = consume(std::slice::from_ref(&topic), 2003, 30, "database", "default");
    let kinds = |k: &str| msgs.iter().filter(|m| m["value"]["type"] == k).count();
    assert_eq!(kinds("insert"), 1, "the live row of another table, once");
    let update = msgs.iter().position(|m| m["value"]["type"] == "update").unwrap_or_else(|| panic!("the held update was lost\n{}", cl.logs()));
    assert_eq!((kinds("update"), &msgs[update]["value"]["data"]["v"]), (1, &serde_json::json!(-1)), "the held update, once");
    let last_insert = msgs.iter().rposition(|m| m["value"]["type"] == "bootstrap-insert").unwrap();
    assert!(last_insert < update, "the held update after the bootstrap's rows");
    assert_eq!((kinds("bootstrap-start"), kinds("bootstrap-complete")), (1, 0));
    let sent = kinds("bootstrap-insert");
    assert!((2000..50_000).contains(&sent), "{sent} rows sent before the cancel");
    cl.stop_all();
}
