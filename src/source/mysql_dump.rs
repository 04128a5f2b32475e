//! MySQL's GTID specifics: the dump request (COM_BINLOG_DUMP_GTID: our GTID set → the
//! driver's SID list) and the GTID set at a file position (MySQL has no `BINLOG_GTID_POS`).
//!
//! Invariants:
//! - The driver's intervals are end-exclusive on the wire; ours are inclusive, so every end is
//!   shifted by one here and nowhere else. The byte layout itself is pinned by the SID-block
//!   test in `gtid.rs`.
//! - The set at `file:pos` (a transaction boundary) is the file's `Previous_gtids` plus every
//!   `Gtid` event that starts before `pos`: a start from a file position carries the server's
//!   whole history, not only the GTIDs seen since, so a later resume by GTID (another server,
//!   `gtid_mode`) neither re-reads nor skips.

use crate::binlog::gtid::{MysqlGtidSet, Sid as SourceId};
use mysql_async::prelude::Queryable;
use mysql_async::{GnoInterval, Sid};

pub fn sids(set: &MysqlGtidSet) -> Vec<Sid<'static>> {
    set.iter()
        .map(|(sid, ivs)| Sid::new(sid.0).with_intervals(ivs.iter().map(|&(s, e)| GnoInterval::new(s, e + 1)).collect()))
        .collect()
}

/// The GTID set of the server at `pos` of binlog `file` (see the module's invariants), read
/// with `SHOW BINLOG EVENTS`; `None` when the file has no GTIDs at all (gtid_mode OFF).
pub async fn gtid_at(conn: &mut mysql_async::Conn, file: &str, pos: u64) -> Result<Option<MysqlGtidSet>, super::reader::ReaderError> {
    let q = |e| super::reader::classify(e, "reading the GTID set at the start position (SHOW BINLOG EVENTS)");
    let sql = format!("SHOW BINLOG EVENTS IN '{}'", file.replace(['\\', '\''], ""));
    let mut rows = conn.query_iter(sql).await.map_err(q)?;
    let mut events = Vec::new();
    while let Some(row) = rows.next().await.map_err(q)? {
        let start: Option<u64> = row.get("Pos");
        let kind: Option<String> = row.get("Event_type");
        let info: Option<String> = row.get("Info");
        if let (Some(start), Some(kind)) = (start, kind) {
            if start < pos && matches!(kind.as_str(), "Previous_gtids" | "Gtid") {
                events.push((start, kind, info.unwrap_or_default()));
            }
        }
    }
    drop(rows);
    gtid_from_events(&events, pos).map_err(super::reader::ReaderError::Definite)
}

/// The set at `pos` from `SHOW BINLOG EVENTS` rows (start position, event type, info).
pub fn gtid_from_events(events: &[(u64, String, String)], pos: u64) -> Result<Option<MysqlGtidSet>, String> {
    let mut set = MysqlGtidSet::default();
    let mut any = false;
    for (start, kind, info) in events.iter().filter(|e| e.0 < pos) {
        let bad = |why: &str| format!("cannot read the GTID of the event at {start} ({kind}: {info:?}): {why}");
        match kind.as_str() {
            "Previous_gtids" => {
                any = true;
                let text: String = info.chars().filter(|c| !c.is_whitespace()).collect();
                if !text.is_empty() {
                    set = set.union(&text.parse().map_err(|e| bad(&format!("{e}")))?);
                }
            }
            "Gtid" => {
                any = true;
                // SET @@SESSION.GTID_NEXT= 'uuid:gno'
                let quoted = info.split('\'').nth(1).ok_or_else(|| bad("no quoted GTID"))?;
                let (sid, gno) = quoted.rsplit_once(':').ok_or_else(|| bad("no ':' in the GTID"))?;
                let sid: SourceId = sid.parse().map_err(|e| bad(&format!("{e}")))?;
                let gno: u64 = gno.parse().map_err(|_| bad("the transaction number is not a number"))?;
                if gno == 0 {
                    return Err(bad("transaction number 0"));
                }
                set.add(sid, gno);
            }
            _ => {}
        }
    }
    Ok((any && !set.is_empty()).then_some(set))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows as MySQL 8.0 prints them for a file that follows two earlier ones.
    #[test]
    fn the_set_at_a_position_is_previous_gtids_plus_the_gtids_before_it() {
        let u1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let u2 = "8a94f357-aab4-11df-86ab-c80aa9429563";
        let ev = |start: u64, kind: &str, info: String| (start, kind.to_string(), info);
        let events = vec![
            ev(4, "Format_desc", "Server ver: 8.0.36, Binlog ver: 4".into()),
            ev(126, "Previous_gtids", format!("{u1}:1-5,\n{u2}:1-2")),
            ev(197, "Gtid", format!("SET @@SESSION.GTID_NEXT= '{u1}:6'")),
            ev(276, "Query", "BEGIN".into()),
            ev(351, "Xid", "COMMIT /* xid=12 */".into()),
            ev(382, "Gtid", format!("SET @@SESSION.GTID_NEXT= '{u2}:3'")),
            ev(461, "Query", "BEGIN".into()),
            ev(540, "Xid", "COMMIT /* xid=13 */".into()),
        ];
        let at = |pos| gtid_from_events(&events, pos).unwrap().map(|s| s.to_string());
        assert_eq!(at(197).unwrap(), format!("{u1}:1-5,{u2}:1-2"), "the file's start: its Previous_gtids");
        assert_eq!(at(382).unwrap(), format!("{u1}:1-6,{u2}:1-2"));
        assert_eq!(at(571).unwrap(), format!("{u1}:1-6,{u2}:1-3"));
        // The first file of a server with GTIDs on: an empty Previous_gtids.
        let first = vec![ev(126, "Previous_gtids", String::new()), ev(157, "Gtid", format!("SET @@SESSION.GTID_NEXT= '{u1}:1'"))];
        assert_eq!(gtid_from_events(&first, 157).unwrap(), None, "nothing executed yet");
        assert_eq!(gtid_from_events(&first, 300).unwrap().unwrap().to_string(), format!("{u1}:1"));
        // GTIDs off: anonymous transactions only.
        let off = vec![ev(126, "Previous_gtids", String::new()), ev(157, "Anonymous_Gtid", "SET @@SESSION.GTID_NEXT= 'ANONYMOUS'".into())];
        assert_eq!(gtid_from_events(&off, 400).unwrap(), None);
        let bad = vec![ev(157, "Gtid", "SET @@SESSION.GTID_NEXT= 'nonsense'".into())];
        assert!(gtid_from_events(&bad, 400).unwrap_err().contains("event at 157"));
    }

    #[test]
    fn intervals_become_end_exclusive() {
        let set: MysqlGtidSet = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7".parse().unwrap();
        let s = sids(&set);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].uuid()[0], 0x3e);
        let iv: Vec<(u64, u64)> = s[0].intervals().iter().map(|i| (i.start(), i.end())).collect();
        assert_eq!(iv, vec![(1, 6), (7, 8)]);
    }
}
