//! Side by side with Zendesk's Maxwell itself (`scripts/maxwell-ref.sh`, from Maven Central):
//! both read the same binlog of a generated workload — every column type, NULLs, extremes,
//! multi-row and multi-table transactions, DDL in between — and `scripts/side_by_side.py`
//! compares their JSON row by row. The test fails on any difference that is not one of the
//! explained ones (each listed with its reason in the script and the README), on a row that
//! one of them lacks, or when the comparison covered too few rows to mean anything.

mod common;

use common::*;

#[test]
fn same_json_as_maxwell_row_by_row() {
    let report = std::env::temp_dir().join(format!("{}.json", unique("side-by-side")));
    let out = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/side_by_side.py"))
        .args(["conformance", "--port", &mysql_port().to_string(), "--maxwell-ha", env!("CARGO_BIN_EXE_maxwell"), "--report"])
        .arg(&report)
        .output()
        .expect("run scripts/side_by_side.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "side-by-side run failed:\n{stdout}\n{stderr}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let _ = std::fs::remove_file(&report);
    let compared = r["rows_compared"].as_u64().unwrap();
    assert!(compared >= 900, "only {compared} rows compared:\n{stdout}");
    assert_eq!(r["rows_maxwell_ha"], r["rows_maxwell"], "{stdout}");
    assert!(r["unexplained_differences"].as_object().unwrap().is_empty(), "{stdout}");
    let known: Vec<String> =
        r["known_differences"].as_object().unwrap().iter().map(|(k, v)| format!("{k}: {} rows", v["rows"])).collect();
    println!(
        "Maxwell {}: {compared} rows compared, {} identical; explained differences: {}",
        r["maxwell_version"].as_str().unwrap(),
        r["rows_identical"],
        known.join(", ")
    );
}
