use super::*;
use crate::binlog::charset::CollationMap;
use crate::binlog::schema::tests::{names_field, table_map_bytes};
use crate::binlog::schema::{build_table_info, parse_table_map, T_LONG, T_VARCHAR};
use std::collections::HashSet;

fn table() -> Arc<TableInfo> {
    let b = table_map_bytes("d", "t", &[(T_LONG, &[]), (T_VARCHAR, &[10, 0]), (T_LONG, &[])], &[(3u8, vec![45]), names_field(&["a", "b", "c"]), (8u8, vec![2, 0])]);
    Arc::new(build_table_info(&parse_table_map(&b).unwrap(), &CollationMap::builtin(), &HashSet::new(), Default::default()).unwrap())
}

fn image(vals: &[Option<&str>]) -> (Vec<u8>, Vec<(u32, u32)>) {
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
    tx.push_row(&t, RowKind::Update, 5, Some("update t"), Some(&Image { frag: &bf, spans: &bs }), Some(&Image { frag: &af, spans: &as_ }), &cfg);
    let mut out = Vec::new();
    let mut ends = Vec::new();
    tx.commit(&TxFields { xid: Some(9), position: "f:4", gtid: None, server_id: 3, thread_id: Some(8) }, &cfg, &mut out, &mut ends);
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
    tx.push_row(&t, RowKind::Insert, 1, Some("insert \"q\""), None, Some(&Image { frag: &f, spans: &s }), &cfg);
    let mut out = Vec::new();
    tx.commit(&TxFields { xid: None, position: "f:4", gtid: None, server_id: 1, thread_id: None }, &cfg, &mut out, &mut Vec::new());
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["data"], serde_json::json!({"a": 1, "c": 2}));
    assert_eq!(v["query"], "insert \"q\"");
    assert!(v.get("xid").is_none());
}
