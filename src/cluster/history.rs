//! The cluster's memory of its terms of leadership: `<root>/history`, one JSON znode holding
//! the last [`HISTORY_LEN`] terms (epoch, node, start, end, why it ended, takeover time, rows).
//!
//! Invariants:
//! - Only a leader writes it, at the start of its term and when the term ends in a way it can
//!   still report (hand-over, stall, giving up, shutdown, error); every write is
//!   version-checked (read, change, write; retried on a concurrent change), so two writers
//!   never lose each other's entries.
//! - A term that ended without a word (kill -9, crash, a partition: its session expired) is
//!   closed by the next leader: ended when that leader saw the leader znode vanish, reason
//!   `session expired`.
//! - The history is informational: a failed write is logged and never stops a term.

use serde::{Deserialize, Serialize};

/// Terms kept (the oldest are dropped).
pub const HISTORY_LEN: usize = 100;

/// One term of leadership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    pub epoch: u64,
    pub node_id: String,
    /// Unix milliseconds.
    pub start_ms: u64,
    pub end_ms: Option<u64>,
    /// Why it ended: `hand-over`, `stall: …`, `session expired`, `shutdown`, …
    pub ended_by: Option<String>,
    /// From the previous term's end (as the cluster saw it) to this term's start.
    pub takeover_ms: Option<u64>,
    /// Rows this term streamed (unknown for a term that ended without a word).
    pub rows: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub terms: Vec<Term>,
}

impl History {
    /// Records a new term starting at `start_ms`. A previous term still open is closed: at
    /// `gone_ms` (when this node saw its leader vanish), else at `start_ms`, as expired.
    pub fn begin(&mut self, epoch: u64, node_id: &str, start_ms: u64, gone_ms: Option<u64>) {
        if self.terms.iter().any(|t| t.epoch == epoch) {
            return; // the same term going on after a disconnection its session survived
        }
        let mut takeover_ms = None;
        if let Some(prev) = self.terms.last_mut() {
            if prev.end_ms.is_none() {
                prev.end_ms = Some(gone_ms.unwrap_or(start_ms).min(start_ms));
                prev.ended_by = Some("session expired".into());
            }
            takeover_ms = prev.end_ms.map(|e| start_ms.saturating_sub(e));
        }
        self.terms.push(Term { epoch, node_id: node_id.into(), start_ms, end_ms: None, ended_by: None, takeover_ms, rows: None });
        if self.terms.len() > HISTORY_LEN {
            let extra = self.terms.len() - HISTORY_LEN;
            self.terms.drain(..extra);
        }
    }

    /// Records how term `epoch` ended (nothing when a later term already closed it).
    pub fn end(&mut self, epoch: u64, end_ms: u64, ended_by: &str, rows: u64) {
        if let Some(t) = self.terms.iter_mut().find(|t| t.epoch == epoch && t.end_ms.is_none()) {
            t.end_ms = Some(end_ms);
            t.ended_by = Some(ended_by.into());
            t.rows = Some(rows);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_open_close_and_the_next_leader_closes_a_silent_one() {
        let mut h = History::default();
        h.begin(1, "a", 1_000, None);
        h.end(1, 5_000, "hand-over", 120);
        h.begin(2, "b", 5_400, Some(5_100));
        assert_eq!(h.terms[1].takeover_ms, Some(400), "from the graceful end, not from when b noticed");
        h.begin(2, "b", 9_000, None);
        assert_eq!(h.terms.len(), 2, "the same term going on is not a new one");
        // b is killed; c sees the leader znode vanish at 14 000 and leads at 14 300.
        h.begin(3, "c", 14_300, Some(14_000));
        assert_eq!((h.terms[1].end_ms, h.terms[1].ended_by.as_deref(), h.terms[1].rows), (Some(14_000), Some("session expired"), None));
        assert_eq!(h.terms[2].takeover_ms, Some(300));
        // A late report of b does not reopen or overwrite it.
        h.end(2, 20_000, "stall", 5);
        assert_eq!(h.terms[1].end_ms, Some(14_000));
        for e in 4..=200 {
            h.begin(e, "c", 20_000 + e, None);
        }
        assert_eq!(h.terms.len(), HISTORY_LEN);
        assert_eq!(h.terms[0].epoch, 101);
        let text = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<History>(&text).unwrap(), h);
    }
}
