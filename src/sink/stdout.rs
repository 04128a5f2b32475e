//! The stdout producer: one JSON object per line, flushed once per transaction.
//!
//! Invariant: a transaction's rows are written with a single `write_all` and a flush, so a
//! reader of the pipe sees whole transactions in order; a write error (closed pipe) stops the
//! node with the last position written.

use crate::encode::Transaction;
use std::io::Write;

pub struct StdoutSink<W: Write> {
    out: W,
}

impl<W: Write> StdoutSink<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }

    pub fn write(&mut self, tx: &Transaction) -> std::io::Result<()> {
        if tx.json.is_empty() {
            return Ok(());
        }
        self.out.write_all(&tx.json)?;
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
}
