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
//!
//! Steps 2–6 happen per stream: the implicit shard (a cluster without shards, as above), or
//! each shard of `<root>/shards` with its own `leader`, `epoch` and `position` beneath it.
//! The supervisor (`supervisor.rs`) runs one race per stream on the node's one session
//! (`race.rs`); a term of leadership is `term.rs`; `assign.rs` decides how shards are evened
//! out. A session that ends ends every race of the node.

pub mod assign;
pub mod history;
pub mod layout;
pub mod producers;
pub mod schema_store;
pub mod stuck;
pub mod shards;
mod race;
mod supervisor;
mod term;
pub mod zk;

use crate::config::{Config, HaConfig};
use crate::metrics::{self, Role};
use crate::node::NodeError;
use layout::{now_ms, MemberInfo, Paths};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use zk::{Zk, ZkError};
use zookeeper_client as zkc;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Zk(#[from] ZkError),
    #[error(transparent)]
    Node(#[from] NodeError),
}


/// This node's ZooKeeper session while it is a member: a handle the binary makes, [`run`]
/// keeps up to date (a new session after an expiry, none between sessions) and others (the
/// HTTP endpoints) read. Cloning it gives another view of the same membership.
#[derive(Clone, Default)]
pub struct Membership(std::sync::Arc<tokio::sync::watch::Sender<Option<Zk>>>);

impl Membership {
    /// The session in use now, if this node is a member.
    pub fn current(&self) -> Option<Zk> {
        self.0.borrow().clone()
    }
    fn set(&self, zk: Option<Zk>) {
        self.0.send_replace(zk);
    }
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership").field("member", &self.0.borrow().is_some()).finish()
    }
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

/// Runs this node as a cluster member until `shutdown`, keeping `membership` up to date.
pub async fn run(cfg: &Config, ha: &HaConfig, shutdown: CancellationToken, membership: &Membership) -> Result<(), ClusterError> {
    let member = MemberInfo {
        node_id: ha.node_id.clone(),
        host: crate::config::hostname(),
        http: cfg.http.as_ref().map(|h| h.advertised()),
        version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: now_ms(),
        priority: ha.priority,
    };
    // Kafka clients connected while standing by (see `producers`), per stream, kept across
    // sessions.
    let mut kafka = supervisor::KafkaClients::default();
    metrics::status().node_id = Some(ha.node_id.clone());
    let mut backoff = Duration::from_millis(200);
    loop {
        membership.set(None);
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
                membership.set(Some(zk.clone()));
            }
            Err(ZkError::Definite(m)) => return Err(ZkError::Definite(m).into()),
            Err(e) => {
                tracing::warn!(error = %e, "joining the cluster failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        }
        match supervisor::supervise(&zk, cfg, ha, &shutdown, &mut kafka).await {
            race::RaceExit::Stopped => {
                metrics::set_role(Role::Stopped, "shutdown requested");
                return Ok(());
            }
            race::RaceExit::SessionLost => continue,
            race::RaceExit::Fatal(e) => return Err(e),
        }
    }
}

/// Records in the history how this node's open term ended (best effort).
pub(super) async fn close_term(zk: &Zk, open_term: &mut Option<(u64, u64)>, ended_by: &str, rows_read: u64) {
    if let Some((epoch, rows_at_start)) = open_term.take() {
        let (now, rows) = (now_ms(), rows_read.saturating_sub(rows_at_start));
        if let Err(e) = zk.update_history(|h| h.end(epoch, now, ended_by, rows)).await {
            tracing::debug!(error = %e, "could not record the end of this term in the cluster history");
        }
    }
}
