//! Helpers for integration tests against the real MariaDB started by `scripts/mariadb.sh`
//! (127.0.0.1, port `MAXWELL_TEST_MYSQL_PORT`, default 3307, user root, no password).
//! A missing server is a test failure, never a skip.
#![allow(dead_code)]

pub mod cluster;

use mysql_async::prelude::Queryable;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn mysql_port() -> u16 {
    std::env::var("MAXWELL_TEST_MYSQL_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3307)
}

pub async fn conn() -> mysql_async::Conn {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(mysql_port())
        .user(Some("root"))
        .prefer_socket(false);
    mysql_async::Conn::new(opts).await.unwrap_or_else(|e| {
        panic!("cannot reach the test MariaDB on 127.0.0.1:{}: {e}; start it with scripts/mariadb.sh start", mysql_port())
    })
}

/// The server's current `file:pos`.
pub async fn master_position(c: &mut mysql_async::Conn) -> String {
    let row: mysql_async::Row = c.query_first("SHOW MASTER STATUS").await.unwrap().expect("binlog on");
    format!("{}:{}", row.get::<String, _>(0).unwrap(), row.get::<u64, _>(1).unwrap())
}

/// A running `maxwell` whose stdout lines arrive on a channel.
pub struct Maxwell {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
    pub stderr_path: std::path::PathBuf,
}

pub fn spawn_maxwell(extra: &[String]) -> Maxwell {
    let mut args = vec![
        "--host=127.0.0.1".to_string(),
        format!("--port={}", mysql_port()),
        "--user=root".to_string(),
        format!("--replica_server_id={}", 1000 + rand_suffix() % 100000),
    ];
    // Each run its own row in maxwell.positions (a stored position of another test must not
    // decide where this one starts).
    if !extra.iter().any(|a| a.starts_with("--client_id=")) {
        args.push(format!("--client_id=test{}", rand_suffix()));
        // A new client_id starts where another client of the server is (Maxwell's rule): a
        // test that names neither a client nor a start means "from now on".
        if !extra.iter().any(|a| a.starts_with("--init_position=") || a.starts_with("--host=") || a.starts_with("--port=") || a == "--replay" || a.starts_with("--replay=")) {
            args.push(format!("--init_position={}", current_position()));
        }
    }
    args.extend_from_slice(extra);
    spawn_plain(&args)
}

/// Starts `maxwell` with exactly `args` (no test defaults), stdout lines on a channel and
/// stderr in a file.
pub fn spawn_plain(args: &[String]) -> Maxwell {
    let stderr_path = std::env::temp_dir().join(format!("maxwell-test-{}-{}.log", std::process::id(), rand_suffix()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_maxwell"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("spawn maxwell");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Maxwell { child, lines: rx, stderr_path }
}

/// The test server's current binlog position (`FILE:POS`), from any context (a thread of
/// its own, so it works inside and outside a runtime).
pub fn current_position() -> String {
    std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut c = conn().await;
            let p = master_position(&mut c).await;
            let _ = c.disconnect().await;
            p
        })
    })
    .join()
    .unwrap()
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    std::process::id().wrapping_mul(31).wrapping_add(N.fetch_add(1, Ordering::Relaxed) * 7919) % 1_000_000
}

impl Maxwell {
    /// Collects lines until `done(line)` is true for one of them (included) or `timeout`.
    pub fn read_until(&mut self, timeout: Duration, mut done: impl FnMut(&serde_json::Value) -> bool) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let v: serde_json::Value = serde_json::from_str(&l).unwrap_or_else(|e| panic!("maxwell printed non-JSON {l:?}: {e}"));
                    let stop = done(&v);
                    out.push(v);
                    if stop {
                        return out;
                    }
                }
                Err(_) => panic!(
                    "timed out after {timeout:?} waiting for maxwell output ({} lines so far); stderr:\n{}",
                    out.len(),
                    self.stderr()
                ),
            }
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Waits up to `t` for the process to exit by itself: its status (None: still running,
    /// then killed) and its stderr.
    pub fn wait_exit(mut self, t: Duration) -> (Option<std::process::ExitStatus>, String) {
        let deadline = Instant::now() + t;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, self.stderr())
    }

    /// SIGTERM, wait for exit, then collect whatever was still printed.
    pub fn terminate(mut self) -> (std::process::ExitStatus, Vec<serde_json::Value>, String) {
        Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("maxwell did not exit within 20 s of SIGTERM; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let rest = self.lines.try_iter().map(|l| serde_json::from_str(&l).unwrap()).collect();
        let err = self.stderr();
        let _ = std::fs::remove_file(&self.stderr_path);
        (status, rest, err)
    }
}

impl Drop for Maxwell {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `sql` ignoring "empty query" (comment-only statements).
pub async fn exec(c: &mut mysql_async::Conn, sql: &str) {
    if let Err(e) = c.query_drop(sql).await {
        if let mysql_async::Error::Server(s) = &e {
            if s.code == 1065 {
                return;
            }
        }
        panic!("SQL failed: {sql}: {e}");
    }
}

pub fn kafka_bootstrap() -> String {
    format!("127.0.0.1:{}", std::env::var("MAXWELL_TEST_KAFKA_PORT").unwrap_or_else(|_| "9192".into()))
}

pub fn kafka_tool(args: &[&str]) -> std::process::Output {
    let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka_tool.py");
    let bootstrap = kafka_bootstrap();
    let mut all = vec![tool, bootstrap.as_str()];
    all.extend_from_slice(args);
    Command::new("python3").args(&all).output().expect("python3 runs")
}

/// Creates a topic with the independent Python client.
pub fn create_topic(topic: &str, partitions: u32) {
    let out = kafka_tool(&["create", topic, &partitions.to_string()]);
    assert!(out.status.success(), "creating topic {topic} on {}: {}", kafka_bootstrap(), String::from_utf8_lossy(&out.stderr));
}

/// Reads `count` messages (and any extra that arrive within 2 s) with the independent client.
pub fn consume(topics: &[String], count: usize, timeout_s: u64, by: &str, hash: &str) -> Vec<serde_json::Value> {
    let t = topics.join(",");
    let out = kafka_tool(&["consume", &t, &count.to_string(), &timeout_s.to_string(), by, hash]);
    assert!(out.status.success(), "consuming {t}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A name no earlier run used.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}{}", nanos % 1_000_000_000_000)
}

/// The test ZooKeeper ensemble (`scripts/zookeeper.sh` with `ZK_PORT_BASE`).
pub fn zk_base() -> u16 {
    std::env::var("MAXWELL_TEST_ZK_BASE").ok().and_then(|p| p.parse().ok()).unwrap_or(2281)
}

pub fn zk_servers() -> String {
    let b = zk_base();
    format!("127.0.0.1:{},127.0.0.1:{},127.0.0.1:{}", b, b + 1, b + 2)
}

/// Runs `scripts/<script> <args>` with the test ports; returns stdout.
pub fn script(script: &str, args: &[&str]) -> String {
    let path = format!("{}/scripts/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(path)
        .args(args)
        .env("ZK_PORT_BASE", zk_base().to_string())
        .env("MARIADB_PORT", mysql_port().to_string())
        .env("KAFKA_PORT", kafka_bootstrap().rsplit(':').next().unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "scripts/{script} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sends a signal (`TERM`, `KILL`, `STOP`, `CONT`) to a process.
pub fn signal(pid: u32, sig: &str) {
    Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().unwrap();
}

/// The arguments of a cluster node on the test services (ZooKeeper root `root`).
pub fn ha_node_args(root: &str, id: &str, replica_server_id: u32) -> Vec<String> {
    vec![
        "--host=127.0.0.1".into(),
        format!("--port={}", mysql_port()),
        "--user=root".into(),
        format!("--replica_server_id={replica_server_id}"),
        format!("--node_id={id}"),
        format!("--zookeeper_servers={}", zk_servers()),
        format!("--zookeeper_root={root}"),
    ]
}

/// A TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET `http://127.0.0.1:{port}{path}`: (status, body), or `None` if nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_request(port, "GET", path, &[], "")
}

/// `POST` with `headers` (`Name: value` lines) and a body: (status, body).
pub fn http_post(port: u16, path: &str, headers: &[&str], body: &str) -> Option<(u16, String)> {
    http_request(port, "POST", path, headers, body)
}

fn http_request(port: u16, method: &str, path: &str, headers: &[&str], body: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    write!(s, "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{extra}Content-Length: {}\r\n\r\n{body}", body.len()).ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    Some((head.split_whitespace().nth(1)?.parse().ok()?, body.to_string()))
}

/// The samples of a node's `/metrics`, keyed `name{labels}` as exposed.
pub fn scrape(port: u16) -> Option<std::collections::BTreeMap<String, f64>> {
    let (status, body) = http_get(port, "/metrics")?;
    assert_eq!(status, 200, "/metrics answered {status}: {body}");
    Some(
        body.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| l.rsplit_once(' ').map(|(k, v)| (k.to_string(), v.parse().unwrap())))
            .collect(),
    )
}

/// Decrypts JSON lines with `scripts/maxwell_decrypt.py` (the record is `line[field]` when a
/// field is given).
pub fn decrypt(key: &str, field: Option<&str>, lines: &[serde_json::Value]) -> Vec<serde_json::Value> {
    use std::io::Write;
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/maxwell_decrypt.py")).arg(key);
    if let Some(f) = field {
        cmd.args(["--field", f]);
    }
    let mut child = cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("python3 runs");
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "maxwell_decrypt.py: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A node alone's arguments: `db`'s rows from `start` to Kafka topic `topic`, then `extra`.
pub fn kafka_node_args(start: &str, db: &str, topic: &str, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        format!("--init_position={start}"),
        format!("--filter=exclude: *.*, include: {db}.*"),
        "--producer=kafka".into(),
        format!("--kafka.bootstrap.servers={}", kafka_bootstrap()),
        format!("--kafka_topic={topic}"),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}
