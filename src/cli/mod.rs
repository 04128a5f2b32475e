//! `maxwell-cli` commands on the cluster's znodes (see `zk-layout/README.md`), and the
//! operator's requests the console (`http/`) makes through the same functions.
//!
//! Invariants: this room sits above `cluster/` and below `http/` (which imports it, never
//! the other way); reading commands never write; `position set` is refused while a leader runs
//! unless forced, is version-checked, and prints the value it replaced; every command has a
//! `--json` form whose fields are the human form's.

use crate::cluster::layout::{now_ms, FailoverRequest, LeaderInfo, MemberInfo, Paths, PositionRecord};
use crate::cluster::zk::{connect, Zk, ZkError};
use serde::Serialize;
use std::time::Duration;

pub mod check;
pub mod client;
pub mod rows;
pub mod schema;
pub mod shards;

/// Cluster health as `cluster status` reports it.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_counts_bytes_across_files() {
        let logs = vec![("b.000001".to_string(), 1000), ("b.000002".to_string(), 500), ("b.000003".to_string(), 300)];
        assert_eq!(lag_bytes(&"b.000002:400".parse().unwrap(), &logs), Some(100 + 300));
        assert_eq!(lag_bytes(&"b.000003:300".parse().unwrap(), &logs), Some(0));
        assert_eq!(lag_bytes(&"b.000000:4".parse().unwrap(), &logs), None, "purged file: unknown");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Health {
    Healthy,
    Degraded,
    NoLeader,
    /// Held at a row Kafka refused until an operator resolves it (`maxwell-cli row`).
    Stuck,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub node_id: String,
    pub role: &'static str,
    pub host: String,
    pub version: String,
    pub priority: i32,
    pub uptime_s: u64,
    pub http: Option<String>,
    /// From the member's own `/api/status` (when it serves HTTP and answered within 1 s).
    pub lag_s: Option<f64>,
    pub rows: Option<u64>,
    pub last_error: Option<String>,
    /// The source server it reads from (`host:port (server_id N)`) and since when (ms).
    pub source: Option<String>,
    pub source_since_ms: Option<u64>,
    /// The bootstrap it is running.
    pub bootstrap: Option<crate::metrics::BootstrapStatus>,
    /// CPU (100 = one core), resident memory, rows/s over the member's last 2 s.
    pub cpu_percent: Option<f64>,
    pub rss_bytes: Option<u64>,
    pub rows_per_second: Option<f64>,
    /// Shards: the shards this member leads.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub root: String,
    pub health: Health,
    pub leader: Option<String>,
    pub epoch: Option<u64>,
    pub members: Vec<MemberView>,
    pub position: Option<String>,
    pub gtid: Option<String>,
    pub committed_by: Option<String>,
    pub last_commit_age_s: Option<f64>,
    /// The source's current end of binlog (with `--mysql`).
    pub source_position: Option<String>,
    /// Binlog bytes between the committed position and the source's end (with `--mysql`).
    pub lag_bytes: Option<u64>,
    /// The cluster's shards (empty: one implicit shard, the fields above).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<shards::ShardView>,
    /// The row the stream holds at (no node leads it until `maxwell-cli row skip`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stuck: Option<crate::sink::kafka::refusal::StuckRow>,
    pub verdict: String,
}

pub async fn open(servers: &str, root: &str, auth: Option<&str>) -> Result<Zk, ZkError> {
    let client = connect(servers, Duration::from_secs(4), auth).await?;
    let zk = Zk::new(client, Paths::new(root), auth.is_some());
    match zk.client.check_stat(root).await {
        Ok(Some(_)) => Ok(zk),
        Ok(None) => Err(ZkError::Definite(format!("no cluster at {root} on {servers}: check --root/--client-id (nodes create it when they start)"))),
        Err(e) => Err(crate::cluster::zk::classify(e, "reading the cluster root")),
    }
}

/// [`open`], creating the cluster's root when absent (to define shards or settings before
/// the first node starts).
pub async fn open_or_create(servers: &str, root: &str, auth: Option<&str>) -> Result<Zk, ZkError> {
    let client = connect(servers, Duration::from_secs(4), auth).await?;
    let zk = Zk::new(client, Paths::new(root), auth.is_some());
    zk.ensure_tree().await?;
    Ok(zk)
}

pub async fn status(zk: &Zk) -> Result<Status, ZkError> {
    let members = zk.members().await?;
    let leader: Option<LeaderInfo> = zk.leader().await?;
    let pos = zk.load_position().await?.map(|(r, _)| r);
    let now = now_ms();
    let mut views: Vec<MemberView> = members
        .iter()
        .map(|m: &MemberInfo| MemberView {
            node_id: m.node_id.clone(),
            role: if leader.as_ref().is_some_and(|l| l.node_id == m.node_id) { "leader" } else { "standby" },
            host: m.host.clone(),
            version: m.version.clone(),
            priority: m.priority,
            uptime_s: now.saturating_sub(m.started_at) / 1000,
            http: m.http.clone(),
            lag_s: None,
            rows: None,
            last_error: None,
            source: None,
            source_since_ms: None,
            bootstrap: None,
            cpu_percent: None,
            rss_bytes: None,
            rows_per_second: None,
            shards: Vec::new(),
        })
        .collect();
    // Each member's own view (lag, rows, last error), read concurrently, 1 s each at most.
    let live = futures_util::future::join_all(views.iter().map(|v| async move {
        match &v.http {
            Some(h) => client::get_json(h, "/api/status", Duration::from_secs(1)).await.ok(),
            None => None,
        }
    }))
    .await;
    let statuses: Vec<(String, serde_json::Value)> = views.iter().zip(&live).filter_map(|(v, st)| st.clone().map(|s| (v.node_id.clone(), s))).collect();
    let shard_views = shards::live(zk, &statuses).await?;
    for (v, st) in views.iter_mut().zip(live) {
        v.shards = shards::leads(&shard_views, v).into_iter().map(str::to_string).collect();
        if !shard_views.is_empty() {
            v.role = if v.shards.is_empty() { "standby" } else { "leader" };
        }
        if let Some(st) = st {
            v.lag_s = st["lag_seconds"].as_f64();
            v.rows = st["rows_total"].as_u64();
            v.last_error = st["last_error"].as_str().map(str::to_string);
            if st["streaming"].as_bool() == Some(true) {
                v.source = st["source"].as_str().map(str::to_string);
                v.source_since_ms = st["source_since_ms"].as_u64();
            }
            v.bootstrap = serde_json::from_value(st["bootstrap"].clone()).ok();
            v.cpu_percent = st["cpu_percent"].as_f64();
            v.rss_bytes = st["rss_bytes"].as_u64();
            v.rows_per_second = st["rows_per_second"].as_f64();
        }
    }
    views.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    let standbys = views.iter().filter(|v| v.role == "standby").count();
    let leading = leader.as_ref().filter(|l| l.epoch > 0);
    let stuck = zk.held().await?;
    let (health, verdict) = if let Some(m) = &stuck {
        (Health::Stuck, format!("STUCK: no node leads; the stream holds at a row Kafka refused ({}): {}", m.refused, crate::cluster::stuck::command(zk, m)))
    } else if !shard_views.is_empty() {
        sharded_health(&shard_views, &views)
    } else {
        match (leading, standbys) {
        (None, _) => (Health::NoLeader, format!("NO LEADER: nothing is streaming ({} member(s) registered)", views.len())),
        (Some(l), 0) => (Health::Degraded, format!("DEGRADED: {} streams but no standby can take over", l.node_id)),
        (Some(l), n) => (Health::Healthy, format!("HEALTHY: {} streams (epoch {}), {n} standby(s) ready", l.node_id, l.epoch)),
        }
    };
    Ok(Status {
        root: zk.paths.root.clone(),
        health,
        leader: leader.as_ref().map(|l| l.node_id.clone()),
        epoch: leader.as_ref().map(|l| l.epoch),
        members: views,
        position: pos.as_ref().and_then(|p| p.position.as_ref().map(|x| x.to_string())),
        gtid: pos.as_ref().and_then(|p| p.gtid.as_ref().map(|g| g.to_string())),
        committed_by: pos.as_ref().map(|p| format!("{} (epoch {})", p.node_id, p.epoch)),
        last_commit_age_s: pos.as_ref().map(|p| now.saturating_sub(p.committed_at) as f64 / 1000.0),
        source_position: None,
        lag_bytes: None,
        shards: shard_views,
        stuck,
        verdict,
    })
}

/// Health of a cluster with shards: every shard led, and some node to take over.
fn sharded_health(shards: &[shards::ShardView], members: &[MemberView]) -> (Health, String) {
    let orphans: Vec<&str> = shards.iter().filter(|s| s.leader.is_none()).map(|s| s.name.as_str()).collect();
    let spread: Vec<String> = members.iter().map(|m| format!("{} {}", m.node_id, m.shards.len())).collect();
    if !orphans.is_empty() {
        return (Health::NoLeader, format!("NO LEADER for shard(s) {}: their tables are not streaming", orphans.join(", ")));
    }
    if members.len() < 2 {
        return (Health::Degraded, format!("DEGRADED: {} shards on one node, no node can take over", shards.len()));
    }
    (Health::Healthy, format!("HEALTHY: {} shards led by {} nodes ({})", shards.len(), members.len(), spread.join(", ")))
}

/// Binlog bytes from `committed` to the end of `logs` (name, size), the source's binary logs.
pub fn lag_bytes(committed: &crate::binlog::BinlogPosition, logs: &[(String, u64)]) -> Option<u64> {
    let i = logs.iter().position(|(f, _)| *f == committed.file)?;
    let rest: u64 = logs[i + 1..].iter().map(|(_, s)| *s).sum();
    Some(logs[i].1.saturating_sub(committed.pos) + rest)
}

pub fn print_status(s: &Status) {
    println!("cluster   {}", s.root);
    println!("health    {}", match s.health { Health::Healthy => "HEALTHY", Health::Degraded => "DEGRADED", Health::NoLeader => "NO LEADER", Health::Stuck => "STUCK" });
    println!("leader    {} (epoch {})", s.leader.as_deref().unwrap_or("-"), s.epoch.map(|e| e.to_string()).unwrap_or_else(|| "-".into()));
    println!(
        "position  {}  gtid {}  committed {} ago by {}",
        s.position.as_deref().unwrap_or("-"),
        s.gtid.as_deref().unwrap_or("-"),
        s.last_commit_age_s.map(|a| format!("{a:.1}s")).unwrap_or_else(|| "-".into()),
        s.committed_by.as_deref().unwrap_or("-")
    );
    if let Some(src) = &s.source_position {
        println!("source    {src}  lag {} bytes", s.lag_bytes.map(|b| b.to_string()).unwrap_or_else(|| "?".into()));
    }
    print_members(&s.members);
    if !s.shards.is_empty() {
        shards::print_shards(&s.shards);
    }
    println!("{}", s.verdict);
}

pub fn print_members(m: &[MemberView]) {
    println!(
        "{:<16} {:<8} {:<20} {:<9} {:>8} {:>9} {:>6} {:>7} {:>8} {:>10} {:>8}  HTTP",
        "NODE", "ROLE", "HOST", "VERSION", "PRIORITY", "UPTIME", "CPU", "MEMORY", "LAG", "ROWS", "ROWS/S"
    );
    for v in m {
        let dash = || "-".to_string();
        let lag = v.lag_s.map(|l| format!("{l:.1}s")).unwrap_or_else(dash);
        let rows = v.rows.map(|r| r.to_string()).unwrap_or_else(dash);
        let cpu = v.cpu_percent.map(|c| format!("{c:.1}%")).unwrap_or_else(dash);
        let mem = v.rss_bytes.map(|b| format!("{}M", b >> 20)).unwrap_or_else(dash);
        let rate = v.rows_per_second.map(|r| format!("{r:.0}")).unwrap_or_else(dash);
        println!(
            "{:<16} {:<8} {:<20} {:<9} {:>8} {:>8}s {:>6} {:>7} {:>8} {:>10} {:>8}  {}",
            v.node_id,
            v.role,
            v.host,
            v.version,
            v.priority,
            v.uptime_s,
            cpu,
            mem,
            lag,
            rows,
            rate,
            v.http.as_deref().unwrap_or("-")
        );
        if let Some(src) = &v.source {
            let since = v.source_since_ms.map(|t| format!(" for {}s", now_ms().saturating_sub(t) / 1000)).unwrap_or_default();
            println!("{:<16} reads from {src}{since}", "");
        }
        if let Some(b) = &v.bootstrap {
            println!("{:<16} {}", "", bootstrap_line(b));
        }
        if let Some(e) = &v.last_error {
            println!("{:<16} last error: {e}", "");
        }
    }
}

/// The history as a table, oldest first.
pub fn print_history(terms: &[crate::cluster::history::Term]) {
    let time = |ms: u64| {
        let s = ms / 1000;
        format!("{:02}:{:02}:{:02}.{:03}", (s / 3600) % 24, (s / 60) % 60, s % 60, ms % 1000)
    };
    println!("{:<6} {:<16} {:<13} {:<13} {:>9} {:>9} {:>10}  ENDED BY", "EPOCH", "NODE", "START (UTC)", "END", "DURATION", "TAKEOVER", "ROWS");
    for t in terms {
        let end = t.end_ms.map(time).unwrap_or_else(|| "-".into());
        let dur = format!("{:.1}s", (t.end_ms.unwrap_or_else(now_ms).saturating_sub(t.start_ms)) as f64 / 1000.0);
        let takeover = t.takeover_ms.map(|m| format!("{m}ms")).unwrap_or_else(|| "-".into());
        let rows = t.rows.map(|r| r.to_string()).unwrap_or_else(|| "-".into());
        let why = t.ended_by.as_deref().unwrap_or(if t.end_ms.is_none() { "(leading)" } else { "-" });
        println!("{:<6} {:<16} {:<13} {:<13} {:>9} {:>9} {:>10}  {why}", t.epoch, t.node_id, time(t.start_ms), end, dur, takeover, rows);
    }
}

/// `bootstrap 3 shop.orders 120000/1000000 rows (12%), 95000 rows/s, eta 9s`.
pub fn bootstrap_line(b: &crate::metrics::BootstrapStatus) -> String {
    let pct = (b.rows * 100).checked_div(b.total).map(|p| format!(" ({p}%)")).unwrap_or_default();
    let eta = b.eta_seconds.map(|s| format!(", eta {s:.0}s")).unwrap_or_default();
    format!("bootstrap {} {}.{} {}/{} rows{pct}, {:.0} rows/s{eta}", b.id, b.database, b.table, b.rows, b.total, b.rows_per_second)
}

/// Replaces the committed position; refused while a leader runs unless `force`.
pub async fn set_position(zk: &Zk, rec: PositionRecord, force: bool) -> Result<Option<PositionRecord>, ZkError> {
    if let Some(l) = zk.leader().await? {
        if !force {
            return Err(ZkError::Definite(format!(
                "{} is leading: stop the cluster first, or pass --force (the leader keeps its own position and may overwrite this one)",
                l.node_id
            )));
        }
    }
    let old = zk.load_position().await?;
    zk.set_position(&rec, old.as_ref().map(|(_, v)| *v)).await?;
    Ok(old.map(|(r, _)| r))
}

/// Drains `node`: flagged so it never races; if it leads, it hands over (waited for).
pub async fn drain(zk: &Zk, node: &str, timeout: Duration) -> Result<Option<(String, u64, Duration)>, ZkError> {
    let t0 = std::time::Instant::now();
    let defs = zk.shard_defs().await?;
    if !defs.is_empty() {
        // Shards: the node hands every shard it leads over by itself once drained.
        let led = shards::led_by(zk, &defs, node).await?;
        request_drain(zk, node).await?;
        while !shards::led_by(zk, &defs, node).await?.is_empty() {
            if t0.elapsed() > timeout {
                return Err(ZkError::Definite(format!("{node} still leads shards after {timeout:?}; it stays drained and hands them over when it can")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        return Ok((!led.is_empty()).then(|| (format!("shard(s) {} handed over", led.join(", ")), 0, t0.elapsed())));
    }
    let Some(leader) = request_drain(zk, node).await? else { return Ok(None) };
    wait_hand_over(zk, &leader, None, t0, timeout).await.map(Some)
}

/// Drains `node` and, when it leads, asks it to hand over without waiting (returns it as the
/// leader asked). A node that is not a member is refused.
pub async fn request_drain(zk: &Zk, node: &str) -> Result<Option<LeaderInfo>, ZkError> {
    if !zk.members().await?.iter().any(|m| m.node_id == node) {
        return Err(ZkError::Definite(format!("node {node} is not a member of this cluster")));
    }
    zk.set_drained(node, true).await?;
    match zk.leader().await? {
        Some(l) if l.node_id == node => request_failover(zk, Some(node), None).await.map(|(l, _)| Some(l)),
        _ => Ok(None),
    }
}

/// Asks the leader (`from`, when given, must be it) to hand over and waits for the new
/// leader; returns it and the time taken.
pub async fn failover(zk: &Zk, from: Option<&str>, to: Option<&str>, timeout: Duration) -> Result<(String, u64, Duration), ZkError> {
    let t0 = std::time::Instant::now();
    let (current, _) = request_failover(zk, from, to).await?;
    wait_hand_over(zk, &current, to, t0, timeout).await
}

/// Waits until a leader other than `current` (and `to`, when given) leads.
async fn wait_hand_over(zk: &Zk, current: &LeaderInfo, to: Option<&str>, t0: std::time::Instant, timeout: Duration) -> Result<(String, u64, Duration), ZkError> {
    loop {
        if let Some(l) = zk.leader().await? {
            if l.node_id != current.node_id && l.epoch > current.epoch && to.is_none_or(|t| t == l.node_id) {
                return Ok((l.node_id, l.epoch, t0.elapsed()));
            }
        }
        if t0.elapsed() > timeout {
            let _ = zk.clear_failover().await;
            return Err(ZkError::Definite(format!("no hand-over within {timeout:?}; the request was withdrawn")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Checks and writes a failover request (`from`, when given, must lead; `to`, when given,
/// must be another member); returns the leader asked and the request. Does not wait.
pub async fn request_failover(zk: &Zk, from: Option<&str>, to: Option<&str>) -> Result<(LeaderInfo, FailoverRequest), ZkError> {
    let Some(current) = zk.leader().await? else {
        if zk.paths.shard.is_none() && !zk.shard_defs().await?.is_empty() {
            return Err(ZkError::Definite("this cluster has shards, each with its own leader: name one with --shard NAME (maxwell-cli shard list), or use maxwell-cli shard move".into()));
        }
        return Err(ZkError::Definite("no leader to fail over from".into()));
    };
    if let Some(f) = from.filter(|f| *f != current.node_id) {
        return Err(ZkError::Definite(format!("{f} is not the leader ({} is): nothing changed", current.node_id)));
    }
    if let Some(t) = to {
        let members = zk.members().await?;
        if !members.iter().any(|m| m.node_id == t) {
            return Err(ZkError::Definite(format!("node {t} is not a member of this cluster")));
        }
        if t == current.node_id {
            return Err(ZkError::Definite(format!("{t} is already the leader")));
        }
    }
    let req = FailoverRequest { to: to.map(str::to_string), from: current.node_id.clone(), requested_at: now_ms() };
    zk.request_failover(&req).await?;
    Ok((current, req))
}

/// `FILE:POS` (optionally `FILE:POS@GTID`) or a GTID set.
pub fn parse_position(v: &str) -> Result<(Option<crate::binlog::BinlogPosition>, Option<crate::binlog::GtidSet>), String> {
    let (p, g) = match v.split_once('@') {
        Some((p, g)) => (p, Some(g.parse::<crate::binlog::GtidSet>().map_err(|e| e.to_string())?)),
        None => (v, None),
    };
    match p.parse::<crate::binlog::BinlogPosition>() {
        Ok(pos) => Ok((Some(pos), g)),
        Err(pe) => match p.parse::<crate::binlog::GtidSet>() {
            // A bare GTID set: the next leader resumes by GTID.
            Ok(gs) => Ok((None, Some(gs))),
            Err(_) => Err(format!("{pe}; or give a GTID set")),
        },
    }
}

/// `maxwell-cli bootstrap`: writes the request where the leader looks for it.
pub async fn bootstrap(cfg: &crate::config::Config, task: crate::bootstrap::Task, cancel: Option<u64>) -> u8 {
    let mut conn = match cfg.positions_db.connect().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("maxwell-cli: {e}");
            return 2;
        }
    };
    let schema = &cfg.schema_database;
    let r = match cancel {
        Some(id) => crate::bootstrap::cancel(&mut conn, schema, id).await.inspect(|&done| {
            if done {
                println!("bootstrap {id} cancelled");
            } else {
                println!("no open bootstrap {id} in {schema}.bootstrap");
            }
        }),
        None => crate::bootstrap::request(&mut conn, schema, &task, &cfg.client_id).await.map(|id| {
            println!("bootstrap {id} of {}.{} requested for client_id {} ({schema}.bootstrap); the leader starts it within a second", task.database, task.table, cfg.client_id);
            true
        }),
    };
    match r {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("maxwell-cli: cannot write {schema}.bootstrap: {e} (the user needs CREATE, INSERT and UPDATE on {schema}.*)");
            2
        }
    }
}

/// The source's end of binlog and the lag behind it of the committed position.
pub async fn source_lag(settings: &crate::config::Settings, committed: Option<&str>) -> Result<(String, Option<u64>), String> {
    use mysql_async::prelude::Queryable;
    let cfg = crate::config::Config::from_settings(settings).map_err(|e| format!("--mysql needs the source settings: {e}"))?;
    let mut conn = cfg.source.connect().await.map_err(|e| e.to_string())?;
    let logs: Vec<(String, u64)> = conn
        .query_map("SHOW BINARY LOGS", |r: mysql_async::Row| (r.get::<String, _>(0).unwrap_or_default(), r.get::<u64, _>(1).unwrap_or_default()))
        .await
        .map_err(|e| format!("reading the source's binary logs: {e}"))?;
    let _ = conn.disconnect().await;
    let end = logs.last().map(|(f, s)| format!("{f}:{s}")).unwrap_or_default();
    let lag = committed.and_then(|c| c.parse().ok()).and_then(|c| lag_bytes(&c, &logs));
    Ok((end, lag))
}
