//! Resume: stop `maxwell` mid-stream (SIGTERM), restart it from the last position it printed
//! (file:pos, then GTID), and the union of all runs holds every row exactly once. And without
//! any `init_position`: a node alone restarts from the position it stored in Maxwell's
//! `positions` table (rows written while it was down included, none repeated after a clean
//! stop), where a Maxwell with the same client_id stopped.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const TXS: u64 = 300;
const ROWS_PER_TX: u64 = 5;

fn ids(rows: &[Value]) -> Vec<u64> {
    rows.iter().filter(|r| r["table"] == "t").map(|r| r["data"]["id"].as_u64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_resume_by_position_then_gtid_delivers_each_row_once() {
    let mut c = conn().await;
    exec(&mut c, "DROP DATABASE IF EXISTS resume_it").await;
    exec(&mut c, "CREATE DATABASE resume_it").await;
    exec(&mut c, "CREATE TABLE resume_it.t (id BIGINT PRIMARY KEY, grp INT, v VARCHAR(20))").await;
    exec(&mut c, "CREATE TABLE resume_it.marker (id INT PRIMARY KEY)").await;
    let start = master_position(&mut c).await;
    let common_args = |init: String| {
        vec![
            format!("--init_position={init}"),
            "--output_resume_position=true".to_string(),
            "--output_gtid_position=true".to_string(),
            "--filter=exclude: *.*, include: resume_it.*".to_string(),
        ]
    };

    // Writer: TXS transactions of ROWS_PER_TX rows, paced so the stops land mid-stream.
    let writer = tokio::spawn(async move {
        let mut w = conn().await;
        for tx in 0..TXS {
            let values: Vec<String> = (0..ROWS_PER_TX).map(|i| format!("({}, {tx}, 'v{i}')", tx * ROWS_PER_TX + i + 1)).collect();
            exec(&mut w, &format!("INSERT INTO resume_it.t VALUES {}", values.join(","))).await;
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        exec(&mut w, "INSERT INTO resume_it.marker VALUES (1)").await;
    });

    // Run 1: from the start, stop after ≥ 300 rows.
    let mut m1 = spawn_maxwell(&common_args(start));
    let mut run1 = m1.read_until(Duration::from_secs(60), |_| false_after(300));
    let (st, rest, err) = m1.terminate();
    assert!(st.success(), "run 1 exit {st}: {err}");
    run1.extend(rest);
    let last = run1.last().unwrap().clone();
    assert_eq!(last["commit"], true, "output must end on a transaction boundary: {last}");
    let pos = last["resume_position"].as_str().unwrap().to_string();

    // Run 2: resume by file:pos, stop after ≥ 300 more rows.
    let mut m2 = spawn_maxwell(&common_args(pos));
    let mut run2 = m2.read_until(Duration::from_secs(60), |_| false_after(300));
    let (st, rest, err) = m2.terminate();
    assert!(st.success(), "run 2 exit {st}: {err}");
    run2.extend(rest);
    let last = run2.last().unwrap().clone();
    assert_eq!(last["commit"], true, "{last}");
    let gtid = last["gtid"].as_str().expect("gtid printed").to_string();

    // Run 3: resume by GTID, until the writer's marker.
    let mut m3 = spawn_maxwell(&common_args(gtid));
    let run3 = m3.read_until(Duration::from_secs(120), |r| r["table"] == "marker");
    let (st, _, err) = m3.terminate();
    assert!(st.success(), "run 3 exit {st}: {err}");
    writer.await.unwrap();

    let (a, b, c3) = (ids(&run1), ids(&run2), ids(&run3));
    assert!(!a.is_empty() && !b.is_empty() && !c3.is_empty(), "each run delivered rows: {} {} {}", a.len(), b.len(), c3.len());
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    for id in a.iter().chain(&b).chain(&c3) {
        *seen.entry(*id).or_default() += 1;
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).map(|(id, _)| *id).collect();
    let missing: Vec<u64> = (1..=TXS * ROWS_PER_TX).filter(|id| !seen.contains_key(id)).collect();
    assert!(dups.is_empty(), "duplicated ids: {dups:?}");
    assert!(missing.is_empty(), "missing ids: {missing:?}");
    assert_eq!(seen.len() as u64, TXS * ROWS_PER_TX);
}

/// A predicate that turns true once it has been called `n` times.
fn false_after(n: usize) -> bool {
    thread_local!(static COUNT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) });
    COUNT.with(|c| {
        c.set(c.get() + 1);
        if c.get() >= n {
            c.set(0);
            true
        } else {
            false
        }
    })
}

/// A node alone, restarted without `init_position`, continues from the position it stored in
/// `maxwell.positions`: the rows written while it was down arrive, nothing before the clean
/// stop is repeated. The table has Maxwell's columns, so a row Maxwell wrote is read the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_continues_from_the_stored_position() {
    let mut c = conn().await;
    exec(&mut c, "DROP DATABASE IF EXISTS stored_it").await;
    exec(&mut c, "CREATE DATABASE stored_it").await;
    exec(&mut c, "CREATE TABLE stored_it.t (id BIGINT PRIMARY KEY)").await;
    let client = format!("stored{}", std::process::id());
    // A schema_database of its own: the clients of other tests are not in it.
    let state = unique("stored_state");
    let args = vec![format!("--client_id={client}"), format!("--schema_database={state}"), "--filter=exclude: *.*, include: stored_it.*".to_string()];
    let insert = |from: u64, to: u64| format!("INSERT INTO stored_it.t VALUES {}", (from..=to).map(|i| format!("({i})")).collect::<Vec<_>>().join(","));

    // Run 1: no stored position yet: starts at the end of the binlog, sees rows 1..=10.
    let mut m1 = spawn_maxwell(&args);
    tokio::time::sleep(Duration::from_secs(2)).await;
    exec(&mut c, &insert(1, 10)).await;
    let run1 = m1.read_until(Duration::from_secs(30), |r| r["data"]["id"] == 10);
    let (st, rest, err) = m1.terminate();
    assert!(st.success(), "run 1 exit {st}: {err}");
    assert!(err.contains("position stored"), "the final position is stored on a clean stop:\n{err}");
    let stored: Option<(String, u64)> = mysql_async::prelude::Queryable::query_first(&mut c, format!("SELECT binlog_file, binlog_position FROM {state}.positions WHERE client_id = '{client}'")).await.unwrap();
    assert!(stored.is_some(), "a row in maxwell.positions for client_id {client}");

    // Down: rows 11..=20 written meanwhile.
    exec(&mut c, &insert(11, 20)).await;

    // Run 2: same client_id, no init_position.
    let mut m2 = spawn_maxwell(&args);
    let run2 = m2.read_until(Duration::from_secs(30), |r| r["data"]["id"] == 20);
    let (st, rest2, err) = m2.terminate();
    assert!(st.success(), "run 2 exit {st}: {err}");
    assert!(err.contains("resuming from the stored position"), "{err}");
    let (a, b) = (ids(&run1.into_iter().chain(rest).collect::<Vec<_>>()), ids(&run2.into_iter().chain(rest2).collect::<Vec<_>>()));
    assert_eq!(a, (1..=10).collect::<Vec<_>>());
    assert_eq!(b, (11..=20).collect::<Vec<_>>(), "run 2 holds exactly the rows written while it was down");

    // A client_id with no stored row starts where the other client is (Maxwell's rule, its
    // issue #782): rows 21..=23, written before it started, arrive; at the end of the binlog
    // it would have seen none of them.
    exec(&mut c, &insert(21, 23)).await;
    let mut m3 = spawn_maxwell(&[format!("--client_id={client}x"), format!("--schema_database={state}"), "--filter=exclude: *.*, include: stored_it.*".to_string()]);
    let run3 = m3.read_until(Duration::from_secs(30), |r| r["data"]["id"] == 23);
    let (_, _, err) = m3.terminate();
    assert_eq!(ids(&run3), vec![21, 22, 23], "{err}");
    assert!(err.contains("another client's position"), "{err}");

    // replay=true: Maxwell's read-only store. It starts at the stored position (after row 20:
    // row 21 comes first) and leaves the stored row as it was.
    let q = format!("SELECT binlog_file, binlog_position, heartbeat_at FROM {state}.positions WHERE client_id = '{client}'");
    let before: Option<(String, u64, Option<u64>)> = mysql_async::prelude::Queryable::query_first(&mut c, &q).await.unwrap();
    let mut m4 = spawn_maxwell(&[args.clone(), vec!["--replay=true".into()]].concat());
    let run4 = m4.read_until(Duration::from_secs(30), |r| r["data"]["id"] == 21);
    let (st, _, err) = m4.terminate();
    assert!(st.success(), "replay exit {st}: {err}");
    assert_eq!(ids(&run4), vec![21], "replay starts at the stored position");
    let after: Option<(String, u64, Option<u64>)> = mysql_async::prelude::Queryable::query_first(&mut c, &q).await.unwrap();
    assert_eq!(after, before, "replay never writes the stored position");
    exec(&mut c, &format!("DROP DATABASE {state}")).await;
}

/// A node alone writing to Kafka is restarted (SIGTERM, then started again without
/// `init_position`) while rows keep being written: the stored position takes it on from where
/// it stopped, and an independent consumer finds every row once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_load_loses_and_repeats_nothing() {
    use common::cluster::{messages, sample, setup, verdict, Writer};
    let tag = unique("lone_restart");
    let (topic, db) = setup(&tag, 3).await;
    let args = vec![
        format!("--client_id={tag}"),
        // Its own schema_database: a new client_id would start at another client's position.
        format!("--schema_database={tag}_state"),
        format!("--filter=exclude: *.*, include: {db}.*"),
        "--producer=kafka".to_string(),
        format!("--kafka.bootstrap.servers={}", kafka_bootstrap()),
        format!("--kafka_topic={topic}"),
        "--producer_partition_by=primary_key".to_string(),
    ];
    // First start: no stored position, so it starts at the end of the binlog; rows come after.
    let m1 = spawn_maxwell(&args);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let writer = Writer::start(&db, Duration::from_millis(5));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (st, _, err1) = m1.terminate();
    assert!(st.success(), "run 1: {err1}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let m2 = spawn_maxwell(&args);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let written = writer.stop().await;
    let msgs = messages(&topic, written as usize);
    let (st, _, err2) = m2.terminate();
    assert!(st.success(), "run 2: {err2}");
    assert!(err2.contains("resuming from the stored position"), "{err2}");
    let (lost, dups, _) = verdict(&msgs, 1..=written);
    println!("lone node restarted mid-load: {written} rows, lost {}, duplicated {}", lost.len(), dups.len());
    assert!(lost.is_empty() && dups.is_empty(), "lost {:?} dup {:?}\n{err1}\n{err2}", sample(&lost), sample(&dups));
}
