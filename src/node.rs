//! One node's streaming job: read the binlog, encode, write to the sink, track the position.
//!
//! Invariants:
//! - The reader runs on its own task and hands whole transactions to the sink over a bounded
//!   channel (backpressure, not unbounded buffering).
//! - The acknowledged position (published on `StreamControl::acked`) is that of the last
//!   transaction the sink acknowledged, never one only read.
//! - `stop` is graceful: the reader stops at the next transaction boundary and the sink drains
//!   what was read. `abort` is for leadership in doubt: reading stops, what the producer has not
//!   sent is purged, and nothing more is acknowledged.
//! - A node alone reads again from its acknowledged position after a row Kafka refused (the
//!   row then sent alone, or its verdict applied), and stops at such a row when
//!   `ignore_producer_error` is false, its marker stored for `maxwell-cli row`.

use crate::source::decoder::DecoderConfig;
use crate::encode::javascript::stage::Stage;
use crate::encode::Transaction;
use crate::source::reader::{ReaderError, ResumePoint, StartPosition};
use crate::config::Config;
use crate::sink::kafka::refusal::Known;
use crate::sink::kafka::{KafkaSink, KafkaSinkError};
use crate::bootstrap::drive::Driver;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use crate::metrics;

#[path = "node_stdout.rs"]
mod stdout;
#[path = "node_feed.rs"]
mod node_feed;
use node_feed::{Boot, Feed, Flow, Origin};
use crate::bootstrap::hold::Hold;

/// How often a streaming node logs its progress.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Logs rows/s, the acknowledged position and the lag every [`PROGRESS_EVERY`] while
/// streaming, and keeps `/api/status`'s position current.
async fn log_progress(mut acked: watch::Receiver<Option<ResumePoint>>) {
    let m = metrics::get();
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.tick().await;
    let (mut rows, mut at) = (m.rows.get(), std::time::Instant::now());
    loop {
        tokio::select! {
            c = acked.changed() => {
                if c.is_err() {
                    return;
                }
                if let Some(p) = acked.borrow_and_update().as_ref() {
                    metrics::set_acked(p.position.to_string(), p.gtid.as_ref().map(|g| g.to_string()));
                }
            }
            _ = tick.tick() => {
                let (now_rows, now) = (m.rows.get(), std::time::Instant::now());
                let rate = (now_rows - rows) as f64 / now.duration_since(at).as_secs_f64();
                let st = metrics::status();
                tracing::info!(
                    rows_per_s = format!("{rate:.0}"),
                    rows_total = now_rows,
                    position = st.position.as_deref().unwrap_or("none"),
                    lag_s = format!("{:.1}", m.lag.get()),
                    "progress"
                );
                (rows, at) = (now_rows, now);
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Reader(#[from] ReaderError),
    #[error("writing to stdout failed: {0}")]
    Sink(std::io::Error),
    #[error(transparent)]
    Kafka(#[from] KafkaSinkError),
    #[error(transparent)]
    Positions(#[from] crate::positions::PositionsError),
    /// A node alone stopped at a row Kafka refused (`ignore_producer_error=false`).
    #[error("{0}")]
    Stuck(String),
    /// The `javascript` filter failed (the same script fails the same way on every node).
    #[error(transparent)]
    Script(#[from] crate::encode::javascript::ScriptError),
}

impl NodeError {
    /// Transient failures are worth another attempt (by this node or the next leader).
    pub fn is_transient(&self) -> bool {
        matches!(self, NodeError::Reader(e) if e.is_transient())
            || matches!(self, NodeError::Kafka(KafkaSinkError::Transient(_) | KafkaSinkError::Abortable(_)))
            || matches!(self, NodeError::Positions(crate::positions::PositionsError::Transient(_)))
    }
}

/// How a streaming job is steered and observed.
pub struct StreamControl {
    pub stop: CancellationToken,
    pub abort: CancellationToken,
    pub acked: watch::Sender<Option<ResumePoint>>,
    /// Skip rows the sink already holds (after a takeover): Kafka only.
    pub dedup: bool,
    /// A Kafka producer to reuse across terms of leadership.
    pub producer: Option<rdkafka::producer::FutureProducer>,
    /// Stop sending when the process was paused for longer than this (cluster mode).
    pub max_pause: Option<std::time::Duration>,
    /// Cluster mode: the cluster, this node and its epoch, written into every Kafka
    /// message's headers.
    pub provenance: Option<crate::sink::kafka::Provenance>,
    /// A connected consumer for the takeover scan (kept across terms).
    pub scanner: Option<crate::sink::kafka::Scanner>,
    /// Exactly-once: this term's transaction settings and the committed rows of a split
    /// transaction to skip; `producer` has made this term's `init_transactions`.
    pub txn: Option<(crate::sink::kafka::TxnSettings, Option<crate::sink::kafka::Partial>)>,
    /// What this stream got done (read by a cluster's stall watchdog).
    pub progress: std::sync::Arc<crate::progress::Progress>,
    /// Exactly-once: the bootstrap state of the checkpoint resumed from.
    pub bootstrap: Option<crate::binlog::position::BootstrapState>,
    /// Where the schema history is stored (a cluster's ZooKeeper, or `schema_database`).
    pub history: Option<crate::source::history::Keeper>,
    /// What is known about rows Kafka refused (suspects to send alone, verdicts).
    pub known: Vec<crate::sink::kafka::refusal::Known>,
}

impl StreamControl {
    pub fn new(stop: CancellationToken) -> Self {
        Self {
            stop,
            abort: CancellationToken::new(),
            acked: watch::channel(None).0,
            dedup: false,
            producer: None,
            max_pause: None,
            provenance: None,
            scanner: None,
            txn: None,
            progress: Default::default(),
            bootstrap: None,
            history: None,
            known: Vec::new(),
        }
    }

    /// Counts transaction `t` as read and handed to the sink: the process's metrics and this
    /// stream's progress (over its terms).
    fn count_read(&self, t: &Transaction) {
        metrics::get().read(t.row_ends.len(), t.ts, t.ends_transaction());
        self.progress.read(t.row_ends.len() as u64);
    }
}

pub type StreamResult = Result<Option<ResumePoint>, (NodeError, Option<ResumePoint>)>;

/// Streams from `start` until stopped, aborted or a definite error; returns the last
/// acknowledged point.
pub async fn stream(cfg: &Config, start: &StartPosition, ctl: &StreamControl) -> StreamResult {
    let dcfg = DecoderConfig { output: encoded_output(cfg), filter: cfg.filter.clone(), memory_limit: cfg.tx_memory, ..Default::default() };
    let (tx, read) = mpsc::channel::<Transaction>(256);
    // With a `javascript` filter, transactions pass through the script's thread on their way.
    let (mut rx, stage) = match &cfg.javascript {
        None => (read, None),
        Some(js) => {
            let (to_sink, rx) = mpsc::channel::<Transaction>(16);
            let stage = Stage::start(js, cfg.output.clone(), cfg.gtid_mode, read, to_sink).await.map_err(|e| (e.into(), None))?;
            tracing::info!(script = %js.path, fingerprint = %js.fingerprint(), "javascript filter loaded");
            (rx, Some(stage))
        }
    };
    if cfg.bootstrap.is_some() {
        // Maxwell's `bootstrap` table is created with the node's other tables, before the stream
        // starts, so its CREATE never lands between the changes the stream prints (it moved
        // `schema_id` under a test's rows). The runner creates it too, should this fail.
        let made = match cfg.positions_db.connect().await {
            Ok(mut c) => crate::bootstrap::ensure_table(&mut c, &cfg.schema_database).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = made {
            tracing::warn!(error = %e, "could not create the bootstrap table before the stream; the bootstrap poll will");
        }
    }
    let boot = bootstrapper(cfg, ctl);
    // `bootstrapper=async`, resumed where the checkpoint's bootstrap state stood.
    let (hold, overlay) = match boot.as_ref().filter(|d| d.asynchronous) {
        Some(_) => {
            let (h, o) = Hold::resumed(ctl.bootstrap.as_ref());
            (Some(h), o)
        }
        None => (None, None),
    };
    let reader_cancel = CancellationToken::new();
    let origin = Origin { source: cfg.source.clone(), dcfg, history: ctl.history.clone(), progress: ctl.progress.clone(), use_gtid: cfg.gtid_mode, tx };
    let opened = Feed::open(origin, reader_cancel.clone(), start, overlay).await;
    let opened = opened.map_err(|e| (e.into(), None))?;
    tracing::info!(
        server = %opened.version,
        position = %opened.start.position,
        gtid = %opened.start.gtid.as_ref().map(|g| g.to_string()).unwrap_or_default(),
        "starting binlog stream"
    );
    // The start is a resume point with nothing before it to acknowledge: publish it, so a new
    // cluster commits where its first leader began (a later leader must not start at a newer
    // "current" position and skip what was written in between).
    let start_point = opened.start.clone();
    let start_schema_id = opened.schema_id;
    let _ = ctl.acked.send(Some(start_point.clone()));
    let mut flow = Flow::new(opened.feed, hold, ctl.txn.is_some());
    metrics::get().stream_started();
    metrics::status().streaming = true;
    let progress = tokio::spawn(log_progress(ctl.acked.subscribe()));
    let rc = reader_cancel.clone();
    let (stop, abort) = (ctl.stop.clone(), ctl.abort.clone());
    let relay = tokio::spawn(async move {
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = abort.cancelled() => {}
            _ = rc.cancelled() => {}
        }
        rc.cancel();
    });
    let script = stage.as_ref().map(|s| s.handle.clone());
    let result = match &cfg.kafka {
        None => stdout::to_stdout(&mut rx, &mut flow, ctl, (start_point.clone(), start_schema_id), boot, script, cfg.output.push_ts_by_sink()).await,
        Some(k) => match kafka_sink(k, ctl, start_point.clone()) {
            Ok(mut sink) => {
                sink.abort = ctl.abort.clone();
                sink.known = ctl.known.clone();
                sink.provenance = ctl.provenance.clone();
                sink.scanner = ctl.scanner.clone();
                if let Some(gap) = ctl.max_pause {
                    let abort = ctl.abort.clone();
                    sink.freeze_guard = Some(crate::sink::kafka::FreezeGuard::start(gap, move || {
                        tracing::warn!("this process was paused: leadership in doubt, stopping the stream now");
                        abort.cancel();
                    }));
                }
                to_kafka(sink, &mut rx, &mut flow, ctl, (start_point.clone(), start_schema_id), boot, script).await
            }
            Err(e) => (None, Some(e.into())),
        },
    };
    reader_cancel.cancel();
    drop(rx);
    relay.abort();
    progress.abort();
    metrics::status().streaming = false;
    let reader_result = flow.feed.finish().await;
    // A script error ended the stage, and so the sink's input: it is why the stream ended.
    if let Some(stage) = stage {
        match stage.finish().await {
            Err(e) => return Err((e.into(), result.0)),
            Ok(n) if n > 0 => tracing::info!(rows = n, "rows suppressed by the javascript filter"),
            Ok(_) => {}
        }
    }
    match (result, reader_result) {
        ((last, Some(e)), _) => Err((e, last)),
        ((last, None), Err(e)) => Err((e.into(), last)),
        ((last, None), Ok(())) => Ok(last),
    }
}

/// How rows are encoded: as configured, or plain for a `javascript` filter, which names and
/// encrypts them after it has run (as Maxwell does).
fn encoded_output(cfg: &Config) -> crate::encode::OutputConfig {
    match cfg.javascript {
        Some(_) => crate::encode::javascript::seal::Sealer::plain(&cfg.output),
        None => cfg.output.clone(),
    }
}

/// The bootstrap runner of this stream (none with `bootstrapper=none`).
fn bootstrapper(cfg: &Config, ctl: &StreamControl) -> Option<Driver> {
    cfg.bootstrap.map(|(chunk_rows, rows_per_second)| {
        let s = crate::bootstrap::runner::Settings {
            data: cfg.source.clone(),
            meta: cfg.positions_db.clone(),
            schema: cfg.schema_database.clone(),
            client_id: cfg.client_id.clone(),
            chunk_rows,
            rows_per_second,
            output: encoded_output(cfg),
        };
        // An at-least-once cluster's takeover skips rows older than the newest in Kafka, which
        // held rows are: there `async` runs as `sync` (docs/operations.md#bootstrap).
        let asynchronous = cfg.bootstrap_async && !ctl.dedup;
        if cfg.bootstrap_async && ctl.dedup {
            tracing::info!("bootstrapper=async runs as sync in an at-least-once cluster (exactly_once=false)");
        }
        Driver::new(crate::bootstrap::Bootstrapper::new(s, ctl.bootstrap.clone()), asynchronous)
    })
}

fn kafka_sink(k: &crate::sink::kafka::KafkaConfig, ctl: &StreamControl, start: ResumePoint) -> Result<KafkaSink, KafkaSinkError> {
    match (&ctl.txn, &ctl.producer) {
        (Some((settings, partial)), Some(p)) => Ok(KafkaSink::exactly_once(k, p.clone(), settings.clone(), start, partial.clone(), ctl.bootstrap.clone(), ctl.progress.clone())),
        (Some(_), None) => Err(KafkaSinkError::Fatal("exactly-once mode without this term's producer".into())),
        (None, _) => KafkaSink::new(k, ctl.dedup.then_some(start), ctl.producer.clone(), ctl.progress.clone()),
    }
}

/// Streams until `cancel` fires (single-node mode): from `init_position`, else from the
/// position stored in Maxwell's `positions` table, else the end of the binlog; acknowledged
/// positions are stored there as it goes (with `replay`, read but never written, as Maxwell's
/// read-only store).
pub async fn run(cfg: &Config, cancel: CancellationToken) -> StreamResult {
    let mut ctl = StreamControl::new(cancel);
    let history = crate::positions::history::MysqlHistory::new(cfg.positions_db.clone(), &cfg.schema_database, &cfg.client_id);
    ctl.history = Some(crate::source::history::Keeper::new(std::sync::Arc::new(history), cfg.recapture_schema, cfg.replay));
    let fail = |e: crate::positions::PositionsError| (NodeError::from(e), None);
    let store = crate::positions::Positions::new(cfg.positions_db.clone(), &cfg.schema_database, &cfg.client_id);
    let server_id = crate::positions::source_server_id(&cfg.source).await.map_err(fail)?;
    // `replay`: Maxwell's read-only position store (read, never created nor written).
    let stored = store.load(server_id, !cfg.replay).await.map_err(fail)?;
    let start = match (&cfg.init_position, stored) {
        (StartPosition::Current, Some(s)) => {
            tracing::info!(position = %s.position, gtid = ?s.gtid.as_ref().map(|g| g.to_string()), schema = %cfg.schema_database, client_id = %cfg.client_id, "resuming from the stored position");
            s.start(cfg.gtid_mode)
        }
        // Maxwell's rule for a new client_id: start where another client of this server is.
        (StartPosition::Current, None) => match store.load_other(server_id).await.map_err(fail)? {
            Some((other, s)) => {
                if !cfg.replay {
                    let own = crate::positions::history::MysqlHistory::new(cfg.positions_db.clone(), &cfg.schema_database, &cfg.client_id);
                    own.adopt(&other).await.map_err(|e| (NodeError::Reader(e.into()), None))?;
                }
                tracing::info!(position = %s.position, other_client_id = %other, client_id = %cfg.client_id, "no stored position for this client_id: starting at another client's position, as Maxwell does");
                s.start(cfg.gtid_mode)
            }
            None => StartPosition::Current,
        },
        (p, _) => p.clone(),
    };
    // A row this node stopped at before, with an operator's verdict by now (`maxwell-cli row`).
    let stuck = crate::positions::stuck::StuckStore::new(cfg.positions_db.clone(), &cfg.schema_database, &cfg.client_id);
    let marker = match cfg.kafka.is_some() {
        true => stuck.load().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the stuck marker");
            None
        }),
        false => None,
    };
    let resolved = marker.and_then(|m| Some(Known { verdict: Some(m.resolution?), row: m.refused.row, reason: m.refused.reason }));
    if let Some(k) = &resolved {
        tracing::info!(row = %k.row, verdict = ?k.verdict, "applying the operator's verdict on the row this node stopped at");
        ctl.known.push(k.clone());
    }
    if cfg.replay {
        return stream_refusing(cfg, &start, &mut ctl, None).await;
    }
    let keeper_stop = CancellationToken::new();
    let keeper = tokio::spawn(store.keep(server_id, ctl.acked.subscribe(), keeper_stop.clone()));
    let clear = resolved.map(|k| {
        let mut acked = ctl.acked.subscribe();
        let stuck = crate::positions::stuck::StuckStore::new(cfg.positions_db.clone(), &cfg.schema_database, &cfg.client_id);
        tokio::spawn(async move {
            if acked.wait_for(|p| p.as_ref().is_some_and(|p| p.position >= k.row.position)).await.is_ok() {
                let _ = stuck.clear().await;
            }
        })
    });
    let result = stream_refusing(cfg, &start, &mut ctl, Some(&stuck)).await;
    if let Some(c) = clear {
        c.abort();
    }
    keeper_stop.cancel();
    if let Ok(Some(p)) = keeper.await {
        tracing::info!(position = %p.position, "position stored");
    }
    result
}

/// [`stream`], read again from the last acknowledged position after a row Kafka refused
/// (sent alone, or with its verdict); stopped at such a row (`ignore_producer_error=false`),
/// its marker is written to `store` for `maxwell-cli row`.
async fn stream_refusing(cfg: &Config, start: &StartPosition, ctl: &mut StreamControl, store: Option<&crate::positions::stuck::StuckStore>) -> StreamResult {
    use crate::sink::kafka::refusal::{remember, Refusal, StuckRow};
    let mut start = start.clone();
    loop {
        let (r, last) = match stream(cfg, &start, ctl).await {
            Err((NodeError::Kafka(KafkaSinkError::Refused(r)), last)) => (*r, last),
            other => return other,
        };
        match r {
            Refusal::Suspects(rows) => rows.into_iter().for_each(|row| remember(&mut ctl.known, Known::suspect(row))),
            Refusal::Redo(row, verdict) => remember(&mut ctl.known, Known { row: row.row, verdict: Some(verdict), reason: row.reason }),
            Refusal::Stop(row) => {
                metrics::get().refused_rows.with_label_values(&["stuck"]).inc();
                let s = StuckRow { refused: *row, resolution: None, node_id: crate::config::hostname(), epoch: 0, at: metrics::now_ms() };
                let then = match store.map(|st| (st, st.save(&s))) {
                    Some((st, saved)) => match saved.await {
                        Ok(()) => format!("skip it with: maxwell-cli --config=<this node's config> row skip {} (or `row dead-letter {} --topic TOPIC`), then start again (the row is in {})", s.refused.row, s.refused.row, st.describe()),
                        Err(e) => format!("the marker could not be stored ({e}): start again with ignore_producer_error=true to skip it"),
                    },
                    None => "start again with ignore_producer_error=true to skip it (replay stores nothing)".to_string(),
                };
                return Err((NodeError::Stuck(format!("Kafka refused {}, and ignore_producer_error is false: stopped at this row; {then}", s.refused)), last));
            }
        }
        if let Some(p) = &last {
            start = StartPosition::resume(&p.position, p.gtid.as_ref(), cfg.gtid_mode);
        }
        if ctl.stop.is_cancelled() {
            return Ok(last);
        }
        tracing::warn!(from = ?start, "a row Kafka refused: reading again from the last acknowledged position");
    }
}

/// Hands transactions to Kafka; the position is the acknowledged watermark. `boundary`: the
/// start point and the schema id there (bootstraps run at transaction boundaries).
async fn to_kafka(
    mut sink: KafkaSink,
    rx: &mut mpsc::Receiver<Transaction>,
    flow: &mut Flow,
    ctl: &StreamControl,
    (mut boundary, mut boundary_schema_id): (ResumePoint, u64),
    mut boot: Option<Driver>,
    script: Option<crate::encode::javascript::stage::Handle>,
) -> (Option<ResumePoint>, Option<NodeError>) {
    let cancel = &flow.feed.stop.clone();
    let reader_ended = flow.feed.ended();
    let mut script_err = None;
    let mut acked = sink.acked();
    let out = ctl.acked.clone();
    let pin = flow.pin();
    let progress = tokio::spawn(async move {
        while acked.changed().await.is_ok() {
            let p = acked.borrow_and_update().clone();
            if let Some(p) = &p {
                tracing::debug!(position = %p.position, "acknowledged by Kafka");
            }
            let _ = out.send(node_feed::publish(pin.as_ref(), p));
        }
    });
    let mut err = None;
    let mut failed = sink.failed();
    // Exactly-once: the term's first act is a checkpoint at its start.
    if let Err(e) = sink.checkpoint_now().await {
        err = Some(e);
        cancel.cancel();
    }
    // Between two binlog transactions (a bootstrap runs only there).
    let mut at_boundary = true;
    while err.is_none() {
        if let Some(d) = boot.as_mut().filter(|d| at_boundary && !sink.mid_split() && !flow.busy() && d.ready()) {
            let exactly_once = sink.is_exactly_once();
            let committed = |b: &crate::bootstrap::Bootstrapper| if exactly_once { sink.committed_bootstrap().cloned() } else { b.last_sent() };
            match flow.bootstrap(d, (&boundary, boundary_schema_id), committed, script.as_ref(), ctl).await {
                Boot::Send(t) => {
                    if let Err(e) = sink.send(*t).await {
                        err = Some(e);
                        cancel.cancel();
                        break;
                    }
                    // `sync`: the next chunk; `async`: a binlog transaction first, if one waits.
                    if !d.asynchronous {
                        continue;
                    }
                }
                Boot::Stop => break,
                Boot::Failed(e) => {
                    script_err = Some(e);
                    cancel.cancel();
                    break;
                }
                Boot::Idle if d.holds_binlog() && d.ready() => continue,
                Boot::Idle => {}
            }
        }
        // `bootstrapper=async`: the reader narrowed or widened at this boundary when due (a
        // bootstrap that just began holds its table before anything more is read).
        if at_boundary && !sink.mid_split() && !flow.at_boundary(&boundary, boot.as_ref()).await {
            break;
        }
        // `sync`: while a bootstrap runs the binlog waits.
        let boot_active = boot.as_ref().is_some_and(|d| d.holds_binlog());
        let wake = boot.as_ref().map_or_else(tokio::time::Instant::now, |d| d.wake());
        let due = sink.next_commit().map(tokio::time::Instant::from_std);
        let t = tokio::select! {
            biased;
            _ = ctl.abort.cancelled() => break,
            // A failed delivery ends the stream even while no new rows arrive.
            _ = async { drop(failed.wait_for(|f| f.is_some()).await) } => {
                cancel.cancel();
                break;
            }
            // Exactly-once: an open Kafka transaction commits on time even while idle.
            _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                if let Err(e) = sink.commit_if_due().await {
                    err = Some(e);
                    cancel.cancel();
                }
                continue;
            }
            t = rx.recv(), if !boot_active => t,
            _ = reader_ended.cancelled() => break,
            // A bootstrap to poll for or retry (only at a boundary).
            _ = tokio::time::sleep_until(wake), if boot.is_some() && at_boundary && !flow.busy() => continue,
        };
        let Some(t) = t else { break };
        let Some(t) = flow.take(t) else { continue };
        at_boundary = t.ends_transaction();
        if at_boundary {
            boundary = t.resume_point();
            boundary_schema_id = t.schema_id;
        }
        ctl.count_read(&t);
        if let Err(e) = sink.send_more(t, rx.len()).await {
            err = Some(e);
            cancel.cancel();
            break;
        }
    }
    // Aborted (the sink shares `ctl.abort`): the drain reports no error, nothing it left
    // undelivered counts.
    let (last, drain_err) = sink.drain().await;
    let last = flow.publish(last);
    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), progress).await;
    (last, script_err.map(NodeError::Script).or(err.or(drain_err).map(NodeError::from)))
}
