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
pub use crate::config::source::{SourceTls, TlsMode, MODES};

impl SourceTls {
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
