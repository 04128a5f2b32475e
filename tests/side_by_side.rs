//! Side by side with Zendesk's Maxwell itself (`scripts/maxwell-ref.sh`, from Maven Central):
//! both read the same binlog of a generated workload — every column type, NULLs, extremes,
//! multi-row and multi-table transactions, DDL in between — and `scripts/side_by_side.py`
//! compares their JSON row by row. The test fails on any difference that is not one of the
//! explained ones (each listed with its reason in the script and in
//! `docs/maxwell-compatibility.md`), on a row that one of them lacks, or when the comparison
//! covered too few rows to mean anything. It runs plain, with Maxwell's encode options
//! (`exclude_columns`, `encrypt=data|all`, `output_schema_id`) and with `output_row_query` on
//! both sides.

mod common;

use common::*;

/// The conformance runs set the server's global `binlog_row_metadata` and run DDL: the
/// switch-over, whose cluster captures the schema at its first start, waits for them, and
/// they for each other.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// At `binlog_row_metadata=FULL` (TABLE_MAPs name the columns) and at `NO_LOG` (MariaDB's
/// default: the schema history names them), with DDL records (`def`/`old`) and every record's
/// `position` (`output_binlog_position`) compared too.
#[test]
fn same_json_as_maxwell_row_by_row() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    for metadata in ["FULL", "NO_LOG"] {
        conformance(&format!("binlog_row_metadata={metadata}"), &["--ddl", "--positions", "--row-metadata", metadata]);
    }
}

/// Invalid and partly-zero dates (`0000-00-00`, `2020-00-15`, `2020-02-31`, Julian dates
/// before 1582-10-15, …, stored under `sql_mode=ALLOW_INVALID_DATES`) in DATE, DATETIME(0..6)
/// and TIMESTAMP(0..6): every run of the workload has them (table `zerodates`); this one runs
/// both with `output_null_zerodates`.
#[test]
fn zero_and_invalid_dates_as_maxwell_with_output_null_zerodates() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    conformance("output_null_zerodates", &["--ddl", "--null-zerodates"]);
}

/// Maxwell's encode options on both sides: `exclude_columns` (names and a /regex/, the
/// primary key `id` among them, with `primary_key` printed), `output_schema_id`, and
/// `encrypt=data` / `encrypt=all` with a random key (16, 24, 32 bytes), both outputs decrypted
/// with Python's `cryptography` before the comparison: every record encrypted alike, the
/// plaintexts the same JSON, no excluded column in either output, schema_id changing at the
/// same records as Maxwell's.
#[test]
fn encode_options_as_maxwell() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let exclude = "id,c_tinyint,c_varchar,/c_.*blob/,total,sku";
    let common = ["--ddl", "--positions", "--primary-keys", "--schema-id", "--exclude-columns", exclude];
    for (label, more) in [("exclude_columns", &[][..]), ("encrypt=data", &["--encrypt", "data", "--key-bytes", "16"][..]), ("encrypt=all", &["--encrypt", "all", "--key-bytes", "32"][..])] {
        let r = conformance(label, &[&common[..], more].concat());
        let o = &r["options"];
        assert_eq!(o["schema_id_offsets"].as_object().map(|m| m.len()), Some(1), "{label}: {o}");
        if let Some(mode) = label.strip_prefix("encrypt=") {
            let rows = r["rows_maxwell"].as_u64().unwrap() - r["ddl_records_maxwell"].as_u64().unwrap();
            assert_eq!(o["encrypted_records_maxwell"][mode], rows, "{label}: every row encrypted by Maxwell: {o}");
            assert_eq!(o["encrypted_records_maxwell_ha"][mode], rows, "{label}: every row encrypted by maxwell-ha: {o}");
        }
        println!("{label}: {o}");
    }
}

/// `output_row_query=true` on both sides: maxwell-ha's every row carries its statement
/// (`tests/row_query.rs` checks the text); Maxwell 1.22.6 never asks MariaDB for them, so its
/// rows have none, the one explained difference added (`query`), every other field the same.
#[test]
fn row_query_as_maxwell() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let r = conformance("output_row_query", &["--ddl", "--row-query"]);
    let o = &r["options"];
    let rows = r["rows_maxwell_ha"].as_u64().unwrap() - r["ddl_records_maxwell_ha"].as_u64().unwrap();
    assert_eq!(o["rows_with_query_maxwell_ha"], rows, "every row of maxwell-ha has query: {o}");
    let from_maxwell = o["rows_with_query_maxwell"].as_u64().unwrap();
    if from_maxwell > 0 {
        // Should Maxwell ever print them, they must be the same (compared field by field).
        assert!(r["known_differences"].get("query").is_none(), "{r}");
    }
    println!("output_row_query: {o}");
}

/// Runs one conformance comparison with `args`; fails on any unexplained difference, on
/// rows one side lacks, or when it covered too few records. Returns the report.
fn conformance(label: &str, args: &[&str]) -> serde_json::Value {
    let report = std::env::temp_dir().join(format!("{}.json", unique("side-by-side")));
    let out = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/side_by_side.py"))
        .args(["conformance", "--port", &mysql_port().to_string(), "--maxwell-ha", env!("CARGO_BIN_EXE_maxwell")])
        .args(args)
        .arg("--report")
        .arg(&report)
        .output()
        .expect("run scripts/side_by_side.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "side-by-side run with {label} failed:\n{stdout}\n{stderr}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let _ = std::fs::remove_file(&report);
    let compared = r["rows_compared"].as_u64().unwrap();
    assert!(compared >= 900, "only {compared} rows compared with {label}:\n{stdout}");
    assert_eq!(r["rows_maxwell_ha"], r["rows_maxwell"], "{stdout}");
    let ddl = r["ddl_records_maxwell"].as_u64().unwrap();
    assert!(ddl >= 15 && r["ddl_records_maxwell_ha"] == r["ddl_records_maxwell"], "DDL records with {label}: {ddl} from Maxwell, {} from maxwell-ha:\n{stdout}", r["ddl_records_maxwell_ha"]);
    assert!(r["unexplained_differences"].as_object().unwrap().is_empty(), "{stdout}");
    // 13 rows of invalid and partly-zero dates, 3 of them updated (and its table-create).
    assert!(r["records_per_table"]["zerodates"].as_u64().unwrap_or(0) >= 16, "zero dates with {label}: {}", r["records_per_table"]);
    let known: Vec<String> = r["known_differences"].as_object().unwrap().iter().map(|(k, v)| format!("{k}: {} rows", v["rows"])).collect();
    println!(
        "Maxwell {} with {label}: {compared} records compared ({ddl} DDL), {} identical; explained differences: {}",
        r["maxwell_version"].as_str().unwrap(),
        r["rows_identical"],
        known.join(", ")
    );
    r
}

/// A user switching over: Maxwell streams to Kafka under load, is stopped (SIGTERM), and a
/// maxwell-ha cluster with the same `client_id` and `schema_database` starts in its place. It
/// continues from the position Maxwell stored in its `positions` table: an independent
/// read_committed consumer of the topic finds every row written before, during and after the
/// switch, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_from_a_running_maxwell_to_a_cluster() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    use common::cluster::*;
    use std::time::{Duration, Instant};
    let tag = unique("switch");
    let (topic, db) = setup(&tag, 4).await;
    let mut c = conn().await;
    exec(&mut c, "CREATE USER IF NOT EXISTS 'maxwell_ref'@'127.0.0.1' IDENTIFIED BY 'maxwell-ref'").await;
    exec(&mut c, "GRANT ALL ON *.* TO 'maxwell_ref'@'127.0.0.1'").await;
    let schema = format!("{tag}_schema");

    let log = std::env::temp_dir().join(format!("{tag}-maxwell.log"));
    let maxwell = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/maxwell-ref.sh"))
        .args([
            "run".to_string(),
            "--host=127.0.0.1".into(),
            format!("--port={}", mysql_port()),
            "--user=maxwell_ref".into(),
            "--password=maxwell-ref".into(),
            // Maxwell 1.22.6 cannot decode the charset name utf8mb3 (see scripts/maxwell-ref.sh).
            "--jdbc_options=sessionVariables=old_mode=NO_PROGRESS_INFO".into(),
            format!("--client_id={tag}"),
            format!("--schema_database={schema}"),
            "--replica_server_id=4242".into(),
            format!("--filter=exclude: *.*, include: {db}.*"),
            "--producer=kafka".into(),
            format!("--kafka.bootstrap.servers={}", kafka_bootstrap()),
            format!("--kafka_topic={topic}"),
            "--producer_partition_by=primary_key".into(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut maxwell = KillOnDrop(maxwell);
    let maxwell_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let t0 = Instant::now();
    while !maxwell_log().contains("Binlog connected") {
        assert!(t0.elapsed() < Duration::from_secs(120) && maxwell.0.try_wait().unwrap().is_none(), "Maxwell did not start:\n{}", maxwell_log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Maxwell starts at the end of the binlog: every row written from now on is owed.
    let writer = Writer::start(&db, Duration::from_millis(10));
    tokio::time::sleep(Duration::from_secs(5)).await;
    signal(maxwell.0.id(), "TERM");
    let st = maxwell.0.wait().unwrap();
    let stored: Option<(String, u64)> = {
        use mysql_async::prelude::Queryable;
        c.query_first(format!("SELECT binlog_file, binlog_position FROM {schema}.positions WHERE client_id = '{tag}'")).await.unwrap()
    };
    println!("Maxwell stopped ({st}); its stored position: {stored:?}");
    assert!(stored.is_some(), "Maxwell stored no position:\n{}", maxwell_log());
    let at_switch = writer_rows_now(&mut c, &db).await;

    // Rows keep coming while nothing streams; then the cluster starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut cl = Cluster::new(&tag, &topic, &db);
    cl.extra = vec![format!("--client_id={tag}"), format!("--schema_database={schema}")];
    cl.start("n1", None);
    cl.start("n2", None);
    cl.wait_leader(None, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let written = writer.stop().await;
    let msgs = messages(&topic, written as usize);
    cl.stop_all();
    let from_maxwell = msgs.iter().filter(|m| m.cluster.is_empty()).count();
    let (lost, dups, zombie) = verdict(&msgs, 1..=written);
    // Maxwell writes each partition in order and stored its position past its last row, so a
    // row missing below the last one Maxwell delivered is a row Maxwell itself dropped (seen
    // once: a batch of 20 rows lost in flight at its SIGTERM), not one the cluster owed.
    let maxwell_last = msgs.iter().filter(|m| m.cluster.is_empty()).map(|m| m.id).max().unwrap_or(0);
    let (dropped_by_maxwell, lost): (Vec<u64>, Vec<u64>) = lost.into_iter().partition(|id| *id < maxwell_last);
    if !dropped_by_maxwell.is_empty() {
        println!("Maxwell itself did not deliver {} rows below its last one ({:?}); its log:\n{}", dropped_by_maxwell.len(), sample(&dropped_by_maxwell), tail(&maxwell_log(), 30));
    }
    println!(
        "switch: {written} rows written ({at_switch} when Maxwell stopped), {from_maxwell} delivered by Maxwell, {} by the cluster; lost {}, duplicated {}",
        msgs.len() - from_maxwell,
        lost.len(),
        dups.len()
    );
    let _ = std::fs::remove_file(&log);
    assert!(from_maxwell > 0 && from_maxwell < written as usize, "both must have delivered part of the rows ({from_maxwell} of {written} by Maxwell)");
    assert!(lost.is_empty() && dups.is_empty() && zombie == 0, "lost {:?} dup {:?} ({}) zombie {zombie}\n{}", sample(&lost), sample(&dups), copies(&msgs, &dups), cl.logs());
}

async fn writer_rows_now(c: &mut mysql_async::Conn, db: &str) -> u64 {
    use mysql_async::prelude::Queryable;
    c.query_first::<Option<u64>, _>(format!("SELECT MAX(id) FROM {db}.t")).await.unwrap().flatten().unwrap_or(0)
}

/// A child process killed (and reaped) when dropped, also when an assertion fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
