//! `output_row_query` on MariaDB, against the real server and the real binary: every row
//! carries the statement that wrote it in `query` (MariaDB sends ANNOTATE_ROWS only when the
//! dump asks for it), the option off leaves `query` out, and `row_query_max_length` keeps
//! the statement's first characters, as Maxwell does.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

/// The statements written, in order, and the rows (type, id) each one gives.
fn statements(db: &str) -> Vec<(String, Vec<(&'static str, u64)>)> {
    vec![
        (format!("INSERT INTO {db}.t VALUES (1, 'one')"), vec![("insert", 1)]),
        (format!("INSERT INTO {db}.t VALUES (2, 'two'), (3, 'three')"), vec![("insert", 2), ("insert", 3)]),
        (format!("UPDATE {db}.t\n  SET s = CONCAT(s, ' ü€ \"q\"')\n  WHERE id <= 2"), vec![("update", 1), ("update", 2)]),
        // Two statements in one transaction: each row has its own.
        ("BEGIN".into(), vec![]),
        (format!("INSERT INTO {db}.t VALUES (4, 'four')"), vec![("insert", 4)]),
        (format!("DELETE FROM {db}.t WHERE id = 3"), vec![("delete", 3)]),
        ("COMMIT".into(), vec![]),
        (format!("INSERT INTO {db}.t VALUES (99, 'the end')"), vec![("insert", 99)]),
    ]
}

async fn write(db: &str) -> String {
    let mut c = conn().await;
    exec(&mut c, "SET NAMES utf8mb4").await;
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (id INT PRIMARY KEY, s VARCHAR(200)) CHARACTER SET utf8mb4")).await;
    let start = master_position(&mut c).await;
    for (sql, _) in statements(db) {
        exec(&mut c, &sql).await;
    }
    let _ = c.disconnect().await;
    start
}

/// The rows from `start` to the end marker with `extra` options.
fn rows(db: &str, start: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec![format!("--init_position={start}"), format!("--filter=exclude: *.*, include: {db}.*")];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut m = spawn_maxwell(&args);
    let rows = m.read_until(Duration::from_secs(60), |r| r["data"]["id"] == 99);
    let (st, _, err) = m.terminate();
    assert!(st.success(), "{err}");
    rows
}

/// The statement each row should carry, in row order.
fn expected(db: &str) -> Vec<(&'static str, u64, String)> {
    statements(db).into_iter().flat_map(|(sql, rows)| rows.into_iter().map(move |(t, id)| (t, id, sql.clone()))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_carry_their_statement_on_mariadb() {
    let db = unique("rowq");
    let start = write(&db).await;
    let want = expected(&db);

    let got = rows(&db, &start, &["--output_row_query=true"]);
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (row, (ty, id, sql)) in got.iter().zip(&want) {
        assert_eq!((row["type"].as_str().unwrap(), row["data"]["id"].as_u64().unwrap()), (*ty, *id), "{row}");
        assert_eq!(row["query"].as_str(), Some(sql.as_str()), "{row}");
    }

    let plain = rows(&db, &start, &[]);
    assert_eq!(plain.len(), want.len());
    assert!(plain.iter().all(|r| r.get("query").is_none()), "{plain:?}");

    let cut = rows(&db, &start, &["--output_row_query=true", "--row_query_max_length=12"]);
    assert_eq!(cut.len(), want.len());
    for (row, (_, _, sql)) in cut.iter().zip(&want) {
        let first: String = sql.chars().take(12).collect();
        assert_eq!(row["query"].as_str(), Some(first.as_str()), "{row}");
    }
    // Longer than every statement: whole statements.
    let long = rows(&db, &start, &["--output_row_query=true", "--row_query_max_length=1000"]);
    for (row, (_, _, sql)) in long.iter().zip(&want) {
        assert_eq!(row["query"].as_str(), Some(sql.as_str()), "{row}");
    }
}
