//! Maxwell's metrics, named and shaped as Maxwell 1.22.6 names them, computed from this node's
//! own figures: what the slf4j and DogStatsD reporters send (`reporters`) and what `/metrics`
//! answers as JSON.
//!
//! Invariants:
//! - Names are Maxwell's (`row.count`, `messages.succeeded`, …) under `metrics_prefix`, joined
//!   with `.` as Dropwizard's `MetricRegistry.name` joins them (an empty prefix adds nothing).
//!   Only names whose meaning exists here are produced ([`collect`]; docs/operations.md maps
//!   each to its Prometheus counterpart).
//! - Kinds are Maxwell's: counters, meters (count and rates), gauges, timers (durations in ms,
//!   with the meter of their updates) and histograms.
//! - Rates are Dropwizard's exponentially weighted moving averages over 1, 5 and 15 minutes,
//!   ticked every 5 s from the counters' growth (a late tick gives the first interval every
//!   uncounted event and the others none, as Dropwizard's meter does); the mean rate is the
//!   count over the seconds since the process started.
//! - Timers and histograms keep their last [`RESERVOIR`] values (a sliding window, where
//!   Dropwizard's default reservoir decays exponentially over about 5 minutes); quantiles are
//!   computed as Dropwizard's uniform snapshot computes them.
//! - Recording costs one short-held mutex per transaction read and one per transaction
//!   acknowledged; the rings never grow.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Values kept per timer and histogram.
pub const RESERVOIR: usize = 1028;
/// Dropwizard's tick.
const TICK: Duration = Duration::from_secs(5);
/// Transactions handed to the sink and not yet acknowledged, at most (beyond: the oldest are
/// forgotten; the sink's queue is far shorter).
const HANDED_MAX: usize = 1 << 16;

/// The last [`RESERVOIR`] values of a timer or histogram.
#[derive(Debug, Default)]
struct Ring {
    values: Vec<f64>,
    next: usize,
}

impl Ring {
    fn push(&mut self, v: f64) {
        if self.values.len() < RESERVOIR {
            self.values.push(v);
        } else {
            self.values[self.next] = v;
        }
        self.next = (self.next + 1) % RESERVOIR;
    }
}

/// What the data path records for Maxwell's timers and histograms.
#[derive(Debug, Default)]
struct Recorded {
    /// When each transaction not yet acknowledged was handed to the sink, oldest first (`None`:
    /// it had no rows, and Maxwell's timers count only transactions that send messages).
    handed: VecDeque<Option<Instant>>,
    /// Transactions with rows handed on, and acknowledged.
    transactions: u64,
    published: u64,
    /// Rows of the parts of the transaction being handed on.
    part_rows: u64,
    publish_time: Ring,
    publish_age: Ring,
    transaction_rows: Ring,
}

/// Kept by the registry: timers' and histograms' values, the age SLO.
#[derive(Debug)]
pub(super) struct Recorder {
    recorded: Mutex<Recorded>,
    /// `metrics_age_slo` in ms (`u64::MAX`: none).
    slo_ms: AtomicU64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder { recorded: Default::default(), slo_ms: AtomicU64::new(u64::MAX) }
    }
}

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.recorded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `rows` rows were handed to the sink; `ends`: they end their transaction.
    pub(super) fn read(&self, rows: usize, ends: bool) {
        let mut r = self.lock();
        r.part_rows += rows as u64;
        if ends {
            let total = std::mem::take(&mut r.part_rows);
            if total > 0 {
                r.transaction_rows.push(total as f64);
                r.transactions += 1;
            }
            if r.handed.len() == HANDED_MAX {
                r.handed.pop_front();
            }
            r.handed.push_back((total > 0).then(Instant::now));
        }
    }

    /// The oldest transaction handed on was acknowledged `age` seconds after its commit;
    /// whether that breaks the age SLO.
    pub(super) fn acked(&self, age: f64) -> bool {
        let age_ms = age * 1000.0;
        let mut r = self.lock();
        let Some(Some(at)) = r.handed.pop_front() else {
            return false;
        };
        r.publish_time.push(at.elapsed().as_secs_f64() * 1000.0);
        // Maxwell takes 500 ms off: commit times have a resolution of one second.
        r.publish_age.push((age_ms - 500.0).max(0.0));
        r.published += 1;
        age_ms > self.slo_ms.load(Ordering::Relaxed) as f64
    }

    /// A new stream starts: what an abandoned one handed on will never be acknowledged.
    pub(super) fn stream_started(&self) {
        let mut r = self.lock();
        r.handed.clear();
        r.part_rows = 0;
    }
}

/// Dropwizard's exponentially weighted moving average (per second).
#[derive(Debug, Clone, Copy, Default)]
struct Ewma {
    rate: f64,
    started: bool,
}

impl Ewma {
    fn tick(&mut self, events: u64, minutes: f64) {
        let alpha = 1.0 - (-(TICK.as_secs_f64() / 60.0 / minutes)).exp();
        let instant = events as f64 / TICK.as_secs_f64();
        if self.started {
            self.rate += alpha * (instant - self.rate);
        } else {
            self.rate = instant;
            self.started = true;
        }
    }
}

/// One meter's state: the count at the last tick and its three averages.
#[derive(Debug, Clone, Copy, Default)]
struct MeterState {
    counted: u64,
    m: [Ewma; 3],
}

/// The meters' state, ticked from the counters (see the module's invariants).
#[derive(Debug)]
pub(super) struct Meters {
    last_tick: Instant,
    /// rows, messages succeeded, messages failed, transactions with rows acknowledged.
    state: [MeterState; 4],
    /// When a tick last saw failed messages.
    failed_at: Option<Instant>,
}

impl Default for Meters {
    fn default() -> Self {
        Meters { last_tick: Instant::now(), state: Default::default(), failed_at: None }
    }
}

/// A meter's figures (rates per second).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rates {
    pub count: u64,
    pub mean: f64,
    pub m1: f64,
    pub m5: f64,
    pub m15: f64,
}

/// A timer's or histogram's figures over its reservoir.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Snapshot {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub stddev: f64,
    pub median: f64,
    pub p75: f64,
    pub p95: f64,
    pub p98: f64,
    pub p99: f64,
    pub p999: f64,
}

impl Snapshot {
    /// As Dropwizard's `UniformSnapshot`: quantiles interpolated between the sorted values,
    /// the standard deviation of a sample (n − 1).
    pub fn of(values: &[f64]) -> Snapshot {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            return Snapshot::default();
        }
        let q = |q: f64| {
            let pos = q * (n + 1) as f64;
            let i = pos as usize;
            if i < 1 {
                v[0]
            } else if i >= n {
                v[n - 1]
            } else {
                v[i - 1] + (pos - pos.floor()) * (v[i] - v[i - 1])
            }
        };
        let mean = v.iter().sum::<f64>() / n as f64;
        let stddev = if n > 1 { (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
        Snapshot { min: v[0], max: v[n - 1], mean, stddev, median: q(0.5), p75: q(0.75), p95: q(0.95), p98: q(0.98), p99: q(0.99), p999: q(0.999) }
    }
}

/// One metric as Maxwell reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Gauge(f64),
    Counter(u64),
    Histogram {
        count: u64,
        snapshot: Snapshot,
    },
    Meter(Rates),
    /// Durations in milliseconds.
    Timer {
        snapshot: Snapshot,
        rates: Rates,
    },
}

impl Value {
    /// Dropwizard's report order: gauges, counters, histograms, meters, timers.
    fn rank(&self) -> u8 {
        match self {
            Value::Gauge(_) => 0,
            Value::Counter(_) => 1,
            Value::Histogram { .. } => 2,
            Value::Meter(_) => 3,
            Value::Timer { .. } => 4,
        }
    }
}

/// Which of Maxwell's names this node produces, and under which prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `metrics_prefix`.
    pub prefix: String,
    /// `metrics_age_slo` is set: `message.publish.age.slo_violation` is reported.
    pub age_slo: bool,
    /// producer=kafka: `inflightmessages.count` is reported (Maxwell's asynchronous producers).
    pub inflight: bool,
}

impl Names {
    /// `prefix.name`, as `MetricRegistry.name(prefix, name…)`.
    pub fn name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }
}

impl super::Metrics {
    /// Sets `metrics_age_slo`.
    pub fn set_age_slo(&self, slo: Option<Duration>) {
        self.maxwell.slo_ms.store(slo.map_or(u64::MAX, |d| d.as_millis() as u64), Ordering::Relaxed);
    }

    /// A new binlog stream starts (see [`Recorder::stream_started`]).
    pub fn stream_started(&self) {
        self.maxwell.stream_started();
    }

    /// Ticks the meters for every [`TICK`] passed since the last one.
    pub fn tick_meters(&self) {
        let mut m = self.meters.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let ticks = (now.duration_since(m.last_tick).as_nanos() / TICK.as_nanos()) as u32;
        if ticks == 0 {
            return;
        }
        m.last_tick += TICK * ticks;
        let published = self.maxwell.lock().published;
        let counts = [self.rows.get(), self.messages_succeeded.get(), self.messages_failed.get(), published];
        for (i, count) in counts.into_iter().enumerate() {
            let s = &mut m.state[i];
            let new = count.saturating_sub(s.counted);
            s.counted = count;
            for t in 0..ticks {
                for (e, minutes) in s.m.iter_mut().zip([1.0, 5.0, 15.0]) {
                    e.tick(if t == 0 { new } else { 0 }, minutes);
                }
            }
            if i == 2 && new > 0 {
                m.failed_at = Some(now);
            }
        }
    }

    /// Whether messages failed within `window` (seen by the meters' ticks).
    pub fn failed_within(&self, window: Duration) -> bool {
        self.tick_meters();
        let m = self.meters.lock().unwrap_or_else(|e| e.into_inner());
        m.failed_at.is_some_and(|at| at.elapsed() <= window)
    }

    fn rates(&self, i: usize, count: u64) -> Rates {
        let m = self.meters.lock().unwrap_or_else(|e| e.into_inner());
        let s = m.state[i];
        let up = (super::now_ms() as f64 / 1000.0 - self.start_time.get()).max(0.001);
        Rates { count, mean: count as f64 / up, m1: s.m[0].rate, m5: s.m[1].rate, m15: s.m[2].rate }
    }
}

/// Every Maxwell metric this node produces now, in Dropwizard's report order (by kind, then
/// by name).
pub fn collect(names: &Names) -> Vec<(String, Value)> {
    let m = super::get();
    m.tick_meters();
    let (publish_time, publish_age, rows, transactions, published) = {
        let r = m.maxwell.lock();
        (Snapshot::of(&r.publish_time.values), Snapshot::of(&r.publish_age.values), Snapshot::of(&r.transaction_rows.values), r.transactions, r.published)
    };
    let acked = m.rates(3, published);
    let mut out = vec![
        ("replication.lag", Value::Gauge((m.lag.get() * 1000.0).round())),
        ("messages.succeeded", Value::Counter(m.messages_succeeded.get())),
        ("messages.failed", Value::Counter(m.messages_failed.get())),
        ("row.count", Value::Counter(m.rows.get())),
        ("transaction.row_count", Value::Histogram { count: transactions, snapshot: rows }),
        ("messages.succeeded.meter", Value::Meter(m.rates(1, m.messages_succeeded.get()))),
        ("messages.failed.meter", Value::Meter(m.rates(2, m.messages_failed.get()))),
        ("row.meter", Value::Meter(m.rates(0, m.rows.get()))),
        ("message.publish.time", Value::Timer { snapshot: publish_time, rates: acked }),
        ("message.publish.age", Value::Timer { snapshot: publish_age, rates: acked }),
    ];
    if names.inflight {
        out.push(("inflightmessages.count", Value::Gauge(m.kafka_in_flight() as f64)));
    }
    if names.age_slo {
        out.push(("message.publish.age.slo_violation", Value::Counter(m.age_slo_violations.get())));
    }
    let mut out: Vec<(String, Value)> = out.into_iter().map(|(n, v)| (names.name(n), v)).collect();
    out.sort_by(|a, b| (a.1.rank(), &a.0).cmp(&(b.1.rank(), &b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_as_dropwizard_computes_it() {
        let s = Snapshot::of(&[5.0, 1.0, 4.0, 2.0, 3.0]);
        assert_eq!((s.min, s.max, s.mean, s.median), (1.0, 5.0, 3.0, 3.0));
        assert!((s.stddev - 2.5f64.sqrt()).abs() < 1e-12, "sample standard deviation");
        assert_eq!(s.p75, 4.5, "pos 4.5: between the 4th and 5th value");
        assert_eq!((s.p95, s.p99), (5.0, 5.0));
        assert_eq!(Snapshot::of(&[]), Snapshot::default());
        assert_eq!(Snapshot::of(&[7.0]).p999, 7.0);
    }

    #[test]
    fn ewma_as_dropwizard_ticks_it() {
        // A first tick sets the rate; later ones move it by alpha.
        let mut e = Ewma::default();
        e.tick(50, 1.0);
        assert_eq!(e.rate, 10.0);
        e.tick(0, 1.0);
        let alpha = 1.0 - (-5.0f64 / 60.0).exp();
        assert!((e.rate - 10.0 * (1.0 - alpha)).abs() < 1e-12);
    }

    #[test]
    fn the_ring_keeps_the_last_values() {
        let mut r = Ring::default();
        for i in 0..(RESERVOIR + 3) {
            r.push(i as f64);
        }
        assert_eq!(r.values.len(), RESERVOIR);
        let s = Snapshot::of(&r.values);
        assert_eq!((s.min, s.max), (3.0, (RESERVOIR + 2) as f64));
    }

    #[test]
    fn publish_times_pair_with_what_was_handed_on() {
        let r = Recorder::default();
        r.read(2, false);
        r.read(3, true);
        r.read(0, true);
        r.read(1, true);
        assert!(!r.acked(0.2));
        assert!(!r.acked(9.0), "a transaction without rows is not timed");
        r.slo_ms.store(1000, Ordering::Relaxed);
        assert!(r.acked(1.5), "acknowledged 1.5 s after its commit: over an SLO of 1 s");
        let g = r.lock();
        assert_eq!(g.transaction_rows.values, [5.0, 1.0], "parts count with their transaction");
        assert_eq!(g.publish_time.values.len(), 2);
        assert_eq!(g.publish_age.values, [0.0, 1000.0], "500 ms off, never below 0");
        assert_eq!((g.transactions, g.published), (2, 2));
        drop(g);
        r.read(1, true);
        r.stream_started();
        assert!(r.lock().handed.is_empty(), "a new stream forgets what the old one handed on");
    }

    #[test]
    fn names_take_the_prefix_as_dropwizard_joins_it() {
        let n = Names { prefix: "MaxwellMetrics".into(), age_slo: true, inflight: true };
        assert_eq!(n.name("row.count"), "MaxwellMetrics.row.count");
        assert_eq!(Names { prefix: String::new(), ..n.clone() }.name("row.count"), "row.count");
        let all = collect(&n);
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[0], "MaxwellMetrics.inflightmessages.count", "gauges first, by name");
        assert!(names.contains(&"MaxwellMetrics.message.publish.age.slo_violation"));
        let ranks: Vec<u8> = all.iter().map(|(_, v)| v.rank()).collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
        let short = collect(&Names { age_slo: false, inflight: false, ..n });
        assert_eq!(short.len(), all.len() - 2);
    }
}
