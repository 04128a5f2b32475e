//! `maxwell-cli row show|skip|dead-letter`: the row a stream holds at because Kafka refused it
//! and `ignore_producer_error` is false, and the operator's verdict on it. A cluster's marker
//! is its scope's `stuck` znode (`--shard` for a shard's); a node alone keeps it in
//! `schema_database`'s `stuck_rows` table (no `zookeeper_servers` configured).
//!
//! Invariants: `skip` and `dead-letter` name the row (`FILE:POS#ROW`, as the error printed
//! it) and change nothing unless it is the row held; the marker is rewritten version-checked;
//! a cluster's standbys race again as soon as it is resolved, and the next leader applies
//! the verdict to that row only (every other row is delivered as before).

use crate::cluster::zk::{Zk, ZkError};
use crate::config::Config;
use crate::sink::kafka::refusal::{RowRef, StuckRow, Verdict};

/// What the operator asks.
#[derive(Debug, Clone)]
pub enum Action {
    Show,
    /// Skip the row held (a deliberate loss of that row).
    Skip(RowRef),
    /// Write Maxwell's dead-letter record to the topic in its place.
    DeadLetter(RowRef, String),
}

impl Action {
    fn verdict(&self) -> Option<(&RowRef, Verdict)> {
        match self {
            Action::Show => None,
            Action::Skip(r) => Some((r, Verdict::Skip)),
            Action::DeadLetter(r, t) => Some((r, Verdict::DeadLetter { topic: t.clone() })),
        }
    }
}

/// The marker with `action`'s verdict, or why not (nothing held, another row held).
fn resolve(marker: Option<StuckRow>, action: &Action) -> Result<Option<StuckRow>, String> {
    let Some((row, verdict)) = action.verdict() else { return Ok(marker) };
    let Some(mut m) = marker else { return Err("no row is held: nothing changed".into()) };
    if m.refused.row.position != row.position || m.refused.row.row != row.row {
        return Err(format!("the stream holds at {}, not {row}: nothing changed", m.refused.row));
    }
    m.resolution = Some(verdict);
    Ok(Some(m))
}

/// A marker for people.
pub fn print(m: Option<&StuckRow>, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(&m).expect("serialisable"));
        return;
    }
    let Some(m) = m else {
        println!("no row is held: every row Kafka refused was skipped or dead-lettered by the settings, or none was refused");
        return;
    };
    println!("row       {}", m.refused.row);
    println!("table     {}.{}  primary key {}  ({})", m.refused.database, m.refused.table.as_deref().unwrap_or("-"), m.refused.primary_key, m.refused.kind);
    println!("refused   {} bytes for topic {}: {} ({})", m.refused.bytes, m.refused.topic, m.refused.reason, m.refused.error);
    println!("stopped   by {} in epoch {}, {:.1}s ago", m.node_id, m.epoch, crate::metrics::now_ms().saturating_sub(m.at) as f64 / 1000.0);
    match &m.resolution {
        None => println!("verdict   none yet: maxwell-cli row skip {r}, or maxwell-cli row dead-letter {r} --topic TOPIC", r = m.refused.row),
        Some(Verdict::DeadLetter { topic }) => println!("verdict   a dead-letter record to {topic} (applied by the next leader)"),
        Some(v) => println!("verdict   {} (applied by the next leader)", v.metric().replace("skipped", "skip")),
    }
}

/// On a cluster's marker (the scope of `zk`).
pub async fn on_cluster(zk: &Zk, action: &Action) -> Result<Option<StuckRow>, ZkError> {
    let (marker, version) = match zk.stuck().await? {
        Some((m, v)) => (Some(m), Some(v)),
        None => (None, None),
    };
    let m = resolve(marker, action).map_err(ZkError::Definite)?;
    if let (Some(m), Some(v), Some(_)) = (&m, version, action.verdict()) {
        zk.resolve_stuck(m, v).await?;
    }
    Ok(m)
}

/// On the marker of a node alone (`schema_database` on `host`).
pub async fn on_node(cfg: &Config, action: &Action) -> Result<Option<StuckRow>, String> {
    let store = crate::positions::stuck::StuckStore::new(cfg.positions_db.clone(), &cfg.schema_database, &cfg.client_id);
    let m = resolve(store.load().await.map_err(|e| e.to_string())?, action)?;
    if let (Some(m), Some(_)) = (&m, action.verdict()) {
        store.save(m).await.map_err(|e| e.to_string())?;
    }
    Ok(m)
}

/// What the command printed after a verdict.
pub fn done(m: &StuckRow, cluster: bool) -> String {
    let what = match &m.resolution {
        Some(Verdict::DeadLetter { topic }) => format!("a dead-letter record goes to {topic} in its place"),
        _ => "it will be skipped (counted in maxwell_refused_rows_total)".into(),
    };
    let when = if cluster { "the cluster leads again now, and the next leader applies it" } else { "the node applies it when it starts" };
    format!("row {}: {what}; {when}", m.refused.row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::kafka::refusal::RefusedRow;

    #[test]
    fn only_the_row_held_is_resolved() {
        let row: RowRef = "b.000001:900#1".parse().unwrap();
        let refused = RefusedRow {
            row: row.clone(),
            database: "d".into(),
            table: Some("t".into()),
            kind: "insert".into(),
            primary_key: "{\"id\":1}".into(),
            topic: "x".into(),
            bytes: 9,
            reason: "RecordTooLargeException".into(),
            error: "e".into(),
        };
        let m = StuckRow { refused, resolution: None, node_id: "n".into(), epoch: 2, at: 0 };
        assert_eq!(resolve(Some(m.clone()), &Action::Show).unwrap(), Some(m.clone()));
        let e = resolve(Some(m.clone()), &Action::Skip("b.000001:900#2".parse().unwrap())).unwrap_err();
        assert!(e.contains("holds at b.000001:900#1, not b.000001:900#2"), "{e}");
        assert!(resolve(None, &Action::Skip(row.clone())).unwrap_err().contains("no row is held"));
        let r = resolve(Some(m.clone()), &Action::DeadLetter(row.clone(), "dlq".into())).unwrap().unwrap();
        assert_eq!(r.resolution, Some(Verdict::DeadLetter { topic: "dlq".into() }));
        assert!(done(&r, true).contains("dead-letter record goes to dlq"));
    }
}
