//! Cluster membership: one node leads (streams), the others stand by and take over.
//!
//! Lifecycle of a node (each step's invariant in brackets):
//! 1. Connect a ZooKeeper session, create the tree, register `members/<node_id>` [ephemeral].
//! 2. Race for `leader` [ephemeral; one winner per session lifetime]. Losers watch it.
//! 3. The winner bumps `epoch` [version-checked] and keeps the resulting version as its fence,
//!    loads `position`, and only then starts reading the binlog.
//! 4. While leading, the acknowledged position is committed every `ha_commit_interval_ms` as
//!    `multi[check(epoch, fence), set_data(position)]` [never a position the sink has not
//!    acknowledged; never after a newer leader's bump].
//! 5. The moment leadership is in doubt — `Disconnected`, `Expired`, a fenced write — the leader's
//!    work is aborted: reading stops and what the producer has not sent is purged. If the
//!    session survives it leads again from the committed position (new epoch); if not, it
//!    rejoins as a standby with a new session.
//! 6. SIGTERM: stop at a transaction boundary, wait for the sink's acknowledgements, commit,
//!    delete `leader`, close the session: a standby leads at once.

pub mod history;
pub mod layout;
pub mod producers;
pub mod shards;
mod term;
pub mod zk;

use crate::config::{Config, HaConfig};
use crate::metrics::{self, Role};
use crate::node::NodeError;
use layout::{now_ms, MemberInfo, Paths};
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use term::{lead, Outcome};
use zk::{Zk, ZkError};
use zookeeper_client as zkc;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Zk(#[from] ZkError),
    #[error(transparent)]
    Node(#[from] NodeError),
}


/// The session of this process's current membership (read by the HTTP status endpoints).
static CURRENT: Mutex<Option<Zk>> = Mutex::new(None);

/// This node's ZooKeeper handle while it is a member, for read-only use.
pub fn current_zk() -> Option<Zk> {
    CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn zk_state_name(s: zkc::SessionState) -> &'static str {
    match s {
        zkc::SessionState::SyncConnected => "connected",
        zkc::SessionState::ConnectedReadOnly => "connected_read_only",
        zkc::SessionState::Disconnected => "disconnected",
        zkc::SessionState::Expired => "expired",
        zkc::SessionState::Closed => "closed",
        zkc::SessionState::AuthFailed => "auth_failed",
    }
}

/// Mirrors the session's state into the metrics until the session ends.
fn track_session(client: &zkc::Client) {
    let mut w = client.state_watcher();
    metrics::get().set_zk_state(zk_state_name(w.state()));
    tokio::spawn(async move {
        loop {
            let s = w.changed().await;
            metrics::get().set_zk_state(zk_state_name(s));
            if s.is_terminated() {
                return;
            }
        }
    });
}

/// Runs this node as a cluster member until `shutdown`.
pub async fn run(cfg: &Config, ha: &HaConfig, shutdown: CancellationToken) -> Result<(), ClusterError> {
    let member = MemberInfo {
        node_id: ha.node_id.clone(),
        host: crate::config::hostname(),
        http: cfg.http.as_ref().map(|h| h.advertised()),
        version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: now_ms(),
        priority: ha.priority,
    };
    // Kafka clients connected while standing by (see `producers`).
    let mut kafka = match &cfg.kafka {
        Some(k) => Some(producers::Producers::new(k, ha).map_err(NodeError::from)?),
        None => None,
    };
    metrics::status().node_id = Some(ha.node_id.clone());
    let mut backoff = Duration::from_millis(200);
    'session: loop {
        *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if shutdown.is_cancelled() {
            return Ok(());
        }
        let client = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            c = zk::connect(&ha.servers, ha.session_timeout, ha.auth.as_deref()) => c,
        };
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "cannot reach ZooKeeper");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        let zk = Zk::new(client, Paths::new(&ha.root), ha.auth.is_some());
        let setup = async {
            zk.ensure_tree().await?;
            zk.register(&member, ha.session_timeout * 2).await
        };
        match setup.await {
            Ok(()) => {
                tracing::info!(node_id = %ha.node_id, root = %ha.root, session = %zk.client.session_id(), "joined the cluster");
                track_session(&zk.client);
                *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(zk.clone());
            }
            Err(ZkError::Definite(m)) => return Err(ZkError::Definite(m).into()),
            Err(e) => {
                tracing::warn!(error = %e, "joining the cluster failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        }
        // The fence of this session's current leadership, kept across a disconnection the
        // session survives (the leadership did not change, so neither does the epoch).
        let mut term: Option<(u64, i32)> = None;
        // The term in the history this node has open (epoch, rows_total at its start), and
        // when this node last saw the leader znode vanish.
        let mut open_term: Option<(u64, u64)> = None;
        let mut leader_gone_ms: Option<u64> = None;
        let mut drained = false;
        loop {
            if shutdown.is_cancelled() {
                let _ = zk.release_leader().await;
                metrics::set_role(Role::Stopped, "shutdown requested");
                return Ok(());
            }
            // Drained (maxwell-cli node drain): a standby that never races.
            if zk.is_drained(&ha.node_id).await.unwrap_or(false) {
                if !drained {
                    drained = true;
                    tracing::info!("drained: standing by without racing for leadership (maxwell-cli node undrain lifts it)");
                    metrics::set_role(Role::Standby, "drained: stays a standby until `maxwell-cli node undrain`");
                }
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
            drained = false;
            match zk.try_lead(&ha.node_id).await {
                Ok(true) => {
                    let outcome = lead(&zk, cfg, ha, &shutdown, &mut term, kafka.as_mut(), (&mut open_term, leader_gone_ms.take())).await;
                    let ended_by = match &outcome {
                        Outcome::Stalled(why) => Some(format!("stall: {why}")),
                        Outcome::Retry(why) => Some(format!("gave up: {why}")),
                        Outcome::Lost(why) => Some(format!("lost: {why}")),
                        Outcome::Fatal(e) => Some(format!("error: {e}")),
                        Outcome::Shutdown | Outcome::HandedOver | Outcome::Disconnected => None,
                    };
                    if let Some(why) = ended_by {
                        close_term(&zk, &mut open_term, &why).await;
                    }
                    if let Some(k) = kafka.as_mut() {
                        k.term_ended();
                    }
                    match outcome {
                        Outcome::Shutdown => {
                            metrics::set_role(Role::Stopped, "shutdown requested: handed over at a transaction boundary");
                            return Ok(());
                        }
                        Outcome::HandedOver => {
                            metrics::set_role(Role::Standby, "handed leadership over on an operator's failover request");
                            term = None;
                            stand_aside(&zk, ha, &shutdown).await;
                        }
                        Outcome::Stalled(why) => {
                            metrics::set_error(&why);
                            metrics::set_role(Role::Standby, &format!("handed leadership over: {why}"));
                            tracing::warn!(reason = %why, "no progress: handing leadership to a standby");
                            term = None;
                            let _ = zk.release_leader().await;
                            stand_aside(&zk, ha, &shutdown).await;
                        }
                        Outcome::Disconnected => {
                            if !wait_reconnected(&zk.client, &shutdown).await {
                                tracing::warn!("ZooKeeper session lost while disconnected; rejoining as a standby");
                                continue 'session;
                            }
                            tracing::info!("ZooKeeper session survived the disconnection; leading again from the committed position");
                        }
                        Outcome::Lost(why) => {
                            metrics::set_error(&why);
                            metrics::set_role(Role::Standby, &format!("leadership lost: {why}"));
                            tracing::warn!(reason = %why, "leadership lost; rejoining as a standby with a new session");
                            continue 'session;
                        }
                        Outcome::Retry(why) => {
                            metrics::set_error(&why);
                            metrics::set_role(Role::Standby, &format!("gave leadership up: {why}"));
                            tracing::warn!(reason = %why, "giving up leadership for now");
                            term = None;
                            let _ = zk.release_leader().await;
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        Outcome::Fatal(e) => {
                            metrics::set_error(&e.to_string());
                            metrics::set_role(Role::Stopped, &format!("stopped on an error that needs an operator: {e}"));
                            let _ = zk.release_leader().await;
                            return Err(e);
                        }
                    
                    }
                }
                Ok(false) => {
                    if let Some(k) = kafka.as_mut() {
                        k.warm().await;
                    }
                    if let Ok(Some(l)) = zk.leader().await {
                        tracing::info!(leader = %l.node_id, epoch = l.epoch, "standing by");
                        metrics::status().leader = Some(l.node_id.clone());
                        metrics::set_role(Role::Standby, &format!("{} leads", l.node_id));
                    }
                    let mut state = zk.client.state_watcher();
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(()),
                        r = zk.wait_leader_gone() => {
                            leader_gone_ms = Some(now_ms());
                            if let Err(e) = r {
                                tracing::debug!(error = %e, "leader watch interrupted");
                                if !wait_reconnected(&zk.client, &shutdown).await {
                                    continue 'session;
                                }
                                continue;
                            }
                        }
                        s = state.changed() => {
                            if matches!(s, zkc::SessionState::Expired | zkc::SessionState::Closed | zkc::SessionState::AuthFailed) {
                                continue 'session;
                            }
                            continue;
                        }
                    }
                    let mut delay = takeover_delay(&zk, ha).await;
                    // An operator asked for a specific successor: let it go first.
                    if let Ok(Some(req)) = zk.failover_request().await {
                        match req.to.as_deref() {
                            Some(t) if t == ha.node_id => delay = Duration::ZERO,
                            Some(_) => delay += Duration::from_secs(3),
                            None => {}
                        }
                    }
                    tracing::info!(delay_ms = delay.as_millis() as u64, "leader gone; racing for leadership");
                    tokio::time::sleep(delay).await;
                }
                Err(ZkError::SessionLost(_)) => continue 'session,
                Err(ZkError::Definite(m)) => return Err(ZkError::Definite(m).into()),
                Err(e) => {
                    tracing::warn!(error = %e, "leader race failed; retrying");
                    if !wait_reconnected(&zk.client, &shutdown).await {
                        continue 'session;
                    }
                }
            }
        }
    }
}

/// After handing leadership over: stays out of the race until another node leads (or 10 s
/// pass, so that a cluster whose every node has the same trouble still has a leader).
async fn stand_aside(zk: &Zk, ha: &HaConfig, shutdown: &CancellationToken) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline && !shutdown.is_cancelled() {
        if matches!(zk.leader().await, Ok(Some(l)) if l.node_id != ha.node_id) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits while disconnected; `true` once connected again, `false` if the session ended.
async fn wait_reconnected(client: &zkc::Client, shutdown: &CancellationToken) -> bool {
    let mut w = client.state_watcher();
    loop {
        match w.state() {
            zkc::SessionState::SyncConnected | zkc::SessionState::ConnectedReadOnly => return true,
            zkc::SessionState::Expired | zkc::SessionState::Closed | zkc::SessionState::AuthFailed => return false,
            _ => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = w.changed() => {}
        }
    }
}

/// `ha_takeover_delay_ms` per live member with a higher priority.
async fn takeover_delay(zk: &Zk, ha: &HaConfig) -> Duration {
    let higher = zk.members().await.map(|m| m.iter().filter(|m| m.priority > ha.priority && m.node_id != ha.node_id).count()).unwrap_or(0);
    ha.takeover_delay * higher as u32
}

/// Records in the history how this node's open term ended (best effort).
pub(super) async fn close_term(zk: &Zk, open_term: &mut Option<(u64, u64)>, ended_by: &str) {
    if let Some((epoch, rows_at_start)) = open_term.take() {
        let (now, rows) = (now_ms(), metrics::get().rows.get().saturating_sub(rows_at_start));
        if let Err(e) = zk.update_history(|h| h.end(epoch, now, ended_by, rows)).await {
            tracing::debug!(error = %e, "could not record the end of this term in the cluster history");
        }
    }
}
