//! Newer Maxwell's output options end to end, against the real services: rows through Kafka
//! with `producer_partition_by=thread_id`, `output_push_timestamp` and
//! `output_naming_strategy=underscore_to_camelcase` (partitions recomputed by the independent
//! Python client from each row's thread id), `push_ts` on stdout, where DDL records get
//! none, and `http_config`'s `/config`.
//!
//! MariaDB starts a transaction of row changes with a GTID event, not a `BEGIN` query, so its
//! rows name no thread: Maxwell then partitions by the string "null" and writes no
//! `thread_id`, and so does this. MySQL logs `BEGIN` with the thread id; that path (the
//! thread's partition string) is unit-tested in `src/sink/partition_tests.rs`.

mod common;

use common::*;
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

async fn connection_id(c: &mut mysql_async::Conn) -> u64 {
    use mysql_async::prelude::Queryable;
    c.query_first::<u64, _>("SELECT CONNECTION_ID()").await.unwrap().unwrap()
}

/// Two connections write rows with `producer_partition_by=thread_id`: every row lands on the
/// partition Maxwell picks for its thread id as the independent client recomputes it from the
/// row (MariaDB names none: "null", so one partition, and no `threadId` field, as Maxwell
/// writes it); each row carries `pushTs` between the start of the test and the end of the
/// read (and not before the row's `ts`) and camel-case names in `data` and `old`, while the
/// Kafka key and `primary_key_columns` keep the column's own name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thread_id_partitions_push_ts_and_camel_case_through_kafka() {
    let tag = unique("newer");
    let (topic, db) = (format!("{tag}_rows"), format!("{tag}_db"));
    create_topic(&topic, 6);
    let mut c1 = conn().await;
    let mut c2 = conn().await;
    exec(&mut c1, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c1, &format!("CREATE TABLE {db}.t (order_id INT PRIMARY KEY, created_at VARCHAR(20), user_name VARCHAR(20), _hidden INT)")).await;
    let (id1, id2) = (connection_id(&mut c1).await, connection_id(&mut c2).await);
    assert_ne!(id1, id2);
    let start = master_position(&mut c1).await;
    let before = now_secs().floor();
    for i in 1..=6 {
        exec(&mut c1, &format!("INSERT INTO {db}.t VALUES ({i}, 'c1-{i}', 'one', {i})")).await;
        exec(&mut c2, &format!("INSERT INTO {db}.t VALUES ({}, 'c2-{i}', 'two', {i})", 100 + i)).await;
    }
    exec(&mut c1, &format!("UPDATE {db}.t SET user_name = 'uno' WHERE order_id = 1")).await;
    let m = spawn_maxwell(&kafka_node_args(
        &start,
        &db,
        &topic,
        &[
            "--producer_partition_by=thread_id",
            "--output_thread_id=true",
            "--output_server_id=true",
            "--output_primary_key_columns=true",
            "--output_push_timestamp=true",
            "--output_naming_strategy=underscore_to_camelcase",
        ],
    ));
    let got = consume(std::slice::from_ref(&topic), 13, 60, "thread_id", "default");
    let after = now_secs().ceil();
    let (st, _, err) = m.terminate();
    assert!(st.success(), "{err}");
    assert_eq!(got.len(), 13, "12 inserts, 1 update: {got:?}");
    let mut partitions = std::collections::BTreeMap::new();
    for msg in &got {
        let v = &msg["value"];
        let id = v["data"]["orderId"].as_u64().unwrap_or_else(|| panic!("camel-case column names: {v}"));
        let writer = if id < 100 { id1 } else { id2 };
        assert!(v.get("threadId").is_none() && v.get("thread_id").is_none(), "MariaDB names no thread for row changes: {v}");
        assert!(v.get("server_id").is_none() && v["serverId"].is_u64(), "fields renamed: {v}");
        assert_eq!(msg["partition"], msg["expected_partition"], "partition by thread id: {msg}");
        partitions.entry(writer).or_insert_with(std::collections::BTreeSet::new).insert(msg["partition"].as_u64().unwrap());
        let data = v["data"].as_object().unwrap();
        assert!(data.contains_key("createdAt") && data.contains_key("userName") && data.contains_key("hidden") && !data.contains_key("created_at"), "{v}");
        assert_eq!(v["primaryKeyColumns"], serde_json::json!(["order_id"]), "the column list keeps the names, as in Maxwell: {v}");
        let key: Value = serde_json::from_str(msg["key"].as_str().unwrap()).unwrap();
        assert_eq!(key["pk.order_id"].as_u64(), Some(id), "the key keeps the column's name: {key}");
        let push = v["pushTs"].as_f64().unwrap_or_else(|| panic!("pushTs: {v}"));
        assert!(push >= before && push <= after, "pushTs {push} is when the row was sent ({before}..{after}): {v}");
        assert!(push >= v["ts"].as_f64().unwrap(), "sent after it was committed: {v}");
        assert!(v.get("push_ts").is_none(), "{v}");
        if v["type"] == "update" {
            assert_eq!(v["old"], serde_json::json!({ "userName": "one" }), "{v}");
        }
    }
    assert!(partitions.values().all(|p| p.len() == 1), "each connection's rows in one partition: {partitions:?}");
    assert_eq!(partitions.values().flatten().collect::<std::collections::BTreeSet<_>>().len(), 1, "one thread string (\"null\"), one partition: {partitions:?}");
    exec(&mut c1, &format!("DROP DATABASE {db}")).await;
}

/// `output_push_timestamp` on stdout: each row has `push_ts` (seconds with microseconds, from
/// the time it was written), DDL records have none; names stay snake case without a strategy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_ts_on_stdout_rows_not_ddl() {
    let tag = unique("pushts");
    let db = format!("{tag}_db");
    let mut c = conn().await;
    let start = master_position(&mut c).await;
    let before = now_secs().floor();
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (id INT PRIMARY KEY, some_value INT)")).await;
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (1, 10), (2, 20)")).await;
    let mut m = spawn_maxwell(&[
        format!("--init_position={start}"),
        format!("--filter=exclude: *.*, include: {db}.*"),
        "--output_ddl=true".into(),
        "--output_push_timestamp=true".into(),
    ]);
    let lines = m.read_until(Duration::from_secs(60), |r| r["data"]["id"] == 2);
    let after = now_secs().ceil();
    drop(m);
    let rows: Vec<&Value> = lines.iter().filter(|l| l["type"] == "insert").collect();
    let ddl: Vec<&Value> = lines.iter().filter(|l| l["type"].as_str().is_some_and(|t| t.starts_with("table-") || t.starts_with("database-"))).collect();
    assert_eq!((rows.len(), ddl.len()), (2, 2), "{lines:?}");
    for r in rows {
        let push = r["push_ts"].as_f64().unwrap_or_else(|| panic!("push_ts: {r}"));
        assert!(push >= before && push <= after, "{push} in {before}..{after}: {r}");
        assert!(r["data"]["some_value"].is_u64() && r.get("pushTs").is_none(), "{r}");
    }
    for d in ddl {
        assert!(d.get("push_ts").is_none(), "DDL records get none, as in Maxwell: {d}");
    }
    exec(&mut c, &format!("DROP DATABASE {db}")).await;
}

/// `http_config=true`: `GET /config` answers Maxwell's `{"filter":…}` with the filter in
/// force, on HTTP's port. A node alone reads its filter at start: a change needs the admin
/// token (403 without one configured) and is then refused with 409, in Maxwell's error shape,
/// changing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_endpoint_shows_the_filter() {
    let port = free_port();
    let filter = "exclude: *.*, include: shop.orders";
    let m = spawn_maxwell(&["--http_config=true".into(), format!("--http_port={port}"), format!("--filter={filter}"), "--http_admin_token=tok".into()]);
    let mut answer = None;
    for _ in 0..600 {
        answer = http_get(port, "/config");
        if answer.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = answer.unwrap_or_else(|| panic!("no /config on port {port}: {}", m.stderr()));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v, serde_json::json!({ "filter": filter }));
    let (status, body) = http_post(port, "/config", &["Content-Type: application/json"], r#"{"filter":"include: *.*"}"#).unwrap();
    assert_eq!(status, 401, "no token: {body}");
    let (status, body) = http_post(port, "/config", &["Authorization: Bearer tok"], r#"{"filter":"include: *.*"}"#).unwrap();
    assert_eq!(status, 409, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], 409);
    assert!(v["error"]["message"].as_str().unwrap().contains("reads `filter` at start"), "{v}");
    let (_, body) = http_get(port, "/config").unwrap();
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["filter"], filter, "unchanged");
    let (st, _, err) = m.terminate();
    assert!(st.success(), "{err}");
}

/// In a cluster `POST /config` (newer Maxwell's live filter change) sets the cluster-wide
/// filter: answered with the new configuration, shown by every node's `GET /config`, and
/// applied by the leader without a restart (a table it excluded streams, one it no longer
/// includes stops). A filter that does not parse is 400 and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_post_changes_a_clusters_filter() {
    use common::cluster::*;
    let tag = unique("cfgpost");
    let (topic, db) = setup(&tag, 1).await;
    let mut c = conn().await;
    exec(&mut c, &format!("CREATE TABLE {db}.u (id BIGINT PRIMARY KEY)")).await;
    let mut cl = Cluster::new(&tag, &topic, &db);
    cl.extra = vec!["--http_config=true".into(), "--http_admin_token=tok".into(), format!("--filter=exclude: *.*, include: {db}.t")];
    cl.start("a", None);
    cl.wait_leader(None, Duration::from_secs(30)).await;
    cl.wait_committed().await;
    let http = cl.node("a").http;
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (1, 'before')")).await;
    exec(&mut c, &format!("INSERT INTO {db}.u VALUES (1)")).await;
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (3, 'before')")).await;
    // Committed past u's first row (the checkpoint a filter change resumes from).
    assert_eq!(consume(std::slice::from_ref(&topic), 2, 60, "database", "default").len(), 2, "{}", cl.logs());
    let bad = http_post(http, "/config", &["Authorization: Bearer tok"], r#"{"filter":"include: nodot"}"#).unwrap();
    assert_eq!(bad.0, 400, "{}", bad.1);
    assert!(bad.1.contains("invalid filter"), "{}", bad.1);
    let new = format!("exclude: *.*, include: {db}.u");
    let (status, body) = http_post(http, "/config", &["Authorization: Bearer tok"], &serde_json::json!({ "filter": new }).to_string()).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["filter"], new.as_str());
    assert_eq!(serde_json::from_str::<Value>(&http_get(http, "/config").unwrap().1).unwrap()["filter"], new.as_str());
    // Applied without a restart: u's row made after the change arrives, t's does not.
    exec(&mut c, &format!("INSERT INTO {db}.u VALUES (2)")).await;
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (2, 'after')")).await;
    exec(&mut c, &format!("INSERT INTO {db}.u VALUES (3)")).await;
    let msgs = consume(std::slice::from_ref(&topic), 4, 60, "database", "default");
    let rows: Vec<String> = msgs.iter().map(|m| format!("{}:{}", m["value"]["table"].as_str().unwrap(), m["value"]["data"]["id"])).collect();
    assert_eq!(rows, ["t:1", "t:3", "u:2", "u:3"], "{}", cl.logs());
    cl.stop_all();
}
