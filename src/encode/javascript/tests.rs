//! The row API, one behaviour per test, on transactions written as the encoder writes them.

use super::*;
use crate::binlog::rows::RowKind;
use crate::binlog::schema::{ColKind, Column, TableInfo};
use crate::encode::Part;
use serde_json::Value;

fn table(db: &str, name: &str, cols: &[&str], pk: &[usize]) -> Arc<TableInfo> {
    let columns = cols
        .iter()
        .map(|c| {
            let mut key_json = Vec::new();
            crate::binlog::json::write_json_str(&mut key_json, c);
            key_json.push(b':');
            Column { name: c.to_string(), key_json, kind: ColKind::Year }
        })
        .collect();
    let head_json = format!("\"database\":\"{db}\",\"table\":\"{name}\"").into_bytes();
    Arc::new(TableInfo { table_id: 1, database: db.into(), table: name.into(), columns, primary_key: pk.to_vec(), head_json, excluded: Vec::new() })
}

fn users() -> Arc<TableInfo> {
    table("shop", "users", &["id", "name", "big", "price"], &[0])
}

/// A transaction of `lines` (rows of `t`, kinds as given), ending at binlog.000003:900.
fn tx(t: &Arc<TableInfo>, rows: &[(RowKind, &str)]) -> Transaction {
    let mut x = Transaction {
        position: BinlogPosition::new("binlog.000003", 900),
        xid: Some(77),
        server_id: 5,
        thread_id: Some(12),
        gtid: Some("0-5-31".into()),
        ..Default::default()
    };
    for (i, (kind, line)) in rows.iter().enumerate() {
        x.json.extend_from_slice(line.as_bytes());
        x.json.push(b'\n');
        x.row_ends.push(x.json.len());
        let v: Value = serde_json::from_str(line).unwrap();
        let pk = t.primary_key.iter().map(|&c| v["data"][&t.columns[c].name].to_string().into_bytes()).collect();
        x.meta.push(RowMeta::Row { table: t.clone(), kind: *kind, pk, partition_columns: vec![], at: Some(400 + i as u64) });
    }
    x
}

fn insert(id: u32, name: &str) -> String {
    format!(r#"{{"database":"shop","table":"users","type":"insert","ts":1700000000,"xid":77,"data":{{"id":{id},"name":"{name}","big":12345678901234567891,"price":1.10}}}}"#)
}

fn script(src: &str) -> Script {
    script_with(src, OutputConfig { row_meta: true, ..Default::default() }, false)
}

fn script_with(src: &str, out: OutputConfig, gtid_mode: bool) -> Script {
    let js = JavascriptConfig { path: "filter.js".into(), source: src.into() };
    Script::new(&js, out, gtid_mode, None).unwrap()
}

fn lines(t: &Transaction) -> Vec<String> {
    let mut start = 0;
    t.row_ends
        .iter()
        .map(|&e| {
            let l = String::from_utf8(t.json[start..e - 1].to_vec()).unwrap();
            start = e;
            l
        })
        .collect()
}

fn json(t: &Transaction, i: usize) -> Value {
    serde_json::from_str(&lines(t)[i]).unwrap()
}

#[test]
fn a_script_that_changes_nothing_leaves_the_bytes_alone() {
    let t = users();
    let mut x = tx(&t, &[(RowKind::Insert, &insert(1, "ann")), (RowKind::Insert, &insert(2, "bob"))]);
    let before = x.json.clone();
    let mut s = script("function process_row(row) { var n = row.data.get('name'); row.data.big; }");
    s.process(&mut x).unwrap();
    assert_eq!(x.json, before);
    assert_eq!((x.row_ends.len(), x.meta.len(), x.routes.len()), (2, 2, 0));
}

#[test]
fn suppressed_rows_are_left_out_and_the_transaction_still_ends_where_it_did() {
    let t = users();
    let mut x = tx(&t, &[(RowKind::Insert, &insert(1, "ann")), (RowKind::Insert, &insert(2, "xyzzy")), (RowKind::Insert, &insert(3, "cy"))]);
    let mut s = script("function process_row(row) { if (row.data.name == 'xyzzy') row.suppress(); }");
    s.process(&mut x).unwrap();
    let names: Vec<Value> = (0..2).map(|i| json(&x, i)["data"]["name"].clone()).collect();
    assert_eq!(names, ["ann", "cy"]);
    assert_eq!((x.meta.len(), x.position.to_string(), x.ends_transaction(), s.suppressed), (2, "binlog.000003:900".into(), true, 1));
    let all = &mut tx(&t, &[(RowKind::Insert, &insert(1, "a"))]);
    script("function process_row(row) { row.suppress(); }").process(all).unwrap();
    assert!(all.row_ends.is_empty() && all.json.is_empty() && all.ends_transaction());
}

#[test]
fn data_changes_show_in_the_json_and_untouched_values_keep_their_bytes() {
    let t = users();
    let mut x = tx(&t, &[(RowKind::Insert, &insert(1, "ann"))]);
    let mut s = script(
        "function process_row(row) { row.data.put('name', row.data.get('name').toUpperCase()); row.data.added = [1,2,3,'b',{a:'b'}]; row.data.remove('nothing'); }",
    );
    s.process(&mut x).unwrap();
    assert_eq!(
        lines(&x)[0],
        r#"{"database":"shop","table":"users","type":"insert","ts":1700000000,"xid":77,"data":{"id":1,"name":"ANN","big":12345678901234567891,"price":1.10,"added":[1,2,3,"b",{"a":"b"}]}}"#
    );
    let mut x = tx(&t, &[(RowKind::Insert, &insert(1, "ann"))]);
    script("function process_row(row) { delete row.data.price; row.data.remove('big'); }").process(&mut x).unwrap();
    assert_eq!(json(&x, 0)["data"], serde_json::json!({"id": 1, "name": "ann"}));
}

#[test]
fn maxwell_map_methods_and_plain_properties_both_work() {
    let t = users();
    let mut x = tx(&t, &[(RowKind::Insert, &insert(1, "ann"))]);
    let src = r#"function process_row(row) {
        var d = row.data, keys = [];
        for (var k in d) keys.push(k);
        var e = row.extra_attributes;
        e.put('keys', d.keySet().join(','));
        e.forin = keys.join(',');
        e.size = d.size();
        e.has = d.containsKey('name') && !d.containsKey('nope');
        e.missing = d.get('nope');
        e.json = JSON.stringify(d);
        e.values = d.values().length;
    }"#;
    script(src).process(&mut x).unwrap();
    let v = json(&x, 0);
    assert_eq!((v["keys"].as_str(), v["forin"].as_str(), v["size"].as_u64()), (Some("id,name,big,price"), Some("id,name,big,price"), Some(4)));
    assert_eq!((v["has"].as_bool(), v["missing"].is_null(), v["values"].as_u64()), (Some(true), true, Some(4)));
    assert!(v["json"].as_str().unwrap().starts_with(r#"{"id":1,"name":"ann","#));
}

#[test]
fn the_rows_facts_are_maxwells() {
    let t = users();
    let mut x = tx(&t, &[(RowKind::Update, &insert(1, "ann").replace("insert", "update"))]);
    let src = r#"function process_row(row) {
        var e = row.extra_attributes;
        e.put('f', [row.database, row.table, row.type, row.xid, row.server_id, row.thread_id, row.position, row.timestamp, row.query]);
    }"#;
    script(src).process(&mut x).unwrap();
    assert_eq!(json(&x, 0)["f"], serde_json::json!(["shop", "users", "update", 77, 5, 12, "binlog.000003:400", 1700000000, null]));
    // With gtid_mode the position is the transaction's GTID, as Maxwell's BinlogPosition gives it.
    let mut x = tx(&t, &[(RowKind::Insert, &insert(1, "ann"))]);
    script_with(src, OutputConfig { row_meta: true, ..Default::default() }, true).process(&mut x).unwrap();
    assert_eq!(json(&x, 0)["f"][6], "0-5-31");
}

#[test]
fn extra_attributes_go_before_the_key_and_data_and_may_not_take_a_fields_name() {
    let t = users();
    let line = r#"{"database":"shop","table":"users","type":"insert","ts":1,"xid":77,"commit":true,"server_id":5,"primary_key":[1],"data":{"id":1,"name":"a","big":1,"price":1}}"#;
    let mut x = tx(&t, &[(RowKind::Insert, line)]);
    script("function process_row(row) { row.extra_attributes.put('hello', 'world'); row.extra_attributes.n = 2; }").process(&mut x).unwrap();
    assert_eq!(lines(&x)[0], line.replace(r#""server_id":5,"#, r#""server_id":5,"hello":"world","n":2,"#));
    let mut x = tx(&t, &[(RowKind::Insert, line)]);
    let e = script("function process_row(row) { row.extra_attributes.put('data', 1); }").process(&mut x).unwrap_err();
    assert!(e.to_string().contains("extra_attributes key `data` is one of Maxwell's fields"), "{e}");
}

#[test]
fn a_changed_key_column_changes_primary_key_and_the_routing_facts() {
    let t = users();
    let line = r#"{"database":"shop","table":"users","type":"insert","ts":1,"primary_key":[1],"data":{"id":1,"name":"a"}}"#;
    let mut x = tx(&t, &[(RowKind::Insert, line)]);
    let out = OutputConfig { row_meta: true, partition_columns: vec!["name".into()], ..Default::default() };
    script_with("function process_row(row) { row.data.id = 1000; row.data.name = 'z'; }", out, false).process(&mut x).unwrap();
    assert_eq!(json(&x, 0)["primary_key"], serde_json::json!([1000]));
    let RowMeta::Row { pk, partition_columns, .. } = &x.meta[0] else { panic!() };
    assert_eq!((pk.clone(), partition_columns.clone()), (vec![b"1000".to_vec()], vec![Some(b"\"z\"".to_vec())]));
}

#[test]
fn old_data_is_readable_and_writable() {
    let t = users();
    let line = r#"{"database":"shop","table":"users","type":"update","ts":1,"data":{"id":1,"name":"b"},"old":{"name":"a"}}"#;
    let mut x = tx(&t, &[(RowKind::Update, line)]);
    script("function process_row(row) { row.data.was = row.old_data.get('name'); row.old_data.remove('name'); }").process(&mut x).unwrap();
    assert_eq!(lines(&x)[0], r#"{"database":"shop","table":"users","type":"update","ts":1,"data":{"id":1,"name":"b","was":"a"}}"#);
    let mut x = tx(&t, &[(RowKind::Insert, r#"{"database":"shop","table":"users","type":"insert","ts":1,"data":{"id":1}}"#)]);
    script("function process_row(row) { row.old_data.put('id', 0); }").process(&mut x).unwrap();
    assert_eq!(json(&x, 0)["old"], serde_json::json!({"id": 0}));
}

#[test]
fn nulls_are_left_out_when_output_nulls_is_off() {
    let t = users();
    let out = OutputConfig { row_meta: true, nulls: false, ..Default::default() };
    let mut x = tx(&t, &[(RowKind::Insert, &insert(1, "ann"))]);
    script_with("function process_row(row) { row.data.name = null; row.data.undef = undefined; }", out, false).process(&mut x).unwrap();
    assert_eq!(json(&x, 0)["data"], serde_json::json!({"id": 1, "big": 12345678901234567891u64, "price": 1.10}));
}

#[test]
fn topic_and_partition_string_overrides_route_the_row() {
    let t = users();
    let mut x = tx(&t, &[(RowKind::Insert, &insert(1, "a")), (RowKind::Insert, &insert(2, "b")), (RowKind::Insert, &insert(3, "c"))]);
    let src = "function process_row(row) { if (row.data.id == 1) row.suppress(); if (row.data.id == 2) row.kafka_topic = 'audit'; if (row.data.id == 3) row.partition_string = 'test_part_string'; }";
    script(src).process(&mut x).unwrap();
    let audit = Route { row: 0, topic: Some("audit".into()), partition: None };
    let part = Route { row: 1, topic: None, partition: Some("test_part_string".into()) };
    assert_eq!(x.routes, vec![audit, part]);
    assert_eq!((x.route(0).unwrap().topic.as_deref(), x.route(2)), (Some("audit"), None));
}

fn ddl_tx(line: &str) -> Transaction {
    let mut x = Transaction { position: BinlogPosition::new("binlog.000003", 900), ..Default::default() };
    x.json = format!("{line}\n").into_bytes();
    x.row_ends.push(x.json.len());
    x.meta.push(RowMeta::Ddl { database: "shop".into(), table: Some("users".into()), at: Some(650) });
    x
}

const DDL: &str = r#"{"type":"table-drop","database":"shop","table":"users","ts":1700000000000,"sql":"DROP TABLE users","position":"binlog.000003:650"}"#;

#[test]
fn process_ddl_sees_the_record_and_may_suppress_it_or_add_attributes() {
    let src = r#"function process_ddl(ddl) {
        var c = ddl.change; c.type = 'changed';
        ddl.extra_attributes['seen'] = [ddl.type, ddl.database, ddl.table, ddl.sql, ddl.timestamp, ddl.position, ddl.change.type, Object.keys(ddl.change).join(',')];
        ddl.kafka_topic = 'ignored';
    }"#;
    let mut x = ddl_tx(DDL);
    script(src).process(&mut x).unwrap();
    let seen = r#""seen":["table-drop","shop","users","DROP TABLE users",1700000000,"binlog.000003:650","table-drop","type,database,table"]"#;
    assert_eq!(lines(&x)[0], DDL.replace(r#""DROP TABLE users","#, &format!(r#""DROP TABLE users",{seen},"#)));
    assert!(x.routes.is_empty(), "Maxwell sends DDL records to ddl_kafka_topic whatever the script says");
    let mut x = ddl_tx(DDL);
    script("function process_ddl(ddl) { if (ddl.table == 'users') ddl.suppress(); }").process(&mut x).unwrap();
    assert!(x.row_ends.is_empty());
    // process_row is not called on DDL records.
    let mut x = ddl_tx(DDL);
    script("function process_row(row) { row.suppress(); }").process(&mut x).unwrap();
    assert_eq!(x.row_ends.len(), 1);
}

#[test]
fn a_script_that_does_not_compile_is_named_by_file_and_line() {
    let js = JavascriptConfig { path: "/etc/maxwell/filter.js".into(), source: "function process_row(row) {\n  if (row.data {\n}\n".into() };
    let e = Script::check(&js).unwrap_err().to_string();
    assert!(e.starts_with("javascript /etc/maxwell/filter.js: SyntaxError"), "{e}");
    assert!(e.contains("filter.js:2"), "{e}");
    let js = JavascriptConfig { path: "f.js".into(), source: "var process_row = 3;".into() };
    assert_eq!(Script::check(&js).unwrap_err().to_string(), "javascript f.js: process_row must be a function");
}

#[test]
fn an_exception_names_the_row_and_the_scripts_line_and_nothing_is_applied() {
    let t = users();
    let mut x = tx(&t, &[(RowKind::Insert, &insert(1, "a")), (RowKind::Delete, &insert(42, "b").replace("insert", "delete"))]);
    let before = x.json.clone();
    let src = "function process_row(row) {\n  row.suppress();\n  if (row.data.id == 42) row.data.nope.x = 1;\n}";
    let e = script(src).process(&mut x).unwrap_err();
    let ScriptError::Runtime { call, row, detail, .. } = &e else { panic!("{e}") };
    assert_eq!(*call, "row");
    assert_eq!(row, "the delete row of `shop`.`users` with primary key [42] at binlog.000003:401 (row 1 of the transaction ending at binlog.000003:900)");
    assert!(detail.starts_with("TypeError") && detail.contains("filter.js:3"), "{detail}");
    assert_eq!(x.json, before, "the failed transaction is left as it was");
}

#[test]
fn a_running_script_is_interrupted_when_the_stream_stops() {
    let stop = Arc::new(AtomicBool::new(false));
    let js = JavascriptConfig { path: "loop.js".into(), source: "function process_row(row) { while (true) {} }".into() };
    let mut s = Script::new(&js, OutputConfig { row_meta: true, ..Default::default() }, false, Some(stop.clone())).unwrap();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let e = s.process(&mut tx(&users(), &[(RowKind::Insert, &insert(1, "a"))])).unwrap_err();
    assert!(matches!(&e, ScriptError::Runtime { detail, .. } if detail.contains("interrupted")), "{e}");
}

#[test]
fn parts_of_a_split_transaction_keep_contiguous_indexes() {
    let t = users();
    let mut s = script("function process_row(row) { if (row.data.id % 2 == 0) row.suppress(); }");
    // Ten rows in parts of 4, 4 and 2; even ids are suppressed.
    let mut seen = Vec::new();
    for (first, n) in [(0usize, 4usize), (4, 4), (8, 2)] {
        let rows: Vec<(RowKind, String)> = (first..first + n).map(|i| (RowKind::Insert, insert(i as u32 + 1, "x"))).collect();
        let refs: Vec<(RowKind, &str)> = rows.iter().map(|(k, l)| (*k, l.as_str())).collect();
        let mut p = tx(&t, &refs);
        p.part = Some(Part { first_row: first, total_rows: 10 });
        s.process(&mut p).unwrap();
        seen.push((p.first_row(), p.row_ends.len(), p.total_rows(), p.ends_transaction()));
    }
    assert_eq!(seen, [(0, 2, 8, false), (2, 2, 6, false), (4, 1, 5, true)]);
}

#[test]
fn only_bootstrap_insert_records_go_through_process_row() {
    let t = users();
    let boot = |kind: &str| {
        let mut x = tx(&t, &[(RowKind::Insert, &insert(1, "a").replace("\"insert\"", &format!("\"{kind}\"")))]);
        x.bootstrap = Some(crate::binlog::position::BootstrapState::new(1, "shop", "users"));
        x.xid = None;
        if let RowMeta::Row { at, .. } = &mut x.meta[0] {
            *at = None;
        }
        x
    };
    let src = "function process_row(row) { row.extra_attributes.t = row.type; row.extra_attributes.p = row.position; }";
    let mut x = boot("bootstrap-insert");
    script(src).process(&mut x).unwrap();
    let v = json(&x, 0);
    assert_eq!((v["t"].as_str(), v["p"].is_null()), (Some("bootstrap-insert"), true));
    for kind in ["bootstrap-start", "bootstrap-complete"] {
        let mut x = boot(kind);
        let before = x.json.clone();
        script(src).process(&mut x).unwrap();
        assert_eq!(x.json, before);
    }
}

#[test]
fn maxwells_own_filter_test_gives_maxwells_rows() {
    // Maxwell's src/test/resources/sql/json/filter.javascript on its test_javascript_filters rows.
    let src = r#"function process_row(rowmap) {
	if ( rowmap.data.a ) {
		if ( rowmap.data.a.match(/xyzzy/) )
			rowmap.suppress();
		rowmap.data.a = rowmap.data.a.toUpperCase();
	}
	if ( rowmap.query && rowmap.query.match(/mangle/) ) {
		rowmap.query = "mangled";
	}
	rowmap.partition_string = "test_part_string";
}"#;
    let t = table("test", "test_table", &["id", "a", "b"], &[0]);
    let row = |q: &str, id: u32, a: &str, b: &str| format!(r#"{{"database":"test","table":"test_table",{q}"type":"insert","ts":1,"xid":9,"commit":true,"data":{{"id":{id},"a":"{a}","b":{b}}}}}"#);
    let mut x = tx(&t, &[(RowKind::Insert, &row("", 1, "xyzzy", "null")), (RowKind::Insert, &row("", 2, "big big words", "\"bvalue2\""))]);
    let out = OutputConfig { row_meta: true, row_query: true, ..Default::default() };
    script_with(src, out.clone(), false).process(&mut x).unwrap();
    assert_eq!(lines(&x), [row("", 2, "BIG BIG WORDS", "\"bvalue2\"")]);
    let mut x = tx(&t, &[(RowKind::Insert, &row(r#""query":"insert into test_table set a='mangle'","#, 3, "mangle", "null"))]);
    script_with(src, out, false).process(&mut x).unwrap();
    assert_eq!(lines(&x), [row(r#""query":"mangled","#, 3, "MANGLE", "null")]);
    assert_eq!(x.routes[0].partition.as_deref(), Some("test_part_string"));
}

#[test]
fn logger_formats_like_slf4j() {
    let mut x = tx(&users(), &[(RowKind::Insert, &insert(1, "a"))]);
    script("function process_row(row) { logger.info('row {} of {}', row.data.id, row.table); logger.warn(row.data); logger.debug('x'); }").process(&mut x).unwrap();
}

#[test]
fn a_row_kept_after_its_call_cannot_be_read() {
    let mut x = tx(&users(), &[(RowKind::Insert, &insert(1, "a")), (RowKind::Insert, &insert(2, "b"))]);
    let e = script("var last; function process_row(row) { if (last) last.data.get('id'); last = row; }").process(&mut x).unwrap_err();
    assert!(e.to_string().contains("a row's data can be read only while process_row or process_ddl runs on it"), "{e}");
}
