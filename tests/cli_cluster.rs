//! `maxwell-cli` against a live three-node cluster (real ensemble, MariaDB, broker): status
//! while healthy, with a node down, with every node down (NO LEADER) and recovered;
//! `failover --to` moves leadership with no row lost or duplicated; `position set`
//! round-trips and is refused while a leader runs. `--json` output is checked field by field.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn cli(root: &str, args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_maxwell-cli"))
        .args(["--zookeeper", &zk_servers(), "--root", root, "--json"])
        .args(args)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), v, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn start(root: &str, id: &str, topic: &str, db: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_maxwell"))
        .args(ha_node_args(root, id, 7101))
        .args([
            format!("--filter=exclude: *.*, include: {db}.*"),
            "--producer=kafka".into(),
            format!("--kafka.bootstrap.servers={}", kafka_bootstrap()),
            format!("--kafka_topic={topic}"),
            format!("--http_port={}", free_port()),
        ])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::OpenOptions::new().create(true).append(true).open(std::env::temp_dir().join(format!("{topic}-{id}.log"))).unwrap())
        .spawn()
        .unwrap()
}

/// The nodes of the test cluster; killed when dropped, also when an assertion fails.
struct Nodes(BTreeMap<String, Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in self.0.values_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_for(root: &str, what: &str, timeout: Duration, ok: impl Fn(i32, &Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        let (code, v, err) = cli(root, &["cluster", "status"]);
        if ok(code, &v) {
            return v;
        }
        assert!(t0.elapsed() < timeout, "waited {timeout:?} for {what}; last status {code} {v} {err}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `cluster status --mysql` once the committed position has caught up with the source.
fn wait_for_lag(root: &str, port: &str) -> Value {
    let t0 = Instant::now();
    loop {
        let (code, v, err) = cli(root, &["cluster", "status", "--mysql", "--set", "host=127.0.0.1", "--set", port, "--set", "user=root"]);
        assert!(code == 0 || code == 1, "status --mysql: {code} {err}");
        if v["lag_bytes"].as_u64().is_some() || t0.elapsed() > Duration::from_secs(10) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_sees_and_steers_a_live_cluster() {
    let u = unique("cli");
    let root = format!("/it/{u}");
    let topic = format!("{u}_rows");
    let db = format!("{u}_db");
    create_topic(&topic, 2);
    let mut c = conn().await;
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (id BIGINT PRIMARY KEY)")).await;

    let (code, _, err) = cli("/it/nothing-here", &["cluster", "status"]);
    assert_eq!(code, 1, "a missing root is reported: {err}");
    assert!(err.contains("no cluster at /it/nothing-here"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_maxwell-cli")).args(["--zookeeper", "127.0.0.1:1", "cluster", "status"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "unreachable ensemble is exit 2");

    let mut nodes = Nodes(["n1", "n2", "n3"].iter().map(|id| (id.to_string(), start(&root, id, &topic, &db))).collect());
    // Healthy, and the first leader has committed where it starts.
    let healthy = wait_for(&root, "HEALTHY", Duration::from_secs(20), |c, v| c == 0 && v["members"].as_array().map(Vec::len) == Some(3) && v["position"].is_string());
    assert_eq!(healthy["health"], "HEALTHY");
    let leader = healthy["leader"].as_str().unwrap().to_string();
    assert!(healthy["epoch"].as_u64().unwrap() >= 1);
    let roles: Vec<(String, String)> = healthy["members"].as_array().unwrap().iter().map(|m| (m["node_id"].as_str().unwrap().into(), m["role"].as_str().unwrap().into())).collect();
    assert_eq!(roles.iter().filter(|r| r.1 == "leader").count(), 1);
    assert!(roles.contains(&(leader.clone(), "leader".into())));
    assert!(healthy["verdict"].as_str().unwrap().starts_with("HEALTHY"));
    let (code, list, _) = cli(&root, &["node", "list"]);
    assert_eq!(code, 0);
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert!(list[0]["host"].is_string() && list[0]["version"].is_string() && list[0]["uptime_s"].is_u64());

    // Rows flow while leadership moves.
    for id in 1..=200 {
        exec(&mut c, &format!("INSERT INTO {db}.t VALUES ({id})")).await;
    }
    let target = ["n1", "n2", "n3"].iter().find(|n| **n != leader).unwrap().to_string();
    let (code, _, err) = cli(&root, &["failover", "--from", &target, "--to", &leader]);
    assert_eq!(code, 1, "failover --from a node that does not lead is refused: {err}");
    assert!(err.contains("is not the leader"), "{err}");
    let (code, fo, err) = cli(&root, &["failover", "--from", &leader, "--to", &target]);
    assert_eq!(code, 0, "failover: {err}");
    assert_eq!(fo["leader"], target.as_str());
    let took = fo["took_ms"].as_u64().unwrap();
    println!("failover --to {target}: {took} ms");
    assert!(took < 5000, "hand-over took {took} ms");
    for id in 201..=400 {
        exec(&mut c, &format!("INSERT INTO {db}.t VALUES ({id})")).await;
    }
    let got = consume(std::slice::from_ref(&topic), 400, 60, "primary_key", "default");
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    for m in &got {
        *seen.entry(m["value"]["data"]["id"].as_u64().unwrap()).or_default() += 1;
    }
    assert_eq!(seen.len(), 400, "no row lost across the failover");
    assert!(seen.values().all(|n| *n == 1), "no row duplicated across the failover");

    // Replication lag from the source.
    let port = format!("port={}", mysql_port());
    let lagged = wait_for_lag(&root, &port);
    assert!(lagged["source_position"].as_str().unwrap().starts_with("mysql-bin."), "{lagged}");
    assert!(lagged["lag_bytes"].as_u64().is_some(), "{lagged}");

    // position set is refused while a leader runs.
    let (code, _, err) = cli(&root, &["position", "set", "mysql-bin.000001:4"]);
    assert_eq!(code, 1);
    assert!(err.contains("is leading"), "{err}");

    // A standby down: still healthy with one standby left; two down: degraded.
    let standbys: Vec<String> = ["n1", "n2", "n3"].iter().filter(|n| **n != target).map(|s| s.to_string()).collect();
    nodes.0.get_mut(&standbys[0]).unwrap().kill().unwrap();
    wait_for(&root, "2 members", Duration::from_secs(15), |c, v| c == 0 && v["members"].as_array().map(Vec::len) == Some(2));
    nodes.0.get_mut(&standbys[1]).unwrap().kill().unwrap();
    let degraded = wait_for(&root, "DEGRADED", Duration::from_secs(15), |c, v| c == 1 && v["health"] == "DEGRADED");
    assert_eq!(degraded["leader"], target.as_str());
    // Every node down: NO LEADER; then recovered.
    nodes.0.get_mut(&target).unwrap().kill().unwrap();
    let none = wait_for(&root, "NO LEADER", Duration::from_secs(15), |c, v| c == 1 && v["health"] == "NO_LEADER");
    assert!(none["leader"].is_null());
    assert!(none["position"].as_str().unwrap().starts_with("mysql-bin."), "{none}");

    // position show / set round-trip while stopped.
    let (code, shown, _) = cli(&root, &["position", "show"]);
    assert_eq!(code, 0);
    let before = shown["position"]["position"].as_str().unwrap().to_string();
    let (code, set, err) = cli(&root, &["position", "set", "mysql-bin.000001:4"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(set["old"]["position"], before.as_str());
    assert_eq!(set["new"]["position"], "mysql-bin.000001:4");
    let (_, shown, _) = cli(&root, &["position", "show"]);
    assert_eq!(shown["position"]["position"], "mysql-bin.000001:4");
    let (code, _, _) = cli(&root, &["position", "set", &before]);
    assert_eq!(code, 0);
    let (_, shown, _) = cli(&root, &["position", "show"]);
    assert_eq!(shown["position"]["position"], before.as_str());
    // Skip rows written while stopped: the next leader starts at the position set, over the
    // (older) Kafka checkpoint of exactly-once; rows 501-510 are never streamed, 511-520 are.
    for id in 501..=510 {
        exec(&mut c, &format!("INSERT INTO {db}.t VALUES ({id})")).await;
    }
    let skip_to = master_position(&mut c).await;
    let (code, _, err) = cli(&root, &["position", "set", &skip_to]);
    assert_eq!(code, 0, "{err}");
    for id in 511..=520 {
        exec(&mut c, &format!("INSERT INTO {db}.t VALUES ({id})")).await;
    }
    let (code, _, err) = cli(&root, &["position", "set", "nonsense"]);
    assert_eq!(code, 2, "{err}");

    for id in ["n1", "n2", "n3"] {
        nodes.0.insert(id.to_string(), start(&root, id, &topic, &db));
    }
    wait_for(&root, "recovery", Duration::from_secs(20), |c, v| c == 0 && v["health"] == "HEALTHY");
    let got = consume(std::slice::from_ref(&topic), 410, 60, "primary_key", "default");
    let ids: std::collections::BTreeSet<u64> = got.iter().filter_map(|m| m["value"]["data"]["id"].as_u64()).filter(|i| *i > 500).collect();
    assert_eq!(ids, (511..=520).collect(), "after `position set {skip_to}`: the rows after it, none before");

    // The cluster remembers its terms: the first handed over (its rows counted, the next one
    // leading within the hand-over), the second ended by the kill, the third leads.
    let (code, hist, err) = cli(&root, &["cluster", "history"]);
    assert_eq!(code, 0, "{err}");
    let terms = hist.as_array().unwrap();
    assert_eq!(terms.len(), 3, "{hist}");
    assert_eq!((terms[0]["node_id"].as_str(), terms[0]["ended_by"].as_str()), (Some(leader.as_str()), Some("hand-over")), "{hist}");
    assert!(terms[0]["rows"].as_u64().unwrap() >= 1, "{hist}");
    assert_eq!((terms[1]["node_id"].as_str(), terms[1]["ended_by"].as_str()), (Some(target.as_str()), Some("session expired")), "{hist}");
    assert!(terms[1]["takeover_ms"].as_u64().unwrap() < 5000, "{hist}");
    assert!(terms[2]["end_ms"].is_null() && terms[2]["epoch"].as_u64() > terms[1]["epoch"].as_u64(), "{hist}");
    // Each member's CPU, memory and rows/s (sampled every 2 s).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, list, _) = cli(&root, &["node", "list"]);
    for m in list.as_array().unwrap() {
        assert!(m["cpu_percent"].is_f64() && m["rows_per_second"].is_f64(), "{m}");
        assert!(m["rss_bytes"].as_u64().unwrap() > 1 << 20, "{m}");
    }
    for n in nodes.0.values_mut() {
        signal(n.id(), "TERM");
        let _ = n.wait();
    }
}
