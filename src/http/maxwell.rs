//! Maxwell's HTTP answers where its users read them: `/metrics` as Dropwizard's JSON for a
//! client that asks for JSON, `/healthcheck` as Dropwizard's health check JSON, `/ping`.
//!
//! Invariants:
//! - `/metrics` is Prometheus text unless the request's `Accept` names `application/json`;
//!   then it is Maxwell's `/metrics` (Dropwizard 3.1's MetricsServlet): `version`, `gauges`,
//!   `counters`, `histograms`, `meters`, `timers` keyed by Maxwell's names under
//!   `metrics_prefix`, rates per second, timers' durations in seconds, `?pretty=true` indented.
//! - `/healthcheck` is `{"MaxwellHealth":{"healthy":…,"message":…}}`, 200 when healthy and
//!   500 when not (Dropwizard's HealthCheckServlet). Healthy is this node's readiness (`/readyz`)
//!   and, as Maxwell's check, no message failed in the last 15 minutes.
//! - `/ping` is `pong` and a newline, `text/plain` (Dropwizard's PingServlet).
//! - All three send Dropwizard's `Cache-Control: must-revalidate,no-cache,no-store`.

use crate::metrics::maxwell::{self, Names, Value};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const NO_CACHE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "must-revalidate,no-cache,no-store");

/// Maxwell's health check window: a failed message makes the node unhealthy this long.
pub const FAILED_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Whether the request's `Accept` header names `application/json`.
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|r| r.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"))
}

/// A figure as Jackson writes it: a whole number without a fraction.
fn num(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

#[derive(Serialize)]
struct Stats {
    max: serde_json::Value,
    mean: f64,
    min: serde_json::Value,
    p50: f64,
    p75: f64,
    p95: f64,
    p98: f64,
    p99: f64,
    p999: f64,
    stddev: f64,
}

impl Stats {
    /// `f`: unit conversion; histograms' min and max are whole numbers, timers' are not.
    fn of(s: &maxwell::Snapshot, f: f64, whole: bool) -> Self {
        let edge = |v: f64| if whole { num(v.round()) } else { json!(v * f) };
        Stats {
            max: edge(s.max),
            mean: s.mean * f,
            min: edge(s.min),
            p50: s.median * f,
            p75: s.p75 * f,
            p95: s.p95 * f,
            p98: s.p98 * f,
            p99: s.p99 * f,
            p999: s.p999 * f,
            stddev: s.stddev * f,
        }
    }
}

#[derive(Serialize)]
struct Metered {
    m15_rate: f64,
    m1_rate: f64,
    m5_rate: f64,
    mean_rate: f64,
}

impl From<&maxwell::Rates> for Metered {
    fn from(r: &maxwell::Rates) -> Self {
        Metered { m15_rate: r.m15, m1_rate: r.m1, m5_rate: r.m5, mean_rate: r.mean }
    }
}

#[derive(Serialize)]
struct Gauge {
    value: serde_json::Value,
}

#[derive(Serialize)]
struct Counter {
    count: u64,
}

#[derive(Serialize)]
struct Histogram {
    count: u64,
    #[serde(flatten)]
    stats: Stats,
}

#[derive(Serialize)]
struct Meter {
    count: u64,
    #[serde(flatten)]
    rates: Metered,
    units: &'static str,
}

#[derive(Serialize)]
struct Timer {
    count: u64,
    #[serde(flatten)]
    stats: Stats,
    #[serde(flatten)]
    rates: Metered,
    duration_units: &'static str,
    rate_units: &'static str,
}

/// Dropwizard's registry: its kinds in its order, each by name.
#[derive(Serialize, Default)]
struct Registry {
    version: &'static str,
    gauges: BTreeMap<String, Gauge>,
    counters: BTreeMap<String, Counter>,
    histograms: BTreeMap<String, Histogram>,
    meters: BTreeMap<String, Meter>,
    timers: BTreeMap<String, Timer>,
}

/// Maxwell's `/metrics` body (see the module's invariants).
pub fn metrics_json(metrics: &[(String, Value)], pretty: bool) -> String {
    let mut r = Registry { version: "3.0.0", ..Default::default() };
    for (name, v) in metrics {
        let name = name.clone();
        match v {
            Value::Gauge(g) => drop(r.gauges.insert(name, Gauge { value: num(*g) })),
            Value::Counter(c) => drop(r.counters.insert(name, Counter { count: *c })),
            Value::Histogram { count, snapshot } => drop(r.histograms.insert(name, Histogram { count: *count, stats: Stats::of(snapshot, 1.0, true) })),
            Value::Meter(m) => drop(r.meters.insert(name, Meter { count: m.count, rates: m.into(), units: "events/second" })),
            Value::Timer { snapshot, rates } => drop(r.timers.insert(
                name,
                Timer {
                    count: rates.count,
                    stats: Stats::of(snapshot, 0.001, false),
                    rates: rates.into(),
                    duration_units: "seconds",
                    rate_units: "calls/second",
                },
            )),
        }
    }
    if pretty { serde_json::to_string_pretty(&r) } else { serde_json::to_string(&r) }.expect("serializable")
}

/// `/metrics`: Prometheus text, or Maxwell's JSON for a client that asks for JSON.
pub async fn metrics(names: Names, headers: HeaderMap, uri: Uri) -> Response {
    if !wants_json(&headers) {
        return super::prometheus().await;
    }
    let pretty = uri.query().unwrap_or("").split('&').any(|kv| kv.eq_ignore_ascii_case("pretty=true"));
    let text = metrics_json(&maxwell::collect(&names), pretty);
    ([(header::CONTENT_TYPE, "application/json"), NO_CACHE], text).into_response()
}

/// Healthy or not, and why (see the module's invariants).
pub fn health(st: &crate::metrics::Status, failed_recently: bool) -> Result<String, String> {
    let ready = super::readiness(st)?;
    if failed_recently {
        return Err("messages failed to be delivered in the past 15 minutes".into());
    }
    Ok(ready.to_string())
}

/// `/healthcheck`.
pub async fn healthcheck() -> Response {
    let failed = crate::metrics::get().failed_within(FAILED_WINDOW);
    let (code, result) = match health(&crate::metrics::snapshot(), failed) {
        Ok(why) => (StatusCode::OK, json!({"healthy": true, "message": why})),
        Err(why) => (StatusCode::INTERNAL_SERVER_ERROR, json!({"healthy": false, "message": why})),
    };
    let body = serde_json::to_string(&json!({ "MaxwellHealth": result })).expect("serializable");
    (code, [(header::CONTENT_TYPE, "application/json"), NO_CACHE], body).into_response()
}

/// `/ping`.
pub async fn ping() -> Response {
    ([(header::CONTENT_TYPE, "text/plain"), NO_CACHE], "pong\n").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::maxwell::{Rates, Snapshot};
    use crate::metrics::{Role, Status};

    #[test]
    fn json_only_when_asked_for() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT, v.parse().unwrap());
            m
        };
        assert!(wants_json(&h("application/json")));
        assert!(wants_json(&h("text/html, application/json;q=0.9")));
        assert!(!wants_json(&h("*/*")), "curl's default gets Prometheus text");
        assert!(!wants_json(&h("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1")), "Prometheus's scraper");
        assert!(!wants_json(&HeaderMap::new()));
    }

    #[test]
    fn metrics_json_in_dropwizards_shape() {
        let rates = Rates { count: 4, mean: 2.0, m1: 1.0, m5: 0.5, m15: 0.25 };
        let snap = Snapshot { min: 1000.0, max: 3000.0, median: 2000.0, ..Default::default() };
        let text = metrics_json(
            &[
                ("M.replication.lag".into(), Value::Gauge(5.0)),
                ("M.row.count".into(), Value::Counter(4)),
                ("M.row.meter".into(), Value::Meter(rates)),
                ("M.message.publish.time".into(), Value::Timer { snapshot: snap, rates }),
                ("M.transaction.row_count".into(), Value::Histogram { count: 2, snapshot: snap }),
            ],
            false,
        );
        let keys: Vec<&str> = ["version", "gauges", "counters", "histograms", "meters", "timers"].to_vec();
        let at: Vec<usize> = keys.iter().map(|k| text.find(&format!("\"{k}\"")).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "Dropwizard's order: {text}");
        assert!(text.contains(r#""stddev":0.0,"m15_rate":0.25"#), "a timer's statistics, then its rates: {text}");
        let j: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(j["version"], "3.0.0");
        assert!(text.contains(r#""M.replication.lag":{"value":5}"#), "a whole number, as Jackson writes a long: {text}");
        assert_eq!(j["counters"]["M.row.count"]["count"], 4);
        assert_eq!(
            j["meters"]["M.row.meter"],
            json!({"count": 4, "m15_rate": 0.25, "m1_rate": 1.0, "m5_rate": 0.5, "mean_rate": 2.0, "units": "events/second"})
        );
        let t = &j["timers"]["M.message.publish.time"];
        assert_eq!((t["p50"].as_f64(), t["max"].as_f64(), t["count"].as_u64()), (Some(2.0), Some(3.0), Some(4)), "durations in seconds: {t}");
        assert_eq!((t["duration_units"].as_str(), t["rate_units"].as_str()), (Some("seconds"), Some("calls/second")));
        assert_eq!(j["histograms"]["M.transaction.row_count"]["p50"], 2000.0);
        assert_eq!(j["histograms"]["M.transaction.row_count"]["max"], 3000, "a histogram's extremes are whole numbers");
    }

    #[test]
    fn health_is_readiness_and_no_recent_failure() {
        let st = Status { role: Role::Single, streaming: true, ..Default::default() };
        assert_eq!(health(&st, false), Ok("streaming".to_string()));
        assert!(health(&st, true).unwrap_err().contains("failed"));
        let st = Status { role: Role::Leader, streaming: false, ..Default::default() };
        assert!(health(&st, false).unwrap_err().contains("not running"));
    }
}
