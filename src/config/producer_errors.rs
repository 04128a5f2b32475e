//! Maxwell's producer-error settings as plain data: what the Kafka sink does with a row the
//! broker (or librdkafka) refuses for good (`ignore_producer_error`, `dead_letter_topic`), and
//! `producer_ack_timeout` translated into librdkafka's message timeout.
//!
//! Invariants:
//! - `ignore_producer_error` defaults to true, as in Maxwell. It decides only about refusals
//!   of the row itself (too large, invalid record, invalid topic name); every other error is
//!   retried, whatever it says (Maxwell skips those too).
//! - `producer_ack_timeout` (ms, 0 = off, Maxwell's default) becomes `message.timeout.ms`: a
//!   row not acknowledged that long fails, and the stream resumes from the last acknowledged
//!   position (nothing is skipped for it). An explicit `kafka.message.timeout.ms` or
//!   `kafka.delivery.timeout.ms` with another value is a conflict, refused; the limits a
//!   cluster puts on the message timeout apply to it under its own name.

use super::{err, ConfigError, Settings};

/// What the Kafka sink does with a row Kafka refuses for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerErrors {
    /// `ignore_producer_error`: skip such a row (logged, counted) instead of stopping.
    pub ignore: bool,
    /// `dead_letter_topic`: write Maxwell's dead-letter record for it there instead
    /// (`%{database}` and `%{table}` substituted).
    pub dead_letter_topic: Option<String>,
}

impl Default for ProducerErrors {
    fn default() -> Self {
        Self { ignore: true, dead_letter_topic: None }
    }
}

/// Kafka's rule for topic names: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` nor `..`.
pub fn valid_topic(t: &str) -> bool {
    !t.is_empty() && t.len() <= 249 && t != "." && t != ".." && t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub(super) fn producer_errors(s: &Settings) -> Result<ProducerErrors, ConfigError> {
    let dead_letter_topic = s.get("dead_letter_topic").filter(|t| !t.is_empty()).map(str::to_string);
    if let Some(t) = dead_letter_topic.as_deref().filter(|t| !t.contains("%{")) {
        if !valid_topic(t) {
            return err(format!("`dead_letter_topic={t}` is not a valid Kafka topic name (1 to 249 of a-z, A-Z, 0-9, '.', '_', '-')"));
        }
    }
    Ok(ProducerErrors { ignore: s.bool("ignore_producer_error"), dead_letter_topic })
}

/// `producer_ack_timeout` as librdkafka's `message.timeout.ms`, added to `props` (the `kafka.*`
/// properties, prefix stripped). librdkafka needs it longer than `linger.ms`: a shorter one
/// is raised to that, with a line in `warnings`.
pub(super) fn ack_timeout(s: &Settings, props: &mut Vec<(String, String)>, warnings: &mut Vec<String>) -> Result<(), ConfigError> {
    let ms = s.int("producer_ack_timeout").unwrap_or(0);
    if ms == 0 {
        return Ok(());
    }
    for k in ["message.timeout.ms", "delivery.timeout.ms"] {
        if let Some((_, v)) = props.iter().rev().find(|(p, _)| p == k) {
            if v.trim() != ms.to_string() {
                return err(format!("`producer_ack_timeout={ms}` and `kafka.{k}={v}` both set the message timeout: keep one"));
            }
            return Ok(());
        }
    }
    let linger = props.iter().rev().find(|(p, _)| p == "linger.ms" || p == "queue.buffering.max.ms").map_or(5, |(_, v)| v.parse::<i64>().unwrap_or(5));
    let ms = if ms <= linger {
        warnings.push(format!("`producer_ack_timeout={ms}` is not longer than the producer's linger.ms ({linger}), as librdkafka needs: {} ms is used", linger + 1));
        linger + 1
    } else {
        ms
    };
    props.push(("message.timeout.ms".into(), ms.to_string()));
    Ok(())
}

/// The limits of a cluster on `producer_ack_timeout`: at-least-once, at most the session
/// timeout (as `kafka.message.timeout.ms`); exactly-once, at most the transaction timeout.
pub(super) fn check_cluster(s: &Settings, at_least_once: bool, session_ms: i64) -> Result<(), ConfigError> {
    let ms = s.int("producer_ack_timeout").unwrap_or(0);
    if ms == 0 {
        return Ok(());
    }
    if at_least_once && ms > session_ms {
        return err(format!(
            "`producer_ack_timeout={ms}` lets a frozen leader's queued rows go out after a new leader took over (ha_delivery=at_least_once): use at most zookeeper_session_timeout_ms ({session_ms}), or leave it unset"
        ));
    }
    let txn = s.values.get("kafka.transaction.timeout.ms").and_then(|v| v.parse::<i64>().ok()).unwrap_or(60_000);
    if !at_least_once && ms > txn {
        return err(format!("`producer_ack_timeout={ms}` is longer than a Kafka transaction may last (kafka.transaction.timeout.ms, {txn}): use at most that"));
    }
    Ok(())
}

/// One warning per producer-error key set while `producer` is not kafka (they do nothing then).
pub(super) fn warnings_without_kafka(s: &Settings) -> Vec<String> {
    ["ignore_producer_error", "dead_letter_topic", "producer_ack_timeout"]
        .iter()
        .filter(|k| s.values.contains_key(**k))
        .map(|k| format!("`{k}` applies to producer=kafka only: it has no effect with producer={}", s.get("producer").unwrap_or("stdout")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(a: &[&str]) -> Settings {
        Settings::load(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn maxwell_defaults_and_topic_names() {
        let s = settings(&["--user=a"]);
        assert_eq!(producer_errors(&s).unwrap(), ProducerErrors { ignore: true, dead_letter_topic: None });
        let s = settings(&["--user=a", "--ignore_producer_error=False", "--dead_letter_topic=dlq_%{database}"]);
        assert_eq!(producer_errors(&s).unwrap(), ProducerErrors { ignore: false, dead_letter_topic: Some("dlq_%{database}".into()) });
        let e = producer_errors(&settings(&["--user=a", "--dead_letter_topic=dead letters"])).unwrap_err().to_string();
        assert!(e.contains("dead_letter_topic") && e.contains("not a valid Kafka topic name"), "{e}");
        assert!(valid_topic("a.b_c-1") && !valid_topic("..") && !valid_topic(&"x".repeat(250)) && !valid_topic("a/b"));
    }

    #[test]
    fn ack_timeout_is_the_message_timeout() {
        let w = &mut Vec::new();
        let mut props = vec![];
        ack_timeout(&settings(&["--user=a", "--producer_ack_timeout=3000"]), &mut props, w).unwrap();
        assert_eq!(props, vec![("message.timeout.ms".to_string(), "3000".to_string())]);
        let mut props = vec![];
        ack_timeout(&settings(&["--user=a"]), &mut props, w).unwrap();
        assert!(props.is_empty(), "0 (Maxwell's default) is off: librdkafka's own timeout applies");
        let mut props = vec![("message.timeout.ms".to_string(), "3000".to_string())];
        ack_timeout(&settings(&["--user=a", "--producer_ack_timeout=3000"]), &mut props, w).unwrap();
        assert_eq!(props.len(), 1, "the same value twice is no conflict");
        let mut props = vec![("delivery.timeout.ms".to_string(), "9000".to_string())];
        let e = ack_timeout(&settings(&["--user=a", "--producer_ack_timeout=3000"]), &mut props, w).unwrap_err().to_string();
        assert!(e.contains("kafka.delivery.timeout.ms=9000") && e.contains("keep one"), "{e}");
        assert!(w.is_empty());
        let mut props = vec![];
        ack_timeout(&settings(&["--user=a", "--producer_ack_timeout=5"]), &mut props, w).unwrap();
        assert_eq!(props, vec![("message.timeout.ms".to_string(), "6".to_string())]);
        assert!(w.len() == 1 && w[0].contains("linger.ms (5)"), "{w:?}");
    }

    /// Through the whole configuration: the keys Maxwell users write reach the Kafka section.
    #[test]
    fn in_a_configuration() {
        let cfg = |extra: &[&str]| {
            let mut a = vec!["--user=a", "--producer=kafka", "--kafka.bootstrap.servers=k:9092"];
            a.extend_from_slice(extra);
            super::super::Config::from_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        let c = cfg(&["--producer_ack_timeout=2500", "--ignore_producer_error=false", "--dead_letter_topic=dlq"]).unwrap();
        let k = c.kafka.unwrap();
        assert_eq!(k.get("message.timeout.ms"), Some("2500"));
        assert_eq!(k.errors, ProducerErrors { ignore: false, dead_letter_topic: Some("dlq".into()) });
        let zk = ["--zookeeper_servers=z:2181", "--ha_delivery=at_least_once", "--producer_ack_timeout=5000"];
        let e = cfg(&zk).unwrap_err().to_string();
        assert!(e.contains("producer_ack_timeout=5000") && e.contains("at_least_once"), "{e}");
        assert!(cfg(&["--zookeeper_servers=z:2181", "--producer_ack_timeout=5000"]).is_ok(), "exactly-once allows up to the transaction timeout");
        // With producer=stdout they do nothing, and say so.
        let a: Vec<String> = ["--user=a", "--ignore_producer_error=false"].iter().map(|s| s.to_string()).collect();
        let c = super::super::Config::from_args(&a).unwrap();
        assert!(c.warnings.iter().any(|w| w.contains("ignore_producer_error") && w.contains("producer=stdout")), "{:?}", c.warnings);
    }

    #[test]
    fn cluster_limits() {
        let s = settings(&["--user=a", "--producer_ack_timeout=5000"]);
        let e = check_cluster(&s, true, 4000).unwrap_err().to_string();
        assert!(e.contains("producer_ack_timeout=5000") && e.contains("at most zookeeper_session_timeout_ms (4000)"), "{e}");
        assert!(check_cluster(&s, false, 4000).is_ok());
        let s = settings(&["--user=a", "--producer_ack_timeout=70000"]);
        let e = check_cluster(&s, false, 4000).unwrap_err().to_string();
        assert!(e.contains("kafka.transaction.timeout.ms"), "{e}");
        let s = settings(&["--user=a", "--producer_ack_timeout=70000", "--kafka.transaction.timeout.ms=90000"]);
        assert!(check_cluster(&s, false, 4000).is_ok());
    }
}
