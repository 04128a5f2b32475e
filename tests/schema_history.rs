//! The schema history against the real MariaDB: a schema captured once and moved forward by
//! DDL statements must equal, after every statement, a fresh capture from the server.
//! This is what lets rows be decoded at `binlog_row_metadata=NO_LOG`: if the history ever
//! drifts from the server, a column would be named or typed wrongly, so each step is compared
//! in full (names, order, types, signedness, charsets, ENUM/SET labels, fractional seconds,
//! primary key).

mod common;

use maxwell_ha::binlog::history::Schema;
use maxwell_ha::source::capture::capture;
use maxwell_ha::source::reader::Flavor;

/// The tests take turns: a capture taken while the other test runs DDL is retried, and gives
/// up after a few tries (as it should).
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const DB: &str = "sh_hist";
const OTHER: &str = "sh_hist_other";

/// Each statement runs on the server and is applied to the history; the two must agree after it.
const SCRIPT: &[&str] = &[
    "CREATE TABLE t1 (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2), at DATETIME(3))",
    "ALTER TABLE t1 ADD COLUMN note TEXT CHARACTER SET latin1 AFTER name",
    "ALTER TABLE t1 ADD COLUMN first_col TINYINT FIRST",
    "ALTER TABLE t1 ADD (a1 BIGINT, a2 SMALLINT UNSIGNED)",
    "ALTER TABLE t1 MODIFY name VARCHAR(80) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL",
    "ALTER TABLE t1 CHANGE price cost DOUBLE",
    "ALTER TABLE t1 RENAME COLUMN a1 TO b1",
    "ALTER TABLE t1 DROP COLUMN a2",
    "ALTER TABLE t1 ADD COLUMN state ENUM('new','paid','it''s, odd') DEFAULT 'new'",
    "ALTER TABLE t1 MODIFY state ENUM('new','paid','it''s, odd','shipped')",
    "ALTER TABLE t1 ADD COLUMN tags SET('a','b','c')",
    "ALTER TABLE t1 ADD COLUMN doc JSON",
    "ALTER TABLE t1 ADD COLUMN tm TIME(6), ADD COLUMN ts TIMESTAMP(2) NULL",
    "CREATE TABLE t2 (a INT NOT NULL, b VARCHAR(10) NOT NULL, c BLOB, PRIMARY KEY (b, a)) DEFAULT CHARSET=latin1",
    "ALTER TABLE t2 DROP PRIMARY KEY, ADD PRIMARY KEY (a)",
    "ALTER TABLE t2 CHANGE a a_id INT NOT NULL",
    "ALTER TABLE t2 CONVERT TO CHARACTER SET utf8mb4",
    "ALTER TABLE t2 DEFAULT CHARACTER SET latin1",
    "ALTER TABLE t2 ADD COLUMN d CHAR(3)",
    "CREATE TABLE t3 LIKE t1",
    "RENAME TABLE t3 TO t4",
    "ALTER TABLE t4 RENAME TO t5",
    "CREATE TABLE IF NOT EXISTS t5 (x INT)",
    "DROP TABLE IF EXISTS nope",
    "DROP TABLE t5",
    "CREATE TABLE t5 (y BIT(3), z YEAR, g POINT, f FLOAT UNSIGNED, m MEDIUMINT, v VARBINARY(8), bn BINARY(2), bo BOOLEAN)",
    "CREATE DATABASE sh_hist_other CHARACTER SET latin1",
    "CREATE TABLE sh_hist_other.o1 (s VARCHAR(5), u VARCHAR(5) CHARACTER SET utf8mb4)",
    "RENAME TABLE t2 TO sh_hist_other.t2",
    "ALTER TABLE sh_hist_other.t2 ADD COLUMN e TINYTEXT",
    "ALTER DATABASE sh_hist_other CHARACTER SET utf8mb4",
    "CREATE TABLE sh_hist_other.o2 (s VARCHAR(5))",
    "CREATE INDEX i_name ON t1 (name)",
    "ALTER TABLE t1 ADD INDEX i_cost (cost), ENGINE=InnoDB, COMMENT 'c'",
    "/*!40101 ALTER TABLE t1 ADD COLUMN wrapped INT */",
    "DROP TABLE t5, t1",
    "DROP DATABASE sh_hist_other",
];

fn only_ours(s: &Schema) -> Schema {
    let mut s = s.clone();
    s.databases.retain(|name, _| name == DB || name == OTHER);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_moved_by_ddl_equals_a_fresh_capture_after_every_statement() {
    let _turn = TURN.lock().await;
    let mut c = common::conn().await;
    common::exec(&mut c, &format!("DROP DATABASE IF EXISTS {OTHER}")).await;
    common::exec(&mut c, &format!("DROP DATABASE IF EXISTS {DB}")).await;
    common::exec(&mut c, &format!("CREATE DATABASE {DB} CHARACTER SET utf8mb4")).await;
    common::exec(&mut c, &format!("USE {DB}")).await;
    let (mut history, at) = capture(&mut c, Flavor::MariaDb).await.expect("capture");
    assert!(history.databases.contains_key(DB), "the capture at {at} lacks {DB}");
    let mut changes = 0;
    for sql in SCRIPT {
        common::exec(&mut c, sql).await;
        let before = history.clone();
        match history.apply(sql, DB) {
            Ok(ch) => changes += ch.len(),
            Err(e) => panic!("the history refused `{sql}`: {e}"),
        }
        let (server, _) = capture(&mut c, Flavor::MariaDb).await.expect("capture");
        let (ours, theirs) = (only_ours(&history), only_ours(&server));
        if ours != theirs {
            let show = |s: &Schema| serde_json::to_string_pretty(&s.databases).unwrap();
            panic!(
                "after `{sql}` the history differs from the server.\nbefore:\n{}\nhistory:\n{}\nserver:\n{}",
                show(&only_ours(&before)),
                show(&ours),
                show(&theirs)
            );
        }
    }
    assert!(changes >= SCRIPT.len() - 6, "{changes} changes reported for {} statements", SCRIPT.len());
    common::exec(&mut c, &format!("DROP DATABASE IF EXISTS {DB}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_the_history_cannot_follow_is_refused_and_leaves_it_unchanged() {
    let _turn = TURN.lock().await;
    let mut c = common::conn().await;
    let (mut history, _) = capture(&mut c, Flavor::MariaDb).await.expect("capture");
    let before = history.clone();
    let e = history.apply("ALTER TABLE no_such_db.no_such_table ADD COLUMN x INT", "mysql").unwrap_err();
    assert!(e.to_string().contains("no_such_table"), "{e}");
    let e = history.apply("ALTER TABLE mysql.user FROBNICATE THE THING", "mysql").unwrap_err();
    assert!(e.to_string().contains("FROBNICATE"), "{e}");
    assert_eq!(history, before);
}
