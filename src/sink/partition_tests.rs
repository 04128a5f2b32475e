use super::*;
use crate::binlog::charset::CollationMap;
use crate::binlog::schema::tests::{names_field, table_map_bytes};
use crate::binlog::schema::{build_table_info, parse_table_map, TableInfo, T_LONG, T_VARCHAR};
use std::collections::HashSet;
use std::sync::Arc;

/// Vectors computed independently: Java's `String.hashCode` formula and Python's `mmh3`
/// (MurmurHash3 x86_32, seed 25342), each followed by Java's `Math.abs(h % 7)`.
const VECTORS: &[(&str, i32, i32, i32, i32)] = &[
    ("hello", 99162322, 0, -253165374, 0),
    ("shop", 3529462, 6, 226172948, 1),
    ("orders", -1008770331, 2, 190045300, 4),
    ("test_db_1", -1180602307, 3, -167199057, 4),
    ("42", 1662, 3, -1185823928, 2),
    ("données", 1838982124, 0, 435846665, 2),
    ("😀x", 54959989, 0, 342818076, 6),
    ("", 0, 0, 213229777, 5),
];

#[test]
fn hashes_match_maxwell() {
    for &(s, jh, jp, mh, mp) in VECTORS {
        assert_eq!(java_hash(s), jh, "java hash of {s:?}");
        assert_eq!(partition_for(s, 7, HashFn::Default), jp, "default partition of {s:?}");
        assert_eq!(murmur3_32(s.as_bytes(), MURMUR_SEED), mh, "murmur3 of {s:?}");
        assert_eq!(partition_for(s, 7, HashFn::Murmur3), mp, "murmur3 partition of {s:?}");
    }
    // The classic MurmurHash3 test vector, seed 0.
    assert_eq!(murmur3_32(b"hello", 0) as u32, 0x248b_fa47);
}

fn table(pk: Vec<u8>) -> Arc<TableInfo> {
    let b = table_map_bytes("shop", "Orders", &[(T_LONG, &[]), (T_VARCHAR, &[10, 0])], &[(3u8, vec![45]), names_field(&["ID", "sku"]), (8u8, pk)]);
    Arc::new(build_table_info(&parse_table_map(&b).unwrap(), &CollationMap::builtin(), &HashSet::new(), Default::default(), None).unwrap())
}

fn routing(by: PartitionBy, key_format: KeyFormat) -> Routing {
    Routing {
        topic: "cdc_%{database}_%{table}".into(),
        ddl_topic: "ddl".into(),
        by,
        fallback: PartitionBy::Table,
        columns: vec!["sku".into()],
        hash: HashFn::Default,
        key_format,
    }
}

fn row(pk: Vec<u8>, pkv: &[&str], col: Option<&str>) -> RowMeta {
    RowMeta::Row { table: table(pk), kind: crate::binlog::rows::RowKind::Insert, pk: pkv.iter().map(|v| v.as_bytes().to_vec()).collect(), partition_columns: vec![col.map(|c| c.as_bytes().to_vec())], at: None }
}

#[test]
fn partition_strings() {
    let m = row(vec![0, 1], &["12", "\"ab\""], Some("\"X-1\""));
    assert_eq!(routing(PartitionBy::Database, KeyFormat::Hash).partition_string(&m, TxIds::xid(Some(5))), "shop");
    assert_eq!(routing(PartitionBy::Table, KeyFormat::Hash).partition_string(&m, TxIds::xid(Some(5))), "Orders");
    assert_eq!(routing(PartitionBy::PrimaryKey, KeyFormat::Hash).partition_string(&m, TxIds::xid(Some(5))), "12ab");
    assert_eq!(routing(PartitionBy::TransactionId, KeyFormat::Hash).partition_string(&m, TxIds::xid(Some(5))), "5");
    assert_eq!(routing(PartitionBy::Column, KeyFormat::Hash).partition_string(&m, TxIds::xid(Some(5))), "X-1");
    let no_col = row(vec![0], &["12"], None);
    assert_eq!(routing(PartitionBy::Column, KeyFormat::Hash).partition_string(&no_col, TxIds::xid(None)), "Orders", "falls back");
    let no_pk = row(vec![], &[], None);
    assert_eq!(routing(PartitionBy::PrimaryKey, KeyFormat::Hash).partition_string(&no_pk, TxIds::xid(None)), "shopOrders");
    let null_pk = row(vec![0], &["null"], None);
    assert_eq!(routing(PartitionBy::PrimaryKey, KeyFormat::Hash).partition_string(&null_pk, TxIds::xid(None)), "None");
    let r = routing(PartitionBy::Random, KeyFormat::Hash).partition_string(&m, TxIds::xid(None));
    assert_eq!(r.len(), 10);
}

/// Newer Maxwell's `thread_id` (`String.valueOf(row.getThreadId())`: "null" when unknown), and
/// `transaction_id` or `thread_id` as the fallback of `column`.
#[test]
fn thread_id_partition_strings() {
    let m = row(vec![0], &["12"], None);
    let ids = TxIds { xid: Some(5), thread_id: Some(4711) };
    assert_eq!(routing(PartitionBy::ThreadId, KeyFormat::Hash).partition_string(&m, ids), "4711");
    assert_eq!(routing(PartitionBy::ThreadId, KeyFormat::Hash).partition_string(&m, TxIds::xid(Some(5))), "null");
    let mut by_col = routing(PartitionBy::Column, KeyFormat::Hash);
    by_col.fallback = PartitionBy::TransactionId;
    assert_eq!(by_col.partition_string(&m, ids), "5");
    by_col.fallback = PartitionBy::ThreadId;
    assert_eq!(by_col.partition_string(&m, ids), "4711");
    // Rows of one thread share a partition, whatever their table.
    let other = RowMeta::Row { table: table(vec![]), kind: crate::binlog::rows::RowKind::Delete, pk: vec![], partition_columns: vec![None], at: None };
    let r = routing(PartitionBy::ThreadId, KeyFormat::Hash);
    assert_eq!(partition_for(&r.partition_string(&m, ids), 7, HashFn::Default), partition_for(&r.partition_string(&other, ids), 7, HashFn::Default));
    assert_eq!(partition_for("4711", 7, HashFn::Default), (java_hash("4711") % 7).abs());
}

#[test]
fn keys_and_topics() {
    let m = row(vec![0], &["12"], None);
    let h = routing(PartitionBy::Database, KeyFormat::Hash);
    assert_eq!(String::from_utf8(h.key(&m)).unwrap(), r#"{"database":"shop","table":"Orders","pk.id":12}"#);
    let a = routing(PartitionBy::Database, KeyFormat::Array);
    assert_eq!(String::from_utf8(a.key(&m)).unwrap(), r#"["shop","Orders",[{"id":12}]]"#);
    let no_pk = row(vec![], &[], None);
    let k: serde_json::Value = serde_json::from_slice(&h.key(&no_pk)).unwrap();
    assert_eq!(k["_uuid"].as_str().unwrap().len(), 36);
    assert_eq!(h.topic_for(&m), "cdc_shop_Orders");
    let ddl = RowMeta::Ddl { database: "shop".into(), table: Some("t".into()), at: None };
    assert_eq!(h.topic_for(&ddl), "ddl");
    assert_eq!(h.partition_string(&ddl, TxIds::xid(None)), "shop");
    // Maxwell's %{type}.
    let mut by_type = routing(PartitionBy::Database, KeyFormat::Hash);
    by_type.topic = "%{database}.%{type}".into();
    by_type.ddl_topic = "%{database}_%{type}".into();
    assert_eq!(by_type.topic_for(&m), "shop.insert");
    assert_eq!(by_type.topic_for(&ddl), "shop_ddl");
}

/// Kafka's murmur2 partitioning (Maxwell's dead-letter records) as librdkafka's own
/// Java-compatible `murmur2` partitioner computes it.
#[test]
fn murmur2_matches_librdkafka() {
    for key in [&b""[..], b"a", b"ab", b"abc", b"abcd", b"kafka", br#"{"database":"shop","table":"orders","pk.id":5}"#, "données😀".as_bytes()] {
        for n in [1, 3, 7, 12] {
            // SAFETY: librdkafka's partitioner reads `keylen` bytes of `key` and nothing else.
            let theirs = unsafe { rdkafka::bindings::rd_kafka_msg_partitioner_murmur2(std::ptr::null(), key.as_ptr().cast(), key.len(), n, std::ptr::null_mut(), std::ptr::null_mut()) };
            assert_eq!(murmur2_partition(key, n), theirs, "{key:?} over {n}");
        }
    }
}
