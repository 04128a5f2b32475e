//! `javascript`: Maxwell's per-row JavaScript filter as plain data, the file's name and its
//! text, read once when the configuration is (the engine that runs it is
//! `encode/javascript`).
//!
//! Invariants: a configured file is read whole at start; an unreadable or non-UTF-8 file is a
//! configuration error naming it. The text is shared, not copied, between streams.

use super::{err, ConfigError, Settings};
use std::sync::Arc;

#[derive(Clone, PartialEq, Eq)]
pub struct JavascriptConfig {
    /// The file as configured (errors and logs name it so).
    pub path: String,
    pub source: Arc<str>,
}

impl std::fmt::Debug for JavascriptConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JavascriptConfig {{ path: {:?}, {} bytes }}", self.path, self.source.len())
    }
}

impl JavascriptConfig {
    /// A short fingerprint of the text (FNV-1a, 64 bits), logged at start so that operators
    /// can see every node of a cluster runs the same script.
    pub fn fingerprint(&self) -> String {
        let h = self.source.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        format!("{h:016x}")
    }
}

pub(super) fn parse(s: &Settings) -> Result<Option<JavascriptConfig>, ConfigError> {
    let Some(path) = s.get("javascript").filter(|p| !p.trim().is_empty()) else { return Ok(None) };
    match std::fs::read(path) {
        Ok(b) => match String::from_utf8(b) {
            Ok(text) => Ok(Some(JavascriptConfig { path: path.to_string(), source: text.into() })),
            Err(_) => err(format!("`javascript`: {path} is not UTF-8 text")),
        },
        Err(e) => err(format!("`javascript`: cannot read {path}: {e}")),
    }
}
