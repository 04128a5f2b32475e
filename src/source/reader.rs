//! The binlog connection: server checks, dump requests, reconnects.
//!
//! Invariants:
//! - Before streaming, the server is checked once: `log_bin` on, `binlog_format=ROW`,
//!   `binlog_row_metadata=FULL`, and the start position still present. Each failed check is a
//!   definite error naming the setting and the fix.
//! - The stream resumes only at transaction boundaries: after an I/O error or a server
//!   shutdown it reconnects (with backoff) from the end of the last transaction handed on, and
//!   the half-read transaction is discarded, never emitted.
//! - Every event's CRC32 is verified when the server checksums events; a mismatch is a
//!   definite error (the bytes are corrupt), not skipped.
//! - Every (re)connect reads the server's `server_id`: a different server than before (a
//!   candidate of a host list, or another machine behind a virtual IP) is continued by GTID,
//!   never by `file:pos` (file positions are per server); without a GTID that is a definite
//!   error. A stored file position is used only where the server holds the same GTID state
//!   there (`StartPosition::Checked`).
//! - MariaDB is asked for GTID events (`@mariadb_slave_capability=4`) and heartbeats, so an
//!   idle stream still ticks, and with `output_row_query` for ANNOTATE_ROWS ([`super::dump`]); MySQL GTID resume uses COM_BINLOG_DUMP_GTID with the SID block.
//!   A dump connection silent for ten heartbeats (at least 10 s) is taken for dead and
//!   reconnected (from the last boundary, like any other connection failure).
//! - The stall watchdog's [`crate::progress::Progress`] hears of every event; the time spent
//!   handing a transaction on is marked busy, so only waiting on the source counts as silence.

use crate::binlog::charset::CollationMap;
use super::decoder::{ev, Decoder, DecoderConfig, RawEvent};
use crate::encode::Transaction;
use crate::binlog::gtid::GtidSet;
use crate::binlog::position::BinlogPosition;
/// The resume value types live with the other position types; named here too for callers.
pub use crate::binlog::position::{ResumePoint, StartPosition};
use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

pub use super::connect::{parse_host_list, SourceConfig};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    MariaDb,
    MySql,
}

#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// Definite: configuration or server state must be fixed by a person.
    #[error("{0}")]
    Definite(String),
    /// Transient: worth retrying.
    #[error("{0}")]
    Transient(String),
    /// Another replica with our server id took over the dump (the source dropped ours). In a
    /// cluster that is the next leader; alone it is a misconfiguration.
    #[error("{0}")]
    Replaced(String),
    #[error(transparent)]
    Decode(#[from] super::decoder::DecodeError),
}

impl ReaderError {
    pub fn is_transient(&self) -> bool {
        matches!(self, ReaderError::Transient(_))
    }
}

pub(super) fn classify(e: mysql_async::Error, what: &str) -> ReaderError {
    match &e {
        mysql_async::Error::Server(s) => match s.code {
            1045 | 1044 | 1142 | 1227 => ReaderError::Definite(format!(
                "{what}: access denied ({}); the user needs REPLICATION SLAVE, REPLICATION CLIENT and SELECT privileges",
                s.message
            )),
            1236 => ReaderError::Definite(format!(
                "{what}: the server cannot send the binlog from the requested position ({}); the position was purged or is not a transaction boundary: choose a newer init_position",
                s.message
            )),
            4052 | 1593 => ReaderError::Replaced(format!(
                "{what}: another replica connected to the source with the same server id ({}); give every independent maxwell its own replica_server_id",
                s.message
            )),
            _ => ReaderError::Transient(format!("{what}: server error {}: {}", s.code, s.message)),
        },
        _ => ReaderError::Transient(format!("{what}: {e}")),
    }
}

/// Facts learned from the server before streaming.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub flavor: Flavor,
    pub version: String,
    pub server_id: u32,
    pub binlog_row_image: String,
    /// `FULL` when TABLE_MAPs name the columns; anything else needs the schema history.
    pub binlog_row_metadata: String,
}

impl ServerInfo {
    /// Whether TABLE_MAP events carry the column names, labels and keys.
    pub fn full_metadata(&self) -> bool {
        self.binlog_row_metadata.eq_ignore_ascii_case("FULL")
    }
}

/// Checks the server settings this reader depends on.
pub async fn check_server(conn: &mut Conn) -> Result<ServerInfo, ReaderError> {
    let q = |e| classify(e, "reading server settings");
    let (version, log_bin, format, image, server_id): (String, String, String, String, u32) = conn
        .query_first("SELECT @@version, @@log_bin, @@binlog_format, @@binlog_row_image, @@server_id")
        .await
        .map_err(q)?
        .ok_or_else(|| ReaderError::Definite("server returned no settings".into()))?;
    let flavor = if version.to_ascii_lowercase().contains("mariadb") { Flavor::MariaDb } else { Flavor::MySql };
    if log_bin != "1" && !log_bin.eq_ignore_ascii_case("on") {
        return Err(ReaderError::Definite("binary logging is off on the source: set log_bin in its configuration and restart it".into()));
    }
    if !format.eq_ignore_ascii_case("ROW") {
        return Err(ReaderError::Definite(format!(
            "binlog_format is {format} on the source; maxwell-ha needs ROW: SET GLOBAL binlog_format='ROW' (and in my.cnf)"
        )));
    }
    // Absent before MySQL 8.0.1 / MariaDB 10.5: the TABLE_MAP then never names columns.
    let meta: Option<String> = conn.query_first("SELECT @@binlog_row_metadata").await.unwrap_or(None);
    Ok(ServerInfo { flavor, version, server_id, binlog_row_image: image, binlog_row_metadata: meta.unwrap_or_else(|| "NO_LOG".into()) })
}

pub async fn load_collations(conn: &mut Conn) -> Result<CollationMap, ReaderError> {
    let rows: Vec<(u16, String)> = conn
        .query("SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE ID IS NOT NULL")
        .await
        .map_err(|e| classify(e, "reading collations"))?;
    Ok(CollationMap::from_pairs(rows))
}

/// (db, table, column) of MariaDB JSON columns: LONGTEXT with a `json_valid(col)` check.
pub async fn load_json_columns(conn: &mut Conn, flavor: Flavor) -> Result<HashSet<(String, String, String)>, ReaderError> {
    if flavor != Flavor::MariaDb {
        return Ok(HashSet::new());
    }
    let rows: Vec<(String, String, String)> = conn
        .query("SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CHECK_CLAUSE LIKE 'json_valid(%'")
        .await
        .map_err(|e| classify(e, "reading JSON columns"))?;
    Ok(rows
        .into_iter()
        .filter_map(|(db, t, clause)| {
            let inner = clause.strip_prefix("json_valid(")?.strip_suffix(')')?;
            let col = inner.trim().trim_matches('`').to_string();
            Some((db, t, col))
        })
        .collect())
}

/// Resolves `start` against the server: a concrete file position, and the GTID state there.
pub async fn resolve_start(conn: &mut Conn, info: &ServerInfo, start: &StartPosition) -> Result<ResumePoint, ReaderError> {
    let q = |e| classify(e, "resolving the start position");
    let logs: Vec<(String, u64)> = conn
        .query_map("SHOW BINARY LOGS", |row: mysql_async::Row| {
            (row.get::<String, _>(0).unwrap_or_default(), row.get::<u64, _>(1).unwrap_or_default())
        })
        .await
        .map_err(q)?;
    match start {
        StartPosition::Current => {
            let (file, pos): (String, u64) = conn
                .query_first("SHOW MASTER STATUS")
                .await
                .map_err(q)?
                .map(|row: mysql_async::Row| (row.get::<String, _>(0).unwrap_or_default(), row.get::<u64, _>(1).unwrap_or(4)))
                .ok_or_else(|| ReaderError::Definite("SHOW MASTER STATUS is empty: binary logging is off".into()))?;
            let gtid = current_gtid(conn, info).await?;
            Ok(ResumePoint { position: BinlogPosition::new(file, pos), gtid, server_id: info.server_id })
        }
        StartPosition::File(p) => {
            let Some((_, size)) = logs.iter().find(|(f, _)| *f == p.file) else {
                let first = logs.first().map(|l| l.0.as_str()).unwrap_or("none");
                return Err(ReaderError::Definite(format!(
                    "binlog file {} is not on the server (purged?); the oldest is {first}: choose a position in an existing file",
                    p.file
                )));
            };
            if p.pos > *size {
                return Err(ReaderError::Definite(format!("position {p} is past the end of {} ({size} bytes)", p.file)));
            }
            let gtid = if info.flavor == Flavor::MariaDb {
                let g: Option<(Option<String>,)> =
                    conn.exec_first("SELECT BINLOG_GTID_POS(?, ?)", (p.file.clone(), p.pos)).await.map_err(q)?;
                g.and_then(|g| g.0).filter(|s| !s.is_empty()).and_then(|s| s.parse().ok())
            } else {
                // The whole set at that position, not only the GTIDs this term will see.
                super::mysql_dump::gtid_at(conn, &p.file, p.pos).await?.map(GtidSet::Mysql)
            };
            Ok(ResumePoint { position: p.clone(), gtid, server_id: info.server_id })
        }
        StartPosition::Checked { position: p, gtid: g } => {
            let here = match (logs.iter().any(|(f, _)| *f == p.file), info.flavor) {
                (false, _) => None,
                (true, Flavor::MariaDb) => {
                    let at: Option<(Option<String>,)> =
                        conn.exec_first("SELECT BINLOG_GTID_POS(?, ?)", (p.file.clone(), p.pos)).await.map_err(q)?;
                    at.and_then(|a| a.0).and_then(|a| a.parse::<GtidSet>().ok())
                }
                (true, Flavor::MySql) => super::mysql_dump::gtid_at(conn, &p.file, p.pos).await?.map(GtidSet::Mysql),
            };
            if here.as_ref() == Some(g) {
                return Ok(ResumePoint { position: p.clone(), gtid: Some(g.clone()), server_id: info.server_id });
            }
            tracing::warn!(position = %p, gtid = %g, server_id = info.server_id, found = ?here.map(|h| h.to_string()),
                "the stored file position does not match this server's binlog (another server behind the same address?); resuming by GTID");
            Box::pin(resolve_start(conn, info, &StartPosition::Gtid(g.clone()))).await
        }
        StartPosition::Gtid(g) => {
            if matches!((g, info.flavor), (GtidSet::Maria(_), Flavor::MySql) | (GtidSet::Mysql(_), Flavor::MariaDb)) {
                return Err(ReaderError::Definite(format!("init_position GTID {g} is of the other server family than the source")));
            }
            let first = logs.first().map(|l| l.0.clone()).unwrap_or_default();
            Ok(ResumePoint { position: BinlogPosition::new(first, 4), gtid: Some(g.clone()), server_id: info.server_id })
        }
    }
}

async fn current_gtid(conn: &mut Conn, info: &ServerInfo) -> Result<Option<GtidSet>, ReaderError> {
    let sql = match info.flavor {
        Flavor::MariaDb => "SELECT @@gtid_binlog_pos",
        Flavor::MySql => "SELECT @@gtid_executed",
    };
    let g: Option<(String,)> = conn.query_first(sql).await.map_err(|e| classify(e, "reading the GTID position"))?;
    Ok(g.map(|g| g.0.replace('\n', "")).filter(|s| !s.is_empty()).and_then(|s| s.parse().ok()))
}

/// Serialises an event header as it was on the wire, for checksums.
fn header_bytes(h: &mysql_async::binlog::events::BinlogEventHeader) -> [u8; 19] {
    let mut b = [0u8; 19];
    b[0..4].copy_from_slice(&h.timestamp().to_le_bytes());
    b[4] = h.event_type_raw();
    b[5..9].copy_from_slice(&h.server_id().to_le_bytes());
    b[9..13].copy_from_slice(&h.event_size().to_le_bytes());
    b[13..17].copy_from_slice(&h.log_pos().to_le_bytes());
    b[17..19].copy_from_slice(&h.flags_raw().to_le_bytes());
    b
}

fn crc(header: &[u8; 19], data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(header);
    h.update(data);
    h.finalize()
}

/// How long a dump connection may stay silent before the reader takes it for dead and
/// reconnects: ten heartbeats, at least 10 s. A server that is only busy (writing a huge
/// transaction into its binlog) costs a reconnect at worst; a half-open connection to a
/// server that still answers new connections is not waited on forever.
fn dead_connection_after(heartbeat: Duration) -> Duration {
    (heartbeat * 10).max(Duration::from_secs(10))
}

/// Streams transactions from `resume` into a channel until cancelled (or, with
/// `non_blocking`, until the end of the binlog). A full channel blocks reading
/// (backpressure); a closed one stops the reader.
pub struct Reader {
    pub source: SourceConfig,
    pub info: ServerInfo,
    pub decoder: Decoder,
    pub resume: ResumePoint,
    pub non_blocking: bool,
    /// The start was given as a GTID and no file position is known yet: the first dump
    /// must go by GTID even when `gtid_mode` is off.
    gtid_only: bool,
    /// KiB of JSON handed on and not yet dropped by the sink (see [`QUEUE_KIB`]).
    queue: Arc<Semaphore>,
    /// Told of every event received (the stall watchdog's view of the source).
    pub progress: Option<Arc<crate::progress::Progress>>,
    /// Where the schema history is stored (none: it lives only as long as this reader).
    history: Option<super::history::Keeper>,
    /// Stamped on every transaction handed on ([`Transaction::segment`]).
    pub segment: u32,
}

/// KiB of transactions the reader may have handed on that the sink has not finished with:
/// with the decoder's memory limit this bounds a node's memory for transactions of any size.
pub const QUEUE_KIB: usize = 64 << 10;

impl Reader {
    /// Connects, checks the server and resolves `start`; the schema at the start comes from
    /// `history`'s store when it holds it (see [`super::history`]).
    pub async fn open(source: SourceConfig, cfg: DecoderConfig, start: &StartPosition, mut history: Option<super::history::Keeper>) -> Result<Self, ReaderError> {
        let mut conn = source.connect().await?;
        let info = check_server(&mut conn).await?;
        let collations = load_collations(&mut conn).await?;
        let json = load_json_columns(&mut conn, info.flavor).await?;
        let resume = resolve_start(&mut conn, &info, start).await?;
        let (schema, schema_id) = super::history::schema_at_start(&mut conn, &info, &resume, history.as_mut(), cfg.output.schema_id).await?;
        let _ = conn.disconnect().await;
        let mut cfg = cfg;
        cfg.rules = crate::binlog::schema::MetadataRules { mariadb: info.flavor == Flavor::MariaDb };
        let mut decoder = Decoder::new(cfg, collations);
        decoder.set_json_columns(json);
        decoder.set_schema_id(schema_id);
        if let Some(schema) = schema {
            decoder.set_history(schema, !info.full_metadata());
        }
        // Started by GTID (given, or a checked position that belongs to another server).
        let gtid_only = match start {
            StartPosition::Gtid(_) => true,
            StartPosition::Checked { position, .. } => resume.position != *position,
            _ => false,
        };
        Ok(Self { source, info, decoder, resume, non_blocking: false, gtid_only, queue: Arc::new(Semaphore::new(QUEUE_KIB)), progress: None, history, segment: 0 })
    }

    /// Reads on without storing schema changes: a second reading of a range whose changes
    /// are stored already (a bootstrap's held rows, read again).
    pub fn forget_history(&mut self) {
        self.history = None;
    }

    /// Notes which server a new connection reached. A different server than before is
    /// followed by GTID (file positions are per server): `Ok(true)`; without a GTID to
    /// resume from that is a definite error, as nothing could tell where to continue.
    async fn check_identity(&mut self, conn: &mut Conn) -> Result<bool, ReaderError> {
        let id: Option<u32> = conn.query_first("SELECT @@server_id").await.map_err(|e| classify(e, "reading the source's server_id"))?;
        let id = id.unwrap_or(0);
        let here = self.source.current();
        let changed = id != self.info.server_id;
        if changed {
            let Some(g) = &self.resume.gtid else {
                return Err(ReaderError::Definite(format!(
                    "the source changed from server_id {} to server_id {id} ({here}) and no GTID is known to resume from: file positions differ between servers. Enable GTIDs on the sources (MariaDB has them always; MySQL: gtid_mode=ON) and restart with init_position set to the GTID set reached",
                    self.info.server_id
                )));
            };
            tracing::warn!(from = self.info.server_id, to = id, at = %here, gtid = %g, "the source server changed; continuing by GTID");
            crate::metrics::get().source_changes.inc();
            self.info.server_id = id;
            self.gtid_only = true;
        }
        let mut st = crate::metrics::status();
        let now = format!("{here} (server_id {id})");
        if changed || st.source.as_deref() != Some(now.as_str()) {
            st.source = Some(now);
            st.source_since_ms = Some(crate::metrics::now_ms());
        }
        Ok(changed)
    }

    async fn request(&mut self, by_gtid: bool) -> Result<mysql_async::BinlogStream, ReaderError> {
        let mut conn = self.source.connect().await?;
        let by_gtid = self.check_identity(&mut conn).await? || by_gtid;
        let q = |e| classify(e, "preparing the binlog dump");
        let hb = self.source.heartbeat.as_nanos().min(u32::MAX as u128 * 1_000_000) as u64;
        conn.query_drop(format!("SET @master_heartbeat_period={hb}")).await.map_err(q)?;
        let file = self.resume.position.file.clone().into_bytes();
        let mut req = super::dump::base_request(self.source.server_id, self.info.flavor, self.non_blocking, self.decoder.row_query());
        match self.info.flavor {
            Flavor::MariaDb => {
                conn.query_drop("SET @mariadb_slave_capability=4").await.map_err(q)?;
                if by_gtid {
                    let g = self.resume.gtid.as_ref().map(|g| g.to_string()).unwrap_or_default();
                    conn.query_drop(format!("SET @slave_connect_state='{g}'")).await.map_err(q)?;
                    conn.query_drop("SET @slave_gtid_strict_mode=1").await.map_err(q)?;
                    conn.query_drop("SET @slave_gtid_ignore_duplicates=0").await.map_err(q)?;
                    return conn.get_binlog_stream(req.with_filename(b"").with_pos(4)).await.map_err(|e| classify(e, "requesting the binlog"));
                }
            }
            Flavor::MySql => {
                if let (true, Some(GtidSet::Mysql(set))) = (by_gtid, &self.resume.gtid) {
                    let sids = super::mysql_dump::sids(set);
                    req = req.with_gtid().with_gtid_set(sids).with_filename(b"").with_pos(4);
                    return conn.get_binlog_stream(req).await.map_err(|e| classify(e, "requesting the binlog"));
                }
            }
        }
        conn.get_binlog_stream(req.with_filename(&file).with_pos(self.resume.position.pos))
            .await
            .map_err(|e| classify(e, "requesting the binlog"))
    }

    /// Runs one dump connection. Returns `Ok(true)` when the stream ended (server shutdown or
    /// end of binlog in non-blocking mode), `Ok(false)` when stopped by `on_item`/`cancel`.
    pub async fn run_once(
        &mut self,
        by_gtid: bool,
        cancel: &CancellationToken,
        out: &mpsc::Sender<Transaction>,
    ) -> Result<bool, ReaderError> {
        let mut stream = self.request(by_gtid).await?;
        self.decoder.restart_at(&self.resume.position.file, self.resume.gtid.clone());
        let mut seen_fde = false;
        let idle = dead_connection_after(self.source.heartbeat);
        let progress = self.progress.clone();
        loop {
            // Silence counts only while waiting on the source, not while the sink holds us up.
            if let Some(p) = &progress {
                p.source_alive();
            }
            let next = tokio::select! {
                biased;
                _ = cancel.cancelled(), if !self.decoder.in_transaction() => return Ok(false),
                n = tokio::time::timeout(idle, stream.next()) => n,
            };
            let event = match next {
                Err(_) => {
                    return Err(ReaderError::Transient(format!(
                        "no binlog event or heartbeat on the dump connection for {} s (heartbeats every {} ms): the connection is taken for dead",
                        idle.as_secs(),
                        self.source.heartbeat.as_millis()
                    )))
                }
                Ok(None) => return Ok(true),
                Ok(Some(Err(e))) => return Err(classify(e, "reading the binlog")),
                Ok(Some(Ok(e))) => e,
            };
            if let Some(p) = &self.progress {
                p.source_alive();
            }
            let h = event.header();
            let mut data = event.data();
            let header = header_bytes(&h);
            if h.event_type_raw() == ev::FORMAT_DESCRIPTION {
                seen_fde = true;
            } else if let Some(sum) = event.checksum() {
                if crc(&header, data) != u32::from_le_bytes(sum) {
                    return Err(ReaderError::Definite(format!(
                        "CRC32 mismatch in event type {} ending at {}:{}: the binlog bytes are corrupt",
                        h.event_type_raw(),
                        self.decoder.current_file(),
                        h.log_pos()
                    )));
                }
            } else if !seen_fde && h.event_type_raw() == ev::ROTATE && data.len() > 12 {
                // The first ROTATE precedes the FDE, so its checksum is still glued on.
                let (body, tail) = data.split_at(data.len() - 4);
                if crc(&header, body) == u32::from_le_bytes(tail.try_into().unwrap()) {
                    data = body;
                }
            }
            let raw = RawEvent {
                type_code: h.event_type_raw(),
                timestamp: h.timestamp(),
                server_id: h.server_id(),
                log_pos: h.log_pos(),
                flags: h.flags_raw(),
                data,
            };
            tracing::trace!(event_type = raw.type_code, log_pos = raw.log_pos, len = raw.data.len(), "event");
            if raw.type_code == ev::HEARTBEAT {
                crate::metrics::get().heartbeat();
                continue; // an idle stream is alive; nothing to decode
            }
            if let Some(tx) = self.decoder.handle(&raw)? {
                // Handing on (reading a spilled transaction back, waiting for the sink) is
                // not waiting on the source.
                let _busy = progress.as_deref().map(crate::progress::Progress::busy);
                let refresh = tx.schema_changed;
                // Stored before the transaction ending with it is handed on (and so before a
                // resume point after it can be committed).
                if let Some(event) = self.decoder.take_history_event() {
                    if let Some(keeper) = self.history.as_mut() {
                        let at = super::history::mark(&tx.resume_point(), self.info.server_id);
                        if !keeper.record(event, at, self.decoder.history(), cancel).await? {
                            return Ok(false);
                        }
                    }
                }
                // A spilled transaction comes in parts; only the last is a resume point.
                let mut next = Some(tx);
                while let Some(mut tx) = next {
                    tx.source_server_id = self.info.server_id;
                    tx.segment = self.segment;
                    let done = tx.ends_transaction();
                    if done {
                        self.resume = tx.resume_point();
                        self.gtid_only = false;
                    }
                    let kib = (tx.json.len().div_ceil(1024) as u32).clamp(1, QUEUE_KIB as u32);
                    // Waiting for room ends with a cancel too (the stream restarts its reader
                    // while it reads nothing; what this reader read is dropped then).
                    let permit = tokio::select! {
                        p = self.queue.clone().acquire_many_owned(kib) => p,
                        _ = cancel.cancelled() => return Ok(false),
                    };
                    let Ok(permit) = permit else { return Ok(false) };
                    tx.queued = Some(Arc::new(permit));
                    let sent = tokio::select! {
                        r = out.send(tx) => r.is_ok(),
                        _ = cancel.cancelled() => false,
                    };
                    if !sent {
                        return Ok(false);
                    }
                    next = if done { None } else { self.decoder.next_part()? };
                }
                if refresh {
                    drop(_busy);
                    let mut conn = self.source.connect().await?;
                    let json = load_json_columns(&mut conn, self.info.flavor).await?;
                    let _ = conn.disconnect().await;
                    self.decoder.set_json_columns(json);
                }
            } else if raw.type_code == ev::ROTATE && !self.decoder.in_transaction() && raw.log_pos != 0 && raw.flags & 0x20 == 0 {
                // A real rotate between transactions: the next file's start is a boundary.
                let mut r = crate::binlog::bytes::Reader::new(raw.data);
                let pos = r.u64().unwrap_or(4);
                self.resume.position = BinlogPosition::new(self.decoder.current_file().to_string(), pos);
            }
        }
    }

    /// Streams until cancelled, reconnecting with backoff after transient failures.
    pub async fn run(
        &mut self,
        use_gtid: bool,
        cancel: &CancellationToken,
        out: &mpsc::Sender<Transaction>,
    ) -> Result<(), ReaderError> {
        let mut backoff = Duration::from_millis(100);
        loop {
            let before = self.resume.clone();
            let by_gtid = (use_gtid || self.gtid_only) && self.resume.gtid.is_some();
            match self.run_once(by_gtid, cancel, out).await {
                Ok(false) => return Ok(()),
                Ok(true) if self.non_blocking => return Ok(()),
                Ok(true) => {
                    tracing::warn!(position = %self.resume.position, "binlog stream ended (server shutdown?); reconnecting");
                }
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, position = %self.resume.position, retry_in_ms = backoff.as_millis() as u64, "binlog connection failed; reconnecting");
                }
                Err(e) => return Err(e),
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = if self.resume != before { Duration::from_millis(100) } else { (backoff * 2).min(Duration::from_secs(5)) };
        }
    }
}
