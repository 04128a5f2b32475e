//! Maxwell's encode options end to end, against the real services: `exclude_columns` and
//! `encrypt=data` through Kafka (the key, `primary_key` and the partition as Maxwell makes
//! them), `encrypt=all` on stdout, and `output_schema_id` across a restart of a node alone and
//! across a takeover in a cluster. Encrypted records are decrypted by an implementation
//! independent of ours (`scripts/maxwell_decrypt.py`, Python's `cryptography`).

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

/// Every DDL statement in the binlog moves the schema id of every reader: the tests here take
/// turns so that none sees another's statements between its own.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Rows to Kafka with `exclude_columns=id,secret` and `encrypt=data`, partitioned by the
/// excluded column `secret`: every value is encrypted and decrypts to data (and old) without
/// the excluded columns; `primary_key` and the message key keep `id`; every row lands on the
/// fallback's partition (by table), as Maxwell partitions by the data it already stripped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_and_encrypted_rows_through_kafka() {
    let _turn = TURN.lock().await;
    let tag = unique("enc");
    let (topic, db) = (format!("{tag}_rows"), format!("{tag}_db"));
    create_topic(&topic, 4);
    let mut c = conn().await;
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (id INT PRIMARY KEY, secret VARCHAR(20), v INT)")).await;
    let start = master_position(&mut c).await;
    for i in 1..=20 {
        exec(&mut c, &format!("INSERT INTO {db}.t VALUES ({i}, 'secret-{i}', {i})")).await;
    }
    exec(&mut c, &format!("UPDATE {db}.t SET v = v + 100, secret = 'changed' WHERE id <= 3")).await;
    exec(&mut c, &format!("UPDATE {db}.t SET secret = 'only-secret' WHERE id = 4")).await;
    exec(&mut c, &format!("DELETE FROM {db}.t WHERE id = 5")).await;
    let key = "0123456789abcdef";
    let m = spawn_maxwell(&kafka_node_args(
        &start,
        &db,
        &topic,
        &[
            "--producer_partition_by=column",
            "--producer_partition_columns=secret",
            "--producer_partition_by_fallback=table",
            "--exclude_columns=id,secret",
            "--output_primary_keys=true",
            "--encrypt=data",
            &format!("--secret_key={key}"),
        ],
    ));
    let got = consume(std::slice::from_ref(&topic), 25, 60, "table", "default");
    let (st, _, err) = m.terminate();
    assert!(st.success(), "{err}");
    assert_eq!(got.len(), 25, "20 inserts, 4 updates, 1 delete");
    for msg in &got {
        let v = &msg["value"];
        assert!(v.get("data").is_none() && v["encrypted"]["iv"].is_string() && v["encrypted"]["bytes"].is_string(), "{v}");
    }
    let plain = decrypt(key, Some("value"), &got);
    let mut partitions = std::collections::BTreeSet::new();
    for msg in &plain {
        let v = &msg["value"];
        let id = v["primary_key"][0].as_u64().unwrap();
        let data = v["data"].as_object().unwrap();
        assert!(!data.contains_key("id") && !data.contains_key("secret"), "{v}");
        assert!(data.contains_key("v"), "{v}");
        let k: Value = serde_json::from_str(msg["key"].as_str().unwrap()).unwrap();
        assert_eq!(k["pk.id"].as_u64(), Some(id), "the key keeps the excluded primary key: {k}");
        assert_eq!(msg["partition"], msg["expected_partition"], "partition by the fallback (table): {msg}");
        partitions.insert(msg["partition"].as_u64().unwrap());
        match (v["type"].as_str().unwrap(), id) {
            ("update", 1..=3) => assert_eq!(v["old"], serde_json::json!({ "v": id }), "{v}"),
            ("update", 4) => assert!(v.get("old").is_none(), "only an excluded column changed: no old: {v}"),
            ("insert", _) => assert_eq!(v["data"]["v"].as_u64(), Some(id)),
            ("delete", 5) => {}
            other => panic!("unexpected {other:?}: {v}"),
        }
    }
    assert_eq!(partitions.len(), 1, "all by table: {partitions:?}");
}

/// `encrypt=all` on stdout with `output_schema_id` and `output_ddl`, stopped and restarted
/// (resuming from its stored position and schema history): every row is one
/// `{"encrypted":…}` line whose plaintext is the whole record; DDL records stay plain; the
/// schema id grows by one at each schema change and is the same after the restart for the
/// same schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypt_all_and_schema_id_across_a_restart() {
    let _turn = TURN.lock().await;
    let tag = unique("sid");
    let db = format!("{tag}_db");
    let key = "0123456789abcdef0123456789abcdef";
    let args = |start: Option<&str>| {
        let mut a = vec![
            format!("--client_id={tag}"),
            format!("--schema_database={tag}_schema"),
            format!("--filter=exclude: *.*, include: {db}.*"),
            "--output_ddl=true".into(),
            "--output_schema_id=true".into(),
            "--encrypt=all".into(),
            format!("--secret_key={key}"),
        ];
        a.extend(start.map(|s| format!("--init_position={s}")));
        a
    };
    let mut c = conn().await;
    let start = master_position(&mut c).await;
    let mut m = spawn_maxwell(&args(Some(&start)));
    wait_streaming(&m).await;
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (id INT PRIMARY KEY)")).await;
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (1), (2)")).await;
    exec(&mut c, &format!("ALTER TABLE {db}.t ADD COLUMN b INT")).await;
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (3, 3)")).await;
    let mut first = m.read_until(Duration::from_secs(30), |l| is_row(l, key, 3));
    let (st, rest, err) = m.terminate();
    assert!(st.success(), "{err}");
    first.extend(rest);
    // Written while it is stopped: read after the restart, from the stored position.
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (4, 4)")).await;
    let mut m = spawn_maxwell(&args(None));
    exec(&mut c, &format!("ALTER TABLE {db}.t ADD COLUMN d INT")).await;
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (5, 5, 5)")).await;
    let second = m.read_until(Duration::from_secs(30), |l| is_row(l, key, 5));
    let (st, _, err) = m.terminate();
    assert!(st.success(), "{err}");

    for l in first.iter().chain(&second) {
        let ddl = l.get("sql").is_some();
        assert!(ddl || l.as_object().unwrap().keys().eq(["encrypted"]), "a row that is not one encrypted object: {l}");
        assert!(!ddl || l.get("encrypted").is_none(), "DDL records stay plain: {l}");
    }
    // (what, schema_id) of each record, decrypted.
    let ids = |lines: &[Value]| -> Vec<(String, u64)> {
        decrypt(key, None, lines)
            .iter()
            .map(|r| {
                let what = match r["type"].as_str().unwrap() {
                    "insert" => format!("row {}", r["data"]["id"]),
                    t => t.to_string(),
                };
                (what, r["schema_id"].as_u64().unwrap_or_else(|| panic!("no schema_id: {r}")))
            })
            .collect()
    };
    let (a, b) = (ids(&first), ids(&second));
    let s = a[0].1;
    let want = |v: &[(&str, u64)]| v.iter().map(|(w, i)| (w.to_string(), *i)).collect::<Vec<_>>();
    assert_eq!(a, want(&[("database-create", s), ("table-create", s + 1), ("row 1", s + 1), ("row 2", s + 1), ("table-alter", s + 2), ("row 3", s + 2)]), "before the restart");
    assert_eq!(b, want(&[("row 4", s + 2), ("table-alter", s + 3), ("row 5", s + 3)]), "after the restart: the same id for the same schema");
}

/// Whether `l` is (encrypted) row `id` of the test.
fn is_row(l: &Value, key: &str, id: u64) -> bool {
    l.get("encrypted").is_some() && decrypt(key, None, std::slice::from_ref(l))[0]["data"]["id"].as_u64() == Some(id)
}

/// Waits until the node logged that it streams (its schema captured at the start).
async fn wait_streaming(m: &Maxwell) {
    let t0 = std::time::Instant::now();
    while !m.stderr().contains("starting binlog stream") {
        assert!(t0.elapsed() < Duration::from_secs(30), "not streaming:\n{}", m.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A cluster leader killed with -9 between two schema changes: the new leader, which rebuilds
/// the schema from the cluster's stored history, prints the id the old leader printed for the
/// same schema, and the next one after the next change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_prints_the_same_schema_id() {
    let _turn = TURN.lock().await;
    use common::cluster::*;
    let tag = unique("sidha");
    let (topic, db) = setup(&tag, 1).await;
    let mut cl = Cluster::new(&tag, &topic, &db);
    cl.extra = vec!["--output_schema_id=true".into()];
    cl.start("n1", None);
    cl.start("n2", None);
    let (first, _) = cl.wait_leader(None, Duration::from_secs(30)).await;
    cl.wait_committed().await;
    let mut c = conn().await;
    let insert = |ids: std::ops::RangeInclusive<u64>| format!("INSERT INTO {db}.t (id, v) VALUES {}", ids.map(|i| format!("({i}, 'x')")).collect::<Vec<_>>().join(","));
    exec(&mut c, &insert(1..=3)).await;
    exec(&mut c, &format!("ALTER TABLE {db}.t ADD COLUMN c INT")).await;
    exec(&mut c, &insert(4..=6)).await;
    // The old leader delivered (and committed) rows 1-6 before it dies.
    let before = consume(std::slice::from_ref(&topic), 6, 60, "primary_key", "default");
    assert_eq!(before.len(), 6, "{}", cl.logs());
    signal(cl.node(&first).child.id(), "KILL");
    let (second, _) = cl.wait_leader(Some(&first), Duration::from_secs(30)).await;
    exec(&mut c, &insert(7..=9)).await;
    exec(&mut c, &format!("ALTER TABLE {db}.t ADD COLUMN d INT")).await;
    exec(&mut c, &insert(10..=12)).await;
    let all = consume(std::slice::from_ref(&topic), 12, 60, "primary_key", "default");
    cl.stop_all();
    assert_eq!(all.len(), 12, "every row once:\n{}", cl.logs());
    let by_id: std::collections::BTreeMap<u64, (u64, String)> =
        all.iter().map(|m| (m["value"]["data"]["id"].as_u64().unwrap(), (m["value"]["schema_id"].as_u64().expect("schema_id"), m["headers"]["maxwell.node"].as_str().unwrap().to_string()))).collect();
    let s = by_id[&1].0;
    for (id, (sid, node)) in &by_id {
        let want = match id {
            1..=3 => s,
            4..=9 => s + 1,
            _ => s + 2,
        };
        assert_eq!(*sid, want, "row {id} (from {node}): {by_id:?}");
        assert_eq!(node, if *id <= 6 { &first } else { &second }, "row {id}: {by_id:?}");
    }
}
