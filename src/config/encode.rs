//! Maxwell's encode options as plain data: `exclude_columns` (columns left out of a row's
//! `data` and `old`), `encrypt` with `secret_key` (AES of `data`/`old` or of the whole record)
//! and `output_schema_id`. The encoder (`encode/`) applies them.
//!
//! Invariants (each as Maxwell 1.22.6 has it, see `docs/maxwell-compatibility.md`):
//! - An `exclude_columns` entry is a bare name, matched exactly and case-sensitively, or
//!   `/regex/`, matched against the whole name; entries are separated by commas and trimmed.
//!   A `/` without its closing `/` or a regex that does not compile is refused at start.
//! - `encrypt` other than `none` needs `secret_key`; its UTF-8 bytes are the AES key, so it
//!   must be 16, 24 or 32 bytes long (AES-128, -192, -256, as Java's `SecretKeySpec` takes
//!   it). Anything else is one configuration error at start (Maxwell fails at its first row).
//!   `secret_key` without encryption is accepted and has no effect (a warning says so).
//! - The key never appears in `Debug` output, in an error or in a warning.

use super::{ConfigError, Settings};
use regex::Regex;

/// `exclude_columns`: which columns a row's `data` and `old` leave out.
#[derive(Debug, Clone, Default)]
pub struct ExcludeColumns {
    names: Vec<String>,
    patterns: Vec<Regex>,
}

impl ExcludeColumns {
    /// Parses Maxwell's comma-separated list (`name`, `/regex/`).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut out = Self::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match entry.strip_prefix('/') {
                Some(rest) => {
                    let Some(re) = rest.strip_suffix('/') else {
                        return Err(format!("invalid regular expression {entry:?}: it must end with /"));
                    };
                    let re = Regex::new(&format!("^(?:{re})$")).map_err(|e| format!("invalid regular expression {entry:?}: {e}"))?;
                    out.patterns.push(re);
                }
                None => out.names.push(entry.to_string()),
            }
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.patterns.is_empty()
    }

    /// Whether column `name` is left out.
    pub fn matches(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name) || self.patterns.iter().any(|p| p.is_match(name))
    }
}

/// What `encrypt` covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptMode {
    /// `data` and `old` (one JSON object `{"data":…,"old":…}`) become `"encrypted"`.
    Data,
    /// The whole record becomes `{"encrypted":…}`.
    All,
}

/// `encrypt` with its `secret_key`.
#[derive(Clone)]
pub struct Encryption {
    pub mode: EncryptMode,
    key: Vec<u8>,
}

impl Encryption {
    /// `mode` with `secret_key` `key`, which must be 16, 24 or 32 bytes long in UTF-8.
    pub fn new(mode: EncryptMode, key: &str) -> Result<Self, ConfigError> {
        match key.len() {
            16 | 24 | 32 => Ok(Encryption { mode, key: key.as_bytes().to_vec() }),
            n => Err(ConfigError::Msg(format!("`secret_key` must be 16, 24 or 32 bytes long in UTF-8 (an AES-128, -192 or -256 key, as Maxwell uses it), not {n} bytes"))),
        }
    }

    /// The AES key: 16, 24 or 32 bytes.
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Encryption {{ mode: {:?}, key: <{} bytes> }}", self.mode, self.key.len())
    }
}

/// The encode options read from `s` (see the module's invariants); a line for `warnings`
/// when an option is set that has no effect.
pub(super) fn parse(s: &Settings, warnings: &mut Vec<String>) -> Result<(ExcludeColumns, Option<Encryption>), ConfigError> {
    let exclude = ExcludeColumns::parse(s.get("exclude_columns").unwrap_or("")).map_err(|e| ConfigError::Msg(format!("`exclude_columns`: {e}")))?;
    let mode = match s.get("encrypt") {
        Some("data") => Some(EncryptMode::Data),
        Some("all") => Some(EncryptMode::All),
        _ => None,
    };
    let secret = s.get("secret_key");
    let encryption = match (mode, secret) {
        (None, None) => None,
        (None, Some(_)) => {
            warnings.push("`secret_key` is set but `encrypt` is none: nothing is encrypted".into());
            None
        }
        (Some(_), None) => return Err(ConfigError::Msg("`encrypt` needs `secret_key` (16, 24 or 32 bytes: the AES key)".into())),
        (Some(mode), Some(k)) => Some(Encryption::new(mode, k)?),
    };
    Ok((exclude, encryption))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(a: &[&str]) -> Settings {
        Settings::load_in(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>(), std::path::Path::new("/nonexistent")).unwrap()
    }

    #[test]
    fn excluded_columns_match_as_maxwell_matches_them() {
        let x = ExcludeColumns::parse(" password , /secret_.*/,,/^tok$/ ").unwrap();
        for (name, out) in [("password", true), ("Password", false), ("password2", false), ("secret_a", true), ("my_secret_a", false), ("tok", true), ("token", false)] {
            assert_eq!(x.matches(name), out, "{name}");
        }
        assert!(ExcludeColumns::parse("").unwrap().is_empty());
        assert!(ExcludeColumns::parse("/open").unwrap_err().contains("must end with /"));
        assert!(ExcludeColumns::parse("/(/").unwrap_err().contains("invalid regular expression"));
    }

    #[test]
    fn encryption_needs_a_key_of_an_aes_length_and_never_shows_it() {
        let mut w = Vec::new();
        let (_, e) = parse(&settings(&["--encrypt=data", "--secret_key=0123456789abcdef"]), &mut w).unwrap();
        let e = e.unwrap();
        assert_eq!((e.mode, e.key().len()), (EncryptMode::Data, 16));
        assert!(!format!("{e:?}").contains("0123"), "{e:?}");
        for k in ["0123456789abcdef01234567", "0123456789abcdef0123456789abcdef"] {
            assert!(parse(&settings(&["--encrypt=ALL", &format!("--secret_key={k}")]), &mut w).unwrap().1.is_some_and(|e| e.mode == EncryptMode::All));
        }
        let err = parse(&settings(&["--encrypt=all"]), &mut w).unwrap_err().to_string();
        assert!(err.contains("`encrypt` needs `secret_key`"), "{err}");
        // é is two bytes: 15 characters, 16 bytes.
        assert!(parse(&settings(&["--encrypt=all", "--secret_key=é0123456789abcd"]), &mut w).is_ok());
        let err = parse(&settings(&["--encrypt=data", "--secret_key=short"]), &mut w).unwrap_err().to_string();
        assert!(err.contains("16, 24 or 32 bytes") && err.contains("not 5 bytes") && !err.contains("short\""), "{err}");
        assert!(w.is_empty());
        assert!(parse(&settings(&["--secret_key=unused"]), &mut w).unwrap().1.is_none());
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(settings(&[]).set("encrypt", "some").unwrap_err().to_string().contains("one of none, data, all"));
    }
}
