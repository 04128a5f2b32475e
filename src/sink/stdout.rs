//! The stdout producer: one JSON object per line, flushed once per transaction.
//!
//! Invariant: a transaction's rows are written with a single `write_all` and a flush, so a
//! reader of the pipe sees whole transactions in order; a write error (closed pipe) stops the
//! node with the last position written. With `output_push_timestamp` each row's `push_ts` is
//! the time its transaction is written.

use crate::config::NamingStrategy;
use crate::encode::fields::stamp;
use crate::encode::Transaction;
use std::io::Write;

pub struct StdoutSink<W: Write> {
    out: W,
    /// `output_push_timestamp` (see [`crate::config::OutputConfig::push_ts_by_sink`]).
    push_ts: Option<NamingStrategy>,
    buf: Vec<u8>,
}

impl<W: Write> StdoutSink<W> {
    pub fn new(out: W) -> Self {
        Self { out, push_ts: None, buf: Vec::new() }
    }

    /// Stamps `push_ts` (so named) on each row as it is written.
    pub fn with_push_ts(mut self, naming: Option<NamingStrategy>) -> Self {
        self.push_ts = naming;
        self
    }

    pub fn write(&mut self, tx: &Transaction) -> std::io::Result<()> {
        if tx.json.is_empty() {
            return Ok(());
        }
        let Some(naming) = self.push_ts.filter(|_| tx.row_ends.last() == Some(&tx.json.len())) else {
            self.out.write_all(&tx.json)?;
            return self.out.flush();
        };
        let now = std::time::SystemTime::now();
        self.buf.clear();
        let mut start = 0;
        for &end in &tx.row_ends {
            let line = &tx.json[start..end - 1];
            match stamp(line, naming, now) {
                Some(l) => self.buf.extend_from_slice(&l),
                None => self.buf.extend_from_slice(line),
            }
            self.buf.push(b'\n');
            start = end;
        }
        self.out.write_all(&self.buf)?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_lines_and_skips_empty() {
        let mut s = StdoutSink::new(Vec::new());
        s.write(&Transaction { json: b"{\"a\":1}\n".to_vec(), ..Default::default() }).unwrap();
        s.write(&Transaction::default()).unwrap();
        assert_eq!(s.out, b"{\"a\":1}\n");
    }

    #[test]
    fn stamps_push_ts_on_rows_only() {
        let mut s = StdoutSink::new(Vec::new()).with_push_ts(Some(NamingStrategy::None));
        let json = b"{\"database\":\"d\",\"table\":\"t\",\"type\":\"insert\",\"ts\":1,\"data\":{}}\n{\"type\":\"table-drop\",\"database\":\"d\",\"table\":\"t\"}\n".to_vec();
        let ends = vec![json.iter().position(|b| *b == b'\n').unwrap() + 1, json.len()];
        s.write(&Transaction { json, row_ends: ends, ..Default::default() }).unwrap();
        let text = String::from_utf8(s.out).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(lines[0]["push_ts"].as_f64().unwrap() > 1.6e9, "{text}");
        assert!(lines[1].get("push_ts").is_none(), "{text}");
    }
}
