//! Shards: a cluster's stream split by table, each part with its own leader.
//!
//! A shard is a name, an include list (`include: db.*, include: db2.orders`), an optional
//! topic and an optional preferred node, stored at `<root>/shards/<name>` (see `layout.rs`).
//! Each shard has its own leader race, epoch, position, history, transactional id
//! (`<cluster's>.<name>`), checkpoint topic (`<cluster's>.<name>`) and binlog connection
//! (server id `replica_server_id + index`).
//!
//! Invariants:
//! - No two shards include the same table: a shard's rules are literal `db.table` names or
//!   `*`, and [`ShardDef::overlap`] refuses a definition that shares a table with another.
//! - A table no shard includes is not streamed (`maxwell-cli shard list` says so).
//! - `index` is unique among the cluster's shards and never reused while the shard exists:
//!   two shards never present the same server id to the source.
//! - A removed shard (`removed: true`) is not raced for; its leader stops at a transaction
//!   boundary, commits and releases; `maxwell-cli shard remove` then deletes its znodes.

use super::layout::{decode, encode, now_ms, LeaderInfo, PositionRecord};
use super::zk::{classify, Zk, ZkError};
use crate::config::{Config, ConfigError};
use crate::filter::Filter;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zookeeper_client as zkc;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShardDef {
    pub name: String,
    /// Include rules: `include: DB.TABLE, …` with names or `*`.
    pub filter: String,
    /// Topic template for this shard's rows (default: the cluster's `kafka_topic`).
    #[serde(default)]
    pub topic: Option<String>,
    /// The node that should lead this shard when it is up (`maxwell-cli shard move`).
    #[serde(default)]
    pub preferred: Option<String>,
    /// Added to `replica_server_id` for this shard's binlog connection.
    pub index: u32,
    #[serde(default)]
    pub removed: bool,
    pub created_at: u64,
    /// Where the shard's first term starts: the oldest position the cluster had committed
    /// when the shard was added (its tables' rows from there on are streamed by it).
    #[serde(default)]
    pub start: Option<PositionRecord>,
}

/// One include rule of a shard: database and table, `None` for `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub db: Option<String>,
    pub table: Option<String>,
}

impl std::fmt::Display for Include {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.db.as_deref().unwrap_or("*"), self.table.as_deref().unwrap_or("*"))
    }
}

impl Include {
    fn overlaps(&self, o: &Include) -> bool {
        let same = |a: &Option<String>, b: &Option<String>| a.is_none() || b.is_none() || a == b;
        same(&self.db, &o.db) && same(&self.table, &o.table)
    }
}

/// Parses a shard's include list; the error says what to write instead.
pub fn parse_includes(filter: &str) -> Result<Vec<Include>, String> {
    let hint = "a shard's filter is a list of `include: DB.TABLE` rules with plain names or `*`, e.g. `include: shop.*, include: billing.invoices`";
    let mut out = Vec::new();
    for part in filter.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some(rule) = part.strip_prefix("include:") else {
            return Err(format!("`{part}`: {hint}"));
        };
        let name = |s: &str| -> Result<Option<String>, String> {
            let s = s.trim().trim_matches('`');
            if s == "*" {
                return Ok(None);
            }
            if s.is_empty() || !s.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                return Err(format!("`{part}`: {hint}"));
            }
            Ok(Some(s.to_string()))
        };
        let Some((db, table)) = rule.trim().split_once('.') else {
            return Err(format!("`{part}`: {hint}"));
        };
        out.push(Include { db: name(db)?, table: name(table)? });
    }
    if out.is_empty() {
        return Err(format!("the filter is empty: {hint}"));
    }
    Ok(out)
}

pub fn valid_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(format!("shard name {name:?}: use 1–64 letters, digits, `_` or `-`"));
    }
    Ok(())
}

impl ShardDef {
    pub fn includes(&self) -> Vec<Include> {
        parse_includes(&self.filter).unwrap_or_default()
    }

    /// The first table pattern this shard shares with `other`, if any.
    pub fn overlap(&self, other: &ShardDef) -> Option<(Include, Include)> {
        for a in self.includes() {
            for b in other.includes() {
                if a.overlaps(&b) {
                    return Some((a, b));
                }
            }
        }
        None
    }

    /// The row filter of this shard: only the tables it includes.
    pub fn row_filter(&self) -> Filter {
        let rules: Vec<String> = self.includes().iter().map(|i| format!("include: `{}`.`{}`", i.db.as_deref().unwrap_or("*"), i.table.as_deref().unwrap_or("*"))).collect();
        let text = format!("exclude: *.*, {}", rules.join(", ")).replace("`*`", "*");
        Filter::parse(&text).expect("validated include rules parse")
    }

    /// The node's configuration for this shard's stream.
    pub fn configure(&self, cfg: &Config) -> Config {
        let mut c = cfg.clone();
        c.filter = cfg.filter.clone().within(self.row_filter());
        c.source.server_id = cfg.source.server_id.wrapping_add(self.index);
        if let (Some(k), Some(t)) = (c.kafka.as_mut(), &self.topic) {
            if k.routing.ddl_topic == k.routing.topic {
                k.routing.ddl_topic = t.clone();
            }
            k.routing.topic = t.clone();
        }
        if let Some(ha) = c.ha.as_mut() {
            ha.transactional_id = format!("{}.{}", ha.transactional_id, self.name);
            ha.checkpoint_topic = format!("{}.{}", ha.checkpoint_topic, self.name);
        }
        c
    }
}

/// The keys `maxwell-cli config set` may change for the whole cluster: how rows are
/// filtered, encoded, routed and committed. Connection and identity settings stay per node.
pub fn cluster_key(key: &str) -> Result<(), ConfigError> {
    const KEYS: &[&str] = &[
        "filter", "exclude_columns", "encrypt", "kafka_topic", "ddl_kafka_topic", "producer_partition_by", "producer_partition_columns", "producer_partition_by_fallback",
        "kafka_partition_hash", "kafka_key_format", "ignore_producer_error", "dead_letter_topic", "ha_commit_interval_ms", "ha_kafka_transaction_rows", "ha_stall_timeout_ms",
        "bootstrap_chunk_rows", "bootstrap_rows_per_second", "tx_memory_mb", "ha_takeover_delay_ms", "ha_rebalance_interval_ms",
    ];
    if KEYS.contains(&key) || key.starts_with("output_") {
        return Ok(());
    }
    Err(ConfigError::Msg(format!(
        "`{key}` is a node setting (each node's config.properties or command line); cluster-wide settings are {} and output_*",
        KEYS.join(", ")
    )))
}

/// Settings stored for every node of the cluster (`<root>/settings`): key → value.
pub type ClusterSettings = BTreeMap<String, String>;

/// `cfg` with the cluster's settings applied (they win over the node's own file).
pub fn with_settings(cfg: &Config, settings: &ClusterSettings) -> Result<Config, ConfigError> {
    if settings.is_empty() {
        return Ok(cfg.clone());
    }
    let mut s = cfg.settings.clone();
    for (k, v) in settings {
        cluster_key(k)?;
        s.set(k, v).map_err(|e| ConfigError::Msg(format!("cluster setting {e}")))?;
    }
    Config::from_settings(&s)
}

impl Zk {
    /// The shard definitions (removed ones included), by name.
    pub async fn shard_defs(&self) -> Result<Vec<ShardDef>, ZkError> {
        let names = match self.client.list_children(&self.paths.shards()).await {
            Ok(n) => n,
            Err(zkc::Error::NoNode) => return Ok(Vec::new()),
            Err(e) => return Err(classify(e, "listing the shards")),
        };
        let mut out = Vec::new();
        for n in names {
            let p = self.paths.shard_def(&n);
            match self.client.get_data(&p).await {
                Ok((d, _)) => out.push(decode::<ShardDef>(&p, &d)?),
                Err(zkc::Error::NoNode) => {}
                Err(e) => return Err(classify(e, "reading a shard")),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// One shard's definition (`None`: no such shard).
    pub async fn shard_def(&self, name: &str) -> Result<Option<ShardDef>, ZkError> {
        let p = self.paths.shard_def(name);
        match self.client.get_data(&p).await {
            Ok((d, _)) => Ok(Some(decode(&p, &d)?)),
            Err(zkc::Error::NoNode) => Ok(None),
            Err(e) => Err(classify(e, "reading a shard")),
        }
    }

    /// This cluster scoped to shard `name` (same session).
    pub fn for_shard(&self, name: &str) -> Zk {
        self.scoped(self.paths.for_shard(name))
    }

    /// This cluster scoped to the root's own streams (the implicit shard; same session).
    pub fn unscoped(&self) -> Zk {
        self.scoped(self.paths.unscoped())
    }

    /// Shard `name`'s leader once it has bumped the epoch (`None`: nobody streams it).
    pub async fn shard_leader(&self, name: &str) -> Result<Option<LeaderInfo>, ZkError> {
        Ok(self.for_shard(name).leader().await?.filter(|l| l.epoch > 0))
    }

    /// Adds a shard: refused when the name is taken or it shares a table with another.
    pub async fn add_shard(&self, name: &str, filter: &str, topic: Option<&str>, preferred: Option<&str>) -> Result<ShardDef, ZkError> {
        valid_name(name).map_err(ZkError::Definite)?;
        parse_includes(filter).map_err(|e| ZkError::Definite(format!("shard {name}: {e}")))?;
        let defs = self.shard_defs().await?;
        if defs.iter().any(|d| d.name == name) {
            return Err(ZkError::Definite(format!("shard {name} exists already (maxwell-cli shard remove {name} first)")));
        }
        let def = ShardDef {
            name: name.to_string(),
            filter: filter.to_string(),
            topic: topic.map(str::to_string),
            preferred: preferred.map(str::to_string),
            index: defs.iter().map(|d| d.index).max().unwrap_or(0) + 1,
            removed: false,
            created_at: now_ms(),
            start: self.cluster_position(&defs).await?,
        };
        if let Some(other) = defs.iter().find(|d| !d.removed && def.overlap(d).is_some()) {
            let (a, b) = def.overlap(other).expect("found");
            return Err(ZkError::Definite(format!("shard {name}'s `{a}` overlaps shard {}'s `{b}`: a table can belong to one shard only", other.name)));
        }
        self.client.mkdir(&self.paths.shards(), &self.persistent()).await.or_else(|e| if e == zkc::Error::NodeExists { Ok(()) } else { Err(e) }).map_err(|e| classify(e, "creating the shards znode"))?;
        match self.client.create(&self.paths.shard_def(name), &encode(&def), &self.persistent()).await {
            Ok(_) => Ok(def),
            Err(zkc::Error::NodeExists) => Err(ZkError::Definite(format!("shard {name} exists already"))),
            Err(e) => Err(classify(e, "creating the shard")),
        }
    }

    /// The oldest position committed by the implicit shard or any shard of `defs`.
    async fn cluster_position(&self, defs: &[ShardDef]) -> Result<Option<PositionRecord>, ZkError> {
        let mut found: Vec<PositionRecord> = self.unscoped().load_position().await?.map(|(r, _)| r).into_iter().collect();
        for d in defs {
            if let Some((r, _)) = self.for_shard(&d.name).load_position().await? {
                found.push(r);
            }
        }
        Ok(found.into_iter().filter(|r| r.position.is_some()).min_by(|a, b| a.position.cmp(&b.position)))
    }

    /// Rewrites a shard's definition with `f` (version-checked).
    pub async fn update_shard(&self, name: &str, f: impl Fn(&mut ShardDef)) -> Result<ShardDef, ZkError> {
        let p = self.paths.shard_def(name);
        loop {
            let (d, stat) = match self.client.get_data(&p).await {
                Ok(v) => v,
                Err(zkc::Error::NoNode) => return Err(ZkError::Definite(format!("no shard named {name} (maxwell-cli shard list)"))),
                Err(e) => return Err(classify(e, "reading the shard")),
            };
            let mut def: ShardDef = decode(&p, &d)?;
            f(&mut def);
            match self.client.set_data(&p, &encode(&def), Some(stat.version)).await {
                Ok(_) => return Ok(def),
                Err(zkc::Error::BadVersion) => continue,
                Err(e) => return Err(classify(e, "writing the shard")),
            }
        }
    }

    /// Deletes `path` and every znode under it (its schema history has children).
    fn delete_tree(&self, path: String) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ZkError>> + Send + '_>> {
        Box::pin(async move {
            match self.client.list_children(&path).await {
                Ok(children) => {
                    for c in children {
                        self.delete_tree(format!("{path}/{c}")).await?;
                    }
                }
                Err(zkc::Error::NoNode) => return Ok(()),
                Err(e) => return Err(classify(e, "listing the shard's znodes")),
            }
            match self.client.delete(&path, None).await {
                Ok(()) | Err(zkc::Error::NoNode) => Ok(()),
                Err(e) => Err(classify(e, "deleting the shard's znodes")),
            }
        })
    }

    /// Deletes a shard's znodes (after its leader stopped: `leader` must be gone). A race
    /// that had not yet seen the removal may write a znode meanwhile: tried again a few times.
    pub async fn delete_shard(&self, name: &str) -> Result<(), ZkError> {
        let base = self.paths.shard_def(name);
        let mut attempt = 0;
        loop {
            let children = match self.client.list_children(&base).await {
                Ok(c) => c,
                Err(zkc::Error::NoNode) => return Ok(()),
                Err(e) => return Err(classify(e, "listing the shard's znodes")),
            };
            for c in children {
                self.delete_tree(format!("{base}/{c}")).await?;
            }
            match self.client.delete(&base, None).await {
                Ok(()) | Err(zkc::Error::NoNode) => return Ok(()),
                Err(zkc::Error::NotEmpty) if attempt < 20 => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
                Err(e) => return Err(classify(e, "deleting the shard")),
            }
        }
    }

    /// The node's HA settings with the cluster's on top, as they are now (for the settings
    /// read outside a term: `ha_takeover_delay_ms`, `ha_rebalance_interval_ms`); `None` when
    /// the cluster sets none or they cannot be read or applied (the node's own then hold).
    pub async fn live_ha(&self, base: &Config) -> Option<crate::config::HaConfig> {
        let (s, _) = self.cluster_settings().await.ok()?;
        if s.is_empty() {
            return None;
        }
        with_settings(base, &s).ok()?.ha
    }

    /// The cluster-wide settings and the znode's version (`None`: none set yet).
    pub async fn cluster_settings(&self) -> Result<(ClusterSettings, Option<i32>), ZkError> {
        match self.client.get_data(&self.paths.settings()).await {
            Ok((d, s)) => Ok((decode(&self.paths.settings(), &d)?, Some(s.version))),
            Err(zkc::Error::NoNode) => Ok((ClusterSettings::new(), None)),
            Err(e) => Err(classify(e, "reading the cluster settings")),
        }
    }

    /// Sets (`Some`) or removes (`None`) one cluster-wide setting (version-checked).
    pub async fn set_cluster_setting(&self, key: &str, value: Option<&str>) -> Result<ClusterSettings, ZkError> {
        let p = self.paths.settings();
        loop {
            let (mut s, version) = self.cluster_settings().await?;
            match value {
                Some(v) => s.insert(key.to_string(), v.to_string()),
                None => s.remove(key),
            };
            let r = match version {
                Some(v) => self.client.set_data(&p, &encode(&s), Some(v)).await.map(|_| ()),
                None => self.client.create(&p, &encode(&s), &self.persistent()).await.map(|_| ()),
            };
            match r {
                Ok(()) => return Ok(s),
                Err(zkc::Error::BadVersion | zkc::Error::NodeExists) => continue,
                Err(e) => return Err(classify(e, "writing the cluster settings")),
            }
        }
    }

    /// Resolves once the cluster settings' znode version differs from `seen` (`None`: absent),
    /// at once if it already does (a session event only renews the watch; an error leaves it
    /// pending: the term's session watch acts).
    pub async fn settings_changed(&self, seen: Option<i32>) {
        loop {
            match self.client.check_and_watch_stat(&self.paths.settings()).await {
                Ok((stat, w)) => {
                    if stat.map(|s| s.version) != seen {
                        return;
                    }
                    if w.changed().await.event_type == zkc::EventType::Session {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                }
                Err(_) => std::future::pending::<()>().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str, filter: &str) -> ShardDef {
        ShardDef { name: name.into(), filter: filter.into(), topic: None, preferred: None, index: 1, removed: false, created_at: 0, start: None }
    }

    #[test]
    fn includes_parse_and_bad_ones_say_what_to_write() {
        let i = parse_includes("include: shop.*, include: `billing`.invoices").unwrap();
        assert_eq!(i.iter().map(ToString::to_string).collect::<Vec<_>>(), ["shop.*", "billing.invoices"]);
        for bad in ["", "exclude: a.*", "include: /x/.*", "include: a", "include: a.b.c=1"] {
            let e = parse_includes(bad).unwrap_err();
            assert!(e.contains("include: DB.TABLE"), "{bad}: {e}");
        }
        assert!(valid_name("orders-1").is_ok() && valid_name("a/b").is_err() && valid_name("").is_err());
    }

    #[test]
    fn overlap_is_found_through_wildcards() {
        let a = def("a", "include: shop.*");
        assert!(a.overlap(&def("b", "include: shop.orders")).is_some());
        assert!(a.overlap(&def("b", "include: *.orders")).is_some());
        assert!(a.overlap(&def("b", "include: billing.*")).is_none());
        assert!(def("x", "include: s.a").overlap(&def("y", "include: s.b")).is_none());
    }

    #[test]
    fn the_row_filter_holds_only_the_shards_tables() {
        let f = def("a", "include: shop.*, include: billing.invoices").row_filter();
        assert!(f.includes_table("shop", "x") && f.includes_table("billing", "invoices"));
        assert!(!f.includes_table("billing", "refunds") && !f.includes_table("other", "x"));
    }

    #[test]
    fn only_cluster_keys_are_settable() {
        assert!(cluster_key("filter").is_ok() && cluster_key("output_ddl").is_ok());
        let e = cluster_key("node_id").unwrap_err().to_string();
        assert!(e.contains("node setting") && e.contains("filter"), "{e}");
    }

    #[test]
    fn payload_round_trips() {
        let mut d = def("orders", "include: shop.orders");
        d.preferred = Some("n2".into());
        assert_eq!(decode::<ShardDef>("/p", &encode(&d)).unwrap(), d);
    }

    #[test]
    fn cluster_settings_apply_over_the_nodes_own() {
        let args: Vec<String> = ["--user=u", "--output_server_id=false", "--filter=exclude: a.*"].iter().map(|s| s.to_string()).collect();
        let base = Config::from_settings(&crate::config::Settings::load_in(&args, std::path::Path::new("/nonexistent")).unwrap()).unwrap();
        let s: ClusterSettings = [("output_server_id".to_string(), "true".to_string())].into();
        let c = with_settings(&base, &s).unwrap();
        assert!(c.output.server_id && !base.output.server_id);
        assert!(!c.filter.includes_table("a", "t"), "the node's other settings stay");
        let bad: ClusterSettings = [("node_id".to_string(), "x".to_string())].into();
        assert!(with_settings(&base, &bad).is_err());
    }
}
