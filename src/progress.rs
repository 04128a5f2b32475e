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
//! - Source silence counts only while the reader waits on the source (for an event, for a
//!   connection, in a reconnect's backoff). While it hands a transaction on (decoding, reading
//!   a spilled transaction back from disk, waiting for room in the sink) the source is not
//!   silent, however long that takes: a 1 000 000-row transaction handed on in parts for 3 s
//!   is the node being busy, not the source being gone.
//!
//! What the watchdog can and cannot tell apart:
//! - It tells "this node waits on the source and hears nothing" from "this node is busy with
//!   what the source already sent" (above), and both from a pause of this process (a gap
//!   between two checks longer than half the timeout restarts the count).
//! - Silence alone cannot tell a source that is unreachable from this node from one that is
//!   reachable but sends nothing (a server writing a huge transaction into its binlog, a
//!   starved dump thread). The term asks a second connection (`SELECT 1`) before handing over
//!   for silence: a source that answers is busy, and [`StallCheck::excuse_source`] restarts the
//!   count. A dump connection that is dead while new connections work is the reader's to
//!   notice (it reconnects after a long silence), not the watchdog's.
//! - Rows waiting on Kafka without any confirmation cannot be told apart from a broker that
//!   is merely slow; the timeout is the only judge there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `source_ms` while the reader is not waiting on the source.
const NOT_WAITING: u64 = 0;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[derive(Debug)]
pub struct Progress {
    /// When the reader started waiting on the source or last heard from it while waiting,
    /// ms since the Unix epoch; [`NOT_WAITING`] while it is busy handing a transaction on.
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
    /// The source sent something (an event or a heartbeat), or the reader starts waiting on
    /// it now: silence counts from here.
    pub fn source_alive(&self) {
        self.source_ms.store(now_ms(), Ordering::Relaxed);
    }
    /// The reader is busy with what the source sent (handing a transaction on) until the
    /// guard is dropped, when it waits on the source again: no silence counts meanwhile.
    pub fn busy(&self) -> Busy<'_> {
        self.source_ms.store(NOT_WAITING, Ordering::Relaxed);
        Busy(self)
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
    /// How long the reader has been waiting on the source without hearing from it (zero while
    /// it is busy handing a transaction on).
    pub fn source_silence(&self) -> Duration {
        match self.source_ms.load(Ordering::Relaxed) {
            NOT_WAITING => Duration::ZERO,
            since => Duration::from_millis(now_ms().saturating_sub(since)),
        }
    }
    /// (rows sent, rows confirmed).
    pub fn delivery(&self) -> (u64, u64) {
        (self.sent.load(Ordering::Relaxed), self.confirmed.load(Ordering::Relaxed))
    }
}

/// While held, the reader is busy, not waiting on the source (see [`Progress::busy`]).
#[must_use = "the reader is busy only while the guard lives"]
pub struct Busy<'a>(&'a Progress);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.source_alive();
    }
}

/// Why a leader is stuck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stall {
    /// The reader has waited this long on the source and heard nothing.
    SourceSilent(Duration),
    /// `rows` were sent to Kafka and none confirmed for `waited`.
    Unconfirmed { rows: u64, waited: Duration },
}

impl std::fmt::Display for Stall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stall::SourceSilent(d) => write!(f, "no binlog event or heartbeat from the source for {:.1} s (unreachable from this node?)", d.as_secs_f64()),
            Stall::Unconfirmed { rows, waited } => {
                write!(f, "{rows} rows waited {:.1} s on Kafka without a confirmation (unreachable from this node?)", waited.as_secs_f64())
            }
        }
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

    /// `Some(stall)` once the source has been silent, or rows have waited on the broker
    /// without any confirmation, for longer than the timeout.
    pub fn check(&mut self, p: &Progress) -> Option<Stall> {
        let now = std::time::Instant::now();
        if now.duration_since(self.last_check) > self.timeout / 2 {
            self.counting_since = now;
            self.since = now;
        }
        self.last_check = now;
        let silence = self.silence(p);
        if silence > self.timeout {
            return Some(Stall::SourceSilent(silence));
        }
        let (sent, confirmed) = p.delivery();
        if confirmed != self.confirmed || confirmed >= sent {
            self.confirmed = confirmed;
            self.since = now;
            return None;
        }
        let waited = now.duration_since(self.since);
        (waited > self.timeout).then_some(Stall::Unconfirmed { rows: sent - confirmed, waited })
    }

    /// How long the source has been silent as this check counts it (pauses of this process
    /// and excused spells left out).
    pub fn silence(&self, p: &Progress) -> Duration {
        p.source_silence().min(self.counting_since.elapsed())
    }

    /// The source was found reachable (it answered on another connection): its silence so
    /// far is not held against it; it counts again from now.
    pub fn excuse_source(&mut self) {
        self.counting_since = std::time::Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Checks every 10 ms for `dur` (keeping the source alive when asked); the first verdict.
    fn run(c: &mut StallCheck, p: &Progress, dur: Duration, alive: bool) -> Option<Stall> {
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
        assert!(matches!(why, Stall::Unconfirmed { rows: 6, .. }), "{why:?}");
        assert!(why.to_string().contains("6 rows waited"), "{why}");
        p.confirmed(6);
        assert_eq!(c.check(&p), None, "caught up");
        // Idle and caught up: never a stall, however long.
        assert_eq!(run(&mut c, &p, Duration::from_millis(400), true), None);
    }

    #[test]
    fn a_silent_source_stalls() {
        let p = Progress::default();
        let mut c = StallCheck::new(Duration::from_millis(200));
        let why = run(&mut c, &p, Duration::from_secs(2), false).unwrap();
        assert!(matches!(why, Stall::SourceSilent(d) if d > Duration::from_millis(200)), "{why:?}");
        assert!(why.to_string().contains("from the source"), "{why}");
        p.source_alive();
        assert_eq!(c.check(&p), None);
    }

    /// The reader handing a long transaction on (reading a spilled transaction back, waiting
    /// for room in the sink) is busy, not waiting on a silent source: the case that stepped a
    /// healthy leader down after 2.1 s while it handed on a 1 000 000-row transaction.
    #[test]
    fn a_reader_busy_handing_on_is_not_a_silent_source() {
        let p = Progress::default();
        let mut c = StallCheck::new(Duration::from_millis(200));
        {
            let _busy = p.busy();
            assert_eq!(p.source_silence(), Duration::ZERO);
            assert_eq!(run(&mut c, &p, Duration::from_millis(600), false), None, "busy for 3 timeouts");
        }
        // Waiting on the source again: silence counts from the end of the busy spell.
        assert!(p.source_silence() < Duration::from_millis(100), "{:?}", p.source_silence());
        let t = Instant::now();
        assert!(matches!(run(&mut c, &p, Duration::from_secs(2), false), Some(Stall::SourceSilent(_))));
        assert!(t.elapsed() >= Duration::from_millis(190), "{:?}", t.elapsed());
    }

    /// A silent source found reachable is excused for one more timeout, then judged again.
    #[test]
    fn an_excused_source_is_judged_again_after_another_timeout() {
        let p = Progress::default();
        let mut c = StallCheck::new(Duration::from_millis(200));
        assert!(run(&mut c, &p, Duration::from_secs(2), false).is_some());
        c.excuse_source();
        let t = Instant::now();
        assert_eq!(c.check(&p), None, "excused");
        assert!(matches!(run(&mut c, &p, Duration::from_secs(2), false), Some(Stall::SourceSilent(_))));
        assert!(t.elapsed() >= Duration::from_millis(190), "{:?}", t.elapsed());
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
