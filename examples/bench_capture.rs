//! Schema capture cost, for `scripts/bench.sh schema`: captures the source's schema from
//! `information_schema` (as a node does at start) and prints one line of JSON with the tables
//! and columns held, the capture time, the resident memory the capture added, the size of the
//! schema as JSON, and what storing it costs: its stored (deflated) size and the time a node
//! taking over spends rebuilding it from the stored form instead of capturing. A benchmark, not
//! a test: figures vary with the machine.
//!
//! usage: bench_capture --port=3307 --user=root

use maxwell_ha::config::Settings;
use maxwell_ha::source::capture::capture;
use maxwell_ha::source::reader::Flavor;
use std::time::Instant;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0)))
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = maxwell_ha::config::Config::from_settings(&Settings::load(&args).expect("args")).expect("config");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let mut conn = cfg.source.connect().await.expect("connect");
        // One capture first, kept, so that the figures below count neither the driver's
        // warm-up nor memory the allocator reuses from a capture already dropped.
        let (warm, _) = capture(&mut conn, Flavor::MariaDb).await.expect("capture");
        let before = rss_kib();
        let t0 = Instant::now();
        let (schema, at) = capture(&mut conn, Flavor::MariaDb).await.expect("capture");
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        let after = rss_kib();
        let (tables, columns) = schema.size();
        let json_bytes = serde_json::to_vec(&schema).expect("serialises").len();
        let mark = maxwell_ha::binlog::history::Mark { position: at.clone(), gtid: None, server_id: 1 };
        let entry = maxwell_ha::binlog::history::Entry::Base { at: mark.clone(), schema };
        let t1 = Instant::now();
        let stored = entry.to_bytes();
        let store_ms = t1.elapsed().as_secs_f64() * 1000.0;
        let t2 = Instant::now();
        let back = maxwell_ha::binlog::history::Entry::from_bytes(&stored).expect("reads back");
        let rebuilt = maxwell_ha::binlog::history::schema_at(std::slice::from_ref(&back), &mark).expect("rebuilds").expect("a schema");
        let rebuild_ms = t2.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(rebuilt.size(), (tables, columns));
        println!(
            "{{\"tables\":{tables},\"columns\":{columns},\"capture_ms\":{ms:.0},\"rss_added_kib\":{},\"schema_json_bytes\":{json_bytes},\"stored_bytes\":{},\"store_encode_ms\":{store_ms:.1},\"rebuild_from_store_ms\":{rebuild_ms:.1},\"at\":\"{at}\"}}",
            after.saturating_sub(before),
            stored.len()
        );
        drop((entry, warm));
    });
}
