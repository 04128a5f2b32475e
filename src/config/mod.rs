//! Configuration: Maxwell's `config.properties` keys, from a file and `--key=value` flags.
//!
//! Invariants:
//! - Every key is declared once in [`KEYS`] with its type, default and documentation; the
//!   example file `config/config.properties.example` and the reference page
//!   `docs/configuration.md` are generated from it, and tests check both are up to date.
//! - Command-line `--key=value` overrides the file. An unknown key, a bad value or a missing
//!   required key fails at start with one line naming the key, what was expected, and (for
//!   unknown keys) the closest known key.
//! - Settings that conflict are rejected, never silently resolved.

use crate::binlog::position::StartPosition;
use crate::filter::Filter;
use std::time::Duration;

pub mod encode;
pub mod http;
pub mod javascript;
pub mod kafka;
pub mod java_stores;
mod keys;
pub mod metrics;
pub mod output;
pub mod partition;
pub mod producer_errors;
pub mod source;
pub use encode::{EncryptMode, Encryption, ExcludeColumns};
pub use http::HttpConfig;
pub use kafka::{Delivery, KafkaConfig};
pub use metrics::{DatadogConfig, MetricsConfig};
pub use newer::NamingStrategy;
pub use output::OutputConfig;
pub use partition::{HashFn, KeyFormat, PartitionBy, Routing};
pub use source::{SourceConfig, SourceTls, TlsMode};
pub use keys::{Kind, KeySpec, KEYS};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0}")]
    Msg(String),
}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError::Msg(msg.into()))
}

mod hints;
mod maxwell;
pub mod newer;
mod properties;
mod reference;
mod settings;
pub use reference::reference_markdown;
pub use settings::{example_file, parse_properties, Settings, DEFAULT_FILE};

/// The validated configuration of one node.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: SourceConfig,
    pub client_id: String,
    pub producer: String,
    pub filter: Filter,
    pub output: OutputConfig,
    pub init_position: StartPosition,
    pub gtid_mode: bool,
    /// Bytes of one transaction's rows kept in memory before it spills to disk.
    pub tx_memory: usize,
    /// Maxwell's own database connection (`host`, not `replication_host`): stored positions.
    pub positions_db: SourceConfig,
    /// `schema_database`: where the `positions` table is.
    pub schema_database: String,
    /// `replay`: a single node reads its stored position and schema history, writes neither.
    pub replay: bool,
    /// `recapture_schema`: capture the schema at start instead of rebuilding the stored one.
    pub recapture_schema: bool,
    /// `bootstrapper` is not `none`: (chunk rows, rows per second; 0 is unthrottled).
    pub bootstrap: Option<(usize, u64)>,
    /// `bootstrapper=async` (the default): other tables' changes flow while a bootstrap runs.
    pub bootstrap_async: bool,
    pub log_level: String,
    /// Set when `producer=kafka`.
    pub kafka: Option<KafkaConfig>,
    /// Set when `zookeeper_servers` is.
    pub ha: Option<HaConfig>,
    /// Set when `http_port` is, or `metrics_type` has `http`, or `http_diagnostic=true`.
    pub http: Option<HttpConfig>,
    /// Maxwell's reporters, metric names and diagnostics (`metrics_*`, `http_diagnostic`).
    pub metrics: MetricsConfig,
    /// `http_config=true`: serve newer Maxwell's `/config` (HTTP is then on).
    pub http_config: bool,
    /// `javascript`: the per-row filter script.
    pub javascript: Option<javascript::JavascriptConfig>,
    /// One line per accepted option that has no effect here or only a nearest equivalent
    /// (logged once at start as warnings).
    pub warnings: Vec<String>,
    /// The settings this configuration was made from (a cluster's settings are applied on
    /// top of them).
    pub settings: Settings,
}

/// Cluster membership settings.
#[derive(Debug, Clone)]
pub struct HaConfig {
    pub servers: String,
    pub session_timeout: Duration,
    pub root: String,
    pub auth: Option<String>,
    pub node_id: String,
    pub priority: i32,
    pub takeover_delay: Duration,
    pub commit_interval: Duration,
    /// Hand leadership over after this long without progress (`None`: never).
    pub stall_timeout: Option<Duration>,
    pub delivery: Delivery,
    /// Exactly-once: the cluster's transactional id (`kafka.transactional.id`, else derived
    /// from the root) and checkpoint topic.
    pub transactional_id: String,
    pub checkpoint_topic: String,
    pub kafka_transaction_rows: usize,
    /// Shards: the least time between two hand-overs a node makes to even the load out.
    pub rebalance_interval: Duration,
}

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

impl Config {
    pub fn from_args(args: &[String]) -> Result<Self, ConfigError> {
        Self::from_settings(&Settings::load(args)?)
    }

    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let mut warnings: Vec<String> = s.notes.clone();
        let (resolved, timeouts) = maxwell::resolve(s, &mut warnings)?;
        let s = &resolved;
        // Maxwell: a separate binlog server needs its own host and user (password optional);
        // replication_user/password without replication_host is refused the same way.
        let replication = s.get("replication_host").is_some();
        if replication != s.get("replication_user").is_some() || (!replication && s.get("replication_password").is_some()) {
            return err("please specify all of: replication_host, replication_user, replication_password (or none of them: the binlog is read from `host`)");
        }
        let user = if replication { s.get("replication_user") } else { s.get("user") };
        let Some(user) = user else {
            return err("missing required key `user` (MySQL user with REPLICATION SLAVE, REPLICATION CLIENT, SELECT)");
        };
        let filter = Filter::parse(s.get("filter").unwrap_or(""))
            .map_err(|e| ConfigError::Msg(format!("`filter`: {e}")))?
            .with_schema_database(s.get("schema_database").unwrap());
        let init_position = match s.get("init_position") {
            None => StartPosition::Current,
            Some(v) => v.parse::<StartPosition>().map_err(|e| ConfigError::Msg(format!("`init_position`: {e}")))?,
        };
        let producer = s.get("producer").unwrap().to_string();
        let kafka = if producer == "kafka" {
            let by = PartitionBy::parse(s.get("producer_partition_by").unwrap()).expect("validated");
            let columns: Vec<String> = s
                .get("producer_partition_columns")
                .map(|c| c.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect())
                .unwrap_or_default();
            let fallback = s.get("producer_partition_by_fallback").map(|f| PartitionBy::parse(f).expect("validated"));
            if by == PartitionBy::Column && (columns.is_empty() || fallback.is_none()) {
                return err("`producer_partition_by=column` needs `producer_partition_columns` and `producer_partition_by_fallback`");
            }
            let topic = s.get("kafka_topic").unwrap().to_string();
            let mut props = kafka::translate(s.kafka_props(), &mut warnings).map_err(ConfigError::Msg)?;
            producer_errors::ack_timeout(s, &mut props, &mut warnings)?;
            if !props.iter().any(|(k, _)| k == "bootstrap.servers") {
                return err("missing required key `kafka.bootstrap.servers` (producer=kafka)");
            }
            Some(KafkaConfig {
                props,
                routing: Routing {
                    ddl_topic: s.get("ddl_kafka_topic").map(str::to_string).unwrap_or_else(|| topic.clone()),
                    topic,
                    by,
                    fallback: fallback.unwrap_or(PartitionBy::Database),
                    columns,
                    hash: if s.get("kafka_partition_hash") == Some("murmur3") { HashFn::Murmur3 } else { HashFn::Default },
                    key_format: if s.get("kafka_key_format") == Some("array") { KeyFormat::Array } else { KeyFormat::Hash },
                },
                errors: producer_errors::producer_errors(s)?,
                push_timestamp: None,
            })
        } else {
            if let Some((k, _)) = s.kafka_props().first() {
                return err(format!("`kafka.{k}` is set but `producer` is {producer}; set producer=kafka or remove the kafka.* keys"));
            }
            warnings.extend(producer_errors::warnings_without_kafka(s));
            None
        };
        let (exclude_columns, encrypt) = encode::parse(s, &mut warnings)?;
        let output = OutputConfig {
            binlog_position: s.bool("output_binlog_position"),
            resume_position: s.bool("output_resume_position"),
            gtid_position: s.bool("output_gtid_position"),
            commit_info: s.bool("output_commit_info"),
            xoffset: s.bool("output_xoffset"),
            nulls: s.bool("output_nulls"),
            server_id: s.bool("output_server_id"),
            thread_id: s.bool("output_thread_id"),
            primary_keys: s.bool("output_primary_keys"),
            primary_key_columns: s.bool("output_primary_key_columns"),
            row_query: s.bool("output_row_query"),
            row_query_max_length: s.int("row_query_max_length").unwrap_or(0).max(0) as usize,
            ddl: s.bool("output_ddl"),
            null_zerodates: s.bool("output_null_zerodates"),
            row_meta: kafka.is_some() || s.get("javascript").is_some(),
            partition_columns: kafka.as_ref().map(|k| k.routing.columns.clone()).unwrap_or_default(),
            schema_id: s.bool("output_schema_id"),
            exclude_columns,
            encrypt,
            push_timestamp: s.bool("output_push_timestamp"),
            naming: newer::naming_strategy(s, &mut warnings),
        };
        if s.get("replication_port").is_some() && s.get("replication_host").is_none() {
            return err("`replication_port` is set but `replication_host` is not; set both or neither");
        }
        let mode = |k: &str| s.get(k).map(|m| m.parse::<TlsMode>().expect("validated"));
        let tls = SourceTls::new(
            std::cmp::max(mode("ssl").unwrap_or_default(), mode("replication_ssl").unwrap_or_default()),
            s.get("ssl_ca"),
            s.get("ssl_cert"),
            s.get("ssl_key"),
        )
        .map_err(ConfigError::Msg)?;
        let host_tls = tls.with_mode(mode("ssl").unwrap_or_default());
        // Unset, replication_ssl is `ssl`, for a separate replication_host too (as in Maxwell).
        let replication_tls = tls.with_mode(mode("replication_ssl").unwrap_or(host_tls.mode));
        let hosts = |k: &str, port: u16| source::parse_host_list(s.get(k).unwrap(), port).map_err(|e| ConfigError::Msg(format!("`{k}`: {e}")));
        let host_list = hosts("host", s.int("port").unwrap() as u16)?;
        let source_list = match s.get("replication_host") {
            // Maxwell's replication_port default is MySQL's 3306, not `port`.
            Some(_) => hosts("replication_host", s.int("replication_port").unwrap_or(3306) as u16)?,
            None => host_list.clone(),
        };
        let source = SourceConfig {
            host: source_list[0].0.clone(),
            port: source_list[0].1,
            more_hosts: source_list[1..].to_vec(),
            active: Default::default(),
            user: user.to_string(),
            password: if replication { s.get("replication_password") } else { s.get("password") }.unwrap_or("").to_string(),
            server_id: s.int("replica_server_id").unwrap() as u32,
            heartbeat: Duration::from_millis(s.int("binlog_heartbeat_ms").unwrap() as u64),
            // replication_jdbc_options's (with replication_host) wins for the binlog connection.
            connect_timeout: timeouts.replication.or(timeouts.all).unwrap_or(Duration::from_secs(10)),
            tls: replication_tls,
        };
        let positions_db = SourceConfig {
            host: host_list[0].0.clone(),
            port: host_list[0].1,
            more_hosts: host_list[1..].to_vec(),
            active: Default::default(),
            user: s.get("user").unwrap_or(user).to_string(),
            password: s.get("password").unwrap_or("").to_string(),
            tls: host_tls,
            connect_timeout: timeouts.all.unwrap_or(Duration::from_secs(10)),
            ..source.clone()
        };
        let client_id = s.get("client_id").unwrap().to_string();
        let ha = match s.get("zookeeper_servers") {
            None => {
                for k in ["zookeeper_root", "zookeeper_auth", "node_id"] {
                    if s.values.contains_key(k) {
                        return err(format!("`{k}` is set but `zookeeper_servers` is not; set zookeeper_servers to run as a cluster member"));
                    }
                }
                None
            }
            Some(servers) => {
                let root = s.get("zookeeper_root").map(str::to_string).unwrap_or_else(|| {
                    if client_id == "maxwell" {
                        "/maxwell/cluster".to_string()
                    } else {
                        format!("/maxwell/{client_id}")
                    }
                });
                if !root.starts_with('/') || root.ends_with('/') || root.contains("//") {
                    return err(format!("`zookeeper_root` must be an absolute znode path like /maxwell/cluster, not {root:?}"));
                }
                if let Some(a) = s.get("zookeeper_auth") {
                    if !a.contains(':') {
                        return err("`zookeeper_auth` must be user:password");
                    }
                }
                let delivery: Delivery = s.get("ha_delivery").unwrap().parse().map_err(|e| ConfigError::Msg(format!("`ha_delivery`: {e}")))?;
                let transactional_id = s.values.get("kafka.transactional.id").cloned().unwrap_or_else(|| kafka::default_transactional_id(&root));
                if kafka.is_some() {
                    producer_errors::check_cluster(s, delivery == Delivery::AtLeastOnce, s.int("zookeeper_session_timeout_ms").unwrap())?;
                }
                if delivery == Delivery::AtLeastOnce && kafka.is_some() {
                    if s.values.contains_key("kafka.transactional.id") {
                        return err("`kafka.transactional.id` is only used with ha_delivery=exactly_once: remove it, or remove ha_delivery=at_least_once");
                    }
                    let kv = |k: &str| s.values.get(k).map(String::as_str);
                    if kv("kafka.enable.idempotence") == Some("false") {
                        if let Some(n) = kv("kafka.max.in.flight.requests.per.connection").or(kv("kafka.max.in.flight")).filter(|n| *n != "1") {
                            return err(format!("`kafka.max.in.flight.requests.per.connection={n}` without idempotence can leave a gap behind a later request that the takeover scan skips: use 1 (the cluster's default without idempotence), or turn idempotence back on"));
                        }
                        if let Some(r) = kv("kafka.retries").or(kv("kafka.message.send.max.retries")).filter(|r| *r == "0") {
                            return err(format!("`kafka.retries={r}` turns a transient broker error into a lost row the takeover scan skips: remove it"));
                        }
                    }
                    let session_ms = s.int("zookeeper_session_timeout_ms").unwrap();
                    for k in ["kafka.message.timeout.ms", "kafka.delivery.timeout.ms"] {
                        if let Some(v) = kv(k).and_then(|v| v.parse::<i64>().ok()).filter(|v| *v == 0 || *v > session_ms) {
                            return err(format!("`{k}={v}` lets a frozen leader's queued rows go out after a new leader took over (ha_delivery=at_least_once): use at most zookeeper_session_timeout_ms ({session_ms}), or leave it unset"));
                        }
                    }
                    if s.get("producer_partition_by") == Some("random") || s.get("producer_partition_by_fallback") == Some("random") {
                        return err("`producer_partition_by=random` can lose rows after a takeover in a cluster with ha_delivery=at_least_once (the takeover scan cannot find where a row went): use another partitioning, or ha_delivery=exactly_once");
                    }
                }
                let heartbeat = s.int("binlog_heartbeat_ms").unwrap();
                let stall = s.int("ha_stall_timeout_ms").unwrap_or_else(|| (s.int("zookeeper_session_timeout_ms").unwrap() * 3 / 4).max(2 * heartbeat));
                if stall != 0 && stall < 2 * heartbeat {
                    return err(format!("`ha_stall_timeout_ms={stall}` is shorter than two binlog heartbeats (binlog_heartbeat_ms={heartbeat}): an idle source would look unreachable; use at least {}, or 0 to turn the stall hand-over off", 2 * heartbeat));
                }
                let node_id = s.get("node_id").map(str::to_string).unwrap_or_else(hostname);
                if node_id.contains('/') || node_id.is_empty() {
                    return err(format!("`node_id` {node_id:?} must be non-empty and contain no '/'"));
                }
                Some(HaConfig {
                    servers: servers.to_string(),
                    session_timeout: Duration::from_millis(s.int("zookeeper_session_timeout_ms").unwrap() as u64),
                    root,
                    auth: s.get("zookeeper_auth").map(str::to_string),
                    node_id,
                    priority: s.int("ha_priority").unwrap() as i32,
                    takeover_delay: Duration::from_millis(s.int("ha_takeover_delay_ms").unwrap() as u64),
                    commit_interval: Duration::from_millis(s.int("ha_commit_interval_ms").unwrap() as u64),
                    stall_timeout: Some(Duration::from_millis(stall as u64)).filter(|d| !d.is_zero()),
                    delivery,
                    checkpoint_topic: s.get("ha_checkpoint_topic").map(str::to_string).unwrap_or_else(|| kafka::default_topic(&transactional_id)),
                    transactional_id,
                    kafka_transaction_rows: s.int("ha_kafka_transaction_rows").unwrap() as usize,
                    rebalance_interval: Duration::from_millis(s.int("ha_rebalance_interval_ms").unwrap() as u64),
                })
            }
        };
        let mut kafka = kafka;
        if let Some(k) = &mut kafka {
            k.push_timestamp = output.push_ts_by_sink();
        }
        let (metrics, http) = metrics::parse(s, &mut warnings)?;
        Ok(Config {
            http_config: s.bool("http_config"),
            javascript: javascript::parse(s)?,
            ha,
            http,
            metrics,
            source,
            client_id,
            producer,
            filter,
            output,
            init_position,
            // Following a change of source server needs GTIDs (file positions are per server).
            gtid_mode: s.bool("gtid_mode") || source_list.len() > 1,
            tx_memory: (s.int("tx_memory_mb").unwrap() as usize) << 20,
            positions_db,
            schema_database: s.get("schema_database").unwrap().to_string(),
            replay: s.bool("replay"),
            recapture_schema: s.bool("recapture_schema"),
            bootstrap_async: s.get("bootstrapper") == Some("async"),
            bootstrap: (s.get("bootstrapper") != Some("none")).then(|| (s.int("bootstrap_chunk_rows").unwrap() as usize, s.int("bootstrap_rows_per_second").unwrap() as u64)),
            log_level: s.get("log_level").unwrap().to_string(),
            kafka,
            settings: s.clone(),
            warnings,
        })
    }
}

#[cfg(test)]
mod tests;
