//! Schema changes across takeovers, at MariaDB's default `binlog_row_metadata=NO_LOG` (the
//! TABLE_MAPs name no columns: every row is named by the schema history). A three-node cluster
//! at its default settings (exactly-once) streams a table under write load while a DDL script
//! runs: columns added, dropped, renamed and retyped, an ENUM's labels reordered, the table
//! renamed and created anew with JSON and SET columns. The leader is killed with -9 right
//! after several of the statements, so new leaders resume from checkpoints before, between
//! and after them. An independent read_committed consumer then finds every row exactly once,
//! under the table name and with the column names and values of the schema at its position.

mod common;

use common::cluster::*;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// One step of the script: a statement run before the phase's rows (none for the first), the
/// table those rows go to, the INSERT for one id and the row Maxwell prints for it.
struct Phase {
    ddl: &'static [&'static str],
    table: &'static str,
    insert: fn(u64) -> String,
    expect: fn(u64) -> Value,
    /// Kill the leader with -9 right after the statement.
    kill: bool,
}

fn e2(i: u64) -> &'static str {
    if i % 2 == 0 { "x" } else { "y" }
}

const PHASES: &[Phase] = &[
    Phase { ddl: &[], table: "t", insert: |i| format!("({i}, {}, 'b{i}', '{}')", i * 2, e2(i)), expect: |i| json!({"id": i, "a": i * 2, "b": format!("b{i}"), "e": e2(i)}), kill: false },
    Phase {
        ddl: &["ALTER TABLE t ADD COLUMN c INT AFTER a"],
        table: "t",
        insert: |i| format!("({i}, {}, {}, 'b{i}', '{}')", i * 2, i * 3, e2(i)),
        expect: |i| json!({"id": i, "a": i * 2, "c": i * 3, "b": format!("b{i}"), "e": e2(i)}),
        kill: true,
    },
    Phase { ddl: &["ALTER TABLE t DROP COLUMN b"], table: "t", insert: |i| format!("({i}, {}, {}, '{}')", i * 2, i * 3, e2(i)), expect: |i| json!({"id": i, "a": i * 2, "c": i * 3, "e": e2(i)}), kill: false },
    Phase {
        ddl: &["ALTER TABLE t CHANGE a a2 BIGINT"],
        table: "t",
        insert: |i| format!("({i}, {}, {}, '{}')", i * 1_000_000_007, i * 3, e2(i)),
        expect: |i| json!({"id": i, "a2": i * 1_000_000_007, "c": i * 3, "e": e2(i)}),
        kill: true,
    },
    // The labels move: a row is named by the labels of its own position.
    Phase {
        ddl: &["ALTER TABLE t MODIFY e ENUM('z','y','x')"],
        table: "t",
        insert: |i| format!("({i}, {i}, {i}, 'z')"),
        expect: |i| json!({"id": i, "a2": i, "c": i, "e": "z"}),
        kill: false,
    },
    Phase { ddl: &["RENAME TABLE t TO t_old"], table: "t_old", insert: |i| format!("({i}, {i}, {i}, 'x')"), expect: |i| json!({"id": i, "a2": i, "c": i, "e": "x"}), kill: true },
    Phase {
        ddl: &["CREATE TABLE t (id BIGINT PRIMARY KEY, j JSON, s SET('p','q','r'))"],
        table: "t",
        insert: |i| format!("({i}, '{{\"k\": {i}}}', 'p,r')"),
        expect: |i| json!({"id": i, "j": {"k": i}, "s": ["p", "r"]}),
        kill: true,
    },
    Phase {
        ddl: &["ALTER TABLE t ADD COLUMN d INT FIRST"],
        table: "t",
        insert: |i| format!("({}, {i}, '[{i}]', 'q')", i + 7),
        expect: |i| json!({"d": i + 7, "id": i, "j": [i], "s": ["q"]}),
        kill: false,
    },
    Phase {
        ddl: &["ALTER TABLE t RENAME COLUMN d TO d2", "DROP TABLE t_old"],
        table: "t",
        insert: |i| format!("({}, {i}, NULL, '')", i + 9),
        expect: |i| json!({"d2": i + 9, "id": i, "j": null, "s": []}),
        kill: true,
    },
];

/// Rows per phase, written as transactions of two.
const ROWS: u64 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_keeps_the_schema_of_its_position_across_kills() {
    let tag = unique("ddlkill");
    let topic = format!("{tag}_rows");
    create_topic(&topic, 4);
    let db = format!("{tag}_db");
    let mut admin = conn().await;
    exec(&mut admin, &format!("CREATE DATABASE {db}")).await;
    exec(&mut admin, &format!("CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, a INT, b VARCHAR(20), e ENUM('x','y'))")).await;
    exec(&mut admin, "SET GLOBAL binlog_row_metadata='NO_LOG'").await;
    let mut cl = Cluster::new(&tag, &topic, &db);
    for n in ["n1", "n2", "n3"] {
        cl.start(n, None);
    }
    cl.wait_leader(None, Duration::from_secs(60)).await;
    cl.wait_committed().await;

    // Sessions write with the setting they connected under: connect after the change.
    let mut c = conn().await;
    exec(&mut c, &format!("USE {db}")).await;
    let mut expected: BTreeMap<u64, (&str, Value)> = BTreeMap::new();
    let (mut id, mut kills, mut next_node) = (1u64, 0, 4);
    let mut killed: Option<String> = None;
    for p in PHASES {
        for sql in p.ddl {
            exec(&mut c, sql).await;
        }
        if p.kill {
            // A live leader: not the one killed before (its znode outlives it by a session).
            let (leader, _) = cl.wait_leader(killed.as_deref(), Duration::from_secs(60)).await;
            signal(cl.node(&leader).child.id(), "KILL");
            killed = Some(leader);
            kills += 1;
            // Rows keep coming while no one leads; a node takes the killed one's place.
            let new = format!("n{next_node}");
            next_node += 1;
            cl.start(&new, None);
        }
        for _ in 0..ROWS / 2 {
            exec(&mut c, &format!("INSERT INTO {} VALUES {}, {}", p.table, (p.insert)(id), (p.insert)(id + 1))).await;
            expected.insert(id, (p.table, (p.expect)(id)));
            expected.insert(id + 1, (p.table, (p.expect)(id + 1)));
            id += 2;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let _ = c.disconnect().await;
    exec(&mut admin, "SET GLOBAL binlog_row_metadata='FULL'").await;

    let got = consume(&[topic.clone()], expected.len(), 180, "primary_key", "default");
    cl.stop_all();
    let inserts: Vec<&Value> = got.iter().map(|m| &m["value"]).filter(|v| v["type"] == "insert").collect();
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for v in &inserts {
        let id = v["data"]["id"].as_u64().unwrap_or_else(|| panic!("a row without an id: {v}"));
        *seen.entry(id).or_default() += 1;
        match expected.get(&id) {
            Some((table, data)) if v["table"] == *table && v["data"] == *data => {}
            Some((table, data)) => wrong.push(format!("id {id}: got {}.{} {}, want {table} {data}", v["database"], v["table"], v["data"])),
            None => wrong.push(format!("unexpected row {v}")),
        }
    }
    let lost: Vec<u64> = expected.keys().filter(|i| !seen.contains_key(i)).copied().collect();
    let dups: Vec<u64> = seen.iter().filter(|(_, n)| **n > 1).map(|(i, _)| *i).collect();
    println!("{} rows in {} phases, {kills} leaders killed with -9: {} delivered, lost {}, duplicated {}, wrong {}", expected.len(), PHASES.len(), inserts.len(), lost.len(), dups.len(), wrong.len());
    assert!(
        lost.is_empty() && dups.is_empty() && wrong.is_empty(),
        "lost {:?}, duplicated {:?}, wrong:\n{}\n{}",
        sample(&lost),
        sample(&dups),
        wrong.iter().take(10).cloned().collect::<Vec<_>>().join("\n"),
        cl.logs()
    );
    // The cluster's stored history, as an operator reads it: the table as the last phase wrote it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_maxwell-cli"))
        .args(["--zookeeper", &zk_servers(), "--root", &cl.root, "--json", "schema", "show", &format!("{db}.t")])
        .output()
        .unwrap();
    assert!(out.status.success(), "schema show: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["schema"]["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["d2", "id", "j", "s"], "{v}");
    exec(&mut admin, &format!("DROP DATABASE {db}")).await;
}
