//! `maxwell-cli schema show` and `maxwell-cli schema recapture`: the stored schema history
//! (a cluster's in ZooKeeper, a node's alone in `schema_database`) read and added to by an
//! operator.
//!
//! Invariants:
//! - `show` only reads. It rebuilds the schema exactly as a node starting at that point
//!   would (the same [`schema_at`]), so what it prints is what rows there are decoded with.
//! - `recapture` adds one base, captured from the source now and marked with the position it
//!   holds at; nothing stored is removed. A node uses it from its next start at or after that
//!   position (a running leader keeps the schema it has until then).

use crate::binlog::history::stored::{schema_at, Entry, Mark};
use crate::binlog::history::Schema;
use crate::binlog::position::{BinlogPosition, StartPosition};
use crate::binlog::GtidSet;
use crate::config::SourceConfig;
use crate::source::history::HistoryStore;
use crate::source::reader::{check_server, resolve_start};
use serde_json::{json, Value};

/// What `schema show` prints: everything, one database, or one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    All,
    Database(String),
    Table(String, String),
}

impl Target {
    /// `DB` or `DB.TABLE` (none: the whole schema).
    pub fn parse(arg: Option<&str>) -> Self {
        match arg {
            None => Target::All,
            Some(a) => match a.split_once('.') {
                Some((d, t)) => Target::Table(d.to_string(), t.to_string()),
                None => Target::Database(a.to_string()),
            },
        }
    }
}

/// The point `at` names (`FILE:POS` of the server the newest entry was read from, or a GTID
/// set); `None`: after the newest stored entry.
fn point(entries: &[Entry], at: Option<&str>) -> Result<Mark, String> {
    let newest = entries.last().ok_or("no schema history is stored yet: a node stores one at its first start")?.at().clone();
    let Some(at) = at else { return Ok(newest) };
    if let Ok(position) = at.parse::<BinlogPosition>() {
        return Ok(Mark { position, gtid: None, server_id: newest.server_id });
    }
    let gtid = at.parse::<GtidSet>().map_err(|e| format!("--at {at}: neither FILE:POS nor a GTID set ({e})"))?;
    // Another server's marks compare by GTID set only.
    Ok(Mark { position: BinlogPosition::new("", 0), gtid: Some(gtid), server_id: 0 })
}

/// The schema as of `at` (default: after the newest entry), narrowed to `target`, as JSON
/// (tables in Maxwell's `def` shape).
pub async fn show(store: &dyn HistoryStore, at: Option<&str>, target: &Target) -> Result<Value, String> {
    let entries = store.load().await.map_err(|e| e.to_string())?;
    let mark = point(&entries, at)?;
    let schema = schema_at(&entries, &mark).map_err(|e| e.to_string())?.ok_or_else(|| format!("the stored history does not reach back to {mark}: its oldest base is later"))?;
    let bases = entries.iter().filter(|e| e.is_base()).count();
    let about = json!({"store": store.describe(), "at": mark.to_string(), "entries": entries.len(), "bases": bases});
    let body = match target {
        Target::All => {
            let dbs: serde_json::Map<String, Value> =
                schema.databases.values().map(|d| (d.name.clone(), json!({"charset": d.charset, "tables": d.tables.keys().collect::<Vec<_>>()}))).collect();
            json!({"charset": schema.charset, "databases": dbs})
        }
        Target::Database(d) => {
            let db = schema.databases.get(d).ok_or_else(|| format!("no database `{d}` in the schema at {mark}"))?;
            json!({"database": db.name, "charset": db.charset, "tables": db.tables.values().collect::<Vec<_>>()})
        }
        Target::Table(d, t) => serde_json::to_value(table(&schema, d, t, &mark)?).expect("a table serializes"),
    };
    Ok(json!({"history": about, "schema": body}))
}

fn table<'a>(schema: &'a Schema, d: &str, t: &str, mark: &Mark) -> Result<&'a crate::binlog::history::TableDef, String> {
    schema.table(d, t).ok_or_else(|| format!("no table `{d}`.`{t}` in the schema at {mark}"))
}

/// Captures the source's schema now and stores it as a base; returns where it holds.
pub async fn recapture(store: &dyn HistoryStore, source: &SourceConfig) -> Result<(Mark, (usize, usize)), String> {
    let mut conn = source.connect().await.map_err(|e| e.to_string())?;
    let info = check_server(&mut conn).await.map_err(|e| e.to_string())?;
    let (schema, at) = crate::source::capture::capture(&mut conn, info.flavor).await.map_err(|e| e.to_string())?;
    let point = resolve_start(&mut conn, &info, &StartPosition::File(at)).await.map_err(|e| e.to_string())?;
    let _ = conn.disconnect().await;
    let mark = crate::source::history::mark(&point, info.server_id);
    let size = schema.size();
    store.append(Entry::Base { at: mark.clone(), schema }).await.map_err(|e| e.to_string())?;
    Ok((mark, size))
}

/// What `maxwell-cli schema` was asked to do.
pub enum Action {
    Show { target: Target, at: Option<String> },
    Recapture,
}

/// Runs `action` on the cluster's store when `ensemble` (servers, root, auth) is given, else on
/// the store of a node running alone; returns the exit status (0 done, 1 refused, 2 cannot).
pub async fn command(settings: &crate::config::Settings, ensemble: Option<(String, String, Option<String>)>, action: Action, json: bool) -> u8 {
    let cfg = crate::config::Config::from_settings(settings);
    let store: Box<dyn HistoryStore> = match (ensemble, &cfg) {
        (Some((servers, root, auth)), _) => match super::open(&servers, &root, auth.as_deref()).await {
            Ok(zk) => Box::new(crate::cluster::schema_store::ZkHistory::new(zk)),
            Err(e) => {
                eprintln!("maxwell-cli: {e}");
                return 2;
            }
        },
        (None, Ok(c)) => Box::new(crate::positions::history::MysqlHistory::new(c.positions_db.clone(), &c.schema_database, &c.client_id)),
        (None, Err(e)) => {
            eprintln!("maxwell-cli: configuration error: {e}");
            return 2;
        }
    };
    match action {
        Action::Show { target, at } => match show(store.as_ref(), at.as_deref(), &target).await {
            Ok(v) => {
                println!("{}", if json { v.to_string() } else { serde_json::to_string_pretty(&v).unwrap_or_default() });
                0
            }
            Err(e) => {
                eprintln!("maxwell-cli: {e}");
                1
            }
        },
        Action::Recapture => {
            let source = match cfg {
                Ok(c) => c.source,
                Err(e) => {
                    eprintln!("maxwell-cli: configuration error: {e}");
                    return 2;
                }
            };
            match recapture(store.as_ref(), &source).await {
                Ok((at, (tables, columns))) => {
                    println!("schema captured at {at}: {tables} tables, {columns} columns, stored in {}; nodes use it from their next start at or after that position", store.describe());
                    0
                }
                Err(e) => {
                    eprintln!("maxwell-cli: {e}");
                    2
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(Target::parse(None), Target::All);
        assert_eq!(Target::parse(Some("shop")), Target::Database("shop".into()));
        assert_eq!(Target::parse(Some("shop.orders")), Target::Table("shop".into(), "orders".into()));
    }

    #[test]
    fn points_parse_as_positions_or_gtid_sets() {
        let schema = Schema::default();
        let at = Mark { position: BinlogPosition::new("bin.000002", 900), gtid: None, server_id: 7 };
        let entries = vec![Entry::Base { at: at.clone(), schema }];
        assert_eq!(point(&entries, None).unwrap(), at);
        let p = point(&entries, Some("bin.000002:100")).unwrap();
        assert_eq!((p.position.pos, p.server_id), (100, 7));
        assert!(point(&entries, Some("0-1-5")).unwrap().gtid.is_some());
        assert!(point(&entries, Some("nonsense")).unwrap_err().contains("neither"));
        assert!(point(&[], None).unwrap_err().contains("no schema history"));
    }
}
