//! A binlog transaction too large for memory, on disk until its end event arrives.
//!
//! Invariants:
//! - The file is created in the temporary directory (`TMPDIR`) and unlinked at once: only
//!   this process's handle keeps it, so it disappears when the transaction is handed on,
//!   rolled back or abandoned, and when the process dies.
//! - Rows are read back in the order they were written, with the routing facts
//!   ([`RowMeta`]) they had; a part holds whole rows and at most about the part limit in
//!   bytes (at least one row).
//! - A part's lines are byte for byte what an in-memory commit writes ([`super::write_line`]).

use super::{encrypt::Encryptor, write_line, OutputConfig, RowMeta, TxFields};
use crate::binlog::rows::RowKind;
use crate::binlog::schema::TableInfo;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::Arc;

/// Bytes of JSON in one part read back from a spill file.
pub const PART_BYTES: usize = 4 << 20;

const NO_META: u8 = 0;
const ROW_META: u8 = 1;

/// Rows being written to a spill file.
pub struct SpillWriter {
    out: BufWriter<File>,
    tables: Vec<Arc<TableInfo>>,
    rows: usize,
}

/// A finished transaction's rows, read back in parts.
pub struct SpillReader {
    input: BufReader<File>,
    tables: Vec<Arc<TableInfo>>,
    rows: usize,
    next: usize,
    head: Vec<u8>,
    body: Vec<u8>,
}

fn anonymous_file() -> io::Result<File> {
    let dir = std::env::temp_dir();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    // A name no other file has: `create_new` refuses an existing one, so a clash tries the next.
    for attempt in 0u32.. {
        let path = dir.join(format!("maxwell-ha-tx-{}-{nanos}-{attempt}", std::process::id()));
        match std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path) {
            Ok(f) => {
                std::fs::remove_file(&path)?;
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(io::Error::new(e.kind(), format!("cannot create a spill file in {} (set TMPDIR to a writable directory): {e}", dir.display())))
            }
        }
    }
    unreachable!("a free name among 2^32")
}

fn put_bytes(w: &mut impl Write, b: &[u8]) -> io::Result<()> {
    w.write_all(&(b.len() as u32).to_le_bytes())?;
    w.write_all(b)
}

fn get_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn get_u8(r: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

fn get_bytes_into(r: &mut impl Read, out: &mut Vec<u8>) -> io::Result<()> {
    let n = get_u32(r)? as usize;
    out.clear();
    out.resize(n, 0);
    r.read_exact(out)
}

fn get_bytes(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    get_bytes_into(r, &mut v)?;
    Ok(v)
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("spill file: {what}"))
}

impl SpillWriter {
    pub fn new() -> io::Result<Self> {
        Ok(Self { out: BufWriter::with_capacity(1 << 20, anonymous_file()?), tables: Vec::new(), rows: 0 })
    }

    fn table_index(&mut self, t: &Arc<TableInfo>) -> u32 {
        // A transaction touches few tables: a linear search by pointer is enough.
        match self.tables.iter().rposition(|x| Arc::ptr_eq(x, t)) {
            Some(i) => i as u32,
            None => {
                self.tables.push(t.clone());
                (self.tables.len() - 1) as u32
            }
        }
    }

    /// Appends one row: the JSON around the transaction fields and its routing facts.
    pub fn write_row(&mut self, head: &[u8], body: &[u8], meta: Option<&RowMeta>, at: u64) -> io::Result<()> {
        put_bytes(&mut self.out, head)?;
        put_bytes(&mut self.out, body)?;
        self.out.write_all(&at.to_le_bytes())?;
        match meta {
            None | Some(RowMeta::Ddl { .. }) => self.out.write_all(&[NO_META])?,
            Some(RowMeta::Row { table, kind, pk, partition_columns, .. }) => {
                let idx = self.table_index(table);
                self.out.write_all(&[ROW_META])?;
                self.out.write_all(&idx.to_le_bytes())?;
                self.out.write_all(&[*kind as u8])?;
                self.out.write_all(&(pk.len() as u32).to_le_bytes())?;
                for v in pk {
                    put_bytes(&mut self.out, v)?;
                }
                self.out.write_all(&(partition_columns.len() as u32).to_le_bytes())?;
                for v in partition_columns {
                    match v {
                        None => self.out.write_all(&[0])?,
                        Some(v) => {
                            self.out.write_all(&[1])?;
                            put_bytes(&mut self.out, v)?;
                        }
                    }
                }
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Ends writing; the reader starts at the first row.
    pub fn finish(self) -> io::Result<SpillReader> {
        let mut f = self.out.into_inner().map_err(|e| e.into_error())?;
        f.seek(SeekFrom::Start(0))?;
        Ok(SpillReader { input: BufReader::with_capacity(1 << 20, f), tables: self.tables, rows: self.rows, next: 0, head: Vec::new(), body: Vec::new() })
    }
}

impl SpillReader {
    /// Rows in the transaction.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Rows not yet read back.
    pub fn remaining(&self) -> usize {
        self.rows - self.next
    }

    fn read_meta(&mut self, at: u64) -> io::Result<Option<RowMeta>> {
        let r = &mut self.input;
        match get_u8(r)? {
            NO_META => Ok(None),
            ROW_META => {
                let idx = get_u32(r)? as usize;
                let table = self.tables.get(idx).cloned().ok_or_else(|| corrupt("table index out of range"))?;
                let kind = match get_u8(r)? {
                    k if k == RowKind::Insert as u8 => RowKind::Insert,
                    k if k == RowKind::Update as u8 => RowKind::Update,
                    k if k == RowKind::Delete as u8 => RowKind::Delete,
                    _ => return Err(corrupt("unknown row kind")),
                };
                let npk = get_u32(r)? as usize;
                let pk = (0..npk).map(|_| get_bytes(r)).collect::<io::Result<Vec<_>>>()?;
                let npc = get_u32(r)? as usize;
                let mut partition_columns = Vec::with_capacity(npc);
                for _ in 0..npc {
                    partition_columns.push(if get_u8(r)? == 0 { None } else { Some(get_bytes(r)?) });
                }
                Ok(Some(RowMeta::Row { table, kind, pk, partition_columns, at: Some(at) }))
            }
            _ => Err(corrupt("unknown row tag")),
        }
    }

    /// Writes the next rows as JSON lines to `out` (about `max_bytes`, at least one row),
    /// their end offsets to `ends` and their routing facts to `metas`. Returns the index of
    /// the first row written and how many were. `enc` encrypts them with `encrypt=all`.
    #[allow(clippy::too_many_arguments)]
    pub fn read_part(
        &mut self,
        f: &TxFields,
        cfg: &OutputConfig,
        mut enc: Option<&mut Encryptor>,
        max_bytes: usize,
        out: &mut Vec<u8>,
        ends: &mut Vec<usize>,
        metas: &mut Vec<RowMeta>,
    ) -> io::Result<(usize, usize)> {
        let first = self.next;
        let start_len = out.len();
        while self.next < self.rows && (self.next == first || out.len() - start_len < max_bytes) {
            get_bytes_into(&mut self.input, &mut self.head)?;
            get_bytes_into(&mut self.input, &mut self.body)?;
            let mut at = [0u8; 8];
            self.input.read_exact(&mut at)?;
            let at = u64::from_le_bytes(at);
            if let Some(m) = self.read_meta(at)? {
                metas.push(m);
            }
            write_line(out, &self.head, &self.body, self.next, self.rows, at, f, cfg, enc.as_deref_mut());
            ends.push(out.len());
            self.next += 1;
        }
        Ok((first, self.next - first))
    }
}
