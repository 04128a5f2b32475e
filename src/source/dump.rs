//! The dump request's flags: what the replication connection asks the server to send.
//!
//! Invariants:
//! - `output_row_query` on MariaDB sets `BINLOG_SEND_ANNOTATE_ROWS_EVENT` (2): MariaDB sends
//!   ANNOTATE_ROWS events (the statement before its row events) only to a replica that asks
//!   for them, even with `binlog_annotate_row_events=ON`.
//! - That bit is never sent to MySQL, where 2 is `BINLOG_THROUGH_POSITION`; MySQL sends its
//!   ROWS_QUERY events unasked whenever `binlog_rows_query_log_events=ON`.
//! - Without `output_row_query` nothing more is asked than before: no statement text crosses
//!   the wire that no row would carry.
//! - Flag 2 reaches the wire only through the patched `mysql_async` (`third_party/`,
//!   `BinlogStreamRequest::with_flags`); the tests below read the command's bytes.

use super::reader::Flavor;
use mysql_async::{BinlogDumpFlags, BinlogStreamRequest};

/// MariaDB's `BINLOG_SEND_ANNOTATE_ROWS_EVENT` (the driver names the same bit after MySQL's
/// meaning, `BINLOG_THROUGH_POSITION`).
pub const MARIADB_SEND_ANNOTATE_ROWS: BinlogDumpFlags = BinlogDumpFlags::from_bits_retain(2);

/// The request every dump starts from; the caller adds the file, position or GTID set.
pub fn base_request(server_id: u32, flavor: Flavor, non_blocking: bool, row_query: bool) -> BinlogStreamRequest<'static> {
    let mut req = BinlogStreamRequest::new(server_id);
    if non_blocking {
        req = req.with_non_blocking();
    }
    if row_query && flavor == Flavor::MariaDb {
        req = req.with_flags(MARIADB_SEND_ANNOTATE_ROWS);
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_async::Sid;

    /// COM_BINLOG_DUMP: command 0x12, pos u32, flags u16, server_id u32, file name.
    fn dump_flags(req: &BinlogStreamRequest<'_>) -> u16 {
        let b = req.dump_command_bytes();
        assert_eq!(b[0], 0x12, "COM_BINLOG_DUMP");
        u16::from_le_bytes([b[5], b[6]])
    }

    #[test]
    fn mariadb_asks_for_annotate_rows_only_with_output_row_query() {
        let req = base_request(7, Flavor::MariaDb, false, true).with_filename(b"mysql-bin.000003").with_pos(1234);
        let b = req.dump_command_bytes();
        assert_eq!(u32::from_le_bytes(b[1..5].try_into().unwrap()), 1234);
        assert_eq!(u32::from_le_bytes(b[7..11].try_into().unwrap()), 7);
        assert_eq!(&b[11..], b"mysql-bin.000003");
        assert_eq!(dump_flags(&req), 2);
        // Non-blocking keeps both bits, in either order of the builder calls.
        assert_eq!(dump_flags(&base_request(7, Flavor::MariaDb, true, true)), 3);
        assert_eq!(dump_flags(&base_request(7, Flavor::MariaDb, false, true).with_non_blocking()), 3);
        // By GTID, MariaDB still uses COM_BINLOG_DUMP (empty name, position 4).
        assert_eq!(dump_flags(&base_request(7, Flavor::MariaDb, false, true).with_filename(b"").with_pos(4)), 2);
        assert_eq!(dump_flags(&base_request(7, Flavor::MariaDb, false, false)), 0);
        assert_eq!(dump_flags(&base_request(7, Flavor::MariaDb, true, false)), 1);
    }

    #[test]
    fn mysql_never_gets_bit_2() {
        assert_eq!(dump_flags(&base_request(7, Flavor::MySql, false, true)), 0);
        assert_eq!(dump_flags(&base_request(7, Flavor::MySql, true, true)), 1);
        // COM_BINLOG_DUMP_GTID: command 0x1e, flags u16 first.
        let sid = Sid::new([1; 16]).with_interval(mysql_async::GnoInterval::new(1, 5));
        let req = base_request(7, Flavor::MySql, false, true).with_gtid().with_gtid_set(vec![sid]).with_filename(b"").with_pos(4);
        let b = req.dump_command_bytes();
        assert_eq!(b[0], 0x1e, "COM_BINLOG_DUMP_GTID");
        assert_eq!(u16::from_le_bytes([b[1], b[2]]), 4, "BINLOG_THROUGH_GTID only");
    }
}
