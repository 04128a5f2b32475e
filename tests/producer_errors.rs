//! A row Kafka refuses for good, among normal rows, under Maxwell's producer-error settings.
//! Real 3-server ZooKeeper ensemble, real MariaDB, real Apache Kafka; what landed is read with
//! the independent client (`tests/kafka_tool.py`, read_committed).
//!
//! A three-node exactly-once cluster writes rows of `t` steadily; one binlog transaction holds
//! two rows of `t` and, between them, a 200 KB row of `blobs`, too large for the topic
//! (`max.message.bytes=60000`, so the broker refuses it and the Kafka transaction it is in
//! cannot commit) or for the producer (`kafka.message.max.bytes=100000`, refused when handed
//! over):
//! - `ignore_producer_error=true` (the default): every other row lands exactly once and the
//!   big one is counted as skipped; also when the leader is killed as it redoes the Kafka
//!   transaction the row was in;
//! - `dead_letter_topic`: Maxwell's dead-letter record lands there, every other row exactly
//!   once;
//! - `ignore_producer_error=false`: the leader stops naming the row and the command, no node
//!   leads while it holds (the epoch does not move: no standby is handed the same failure),
//!   `maxwell-cli row skip` releases it, and every row before and after lands exactly once;
//! - an at-least-once cluster: the row skipped, no other row lost;
//! - a node alone (at-least-once) with `ignore_producer_error=false` stops naming the row;
//!   `maxwell-cli row skip` (its marker in schema_database) lets the next start skip it.

mod common;

use common::cluster::*;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// The ids of the binlog transaction with the refused row: two rows of `t` around it.
const AROUND: [u64; 2] = [1_000_001, 1_000_002];
/// The refused row's id in `blobs`.
const BIG_ID: u64 = 9_000_001;

/// A topic of 3 partitions with `config`, a dead-letter topic, and `db` with `t` and `blobs`.
async fn prepare(tag: &str, config: &str) -> (String, String) {
    let topic = format!("{tag}_rows");
    let out = kafka_tool(&["create", &topic, "3", config]);
    assert!(out.status.success(), "creating {topic}: {}", String::from_utf8_lossy(&out.stderr));
    create_topic(&format!("{tag}_dlq"), 1);
    let db = format!("{tag}_db");
    let mut c = conn().await;
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, v VARCHAR(40))")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.blobs (id BIGINT PRIMARY KEY, body LONGTEXT)")).await;
    let _ = c.disconnect().await;
    (topic, db)
}

/// One binlog transaction: a row of `t`, the 200 KB row of `blobs`, another row of `t`.
async fn write_big(db: &str) {
    let mut c = conn().await;
    exec(&mut c, "BEGIN").await;
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES ({}, 'before the big one')", AROUND[0])).await;
    exec(&mut c, &format!("INSERT INTO {db}.blobs VALUES ({BIG_ID}, REPEAT('x', 200000))")).await;
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES ({}, 'after the big one')", AROUND[1])).await;
    exec(&mut c, "COMMIT").await;
    let _ = c.disconnect().await;
}

/// Three nodes; waits for the first leader's first commit.
async fn cluster(tag: &str, topic: &str, db: &str, extra: &[&str]) -> Cluster {
    let mut cl = Cluster::new(tag, topic, db);
    cl.extra = extra.iter().map(|s| s.to_string()).collect();
    for id in ["a", "b", "c"] {
        cl.start(id, None);
    }
    cl.wait_leader(None, Duration::from_secs(30)).await;
    cl.wait_committed().await;
    cl
}

/// Checks that every row of `t` (1..=written and the two around the big one) landed exactly
/// once and the big row not at all; returns the messages.
fn every_other_row_once(cl: &Cluster, written: u64) -> Vec<serde_json::Value> {
    let expected = written as usize + AROUND.len();
    let all = consume(std::slice::from_ref(&cl.topic), expected, 120, "primary_key", "default");
    let big: Vec<_> = all.iter().filter(|m| m["value"]["table"] == "blobs").collect();
    assert!(big.is_empty(), "the refused row landed: {big:?}");
    let msgs = messages(&cl.topic, expected);
    let (lost, dups, zombie) = verdict(&msgs, (1..=written).chain(AROUND));
    println!("{expected} rows of t expected, {} delivered, {} lost, {} duplicated, {zombie} zombie", msgs.len(), lost.len(), dups.len());
    assert!(lost.is_empty() && dups.is_empty() && zombie == 0, "lost {:?} duplicated {:?} ({}) zombie {zombie}\n{}", sample(&lost), sample(&dups), copies(&msgs, &dups), cl.logs());
    all
}

/// `maxwell_refused_rows_total{action}` summed over the nodes still answering.
fn refused(cl: &Cluster, action: &str) -> f64 {
    cl.nodes.iter().filter_map(|n| scrape(n.http)).map(|m| m.get(&format!("maxwell_refused_rows_total{{action=\"{action}\"}}")).copied().unwrap_or(0.0)).sum()
}

async fn zk_get(path: &str) -> Option<serde_json::Value> {
    let client = zookeeper_client::Client::connect(&zk_servers()).await.ok()?;
    let (d, _) = client.get_data(path).await.ok()?;
    serde_json::from_slice(&d).ok()
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_maxwell-cli")).args(args).output().expect("maxwell-cli runs")
}

/// Waits until `check` holds, up to `t`.
async fn until(t: Duration, what: &str, cl: &Cluster, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + t;
    while !check() {
        assert!(Instant::now() < deadline, "{what} did not happen within {t:?}\n{}", cl.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_row_is_skipped_by_default_and_the_rest_is_exactly_once() {
    let tag = unique("perrskip");
    let (topic, db) = prepare(&tag, "max.message.bytes=60000").await;
    let mut cl = cluster(&tag, &topic, &db, &[]).await;
    let (leader, epoch) = cl.leader().await.unwrap();
    let writer = Writer::start(&db, Duration::from_millis(20));
    tokio::time::sleep(Duration::from_secs(2)).await;
    write_big(&db).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let written = writer.stop().await;
    every_other_row_once(&cl, written);
    until(Duration::from_secs(10), "the skip counted", &cl, || refused(&cl, "skipped") == 1.0).await;
    assert_eq!(refused(&cl, "stuck"), 0.0);
    // The Kafka transaction with the big row was aborted and redone by the same term.
    assert_eq!(cl.leader().await, Some((leader.clone(), epoch)), "the same leader, the same term\n{}", cl.logs());
    let log = cl.log(&leader);
    assert!(log.contains("sending each alone") && log.contains("skipped a row Kafka refused"), "{}", tail(&log, 60));
    cl.stop_all();
}

/// The leader is killed (-9) the moment it starts reading again to redo the Kafka transaction
/// the refused row was in: the next leader finds the row itself, and every other row still
/// lands exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_takeover_while_the_refused_row_is_redone_loses_and_repeats_nothing() {
    let tag = unique("perrkill");
    let (topic, db) = prepare(&tag, "max.message.bytes=60000").await;
    let mut cl = cluster(&tag, &topic, &db, &[]).await;
    let (leader, epoch) = cl.leader().await.unwrap();
    let writer = Writer::start(&db, Duration::from_millis(20));
    tokio::time::sleep(Duration::from_secs(2)).await;
    write_big(&db).await;
    let t0 = Instant::now();
    while !cl.log(&leader).contains("leading on from the last committed position") {
        assert!(t0.elapsed() < Duration::from_secs(20), "the leader never read again\n{}", cl.logs());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    signal(cl.node(&leader).child.id(), "KILL");
    let killed_after = t0.elapsed();
    let (next, next_epoch) = cl.wait_leader(Some(&leader), Duration::from_secs(30)).await;
    assert!(next_epoch > epoch);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let written = writer.stop().await;
    every_other_row_once(&cl, written);
    let log = cl.log(&next);
    assert!(log.contains("skipped a row Kafka refused"), "{next} met the row itself:\n{}", tail(&log, 40));
    println!("{leader} killed {killed_after:?} after the big transaction, as it read again; {next} led in epoch {next_epoch} and skipped the row");
    cl.stop_all();
}

/// At-least-once: the same rules; the stream is read again from the acknowledged position
/// (rows may repeat, none is lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_least_once_skips_the_row_and_loses_nothing() {
    let tag = unique("perralo");
    let (topic, db) = prepare(&tag, "max.message.bytes=60000").await;
    let mut cl = cluster(&tag, &topic, &db, &["--ha_delivery=at_least_once"]).await;
    let writer = Writer::start(&db, Duration::from_millis(20));
    tokio::time::sleep(Duration::from_secs(2)).await;
    write_big(&db).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let written = writer.stop().await;
    let expected = written as usize + AROUND.len();
    let all = consume(std::slice::from_ref(&cl.topic), expected, 120, "primary_key", "default");
    assert!(all.iter().all(|m| m["value"]["table"] != "blobs"), "the refused row landed");
    let msgs = messages(&cl.topic, expected);
    let (lost, dups, _) = verdict(&msgs, (1..=written).chain(AROUND));
    println!("at-least-once: {expected} rows expected, {} delivered, {} lost, {} repeated", msgs.len(), lost.len(), dups.len());
    assert!(lost.is_empty(), "lost {:?}\n{}", sample(&lost), cl.logs());
    until(Duration::from_secs(10), "the skip counted", &cl, || refused(&cl, "skipped") >= 1.0).await;
    cl.stop_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_row_becomes_a_dead_letter_record() {
    let tag = unique("perrdlq");
    let (topic, db) = prepare(&tag, "").await;
    let dlq = format!("{tag}_dlq");
    // The producer's own limit: refused when handed over, the transaction is not affected.
    let mut cl = cluster(&tag, &topic, &db, &["--kafka.message.max.bytes=100000", &format!("--dead_letter_topic={dlq}")]).await;
    let writer = Writer::start(&db, Duration::from_millis(20));
    tokio::time::sleep(Duration::from_secs(2)).await;
    write_big(&db).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let written = writer.stop().await;
    every_other_row_once(&cl, written);
    let dead = consume(std::slice::from_ref(&dlq), 1, 60, "primary_key", "default");
    assert_eq!(dead.len(), 1, "one dead-letter record: {dead:?}");
    let want = serde_json::json!({"database": db, "table": "blobs", "type": "insert", "reason": "RecordTooLargeException", "data": {"id": BIG_ID}});
    assert_eq!(dead[0]["value"], want);
    assert_eq!(dead[0]["key"], format!("{{\"database\":\"{db}\",\"table\":\"blobs\",\"pk.id\":{BIG_ID}}}"));
    until(Duration::from_secs(10), "the dead letter counted", &cl, || refused(&cl, "dead_lettered") == 1.0).await;
    cl.stop_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ignore_producer_error_false_holds_the_cluster_at_the_row_until_skipped() {
    let tag = unique("perrhold");
    let (topic, db) = prepare(&tag, "max.message.bytes=60000").await;
    let mut cl = cluster(&tag, &topic, &db, &["--ignore_producer_error=false"]).await;
    let (leader, epoch) = cl.leader().await.unwrap();
    let writer = Writer::start(&db, Duration::from_millis(20));
    tokio::time::sleep(Duration::from_secs(2)).await;
    write_big(&db).await;
    // The leader stops at the row and names it, with the command.
    let stuck_path = format!("{}/stuck", cl.root);
    let t0 = Instant::now();
    let marker = loop {
        if let Some(m) = zk_get(&stuck_path).await {
            break m;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "no stuck marker\n{}", cl.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let row = format!("{}#{}", marker["refused"]["row"]["position"].as_str().unwrap(), marker["refused"]["row"]["row"]);
    assert_eq!(marker["refused"]["row"]["row"], 1, "the second row of its transaction");
    assert_eq!((marker["refused"]["database"].as_str(), marker["refused"]["table"].as_str()), (Some(db.as_str()), Some("blobs")));
    assert_eq!(marker["refused"]["primary_key"], format!("{{\"id\":{BIG_ID}}}"));
    assert_eq!(marker["node_id"], leader.as_str());
    let command = format!("maxwell-cli --root={} row skip {row}", cl.root);
    until(Duration::from_secs(10), "the leader's error", &cl, || cl.log(&leader).contains(&command)).await;
    let log = cl.log(&leader);
    let line = log.lines().find(|l| l.contains("stopped at a row Kafka refused")).unwrap_or_default();
    for part in [db.as_str(), "blobs", &format!("{{\"id\":{BIG_ID}}}"), &row, "RecordTooLargeException", &command] {
        assert!(line.contains(part), "{part} missing from the error: {line}");
    }
    // Held: nobody leads, the epoch does not move, every node stays up and says so.
    tokio::time::sleep(Duration::from_secs(2 * SESSION_MS / 1000 + 2)).await;
    assert_eq!(cl.leader().await, None, "a node leads the held stream\n{}", cl.logs());
    let held_epoch = zk_get(&format!("{}/epoch", cl.root)).await.unwrap()["epoch"].as_u64().unwrap();
    assert_eq!(held_epoch, epoch, "the failure was handed to a standby (epoch {epoch} → {held_epoch})\n{}", cl.logs());
    for n in &mut cl.nodes {
        assert!(n.child.try_wait().unwrap().is_none(), "node {} exited", n.id);
    }
    for n in &cl.nodes {
        let m = scrape(n.http).unwrap();
        assert_eq!(m.get("maxwell_stuck_rows"), Some(&1.0), "node {} does not report holding", n.id);
    }
    assert_eq!(refused(&cl, "stuck"), 1.0, "counted once, by the leader that stopped");
    let zk = zk_servers();
    let status = cli(&["--zookeeper", &zk, "--root", &cl.root, "--json", "cluster", "status"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["health"], "STUCK", "{status}");
    let show = cli(&["--zookeeper", &zk, "--root", &cl.root, "row", "show"]);
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(show.contains(&row) && show.contains("RecordTooLargeException") && show.contains("none yet"), "{show}");
    // Another row than the one held is refused; the one held is skipped.
    let other = cli(&["--zookeeper", &zk, "--root", &cl.root, "row", "skip", &format!("{}#0", marker["refused"]["row"]["position"].as_str().unwrap())]);
    assert!(!other.status.success() && String::from_utf8_lossy(&other.stderr).contains("not"), "{other:?}");
    let out = cli(&["--zookeeper", &zk, "--root", &cl.root, "row", "skip", &row]);
    assert!(out.status.success(), "maxwell-cli row skip: {}", String::from_utf8_lossy(&out.stderr));
    let (next, next_epoch) = cl.wait_leader(None, Duration::from_secs(30)).await;
    assert_eq!(next_epoch, epoch + 1, "one new term after the skip");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let written = writer.stop().await;
    every_other_row_once(&cl, written);
    let t0 = Instant::now();
    while zk_get(&stuck_path).await.is_some() {
        assert!(t0.elapsed() < Duration::from_secs(10), "the stuck marker was not deleted after the row\n{}", cl.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    until(Duration::from_secs(10), "the skip counted", &cl, || refused(&cl, "skipped") == 1.0).await;
    for n in &cl.nodes {
        assert_eq!(scrape(n.http).unwrap().get("maxwell_stuck_rows"), Some(&0.0), "node {} still holds", n.id);
    }
    println!("held at {row} by {leader} (epoch {epoch}); after `row skip` {next} leads in epoch {next_epoch}");
    cl.stop_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_alone_stops_at_the_row_and_maxwell_cli_skips_it() {
    let tag = unique("perralone");
    let (topic, db) = prepare(&tag, "max.message.bytes=60000").await;
    let client_id = format!("{tag}c");
    let args = vec![
        "--producer=kafka".to_string(),
        format!("--kafka.bootstrap.servers={}", kafka_bootstrap()),
        format!("--kafka_topic={topic}"),
        "--producer_partition_by=primary_key".into(),
        format!("--filter=exclude: *.*, include: {db}.*"),
        format!("--client_id={client_id}"),
        "--ignore_producer_error=false".into(),
    ];
    let node = spawn_maxwell(&args);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut c = conn().await;
    for i in 1..=5u64 {
        exec(&mut c, &format!("INSERT INTO {db}.t VALUES ({i}, 'x')")).await;
    }
    write_big(&db).await;
    let (status, stderr) = node.wait_exit(Duration::from_secs(60));
    assert!(status.is_some_and(|s| !s.success()), "the node did not stop: {stderr}");
    let line = stderr.lines().find(|l| l.contains("ignore_producer_error is false")).unwrap_or_else(|| panic!("no error naming the row: {stderr}"));
    for part in [db.as_str(), "blobs", "row skip", "RecordTooLargeException"] {
        assert!(line.contains(part), "{part} missing from: {line}");
    }
    let row = line.split("row skip ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    // Rows written while it was stopped, then the skip and a new start.
    for i in 6..=10u64 {
        exec(&mut c, &format!("INSERT INTO {db}.t VALUES ({i}, 'x')")).await;
    }
    // The node's connection settings, no ZooKeeper: its marker in schema_database.
    let sets = ["--set=host=127.0.0.1".to_string(), format!("--set=port={}", mysql_port()), "--set=user=root".into(), format!("--set=client_id={client_id}")];
    let mut cli_args: Vec<&str> = sets.iter().map(String::as_str).collect();
    cli_args.extend(["row", "skip", row.as_str()]);
    let out = cli(&cli_args);
    assert!(out.status.success(), "maxwell-cli row skip: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let again = spawn_maxwell(&args);
    let all = consume(std::slice::from_ref(&topic), 12, 60, "primary_key", "default");
    let ids: Vec<u64> = all.iter().filter(|m| m["value"]["table"] == "t").map(|m| m["value"]["data"]["id"].as_u64().unwrap()).collect();
    assert!(all.iter().all(|m| m["value"]["table"] != "blobs"), "the skipped row landed");
    for id in (1..=10).chain(AROUND) {
        assert!(ids.contains(&id), "row {id} missing: {ids:?}\n{}", again.stderr());
    }
    let (_, _, err) = again.terminate();
    assert!(err.contains("applying the operator's verdict"), "{err}");
}
