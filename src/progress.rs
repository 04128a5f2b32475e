//! How far one term's work got: what the stall watchdog looks at.
//!
//! Invariants:
//! - Counters only grow and are written by the stream (reader, sink, acknowledgements); the
//!   watchdog only reads them, so watching never slows or steers the stream.
//! - `read` counts rows read from the binlog and handed to the sink; it is shared by the terms
//!   of one stream (the cluster history's row count of a term is its difference).
//! - `sent` counts rows handed to the producer, `confirmed` rows the broker acknowledged
//!   (at-least-once) or committed (exactly-once); rows skipped as already written count in
//!   neither, so "behind" means rows really waiting on the broker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[derive(Debug)]
pub struct Progress {
    /// When the reader last heard from the source or last started waiting on it (so that
    /// time spent waiting on the sink is not silence), ms since the Unix epoch.
    source_ms: AtomicU64,
    /// Rows read, over every term of the stream.
    read: Arc<AtomicU64>,
    sent: AtomicU64,
    confirmed: AtomicU64,
    /// Acknowledgement time minus commit time of the last confirmed transaction (ms), and
    /// when it was confirmed (ms since the Unix epoch).
    lag_ms: AtomicU64,
    acked_ms: AtomicU64,
}

impl Default for Progress {
    fn default() -> Self {
        Self::counting_into(Arc::default())
    }
}

impl Progress {
    /// A term's progress whose rows read add to `read`, the stream's count over its terms.
    pub fn counting_into(read: Arc<AtomicU64>) -> Self {
        Self { source_ms: AtomicU64::new(now_ms()), read, sent: AtomicU64::new(0), confirmed: AtomicU64::new(0), lag_ms: AtomicU64::new(0), acked_ms: AtomicU64::new(0) }
    }
    /// `rows` rows were read from the binlog and handed to the sink.
    pub fn read(&self, rows: u64) {
        self.read.fetch_add(rows, Ordering::Relaxed);
    }
    /// Rows read by the stream, over its terms.
    pub fn rows_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }
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
    /// A transaction committed at `ts` (Unix seconds) was confirmed by the sink.
    pub fn acked_at(&self, ts: u32) {
        let now = now_ms();
        self.lag_ms.store(now.saturating_sub(u64::from(ts) * 1000), Ordering::Relaxed);
        self.acked_ms.store(now, Ordering::Relaxed);
    }
    /// This stream's lag: that of the last confirmed transaction, 0 once everything sent is
    /// confirmed and nothing was confirmed for 2 s (idle and caught up).
    pub fn lag_seconds(&self) -> f64 {
        let (sent, confirmed) = self.delivery();
        if sent == confirmed && now_ms().saturating_sub(self.acked_ms.load(Ordering::Relaxed)) > 2000 {
            return 0.0;
        }
        self.lag_ms.load(Ordering::Relaxed) as f64 / 1000.0
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
    /// When the previous check ran: a long gap means this process was paused or starved,
    /// which is not the source's or the broker's doing (the pause guard handles it).
    last_check: std::time::Instant,
    /// Silence counts from here (reset after a pause).
    counting_since: std::time::Instant,
}

impl StallCheck {
    pub fn new(timeout: Duration) -> Self {
        let now = std::time::Instant::now();
        Self { timeout, confirmed: 0, since: now, last_check: now, counting_since: now }
    }

    /// `Some(why)` once the source has been silent, or rows have waited on the broker without
    /// any confirmation, for longer than the timeout.
    pub fn check(&mut self, p: &Progress) -> Option<String> {
        let now = std::time::Instant::now();
        if now.duration_since(self.last_check) > self.timeout / 2 {
            self.counting_since = now;
            self.since = now;
        }
        self.last_check = now;
        let silence = p.source_silence().min(now.duration_since(self.counting_since));
        if silence > self.timeout {
            return Some(format!(
                "no binlog event or heartbeat from the source for {:.1} s (unreachable from this node?)",
                silence.as_secs_f64()
            ));
        }
        let (sent, confirmed) = p.delivery();
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
    use std::time::Instant;

    /// Checks every 10 ms for `dur` (keeping the source alive when asked); the first verdict.
    fn run(c: &mut StallCheck, p: &Progress, dur: Duration, alive: bool) -> Option<String> {
        let end = Instant::now() + dur;
        while Instant::now() < end {
            if alive {
                p.source_alive();
            }
            if let Some(w) = c.check(p) {
                return Some(w);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    #[test]
    fn rows_waiting_without_confirmation_stall_after_the_timeout() {
        let p = Progress::default();
        let mut c = StallCheck::new(Duration::from_millis(200));
        assert_eq!(c.check(&p), None);
        p.sent(10);
        assert_eq!(run(&mut c, &p, Duration::from_millis(120), true), None, "not yet");
        p.confirmed(4);
        assert_eq!(c.check(&p), None, "a confirmation is progress");
        let t = Instant::now();
        let why = run(&mut c, &p, Duration::from_secs(2), true).expect("stalled");
        assert!(t.elapsed() >= Duration::from_millis(190), "{:?}", t.elapsed());
        assert!(why.contains("6 rows waited"), "{why}");
        p.confirmed(6);
        assert_eq!(c.check(&p), None, "caught up");
        // Idle and caught up: never a stall, however long.
        assert_eq!(run(&mut c, &p, Duration::from_millis(400), true), None);
    }

    #[test]
    fn a_silent_source_stalls() {
        let p = Progress::default();
        let mut c = StallCheck::new(Duration::from_millis(200));
        assert!(run(&mut c, &p, Duration::from_secs(2), false).unwrap().contains("from the source"));
        p.source_alive();
        assert_eq!(c.check(&p), None);
    }

    /// A paused process (SIGSTOP, starved) is not a stalled source: the time it did not run
    /// does not count as silence.
    #[test]
    fn a_pause_of_this_process_is_not_a_stall() {
        let p = Progress::default();
        let mut c = StallCheck::new(Duration::from_millis(200));
        p.sent(3);
        std::thread::sleep(Duration::from_millis(400));
        let t = Instant::now();
        assert_eq!(c.check(&p), None, "the gap since the last check was a pause");
        assert!(run(&mut c, &p, Duration::from_secs(2), false).is_some(), "checked regularly, silence counts again");
        assert!(t.elapsed() >= Duration::from_millis(190), "{:?}", t.elapsed());
    }
}
