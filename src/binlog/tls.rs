//! TLS to MySQL/MariaDB: Maxwell's `ssl` / `replication_ssl` modes, with CA, certificate and
//! key files (PEM).
//!
//! Invariants:
//! - The modes mean what they mean to MySQL's own clients: `DISABLED` plain; `PREFERRED`
//!   encrypted when the server offers TLS, plain when it does not (a warning says so);
//!   `REQUIRED` encrypted, the certificate not checked; `VERIFY_CA` encrypted, the certificate
//!   chain checked against `ssl_ca` (or the public roots); `VERIFY_IDENTITY` that and the host
//!   name (or IP address) checked against the certificate.
//! - A mode that verifies never falls back to plain; a failed verification is a definite
//!   error naming the file or setting to fix, not a retry loop.
//! - Files are checked for existence at start, so a wrong path is a configuration error.

use mysql_async::{ClientIdentity, SslOpts};
use std::path::PathBuf;

/// Maxwell's SSL modes (`com.github.shyiko.mysql.binlog.network.SSLMode`).
/// Ordered from weakest to strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum TlsMode {
    #[default]
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

/// The accepted spellings, for the configuration table.
pub const MODES: &[&str] = &["DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"];

impl std::str::FromStr for TlsMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "DISABLED" => TlsMode::Disabled,
            "PREFERRED" => TlsMode::Preferred,
            "REQUIRED" => TlsMode::Required,
            "VERIFY_CA" => TlsMode::VerifyCa,
            "VERIFY_IDENTITY" => TlsMode::VerifyIdentity,
            _ => return Err(format!("unknown SSL mode {s:?}; expected one of {}", MODES.join(", "))),
        })
    }
}

impl std::fmt::Display for TlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = *self as usize;
        f.write_str(MODES[i])
    }
}

/// TLS settings of one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTls {
    pub mode: TlsMode,
    /// PEM CA bundle that signs the server's certificate (`ssl_ca`); without it the public
    /// roots are used when verifying.
    pub ca: Option<PathBuf>,
    /// PEM client certificate and key (`ssl_cert`, `ssl_key`), for accounts that REQUIRE X509.
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl SourceTls {
    /// Builds and checks the settings: files must exist, a certificate needs its key.
    pub fn new(mode: TlsMode, ca: Option<&str>, cert: Option<&str>, key: Option<&str>) -> Result<Self, String> {
        let file = |k: &str, v: Option<&str>| -> Result<Option<PathBuf>, String> {
            match v {
                None => Ok(None),
                Some(p) if std::path::Path::new(p).is_file() => Ok(Some(PathBuf::from(p))),
                Some(p) => Err(format!("`{k}`: no such file {p:?}; give the path of a PEM file")),
            }
        };
        let ca = file("ssl_ca", ca)?;
        let identity = match (file("ssl_cert", cert)?, file("ssl_key", key)?) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            (Some(_), None) => return Err("`ssl_cert` is set but `ssl_key` is not; give both (PEM certificate and its private key)".into()),
            (None, Some(_)) => return Err("`ssl_key` is set but `ssl_cert` is not; give both (PEM certificate and its private key)".into()),
        };
        if mode == TlsMode::Disabled && (ca.is_some() || identity.is_some()) {
            return Err("`ssl_ca`/`ssl_cert`/`ssl_key` are set but no connection uses TLS; set ssl (or replication_ssl) to REQUIRED, VERIFY_CA or VERIFY_IDENTITY".into());
        }
        Ok(SourceTls { mode, ca, identity })
    }

    /// The same files under another mode (the replication connection's).
    pub fn with_mode(&self, mode: TlsMode) -> Self {
        SourceTls { mode, ..self.clone() }
    }

    /// mysql_async's options for this mode; `None` for a plain connection.
    pub fn ssl_opts(&self) -> Option<SslOpts> {
        if self.mode == TlsMode::Disabled {
            return None;
        }
        let verify_chain = matches!(self.mode, TlsMode::VerifyCa | TlsMode::VerifyIdentity);
        let mut o = SslOpts::default()
            .with_danger_accept_invalid_certs(!verify_chain)
            .with_danger_skip_domain_validation(self.mode != TlsMode::VerifyIdentity);
        if let Some(ca) = &self.ca {
            o = o.with_root_certs(vec![ca.clone().into()]).with_disable_built_in_roots(true);
        }
        if let Some((cert, key)) = &self.identity {
            o = o.with_client_identity(Some(ClientIdentity::new(cert.clone().into(), key.clone().into())));
        }
        Some(o)
    }

    /// Whether a connection that failed because the server offers no TLS may be retried plain.
    pub fn falls_back(&self) -> bool {
        self.mode == TlsMode::Preferred
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_case_insensitively_and_print_as_maxwell() {
        for m in MODES {
            let mode: TlsMode = m.to_ascii_lowercase().parse().unwrap();
            assert_eq!(mode.to_string(), *m);
        }
        assert!("VERIFY".parse::<TlsMode>().unwrap_err().contains("VERIFY_CA"));
    }

    #[test]
    fn modes_map_to_verification() {
        let none = SourceTls::default();
        assert!(none.ssl_opts().is_none());
        let req = none.with_mode(TlsMode::Required).ssl_opts().unwrap();
        assert!(req.accept_invalid_certs() && req.skip_domain_validation());
        let ca = none.with_mode(TlsMode::VerifyCa).ssl_opts().unwrap();
        assert!(!ca.accept_invalid_certs() && ca.skip_domain_validation());
        let id = none.with_mode(TlsMode::VerifyIdentity).ssl_opts().unwrap();
        assert!(!id.accept_invalid_certs() && !id.skip_domain_validation());
        assert!(none.with_mode(TlsMode::Preferred).falls_back());
        assert!(!none.with_mode(TlsMode::Required).falls_back());
    }

    #[test]
    fn files_are_checked() {
        let e = SourceTls::new(TlsMode::VerifyCa, Some("/nonexistent/ca.pem"), None, None).unwrap_err();
        assert!(e.contains("ssl_ca") && e.contains("/nonexistent/ca.pem"), "{e}");
        let me = std::env::current_exe().unwrap();
        let me = me.to_str().unwrap();
        let e = SourceTls::new(TlsMode::Required, None, Some(me), None).unwrap_err();
        assert!(e.contains("ssl_key"), "{e}");
        let e = SourceTls::new(TlsMode::Disabled, Some(me), None, None).unwrap_err();
        assert!(e.contains("REQUIRED"), "{e}");
        let t = SourceTls::new(TlsMode::VerifyCa, Some(me), Some(me), Some(me)).unwrap();
        assert!(t.ca.is_some() && t.identity.is_some());
    }
}
