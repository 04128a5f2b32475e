//! Bootstrap with `producer=stdout` on the real MariaDB (issue 27), as Maxwell's quickstart
//! does it: a node alone printing to stdout is asked for a bootstrap with `maxwell-cli
//! bootstrap` and prints `bootstrap-start`, every existing row as `bootstrap-insert` (rows
//! written with the binlog off, so only the bootstrap can bring them), `bootstrap-complete`,
//! and marks the bootstrap done in `schema_database`'s `bootstrap` table. Live changes made
//! while it runs (another table's insert, an update of the bootstrapped table) come after
//! `bootstrap-complete`, in commit order (the binlog waits while a bootstrap runs). The node
//! runs with the default `bootstrapper=async`, which keeps that sync order on purpose
//! (docs/operations.md, "Why bootstrapper=async runs as sync").

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_writing_to_stdout_bootstraps_a_table() {
    let tag = unique("boots");
    let (db, schema) = (format!("{tag}_db"), format!("{tag}_mx"));
    let mut c = conn().await;
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, v VARCHAR(40))")).await;
    exec(&mut c, "SET SESSION sql_log_bin = 0").await;
    exec(&mut c, &format!("CREATE TABLE {db}.big (id BIGINT PRIMARY KEY, v BIGINT, s VARCHAR(32))")).await;
    exec(&mut c, &format!("INSERT INTO {db}.big SELECT seq, seq * 7, CONCAT('row-', seq) FROM {db}.seq_1_to_{ROWS}")).await;
    exec(&mut c, "SET SESSION sql_log_bin = 1").await;

    // Throttled, so that the live changes below are made while the bootstrap runs.
    // Its own client_id (a bootstrap is for one client), starting from now.
    let client = format!("{tag}_c");
    let mut mx = spawn_maxwell(&[
        format!("--client_id={client}"),
        format!("--init_position={}", current_position()),
        format!("--schema_database={schema}"),
        format!("--filter=exclude: *.*, include: {db}.*"),
        "--bootstrap_chunk_rows=1000".into(),
        "--bootstrap_rows_per_second=5000".into(),
    ]);
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (0, 'streaming')")).await;
    mx.read_until(Duration::from_secs(60), |v| v["table"] == "t" && kind(v) == "insert");

    let out = cli(&schema, &client, &["bootstrap", "--database", &db, "--table", "big", "--comment", "from stdout"]);
    assert!(out.status.success(), "maxwell-cli bootstrap: {}", String::from_utf8_lossy(&out.stderr));
    let mut seen = mx.read_until(Duration::from_secs(60), |v| kind(v) == "bootstrap-insert");
    // Live changes while it runs: another table's row, then the bootstrapped table's update.
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (1, 'live')")).await;
    exec(&mut c, &format!("UPDATE {db}.big SET v = -1 WHERE id = 1")).await;
    seen.extend(mx.read_until(Duration::from_secs(120), |v| v["table"] == "big" && kind(v) == "update"));
    let at = |what: &dyn Fn(&serde_json::Value) -> bool| seen.iter().position(|v| what(v));

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
    assert_eq!((first["id"].as_u64(), first["v"].as_i64(), first["s"].as_str()), (Some(1), Some(7), Some("row-1")));
    // The binlog waited: both live changes after bootstrap-complete, in commit order.
    let live = at(&|v| v["table"] == "t" && v["data"]["id"] == 1).expect("the live insert");
    let update = at(&|v| v["table"] == "big" && kind(v) == "update").expect("the live update");
    assert!(complete < live && live < update, "live changes after bootstrap-complete, in order: complete {complete}, insert {live}, update {update}");
    assert_eq!(seen[update]["data"]["v"], -1);

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
    let (status, rest, err) = mx.terminate();
    assert!(status.success(), "{err}");
    assert!(!rest.iter().any(|v| kind(v).starts_with("bootstrap-")), "nothing of the bootstrap twice: {rest:?}");
}
