//! How far one term's work got: what the stall watchdog looks at.
//!
//! Invariants:
//! - Counters only grow and are written by the stream (reader, sink, acknowledgements); the
//!   watchdog only reads them, so watching never slows or steers the stream.
//! - `sent` counts rows handed to the producer, `confirmed` rows the broker acknowledged
//!   (at-least-once) or committed (exactly-once); rows skipped as already written count in
//!   neither, so "behind" means rows really waiting on the broker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[derive(Debug)]
pub struct Progress {
    /// When the reader last heard from the source or last started waiting on it (so that
    /// time spent waiting on the sink is not silence), ms since the Unix epoch.
    source_ms: AtomicU64,
    sent: AtomicU64,
    confirmed: AtomicU64,
}

impl Default for Progress {
    fn default() -> Self {
        Self { source_ms: AtomicU64::new(now_ms()), sent: AtomicU64::new(0), confirmed: AtomicU64::new(0) }
    }
}

impl Progress {
    /// The source sent something (an event or a heartbeat).
    pub fn source_alive(&self) {
        self.source_ms.store(now_ms(), Ordering::Relaxed);
    }
    pub fn sent(&self, rows: u64) {
        self.sent.fetch_add(rows, Ordering::Relaxed);
    }
    pub fn confirmed(&self, rows: u64) {
        self.confirmed.fetch_add(rows, Ordering::Relaxed);
    }
    /// How long the source has been silent.
    pub fn source_silence(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.source_ms.load(Ordering::Relaxed)))
    }
    /// (rows sent, rows confirmed).
    pub fn delivery(&self) -> (u64, u64) {
        (self.sent.load(Ordering::Relaxed), self.confirmed.load(Ordering::Relaxed))
    }
}

/// Decides, from samples of a [`Progress`], whether a leader is stuck.
#[derive(Debug)]
pub struct StallCheck {
    timeout: Duration,
    confirmed: u64,
    since: std::time::Instant,
}

impl StallCheck {
    pub fn new(timeout: Duration) -> Self {
        Self { timeout, confirmed: 0, since: std::time::Instant::now() }
    }

    /// `Some(why)` once the source has been silent, or rows have waited on the broker without
    /// any confirmation, for longer than the timeout.
    pub fn check(&mut self, p: &Progress) -> Option<String> {
        let silence = p.source_silence();
        if silence > self.timeout {
            return Some(format!(
                "no binlog event or heartbeat from the source for {:.1} s (unreachable from this node?)",
                silence.as_secs_f64()
            ));
        }
        let (sent, confirmed) = p.delivery();
        let now = std::time::Instant::now();
        if confirmed != self.confirmed || confirmed >= sent {
            self.confirmed = confirmed;
            self.since = now;
            return None;
        }
        let waited = now.duration_since(self.since);
        (waited > self.timeout).then(|| {
            format!("{} rows waited {:.1} s on Kafka without a confirmation (unreachable from this node?)", sent - confirmed, waited.as_secs_f64())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_waiting_without_confirmation_stall_after_the_timeout() {
        let p = Progress::default();
        let mut c = StallCheck::new(Duration::from_millis(50));
        assert_eq!(c.check(&p), None);
        p.sent(10);
        assert_eq!(c.check(&p), None, "not yet");
        std::thread::sleep(Duration::from_millis(30));
        p.confirmed(4);
        p.source_alive();
        assert_eq!(c.check(&p), None, "a confirmation is progress");
        std::thread::sleep(Duration::from_millis(70));
        p.source_alive();
        let why = c.check(&p).expect("stalled");
        assert!(why.contains("6 rows waited"), "{why}");
        p.confirmed(6);
        assert_eq!(c.check(&p), None, "caught up");
        // Idle and caught up: never a stall, however long.
        std::thread::sleep(Duration::from_millis(70));
        p.source_alive();
        assert_eq!(c.check(&p), None);
    }

    #[test]
    fn a_silent_source_stalls() {
        let p = Progress::default();
        let mut c = StallCheck::new(Duration::from_millis(30));
        std::thread::sleep(Duration::from_millis(50));
        assert!(c.check(&p).unwrap().contains("from the source"));
        p.source_alive();
        assert_eq!(c.check(&p), None);
    }
}
