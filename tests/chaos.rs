//! The short chaos run (`chaos-tests/chaos.py --drills short`) on the test services: three
//! nodes, each in a network namespace of its own, under a steady write load: two kill -9 of
//! the leader, a zombie (SIGSTOP past the session, SIGCONT), SIGTERM, `maxwell-cli failover`,
//! kills of a ZooKeeper follower and of the ZooKeeper leader, loss of ZooKeeper quorum, broker
//! kills, an outage past the transaction timeout and a rolling restart, a MariaDB restart, a
//! standby killed, DDL mid-run, a kill -9 inside a 200 000-row transaction, the leader cut from
//! ZooKeeper only, Kafka only and MariaDB only, and the ZooKeeper follower holding its session
//! cut from the ZooKeeper leader. Then the same drills on a cluster with shards. Every row is read back by an independent client: none lost,
//! none duplicated, none out of order, no zombie write, every takeover measured and bounded.

mod common;

use common::*;
use std::process::Command;

/// Chaos runs kill brokers and cut ZooKeeper servers: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs chaos.py with `args` on the test services; returns the verdict's drill kinds after
/// asserting that nothing was lost, duplicated, reordered or written by a zombie.
fn chaos(args: &[&str], http_port_base: u16) -> Vec<String> {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bins = std::path::Path::new(env!("CARGO_BIN_EXE_maxwell")).parent().unwrap();
    let json = std::env::temp_dir().join(format!("{}.json", unique("chaos-verdict")));
    let out = Command::new("python3")
        .arg(format!("{}/chaos-tests/chaos.py", env!("CARGO_MANIFEST_DIR")))
        // The suite bounds takeovers loosely (a slow CI machine must not flake the build; a
        // takeover that waited for a second session timeout still fails). The long run,
        // `chaos-tests/run.sh --drills long`, holds them to session + 1 s.
        .args(args)
        .args(["--http-port-base", &http_port_base.to_string(), "--takeover-bound-ms", "7000", "--json"])
        .arg(&json)
        .env("MARIADB_PORT", mysql_port().to_string())
        .env("KAFKA_PORT", kafka_bootstrap().rsplit(':').next().unwrap())
        .env("ZK_PORT_BASE", zk_base().to_string())
        .env("MAXWELL_BIN_DIR", bins)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    let log = String::from_utf8_lossy(&out.stderr);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no verdict ({e}):\n{report}\n{log}"))).unwrap();
    let verdict = &v["verdict"];
    assert!(verdict["expected"].as_u64().unwrap() > 1000, "{verdict}");
    for k in ["lost", "duplicated", "out_of_order_keys", "zombie", "unexpected"] {
        assert_eq!(verdict[k], 0, "{k}:\n{report}");
    }
    assert!(out.status.success(), "verdict FAIL:\n{report}\n{log}");
    v["drills"].as_array().unwrap().iter().map(|d| d["drill"].as_str().unwrap().to_string()).collect()
}

#[test]
fn short_chaos_run_loses_and_duplicates_nothing() {
    let drills = chaos(&["--drills", "short"], 18581);
    assert_eq!(drills.len(), 19, "every drill ran: {drills:?}");
}

/// Shards: the load's tables split over three shards, so every node leads part of the stream;
/// kill -9, a zombie, SIGTERM and a cut from ZooKeeper of a node leading shards, and DDL.
#[test]
fn sharded_cluster_loses_and_duplicates_nothing() {
    let drills = chaos(&["--drills", "kill9=2,zombie=1,sigterm=1,cut-zk=1,ddl=1", "--shards", "3"], 18781);
    assert_eq!(drills, ["kill9", "zombie", "sigterm", "ddl", "cut-zk"]);
}

/// The other workload: a topic per table (`%{database}_%{table}`) and `gtid_mode=true`, with
/// kills, DDL and a 200 000-row transaction across a kill -9.
#[test]
fn topic_per_table_and_gtid_mode_lose_and_duplicate_nothing() {
    let drills = chaos(&["--drills", "kill9=2,ddl=1,big-kill9=1,cut-zk=1", "--topic-per-table", "--gtid-mode"], 18681);
    assert_eq!(drills, ["kill9", "ddl", "big-kill9", "cut-zk"]);
}
