//! Per-shard figures: this node's role for each shard, its epoch, lag and commits, in the
//! status (`/api/status` → `shards`) and as metrics labelled `shard`.
//!
//! Invariants:
//! - The `shard` label only takes the names of the cluster's shards; a removed shard's
//!   series are deleted ([`forget_shard`]), so the label stays bounded by the shard count.
//! - The node's own role follows its shards: `leader` while it leads at least one,
//!   `standby` otherwise (`stopped` once every shard stopped).

use super::{get, now_ms, set_role, status, Role};
use serde::Serialize;

/// This node's view of one shard.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct ShardStatus {
    pub role: Role,
    pub reason: Option<String>,
    pub since_ms: u64,
    pub epoch: Option<u64>,
    pub committed_position: Option<String>,
    pub committed_at_ms: Option<u64>,
    pub lag_seconds: Option<f64>,
}

/// Records this node's role for `shard`, and the node's role that follows from all shards.
pub fn set_shard_role(shard: &str, role: Role, reason: &str) {
    let (changed, node_role, led) = {
        let mut st = status();
        let e = st.shards.entry(shard.to_string()).or_default();
        let changed = e.role != role;
        if changed || e.reason.as_deref() != Some(reason) {
            e.role = role;
            e.reason = Some(reason.to_string());
            e.since_ms = now_ms();
        }
        if role != Role::Leader {
            e.lag_seconds = None;
        }
        let led: Vec<String> = st.shards.iter().filter(|(_, s)| s.role == Role::Leader).map(|(n, _)| n.clone()).collect();
        let node_role = if !led.is_empty() {
            Role::Leader
        } else if st.shards.values().all(|s| s.role == Role::Stopped) {
            Role::Stopped
        } else {
            Role::Standby
        };
        (changed, node_role, led)
    };
    get().shard_leader.with_label_values(&[shard]).set(i64::from(role == Role::Leader));
    if changed {
        tracing::info!(shard, to = ?role, reason, "shard role change");
    }
    let why = if led.is_empty() { "leads no shard".to_string() } else { format!("leads shard(s) {}", led.join(", ")) };
    set_role(node_role, &why);
    if node_role == Role::Leader {
        status().streaming = true;
    }
}

pub fn set_shard_epoch(shard: &str, epoch: u64) {
    get().shard_epoch.with_label_values(&[shard]).set(epoch as i64);
    status().shards.entry(shard.to_string()).or_default().epoch = Some(epoch);
}

/// `shard`'s position was committed to ZooKeeper at `at_ms`.
pub fn set_shard_committed(shard: &str, position: Option<String>, at_ms: u64) {
    get().shard_commits.with_label_values(&[shard]).inc();
    let mut st = status();
    let e = st.shards.entry(shard.to_string()).or_default();
    e.committed_position = position;
    e.committed_at_ms = Some(at_ms);
}

pub fn set_shard_lag(shard: &str, seconds: f64) {
    get().shard_lag.with_label_values(&[shard]).set(seconds);
    status().shards.entry(shard.to_string()).or_default().lag_seconds = Some(seconds);
}

/// `shard` no longer exists (or this node stopped serving it): its series and status go.
pub fn forget_shard(shard: &str) {
    let m = get();
    let _ = m.shard_leader.remove_label_values(&[shard]);
    let _ = m.shard_epoch.remove_label_values(&[shard]);
    let _ = m.shard_lag.remove_label_values(&[shard]);
    let _ = m.shard_commits.remove_label_values(&[shard]);
    status().shards.remove(shard);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_leads_while_it_leads_a_shard_and_removed_shards_leave_no_series() {
        set_shard_role("ut-a", Role::Leader, "won");
        set_shard_role("ut-b", Role::Standby, "n2 leads");
        assert_eq!(status().role, Role::Leader);
        assert!(get().render().contains("maxwell_shard_leader{shard=\"ut-a\"} 1"));
        set_shard_epoch("ut-a", 7);
        set_shard_committed("ut-a", Some("f.1:4".into()), 5);
        assert_eq!(status().shards["ut-a"].epoch, Some(7));
        set_shard_role("ut-a", Role::Standby, "handed over");
        assert_eq!(status().role, Role::Standby);
        forget_shard("ut-a");
        forget_shard("ut-b");
        let text = get().render();
        assert!(!text.contains("ut-a") && !text.contains("ut-b"), "{text}");
    }
}
