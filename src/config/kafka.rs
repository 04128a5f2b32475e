//! The Kafka producer's settings as plain data: the delivery mode, the `kafka.*` properties
//! in librdkafka's terms (Maxwell's Java client settings translated, or refused with the key
//! to use) and Maxwell's routing. The sink (`sink/kafka/`) builds its producers from them.
//!
//! Invariants:
//! - Every `kafka.*` key either reaches librdkafka under a name it knows (Java client names
//!   translated, units converted), is dropped with one warning saying why (a Java-only setting
//!   such as `max.block.ms`), or stops the start with one message naming the replacement;
//!   nothing is dropped silently.
//! - A key the user set explicitly in librdkafka's form wins over one derived here.
//! - Supported: PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL with PLAIN, SCRAM-SHA-256 and
//!   SCRAM-SHA-512 (librdkafka built with OpenSSL). Kerberos (GSSAPI) and OAUTHBEARER are not.

use super::partition::Routing;

/// How a cluster's leader writes to Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Kafka transactions under one stable `transactional.id` per cluster, with the resume
    /// point committed in the same transaction: a deposed leader is fenced by the broker and
    /// a `read_committed` consumer sees every row exactly once. The cluster default.
    ExactlyOnce,
    /// Idempotent producer, no transactions; a new leader skips rows found in the last
    /// message of each partition. A single node's mode, and a cluster's on request.
    AtLeastOnce,
}

impl std::str::FromStr for Delivery {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "exactly_once" => Ok(Self::ExactlyOnce),
            "at_least_once" => Ok(Self::AtLeastOnce),
            o => Err(format!("`{o}`: expected exactly_once or at_least_once")),
        }
    }
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ExactlyOnce => "exactly_once",
            Self::AtLeastOnce => "at_least_once",
        })
    }
}

/// Settings for the producer: `kafka.*` properties (prefix stripped) and Maxwell's routing.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    pub props: Vec<(String, String)>,
    pub routing: Routing,
    /// What to do with a row Kafka refuses for good.
    pub errors: super::producer_errors::ProducerErrors,
    /// `output_push_timestamp`: stamp `push_ts` (so named) on each row as it is handed to
    /// librdkafka.
    pub push_timestamp: Option<super::NamingStrategy>,
}

impl KafkaConfig {
    /// The last value given for a librdkafka property.
    pub fn get(&self, key: &str) -> Option<&str> {
        prop(&self.props, key)
    }
}

pub(crate) fn prop<'a>(props: &'a [(String, String)], key: &str) -> Option<&'a str> {
    props.iter().rev().find(|(p, _)| p == key).map(|(_, v)| v.as_str())
}

/// A cluster's default transactional id, from its ZooKeeper root (`/maxwell/cluster` →
/// `maxwell-ha.maxwell.cluster`): stable across restarts, distinct per cluster.
pub fn default_transactional_id(root: &str) -> String {
    format!("maxwell-ha.{}", sanitize(root))
}

/// `s` with every character Kafka does not allow in a topic name replaced by `_`, and the
/// path separators by `.`.
pub fn sanitize(s: &str) -> String {
    s.trim_matches('/')
        .chars()
        .map(|c| match c {
            '/' => '.',
            c if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' => c,
            _ => '_',
        })
        .collect()
}

/// The cluster's checkpoint topic: `ha_checkpoint_topic`, else `<transactional id>.checkpoint`.
pub fn default_topic(transactional_id: &str) -> String {
    format!("{transactional_id}.checkpoint")
}

/// Java producer settings that librdkafka names differently: Java's name, librdkafka's, and
/// the divisor from Java's unit to librdkafka's.
const JAVA_RENAMED: &[(&str, &str, u64)] = &[
    ("max.request.size", "message.max.bytes", 1),
    ("buffer.memory", "queue.buffering.max.kbytes", 1024),
    ("send.buffer.bytes", "socket.send.buffer.bytes", 1),
    ("receive.buffer.bytes", "socket.receive.buffer.bytes", 1),
];

/// Java producer settings with no librdkafka equivalent, and why they can go.
const JAVA_ONLY: &[(&str, &str)] = &[
    ("max.block.ms", "librdkafka does not block a send; a full queue is retried"),
    ("metadata.fetch.timeout.ms", "Kafka 0.9's setting; librdkafka fetches metadata on its own"),
    ("key.serializer", "keys are written as Maxwell's JSON strings"),
    ("value.serializer", "values are written as Maxwell's JSON strings"),
    ("partitioner.class", "partitions are chosen by producer_partition_by"),
    ("interceptor.classes", "librdkafka cannot load Java classes"),
    ("metric.reporters", "librdkafka cannot load Java classes"),
    ("block.on.buffer.full", "librdkafka does not block a send"),
    ("timeout.ms", "Kafka 0.9's setting; use kafka.request.timeout.ms"),
    ("metrics.num.samples", "Java client metrics"),
    ("metrics.sample.window.ms", "Java client metrics"),
    ("metrics.recording.level", "Java client metrics"),
    ("auto.include.jmx.reporter", "Java client metrics"),
    ("schema.registry.url", "values are Maxwell's JSON, not Avro"),
];

/// `props` (prefix `kafka.` stripped) in librdkafka's terms; a Java client setting with no
/// equivalent adds one line to `warnings`.
pub fn translate(props: Vec<(String, String)>, warnings: &mut Vec<String>) -> Result<Vec<(String, String)>, String> {
    let has = |k: &str| props.iter().any(|(p, _)| p == k);
    let mut out: Vec<(String, String)> = Vec::with_capacity(props.len());
    let java_keystore = super::java_stores::is_java_keystore(&props);
    for (k, v) in &props {
        if let Some((_, to, div)) = JAVA_RENAMED.iter().find(|(from, _, _)| from == k) {
            let n: u64 = v.trim().parse().map_err(|_| format!("`kafka.{k}` must be a whole number, not {v:?}"))?;
            if !has(to) {
                out.push((to.to_string(), (n / div).max(1).to_string()));
            }
            continue;
        }
        if let Some((_, why)) = JAVA_ONLY.iter().find(|(j, _)| j == k) {
            warnings.push(format!("`kafka.{k}` is a Java client setting with no librdkafka equivalent, ignored: {why}"));
            continue;
        }
        match k.as_str() {
            "sasl.jaas.config" => {
                let (user, password) = jaas_credentials(v)?;
                if !has("sasl.username") {
                    out.push(("sasl.username".into(), user));
                }
                if !has("sasl.password") {
                    out.push(("sasl.password".into(), password));
                }
            }
            // Java's stores, read into PEM below.
            _ if super::java_stores::STORE_KEYS.contains(&k.as_str()) => {}
            "ssl.keystore.location" | "ssl.keystore.password" | "ssl.key.password" if java_keystore => {}
            // Java's "" (no host name check) is librdkafka's "none".
            "ssl.endpoint.identification.algorithm" if v.is_empty() => out.push((k.clone(), "none".into())),
            "sasl.mechanism" if matches!(v.as_str(), "GSSAPI" | "OAUTHBEARER") => {
                return Err(format!("`kafka.sasl.mechanism={v}` is not available: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with kafka.sasl.username and kafka.sasl.password)"))
            }
            // A Java login class is an authentication method librdkafka does not have.
            _ if k.starts_with("sasl.") && k.ends_with(".class") => {
                return Err(format!("`kafka.{k}` names a Java class, which librdkafka cannot load: use kafka.sasl.mechanism=PLAIN or SCRAM-SHA-256/512 with kafka.sasl.username and kafka.sasl.password"))
            }
            _ if k.ends_with(".class") || k.ends_with(".classes") => {
                warnings.push(format!("`kafka.{k}` names a Java class, which librdkafka cannot load: ignored"));
            }
            _ => out.push((k.clone(), v.clone())),
        }
    }
    out.extend(super::java_stores::librdkafka_settings(&props, warnings)?);
    Ok(out)
}

/// `username` and `password` of a PLAIN or SCRAM login module line.
fn jaas_credentials(v: &str) -> Result<(String, String), String> {
    let module = v.split_whitespace().next().unwrap_or_default();
    if !(module.ends_with("PlainLoginModule") || module.ends_with("ScramLoginModule")) {
        return Err(format!(
            "`kafka.sasl.jaas.config` uses {module}, which has no librdkafka equivalent here: use kafka.sasl.mechanism=PLAIN or SCRAM-SHA-256/512 with kafka.sasl.username and kafka.sasl.password"
        ));
    }
    let field = |name: &str| -> Option<String> {
        let at = v.find(&format!("{name}="))? + name.len() + 1;
        let rest = &v[at..];
        let quoted = rest.strip_prefix('"')?;
        Some(quoted[..quoted.find('"')?].to_string())
    };
    match (field("username"), field("password")) {
        (Some(u), Some(p)) => Ok((u, p)),
        _ => Err("`kafka.sasl.jaas.config` needs username=\"…\" and password=\"…\" (or set kafka.sasl.username and kafka.sasl.password instead)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate_(props: Vec<(String, String)>) -> Result<Vec<(String, String)>, String> {
        translate(props, &mut Vec::new())
    }

    #[test]
    fn java_client_settings() {
        let mut w = Vec::new();
        let out = translate(p(&[("compression.type", "snappy"), ("metadata.fetch.timeout.ms", "5000"), ("retries", "0"), ("acks", "1"), ("buffer.memory", "33554432"), ("max.request.size", "2097152"), ("linger.ms", "5"), ("key.serializer", "org.apache.kafka.common.serialization.StringSerializer")]), &mut w).unwrap();
        assert_eq!(out, p(&[("compression.type", "snappy"), ("retries", "0"), ("acks", "1"), ("queue.buffering.max.kbytes", "32768"), ("message.max.bytes", "2097152"), ("linger.ms", "5")]));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("metadata.fetch.timeout.ms") && w[1].contains("key.serializer"), "{w:?}");
        // librdkafka's own name wins over the translated one.
        let out = translate(p(&[("max.request.size", "1"), ("message.max.bytes", "5000")]), &mut w).unwrap();
        assert_eq!(out, p(&[("message.max.bytes", "5000")]));
        assert!(translate(p(&[("buffer.memory", "lots")]), &mut w).is_err());
    }

    fn p(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn names() {
        assert_eq!(default_transactional_id("/maxwell/cluster"), "maxwell-ha.maxwell.cluster");
        assert_eq!(default_topic("maxwell-ha.a.b"), "maxwell-ha.a.b.checkpoint");
        assert_eq!(sanitize("/a b/c:d/"), "a_b.c_d");
        assert_eq!("exactly_once".parse::<Delivery>(), Ok(Delivery::ExactlyOnce));
        assert_eq!(Delivery::AtLeastOnce.to_string(), "at_least_once");
        assert!("once".parse::<Delivery>().is_err());
    }

    #[test]
    fn java_settings_become_librdkafka_ones() {
        let jaas = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s3cr=t";"#;
        let out = translate_(p(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.jaas.config", jaas), ("ssl.endpoint.identification.algorithm", "")])).unwrap();
        assert_eq!(
            out,
            p(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.username", "alice"), ("sasl.password", "s3cr=t"), ("ssl.endpoint.identification.algorithm", "none")])
        );
        // An explicit librdkafka key wins.
        let out = translate_(p(&[("sasl.username", "bob"), ("sasl.jaas.config", jaas)])).unwrap();
        assert_eq!(out, p(&[("sasl.username", "bob"), ("sasl.password", "s3cr=t")]));
        assert_eq!(translate_(p(&[("ssl.keystore.type", "PKCS12"), ("ssl.keystore.location", "k.p12")])).unwrap(), p(&[("ssl.keystore.location", "k.p12")]));
    }

    #[test]
    fn what_librdkafka_cannot_do_names_the_replacement() {
        for (kv, needle) in [
            (("ssl.truststore.location", "/nonexistent/t.jks"), "cannot read trust store /nonexistent/t.jks"),
            (("ssl.keystore.type", "JKS"), "kafka.ssl.keystore.location"),
            (("ssl.truststore.type", "BCFKS"), "JKS, JCEKS, PKCS12 and PEM"),
            (("sasl.mechanism", "GSSAPI"), "SCRAM-SHA-256"),
            (("sasl.jaas.config", "com.sun.security.auth.module.Krb5LoginModule required;"), "kafka.sasl.username"),
            (("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required;"), "username="),
            (("sasl.login.callback.handler.class", "x.Y"), "Java class"),
        ] {
            let e = translate_(p(&[kv])).unwrap_err();
            assert!(e.contains(needle), "{kv:?}: {e}");
        }
    }
}
