//! Where the source is and how to reach it, as plain data: one server or a list of
//! candidates, the account, and TLS (Maxwell's `ssl` modes with CA, certificate and key
//! files). Connecting is the source room's (`source/connect.rs`, `source/tls.rs`).
//!
//! Invariants:
//! - TLS files are checked for existence when the configuration is read, so a wrong path is
//!   a configuration error, not a connection failure.
//! - A certificate needs its key, and TLS files without a mode that uses TLS are refused.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where the source is and who we are to it.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub server_id: u32,
    pub heartbeat: Duration,
    pub connect_timeout: Duration,
    /// TLS to this server (`ssl` / `replication_ssl`).
    pub tls: SourceTls,
    /// Further candidate servers after `host:port` (a list in `host`), tried in order when
    /// the one in use cannot be reached.
    pub more_hosts: Vec<(String, u16)>,
    /// Index (0: `host`) of the candidate that answered last; shared by clones, so every
    /// connection of a node goes to the same server first.
    pub active: Arc<std::sync::atomic::AtomicUsize>,
}

/// `host` or `host:port` items separated by commas; `port` where an item has none.
pub fn parse_host_list(list: &str, port: u16) -> Result<Vec<(String, u16)>, String> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!("empty host in {list:?}; give `host` or `host:port` items separated by commas"));
        }
        match item.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !h.contains(':') => {
                let p = p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| format!("bad port in {item:?}"))?;
                out.push((h.to_string(), p));
            }
            _ => out.push((item.to_string(), port)),
        }
    }
    Ok(out)
}

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

}
