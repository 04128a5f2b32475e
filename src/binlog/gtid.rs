//! GTIDs and GTID sets for both server families, as value types.
//!
//! - MariaDB: a GTID is `domain-server-seq`; a position is at most one GTID per replication
//!   domain (`0-1-100,1-2-7`). In strict mode sequence numbers grow per domain, so a GTID is
//!   *contained* when its sequence number is ≤ the domain's entry.
//! - MySQL: a GTID is `uuid:gno`; a set is `uuid:1-5:7,uuid2:1-3` (ranges inclusive in text).
//!   Intervals are kept sorted, non-overlapping and non-adjacent (merged), so equal sets have
//!   equal text.
//!
//! Invariants: `Display` and `FromStr` round-trip; `union` is commutative; every member of
//! either operand is contained in the union. The MySQL wire form (the SID block of
//! COM_BINLOG_DUMP_GTID and PREVIOUS_GTIDS events) uses *exclusive* interval ends.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid GTID {input:?}: {reason} (expected MariaDB `0-1-100[,1-2-7]` or MySQL `uuid:1-5[:7][,uuid:…]`)")]
pub struct GtidParseError {
    pub input: String,
    pub reason: String,
}

fn perr(input: &str, reason: impl Into<String>) -> GtidParseError {
    GtidParseError { input: input.to_string(), reason: reason.into() }
}

/// One MariaDB GTID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MariaGtid {
    pub domain: u32,
    pub server: u32,
    pub seq: u64,
}

impl fmt::Display for MariaGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.seq)
    }
}

impl FromStr for MariaGtid {
    type Err = GtidParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut it = s.trim().split('-');
        let mut next = |what: &str| -> Result<&str, GtidParseError> {
            it.next().filter(|p| !p.is_empty()).ok_or_else(|| perr(s, format!("missing {what}")))
        };
        let domain = next("domain")?.parse().map_err(|_| perr(s, "domain is not a u32"))?;
        let server = next("server id")?.parse().map_err(|_| perr(s, "server id is not a u32"))?;
        let seq = next("sequence number")?.parse().map_err(|_| perr(s, "sequence is not a u64"))?;
        if it.next().is_some() {
            return Err(perr(s, "too many '-' parts"));
        }
        Ok(Self { domain, server, seq })
    }
}

/// A MariaDB GTID position: the last GTID applied in each domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MariaGtidSet {
    domains: BTreeMap<u32, MariaGtid>,
}

impl MariaGtidSet {
    /// Records `g` as applied: it becomes its domain's entry when newer.
    pub fn add(&mut self, g: MariaGtid) {
        let e = self.domains.entry(g.domain).or_insert(g);
        if g.seq >= e.seq {
            *e = g;
        }
    }
    pub fn contains(&self, g: &MariaGtid) -> bool {
        self.domains.get(&g.domain).is_some_and(|e| g.seq <= e.seq)
    }
    pub fn union(&self, other: &Self) -> Self {
        let mut out = self.clone();
        for g in other.domains.values() {
            out.add(*g);
        }
        out
    }
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &MariaGtid> {
        self.domains.values()
    }
}

impl fmt::Display for MariaGtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.domains.values().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{g}")?;
        }
        Ok(())
    }
}

impl FromStr for MariaGtidSet {
    type Err = GtidParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut set = Self::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let g: MariaGtid = part.parse()?;
            if set.domains.contains_key(&g.domain) {
                return Err(perr(s, format!("domain {} appears twice", g.domain)));
            }
            set.add(g);
        }
        Ok(set)
    }
}

/// A MySQL server UUID (source id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid(pub [u8; 16]);

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for Sid {
    type Err = GtidParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex: Vec<u8> = s.trim().bytes().filter(|&c| c != b'-').collect();
        if hex.len() != 32 {
            return Err(perr(s, "a server uuid has 32 hex digits"));
        }
        let mut out = [0u8; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            let txt = std::str::from_utf8(pair).map_err(|_| perr(s, "uuid is not hex"))?;
            out[i] = u8::from_str_radix(txt, 16).map_err(|_| perr(s, "uuid is not hex"))?;
        }
        Ok(Sid(out))
    }
}

/// A MySQL GTID set: per source uuid, sorted inclusive intervals `[start, end]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MysqlGtidSet {
    sids: BTreeMap<Sid, Vec<(u64, u64)>>,
}

impl MysqlGtidSet {
    /// Adds the inclusive interval `[start, end]` for `sid`, merging as needed.
    pub fn add_interval(&mut self, sid: Sid, start: u64, end: u64) {
        assert!(start >= 1 && start <= end, "bad interval {start}-{end}");
        let v = self.sids.entry(sid).or_default();
        v.push((start, end));
        v.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for &(s, e) in v.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *v = merged;
    }
    pub fn add(&mut self, sid: Sid, gno: u64) {
        self.add_interval(sid, gno, gno);
    }
    pub fn contains(&self, sid: &Sid, gno: u64) -> bool {
        self.sids.get(sid).is_some_and(|v| v.iter().any(|&(s, e)| s <= gno && gno <= e))
    }
    pub fn union(&self, other: &Self) -> Self {
        let mut out = self.clone();
        for (sid, v) in &other.sids {
            for &(s, e) in v {
                out.add_interval(*sid, s, e);
            }
        }
        out
    }
    pub fn is_empty(&self) -> bool {
        self.sids.is_empty()
    }
    /// Source ids with their inclusive intervals, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Sid, &[(u64, u64)])> {
        self.sids.iter().map(|(s, v)| (s, v.as_slice()))
    }

    /// Encodes the set as the SID block MySQL expects in COM_BINLOG_DUMP_GTID and writes in
    /// PREVIOUS_GTIDS events: `n_sids:u64`, then per sid `uuid[16] n_intervals:u64
    /// (start:i64 end_exclusive:i64)*`, all little-endian.
    pub fn encode_sid_block(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.sids.len() * 40);
        out.extend_from_slice(&(self.sids.len() as u64).to_le_bytes());
        for (sid, v) in &self.sids {
            out.extend_from_slice(&sid.0);
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            for &(s, e) in v {
                out.extend_from_slice(&s.to_le_bytes());
                out.extend_from_slice(&(e + 1).to_le_bytes());
            }
        }
        out
    }

    /// Decodes a SID block (see [`Self::encode_sid_block`]); `Err` names what is malformed.
    pub fn decode_sid_block(buf: &[u8]) -> Result<Self, String> {
        let mut r = crate::binlog::bytes::Reader::new(buf);
        let mut set = Self::default();
        let n = r.u64().ok_or("truncated sid count")?;
        for _ in 0..n {
            let uuid: [u8; 16] = r.take(16).ok_or("truncated uuid")?.try_into().unwrap();
            let k = r.u64().ok_or("truncated interval count")?;
            for _ in 0..k {
                let s = r.u64().ok_or("truncated interval")?;
                let e = r.u64().ok_or("truncated interval")?;
                if s == 0 || e <= s {
                    return Err(format!("bad interval {s}..{e}"));
                }
                set.add_interval(Sid(uuid), s, e - 1);
            }
        }
        Ok(set)
    }
}

impl fmt::Display for MysqlGtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (sid, v)) in self.sids.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{sid}")?;
            for &(s, e) in v {
                if s == e {
                    write!(f, ":{s}")?;
                } else {
                    write!(f, ":{s}-{e}")?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for MysqlGtidSet {
    type Err = GtidParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut set = Self::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut it = part.split(':');
            let sid: Sid = it.next().unwrap_or_default().parse()?;
            let mut any = false;
            for iv in it {
                any = true;
                let (a, b) = iv.split_once('-').unwrap_or((iv, iv));
                let a: u64 = a.trim().parse().map_err(|_| perr(s, format!("bad interval {iv:?}")))?;
                let b: u64 = b.trim().parse().map_err(|_| perr(s, format!("bad interval {iv:?}")))?;
                if a == 0 || b < a {
                    return Err(perr(s, format!("bad interval {iv:?}: need 1 ≤ start ≤ end")));
                }
                set.add_interval(sid, a, b);
            }
            if !any {
                return Err(perr(s, format!("{part:?} has no interval")));
            }
        }
        Ok(set)
    }
}

/// A GTID position of either server family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GtidSet {
    Maria(MariaGtidSet),
    Mysql(MysqlGtidSet),
}

impl GtidSet {
    pub fn is_empty(&self) -> bool {
        match self {
            GtidSet::Maria(s) => s.is_empty(),
            GtidSet::Mysql(s) => s.is_empty(),
        }
    }
    /// Whether every transaction of `other` is in this set (a position at or after `other`'s
    /// on any server of the replication topology). Sets of different families: false.
    pub fn covers(&self, other: &Self) -> bool {
        match (self, other) {
            (GtidSet::Maria(a), GtidSet::Maria(b)) => b.iter().all(|g| a.contains(g)),
            (GtidSet::Mysql(a), GtidSet::Mysql(b)) => b.iter().all(|(sid, ivs)| {
                let mine: &[(u64, u64)] = a.iter().find(|(s, _)| *s == sid).map_or(&[], |(_, i)| i);
                ivs.iter().all(|(lo, hi)| mine.iter().any(|(a, b)| a <= lo && hi <= b))
            }),
            _ => false,
        }
    }

    /// Union of two sets of the same family; `None` when the families differ.
    pub fn union(&self, other: &Self) -> Option<Self> {
        match (self, other) {
            (GtidSet::Maria(a), GtidSet::Maria(b)) => Some(GtidSet::Maria(a.union(b))),
            (GtidSet::Mysql(a), GtidSet::Mysql(b)) => Some(GtidSet::Mysql(a.union(b))),
            _ => None,
        }
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidSet::Maria(s) => s.fmt(f),
            GtidSet::Mysql(s) => s.fmt(f),
        }
    }
}

impl FromStr for GtidSet {
    type Err = GtidParseError;
    /// MySQL sets contain ':'; MariaDB positions never do.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(perr(s, "empty"));
        }
        if s.contains(':') {
            s.parse().map(GtidSet::Mysql)
        } else {
            s.parse().map(GtidSet::Maria)
        }
    }
}

impl Serialize for GtidSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GtidSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_across_servers() {
        let g = |t: &str| t.parse::<GtidSet>().unwrap();
        assert!(g("1-11-10,2-12-5").covers(&g("1-11-10,2-12-4")));
        assert!(g("1-11-10,2-12-5").covers(&g("1-11-10")));
        assert!(!g("1-11-10,2-12-5").covers(&g("1-11-11")));
        assert!(!g("1-11-10").covers(&g("1-11-10,2-12-1")), "a domain it lacks");
        assert!(g(&format!("{U1}:1-100")).covers(&g(&format!("{U1}:5-7:9"))));
        assert!(!g(&format!("{U1}:1-5:7-9")).covers(&g(&format!("{U1}:4-8"))), "a hole");
        assert!(!g(&format!("{U1}:1-100")).covers(&g(&format!("{U2}:1"))), "another source uuid");
        assert!(!g(&format!("{U1}:1-5")).covers(&g("0-1-1")), "families differ");
    }

    const U1: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const U2: &str = "8d9b2b8c-1e2f-11ee-a9d3-0242ac110002";

    #[test]
    fn maria_round_trip_and_contains() {
        let s: MariaGtidSet = "0-1-100, 1-2-7".parse().unwrap();
        assert_eq!(s.to_string(), "0-1-100,1-2-7");
        assert!(s.contains(&"0-1-99".parse().unwrap()));
        assert!(s.contains(&"0-5-100".parse().unwrap()));
        assert!(!s.contains(&"0-1-101".parse().unwrap()));
        assert!(!s.contains(&"2-1-1".parse().unwrap()));
    }

    #[test]
    fn maria_union_takes_newest_per_domain() {
        let a: MariaGtidSet = "0-1-100,1-2-7".parse().unwrap();
        let b: MariaGtidSet = "0-3-150,2-1-1".parse().unwrap();
        assert_eq!(a.union(&b).to_string(), "0-3-150,1-2-7,2-1-1");
        assert_eq!(a.union(&b), b.union(&a));
    }

    #[test]
    fn maria_rejects() {
        for bad in ["0-1", "0-1-2-3", "x-1-2", "0-1-2,0-1-3", "0--2"] {
            assert!(bad.parse::<MariaGtidSet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn mysql_round_trip_merges_intervals() {
        let s: MysqlGtidSet = format!("{U1}:7:1-5:6,{}:1-3", U2.to_uppercase()).parse().unwrap();
        assert_eq!(s.to_string(), format!("{U1}:1-7,{U2}:1-3"));
        let t: MysqlGtidSet = format!("{U1}:1-3:5-9").parse().unwrap();
        assert_eq!(t.to_string(), format!("{U1}:1-3:5-9"));
        assert!(t.contains(&U1.parse().unwrap(), 5));
        assert!(!t.contains(&U1.parse().unwrap(), 4));
        assert!(!t.contains(&U2.parse().unwrap(), 1));
    }

    #[test]
    fn mysql_union() {
        let a: MysqlGtidSet = format!("{U1}:1-3").parse().unwrap();
        let b: MysqlGtidSet = format!("{U1}:4-6:9,{U2}:2").parse().unwrap();
        let u = a.union(&b);
        assert_eq!(u.to_string(), format!("{U1}:1-6:9,{U2}:2"));
        assert_eq!(u, b.union(&a));
    }

    #[test]
    fn mysql_rejects() {
        for bad in [U1.to_string(), format!("{U1}:0-3"), format!("{U1}:5-3"), "abc:1".into(), format!("{U1}:x")] {
            assert!(bad.parse::<MysqlGtidSet>().is_err(), "{bad}");
        }
    }

    /// SID block for `3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5`, byte for byte as MySQL
    /// sends it (n_sids=1, uuid, n_intervals=1, start=1, end=6 exclusive).
    #[test]
    fn sid_block_bytes() {
        let set: MysqlGtidSet = format!("{U1}:1-5").parse().unwrap();
        let expected: Vec<u8> = [
            "0100000000000000",
            "3e11fa4771ca11e19e33c80aa9429562",
            "0100000000000000",
            "0100000000000000",
            "0600000000000000",
        ]
        .concat()
        .as_bytes()
        .chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
        .collect();
        assert_eq!(set.encode_sid_block(), expected);
        assert_eq!(MysqlGtidSet::decode_sid_block(&expected).unwrap(), set);
        assert!(MysqlGtidSet::decode_sid_block(&expected[..30]).is_err());
    }

    #[test]
    fn family_detection_and_serde() {
        let m: GtidSet = "0-1-5".parse().unwrap();
        assert!(matches!(m, GtidSet::Maria(_)));
        let y: GtidSet = format!("{U1}:1-2").parse().unwrap();
        assert!(matches!(y, GtidSet::Mysql(_)));
        assert!(m.union(&y).is_none());
        let j = serde_json::to_string(&y).unwrap();
        assert_eq!(serde_json::from_str::<GtidSet>(&j).unwrap(), y);
        assert!("".parse::<GtidSet>().is_err());
    }
}
