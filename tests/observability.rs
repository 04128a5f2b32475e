//! What operators scrape, from a live three-node cluster (real ZooKeeper ensemble, MariaDB,
//! broker): `/metrics` values move with the rows, the role gauges flip on a failover,
//! `/readyz` answers per role, `/api/status` and `/api/cluster` describe the cluster and the
//! status page is served.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Nodes(Vec<(String, u16, Child)>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for (_, _, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn start(root: &str, id: &str, topic: &str, db: &str, port: u16) -> (String, u16, Child) {
    let mut args = ha_node_args(root, id, 7301);
    args.extend([
        format!("--http_port={port}"),
        format!("--filter=exclude: *.*, include: {db}.*"),
        "--producer=kafka".into(),
        format!("--kafka.bootstrap.servers={}", kafka_bootstrap()),
        format!("--kafka_topic={topic}"),
    ]);
    let child = Command::new(env!("CARGO_BIN_EXE_maxwell")).args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    (id.to_string(), port, child)
}

/// Polls until `f` returns `Some`, up to `secs`.
fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t0.elapsed() < Duration::from_secs(secs), "timed out after {secs} s waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status(port: u16) -> Option<serde_json::Value> {
    let (code, body) = http_get(port, "/api/status")?;
    (code == 200).then(|| serde_json::from_str(&body).unwrap())
}

fn metric(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    *m.get(key).unwrap_or_else(|| panic!("{key} not exported"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_health_and_status_follow_the_cluster() {
    let (root, topic, db) = (format!("/it/{}", unique("obs")), unique("obs"), unique("obs"));
    create_topic(&topic, 2);
    let mut c = conn().await;
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(20))")).await;

    let mut nodes = Nodes(vec![start(&root, "o1", &topic, &db, free_port())]);
    let p1 = nodes.0[0].1;
    wait_for(20, "o1 to lead", || status(p1).filter(|s| s["role"] == "leader" && s["streaming"] == true));
    for id in ["o2", "o3"] {
        nodes.0.push(start(&root, id, &topic, &db, free_port()));
    }
    let ports: Vec<u16> = nodes.0.iter().map(|n| n.1).collect();
    for &p in &ports {
        let (code, body) = wait_for(20, "readiness", || http_get(p, "/readyz").filter(|(c, _)| *c == 200));
        assert!(body.contains("streaming") || body.contains("standing by"), "{body}");
        assert_eq!(http_get(p, "/healthz").unwrap().0, 200);
        // Maxwell's paths answer the same way.
        assert_eq!(http_get(p, "/healthcheck").map(|(c, _)| c), Some(200));
        assert_eq!(http_get(p, "/ping"), Some((200, "pong\n".to_string())));
        let prom = http_get(p, "/prometheus").unwrap();
        assert!(prom.0 == 200 && prom.1.contains("maxwell_"), "{prom:?}");
        let _ = code;
    }

    // Rows move the counters on the leader only.
    let before = scrape(p1).unwrap();
    for i in 0..50 {
        exec(&mut c, &format!("INSERT INTO {db}.t VALUES ({i}, 'v{i}')")).await;
    }
    let m = wait_for(30, "50 rows acknowledged", || {
        scrape(p1).filter(|m| metric(m, "maxwell_messages_total{result=\"succeeded\"}") - metric(&before, "maxwell_messages_total{result=\"succeeded\"}") >= 50.0)
    });
    assert!(metric(&m, "maxwell_rows_total") - metric(&before, "maxwell_rows_total") >= 50.0);
    assert!(metric(&m, "maxwell_transactions_total") - metric(&before, "maxwell_transactions_total") >= 50.0);
    assert!(metric(&m, "maxwell_bytes_total") > metric(&before, "maxwell_bytes_total"));
    assert!(metric(&m, "maxwell_commit_to_ack_seconds_count") >= 50.0);
    assert_eq!(metric(&m, "maxwell_messages_total{result=\"failed\"}"), 0.0);
    assert_eq!(metric(&m, "maxwell_leader"), 1.0);
    assert_eq!(metric(&m, "maxwell_elections_won_total"), 1.0);
    assert_eq!(metric(&m, "maxwell_failovers_total"), 0.0);
    assert!(metric(&m, "maxwell_epoch") >= 1.0);
    assert!(metric(&m, "maxwell_process_resident_memory_bytes") > 1e6);
    let m = wait_for(10, "a position commit", || scrape(p1).filter(|m| metric(m, "maxwell_position_commits_total") >= 1.0));
    assert!(metric(&m, "maxwell_position_age_seconds") < 10.0);
    for &p in &ports {
        let m = scrape(p).unwrap();
        assert_eq!(metric(&m, "maxwell_zookeeper_session_state{state=\"connected\"}"), 1.0, "port {p}");
        if p != p1 {
            assert_eq!(metric(&m, "maxwell_leader"), 0.0);
            assert_eq!(metric(&m, "maxwell_rows_total"), 0.0, "a standby reads nothing");
        }
    }

    let s = status(p1).unwrap();
    assert_eq!(s["node_id"], "o1");
    assert!(s["position"].as_str().is_some_and(|p| p.contains(':')), "{s}");
    assert!(s["epoch"].as_u64().is_some() && s["lag_seconds"].as_f64().is_some(), "{s}");

    // The cluster view, from a standby: leader, every member with its own status.
    let view = wait_for(10, "cluster view", || {
        let (code, body) = http_get(ports[1], "/api/cluster")?;
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        (v["members"].as_array().unwrap().len() == 3).then_some(v)
    });
    assert_eq!(view["leader"]["node_id"], "o1");
    assert!(view["position"]["position"].as_str().is_some(), "{view}");
    for mbr in view["members"].as_array().unwrap() {
        let want = if mbr["node_id"] == "o1" { "leader" } else { "standby" };
        assert_eq!(mbr["status"]["role"], want, "{mbr}");
    }
    let (code, page) = http_get(ports[2], "/").unwrap();
    assert_eq!(code, 200);
    assert!(page.contains("<title>maxwell-ha cluster</title>") && page.contains("api/cluster"), "{page}");

    // kill -9 of the leader: a standby's role gauge flips and it counts a failover.
    signal(nodes.0[0].2.id(), "KILL");
    let (new_port, m) = wait_for(20, "a new leader's metrics", || {
        ports[1..].iter().find_map(|&p| scrape(p).filter(|m| metric(m, "maxwell_leader") == 1.0).map(|m| (p, m)))
    });
    assert_eq!(metric(&m, "maxwell_failovers_total"), 1.0);
    assert_eq!(metric(&m, "maxwell_role_changes_total{role=\"leader\"}"), 1.0);
    let other = if new_port == ports[1] { ports[2] } else { ports[1] };
    assert_eq!(metric(&scrape(other).unwrap(), "maxwell_leader"), 0.0);
    assert!(http_get(p1, "/healthz").is_none(), "the killed node still answers");
    for i in 50..60 {
        exec(&mut c, &format!("INSERT INTO {db}.t VALUES ({i}, 'v{i}')")).await;
    }
    wait_for(30, "rows counted by the new leader", || scrape(new_port).filter(|m| metric(m, "maxwell_rows_total") >= 10.0));
    let view = wait_for(20, "the dead member to leave the view", || {
        let v: serde_json::Value = serde_json::from_str(&http_get(other, "/api/cluster")?.1).unwrap();
        (v["members"].as_array().unwrap().len() == 2).then_some(v)
    });
    let new_id = status(new_port).unwrap()["node_id"].clone();
    assert_eq!(view["leader"]["node_id"], new_id);

}
