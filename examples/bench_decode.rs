//! Decode+JSON throughput of the binlog reader over a fixed binlog range, for `scripts/bench.sh`.
//!
//! Reads from `--from FILE:POS` to the end of the binlog (non-blocking dump), decoding every
//! row into Maxwell JSON, and prints one line of JSON with rows, bytes, seconds, rows/s and
//! peak RSS. A benchmark, not a test: figures vary with the machine.
//!
//! With `--javascript=FILE` the transactions pass through the script's own thread on their
//! way, as in a node (`encode::javascript::stage`): rows/s then include the script.
//!
//! usage: bench_decode --port=3307 --user=root --from=mysql-bin.000001:4 [--filter=...] [--javascript=FILE]

use maxwell_ha::source::decoder::DecoderConfig;
use maxwell_ha::source::reader::{Reader, StartPosition};
use maxwell_ha::config::Settings;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0)))
        .unwrap_or(0)
}

fn main() {
    let mut from = None;
    let mut rest = Vec::new();
    for a in std::env::args().skip(1) {
        match a.strip_prefix("--from=") {
            Some(f) => from = Some(f.to_string()),
            None => rest.push(a),
        }
    }
    let from = from.expect("--from=FILE:POS is required");
    rest.push(format!("--init_position={from}"));
    let cfg = maxwell_ha::config::Config::from_settings(&Settings::load(&rest).expect("args")).expect("config");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        // A script sees rows written plain; it names and encrypts them after it runs.
        let output = if cfg.javascript.is_some() { maxwell_ha::encode::javascript::seal::Sealer::plain(&cfg.output) } else { cfg.output.clone() };
        let dcfg = DecoderConfig { output, filter: cfg.filter.clone(), ..Default::default() };
        let StartPosition::File(_) = cfg.init_position else { panic!("--from must be FILE:POS") };
        let mut reader = Reader::open(cfg.source.clone(), dcfg, &cfg.init_position, None).await.expect("open");
        reader.non_blocking = true;
        let (tx, read) = tokio::sync::mpsc::channel(1024);
        let cancel = CancellationToken::new();
        let t0 = Instant::now();
        let (mut rx, stage) = match &cfg.javascript {
            None => (read, None),
            Some(js) => {
                let (to, rx) = tokio::sync::mpsc::channel(16);
                let s = maxwell_ha::encode::javascript::stage::Stage::start(js, cfg.output.clone(), false, read, to).await.expect("script");
                (rx, Some(s))
            }
        };
        let consumer = tokio::spawn(async move {
            let (mut rows, mut bytes) = (0u64, 0u64);
            while let Some(t) = rx.recv().await {
                let t: maxwell_ha::encode::Transaction = t;
                rows += t.row_ends.len() as u64;
                bytes += t.json.len() as u64;
            }
            (rows, bytes)
        });
        reader.run(false, &cancel, &tx).await.expect("read");
        drop(tx);
        let (rows, bytes) = consumer.await.unwrap();
        let secs = t0.elapsed().as_secs_f64();
        if let Some(s) = stage {
            s.finish().await.expect("the script ran");
        }
        println!(
            "{{\"tool\":\"maxwell-ha\",\"rows\":{rows},\"json_bytes\":{bytes},\"seconds\":{secs:.3},\"rows_per_sec\":{:.0},\"peak_rss_kib\":{}}}",
            rows as f64 / secs,
            peak_rss_kib()
        );
    });
}
