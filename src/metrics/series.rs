//! The last minutes of a node's throughput and lag, for the status page's chart.
//!
//! Invariants:
//! - A node samples itself every [`STEP_MS`] (the resource sampler pushes one [`Sample`]);
//!   the ring keeps the last [`KEEP`] samples, so its memory is bounded whatever the uptime.
//! - The cluster's series ([`merge`]) puts the members' samples into [`STEP_MS`] buckets:
//!   rows/s add up (only a leader hands rows on), lag is the largest any member reports
//!   (a standby reports none). Buckets come out oldest first.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// How often a node samples itself.
pub const STEP_MS: u64 = 2000;
/// Samples kept per node: 10 minutes.
pub const KEEP: usize = 300;

/// One sample: when, rows handed on per second since the previous one, lag then.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub t_ms: u64,
    pub rows_per_second: f64,
    pub lag_seconds: Option<f64>,
}

/// A node's samples, shared by the sampler (writes) and the HTTP handlers (read).
#[derive(Debug, Default)]
pub struct Series {
    ring: Mutex<VecDeque<Sample>>,
}

impl Series {
    pub fn push(&self, s: Sample) {
        let mut r = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if r.len() == KEEP {
            r.pop_front();
        }
        r.push_back(s);
    }

    /// The samples taken at or after `since_ms`, oldest first.
    pub fn since(&self, since_ms: u64) -> Vec<Sample> {
        let r = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        r.iter().filter(|s| s.t_ms >= since_ms).copied().collect()
    }
}

/// The cluster's series from its members' (see the module's invariants).
pub fn merge(members: &[Vec<Sample>]) -> Vec<Sample> {
    let mut buckets: BTreeMap<u64, Sample> = BTreeMap::new();
    for s in members.iter().flatten() {
        let b = s.t_ms / STEP_MS;
        let e = buckets.entry(b).or_insert(Sample { t_ms: b * STEP_MS, rows_per_second: 0.0, lag_seconds: None });
        e.rows_per_second += s.rows_per_second;
        e.lag_seconds = match (e.lag_seconds, s.lag_seconds) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    buckets.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t_ms: u64, rows: f64, lag: Option<f64>) -> Sample {
        Sample { t_ms, rows_per_second: rows, lag_seconds: lag }
    }

    #[test]
    fn the_ring_keeps_the_last_samples() {
        let series = Series::default();
        for i in 0..(KEEP as u64 + 10) {
            series.push(s(i * STEP_MS, i as f64, None));
        }
        let all = series.since(0);
        assert_eq!(all.len(), KEEP);
        assert_eq!(all[0].t_ms, 10 * STEP_MS);
        assert_eq!(series.since((KEEP as u64 + 8) * STEP_MS).len(), 2);
    }

    #[test]
    fn members_merge_into_buckets() {
        let leader = vec![s(4_100, 500.0, Some(0.2)), s(6_050, 700.0, Some(1.5))];
        let standby = vec![s(5_900, 0.0, None), s(7_900, 0.0, None)];
        // After a hand-over the new leader reports from the same bucket on.
        let next = vec![s(6_900, 300.0, Some(0.4))];
        let m = merge(&[leader, standby, next]);
        assert_eq!(m, vec![s(4_000, 500.0, Some(0.2)), s(6_000, 1000.0, Some(1.5))]);
        assert!(merge(&[]).is_empty());
    }
}
