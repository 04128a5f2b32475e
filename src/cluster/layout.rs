//! The znode tree and its payloads (see `zk-layout/README.md` for the prose version).
//!
//! ```text
//! <root>                 persistent  (default /maxwell/cluster; one root per client_id)
//! ├── members/<node_id>  ephemeral   MemberInfo   written by each node at session start
//! ├── leader             ephemeral   LeaderInfo   created by the election winner
//! ├── epoch              persistent  EpochInfo    bumped by every new leader (version-checked)
//! ├── position           persistent  PositionRecord  written by the leader, fenced by epoch
//! ├── failover           persistent  FailoverRequest (maxwell-cli failover), cleared by the next term
//! ├── stuck              persistent  StuckRow: the stream holds at a row Kafka refused (ignore_producer_error=false)
//! ├── history            persistent  History: the last 100 terms (see `history.rs`)
//! ├── drained/<node_id>  persistent  (empty)  this node stays a standby (maxwell-cli node drain)
//! ├── settings           persistent  ClusterSettings: config keys set for every node (maxwell-cli config set)
//! └── shards/<name>      persistent  ShardDef (maxwell-cli shard add); beneath it, per shard:
//!     ├── leader, epoch, position, failover, history, stuck   as above, for this shard's stream
//! ```
//!
//! A cluster without shards streams everything under the root's own `leader`/`epoch`/
//! `position` (the implicit shard). A shard's [`Paths`] keep `members`, `drained`, `settings`
//! and `shards` at the cluster root and put the per-stream znodes under `shards/<name>`.
//!
//! Invariants:
//! - `epoch`'s znode *version* is the fence: a leader remembers the version its bump produced
//!   and writes `position` only as `multi[check(epoch, that version), set_data(position)]`.
//!   Any later leader's bump makes every earlier leader's writes fail with BadVersion.
//! - `position` only ever holds a transaction boundary whose rows were all acknowledged by
//!   the sink; its `epoch` field names the leadership that wrote it.
//! - Every payload is JSON; a payload that does not parse is reported with the znode's path
//!   and never overwritten silently.

pub use crate::metrics::now_ms;
use crate::binlog::gtid::GtidSet;
use crate::binlog::position::BinlogPosition;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The cluster root: membership, drained flags, settings and shard definitions.
    pub root: String,
    /// Where this stream's leader, epoch, position, failover and history live: the root, or
    /// `<root>/shards/<name>` for a shard.
    pub scope: String,
    /// The shard these paths are scoped to (`None`: the implicit shard).
    pub shard: Option<String>,
}

impl Paths {
    pub fn new(root: &str) -> Self {
        let root = root.trim_end_matches('/').to_string();
        Self { scope: root.clone(), root, shard: None }
    }
    /// The same cluster, scoped to shard `name`.
    pub fn for_shard(&self, name: &str) -> Self {
        Self { root: self.root.clone(), scope: self.shard_def(name), shard: Some(name.to_string()) }
    }
    /// The cluster root's own scope (the implicit shard).
    pub fn unscoped(&self) -> Self {
        Self::new(&self.root)
    }
    pub fn shards(&self) -> String {
        format!("{}/shards", self.root)
    }
    pub fn shard_def(&self, name: &str) -> String {
        format!("{}/shards/{name}", self.root)
    }
    pub fn settings(&self) -> String {
        format!("{}/settings", self.root)
    }
    pub fn members(&self) -> String {
        format!("{}/members", self.root)
    }
    pub fn member(&self, node_id: &str) -> String {
        format!("{}/members/{node_id}", self.root)
    }
    pub fn leader(&self) -> String {
        format!("{}/leader", self.scope)
    }
    pub fn epoch(&self) -> String {
        format!("{}/epoch", self.scope)
    }
    pub fn position(&self) -> String {
        format!("{}/position", self.scope)
    }
    pub fn failover(&self) -> String {
        format!("{}/failover", self.scope)
    }
    pub fn history(&self) -> String {
        format!("{}/history", self.scope)
    }
    /// The row this stream holds at, until an operator resolves it (`maxwell-cli row`).
    pub fn stuck(&self) -> String {
        format!("{}/stuck", self.scope)
    }
    /// Parent of the stored schema history's entries (`e-<sequence>`).
    pub fn schema_history(&self) -> String {
        format!("{}/schema", self.scope)
    }
    /// Parent of the drained flags.
    pub fn drained_nodes(&self) -> String {
        format!("{}/drained", self.root)
    }
    pub fn drained(&self, node_id: &str) -> String {
        format!("{}/{node_id}", self.drained_nodes())
    }
}

/// An operator's request that the leader hand over (`maxwell-cli failover`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FailoverRequest {
    /// The node that should lead next; any standby when absent.
    pub to: Option<String>,
    /// The leader being asked to step down.
    pub from: String,
    pub requested_at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemberInfo {
    pub node_id: String,
    pub host: String,
    pub http: Option<String>,
    pub version: String,
    /// Unix milliseconds.
    pub started_at: u64,
    pub priority: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LeaderInfo {
    pub node_id: String,
    /// 0 until the winner has bumped `epoch`.
    pub epoch: u64,
    /// Unix milliseconds.
    pub since: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EpochInfo {
    pub epoch: u64,
    pub node_id: String,
    pub at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PositionRecord {
    /// `None` when only a GTID set is known (set by an operator); resumed by GTID then.
    pub position: Option<BinlogPosition>,
    pub gtid: Option<GtidSet>,
    /// The source's server_id.
    pub server_id: u32,
    pub epoch: u64,
    pub node_id: String,
    /// Unix milliseconds.
    pub committed_at: u64,
}

impl PositionRecord {
    /// The `node_id` of a position written by an operator (`maxwell-cli position set`, or
    /// `shard remove` of the last shard), whose epoch is 0.
    pub const OPERATOR: &'static str = "maxwell-cli";

    /// A position an operator wrote at `committed_at` (now): the next term starts there, even
    /// over an older Kafka checkpoint.
    pub fn by_operator(position: Option<BinlogPosition>, gtid: Option<GtidSet>, server_id: u32) -> Self {
        Self { position, gtid, server_id, epoch: 0, node_id: Self::OPERATOR.into(), committed_at: now_ms() }
    }

    pub fn set_by_operator(&self) -> bool {
        self.epoch == 0 && self.node_id == Self::OPERATOR
    }

    /// Whether this position, written by an operator after a Kafka checkpoint committed at
    /// `checkpoint_at` (Unix ms), is where the next term starts instead of that checkpoint.
    pub fn overrides(&self, checkpoint_at: u64) -> bool {
        self.set_by_operator() && self.committed_at > checkpoint_at
    }

    /// The later committed of two records of one cluster's history (`a` on a tie).
    pub fn latest(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(a), Some(b)) if b.committed_at > a.committed_at => Some(b),
            (Some(a), _) => Some(a),
            (None, b) => b,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("znode {path} holds a corrupt payload ({reason}); fix or delete it (maxwell-cli position set can rewrite `position`)")]
pub struct CorruptZnode {
    pub path: String,
    pub reason: String,
}

pub fn decode<T: for<'de> Deserialize<'de>>(path: &str, data: &[u8]) -> Result<T, CorruptZnode> {
    serde_json::from_slice(data).map_err(|e| CorruptZnode { path: path.to_string(), reason: e.to_string() })
}

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("payloads serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_positions_and_the_latest_record() {
        let at = |node: &str, epoch: u64, ms: u64| PositionRecord {
            position: Some("mysql-bin.000001:4".parse().unwrap()),
            gtid: None,
            server_id: 1,
            epoch,
            node_id: node.into(),
            committed_at: ms,
        };
        let op = PositionRecord::by_operator(None, None, 0);
        assert!(op.set_by_operator() && op.committed_at > 0);
        // An operator's position wins over a checkpoint committed before it, not after it.
        assert!(at("maxwell-cli", 0, 200).overrides(100));
        assert!(!at("maxwell-cli", 0, 100).overrides(200));
        // A leader's ZooKeeper commit follows its Kafka commit: it never overrides.
        assert!(!at("n1", 3, 200).overrides(100));
        let (old, new) = (at("n1", 1, 100), at("n2", 2, 200));
        assert_eq!(PositionRecord::latest(Some(old.clone()), Some(new.clone())), Some(new.clone()));
        assert_eq!(PositionRecord::latest(Some(new.clone()), Some(old.clone())), Some(new.clone()));
        assert_eq!(PositionRecord::latest(None, Some(old.clone())), Some(old.clone()));
        assert_eq!(PositionRecord::latest(Some(old.clone()), None), Some(old.clone()));
        let tie = at("n3", 1, 100);
        assert_eq!(PositionRecord::latest(Some(old.clone()), Some(tie)), Some(old));
    }

    #[test]
    fn paths() {
        let p = Paths::new("/maxwell/cluster/");
        assert_eq!(p.leader(), "/maxwell/cluster/leader");
        assert_eq!(p.member("n1"), "/maxwell/cluster/members/n1");
        let s = p.for_shard("orders");
        assert_eq!(s.leader(), "/maxwell/cluster/shards/orders/leader");
        assert_eq!(s.position(), "/maxwell/cluster/shards/orders/position");
        assert_eq!(s.member("n1"), p.member("n1"));
        assert_eq!(s.drained("n1"), p.drained("n1"));
        assert_eq!(s.unscoped(), p);
    }

    #[test]
    fn payloads_round_trip_and_corruption_is_named() {
        let r = PositionRecord {
            position: Some("mysql-bin.000001:100".parse().unwrap()),
            gtid: Some("0-1-5".parse().unwrap()),
            server_id: 1,
            epoch: 3,
            node_id: "n1".into(),
            committed_at: 9,
        };
        let b = encode(&r);
        assert_eq!(decode::<PositionRecord>("/p", &b).unwrap(), r);
        let text = String::from_utf8(b).unwrap();
        assert!(text.contains("\"position\":\"mysql-bin.000001:100\"") && text.contains("\"gtid\":\"0-1-5\""), "{text}");
        let e = decode::<PositionRecord>("/x/position", b"{nope").unwrap_err().to_string();
        assert!(e.contains("/x/position") && e.contains("corrupt"), "{e}");
        let e = decode::<PositionRecord>("/x/position", br#"{"position":"bad","gtid":null,"server_id":1,"epoch":1,"node_id":"a","committed_at":1}"#).unwrap_err();
        assert!(e.reason.contains("FILE:POS"), "{e}");
    }
}
