//! Maxwell's `/diagnostic` (`http_diagnostic=true`): each of the node's services is asked now,
//! and the answers come back in Maxwell's JSON.
//!
//! Invariants:
//! - Checks, all mandatory, run at once: `binlog-connector` (a new connection to the source
//!   in use answers `SELECT 1`; a node that leads, or runs alone, must also have its binlog
//!   stream running: its message is Maxwell's "Binlog replication lag is N ms"),
//!   `kafka-producer` (producer=kafka: a new client with the node's connection settings gets
//!   the brokers' metadata) and, in a cluster, `zookeeper` (this node's session reads the
//!   members). Nothing is written anywhere.
//! - Each check answers within `http_diagnostic_timeout`, else it fails with Maxwell's
//!   "check did not return after N ms"; so the whole answer comes within the timeout.
//! - Body: `{"success":…,"checks":[{"name","success","mandatory","resource","message"|"error"}]}`,
//!   `text/json`; 200 when every check succeeded, 503 when a mandatory one failed, 299 when
//!   only optional ones did (Maxwell's codes).

use crate::config::{Config, SourceConfig};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::time::{Duration, Instant};

/// What the checks reach, taken from the node's configuration.
#[derive(Debug, Clone)]
pub struct Checks {
    pub timeout: Duration,
    pub source: SourceConfig,
    /// producer=kafka: librdkafka's settings.
    pub kafka: Option<Vec<(String, String)>>,
    /// In a cluster: the ensemble (the session is the node's own).
    pub zookeeper: Option<String>,
}

impl Checks {
    /// `None` unless `http_diagnostic=true`.
    pub fn new(cfg: &Config) -> Option<Self> {
        Some(Checks {
            timeout: cfg.metrics.diagnostic_timeout?,
            source: cfg.source.clone(),
            kafka: cfg.kafka.as_ref().map(|k| k.props.clone()),
            zookeeper: cfg.ha.as_ref().map(|h| h.servers.clone()),
        })
    }
}

/// One check's answer, in Maxwell's shape.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Check {
    pub name: &'static str,
    pub success: bool,
    pub mandatory: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Maxwell's answer, its keys in Maxwell's order.
#[derive(Debug, Serialize)]
struct Answer {
    success: bool,
    checks: Vec<Check>,
}

/// Maxwell's answer: HTTP status and body.
pub fn result(checks: Vec<Check>) -> (u16, String) {
    let success = checks.iter().all(|c| c.success);
    let code = if success {
        200
    } else if checks.iter().any(|c| c.mandatory && !c.success) {
        503
    } else {
        299
    };
    (code, serde_json::to_string(&Answer { success, checks }).expect("serializable"))
}

/// Runs `check` within `timeout`: its message, its error, or Maxwell's timeout message.
async fn run(name: &'static str, resource: String, timeout: Duration, check: impl std::future::Future<Output = Result<String, String>>) -> Check {
    let r = tokio::time::timeout(timeout, check).await.unwrap_or_else(|_| Err(format!("check did not return after {} ms", timeout.as_millis())));
    let (message, error) = match r {
        Ok(m) => (Some(m), None),
        Err(e) => (None, Some(e)),
    };
    Check { name, success: error.is_none(), mandatory: true, resource: Some(resource), message, error }
}

/// The time a check gives its own wait, so that its own error comes before the timeout.
fn inner(timeout: Duration) -> Duration {
    (timeout * 4 / 5).max(Duration::from_millis(100))
}

async fn binlog(source: &SourceConfig, within: Duration) -> Result<String, String> {
    let t0 = Instant::now();
    source.probe(within).await?;
    let st = crate::metrics::snapshot();
    use crate::metrics::Role;
    match st.role {
        Role::Leader | Role::Single if st.streaming => Ok(format!("Binlog replication lag is {}ms", (st.lag_seconds.unwrap_or(0.0) * 1000.0).round() as i64)),
        Role::Leader | Role::Single | Role::Starting => Err("the source answers, but this node's binlog stream is not running".into()),
        role => Ok(format!("the source answered in {} ms; this node does not read the binlog ({role:?})", t0.elapsed().as_millis())),
    }
}

/// Keeps the first error librdkafka reports (a refused connection, a refused login).
#[derive(Default)]
struct FirstError(std::sync::Mutex<Option<String>>);

impl rdkafka::ClientContext for FirstError {
    fn error(&self, _: rdkafka::error::KafkaError, reason: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(|| reason.to_string());
    }

    /// The check's own client reports through its answer, not the node's log.
    fn log(&self, _: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        tracing::debug!(fac, "diagnostic's Kafka client: {log_message}");
    }
}

impl rdkafka::consumer::ConsumerContext for FirstError {}

/// The brokers' metadata on a new client (blocking, up to `within` and a few polls).
fn kafka(props: &[(String, String)], within: Duration) -> Result<String, String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let t0 = Instant::now();
    let client: BaseConsumer<FirstError> = crate::sink::kafka::config::connection_settings(props)
        .create_with_context(FirstError::default())
        .map_err(|e| format!("librdkafka refused the kafka.* settings: {e}"))?;
    match client.fetch_metadata(None, within) {
        Ok(md) => Ok(format!("{} Kafka broker(s) answered in {} ms", md.brokers().len(), t0.elapsed().as_millis())),
        Err(e) => {
            for _ in 0..4 {
                let _ = client.poll(Duration::from_millis(25));
            }
            let first = client.context().0.lock().unwrap_or_else(|e| e.into_inner()).clone();
            Err(format!("no metadata from the brokers: {}", first.unwrap_or_else(|| e.to_string())))
        }
    }
}

async fn zookeeper(membership: &crate::cluster::Membership) -> Result<String, String> {
    let t0 = Instant::now();
    let zk = membership.current().ok_or("this node has no ZooKeeper session (connecting)")?;
    let members = zk.members().await.map_err(|e| e.to_string())?;
    Ok(format!("ZooKeeper answered in {} ms ({} member(s))", t0.elapsed().as_millis(), members.len()))
}

/// Runs every check at once (see the module's invariants).
pub async fn checks(c: &Checks, membership: &crate::cluster::Membership) -> Vec<Check> {
    let within = inner(c.timeout);
    let b = run("binlog-connector", c.source.current(), c.timeout, binlog(&c.source, within));
    let k = async {
        let props = c.kafka.clone()?;
        let servers = props.iter().find(|(k, _)| k == "bootstrap.servers").map(|(_, v)| v.clone()).unwrap_or_default();
        let blocking = async move { tokio::task::spawn_blocking(move || kafka(&props, within)).await.map_err(|e| format!("the check failed: {e}"))? };
        Some(run("kafka-producer", servers, c.timeout, blocking).await)
    };
    let z = async {
        let servers = c.zookeeper.clone()?;
        Some(run("zookeeper", servers, c.timeout, zookeeper(membership)).await)
    };
    let (b, k, z) = tokio::join!(b, k, z);
    std::iter::once(b).chain(k).chain(z).collect()
}

/// `/diagnostic`.
pub async fn handle(c: Checks, membership: crate::cluster::Membership) -> Response {
    let (code, body) = result(checks(&c, &membership).await);
    let status = StatusCode::from_u16(code).expect("valid status");
    (status, [(header::CONTENT_TYPE, "text/json"), (header::CACHE_CONTROL, "must-revalidate,no-cache,no-store")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &'static str, success: bool, mandatory: bool) -> Check {
        Check { name, success, mandatory, resource: Some("r:1".into()), message: success.then(|| "ok".into()), error: (!success).then(|| "down".into()) }
    }

    #[test]
    fn maxwells_codes_and_shape() {
        let (code, text) = result(vec![check("binlog-connector", true, true), check("kafka-producer", true, true)]);
        assert_eq!(code, 200);
        assert!(
            text.starts_with(r#"{"success":true,"checks":[{"name":"binlog-connector","success":true,"mandatory":true,"resource":"r:1","message":"ok"}"#),
            "{text}"
        );
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"success": true, "checks": [
            {"name": "binlog-connector", "success": true, "mandatory": true, "resource": "r:1", "message": "ok"},
            {"name": "kafka-producer", "success": true, "mandatory": true, "resource": "r:1", "message": "ok"}]})
        );
        let (code, text) = result(vec![check("binlog-connector", true, true), check("kafka-producer", false, true)]);
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!((code, &body["success"]), (503, &serde_json::json!(false)));
        assert_eq!(body["checks"][1]["error"], "down");
        assert_eq!(result(vec![check("x", false, false)]).0, 299, "only an optional check failed");
    }

    #[tokio::test]
    async fn a_slow_check_fails_within_the_timeout() {
        let t0 = Instant::now();
        let c = run("kafka-producer", "k:9092".into(), Duration::from_millis(200), async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok("late".to_string())
        })
        .await;
        assert!(t0.elapsed() < Duration::from_secs(1));
        assert_eq!(c.error.as_deref(), Some("check did not return after 200 ms"));
        assert!(!c.success && c.mandatory && c.message.is_none());
    }
}
