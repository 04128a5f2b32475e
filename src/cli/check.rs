//! `maxwell-cli check`: whether a source can be streamed from, with the settings that decide
//! it, in one report (text or JSON).
//!
//! Invariants: it only reads (the same checks a node makes at start: `check_server` and the
//! current position); the exit status is 0 ready, 1 not ready (a setting to change), 2 the
//! server could not be asked.

use crate::binlog::position::StartPosition;
use crate::config::Config;
use crate::source::reader::{check_server, resolve_start, ReaderError};
use mysql_async::prelude::Queryable;

/// Prints the report; returns the exit status.
pub async fn check(cfg: &Config, json: bool) -> u8 {
    let mut conn = match cfg.source.connect().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("maxwell-cli: {e}");
            return 2;
        }
    };
    let settings: Option<(String, String, String, String, u32)> =
        conn.query_first("SELECT @@version, @@log_bin, @@binlog_format, @@binlog_row_image, @@server_id").await.ok().flatten();
    // Absent before MySQL 8.0.1 / MariaDB 10.5 (the node then names columns from its schema history).
    let meta: Option<String> = conn.query_first("SELECT @@binlog_row_metadata").await.ok().flatten();
    let verdict = match check_server(&mut conn).await {
        Ok(info) => resolve_start(&mut conn, &info, &StartPosition::Current).await.map(|p| (info, p)),
        Err(e) => Err(e),
    };
    let oldest: Option<String> = conn
        .query_map("SHOW BINARY LOGS", |r: mysql_async::Row| r.get::<String, _>(0).unwrap_or_default())
        .await
        .ok()
        .and_then(|v: Vec<String>| v.into_iter().next());
    let (version, log_bin, format, image, server_id) = settings.unwrap_or_default();
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
        Ok(_) => 0,
        Err(ReaderError::Transient(_)) => 2,
        Err(_) => 1,
    }
}
