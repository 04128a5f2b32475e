//! Process-wide metrics (Prometheus) and the node's status (served as `/api/status`).
//!
//! Invariants:
//! - One registry per process, created on first use, and the only process-wide state of the
//!   crate: it holds the metrics and the node's status (both are reports, written by every
//!   room and read by the HTTP handlers; nothing decides on them). Every metric is named `maxwell_*` with
//!   its unit in the name, and labels take only the fixed values listed here (bounded).
//! - Counters only ever grow; gauges that describe "now" (position age, RSS, Kafka queue) are
//!   computed when scraped, so an idle node does not report stale values.
//! - Recording never blocks the data path: counters are atomics; the status is a short-held
//!   mutex touched once per transaction at most.
//! - Lag: at each acknowledged transaction, acknowledgement time minus the transaction's commit
//!   time; set to 0 when the source sends a heartbeat (it does so only when idle) and every
//!   transaction read has been acknowledged.

use prometheus::{Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

pub mod maxwell;
pub mod reporters;
pub mod series;
mod shards;
pub use shards::{forget_shard, set_shard_committed, set_shard_epoch, set_shard_lag, set_shard_role, ShardStatus};

/// The ZooKeeper session states reported by `maxwell_zookeeper_session_state{state}`.
pub const ZK_STATES: &[&str] = &["connected", "connected_read_only", "disconnected", "expired", "closed", "auth_failed"];

/// The actions of `maxwell_refused_rows_total{action}`.
pub const REFUSED_ACTIONS: &[&str] = &["skipped", "dead_lettered", "stuck"];

/// Every metric this process exports.
pub struct Metrics {
    registry: Registry,
    pub rows: IntCounter,
    pub transactions: IntCounter,
    /// `maxwell_messages_total{result="succeeded"|"failed"}`, resolved once (hot path).
    pub messages_succeeded: IntCounter,
    pub messages_failed: IntCounter,
    pub bytes: IntCounter,
    pub lag: Gauge,
    pub last_event: Gauge,
    pub commit_to_ack: Histogram,
    kafka_txn_commit: Histogram,
    pub position_commits: IntCounter,
    position_age: Gauge,
    pub leader: IntGauge,
    pub epoch: IntGauge,
    pub elections_won: IntCounter,
    pub failovers: IntCounter,
    pub source_changes: IntCounter,
    pub source_busy: IntCounter,
    pub schema_mismatches: IntCounter,
    pub bootstrap_rows: IntCounter,
    age_slo_violations: IntCounter,
    pub role_changes: IntCounterVec,
    zk_state: IntGaugeVec,
    kafka_queue: IntGauge,
    pub kafka_errors: IntCounterVec,
    /// `maxwell_refused_rows_total{action}`: rows Kafka refused for good, by what was done.
    pub refused_rows: IntCounterVec,
    /// Streams this node holds off because they are stuck at a refused row.
    pub stuck_rows: IntGauge,
    rss: IntGauge,
    start_time: Gauge,
    shard_leader: IntGaugeVec,
    shard_epoch: IntGaugeVec,
    shard_lag: GaugeVec,
    shard_commits: IntCounterVec,
    /// Transactions handed to a sink / acknowledged by it (lag is 0 only when equal).
    read_seq: AtomicU64,
    acked_seq: AtomicU64,
    /// Maxwell's timers and histograms, and its meters' rates (`maxwell`).
    maxwell: maxwell::Recorder,
    meters: Mutex<maxwell::Meters>,
    /// What `/api/status` reports: kept with the figures it is read beside.
    status: Mutex<Status>,
    producer: Mutex<Option<rdkafka::producer::FutureProducer>>,
}

/// (name, help, label) of every metric, in the order of the metrics table in `docs/operations.md`.
pub const CATALOGUE: &[(&str, &str, &str)] = &[
    ("maxwell_rows_total", "Rows read from the binlog and handed to the sink.", ""),
    ("maxwell_transactions_total", "Transactions acknowledged by the sink.", ""),
    ("maxwell_messages_total", "Messages (one per row or DDL) by delivery result.", "result=succeeded|failed"),
    ("maxwell_bytes_total", "Bytes of message keys and values handed to the sink.", ""),
    ("maxwell_replication_lag_seconds", "Acknowledgement time minus commit time of the last transaction; 0 once idle and caught up.", ""),
    ("maxwell_last_event_timestamp_seconds", "Commit time (Unix seconds) of the last transaction read.", ""),
    ("maxwell_commit_to_ack_seconds", "Histogram: source commit to sink acknowledgement, per transaction.", ""),
    ("maxwell_kafka_transaction_commit_seconds", "Histogram: duration of a Kafka transaction commit (exactly-once mode).", ""),
    ("maxwell_position_commits_total", "Positions committed to ZooKeeper by this node.", ""),
    ("maxwell_position_age_seconds", "Seconds an acknowledged position has waited to be committed to ZooKeeper (leader only; 0 when all is committed).", ""),
    ("maxwell_leader", "1 while this node leads (or streams alone), 0 otherwise.", ""),
    ("maxwell_epoch", "Epoch of this node's current or last leadership term.", ""),
    ("maxwell_elections_won_total", "Leadership terms this node started.", ""),
    ("maxwell_failovers_total", "Terms this node started after another node had led (takeovers).", ""),
    ("maxwell_source_changes_total", "Reconnects that reached a different source server (its server_id changed) and continued by GTID.", ""),
    ("maxwell_source_busy_total", "Times the source sent nothing for ha_stall_timeout_ms but answered a second connection, so the leader led on instead of handing over.", ""),
    ("maxwell_schema_mismatches_total", "TABLE_MAP events that named a table's columns otherwise than the schema history holds them (the TABLE_MAP is used).", ""),
    ("maxwell_bootstrap_rows_total", "Rows sent as bootstrap-insert records.", ""),
    ("maxwell_message_age_slo_violations_total", "Transactions acknowledged more than metrics_age_slo seconds after their commit (0 without metrics_age_slo).", ""),
    ("maxwell_role_changes_total", "Role changes of this node, by the new role.", "role=leader|standby|stopped"),
    ("maxwell_zookeeper_session_state", "1 for the current ZooKeeper session state, 0 for the others.", "state=connected|connected_read_only|disconnected|expired|closed|auth_failed"),
    ("maxwell_kafka_queue_messages", "Messages queued in the Kafka producer, not yet acknowledged.", ""),
    ("maxwell_kafka_errors_total", "Kafka delivery errors by kind.", "kind=retriable|fatal"),
    ("maxwell_refused_rows_total", "Rows Kafka refused for good (too large, invalid record, invalid topic name), by what was done: skipped (ignore_producer_error), written as a dead-letter record (dead_letter_topic), or the stream stopped there (stuck, counted once by the leader that stopped).", "action=skipped|dead_lettered|stuck"),
    ("maxwell_stuck_rows", "Streams this node holds off because Kafka refused a row and ignore_producer_error is false (1 or 0 without shards), until `maxwell-cli row skip` or `row dead-letter`.", ""),
    ("maxwell_process_resident_memory_bytes", "Resident memory of this process.", ""),
    ("maxwell_start_time_seconds", "Start time of this process (Unix seconds).", ""),
    ("maxwell_shard_leader", "Shards: 1 while this node leads the shard, 0 while it stands by for it.", "shard"),
    ("maxwell_shard_epoch", "Shards: epoch of this node's current or last term leading the shard.", "shard"),
    ("maxwell_shard_replication_lag_seconds", "Shards: acknowledgement time minus commit time of the shard's last transaction on this node; 0 once idle and caught up.", "shard"),
    ("maxwell_shard_position_commits_total", "Shards: positions of the shard committed to ZooKeeper by this node.", "shard"),
];

fn help(name: &str) -> &'static str {
    CATALOGUE.iter().find(|(n, _, _)| *n == name).map(|(_, h, _)| *h).expect("metric in CATALOGUE")
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        macro_rules! reg {
            ($m:expr) => {{
                let m = $m.expect("valid metric");
                registry.register(Box::new(m.clone())).expect("unique metric");
                m
            }};
        }
        let counter = |n: &str| IntCounter::new(n, help(n));
        let gauge = |n: &str| Gauge::new(n, help(n));
        let igauge = |n: &str| IntGauge::new(n, help(n));
        let messages = reg!(IntCounterVec::new(Opts::new("maxwell_messages_total", help("maxwell_messages_total")), &["result"]));
        let m = Metrics {
            rows: reg!(counter("maxwell_rows_total")),
            transactions: reg!(counter("maxwell_transactions_total")),
            messages_succeeded: messages.with_label_values(&["succeeded"]),
            messages_failed: messages.with_label_values(&["failed"]),
            bytes: reg!(counter("maxwell_bytes_total")),
            lag: reg!(gauge("maxwell_replication_lag_seconds")),
            last_event: reg!(gauge("maxwell_last_event_timestamp_seconds")),
            commit_to_ack: reg!(Histogram::with_opts(
                HistogramOpts::new("maxwell_commit_to_ack_seconds", help("maxwell_commit_to_ack_seconds"))
                    .buckets(vec![0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0])
            )),
            kafka_txn_commit: reg!(Histogram::with_opts(
                HistogramOpts::new("maxwell_kafka_transaction_commit_seconds", help("maxwell_kafka_transaction_commit_seconds"))
                    .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0])
            )),
            position_commits: reg!(counter("maxwell_position_commits_total")),
            position_age: reg!(gauge("maxwell_position_age_seconds")),
            leader: reg!(igauge("maxwell_leader")),
            epoch: reg!(igauge("maxwell_epoch")),
            elections_won: reg!(counter("maxwell_elections_won_total")),
            failovers: reg!(counter("maxwell_failovers_total")),
            source_changes: reg!(counter("maxwell_source_changes_total")),
            source_busy: reg!(counter("maxwell_source_busy_total")),
            schema_mismatches: reg!(counter("maxwell_schema_mismatches_total")),
            bootstrap_rows: reg!(counter("maxwell_bootstrap_rows_total")),
            age_slo_violations: reg!(counter("maxwell_message_age_slo_violations_total")),
            role_changes: reg!(IntCounterVec::new(Opts::new("maxwell_role_changes_total", help("maxwell_role_changes_total")), &["role"])),
            zk_state: reg!(IntGaugeVec::new(Opts::new("maxwell_zookeeper_session_state", help("maxwell_zookeeper_session_state")), &["state"])),
            kafka_queue: reg!(igauge("maxwell_kafka_queue_messages")),
            kafka_errors: reg!(IntCounterVec::new(Opts::new("maxwell_kafka_errors_total", help("maxwell_kafka_errors_total")), &["kind"])),
            refused_rows: reg!(IntCounterVec::new(Opts::new("maxwell_refused_rows_total", help("maxwell_refused_rows_total")), &["action"])),
            stuck_rows: reg!(igauge("maxwell_stuck_rows")),
            rss: reg!(igauge("maxwell_process_resident_memory_bytes")),
            start_time: reg!(gauge("maxwell_start_time_seconds")),
            shard_leader: reg!(IntGaugeVec::new(Opts::new("maxwell_shard_leader", help("maxwell_shard_leader")), &["shard"])),
            shard_epoch: reg!(IntGaugeVec::new(Opts::new("maxwell_shard_epoch", help("maxwell_shard_epoch")), &["shard"])),
            shard_lag: reg!(GaugeVec::new(Opts::new("maxwell_shard_replication_lag_seconds", help("maxwell_shard_replication_lag_seconds")), &["shard"])),
            shard_commits: reg!(IntCounterVec::new(Opts::new("maxwell_shard_position_commits_total", help("maxwell_shard_position_commits_total")), &["shard"])),
            read_seq: AtomicU64::new(0),
            acked_seq: AtomicU64::new(0),
            producer: Mutex::new(None),
            maxwell: Default::default(),
            meters: Default::default(),
            registry,
            status: Mutex::new(Status { version: env!("CARGO_PKG_VERSION"), started_at_ms: now_ms(), role_since_ms: now_ms(), ..Default::default() }),
        };
        // Every label value exists from the start (a series appearing late breaks rate()).
        for r in ["leader", "standby", "stopped"] {
            m.role_changes.with_label_values(&[r]);
        }
        for k in ["retriable", "fatal"] {
            m.kafka_errors.with_label_values(&[k]);
        }
        for a in REFUSED_ACTIONS {
            m.refused_rows.with_label_values(&[a]);
        }
        for s in ZK_STATES {
            m.zk_state.with_label_values(&[s]);
        }
        m.start_time.set(now_ms() as f64 / 1000.0);
        m
    }

    /// A transaction of `rows` rows committed at `ts` (Unix seconds) was handed to the sink.
    pub fn read(&self, rows: usize, ts: u32, ends_transaction: bool) {
        self.rows.inc_by(rows as u64);
        self.last_event.set(ts as f64);
        self.maxwell.read(rows, ends_transaction);
        if ends_transaction {
            // Parts of a spilled transaction count once, with its last part.
            self.read_seq.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A transaction committed at `ts` was acknowledged by the sink.
    pub fn acked(&self, ts: u32) {
        let lag = (now_ms() as f64 / 1000.0 - ts as f64).max(0.0);
        self.transactions.inc();
        self.acked_seq.fetch_add(1, Ordering::Relaxed);
        self.commit_to_ack.observe(lag);
        self.lag.set(lag);
        if self.maxwell.acked(lag) {
            self.age_slo_violations.inc();
        }
    }

    /// A Kafka transaction committed after `took`.
    pub fn kafka_commit(&self, took: std::time::Duration) {
        self.kafka_txn_commit.observe(took.as_secs_f64());
    }

    /// The source is idle: if nothing read is still unacknowledged, the lag is zero.
    pub fn heartbeat(&self) {
        if self.read_seq.load(Ordering::Relaxed) == self.acked_seq.load(Ordering::Relaxed) {
            self.lag.set(0.0);
        }
    }

    /// The Kafka producer whose queue depth `/metrics` reports.
    pub fn watch_producer(&self, p: &rdkafka::producer::FutureProducer) {
        *self.producer.lock().unwrap() = Some(p.clone());
    }

    /// Messages in the watched Kafka producer's queue, not yet acknowledged (0 without one).
    pub fn kafka_in_flight(&self) -> i64 {
        use rdkafka::producer::Producer;
        self.producer.lock().unwrap().as_ref().map_or(0, |p| p.in_flight_count() as i64)
    }

    pub fn set_zk_state(&self, state: &str) {
        for s in ZK_STATES {
            self.zk_state.with_label_values(&[s]).set(i64::from(*s == state));
        }
        status().zookeeper = Some(state.to_string());
    }

    /// The Prometheus text exposition of every metric, with "now" gauges refreshed.
    pub fn render(&self) -> String {
        {
            let st = status();
            let age = match (st.role, st.uncommitted_since_ms) {
                (Role::Leader, Some(at)) => now_ms().saturating_sub(at) as f64 / 1000.0,
                _ => 0.0,
            };
            self.position_age.set(age);
        }
        self.kafka_queue.set(self.kafka_in_flight());
        self.rss.set(resident_bytes().unwrap_or(0) as i64);
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding");
        String::from_utf8(out).expect("utf-8 exposition")
    }
}

/// CPU seconds (user + system) of this process, from /proc/self/stat (in USER_HZ ticks, 100/s).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after its closing ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Samples CPU %, resident memory and rows/s into the status every 2 s until `stop`, and
/// rows/s and lag into `series` (the status page's chart).
pub async fn sample_resources(stop: tokio_util::sync::CancellationToken, series: std::sync::Arc<series::Series>) {
    let mut last = (std::time::Instant::now(), cpu_seconds(), get().rows.get());
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        get().tick_meters();
        let now = (std::time::Instant::now(), cpu_seconds(), get().rows.get());
        let secs = now.0.duration_since(last.0).as_secs_f64();
        if secs >= 0.5 {
            let mut st = status();
            st.cpu_percent = now.1.zip(last.1).map(|(a, b)| ((a - b) / secs * 1000.0).round() / 10.0);
            st.rss_bytes = resident_bytes();
            let rows_per_second = (now.2.saturating_sub(last.2) as f64 / secs).round();
            st.rows_per_second = Some(rows_per_second);
            let leads = matches!(st.role, Role::Leader | Role::Single);
            drop(st);
            let lag_seconds = if leads { snapshot().lag_seconds } else { None };
            series.push(series::Sample { t_ms: now_ms(), rows_per_second, lag_seconds });
            last = now;
        }
    }
}

/// Resident set size from /proc/self/statm.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The process's metrics.
pub fn get() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::new)
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Started, not yet streaming nor standing by.
    #[default]
    Starting,
    /// Streams on its own (no `zookeeper_servers`).
    Single,
    Leader,
    Standby,
    Stopped,
}

/// What `/api/status` reports about this node.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Status {
    pub node_id: Option<String>,
    pub role: Role,
    /// Why the role last changed.
    pub role_reason: Option<String>,
    pub role_since_ms: u64,
    pub epoch: Option<u64>,
    pub leader: Option<String>,
    /// The binlog reader is connected and streaming (leader or single node).
    pub streaming: bool,
    /// Last position the sink acknowledged (`file:offset`) and the GTID set there.
    pub position: Option<String>,
    pub gtid_set: Option<String>,
    /// Last position committed to ZooKeeper by this node.
    pub committed_position: Option<String>,
    pub committed_at_ms: Option<u64>,
    /// Since when the acknowledged position has been ahead of the committed one.
    #[serde(skip)]
    pub uncommitted_since_ms: Option<u64>,
    pub lag_seconds: Option<f64>,
    pub last_event_at_ms: Option<u64>,
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<u64>,
    pub zookeeper: Option<String>,
    /// The source server read from: `host:port (server_id N)`, and since when.
    pub source: Option<String>,
    pub source_since_ms: Option<u64>,
    pub rows_total: u64,
    /// The bootstrap this leader is running.
    pub bootstrap: Option<BootstrapStatus>,
    /// Shards: this node's role for each shard of the cluster.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub shards: std::collections::BTreeMap<String, ShardStatus>,
    /// CPU time of this process over the last sample (100 = one core), its resident memory,
    /// and rows handed on per second over the same interval.
    pub cpu_percent: Option<f64>,
    pub rss_bytes: Option<u64>,
    pub rows_per_second: Option<f64>,
    pub version: &'static str,
    pub started_at_ms: u64,
}

/// Progress of a running bootstrap.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct BootstrapStatus {
    pub id: u64,
    pub database: String,
    pub table: String,
    pub rows: u64,
    pub total: u64,
    pub rows_per_second: f64,
    pub eta_seconds: Option<f64>,
}

/// The node's status, locked briefly.
pub fn status() -> MutexGuard<'static, Status> {
    get().status.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records a role change: one log line with the reason, the gauges, the status.
pub fn set_role(role: Role, reason: &str) {
    let from = {
        let mut st = status();
        let from = st.role;
        if from == role && st.role_reason.as_deref() == Some(reason) {
            return;
        }
        st.role = role;
        st.role_reason = Some(reason.to_string());
        st.role_since_ms = now_ms();
        if role != Role::Leader && role != Role::Single {
            st.streaming = false;
        }
        from
    };
    let m = get();
    m.leader.set(i64::from(matches!(role, Role::Leader | Role::Single)));
    if from != role {
        if let Some(label) = match role {
            Role::Leader => Some("leader"),
            Role::Standby => Some("standby"),
            Role::Stopped => Some("stopped"),
            _ => None,
        } {
            m.role_changes.with_label_values(&[label]).inc();
        }
        tracing::info!(from = ?from, to = ?role, reason, "role change");
    }
}

/// The sink acknowledged up to `position`.
pub fn set_acked(position: String, gtid_set: Option<String>) {
    let mut st = status();
    if st.committed_position.as_deref() != Some(position.as_str()) && st.uncommitted_since_ms.is_none() {
        st.uncommitted_since_ms = Some(now_ms());
    }
    st.position = Some(position);
    st.gtid_set = gtid_set;
}

/// `position` was committed to ZooKeeper at `at_ms`.
pub fn set_committed(position: Option<String>, at_ms: u64) {
    get().position_commits.inc();
    let mut st = status();
    st.uncommitted_since_ms = if st.position.is_some() && st.position != position { Some(at_ms) } else { None };
    st.committed_position = position;
    st.committed_at_ms = Some(at_ms);
}

/// Records an error for `/api/status` (the latest one is kept).
pub fn set_error(e: &str) {
    let mut st = status();
    st.last_error = Some(e.to_string());
    st.last_error_at_ms = Some(now_ms());
}

/// A snapshot of the status with the live figures filled in.
pub fn snapshot() -> Status {
    let m = get();
    let mut st = status().clone();
    st.rows_total = m.rows.get();
    st.last_event_at_ms = Some(m.last_event.get() as u64 * 1000).filter(|&t| t > 0);
    st.lag_seconds = (m.transactions.get() > 0 || st.streaming).then(|| m.lag.get());
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogued_metric_is_exported_and_named_by_convention() {
        let m = get();
        m.shard_leader.with_label_values(&["t"]);
        m.shard_epoch.with_label_values(&["t"]);
        m.shard_lag.with_label_values(&["t"]);
        m.shard_commits.with_label_values(&["t"]);
        let text = get().render();
        for (name, _, labels) in CATALOGUE {
            assert!(name.starts_with("maxwell_"), "{name}");
            assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing from:\n{text}");
            for value in labels.split_once('=').map(|(_, v)| v.split('|').collect::<Vec<_>>()).unwrap_or_default() {
                assert!(text.contains(&format!("=\"{value}\"")), "{name}: label value {value} missing");
            }
        }
        let exported = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        assert_eq!(exported, CATALOGUE.len(), "an exported metric is missing from CATALOGUE");
    }

    #[test]
    fn lag_is_zero_after_a_heartbeat_only_when_caught_up() {
        let m = get();
        let ts = (now_ms() / 1000) as u32 - 5;
        m.read(2, ts, true);
        m.acked(ts);
        assert!(m.lag.get() >= 4.0, "lag {}", m.lag.get());
        m.read(1, ts, true);
        m.heartbeat(); // one transaction still unacknowledged: not caught up
        assert!(m.lag.get() >= 4.0, "lag {}", m.lag.get());
        m.acked(ts);
        m.heartbeat();
        assert_eq!(m.lag.get(), 0.0);
    }

    #[test]
    fn position_age_counts_only_uncommitted_time() {
        set_committed(Some("f.1:100".into()), now_ms());
        set_acked("f.1:100".into(), None);
        assert_eq!(status().uncommitted_since_ms, None, "acknowledged = committed");
        set_acked("f.1:200".into(), None);
        let since = status().uncommitted_since_ms.expect("ahead of the committed position");
        set_acked("f.1:300".into(), None);
        assert_eq!(status().uncommitted_since_ms, Some(since), "the oldest uncommitted moment is kept");
        set_committed(Some("f.1:300".into()), now_ms());
        assert_eq!(status().uncommitted_since_ms, None);
    }
}
