//! Broker outage: the broker is killed (kill -9) mid-stream and restarted; `maxwell` waits
//! (librdkafka retries idempotently, reading stops when its queue is full) and every row
//! arrives exactly once, checked by an independent consumer.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::time::Duration;

const TXS: u64 = 300;
const ROWS_PER_TX: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_loses_and_duplicates_nothing() {
    let topic = unique("outage");
    create_topic(&topic, 2);
    let mut c = conn().await;
    exec(&mut c, "DROP DATABASE IF EXISTS outage_it").await;
    exec(&mut c, "CREATE DATABASE outage_it").await;
    exec(&mut c, "CREATE TABLE outage_it.t (id BIGINT PRIMARY KEY, v VARCHAR(20))").await;
    let start = master_position(&mut c).await;
    let _ = c.disconnect().await;

    let m = spawn_maxwell(&[
        format!("--init_position={start}"),
        "--filter=exclude: *.*, include: outage_it.*".into(),
        "--producer=kafka".into(),
        format!("--kafka.bootstrap.servers={}", kafka_bootstrap()),
        format!("--kafka_topic={topic}"),
        "--producer_partition_by=primary_key".into(),
        "--kafka.reconnect.backoff.max.ms=500".into(),
    ]);
    let writer = tokio::spawn(async move {
        let mut w = conn().await;
        for tx in 0..TXS {
            let values: Vec<String> = (0..ROWS_PER_TX).map(|i| format!("({}, 'v')", tx * ROWS_PER_TX + i + 1)).collect();
            exec(&mut w, &format!("INSERT INTO outage_it.t VALUES {}", values.join(","))).await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    script("kafka.sh", &["kill", "1"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    script("kafka.sh", &["start"]);
    writer.await.unwrap();

    let got = consume(&[topic.clone()], (TXS * ROWS_PER_TX) as usize, 120, "primary_key", "default");
    let (st, _, err) = m.terminate();
    assert!(st.success(), "maxwell survived the outage and stopped cleanly: {err}");
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    for msg in &got {
        *seen.entry(msg["value"]["data"]["id"].as_u64().unwrap()).or_default() += 1;
        assert_eq!(msg["partition"], msg["expected_partition"]);
    }
    let missing: Vec<u64> = (1..=TXS * ROWS_PER_TX).filter(|i| !seen.contains_key(i)).collect();
    let dups: Vec<(&u64, &u32)> = seen.iter().filter(|(_, n)| **n > 1).collect();
    println!("outage: {} rows delivered, {} missing, {} duplicated", got.len(), missing.len(), dups.len());
    assert!(missing.is_empty(), "lost rows: {missing:?}");
    assert!(dups.is_empty(), "duplicated rows: {dups:?}");
}
