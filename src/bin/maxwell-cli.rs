//! `maxwell-cli`: operator commands.
//!
//! - `check`: connect to the source with the node's configuration, show what maxwell-ha
//!   depends on (version, binlog settings, current position and GTID, oldest binlog) and say
//!   whether a node can stream from it. Exit 0 ready, 1 not ready, 2 unreachable or bad config.

use clap::{Parser, Subcommand};
use maxwell_ha::binlog::reader::{check_server, resolve_start, ReaderError, StartPosition};
use maxwell_ha::config::Config;
use mysql_async::prelude::Queryable;
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
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check that the source server can be streamed from.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut args: Vec<String> = cli.config.iter().map(|c| format!("--config={c}")).collect();
    args.extend(cli.set.iter().map(|s| format!("--{s}")));
    let cfg = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("maxwell-cli: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match cli.cmd {
        Cmd::Check => rt.block_on(check(&cfg, cli.json)),
    }
}

async fn check(cfg: &Config, json: bool) -> ExitCode {
    let mut conn = match cfg.source.connect().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("maxwell-cli: {e}");
            return ExitCode::from(2);
        }
    };
    let settings: Option<(String, String, String, String, Option<String>, u32)> = conn
        .query_first("SELECT @@version, @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@server_id")
        .await
        .ok()
        .flatten();
    let verdict = match check_server(&mut conn).await {
        Ok(info) => resolve_start(&mut conn, &info, &StartPosition::Current).await.map(|p| (info, p)),
        Err(e) => Err(e),
    };
    let oldest: Option<String> = conn
        .query_map("SHOW BINARY LOGS", |r: mysql_async::Row| r.get::<String, _>(0).unwrap_or_default())
        .await
        .ok()
        .and_then(|v: Vec<String>| v.into_iter().next());
    let (version, log_bin, format, image, meta, server_id) = settings.unwrap_or_default();
    let (ready, problem, position, gtid) = match &verdict {
        Ok((_, p)) => (true, None, Some(p.position.to_string()), p.gtid.as_ref().map(|g| g.to_string())),
        Err(e) => (false, Some(e.to_string()), None, None),
    };
    if json {
        let v = serde_json::json!({
            "source": format!("{}:{}", cfg.source.host, cfg.source.port),
            "version": version, "server_id": server_id, "log_bin": log_bin, "binlog_format": format,
            "binlog_row_image": image, "binlog_row_metadata": meta, "position": position, "gtid": gtid,
            "oldest_binlog": oldest, "ready": ready, "problem": problem,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap());
    } else {
        println!("source               {}:{}", cfg.source.host, cfg.source.port);
        println!("version              {version} (server_id {server_id})");
        println!("log_bin              {log_bin}");
        println!("binlog_format        {format}");
        println!("binlog_row_image     {image}");
        println!("binlog_row_metadata  {}", meta.unwrap_or_else(|| "(not supported)".into()));
        println!("current position     {}", position.as_deref().unwrap_or("-"));
        println!("current GTID         {}", gtid.as_deref().unwrap_or("-"));
        println!("oldest binlog        {}", oldest.as_deref().unwrap_or("-"));
        match &problem {
            None => println!("verdict              READY: a maxwell node can stream from this source"),
            Some(p) => println!("verdict              NOT READY: {p}"),
        }
    }
    let _ = conn.disconnect().await;
    match verdict {
        Ok(_) => ExitCode::SUCCESS,
        Err(ReaderError::Transient(_)) => ExitCode::from(2),
        Err(_) => ExitCode::from(1),
    }
}
