//! The encode options' formats: `exclude_columns`, `encrypt=data|all`, `output_schema_id`, each
//! checked against the plain line the same row gives without them; newer Maxwell's
//! `output_naming_strategy` and `output_push_timestamp` inside `encrypt=all`.

use super::tests::{image, table};
use super::*;
use crate::config::Settings;

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn output(args: &[&str]) -> OutputConfig {
    let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    a.push("--user=u".into());
    crate::config::Config::from_settings(&Settings::load_in(&a, std::path::Path::new("/nonexistent")).unwrap()).unwrap().output
}

fn fields() -> TxFields<'static> {
    TxFields { xid: Some(9), file: "f", position: "f:4", gtid: None, server_id: 3, thread_id: Some(8), schema_id: 12 }
}

/// A table with columns a, b, c (primary key c, a) whose `exclude` columns are left out.
fn table_excluding(cfg: &OutputConfig) -> Arc<TableInfo> {
    let mut t = (*table()).clone();
    t.exclude(|n| cfg.exclude_columns.matches(n));
    Arc::new(t)
}

/// An update of a MINIMAL-style row (a, c before; b, c after) and an insert, as JSON lines.
fn lines(cfg: &OutputConfig) -> (Vec<serde_json::Value>, Vec<RowMeta>, String) {
    let t = table_excluding(cfg);
    let (bf, bs) = image(&[Some("1"), Some("\"old-b\""), Some("3")]);
    let (af, as_) = image(&[Some("1"), Some("\"new-b\""), Some("4")]);
    let (inf, ins) = image(&[Some("7"), Some("\"x\""), Some("8")]);
    let mut tx = TxBuffer::default();
    let (b, a) = (Image { frag: &bf, spans: &bs }, Image { frag: &af, spans: &as_ });
    tx.push_row(100, &t, RowKind::Update, 5, None, Some(&b), Some(&a), cfg).unwrap();
    tx.push_row(100, &t, RowKind::Insert, 5, None, None, Some(&Image { frag: &inf, spans: &ins }), cfg).unwrap();
    let metas = tx.take_metas();
    let mut out = Vec::new();
    tx.commit(&fields(), cfg, &mut out, &mut Vec::new());
    let text = String::from_utf8(out).unwrap();
    (text.lines().map(|l| serde_json::from_str(l).unwrap()).collect(), metas, text)
}

/// Decrypts an `"encrypted"` object (an independent CBC decryption with the test key).
fn decrypt(e: &serde_json::Value) -> String {
    super::encrypt::decrypt_for_tests(KEY, e)
}

#[test]
fn excluded_columns_leave_data_and_old_but_not_the_keys() {
    let base = [
        "--producer=kafka",
        "--kafka.bootstrap.servers=k",
        "--producer_partition_by=column",
        "--producer_partition_columns=b,c",
        "--producer_partition_by_fallback=table",
        "--output_primary_keys=true",
        "--output_primary_key_columns=true",
    ];
    let (plain, plain_metas, _) = lines(&output(&base));
    assert_eq!(plain[0]["data"], serde_json::json!({"a": 1, "b": "new-b", "c": 4}));
    assert_eq!(plain[0]["old"], serde_json::json!({"b": "old-b", "c": 3}));
    let cfg = output(&[&base[..], &["--exclude_columns=b, /^[c]$/"]].concat());
    let (rows, metas, _) = lines(&cfg);
    // Only `old` columns were excluded: no `old` at all, as Maxwell leaves out an empty one.
    assert_eq!(rows[0]["data"], serde_json::json!({"a": 1}));
    assert!(rows[0].get("old").is_none(), "{}", rows[0]);
    assert_eq!(rows[1]["data"], serde_json::json!({"a": 7}));
    // The primary key (c, a) keeps its values and names; so does the Kafka key's source.
    assert_eq!((&rows[0]["primary_key"], &rows[0]["primary_key_columns"]), (&serde_json::json!([4, 1]), &serde_json::json!(["c", "a"])));
    let pk = |m: &RowMeta| match m {
        RowMeta::Row { pk, partition_columns, .. } => (pk.clone(), partition_columns.clone()),
        RowMeta::Ddl { .. } => unreachable!(),
    };
    assert_eq!(pk(&metas[0]).0, pk(&plain_metas[0]).0);
    // The partition columns lose them (Maxwell reads them from the stripped data).
    assert_eq!(pk(&plain_metas[0]).1, vec![Some(b"\"new-b\"".to_vec()), Some(b"4".to_vec())]);
    assert_eq!(pk(&metas[0]).1, vec![None, None]);
    // Everything else is the plain line's.
    for k in ["database", "table", "type", "ts", "xid", "commit", "xoffset"] {
        assert_eq!(rows[1].get(k), plain[1].get(k), "{k}");
    }
}

#[test]
fn encrypt_data_replaces_data_and_old_in_place() {
    let base = ["--output_primary_keys=true", "--exclude_columns=a"];
    let (plain, _, _) = lines(&output(&base));
    let cfg = output(&[&base[..], &["--encrypt=data", &format!("--secret_key={KEY}")]].concat());
    let (rows, _, text) = lines(&cfg);
    for (r, p) in rows.iter().zip(&plain) {
        let e = &r["encrypted"];
        assert!(r.get("data").is_none() && r.get("old").is_none(), "{r}");
        let inner: serde_json::Value = serde_json::from_str(&decrypt(e)).unwrap();
        let mut want = serde_json::json!({"data": p["data"]});
        if let Some(old) = p.get("old") {
            want["old"] = old.clone();
        }
        assert_eq!(inner, want);
        let mut rest = r.as_object().unwrap().clone();
        rest.remove("encrypted");
        let mut prest = p.as_object().unwrap().clone();
        prest.remove("data");
        prest.remove("old");
        assert_eq!(rest, prest);
    }
    // Maxwell's field names and place: last, after primary_key; the IV differs per record.
    let first = text.lines().next().unwrap();
    assert!(first.starts_with(r#"{"database":"d","table":"t","type":"update","ts":5,"xid":9,"xoffset":0,"primary_key":[4,1],"encrypted":{"iv":""#), "{first}");
    assert!(first.ends_with(r#""}}"#), "{first}");
    assert_ne!(rows[0]["encrypted"]["iv"], rows[1]["encrypted"]["iv"]);
    // The plaintext is the JSON text exactly: no whitespace anywhere.
    assert_eq!(decrypt(&rows[0]["encrypted"]), r#"{"data":{"b":"new-b","c":4},"old":{"b":"old-b","c":3}}"#);
}

#[test]
fn encrypt_all_wraps_each_whole_line_also_read_back_from_disk() {
    let cfg = output(&["--encrypt=all", &format!("--secret_key={KEY}"), "--output_schema_id=true", "--output_resume_position=true"]);
    let plain_cfg = OutputConfig { encrypt: None, ..cfg.clone() };
    let (plain, _, plain_text) = lines(&plain_cfg);
    let (rows, _, text) = lines(&cfg);
    assert_eq!(rows.len(), 2);
    for (i, (r, line)) in rows.iter().zip(plain_text.lines()).enumerate() {
        assert_eq!(r.as_object().unwrap().keys().collect::<Vec<_>>(), ["encrypted"], "{r}");
        assert_eq!(decrypt(&r["encrypted"]), line, "row {i}");
    }
    assert!(text.lines().all(|l| l.starts_with(r#"{"encrypted":{"iv":""#) && l.ends_with(r#""}}"#)));
    // schema_id after thread_id's place, before resume_position (ours), as a number.
    assert_eq!(plain[0]["schema_id"], 12);
    assert!(plain_text.contains(r#""xoffset":0,"schema_id":12,"resume_position":"f:4""#), "{plain_text}");

    // A transaction that spilled to disk reads back as the same encrypted records.
    let t = table_excluding(&cfg);
    let mut disk = TxBuffer::with_limit(10);
    for i in 0..50 {
        let id = i.to_string();
        let (f, s) = image(&[Some(&id), Some("\"v\""), Some("1")]);
        disk.push_row(100, &t, RowKind::Insert, 5, None, None, Some(&Image { frag: &f, spans: &s }), &cfg).unwrap();
    }
    let mut rows_back = disk.seal().unwrap().expect("spilled");
    let mut out = Vec::new();
    while rows_back.remaining() > 0 {
        rows_back.read_part(&fields(), &cfg, disk.encryptor(&cfg), 1000, &mut out, &mut Vec::new(), &mut Vec::new()).unwrap();
    }
    let back: Vec<serde_json::Value> = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(back.len(), 50);
    for (i, r) in back.iter().enumerate() {
        let inner: serde_json::Value = serde_json::from_str(&decrypt(&r["encrypted"])).unwrap();
        assert_eq!((inner["data"]["a"].as_u64(), inner["schema_id"].as_u64()), (Some(i as u64), Some(12)));
    }
}

#[test]
fn schema_id_only_when_asked() {
    let (rows, _, _) = lines(&OutputConfig::default());
    assert!(rows[0].get("schema_id").is_none());
    let (rows, _, text) = lines(&OutputConfig { schema_id: true, thread_id: true, server_id: true, ..Default::default() });
    assert_eq!(rows[1]["schema_id"], 12);
    assert!(text.contains(r#""server_id":3,"thread_id":8,"schema_id":12,"data""#), "{text}");
}

/// `row_query_max_length` as Maxwell reads it: any int, 0 or less meaning no limit.
#[test]
fn row_query_max_length_is_read_as_maxwell_reads_it() {
    assert_eq!(output(&[]).row_query_max_length, 0);
    assert_eq!(output(&["--output_row_query=true", "--row_query_max_length=10"]).row_query_max_length, 10);
    assert_eq!(output(&["--row_query_max_length=-5"]).row_query_max_length, 0);
    let mut a = vec!["--row_query_max_length=ten".to_string(), "--user=u".into()];
    assert!(Settings::load_in(&a, std::path::Path::new("/nonexistent")).is_err());
    a[0] = "--row_query_max_length=3000000000".into();
    assert!(Settings::load_in(&a, std::path::Path::new("/nonexistent")).is_err());
}

/// `output_naming_strategy=underscore_to_camelcase`: every field name and column name of a row
/// in camel case (the table's keys renamed as the decoder renames them), in Maxwell's order;
/// `primary_key_columns` keeps the names; with `encrypt=all` the record holds `pushTs`.
#[test]
fn camel_case_names_and_push_ts_inside_encrypt_all() {
    let cfg = output(&[
        "--output_naming_strategy=underscore_to_camelcase",
        "--output_primary_keys=true",
        "--output_primary_key_columns=true",
        "--output_server_id=true",
        "--output_thread_id=true",
        "--output_schema_id=true",
        "--output_resume_position=true",
    ]);
    let mut t = (*table()).clone();
    for (c, n) in t.columns.iter_mut().zip(["order_id", "_note", "created_at"]) {
        c.name = n.into();
    }
    t.rename_keys(crate::config::newer::camel_case);
    let t = Arc::new(t);
    let (f, s) = image(&[Some("1"), Some("\"x\""), Some("2")]);
    let mut tx = TxBuffer::default();
    tx.push_row(100, &t, RowKind::Insert, 5, None, None, Some(&Image { frag: &f, spans: &s }), &cfg).unwrap();
    let mut out = Vec::new();
    tx.commit(&fields(), &cfg, &mut out, &mut Vec::new());
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.trim_end(),
        r#"{"database":"d","table":"t","type":"insert","ts":5,"xid":9,"commit":true,"serverId":3,"threadId":8,"schemaId":12,"resumePosition":"f:4","primaryKey":[2,1],"primaryKeyColumns":["created_at","order_id"],"data":{"orderId":1,"note":"x","createdAt":2}}"#
    );
    // The sink stamps pushTs after resumePosition; with encrypt=all the encoder does.
    assert_eq!(cfg.push_ts_by_sink(), None, "not asked");
    let all = output(&["--output_naming_strategy=underscore_to_camelcase", "--output_push_timestamp=true", "--encrypt=all", &format!("--secret_key={KEY}")]);
    assert_eq!(all.push_ts_by_sink(), None, "encrypt=all: inside the record");
    let (rows, _, _) = lines(&all);
    let inner: serde_json::Value = serde_json::from_str(&decrypt(&rows[0]["encrypted"])).unwrap();
    assert!(inner["pushTs"].as_f64().unwrap() > 1.6e9 && inner.get("push_ts").is_none(), "{inner}");
    let plain = output(&["--output_push_timestamp=true"]);
    assert_eq!(plain.push_ts_by_sink(), Some(crate::config::NamingStrategy::None));
    let (rows, _, _) = lines(&plain);
    assert!(rows[0].get("push_ts").is_none(), "stamped by the sink, not the encoder: {}", rows[0]);
}
