//! A maxwell-ha cluster for the tests (nodes as processes on the test services) and the
//! exactly-once verdict: lost, duplicated and zombie rows counted from what an independent
//! read_committed consumer got.
#![allow(dead_code)]

use super::*;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zookeeper_client as zk;

pub const SESSION_MS: u64 = 4000;
/// The uid a node cut from ZooKeeper runs as (the firewall rule matches it).
pub const CUT_UID: u32 = 65534;

pub struct Node {
    pub id: String,
    pub child: Child,
    pub log: std::path::PathBuf,
    pub http: u16,
}

pub struct Cluster {
    pub root: String,
    pub topic: String,
    pub db: String,
    pub nodes: Vec<Node>,
    /// Extra node arguments.
    pub extra: Vec<String>,
    /// The replica server id this cluster's nodes share (distinct per cluster: clusters of
    /// tests that run at the same time must not replace each other's binlog dumps).
    pub server_id: u32,
}

impl Cluster {
    pub fn new(tag: &str, topic: &str, db: &str) -> Self {
        Self { root: format!("/eos/{tag}"), topic: topic.into(), db: db.into(), nodes: Vec::new(), extra: Vec::new(), server_id: 20_000 + (tag.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32)) % 40_000) }
    }

    /// Starts a node; `as_uid` runs it as another user (for the ZooKeeper cut).
    pub fn start(&mut self, id: &str, as_uid: Option<u32>) {
        let log = std::env::temp_dir().join(format!("{}-{id}-{}.log", self.topic, self.nodes.len()));
        let http = free_port();
        let mut args = ha_node_args(&self.root, id, self.server_id);
        args.extend([
            format!("--zookeeper_session_timeout_ms={SESSION_MS}"),
            format!("--filter=exclude: *.*, include: {}.*", self.db),
            "--producer=kafka".into(),
            format!("--kafka.bootstrap.servers={}", kafka_bootstrap()),
            format!("--kafka_topic={}", self.topic),
            "--producer_partition_by=primary_key".into(),
            "--kafka.reconnect.backoff.max.ms=500".into(),
            format!("--http_port={http}"),
            "--log_level=info".into(),
        ]);
        args.extend(self.extra.iter().cloned());
        let mut cmd = match as_uid {
            Some(uid) => {
                let mut c = Command::new("setpriv");
                c.args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into(), "--".into(), world_executable()]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_maxwell")),
        };
        let child = cmd.args(args).env("NO_COLOR", "1").stdout(Stdio::null()).stderr(std::fs::File::create(&log).unwrap()).spawn().unwrap();
        self.nodes.push(Node { id: id.to_string(), child, log, http });
    }

    /// The node `id` (its latest start).
    pub fn node(&self, id: &str) -> &Node {
        self.nodes.iter().rev().find(|n| n.id == id).unwrap()
    }

    pub fn node_mut(&mut self, id: &str) -> &mut Node {
        self.nodes.iter_mut().rev().find(|n| n.id == id).unwrap()
    }

    /// SIGTERM to every node; waits up to 20 s each, then kills.
    pub fn stop_all(&mut self) {
        for n in &self.nodes {
            signal(n.child.id(), "TERM");
        }
        for n in &mut self.nodes {
            let deadline = Instant::now() + Duration::from_secs(20);
            while n.child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = n.child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    pub async fn leader(&self) -> Option<(String, u64)> {
        let client = tokio::time::timeout(Duration::from_secs(3), zk::Client::connect(&zk_servers())).await.ok()?.ok()?;
        let (d, _) = client.get_data(&format!("{}/leader", self.root)).await.ok()?;
        let v: serde_json::Value = serde_json::from_slice(&d).ok()?;
        Some((v["node_id"].as_str()?.to_string(), v["epoch"].as_u64()?))
    }

    pub async fn wait_leader(&self, not: Option<&str>, timeout: Duration) -> (String, u64) {
        let (id, epoch, _) = self.wait_new_leader(not, timeout).await;
        (id, epoch)
    }

    /// A leader other than `not` whose epoch is set, and when it was seen.
    pub async fn wait_new_leader(&self, not: Option<&str>, timeout: Duration) -> (String, u64, Instant) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((id, epoch)) = self.leader().await {
                if epoch > 0 && Some(id.as_str()) != not {
                    return (id, epoch, Instant::now());
                }
            }
            assert!(Instant::now() < deadline, "no new leader within {timeout:?}; logs:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the cluster's first leader committed a position (rows after it are owed).
    pub async fn wait_committed(&self) {
        let t0 = Instant::now();
        loop {
            let client = zk::Client::connect(&zk_servers()).await.unwrap();
            if client.check_stat(&format!("{}/position", self.root)).await.unwrap().is_some() {
                return;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "no position committed\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log(&self, id: &str) -> String {
        std::fs::read_to_string(&self.node(id).log).unwrap_or_default()
    }

    pub fn logs(&self) -> String {
        self.nodes.iter().map(|n| format!("--- {}\n{}", n.id, tail(&std::fs::read_to_string(&n.log).unwrap_or_default(), 40))).collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            let _ = n.child.kill();
            let _ = n.child.wait();
        }
    }
}

pub fn tail(s: &str, n: usize) -> String {
    // librdkafka repeats connection errors many times a second while a broker is away.
    let noise = ["AllBrokersDown", "Connection refused", "brokers are down"];
    let lines: Vec<&str> = s.lines().filter(|l| !noise.iter().any(|n| l.contains(n))).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A copy of the `maxwell` binary that any user may run (the build directory may not be).
pub fn world_executable() -> String {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("maxwell-eos-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dst = dir.join("maxwell");
    if !dst.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_maxwell"), &dst).unwrap();
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dst.to_string_lossy().into_owned()
}

/// Drops every packet that processes of `uid` send to the ZooKeeper ensemble, until dropped.
pub struct ZkCut {
    rule: Vec<String>,
}

impl ZkCut {
    pub fn new(uid: u32) -> Self {
        let b = zk_base();
        let rule: Vec<String> = ["OUTPUT", "-o", "lo", "-p", "tcp", "--dport"]
            .iter()
            .map(|s| s.to_string())
            .chain([format!("{}:{}", b, b + 2), "-m".into(), "owner".into(), "--uid-owner".into(), uid.to_string(), "-j".into(), "DROP".into()])
            .collect();
        let out = Command::new("iptables").arg("-I").args(&rule).output().expect("iptables (scripts/test.sh installs it)");
        assert!(out.status.success(), "iptables -I {rule:?}: {}", String::from_utf8_lossy(&out.stderr));
        Self { rule }
    }
}

impl Drop for ZkCut {
    fn drop(&mut self) {
        let _ = Command::new("iptables").arg("-D").args(&self.rule).status();
    }
}

/// One message as the verdict needs it.
pub struct Msg {
    /// The writing cluster (`maxwell.cluster` header): epochs are per cluster.
    pub cluster: String,
    pub id: u64,
    pub partition: u64,
    pub offset: u64,
    pub epoch: u64,
    /// The writing node (`maxwell.node` header).
    pub node: String,
    /// The server the row was read from (`maxwell.source_server_id` header).
    pub source: String,
}

pub fn messages(topic: &str, expected: usize) -> Vec<Msg> {
    consume(&[topic.to_string()], expected, 180, "primary_key", "default")
        .into_iter()
        .filter(|m| m["value"]["type"] == "insert")
        .map(|m| Msg {
            cluster: m["headers"]["maxwell.cluster"].as_str().unwrap_or_default().to_string(),
            id: m["value"]["data"]["id"].as_u64().unwrap(),
            partition: m["partition"].as_u64().unwrap(),
            offset: m["offset"].as_u64().unwrap(),
            epoch: m["headers"]["maxwell.epoch"].as_str().unwrap_or("0").parse().unwrap(),
            node: m["headers"]["maxwell.node"].as_str().unwrap_or_default().to_string(),
            source: m["headers"]["maxwell.source_server_id"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// (lost ids, duplicated ids, zombie messages) against `ids`. A zombie message has a lower
/// epoch than an earlier message of the same cluster in the same partition.
pub fn verdict(msgs: &[Msg], ids: impl Iterator<Item = u64>) -> (Vec<u64>, Vec<u64>, usize) {
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    for m in msgs {
        *seen.entry(m.id).or_default() += 1;
    }
    let lost: Vec<u64> = ids.filter(|i| !seen.contains_key(i)).collect();
    let dups: Vec<u64> = seen.iter().filter(|(_, n)| **n > 1).map(|(i, _)| *i).collect();
    let mut by_part: BTreeMap<(&str, u64), Vec<&Msg>> = BTreeMap::new();
    for m in msgs {
        by_part.entry((m.cluster.as_str(), m.partition)).or_default().push(m);
    }
    let mut zombie = 0;
    for ms in by_part.values_mut() {
        ms.sort_by_key(|m| m.offset);
        let mut max = 0;
        for m in ms.iter() {
            if m.epoch < max {
                zombie += 1;
            }
            max = max.max(m.epoch);
        }
    }
    (lost, dups, zombie)
}

/// Where each copy of the first duplicated ids landed: `id: node@epoch p/offset, …`.
pub fn copies(msgs: &[Msg], dups: &[u64]) -> String {
    dups.iter()
        .take(5)
        .map(|id| {
            let at: Vec<String> = msgs.iter().filter(|m| m.id == *id).map(|m| format!("{}@{} {}/{}", m.node, m.epoch, m.partition, m.offset)).collect();
            format!("{id}: {}", at.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn sample(v: &[u64]) -> Vec<u64> {
    v.iter().take(20).copied().collect()
}

pub async fn setup(tag: &str, partitions: u32) -> (String, String) {
    let topic = format!("{tag}_rows");
    create_topic(&topic, partitions);
    let db = format!("{tag}_db");
    let mut c = conn().await;
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, v VARCHAR(40))")).await;
    let _ = c.disconnect().await;
    (topic, db)
}


/// Steady writes into `db.t`: transactions of two rows with ids 1, 2, 3, … every `pause`,
/// until `stop` is called; `rows()` is the last id committed.
pub struct Writer {
    written: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    pub fn start(db: &str, pause: Duration) -> Self {
        Self::start_into(vec![db.to_string()], 2, pause)
    }

    /// Transactions of `rows` rows; the one whose first id is `id` goes to
    /// `dbs[id % dbs.len()]`.
    pub fn start_into(dbs: Vec<String>, rows: u64, pause: Duration) -> Self {
        let written = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (w, s) = (written.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut c = conn().await;
            while !s.load(Ordering::Relaxed) {
                let id = w.load(Ordering::Relaxed) + 1;
                let values: Vec<String> = (id..id + rows).map(|i| format!("({i}, 'x')")).collect();
                exec(&mut c, &format!("INSERT INTO {}.t VALUES {}", dbs[(id % dbs.len() as u64) as usize], values.join(","))).await;
                w.store(id + rows - 1, Ordering::Relaxed);
                tokio::time::sleep(pause).await;
            }
        });
        Self { written, stop, task }
    }

    /// The last id committed so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Stops writing; returns how many rows were committed.
    pub async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        self.written.load(Ordering::Relaxed)
    }
}
