//! `javascript` filters against real MariaDB and Kafka, read back with the independent Python
//! client: a script suppresses some rows and a DDL record, masks and edits values, adds an
//! attribute, sends one table to another topic and picks partitions by a string of its own.
//! The position still moves past suppressed rows; a script that throws stops the node on that
//! row, naming it, and a fixed script resumes from it (nothing skipped); one that does not
//! compile is a configuration error naming the file and line.

mod common;

use common::*;
use mysql_async::prelude::Queryable;
use serde_json::Value;
use std::time::{Duration, Instant};

const SCRIPT: &str = r#"// maxwell-ha test filter
function process_row(row) {
  if (row.table == "noise" && row.data.get("v") % 2 == 1) {
    row.suppress();
    return;
  }
  if (row.table == "users") {
    if (row.data.get("name") == "boom") throw new Error("no boom allowed");
    row.data.put("password", "XXXXXXXX");
    row.data.name = row.data.name.toUpperCase();
    var group = "user-" + (row.data.id % 4);
    row.partition_string = group;
    row.extra_attributes.put("pstr", group);
  }
  if (row.table == "audit_log") row.kafka_topic = "AUDIT_TOPIC";
}
function process_ddl(ddl) {
  if (ddl.table == "noise") ddl.suppress();
}
"#;

fn write_script(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("{}-{name}", unique("js")));
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

async fn stored_position(c: &mut mysql_async::Conn, client: &str) -> Option<String> {
    let row: Option<(String, u64)> = c.exec_first("SELECT binlog_file, binlog_position FROM maxwell.positions WHERE client_id = ?", (client,)).await.unwrap();
    row.map(|(f, p)| format!("{f}:{p}"))
}

/// `file:pos` as a comparable pair.
fn at(p: &str) -> (String, u64) {
    let (f, n) = p.rsplit_once(':').unwrap();
    (f.to_string(), n.parse().unwrap())
}

/// Waits until the stored position reaches `want` (or passes it: the node's own writes to
/// its positions table are binlog events too).
async fn wait_stored(c: &mut mysql_async::Conn, client: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = stored_position(c, client).await;
        if got.as_deref().is_some_and(|g| at(g) >= at(want)) {
            return;
        }
        assert!(Instant::now() < deadline, "the stored position is {got:?}, not yet {want} (the end of the last, all-suppressed transaction)");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_suppresses_edits_and_routes_rows_on_kafka() {
    let p = unique("js");
    let (rows, audit, ddl) = (format!("{p}_rows"), format!("{p}_audit"), format!("{p}_ddl"));
    create_topic(&rows, 5);
    create_topic(&audit, 1);
    create_topic(&ddl, 1);
    let script = write_script("filter.js", &SCRIPT.replace("AUDIT_TOPIC", &audit));

    let mut c = conn().await;
    exec(&mut c, "DROP DATABASE IF EXISTS jsdb").await;
    exec(&mut c, "CREATE DATABASE jsdb").await;
    exec(&mut c, "CREATE TABLE jsdb.users (id INT PRIMARY KEY, name VARCHAR(20), password VARCHAR(20))").await;
    exec(&mut c, "CREATE TABLE jsdb.noise (id INT PRIMARY KEY, v INT)").await;
    exec(&mut c, "CREATE TABLE jsdb.audit_log (id INT PRIMARY KEY, msg VARCHAR(20))").await;
    let start = master_position(&mut c).await;
    exec(&mut c, "INSERT INTO jsdb.users VALUES (1,'ann','secret1'), (2,'bob','secret2'), (3,'cy','secret3')").await;
    exec(&mut c, "INSERT INTO jsdb.noise VALUES (1,1), (2,2), (3,3), (4,4)").await;
    exec(&mut c, "INSERT INTO jsdb.audit_log VALUES (1,'hello'), (2,'world')").await;
    exec(&mut c, "UPDATE jsdb.users SET name = 'bobby' WHERE id = 2").await;
    exec(&mut c, "ALTER TABLE jsdb.noise ADD COLUMN w INT").await;
    exec(&mut c, "CREATE TABLE jsdb.extra (id INT PRIMARY KEY)").await;
    // Last: a transaction whose rows are all suppressed; the position must still pass it.
    exec(&mut c, "INSERT INTO jsdb.noise VALUES (5,5,0), (7,7,0)").await;
    let end = master_position(&mut c).await;

    let client = unique("jsclient");
    let args = |script: &str| {
        vec![
            format!("--client_id={client}"),
            format!("--init_position={start}"),
            "--filter=exclude: *.*, include: jsdb.*".to_string(),
            "--output_ddl=true".to_string(),
            "--producer=kafka".to_string(),
            format!("--kafka.bootstrap.servers={}", kafka_bootstrap()),
            format!("--kafka_topic={rows}"),
            format!("--ddl_kafka_topic={ddl}"),
            format!("--javascript={script}"),
        ]
    };
    let m = spawn_maxwell(&args(&script));
    let topics = [rows.clone(), audit.clone(), ddl.clone()];
    let got = consume(&topics, 9, 60, "attribute:pstr", "default");
    wait_stored(&mut c, &client, &end).await;
    let (st, _, err) = m.terminate();
    assert!(st.success(), "{err}");
    assert!(err.contains("javascript filter loaded"), "{err}");

    let on = |topic: &str| -> Vec<&Value> { got.iter().filter(|m| m["topic"] == topic).map(|m| &m["value"]).collect() };
    assert_eq!(got.len(), 9, "3+1 users, 2 noise, 2 audit_log rows and 1 DDL record, once each: {got:#?}");
    let users: Vec<&Value> = on(&rows).into_iter().filter(|v| v["table"] == "users").collect();
    // Partitions are read in no particular order between them: compare sorted.
    let mut names: Vec<&str> = users.iter().map(|v| v["data"]["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["ANN", "BOB", "BOBBY", "CY"]);
    for v in &users {
        assert_eq!(v["data"]["password"], "XXXXXXXX", "masked: {v}");
        assert_eq!(v["pstr"], format!("user-{}", v["data"]["id"].as_i64().unwrap() % 4));
    }
    let update = users.iter().find(|v| v["type"] == "update").unwrap();
    assert_eq!(update["old"], serde_json::json!({"name": "bob"}), "old_data untouched: {update}");
    let noise: Vec<i64> = on(&rows).into_iter().filter(|v| v["table"] == "noise").map(|v| v["data"]["id"].as_i64().unwrap()).collect();
    assert_eq!(noise, [2, 4], "odd v suppressed");
    let audit_ids: Vec<i64> = on(&audit).iter().map(|v| v["data"]["id"].as_i64().unwrap()).collect();
    assert_eq!(audit_ids, [1, 2]);
    assert!(on(&rows).iter().all(|v| v["table"] != "audit_log"), "audit_log rows only on {audit}");
    let ddls: Vec<(&str, &str)> = on(&ddl).iter().map(|v| (v["type"].as_str().unwrap(), v["table"].as_str().unwrap())).collect();
    assert_eq!(ddls, [("table-create", "extra")], "noise's ALTER suppressed");
    for m in &got {
        assert_eq!(m["partition"], m["expected_partition"], "partition from the script's string, hashed as Maxwell does: {m}");
    }
    // The commit flag stays where Maxwell puts it (before the script): the noise insert's last
    // row (id 4) is kept, so its transaction's commit is there.
    assert_eq!(on(&rows).iter().find(|v| v["table"] == "noise" && v["data"]["id"] == 4).unwrap()["commit"], true);

    // A script that throws stops the node on that row; nothing after it is written.
    exec(&mut c, "INSERT INTO jsdb.users VALUES (10,'ok','p')").await;
    exec(&mut c, "INSERT INTO jsdb.users VALUES (11,'boom','p')").await;
    exec(&mut c, "INSERT INTO jsdb.users VALUES (12,'after','p')").await;
    let end2 = master_position(&mut c).await;
    let resume = args(&script).into_iter().filter(|a| !a.starts_with("--init_position")).collect::<Vec<_>>();
    let m = spawn_maxwell(&resume);
    let (status, err) = m.wait_exit(Duration::from_secs(60));
    let status = status.expect("the node stops on the script's exception");
    assert!(!status.success(), "{err}");
    assert!(err.contains("process_row failed on the insert row of `jsdb`.`users` with primary key [11]"), "{err}");
    assert!(err.contains("no boom allowed") && err.contains("filter.js:8"), "names the script's line: {err}");
    let after_error = consume(&[rows.clone()], 5, 10, "attribute:pstr", "default");
    let mut ids: Vec<i64> = after_error.iter().filter(|m| m["value"]["table"] == "users").map(|m| m["value"]["data"]["id"].as_i64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, [1, 2, 2, 3, 10], "row 11 and after are not written");

    // The fixed script resumes from the failed row: nothing was skipped.
    let fixed = write_script("fixed.js", &SCRIPT.replace("AUDIT_TOPIC", &audit).replace("throw new Error(\"no boom allowed\")", "row.data.name = \"defused\""));
    let m = spawn_maxwell(&args(&fixed).into_iter().filter(|a| !a.starts_with("--init_position")).collect::<Vec<_>>());
    let all = consume(&[rows.clone()], 9, 60, "attribute:pstr", "default");
    wait_stored(&mut c, &client, &end2).await;
    let (st, _, err) = m.terminate();
    assert!(st.success(), "{err}");
    let mut names: Vec<&str> = all.iter().filter(|m| m["value"]["table"] == "users").map(|m| m["value"]["data"]["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["AFTER", "ANN", "BOB", "BOBBY", "CY", "DEFUSED", "OK"], "each once: row 11 on, nothing skipped, nothing repeated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_that_does_not_compile_is_a_configuration_error_naming_its_line() {
    let script = write_script("broken.js", "function process_row(row) {\n  if (row.data {\n    row.suppress();\n}\n");
    let m = spawn_maxwell(&[format!("--javascript={script}")]);
    let (status, err) = m.wait_exit(Duration::from_secs(20));
    assert_eq!(status.and_then(|s| s.code()), Some(2), "{err}");
    assert!(err.contains(&format!("configuration error: javascript {script}: SyntaxError")), "{err}");
    assert!(err.contains("broken.js:2"), "the line: {err}");
    let m = spawn_maxwell(&["--javascript=/nonexistent/filter.js".to_string()]);
    let (status, err) = m.wait_exit(Duration::from_secs(20));
    assert_eq!(status.and_then(|s| s.code()), Some(2), "{err}");
    assert!(err.contains("`javascript`: cannot read /nonexistent/filter.js"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_rows_go_through_the_script_too() {
    let mut c = conn().await;
    exec(&mut c, "DROP DATABASE IF EXISTS jsout").await;
    exec(&mut c, "CREATE DATABASE jsout").await;
    exec(&mut c, "CREATE TABLE jsout.t (id BIGINT UNSIGNED PRIMARY KEY, price DECIMAL(10,2), doc JSON)").await;
    let start = master_position(&mut c).await;
    exec(&mut c, "INSERT INTO jsout.t VALUES (18446744073709551615, 1.10, '{\"a\": [1, 2]}'), (2, 3.00, NULL)").await;
    exec(&mut c, "INSERT INTO jsout.t VALUES (999, 0, NULL)").await;
    let script = write_script("tag.js", "function process_row(row) { if (row.data.id == 2) row.suppress(); row.extra_attributes.seen = row.data.doc === null ? 'none' : row.data.doc.a.length; }");
    let mut m = spawn_maxwell(&[format!("--init_position={start}"), "--filter=exclude: *.*, include: jsout.*".into(), format!("--javascript={script}")]);
    let out = m.read_until(Duration::from_secs(30), |v| v["data"]["id"] == 999);
    let (st, _, err) = m.terminate();
    assert!(st.success(), "{err}");
    assert_eq!(out.len(), 2, "{out:?}");
    // Values the script did not change keep their exact text (a BIGINT past 2^53, a DECIMAL's zeros).
    let first = serde_json::to_string(&out[0]["data"]).unwrap();
    assert!(first.contains("18446744073709551615") && out[0]["seen"] == 2, "{first}");
    assert_eq!(out[1]["seen"], "none");
}

/// The script runs on the row as the columns name it, before `output_naming_strategy` and
/// `encrypt` are applied, as in Maxwell: it reads and masks snake-case columns, and what it
/// wrote comes out camel-cased and encrypted (decrypted by `scripts/maxwell_decrypt.py`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_sees_rows_before_naming_and_encryption() {
    let mut c = conn().await;
    let db = format!("{}_db", unique("jsseal"));
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (order_id INT PRIMARY KEY, card_no VARCHAR(20), order_total DECIMAL(8,2))")).await;
    let start = master_position(&mut c).await;
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (1, '4111-1111', 9.50), (2, '5500-0000', 20.00)")).await;
    exec(&mut c, &format!("UPDATE {db}.t SET order_total = 10.00 WHERE order_id = 1")).await;
    let script = write_script(
        "seal.js",
        "function process_row(row) { row.data.put('card_no', 'masked'); if (row.data.get('order_total') == 20) row.suppress(); if (row.old_data.containsKey('order_total')) row.extra_attributes.was = row.old_data.get('order_total'); }",
    );
    let key = "0123456789abcdef";
    let mut m = spawn_maxwell(&[
        format!("--init_position={start}"),
        format!("--filter=exclude: *.*, include: {db}.*"),
        format!("--javascript={script}"),
        "--output_naming_strategy=underscore_to_camelcase".into(),
        "--encrypt=data".into(),
        format!("--secret_key={key}"),
    ]);
    let out = m.read_until(Duration::from_secs(30), |v| v["type"] == "update");
    let (st, _, err) = m.terminate();
    assert!(st.success(), "{err}");
    assert_eq!(out.len(), 2, "the row of 20.00 suppressed: {out:?}");
    assert!(out.iter().all(|v| v.get("data").is_none() && v["encrypted"]["iv"].is_string() && v["xid"].is_u64()), "{out:?}");
    let plain = decrypt(key, None, &out);
    assert_eq!(plain[0]["data"], serde_json::json!({"orderId": 1, "cardNo": "masked", "orderTotal": 9.5}));
    assert_eq!(plain[1]["data"], serde_json::json!({"orderId": 1, "cardNo": "masked", "orderTotal": 10.0}));
    assert_eq!(plain[1]["old"], serde_json::json!({"orderTotal": 9.5}));
    assert_eq!(plain[1]["was"], 9.5, "the script read the old value by its column's name");
}
