//! Following a failover of the source database. Two MariaDB servers in GTID master-master
//! replication on loopback (own gtid_domain_id each, log_slave_updates), a node given both as
//! a host list, and a writer that writes to whichever master is active: a graceful switchover
//! of the writes to B, a kill -9 of A (the node's server) — the node moves to B and continues
//! by GTID —, A restarted and the writes switched back to it. An independent check of the
//! node's output finds every committed row once, in commit order.

mod common;

use common::*;
use mysql_async::prelude::Queryable;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One pair of servers: the drills take turns.
static PAIR: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn pair_ports() -> [u16; 2] {
    [mysql_port() + 20, mysql_port() + 21]
}

/// `scripts/mariadb.sh` for one server of the pair, as it ran.
fn db_script_output(port: u16, server_id: u32, domain: u32, args: &[&str]) -> std::io::Result<std::process::Output> {
    std::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mariadb.sh"))
        .args(args)
        .env("MARIADB_PORT", port.to_string())
        .env("MARIADB_SERVER_ID", server_id.to_string())
        .env("MARIADB_DOMAIN_ID", domain.to_string())
        .output()
}

/// `scripts/mariadb.sh` for one server of the pair; its stdout (it must succeed).
fn db_script(port: u16, server_id: u32, domain: u32, args: &[&str]) -> String {
    let out = db_script_output(port, server_id, domain, args).unwrap();
    assert!(out.status.success(), "mariadb.sh {args:?} on {port}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn conn_to(port: u16) -> Result<mysql_async::Conn, mysql_async::Error> {
    let opts = mysql_async::OptsBuilder::default().ip_or_hostname("127.0.0.1").tcp_port(port).user(Some("root")).prefer_socket(false);
    mysql_async::Conn::new(opts).await
}

async fn count(port: u16, db: &str) -> Option<u64> {
    let mut c = conn_to(port).await.ok()?;
    c.query_first(format!("SELECT COUNT(*) FROM {db}.t")).await.ok().flatten()
}

/// Waits until `to` holds as many rows as `from` (replication caught up).
async fn caught_up(from: u16, to: u16, db: &str) {
    let t0 = Instant::now();
    loop {
        if let (Some(a), Some(b)) = (count(from, db).await, count(to, db).await) {
            if a == b {
                return;
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "replication {from} → {to} did not catch up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The two masters, A (server_id 11, gtid_domain_id 1) and B (12, 2), freshly reset and
/// replicating from each other by GTID, with `db.t` created on A and replicated to B. Both
/// servers are stopped when the pair is dropped, also when an assertion fails.
struct Pair {
    a: u16,
    b: u16,
}

impl Pair {
    async fn start(db: &str) -> Self {
        let [a, b] = pair_ports();
        let pair = Pair { a, b };
        db_script(a, 11, 1, &["reset"]);
        db_script(b, 12, 2, &["reset"]);
        db_script(a, 11, 1, &["replicate-from", &b.to_string()]);
        db_script(b, 12, 2, &["replicate-from", &a.to_string()]);
        let mut ca = conn_to(a).await.unwrap();
        ca.query_drop(format!("CREATE DATABASE {db}")).await.unwrap();
        ca.query_drop(format!("CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, v VARCHAR(20))")).await.unwrap();
        drop(ca);
        caught_up(a, b, db).await;
        pair
    }

    /// kill -9 of A.
    fn kill_a(&self) {
        signal(db_script(self.a, 11, 1, &["pid"]).trim().parse().unwrap(), "KILL");
    }

    /// A started again (it catches up from B by itself).
    fn restart_a(&self) {
        db_script(self.a, 11, 1, &["start"]);
    }
}

impl Drop for Pair {
    /// Never panics (it may run while a failed assertion unwinds).
    fn drop(&mut self) {
        let _ = db_script_output(self.a, 11, 1, &["stop"]);
        let _ = db_script_output(self.b, 12, 2, &["stop"]);
    }
}

/// Writes one-row transactions with ids 1, 2, … to the active master; `paused` holds it
/// between two transactions. A failed write is retried on the (new) active master.
struct Writer {
    target: Arc<AtomicUsize>,
    paused: Arc<AtomicBool>,
    idle: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    last: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    fn start(ports: [u16; 2], db: String) -> Self {
        let (target, paused, idle, stop, last) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (t, p, i, s, l) = (target.clone(), paused.clone(), idle.clone(), stop.clone(), last.clone());
        let task = tokio::spawn(async move {
            let mut c: Option<(usize, mysql_async::Conn)> = None;
            while !s.load(Ordering::SeqCst) {
                if p.load(Ordering::SeqCst) {
                    i.store(true, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                i.store(false, Ordering::SeqCst);
                let want = t.load(Ordering::SeqCst);
                if c.as_ref().map(|(k, _)| *k) != Some(want) {
                    c = conn_to(ports[want]).await.ok().map(|x| (want, x));
                }
                let Some((_, conn)) = c.as_mut() else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let id = l.load(Ordering::SeqCst) + 1;
                match conn.query_drop(format!("INSERT INTO {db}.t VALUES ({id}, 'w{want}')")).await {
                    Ok(()) => l.store(id, Ordering::SeqCst),
                    Err(_) => c = None,
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        });
        Writer { target, paused, idle, stop, last, task }
    }

    async fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        while !self.idle.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn resume_on(&self, i: usize) {
        self.target.store(i, Ordering::SeqCst);
        self.paused.store(false, Ordering::SeqCst);
    }
}

/// A "virtual IP": a port on 127.0.0.1 forwarded by socat to one master. Moving it drops
/// every forwarded connection (socat runs in its own process group, killed whole), as a
/// VIP moving to another machine does.
struct Vip {
    port: u16,
    socat: Option<std::process::Child>,
}

impl Vip {
    fn new() -> Self {
        Vip { port: free_port(), socat: None }
    }

    fn point_to(&mut self, target: u16) {
        use std::os::unix::process::CommandExt;
        if let Some(mut c) = self.socat.take() {
            signal_group(c.id(), "KILL");
            let _ = c.wait();
        }
        let c = std::process::Command::new("socat")
            .args([format!("TCP-LISTEN:{},bind=127.0.0.1,reuseaddr,fork", self.port), format!("TCP:127.0.0.1:{target}")])
            .process_group(0)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("socat (scripts/test.sh installs it)");
        self.socat = Some(c);
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(10), "socat did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Vip {
    fn drop(&mut self) {
        if let Some(mut c) = self.socat.take() {
            signal_group(c.id(), "KILL");
            let _ = c.wait();
        }
    }
}

fn signal_group(pgid: u32, sig: &str) {
    std::process::Command::new("kill").arg(format!("-{sig}")).arg("--").arg(format!("-{pgid}")).status().unwrap();
}

/// How the node reaches the pair.
enum Route {
    HostList,
    Vip(Vip),
}

/// The drill: writes on A; kill -9 of A between two transactions (writes and the VIP move to
/// B); A back, writes switched back to A (and the VIP); a graceful switchover to B (and the
/// VIP). Returns (rows, lost, duplicated, out of order, kill → first row from B).
async fn drill(route: &mut Route, tag: &str) -> (u64, Vec<u64>, Vec<u64>, usize, Duration, String) {
    let _turn = PAIR.lock().await;
    let db = unique(tag);
    let pair = Pair::start(&db).await;
    let (pa, pb) = (pair.a, pair.b);

    let host = match route {
        Route::HostList => format!("127.0.0.1:{pa},127.0.0.1:{pb}"),
        Route::Vip(v) => {
            v.point_to(pa);
            format!("127.0.0.1:{}", v.port)
        }
    };
    let mut move_vip = |to: u16| {
        if let Route::Vip(v) = route {
            v.point_to(to);
        }
    };
    let hp = free_port();
    let mut node = spawn_maxwell(&[format!("--http_port={hp}"), format!("--host={host}"), "--replay".into(), format!("--filter=exclude: *.*, include: {db}.*")]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let w = Writer::start([pa, pb], db.clone());
    let mut out: Vec<(Instant, u64)> = Vec::new();
    let drain = |node: &mut Maxwell, out: &mut Vec<(Instant, u64)>| {
        while let Ok(l) = node.lines.try_recv() {
            let v: serde_json::Value = serde_json::from_str(&l).unwrap();
            if let Some(id) = v["data"]["id"].as_u64() {
                out.push((Instant::now(), id));
            }
        }
    };
    let run = |secs| tokio::time::sleep(Duration::from_secs(secs));
    run(3).await;

    // kill -9 of A, the node's server, between two of the writer's transactions (so no
    // committed row can be missing on B); writes and the VIP go to B.
    w.pause().await;
    caught_up(pa, pb, &db).await;
    let before_kill = w.last.load(Ordering::SeqCst);
    drain(&mut node, &mut out);
    pair.kill_a();
    let killed = Instant::now();
    move_vip(pb);
    w.resume_on(1);
    let t0 = Instant::now();
    let first_after = loop {
        drain(&mut node, &mut out);
        if let Some((t, _)) = out.iter().find(|(_, id)| *id > before_kill) {
            break *t;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no row after the kill of A; node log:\n{}", node.stderr());
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let failover = first_after.duration_since(killed);
    // The node says which server it reads from, and since when.
    let (_, body) = http_get(hp, "/api/status").expect("/api/status");
    let st: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(st["source"].as_str().is_some_and(|s| s.ends_with("(server_id 12)")), "{body}");
    assert!(st["source_since_ms"].as_u64().is_some(), "{body}");
    run(3).await;

    // A comes back (it catches up from B); writes (and the VIP) switch back to it.
    pair.restart_a();
    w.pause().await;
    caught_up(pb, pa, &db).await;
    move_vip(pa);
    w.resume_on(0);
    run(3).await;

    // A graceful switchover to B.
    w.pause().await;
    caught_up(pa, pb, &db).await;
    move_vip(pb);
    w.resume_on(1);
    run(3).await;
    w.stop.store(true, Ordering::SeqCst);
    w.task.await.unwrap();
    let written = w.last.load(Ordering::SeqCst);

    let t0 = Instant::now();
    while out.last().map(|(_, id)| *id) != Some(written) && out.len() < written as usize {
        drain(&mut node, &mut out);
        assert!(t0.elapsed() < Duration::from_secs(60), "waiting for row {written}; node log:\n{}", node.stderr());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (st, rest, err) = node.terminate();
    for r in rest {
        if let Some(id) = r["data"]["id"].as_u64() {
            out.push((Instant::now(), id));
        }
    }
    drop(pair);
    assert!(st.success(), "node exit {st}: {err}");
    let ids: Vec<u64> = out.iter().map(|(_, id)| *id).collect();
    let mut seen = std::collections::BTreeMap::new();
    for id in &ids {
        *seen.entry(*id).or_insert(0u32) += 1;
    }
    let lost: Vec<u64> = (1..=written).filter(|i| !seen.contains_key(i)).collect();
    let dups: Vec<u64> = seen.iter().filter(|(_, n)| **n > 1).map(|(i, _)| *i).collect();
    let out_of_order = ids.windows(2).filter(|w| w[1] <= w[0]).count();
    (written, lost, dups, out_of_order, failover, err)
}

fn verdict(what: &str, (written, lost, dups, out_of_order, failover, err): (u64, Vec<u64>, Vec<u64>, usize, Duration, String), changes: usize) {
    println!(
        "{what}: {written} rows; kill -9 of the node's master → first row read from the other: {} ms; lost {}, duplicated {}, out of order {out_of_order}",
        failover.as_millis(),
        lost.len(),
        dups.len(),
    );
    let noticed = err.matches("the source server changed").count();
    assert!(noticed >= changes, "the node noticed {noticed} changes of server, expected {changes}:\n{err}");
    assert!(lost.is_empty() && dups.is_empty() && out_of_order == 0, "lost {:?} dup {:?} out of order {out_of_order}\n{err}", &lost[..lost.len().min(20)], &dups[..dups.len().min(20)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_master_through_a_host_list() {
    let r = drill(&mut Route::HostList, "sfl").await;
    // The node moves once (A dies); A's return and the switchovers need no move.
    verdict("host list", r, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_master_through_a_virtual_ip() {
    let r = drill(&mut Route::Vip(Vip::new()), "sfv").await;
    // The VIP moves three times: to B (kill), back to A, to B (switchover).
    verdict("virtual IP", r, 3);
}

/// The same pair behind the virtual IP, read by a two-node exactly-once cluster (default
/// settings: `gtid_mode=false`): the leader and A die together and the VIP moves to B; the
/// standby takes over from the Kafka checkpoint — a file position in A's binlog, checked
/// against B's and resumed by GTID. A comes back and the writes and the VIP switch back to it:
/// the new leader follows. An independent read_committed consumer finds every row once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_follows_the_source_and_takes_over_during_it() {
    cluster_drill("exactly_once").await;
}

/// The same in at-least-once mode: the new leader's takeover scan finds the last rows in
/// Kafka were read from A, compares by GTID (B's file positions mean nothing for them) and
/// repeats nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_cluster_dedupes_by_gtid_across_the_source_failover() {
    cluster_drill("at_least_once").await;
}

async fn cluster_drill(delivery: &str) {
    use common::cluster::{copies, messages, sample, verdict, Cluster};
    let _turn = PAIR.lock().await;
    let mut vip = Vip::new();
    let (tag, db) = (unique("sfc"), unique("sfcdb"));
    let topic = format!("{tag}_rows");
    create_topic(&topic, 3);
    let r = {
        let pair = Pair::start(&db).await;
        let (pa, pb) = (pair.a, pair.b);
        // B's binlog files do not line up with A's (as between two real servers).
        conn_to(pb).await.unwrap().query_drop("FLUSH BINARY LOGS").await.unwrap();
        vip.point_to(pa);
        let mut cl = Cluster::new(&tag, &topic, &db);
        cl.extra = vec![format!("--host=127.0.0.1:{}", vip.port), format!("--ha_delivery={delivery}")];
        cl.start("n1", None);
        cl.start("n2", None);
        let (leader, _) = cl.wait_leader(None, Duration::from_secs(30)).await;
        cl.wait_committed().await;
        let w = Writer::start([pa, pb], db.clone());
        tokio::time::sleep(Duration::from_secs(3)).await;

        // The leader dies, then A (between two transactions) before the standby takes over;
        // writes and the VIP go to B. The standby's checkpoint is a position in A's binlog,
        // the VIP reaches B.
        w.pause().await;
        caught_up(pa, pb, &db).await;
        signal(cl.node(&leader).child.id(), "KILL");
        pair.kill_a();
        vip.point_to(pb);
        w.resume_on(1);
        let (next, _) = cl.wait_leader(Some(&leader), Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        // `maxwell-cli cluster status` names the server the new leader reads from.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_maxwell-cli"))
            .args(["--zookeeper", &zk_servers(), "--root", &cl.root, "--json", "cluster", "status"])
            .output()
            .unwrap();
        let st: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let reads: Vec<&str> = st["members"].as_array().into_iter().flatten().filter_map(|m| m["source"].as_str()).collect();
        assert_eq!(reads, vec![format!("127.0.0.1:{} (server_id 12)", vip.port)], "cluster status: {st}");
        cl.start(&leader, None);

        // A comes back; writes and the VIP switch back to it.
        pair.restart_a();
        w.pause().await;
        caught_up(pb, pa, &db).await;
        vip.point_to(pa);
        w.resume_on(0);
        tokio::time::sleep(Duration::from_secs(3)).await;
        w.stop.store(true, Ordering::SeqCst);
        w.task.await.unwrap();
        let written = w.last.load(Ordering::SeqCst);
        let msgs = messages(&topic, written as usize);
        let logs = cl.logs();
        cl.stop_all();
        drop(pair);
        let (lost, dups, zombie) = verdict(&msgs, 1..=written);
        // Commit order within each partition (ids are written in increasing order).
        let mut by_part: std::collections::BTreeMap<u64, Vec<(u64, u64)>> = Default::default();
        for m in &msgs {
            by_part.entry(m.partition).or_default().push((m.offset, m.id));
        }
        let out_of_order: usize = by_part
            .values_mut()
            .map(|v| {
                v.sort();
                v.windows(2).filter(|w| w[1].1 <= w[0].1).count()
            })
            .sum();
        assert_eq!(out_of_order, 0, "rows out of commit order within a partition");
        let sources: std::collections::BTreeSet<&str> = msgs.iter().map(|m| m.source.as_str()).collect();
        assert_eq!(sources, ["11", "12"].into_iter().collect(), "rows name the server they were read from");
        println!("cluster ({delivery}) through a virtual IP: {written} rows; {leader} killed with the source, {next} took over; lost {}, duplicated {}, zombie {zombie}, out of order 0", lost.len(), dups.len());
        assert!(lost.is_empty() && dups.is_empty() && zombie == 0, "lost {:?} dup {:?} ({}) zombie {zombie}\n{logs}", sample(&lost), sample(&dups), copies(&msgs, &dups));
        logs
    };
    assert!(r.contains("does not match this server's binlog"), "the new leader's checkpoint was checked against the server the VIP reaches now:\n{r}");
    assert!(r.contains("the source server changed"), "a leader followed the source when the VIP moved back:\n{r}");
}
