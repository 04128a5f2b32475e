//! Maxwell's `kafka.*` security settings are the Java client's; librdkafka names some of them
//! differently and cannot read Java key stores. This turns a Java setting into its librdkafka
//! equivalent, or refuses it with the exact librdkafka key to use.
//!
//! Invariants:
//! - Every `kafka.*` key either reaches librdkafka under a name it knows or stops the start
//!   with one message naming the replacement; nothing is dropped silently.
//! - A key the user set explicitly in librdkafka's form wins over one derived here.
//! - Supported: PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL with PLAIN, SCRAM-SHA-256 and
//!   SCRAM-SHA-512 (librdkafka built with OpenSSL). Kerberos (GSSAPI) and OAUTHBEARER are not.

/// `props` (prefix `kafka.` stripped) in librdkafka's terms.
pub fn translate(props: Vec<(String, String)>) -> Result<Vec<(String, String)>, String> {
    let has = |k: &str| props.iter().any(|(p, _)| p == k);
    let mut out: Vec<(String, String)> = Vec::with_capacity(props.len());
    for (k, v) in &props {
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
            "ssl.truststore.location" | "ssl.truststore.password" | "ssl.truststore.type" | "ssl.truststore.certificates" => {
                return Err(format!(
                    "`kafka.{k}`: librdkafka reads CA certificates from a PEM file, not a Java trust store: export it \
                     (keytool -exportcert -rfc -keystore TRUSTSTORE -alias ALIAS -file ca.pem) and set kafka.ssl.ca.location=ca.pem"
                ))
            }
            "ssl.keystore.type" if !v.eq_ignore_ascii_case("PKCS12") => {
                return Err(format!(
                    "`kafka.ssl.keystore.type={v}`: librdkafka reads only PKCS#12 key stores: convert it \
                     (keytool -importkeystore -srckeystore KEYSTORE -destkeystore client.p12 -deststoretype PKCS12) and set kafka.ssl.keystore.location=client.p12"
                ))
            }
            "ssl.keystore.type" => {}
            // Java's "" (no host name check) is librdkafka's "none".
            "ssl.endpoint.identification.algorithm" if v.is_empty() => out.push((k.clone(), "none".into())),
            "sasl.mechanism" if matches!(v.as_str(), "GSSAPI" | "OAUTHBEARER") => {
                return Err(format!("`kafka.sasl.mechanism={v}` is not available: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with kafka.sasl.username and kafka.sasl.password)"))
            }
            _ if k.ends_with(".class") || k.ends_with(".classes") => {
                return Err(format!("`kafka.{k}` names a Java class, which librdkafka cannot load: remove it"))
            }
            _ => out.push((k.clone(), v.clone())),
        }
    }
    Ok(out)
}

/// Records the client's global errors (librdkafka reports a refused login only there).
#[derive(Default)]
struct Capture(std::sync::Mutex<Option<String>>);

impl rdkafka::ClientContext for Capture {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        use rdkafka::types::RDKafkaErrorCode::{Authentication, SaslAuthenticationFailed};
        if matches!(error.rdkafka_error_code(), Some(Authentication | SaslAuthenticationFailed)) {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.to_string());
        }
    }
}

impl rdkafka::consumer::ConsumerContext for Capture {}

/// Why the brokers refuse these settings' login, if they do (blocking, up to `timeout`): asked
/// when the brokers look unreachable, so that a wrong password is reported as one.
pub fn login_refused(props: &[(String, String)], timeout: std::time::Duration) -> Option<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    if !props.iter().any(|(k, v)| k == "security.protocol" && v.to_ascii_uppercase().starts_with("SASL")) {
        return None;
    }
    let probe: BaseConsumer<Capture> = super::config::connection_settings(props).create_with_context(Capture::default()).ok()?;
    let _ = probe.fetch_metadata(None, timeout);
    // Errors reach the context while the client is polled.
    for _ in 0..5 {
        let _ = probe.poll(std::time::Duration::from_millis(50));
    }
    let refused = probe.context().0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    refused
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
    use super::super::config::tests::props as p;
    use super::*;

    #[test]
    fn java_settings_become_librdkafka_ones() {
        let jaas = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s3cr=t";"#;
        let out = translate(p(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.jaas.config", jaas), ("ssl.endpoint.identification.algorithm", "")])).unwrap();
        assert_eq!(
            out,
            p(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.username", "alice"), ("sasl.password", "s3cr=t"), ("ssl.endpoint.identification.algorithm", "none")])
        );
        // An explicit librdkafka key wins.
        let out = translate(p(&[("sasl.username", "bob"), ("sasl.jaas.config", jaas)])).unwrap();
        assert_eq!(out, p(&[("sasl.username", "bob"), ("sasl.password", "s3cr=t")]));
        assert_eq!(translate(p(&[("ssl.keystore.type", "PKCS12"), ("ssl.keystore.location", "k.p12")])).unwrap(), p(&[("ssl.keystore.location", "k.p12")]));
    }

    #[test]
    fn what_librdkafka_cannot_do_names_the_replacement() {
        for (kv, needle) in [
            (("ssl.truststore.location", "/etc/t.jks"), "kafka.ssl.ca.location"),
            (("ssl.keystore.type", "JKS"), "PKCS#12"),
            (("sasl.mechanism", "GSSAPI"), "SCRAM-SHA-256"),
            (("sasl.jaas.config", "com.sun.security.auth.module.Krb5LoginModule required;"), "kafka.sasl.username"),
            (("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required;"), "username="),
            (("sasl.login.callback.handler.class", "x.Y"), "Java class"),
        ] {
            let e = translate(p(&[kv])).unwrap_err();
            assert!(e.contains(needle), "{kv:?}: {e}");
        }
    }
}
