//! `maxwell-cli shard …` and `maxwell-cli config …`: the cluster's shards and its
//! cluster-wide settings in ZooKeeper, and the shard table of `cluster status`.
//!
//! Invariants: a shard is added only when it overlaps no other (see `cluster::shards`); a
//! removal waits for the shard's leader to stop before its znodes go, and the last shard's
//! removal leaves its final position as the unsharded stream's start; a move records the
//! node as the shard's preferred one (so balancing keeps it there) and hands over
//! gracefully; `config set` accepts only cluster-wide keys with a valid value.

use super::{wait_hand_over, MemberView};
use crate::cluster::layout::{now_ms, FailoverRequest, LeaderInfo, PositionRecord};
use crate::cluster::shards::{cluster_key, ShardDef};
use crate::cluster::zk::{Zk, ZkError};
use serde::Serialize;
use std::time::Duration;

/// One shard as `cluster status` and `shard list` show it.
#[derive(Debug, Clone, Serialize)]
pub struct ShardView {
    pub name: String,
    pub filter: String,
    pub topic: Option<String>,
    pub preferred: Option<String>,
    pub leader: Option<String>,
    pub epoch: Option<u64>,
    pub position: Option<String>,
    pub last_commit_age_s: Option<f64>,
    /// From the leader's `/api/status`.
    pub lag_s: Option<f64>,
    pub removed: bool,
}

/// The shards with their leaders and committed positions.
pub async fn overview(zk: &Zk) -> Result<Vec<ShardView>, ZkError> {
    let mut out = Vec::new();
    let now = now_ms();
    for d in zk.shard_defs().await? {
        let leader = zk.shard_leader(&d.name).await?;
        let pos = zk.for_shard(&d.name).load_position().await?.map(|(r, _)| r);
        out.push(ShardView {
            leader: leader.as_ref().map(|l| l.node_id.clone()),
            epoch: leader.as_ref().map(|l| l.epoch),
            position: pos.as_ref().and_then(|p| p.position.as_ref().map(|x| x.to_string())),
            last_commit_age_s: pos.as_ref().map(|p| now.saturating_sub(p.committed_at) as f64 / 1000.0),
            lag_s: None,
            name: d.name,
            filter: d.filter,
            topic: d.topic,
            preferred: d.preferred,
            removed: d.removed,
        });
    }
    Ok(out)
}

/// The shards not being removed, each with its lag from its leader's status
/// (`shards.<name>.lag_seconds`) among `statuses` (node id, `/api/status`).
pub async fn live(zk: &Zk, statuses: &[(String, serde_json::Value)]) -> Result<Vec<ShardView>, ZkError> {
    let mut shards = overview(zk).await?;
    shards.retain(|s| !s.removed);
    for s in &mut shards {
        if let Some((_, st)) = statuses.iter().find(|(n, _)| Some(n) == s.leader.as_ref()) {
            s.lag_s = st["shards"][&s.name]["lag_seconds"].as_f64();
        }
    }
    Ok(shards)
}

/// Shards each member leads.
pub fn leads<'a>(shards: &'a [ShardView], member: &MemberView) -> Vec<&'a str> {
    shards.iter().filter(|s| s.leader.as_deref() == Some(member.node_id.as_str())).map(|s| s.name.as_str()).collect()
}

pub fn print_shards(shards: &[ShardView]) {
    println!("{:<16} {:<12} {:>6} {:<28} {:>9} {:>8}  FILTER", "SHARD", "LEADER", "EPOCH", "POSITION", "COMMITTED", "LAG");
    for s in shards {
        let dash = || "-".to_string();
        println!(
            "{:<16} {:<12} {:>6} {:<28} {:>9} {:>8}  {}{}{}",
            s.name,
            s.leader.clone().unwrap_or_else(dash),
            s.epoch.map(|e| e.to_string()).unwrap_or_else(dash),
            s.position.clone().unwrap_or_else(dash),
            s.last_commit_age_s.map(|a| format!("{a:.1}s ago")).unwrap_or_else(dash),
            s.lag_s.map(|l| format!("{l:.1}s")).unwrap_or_else(dash),
            s.filter,
            s.topic.as_ref().map(|t| format!("  topic {t}")).unwrap_or_default(),
            s.preferred.as_ref().map(|p| format!("  prefers {p}")).unwrap_or_default(),
        );
    }
    if !shards.is_empty() {
        println!("(tables no shard includes are not streamed)");
    }
}

/// `shard add`.
pub async fn add(zk: &Zk, name: &str, filter: &str, topic: Option<&str>, preferred: Option<&str>) -> Result<ShardDef, ZkError> {
    if let Some(p) = preferred {
        if !zk.members().await?.iter().any(|m| m.node_id == p) {
            return Err(ZkError::Definite(format!("node {p} is not a member of this cluster")));
        }
    }
    zk.add_shard(name, filter, topic, preferred).await
}

/// `shard remove`: the leader stops at a transaction boundary and commits; then the shard's
/// znodes are deleted. Its tables are no longer streamed.
pub async fn remove(zk: &Zk, name: &str, timeout: Duration) -> Result<(), ZkError> {
    let def = zk.update_shard(name, |d| d.removed = true).await?;
    let s = zk.for_shard(name);
    let t0 = std::time::Instant::now();
    while s.leader().await?.is_some() {
        if t0.elapsed() > timeout {
            return Err(ZkError::Definite(format!("shard {name}'s leader did not stop within {timeout:?}; it is marked removed, run the command again to finish")));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The last shard: the cluster streams unsharded again once its znodes are gone, from
    // where this shard stopped (not from where the cluster was before it had shards).
    if !zk.shard_defs().await?.iter().any(|d| !d.removed) {
        if let Some(last) = s.load_position().await?.map(|(r, _)| r).or(def.start) {
            let root = zk.unscoped();
            let version = root.load_position().await?.map(|(_, v)| v);
            root.set_position(&PositionRecord::by_operator(last.position, last.gtid, last.server_id), version).await?;
        }
    }
    zk.delete_shard(name).await
}

/// `shard move`: `node` becomes the shard's preferred node and the shard is handed to it.
/// Returns the new leader, its epoch and the time taken.
pub async fn move_shard(zk: &Zk, name: &str, node: &str, timeout: Duration) -> Result<(String, u64, Duration), ZkError> {
    let t0 = std::time::Instant::now();
    match request_move(zk, name, node).await? {
        MoveStarted::Already(l) => Ok((l.node_id, l.epoch, t0.elapsed())),
        MoveStarted::NoLeader => Err(ZkError::Definite(format!("shard {name} has no leader now; {node} is its preferred node and gets it next"))),
        MoveStarted::Requested(current) => wait_hand_over(&zk.for_shard(name), &current, Some(node), t0, timeout).await,
    }
}

/// How a move began.
#[derive(Debug)]
pub enum MoveStarted {
    /// The node already leads the shard.
    Already(LeaderInfo),
    /// Nobody leads the shard now: the node, its preferred one, gets it next.
    NoLeader,
    /// The leader was asked to hand the shard over to the node.
    Requested(LeaderInfo),
}

/// Records `node` as shard `name`'s preferred node and asks its leader to hand over to it,
/// without waiting (the status page's move; `shard move` waits).
pub async fn request_move(zk: &Zk, name: &str, node: &str) -> Result<MoveStarted, ZkError> {
    if !zk.members().await?.iter().any(|m| m.node_id == node) {
        return Err(ZkError::Definite(format!("node {node} is not a member of this cluster")));
    }
    if zk.drained().await?.iter().any(|d| d == node) {
        return Err(ZkError::Definite(format!("node {node} is drained: maxwell-cli node undrain {node} first")));
    }
    if zk.update_shard(name, |d| d.preferred = Some(node.to_string())).await?.removed {
        return Err(ZkError::Definite(format!("shard {name} is being removed")));
    }
    let s = zk.for_shard(name);
    let Some(current) = s.leader().await? else { return Ok(MoveStarted::NoLeader) };
    if current.node_id == node {
        return Ok(MoveStarted::Already(current));
    }
    s.request_failover(&FailoverRequest { to: Some(node.to_string()), from: current.node_id.clone(), requested_at: now_ms() }).await?;
    Ok(MoveStarted::Requested(current))
}

/// The shards of `defs` that `node` leads (for `node drain`).
pub async fn led_by(zk: &Zk, defs: &[ShardDef], node: &str) -> Result<Vec<String>, ZkError> {
    let mut out = Vec::new();
    for d in defs {
        if zk.shard_leader(&d.name).await?.is_some_and(|l| l.node_id == node) {
            out.push(d.name.clone());
        }
    }
    Ok(out)
}

/// `config set KEY VALUE` (`None`: `config unset KEY`): validated like a node's own setting.
pub async fn set_config(zk: &Zk, key: &str, value: Option<&str>) -> Result<(), ZkError> {
    cluster_key(key).map_err(|e| ZkError::Definite(e.to_string()))?;
    if let Some(v) = value {
        let mut s = crate::config::Settings::default();
        s.set(key, v).map_err(|e| ZkError::Definite(e.to_string()))?;
        if key == "filter" {
            crate::filter::Filter::parse(v).map_err(|e| ZkError::Definite(format!("`filter`: {e}")))?;
        }
    }
    zk.set_cluster_setting(key, value).await.map(|_| ())
}
