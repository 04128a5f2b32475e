//! Reconnect: the source MariaDB restarts mid-stream; `maxwell` reconnects by itself from the
//! last transaction it emitted, and every row arrives exactly once.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::time::Duration;

async fn insert_batch(from: u64, n: u64) {
    let mut w = conn().await;
    for id in from..from + n {
        exec(&mut w, &format!("INSERT INTO reconnect_it.t VALUES ({id}, 'x')")).await;
    }
    let _ = w.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_server_restart_without_loss_or_duplicates() {
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
