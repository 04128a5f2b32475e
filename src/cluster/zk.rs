//! ZooKeeper operations on the cluster's znodes: registration, the leader race, the epoch
//! fence and the position store.
//!
//! Invariants:
//! - `leader` and `members/<id>` are ephemeral: they vanish with the session that made them.
//! - An epoch bump is a version-checked `set_data`; its resulting version is the caller's
//!   fence. `commit_position` is `multi[check(epoch, fence), set_data(position)]`, so a
//!   writer whose fence is stale changes nothing and learns it is fenced.
//! - With `zookeeper_auth`, every znode is created `creator_all` for the cluster's digest
//!   identity: other clients cannot write the cluster's znodes.

use super::layout::{decode, encode, now_ms, CorruptZnode, EpochInfo, FailoverRequest, LeaderInfo, MemberInfo, Paths, PositionRecord};
use std::time::Duration;
use zookeeper_client as zk;

#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    /// Our leadership is over (a newer epoch exists, or our leader znode is gone).
    #[error("fenced: {0}")]
    Fenced(String),
    /// The session expired or the client closed: start over with a new session.
    #[error("ZooKeeper session lost: {0}")]
    SessionLost(String),
    /// Connection trouble that may pass.
    #[error("ZooKeeper: {0}")]
    Transient(String),
    /// A person must act (bad root, corrupt payload, node id taken, auth failure).
    #[error("{0}")]
    Definite(String),
    #[error(transparent)]
    Corrupt(#[from] CorruptZnode),
}

pub fn classify(e: zk::Error, what: &str) -> ZkError {
    match e {
        zk::Error::SessionExpired | zk::Error::ClientClosed => ZkError::SessionLost(format!("{what}: {e}")),
        zk::Error::BadVersion => ZkError::Fenced(format!("{what}: a newer leader bumped the epoch")),
        zk::Error::NoAuth | zk::Error::AuthFailed => {
            ZkError::Definite(format!("{what}: {e}: check zookeeper_auth (the cluster's znodes belong to another identity)"))
        }
        other => ZkError::Transient(format!("{what}: {other}")),
    }
}

#[derive(Clone)]
pub struct Zk {
    pub client: zk::Client,
    pub paths: Paths,
    secured: bool,
}

/// Connects a new session (bounded by the session timeout).
pub async fn connect(servers: &str, session_timeout: Duration, auth: Option<&str>) -> Result<zk::Client, ZkError> {
    let mut c = zk::Client::connector().with_session_timeout(session_timeout).with_connection_timeout(session_timeout);
    if let Some(a) = auth {
        c = c.with_auth("digest", a.as_bytes());
    }
    match tokio::time::timeout(session_timeout + Duration::from_secs(2), c.connect(servers)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(ZkError::Transient(format!("connecting to ZooKeeper at {servers}: {e}"))),
        Err(_) => Err(ZkError::Transient(format!("connecting to ZooKeeper at {servers}: no answer within {session_timeout:?}"))),
    }
}

impl Zk {
    pub fn new(client: zk::Client, paths: Paths, secured: bool) -> Self {
        Self { client, paths, secured }
    }

    fn acls(&self) -> zk::Acls<'static> {
        if self.secured {
            zk::Acls::creator_all()
        } else {
            zk::Acls::anyone_all()
        }
    }

    /// The same session with other paths (a shard's scope).
    pub fn scoped(&self, paths: Paths) -> Zk {
        Zk { client: self.client.clone(), paths, secured: self.secured }
    }

    pub(super) fn persistent(&self) -> zk::CreateOptions<'static> {
        zk::CreateMode::Persistent.with_acls(self.acls())
    }

    pub(super) fn persistent_sequential(&self) -> zk::CreateOptions<'static> {
        zk::CreateMode::PersistentSequential.with_acls(self.acls())
    }

    fn ephemeral(&self) -> zk::CreateOptions<'static> {
        zk::CreateMode::Ephemeral.with_acls(self.acls())
    }

    /// Creates the root, `members` and `epoch` when missing.
    pub async fn ensure_tree(&self) -> Result<(), ZkError> {
        let opts = self.persistent();
        self.client.mkdir(&self.paths.members(), &opts).await.or_else(ignore_exists).map_err(|e| classify(e, "creating the cluster root"))?;
        let epoch = encode(&EpochInfo { epoch: 0, node_id: String::new(), at: now_ms() });
        match self.client.create(&self.paths.epoch(), &epoch, &opts).await {
            Ok(_) | Err(zk::Error::NodeExists) => Ok(()),
            Err(e) => Err(classify(e, "creating the epoch znode")),
        }
    }

    /// Registers this node; waits up to `wait` for a stale registration of the same id (from
    /// an expired session) to vanish.
    pub async fn register(&self, info: &MemberInfo, wait: Duration) -> Result<(), ZkError> {
        let path = self.paths.member(&info.node_id);
        let data = encode(info);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.client.create(&path, &data, &self.ephemeral()).await {
                Ok(_) => return Ok(()),
                Err(zk::Error::NodeExists) => {
                    if tokio::time::Instant::now() > deadline {
                        return Err(ZkError::Definite(format!(
                            "node_id `{}` is already registered at {path} by a live session: give each node its own node_id",
                            info.node_id
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(classify(e, "registering as a member")),
            }
        }
    }

    /// Removes this node's registration (at shutdown: the others stop counting it at once).
    pub async fn deregister(&self, node_id: &str) -> Result<(), ZkError> {
        match self.client.delete(&self.paths.member(node_id), None).await {
            Ok(()) | Err(zk::Error::NoNode) => Ok(()),
            Err(e) => Err(classify(e, "deregistering")),
        }
    }

    pub async fn members(&self) -> Result<Vec<MemberInfo>, ZkError> {
        let names = self.client.list_children(&self.paths.members()).await.map_err(|e| classify(e, "listing members"))?;
        let mut out = Vec::new();
        for n in names {
            let p = self.paths.member(&n);
            match self.client.get_data(&p).await {
                Ok((d, _)) => out.push(decode(&p, &d)?),
                Err(zk::Error::NoNode) => {}
                Err(e) => return Err(classify(e, "reading a member")),
            }
        }
        Ok(out)
    }

    /// Tries to become leader. `Ok(true)` when this session holds `leader` (newly or still).
    pub async fn try_lead(&self, node_id: &str) -> Result<bool, ZkError> {
        let info = encode(&LeaderInfo { node_id: node_id.to_string(), epoch: 0, since: now_ms() });
        match self.client.create(&self.paths.leader(), &info, &self.ephemeral()).await {
            Ok(_) => Ok(true),
            Err(zk::Error::NodeExists) => match self.client.check_stat(&self.paths.leader()).await {
                Ok(Some(stat)) => Ok(stat.ephemeral_owner == self.client.session_id().0),
                Ok(None) => Ok(false),
                Err(e) => Err(classify(e, "checking the leader znode")),
            },
            Err(e) => Err(classify(e, "creating the leader znode")),
        }
    }

    /// The current leader, if any.
    pub async fn leader(&self) -> Result<Option<LeaderInfo>, ZkError> {
        match self.client.get_data(&self.paths.leader()).await {
            Ok((d, _)) => Ok(Some(decode(&self.paths.leader(), &d)?)),
            Err(zk::Error::NoNode) => Ok(None),
            Err(e) => Err(classify(e, "reading the leader znode")),
        }
    }

    /// Waits until `leader` is gone (or the wait is interrupted by a watch error).
    pub async fn wait_leader_gone(&self) -> Result<(), ZkError> {
        let (stat, watcher) = self.client.check_and_watch_stat(&self.paths.leader()).await.map_err(|e| classify(e, "watching the leader"))?;
        if stat.is_none() {
            return Ok(());
        }
        let ev = watcher.changed().await;
        if ev.event_type == zk::EventType::Session {
            return Err(ZkError::Transient(format!("session state {:?} while watching the leader", ev.session_state)));
        }
        Ok(())
    }

    /// Bumps `epoch` (version-checked) and records it in our `leader` znode. Returns the new
    /// epoch and the fence version.
    pub async fn bump_epoch(&self, node_id: &str) -> Result<(u64, i32), ZkError> {
        let path = self.paths.epoch();
        let (data, stat) = self.client.get_data(&path).await.map_err(|e| classify(e, "reading the epoch"))?;
        let cur: EpochInfo = decode(&path, &data)?;
        let next = EpochInfo { epoch: cur.epoch + 1, node_id: node_id.to_string(), at: now_ms() };
        let new_stat = self.client.set_data(&path, &encode(&next), Some(stat.version)).await.map_err(|e| classify(e, "bumping the epoch"))?;
        let leader = LeaderInfo { node_id: node_id.to_string(), epoch: next.epoch, since: now_ms() };
        let mut w = self.client.new_multi_writer();
        w.add_check_version(&path, new_stat.version).map_err(|e| classify(e, "fencing"))?;
        w.add_set_data(&self.paths.leader(), &encode(&leader), None).map_err(|e| classify(e, "fencing"))?;
        w.commit().await.map_err(|e| classify(e.into(), "recording the epoch in the leader znode"))?;
        Ok((next.epoch, new_stat.version))
    }

    pub async fn epoch(&self) -> Result<Option<(EpochInfo, i32)>, ZkError> {
        match self.client.get_data(&self.paths.epoch()).await {
            Ok((d, s)) => Ok(Some((decode(&self.paths.epoch(), &d)?, s.version))),
            Err(zk::Error::NoNode) => Ok(None),
            Err(e) => Err(classify(e, "reading the epoch")),
        }
    }

    pub async fn load_position(&self) -> Result<Option<(PositionRecord, i32)>, ZkError> {
        match self.client.get_data(&self.paths.position()).await {
            Ok((d, s)) => Ok(Some((decode(&self.paths.position(), &d)?, s.version))),
            Err(zk::Error::NoNode) => Ok(None),
            Err(e) => Err(classify(e, "reading the position")),
        }
    }

    /// Writes `rec` only if the epoch still has version `fence`.
    pub async fn commit_position(&self, fence: i32, rec: &PositionRecord) -> Result<(), ZkError> {
        let path = self.paths.position();
        let data = encode(rec);
        loop {
            let mut w = self.client.new_multi_writer();
            w.add_check_version(&self.paths.epoch(), fence).map_err(|e| classify(e, "committing the position"))?;
            w.add_set_data(&path, &data, None).map_err(|e| classify(e, "committing the position"))?;
            match w.commit().await {
                Ok(_) => return Ok(()),
                Err(zk::MultiWriteError::OperationFailed { index: 1, source: zk::Error::NoNode }) => {
                    // First commit of this cluster: create the znode, then retry fenced.
                    match self.client.create(&path, &data, &self.persistent()).await {
                        Ok(_) | Err(zk::Error::NodeExists) => {}
                        Err(e) => return Err(classify(e, "creating the position znode")),
                    }
                    let (_, stat) = self.client.get_data(&self.paths.epoch()).await.map_err(|e| classify(e, "re-checking the epoch"))?;
                    if stat.version != fence {
                        return Err(ZkError::Fenced("the epoch changed while creating the position znode".into()));
                    }
                }
                Err(e) => return Err(classify(e.into(), "committing the position")),
            }
        }
    }

    /// Writes `position` with a version check (operator tools); returns the new version.
    pub async fn set_position(&self, rec: &PositionRecord, expected: Option<i32>) -> Result<i32, ZkError> {
        let path = self.paths.position();
        match self.client.set_data(&path, &encode(rec), expected).await {
            Ok(s) => Ok(s.version),
            Err(zk::Error::NoNode) if expected.is_none() => {
                let (s, _) = self.client.create(&path, &encode(rec), &self.persistent()).await.map_err(|e| classify(e, "creating the position"))?;
                Ok(s.version)
            }
            Err(e) => Err(classify(e, "writing the position")),
        }
    }

    /// The cluster's history (empty when there is none yet).
    pub async fn history(&self) -> Result<super::history::History, ZkError> {
        match self.client.get_data(&self.paths.history()).await {
            Ok((d, _)) => Ok(decode(&self.paths.history(), &d)?),
            Err(zk::Error::NoNode) => Ok(Default::default()),
            Err(e) => Err(classify(e, "reading the history")),
        }
    }

    /// Changes the history with `f`: read, change, version-checked write, retried when another
    /// writer got in between. A history that does not parse is started afresh (with a warning).
    pub async fn update_history(&self, f: impl Fn(&mut super::history::History)) -> Result<(), ZkError> {
        let path = self.paths.history();
        for _ in 0..5 {
            let (mut h, version) = match self.client.get_data(&path).await {
                Ok((d, s)) => match decode::<super::history::History>(&path, &d) {
                    Ok(h) => (h, Some(s.version)),
                    Err(e) => {
                        tracing::warn!(error = %e, "the cluster history is unreadable: starting it afresh");
                        (Default::default(), Some(s.version))
                    }
                },
                Err(zk::Error::NoNode) => (Default::default(), None),
                Err(e) => return Err(classify(e, "reading the history")),
            };
            f(&mut h);
            let data = encode(&h);
            let written = match version {
                Some(v) => self.client.set_data(&path, &data, Some(v)).await.map(|_| ()),
                None => self.client.create(&path, &data, &self.persistent()).await.map(|_| ()),
            };
            match written {
                Ok(()) => return Ok(()),
                Err(zk::Error::BadVersion | zk::Error::NodeExists) => continue,
                Err(e) => return Err(classify(e, "writing the history")),
            }
        }
        Err(ZkError::Transient("writing the history: it kept changing".into()))
    }

    /// Whether `node_id` is drained (never races for leadership).
    pub async fn is_drained(&self, node_id: &str) -> Result<bool, ZkError> {
        match self.client.check_stat(&self.paths.drained(node_id)).await {
            Ok(s) => Ok(s.is_some()),
            Err(e) => Err(classify(e, "reading the drained flag")),
        }
    }

    /// The drained nodes.
    pub async fn drained(&self) -> Result<Vec<String>, ZkError> {
        match self.client.list_children(&self.paths.drained_nodes()).await {
            Ok(names) => Ok(names),
            Err(zk::Error::NoNode) => Ok(Vec::new()),
            Err(e) => Err(classify(e, "listing the drained nodes")),
        }
    }

    /// Drains `node_id` (`true`) or lets it lead again (`false`).
    pub async fn set_drained(&self, node_id: &str, drained: bool) -> Result<(), ZkError> {
        let path = self.paths.drained(node_id);
        let r = if drained {
            self.client.mkdir(&path, &self.persistent()).await.or_else(ignore_exists)
        } else {
            match self.client.delete(&path, None).await {
                Ok(()) | Err(zk::Error::NoNode) => Ok(()),
                Err(e) => Err(e),
            }
        };
        r.map_err(|e| classify(e, "writing the drained flag"))
    }

    /// The pending failover request, if any.
    pub async fn failover_request(&self) -> Result<Option<FailoverRequest>, ZkError> {
        match self.client.get_data(&self.paths.failover()).await {
            Ok((d, _)) => Ok(Some(decode(&self.paths.failover(), &d)?)),
            Err(zk::Error::NoNode) => Ok(None),
            Err(e) => Err(classify(e, "reading the failover request")),
        }
    }

    /// Files a failover request (persistent; the next leader removes it).
    pub async fn request_failover(&self, req: &FailoverRequest) -> Result<(), ZkError> {
        let p = self.paths.failover();
        match self.client.create(&p, &encode(req), &self.persistent()).await {
            Ok(_) => Ok(()),
            Err(zk::Error::NodeExists) => {
                self.client.set_data(&p, &encode(req), None).await.map_err(|e| classify(e, "filing the failover request"))?;
                Ok(())
            }
            Err(e) => Err(classify(e, "filing the failover request")),
        }
    }

    pub async fn clear_failover(&self) -> Result<(), ZkError> {
        match self.client.delete(&self.paths.failover(), None).await {
            Ok(()) | Err(zk::Error::NoNode) => Ok(()),
            Err(e) => Err(classify(e, "clearing the failover request")),
        }
    }

    /// Clears a failover request made of an earlier leader (fulfilled or stale now that
    /// `node_id` leads); one addressed to `node_id` itself stays (version-checked delete).
    pub async fn clear_stale_failover(&self, node_id: &str) -> Result<(), ZkError> {
        let path = self.paths.failover();
        let (data, stat) = match self.client.get_data(&path).await {
            Ok(v) => v,
            Err(zk::Error::NoNode) => return Ok(()),
            Err(e) => return Err(classify(e, "reading the failover request")),
        };
        if decode::<FailoverRequest>(&path, &data).is_ok_and(|r| r.from == node_id) {
            return Ok(());
        }
        match self.client.delete(&path, Some(stat.version)).await {
            Ok(()) | Err(zk::Error::NoNode) | Err(zk::Error::BadVersion) => Ok(()),
            Err(e) => Err(classify(e, "clearing the failover request")),
        }
    }

    /// Resolves when a failover request addressed to leader `node_id` exists.
    pub async fn wait_failover_request(&self, node_id: &str) -> Result<FailoverRequest, ZkError> {
        loop {
            let (stat, watcher) = self.client.check_and_watch_stat(&self.paths.failover()).await.map_err(|e| classify(e, "watching failover requests"))?;
            if stat.is_some() {
                if let Some(r) = self.failover_request().await? {
                    if r.from == node_id {
                        return Ok(r);
                    }
                }
            }
            let ev = watcher.changed().await;
            if ev.event_type == zk::EventType::Session {
                return Err(ZkError::Transient("session event while watching failover requests".into()));
            }
        }
    }

    /// Deletes `leader` if this session owns it.
    pub async fn release_leader(&self) -> Result<(), ZkError> {
        match self.client.check_stat(&self.paths.leader()).await {
            Ok(Some(s)) if s.ephemeral_owner == self.client.session_id().0 => {
                match self.client.delete(&self.paths.leader(), Some(s.version)).await {
                    Ok(()) | Err(zk::Error::NoNode) => Ok(()),
                    Err(e) => Err(classify(e, "releasing leadership")),
                }
            }
            Ok(_) => Ok(()),
            Err(e) => Err(classify(e, "releasing leadership")),
        }
    }
}

pub(super) fn ignore_exists(e: zk::Error) -> Result<(), zk::Error> {
    if e == zk::Error::NodeExists {
        Ok(())
    } else {
        Err(e)
    }
}
