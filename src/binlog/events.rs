//! One binlog event's body → what it says: the per-event parsing, apart from the state
//! machine that strings events into transactions (`crate::source::decoder`).
//!
//! Invariants:
//! - [`Event::parse`] reads only the event's own bytes and keeps no state; a body too short
//!   for its type is [`Corrupt`], naming the event type, never a panic.
//! - Row and TABLE_MAP events are only classified here: their bodies are parsed by
//!   [`super::rows`] and [`super::schema`] where they are used, so row images are decoded in
//!   place, once.
//! - An event this program cannot follow (compressed, encrypted, partial JSON, an incident)
//!   is classified so that the caller stops with a message saying what to change.

use super::bytes::Reader;
use super::gtid::{MariaGtid, MariaGtidSet, MysqlGtidSet, Sid};
use std::borrow::Cow;

/// Event type codes (MySQL's `Log_event_type`, MariaDB's additions from 160).
pub mod ev {
    pub const QUERY: u8 = 2;
    pub const STOP: u8 = 3;
    pub const ROTATE: u8 = 4;
    pub const FORMAT_DESCRIPTION: u8 = 15;
    pub const XID: u8 = 16;
    pub const TABLE_MAP: u8 = 19;
    pub const INCIDENT: u8 = 26;
    pub const HEARTBEAT: u8 = 27;
    pub const ROWS_QUERY: u8 = 29;
    pub const GTID_MYSQL: u8 = 33;
    pub const ANONYMOUS_GTID: u8 = 34;
    pub const PREVIOUS_GTIDS: u8 = 35;
    pub const XA_PREPARE: u8 = 38;
    pub const PARTIAL_UPDATE_ROWS: u8 = 39;
    pub const ANNOTATE_ROWS: u8 = 160;
    pub const BINLOG_CHECKPOINT: u8 = 161;
    pub const GTID_MARIA: u8 = 162;
    pub const GTID_LIST: u8 = 163;
    pub const START_ENCRYPTION: u8 = 164;
    pub const QUERY_COMPRESSED: u8 = 165;
}

/// One event as the decoder needs it: header fields and the body without checksum.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    pub type_code: u8,
    pub timestamp: u32,
    pub server_id: u32,
    /// Offset just after this event in its binlog file (0 for artificial events).
    pub log_pos: u32,
    pub flags: u16,
    pub data: &'a [u8],
}

/// An event whose body is shorter than its type needs; names the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

/// A QUERY event: the statement and where it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query<'a> {
    pub thread_id: u32,
    /// The default database the statement ran in.
    pub database: Cow<'a, str>,
    /// The statement, without trailing NULs.
    pub sql: Cow<'a, str>,
}

/// What one event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// WRITE/UPDATE/DELETE_ROWS (v1, v2): parse the body with [`super::rows::parse_rows_event`].
    Rows,
    /// TABLE_MAP: parse the body with [`super::schema::parse_table_map`].
    TableMap,
    /// A transaction's commit, with its XID.
    Xid(u64),
    Query(Query<'a>),
    /// A MariaDB GTID: a transaction starts.
    MariaGtid(MariaGtid),
    /// A MySQL GTID: a transaction starts.
    MysqlGtid(Sid, u64),
    /// MySQL: the GTID set before this file.
    PreviousGtids(MysqlGtidSet),
    /// MariaDB: the GTID state before this file.
    GtidList(MariaGtidSet),
    /// The next events come from `file`; `new_file` unless the rotate is artificial (sent
    /// when a dump starts) or a relay log's, so that table ids (per file) start over.
    Rotate { file: String, new_file: bool },
    /// The statement that produced the next rows (MariaDB's ANNOTATE_ROWS, MySQL's ROWS_QUERY).
    RowsQuery(String),
    /// XA PREPARE: the prepared transaction's events are complete.
    XaPrepare,
    /// The source logged an INCIDENT: changes may be missing.
    Incident,
    /// An event this program cannot follow; says what to change on the server.
    Unsupported(&'static str),
    /// Nothing to act on: format description, heartbeats, checkpoints, anonymous GTIDs, STOP, …
    Other,
}

impl<'a> Event<'a> {
    /// What `ev` says.
    pub fn parse(ev: &RawEvent<'a>) -> Result<Self, Corrupt> {
        use ev::*;
        let mut r = Reader::new(ev.data);
        let short = |what: &'static str| move || Corrupt(what);
        Ok(match ev.type_code {
            23..=25 | 30..=32 => Event::Rows,
            TABLE_MAP => Event::TableMap,
            XID => Event::Xid(r.u64().ok_or_else(short("XID"))?),
            QUERY => Event::Query(parse_query(&mut r).ok_or(Corrupt("QUERY"))?),
            GTID_MARIA => {
                let seq = r.u64().ok_or_else(short("GTID"))?;
                let domain = r.u32().ok_or_else(short("GTID"))?;
                Event::MariaGtid(MariaGtid { domain, server: ev.server_id, seq })
            }
            GTID_MYSQL => {
                r.u8().ok_or_else(short("GTID"))?;
                let sid: [u8; 16] = r.take(16).ok_or_else(short("GTID"))?.try_into().expect("16 bytes");
                let gno = r.u64().ok_or_else(short("GTID"))?;
                Event::MysqlGtid(Sid(sid), gno)
            }
            PREVIOUS_GTIDS => Event::PreviousGtids(MysqlGtidSet::decode_sid_block(ev.data).map_err(|_| Corrupt("PREVIOUS_GTIDS"))?),
            GTID_LIST => {
                let n = r.u32().ok_or_else(short("GTID_LIST"))? & 0x0fff_ffff;
                let mut set = MariaGtidSet::default();
                for _ in 0..n {
                    let domain = r.u32().ok_or_else(short("GTID_LIST"))?;
                    let server = r.u32().ok_or_else(short("GTID_LIST"))?;
                    let seq = r.u64().ok_or_else(short("GTID_LIST"))?;
                    set.add(MariaGtid { domain, server, seq });
                }
                Event::GtidList(set)
            }
            ROTATE => {
                r.u64().ok_or_else(short("ROTATE"))?;
                let file = String::from_utf8_lossy(r.rest()).into_owned();
                Event::Rotate { file, new_file: ev.log_pos != 0 && ev.flags & 0x20 == 0 }
            }
            ANNOTATE_ROWS => Event::RowsQuery(String::from_utf8_lossy(ev.data).into_owned()),
            ROWS_QUERY => match ev.data.get(1..) {
                Some(b) => Event::RowsQuery(String::from_utf8_lossy(b).into_owned()),
                None => Event::Other,
            },
            XA_PREPARE => Event::XaPrepare,
            INCIDENT => Event::Incident,
            QUERY_COMPRESSED | 166..=171 => {
                Event::Unsupported("the server writes compressed binlog events (log_bin_compress=ON); set log_bin_compress=OFF")
            }
            START_ENCRYPTION => Event::Unsupported("the binlog is encrypted on disk and the server sent an encryption event; this is not supported"),
            PARTIAL_UPDATE_ROWS => {
                Event::Unsupported("partial JSON updates (binlog_row_value_options=PARTIAL_JSON) are not supported; set binlog_row_value_options=''")
            }
            _ => Event::Other,
        })
    }
}

/// A QUERY event's body: thread id, execution time, database name length, error code,
/// status variables (skipped), the database name and a NUL, then the statement.
fn parse_query<'a>(r: &mut Reader<'a>) -> Option<Query<'a>> {
    let thread_id = r.u32()?;
    r.u32()?;
    let database_len = r.u8()? as usize;
    r.u16()?;
    let status_len = r.u16()? as usize;
    r.take(status_len)?;
    let database = String::from_utf8_lossy(r.take(database_len)?);
    r.u8()?;
    let mut sql = r.rest();
    while let [rest @ .., 0] = sql {
        sql = rest;
    }
    Some(Query { thread_id, database, sql: String::from_utf8_lossy(sql) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(type_code: u8, log_pos: u32, flags: u16, data: &[u8]) -> RawEvent<'_> {
        RawEvent { type_code, timestamp: 1, server_id: 7, log_pos, flags, data }
    }

    fn query_body(sql: &str, db: &str) -> Vec<u8> {
        let mut b = 42u32.to_le_bytes().to_vec();
        b.extend_from_slice(&0u32.to_le_bytes());
        b.push(db.len() as u8);
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&[9, 9]);
        b.extend_from_slice(db.as_bytes());
        b.push(0);
        b.extend_from_slice(sql.as_bytes());
        b.push(0);
        b
    }

    #[test]
    fn a_query_event_gives_its_thread_database_and_statement() {
        let body = query_body("CREATE TABLE t (i int)", "shop");
        let Event::Query(q) = Event::parse(&raw(ev::QUERY, 10, 0, &body)).unwrap() else { panic!("not a query") };
        assert_eq!((q.thread_id, &*q.database, &*q.sql), (42, "shop", "CREATE TABLE t (i int)"));
        assert_eq!(Event::parse(&raw(ev::QUERY, 10, 0, &body[..12])), Err(Corrupt("QUERY")));
    }

    #[test]
    fn gtids_rotates_and_what_cannot_be_followed() {
        let mut g = 5u64.to_le_bytes().to_vec();
        g.extend_from_slice(&3u32.to_le_bytes());
        assert_eq!(Event::parse(&raw(ev::GTID_MARIA, 10, 0, &g)), Ok(Event::MariaGtid(MariaGtid { domain: 3, server: 7, seq: 5 })));
        assert_eq!(Event::parse(&raw(ev::GTID_MARIA, 10, 0, &g[..4])), Err(Corrupt("GTID")));
        let mut m = vec![1u8];
        m.extend_from_slice(&[0xab; 16]);
        m.extend_from_slice(&9u64.to_le_bytes());
        assert_eq!(Event::parse(&raw(ev::GTID_MYSQL, 10, 0, &m)), Ok(Event::MysqlGtid(Sid([0xab; 16]), 9)));
        let mut rot = 4u64.to_le_bytes().to_vec();
        rot.extend_from_slice(b"mysql-bin.000002");
        assert_eq!(Event::parse(&raw(ev::ROTATE, 0, 0, &rot)), Ok(Event::Rotate { file: "mysql-bin.000002".into(), new_file: false }));
        assert_eq!(Event::parse(&raw(ev::ROTATE, 99, 0, &rot)), Ok(Event::Rotate { file: "mysql-bin.000002".into(), new_file: true }));
        assert_eq!(Event::parse(&raw(ev::XID, 10, 0, &77u64.to_le_bytes())), Ok(Event::Xid(77)));
        assert!(matches!(Event::parse(&raw(ev::QUERY_COMPRESSED, 10, 0, &[])), Ok(Event::Unsupported(m)) if m.contains("log_bin_compress=OFF")));
        assert_eq!(Event::parse(&raw(ev::HEARTBEAT, 10, 0, &[])), Ok(Event::Other));
    }
}
