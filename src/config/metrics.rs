//! Metrics, health and diagnostics as Maxwell configures them: `metrics_type` (slf4j, jmx,
//! http, datadog), `metrics_prefix`, the reporters' intervals, DogStatsD's address and tags,
//! `metrics_age_slo`, `http_diagnostic`, and where the HTTP endpoints listen (`http_port`, or
//! Maxwell's older name for it, `metrics_http_port`).
//!
//! Invariants:
//! - `metrics_type` is a comma-separated list of Maxwell's reporters; any other word is refused.
//!   `jmx` (there is no JVM), `metrics_jvm=true`, `custom_health.factory` and a Datadog API key
//!   beside `metrics_datadog_type=udp` are accepted with one warning each and do nothing.
//! - `metrics_datadog_type=http` (Maxwell posts to Datadog's HTTP API with an API key) is
//!   refused with one error that says to run the Datadog Agent and use udp: the node sends
//!   DogStatsD over UDP only.
//! - A key that belongs to a reporter or endpoint that is off (`metrics_slf4j_interval` without
//!   slf4j, `metrics_datadog_*` without datadog, `http_diagnostic_timeout` without
//!   `http_diagnostic`) is refused, as `http_*` keys without HTTP are.
//! - HTTP is on when `http_port` or `metrics_http_port` is set, `metrics_type` has `http`, or
//!   `http_diagnostic=true` (port 8080 unless set, as in Maxwell); `http_port` and
//!   `metrics_http_port` both set to different ports is an error.

use super::{err, ConfigError, HttpConfig, Settings};
use std::time::Duration;

/// Maxwell's reporters (`metrics_type`).
pub const REPORTERS: &[&str] = &["slf4j", "jmx", "http", "datadog"];

/// What is reported, where, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `metrics_prefix`: put before every Maxwell metric name (`MaxwellMetrics.row.count`).
    pub prefix: String,
    /// `metrics_type` has slf4j: log every metric this often.
    pub slf4j_interval: Option<Duration>,
    /// `metrics_type` has datadog: send DogStatsD lines.
    pub datadog: Option<DatadogConfig>,
    /// `metrics_age_slo`: a message older than this when acknowledged counts as a violation.
    pub age_slo: Option<Duration>,
    /// `http_diagnostic=true`: `/diagnostic` answers within this time.
    pub diagnostic_timeout: Option<Duration>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { prefix: "MaxwellMetrics".into(), slf4j_interval: None, datadog: None, age_slo: None, diagnostic_timeout: None }
    }
}

/// Where DogStatsD lines go (`metrics_datadog_host`, `_port`, `_interval`, `_tags`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatadogConfig {
    pub host: String,
    pub port: u16,
    pub interval: Duration,
    /// `metrics_datadog_tags` split at commas, blanks trimmed, empty ones dropped.
    pub tags: Vec<String>,
}

fn set(s: &Settings, k: &str) -> bool {
    s.values.contains_key(k)
}

/// The metrics settings and the HTTP listener (none when HTTP is off); warnings are pushed to
/// `warnings`.
pub(super) fn parse(s: &Settings, warnings: &mut Vec<String>) -> Result<(MetricsConfig, Option<HttpConfig>), ConfigError> {
    let mut types = Vec::new();
    for t in s.get("metrics_type").unwrap_or("").split(',').map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()) {
        if !REPORTERS.contains(&t.as_str()) {
            return err(format!("`metrics_type` is a comma-separated list of {}, not {t:?}", REPORTERS.join(", ")));
        }
        types.push(t);
    }
    let has = |t: &str| types.iter().any(|x| x == t);
    if has("jmx") {
        warnings.push(
            "metrics_type=jmx: there is no JVM and so no JMX here; read the metrics from /metrics (metrics_type=http), the log (slf4j) or DogStatsD (datadog)"
                .into(),
        );
    }
    if s.bool("metrics_jvm") {
        warnings.push("metrics_jvm=true: there is no JVM; the process's memory is maxwell_process_resident_memory_bytes and its CPU is in /api/status".into());
    }
    if let Some(f) = s.get("custom_health.factory") {
        warnings.push(format!(
            "custom_health.factory={f}: Java health check classes cannot be loaded here; /healthcheck reports this node's readiness and failed messages"
        ));
    }
    let mut m = MetricsConfig { prefix: s.get("metrics_prefix").unwrap().to_string(), ..Default::default() };
    if has("slf4j") {
        m.slf4j_interval = Some(Duration::from_secs(s.int("metrics_slf4j_interval").unwrap() as u64));
    } else if set(s, "metrics_slf4j_interval") {
        warnings.push("`metrics_slf4j_interval` is set but `metrics_type` has no slf4j: ignored, as Maxwell ignores it (add slf4j to metrics_type to log the metrics)".into());
    }
    let datadog_keys =
        ["metrics_datadog_type", "metrics_datadog_host", "metrics_datadog_port", "metrics_datadog_interval", "metrics_datadog_tags", "metrics_datadog_apikey"];
    if has("datadog") {
        if s.get("metrics_datadog_type") == Some("http") {
            return err("`metrics_datadog_type=http` (Maxwell posts to Datadog's HTTP API with metrics_datadog_apikey) is not available: run the Datadog Agent next to the node and set metrics_datadog_type=udp with metrics_datadog_host and metrics_datadog_port (its DogStatsD address, default localhost:8125)");
        }
        if set(s, "metrics_datadog_apikey") {
            warnings.push("metrics_datadog_apikey: only metrics_datadog_type=http uses an API key, and DogStatsD over UDP needs none; ignored".into());
        }
        let host = s.get("metrics_datadog_host").unwrap().trim().to_string();
        if host.is_empty() || host.contains(char::is_whitespace) {
            return err(format!("`metrics_datadog_host` must be a host name or address, not {host:?}"));
        }
        let tags = s.get("metrics_datadog_tags").unwrap_or("").split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect();
        m.datadog = Some(DatadogConfig {
            host,
            port: s.int("metrics_datadog_port").unwrap() as u16,
            interval: Duration::from_secs(s.int("metrics_datadog_interval").unwrap() as u64),
            tags,
        });
    } else if let Some(k) = datadog_keys.iter().find(|k| set(s, k)) {
        warnings.push(format!("`{k}` is set but `metrics_type` has no datadog: ignored, as Maxwell ignores it (add datadog to metrics_type to send the metrics)"));
    }
    m.age_slo = s.int("metrics_age_slo").map(|secs| Duration::from_secs(secs as u64));
    if s.bool("http_diagnostic") {
        m.diagnostic_timeout = Some(Duration::from_millis(s.int("http_diagnostic_timeout").unwrap() as u64));
    } else if set(s, "http_diagnostic_timeout") {
        warnings.push("`http_diagnostic_timeout` is set but `http_diagnostic` is not true: ignored, as Maxwell ignores it (set http_diagnostic=true to serve /diagnostic)".into());
    }
    let http = http_config(s, has("http") || m.diagnostic_timeout.is_some() || s.bool("http_config"), warnings)?;
    Ok((m, http))
}

/// Where the HTTP endpoints listen, if anywhere; `wanted`: something asks for HTTP besides a port.
fn http_config(s: &Settings, wanted: bool, warnings: &mut Vec<String>) -> Result<Option<HttpConfig>, ConfigError> {
    let port = match (s.int("http_port"), s.int("metrics_http_port")) {
        (Some(a), Some(b)) if a != b => {
            return err(format!("`http_port={a}` and `metrics_http_port={b}` (Maxwell's older name for http_port) disagree; set only http_port"));
        }
        (Some(p), _) | (None, Some(p)) => p as u16,
        (None, None) if wanted => 8080,
        (None, None) => {
            for k in ["http_bind_address", "http_path_prefix", "http_admin_token"] {
                if set(s, k) {
                    warnings.push(format!("`{k}` is set but HTTP is off: ignored, as Maxwell ignores it (set http_port, or metrics_type=http, to serve HTTP)"));
                }
            }
            return Ok(None);
        }
    };
    let bind = s.get("http_bind_address").unwrap().to_string();
    if bind.parse::<std::net::IpAddr>().is_err() && bind != "localhost" {
        return err(format!("`http_bind_address` must be an IP address such as 127.0.0.1 or 0.0.0.0, not {bind:?}"));
    }
    let raw = s.get("http_path_prefix").unwrap();
    if raw.contains(char::is_whitespace) || raw.contains('?') || raw.contains('#') {
        return err(format!("`http_path_prefix` must be a plain path such as /maxwell/, not {raw:?}"));
    }
    let prefix = format!("/{}/", raw.trim_matches('/')).replace("//", "/");
    let admin_token = s.get("http_admin_token").filter(|t| !t.is_empty()).map(str::to_string);
    Ok(Some(HttpConfig { bind, port, prefix, admin_token }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn cfg(extra: &[&str]) -> Result<Config, ConfigError> {
        let mut s = Settings::default();
        s.set("user", "maxwell").unwrap();
        for kv in extra {
            let (k, v) = kv.split_once('=').unwrap();
            s.set(k, v)?;
        }
        Config::from_settings(&s)
    }

    fn refused(extra: &[&str]) -> String {
        cfg(extra).expect_err("refused").to_string()
    }

    #[test]
    fn every_reporter_of_maxwell_is_accepted() {
        let c = cfg(&["metrics_type=slf4j,jmx, http ,datadog"]).unwrap();
        assert_eq!(c.metrics.slf4j_interval, Some(Duration::from_secs(60)), "Maxwell's default interval");
        let d = c.metrics.datadog.unwrap();
        assert_eq!((d.host.as_str(), d.port, d.interval), ("localhost", 8125, Duration::from_secs(60)), "Maxwell's defaults");
        assert!(d.tags.is_empty());
        assert_eq!(c.http.unwrap().port, 8080, "http turns HTTP on at Maxwell's port");
        assert_eq!(c.metrics.prefix, "MaxwellMetrics");
        assert!(refused(&["metrics_type=graphite"]).contains("slf4j, jmx, http, datadog"));
        assert!(cfg(&["metrics_type="]).unwrap().http.is_none());
    }

    #[test]
    fn jmx_jvm_and_health_factories_warn_once_each() {
        let c = cfg(&["metrics_type=jmx", "metrics_jvm=true", "custom_health.factory=com.example.Factory"]).unwrap();
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("jmx") && c.warnings[1].contains("metrics_jvm") && c.warnings[2].contains("com.example.Factory"), "{:?}", c.warnings);
        assert!(c.http.is_none() && c.metrics.slf4j_interval.is_none());
        assert!(cfg(&["metrics_jvm=false"]).unwrap().warnings.is_empty(), "false is what happens anyway");
    }

    #[test]
    fn slf4j_interval_and_prefix() {
        let c = cfg(&["metrics_type=slf4j", "metrics_slf4j_interval=5", "metrics_prefix=cdc"]).unwrap();
        assert_eq!((c.metrics.slf4j_interval, c.metrics.prefix.as_str()), (Some(Duration::from_secs(5)), "cdc"));
        let w = cfg(&["metrics_slf4j_interval=5"]).unwrap().warnings;
        assert!(w.len() == 1 && w[0].contains("no slf4j") && w[0].contains("ignored"), "Maxwell ignores it: {w:?}");
        assert!(refused(&["metrics_type=slf4j", "metrics_slf4j_interval=0"]).contains("metrics_slf4j_interval"));
        assert_eq!(cfg(&["metrics_prefix="]).unwrap().metrics.prefix, "", "an empty prefix names metrics without one");
    }

    #[test]
    fn datadog_over_udp_with_tags() {
        let c = cfg(&[
            "metrics_type=datadog",
            "metrics_datadog_host=10.0.0.5",
            "metrics_datadog_port=18125",
            "metrics_datadog_interval=10",
            "metrics_datadog_tags=env:prod, team:cdc,,",
            "metrics_datadog_type=UDP",
        ])
        .unwrap();
        let d = c.metrics.datadog.unwrap();
        assert_eq!((d.host.as_str(), d.port, d.interval), ("10.0.0.5", 18125, Duration::from_secs(10)));
        assert_eq!(d.tags, ["env:prod", "team:cdc"]);
        assert!(c.http.is_none() && c.warnings.is_empty());
        let e = refused(&["metrics_type=datadog", "metrics_datadog_type=http", "metrics_datadog_apikey=k"]);
        assert!(e.contains("Datadog Agent") && e.contains("metrics_datadog_type=udp"), "{e}");
        let w = cfg(&["metrics_type=datadog", "metrics_datadog_apikey=k"]).unwrap().warnings;
        assert!(w.len() == 1 && w[0].contains("metrics_datadog_apikey"), "{w:?}");
        for k in [
            "metrics_datadog_host=h",
            "metrics_datadog_port=1",
            "metrics_datadog_tags=a:b",
            "metrics_datadog_interval=5",
            "metrics_datadog_type=udp",
            "metrics_datadog_apikey=k",
        ] {
            let c = cfg(&["metrics_type=http", k]).unwrap();
            assert!(c.metrics.datadog.is_none() && c.warnings.len() == 1 && c.warnings[0].contains("no datadog"), "{k}: {:?}", c.warnings);
        }
        assert!(refused(&["metrics_type=datadog", "metrics_datadog_type=tcp"]).contains("udp, http"));
        assert!(refused(&["metrics_type=datadog", "metrics_datadog_host=a b"]).contains("metrics_datadog_host"));
    }

    #[test]
    fn metrics_http_port_is_http_port() {
        assert_eq!(cfg(&["metrics_http_port=9100"]).unwrap().http.unwrap().port, 9100);
        assert_eq!(cfg(&["metrics_http_port=9100", "http_port=9100", "metrics_type=http"]).unwrap().http.unwrap().port, 9100);
        assert!(refused(&["metrics_http_port=9100", "http_port=9101"]).contains("disagree"));
        assert!(refused(&["metrics_http_port=0"]).contains("metrics_http_port"));
    }

    #[test]
    fn age_slo_and_diagnostic() {
        let c = cfg(&["metrics_age_slo=30"]).unwrap();
        assert_eq!(c.metrics.age_slo, Some(Duration::from_secs(30)));
        assert!(c.http.is_none());
        assert_eq!(cfg(&[]).unwrap().metrics.age_slo, None, "Maxwell's default: no SLO");
        let c = cfg(&["http_diagnostic=true"]).unwrap();
        assert_eq!(c.metrics.diagnostic_timeout, Some(Duration::from_millis(10_000)), "Maxwell's default timeout");
        assert_eq!(c.http.unwrap().port, 8080, "the diagnostic endpoint turns HTTP on, as in Maxwell");
        let c = cfg(&["http_diagnostic=true", "http_diagnostic_timeout=2500", "http_port=9000"]).unwrap();
        assert_eq!((c.metrics.diagnostic_timeout, c.http.unwrap().port), (Some(Duration::from_millis(2500)), 9000));
        let c = cfg(&["http_diagnostic_timeout=2500"]).unwrap();
        assert!(c.http.is_none() && c.warnings.len() == 1 && c.warnings[0].contains("http_diagnostic"), "{:?}", c.warnings);
        assert!(cfg(&["http_diagnostic=false"]).unwrap().http.is_none());
    }
}
