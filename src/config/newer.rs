//! The options newer Maxwell releases (after 1.22.6) added, given their Maxwell meaning here
//! before the configuration is built: `replication_jdbc_options`, Maxwell's raft/jgroups
//! high availability (`ha`, `jgroups_config`, `raft_member_id`) in terms of the ZooKeeper
//! cluster, and the replication tuning options this project needs no tuning for
//! (`binlog_heartbeat`, `replication_reconnection_retries`, `buffer_memory_usage`,
//! `binlog_event_queue_size`). `output_naming_strategy` is read here too.
//!
//! Invariants:
//! - An option is refused only where Maxwell refuses it (`buffer_memory_usage` above 1 or not
//!   a number), or where its meaning cannot be had (`ha=true` without `zookeeper_servers`:
//!   one error naming the keys to set).
//! - Every accepted option that changes nothing here gives exactly one warning saying why
//!   none is needed; an option whose meaning always holds here (`binlog_heartbeat=true`,
//!   `replication_reconnection_retries=0`, `ignore_missing_schema`) gives none.

use super::maxwell::jdbc_options;
use super::settings::Settings;
use super::ConfigError;
use std::time::Duration;

/// `output_naming_strategy`: how a row's field names are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NamingStrategy {
    /// Names as they are (Maxwell's default, and any value it does not know).
    #[default]
    None,
    /// `underscore_to_camelcase`: `server_id` → `serverId`.
    CamelCase,
}

/// Maxwell's `underscore_to_camelcase`: each underscore is dropped and the letter after it
/// upper-cased (a leading or trailing underscore is dropped alone); a name of underscores only
/// stays as it is.
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        // An underscore first in the output, or last in the name, is dropped alone.
        if out.is_empty() || chars.peek().is_none() {
            continue;
        }
        let next = chars.next().expect("peeked");
        out.extend(next.to_uppercase());
    }
    if out.is_empty() {
        name.to_string()
    } else {
        out
    }
}

/// The naming strategy `output_naming_strategy` asks for (a warning for a value Maxwell does
/// not know: it writes names unchanged then).
pub(super) fn naming_strategy(s: &Settings, warnings: &mut Vec<String>) -> NamingStrategy {
    match s.get("output_naming_strategy") {
        Some("underscore_to_camelcase") => NamingStrategy::CamelCase,
        None | Some("none") | Some("") => NamingStrategy::None,
        Some(other) => {
            warnings.push(format!("`output_naming_strategy={other}` is not a strategy Maxwell knows (underscore_to_camelcase): field names are written unchanged, as Maxwell writes them"));
            NamingStrategy::None
        }
    }
}

/// Resolves the newer options in `s` (`raft_member_id` may become `node_id`,
/// `replication_jdbc_options` may set `replication_ssl`); returns the connect timeout
/// `replication_jdbc_options` asks for the binlog connection.
pub(super) fn resolve(s: &mut Settings, warnings: &mut Vec<String>) -> Result<Option<Duration>, ConfigError> {
    let set = |s: &Settings, k: &str| s.values.get(k).cloned();
    if set(s, "binlog_heartbeat").as_deref() == Some("false") {
        warnings.push(format!(
            "`binlog_heartbeat=false`: heartbeats stay on (every binlog_heartbeat_ms, {} ms): stall detection and failover rely on them",
            s.int("binlog_heartbeat_ms").unwrap()
        ));
    }
    if let Some(n) = set(s, "replication_reconnection_retries").filter(|n| n != "0") {
        warnings.push(format!("`replication_reconnection_retries={n}` has no effect in maxwell-ha: the binlog connection is always retried without limit (backoff up to 5 s), and a cluster leader that cannot read hands over (ha_stall_timeout_ms)"));
    }
    if let Some(v) = set(s, "buffer_memory_usage") {
        let share: f64 = v.trim().parse().map_err(|_| ConfigError::Msg(format!("`buffer_memory_usage` must be a number from 0 to 1, not {v:?}")))?;
        if share > 1.0 {
            return Err(ConfigError::Msg(format!("`buffer_memory_usage` must be <= 1.0 (as in Maxwell), not {v}")));
        }
        warnings.push(format!(
            "`buffer_memory_usage` has no effect in maxwell-ha: there is no JVM heap; a transaction's rows spill to disk past tx_memory_mb ({} MiB): set that instead",
            s.int("tx_memory_mb").unwrap()
        ));
    }
    if set(s, "binlog_event_queue_size").is_some() {
        warnings.push("`binlog_event_queue_size` has no effect in maxwell-ha: events are decoded as they arrive and whole transactions go to the producer over a bounded queue of 256, whose memory tx_memory_mb bounds".into());
    }
    high_availability(s, warnings)?;
    let mut timeout = None;
    if let Some(raw) = set(s, "replication_jdbc_options") {
        if s.values.contains_key("replication_host") {
            let j = jdbc_options(&raw, warnings)?;
            timeout = j.connect_timeout;
            if let Some(mode) = j.tls {
                let name = super::source::MODES[mode as usize];
                match s.values.get("replication_ssl") {
                    None => s.set("replication_ssl", name)?,
                    Some(ssl) if ssl != name => warnings.push(format!("`replication_jdbc_options` asks for TLS mode {name} but `replication_ssl` is {ssl}: `replication_ssl` applies")),
                    Some(_) => {}
                }
            }
        } else {
            warnings.push("`replication_jdbc_options` is ignored without `replication_host`, as in Maxwell: the binlog is read from `host` with jdbc_options".into());
        }
    }
    Ok(timeout)
}

/// Maxwell's raft/jgroups high availability mapped onto the ZooKeeper cluster.
fn high_availability(s: &mut Settings, warnings: &mut Vec<String>) -> Result<(), ConfigError> {
    let ha = s.bool("ha");
    let zk = s.values.contains_key("zookeeper_servers");
    if ha && !zk {
        return Err(ConfigError::Msg(
            "`ha=true` asks for Maxwell's raft/jgroups high availability; maxwell-ha's is a ZooKeeper cluster: set zookeeper_servers=host:port,host:port,… on every node \
             (the same client_id on all of them; node_id names each node, default the host name, in place of raft_member_id; jgroups_config is not needed), \
             or remove ha=true to run one node alone (see docs/cluster.md)"
                .into(),
        ));
    }
    let raft: Vec<&str> = ["jgroups_config", "raft_member_id"].into_iter().filter(|k| s.values.contains_key(*k)).collect();
    if ha {
        if let Some(id) = s.values.get("raft_member_id").cloned() {
            if !s.values.contains_key("node_id") {
                s.set("node_id", &id)?;
                warnings.push(format!("`raft_member_id={id}` is this node's node_id in the ZooKeeper cluster; rename it to node_id"));
            } else {
                warnings.push("`raft_member_id` is ignored: node_id names this node in the ZooKeeper cluster".into());
            }
        }
        if s.values.contains_key("jgroups_config") {
            warnings.push("`jgroups_config` is ignored: the ZooKeeper cluster (zookeeper_servers) replaces jgroups-raft".into());
        }
    } else if !raft.is_empty() {
        let names = raft.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(" and ");
        warnings.push(format!("{names} ignored without ha=true, as in Maxwell (high availability here is zookeeper_servers)"));
    }
    Ok(())
}

#[cfg(test)]
#[path = "newer_tests.rs"]
mod tests;
