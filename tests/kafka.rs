//! Rows from real MariaDB through `maxwell` (producer=kafka) into a real broker, read back by an
//! independent client (Python confluent-kafka) and compared row for row with the stdout
//! producer's output for the same binlog range; topics, partitions (Maxwell's hash, computed
//! in Python) and keys are checked per message.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

async fn workload(c: &mut mysql_async::Conn) {
    exec(c, "INSERT INTO kdb1.a (id, v) VALUES (1,'one'),(2,'two'),(3,'three')").await;
    for i in 0..20 {
        exec(c, &format!("INSERT INTO kdb2.b VALUES ({i}, 'k{i}', {i})")).await;
    }
    exec(c, "BEGIN").await;
    exec(c, "UPDATE kdb1.a SET v = CONCAT(v, '!') WHERE id < 3").await;
    exec(c, "DELETE FROM kdb2.b WHERE id1 % 5 = 0").await;
    exec(c, "COMMIT").await;
    exec(c, "ALTER TABLE kdb1.a ADD COLUMN n INT DEFAULT 7").await;
    exec(c, "INSERT INTO kdb1.a (id, v) VALUES (4, 'four')").await;
    exec(c, "INSERT INTO kdb1.nopk VALUES ('x'), ('y')").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_land_on_maxwells_topics_partitions_and_keys() {
    let p = unique("it");
    let (t1, t2, tddl) = (format!("{p}_kdb1"), format!("{p}_kdb2"), format!("{p}_ddl"));
    create_topic(&t1, 3);
    create_topic(&t2, 5);
    create_topic(&tddl, 1);

    let mut c = conn().await;
    for db in ["kdb1", "kdb2"] {
        exec(&mut c, &format!("DROP DATABASE IF EXISTS {db}")).await;
        exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    }
    exec(&mut c, "CREATE TABLE kdb1.a (id INT PRIMARY KEY, v VARCHAR(20))").await;
    exec(&mut c, "CREATE TABLE kdb1.nopk (v VARCHAR(20))").await;
    exec(&mut c, "CREATE TABLE kdb2.b (id1 INT, id2 VARCHAR(10), v INT, PRIMARY KEY (id2, id1))").await;
    let start = master_position(&mut c).await;
    workload(&mut c).await;
    exec(&mut c, "INSERT INTO kdb1.a (id, v) VALUES (999, 'marker')").await;

    let base = vec![format!("--init_position={start}"), "--filter=exclude: *.*, include: kdb1.*, include: kdb2.*".to_string(), "--output_ddl=true".to_string()];
    // Reference: the stdout producer (conformance-tested) over the same range.
    let mut m = spawn_maxwell(&base);
    let reference = m.read_until(Duration::from_secs(30), |r| r["data"]["id"] == 999);
    let (st, _, err) = m.terminate();
    assert!(st.success(), "{err}");

    let mut args = base.clone();
    args.extend([
        "--producer=kafka".to_string(),
        format!("--kafka.bootstrap.servers={}", kafka_bootstrap()),
        format!("--kafka_topic={p}_%{{database}}"),
        format!("--ddl_kafka_topic={tddl}"),
        "--producer_partition_by=primary_key".to_string(),
        "--kafka_partition_hash=murmur3".to_string(),
    ]);
    let m = spawn_maxwell(&args);
    let got = consume(&[t1.clone(), t2.clone(), tddl.clone()], reference.len(), 60, "primary_key", "murmur3");
    let (st, _, err) = m.terminate();
    assert!(st.success(), "{err}");

    assert_eq!(got.len(), reference.len(), "every row once, none twice ({} in Kafka, {} expected)", got.len(), reference.len());
    let strip_ts = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("ts");
        v
    };
    let mut remaining: Vec<Value> = reference.iter().map(strip_ts).collect();
    for msg in &got {
        let v = strip_ts(&msg["value"]);
        let i = remaining.iter().position(|r| *r == v).unwrap_or_else(|| panic!("Kafka has a row stdout did not print: {v}"));
        remaining.remove(i);
        let val = &msg["value"];
        let is_ddl = val["type"].as_str().unwrap().contains('-');
        let want_topic = if is_ddl { tddl.clone() } else { format!("{p}_{}", val["database"].as_str().unwrap()) };
        assert_eq!(msg["topic"], want_topic.as_str(), "{msg}");
        assert_eq!(msg["partition"], msg["expected_partition"], "Maxwell's partition for {msg}");
        let key: Value = serde_json::from_str(msg["key"].as_str().unwrap()).unwrap();
        assert_eq!(key["database"], val["database"]);
        if !is_ddl {
            assert_eq!(key["table"], val["table"]);
            match val["table"].as_str().unwrap() {
                "a" => assert_eq!(key["pk.id"], val["data"]["id"], "{key}"),
                "b" => {
                    let raw = msg["key"].as_str().unwrap();
                    assert!(raw.find("\"pk.id2\"").unwrap() < raw.find("\"pk.id1\"").unwrap(), "key order is the primary key's order: {raw}");
                    assert_eq!(key["pk.id1"], val["data"]["id1"]);
                    assert_eq!(key["pk.id2"], val["data"]["id2"]);
                }
                _ => assert_eq!(key["_uuid"].as_str().map(str::len), Some(36), "no primary key: random uuid key {key}"),
            }
        }
        let pos = msg["headers"]["maxwell.position"].as_str().unwrap();
        assert!(pos.starts_with("mysql-bin.") && pos.contains(':'), "{msg}");
        assert!(msg["headers"]["maxwell.gtid"].as_str().unwrap().starts_with("0-1-"), "{msg}");
        let (row, rows) = (msg["headers"]["maxwell.row"].as_str().unwrap(), msg["headers"]["maxwell.rows"].as_str().unwrap());
        assert!(row.parse::<usize>().unwrap() < rows.parse::<usize>().unwrap());
    }
    assert!(remaining.is_empty(), "rows missing from Kafka: {remaining:?}");
    // Per partition, Kafka order is binlog order.
    let order = |v: &Value| reference.iter().map(strip_ts).position(|r| r == strip_ts(v)).unwrap();
    for topic in [&t1, &t2] {
        for part in 0..5 {
            let idx: Vec<usize> = got.iter().filter(|m| m["topic"] == topic.as_str() && m["partition"] == part).map(|m| order(&m["value"])).collect();
            assert!(idx.windows(2).all(|w| w[0] < w[1]), "{topic}/{part} out of binlog order: {idx:?}");
        }
    }
}
