//! Every column type, through real MariaDB and the real binary, compared with the JSON Maxwell
//! prints. Columns are ordered so that a miscounted metadata entry (signedness, charset) shifts
//! a neighbour and shows up. Run with the source at `binlog_row_metadata=FULL` (the TABLE_MAP
//! names the columns) and at MariaDB's default NO_LOG (the schema history does).

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const DDL: &str = "CREATE TABLE types_it.t (
  id INT PRIMARY KEY,
  y YEAR, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED,
  mi MEDIUMINT, mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
  f FLOAT, d DOUBLE, dec1 DECIMAL(30,10), dec2 DECIMAL(5,2),
  g POINT, lat CHAR(4) CHARACTER SET latin1, emo VARCHAR(300) CHARACTER SET utf8mb4,
  gb VARCHAR(10) CHARACTER SET gbk, uc TEXT CHARACTER SET ucs2, tx MEDIUMTEXT,
  bl BLOB, bn BINARY(4), vb VARBINARY(8),
  dt DATE, tm TIME(2), tm0 TIME, dtm DATETIME(6), dtm0 DATETIME, ts TIMESTAMP(3) NULL,
  b1 BIT(1), b64 BIT(64), e ENUM('red','green'), st SET('x','y','z'), j JSON, after_all TINYINT UNSIGNED
)";

const INSERT: &str = "INSERT INTO types_it.t VALUES (1,
  2024, -128, 255, -32768, 65535,
  -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
  1.5, -2.25, -12345678901234567890.0123456789, 0.5,
  ST_GeomFromText('POINT(1 2.5)'), 'café', 'snow ☃ and 😀', '中文', 'ucs ✓', 'long text',
  x'000102ff', x'0102', x'',
  '2012-01-31', '-01:02:03.45', '838:59:59', '2012-01-01 22:32:34.222222', '1000-01-01 00:00:00', '2012-01-01 22:32:34.123',
  b'1', b'1111111111111111111111111111111111111111111111111111111111111111', 'green', 'z,x', '{\"k\": [1, true, null]}', 200)";

fn expected() -> Value {
    json!({
        "id": 1, "y": 2024, "ti": -128, "tu": 255, "si": -32768, "su": 65535,
        "mi": -8388608, "mu": 16777215, "i": -2147483648i64, "iu": 4294967295u64,
        "bi": -9223372036854775808i64, "bu": 18446744073709551615u64,
        "f": 1.5, "d": -2.25, "dec1": -12345678901234567890.0123456789f64, "dec2": 0.5,
        "g": "POINT (1 2.5)", "lat": "café", "emo": "snow ☃ and 😀", "gb": "中文", "uc": "ucs ✓", "tx": "long text",
        // BINARY values arrive without their zero padding, as in Maxwell's test_blob.
        "bl": "AAEC/w==", "bn": "AQI=", "vb": "",
        "dt": "2012-01-31", "tm": "-01:02:03.45", "tm0": "838:59:59", "dtm": "2012-01-01 22:32:34.222222",
        "dtm0": "1000-01-01 00:00:00", "ts": "2012-01-01 22:32:34.123",
        "b1": 1, "b64": 18446744073709551615u64, "e": "green", "st": ["x", "z"], "j": {"k": [1, true, null]},
        "after_all": 200
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_column_type_prints_as_maxwell_does() {
    for metadata in ["FULL", "NO_LOG"] {
        every_type_at(metadata).await;
    }
}

async fn every_type_at(metadata: &str) {
    // A session writes with the row metadata it found when it connected: set it first.
    let mut admin = conn().await;
    exec(&mut admin, &format!("SET GLOBAL binlog_row_metadata='{metadata}'")).await;
    let mut c = conn().await;
    exec(&mut c, "SET NAMES utf8mb4").await;
    exec(&mut c, "SET time_zone='+00:00'").await;
    exec(&mut c, "DROP DATABASE IF EXISTS types_it").await;
    exec(&mut c, "CREATE DATABASE types_it").await;
    exec(&mut c, DDL).await;
    let start = master_position(&mut c).await;
    exec(&mut c, INSERT).await;
    exec(&mut c, "INSERT INTO types_it.t (id) VALUES (2)").await;
    exec(&mut c, "SET sql_mode=''").await;
    exec(&mut c, "INSERT INTO types_it.t (id, dt, dtm0) VALUES (3, '0000-00-00', '0000-00-00 00:00:00')").await;
    exec(&mut c, "UPDATE types_it.t SET emo='changed', bu=0 WHERE id=1").await;
    exec(&mut admin, "SET GLOBAL binlog_row_metadata='FULL'").await;

    for null_zero in [false, true] {
        let mut mx = spawn_maxwell(&[
            format!("--init_position={start}"),
            "--filter=exclude: *.*, include: types_it.*".into(),
            format!("--output_null_zerodates={null_zero}"),
        ]);
        let rows = mx.read_until(Duration::from_secs(30), |r| r["type"] == "update");
        let (st, _, err) = mx.terminate();
        assert!(st.success(), "binlog_row_metadata={metadata}: {err}");
        let by_id = |id: u64| rows.iter().find(|r| r["type"] == "insert" && r["data"]["id"] == id).unwrap_or_else(|| panic!("row {id} missing: {rows:?}"));
        let got = &by_id(1)["data"];
        let want = expected();
        for (k, v) in want.as_object().unwrap() {
            let g = &got[k];
            let same = match (g.as_f64(), v.as_f64()) {
                (Some(a), Some(b)) if g.is_f64() || v.is_f64() => a == b,
                _ => g == v,
            };
            assert!(same, "binlog_row_metadata={metadata}, column {k}: got {g}, want {v}");
        }
        assert_eq!(got.as_object().unwrap().len(), want.as_object().unwrap().len(), "no extra columns: {got}");
        // NULLs: every column but the key.
        let nulls = &by_id(2)["data"];
        assert!(nulls.as_object().unwrap().iter().all(|(k, v)| k == "id" || v.is_null()), "{nulls}");
        // Zero dates.
        let zero = &by_id(3)["data"];
        if null_zero {
            assert!(zero["dt"].is_null() && zero["dtm0"].is_null(), "{zero}");
        } else {
            assert_eq!(zero["dt"], "0000-00-00");
            assert_eq!(zero["dtm0"], "0000-00-00 00:00:00");
        }
        // Update: old has exactly the changed columns.
        let upd = rows.iter().find(|r| r["type"] == "update").unwrap();
        assert_eq!(upd["old"], json!({"emo": "snow ☃ and 😀", "bu": 18446744073709551615u64}));
        assert_eq!(upd["data"]["emo"], "changed");
    }
}
