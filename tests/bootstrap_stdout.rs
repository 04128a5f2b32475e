//! Bootstrap with `producer=stdout` on the real MariaDB (issue 27), as Maxwell's quickstart
//! does it: a node alone printing to stdout is asked for a bootstrap with `maxwell-cli
//! bootstrap` and prints `bootstrap-start`, every existing row as `bootstrap-insert` (rows
//! written with the binlog off, so only the bootstrap can bring them), `bootstrap-complete`,
//! and marks the bootstrap done in `schema_database`'s `bootstrap` table.
//!
//! Live changes made while it runs: with the default `bootstrapper=async`, another table's
//! insert arrives while the bootstrap runs (between `bootstrap-start` and
//! `bootstrap-complete`) and the bootstrapped table's updates wait until after
//! `bootstrap-complete`, in commit order, each once; with `sync` every live change waits.
//! A node stopped while `async` holds a table's changes resumes before them: none is lost.

mod common;

use common::*;
use mysql_async::prelude::Queryable;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const ROWS: u64 = 30_000;

/// `maxwell-cli` on the test source with `schema_database` `schema` and `client_id` `client`.
fn cli(schema: &str, client: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_maxwell-cli"))
        .args(["--set", "host=127.0.0.1", "--set", &format!("port={}", mysql_port()), "--set", "user=root", "--set", &format!("schema_database={schema}")])
        .args(["--set", &format!("client_id={client}")])
        .args(args)
        .output()
        .unwrap()
}

fn kind(v: &serde_json::Value) -> &str {
    v["type"].as_str().unwrap_or("")
}

/// A database with a streamed table `t` and a table `big` of ROWS rows written with the binlog
/// off; a node alone printing to stdout from now with `args`, throttled so that changes made
/// during its bootstrap are made while it runs. Returns the database, `schema_database`, the
/// client id, the node and a connection.
async fn set_up(tag: &str, args: &[&str]) -> (String, String, String, Maxwell, mysql_async::Conn) {
    let (db, schema) = (format!("{tag}_db"), format!("{tag}_mx"));
    let mut c = conn().await;
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, v VARCHAR(40))")).await;
    exec(&mut c, "SET SESSION sql_log_bin = 0").await;
    exec(&mut c, &format!("CREATE TABLE {db}.big (id BIGINT PRIMARY KEY, v BIGINT, s VARCHAR(32))")).await;
    exec(&mut c, &format!("INSERT INTO {db}.big SELECT seq, seq * 7, CONCAT('row-', seq) FROM {db}.seq_1_to_{ROWS}")).await;
    exec(&mut c, "SET SESSION sql_log_bin = 1").await;
    // Its own client_id (a bootstrap is for one client), starting from now.
    let client = format!("{tag}_c");
    let mx = node(&db, &schema, &client, Some(current_position()), args);
    (db, schema, client, mx, c)
}

fn node(db: &str, schema: &str, client: &str, from: Option<String>, args: &[&str]) -> Maxwell {
    let mut a = vec![
        format!("--client_id={client}"),
        format!("--schema_database={schema}"),
        format!("--filter=exclude: *.*, include: {db}.*"),
        "--bootstrap_chunk_rows=1000".into(),
        "--bootstrap_rows_per_second=5000".into(),
    ];
    a.extend(from.map(|p| format!("--init_position={p}")));
    a.extend(args.iter().map(|s| s.to_string()));
    spawn_maxwell(&a)
}

/// Requests the bootstrap of `db`.big and reads until its first `bootstrap-insert`.
fn request(mx: &mut Maxwell, db: &str, schema: &str, client: &str) -> Vec<serde_json::Value> {
    let out = cli(schema, client, &["bootstrap", "--database", db, "--table", "big", "--comment", "from stdout"]);
    assert!(out.status.success(), "maxwell-cli bootstrap: {}", String::from_utf8_lossy(&out.stderr));
    mx.read_until(Duration::from_secs(60), |v| kind(v) == "bootstrap-insert")
}

async fn bootstraps_a_table(tag: &str, mode: &str) {
    let (db, schema, client, mut mx, mut c) = set_up(tag, &[&format!("--bootstrapper={mode}")]).await;
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (0, 'streaming')")).await;
    mx.read_until(Duration::from_secs(60), |v| v["table"] == "t" && kind(v) == "insert");

    let mut seen = request(&mut mx, &db, &schema, &client);
    // Live changes while it runs: another table's row, then two updates of the bootstrapped table.
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (1, 'live')")).await;
    exec(&mut c, &format!("UPDATE {db}.big SET v = -1 WHERE id = 1")).await;
    exec(&mut c, &format!("UPDATE {db}.big SET v = -2 WHERE id = 1")).await;
    seen.extend(mx.read_until(Duration::from_secs(120), |v| v["table"] == "big" && kind(v) == "update" && v["data"]["v"] == -2));
    let at = |what: &dyn Fn(&serde_json::Value) -> bool| seen.iter().position(what);

    let start = at(&|v| kind(v) == "bootstrap-start").expect("bootstrap-start");
    let complete = at(&|v| kind(v) == "bootstrap-complete").unwrap_or_else(|| panic!("no bootstrap-complete\n{}", mx.stderr()));
    assert_eq!(seen.iter().filter(|v| kind(v).starts_with("bootstrap-") && kind(v) != "bootstrap-insert").count(), 2, "one start, one complete");
    assert_eq!(seen[start]["comment"], "from stdout");
    assert_eq!((seen[start]["database"].as_str(), seen[start]["table"].as_str()), (Some(db.as_str()), Some("big")));
    let inserts: Vec<usize> = (0..seen.len()).filter(|&i| kind(&seen[i]) == "bootstrap-insert").collect();
    let ids: BTreeSet<u64> = inserts.iter().map(|&i| seen[i]["data"]["id"].as_u64().unwrap()).collect();
    assert_eq!((inserts.len() as u64, ids.len() as u64), (ROWS, ROWS), "every row once as bootstrap-insert");
    assert!(inserts.iter().all(|&i| start < i && i < complete), "bootstrap-insert between start and complete");
    let first = &seen[inserts[0]]["data"];
    assert_eq!(first["id"].as_u64(), Some(1));
    let live = at(&|v| v["table"] == "t" && v["data"]["id"] == 1).expect("the live insert");
    let updates: Vec<usize> = (0..seen.len()).filter(|&i| seen[i]["table"] == "big" && kind(&seen[i]) == "update").collect();
    let versions: Vec<i64> = updates.iter().map(|&i| seen[i]["data"]["v"].as_i64().unwrap()).collect();
    assert_eq!(versions, [-1, -2], "the table's live updates, each once, in commit order");
    if mode == "async" {
        // The other table streamed on; the bootstrapped table's changes waited.
        assert!(start < live && live < complete, "the live insert of another table while the bootstrap ran: start {start}, insert {live}, complete {complete}");
    } else {
        assert!(complete < live, "sync: the binlog waited: complete {complete}, insert {live}");
    }
    assert!(updates.iter().all(|&u| complete < u && live < u), "the table's updates after bootstrap-complete: complete {complete}, updates {updates:?}");

    // Marked done in the table once written.
    let t0 = Instant::now();
    loop {
        let row: Option<(u8, u64, u64)> = c.query_first(format!("SELECT is_complete, inserted_rows, total_rows FROM {schema}.bootstrap")).await.unwrap();
        if row.is_some_and(|r| r.0 == 1) {
            assert_eq!(row, Some((1, ROWS, ROWS)), "is_complete, inserted_rows, total_rows");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "bootstrap not marked complete: {row:?}\n{}", mx.stderr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The stream goes on after the held changes, unnarrowed.
    exec(&mut c, &format!("UPDATE {db}.big SET v = -3 WHERE id = 2")).await;
    let after = mx.read_until(Duration::from_secs(60), |v| v["table"] == "big" && v["data"]["v"] == -3);
    assert!(after.iter().any(|v| v["data"]["v"] == -3), "a change after the bootstrap: {after:?}\n{}", mx.stderr());
    let (status, rest, err) = mx.terminate();
    assert!(status.success(), "{err}");
    let rest: Vec<_> = after.iter().chain(&rest).collect();
    assert!(!rest.iter().any(|v| kind(v).starts_with("bootstrap-") || v["data"]["v"] == -1), "nothing of the bootstrap or the held changes twice: {rest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_writing_to_stdout_bootstraps_a_table() {
    bootstraps_a_table(&unique("boots"), "async").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrapper_sync_holds_the_whole_binlog() {
    bootstraps_a_table(&unique("bsync"), "sync").await;
}

/// A node alone keeps no bootstrap state: stopped while `async` holds the table's changes, it
/// stored the position where the hold began, so the next run reads them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopped_while_holding_a_tables_changes_loses_none() {
    let tag = unique("bhold");
    let (db, schema, client, mut mx, mut c) = set_up(&tag, &[]).await;
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (0, 'streaming')")).await;
    mx.read_until(Duration::from_secs(60), |v| v["table"] == "t" && kind(v) == "insert");
    request(&mut mx, &db, &schema, &client);
    exec(&mut c, &format!("UPDATE {db}.big SET v = -1 WHERE id = 1")).await;
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (1, 'live')")).await;
    let seen = mx.read_until(Duration::from_secs(60), |v| v["table"] == "t" && v["data"]["id"] == 1);
    assert!(seen.iter().all(|v| kind(v) != "bootstrap-complete"), "stopped while the bootstrap runs (throttled): {}", mx.stderr());
    let (status, rest, err) = mx.terminate();
    assert!(status.success(), "{err}");
    assert!(!seen.iter().chain(&rest).any(|v| kind(v) == "update"), "the held update was not printed before the stop");

    // From the stored position (no init_position): the bootstrap again, then the held update.
    let mut mx = node(&db, &schema, &client, None, &[]);
    let seen = mx.read_until(Duration::from_secs(120), |v| kind(v) == "update");
    let update = seen.iter().position(|v| kind(v) == "update").unwrap_or_else(|| panic!("the held update was lost: {}", mx.stderr()));
    assert_eq!(seen[update]["data"]["v"], -1);
    assert!(seen.iter().position(|v| kind(v) == "bootstrap-complete").is_some_and(|c| c < update), "after bootstrap-complete");
    let (status, _, err) = mx.terminate();
    assert!(status.success(), "{err}");
}

/// `output_naming_strategy=underscore_to_camelcase` names a bootstrap's rows as it names the
/// binlog's: `data` keys and `schema_id` in camel case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_rows_are_named_like_binlog_rows() {
    let tag = unique("bcamel");
    let (db, schema, client) = (format!("{tag}_db"), format!("{tag}_mx"), format!("{tag}_c"));
    let mut c = conn().await;
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.orders (order_id INT PRIMARY KEY, order_total INT)")).await;
    exec(&mut c, &format!("INSERT INTO {db}.orders VALUES (1, 5)")).await;
    let args = ["--output_naming_strategy=underscore_to_camelcase", "--output_schema_id=true"];
    let mut mx = node(&db, &schema, &client, Some(current_position()), &args);
    exec(&mut c, &format!("INSERT INTO {db}.orders VALUES (2, 6)")).await;
    let live = mx.read_until(Duration::from_secs(60), |v| kind(v) == "insert");
    let out = cli(&schema, &client, &["bootstrap", "--database", &db, "--table", "orders"]);
    assert!(out.status.success(), "maxwell-cli bootstrap: {}", String::from_utf8_lossy(&out.stderr));
    let seen = mx.read_until(Duration::from_secs(60), |v| kind(v) == "bootstrap-complete");
    let (status, _, err) = mx.terminate();
    assert!(status.success(), "{err}");
    let insert = live.last().unwrap();
    assert_eq!(insert["data"], serde_json::json!({"orderId": 2, "orderTotal": 6}), "{insert}");
    let booted: Vec<&serde_json::Value> = seen.iter().filter(|v| kind(v) == "bootstrap-insert").collect();
    assert_eq!(booted.len(), 2, "{seen:?}");
    assert_eq!(booted[0]["data"], serde_json::json!({"orderId": 1, "orderTotal": 5}), "named as the binlog's insert");
    assert!(booted[0]["schemaId"].is_u64() && booted[0].get("schema_id").is_none(), "{}", booted[0]);
}
