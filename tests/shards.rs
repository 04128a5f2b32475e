//! Shards on real services: three `maxwell` nodes, six shards (one database each) under a
//! steady write load. The leaderships spread 2-2-2; kill -9 of a node moves its shards within
//! the session timeout + 1 s (3-3); the node comes back and gets its share again (2-2-2); a
//! shard is moved by hand; a node is drained and undrained; a cluster-wide setting is changed; a seventh shard is added and then
//! removed at run time. An
//! independent read_committed consumer checks every row arrived exactly once and every key's
//! updates in order.
//!
//! A second test switches a streaming unsharded cluster to one shard and back under load:
//! every row arrives exactly once across both switches. The two tests take turns.

mod common;

use common::cluster::*;
use common::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zookeeper_client as zk;

const SHARDS: usize = 6;

/// The tests take turns: each measures times that a second cluster's load would stretch.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn cli(root: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_maxwell-cli"))
        .args(["--zookeeper", &zk_servers(), "--root", root])
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `file.NNNNNN:pos` as a comparable pair.
fn binlog_pos(p: &str) -> (String, u64) {
    let (f, pos) = p.rsplit_once(':').unwrap();
    (f.to_string(), pos.parse().unwrap())
}

/// shard → (leader, epoch) as ZooKeeper has it.
async fn leaders(client: &zk::Client, root: &str) -> BTreeMap<String, (String, u64)> {
    let mut out = BTreeMap::new();
    for s in client.list_children(&format!("{root}/shards")).await.unwrap_or_default() {
        if let Ok((d, _)) = client.get_data(&format!("{root}/shards/{s}/leader")).await {
            let v: serde_json::Value = serde_json::from_slice(&d).unwrap();
            if v["epoch"].as_u64().unwrap_or(0) > 0 {
                out.insert(s, (v["node_id"].as_str().unwrap().to_string(), v["epoch"].as_u64().unwrap()));
            }
        }
    }
    out
}

/// How many shards each node leads, sorted (e.g. [2, 2, 2]).
fn spread(l: &BTreeMap<String, (String, u64)>) -> Vec<usize> {
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for (n, _) in l.values() {
        *per.entry(n.as_str()).or_default() += 1;
    }
    let mut v: Vec<usize> = per.into_values().collect();
    v.sort();
    v
}

/// Waits until `ok` holds for the leaders of `shards` shards; returns them and the time taken.
async fn wait_for(
    client: &zk::Client,
    cl: &Cluster,
    shards: usize,
    timeout: Duration,
    what: &str,
    ok: impl Fn(&BTreeMap<String, (String, u64)>) -> bool,
) -> (BTreeMap<String, (String, u64)>, Duration) {
    let t0 = Instant::now();
    loop {
        let l = leaders(client, &cl.root).await;
        if l.len() == shards && ok(&l) {
            return (l, t0.elapsed());
        }
        assert!(t0.elapsed() < timeout, "{what}: not within {timeout:?}; leaders now {l:?}\n{}", cl.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Steady updates of one counter row per database (`c.n` = 1, 2, 3, …): a key's updates.
struct Counter {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<BTreeMap<String, u64>>,
}

impl Counter {
    fn start(dbs: Vec<String>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let task = tokio::spawn(async move {
            let mut c = conn().await;
            let mut n: BTreeMap<String, u64> = dbs.iter().map(|d| (d.clone(), 0)).collect();
            while !s.load(Ordering::Relaxed) {
                for d in &dbs {
                    exec(&mut c, &format!("UPDATE {d}.c SET n = n + 1 WHERE id = 1")).await;
                    *n.get_mut(d).unwrap() += 1;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            n
        });
        Self { stop, task }
    }
    async fn stop(self) -> BTreeMap<String, u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shards_spread_move_and_deliver_every_row_once() {
    let _turn = TURN.lock().await;
    let u = unique("sh");
    let topic = format!("{u}_rows");
    create_topic(&topic, 3);
    let dbs: Vec<String> = (1..=SHARDS + 1).map(|i| format!("{u}_d{i}")).collect();
    let mut c = conn().await;
    for d in &dbs {
        exec(&mut c, &format!("CREATE DATABASE {d}")).await;
        exec(&mut c, &format!("CREATE TABLE {d}.t (id BIGINT PRIMARY KEY, v VARCHAR(40))")).await;
        exec(&mut c, &format!("CREATE TABLE {d}.c (id INT PRIMARY KEY, n BIGINT)")).await;
        exec(&mut c, &format!("INSERT INTO {d}.c VALUES (1, 0)")).await;
    }
    let client = zk::Client::connect(&zk_servers()).await.expect("test ZooKeeper ensemble (scripts/zookeeper.sh start)");
    // The node filter takes every database of this test; the shards split them.
    let mut cl = Cluster::new(&u, &topic, &format!("/^{u}_d/"));
    cl.extra = vec!["--http_admin_token=sh-token".into()];
    for (i, d) in dbs.iter().take(SHARDS).enumerate() {
        let (ok, out) = cli(&cl.root, &["shard", "add", &format!("s{}", i + 1), "--filter", &format!("include: {d}.*")]);
        assert!(ok, "shard add: {out}");
    }
    // Overlaps and bad filters are refused with a message that says why.
    let (ok, out) = cli(&cl.root, &["shard", "add", "dup", "--filter", &format!("include: {}.t", dbs[0])]);
    assert!(!ok && out.contains("overlaps shard s1"), "{out}");
    let (ok, out) = cli(&cl.root, &["shard", "add", "bad", "--filter", "exclude: x.*"]);
    assert!(!ok && out.contains("include: DB.TABLE"), "{out}");

    for id in ["n1", "n2", "n3"] {
        cl.start(id, None);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (l, took) = wait_for(&client, &cl, SHARDS, Duration::from_secs(90), "spread 2-2-2 at start", |l| spread(l) == [2, 2, 2]).await;
    println!("start: 2-2-2 after {took:?}: {l:?}");
    // Every shard has committed where it starts: rows written from now on are owed.
    for s in l.keys() {
        let t0 = Instant::now();
        while client.check_stat(&format!("{}/shards/{s}/position", cl.root)).await.unwrap().is_none() {
            assert!(t0.elapsed() < Duration::from_secs(30), "shard {s} committed no position\n{}", cl.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let writer = Writer::start_into(dbs[..SHARDS].to_vec(), 5, Duration::from_millis(10));
    let counter = Counter::start(dbs[..SHARDS].to_vec());
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The status shows every shard with its leader; the metrics carry the shard label.
    let (ok, out) = cli(&cl.root, &["cluster", "status"]);
    assert!(ok && out.contains("HEALTHY: 6 shards led by 3 nodes") && out.contains("s6"), "{out}");
    let m = scrape(cl.node("n1").http).expect("n1 serves /metrics");
    let led_by_n1 = l.values().filter(|(n, _)| n == "n1").count();
    let gauge: f64 = (1..=SHARDS).map(|i| m.get(&format!("maxwell_shard_leader{{shard=\"s{i}\"}}")).copied().unwrap_or(0.0)).sum();
    assert_eq!(gauge as usize, led_by_n1, "maxwell_shard_leader on n1: {m:?}");

    let (code, body) = http_get(cl.node("n2").http, "/api/cluster").expect("n2 serves /api/cluster");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let api: BTreeMap<String, String> = v["shards"].as_array().unwrap().iter().map(|s| (s["name"].as_str().unwrap().into(), s["leader"].as_str().unwrap_or("").into())).collect();
    assert_eq!((code, api.len()), (200, SHARDS), "{body}");
    assert_eq!(api, l.iter().map(|(s, (n, _))| (s.clone(), n.clone())).collect(), "/api/cluster vs ZooKeeper");
    let (_, page) = http_get(cl.node("n2").http, "/").unwrap();
    assert!(page.contains("id=\"shards-panel\""), "the status page has the shard table");

    // kill -9 of a node: its two shards move to the others within the session timeout + 1 s.
    let victim = "n3";
    let before = l.clone();
    let killed_at = Instant::now();
    cl.node_mut(victim).child.kill().unwrap();
    let (l, _) = wait_for(&client, &cl, SHARDS, Duration::from_secs(30), "3-3 after the kill", |l| spread(l) == [3, 3] && !l.values().any(|(n, _)| n == victim)).await;
    let took = killed_at.elapsed();
    let moved: Vec<&String> = before.iter().filter(|(_, (n, _))| n == victim).map(|(s, _)| s).collect();
    println!("kill -9 {victim}: shards {moved:?} moved, 3-3 after {} ms: {l:?}", took.as_millis());
    assert!(took <= Duration::from_millis(SESSION_MS + 1000), "3-3 took {took:?} (session {SESSION_MS} ms + 1 s)\n{}", cl.logs());

    // It comes back: it gets its share again, by graceful hand-overs.
    cl.start(victim, None);
    let (l, took) = wait_for(&client, &cl, SHARDS, Duration::from_secs(40), "2-2-2 after the return", |l| spread(l) == [2, 2, 2]).await;
    println!("{victim} back: 2-2-2 after {took:?}: {l:?}");

    // Move a shard by hand: it lands on the node asked for and stays; the load evens out.
    let (shard, (from, _)) = l.iter().find(|(_, (n, _))| n == "n1").map(|(s, v)| (s.clone(), v.clone())).unwrap();
    let (ok, out) = cli(&cl.root, &["shard", "move", &shard, "n2"]);
    assert!(ok && out.contains("n2 leads"), "move {shard} from {from}: {out}");
    let (l, took) =
        wait_for(&client, &cl, SHARDS, Duration::from_secs(40), "2-2-2 with the moved shard on n2", |l| spread(l) == [2, 2, 2] && l[&shard].0 == "n2").await;
    println!("moved {shard} to n2; even again after {took:?}: {l:?}");
    let (ok, out) = cli(&cl.root, &["shard", "list"]);
    assert!(ok && out.contains("prefers n2"), "{out}");
    // The moved shard's history: the term handed over counted that shard's rows, not every
    // row its node read (a node leading two shards reads about twice as many).
    let (ok, out) = cli(&cl.root, &["--json", "cluster", "history", "--shard", &shard]);
    let hist: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let handed = hist.as_array().unwrap().iter().rev().find(|t| t["node_id"] == from.as_str() && t["ended_by"] == "hand-over").cloned();
    let handed = handed.unwrap_or_else(|| panic!("no hand-over by {from} in {shard}'s history: {out}"));
    let db = &dbs[shard[1..].parse::<usize>().unwrap() - 1];
    let mut q = conn().await;
    let written: u64 = mysql_async::prelude::Queryable::query_first(&mut q, format!("SELECT (SELECT COUNT(*) FROM {db}.t) + (SELECT n FROM {db}.c) + 1")).await.unwrap().unwrap();
    let _ = q.disconnect().await;
    let term_rows = handed["rows"].as_u64().unwrap();
    println!("{shard}'s term on {from}: {term_rows} rows; {written} written to {db} so far");
    assert!(ok && term_rows >= 1 && term_rows <= written, "{shard}'s term on {from} counted {term_rows} rows, {written} were written to its database: {out}");

    // The status page's move (POST /api/shard/move, with the admin token): a shard of n3 to
    // n2 as well; n2 keeps both shards it was given and the load evens out again.
    let (other, _) = l.iter().find(|(s, (n, _))| n == "n3" && **s != shard).map(|(s, v)| (s.clone(), v.clone())).unwrap();
    let body = format!("{{\"shard\":\"{other}\",\"to\":\"n2\"}}");
    let (code, answer) = http_post(cl.node("n1").http, "/api/shard/move", &[], &body).unwrap();
    assert_eq!(code, 401, "no token: {answer}");
    let (code, answer) = http_post(cl.node("n1").http, "/api/shard/move", &["Authorization: Bearer sh-token"], &body).unwrap();
    assert_eq!(code, 202, "{answer}");
    assert!(answer.contains("hand-over from n3 to n2"), "{answer}");
    let (l, took) = wait_for(&client, &cl, SHARDS, Duration::from_secs(40), "2-2-2 with both moved shards on n2", |l| {
        spread(l) == [2, 2, 2] && l[&shard].0 == "n2" && l[&other].0 == "n2"
    })
    .await;
    println!("moved {other} to n2 from the page's API; even again after {took:?}: {l:?}");
    // /api/cluster's history names each term's shard.
    let (_, body) = http_get(cl.node("n3").http, "/api/cluster").unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let terms = v["history"].as_array().unwrap();
    assert!(terms.iter().any(|t| t["shard"] == other.as_str() && t["node_id"] == "n3" && t["ended_by"] == "hand-over"), "{body}");
    assert!(terms.iter().all(|t| t["shard"].is_string()), "{body}");

    // Drain a node: it hands every shard over (3-3 on the others) and leads none until
    // undrained, when it gets its share back.
    let (ok, out) = cli(&cl.root, &["node", "drain", "n1"]);
    assert!(ok && out.contains("n1 drained"), "{out}");
    let (l, took) = wait_for(&client, &cl, SHARDS, Duration::from_secs(20), "3-3 without the drained n1", |l| spread(l) == [3, 3] && !l.values().any(|(n, _)| n == "n1")).await;
    println!("n1 drained: 3-3 after {took:?}: {l:?}");
    // The hand-over rate is a cluster-wide setting too: at 1 s instead of 5 s, the undrained
    // node gets its share back sooner.
    let (ok, out) = cli(&cl.root, &["config", "set", "ha_rebalance_interval_ms", "100"]);
    assert!(!ok && out.contains("ha_rebalance_interval_ms"), "below its minimum (500): {out}");
    let (ok, out) = cli(&cl.root, &["config", "set", "ha_rebalance_interval_ms", "1000"]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&cl.root, &["node", "undrain", "n1"]);
    assert!(ok, "{out}");
    let (l, took) = wait_for(&client, &cl, SHARDS, Duration::from_secs(40), "2-2-2 after the undrain", |l| spread(l) == [2, 2, 2]).await;
    println!("n1 undrained (hand-overs at most every 1 s): 2-2-2 after {took:?}: {l:?}");
    assert!(took < Duration::from_millis(4500), "with ha_rebalance_interval_ms=1000 set for the cluster, the undrained node got its two shards back after {took:?}");
    let (ok, out) = cli(&cl.root, &["config", "unset", "ha_rebalance_interval_ms"]);
    assert!(ok, "{out}");

    // A cluster-wide setting, changed at run time: every leader restarts its stream with it
    // at a transaction boundary (no restart, nothing lost or repeated). Node-local keys are
    // refused.
    let (ok, out) = cli(&cl.root, &["config", "set", "node_id", "x"]);
    assert!(!ok && out.contains("node setting"), "{out}");
    // Rows read after the change get the new setting, so those a lagging stream had not
    // read yet may too: "before" is 3 s before the change.
    let before_setting = writer.written();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (ok, out) = cli(&cl.root, &["config", "set", "output_server_id", "true"]);
    assert!(ok, "{out}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after_setting = writer.written();
    let (ok, out) = cli(&cl.root, &["config", "get"]);
    assert!(ok && out.contains("output_server_id=true"), "{out}");

    // Add a seventh shard at run time: rows written after the add arrive exactly once.
    let extra = &dbs[SHARDS];
    let (ok, out) = cli(&cl.root, &["shard", "add", "s7", "--filter", &format!("include: {extra}.*")]);
    assert!(ok, "{out}");
    let base = 10_000_000u64;
    let mut c7 = conn().await;
    let extra_rows = 50u64;
    for i in 0..extra_rows {
        exec(&mut c7, &format!("INSERT INTO {extra}.t VALUES ({}, 'x')", base + i)).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (l, _) = wait_for(&client, &cl, SHARDS + 1, Duration::from_secs(30), "s7 led", |l| l.contains_key("s7")).await;
    println!("s7 added, led by {:?}", l["s7"]);
    // Once s7 committed past its rows, remove it again: its leader stops at a transaction
    // boundary; later rows are not streamed.
    let end = binlog_pos(&master_position(&mut c7).await);
    let t0 = Instant::now();
    loop {
        let committed = client.get_data(&format!("{}/shards/s7/position", cl.root)).await.ok().and_then(|(d, _)| {
            let v: serde_json::Value = serde_json::from_slice(&d).ok()?;
            Some(binlog_pos(v["position"].as_str()?))
        });
        if committed.as_ref().is_some_and(|p| *p >= end) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "s7 did not commit past {end:?}: {committed:?}\n{}", cl.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (ok, out) = cli(&cl.root, &["shard", "remove", "s7"]);
    assert!(ok && out.contains("removed"), "{out}");
    assert!(client.check_stat(&format!("{}/shards/s7", cl.root)).await.unwrap().is_none(), "s7's znodes are gone");
    for i in 0..10 {
        exec(&mut c7, &format!("INSERT INTO {extra}.t VALUES ({}, 'late')", base + 1000 + i)).await;
    }
    let _ = c7.disconnect().await;

    let rows = writer.stop().await;
    let counts = counter.stop().await;
    let updates: u64 = counts.values().sum();
    let expected = rows as usize + extra_rows as usize + updates as usize;
    let msgs = consume(std::slice::from_ref(&topic), expected, 180, "primary_key", "default");
    cl.stop_all();

    // Every insert exactly once (the late rows of the removed shard never).
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    let mut last_n: BTreeMap<String, u64> = BTreeMap::new();
    let mut out_of_order = 0;
    for m in &msgs {
        let v = &m["value"];
        let db = v["database"].as_str().unwrap_or_default().to_string();
        match (v["type"].as_str(), v["table"].as_str()) {
            (Some("insert"), Some("t")) => *seen.entry(v["data"]["id"].as_u64().unwrap()).or_default() += 1,
            (Some("update"), Some("c")) => {
                let n = v["data"]["n"].as_u64().unwrap();
                let prev = last_n.insert(db.clone(), n).unwrap_or(0);
                if n != prev + 1 {
                    out_of_order += 1;
                    if out_of_order < 5 {
                        println!("{db}: n={n} after {prev}");
                    }
                }
            }
            _ => {}
        }
    }
    // Rows written before the setting changed have no server_id; rows written well after do.
    let with_server_id = |pred: &dyn Fn(u64) -> bool| {
        msgs.iter()
            .filter(|m| m["value"]["type"] == "insert" && m["value"]["table"] == "t" && m["value"]["data"]["id"].as_u64().is_some_and(pred))
            .map(|m| m["value"].get("server_id").is_some())
            .collect::<Vec<bool>>()
    };
    let (early, late_rows) = (with_server_id(&|i| i <= before_setting), with_server_id(&|i| i > after_setting && i <= rows));
    assert!(!early.is_empty() && early.iter().all(|b| !b), "rows before `config set` carry server_id");
    assert!(!late_rows.is_empty() && late_rows.iter().all(|b| *b), "rows 3 s after `config set output_server_id true` lack server_id");
    let owed: Vec<u64> = (1..=rows).chain(base..base + extra_rows).collect();
    let lost: Vec<u64> = owed.iter().copied().filter(|i| !seen.contains_key(i)).collect();
    let dups: Vec<u64> = seen.iter().filter(|(_, n)| **n > 1).map(|(i, _)| *i).collect();
    let late = seen.keys().filter(|i| (base + 1000..base + 1010).contains(*i)).count();
    println!(
        "rows {} + {extra_rows} (added shard), updates {updates}: lost {}, duplicated {}, updates out of order {out_of_order}, rows of the removed shard {late}",
        rows,
        lost.len(),
        dups.len()
    );
    assert!(rows > 500, "the writer wrote {rows} rows");
    assert!(lost.is_empty(), "lost {} rows, e.g. {:?}\n{}", lost.len(), sample(&lost), cl.logs());
    assert!(dups.is_empty(), "duplicated {} rows, e.g. {:?}", dups.len(), sample(&dups));
    assert_eq!(out_of_order, 0, "a key's updates arrived out of order, twice or not at all");
    for (db, n) in &counts {
        assert_eq!(last_n.get(db), Some(n), "{db}: last update seen vs written");
    }
    assert_eq!(late, 0, "rows written after `shard remove` were streamed");
}

/// Unsharded → one shard → unsharded, under a steady write load. Adding the first shard stops
/// the unsharded leader, and the shard starts where that leader stopped; removing the last
/// shard leaves its final position as the unsharded stream's start (not the position the
/// cluster had before it was sharded). Nothing is lost or repeated at either switch.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unsharded_to_sharded_and_back_loses_and_repeats_nothing() {
    let _turn = TURN.lock().await;
    let tag = unique("shsw");
    let (topic, db) = setup(&tag, 2).await;
    let mut cl = Cluster::new(&tag, &topic, &db);
    cl.start("a", None);
    let (first, _) = cl.wait_leader(None, Duration::from_secs(30)).await;
    cl.wait_committed().await;
    cl.start("b", None);
    let client = zk::Client::connect(&zk_servers()).await.unwrap();
    let writer = Writer::start(&db, Duration::from_millis(10));
    tokio::time::sleep(Duration::from_secs(3)).await;

    let (ok, out) = cli(&cl.root, &["shard", "add", "all", "--filter", &format!("include: {db}.*")]);
    assert!(ok, "{out}");
    let t0 = Instant::now();
    while cl.leader().await.is_some() || !leaders(&client, &cl.root).await.contains_key("all") {
        assert!(t0.elapsed() < Duration::from_secs(30), "the shard did not take over from the unsharded leader\n{}", cl.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sharded_after = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let (ok, out) = cli(&cl.root, &["shard", "remove", "all"]);
    assert!(ok, "{out}");
    let t0 = Instant::now();
    let back = loop {
        if let Some((l, e)) = cl.leader().await.filter(|(_, e)| *e > 0) {
            break (l, e);
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "no unsharded leader after the last shard was removed\n{}", cl.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let unsharded_after = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let total = writer.stop().await;
    let msgs = messages(&topic, total as usize);
    cl.stop_all();
    let (lost, dups, _) = verdict(&msgs, 1..=total);
    println!(
        "unsharded ({first}) → shard `all` after {sharded_after:?} → unsharded ({} epoch {}) after {unsharded_after:?}: {total} rows, {} lost, {} duplicated",
        back.0,
        back.1,
        lost.len(),
        dups.len()
    );
    assert!(total > 400, "the writer wrote {total} rows");
    assert!(lost.is_empty() && dups.is_empty(), "lost {:?} duplicated {:?} ({})\n{}", sample(&lost), sample(&dups), copies(&msgs, &dups), cl.logs());
}
