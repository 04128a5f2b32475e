//! WRITE/UPDATE/DELETE rows events: layout and row-image decoding.
//!
//! Invariants:
//! - A row image is decoded against the [`TableInfo`] of its table id; the column count in
//!   the event must equal the table's, else the event is corrupt.
//! - Only columns set in the event's *present* bitmap are in the image (MINIMAL row images
//!   carry a subset); absent columns get [`ABSENT`] spans, NULLs the text `null`.
//! - Each present column's JSON text lands in `frag` at `spans[i]`; nothing else is written.

use super::bytes::Reader;
use super::schema::TableInfo;
use super::values::{write_value, Truncated, ValueOpts};

/// Span of a column not present in the image.
pub const ABSENT: (u32, u32) = (u32::MAX, u32::MAX);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Insert,
    Update,
    Delete,
}

impl RowKind {
    pub fn from_event_type(t: u8) -> Option<Self> {
        match t {
            23 | 30 => Some(RowKind::Insert),
            24 | 31 => Some(RowKind::Update),
            25 | 32 => Some(RowKind::Delete),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Insert => "insert",
            RowKind::Update => "update",
            RowKind::Delete => "delete",
        }
    }
}

pub struct RowsEvent<'a> {
    pub table_id: u64,
    pub kind: RowKind,
    pub ncols: usize,
    pub present: &'a [u8],
    pub present_after: &'a [u8],
    pub rows: &'a [u8],
}

#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    #[error("corrupt rows event: {0}")]
    Corrupt(&'static str),
    #[error("rows event for `{db}`.`{table}` has {got} columns but its TABLE_MAP has {want}")]
    ColumnCount { db: String, table: String, got: usize, want: usize },
    #[error("`{db}`.`{table}` column `{column}`: {source}")]
    Value { db: String, table: String, column: String, source: Truncated },
}

/// Parses the header of a rows event body; `v2` for MySQL's types 30–32.
pub fn parse_rows_event(type_code: u8, data: &[u8]) -> Result<RowsEvent<'_>, RowsError> {
    let c = RowsError::Corrupt;
    let kind = RowKind::from_event_type(type_code).ok_or(c("not a rows event"))?;
    let mut r = Reader::new(data);
    let table_id = r.uint_n(6).ok_or(c("table id"))?;
    r.u16().ok_or(c("flags"))?;
    if type_code >= 30 {
        let extra = r.u16().ok_or(c("extra data length"))? as usize;
        r.take(extra.checked_sub(2).ok_or(c("extra data length"))?).ok_or(c("extra data"))?;
    }
    let ncols = r.lenenc().ok_or(c("column count"))? as usize;
    let nb = ncols.div_ceil(8);
    let present = r.take(nb).ok_or(c("present bitmap"))?;
    let present_after = if kind == RowKind::Update { r.take(nb).ok_or(c("after-image bitmap"))? } else { present };
    Ok(RowsEvent { table_id, kind, ncols, present, present_after, rows: r.rest() })
}

#[inline]
fn bit(map: &[u8], i: usize) -> bool {
    map[i / 8] & (1 << (i % 8)) != 0
}

/// Decodes one row image at `r` into `frag`/`spans` (cleared first).
pub fn decode_image(
    t: &TableInfo,
    present: &[u8],
    r: &mut Reader,
    frag: &mut Vec<u8>,
    spans: &mut Vec<(u32, u32)>,
    opts: ValueOpts,
) -> Result<(), RowsError> {
    let n = t.columns.len();
    let npresent = (0..n).filter(|&i| bit(present, i)).count();
    let nulls = r.take(npresent.div_ceil(8)).ok_or(RowsError::Corrupt("null bitmap"))?;
    frag.clear();
    spans.clear();
    let mut j = 0usize;
    for (i, col) in t.columns.iter().enumerate() {
        if !bit(present, i) {
            spans.push(ABSENT);
            continue;
        }
        let start = frag.len() as u32;
        if bit(nulls, j) {
            frag.extend_from_slice(b"null");
        } else {
            write_value(&col.kind, r, frag, opts).map_err(|source| RowsError::Value {
                db: t.database.clone(),
                table: t.table.clone(),
                column: col.name.clone(),
                source,
            })?;
        }
        j += 1;
        spans.push((start, frag.len() as u32));
    }
    Ok(())
}

/// Checks the event's column count against the table.
pub fn check_columns(ev: &RowsEvent, t: &TableInfo) -> Result<(), RowsError> {
    if ev.ncols != t.columns.len() {
        return Err(RowsError::ColumnCount {
            db: t.database.clone(),
            table: t.table.clone(),
            got: ev.ncols,
            want: t.columns.len(),
        });
    }
    Ok(())
}
