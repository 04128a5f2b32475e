//! A cluster's schema history, in ZooKeeper beside its position: one persistent sequential
//! znode per entry under `<scope>/schema` (`e-0000000000`, …), so every member that takes
//! over rebuilds the schema as of the checkpoint it resumes from.
//!
//! Invariants:
//! - Entries are only ever added, with the cluster's ACL; the sequence number is the order
//!   stored. They need no epoch fence: an entry is a fact about the binlog, and a deposed
//!   leader that stores one stores the same fact (see [`crate::binlog::history::stored`]).
//! - Each znode holds one entry in its stored form (deflated JSON: a 1 000-table schema is
//!   about 100 KB); one that would exceed ZooKeeper's 1 MB limit is refused with an error
//!   that says so, never cut.
//! - A znode that does not decode stops the start with an error naming it.

use super::zk::{classify, ignore_exists, Zk, ZkError};
use crate::binlog::history::Entry;
use crate::source::history::{HistoryStore, StoreError, StoreFuture};
use zookeeper_client as zkc;

/// ZooKeeper's default `jute.maxbuffer` less room for the request around the data.
const MAX_ZNODE: usize = 1_000_000;

pub struct ZkHistory {
    zk: Zk,
}

impl From<ZkError> for StoreError {
    fn from(e: ZkError) -> Self {
        match e {
            ZkError::Definite(m) => StoreError::Definite(m),
            ZkError::Corrupt(c) => StoreError::Definite(c.to_string()),
            other => StoreError::Transient(other.to_string()),
        }
    }
}

impl ZkHistory {
    pub fn new(zk: Zk) -> Self {
        Self { zk }
    }

    /// Every entry in the order stored.
    pub async fn entries(&self) -> Result<Vec<Entry>, StoreError> {
        let dir = self.zk.paths.schema_history();
        let mut names = match self.zk.client.list_children(&dir).await {
            Ok(n) => n,
            Err(zkc::Error::NoNode) => return Ok(Vec::new()),
            Err(e) => return Err(classify(e, "listing the schema history").into()),
        };
        names.retain(|n| n.starts_with("e-"));
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            let path = format!("{dir}/{n}");
            let (data, _) = self.zk.client.get_data(&path).await.map_err(|e| classify(e, "reading the schema history"))?;
            let entry = Entry::from_bytes(&data).map_err(|e| {
                StoreError::Definite(format!("the znode {path} is {e}: delete {dir} (its children first) to capture the schema anew (maxwell-cli schema recapture)"))
            })?;
            out.push(entry);
        }
        Ok(out)
    }

    pub async fn add(&self, entry: Entry) -> Result<(), StoreError> {
        let dir = self.zk.paths.schema_history();
        let data = entry.to_bytes();
        if data.len() > MAX_ZNODE {
            return Err(StoreError::Definite(format!(
                "a schema history entry of {} bytes (deflated) does not fit in a znode (ZooKeeper's jute.maxbuffer, 1 MB by default): raise jute.maxbuffer on the servers and this node (JVM option), or exclude databases with filter",
                data.len()
            )));
        }
        let opts = self.zk.persistent_sequential();
        match self.zk.client.create(&format!("{dir}/e-"), &data, &opts).await {
            Ok(_) => Ok(()),
            Err(zkc::Error::NoNode) => {
                self.zk.client.mkdir(&dir, &self.zk.persistent()).await.or_else(ignore_exists).map_err(|e| classify(e, "creating the schema history znode"))?;
                self.zk.client.create(&format!("{dir}/e-"), &data, &opts).await.map(|_| ()).map_err(|e| classify(e, "storing a schema history entry").into())
            }
            Err(e) => Err(classify(e, "storing a schema history entry").into()),
        }
    }
}

impl HistoryStore for ZkHistory {
    fn load(&self) -> StoreFuture<'_, Result<Vec<Entry>, StoreError>> {
        Box::pin(self.entries())
    }

    fn append(&self, entry: Entry) -> StoreFuture<'_, Result<(), StoreError>> {
        Box::pin(self.add(entry))
    }

    fn describe(&self) -> String {
        format!("ZooKeeper {}", self.zk.paths.schema_history())
    }
}
