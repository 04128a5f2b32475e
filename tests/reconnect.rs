//! Reconnect: the source MariaDB restarts mid-stream; `maxwell` reconnects by itself from the
//! last transaction it emitted, and every row arrives exactly once.
//!
//! And what the stall watchdog sees of the reader: while it hands a large spilled transaction
//! on to a slow sink it is busy, not waiting on a silent source (a leader once stepped down
//! after 2.1 s of "silence" that was its own sink holding it up).

mod common;

use common::*;
use std::collections::BTreeMap;
use std::time::Duration;

/// The tests take turns: one of them restarts the MariaDB the other reads from.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn insert_batch(from: u64, n: u64) {
    let mut w = conn().await;
    for id in from..from + n {
        exec(&mut w, &format!("INSERT INTO reconnect_it.t VALUES ({id}, 'x')")).await;
    }
    let _ = w.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_server_restart_without_loss_or_duplicates() {
    let _turn = TURN.lock().await;
    let mut c = conn().await;
    exec(&mut c, "DROP DATABASE IF EXISTS reconnect_it").await;
    exec(&mut c, "CREATE DATABASE reconnect_it").await;
    exec(&mut c, "CREATE TABLE reconnect_it.t (id BIGINT PRIMARY KEY, v VARCHAR(8))").await;
    let start = master_position(&mut c).await;
    let _ = c.disconnect().await;
    let mut mx = spawn_maxwell(&[format!("--init_position={start}"), "--filter=exclude: *.*, include: reconnect_it.*".into()]);

    insert_batch(1, 100).await;
    let mut rows = mx.read_until(Duration::from_secs(30), |r| r["data"]["id"] == 100);

    script("mariadb.sh", &["stop"]);
    std::thread::sleep(Duration::from_millis(500));
    script("mariadb.sh", &["start"]);

    insert_batch(101, 100).await;
    rows.extend(mx.read_until(Duration::from_secs(60), |r| r["data"]["id"] == 200));
    let (st, rest, err) = mx.terminate();
    assert!(st.success(), "exit {st}: {err}");
    rows.extend(rest);
    assert!(err.contains("reconnecting"), "the restart was noticed and survived:\n{err}");

    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    for r in &rows {
        *seen.entry(r["data"]["id"].as_u64().unwrap()).or_default() += 1;
    }
    assert_eq!(seen.len(), 200, "every row arrived");
    assert!(seen.values().all(|n| *n == 1), "no row twice: {:?}", seen.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_handing_a_large_transaction_on_is_busy_not_waiting_on_the_source() {
    let _turn = TURN.lock().await;
    use maxwell_ha::source::decoder::DecoderConfig;
    use maxwell_ha::source::reader::Reader;
    use maxwell_ha::config::{Config, Settings};
    use maxwell_ha::progress::Progress;
    use std::sync::Arc;
    const ROWS: u64 = 300_000;
    let mut c = conn().await;
    exec(&mut c, "DROP DATABASE IF EXISTS reader_busy").await;
    exec(&mut c, "CREATE DATABASE reader_busy").await;
    exec(&mut c, "CREATE TABLE reader_busy.t (id BIGINT PRIMARY KEY, pad VARCHAR(100))").await;
    let start = master_position(&mut c).await;
    // No heartbeat during the test: any silence counted would be the reader's own waiting.
    let args: Vec<String> = [
        "--host=127.0.0.1".to_string(),
        format!("--port={}", mysql_port()),
        "--user=root".into(),
        "--tx_memory_mb=1".into(),
        "--binlog_heartbeat_ms=600000".into(),
        "--filter=exclude: *.*, include: reader_busy.*".into(),
        format!("--init_position={start}"),
    ]
    .into();
    let cfg = Config::from_settings(&Settings::load(&args).expect("settings")).expect("config");
    let dcfg = DecoderConfig { output: cfg.output.clone(), filter: cfg.filter.clone(), memory_limit: cfg.tx_memory, ..Default::default() };
    let mut reader = Reader::open(cfg.source.clone(), dcfg, &cfg.init_position, None).await.expect("reader");
    let progress = Arc::new(Progress::default());
    reader.progress = Some(progress.clone());
    // Room for one transaction part: the reader blocks handing the next one on.
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let cancel = tokio_util::sync::CancellationToken::new();
    let stop = cancel.clone();
    let read = tokio::spawn(async move { reader.run(false, &stop, &tx).await });

    // ~60 MB of JSON in one binlog transaction: spilled, handed on in 4 MiB parts.
    exec(&mut c, &format!("INSERT INTO reader_busy.t SELECT seq, REPEAT('x', 90) FROM reader_busy.seq_1_to_{ROWS}")).await;
    let first = tokio::time::timeout(Duration::from_secs(120), rx.recv()).await.expect("the first part within 120 s").expect("a part");
    assert!(!first.ends_transaction(), "the transaction came in parts");
    let mut rows = first.row_ends.len() as u64;
    // The sink holds the reader up for 1.5 s with parts still to hand on: no silence counts.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(progress.source_silence(), Duration::ZERO, "a reader held up by its sink is busy, not waiting on the source");
    let mut parts = 1;
    loop {
        let part = tokio::time::timeout(Duration::from_secs(60), rx.recv()).await.expect("the next part within 60 s").expect("a part");
        rows += part.row_ends.len() as u64;
        parts += 1;
        if part.ends_transaction() {
            break;
        }
        if parts == 3 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert_eq!(progress.source_silence(), Duration::ZERO, "still busy at part {parts}");
        }
    }
    assert_eq!(rows, ROWS, "every row of the transaction handed on, in {parts} parts");
    // Everything handed on: the reader waits on the (quiet) source again, and that counts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(progress.source_silence() > Duration::ZERO, "waiting on a quiet source counts as silence");
    cancel.cancel();
    drop(rx);
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    exec(&mut c, "DROP DATABASE reader_busy").await;
}
