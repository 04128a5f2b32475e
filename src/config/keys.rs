//! The key catalogue: every configuration key, declared once with its type, default and
//! documentation. Everything else about a key (validation, the example file, the reference
//! page, hints for unknown keys) is derived from this table.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Bool,
    Int { min: i64, max: i64 },
    OneOf(&'static [&'static str]),
}

pub struct KeySpec {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

pub(super) const fn key(name: &'static str, kind: Kind, default: Option<&'static str>, doc: &'static str) -> KeySpec {
    KeySpec { name, kind, default, doc }
}

pub(super) const B: Kind = Kind::Bool;
pub(super) const S: Kind = Kind::Str;
pub(super) const PORT: Kind = Kind::Int { min: 1, max: 65535 };

/// Every accepted key. Maxwell's names; defaults as Maxwell's where it has the key.
pub const KEYS: &[KeySpec] = &[
    key("config", S, None, "Path of this properties file (command line only)."),
    key("log_level", Kind::OneOf(&["debug", "info", "warn", "error"]), Some("info"), "Log verbosity."),
    key("host", S, Some("localhost"), "MySQL/MariaDB host to replicate from: one host (or a virtual IP), or a list of candidates `db1,db2:3307,…` for a dual-master pair — the first that answers is used, the next when it stops answering; a list implies gtid_mode. On every reconnect the server's identity is checked: a different server is followed by GTID."),
    key("port", PORT, Some("3306"), "MySQL/MariaDB port."),
    key("user", S, None, "MySQL user (needs REPLICATION SLAVE, REPLICATION CLIENT, SELECT). Required."),
    key("password", S, Some(""), "MySQL password."),
    key("replication_host", S, None, "Read the binlog from this host instead of `host` (with replication_user, as in Maxwell)."),
    key("replication_port", PORT, None, "Port for `replication_host`. Default: 3306 (not `port`, as in Maxwell)."),
    key("replication_user", S, None, "User for `replication_host` (required with it, refused without it)."),
    key("replication_password", S, None, "Password for `replication_host` (default: none)."),
    key("ssl", Kind::OneOf(super::source::MODES), Some("DISABLED"), "TLS to `host`, and to the binlog source unless `replication_ssl` says otherwise: DISABLED, PREFERRED (TLS when the server offers it), REQUIRED (certificate not checked), VERIFY_CA (checked against `ssl_ca`), VERIFY_IDENTITY (and the host name)."),
    key("replication_ssl", Kind::OneOf(super::source::MODES), None, "TLS to the binlog source (`replication_host`, else `host`), as `ssl`. Default: `ssl` (as in Maxwell, also with a separate replication_host)."),
    key("ssl_ca", S, None, "PEM file of the CA that signs the MySQL server's certificate (VERIFY_CA, VERIFY_IDENTITY); default: the public roots. Maxwell takes a Java truststore instead."),
    key("ssl_cert", S, None, "PEM client certificate for accounts that `REQUIRE X509` (with ssl_key)."),
    key("ssl_key", S, None, "PEM private key of ssl_cert."),
    key("replica_server_id", Kind::Int { min: 1, max: 4294967295 }, Some("6379"), "Server id this node presents to the source; unique among the source's replicas."),
    key("client_id", S, Some("maxwell"), "Name of this Maxwell cluster; separates clusters that share infrastructure."),
    key("schema_database", S, Some("maxwell"), "A node running alone keeps its position in this database's `positions` table on `host` (Maxwell's table, created when missing; one row per source server and client_id), and resumes from it after a restart; its schema history is kept beside it, in `schema_history`. A cluster reads the position on its first start only (switching from Maxwell) and keeps its schema history in ZooKeeper."),
    key("replay", B, Some("false"), "A node running alone reads its stored position (and schema history) in schema_database but never writes either, as Maxwell's read-only store: it starts at init_position, else the stored position, else the end of the binlog."),
    key("recapture_schema", B, Some("false"), "Capture the source's schema anew at start instead of rebuilding it from the stored schema history (the new capture is stored and used from then on). The binlog between the start position and now must not change a table."),
    key("max_schemas", S, None, "Accepted for compatibility with Maxwell (deprecated there too) and ignored: the stored schema history is compacted on its own (a full schema after every 50 changes)."),
    key("producer", Kind::OneOf(&["stdout", "kafka"]), Some("stdout"), "Where rows go: `stdout` (one JSON object per line) or `kafka`."),
    key("kafka.bootstrap.servers", S, None, "Kafka brokers (producer=kafka). Every other `kafka.*` key is passed to librdkafka as is (acks=all and enable.idempotence=true unless set; `kafka.acks` other than all alone, as in Maxwell's example file, turns idempotence off with a warning — refused in exactly-once mode)."),
    key("kafka_topic", S, Some("maxwell"), "Topic for rows; `%{database}`, `%{table}` and `%{type}` (insert, update, delete, …) are substituted."),
    key("ddl_kafka_topic", S, None, "Topic for DDL records (output_ddl); default: kafka_topic."),
    key("producer_partition_by", Kind::OneOf(&["database", "table", "primary_key", "transaction_id", "column", "random"]), Some("database"), "What picks a row's partition."),
    key("producer_partition_columns", S, None, "Comma-separated columns for producer_partition_by=column."),
    key("producer_partition_by_fallback", Kind::OneOf(&["database", "table", "primary_key"]), None, "Partitioning when the partition columns are all absent (required with producer_partition_by=column)."),
    key("kafka_partition_hash", Kind::OneOf(&["default", "murmur3"]), Some("default"), "Hash of the partition string: Java String.hashCode (`default`) or MurmurHash3 (`murmur3`)."),
    key("kafka_key_format", Kind::OneOf(&["hash", "array"]), Some("hash"), "Message key: `{\"database\":…,\"table\":…,\"pk.id\":…}` (`hash`) or `[db, table, [{pk}]]` (`array`)."),
    key("kafka_version", S, None, "Accepted for compatibility with Maxwell and ignored: librdkafka negotiates the protocol version."),
    key("filter", S, None, "Row filter, e.g. `exclude: *.*, include: db1.*, include: db.t.col=val`."),
    key("init_position", S, None, "Where to start: `FILE:POS` (Maxwell's `FILE:POS:HEARTBEAT` too; the heartbeat is ignored) or a GTID set (`0-1-100` MariaDB, `uuid:1-5` MySQL). Default: the current end of the binlog."),
    key("gtid_mode", B, Some("false"), "Resume by GTID instead of file:position after reconnects."),
    key("bootstrapper", Kind::OneOf(&["async", "sync", "none"]), Some("async"), "Bootstraps requested in schema_database's `bootstrap` table (maxwell-cli bootstrap, Maxwell's maxwell-bootstrap): `none` ignores them; `async` and `sync` both run them as Maxwell's sync mode does (at a binlog transaction boundary, the binlog waiting until bootstrap-complete), so every live change comes after bootstrap-complete."),
    key("bootstrap_chunk_rows", Kind::Int { min: 1, max: 1_000_000 }, Some("10000"), "Rows a bootstrap reads per chunk (one consistent read in primary-key order; in exactly-once mode the unit a new leader continues from)."),
    key("bootstrap_rows_per_second", Kind::Int { min: 0, max: 100_000_000 }, Some("0"), "Throttle of a bootstrap (0: as fast as the producer takes the rows)."),
    key("javascript", S, None, "A JavaScript file defining `process_row(row)` (and/or `process_ddl(ddl)`), called on every row (DDL record) before it is produced, with Maxwell's row API: suppress it, change its data, add attributes, send it to another topic or partition. It must be deterministic: every node of a cluster must give the same answer for the same row. See docs/maxwell-compatibility.md#javascript-filters."),
    key("tx_memory_mb", Kind::Int { min: 1, max: 65536 }, Some("16"), "MiB of one binlog transaction's encoded rows held in memory; a larger transaction is written to an unlinked temporary file (in TMPDIR) and handed on in parts, so memory stays bounded whatever its size."),
    key("binlog_heartbeat_ms", Kind::Int { min: 100, max: 4_000_000 }, Some("1000"), "Heartbeat period the source uses on an idle stream."),
    key("zookeeper_servers", S, None, "ZooKeeper ensemble (`host:port,host:port,…`). Set it to run as an active/standby cluster member; unset, the node runs alone."),
    key("zookeeper_session_timeout_ms", Kind::Int { min: 2000, max: 20000 }, Some("4000"), "ZooKeeper session timeout: how long a silent leader keeps the lock. A standby takes over within about this time."),
    key("zookeeper_root", S, None, "Root znode of this cluster. Default: /maxwell/cluster for client_id=maxwell, else /maxwell/<client_id>."),
    key("zookeeper_auth", S, None, "`user:password` digest identity; the cluster's znodes are then writable only by it."),
    key("node_id", S, None, "This node's name in the cluster (default: the host name). Unique per cluster."),
    key("ha_priority", Kind::Int { min: -1000, max: 1000 }, Some("0"), "Takeover preference: standbys with a higher priority race first."),
    key("ha_takeover_delay_ms", Kind::Int { min: 0, max: 60000 }, Some("500"), "A standby waits this long per live member of higher priority before racing for leadership."),
    key("ha_commit_interval_ms", Kind::Int { min: 10, max: 60000 }, Some("100"), "How often the leader commits: a Kafka transaction closes at the first binlog transaction boundary after this long (exactly-once), and the acknowledged position is written to ZooKeeper."),
    key("ha_stall_timeout_ms", Kind::Int { min: 0, max: 600000 }, None, "A leader that gets nothing from the source (not even a heartbeat), or no confirmation from Kafka for rows it sent, for this long hands leadership to a standby and stays out of the race until another node leads (or 10 s pass). Default: 3/4 of zookeeper_session_timeout_ms (at least two binlog heartbeats), so that such a hand-over takes about as long as a takeover after a crash. 0: never."),
    key("ha_rebalance_interval_ms", Kind::Int { min: 500, max: 3_600_000 }, Some("5000"), "Shards: a node hands at most one shard to another node per this interval when the leaderships are uneven (a node leads more than ⌈shards/nodes⌉, or two more than another node) or a shard's preferred node is up."),
    key("ha_delivery", Kind::OneOf(&["exactly_once", "at_least_once"]), Some("exactly_once"), "How a cluster writes to Kafka. exactly_once: Kafka transactions under one transactional.id per cluster (kafka.transactional.id overrides the name), the resume point committed with the rows; a deposed leader is fenced by the broker; consumers read with isolation.level=read_committed. at_least_once: no transactions (for brokers without them); a new leader skips the rows it finds at the end of each partition, a crash may repeat rows, producer_partition_by=random is refused."),
    key("ha_checkpoint_topic", S, None, "Exactly-once: topic of the cluster's checkpoints (1 partition, compacted; created when missing). Default: <transactional id>.checkpoint."),
    key("ha_kafka_transaction_rows", Kind::Int { min: 1, max: 10_000_000 }, Some("100000"), "Exactly-once: a Kafka transaction closes once it holds this many rows; a larger binlog transaction is split across Kafka transactions (and still comes out exactly once)."),
    key("metrics_type", S, None, "Comma-separated metric reporters; maxwell-ha has `http` (Prometheus `/metrics` on http_port). Maxwell's slf4j, jmx and datadog are not available."),
    key("http_port", PORT, None, "Serve /metrics, /healthz, /readyz, /api/status, the status page `/` and Maxwell's /prometheus, /healthcheck, /ping on this port (default 8080 when metrics_type=http; unset: no HTTP)."),
    key("http_bind_address", S, Some("127.0.0.1"), "Address the HTTP endpoints listen on (0.0.0.0 for all interfaces)."),
    key("http_path_prefix", S, Some("/"), "Path prefix of every HTTP endpoint, e.g. /maxwell/."),
    key("http_admin_token", S, None, "Allows the status page's actions (POST /api/failover, /api/shard/move, /api/drain, /api/bootstrap/cancel: hand leadership to a chosen node, move a shard, drain a node, cancel a bootstrap), sent as `Authorization: Bearer <token>`. Unset: actions are refused (403) and the page says so."),
    key("output_binlog_position", B, Some("false"), "Add `position` to each row and DDL record: FILE:POS where its binlog event starts, as Maxwell writes it (to restart from, see output_resume_position)."),
    key("output_resume_position", B, Some("false"), "Each row also carries `resume_position`: where its binlog transaction ends, a position to restart from with init_position (Maxwell's `position` is where the row's event starts, which is not one)."),
    key("output_gtid_position", B, Some("false"), "Add `gtid` (the transaction's GTID) to each row."),
    key("output_commit_info", B, Some("true"), "Add `xid` and `commit` to rows."),
    key("output_xoffset", B, Some("true"), "Add `xoffset` (row index in its transaction) to non-final rows (with output_commit_info)."),
    key("output_nulls", B, Some("true"), "Include columns whose value is NULL."),
    key("output_server_id", B, Some("false"), "Add `server_id` to each row."),
    key("output_thread_id", B, Some("false"), "Add `thread_id` to each row."),
    key("output_primary_keys", B, Some("false"), "Add `primary_key` (values) to each row."),
    key("output_primary_key_columns", B, Some("false"), "Add `primary_key_columns` (names) to each row."),
    key("output_row_query", B, Some("false"), "Add `query` (the statement, from ANNOTATE_ROWS/ROWS_QUERY events) to each row."),
    key("output_ddl", B, Some("false"), "Emit DDL records (`table-create`, `database-drop`, …)."),
    key("output_null_zerodates", B, Some("false"), "Print zero dates (0000-00-00) as null."),
];
