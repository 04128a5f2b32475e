//! The supervisor: on one ZooKeeper session, runs one race per stream (the implicit shard,
//! or each shard of `<root>/shards`), follows shard definitions as they are added and
//! removed, and evens the leaderships out.
//!
//! Invariants:
//! - Each stream has at most one race on this node; a shard removed (or the implicit shard,
//!   once shards are defined) has its race's token cancelled: it stops at a transaction
//!   boundary, commits and releases, and its Kafka clients are kept for a later race.
//! - A race that loses the session ends the supervision: every race is stopped and awaited
//!   before the node starts over with a new session, so no two races of one stream overlap.
//! - Hand-overs for balance go through the same failover request an operator files (flush,
//!   commit, release, the named node acquires), at most one per `ha_rebalance_interval_ms`;
//!   a drained node hands all its shards over at once.

use super::assign::{pick_handover, Seat};
use super::layout::{now_ms, FailoverRequest};
use super::producers::Producers;
use super::race::{race, RaceExit, Slots, Stream};
use super::shards::ShardDef;
use super::zk::{Zk, ZkError};
use crate::config::{Config, HaConfig};
use crate::metrics;
use crate::node::NodeError;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use zookeeper_client as zkc;

/// Each stream's Kafka clients, kept while its race is not running (name "" is the implicit
/// shard's).
#[derive(Default)]
pub(super) struct KafkaClients(HashMap<String, Producers>);

impl KafkaClients {
    fn take(&mut self, cfg: &Config, ha: &HaConfig, def: Option<&ShardDef>) -> Result<Option<Producers>, NodeError> {
        let name = def.map(|d| d.name.clone()).unwrap_or_default();
        if let Some(p) = self.0.remove(&name) {
            return Ok(Some(p));
        }
        let Some(k) = &cfg.kafka else { return Ok(None) };
        let shard_cfg = def.map(|d| d.configure(cfg));
        let ha = shard_cfg.as_ref().and_then(|c| c.ha.as_ref()).unwrap_or(ha);
        Ok(Some(Producers::new(k, ha)?))
    }
}

struct Running {
    token: CancellationToken,
    id: tokio::task::Id,
}

/// Supervises this node's races on `zk`'s session until shutdown, a lost session or an
/// error that needs an operator.
pub(super) async fn supervise(zk: &Zk, cfg: &Config, ha: &HaConfig, shutdown: &CancellationToken, kafka: &mut KafkaClients) -> RaceExit {
    let session = shutdown.child_token();
    let slots = Arc::new(Slots::default());
    let mut running: BTreeMap<String, Running> = BTreeMap::new();
    let mut tasks: JoinSet<(String, RaceExit, Option<Producers>)> = JoinSet::new();
    let mut last_move = Instant::now();
    let mut state = zk.client.state_watcher();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    // A node just started waits a quarter session before racing for shards.
    let settle_until_ms = metrics::status().started_at_ms + (ha.session_timeout / 4).as_millis() as u64;
    let exit = 'supervise: loop {
        // Shards being removed still count as shards: the cluster streams unsharded again only
        // once the last one is gone (its removal leaves the root where that shard stopped).
        let mut removing = false;
        let defs = match zk.shard_defs().await {
            Ok(d) => {
                removing = d.iter().any(|d| d.removed);
                Some(d.into_iter().filter(|d| !d.removed).collect::<Vec<_>>())
            }
            Err(ZkError::SessionLost(_)) => break RaceExit::SessionLost,
            Err(ZkError::Definite(m)) => break RaceExit::Fatal(ZkError::Definite(m).into()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the shard definitions; retrying");
                None
            }
        };
        if let Some(defs) = &defs {
            if !defs.is_empty() && cfg.kafka.is_some() && ha.delivery == crate::sink::kafka::Delivery::AtLeastOnce {
                break RaceExit::Fatal(ZkError::Definite(
                    "this cluster has shards, which need ha_delivery=exactly_once (the takeover scan of at-least-once cannot tell the shards' rows apart): remove ha_delivery=at_least_once, or the shards (maxwell-cli shard remove)".into(),
                ).into());
            }
            slots.shards.store(defs.len().max(1), Ordering::SeqCst);
            let wanted: BTreeMap<String, Option<ShardDef>> = if defs.is_empty() && !removing {
                [(String::new(), None)].into()
            } else {
                defs.iter().map(|d| (d.name.clone(), Some(d.clone()))).collect()
            };
            for (name, r) in &running {
                if !wanted.contains_key(name) && !r.token.is_cancelled() {
                    tracing::info!(shard = %name, "no longer a stream of this cluster: stopping its race");
                    r.token.cancel();
                }
            }
            for (name, def) in wanted {
                if running.contains_key(&name) {
                    continue;
                }
                let producers = match kafka.take(cfg, ha, def.as_ref()) {
                    Ok(p) => p,
                    Err(e) => break 'supervise RaceExit::Fatal(e.into()),
                };
                let token = session.child_token();
                let stream = Stream { def, slots: slots.clone(), settle_until_ms, rows_read: Default::default(), recaptured: Default::default(), known: Default::default() };
                let (zk, cfg, ha, t) = (match &stream.def { Some(d) => zk.for_shard(&d.name), None => zk.clone() }, cfg.clone(), ha.clone(), token.clone());
                let key = name.clone();
                if !name.is_empty() {
                    tracing::info!(shard = %name, "racing for shard");
                }
                let handle = tasks.spawn(async move {
                    let mut producers = producers;
                    let exit = race(zk, &cfg, &ha, &stream, &t, producers.as_mut()).await;
                    (key, exit, producers)
                });
                running.insert(name, Running { token, id: handle.id() });
            }
            let interval = || async { zk.live_ha(cfg).await.map_or(ha.rebalance_interval, |h| h.rebalance_interval) };
            if !defs.is_empty() && !running.contains_key("") && last_move.elapsed() >= interval().await {
                match rebalance(zk, &ha.node_id, defs).await {
                    Ok(true) => last_move = Instant::now(),
                    Ok(false) => {}
                    Err(e) => tracing::debug!(error = %e, "rebalancing skipped"),
                }
            }
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break 'supervise RaceExit::Stopped,
                Some(done) = tasks.join_next_with_id() => {
                    let (name, exit) = match done {
                        Ok((_, (name, exit, producers))) => {
                            // A removed shard's clients go (off the runtime); others are kept.
                            let removed = running.get(&name).is_some_and(|r| r.token.is_cancelled()) && !session.is_cancelled();
                            match producers {
                                Some(p) if removed => drop(tokio::task::spawn_blocking(move || drop(p))),
                                Some(p) => drop(kafka.0.insert(name.clone(), p)),
                                None => {}
                            }
                            (name, exit)
                        }
                        Err(e) => {
                            let name = running.iter().find(|(_, r)| r.id == e.id()).map(|(n, _)| n.clone()).unwrap_or_default();
                            tracing::error!(shard = %name, error = %e, "a race ended abnormally; starting it again");
                            (name, RaceExit::Stopped)
                        }
                    };
                    running.remove(&name);
                    if !name.is_empty() {
                        metrics::forget_shard(&name);
                    }
                    match exit {
                        RaceExit::Stopped => {}
                        other => break 'supervise other,
                    }
                }
                s = state.changed() => {
                    if matches!(s, zkc::SessionState::Expired | zkc::SessionState::Closed | zkc::SessionState::AuthFailed) {
                        break 'supervise RaceExit::SessionLost;
                    }
                }
                _ = tick.tick() => break,
            }
        }
    };
    // Shutdown: leave the member list first, so that the others, counting one node fewer,
    // have seats for the shards this node releases.
    if matches!(exit, RaceExit::Stopped) && !running.is_empty() && !running.contains_key("") {
        let _ = zk.deregister(&ha.node_id).await;
    }
    // Every race stops (gracefully while the session lasts) before this returns.
    session.cancel();
    while let Some(done) = tasks.join_next().await {
        if let Ok((name, _, Some(p))) = done {
            kafka.0.insert(name, p);
        }
    }
    exit
}

/// One step of evening the load out; `true` when a hand-over was requested.
async fn rebalance(zk: &Zk, me: &str, defs: &[ShardDef]) -> Result<bool, ZkError> {
    let (members, drained) = tokio::join!(zk.members(), zk.drained());
    let drained = drained?;
    let nodes: Vec<(String, i32)> = members?.into_iter().filter(|m| !drained.contains(&m.node_id)).map(|m| (m.node_id, m.priority)).collect();
    let mut seats = Vec::new();
    for d in defs {
        let leader = zk.shard_leader(&d.name).await?.map(|l| l.node_id);
        seats.push(Seat { shard: d.name.clone(), leader, preferred: d.preferred.clone() });
    }
    let moves: Vec<(String, Option<String>)> = if drained.iter().any(|d| d == me) {
        seats.iter().filter(|s| s.leader.as_deref() == Some(me)).map(|s| (s.shard.clone(), None)).collect()
    } else {
        pick_handover(me, &seats, &nodes).map(|(s, to)| (s, Some(to))).into_iter().collect()
    };
    let mut moved = false;
    for (shard, to) in moves {
        let szk = zk.for_shard(&shard);
        if szk.failover_request().await?.is_some_and(|r| r.from == me) {
            continue; // asked already
        }
        tracing::info!(shard, to = ?to, "handing a shard over to even the load out");
        szk.request_failover(&FailoverRequest { to, from: me.to_string(), requested_at: now_ms() }).await?;
        moved = true;
    }
    Ok(moved)
}
