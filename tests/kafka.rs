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

/// The at-least-once takeover scan on a real broker: a previous term whose messages have a
/// hole (one row failed while later rows of the same partition were delivered) is skipped
/// only up to the last message before the hole, whatever the newest message says; other
/// clusters' messages in between are passed over; a partition without a hole skips up to
/// its newest message.
#[test]
fn takeover_scan_never_skips_past_a_hole() {
    use maxwell_ha::binlog::position::BinlogPosition;
    use maxwell_ha::binlog::position::ResumePoint;
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let topic = unique("scan_hole_");
    create_topic(&topic, 2);
    let producer: BaseProducer = rdkafka::ClientConfig::new().set("bootstrap.servers", kafka_bootstrap()).create().expect("producer");
    let send = |partition: i32, cluster: &str, pos: u64, seq: Option<u64>| {
        let (pos_text, seq_text) = (format!("mysql-bin.000001:{pos}"), seq.map(|s| format!("1-{s}")));
        let mut h = OwnedHeaders::new()
            .insert(Header { key: "maxwell.position", value: Some(pos_text.as_str()) })
            .insert(Header { key: "maxwell.row", value: Some("0") })
            .insert(Header { key: "maxwell.server_id", value: Some("1") })
            .insert(Header { key: "maxwell.source_server_id", value: Some("1") })
            .insert(Header { key: "maxwell.cluster", value: Some(cluster) })
            .insert(Header { key: "maxwell.epoch", value: Some("5") });
        if let Some(s) = &seq_text {
            h = h.insert(Header { key: "maxwell.seq", value: Some(s.as_str()) });
        }
        producer.send(BaseRecord::to(&topic).partition(partition).key("k").payload("{}").headers(h)).expect("enqueue");
    };
    // Partition 0: 100 messages numbered 0..99, number 60 missing, another cluster's messages
    // in between (more than the first read-back window of 16, so the walk reads further back).
    for i in 0..100u64 {
        if i != 60 {
            send(0, "/ours", 1000 + 10 * i, Some(i));
        }
        if i % 7 == 0 {
            send(0, "/theirs", 1, Some(i));
        }
    }
    // Partition 1: 40 messages without a hole.
    for i in 0..40u64 {
        send(1, "/ours", 1000 + 10 * i, Some(i));
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
    // The new term starts after message 10 (acknowledged by the old leader).
    let start = ResumePoint { position: BinlogPosition::new("mysql-bin.000001", 1100), gtid: None, server_id: 1 };
    let props = vec![("bootstrap.servers".to_string(), kafka_bootstrap())];
    let consumer = maxwell_ha::sink::kafka::config::read_back_consumer(&props, "test-scan", None).expect("consumer");
    let last = maxwell_ha::sink::kafka::read_last_rows(&consumer, &topic, 2, Some("/ours"), &start).expect("scan");
    let pos = |p: usize| last[p].as_ref().map(|l| l.position.pos);
    assert_eq!(pos(0), Some(1000 + 10 * 59), "partition 0: skip up to the message before the hole, not to the newest (1990)");
    assert_eq!(pos(1), Some(1000 + 10 * 39), "partition 1: no hole, skip up to the newest");
}
