//! Maxwell's older and JVM-bound options, turned into this project's settings before the
//! configuration is built: old names, the old filter keys, `env_config_prefix`, `jdbc_options`
//! and the options that have no effect here.
//!
//! Invariants:
//! - An old name means what its new name means; both set to different values is an error,
//!   never a silent choice.
//! - The old filter keys become the `filter` string Maxwell builds from them (its
//!   `Filter.fromOldFormat`, same rule order), and are ignored when `filter` is set, as in
//!   Maxwell; either way a warning says so and gives the `filter` line to use.
//! - Every accepted option without an effect here produces exactly one warning naming it.

use super::settings::Settings;
use super::{ConfigError, TlsMode};
use std::time::Duration;

/// Maxwell's older option names and the names they mean today.
pub(super) const ALIASES: &[(&str, &str)] = &[
    ("kafka_partition_by", "producer_partition_by"),
    ("kafka_partition_columns", "producer_partition_columns"),
    ("kafka_partition_by_fallback", "producer_partition_by_fallback"),
];

/// The old filter keys, in the order Maxwell turns them into rules.
pub(super) const OLD_FILTER_KEYS: &[&str] = &["blacklist_dbs", "blacklist_tables", "include_dbs", "exclude_dbs", "include_tables", "exclude_tables", "include_column_values"];

/// Maxwell's options that are accepted and have no effect here, with why.
const NO_EFFECT: &[(&str, &str)] = &[
    ("daemon", "run maxwell under a service manager (systemd, a container) instead"),
    ("binlog_connector", "the binlog is always read by this project's own replication client"),
    ("master_recovery", "a change of source server is followed by GTID (a host list in `host`, or gtid_mode=true), not by Maxwell's heartbeat search"),
    ("schema_host", "the schema is captured over the replication connection and then kept in the stored schema history"),
    ("schema_port", "the schema is captured over the replication connection"),
    ("schema_user", "the schema is captured over the replication connection"),
    ("schema_password", "the schema is captured over the replication connection"),
    ("schema_ssl", "the schema is captured over the replication connection (replication_ssl applies)"),
    ("schema_jdbc_options", "the schema is captured over the replication connection (jdbc_options, or replication_jdbc_options with replication_host, apply)"),
];

/// Connect timeouts `jdbc_options` (every connection) and `replication_jdbc_options` (the
/// binlog connection to `replication_host`) ask for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timeouts {
    pub all: Option<Duration>,
    pub replication: Option<Duration>,
}

/// `settings` with old names, old filter keys, `jdbc_options`, newer Maxwell's options
/// ([`super::newer`]) and ignored options resolved (and the connect timeouts the JDBC options
/// ask for); one line per option that needs the user's attention goes to `warnings`.
pub(super) fn resolve(settings: &Settings, warnings: &mut Vec<String>) -> Result<(Settings, Timeouts), ConfigError> {
    let mut s = settings.clone();
    let replication = super::newer::resolve(&mut s, warnings)?;
    let jdbc = match s.values.get("jdbc_options") {
        Some(raw) => jdbc_options(&raw.clone(), warnings)?,
        None => JdbcOptions::default(),
    };
    if let Some(mode) = jdbc.tls {
        let name = super::source::MODES[mode as usize];
        match s.values.get("ssl") {
            None => s.set("ssl", name)?,
            Some(ssl) if ssl != name => warnings.push(format!("`jdbc_options` asks for TLS mode {name} but `ssl` is {ssl}: `ssl` applies")),
            Some(_) => {}
        }
    }
    for (old, new) in ALIASES {
        let Some(v) = s.values.get(*old).cloned() else { continue };
        match s.values.get(*new) {
            Some(n) if *n != v => {
                return Err(ConfigError::Msg(format!("`{old}` ({v}) and `{new}` ({n}) are both set: `{old}` is Maxwell's older name for `{new}`; keep one")));
            }
            _ => {
                s.set(new, &v)?;
                warnings.push(format!("`{old}` is Maxwell's older name for `{new}`; rename it"));
            }
        }
    }
    let old: Vec<(&str, String)> = OLD_FILTER_KEYS.iter().filter_map(|k| s.values.get(*k).map(|v| (*k, v.clone()))).collect();
    if !old.is_empty() {
        let names = old.iter().map(|(k, _)| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        if s.values.contains_key("filter") {
            warnings.push(format!("{names} ignored because `filter` is set (as in Maxwell); remove them"));
        } else {
            let filter = old_filter(&old);
            s.set("filter", &filter)?;
            warnings.push(format!("{names} are deprecated in Maxwell too; the same rows pass with: filter={filter}"));
        }
    }
    for (k, why) in NO_EFFECT {
        if let Some(v) = s.values.get(*k) {
            if !(matches!(*k, "daemon" | "master_recovery") && v == "false") && !(*k == "binlog_connector" && v == "true") {
                warnings.push(format!("`{k}` has no effect in maxwell-ha: {why}"));
            }
        }
    }
    Ok((s, Timeouts { all: jdbc.connect_timeout, replication }))
}

/// Maxwell's translation of the old filter keys into a `filter` string (same rules, same
/// order: blacklists, then `exclude: *.*` when anything is included, includes and excludes of
/// databases, then of tables, then column values).
fn old_filter(old: &[(&str, String)]) -> String {
    let get = |k: &str| old.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
    let items = |k: &str| get(k).map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>()).unwrap_or_default();
    let mut rules = Vec::new();
    rules.extend(items("blacklist_dbs").into_iter().map(|d| format!("blacklist: {d}.*")));
    rules.extend(items("blacklist_tables").into_iter().map(|t| format!("blacklist: *.{t}")));
    if get("include_dbs").is_some() || get("include_tables").is_some() {
        rules.push("exclude: *.*".to_string());
    }
    rules.extend(items("include_dbs").into_iter().map(|d| format!("include: {d}.*")));
    rules.extend(items("exclude_dbs").into_iter().map(|d| format!("exclude: {d}.*")));
    rules.extend(items("include_tables").into_iter().map(|t| format!("include: *.{t}")));
    rules.extend(items("exclude_tables").into_iter().map(|t| format!("exclude: *.{t}")));
    for cv in items("include_column_values").into_iter().filter(|c| !c.is_empty()) {
        let (col, val) = cv.split_once('=').unwrap_or((&cv, ""));
        rules.push(format!("exclude: *.*.{col}=*"));
        rules.push(format!("include: *.*.{col}={val}"));
    }
    rules.join(", ")
}

/// What `jdbc_options` (`k=v&k=v`, Maxwell's MySQL connection options) change here.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct JdbcOptions {
    /// `connectTimeout` (ms; 0 means the default).
    pub connect_timeout: Option<Duration>,
    /// TLS asked for by `useSSL` / `requireSSL` / `verifyServerCertificate` / `sslMode`.
    pub tls: Option<TlsMode>,
}

/// Options a MySQL client here applies by itself the way Maxwell's driver settings ask.
const JDBC_BUILT_IN: &[(&str, &str)] = &[
    ("zeroDateTimeBehavior", "zero dates are read as Maxwell prints them (see output_null_zerodates)"),
    ("characterEncoding", "text is decoded by each column's character set"),
    ("useUnicode", "text is decoded by each column's character set"),
    ("tinyInt1isBit", "TINYINT(1) is a number, as Maxwell sets it"),
    ("allowPublicKeyRetrieval", "the client takes the server's RSA key when the account's plugin needs it"),
    ("serverTimezone", "DATETIME values are printed as stored and TIMESTAMP values in UTC, as Maxwell prints them"),
];

/// Parses `jdbc_options`; options with no equivalent here each give one warning.
pub(super) fn jdbc_options(raw: &str, warnings: &mut Vec<String>) -> Result<JdbcOptions, ConfigError> {
    let mut out = JdbcOptions::default();
    let mut use_ssl = None;
    let mut require = false;
    let mut verify = false;
    for item in raw.split('&').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        let flag = || matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "1");
        match k {
            "connectTimeout" => {
                let ms: u64 = v.parse().map_err(|_| ConfigError::Msg(format!("`jdbc_options`: connectTimeout must be milliseconds, not {v:?}")))?;
                out.connect_timeout = (ms > 0).then(|| Duration::from_millis(ms));
            }
            "useSSL" => use_ssl = Some(flag()),
            "requireSSL" => require = flag(),
            "verifyServerCertificate" => verify = flag(),
            "sslMode" => {
                let mode = v.parse::<TlsMode>().map_err(|e| ConfigError::Msg(format!("`jdbc_options`: sslMode: {e}")))?;
                out.tls = Some(mode);
            }
            _ if JDBC_BUILT_IN.iter().any(|(n, _)| *n == k) => {}
            _ => warnings.push(format!("`jdbc_options`: `{k}` has no equivalent in maxwell-ha and is ignored")),
        }
    }
    if out.tls.is_none() {
        out.tls = match use_ssl {
            Some(false) => Some(TlsMode::Disabled),
            Some(true) if require && verify => Some(TlsMode::VerifyCa),
            Some(true) if require => Some(TlsMode::Required),
            Some(true) => Some(TlsMode::Preferred),
            None => None,
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut s = Settings::default();
        for (k, v) in pairs {
            s.set(k, v).unwrap();
        }
        s
    }

    #[test]
    fn old_filter_keys_become_maxwells_filter() {
        let mut w = Vec::new();
        let (s, _) = resolve(&settings(&[("include_dbs", "a,b"), ("exclude_tables", "t"), ("blacklist_dbs", "bad"), ("include_column_values", "bar=x")]), &mut w).unwrap();
        assert_eq!(s.get("filter"), Some("blacklist: bad.*, exclude: *.*, include: a.*, include: b.*, exclude: *.t, exclude: *.*.bar=*, include: *.*.bar=x"));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("filter=blacklist: bad.*"), "{w:?}");
        let f = crate::filter::Filter::parse(s.get("filter").unwrap()).unwrap();
        assert!(f.includes_table("a", "x") && !f.includes_table("c", "x") && !f.includes_table("a", "t") && !f.includes_table("bad", "x"));
    }

    #[test]
    fn old_filter_keys_are_ignored_beside_filter() {
        let mut w = Vec::new();
        let (s, _) = resolve(&settings(&[("include_dbs", "a"), ("filter", "exclude: x.*")]), &mut w).unwrap();
        assert_eq!(s.get("filter"), Some("exclude: x.*"));
        assert!(w[0].contains("ignored because `filter` is set"), "{w:?}");
    }

    #[test]
    fn old_names_mean_the_new_ones() {
        let mut w = Vec::new();
        let (s, _) = resolve(&settings(&[("kafka_partition_by", "table")]), &mut w).unwrap();
        assert_eq!(s.get("producer_partition_by"), Some("table"));
        assert!(w[0].contains("older name"));
        let same = resolve(&settings(&[("kafka_partition_by", "table"), ("producer_partition_by", "table")]), &mut w);
        assert!(same.is_ok());
        let e = resolve(&settings(&[("kafka_partition_by", "table"), ("producer_partition_by", "database")]), &mut w).unwrap_err();
        assert!(e.to_string().contains("both set"), "{e}");
    }

    #[test]
    fn options_without_effect_warn_once_each() {
        let mut w = Vec::new();
        resolve(&settings(&[("daemon", "true"), ("schema_host", "db2"), ("binlog_connector", "true"), ("master_recovery", "false")]), &mut w).unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("`daemon`") && w[1].contains("`schema_host`"), "{w:?}");
    }

    #[test]
    fn jdbc_tls_is_the_default_of_ssl() {
        let mut w = Vec::new();
        let (s, t) = resolve(&settings(&[("jdbc_options", "useSSL=true&requireSSL=true&connectTimeout=700")]), &mut w).unwrap();
        assert_eq!((s.get("ssl"), t.all), (Some("REQUIRED"), Some(Duration::from_millis(700))));
        let (s, _) = resolve(&settings(&[("jdbc_options", "useSSL=true"), ("ssl", "DISABLED")]), &mut w).unwrap();
        assert_eq!(s.get("ssl"), Some("DISABLED"));
        assert!(w.last().unwrap().contains("`ssl` applies"), "{w:?}");
    }

    #[test]
    fn jdbc_options_apply_what_has_a_meaning() {
        let mut w = Vec::new();
        let j = jdbc_options("zeroDateTimeBehavior=convertToNull&connectTimeout=2500&useSSL=true&requireSSL=true&cachePrepStmts=true", &mut w).unwrap();
        assert_eq!(j, JdbcOptions { connect_timeout: Some(Duration::from_millis(2500)), tls: Some(TlsMode::Required) });
        assert_eq!(w, vec!["`jdbc_options`: `cachePrepStmts` has no equivalent in maxwell-ha and is ignored".to_string()]);
        assert_eq!(jdbc_options("sslMode=VERIFY_IDENTITY", &mut w).unwrap().tls, Some(TlsMode::VerifyIdentity));
        assert_eq!(jdbc_options("useSSL=false", &mut w).unwrap().tls, Some(TlsMode::Disabled));
        assert!(jdbc_options("connectTimeout=soon", &mut w).is_err());
    }
}
