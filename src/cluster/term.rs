//! One term of leadership: what a node does between winning the election and the end of
//! its term (bump the epoch, record the term, load the committed position, claim Kafka,
//! stream until the term ends), and why a term ends.
//!
//! Invariants:
//! - A term starts streaming only after its epoch bump succeeded; the bump's version is the
//!   fence every position commit of the term checks.
//! - Exactly-once: the Kafka claim (fencing every earlier producer) happens after the bump,
//!   and the term resumes from the checkpoint read after the claim.
//! - Same session, still holding `leader`, epoch untouched since our bump: the same term
//!   continues (no new bump, no new history entry).
//! - A row Kafka refused ends the term's stream: to be read again from the last committed
//!   position with what was learnt about the row (`Redo`), or, with
//!   `ignore_producer_error=false`, with the stream held at the row (`Stuck`, the marker of
//!   `stuck.rs` written before `leader` is released). A term never starts while a marker
//!   without a resolution exists (`Held`), and applies a resolved one.

use super::layout::{now_ms, PositionRecord};
use super::producers;
use super::zk::{Zk, ZkError};
use super::{close_term, ClusterError};
use crate::binlog::position::{ResumePoint, StartPosition};
use super::race::Stream;
use crate::config::{Config, HaConfig};
use crate::metrics::{self, Role};
use crate::node::{self, NodeError, StreamControl};
use crate::sink::kafka::refusal::{remember, Known, Refusal, StuckRow};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use zookeeper_client as zkc;

/// Why a term of leadership ended.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Graceful shutdown completed (position committed, leadership released).
    Shutdown,
    /// An operator's failover request (or a node evening shards out) was honoured:
    /// committed, released; let another lead.
    HandedOver,
    /// The cluster settings changed: committed, `leader` kept; lead on with the new ones.
    Reconfigure,
    /// A row Kafka refused is to be sent again alone, or with a verdict: committed, `leader`
    /// kept; lead on from the committed position.
    Redo(String),
    /// The stream stopped at a row Kafka refused (`ignore_producer_error=false`): committed,
    /// the stuck marker written; hold until an operator resolves it.
    Stuck(String),
    /// A stuck marker without a resolution exists: this term did not start.
    Held,
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

pub(super) fn start_from(rec: &PositionRecord, cfg: &Config) -> StartPosition {
    match (&rec.position, &rec.gtid) {
        (Some(p), g) => StartPosition::resume(p, g.as_ref(), cfg.gtid_mode),
        (None, Some(g)) => StartPosition::Gtid(g.clone()),
        (None, None) => cfg.init_position.clone(),
    }
}

pub(super) fn record(p: &ResumePoint, epoch: u64, node_id: &str) -> PositionRecord {
    PositionRecord { position: Some(p.position.clone()), gtid: p.gtid.clone(), server_id: p.server_id, epoch, node_id: node_id.to_string(), committed_at: now_ms() }
}

pub(super) fn note_committed(shard: Option<&str>, rec: &PositionRecord) {
    let position = rec.position.as_ref().map(|p| p.to_string());
    match shard {
        None => metrics::set_committed(position, rec.committed_at),
        Some(s) => metrics::set_shard_committed(s, position, rec.committed_at),
    }
}

/// A shard's first term (no position, no checkpoint) starts where the cluster was when the
/// shard was added (see [`ShardDef::start`](super::shards::ShardDef)), once the cluster's
/// unsharded leader (if any) stopped.
async fn shard_seed(zk: &Zk, stream: &Stream) -> Result<Option<PositionRecord>, Outcome> {
    let root = zk.unscoped();
    let transient = |e: ZkError| Outcome::Retry(e.to_string());
    if root.leader().await.map_err(transient)?.is_some() {
        return Err(Outcome::Retry("the cluster's unsharded leader is still streaming; a shard starts once it stopped".into()));
    }
    let start = stream.def.as_ref().and_then(|d| d.start.clone());
    // Switching from unsharded: its leader streamed this shard's tables on after the shard
    // was added, until it noticed and stopped (committing where it did).
    let root_final = root.load_position().await.map_err(transient)?.map(|(r, _)| r);
    Ok(PositionRecord::latest(start, root_final))
}

/// A cluster's very first start: where a Maxwell with the same `client_id` stopped (its
/// `positions` table, read only), else the end of the binlog.
async fn imported_start(cfg: &Config) -> crate::binlog::position::StartPosition {
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
        Ok(None) => crate::binlog::position::StartPosition::Current,
        Err(e) => {
            tracing::warn!(error = %e, "first start of this cluster: no Maxwell position could be read; starting at the end of the binlog");
            crate::binlog::position::StartPosition::Current
        }
    }
}

/// One term of leadership (the caller ends the term's Kafka producer afterwards).
#[allow(clippy::too_many_arguments)]
pub(super) async fn lead(
    zk: &Zk,
    (cfg, settings): (&Config, Option<i32>),
    ha: &HaConfig,
    stream: &Stream,
    shutdown: &CancellationToken,
    term: &mut Option<(u64, i32)>,
    kafka: Option<&mut producers::Producers>,
    (open_term, gone_ms): (&mut Option<(u64, u64)>, Option<u64>),
) -> Outcome {
    // A stream held at a refused row: nobody leads it (no epoch bump, no history entry).
    if let Ok(Some(_)) = zk.held().await {
        return Outcome::Held;
    }
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
            Ok(()) => *open_term = Some((epoch, stream.rows_read.load(std::sync::atomic::Ordering::Relaxed))),
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
                    // A position an operator wrote after the last checkpoint wins over it.
                    let cp = match (cp, &committed) {
                        (Some(cp), Some(r)) if r.overrides(cp.committed_at) => {
                            tracing::info!(checkpoint = %cp, position = ?r.position, gtid = ?r.gtid, "the position was set by an operator after the last Kafka checkpoint: starting there");
                            None
                        }
                        (cp, _) => cp,
                    };
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
    if committed.is_none() && !from_checkpoint && stream.def.is_some() {
        match shard_seed(zk, stream).await {
            Ok(Some(seed)) => {
                tracing::info!(position = ?seed.position, "a new shard: starting where the cluster was when it was added");
                start = start_from(&seed, cfg);
            }
            Ok(None) => {}
            Err(o) => return o,
        }
    }
    if committed.is_none() && !from_checkpoint && start == crate::binlog::position::StartPosition::Current && cfg.init_position == crate::binlog::position::StartPosition::Current {
        start = imported_start(cfg).await;
    }
    let m = metrics::get();
    match stream.name() {
        None => m.epoch.set(epoch as i64),
        Some(n) => metrics::set_shard_epoch(n, epoch),
    }
    if current.is_none() {
        m.elections_won.inc();
        if previous.as_deref().is_some_and(|p| p != ha.node_id) {
            m.failovers.inc();
        }
    }
    if stream.def.is_none() {
        let mut st = metrics::status();
        st.epoch = Some(epoch);
        st.leader = Some(ha.node_id.clone());
    }
    stream.set_role(Role::Leader, &match (&previous, current.is_some()) {
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
    // Cluster settings changed: end the term at a transaction boundary and lead on.
    let reconfigure = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (zk5, stop5, re5) = (zk.clone(), stop.clone(), reconfigure.clone());
    let settings_task = tokio::spawn(async move {
        zk5.settings_changed(settings).await;
        tracing::info!("cluster settings changed: restarting the stream with them at the next transaction boundary");
        re5.store(true, std::sync::atomic::Ordering::SeqCst);
        stop5.cancel();
    });
    let (zk3, id3, stop3, ho3) = (zk.clone(), ha.node_id.clone(), stop.clone(), handed_over.clone());
    let failover_task = tokio::spawn(async move {
        if let Ok(req) = zk3.wait_failover_request(&id3).await {
            tracing::info!(to = ?req.to, "failover requested: handing over at the next transaction boundary");
            ho3.store(true, std::sync::atomic::Ordering::SeqCst);
            stop3.cancel();
        }
    });
    // What is known about refused rows: this node's, and an operator's verdict on the row
    // the stream was held at (its marker is deleted once the row is behind the stream).
    let resolved = zk.resolved().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read the stuck marker");
        None
    });
    let mut known = stream.known.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some((k, _)) = &resolved {
        tracing::info!(row = %k.row, verdict = ?k.verdict, "applying the operator's verdict on the row the stream held at");
        remember(&mut known, k.clone());
    }
    let ctl = StreamControl {
        known,
        stop: stop.clone(),
        abort: CancellationToken::new(),
        acked: watch::channel(None).0,
        dedup: cfg.kafka.is_some() && txn.is_none(),
        producer,
        scanner,
        txn,
        // A pause of a quarter of the session can already have cost the lease's margin.
        max_pause: Some(ha.session_timeout / 4),
        provenance: Some(crate::sink::kafka::Provenance { cluster: zk.paths.scope.clone(), node: ha.node_id.clone(), epoch: epoch.to_string() }),
        progress: Arc::new(crate::progress::Progress::counting_into(stream.rows_read.clone())),
        bootstrap: resumed_bootstrap,
        history: Some(crate::source::history::Keeper::new(
            Arc::new(crate::cluster::schema_store::ZkHistory::new(zk.clone())),
            cfg.recapture_schema && !stream.recaptured.swap(true, std::sync::atomic::Ordering::SeqCst),
            false,
        )),
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
    // A silent source is asked on a second connection, from half the timeout on, so that the
    // verdict at the timeout need not wait: one that answered is busy, not unreachable, and a
    // standby would hear no more from it; one that did not (or not yet) is handed over.
    let stall_task = ha.stall_timeout.map(|timeout| {
        let (abort, r4, progress, zk4, eos, shard4) = (ctl.abort.clone(), reason.clone(), ctl.progress.clone(), zk.clone(), ctl.txn.is_some(), stream.name().map(str::to_string));
        let source = cfg.source.clone();
        let mut stall_term = *open_term;
        tokio::spawn(async move {
            let mut check = crate::progress::StallCheck::new(timeout);
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut probe: Option<tokio::task::JoinHandle<Result<(), String>>> = None;
            loop {
                tokio::select! {
                    _ = abort.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if check.silence(&progress) <= timeout / 2 {
                    probe = None;
                } else if probe.is_none() {
                    let s = source.clone();
                    probe = Some(tokio::spawn(async move { s.probe(timeout / 2).await }));
                }
                let stall = check.check(&progress);
                if let Some(crate::progress::Stall::SourceSilent(silence)) = stall {
                    let answer = match probe.take() {
                        Some(p) if p.is_finished() => p.await.unwrap_or_else(|e| Err(e.to_string())),
                        Some(p) => {
                            p.abort();
                            Err("no answer yet".into())
                        }
                        None => Err("not asked".into()),
                    };
                    match answer {
                        Ok(()) => {
                            tracing::info!(silence_ms = silence.as_millis() as u64, "the source sent nothing for the stall timeout but answers queries: busy, not unreachable; leading on");
                            metrics::get().source_busy.inc();
                            check.excuse_source();
                            continue;
                        }
                        Err(e) => tracing::warn!(error = %e, "the silent source does not answer a second connection either"),
                    }
                }
                if let Some(why) = stall.map(|s| s.to_string()) {
                    tracing::warn!(reason = %why, "leader stalled: stopping the stream now");
                    set_reason(&r4, Outcome::Stalled(why.clone()));
                    abort.cancel();
                    if eos {
                        close_term(&zk4, &mut stall_term, &format!("stall: {why}"), progress.rows_read()).await;
                        if zk4.release_leader().await.is_ok() {
                            super::race::set_stream_role(shard4.as_deref(), Role::Standby, &format!("handed leadership over: {why}"));
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
    let shard2 = stream.name().map(str::to_string);
    let mut marker = resolved.map(|(k, version)| (k.row.position, version));
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
                    note_committed(shard2.as_deref(), &rec);
                    if let Some((_, version)) = marker.take_if(|(at, _)| p.position >= *at) {
                        let _ = zk2.clear_stuck(version).await;
                    }
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

    // Shards: this stream's lag, sampled every second.
    let lag_task = stream.name().map(|n| {
        let (n, progress) = (n.to_string(), ctl.progress.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                metrics::set_shard_lag(&n, progress.lag_seconds());
            }
        })
    });
    let result = node::stream(cfg, &start, &ctl).await;
    session_task.abort();
    settings_task.abort();
    if let Some(t) = lag_task {
        t.abort();
    }
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
            note_committed(stream.name(), &rec);
        }
        tracing::info!(position = %p.position, epoch, "committed final position");
    }
    match err {
        None if shutdown.is_cancelled() => {
            close_term(zk, open_term, "shutdown", ctl.progress.rows_read()).await;
            let _ = zk.release_leader().await;
            Outcome::Shutdown
        }
        None if handed_over.load(std::sync::atomic::Ordering::SeqCst) => {
            close_term(zk, open_term, "hand-over", ctl.progress.rows_read()).await;
            let _ = zk.release_leader().await;
            Outcome::HandedOver
        }
        None if reconfigure.load(std::sync::atomic::Ordering::SeqCst) => Outcome::Reconfigure,
        None => Outcome::Retry("the stream ended".into()),
        Some(e) if e.is_transient() => Outcome::Retry(e.to_string()),
        Some(NodeError::Reader(crate::source::reader::ReaderError::Replaced(m))) => Outcome::Lost(m),
        Some(NodeError::Kafka(crate::sink::kafka::KafkaSinkError::Fenced(m))) => Outcome::Lost(m),
        Some(NodeError::Kafka(crate::sink::kafka::KafkaSinkError::Refused(r))) => refused(zk, stream, fence, (epoch, &ha.node_id), *r).await,
        Some(e) => Outcome::Fatal(e.into()),
    }
}

/// What follows a stream that stopped on a row Kafka refused: read again with what was learnt
/// about the row, or hold the cluster at it (the marker written, fenced by this term).
async fn refused(zk: &Zk, stream: &Stream, fence: i32, (epoch, node_id): (u64, &str), r: Refusal) -> Outcome {
    let why = r.to_string();
    let learnt = match r {
        Refusal::Suspects(rows) => rows.into_iter().map(Known::suspect).collect(),
        Refusal::Redo(row, verdict) => vec![Known { row: row.row, verdict: Some(verdict), reason: row.reason }],
        Refusal::Stop(row) => {
            let s = StuckRow { refused: *row, resolution: None, node_id: node_id.to_string(), epoch, at: now_ms() };
            return match zk.hold(fence, &s).await {
                Ok(()) => {
                    metrics::get().refused_rows.with_label_values(&["stuck"]).inc();
                    let cmd = super::stuck::command(zk, &s);
                    tracing::error!(row = %s.refused.row, refused = %s.refused, command = %cmd, "stopped at a row Kafka refused (ignore_producer_error=false); the cluster holds here until an operator skips it ({cmd}) or writes a dead-letter record in its place (maxwell-cli row dead-letter)");
                    Outcome::Stuck(format!("{why}; skip it with: {cmd}"))
                }
                Err(ZkError::Fenced(m)) | Err(ZkError::SessionLost(m)) => Outcome::Lost(m),
                // The marker could not be written: the next term meets the row again.
                Err(e) => Outcome::Retry(format!("{why} (the stuck marker could not be written: {e})")),
            };
        }
    };
    let mut known = stream.known.lock().unwrap_or_else(|e| e.into_inner());
    for k in learnt {
        remember(&mut known, k);
    }
    Outcome::Redo(why)
}

