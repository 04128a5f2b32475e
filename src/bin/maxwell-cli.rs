//! `maxwell-cli`: operator commands.
//!
//! - `check`: connect to the source with the node's configuration, show what maxwell-ha
//!   depends on (version, binlog settings, current position and GTID, oldest binlog) and say
//!   whether a node can stream from it. Exit 0 ready, 1 not ready, 2 unreachable or bad config.
//! - `bootstrap --database D --table T [--where W] [--comment C]` / `bootstrap --cancel ID`:
//!   request (or cancel) a bootstrap in schema_database's `bootstrap` table. Exit 0 done,
//!   1 nothing to cancel, 2 unreachable or bad config.
//! - `cluster history`: the last terms of leadership (`--json` for all fields).
//! - `cluster status`, `node list`, `position show`, `position set`, `failover [--to NODE]`:
//!   the cluster in ZooKeeper (`--shard NAME`: one shard's position, failover and history).
//! - `schema show [DB[.TABLE]] [--at FILE:POS|GTID]` and `schema recapture`: the stored schema
//!   history (the cluster's, or with no ZooKeeper ensemble named, a node's alone in
//!   schema_database). Exit 0 done, 1 nothing at that position, 2 unreachable or bad config.
//! - `row show|skip|dead-letter`: the row a stream holds at because Kafka refused it and
//!   ignore_producer_error is false, and the operator's verdict (a cluster's `stuck` znode, or
//!   a node's alone in schema_database). Exit 0 done, 1 no such row held, 2 bad arguments.
//! - `shard add|remove|list|move` and `config get|set|unset`: the cluster's shards and its
//!   cluster-wide settings; nodes pick changes up without a restart. Exit 0 healthy/done, 1 degraded, no leader or refused,
//!   2 ZooKeeper unreachable or bad arguments.

use clap::{Parser, Subcommand};
use maxwell_ha::cli;
use maxwell_ha::cluster::layout::{now_ms, PositionRecord};
use maxwell_ha::cluster::zk::ZkError;
use maxwell_ha::config::Config;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "maxwell-cli", about = "See and steer a maxwell-ha deployment")]
struct Cli {
    /// Node configuration file (Maxwell config.properties).
    #[arg(long, global = true)]
    config: Option<String>,
    /// Override a configuration key: --set host=db1 (repeatable).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    /// ZooKeeper ensemble (overrides zookeeper_servers).
    #[arg(long, global = true)]
    zookeeper: Option<String>,
    /// Cluster root znode (overrides zookeeper_root).
    #[arg(long, global = true, conflicts_with = "client_id")]
    root: Option<String>,
    /// Cluster name: root /maxwell/<ID> (/maxwell/cluster for "maxwell").
    #[arg(long = "client-id", global = true)]
    client_id: Option<String>,
    /// `cluster status`: also read the source (host, port, user, password from the config or
    /// --set) and report the replication lag in binlog bytes.
    #[arg(long, global = true)]
    mysql: bool,
    /// `position`, `failover`, `cluster history`: act on this shard.
    #[arg(long, global = true)]
    shard: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check that the source server can be streamed from.
    Check,
    /// The cluster as a whole.
    Cluster {
        #[command(subcommand)]
        cmd: ClusterCmd,
    },
    /// Cluster members.
    Node {
        #[command(subcommand)]
        cmd: NodeCmd,
    },
    /// The committed binlog position.
    Position {
        #[command(subcommand)]
        cmd: PositionCmd,
    },
    /// Request a bootstrap of a table (a row in schema_database's `bootstrap` table, as
    /// Maxwell's maxwell-bootstrap writes), or cancel one.
    Bootstrap {
        #[arg(long, required_unless_present = "cancel")]
        database: Option<String>,
        #[arg(long, required_unless_present = "cancel")]
        table: Option<String>,
        /// Only rows matching this SQL condition.
        #[arg(long = "where")]
        where_clause: Option<String>,
        /// Added to every record of the bootstrap.
        #[arg(long)]
        comment: Option<String>,
        /// Cancel bootstrap ID instead (the leader stops at its next chunk).
        #[arg(long, value_name = "ID")]
        cancel: Option<u64>,
    },
    /// Ask the leader to hand over gracefully and wait for the new leader.
    Failover {
        /// The node expected to lead now: refused when another one does (nothing changes).
        #[arg(long)]
        from: Option<String>,
        /// The standby that should lead next (default: the first to win).
        #[arg(long)]
        to: Option<String>,
        /// Seconds to wait.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// The cluster's shards: each a set of tables with its own leader.
    Shard {
        #[command(subcommand)]
        cmd: ShardCmd,
    },
    /// Settings every node of the cluster uses (over its own file), applied without restart.
    Config {
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
    /// The stored schema history (the cluster's in ZooKeeper; a node's alone in
    /// schema_database when no zookeeper_servers is set).
    Schema {
        #[command(subcommand)]
        cmd: SchemaCmd,
    },
    /// The row a stream holds at because Kafka refused it (ignore_producer_error=false).
    Row {
        #[command(subcommand)]
        cmd: RowCmd,
    },
}

#[derive(Subcommand)]
enum RowCmd {
    /// The row held, why Kafka refused it, and the verdict once given.
    Show,
    /// Skip the row held (FILE:POS#ROW, as the error named it): a deliberate loss of that row.
    Skip { row: String },
    /// Write Maxwell's dead-letter record for the row held (FILE:POS#ROW) in its place.
    DeadLetter {
        row: String,
        /// Topic of the record (default: dead_letter_topic).
        #[arg(long)]
        topic: Option<String>,
    },
}

#[derive(Subcommand)]
enum SchemaCmd {
    /// Print the schema as rows at a position are decoded with: every database, DB, or DB.TABLE
    /// (in Maxwell's `def` shape).
    Show {
        target: Option<String>,
        /// FILE:POS or a GTID set (default: after the newest stored change).
        #[arg(long)]
        at: Option<String>,
    },
    /// Capture the source's schema now and store it (used from the next start at or after
    /// the position it is captured at).
    Recapture,
}

#[derive(Subcommand)]
enum ShardCmd {
    /// Add a shard: NAME and its tables (`include: DB.TABLE, …`, names or `*`).
    Add {
        name: String,
        #[arg(long)]
        filter: String,
        /// Topic template for its rows (default: kafka_topic).
        #[arg(long)]
        topic: Option<String>,
        /// The node that should lead it.
        #[arg(long)]
        preferred: Option<String>,
    },
    /// Stop a shard's leader at a transaction boundary and delete the shard.
    Remove {
        name: String,
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// The shards, their tables, leaders and positions.
    List,
    /// Hand a shard to NODE (and prefer NODE for it from now on).
    Move {
        name: String,
        node: String,
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Print the cluster-wide settings (or one).
    Get { key: Option<String> },
    /// Set a cluster-wide setting (e.g. `filter`, `output_ddl`, `kafka_topic`).
    Set { key: String, value: String },
    /// Remove a cluster-wide setting: each node's own value applies again.
    Unset { key: String },
}

#[derive(Subcommand)]
enum ClusterCmd {
    /// Health, leader, members, committed position, verdict.
    Status,
    /// The last terms of leadership: epoch, node, start, end, why it ended, takeover, rows.
    History,
}

#[derive(Subcommand)]
enum NodeCmd {
    /// The members as a table.
    List,
    /// Keep NODE a standby: it hands over if it leads and never races until undrained.
    Drain {
        node: String,
        /// Seconds to wait for the hand-over.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Let NODE race for leadership again.
    Undrain { node: String },
}

#[derive(Subcommand)]
enum PositionCmd {
    /// Print the committed position.
    Show,
    /// Replace the committed position (FILE:POS or a GTID set).
    Set {
        value: String,
        /// Write even while a leader runs.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut args: Vec<String> = cli.config.iter().map(|c| format!("--config={c}")).collect();
    args.extend(cli.set.iter().map(|s| format!("--{s}")));
    if let Some(id) = &cli.client_id {
        args.push(format!("--client_id={id}"));
    }
    if let Cmd::Schema { cmd } = &cli.cmd {
        return schema_command(&cli, &args, cmd);
    }
    if let Cmd::Row { cmd } = &cli.cmd {
        return row_command(&cli, &args, cmd);
    }
    if !matches!(cli.cmd, Cmd::Check | Cmd::Bootstrap { .. }) {
        return cluster_command(&cli, &args);
    }
    let cfg = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("maxwell-cli: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match &cli.cmd {
        Cmd::Bootstrap { database, table, where_clause, comment, cancel } => {
            let task = maxwell_ha::bootstrap::Task {
                id: 0,
                database: database.clone().unwrap_or_default(),
                table: table.clone().unwrap_or_default(),
                where_clause: where_clause.clone(),
                comment: comment.clone(),
            };
            ExitCode::from(rt.block_on(cli::bootstrap(&cfg, task, *cancel)))
        }
        _ => ExitCode::from(rt.block_on(cli::check::check(&cfg, cli.json))),
    }
}

fn zk_fail(e: ZkError) -> ExitCode {
    eprintln!("maxwell-cli: {e}");
    match e {
        ZkError::Transient(_) | ZkError::SessionLost(_) => ExitCode::from(2),
        _ => ExitCode::from(1),
    }
}

/// The ZooKeeper ensemble, cluster root and auth named by the flags, else the settings
/// (`None`: no ensemble).
fn ensemble(cli: &Cli, settings: &maxwell_ha::config::Settings) -> Option<(String, String, Option<String>)> {
    let servers = cli.zookeeper.clone().or_else(|| settings.get("zookeeper_servers").map(str::to_string))?;
    let client_id = cli.client_id.clone().or_else(|| settings.get("client_id").map(str::to_string)).unwrap_or_else(|| "maxwell".into());
    let root = cli.root.clone().or_else(|| settings.get("zookeeper_root").map(str::to_string)).unwrap_or_else(|| {
        if client_id == "maxwell" {
            "/maxwell/cluster".into()
        } else {
            format!("/maxwell/{client_id}")
        }
    });
    Some((servers, root, settings.get("zookeeper_auth").map(str::to_string)))
}

/// `maxwell-cli schema`: on the cluster's store when an ensemble is named, else on the
/// store of a node running alone (schema_database on `host`).
fn schema_command(cli: &Cli, args: &[String], cmd: &SchemaCmd) -> ExitCode {
    let settings = match maxwell_ha::config::Settings::load(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("maxwell-cli: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let action = match cmd {
        SchemaCmd::Show { target, at } => cli::schema::Action::Show { target: cli::schema::Target::parse(target.as_deref()), at: at.clone() },
        SchemaCmd::Recapture => cli::schema::Action::Recapture,
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    ExitCode::from(rt.block_on(cli::schema::command(&settings, ensemble(cli, &settings), action, cli.json)))
}

/// The action of `maxwell-cli row` (exit 2 for a bad row or a missing topic).
fn row_action(cmd: &RowCmd, settings: &maxwell_ha::config::Settings) -> Result<cli::rows::Action, ExitCode> {
    let row = |r: &str| r.parse().map_err(|e| (eprintln!("maxwell-cli: {e}"), ExitCode::from(2)).1);
    Ok(match cmd {
        RowCmd::Show => cli::rows::Action::Show,
        RowCmd::Skip { row: r } => cli::rows::Action::Skip(row(r)?),
        RowCmd::DeadLetter { row: r, topic } => match topic.clone().or_else(|| settings.get("dead_letter_topic").map(str::to_string)) {
            Some(t) => cli::rows::Action::DeadLetter(row(r)?, t),
            None => return Err((eprintln!("maxwell-cli: name the dead-letter topic: --topic TOPIC (or set dead_letter_topic)"), ExitCode::from(2)).1),
        },
    })
}

/// `maxwell-cli row` of a node alone (no ZooKeeper ensemble): its marker in schema_database.
fn row_command(cli: &Cli, args: &[String], cmd: &RowCmd) -> ExitCode {
    let settings = match maxwell_ha::config::Settings::load(args) {
        Ok(s) if ensemble(cli, &s).is_some() => return cluster_command(cli, args),
        Ok(s) => s,
        Err(e) => return (eprintln!("maxwell-cli: configuration error: {e}"), ExitCode::from(2)).1,
    };
    let (cfg, action) = match (Config::from_settings(&settings), row_action(cmd, &settings)) {
        (Ok(c), Ok(a)) => (c, a),
        (Err(e), _) => return (eprintln!("maxwell-cli: configuration error: {e}"), ExitCode::from(2)).1,
        (_, Err(code)) => return code,
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match rt.block_on(cli::rows::on_node(&cfg, &action)) {
        Ok(Some(m)) if !matches!(cmd, RowCmd::Show) && !cli.json => println!("{}", cli::rows::done(&m, false)),
        Ok(m) => cli::rows::print(m.as_ref(), cli.json),
        Err(e) => return (eprintln!("maxwell-cli: {e}"), ExitCode::from(1)).1,
    }
    ExitCode::SUCCESS
}

fn cluster_command(cli: &Cli, args: &[String]) -> ExitCode {
    // Settings: the config file (if any), then the command-line overrides.
    let settings = match maxwell_ha::config::Settings::load(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("maxwell-cli: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let Some((servers, root, auth)) = ensemble(cli, &settings) else {
        eprintln!("maxwell-cli: no ZooKeeper ensemble: pass --zookeeper HOSTS or --config with zookeeper_servers");
        return ExitCode::from(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let creates = matches!(cli.cmd, Cmd::Shard { cmd: ShardCmd::Add { .. } } | Cmd::Config { cmd: ConfigCmd::Set { .. } });
        let opened = if creates { cli::open_or_create(&servers, &root, auth.as_deref()).await } else { cli::open(&servers, &root, auth.as_deref()).await };
        let zk = match opened {
            Ok(z) => z,
            Err(e) => return zk_fail(e),
        };
        let json = cli.json;
        let print = |v: &dyn erased::Json| println!("{}", v.to_json());
        let zk = match (&cli.shard, &cli.cmd) {
            (Some(name), Cmd::Position { .. } | Cmd::Failover { .. } | Cmd::Cluster { cmd: ClusterCmd::History } | Cmd::Row { .. }) => {
                match zk.shard_defs().await {
                    Ok(d) if d.iter().any(|d| &d.name == name) => zk.for_shard(name),
                    Ok(_) => return zk_fail(ZkError::Definite(format!("no shard named {name} (maxwell-cli shard list)"))),
                    Err(e) => return zk_fail(e),
                }
            }
            (Some(_), _) => return zk_fail(ZkError::Definite("--shard applies to position, failover, row and cluster history".into())),
            _ => zk,
        };
        match &cli.cmd {
            Cmd::Shard { cmd } => shard_command(&zk, cmd, json).await,
            Cmd::Config { cmd } => config_command(&zk, cmd, json).await,
            Cmd::Row { cmd } => match cli::rows::on_cluster(&zk, &match row_action(cmd, &settings) { Ok(a) => a, Err(code) => return code }).await {
                Ok(m) => {
                    match (&m, matches!(cmd, RowCmd::Show) || json) {
                        (m, true) => cli::rows::print(m.as_ref(), json),
                        (Some(m), false) => println!("{}", cli::rows::done(m, true)),
                        (None, false) => {}
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => zk_fail(e),
            },
            Cmd::Check | Cmd::Bootstrap { .. } | Cmd::Schema { .. } => unreachable!(),
            Cmd::Cluster { cmd: ClusterCmd::Status } | Cmd::Node { cmd: NodeCmd::List } => {
                let mut s = match cli::status(&zk).await {
                    Ok(s) => s,
                    Err(e) => return zk_fail(e),
                };
                if cli.mysql {
                    match cli::source_lag(&settings, s.position.as_deref()).await {
                        Ok((src, lag)) => {
                            s.source_position = Some(src);
                            s.lag_bytes = lag;
                        }
                        Err(e) => {
                            eprintln!("maxwell-cli: {e}");
                            return ExitCode::from(2);
                        }
                    }
                }
                let list = matches!(cli.cmd, Cmd::Node { .. });
                match (json, list) {
                    (true, false) => print(&s),
                    (true, true) => print(&s.members),
                    (false, false) => cli::print_status(&s),
                    (false, true) => cli::print_members(&s.members),
                }
                if list || s.health == cli::Health::Healthy { ExitCode::SUCCESS } else { ExitCode::from(1) }
            }
            Cmd::Node { cmd: NodeCmd::Drain { node, timeout } } => match cli::drain(&zk, node, std::time::Duration::from_secs(*timeout)).await {
                Ok(next) => {
                    let msg = match &next {
                        Some((l, 0, took)) => format!("{node} drained; {l} in {} ms", took.as_millis()),
                        Some((l, e, took)) => format!("{node} drained; {l} leads (epoch {e}); hand-over took {} ms", took.as_millis()),
                        None => format!("{node} drained: it stays a standby"),
                    };
                    if json {
                        print(&serde_json::json!({"drained": node, "leader": next.as_ref().map(|n| &n.0)}));
                    } else {
                        println!("{msg}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => zk_fail(e),
            },
            Cmd::Node { cmd: NodeCmd::Undrain { node } } => match zk.set_drained(node, false).await {
                Ok(()) => {
                    println!("{node} may lead again");
                    ExitCode::SUCCESS
                }
                Err(e) => zk_fail(e),
            },
            Cmd::Cluster { cmd: ClusterCmd::History } => match zk.history().await {
                Ok(h) => {
                    if json {
                        print(&h.terms);
                    } else {
                        cli::print_history(&h.terms);
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => zk_fail(e),
            },
            Cmd::Position { cmd: PositionCmd::Show } => match zk.load_position().await {
                Ok(Some((r, version))) => {
                    if json {
                        print(&serde_json::json!({"position": r, "version": version}));
                    } else {
                        println!("position  {}", r.position.as_ref().map(|p| p.to_string()).unwrap_or_else(|| "- (GTID only)".into()));
                        println!("gtid      {}", r.gtid.as_ref().map(|g| g.to_string()).unwrap_or_else(|| "-".into()));
                        println!("written   by {} in epoch {}, {:.1}s ago (znode version {version})", r.node_id, r.epoch, now_ms().saturating_sub(r.committed_at) as f64 / 1000.0);
                    }
                    ExitCode::SUCCESS
                }
                Ok(None) => {
                    eprintln!("maxwell-cli: no position committed yet at {root}/position");
                    ExitCode::from(1)
                }
                Err(e) => zk_fail(e),
            },
            Cmd::Position { cmd: PositionCmd::Set { value, force } } => {
                let (position, gtid) = match cli::parse_position(value) {
                    Ok(v) => v,
                    Err(e) => {
                        eprintln!("maxwell-cli: {e}");
                        return ExitCode::from(2);
                    }
                };
                let rec = PositionRecord::by_operator(position, gtid, 0);
                match cli::set_position(&zk, rec.clone(), *force).await {
                    Ok(old) => {
                        if json {
                            print(&serde_json::json!({"old": old, "new": rec}));
                        } else {
                            match old {
                                Some(o) => {
                                    let undo = match (&o.position, &o.gtid) {
                                        (Some(p), Some(g)) => format!("{p}@{g}"),
                                        (Some(p), None) => p.to_string(),
                                        (None, Some(g)) => g.to_string(),
                                        (None, None) => "-".into(),
                                    };
                                    println!("position set to {value} (was {undo}; undo with: maxwell-cli position set {undo})")
                                }
                                None => println!("position set to {value} (none was committed before)"),
                            }
                        }
                        ExitCode::SUCCESS
                    }
                    Err(e) => zk_fail(e),
                }
            }
            Cmd::Failover { from, to, timeout } => match cli::failover(&zk, from.as_deref(), to.as_deref(), std::time::Duration::from_secs(*timeout)).await {
                Ok((leader, epoch, took)) => {
                    if json {
                        print(&serde_json::json!({"leader": leader, "epoch": epoch, "took_ms": took.as_millis() as u64}));
                    } else {
                        println!("{leader} leads (epoch {epoch}); hand-over took {} ms", took.as_millis());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => zk_fail(e),
            },
        }
    })
}

async fn shard_command(zk: &maxwell_ha::cluster::zk::Zk, cmd: &ShardCmd, json: bool) -> ExitCode {
    use cli::shards;
    let secs = std::time::Duration::from_secs;
    let r = match cmd {
        ShardCmd::Add { name, filter, topic, preferred } => shards::add(zk, name, filter, topic.as_deref(), preferred.as_deref()).await.map(|d| {
            if json {
                println!("{}", serde_json::to_string_pretty(&d).unwrap());
            } else {
                println!("shard {} added (server id offset {}): the nodes start streaming it within a second", d.name, d.index);
            }
        }),
        ShardCmd::Remove { name, timeout } => shards::remove(zk, name, secs(*timeout)).await.map(|()| println!("shard {name} removed: its tables are no longer streamed")),
        ShardCmd::List => shards::overview(zk).await.map(|s| if json { println!("{}", serde_json::to_string_pretty(&s).unwrap()) } else { shards::print_shards(&s) }),
        ShardCmd::Move { name, node, timeout } => shards::move_shard(zk, name, node, secs(*timeout)).await.map(|(l, e, took)| {
            println!("shard {name}: {l} leads (epoch {e}); hand-over took {} ms; {node} is its preferred node now", took.as_millis())
        }),
    };
    r.map(|()| ExitCode::SUCCESS).unwrap_or_else(zk_fail)
}

async fn config_command(zk: &maxwell_ha::cluster::zk::Zk, cmd: &ConfigCmd, json: bool) -> ExitCode {
    let r = match cmd {
        ConfigCmd::Get { key } => zk.cluster_settings().await.map(|(s, _)| {
            let shown: Vec<(&String, &String)> = s.iter().filter(|(k, _)| key.as_ref().is_none_or(|want| want == *k)).collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&shown.into_iter().collect::<std::collections::BTreeMap<_, _>>()).unwrap());
            } else if shown.is_empty() {
                println!("(no cluster-wide settings{}: each node uses its own)", key.as_ref().map(|k| format!(" for {k}")).unwrap_or_default());
            } else {
                for (k, v) in shown {
                    println!("{k}={v}");
                }
            }
        }),
        ConfigCmd::Set { key, value } => cli::shards::set_config(zk, key, Some(value)).await.map(|()| println!("{key}={value} set for the cluster: leaders restart their streams with it at the next transaction boundary")),
        ConfigCmd::Unset { key } => cli::shards::set_config(zk, key, None).await.map(|()| println!("{key} unset: each node's own value applies")),
    };
    r.map(|()| ExitCode::SUCCESS).unwrap_or_else(zk_fail)
}

mod erased {
    pub trait Json {
        fn to_json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> String {
            serde_json::to_string_pretty(self).expect("serialisable")
        }
    }
}
