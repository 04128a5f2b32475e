//! What a script changed, applied to a row's or DDL record's JSON line.
//!
//! Invariants:
//! - Only what the script changed is written anew: every other key and value keeps its
//!   bytes (a BIGINT past 2^53, a DECIMAL's trailing zeros, an unchanged JSON document).
//! - Key order stays Maxwell's: a row's `extra_attributes` come just before `primary_key`
//!   (else `data`), after every transaction field; a DDL record's just after `sql`. Changed
//!   `data`/`old` keep their column order, keys the script added follow in the order it
//!   added them, removed keys are gone.
//! - `primary_key` in the line and the row's key and partition facts ([`RowMeta`]) are
//!   taken from the changed `data`, as Maxwell computes them after the script.
//! - With `output_nulls=false` a value the script set to null is left out, as Maxwell does.
//! - An extra attribute named like a field the line has or Maxwell writes is refused
//!   (Maxwell would write the key twice).

use crate::binlog::json::write_json_str;
use crate::encode::{OutputConfig, RowMeta};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Maxwell's field names, never an extra attribute's.
const FIELDS: &[&str] = &[
    "database", "table", "query", "type", "ts", "xid", "xoffset", "commit", "position", "gtid", "server_id", "thread_id", "schema_id",
    "primary_key", "primary_key_columns", "data", "old", "resume_position", "sql", "def", "charset", "comment",
];

/// The JSON text the prelude returns for a row the script changed (see prelude.js).
#[derive(Deserialize, Default)]
pub(super) struct Changes<'a> {
    #[serde(default)]
    s: Option<u8>,
    #[serde(default)]
    pub t: Option<String>,
    #[serde(default)]
    pub p: Option<String>,
    #[serde(default)]
    q: Option<(Option<String>,)>,
    #[serde(default, borrow)]
    d: Option<MapChanges<'a>>,
    #[serde(default, borrow)]
    o: Option<MapChanges<'a>>,
    #[serde(default, borrow)]
    e: Vec<(String, &'a RawValue)>,
}

#[derive(Deserialize)]
struct MapChanges<'a> {
    #[serde(borrow)]
    set: Vec<(String, &'a RawValue)>,
    del: Vec<String>,
}

impl<'a> Changes<'a> {
    pub fn parse(text: &'a str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("the row API returned unreadable changes ({e}): {text}"))
    }
    pub fn suppressed(&self) -> bool {
        self.s.is_some()
    }
    /// Whether the line itself changes (not only where it goes).
    pub fn rewrites(&self) -> bool {
        self.q.is_some() || self.d.is_some() || self.o.is_some() || !self.e.is_empty()
    }
}

/// A JSON object's members in their order, values as written.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut v = Vec::new();
                while let Some(e) = m.next_entry::<String, &'de RawValue>()? {
                    v.push(e);
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(V)
    }
}

pub(super) fn entries(text: &str) -> Result<Vec<(String, &RawValue)>, String> {
    serde_json::from_str::<Entries>(text).map(|e| e.0).map_err(|e| format!("not a JSON object ({e})"))
}

pub(super) fn member(out: &mut Vec<u8>, first: &mut bool, key: &str, value: &[u8]) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    write_json_str(out, key);
    out.push(b':');
    out.extend_from_slice(value);
}

/// `original` (a `data` or `old` object) with `c` applied, in the invariants' order.
fn merged<'a>(original: &[(String, &'a RawValue)], c: &MapChanges<'a>, nulls: bool) -> Vec<(String, &'a RawValue)> {
    let mut out = Vec::with_capacity(original.len() + c.set.len());
    let new = |k: &str| c.set.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    for (k, v) in original {
        if c.del.iter().any(|d| d == k) {
            continue;
        }
        out.push((k.clone(), new(k).unwrap_or(v)));
    }
    for (k, v) in &c.set {
        if !original.iter().any(|(n, _)| n == k) {
            out.push((k.clone(), *v));
        }
    }
    if !nulls {
        out.retain(|(_, v)| v.get() != "null");
    }
    out
}

fn write_object(out: &mut Vec<u8>, members: &[(String, &RawValue)]) {
    out.push(b'{');
    let mut first = true;
    for (k, v) in members {
        member(out, &mut first, k, v.get().as_bytes());
    }
    out.push(b'}');
}

fn check_extras(c: &Changes, line: &[(String, &RawValue)]) -> Result<(), String> {
    for (k, _) in &c.e {
        if FIELDS.contains(&k.as_str()) || line.iter().any(|(n, _)| n == k) {
            return Err(format!("extra_attributes key `{k}` is one of Maxwell's fields; choose another name"));
        }
    }
    Ok(())
}

/// Rewrites a row's line (`line` without its newline) by `c`; updates `meta`'s key and
/// partition facts when `data` changed.
pub(super) fn rewrite_row(line: &str, c: &Changes, meta: &mut RowMeta, cfg: &OutputConfig) -> Result<Vec<u8>, String> {
    let top = entries(line)?;
    check_extras(c, &top)?;
    let data_at = top.iter().position(|(k, _)| k == "data").ok_or("the line has no data")?;
    let data = match &c.d {
        Some(d) => Some(merged(&entries(top[data_at].1.get())?, d, cfg.nulls)),
        None => None,
    };
    let old = match (&c.o, top.iter().find(|(k, _)| k == "old")) {
        (Some(o), Some((_, v))) => Some(merged(&entries(v.get())?, o, cfg.nulls)),
        (Some(o), None) => Some(merged(&[], o, cfg.nulls)),
        (None, _) => None,
    };
    if let (Some(d), RowMeta::Row { table, pk, partition_columns, .. }) = (&data, &mut *meta) {
        let value = |name: &str| d.iter().find(|(k, _)| k == name).map(|(_, v)| v.get().as_bytes().to_vec());
        *pk = table.primary_key.iter().map(|&i| value(&table.columns[i].name).unwrap_or_else(|| b"null".to_vec())).collect();
        *partition_columns = cfg.partition_columns.iter().map(|n| value(n)).collect();
    }
    let mut out = Vec::with_capacity(line.len() + 64);
    out.push(b'{');
    let mut first = true;
    let mut extras_done = false;
    let query = c.q.as_ref().map(|(q,)| q.as_deref());
    for (k, v) in &top {
        let raw = v.get().as_bytes();
        match k.as_str() {
            "query" if query.is_some() => {
                if let Some(Some(q)) = query {
                    let mut s = Vec::new();
                    write_json_str(&mut s, q);
                    member(&mut out, &mut first, k, &s);
                }
                continue;
            }
            "type" if cfg.row_query && !top.iter().any(|(n, _)| n == "query") => {
                if let Some(Some(q)) = query {
                    let mut s = Vec::new();
                    write_json_str(&mut s, q);
                    member(&mut out, &mut first, "query", &s);
                }
            }
            "primary_key" | "primary_key_columns" | "data" if !extras_done => {
                extras_done = true;
                for (ek, ev) in &c.e {
                    member(&mut out, &mut first, ek, ev.get().as_bytes());
                }
            }
            _ => {}
        }
        match (k.as_str(), &data, &old) {
            ("primary_key", Some(_), _) => {
                let RowMeta::Row { pk, .. } = &*meta else { unreachable!("a row's meta") };
                let mut s = b"[".to_vec();
                for (i, v) in pk.iter().enumerate() {
                    if i > 0 {
                        s.push(b',');
                    }
                    s.extend_from_slice(v);
                }
                s.push(b']');
                member(&mut out, &mut first, k, &s);
            }
            ("data", Some(d), _) => {
                let mut s = Vec::new();
                write_object(&mut s, d);
                member(&mut out, &mut first, k, &s);
            }
            ("old", _, Some(o)) => {
                if !o.is_empty() {
                    let mut s = Vec::new();
                    write_object(&mut s, o);
                    member(&mut out, &mut first, k, &s);
                }
            }
            _ => member(&mut out, &mut first, k, raw),
        }
    }
    if let (Some(o), false) = (&old, top.iter().any(|(k, _)| k == "old")) {
        if !o.is_empty() {
            let mut s = Vec::new();
            write_object(&mut s, o);
            member(&mut out, &mut first, "old", &s);
        }
    }
    out.push(b'}');
    Ok(out)
}

/// Rewrites a DDL record's line by `c` (only its extra attributes can change).
pub(super) fn rewrite_ddl(line: &str, c: &Changes) -> Result<Vec<u8>, String> {
    let top = entries(line)?;
    check_extras(c, &top)?;
    let mut out = Vec::with_capacity(line.len() + 64);
    out.push(b'{');
    let mut first = true;
    for (k, v) in &top {
        member(&mut out, &mut first, k, v.get().as_bytes());
        if k == "sql" {
            for (ek, ev) in &c.e {
                member(&mut out, &mut first, ek, ev.get().as_bytes());
            }
        }
    }
    out.push(b'}');
    Ok(out)
}
