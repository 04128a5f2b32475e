//! Raw settings: the pairs of a `config.properties` file and `--key=value` flags, each checked
//! against the key catalogue as it is set.
//!
//! Invariants: a key that is not declared (nor a `kafka.*` pass-through) is refused with a hint;
//! a value is stored in canonical form (booleans and choices lower-cased as declared).

use super::hints::{edit_distance, MAXWELL_ONLY};
use super::keys::{key, Kind, KeySpec, KEYS, S};
use super::{err, properties, ConfigError};
use std::collections::BTreeMap;
use std::path::Path;

/// Any other `kafka.*` key: passed through to librdkafka, which validates it at start.
const KAFKA_PASSTHROUGH: KeySpec = key("kafka.*", S, None, "librdkafka property");


fn spec(name: &str) -> Result<&'static KeySpec, ConfigError> {
    if let Some(s) = KEYS.iter().find(|k| k.name == name) {
        return Ok(s);
    }
    if name.len() > 6 && name.starts_with("kafka.") {
        return Ok(&KAFKA_PASSTHROUGH);
    }
    let prefixed = ["kinesis_", "sqs_", "pubsub_", "ddl_pubsub_", "rabbitmq_", "redis_", "nats_", "bigquery_"];
    if let Some(hint) = MAXWELL_ONLY.iter().find(|(k, _)| *k == name).map(|(_, h)| *h).or_else(|| {
        prefixed.iter().any(|p| name.starts_with(p)).then_some("only producer=stdout and producer=kafka exist: remove it")
    }) {
        return err(format!("`{name}` is a Maxwell option that maxwell-ha does not take: {hint}"));
    }
    // A hint only when the spelling is close (two or three edits, by length).
    let near = (name.len() / 4).clamp(2, 3);
    let best = KEYS.iter().min_by_key(|k| edit_distance(k.name, name)).filter(|k| edit_distance(k.name, name) <= near);
    match best {
        Some(k) => err(format!("unknown configuration key `{name}`; did you mean `{}`?", k.name)),
        None => err(format!("unknown configuration key `{name}`; see config/config.properties.example for the keys")),
    }
}

/// Checks `v` for key `s`; returns it in canonical form (booleans and choices are matched
/// without regard to case, as Maxwell does: `True`, `INFO`).
fn validate(s: &KeySpec, v: &str) -> Result<String, ConfigError> {
    match s.kind {
        Kind::Str => Ok(v.to_string()),
        Kind::Bool => match v.to_ascii_lowercase().as_str() {
            b @ ("true" | "false") => Ok(b.to_string()),
            _ => err(format!("`{}` must be true or false, not {v:?}", s.name)),
        },
        Kind::Int { min, max } => match v.trim().parse::<i64>() {
            Ok(n) if n >= min && n <= max => Ok(n.to_string()),
            _ => err(format!("`{}` must be a whole number from {min} to {max}, not {v:?}", s.name)),
        },
        Kind::OneOf(opts) => match opts.iter().find(|o| o.eq_ignore_ascii_case(v)) {
            Some(o) => Ok(o.to_string()),
            None => err(format!("`{}` must be one of {}, not {v:?}", s.name, opts.join(", "))),
        },
    }
}

/// The pairs of a `config.properties` file, read as Java (and so Maxwell) reads it (see
/// [`properties`]).
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    properties::parse(text).map_err(ConfigError::Msg)
}

/// The text of `config/config.properties.example`, generated from [`KEYS`].
pub fn example_file() -> String {
    let mut out = String::from(
        "# maxwell-ha configuration: Maxwell's config.properties keys.\n\
         # Every key can also be given on the command line as --key=value (overrides this file).\n\
         # Unknown keys are rejected at start. Lines starting with '#' are comments.\n\
         # Regenerate with: maxwell --print-example-config > config/config.properties.example\n\n",
    );
    for k in KEYS {
        out.push_str(&format!("# {}\n", k.doc));
        if let Kind::OneOf(v) = k.kind {
            out.push_str(&format!("# One of: {}.\n", v.join(", ")));
        }
        let line = match (k.name, k.default) {
            ("user", _) => "user=maxwell".to_string(),
            ("password", _) => "password=maxwell".to_string(),
            ("host", _) => "host=127.0.0.1".to_string(),
            ("config", _) => "#config=/etc/maxwell/config.properties".to_string(),
            ("kafka.bootstrap.servers", _) => "#kafka.bootstrap.servers=127.0.0.1:9092".to_string(),
            (n, Some(d)) => format!("#{n}={d}"),
            (n, None) => format!("#{n}="),
        };
        out.push_str(&line);
        out.push_str("\n\n");
    }
    out
}

/// The settings held by environment variable `var` as one JSON object (`env_config`): each
/// member a key, strings as they are, numbers and booleans as their text, null members
/// skipped, as Maxwell reads them. A missing variable, or one that is not a JSON object, is
/// an error (Maxwell stops too).
fn env_config(var: &str, env: &[(String, String)]) -> Result<Vec<(String, String)>, ConfigError> {
    let Some((_, raw)) = env.iter().find(|(k, _)| k == var) else {
        return err(format!("`env_config`: no JSON-encoded environment variable named {var}"));
    };
    if !raw.trim_start().starts_with('{') {
        return err(format!("`env_config`: no JSON-encoded environment variable named {var} (its value is not a JSON object)"));
    }
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw).map_err(|e| ConfigError::Msg(format!("`env_config`: unparseable JSON in environment variable {var}: {e}")))?;
    let mut out = Vec::new();
    for (k, v) in map {
        let text = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        out.push((k, text));
    }
    Ok(out)
}

/// The file read when no `--config` is given (in the working directory), as Maxwell does.
pub const DEFAULT_FILE: &str = "config.properties";

/// Raw settings after merging file and command line, validated key by key.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub(super) values: BTreeMap<String, String>,
    /// Warnings found while loading (prefixed environment variables that name no key).
    pub(super) notes: Vec<String>,
}

impl Settings {
    /// Merges the file named by `--config` (else `./config.properties` when it exists) with
    /// `args` (`--key=value` or a bare boolean `--key`; later wins).
    pub fn load(args: &[String]) -> Result<Self, ConfigError> {
        Self::load_in(args, Path::new("."))
    }

    /// [`load`](Self::load) with `dir` in place of the working directory.
    pub fn load_in(args: &[String], dir: &Path) -> Result<Self, ConfigError> {
        Self::load_from(args, dir, std::env::vars())
    }

    /// [`load_in`](Self::load_in) with `env` in place of the process environment (read when
    /// `env_config_prefix` is set).
    pub fn load_from(args: &[String], dir: &Path, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut cli = Vec::new();
        for a in args {
            let Some(kv) = a.strip_prefix("--") else {
                return err(format!("unexpected argument {a:?}; options are --key=value"));
            };
            let (k, v) = match kv.split_once('=') {
                Some((k, v)) => (k, v),
                // A bare boolean flag means true (`--output_ddl`), as in Maxwell.
                None if spec(kv).is_ok_and(|s| s.kind == Kind::Bool) => (kv, "true"),
                None => return err(format!("option --{kv} needs a value: --{kv}=VALUE")),
            };
            cli.push((k.to_string(), v.to_string()));
        }
        let mut s = Settings::default();
        // Maxwell reads ./config.properties when no --config is given; so does this.
        let path = match cli.iter().rev().find(|(k, _)| k == "config") {
            Some((_, p)) => Some(p.clone()),
            None => Some(dir.join(DEFAULT_FILE)).filter(|p| p.is_file()).map(|p| p.display().to_string()),
        };
        if let Some(path) = &path {
            let text = std::fs::read_to_string(Path::new(path)).map_err(|e| ConfigError::Msg(format!("cannot read config file {path}: {e}")))?;
            for (k, v) in parse_properties(&text).map_err(|e| ConfigError::Msg(format!("{path}: {e}")))? {
                s.set(&k, &v).map_err(|e| ConfigError::Msg(format!("{path}: {e}")))?;
            }
        }
        let env: Vec<(String, String)> = env.into_iter().collect();
        // Newer Maxwell: `env_config` (command line only) names a variable holding settings as
        // a JSON object; they override the file.
        if s.values.remove("env_config").is_some() {
            s.notes.push("`env_config` in the config file is ignored: Maxwell reads it from the command line only (--env_config=VARIABLE)".into());
        }
        if let Some((_, var)) = cli.iter().rev().find(|(k, _)| k == "env_config") {
            for (k, v) in env_config(var, &env)? {
                s.set(&k, &v).map_err(|e| ConfigError::Msg(format!("env_config {var}: {e}")))?;
            }
        }
        // Maxwell: variables named by env_config_prefix override the file, the command line
        // overrides them.
        let prefix = cli.iter().rev().find(|(k, _)| k == "env_config_prefix").map(|(_, v)| v.clone()).or_else(|| s.values.get("env_config_prefix").cloned());
        if let Some(prefix) = prefix.map(|p| p.to_lowercase()).filter(|p| !p.is_empty()) {
            let mut vars: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.to_lowercase().starts_with(&prefix)).collect();
            vars.sort();
            for (name, v) in vars {
                let key = name.to_lowercase()[prefix.len()..].to_string();
                if key.is_empty() || key == "env_config_prefix" {
                    continue;
                }
                if spec(&key).is_err() {
                    s.notes.push(format!("environment variable {name} (prefix {prefix}) names no configuration key `{key}`; ignored"));
                    continue;
                }
                s.set(&key, &v).map_err(|e| ConfigError::Msg(format!("environment variable {name}: {e}")))?;
            }
        }
        for (k, v) in cli {
            s.set(&k, &v)?;
        }
        Ok(s)
    }

    pub fn set(&mut self, k: &str, v: &str) -> Result<(), ConfigError> {
        let v = validate(spec(k)?, v)?;
        self.values.insert(k.to_string(), v);
        Ok(())
    }

    /// `kafka.*` keys with the prefix stripped, in the order given.
    pub fn kafka_props(&self) -> Vec<(String, String)> {
        self.values.iter().filter_map(|(k, v)| k.strip_prefix("kafka.").map(|p| (p.to_string(), v.clone()))).collect()
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        let s = KEYS.iter().find(|s| s.name == k).expect("declared key");
        self.values.get(k).map(String::as_str).or(s.default)
    }
    pub(super) fn bool(&self, k: &str) -> bool {
        self.get(k) == Some("true")
    }
    pub(super) fn int(&self, k: &str) -> Option<i64> {
        self.get(k).map(|v| v.parse().expect("validated"))
    }
}

