//! A stream held at a row Kafka refused (`ignore_producer_error=false`): the `stuck` znode of
//! its scope, which every node respects, so that the row stops the cluster once instead of
//! stopping each standby in turn.
//!
//! Invariants:
//! - Only a leader writes the marker, fenced by its epoch (`multi[check(epoch, fence), …]`):
//!   a deposed leader cannot hold the cluster.
//! - While the marker has no resolution no node leads the stream: a race does not start, and
//!   a term that finds one before its epoch bump ends at once.
//! - An operator resolves it (`maxwell-cli row skip` / `row dead-letter`, version-checked);
//!   the next leader applies the resolution to the row, and deletes the marker (version-
//!   checked) once its acknowledged position is past the row's transaction.

use super::layout::{decode, encode};
use super::zk::{classify, Zk, ZkError};
use crate::sink::kafka::refusal::{Known, StuckRow};
use zookeeper_client as zkc;

impl Zk {
    /// The marker of this scope and its znode version.
    pub async fn stuck(&self) -> Result<Option<(StuckRow, i32)>, ZkError> {
        let path = self.paths.stuck();
        match self.client.get_data(&path).await {
            Ok((d, s)) => Ok(Some((decode(&path, &d)?, s.version))),
            Err(zkc::Error::NoNode) => Ok(None),
            Err(e) => Err(classify(e, "reading the stuck marker")),
        }
    }

    /// A marker without a resolution, which holds every node off the stream.
    pub async fn held(&self) -> Result<Option<StuckRow>, ZkError> {
        Ok(self.stuck().await?.map(|(s, _)| s).filter(|s| s.resolution.is_none()))
    }

    /// What the marker tells the next term: the operator's verdict for its row.
    pub async fn resolved(&self) -> Result<Option<(Known, i32)>, ZkError> {
        Ok(self.stuck().await?.and_then(|(s, v)| {
            let verdict = s.resolution?;
            Some((Known { row: s.refused.row, verdict: Some(verdict), reason: s.refused.reason }, v))
        }))
    }

    /// Writes the marker if the epoch still has version `fence` (the leader that stopped).
    pub async fn hold(&self, fence: i32, s: &StuckRow) -> Result<(), ZkError> {
        let (path, data) = (self.paths.stuck(), encode(s));
        for _ in 0..3 {
            let exists = self.client.check_stat(&path).await.map_err(|e| classify(e, "writing the stuck marker"))?.is_some();
            let mut w = self.client.new_multi_writer();
            w.add_check_version(&self.paths.epoch(), fence).map_err(|e| classify(e, "writing the stuck marker"))?;
            let added = if exists { w.add_set_data(&path, &data, None) } else { w.add_create(&path, &data, &self.persistent()) };
            added.map_err(|e| classify(e, "writing the stuck marker"))?;
            match w.commit().await {
                Ok(_) => return Ok(()),
                // Created or deleted by someone else meanwhile: look again.
                Err(zkc::MultiWriteError::OperationFailed { index: 1, source: zkc::Error::NodeExists | zkc::Error::NoNode }) => continue,
                Err(e) => return Err(classify(e.into(), "writing the stuck marker")),
            }
        }
        Err(ZkError::Transient("writing the stuck marker: it kept changing".into()))
    }

    /// Records an operator's verdict on the marker at `version`.
    pub async fn resolve_stuck(&self, s: &StuckRow, version: i32) -> Result<(), ZkError> {
        match self.client.set_data(&self.paths.stuck(), &encode(s), Some(version)).await {
            Ok(_) => Ok(()),
            Err(zkc::Error::BadVersion | zkc::Error::NoNode) => Err(ZkError::Definite("the stuck marker changed meanwhile: look again (maxwell-cli row show)".into())),
            Err(e) => Err(classify(e, "resolving the stuck marker")),
        }
    }

    /// Deletes the marker if it still has `version` (its row is behind the stream now).
    pub async fn clear_stuck(&self, version: i32) -> Result<(), ZkError> {
        match self.client.delete(&self.paths.stuck(), Some(version)).await {
            Ok(()) | Err(zkc::Error::NoNode | zkc::Error::BadVersion) => Ok(()),
            Err(e) => Err(classify(e, "deleting the stuck marker")),
        }
    }

    /// Resolves when the marker changes (written, resolved, deleted) or the watch ends.
    pub async fn stuck_changed(&self) {
        if let Ok((_, w)) = self.client.check_and_watch_stat(&self.paths.stuck()).await {
            w.changed().await;
        }
    }
}

/// The operator's command that resolves a marker, as the error and the logs print it.
pub fn command(zk: &Zk, s: &StuckRow) -> String {
    let shard = zk.paths.shard.as_deref().map(|n| format!(" --shard {n}")).unwrap_or_default();
    format!("maxwell-cli --root={}{shard} row skip {}", zk.paths.root, s.refused.row)
}
