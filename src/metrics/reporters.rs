//! Maxwell's push reporters: `slf4j` (every metric logged at an interval) and `datadog`
//! (DogStatsD over UDP), sending [`maxwell::collect`]'s metrics as Maxwell 1.22.6's reporters
//! send them.
//!
//! Invariants:
//! - slf4j: every `metrics_slf4j_interval` one `tracing` event per metric, at INFO, target
//!   `maxwell_ha::metrics`, with the fields of Dropwizard's Slf4jReporter (`type`, `name`,
//!   `count`, `value`, `m1`, `median`, …; rates per second, durations in ms).
//! - datadog: every `metrics_datadog_interval` one line per figure, as Maxwell's Datadog
//!   reporter (coursera metrics-datadog, UDP transport) writes them: every figure a gauge
//!   (`name:value|g`, counters too), `|#tag,tag` when tags are set; counters and gauges under
//!   their name, meters as `.count`, `.1MinuteRate`, `.15MinuteRate`, histograms as `.count`,
//!   `.median`, `.p95`, `.p99`, timers as both (durations in ms). Values carry at most six
//!   decimals, no trailing zeros. Lines are packed into datagrams of at most
//!   [`DATAGRAM`] bytes, separated by `\n`, as the DogStatsD client does.
//! - A send that fails is logged (at most once per minute) and retried at the next interval;
//!   it never stops the node.

use super::maxwell::{self, Names, Value};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Largest DogStatsD datagram (the Java client's buffer).
pub const DATAGRAM: usize = 1400;

/// Logs every metric every `every` until `stop`.
pub async fn slf4j(names: Names, every: Duration, stop: CancellationToken) {
    tracing::info!(interval_s = every.as_secs(), "slf4j metrics reporter enabled");
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => log(&maxwell::collect(&names)),
        }
    }
}

/// One event per metric (see the module's invariants).
pub fn log(metrics: &[(String, Value)]) {
    for (name, v) in metrics {
        match v {
            Value::Gauge(g) => tracing::info!(target: "maxwell_ha::metrics", r#type = "GAUGE", name = %name, value = g, "metric"),
            Value::Counter(c) => tracing::info!(target: "maxwell_ha::metrics", r#type = "COUNTER", name = %name, count = c, "metric"),
            Value::Histogram { count, snapshot: s } => tracing::info!(
                target: "maxwell_ha::metrics", r#type = "HISTOGRAM", name = %name, count, min = s.min, max = s.max, mean = s.mean,
                stddev = s.stddev, median = s.median, p75 = s.p75, p95 = s.p95, p98 = s.p98, p99 = s.p99, p999 = s.p999, "metric"
            ),
            Value::Meter(r) => tracing::info!(
                target: "maxwell_ha::metrics", r#type = "METER", name = %name, count = r.count, mean_rate = r.mean, m1 = r.m1, m5 = r.m5,
                m15 = r.m15, rate_unit = "events/second", "metric"
            ),
            Value::Timer { snapshot: s, rates: r } => tracing::info!(
                target: "maxwell_ha::metrics", r#type = "TIMER", name = %name, count = r.count, min = s.min, max = s.max, mean = s.mean,
                stddev = s.stddev, median = s.median, p75 = s.p75, p95 = s.p95, p98 = s.p98, p99 = s.p99, p999 = s.p999,
                mean_rate = r.mean, m1 = r.m1, m5 = r.m5, m15 = r.m15, rate_unit = "calls/second", duration_unit = "milliseconds", "metric"
            ),
        }
    }
}

/// A value as the DogStatsD client prints a double: at most six decimals, none trailing.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "NaN".into();
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// The DogStatsD lines of `metrics` with `tags` (see the module's invariants).
pub fn dogstatsd_lines(metrics: &[(String, Value)], tags: &[String]) -> Vec<String> {
    let tags = if tags.is_empty() { String::new() } else { format!("|#{}", tags.join(",")) };
    let mut out = Vec::new();
    let mut gauge = |name: &str, v: f64| out.push(format!("{name}:{}|g{tags}", number(v)));
    for (name, v) in metrics {
        let metered = |gauge: &mut dyn FnMut(&str, f64), r: &maxwell::Rates| {
            gauge(&format!("{name}.count"), r.count as f64);
            gauge(&format!("{name}.1MinuteRate"), r.m1);
            gauge(&format!("{name}.15MinuteRate"), r.m15);
        };
        match v {
            Value::Gauge(g) => gauge(name, *g),
            Value::Counter(c) => gauge(name, *c as f64),
            Value::Histogram { count, snapshot: s } => {
                gauge(&format!("{name}.count"), *count as f64);
                gauge(&format!("{name}.median"), s.median);
                gauge(&format!("{name}.p95"), s.p95);
                gauge(&format!("{name}.p99"), s.p99);
            }
            Value::Meter(r) => metered(&mut gauge, r),
            Value::Timer { snapshot: s, rates: r } => {
                gauge(&format!("{name}.median"), s.median);
                gauge(&format!("{name}.p95"), s.p95);
                gauge(&format!("{name}.p99"), s.p99);
                metered(&mut gauge, r);
            }
        }
    }
    out
}

/// `lines` packed into datagrams of at most [`DATAGRAM`] bytes, `\n` between lines.
pub fn datagrams(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for l in lines {
        if !cur.is_empty() && cur.len() + 1 + l.len() > DATAGRAM {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push('\n');
        }
        cur.push_str(l);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Where DogStatsD lines go, and how often (`metrics_datadog_*`).
#[derive(Debug, Clone)]
pub struct DogStatsd {
    pub host: String,
    pub port: u16,
    pub interval: Duration,
    pub tags: Vec<String>,
}

/// Sends every metric to DogStatsD every `cfg.interval` until `stop`.
pub async fn datadog(names: Names, cfg: DogStatsd, stop: CancellationToken) {
    tracing::info!(host = %cfg.host, port = cfg.port, interval_s = cfg.interval.as_secs(), "Datadog (DogStatsD over UDP) metrics reporter enabled");
    let socket = match std::net::UdpSocket::bind(("0.0.0.0", 0)) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "Datadog reporter: cannot open a UDP socket; no metrics will be sent");
            return;
        }
    };
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + cfg.interval, cfg.interval);
    let mut warned: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let lines = dogstatsd_lines(&maxwell::collect(&names), &cfg.tags);
        let sent = datagrams(&lines).iter().try_for_each(|d| socket.send_to(d.as_bytes(), (cfg.host.as_str(), cfg.port)).map(|_| ()));
        if let Err(e) = sent {
            if warned.is_none_or(|w| w.elapsed() > Duration::from_secs(60)) {
                tracing::warn!(error = %e, host = %cfg.host, port = cfg.port, "Datadog reporter: cannot send to DogStatsD; retrying at the next interval");
                warned = Some(Instant::now());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::maxwell::{Rates, Snapshot};

    #[test]
    fn numbers_as_the_dogstatsd_client_prints_them() {
        assert_eq!(number(5.0), "5");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(1234567.0), "1234567");
        assert_eq!(number(1.0 / 3.0), "0.333333");
        assert_eq!(number(-0.0000001), "0");
        assert_eq!(number(f64::NAN), "NaN");
    }

    #[test]
    fn lines_as_maxwells_datadog_reporter_sends_them() {
        let rates = Rates { count: 7, mean: 1.0, m1: 0.5, m5: 0.25, m15: 0.125 };
        let snap = Snapshot { median: 3.0, p95: 9.5, p99: 10.0, ..Default::default() };
        let metrics = vec![
            ("M.replication.lag".to_string(), Value::Gauge(12.0)),
            ("M.row.count".to_string(), Value::Counter(7)),
            ("M.transaction.row_count".to_string(), Value::Histogram { count: 2, snapshot: snap }),
            ("M.row.meter".to_string(), Value::Meter(rates)),
            ("M.message.publish.time".to_string(), Value::Timer { snapshot: snap, rates }),
        ];
        let tags = vec!["env:test".to_string(), "team:cdc".to_string()];
        let lines = dogstatsd_lines(&metrics, &tags);
        let expected = [
            "M.replication.lag:12|g",
            "M.row.count:7|g",
            "M.transaction.row_count.count:2|g",
            "M.transaction.row_count.median:3|g",
            "M.transaction.row_count.p95:9.5|g",
            "M.transaction.row_count.p99:10|g",
            "M.row.meter.count:7|g",
            "M.row.meter.1MinuteRate:0.5|g",
            "M.row.meter.15MinuteRate:0.125|g",
            "M.message.publish.time.median:3|g",
            "M.message.publish.time.p95:9.5|g",
            "M.message.publish.time.p99:10|g",
            "M.message.publish.time.count:7|g",
            "M.message.publish.time.1MinuteRate:0.5|g",
            "M.message.publish.time.15MinuteRate:0.125|g",
        ];
        let expected: Vec<String> = expected.iter().map(|l| format!("{l}|#env:test,team:cdc")).collect();
        assert_eq!(lines, expected);
        assert_eq!(dogstatsd_lines(&metrics[..1], &[]), ["M.replication.lag:12|g"]);
    }

    #[test]
    fn datagrams_stay_under_the_client_buffer() {
        let lines: Vec<String> = (0..100).map(|i| format!("MaxwellMetrics.some.metric.{i}:{i}|g|#env:test")).collect();
        let d = datagrams(&lines);
        assert!(d.len() > 1 && d.iter().all(|d| d.len() <= DATAGRAM), "{:?}", d.iter().map(String::len).collect::<Vec<_>>());
        let back: Vec<&str> = d.iter().flat_map(|d| d.split('\n')).collect();
        assert_eq!(back, lines.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(datagrams(&[]).is_empty());
    }
}
