//! The status page's actions on a live two-node cluster (real ZooKeeper ensemble, MariaDB,
//! Kafka): `POST /api/failover` hands leadership to the chosen node only with the admin
//! token; without it (401), or on a node without a token configured (403), nothing changes.
//! The hand-over shows up in the cluster history. Draining a node (the page's action,
//! `maxwell-cli node drain`) moves leadership off it and keeps it off, also across the next
//! leader's death. In headless Chromium, the page of a live three-node cluster hands
//! leadership over on a click, and refuses the click without the token; on a sharded cluster
//! it moves a shard to the node clicked.

mod common;

use common::cluster::*;
use common::*;
use std::time::{Duration, Instant};

/// The tests take turns: two browsers and three clusters at once starve a small machine.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A cluster whose nodes get the admin token `s3cret`: `a` leads (its start position
/// committed), `b` stands by. Returns it, its topic and database, and `a`'s epoch.
async fn leader_a_standby_b(tag: &str) -> (Cluster, String, String, u64) {
    let (topic, db) = setup(tag, 1).await;
    let mut cl = Cluster::new(tag, &topic, &db);
    cl.extra = vec!["--http_admin_token=s3cret".into()];
    cl.start("a", None);
    let (first, epoch) = cl.wait_leader(None, Duration::from_secs(30)).await;
    assert_eq!(first, "a");
    cl.wait_committed().await;
    cl.start("b", None);
    (cl, topic, db, epoch)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn page_actions_need_the_admin_token() {
    let _turn = TURN.lock().await;
    let (mut cl, _, _, epoch) = leader_a_standby_b(&unique("console")).await;
    cl.extra.clear();
    cl.start("c", None); // no token: actions refused there
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (a, c) = (cl.node("a").http, cl.node("c").http);
    let body = r#"{"to":"b"}"#;

    let (code, page) = http_get(a, "/api/cluster").unwrap();
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&page).unwrap();
    assert_eq!(v["actions"], true);
    let refused = [
        (http_post(a, "/api/failover", &[], body), 401, "no token"),
        (http_post(a, "/api/failover", &["Authorization: Bearer wrong"], body), 401, "a wrong token"),
        (http_post(c, "/api/failover", &["Authorization: Bearer s3cret"], body), 403, "a node without a token configured"),
    ];
    for (answer, want, what) in refused {
        let (code, text) = answer.unwrap();
        assert_eq!(code, want, "{what}: {text}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(cl.leader().await.map(|l| l.0), Some("a".into()), "refused actions change nothing");

    let t0 = Instant::now();
    let (code, text) = http_post(a, "/api/failover", &["Authorization: Bearer s3cret", "Content-Type: application/json"], body).unwrap();
    assert_eq!(code, 202, "{text}");
    let (next, next_epoch) = cl.wait_leader(Some("a"), Duration::from_secs(10)).await;
    assert_eq!(next, "b", "leadership went to the chosen node");
    assert!(next_epoch > epoch);
    println!("hand-over from the page's action: {} ms", t0.elapsed().as_millis());
    // The new leader records its term in the history just after it takes the epoch.
    let t1 = Instant::now();
    loop {
        let (_, page) = http_get(a, "/api/cluster").unwrap();
        let v: serde_json::Value = serde_json::from_str(&page).unwrap();
        let terms = v["history"].as_array().unwrap();
        let last_two: Vec<(String, Option<String>)> =
            terms.iter().rev().take(2).map(|t| (t["node_id"].as_str().unwrap().to_string(), t["ended_by"].as_str().map(str::to_string))).collect();
        if last_two == [("b".to_string(), None), ("a".to_string(), Some("hand-over".to_string()))] {
            break;
        }
        assert!(t1.elapsed() < Duration::from_secs(5), "the history shows b's term after a's hand-over: {page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cl.log("a").contains("admin action: hand-over requested"), "{}", cl.log("a"));
    assert!(cl.log("a").contains("admin action refused"));

    // Drain the leader: it hands over and stays a standby, also when the new leader goes.
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_maxwell-cli")).args(["--zookeeper", &zk_servers(), "--root", &cl.root]).args(args).output().unwrap()
    };
    let (code, text) = http_post(a, "/api/drain", &["Authorization: Bearer s3cret"], r#"{"node":"b"}"#).unwrap();
    assert_eq!(code, 202, "drain: {text}\n{}", cl.logs());
    let (third, _) = cl.wait_leader(Some("b"), Duration::from_secs(10)).await;
    signal(cl.node(&third).child.id(), "KILL");
    let (fourth, _) = cl.wait_leader(Some(&third), Duration::from_secs(SESSION_MS / 1000 + 10)).await;
    assert_ne!(fourth, "b", "a drained node does not lead");
    assert!(cl.log("b").contains("drained: standing by without racing"), "{}", cl.log("b"));
    assert!(cli(&["node", "undrain", "b"]).status.success());
    assert_eq!(cli(&["node", "drain", "nobody"]).status.code(), Some(1), "an unknown node is refused");
    cl.stop_all();
}

/// The page in a real browser (headless Chromium driven by `tests/console_browser.py`): a
/// three-node cluster under a steady write load; a click without the token is refused and
/// changes nothing; with it, the page shows the chosen node leading and the hand-over in the
/// history. Screenshots go to `target/console-screens` (or `MAXWELL_SCREENSHOTS`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_page_hands_leadership_over_in_a_browser() {
    let _turn = TURN.lock().await;
    let (mut cl, topic, db, epoch) = leader_a_standby_b(&unique("browser")).await;
    cl.start("c", None);
    let writer = Writer::start(&db, Duration::from_millis(20));
    tokio::time::sleep(Duration::from_secs(5)).await; // samples for the chart

    let shots = std::env::var("MAXWELL_SCREENSHOTS").unwrap_or_else(|_| format!("{}/../console-screens", env!("CARGO_TARGET_TMPDIR")));
    let url = format!("http://127.0.0.1:{}/", cl.node("a").http);
    let script = format!("{}/tests/console_browser.py", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3").args([&script, "--url", &url, "--token", "s3cret", "--leader", "a", "--to", "b", "--shots", &shots]).output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    assert!(out.status.success(), "the browser run failed:\n{stdout}\n{}\n{}", String::from_utf8_lossy(&out.stderr), tail(&cl.logs(), 60));
    let seen: serde_json::Value = serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
    assert!(seen["refused"].as_str().unwrap().starts_with("refused (401)"), "{seen}");

    // What the page showed is what ZooKeeper holds.
    let (now, now_epoch) = cl.leader().await.unwrap();
    assert_eq!(now, "b");
    assert_eq!(now_epoch, epoch + 1, "one hand-over, the refused click changed nothing");
    assert!(cl.log("a").contains("admin action refused") && cl.log("a").contains("admin action: hand-over requested"), "{}", cl.log("a"));
    let written = writer.stop().await;
    let msgs = messages(&topic, written as usize);
    let (lost, dups, _) = verdict(&msgs, 1..=written);
    assert!(lost.is_empty() && dups.is_empty(), "lost {:?} duplicated {:?} across the hand-over", sample(&lost), sample(&dups));
    cl.stop_all();
}

/// The page of a sharded cluster in a browser: three nodes, three shards (one table each),
/// writes into one shard's table; "move to" of that shard without the token is refused, with it
/// the shard moves to the chosen node (and stays: it is now its preferred node), and every row
/// written arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_page_moves_a_shard_in_a_browser() {
    let _turn = TURN.lock().await;
    let tag = unique("brshard");
    let (topic, db) = setup(&tag, 1).await;
    let mut c = conn().await;
    for t in ["t2", "t3"] {
        exec(&mut c, &format!("CREATE TABLE {db}.{t} LIKE {db}.t")).await;
    }
    let _ = c.disconnect().await;
    let mut cl = Cluster::new(&tag, &topic, &db);
    cl.extra = vec!["--http_admin_token=s3cret".into()];
    let root = cl.root.clone();
    let cli = |args: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_maxwell-cli")).args(["--zookeeper", &zk_servers(), "--root", &root]).args(args).output().unwrap();
    for (i, t) in ["t", "t2", "t3"].iter().enumerate() {
        let out = cli(&["shard", "add", &format!("s{}", i + 1), "--filter", &format!("include: {db}.{t}")]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let client = zookeeper_client::Client::connect(&zk_servers()).await.unwrap();
    let leader_of = |s: &str| {
        let (client, path) = (client.clone(), format!("{root}/shards/{s}/leader"));
        async move {
            let (d, _) = client.get_data(&path).await.ok()?;
            serde_json::from_slice::<serde_json::Value>(&d).ok()?["node_id"].as_str().map(str::to_string)
        }
    };
    for id in ["a", "b", "c"] {
        cl.start(id, None);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let t0 = Instant::now();
    let from = loop {
        let ls = [leader_of("s1").await, leader_of("s2").await, leader_of("s3").await];
        if ls.iter().all(Option::is_some) {
            break ls[0].clone().unwrap();
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "the shards were not all led: {ls:?}\n{}", cl.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let to = ["a", "b", "c"].into_iter().find(|n| *n != from).unwrap().to_string();
    // A new cluster starts at the end of the binlog: rows are owed from s1's first commit.
    while client.check_stat(&format!("{root}/shards/s1/position")).await.unwrap().is_none() {
        assert!(t0.elapsed() < Duration::from_secs(60), "s1 committed no position\n{}", cl.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let writer = Writer::start(&db, Duration::from_millis(20));

    let shots = std::env::var("MAXWELL_SCREENSHOTS").unwrap_or_else(|_| format!("{}/../console-screens", env!("CARGO_TARGET_TMPDIR")));
    let url = format!("http://127.0.0.1:{}/", cl.node("c").http);
    let script = format!("{}/tests/console_browser.py", env!("CARGO_MANIFEST_DIR"));
    let to2 = to.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([&script, "--url", &url, "--token", "s3cret", "--shard", "s1", "--to", &to2, "--shards", "3", "--shots", &shots])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    assert!(out.status.success(), "the browser run failed:\n{stdout}\n{}\n{}", String::from_utf8_lossy(&out.stderr), tail(&cl.logs(), 60));

    // What the page showed is what ZooKeeper holds; the moved shard stays on its new node.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(leader_of("s1").await.as_deref(), Some(to.as_str()), "s1 moved from {from} to {to} and stayed\n{}", cl.logs());
    let list = String::from_utf8_lossy(&cli(&["shard", "list"]).stdout).into_owned();
    assert!(list.contains(&format!("prefers {to}")), "{list}");
    let written = writer.stop().await;
    let msgs = messages(&topic, written as usize);
    let (lost, dups, _) = verdict(&msgs, 1..=written);
    assert!(lost.is_empty() && dups.is_empty(), "lost {:?} duplicated {:?} across the move", sample(&lost), sample(&dups));
    cl.stop_all();
}
