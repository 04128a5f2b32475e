//! Producer settings: Maxwell's routing plus the librdkafka properties, with the defaults we
//! insist on and the combinations we refuse.
//!
//! Invariants:
//! - Unless the user says otherwise: `acks=all`, idempotence on (off when only `acks` other
//!   than all is given, as Maxwell's example file does, with a warning), `linger.ms=5`.
//! - Settings that would silently void a guarantee are refused at start with one message
//!   that names the key and what to do: `acks` other than all with idempotence, more than 5
//!   requests in flight with idempotence, `kafka.transactional.id` outside a cluster, and in
//!   exactly-once mode anything that turns idempotence or `acks=all` off.

use super::KafkaSinkError;
pub use crate::config::kafka::{default_transactional_id, sanitize, Delivery, KafkaConfig};
use crate::config::kafka::prop;
use rdkafka::producer::FutureProducer;
use rdkafka::ClientConfig;

/// librdkafka settings we insist on unless the user says otherwise, and conflicts we refuse.
/// `transactional` is the cluster's transactional id in exactly-once mode.
pub fn client_config(props: &[(String, String)]) -> Result<ClientConfig, KafkaSinkError> {
    build(props, None)
}

fn build(props: &[(String, String)], transactional: Option<&str>) -> Result<ClientConfig, KafkaSinkError> {
    let get = |k: &str| prop(props, k);
    if get("bootstrap.servers").is_none() {
        return Err(KafkaSinkError::Config("`kafka.bootstrap.servers` is required with producer=kafka".into()));
    }
    let acks = get("acks").or(get("request.required.acks")).unwrap_or("all");
    // Maxwell's own example sets `kafka.acks=1` (and `retries=0`): without a word about
    // idempotence, that choice turns it off (as in the Java client) instead of failing.
    let idempotent = match get("enable.idempotence") {
        Some(v) => v,
        None if !matches!(acks, "all" | "-1") && transactional.is_none() => {
            tracing::warn!(acks, "kafka.acks is not all: the idempotent producer is off, a broker failure can lose or repeat rows (set kafka.acks=all for none)");
            "false"
        }
        None => "true",
    };
    if transactional.is_some() {
        if idempotent != "true" {
            return Err(KafkaSinkError::Config(
                "turning `kafka.enable.idempotence` off voids exactly-once delivery (Kafka transactions need idempotence): remove it, or set ha_delivery=at_least_once".into(),
            ));
        }
        if !matches!(acks, "all" | "-1") {
            return Err(KafkaSinkError::Config(format!(
                "`kafka.acks={acks}` voids exactly-once delivery: remove it (acks=all), or set ha_delivery=at_least_once"
            )));
        }
    }
    if idempotent == "true" && !matches!(acks, "all" | "-1") {
        return Err(KafkaSinkError::Config(format!(
            "`kafka.acks={acks}` conflicts with `kafka.enable.idempotence=true`: use acks=all, or remove enable.idempotence to accept possible loss"
        )));
    }
    if let Some(n) = get("max.in.flight.requests.per.connection").or(get("max.in.flight")) {
        if idempotent == "true" && n.parse::<u32>().map_or(true, |n| n > 5) {
            return Err(KafkaSinkError::Config(format!("`kafka.max.in.flight.requests.per.connection={n}` must be 1..5 with idempotence")));
        }
    }
    if transactional.is_none() && get("transactional.id").is_some() {
        return Err(KafkaSinkError::Config(
            "`kafka.transactional.id` is only used by a cluster in exactly-once mode (zookeeper_servers set, ha_delivery=exactly_once), where it names the cluster's producer".into(),
        ));
    }
    let mut c = ClientConfig::new();
    c.set("enable.idempotence", idempotent).set("acks", acks).set("linger.ms", "5");
    for (k, v) in props {
        c.set(k, v);
    }
    if let Some(id) = transactional {
        c.set("transactional.id", id);
    }
    Ok(c)
}

/// Creates a producer with our settings (no transactions).
pub fn create_producer(cfg: &KafkaConfig) -> Result<FutureProducer, KafkaSinkError> {
    create(build(&cfg.props, None)?)
}

/// Creates the cluster's transactional producer. It does not talk to the transaction
/// coordinator until `init_transactions`, so a standby may hold one without fencing anyone.
pub fn create_transactional_producer(cfg: &KafkaConfig, transactional_id: &str) -> Result<FutureProducer, KafkaSinkError> {
    create(build(&cfg.props, Some(transactional_id))?)
}

fn create(c: ClientConfig) -> Result<FutureProducer, KafkaSinkError> {
    c.create().map_err(|e| KafkaSinkError::Config(format!("librdkafka refused the kafka.* settings: {e}")))
}

/// The connection and security settings of `props`, for the sink's consumers.
pub fn connection_settings(props: &[(String, String)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in props {
        if k == "bootstrap.servers" || k.starts_with("security.") || k.starts_with("sasl.") || k.starts_with("ssl.") || k.starts_with("reconnect.") || k == "client.id" {
            c.set(k, v);
        }
    }
    c
}

/// A consumer that reads back a few records already there (the takeover scan, the checkpoint
/// reader): no group commits, never waiting for more. `role` names its group; `isolation`
/// is librdkafka's `isolation.level` (its default when `None`).
pub fn read_back_consumer(props: &[(String, String)], role: &str, isolation: Option<&str>) -> Result<rdkafka::consumer::BaseConsumer, KafkaSinkError> {
    let mut c = connection_settings(props);
    c.set("group.id", format!("maxwell-ha-{role}-{}", std::process::id())).set("enable.auto.commit", "false").set("fetch.wait.max.ms", "10");
    if let Some(level) = isolation {
        c.set("isolation.level", level);
    }
    c.create().map_err(|e| KafkaSinkError::Config(format!("librdkafka refused the kafka.* settings: {e}")))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `kafka.*` properties (prefix stripped) from pairs; shared by the sink's unit tests.
    pub(in crate::sink::kafka) fn props(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_and_conflicts() {
        let c = client_config(&props(&[("bootstrap.servers", "127.0.0.1:9092")])).unwrap();
        assert_eq!(c.get("acks"), Some("all"));
        assert_eq!(c.get("enable.idempotence"), Some("true"));
        for (bad, needle) in [
            (props(&[]), "kafka.bootstrap.servers"),
            (props(&[("bootstrap.servers", "x"), ("acks", "1"), ("enable.idempotence", "true")]), "conflicts with `kafka.enable.idempotence=true`"),
            (props(&[("bootstrap.servers", "x"), ("max.in.flight.requests.per.connection", "10")]), "1..5"),
            (props(&[("bootstrap.servers", "x"), ("transactional.id", "t")]), "only used by a cluster"),
        ] {
            let e = client_config(&bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
        let c = client_config(&props(&[("bootstrap.servers", "x"), ("enable.idempotence", "false"), ("acks", "1")])).unwrap();
        assert_eq!(c.get("acks"), Some("1"));
        // Maxwell's example file: acks=1 and retries=0, nothing about idempotence.
        let c = client_config(&props(&[("bootstrap.servers", "x"), ("acks", "1"), ("retries", "0")])).unwrap();
        assert_eq!((c.get("acks"), c.get("enable.idempotence"), c.get("retries")), (Some("1"), Some("false"), Some("0")));
        // And librdkafka takes it.
        let p: Result<rdkafka::producer::BaseProducer, _> = c.create();
        assert!(p.is_ok(), "{:?}", p.err());
    }

    #[test]
    fn exactly_once_refuses_what_voids_it() {
        let ok = build(&props(&[("bootstrap.servers", "x")]), Some("maxwell-ha.t")).unwrap();
        assert_eq!(ok.get("transactional.id"), Some("maxwell-ha.t"));
        for (bad, needle) in [
            (props(&[("bootstrap.servers", "x"), ("enable.idempotence", "false")]), "`kafka.enable.idempotence` off"),
            (props(&[("bootstrap.servers", "x"), ("enable.idempotence", "false"), ("acks", "1")]), "voids exactly-once"),
            (props(&[("bootstrap.servers", "x"), ("acks", "1")]), "voids exactly-once"),
        ] {
            let e = build(&bad, Some("t")).unwrap_err().to_string();
            assert!(e.contains(needle) && e.contains("ha_delivery=at_least_once"), "{e}");
        }
    }

}
