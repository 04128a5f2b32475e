//! MySQL's GTID dump request (COM_BINLOG_DUMP_GTID): our GTID set → the driver's SID list.
//!
//! Invariant: the driver's intervals are end-exclusive on the wire; ours are inclusive, so
//! every end is shifted by one here and nowhere else. The byte layout itself is pinned by the
//! SID-block test in `gtid.rs`.

use super::gtid::MysqlGtidSet;
use mysql_async::{GnoInterval, Sid};

pub fn sids(set: &MysqlGtidSet) -> Vec<Sid<'static>> {
    set.iter()
        .map(|(sid, ivs)| Sid::new(sid.0).with_intervals(ivs.iter().map(|&(s, e)| GnoInterval::new(s, e + 1)).collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
