//! Bad input gets one clear error: server settings maxwell-ha cannot work with, purged or
//! impossible start positions, an unreachable server, wrong credentials. Each case runs the
//! real binary against the real MariaDB and checks the exit status and the message.
//! Global server settings are changed and restored inside one test, one case at a time.

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

fn run_maxwell(args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_maxwell"));
    // No stored positions: each case starts where it says (or at the end of the binlog).
    cmd.args(["--host=127.0.0.1", "--replica_server_id=4242", "--replay=true"]);
    if !args.iter().any(|a| a.starts_with("--port=")) {
        cmd.arg(format!("--port={}", mysql_port()));
    }
    if !args.iter().any(|a| a.starts_with("--user=")) {
        cmd.arg("--user=root");
    }
    cmd.args(args);
    let child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let out = wait_with_timeout(child, Duration::from_secs(30));
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn wait_with_timeout(mut child: std::process::Child, t: Duration) -> std::process::Output {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > t {
            let _ = child.kill();
            panic!("maxwell kept running for {t:?} where it should have stopped with an error");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `maxwell-cli check --json` → (exit code, parsed output).
fn cli_check(extra: &[&str]) -> (i32, serde_json::Value) {
    let port = format!("port={}", mysql_port());
    let mut args = vec!["check", "--json", "--set", "host=127.0.0.1", "--set", "user=root", "--set", &port];
    args.extend_from_slice(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_maxwell-cli")).args(&args).output().unwrap();
    let code = out.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (code, v)
}

fn expect_error(args: &[&str], needle: &str) {
    let (ok, err) = run_maxwell(args);
    assert!(!ok, "maxwell {args:?} should fail");
    assert!(err.contains(needle), "maxwell {args:?}: expected {needle:?} in:\n{err}");
    let lines = err.lines().filter(|l| l.starts_with("maxwell:")).count();
    assert_eq!(lines, 1, "exactly one error line for {args:?}:\n{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_bad_settings_positions_and_credentials_with_one_clear_error() {
    let mut c = conn().await;
    exec(&mut c, "CREATE USER IF NOT EXISTS 'mx_noperm'@'%' IDENTIFIED BY 'pw'").await;

    exec(&mut c, "SET GLOBAL binlog_format='STATEMENT'").await;
    let r = std::panic::catch_unwind(|| expect_error(&[], "binlog_format is STATEMENT"));
    exec(&mut c, "SET GLOBAL binlog_format='ROW'").await;
    r.unwrap();

    let (code, v) = cli_check(&[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["ready"], true);
    assert_eq!(v["binlog_format"], "ROW");
    assert!(v["position"].as_str().unwrap().starts_with("mysql-bin."), "{v}");
    assert!(v["gtid"].as_str().unwrap().starts_with("0-1-"), "{v}");
    let (code, _) = cli_check(&["--set", "port=1"]);
    assert_eq!(code, 2, "unreachable source is exit 2");

    // At a row metadata level that does not name columns a node keeps a schema history: the
    // source is ready, and a start before a DDL statement (where the history is not known) is
    // refused with what to do.
    let before_ddl = master_position(&mut c).await;
    exec(&mut c, "CREATE DATABASE IF NOT EXISTS checks_it").await;
    exec(&mut c, "CREATE OR REPLACE TABLE checks_it.t (i INT)").await;
    exec(&mut c, "SET GLOBAL binlog_row_metadata='MINIMAL'").await;
    let r = std::panic::catch_unwind(|| {
        expect_error(&[&format!("--init_position={before_ddl}")], "the schema at the start position is not known");
        let (code, v) = cli_check(&[]);
        assert_eq!(code, 0, "{v}");
        assert_eq!(v["ready"], true, "{v}");
        assert_eq!(v["binlog_row_metadata"], "MINIMAL", "{v}");
    });
    exec(&mut c, "SET GLOBAL binlog_row_metadata='FULL'").await;
    r.unwrap();

    expect_error(&["--init_position=mysql-bin.999999:4"], "is not on the server");
    expect_error(&["--init_position=mysql-bin.000001:999999999"], "past the end");
    expect_error(&["--init_position=0-1-999999999"], "cannot send the binlog");
    expect_error(&["--port=1"], "connecting to MySQL at 127.0.0.1:1");
    expect_error(&["--user=mx_noperm", "--password=wrong"], "access denied");
    expect_error(&["--user=root", "--filter=include db"], "configuration error: `filter`");
}
