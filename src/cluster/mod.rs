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
pub mod zk;

use crate::binlog::reader::{ResumePoint, StartPosition};
use crate::config::{Config, HaConfig};
use crate::metrics::{self, Role};
use crate::node::{self, NodeError, StreamControl};
use layout::{now_ms, MemberInfo, Paths, PositionRecord};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
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

/// Why a term of leadership ended.
#[derive(Debug)]
enum Outcome {
    /// Graceful shutdown completed (position committed, leadership released).
    Shutdown,
    /// An operator's failover request was honoured: committed, released; let another lead.
    HandedOver,
    /// The connection dropped; the session may survive.
    Disconnected,
    /// The session is gone, or a newer leader fenced us.
    Lost(String),
    /// Something transient failed (source unreachable…): give leadership up, try later.
    Retry(String),
    /// No progress for `ha_stall_timeout_ms`: hand leadership to a standby that can do better.
    Stalled(String),
    /// A person must act.
    Fatal(ClusterError),
}

fn start_from(rec: &PositionRecord, cfg: &Config) -> StartPosition {
    match (&rec.position, &rec.gtid) {
        (Some(p), g) => StartPosition::resume(p, g.as_ref(), cfg.gtid_mode),
        (None, Some(g)) => StartPosition::Gtid(g.clone()),
        (None, None) => cfg.init_position.clone(),
    }
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
async fn close_term(zk: &Zk, open_term: &mut Option<(u64, u64)>, ended_by: &str) {
    if let Some((epoch, rows_at_start)) = open_term.take() {
        let (now, rows) = (now_ms(), metrics::get().rows.get().saturating_sub(rows_at_start));
        if let Err(e) = zk.update_history(|h| h.end(epoch, now, ended_by, rows)).await {
            tracing::debug!(error = %e, "could not record the end of this term in the cluster history");
        }
    }
}

fn record(p: &ResumePoint, epoch: u64, node_id: &str) -> PositionRecord {
    PositionRecord { position: Some(p.position.clone()), gtid: p.gtid.clone(), server_id: p.server_id, epoch, node_id: node_id.to_string(), committed_at: now_ms() }
}

fn note_committed(rec: &PositionRecord) {
    metrics::set_committed(rec.position.as_ref().map(|p| p.to_string()), rec.committed_at);
}

/// A cluster's very first start: where a Maxwell with the same `client_id` stopped (its
/// `positions` table, read only), else the end of the binlog.
async fn imported_start(cfg: &Config) -> crate::binlog::reader::StartPosition {
    use crate::positions::{source_server_id, Positions};
    let store = Positions::new(cfg.positions_db.clone(), &cfg.schema_database, &cfg.client_id);
    let found = match source_server_id(&cfg.source).await {
        Ok(id) => store.load(id, false).await,
        Err(e) => Err(e),
    };
    match found {
        Ok(Some(s)) => {
            tracing::info!(position = %s.position, schema = %cfg.schema_database, client_id = %cfg.client_id, "first start of this cluster: continuing where Maxwell stopped (its positions table)");
            s.start(cfg.gtid_mode)
        }
        Ok(None) => crate::binlog::reader::StartPosition::Current,
        Err(e) => {
            tracing::warn!(error = %e, "first start of this cluster: no Maxwell position could be read; starting at the end of the binlog");
            crate::binlog::reader::StartPosition::Current
        }
    }
}

/// One term of leadership (the caller ends the term's Kafka producer afterwards).
async fn lead(
    zk: &Zk,
    cfg: &Config,
    ha: &HaConfig,
    shutdown: &CancellationToken,
    term: &mut Option<(u64, i32)>,
    kafka: Option<&mut producers::Producers>,
    (open_term, gone_ms): (&mut Option<(u64, u64)>, Option<u64>),
) -> Outcome {
    // Same session, still holding `leader`, epoch untouched since our bump: same term.
    let before = zk.epoch().await;
    // Who led before (epoch 0 is the fresh tree: nobody).
    let previous = before.as_ref().ok().and_then(|e| e.as_ref()).filter(|(info, _)| info.epoch > 0).map(|(info, _)| info.node_id.clone());
    let current = match (*term, before) {
        (Some((e, f)), Ok(Some((info, version)))) if version == f && info.epoch == e => Some((e, f)),
        _ => None,
    };
    let bumped = match current {
        Some(t) => Ok(t),
        None => zk.bump_epoch(&ha.node_id).await,
    };
    let (epoch, fence) = match bumped {
        Ok(v) => {
            *term = Some(v);
            v
        }
        Err(ZkError::Fenced(m)) | Err(ZkError::SessionLost(m)) => return Outcome::Lost(m),
        Err(ZkError::Transient(m)) => return Outcome::Retry(m),
        Err(e) => return Outcome::Fatal(e.into()),
    };
    if current.is_none() {
        let (node, start) = (ha.node_id.clone(), now_ms());
        match zk.update_history(|h| h.begin(epoch, &node, start, gone_ms)).await {
            Ok(()) => *open_term = Some((epoch, metrics::get().rows.get())),
            Err(e) => tracing::warn!(error = %e, "could not record this term in the cluster history"),
        }
    }
    let committed = match zk.load_position().await {
        Ok(p) => p.map(|(r, _)| r),
        Err(ZkError::Transient(m)) => return Outcome::Retry(m),
        Err(ZkError::SessionLost(m)) => return Outcome::Lost(m),
        Err(e) => return Outcome::Fatal(e.into()),
    };
    let mut start = committed.as_ref().map(|r| start_from(r, cfg)).unwrap_or_else(|| cfg.init_position.clone());
    // Kafka: this term's producer; exactly-once claims the transactional id (fencing every
    // earlier leader at the broker) and resumes from the checkpoint committed with the rows.
    let mut producer = None;
    let mut scanner = None;
    let mut txn = None;
    let mut resumed_bootstrap = None;
    let mut from_checkpoint = false;
    if let Some(k) = kafka {
        scanner = k.scanner.clone();
        if k.delivery() == crate::sink::kafka::Delivery::ExactlyOnce {
            match k.claim(ha.session_timeout * 2).await {
                Ok((p, cp)) => {
                    producer = Some(p);
                    let partial = cp.as_ref().and_then(|c| c.partial.clone());
                    resumed_bootstrap = cp.as_ref().and_then(|c| c.bootstrap.clone());
                    if let Some(cp) = &cp {
                        tracing::info!(checkpoint = %cp, "resuming from the Kafka checkpoint");
                        start = cp.start(cfg.gtid_mode);
                        from_checkpoint = true;
                    }
                    let settings = crate::sink::kafka::TxnSettings {
                        checkpoint_topic: k.checkpoint_topic().to_string(),
                        key: k.checkpoint_key().to_string(),
                        epoch,
                        node_id: ha.node_id.clone(),
                        interval: ha.commit_interval,
                        max_rows: ha.kafka_transaction_rows,
                        timeout: ha.session_timeout * 2,
                    };
                    txn = Some((settings, partial));
                }
                Err(crate::sink::kafka::KafkaSinkError::Fenced(m)) => return Outcome::Lost(m),
                Err(e @ crate::sink::kafka::KafkaSinkError::Config(_)) | Err(e @ crate::sink::kafka::KafkaSinkError::Fatal(_)) => {
                    return Outcome::Fatal(NodeError::from(e).into())
                }
                Err(e) => return Outcome::Retry(e.to_string()),
            }
        } else {
            match k.for_term() {
                Ok(p) => producer = Some(p),
                Err(e) => return Outcome::Fatal(NodeError::from(e).into()),
            }
        }
    }
    if committed.is_none() && !from_checkpoint && cfg.init_position == crate::binlog::reader::StartPosition::Current {
        start = imported_start(cfg).await;
    }
    let m = metrics::get();
    m.epoch.set(epoch as i64);
    if current.is_none() {
        m.elections_won.inc();
        if previous.as_deref().is_some_and(|p| p != ha.node_id) {
            m.failovers.inc();
        }
    }
    {
        let mut st = metrics::status();
        st.epoch = Some(epoch);
        st.leader = Some(ha.node_id.clone());
    }
    metrics::set_role(Role::Leader, &match (&previous, current.is_some()) {
        (_, true) => format!("leading again after a disconnection the session survived (epoch {epoch})"),
        (Some(p), false) if *p != ha.node_id => format!("won the election after {p} (epoch {epoch})"),
        _ => format!("won the election (epoch {epoch})"),
    });
    // A failover request of an earlier leader is fulfilled (or made stale) by this new term;
    // one made of this node since it won (maxwell-cli drain right after a hand-over) stays.
    let _ = zk.clear_stale_failover(&ha.node_id).await;
    tracing::info!(node_id = %ha.node_id, epoch, start = ?start, "leading");

    let stop = shutdown.child_token();
    let handed_over = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (zk3, id3, stop3, ho3) = (zk.clone(), ha.node_id.clone(), stop.clone(), handed_over.clone());
    let failover_task = tokio::spawn(async move {
        if let Ok(req) = zk3.wait_failover_request(&id3).await {
            tracing::info!(to = ?req.to, "failover requested: handing over at the next transaction boundary");
            ho3.store(true, std::sync::atomic::Ordering::SeqCst);
            stop3.cancel();
        }
    });
    let ctl = StreamControl {
        stop: stop.clone(),
        abort: CancellationToken::new(),
        acked: watch::channel(None).0,
        dedup: cfg.kafka.is_some() && txn.is_none(),
        producer,
        scanner,
        txn,
        // A pause of a quarter of the session can already have cost the lease's margin.
        max_pause: Some(ha.session_timeout / 4),
        provenance: Some(crate::sink::kafka::Provenance { cluster: ha.root.clone(), node: ha.node_id.clone(), epoch: epoch.to_string() }),
        progress: Default::default(),
        bootstrap: resumed_bootstrap,
    };
    let reason: Arc<Mutex<Option<Outcome>>> = Arc::new(Mutex::new(None));
    let set_reason = |r: &Arc<Mutex<Option<Outcome>>>, o: Outcome| {
        let mut g = r.lock().unwrap();
        if g.is_none() {
            *g = Some(o);
        }
    };

    // Leadership in doubt → abort the leader's work at once.
    let mut state = zk.client.state_watcher();
    let (abort, r2) = (ctl.abort.clone(), reason.clone());
    let session_task = tokio::spawn(async move {
        // The state at subscription counts too (a disconnection before it is not missed).
        let mut current = Some(state.state());
        loop {
            let s = match current.take() {
                Some(s) => s,
                None => state.changed().await,
            };
            match s {
                zkc::SessionState::SyncConnected | zkc::SessionState::ConnectedReadOnly => continue,
                zkc::SessionState::Disconnected => {
                    tracing::warn!("ZooKeeper disconnected: leadership in doubt, stopping the stream now");
                    set_reason(&r2, Outcome::Disconnected);
                }
                other => {
                    tracing::warn!(state = ?other, "ZooKeeper session ended: stopping the stream now");
                    set_reason(&r2, Outcome::Lost(format!("session {other:?}")));
                }
            }
            abort.cancel();
            return;
        }
    });

    // Stall watchdog: no event from the source, or rows unconfirmed by Kafka, for too long →
    // abort and hand leadership to a standby (whose network may be fine). Exactly-once
    // releases `leader` at once: the next leader's claim fences whatever this one still has
    // in flight. At-least-once releases it only after the drain (ordering its scan after
    // every write of this term).
    let stall_task = ha.stall_timeout.map(|timeout| {
        let (abort, r4, progress, zk4, eos) = (ctl.abort.clone(), reason.clone(), ctl.progress.clone(), zk.clone(), ctl.txn.is_some());
        let mut stall_term = *open_term;
        tokio::spawn(async move {
            let mut check = crate::progress::StallCheck::new(timeout);
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tokio::select! {
                    _ = abort.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if let Some(why) = check.check(&progress) {
                    tracing::warn!(reason = %why, "leader stalled: stopping the stream now");
                    set_reason(&r4, Outcome::Stalled(why.clone()));
                    abort.cancel();
                    if eos {
                        close_term(&zk4, &mut stall_term, &format!("stall: {why}")).await;
                        if zk4.release_leader().await.is_ok() {
                            metrics::set_role(Role::Standby, &format!("handed leadership over: {why}"));
                        }
                    }
                    return;
                }
            }
        })
    });

    // Committer: the acknowledged position, fenced by the epoch version.
    let mut acked = ctl.acked.subscribe();
    let (abort, r3, zk2, node_id, interval) = (ctl.abort.clone(), reason.clone(), zk.clone(), ha.node_id.clone(), ha.commit_interval);
    let committer = tokio::spawn(async move {
        let mut last: Option<ResumePoint> = None;
        loop {
            tokio::select! {
                _ = abort.cancelled() => return last,
                c = acked.changed() => if c.is_err() { return last },
            }
            tokio::time::sleep(interval).await;
            let p = acked.borrow_and_update().clone();
            let Some(p) = p else { continue };
            if last.as_ref() == Some(&p) {
                continue;
            }
            let rec = record(&p, epoch, &node_id);
            match zk2.commit_position(fence, &rec).await {
                Ok(()) => {
                    tracing::debug!(position = %p.position, epoch, "position committed");
                    note_committed(&rec);
                    last = Some(p)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "position commit failed: stopping the stream");
                    set_reason(&r3, match e {
                        ZkError::Fenced(m) | ZkError::SessionLost(m) => Outcome::Lost(m),
                        // A connection hiccup: the session may survive; decide once it settles.
                        ZkError::Transient(_) => Outcome::Disconnected,
                        other => Outcome::Lost(other.to_string()),
                    });
                    abort.cancel();
                    return last;
                }
            }
        }
    });

    let result = node::stream(cfg, &start, &ctl).await;
    session_task.abort();
    if let Some(t) = stall_task {
        t.abort();
    }
    failover_task.abort();
    ctl.abort.cancel(); // the stream has ended: stop the committer

    let committed_last = committer.await.unwrap_or(None);
    let aborted = reason.lock().unwrap().take();
    if let Some(o) = aborted {
        return o;
    }
    let (last, err) = match result {
        Ok(l) => (l, None),
        Err((e, l)) => (l, Some(e)),
    };
    // Graceful end or error: commit what was acknowledged, then hand over.
    if let Some(p) = &last {
        if committed_last.as_ref() != Some(p) {
            let rec = record(p, epoch, &ha.node_id);
            if let Err(e) = zk.commit_position(fence, &rec).await {
                return Outcome::Lost(e.to_string());
            }
            note_committed(&rec);
        }
        tracing::info!(position = %p.position, epoch, "committed final position");
    }
    match err {
        None if shutdown.is_cancelled() => {
            close_term(zk, open_term, "shutdown").await;
            let _ = zk.release_leader().await;
            Outcome::Shutdown
        }
        None if handed_over.load(std::sync::atomic::Ordering::SeqCst) => {
            close_term(zk, open_term, "hand-over").await;
            let _ = zk.release_leader().await;
            Outcome::HandedOver
        }
        None => Outcome::Retry("the stream ended".into()),
        Some(e) if e.is_transient() => Outcome::Retry(e.to_string()),
        Some(NodeError::Reader(crate::binlog::reader::ReaderError::Replaced(m))) => Outcome::Lost(m),
        Some(NodeError::Kafka(crate::sink::kafka::KafkaSinkError::Fenced(m))) => Outcome::Lost(m),
        Some(e) => Outcome::Fatal(e.into()),
    }
}

