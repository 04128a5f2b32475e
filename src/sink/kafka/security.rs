//! Whether the brokers refuse this node's login: asked when they look unreachable, so that
//! a wrong password is reported as one. (Translating Maxwell's Java security settings into
//! librdkafka's is the configuration's: `config::kafka`.)

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

