//! The configuration reference page, `docs/configuration.md`, generated from [`KEYS`] so that
//! it cannot drift from what the node accepts.
//!
//! Invariants:
//! - One table row per key, in the order of [`KEYS`], the key written as `` `name` `` so that
//!   a search for it finds its row; default and meaning are the key's own.
//! - The text depends on the key table alone: a test compares `docs/configuration.md` with
//!   this function's output byte for byte.

use super::{Kind, KEYS};

/// The command that regenerates `docs/configuration.md`.
const REGENERATE: &str = "maxwell --print-config-reference > docs/configuration.md";

/// The text of `docs/configuration.md`, generated from [`KEYS`].
pub fn reference_markdown() -> String {
    let mut out = String::from("# Configuration reference\n\n");
    out.push_str(&format!(
        "Every key a maxwell-ha node reads, with its default and meaning, in the order of the key \
         table in `src/config/keys.rs`. A key is set in Maxwell's `config.properties` format or as \
         `--key=value` on the command line (see [Running a node](running.md) for how settings are \
         read, and [Maxwell compatibility](maxwell-compatibility.md) for how the keys compare \
         with Maxwell's). Any other `kafka.*` key is handed to librdkafka. Back to the \
         [README](../README.md).\n\n\
         This page is generated from the key table; do not edit it by hand. Regenerate it with \
         `{REGENERATE}` (a test checks that it is up to date).\n\n"
    ));
    out.push_str("| key | default | meaning |\n|---|---|---|\n");
    for k in KEYS {
        let default = match k.default {
            None => "—".to_string(),
            Some("") => "(empty)".to_string(),
            Some(d) => format!("`{d}`"),
        };
        let mut meaning = k.doc.to_string();
        match k.kind {
            Kind::OneOf(v) => {
                let v: Vec<String> = v.iter().map(|o| format!("`{o}`")).collect();
                meaning.push_str(&format!(" One of {}.", v.join(", ")));
            }
            Kind::Int { min, max } => meaning.push_str(&format!(" A whole number from {min} to {max}.")),
            Kind::Bool => meaning.push_str(" `true` or `false`."),
            Kind::Str => {}
        }
        out.push_str(&format!("| `{}` | {} | {} |\n", k.name, cell(&default), cell(&meaning)));
    }
    out
}

/// Text safe inside a markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
