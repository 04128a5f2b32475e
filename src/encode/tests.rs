use super::*;
use crate::binlog::charset::CollationMap;
use crate::binlog::schema::tests::{names_field, table_map_bytes};
use crate::binlog::schema::{build_table_info, parse_table_map, T_LONG, T_VARCHAR};
use std::collections::HashSet;

pub(super) fn table() -> Arc<TableInfo> {
    let b = table_map_bytes("d", "t", &[(T_LONG, &[]), (T_VARCHAR, &[10, 0]), (T_LONG, &[])], &[(3u8, vec![45]), names_field(&["a", "b", "c"]), (8u8, vec![2, 0])]);
    Arc::new(build_table_info(&parse_table_map(&b).unwrap(), &CollationMap::builtin(), &HashSet::new(), Default::default(), None).unwrap())
}

pub(super) fn image(vals: &[Option<&str>]) -> (Vec<u8>, Vec<(u32, u32)>) {
    let mut frag = Vec::new();
    let mut spans = Vec::new();
    for v in vals {
        match v {
            None => spans.push(ABSENT),
            Some(v) => {
                let s = frag.len() as u32;
                frag.extend_from_slice(v.as_bytes());
                spans.push((s, frag.len() as u32));
            }
        }
    }
    (frag, spans)
}

#[test]
fn minimal_update_merges_images_and_pk_fields() {
    let t = table();
    let (bf, bs) = image(&[Some("1"), None, Some("3")]);
    let (af, as_) = image(&[None, Some("\"x\""), Some("4")]);
    let cfg = OutputConfig { primary_keys: true, primary_key_columns: true, thread_id: true, server_id: true, ..Default::default() };
    let mut tx = TxBuffer::default();
    tx.push_row(100, &t, RowKind::Update, 5, Some("update t"), Some(&Image { frag: &bf, spans: &bs }), Some(&Image { frag: &af, spans: &as_ }), &cfg).unwrap();
    let mut out = Vec::new();
    let mut ends = Vec::new();
    tx.commit(&TxFields { xid: Some(9), file: "f", position: "f:4", gtid: None, server_id: 3, thread_id: Some(8), schema_id: 0 }, &cfg, &mut out, &mut ends);
    assert_eq!(ends, vec![out.len()]);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "{\"database\":\"d\",\"table\":\"t\",\"type\":\"update\",\"ts\":5,\"xid\":9,\"commit\":true,\"server_id\":3,\"thread_id\":8,\"primary_key\":[4,1],\"primary_key_columns\":[\"c\",\"a\"],\"data\":{\"a\":1,\"b\":\"x\",\"c\":4},\"old\":{\"c\":3}}\n"
    );
    assert!(tx.is_empty());
}

#[test]
fn nulls_can_be_left_out() {
    let t = table();
    let (f, s) = image(&[Some("1"), Some("null"), Some("2")]);
    let cfg = OutputConfig { nulls: false, row_query: true, ..Default::default() };
    let mut tx = TxBuffer::default();
    tx.push_row(100, &t, RowKind::Insert, 1, Some("insert \"q\""), None, Some(&Image { frag: &f, spans: &s }), &cfg).unwrap();
    let mut out = Vec::new();
    tx.commit(&TxFields { xid: None, file: "f", position: "f:4", gtid: None, server_id: 1, thread_id: None, schema_id: 0 }, &cfg, &mut out, &mut Vec::new());
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["data"], serde_json::json!({"a": 1, "c": 2}));
    assert_eq!(v["query"], "insert \"q\"");
    assert!(v.get("xid").is_none());
}

/// A transaction past the memory limit goes to disk and reads back, in parts of bounded size,
/// as exactly the lines and routing facts an in-memory commit gives.
#[test]
fn spilled_transaction_reads_back_identically_in_parts() {
    let t = table();
    let cfg = OutputConfig { row_meta: true, xoffset: true, binlog_position: true, resume_position: true, partition_columns: vec!["b".into(), "zz".into()], ..Default::default() };
    let fields = TxFields { xid: Some(77), file: "f", position: "f:123", gtid: Some("0-1-5"), server_id: 1, thread_id: None, schema_id: 0 };
    let fill = |buf: &mut TxBuffer| {
        for i in 0..500 {
            let id = i.to_string();
            let name = format!("\"name-{i}\"");
            let (f, s) = image(&[Some(&id), if i % 7 == 0 { Some("null") } else { Some(&name) }, Some("3")]);
            buf.push_row(1000 + i / 10, &t, RowKind::Insert, 5, None, None, Some(&Image { frag: &f, spans: &s }), &cfg).unwrap();
        }
    };
    let mut memory = TxBuffer::default();
    fill(&mut memory);
    assert!(!memory.is_spilled());
    let (mut want, mut want_ends) = (Vec::new(), Vec::new());
    let want_metas = memory.take_metas();
    memory.commit(&fields, &cfg, &mut want, &mut want_ends);
    // Each row carries where its own rows event starts (Maxwell's `position`); the resume
    // point is the transaction's end.
    let line15 = String::from_utf8_lossy(&want[want_ends[14]..want_ends[15]]).into_owned();
    assert!(line15.contains("\"position\":\"f:1001\"") && line15.contains("\"resume_position\":\"f:123\""), "{line15}");

    let mut disk = TxBuffer::with_limit(1000);
    fill(&mut disk);
    assert!(disk.is_spilled(), "500 rows of ~100 bytes exceed a 1000-byte limit");
    let mut rows = disk.seal().unwrap().expect("spilled");
    assert!(disk.is_empty() && !disk.is_spilled());
    assert_eq!((rows.rows(), rows.remaining()), (500, 500));
    let (mut got, mut got_ends, mut got_metas, mut parts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    while rows.remaining() > 0 {
        let (mut out, mut ends) = (Vec::new(), Vec::new());
        let (first, n) = rows.read_part(&fields, &cfg, None, 4096, &mut out, &mut ends, &mut got_metas).unwrap();
        assert!(n >= 1 && out.len() < 4096 + 200, "a part is bounded: {} bytes", out.len());
        assert_eq!(first, got_ends.len());
        got_ends.extend(ends.iter().map(|e| e + got.len()));
        got.extend_from_slice(&out);
        parts.push(n);
    }
    assert!(parts.len() > 5, "read back in several parts: {parts:?}");
    assert_eq!(String::from_utf8(got).unwrap(), String::from_utf8(want).unwrap());
    assert_eq!(got_ends, want_ends);
    assert_eq!(format!("{got_metas:?}"), format!("{want_metas:?}"));
}

/// A rolled-back (cleared) spilled transaction leaves nothing behind.
#[test]
fn clearing_drops_the_spill() {
    let t = table();
    let cfg = OutputConfig::default();
    let mut b = TxBuffer::with_limit(10);
    let (f, s) = image(&[Some("1"), Some("\"x\""), Some("2")]);
    b.push_row(100, &t, RowKind::Insert, 1, None, None, Some(&Image { frag: &f, spans: &s }), &cfg).unwrap();
    assert!(b.is_spilled() && !b.is_empty());
    b.clear();
    assert!(b.is_empty() && b.seal().unwrap().is_none());
}

#[test]
fn row_query_max_length_keeps_the_first_characters() {
    let cut = |q: &str, max| {
        let mut s = q.to_string();
        super::truncate_query(&mut s, max);
        s
    };
    // Maxwell's own example: "INSERT INTO MyTable VALUES ('foo','bar')" at 10 → "INSERT INT".
    assert_eq!(cut("INSERT INTO MyTable VALUES ('foo','bar')", 10), "INSERT INT");
    assert_eq!(cut("insert", 0), "insert");
    assert_eq!(cut("insert", 6), "insert");
    assert_eq!(cut("insert", 7), "insert");
    assert_eq!(cut("update t set s='äöü€'", 19), "update t set s='äöü");
}
