//! Where the source is and how to reach it: one server or a list of candidates, TLS, and
//! the errors of connecting.
//!
//! Invariants:
//! - Every connection of a node goes first to the candidate that answered last (shared by
//!   clones of the config); only a transient failure moves on to the next candidate, since a
//!   refused login or certificate would be refused by every server alike.
//! - A refused certificate, a server without TLS under a mode that needs it, and an account
//!   that requires TLS reached without it are definite errors naming the setting to change.

use super::reader::{classify, ReaderError};
pub use crate::config::source::{parse_host_list, SourceConfig};
use mysql_async::{Conn, Opts, OptsBuilder};
use std::time::Duration;

impl SourceConfig {
    /// The candidates in order: `host:port` first.
    pub fn candidates(&self) -> impl Iterator<Item = (&str, u16)> {
        std::iter::once((self.host.as_str(), self.port)).chain(self.more_hosts.iter().map(|(h, p)| (h.as_str(), *p)))
    }

    /// `host:port` of the candidate in use.
    pub fn current(&self) -> String {
        let (h, p) = self.in_use();
        format!("{h}:{p}")
    }

    /// The candidate in use (the one that answered last).
    fn in_use(&self) -> (&str, u16) {
        let i = self.active.load(std::sync::atomic::Ordering::Relaxed);
        self.candidates().nth(i).unwrap_or((self.host.as_str(), self.port))
    }

    fn opts(&self, host: &str, port: u16, tls: bool) -> Opts {
        OptsBuilder::default()
            .ip_or_hostname(host.to_string())
            .tcp_port(port)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .prefer_socket(false)
            .ssl_opts(if tls { self.tls.ssl_opts() } else { None })
            .into()
    }

    /// Opens a connection, bounded by `connect_timeout` per candidate: the candidate that
    /// answered last first, then the others in order; the first to answer becomes the one in
    /// use. Only a transient failure moves on to the next candidate (a refused login or
    /// certificate is the same everywhere). `PREFERRED` TLS falls back to a plain connection
    /// only when the server offers no TLS.
    pub async fn connect(&self) -> Result<Conn, ReaderError> {
        use std::sync::atomic::Ordering;
        let n = 1 + self.more_hosts.len();
        let first = self.active.load(Ordering::Relaxed) % n;
        let mut last = None;
        for k in 0..n {
            let i = (first + k) % n;
            let (host, port) = self.candidates().nth(i).expect("index in range");
            match self.connect_to(host, port).await {
                Ok(c) => {
                    if i != first {
                        let from = self.candidates().nth(first).map(|(h, p)| format!("{h}:{p}")).unwrap_or_default();
                        tracing::warn!(%from, to = %format!("{host}:{port}"), "the source candidate in use did not answer; using the next one");
                    }
                    self.active.store(i, Ordering::Relaxed);
                    return Ok(c);
                }
                Err(e) if e.is_transient() && k + 1 < n => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ReaderError::Transient("no source candidate".into())))
    }

    /// Whether the candidate in use answers a `SELECT 1` on a new connection within
    /// `within` (the candidate in use is not changed): tells a busy source from one that
    /// cannot be reached from this node.
    pub async fn probe(&self, within: Duration) -> Result<(), String> {
        use mysql_async::prelude::Queryable;
        let (host, port) = self.in_use();
        let asked = async {
            let mut conn = self.connect_to(host, port).await.map_err(|e| e.to_string())?;
            let one: Option<u8> = conn.query_first("SELECT 1").await.map_err(|e| e.to_string())?;
            let _ = conn.disconnect().await;
            one.map(|_| ()).ok_or_else(|| "SELECT 1 returned no row".to_string())
        };
        tokio::time::timeout(within, asked).await.unwrap_or_else(|_| Err(format!("no answer from {host}:{port} within {} ms", within.as_millis())))
    }

    async fn connect_to(&self, host: &str, port: u16) -> Result<Conn, ReaderError> {
        let what = format!("connecting to MySQL at {host}:{port}");
        let attempt = |tls: bool| async move {
            match tokio::time::timeout(self.connect_timeout, Conn::new(self.opts(host, port, tls))).await {
                Ok(r) => r,
                Err(_) => Err(mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("timed out after {:?}", self.connect_timeout),
                )))),
            }
        };
        match attempt(true).await {
            Err(mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer)) if self.tls.falls_back() => {
                tracing::warn!(host = %host, port, "the server offers no TLS; ssl=PREFERRED: connecting unencrypted");
                attempt(false).await.map_err(|e| classify(e, &what))
            }
            r => r.map_err(|e| classify_tls(e, &what, &self.tls)),
        }
    }
}

/// A connection error under TLS: a refused certificate or a server without TLS is definite
/// (it names the setting to change); anything else is classified as usual.
fn classify_tls(e: mysql_async::Error, what: &str, tls: &super::tls::SourceTls) -> ReaderError {
    use super::tls::TlsMode;
    match &e {
        mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => ReaderError::Definite(format!(
            "{what}: ssl={} but the server offers no TLS; configure ssl_cert/ssl_key on the server, or set ssl=PREFERRED (or DISABLED)",
            tls.mode
        )),
        mysql_async::Error::Server(s) if s.code == 1045 => ReaderError::Definite(format!(
            "{what}: access denied ({}); check user and password, and whether the account requires TLS (REQUIRE SSL: set ssl=REQUIRED or stricter; REQUIRE X509: also ssl_cert and ssl_key; now ssl={}{})",
            s.message,
            tls.mode,
            if tls.identity.is_some() { " with a client certificate" } else { "" }
        )),
        mysql_async::Error::Io(mysql_async::IoError::Tls(_)) => tls_refused(&e.to_string(), what, tls),
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) if tls.mode != TlsMode::Disabled && io.to_string().contains("certificate") => {
            tls_refused(&io.to_string(), what, tls)
        }
        _ => classify(e, what),
    }
}

fn tls_refused(cause: &str, what: &str, tls: &super::tls::SourceTls) -> ReaderError {
    let fix = if cause.contains("not valid for name") {
        "the server's certificate does not name the host given: connect by a name (or address) the certificate has, or set ssl=VERIFY_CA"
    } else if cause.contains("UnknownIssuer") || cause.contains("BadSignature") {
        "the certificate is not signed by ssl_ca: give the CA that signed the server's certificate"
    } else {
        "check ssl_ca, ssl_cert and ssl_key and the server's TLS settings"
    };
    ReaderError::Definite(format!("{what}: TLS handshake failed under ssl={} ({cause}); {fix}", tls.mode))
}

