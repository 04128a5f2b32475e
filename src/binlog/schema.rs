//! Table schemas as the binlog describes them (TABLE_MAP events with full row metadata).
//!
//! Invariants:
//! - Everything needed to decode a row comes from the TABLE_MAP event itself (column types,
//!   type metadata, names, signedness, charsets, ENUM/SET values, primary key list) plus two
//!   facts from the server: the collation map and which LONGTEXT columns hold JSON (MariaDB
//!   stores JSON as LONGTEXT with a `json_valid()` check; nothing in the binlog marks it).
//! - With `binlog_row_metadata=FULL` the TABLE_MAP names the columns, their signedness,
//!   charsets, ENUM/SET labels and primary key. Without it (MariaDB's NO_LOG, MySQL's MINIMAL,
//!   older servers) those facts come from the schema history's definition of the table as of
//!   the event ([`super::history`]); the TABLE_MAP still gives the types and their metadata,
//!   and a definition that does not match them (another column count, a type the binlog does
//!   not write for it) is refused, never used to name the wrong columns.
//! - The primary key comes from the TABLE_MAP PK list (or the history's), in key order (not
//!   column order), never from per-column flags.
//! - A [`TableInfo`] is immutable; a changed table gets a new table id and a new `TableInfo`.

use super::bytes::Reader;
use super::charset::{Charset, CollationMap};
use super::history::{ColumnDef, TableDef};
use std::collections::HashSet;

// Column type codes (enum_field_types).
pub const T_DECIMAL: u8 = 0;
pub const T_TINY: u8 = 1;
pub const T_SHORT: u8 = 2;
pub const T_LONG: u8 = 3;
pub const T_FLOAT: u8 = 4;
pub const T_DOUBLE: u8 = 5;
pub const T_NULL: u8 = 6;
pub const T_TIMESTAMP: u8 = 7;
pub const T_LONGLONG: u8 = 8;
pub const T_INT24: u8 = 9;
pub const T_DATE: u8 = 10;
pub const T_TIME: u8 = 11;
pub const T_DATETIME: u8 = 12;
pub const T_YEAR: u8 = 13;
pub const T_NEWDATE: u8 = 14;
pub const T_VARCHAR: u8 = 15;
pub const T_BIT: u8 = 16;
pub const T_TIMESTAMP2: u8 = 17;
pub const T_DATETIME2: u8 = 18;
pub const T_TIME2: u8 = 19;
pub const T_JSON: u8 = 245;
pub const T_NEWDECIMAL: u8 = 246;
pub const T_ENUM: u8 = 247;
pub const T_SET: u8 = 248;
pub const T_TINY_BLOB: u8 = 249;
pub const T_MEDIUM_BLOB: u8 = 250;
pub const T_LONG_BLOB: u8 = 251;
pub const T_BLOB: u8 = 252;
pub const T_VAR_STRING: u8 = 253;
pub const T_STRING: u8 = 254;
pub const T_GEOMETRY: u8 = 255;

/// How one column's value is laid out in a row image, with everything decoding needs.
#[derive(Debug, Clone, PartialEq)]
pub enum ColKind {
    Int { bytes: u8, unsigned: bool },
    Float,
    Double,
    Decimal { precision: u8, scale: u8 },
    Year,
    Date,
    /// Pre-5.6 TIME, DATETIME, TIMESTAMP.
    OldTime,
    OldDatetime,
    OldTimestamp,
    Time2 { fsp: u8 },
    Datetime2 { fsp: u8 },
    Timestamp2 { fsp: u8 },
    Bit { bits: u16 },
    /// CHAR/VARCHAR/BINARY/VARBINARY: `len_bytes` is the length prefix (1 or 2).
    Str { len_bytes: u8, charset: Charset },
    /// TEXT/BLOB family: `len_bytes` is 1..=4.
    Blob { len_bytes: u8, charset: Charset },
    /// MariaDB JSON (LONGTEXT holding JSON text).
    JsonText { len_bytes: u8 },
    /// MySQL binary JSON.
    JsonBinary { len_bytes: u8 },
    Enum { pack: u8, values: Vec<String> },
    Set { pack: u8, values: Vec<String> },
    Geometry { len_bytes: u8 },
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// `"name":` pre-encoded for the JSON writer.
    pub key_json: Vec<u8>,
    pub kind: ColKind,
}

#[derive(Debug, Clone)]
pub struct TableInfo {
    pub table_id: u64,
    pub database: String,
    pub table: String,
    pub columns: Vec<Column>,
    /// Column indexes of the primary key, in key order.
    pub primary_key: Vec<usize>,
    /// `"database":"…","table":"…"` pre-encoded.
    pub head_json: Vec<u8>,
    /// Columns left out of the JSON (`exclude_columns`), by index; empty when none is.
    /// Set by whoever builds the table for encoding ([`TableInfo::exclude`]).
    pub excluded: Vec<bool>,
}

impl TableInfo {
    /// Rows of this table are named `database`.`table` (the schema history's names on a server
    /// with `lower_case_table_names` 1 or 2, as Maxwell names them).
    pub fn rename(&mut self, database: &str, table: &str) {
        self.head_json = head_json(database, table);
        (self.database, self.table) = (database.to_string(), table.to_string());
    }

    /// Marks the columns `out(name)` answers true for as left out of the JSON.
    pub fn exclude(&mut self, out: impl Fn(&str) -> bool) {
        let mask: Vec<bool> = self.columns.iter().map(|c| out(&c.name)).collect();
        self.excluded = if mask.contains(&true) { mask } else { Vec::new() };
    }

    /// Writes each column's JSON key as `rename(name)` (`output_naming_strategy`); the
    /// column's `name`, which keys, partitions and filters use, stays.
    pub fn rename_keys(&mut self, rename: impl Fn(&str) -> String) {
        for c in &mut self.columns {
            let mut key = serde_json::to_vec(&rename(&c.name)).expect("string serialises");
            key.push(b':');
            c.key_json = key;
        }
    }

    /// Whether column `i` is left out of the JSON.
    #[inline]
    pub fn is_excluded(&self, i: usize) -> bool {
        self.excluded.get(i).copied().unwrap_or(false)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("corrupt TABLE_MAP event: {0}")]
    Corrupt(&'static str),
    #[error("table `{db}`.`{table}` has no column names in its TABLE_MAP event and the schema history does not hold it: set binlog_row_metadata=FULL on the server (SET GLOBAL binlog_row_metadata='FULL'), or start from a position where the history knows the table")]
    NoColumnNames { db: String, table: String },
    #[error("table `{db}`.`{table}`: the schema history is out of step with the binlog ({msg}); recapture the schema (maxwell-cli schema recapture) or set binlog_row_metadata=FULL on the server")]
    HistoryMismatch { db: String, table: String, msg: String },
    #[error("column `{db}`.`{table}`.`{column}` has column type {type_code}, which maxwell-ha cannot decode; exclude the table with `filter` or report the type")]
    UnknownType { db: String, table: String, column: String, type_code: u8 },
    #[error("column `{db}`.`{table}`.`{column}`: {msg}; exclude the table with `filter` or convert the column")]
    Charset { db: String, table: String, column: String, msg: String },
}

/// The raw parts of a TABLE_MAP event before they become a [`TableInfo`].
pub struct TableMapRaw<'a> {
    pub table_id: u64,
    pub database: &'a str,
    pub table: &'a str,
    types: &'a [u8],
    meta: &'a [u8],
    optional: &'a [u8],
}

fn lossy(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("<non-utf8 name>")
}

/// Parses the fixed part of a TABLE_MAP body (`data` without the common header).
/// `table_id_len` is 6 on every server this supports.
pub fn parse_table_map(data: &[u8]) -> Result<TableMapRaw<'_>, SchemaError> {
    let c = SchemaError::Corrupt;
    let mut r = Reader::new(data);
    let table_id = r.uint_n(6).ok_or(c("table id"))?;
    r.u16().ok_or(c("flags"))?;
    let dbl = r.u8().ok_or(c("db length"))? as usize;
    let database = lossy(r.take(dbl).ok_or(c("db name"))?);
    r.u8().ok_or(c("db nul"))?;
    let tl = r.u8().ok_or(c("table length"))? as usize;
    let table = lossy(r.take(tl).ok_or(c("table name"))?);
    r.u8().ok_or(c("table nul"))?;
    let n = r.lenenc().ok_or(c("column count"))? as usize;
    let types = r.take(n).ok_or(c("column types"))?;
    let ml = r.lenenc().ok_or(c("metadata length"))? as usize;
    let meta = r.take(ml).ok_or(c("metadata"))?;
    r.take(n.div_ceil(8)).ok_or(c("null bitmap"))?;
    Ok(TableMapRaw { table_id, database, table, types, meta, optional: r.rest() })
}

/// Optional-metadata fields we use.
#[derive(Default)]
struct Optional<'a> {
    signedness: Option<&'a [u8]>,
    default_charset: Option<(u64, Vec<(u64, u64)>)>,
    column_charset: Option<Vec<u64>>,
    names: Option<Vec<&'a [u8]>>,
    set_values: Vec<Vec<&'a [u8]>>,
    enum_values: Vec<Vec<&'a [u8]>>,
    pk: Vec<usize>,
    enum_default_charset: Option<(u64, Vec<(u64, u64)>)>,
    enum_column_charset: Option<Vec<u64>>,
}

fn parse_optional(buf: &[u8]) -> Result<Optional<'_>, SchemaError> {
    let c = SchemaError::Corrupt;
    let mut o = Optional::default();
    let mut r = Reader::new(buf);
    while r.remaining() > 0 {
        let ty = r.u8().ok_or(c("optional metadata type"))?;
        let len = r.lenenc().ok_or(c("optional metadata length"))? as usize;
        let v = r.take(len).ok_or(c("optional metadata value"))?;
        let mut f = Reader::new(v);
        let lenencs = |f: &mut Reader| -> Result<Vec<u64>, SchemaError> {
            let mut out = Vec::new();
            while f.remaining() > 0 {
                out.push(f.lenenc().ok_or(c("optional metadata integer"))?);
            }
            Ok(out)
        };
        let default_cs = |f: &mut Reader| -> Result<(u64, Vec<(u64, u64)>), SchemaError> {
            let d = f.lenenc().ok_or(c("default charset"))?;
            let rest = lenencs(f)?;
            Ok((d, rest.chunks(2).filter(|p| p.len() == 2).map(|p| (p[0], p[1])).collect()))
        };
        match ty {
            1 => o.signedness = Some(v),
            2 => o.default_charset = Some(default_cs(&mut f)?),
            3 => o.column_charset = Some(lenencs(&mut f)?),
            4 => {
                let mut names = Vec::new();
                while f.remaining() > 0 {
                    let l = f.lenenc().ok_or(c("column name length"))? as usize;
                    names.push(f.take(l).ok_or(c("column name"))?);
                }
                o.names = Some(names);
            }
            5 => o.set_values = str_lists(&mut f)?,
            6 => o.enum_values = str_lists(&mut f)?,
            8 => o.pk = lenencs(&mut f)?.into_iter().map(|x| x as usize).collect(),
            9 => o.pk = lenencs(&mut f)?.chunks(2).map(|p| p[0] as usize).collect(),
            10 => o.enum_default_charset = Some(default_cs(&mut f)?),
            11 => o.enum_column_charset = Some(lenencs(&mut f)?),
            _ => {} // geometry types, visibility, …: not needed
        }
    }
    Ok(o)
}

fn str_lists<'a>(f: &mut Reader<'a>) -> Result<Vec<Vec<&'a [u8]>>, SchemaError> {
    let c = SchemaError::Corrupt;
    let mut out = Vec::new();
    while f.remaining() > 0 {
        let k = f.lenenc().ok_or(c("value count"))?;
        let mut vals = Vec::with_capacity(k.min(4096) as usize);
        for _ in 0..k {
            let l = f.lenenc().ok_or(c("value length"))? as usize;
            vals.push(f.take(l).ok_or(c("value"))?);
        }
        out.push(vals);
    }
    Ok(out)
}

/// Charset of the `i`-th column of a category (character or enum/set columns).
fn nth_charset(default: &Option<(u64, Vec<(u64, u64)>)>, per_col: &Option<Vec<u64>>, i: usize) -> Option<u64> {
    if let Some(v) = per_col {
        return v.get(i).copied();
    }
    let (d, exceptions) = default.as_ref()?;
    Some(exceptions.iter().find(|(idx, _)| *idx as usize == i).map(|(_, cs)| *cs).unwrap_or(*d))
}

/// Which columns the optional metadata's per-category lists cover differs by server family:
/// MariaDB's YEAR is an integer field (it has a signedness bit) and its GEOMETRY is a BLOB
/// field (it has a charset entry); MySQL counts neither.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetadataRules {
    pub mariadb: bool,
}

impl MetadataRules {
    fn has_signedness(self, t: u8) -> bool {
        matches!(t, T_TINY | T_SHORT | T_INT24 | T_LONG | T_LONGLONG | T_FLOAT | T_DOUBLE | T_NEWDECIMAL | T_DECIMAL)
            || (self.mariadb && t == T_YEAR)
    }
    fn geometry_has_charset(self) -> bool {
        self.mariadb
    }
}

/// Builds the decoding plan for a table.
pub fn build_table_info(
    raw: &TableMapRaw<'_>,
    collations: &CollationMap,
    json_columns: &HashSet<(String, String, String)>,
    rules: MetadataRules,
    history: Option<&TableDef>,
) -> Result<TableInfo, SchemaError> {
    let c = SchemaError::Corrupt;
    let opt = parse_optional(raw.optional)?;
    let mismatch = |msg: String| SchemaError::HistoryMismatch { db: raw.database.to_string(), table: raw.table.to_string(), msg };
    // Without names in the TABLE_MAP, the history's definition speaks for the columns.
    let def = match (&opt.names, history) {
        (Some(names), _) if names.len() != raw.types.len() => return Err(c("column name count differs from column count")),
        (Some(_), _) => None,
        (None, Some(def)) if def.columns.len() != raw.types.len() => {
            return Err(mismatch(format!("the history has {} columns, the binlog {}", def.columns.len(), raw.types.len())))
        }
        (None, Some(def)) => Some(def),
        (None, None) => return Err(SchemaError::NoColumnNames { db: raw.database.to_string(), table: raw.table.to_string() }),
    };
    let known = |idx: usize| def.map(|d| &d.columns[idx]);
    let mut meta = Reader::new(raw.meta);
    let (mut numeric_i, mut char_i, mut enumset_i, mut enum_i, mut set_i) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut columns = Vec::with_capacity(raw.types.len());
    for (idx, &t) in raw.types.iter().enumerate() {
        let name = match (known(idx), &opt.names) {
            (Some(col), _) => {
                if !binlog_type_fits(t, &col.type_name) {
                    return Err(mismatch(format!("column `{}` is {} in the history but binlog type {t}", col.name, col.type_name)));
                }
                col.name.clone()
            }
            (None, Some(names)) => lossy(names[idx]).to_string(),
            (None, None) => unreachable!("no names and no definition were refused above"),
        };
        let err_cs = |msg: String| SchemaError::Charset {
            db: raw.database.to_string(),
            table: raw.table.to_string(),
            column: name.clone(),
            msg,
        };
        let unsigned = if let Some(col) = known(idx) {
            col.signed == Some(false)
        } else if rules.has_signedness(t) {
            let bit = opt.signedness.and_then(|s| s.get(numeric_i / 8)).map(|b| b & (0x80 >> (numeric_i % 8)) != 0);
            numeric_i += 1;
            bit.unwrap_or(false)
        } else {
            false
        };
        let mut next_char_cs = || -> Result<Charset, SchemaError> {
            if let Some(col) = known(idx) {
                return history_charset(col).map_err(err_cs);
            }
            let id = nth_charset(&opt.default_charset, &opt.column_charset, char_i);
            char_i += 1;
            match id {
                Some(id) => collations.charset(id as u16).map_err(err_cs),
                None => Ok(Charset::Utf8),
            }
        };
        let kind = match t {
            T_TINY => ColKind::Int { bytes: 1, unsigned },
            T_SHORT => ColKind::Int { bytes: 2, unsigned },
            T_INT24 => ColKind::Int { bytes: 3, unsigned },
            T_LONG => ColKind::Int { bytes: 4, unsigned },
            T_LONGLONG => ColKind::Int { bytes: 8, unsigned },
            T_FLOAT => {
                meta.u8().ok_or(c("float meta"))?;
                ColKind::Float
            }
            T_DOUBLE => {
                meta.u8().ok_or(c("double meta"))?;
                ColKind::Double
            }
            T_NEWDECIMAL => {
                let precision = meta.u8().ok_or(c("decimal meta"))?;
                let scale = meta.u8().ok_or(c("decimal meta"))?;
                ColKind::Decimal { precision, scale }
            }
            T_YEAR => ColKind::Year,
            T_DATE | T_NEWDATE => ColKind::Date,
            T_TIME => ColKind::OldTime,
            T_DATETIME => ColKind::OldDatetime,
            T_TIMESTAMP => ColKind::OldTimestamp,
            T_TIME2 => ColKind::Time2 { fsp: meta.u8().ok_or(c("time2 meta"))? },
            T_DATETIME2 => ColKind::Datetime2 { fsp: meta.u8().ok_or(c("datetime2 meta"))? },
            T_TIMESTAMP2 => ColKind::Timestamp2 { fsp: meta.u8().ok_or(c("timestamp2 meta"))? },
            T_BIT => {
                let bits = meta.u8().ok_or(c("bit meta"))? as u16;
                let bytes = meta.u8().ok_or(c("bit meta"))? as u16;
                ColKind::Bit { bits: bytes * 8 + bits }
            }
            T_VARCHAR | T_VAR_STRING => {
                let max = meta.u16().ok_or(c("varchar meta"))?;
                ColKind::Str { len_bytes: if max > 255 { 2 } else { 1 }, charset: next_char_cs()? }
            }
            T_STRING | T_ENUM | T_SET => {
                let b0 = meta.u8().ok_or(c("string meta"))?;
                let b1 = meta.u8().ok_or(c("string meta"))?;
                let real = if t == T_STRING { b0 | 0x30 } else { t };
                if let (true, Some(col)) = (real == T_ENUM || real == T_SET, known(idx)) {
                    let values = col.enum_values.clone().ok_or_else(|| mismatch(format!("column `{name}` has no ENUM/SET labels in the history")))?;
                    if real == T_ENUM {
                        ColKind::Enum { pack: b1, values }
                    } else {
                        ColKind::Set { pack: b1, values }
                    }
                } else if real == T_ENUM || real == T_SET {
                    let cs_id = nth_charset(&opt.enum_default_charset, &opt.enum_column_charset, enumset_i);
                    enumset_i += 1;
                    let cs = match cs_id {
                        Some(id) => collations.charset(id as u16).map_err(err_cs)?,
                        None => Charset::Utf8,
                    };
                    let list = if real == T_ENUM {
                        enum_i += 1;
                        opt.enum_values.get(enum_i - 1)
                    } else {
                        set_i += 1;
                        opt.set_values.get(set_i - 1)
                    };
                    let values = list
                        .ok_or(c("ENUM/SET values missing"))?
                        .iter()
                        .map(|v| cs.decode(v).map(|s| s.into_owned()).unwrap_or_else(|| String::from_utf8_lossy(v).into_owned()))
                        .collect();
                    if real == T_ENUM {
                        ColKind::Enum { pack: b1, values }
                    } else {
                        ColKind::Set { pack: b1, values }
                    }
                } else {
                    let max = ((((b0 as u16) & 0x30) ^ 0x30) << 4) | b1 as u16;
                    ColKind::Str { len_bytes: if max > 255 { 2 } else { 1 }, charset: next_char_cs()? }
                }
            }
            T_TINY_BLOB | T_MEDIUM_BLOB | T_LONG_BLOB | T_BLOB => {
                let len_bytes = meta.u8().ok_or(c("blob meta"))?;
                let charset = next_char_cs()?;
                let key = (raw.database.to_string(), raw.table.to_string(), name.clone());
                let json = known(idx).map_or_else(|| json_columns.contains(&key), |col| col.type_name == "json");
                if charset != Charset::Binary && json {
                    ColKind::JsonText { len_bytes }
                } else {
                    ColKind::Blob { len_bytes, charset }
                }
            }
            T_JSON => ColKind::JsonBinary { len_bytes: meta.u8().ok_or(c("json meta"))? },
            T_GEOMETRY => {
                if rules.geometry_has_charset() {
                    next_char_cs()?;
                }
                ColKind::Geometry { len_bytes: meta.u8().ok_or(c("geometry meta"))? }
            }
            other => {
                return Err(SchemaError::UnknownType {
                    db: raw.database.to_string(),
                    table: raw.table.to_string(),
                    column: name,
                    type_code: other,
                })
            }
        };
        let mut key_json = serde_json::to_vec(&name).expect("string serialises");
        key_json.push(b':');
        columns.push(Column { name, key_json, kind });
    }
    let primary_key = match def {
        Some(d) => d.primary_key.iter().map(|k| d.column(k).map(|(i, _)| i).ok_or_else(|| mismatch(format!("key column `{k}` is not a column")))).collect::<Result<_, _>>()?,
        None => opt.pk,
    };
    if primary_key.iter().any(|&i| i >= columns.len()) {
        return Err(c("primary key index out of range"));
    }
    let head_json = head_json(raw.database, raw.table);
    Ok(TableInfo {
        table_id: raw.table_id,
        database: raw.database.to_string(),
        table: raw.table.to_string(),
        columns,
        primary_key,
        head_json,
        excluded: Vec::new(),
    })
}

/// `"database":…,"table":…` of every row of a table.
fn head_json(database: &str, table: &str) -> Vec<u8> {
    let mut head = b"\"database\":".to_vec();
    serde_json::to_writer(&mut head, database).unwrap();
    head.extend_from_slice(b",\"table\":");
    serde_json::to_writer(&mut head, table).unwrap();
    head
}

/// The character set of a column from the history: binary types have none (`Binary`).
fn history_charset(col: &ColumnDef) -> Result<Charset, String> {
    if !col.is_text() && col.type_name != "json" {
        return Ok(Charset::Binary);
    }
    let name = col.charset.as_deref().unwrap_or("utf8mb4");
    Charset::from_mysql_name(name).ok_or_else(|| format!("character set {name} cannot be decoded"))
}

/// Whether the binlog writes type code `t` for a column the history calls `type_name`.
fn binlog_type_fits(t: u8, type_name: &str) -> bool {
    let fits: &[&str] = match t {
        T_TINY => &["tinyint", "bool", "boolean"],
        T_SHORT => &["smallint"],
        T_INT24 => &["mediumint"],
        T_LONG => &["int", "integer"],
        T_LONGLONG => &["bigint", "serial"],
        T_FLOAT => &["float"],
        T_DOUBLE => &["double", "real"],
        T_NEWDECIMAL | T_DECIMAL => &["decimal", "numeric", "dec", "fixed"],
        T_YEAR => &["year"],
        T_DATE | T_NEWDATE => &["date"],
        T_TIME | T_TIME2 => &["time"],
        T_DATETIME | T_DATETIME2 => &["datetime"],
        T_TIMESTAMP | T_TIMESTAMP2 => &["timestamp"],
        T_BIT => &["bit"],
        T_VARCHAR | T_VAR_STRING => &["varchar", "varbinary", "char", "binary"],
        T_STRING | T_ENUM | T_SET => &["char", "binary", "enum", "set", "varchar", "varbinary"],
        T_TINY_BLOB | T_MEDIUM_BLOB | T_LONG_BLOB | T_BLOB => {
            &["tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob", "json"]
        }
        T_JSON => &["json"],
        T_GEOMETRY => &["geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection"],
        _ => return false,
    };
    fits.contains(&type_name)
}

#[cfg(test)]
#[path = "schema_tests.rs"]
pub(crate) mod tests;
