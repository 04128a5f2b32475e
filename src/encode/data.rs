//! A row's `data` and `old` objects, as Maxwell 1.22.6's `RowMap.toJSON` writes them, with the
//! encode options applied: `output_nulls`, `exclude_columns` and `encrypt=data`.
//!
//! Invariants:
//! - `data` holds every column present in the row (the main image, then the other image for
//!   columns the main one lacks: a MINIMAL update's before-only columns); `old` holds, for
//!   updates, the previous value of each column present in both images whose JSON differs,
//!   and is left out when no such column remains.
//! - An excluded column is in neither `data` nor `old`, and only there: `primary_key`, the
//!   Kafka key and `filter`'s column values still see it, `producer_partition_columns` does
//!   not (Maxwell removes it from the row's data while writing the JSON, after the key was
//!   taken and before the partition is).
//! - With `encrypt=data` the two objects are written as one `{"data":…,"old":…}` text and
//!   replaced by its `"encrypted"` field ([`super::encrypt`]); nothing else changes.

use super::encrypt::Encryptor;
use super::Image;
use crate::binlog::schema::TableInfo;
use crate::config::{EncryptMode, OutputConfig};

/// Appends `,"data":{…}[,"old":{…}]` (or, with `encrypt=data`, `,"encrypted":{…}`) for a row
/// whose main image is `main` and other image (an update's before image) `other`.
pub fn write(out: &mut Vec<u8>, t: &TableInfo, main: &Image, other: Option<&Image>, cfg: &OutputConfig, enc: Option<&mut Encryptor>) {
    out.push(b',');
    match enc.filter(|_| cfg.encrypt.as_ref().is_some_and(|e| e.mode == EncryptMode::Data)) {
        Some(e) => {
            e.plain.clear();
            e.plain.push(b'{');
            write_objects(&mut e.plain, t, main, other, cfg);
            e.plain.push(b'}');
            e.write_plain_field(out);
        }
        None => write_objects(out, t, main, other, cfg),
    }
}

/// `"data":{…}` and, when a column changed, `,"old":{…}`.
fn write_objects(a: &mut Vec<u8>, t: &TableInfo, main: &Image, other: Option<&Image>, cfg: &OutputConfig) {
    a.extend_from_slice(b"\"data\":{");
    let mut first = true;
    for (i, col) in t.columns.iter().enumerate() {
        let v = match main.get(i) {
            Some(v) => v,
            None => match other.and_then(|o| o.get(i)) {
                Some(v) => v,
                None => continue,
            },
        };
        if (!cfg.nulls && v == b"null") || t.is_excluded(i) {
            continue;
        }
        if !first {
            a.push(b',');
        }
        first = false;
        a.extend_from_slice(&col.key_json);
        a.extend_from_slice(v);
    }
    a.push(b'}');
    if let Some(old) = other {
        let mut opened = false;
        for (i, col) in t.columns.iter().enumerate() {
            if let (Some(new), Some(prev)) = (main.get(i), old.get(i)) {
                if new != prev && !t.is_excluded(i) {
                    a.extend_from_slice(if opened { b"," } else { b",\"old\":{" });
                    opened = true;
                    a.extend_from_slice(&col.key_json);
                    a.extend_from_slice(prev);
                }
            }
        }
        if opened {
            a.push(b'}');
        }
    }
}

/// Column `i`'s value for `producer_partition_by=column`: absent when excluded (Maxwell reads
/// the partition columns from the data it already stripped).
pub fn partition_value<'a>(t: &TableInfo, i: usize, value: impl Fn(usize) -> Option<&'a [u8]>) -> Option<&'a [u8]> {
    if t.is_excluded(i) {
        None
    } else {
        value(i)
    }
}
