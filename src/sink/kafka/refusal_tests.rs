use super::*;
use crate::binlog::schema::{ColKind, Column, TableInfo};
use std::sync::Arc;

fn orders() -> RowMeta {
    let col = |name: &str| Column { name: name.into(), key_json: Vec::new(), kind: ColKind::Year };
    let table = TableInfo {
        table_id: 1,
        database: "shop".into(),
        table: "orders".into(),
        columns: vec![col("Id"), col("note"), col("region")],
        primary_key: vec![0, 2],
        head_json: Vec::new(),
        excluded: Vec::new(),
    };
    RowMeta::Row { table: Arc::new(table), kind: crate::binlog::rows::RowKind::Update, pk: vec![b"5".to_vec(), b"\"eu\"".to_vec()], partition_columns: Vec::new(), at: None }
}

#[test]
fn row_refusals_by_maxwells_names() {
    use RDKafkaErrorCode::*;
    assert_eq!(reason(MessageSizeTooLarge), Some(TOO_LARGE));
    assert_eq!(reason(InvalidRecord), Some("InvalidRecordException"));
    assert_eq!(reason(InvalidTopic), Some("InvalidTopicException"));
    assert_eq!(reason(MessageBatchTooLarge), Some("RecordBatchTooLargeException"));
    // The stream's errors are retried, whatever ignore_producer_error says.
    for code in [MessageTimedOut, NotEnoughReplicas, RequestTimedOut, TopicAuthorizationFailed, UnknownTopicOrPartition, Fenced, InvalidDifferentRecord] {
        assert_eq!(reason(code), None, "{code:?}");
    }
    assert!(suspect(InvalidDifferentRecord) && suspect(MessageSizeTooLarge) && !suspect(MessageTimedOut));
}

#[test]
fn maxwells_rule() {
    let p = |ignore, dl: Option<&str>| ProducerErrors { ignore, dead_letter_topic: dl.map(str::to_string) };
    let dl = Verdict::DeadLetter { topic: "dlq".into() };
    assert_eq!(decide(&p(true, None), TOO_LARGE), Verdict::Skip);
    assert_eq!(decide(&p(true, None), "InvalidRecordException"), Verdict::Skip);
    assert_eq!(decide(&p(false, None), TOO_LARGE), Verdict::Stop, "false loses nothing (Maxwell would skip it)");
    assert_eq!(decide(&p(false, None), "InvalidRecordException"), Verdict::Stop);
    assert_eq!(decide(&p(true, Some("dlq")), "InvalidRecordException"), dl);
    assert_eq!(decide(&p(false, Some("dlq")), TOO_LARGE), dl, "a row too large is dead-lettered whatever ignore_producer_error says");
    assert_eq!(decide(&p(false, Some("dlq")), "InvalidRecordException"), Verdict::Stop);
    assert_eq!([Verdict::Skip.metric(), dl.metric(), Verdict::Stop.metric()], ["skipped", "dead_lettered", "stuck"]);
}

#[test]
fn rows_are_named_by_their_transaction_end() {
    let r: RowRef = "mysql-bin.000003:1234#2".parse().unwrap();
    assert_eq!((r.position.to_string(), r.row), ("mysql-bin.000003:1234".to_string(), 2));
    assert_eq!(r.to_string(), "mysql-bin.000003:1234#2");
    assert!(r.is(&"mysql-bin.000003:1234".parse().unwrap(), None, 2));
    assert!(!r.is(&"mysql-bin.000003:1234".parse().unwrap(), None, 1));
    assert!(!r.is(&"mysql-bin.000004:1234".parse().unwrap(), None, 2));
    // Read from another server (its file positions differ): the GTID set names it.
    let g: GtidSet = "0-1-7".parse().unwrap();
    let r = RowRef { gtid: Some(g.clone()), ..r };
    assert!(r.is(&"other-bin.000001:99".parse().unwrap(), Some(&g), 2));
    for bad in ["mysql-bin.000003:1234", "mysql-bin.000003:1234#x", "x#1"] {
        assert!(bad.parse::<RowRef>().is_err(), "{bad}");
    }
    let mut known = Vec::new();
    remember(&mut known, Known::suspect(r.clone()));
    remember(&mut known, Known { row: r.clone(), verdict: Some(Verdict::Skip), reason: TOO_LARGE.into() });
    assert_eq!(known.len(), 1);
    assert_eq!(known[0].verdict, Some(Verdict::Skip));
}

/// Maxwell's dead-letter record (RowIdentity.toFallbackValueWithReason): database, table,
/// type, reason and the primary key columns by name; keyed as the row.
#[test]
fn dead_letter_record_in_maxwells_shape() {
    let meta = orders();
    let value = br#"{"database":"shop","table":"orders","type":"update","ts":1,"data":{"Id":5,"note":"x","region":"eu"},"old":{"note":"y"}}"#;
    let v = dead_letter_value(&meta, value, TOO_LARGE);
    assert_eq!(std::str::from_utf8(&v).unwrap(), r#"{"database":"shop","table":"orders","type":"update","reason":"RecordTooLargeException","data":{"Id":5,"region":"eu"}}"#);
    assert_eq!(dead_letter_topic("dlq_%{database}_%{table}", &meta), "dlq_shop_orders");
    let ddl = RowMeta::Ddl { database: "shop".into(), table: None, at: None };
    let v = dead_letter_value(&ddl, br#"{"type":"database-create","database":"shop"}"#, "InvalidRecordException");
    assert_eq!(std::str::from_utf8(&v).unwrap(), r#"{"database":"shop","table":null,"type":"database-create","reason":"InvalidRecordException","data":{}}"#);
    let r = RefusedRow::new("f.000001:9#3".parse().unwrap(), &meta, value, "maxwell", TOO_LARGE, "Broker: Message size too large".into());
    let text = r.to_string();
    for part in ["shop.orders", r#"{"Id":5,"region":"eu"}"#, "(update)", "row 3", "f.000001:9", "topic maxwell", TOO_LARGE] {
        assert!(text.contains(part), "{part} missing from {text}");
    }
    let stuck = StuckRow { refused: r, resolution: Some(Verdict::DeadLetter { topic: "dlq".into() }), node_id: "n1".into(), epoch: 3, at: 1 };
    let json = serde_json::to_string(&stuck).unwrap();
    assert!(json.contains(r#""resolution":{"action":"dead_letter","topic":"dlq"}"#) && json.contains(r#""row":{"position":"f.000001:9","row":3}"#), "{json}");
    assert_eq!(serde_json::from_str::<StuckRow>(&json).unwrap(), stuck);
}
