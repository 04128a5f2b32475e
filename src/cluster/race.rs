//! One stream's leader race on this node: stand by, race when the leader is gone, lead a
//! term, and decide what follows its end. The implicit shard (a cluster without shards) and
//! every named shard each run one race, on the node's one ZooKeeper session.
//!
//! Invariants:
//! - A drained node never races; a removed shard's race stops (its token is cancelled).
//! - With shards, a node races only while it holds fewer than ⌈shards / eligible nodes⌉
//!   seats ([`Slots`]): a seat is taken before `try_lead` and given back when the term ends
//!   or the race is lost, so concurrent races of one node never exceed the cap. The one
//!   exception is a shard handed to this node by name (`maxwell-cli shard move`).
//! - A session that ends ends every race of the node: the supervisor starts them again on a
//!   new session ([`RaceExit::SessionLost`]).
//! - While the stream's `stuck` marker has no verdict (a row Kafka refused,
//!   `ignore_producer_error=false`), the node does not race, the leader that stopped included:
//!   it stands by, counted in `maxwell_stuck_rows`, until an operator resolves it.

use super::assign;
use super::layout::now_ms;
use super::producers::Producers;
use super::shards::ShardDef;
use super::term::{lead, Outcome};
use super::zk::{Zk, ZkError};
use super::{close_term, ClusterError};
use crate::config::{Config, HaConfig};
use crate::metrics::{self, Role};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use zookeeper_client as zkc;

/// The seats (shards raced for or led) of this node, bounded by the cap.
#[derive(Default)]
pub(super) struct Slots {
    held: Mutex<BTreeSet<String>>,
    /// Shards of the cluster (not removed), set by the supervisor.
    pub shards: AtomicUsize,
}

impl Slots {
    fn take(&self, shard: &str, cap: usize) -> bool {
        let mut h = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if h.contains(shard) {
            return true;
        }
        if h.len() < cap {
            h.insert(shard.to_string());
            return true;
        }
        false
    }
    fn put(&self, shard: &str) {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).remove(shard);
    }
}

/// What one race streams: the implicit shard (`def` is `None`) or a named one.
pub(super) struct Stream {
    pub def: Option<ShardDef>,
    pub slots: std::sync::Arc<Slots>,
    /// Shards: race no earlier than this (Unix ms), so that nodes started together see each
    /// other before the first one takes every shard.
    pub settle_until_ms: u64,
    /// Rows this node read for the stream, over its terms (each term's progress adds to it).
    pub rows_read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// `recapture_schema` was done by a term of this process (once per process, as Maxwell).
    pub recaptured: std::sync::atomic::AtomicBool,
    /// What this node learnt about rows Kafka refused (suspects, verdicts), kept across the
    /// terms it leads: a term ended by a refusal is led again with it.
    pub known: Mutex<Vec<crate::sink::kafka::refusal::Known>>,
}

impl Stream {
    pub fn name(&self) -> Option<&str> {
        self.def.as_ref().map(|d| d.name.as_str())
    }
    pub fn set_role(&self, role: Role, reason: &str) {
        set_stream_role(self.name(), role, reason)
    }
    /// The configuration of a term: the node's, the cluster's settings on top, then the
    /// shard's filter, topic and identities; and the settings' znode version it was made from.
    pub async fn term_config(&self, zk: &Zk, base: &Config) -> (Config, Option<i32>) {
        let mut version = None;
        let merged = match zk.cluster_settings().await {
            Ok((s, v)) => super::shards::with_settings(base, &s).inspect(|_| version = v).unwrap_or_else(|e| {
                tracing::error!(error = %e, "the cluster settings do not apply to this node: using its own configuration (fix with maxwell-cli config set)");
                metrics::set_error(&e.to_string());
                base.clone()
            }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the cluster settings: using this node's configuration");
                base.clone()
            }
        };
        let cfg = match &self.def {
            Some(d) => d.configure(&merged),
            None => merged,
        };
        (cfg, version)
    }
}

/// Records this node's role for a stream: the node's own for the implicit shard.
pub(super) fn set_stream_role(shard: Option<&str>, role: Role, reason: &str) {
    match shard {
        None => metrics::set_role(role, reason),
        Some(n) => metrics::set_shard_role(n, role, reason),
    }
}

/// Why a race ended.
pub(super) enum RaceExit {
    /// Stopped by its token (shutdown, or the shard was removed): leadership released.
    Stopped,
    /// The session is gone: start over with a new one.
    SessionLost,
    Fatal(ClusterError),
}

/// Runs the race for `stream` until `stop` (or the session ends).
pub(super) async fn race(zk: Zk, base: &Config, ha: &HaConfig, stream: &Stream, stop: &CancellationToken, mut kafka: Option<&mut Producers>) -> RaceExit {
    let shard = stream.name().unwrap_or("").to_string();
    // The fence of this session's current leadership, kept across a disconnection the
    // session survives (the leadership did not change, so neither does the epoch).
    let mut term: Option<(u64, i32)> = None;
    // The term in the history this node has open (epoch, rows_total at its start), and
    // when this node last saw the leader znode vanish.
    let mut open_term: Option<(u64, u64)> = None;
    let mut leader_gone_ms: Option<u64> = None;
    let mut drained = false;
    // Held off the stream by a stuck marker (counted in `maxwell_stuck_rows` while so).
    let mut holding = false;
    // A shard's own epoch znode (the implicit shard's is made with the tree at joining).
    while stream.def.is_some() {
        match zk.ensure_tree().await {
            Ok(()) => break,
            Err(ZkError::SessionLost(_)) => return RaceExit::SessionLost,
            Err(ZkError::Definite(m)) => return RaceExit::Fatal(ZkError::Definite(m).into()),
            Err(e) => {
                tracing::warn!(shard, error = %e, "cannot create the shard's znodes; retrying");
                if !wait_reconnected(&zk.client, stop).await {
                    return if stop.is_cancelled() { RaceExit::Stopped } else { RaceExit::SessionLost };
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    let settle = Duration::from_millis(stream.settle_until_ms.saturating_sub(now_ms()));
    if stream.def.is_some() && !settle.is_zero() {
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(settle) => {}
        }
    }
    loop {
        if stop.is_cancelled() {
            let _ = zk.release_leader().await;
            stream.set_role(Role::Stopped, "shutdown requested");
            return release_hold(holding, RaceExit::Stopped);
        }
        // Drained (maxwell-cli node drain): a standby that never races.
        if zk.is_drained(&ha.node_id).await.unwrap_or(false) {
            if !drained {
                drained = true;
                tracing::info!(shard, "drained: standing by without racing for leadership (maxwell-cli node undrain lifts it)");
                stream.set_role(Role::Standby, "drained: stays a standby until `maxwell-cli node undrain`");
            }
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        drained = false;
        // A stuck marker without a resolution: nobody leads this stream until an operator acts.
        match zk.held().await {
            Ok(Some(s)) => {
                if !holding {
                    holding = true;
                    metrics::get().stuck_rows.inc();
                    let cmd = super::stuck::command(&zk, &s);
                    tracing::error!(shard, row = %s.refused.row, refused = %s.refused, command = %cmd, "the stream holds at a row Kafka refused (ignore_producer_error=false): not leading it until an operator skips or dead-letters the row");
                    stream.set_role(Role::Standby, &format!("holding at a row Kafka refused ({}): {cmd}", s.refused));
                }
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = zk.stuck_changed() => {}
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
                continue;
            }
            Ok(None) if holding => {
                holding = false;
                metrics::get().stuck_rows.dec();
                tracing::info!(shard, "the row the stream held at is resolved: racing again");
            }
            Ok(None) => {}
            Err(ZkError::SessionLost(_)) => return release_hold(holding, RaceExit::SessionLost),
            Err(e) => {
                tracing::warn!(shard, error = %e, "cannot read the stuck marker");
                if holding {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        // Shards: a removed shard is not raced for (the supervisor stops this race soon);
        // then a seat first; at the cap, leave the shard to the other nodes.
        if stream.def.is_some() {
            if !matches!(zk.shard_def(&shard).await, Ok(Some(d)) if !d.removed) {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
                continue;
            }
            let nodes = eligible_nodes(&zk).await.unwrap_or(1);
            let cap = assign::cap(stream.slots.shards.load(Ordering::SeqCst), nodes);
            // A shard handed to this node by name (`shard move`, a failover --to) is taken
            // even over the cap; balancing hands another one away afterwards.
            let named = || async { matches!(zk.failover_request().await, Ok(Some(r)) if r.to.as_deref() == Some(ha.node_id.as_str())) };
            let seated = stream.slots.take(&shard, cap) || (named().await && stream.slots.take(&shard, usize::MAX));
            if !seated {
                let _ = zk.release_leader().await;
                match zk.leader().await {
                    Ok(Some(l)) => {
                        stream.set_role(Role::Standby, &format!("{} leads", l.node_id));
                        match stand_by(&zk, stop).await {
                            Next::Race => leader_gone_ms = Some(now_ms()),
                            Next::Again => {}
                            Next::SessionLost => return RaceExit::SessionLost,
                            Next::Stop => continue,
                        }
                    }
                    _ => {
                        tokio::select! {
                            _ = stop.cancelled() => {}
                            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                        }
                    }
                }
                continue;
            }
        }
        match zk.try_lead(&ha.node_id).await {
            Ok(true) => {
                let (cfg, settings) = stream.term_config(&zk, base).await;
                let term_ha = cfg.ha.clone().unwrap_or_else(|| ha.clone());
                let outcome = lead(&zk, (&cfg, settings), &term_ha, stream, stop, &mut term, kafka.as_deref_mut(), (&mut open_term, leader_gone_ms.take())).await;
                let ended_by = match &outcome {
                    Outcome::Stalled(why) => Some(format!("stall: {why}")),
                    Outcome::Retry(why) => Some(format!("gave up: {why}")),
                    Outcome::Lost(why) => Some(format!("lost: {why}")),
                    Outcome::Fatal(e) => Some(format!("error: {e}")),
                    Outcome::Stuck(why) => Some(format!("stuck: {why}")),
                    Outcome::Shutdown | Outcome::HandedOver | Outcome::Disconnected | Outcome::Reconfigure | Outcome::Redo(_) | Outcome::Held => None,
                };
                if let Some(why) = ended_by {
                    close_term(&zk, &mut open_term, &why, stream.rows_read.load(Ordering::Relaxed)).await;
                }
                if let Some(k) = kafka.as_deref_mut() {
                    k.term_ended();
                }
                if !matches!(outcome, Outcome::Disconnected | Outcome::Reconfigure | Outcome::Redo(_)) {
                    stream.slots.put(&shard);
                }
                match outcome {
                    Outcome::Shutdown => {
                        stream.set_role(Role::Stopped, "shutdown requested: handed over at a transaction boundary");
                        return RaceExit::Stopped;
                    }
                    Outcome::Reconfigure => {
                        tracing::info!(shard, "cluster settings changed: leading on with them");
                    }
                    Outcome::Redo(why) => {
                        tracing::warn!(shard, reason = %why, "leading on from the last committed position");
                    }
                    Outcome::Stuck(why) => {
                        metrics::set_error(&why);
                        term = None;
                        let _ = zk.release_leader().await;
                    }
                    Outcome::Held => {
                        term = None;
                        let _ = zk.release_leader().await;
                    }
                    Outcome::HandedOver => {
                        stream.set_role(Role::Standby, "handed leadership over on request");
                        term = None;
                        stand_aside(&zk, ha, stop).await;
                    }
                    Outcome::Stalled(why) => {
                        metrics::set_error(&why);
                        stream.set_role(Role::Standby, &format!("handed leadership over: {why}"));
                        tracing::warn!(shard, reason = %why, "no progress: handing leadership to a standby");
                        term = None;
                        let _ = zk.release_leader().await;
                        stand_aside(&zk, ha, stop).await;
                    }
                    Outcome::Disconnected => {
                        if !wait_reconnected(&zk.client, stop).await {
                            tracing::warn!(shard, "ZooKeeper session lost while disconnected; rejoining as a standby");
                            stream.slots.put(&shard);
                            return RaceExit::SessionLost;
                        }
                        tracing::info!(shard, "ZooKeeper session survived the disconnection; leading again from the committed position");
                    }
                    Outcome::Lost(why) => {
                        metrics::set_error(&why);
                        stream.set_role(Role::Standby, &format!("leadership lost: {why}"));
                        tracing::warn!(shard, reason = %why, "leadership lost; rejoining as a standby with a new session");
                        return RaceExit::SessionLost;
                    }
                    Outcome::Retry(why) => {
                        metrics::set_error(&why);
                        stream.set_role(Role::Standby, &format!("gave leadership up: {why}"));
                        tracing::warn!(shard, reason = %why, "giving up leadership for now");
                        term = None;
                        let _ = zk.release_leader().await;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Outcome::Fatal(e) => {
                        metrics::set_error(&e.to_string());
                        stream.set_role(Role::Stopped, &format!("stopped on an error that needs an operator: {e}"));
                        let _ = zk.release_leader().await;
                        return RaceExit::Fatal(e);
                    }
                }
            }
            Ok(false) => {
                stream.slots.put(&shard);
                if let Some(k) = kafka.as_deref_mut() {
                    k.warm().await;
                }
                if let Ok(Some(l)) = zk.leader().await {
                    tracing::info!(shard, leader = %l.node_id, epoch = l.epoch, "standing by");
                    if stream.def.is_none() {
                        metrics::status().leader = Some(l.node_id.clone());
                    }
                    stream.set_role(Role::Standby, &format!("{} leads", l.node_id));
                }
                match stand_by(&zk, stop).await {
                    Next::Race => leader_gone_ms = Some(now_ms()),
                    Next::Again | Next::Stop => continue,
                    Next::SessionLost => return RaceExit::SessionLost,
                }
                let mut delay = takeover_delay(&zk, base, ha).await;
                // An operator (or a node evening the load out) asked for a specific successor:
                // let it go first.
                if let Ok(Some(req)) = zk.failover_request().await {
                    match req.to.as_deref() {
                        Some(t) if t == ha.node_id => delay = Duration::ZERO,
                        Some(_) => delay += Duration::from_secs(3),
                        None => {}
                    }
                }
                tracing::info!(shard, delay_ms = delay.as_millis() as u64, "leader gone; racing for leadership");
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            Err(ZkError::SessionLost(_)) => {
                stream.slots.put(&shard);
                return RaceExit::SessionLost;
            }
            Err(ZkError::Definite(m)) => return RaceExit::Fatal(ZkError::Definite(m).into()),
            Err(e) => {
                stream.slots.put(&shard);
                tracing::warn!(shard, error = %e, "leader race failed; retrying");
                if !wait_reconnected(&zk.client, stop).await {
                    return RaceExit::SessionLost;
                }
            }
        }
    }
}

/// `exit`, after giving back this race's count in `maxwell_stuck_rows`.
fn release_hold(holding: bool, exit: RaceExit) -> RaceExit {
    if holding {
        metrics::get().stuck_rows.dec();
    }
    exit
}

enum Next {
    /// The leader is gone: race.
    Race,
    /// Look again (the watch was interrupted, the session survived).
    Again,
    SessionLost,
    Stop,
}

/// Waits while another node leads.
async fn stand_by(zk: &Zk, stop: &CancellationToken) -> Next {
    let mut state = zk.client.state_watcher();
    tokio::select! {
        _ = stop.cancelled() => Next::Stop,
        r = zk.wait_leader_gone() => match r {
            Ok(()) => Next::Race,
            Err(e) => {
                tracing::debug!(error = %e, "leader watch interrupted");
                if wait_reconnected(&zk.client, stop).await { Next::Again } else { Next::SessionLost }
            }
        },
        s = state.changed() => {
            if matches!(s, zkc::SessionState::Expired | zkc::SessionState::Closed | zkc::SessionState::AuthFailed) {
                Next::SessionLost
            } else {
                Next::Again
            }
        }
    }
}

/// Members that may lead (not drained).
async fn eligible_nodes(zk: &Zk) -> Result<usize, ZkError> {
    let (members, drained) = tokio::join!(zk.members(), zk.drained());
    let drained = drained.unwrap_or_default();
    Ok(members?.iter().filter(|m| !drained.contains(&m.node_id)).count().max(1))
}

/// After handing leadership over: stays out of the race until another node leads (or 10 s
/// pass, so that a cluster whose every node has the same trouble still has a leader).
async fn stand_aside(zk: &Zk, ha: &HaConfig, stop: &CancellationToken) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline && !stop.is_cancelled() {
        if matches!(zk.leader().await, Ok(Some(l)) if l.node_id != ha.node_id) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits while disconnected; `true` once connected again, `false` if the session ended.
pub(super) async fn wait_reconnected(client: &zkc::Client, stop: &CancellationToken) -> bool {
    let mut w = client.state_watcher();
    loop {
        match w.state() {
            zkc::SessionState::SyncConnected | zkc::SessionState::ConnectedReadOnly => return true,
            zkc::SessionState::Expired | zkc::SessionState::Closed | zkc::SessionState::AuthFailed => return false,
            _ => {}
        }
        tokio::select! {
            _ = stop.cancelled() => return false,
            _ = w.changed() => {}
        }
    }
}

/// `ha_takeover_delay_ms` (the cluster's setting, else the node's) per live member with a
/// higher priority.
async fn takeover_delay(zk: &Zk, base: &Config, ha: &HaConfig) -> Duration {
    let higher = zk.members().await.map(|m| m.iter().filter(|m| m.priority > ha.priority && m.node_id != ha.node_id).count()).unwrap_or(0);
    if higher == 0 {
        return Duration::ZERO;
    }
    let per_member = zk.live_ha(base).await.map_or(ha.takeover_delay, |h| h.takeover_delay);
    per_member * higher as u32
}
