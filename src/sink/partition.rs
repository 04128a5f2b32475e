//! Maxwell's Kafka routing: topic templates, message keys and partition choice, computed
//! exactly as Maxwell computes them so a row lands where it did under Maxwell.
//!
//! Invariants:
//! - The partition of a row is `|hash(s) % n|` with Java `int` arithmetic, where `s` is the
//!   partition string (`producer_partition_by`) and `hash` is Java's `String.hashCode`
//!   (`default`) or MurmurHash3 x86_32 of the UTF-8 bytes with seed 25342 (`murmur3`).
//! - Partition strings: `database`, `table`, `primary_key` (the key values' text concatenated,
//!   `db`+`table` without a key, `None` when all are NULL), `transaction_id` (the xid),
//!   `thread_id` (the transaction's client thread; `null` when unknown, as Maxwell's),
//!   `column` (the listed columns' text concatenated, the fallback when empty), `random`.
//! - Keys: `hash` → `{"database":…,"table":…,"pk.<col>":…}` (`"_uuid"` without a key),
//!   `array` → `["db","table",[{"<col>":…}]]`. DDL records go by database.

use crate::binlog::json::write_json_str;
use crate::encode::RowMeta;
pub use crate::config::partition::{HashFn, KeyFormat, PartitionBy, Routing};

/// Java's `String.hashCode`: over UTF-16 code units, wrapping `int` arithmetic.
pub fn java_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(u as i32))
}

/// MurmurHash3 x86 32-bit.
pub fn murmur3_32(data: &[u8], seed: u32) -> i32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes(c.try_into().unwrap());
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, b) in tail.iter().enumerate() {
            k |= (*b as u32) << (8 * i);
        }
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h as i32
}

pub const MURMUR_SEED: u32 = 25342;

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`).
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes(c.try_into().unwrap()).wrapping_mul(M);
        k ^= k >> 24;
        h = h.wrapping_mul(M) ^ k.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate().rev() {
            h ^= (*b as u32) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The Java client's partition for a keyed record without one (Maxwell's dead-letter
/// records): `toPositive(murmur2(key)) % n`.
pub fn murmur2_partition(key: &[u8], n: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % n
}

/// `Math.abs(hash(s) % n)` as Maxwell computes it.
pub fn partition_for(s: &str, n: i32, f: HashFn) -> i32 {
    let h = match f {
        HashFn::Default => java_hash(s),
        HashFn::Murmur3 => murmur3_32(s.as_bytes(), MURMUR_SEED),
    };
    (h % n).abs()
}

/// Text of a JSON value fragment as Java's `toString` would give it (strings unquoted).
fn text(v: &[u8]) -> Option<String> {
    if v == b"null" {
        return None;
    }
    if v.first() == Some(&b'"') {
        return serde_json::from_slice::<String>(v).ok();
    }
    Some(String::from_utf8_lossy(v).into_owned())
}

fn random_string() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let mut x = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1;
    (0..10)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[(x % 62) as usize] as char
        })
        .collect()
}

/// What a row's transaction gives its partition string: Maxwell's `xid` and `thread_id`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxIds {
    pub xid: Option<u64>,
    pub thread_id: Option<u32>,
}

impl TxIds {
    /// A transaction's xid alone (no thread known).
    pub fn xid(xid: Option<u64>) -> Self {
        Self { xid, thread_id: None }
    }
}

impl Routing {
    /// Topic for a row: `%{database}`, `%{table}` and `%{type}` (insert, update, delete;
    /// `ddl` for a DDL record) substituted.
    pub fn topic_for(&self, m: &RowMeta) -> String {
        let (tpl, db, table, kind) = match m {
            RowMeta::Row { table, kind, .. } => (&self.topic, table.database.as_str(), table.table.as_str(), kind.as_str()),
            RowMeta::Ddl { database, table, .. } => (&self.ddl_topic, database.as_str(), table.as_deref().unwrap_or(""), "ddl"),
        };
        if !tpl.contains("%{") {
            return tpl.clone();
        }
        tpl.replace("%{database}", db).replace("%{table}", table).replace("%{type}", kind)
    }

    /// The partition string for a row of the transaction `tx` (see the module invariants).
    pub fn partition_string(&self, m: &RowMeta, tx: TxIds) -> String {
        self.partition_string_by(m, tx, self.by)
    }

    fn partition_string_by(&self, m: &RowMeta, tx: TxIds, by: PartitionBy) -> String {
        let (table, pk, cols) = match m {
            RowMeta::Ddl { database, .. } => return database.clone(),
            RowMeta::Row { table, pk, partition_columns, .. } => (table, pk, partition_columns),
        };
        match by {
            PartitionBy::Database => table.database.clone(),
            PartitionBy::Table => table.table.clone(),
            PartitionBy::PrimaryKey => {
                if table.primary_key.is_empty() {
                    return format!("{}{}", table.database, table.table);
                }
                let s: String = pk.iter().filter_map(|v| text(v)).collect();
                if s.is_empty() {
                    "None".into()
                } else {
                    s
                }
            }
            PartitionBy::TransactionId => tx.xid.map(|x| x.to_string()).unwrap_or_else(|| "null".into()),
            PartitionBy::ThreadId => tx.thread_id.map(|x| x.to_string()).unwrap_or_else(|| "null".into()),
            PartitionBy::Column => {
                let s: String = cols.iter().filter_map(|v| v.as_deref().and_then(text)).collect();
                if s.is_empty() {
                    self.partition_string_by(m, tx, self.fallback)
                } else {
                    s
                }
            }
            PartitionBy::Random => random_string(),
        }
    }

    /// The message key.
    pub fn key(&self, m: &RowMeta) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        let (db, tname, pk) = match m {
            RowMeta::Ddl { database, table, .. } => {
                out.extend_from_slice(b"{\"database\":");
                write_json_str(&mut out, database);
                if let Some(t) = table {
                    out.extend_from_slice(b",\"table\":");
                    write_json_str(&mut out, t);
                }
                out.push(b'}');
                return out;
            }
            RowMeta::Row { table, pk, .. } => (&table.database, &table.table, pk.iter().zip(table.primary_key.iter().map(|&i| &table.columns[i].name))),
        };
        match self.key_format {
            KeyFormat::Hash => {
                out.extend_from_slice(b"{\"database\":");
                write_json_str(&mut out, db);
                out.extend_from_slice(b",\"table\":");
                write_json_str(&mut out, tname);
                let mut any = false;
                for (v, name) in pk {
                    any = true;
                    out.push(b',');
                    write_json_str(&mut out, &format!("pk.{}", name.to_lowercase()));
                    out.push(b':');
                    out.extend_from_slice(v);
                }
                if !any {
                    out.extend_from_slice(b",\"_uuid\":");
                    write_json_str(&mut out, &uuid_v4());
                }
                out.push(b'}');
            }
            KeyFormat::Array => {
                out.push(b'[');
                write_json_str(&mut out, db);
                out.push(b',');
                write_json_str(&mut out, tname);
                out.extend_from_slice(b",[");
                for (i, (v, name)) in pk.enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.push(b'{');
                    write_json_str(&mut out, &name.to_lowercase());
                    out.push(b':');
                    out.extend_from_slice(v);
                    out.push(b'}');
                }
                out.extend_from_slice(b"]]");
            }
        }
        out
    }
}

fn uuid_v4() -> String {
    let a = random_string();
    let b = random_string();
    let hex: String = a.bytes().chain(b.bytes()).map(|c| format!("{:02x}", c)).collect();
    format!("{}-{}-4{}-a{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

#[cfg(test)]
#[path = "partition_tests.rs"]
mod tests;
