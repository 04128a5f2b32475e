//! The stored schema history against the real MariaDB at `binlog_row_metadata=NO_LOG`
//! (MariaDB's default: TABLE_MAPs name no columns). A node running alone stores every schema
//! change it reads in `schema_database`'s `schema_history`; a node started later at an older
//! position rebuilds the schema of that position from it, so replaying a range that spans
//! schema changes gives exactly the rows the live run gave. The same start without the stored
//! history (another `client_id`) is refused, which shows the store is what made it work.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

/// binlog_row_metadata is a global setting: the tests of this file take turns.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Rows of database `db` (the markers and the node's own writes left out).
fn rows_of(v: &[Value], db: &str) -> Vec<Value> {
    v.iter().filter(|r| r["database"] == db).cloned().collect()
}

/// Reads until the marker row `tag`.
fn until_marker(node: &mut Maxwell, tag: &str) -> Vec<Value> {
    node.read_until(Duration::from_secs(90), |v| v["table"] == "marker" && v["data"]["tag"] == tag)
}

async fn marker(c: &mut mysql_async::Conn, tag: &str) {
    exec(c, &format!("INSERT INTO maxwell_it.marker (tag) VALUES ('{tag}')")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replaying_across_schema_changes_gives_the_rows_of_the_live_run() {
    let _turn = TURN.lock().await;
    let db = unique("sstore");
    let client = unique("sstore_client");
    let mut admin = conn().await;
    exec(&mut admin, "CREATE DATABASE IF NOT EXISTS maxwell_it").await;
    exec(&mut admin, "CREATE TABLE IF NOT EXISTS maxwell_it.marker (id BIGINT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(64))").await;
    exec(&mut admin, &format!("CREATE DATABASE {db}")).await;
    exec(&mut admin, &format!("CREATE TABLE {db}.t (id INT PRIMARY KEY, a VARCHAR(10), e ENUM('x','y'))")).await;
    exec(&mut admin, "SET GLOBAL binlog_row_metadata='NO_LOG'").await;
    let start = master_position(&mut admin).await;
    let ready = format!("{db}-ready");
    marker(&mut admin, &ready).await;
    let args = |extra: &[String]| {
        let mut a = vec![format!("--client_id={client}"), "--producer=stdout".into(), "--output_ddl=true".into()];
        a.extend_from_slice(extra);
        a
    };
    let mut live = spawn_maxwell(&args(&[format!("--init_position={start}")]));
    until_marker(&mut live, &ready);

    // A fresh connection: a session writes with the metadata setting it connected under.
    let mut c = conn().await;
    exec(&mut c, &format!("USE {db}")).await;
    exec(&mut c, "INSERT INTO t VALUES (1, 'a', 'x')").await;
    exec(&mut c, "ALTER TABLE t ADD COLUMN b INT AFTER id").await;
    exec(&mut c, "INSERT INTO t (id, b, a, e) VALUES (2, 20, 'b', 'y')").await;
    let mid = master_position(&mut c).await;
    exec(&mut c, "ALTER TABLE t CHANGE a a2 VARCHAR(20)").await;
    exec(&mut c, "ALTER TABLE t MODIFY e ENUM('x','y','z')").await;
    exec(&mut c, "INSERT INTO t (id, b, a2, e) VALUES (3, 30, 'c', 'z')").await;
    exec(&mut c, "ALTER TABLE t DROP COLUMN b").await;
    exec(&mut c, "RENAME TABLE t TO t2").await;
    exec(&mut c, "CREATE TABLE t (k VARCHAR(5) PRIMARY KEY, v JSON)").await;
    exec(&mut c, "INSERT INTO t2 VALUES (4, 'd', 'x')").await;
    exec(&mut c, "INSERT INTO t VALUES ('k1', '{\"n\": 1}')").await;
    exec(&mut c, "UPDATE t2 SET a2 = 'dd', e = 'z' WHERE id = 4").await;
    let _ = c.disconnect().await;
    let end = format!("{db}-end");
    marker(&mut admin, &end).await;
    let got = rows_of(&until_marker(&mut live, &end), &db);
    let (status, _, err) = live.terminate();
    assert!(status.success(), "the live node exited with {status}: {err}");

    // The live run decoded each row with the schema of its position.
    let data: Vec<(String, Value)> = got.iter().filter(|r| r["type"] != "table-create" && r["type"] != "table-alter").map(|r| (r["table"].as_str().unwrap_or("").to_string(), r["data"].clone())).collect();
    let expect: Vec<(&str, Value)> = vec![
        ("t", serde_json::json!({"id": 1, "a": "a", "e": "x"})),
        ("t", serde_json::json!({"id": 2, "b": 20, "a": "b", "e": "y"})),
        ("t", serde_json::json!({"id": 3, "b": 30, "a2": "c", "e": "z"})),
        ("t2", serde_json::json!({"id": 4, "a2": "d", "e": "x"})),
        ("t", serde_json::json!({"k": "k1", "v": {"n": 1}})),
        ("t2", serde_json::json!({"id": 4, "a2": "dd", "e": "z"})),
    ];
    let expect: Vec<(String, Value)> = expect.into_iter().map(|(t, v)| (t.to_string(), v)).collect();
    assert_eq!(data, expect, "live rows:\n{}", got.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("\n"));

    // Replayed from the start: the same rows, byte for byte.
    let mut replay = spawn_maxwell(&args(&["--replay=true".into(), format!("--init_position={start}")]));
    let again = rows_of(&until_marker(&mut replay, &end), &db);
    let (status, _, err) = replay.terminate();
    assert!(status.success(), "the replay exited with {status}: {err}");
    assert_eq!(again, got, "replay from the start");
    assert!(err.contains("schema rebuilt from the stored history"), "the replay did not use the stored history:\n{}", tail(&err, 20));

    // Replayed from between the schema changes: the live rows from there on.
    let mut replay = spawn_maxwell(&args(&["--replay=true".into(), format!("--init_position={mid}")]));
    let again = rows_of(&until_marker(&mut replay, &end), &db);
    let (status, _, err) = replay.terminate();
    assert!(status.success(), "the replay from {mid} exited with {status}: {err}");
    let row2 = got.iter().position(|r| r["data"]["id"] == 2).unwrap();
    let suffix = got[row2 + 1..].to_vec();
    assert_eq!(again, suffix, "replay from {mid}");

    // The operator's view of the same store: the table as of a position, and now.
    let cli = |args: &[&str]| {
        let mut all = vec!["--set".to_string(), "host=127.0.0.1".into(), "--set".into(), format!("port={}", mysql_port()), "--set".into(), "user=root".into(), "--client-id".into(), client.clone(), "--json".into(), "schema".into()];
        all.extend(args.iter().map(|a| a.to_string()));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_maxwell-cli")).args(&all).output().unwrap();
        assert!(out.status.success(), "maxwell-cli {all:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let names = |v: &Value| v["schema"]["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let t = format!("{db}.t");
    assert_eq!(names(&cli(&["show", &t, "--at", &mid])), ["id", "b", "a", "e"]);
    assert_eq!(names(&cli(&["show", &t, "--at", &start])), ["id", "a", "e"]);
    let now = cli(&["show", &t]);
    assert_eq!(names(&now), ["k", "v"]);
    assert_eq!(now["schema"]["columns"][1]["type"], "json");
    let bases = now["history"]["bases"].as_u64().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_maxwell-cli"))
        .args(["--set", "host=127.0.0.1", "--set", &format!("port={}", mysql_port()), "--set", "user=root", "--client-id", &client, "schema", "recapture"])
        .output()
        .unwrap();
    assert!(out.status.success(), "schema recapture: {}", String::from_utf8_lossy(&out.stderr));
    let after = cli(&["show", &format!("{db}.t2")]);
    assert_eq!(after["history"]["bases"].as_u64().unwrap(), bases + 1, "{after}");
    assert_eq!(names(&after), ["id", "a2", "e"]);

    // Without the stored history (another client_id), the schema at the start is not known.
    let other = spawn_maxwell(&["--client_id=".to_string() + &unique("sstore_none"), "--producer=stdout".into(), "--replay=true".into(), format!("--init_position={start}")]);
    let (status, err) = other.wait_exit(Duration::from_secs(60));
    assert!(status.is_some_and(|s| !s.success()), "a start before the schema changes without a stored history must fail: {err}");
    assert!(err.contains("the schema at the start position is not known"), "{}", tail(&err, 10));

    exec(&mut admin, "SET GLOBAL binlog_row_metadata='FULL'").await;
    exec(&mut admin, &format!("DROP DATABASE {db}")).await;
}

/// `tail` without the cluster helpers' import.
fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
