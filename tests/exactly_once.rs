//! Exactly-once at the broker: a deposed leader cannot get a row past a `read_committed`
//! consumer. Real 3-server ZooKeeper ensemble, real MariaDB, real Apache Kafka; every row is
//! counted by an independent consumer (Python confluent-kafka, read_committed), with the
//! settings a user gets by default (ha_delivery=exactly_once, acks=all, idempotence).
//!
//! - A leader cut from ZooKeeper only (an iptables rule on the ZooKeeper ports for its uid)
//!   while it streams a 1 000 000-row transaction. The promise is asserted (nothing lost,
//!   nothing repeated, nothing of the old epoch after the new one); which way the old leader
//!   stopped (it noticed the disconnection, its stall watchdog fired, or the broker fenced
//!   it) is recorded, not asserted: each of them keeps the promise.
//! - A leader frozen (SIGSTOP) with an open Kafka transaction, thawed after the takeover: its
//!   buffered batch is fenced.
//! - Two clusters writing to one topic, each leader killed (in both delivery modes: the
//!   at-least-once takeover scan must pass over the other cluster's messages).
//! - A checkpoint topic shared with another producer whose transaction stays open across a
//!   takeover: the new leader waits for it instead of resuming from a checkpoint behind it.
//!
//! Each test fails on any lost, duplicated or zombie row (a message of an older epoch after
//! one of a newer epoch in the same partition).

mod common;

use common::cluster::*;
use common::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_cut_from_zookeeper_mid_transaction_is_fenced() {
    // Large enough that the cut leader, which goes on writing to Kafka until it notices the cut
    // (0.4 × its session), cannot finish it first: fast runs streamed 500 000 rows in 1.6 s
    // (with a 4 s session, at 200 000 and at 400 000 rows, runs finished before noticing).
    const BIG: u64 = 1_000_000;
    let tag = unique("eoscut");
    let (topic, db) = setup(&tag, 3).await;
    let mut cl = Cluster::new(&tag, &topic, &db);
    // Kafka transactions of at most 20 000 rows: the big binlog transaction is split, and the
    // leader is cut after it committed some of its parts. 1 MiB of a binlog transaction in
    // memory: the big one also spills to disk and is handed on in parts.
    cl.extra = vec!["--ha_kafka_transaction_rows=20000".into(), "--tx_memory_mb=1".into()];
    // The cut node's session is 2 s: it notices the cut after 0.8 s (0.4 × its session).
    cl.extra.push("--zookeeper_session_timeout_ms=2000".into());
    cl.start("a", Some(CUT_UID));
    cl.extra.pop();
    let (first, epoch_a) = cl.wait_leader(None, Duration::from_secs(30)).await;
    assert_eq!(first, "a", "the node started first leads");
    cl.wait_committed().await;
    cl.start("b", None);
    cl.start("c", None);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // One binlog transaction of 400 000 rows (split across Kafka transactions).
    let mut c = conn().await;
    exec(&mut c, &format!("INSERT INTO {db}.t SELECT seq, 'big' FROM {db}.seq_1_to_{BIG}")).await;
    // Cut the leader from ZooKeeper (not from Kafka or MariaDB) once it committed part of the
    // big transaction (and goes on sending the rest).
    let a_http = cl.node("a").http;
    let t0 = Instant::now();
    loop {
        let sent = scrape(a_http).and_then(|m| m.get("maxwell_messages_total{result=\"succeeded\"}").copied()).unwrap_or(0.0);
        if sent >= 20_000.0 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "leader a never committed part of the big transaction\n{}", cl.logs());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cut = ZkCut::new(CUT_UID);
    let sent_at_cut = scrape(a_http).and_then(|m| m.get("maxwell_messages_total{result=\"succeeded\"}").copied()).unwrap_or(0.0);
    println!("cut at {sent_at_cut} rows sent, {:?} after the big insert", t0.elapsed());
    let (next, epoch_next) = cl.wait_leader(Some("a"), Duration::from_secs(SESSION_MS / 1000 + 15)).await;
    assert!(epoch_next > epoch_a);
    // More rows after the takeover, one transaction each.
    for i in 1..=20u64 {
        exec(&mut c, &format!("INSERT INTO {db}.t VALUES ({}, 'after')", BIG + i)).await;
    }
    let total = BIG + 20;
    let msgs = messages(&topic, total as usize);
    drop(cut);
    let (lost, dups, zombie) = verdict(&msgs, 1..=total);
    let log_a = cl.log("a");
    let stopped_by = how_it_stopped(&log_a);
    let resumed = cl.log(&next).lines().find(|l| l.contains("resuming from the Kafka checkpoint")).unwrap_or_default().to_string();
    println!(
        "ZooKeeper cut mid-transaction: a (epoch {epoch_a}) → {next} (epoch {epoch_next}); {} rows expected, {} delivered, {} lost, {} duplicated, {} zombie; a stopped by: {stopped_by}; {next} {}",
        total,
        msgs.len(),
        lost.len(),
        dups.len(),
        zombie,
        resumed.split("checkpoint=").nth(1).unwrap_or("-")
    );
    assert!(resumed.contains("\"partial\":{"), "the new leader resumed inside the split transaction:\n{}", cl.logs());
    for n in ["a", next.as_str()] {
        assert!(cl.log(n).contains("its rows go to a temporary file"), "{n} spilled the big transaction to disk:\n{}", cl.logs());
    }
    assert!(lost.is_empty() && dups.is_empty() && zombie == 0, "lost {:?} duplicated {:?} ({}) zombie {zombie}\n{}", sample(&lost), sample(&dups), copies(&msgs, &dups), cl.logs());
}

/// Which ways a cut leader stopped writing, from its log (several can show: a watchdog's stop
/// followed by a fenced commit).
fn how_it_stopped(log: &str) -> String {
    let ways: Vec<&str> = [
        ("leadership in doubt", "noticed the ZooKeeper disconnection"),
        ("leader stalled", "its stall watchdog"),
        ("fenced", "fenced by the broker"),
    ]
    .into_iter()
    .filter(|(needle, _)| log.to_lowercase().contains(needle))
    .map(|(_, way)| way)
    .collect();
    if ways.is_empty() { "nothing in its log (still streaming when the run ended?)".into() } else { ways.join(" + ") }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn frozen_leader_is_fenced_on_sigcont() {
    let tag = unique("eosfrz");
    let (topic, db) = setup(&tag, 3).await;
    let mut cl = Cluster::new(&tag, &topic, &db);
    // Kafka transactions of 2 s: the leader is frozen with one open and rows buffered in it.
    cl.extra = vec!["--ha_commit_interval_ms=2000".into()];
    cl.start("a", None);
    let (first, _) = cl.wait_leader(None, Duration::from_secs(30)).await;
    cl.wait_committed().await;
    cl.start("b", None);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let writer = Writer::start(&db, Duration::from_millis(5));
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Frozen with an open Kafka transaction and messages in librdkafka's queue.
    let pid = cl.node(&first).child.id();
    signal(pid, "STOP");
    let (next, _) = cl.wait_leader(Some(&first), Duration::from_secs(SESSION_MS / 1000 + 15)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    signal(pid, "CONT");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let total = writer.stop().await;
    let msgs = messages(&topic, total as usize);
    let (lost, dups, zombie) = verdict(&msgs, 1..=total);
    let log_a = cl.log(&first);
    println!(
        "frozen leader: {first} → {next}; {total} rows written, {} delivered, {} lost, {} duplicated, {} zombie",
        msgs.len(),
        lost.len(),
        dups.len(),
        zombie
    );
    assert!(lost.is_empty() && dups.is_empty() && zombie == 0, "lost {:?} duplicated {:?} ({}) zombie {zombie}\n{}", sample(&lost), sample(&dups), copies(&msgs, &dups), cl.logs());
    assert!(log_a.to_lowercase().contains("fenced"), "the thawed leader's producer was fenced by the broker:\n{}", tail(&log_a, 40));
    assert!(cl.nodes.iter_mut().find(|n| n.id == first).unwrap().child.try_wait().unwrap().is_none(), "the thawed leader keeps running as a standby");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_clusters_share_a_topic() {
    two_clusters("exactly_once").await;
}

/// The at-least-once takeover scan must pass over the other cluster's messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_clusters_share_a_topic_at_least_once() {
    two_clusters("at_least_once").await;
}

async fn two_clusters(delivery: &str) {
    let tag = unique(if delivery == "exactly_once" { "eos2c" } else { "alo2c" });
    let topic = format!("{tag}_rows");
    create_topic(&topic, 3);
    let mut clusters = Vec::new();
    for k in ["x", "y"] {
        let db = format!("{tag}_{k}");
        let mut c = conn().await;
        exec(&mut c, &format!("CREATE DATABASE {db}")).await;
        exec(&mut c, &format!("CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, v VARCHAR(40))")).await;
        let mut cl = Cluster::new(&format!("{tag}{k}"), &topic, &db);
        cl.extra = vec![format!("--ha_delivery={delivery}")];
        cl.start(&format!("{k}1"), None);
        clusters.push(cl);
    }
    for cl in &mut clusters {
        cl.wait_leader(None, Duration::from_secs(30)).await;
        cl.wait_committed().await;
        let id = format!("{}2", &cl.db[cl.db.len() - 1..]);
        cl.start(&id, None);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Ids are shared across the two databases: odd ids in x, even ids in y.
    let writer = Writer::start_into(clusters.iter().map(|c| c.db.clone()).rev().collect(), 1, Duration::from_millis(5));
    tokio::time::sleep(Duration::from_secs(2)).await;
    for cl in &clusters {
        let (leader, _) = cl.leader().await.unwrap();
        signal(cl.node(&leader).child.id(), "KILL");
        cl.wait_leader(Some(&leader), Duration::from_secs(SESSION_MS / 1000 + 15)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let total = writer.stop().await;
    let msgs = messages(&topic, total as usize);
    let (lost, dups, zombie) = verdict(&msgs, 1..=total);
    println!("two clusters, one topic ({delivery}): {total} rows written, {} delivered, {} lost, {} duplicated, {} zombie", msgs.len(), lost.len(), dups.len(), zombie);
    let logs: String = clusters.iter().map(|c| c.logs()).collect();
    assert!(lost.is_empty() && dups.is_empty() && zombie == 0, "lost {:?} duplicated {:?} ({}) zombie {zombie}\n{logs}", sample(&lost), sample(&dups), copies(&msgs, &dups));
}

/// The checkpoint topic is shared (`ha_checkpoint_topic`) and another producer keeps a
/// transaction open on it, so its last stable offset stays behind the leader's newest
/// checkpoints. The leader is killed: the next one must not resume from the last checkpoint
/// a `read_committed` reader can see (that would send everything after it again); it waits
/// for the other transaction to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shared_checkpoint_topic_held_by_a_foreign_transaction() {
    let tag = unique("eoshold");
    let (topic, db) = setup(&tag, 3).await;
    let shared = format!("{tag}.checkpoints");
    create_topic(&shared, 1);
    let mut cl = Cluster::new(&tag, &topic, &db);
    cl.extra = vec![format!("--ha_checkpoint_topic={shared}")];
    cl.start("a", None);
    cl.wait_leader(None, Duration::from_secs(30)).await;
    cl.wait_committed().await;
    cl.start("b", None);
    let writer = Writer::start(&db, Duration::from_millis(10));
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Another producer's transaction, open for 8 s, ahead of a's next checkpoints.
    let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka_tool.py");
    let mut hold = std::process::Command::new("python3")
        .args([tool, &kafka_bootstrap(), "hold", &shared, "8"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(hold.stdout.take().unwrap()), &mut line).unwrap();
    assert_eq!(line.trim(), "open", "the foreign transaction is open");
    tokio::time::sleep(Duration::from_secs(1)).await;
    signal(cl.node("a").child.id(), "KILL");
    cl.wait_leader(Some("a"), Duration::from_secs(SESSION_MS / 1000 + 20)).await;
    assert!(hold.wait().unwrap().success(), "the foreign transaction committed");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let total = writer.stop().await;
    let msgs = messages(&topic, total as usize);
    let (lost, dups, zombie) = verdict(&msgs, 1..=total);
    println!("shared checkpoint topic held open: {total} rows written, {} delivered, {} lost, {} duplicated, {} zombie", msgs.len(), lost.len(), dups.len(), zombie);
    assert!(lost.is_empty() && dups.is_empty() && zombie == 0, "lost {:?} duplicated {:?} ({}) zombie {zombie}\n{}", sample(&lost), sample(&dups), copies(&msgs, &dups), cl.logs());
    assert!(cl.log("b").contains("held by another producer's transaction"), "b waited for the foreign transaction:\n{}", cl.logs());
}
