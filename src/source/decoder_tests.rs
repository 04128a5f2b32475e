use super::*;
use crate::binlog::schema::tests::{names_field, table_map_bytes};
use crate::binlog::schema::{T_LONG, T_VARCHAR};

fn raw(type_code: u8, log_pos: u32, data: &[u8]) -> RawEvent<'_> {
    RawEvent { type_code, timestamp: 1700000000, server_id: 1, log_pos, flags: 0, data }
}

fn tmap() -> Vec<u8> {
    // table id 42: `db`.`t` (id INT PRIMARY KEY, name VARCHAR(20) utf8mb4)
    table_map_bytes("db", "t", &[(T_LONG, &[]), (T_VARCHAR, &[80, 0])], &[(3u8, vec![45]), names_field(&["id", "name"]), (8u8, vec![0])])
}

/// A rows event body for table 42 with two columns, all present.
fn rows_event(rows: &[u8], update: bool) -> Vec<u8> {
    let mut b = vec![42, 0, 0, 0, 0, 0, 1, 0, 2, 0b11];
    if update {
        b.push(0b11);
    }
    b.extend_from_slice(rows);
    b
}

fn row(id: i32, name: Option<&str>) -> Vec<u8> {
    let mut b = vec![if name.is_none() { 0b10 } else { 0 }];
    b.extend_from_slice(&id.to_le_bytes());
    if let Some(n) = name {
        b.push(n.len() as u8);
        b.extend_from_slice(n.as_bytes());
    }
    b
}

fn query(sql: &str, db: &str) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&7u32.to_le_bytes()); // thread id
    b.extend_from_slice(&0u32.to_le_bytes());
    b.push(db.len() as u8);
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(db.as_bytes());
    b.push(0);
    b.extend_from_slice(sql.as_bytes());
    b
}

fn maria_gtid(seq: u64) -> Vec<u8> {
    let mut b = seq.to_le_bytes().to_vec();
    b.extend_from_slice(&0u32.to_le_bytes());
    b.push(0);
    b
}

fn decoder(output: OutputConfig, filter: &str) -> Decoder {
    let mut d = Decoder::new(DecoderConfig { output, filter: Filter::parse(filter).unwrap(), ..Default::default() }, CollationMap::builtin());
    d.start_at("mysql-bin.000001", None);
    d
}

fn lines(tx: &Transaction) -> Vec<serde_json::Value> {
    tx.json.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect()
}

fn run(d: &mut Decoder, events: &[(u8, u32, Vec<u8>)]) -> Vec<Transaction> {
    events.iter().filter_map(|(t, p, b)| d.handle(&raw(*t, *p, b)).unwrap()).collect()
}

#[test]
fn insert_update_delete_transaction() {
    let mut d = decoder(OutputConfig { binlog_position: true, gtid_position: true, xoffset: true, ..Default::default() }, "");
    let mut upd = row(1, Some("a"));
    upd.extend(row(1, Some("b")));
    let mut ins = row(1, Some("a"));
    ins.extend(row(2, None));
    let txs = run(
        &mut d,
        &[
            (ev::GTID_MARIA, 100, maria_gtid(9)),
            (ev::QUERY, 150, query("BEGIN", "db")),
            (ev::TABLE_MAP, 200, tmap()),
            (23, 300, rows_event(&ins, false)),
            (24, 400, rows_event(&upd, true)),
            (25, 500, rows_event(&row(2, None), false)),
            (ev::XID, 531, 77u64.to_le_bytes().to_vec()),
        ],
    );
    assert_eq!(txs.len(), 1);
    let tx = &txs[0];
    assert_eq!(tx.position, BinlogPosition::new("mysql-bin.000001", 531));
    assert_eq!(tx.gtid.as_deref(), Some("0-1-9"));
    assert_eq!(tx.gtid_set.as_ref().unwrap().to_string(), "0-1-9");
    assert_eq!(tx.row_ends.len(), 4);
    let l = lines(tx);
    assert_eq!(l[0]["data"], serde_json::json!({"id": 1, "name": "a"}));
    assert_eq!(l[0]["type"], "insert");
    assert_eq!(l[0]["xid"], 77);
    assert_eq!(l[0]["xoffset"], 0);
    assert_eq!(l[1]["data"], serde_json::json!({"id": 2, "name": null}));
    assert_eq!(l[2]["type"], "update");
    assert_eq!(l[2]["data"], serde_json::json!({"id": 1, "name": "b"}));
    assert_eq!(l[2]["old"], serde_json::json!({"name": "a"}));
    assert_eq!(l[3]["type"], "delete");
    assert_eq!(l[3]["commit"], true);
    assert!(l[3].get("xoffset").is_none());
    // Maxwell's `position`: where each row's rows event starts (the previous event's end).
    assert_eq!(l[0]["position"], "mysql-bin.000001:200");
    assert_eq!(l[2]["position"], "mysql-bin.000001:300");
    assert_eq!(l[3]["position"], "mysql-bin.000001:400");
    assert_eq!(l[3]["gtid"], "0-1-9");
    assert_eq!(l[3]["database"], "db");
    assert_eq!(l[3]["ts"], 1700000000);
}

#[test]
fn filters_rollback_and_empty_transactions() {
    let mut d = decoder(OutputConfig::default(), "exclude: db.*");
    let txs = run(
        &mut d,
        &[
            (ev::QUERY, 150, query("BEGIN", "db")),
            (ev::TABLE_MAP, 200, tmap()),
            (23, 300, rows_event(&row(1, Some("a")), false)),
            (ev::XID, 331, 1u64.to_le_bytes().to_vec()),
        ],
    );
    assert_eq!(txs.len(), 1, "an all-filtered transaction still reports its position");
    assert!(txs[0].json.is_empty());
    assert_eq!(txs[0].position.pos, 331);

    let mut d = decoder(OutputConfig::default(), "");
    let txs = run(
        &mut d,
        &[
            (ev::QUERY, 150, query("BEGIN", "db")),
            (ev::TABLE_MAP, 200, tmap()),
            (23, 300, rows_event(&row(1, Some("a")), false)),
            (ev::QUERY, 350, query("ROLLBACK", "db")),
        ],
    );
    assert!(txs[0].json.is_empty(), "rolled back rows are not emitted");
}

#[test]
fn column_value_filter_per_row() {
    let mut d = decoder(OutputConfig::default(), "exclude: *.*, include: db.t.name=keep");
    let mut rows = row(1, Some("keep"));
    rows.extend(row(2, Some("drop")));
    let txs = run(
        &mut d,
        &[
            (ev::QUERY, 150, query("BEGIN", "db")),
            (ev::TABLE_MAP, 200, tmap()),
            (23, 300, rows_event(&rows, false)),
            (ev::XID, 331, 1u64.to_le_bytes().to_vec()),
        ],
    );
    let l = lines(&txs[0]);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["data"]["id"], 1);
}

#[test]
fn ddl_is_standalone_and_reported() {
    let mut d = decoder(OutputConfig { ddl: true, ..Default::default() }, "");
    let txs = run(&mut d, &[(ev::GTID_MARIA, 100, maria_gtid(3)), (ev::QUERY, 190, query("CREATE TABLE t2 (i int)", "db"))]);
    assert_eq!(txs.len(), 1);
    assert!(txs[0].schema_changed);
    let l = lines(&txs[0]);
    assert_eq!(l[0]["type"], "table-create");
    assert_eq!(l[0]["database"], "db");
    assert_eq!(l[0]["table"], "t2");
    assert_eq!(txs[0].gtid_set.as_ref().unwrap().to_string(), "0-1-3");
}

#[test]
fn rows_without_table_map_is_an_error() {
    let mut d = decoder(OutputConfig::default(), "");
    let e = d.handle(&raw(23, 300, &rows_event(&row(1, None), false))).unwrap_err();
    assert!(e.to_string().contains("TABLE_MAP"), "{e}");
}

#[test]
fn truncated_row_is_an_error_naming_the_column() {
    let mut d = decoder(OutputConfig::default(), "");
    d.handle(&raw(ev::QUERY, 150, &query("BEGIN", "db"))).unwrap();
    d.handle(&raw(ev::TABLE_MAP, 200, &tmap())).unwrap();
    let mut r = row(1, Some("abc"));
    r.truncate(r.len() - 1);
    let e = d.handle(&raw(23, 300, &rows_event(&r, false))).unwrap_err();
    assert!(e.to_string().contains("`name`"), "{e}");
}

#[test]
fn rotate_sets_file_and_mysql_gtids_accumulate() {
    let mut d = decoder(OutputConfig::default(), "");
    let mut rot = 4u64.to_le_bytes().to_vec();
    rot.extend_from_slice(b"mysql-bin.000002");
    d.handle(&raw(ev::ROTATE, 0, &rot)).unwrap();
    assert_eq!(d.current_file(), "mysql-bin.000002");
    let sid = [0x3eu8; 16];
    for gno in [5u64, 6] {
        let mut g = vec![1];
        g.extend_from_slice(&sid);
        g.extend_from_slice(&gno.to_le_bytes());
        d.handle(&raw(ev::GTID_MYSQL, 100, &g)).unwrap();
        d.handle(&raw(ev::QUERY, 150, &query("BEGIN", "db"))).unwrap();
        let tx = d.handle(&raw(ev::XID, 200, &1u64.to_le_bytes())).unwrap().unwrap();
        assert_eq!(tx.gtid.unwrap(), format!("3e3e3e3e-3e3e-3e3e-3e3e-3e3e3e3e3e3e:{gno}"));
    }
    assert_eq!(d.gtid_state().unwrap().to_string(), "3e3e3e3e-3e3e-3e3e-3e3e-3e3e3e3e3e3e:5-6");
}

#[test]
fn incident_and_compressed_events_are_refused() {
    let mut d = decoder(OutputConfig::default(), "");
    assert!(matches!(d.handle(&raw(ev::INCIDENT, 9, &[])), Err(DecodeError::Incident(_))));
    let e = d.handle(&raw(169, 9, &[])).unwrap_err().to_string();
    assert!(e.contains("log_bin_compress"), "{e}");
}

/// A transaction larger than the memory limit comes out in parts whose lines, joined, are
/// exactly the whole transaction's; only the last part is a resume point.
#[test]
fn spilled_transaction_comes_out_in_parts() {
    let mut events = vec![(ev::GTID_MARIA, 100, maria_gtid(3)), (ev::QUERY, 150, query("BEGIN", "db")), (ev::TABLE_MAP, 200, tmap())];
    for chunk in 0..120u32 {
        let mut rows = Vec::new();
        for i in 0..1000 {
            rows.extend(row((chunk * 1000 + i) as i32, Some("some-name-abcdefghij")));
        }
        events.push((23, 300 + chunk, rows_event(&rows, false)));
    }
    events.push((ev::XID, 999, 5u64.to_le_bytes().to_vec()));
    let output = OutputConfig { row_meta: true, ..Default::default() };
    let whole = run(&mut decoder(output.clone(), ""), &events);
    assert_eq!((whole.len(), whole[0].row_ends.len(), whole[0].part), (1, 120_000, None));
    assert!(whole[0].ends_transaction());

    let mut d = Decoder::new(DecoderConfig { output, memory_limit: 64 << 10, ..Default::default() }, CollationMap::builtin());
    d.start_at("mysql-bin.000001", None);
    let first = run(&mut d, &events);
    assert_eq!(first.len(), 1);
    let mut parts = first;
    while let Some(p) = d.next_part().unwrap() {
        parts.push(p);
    }
    assert!(parts.len() >= 2, "{} parts", parts.len());
    let mut joined = Vec::new();
    let mut next_row = 0;
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p.part.unwrap().first_row, next_row);
        assert_eq!(p.total_rows(), 120_000);
        assert_eq!(p.row_ends.len(), p.meta.len());
        assert!(p.json.len() <= crate::encode::spill::PART_BYTES + 1024);
        assert_eq!(p.ends_transaction(), i + 1 == parts.len());
        assert_eq!((&p.position, p.gtid.as_deref(), p.xid), (&whole[0].position, Some("0-1-3"), Some(5)));
        next_row += p.row_ends.len();
        joined.extend_from_slice(&p.json);
    }
    assert_eq!(next_row, 120_000);
    assert!(joined == whole[0].json, "the parts joined differ from the whole transaction");
    assert!(d.next_part().unwrap().is_none());

    // Rolled back after spilling: nothing comes out, nothing is left to drain.
    let mut rolled = events.clone();
    *rolled.last_mut().unwrap() = (ev::QUERY, 999, query("ROLLBACK", "db"));
    let txs = run(&mut d, &rolled);
    assert_eq!((txs.len(), txs[0].row_ends.len(), txs[0].part), (1, 0, None));
    assert!(d.next_part().unwrap().is_none());
}

/// A TABLE_MAP without column names (NO_LOG) for the same table.
fn tmap_unnamed() -> Vec<u8> {
    table_map_bytes("db", "t", &[(T_LONG, &[]), (T_VARCHAR, &[80, 0])], &[])
}

fn history(ddl: &str) -> crate::binlog::history::Schema {
    let mut h = crate::binlog::history::Schema { charset: "utf8mb4".into(), ..Default::default() };
    h.apply("CREATE DATABASE db", "").unwrap();
    h.apply(ddl, "db").unwrap();
    h
}

#[test]
fn without_column_names_the_history_names_them_and_follows_ddl() {
    let mut d = decoder(OutputConfig::default(), "");
    d.set_history(history("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))"), true);
    let insert = |id| (23, 300, rows_event(&row(id, Some("x")), false));
    let txs = run(&mut d, &[(ev::QUERY, 150, query("BEGIN", "db")), (ev::TABLE_MAP, 200, tmap_unnamed()), insert(1), (ev::XID, 331, 1u64.to_le_bytes().to_vec())]);
    assert_eq!(lines(&txs[0])[0]["data"], serde_json::json!({"id": 1, "name": "x"}));
    // A rename read from the binlog renames the column in the rows after it.
    let txs = run(
        &mut d,
        &[
            (ev::QUERY, 400, query("ALTER TABLE t CHANGE name label VARCHAR(20)", "db")),
            (ev::QUERY, 450, query("BEGIN", "db")),
            (ev::TABLE_MAP, 500, tmap_unnamed()),
            insert(2),
            (ev::XID, 631, 2u64.to_le_bytes().to_vec()),
        ],
    );
    assert_eq!(lines(txs.last().unwrap())[0]["data"], serde_json::json!({"id": 2, "label": "x"}));
    // A statement the history cannot follow stops decoding when the history is needed.
    let e = d.handle(&raw(ev::QUERY, 700, &query("ALTER TABLE t FROBNICATE", "db"))).unwrap_err();
    assert!(e.to_string().contains("FROBNICATE"), "{e}");
}

#[test]
fn a_table_map_naming_columns_otherwise_than_the_history_wins_and_is_counted() {
    let mut d = decoder(OutputConfig::default(), "");
    d.set_history(history("CREATE TABLE t (id INT PRIMARY KEY, other VARCHAR(20))"), false);
    let before = crate::metrics::get().schema_mismatches.get();
    let txs = run(
        &mut d,
        &[(ev::QUERY, 150, query("BEGIN", "db")), (ev::TABLE_MAP, 200, tmap()), (23, 300, rows_event(&row(1, Some("x")), false)), (ev::XID, 331, 1u64.to_le_bytes().to_vec())],
    );
    assert_eq!(lines(&txs[0])[0]["data"], serde_json::json!({"id": 1, "name": "x"}));
    assert!(crate::metrics::get().schema_mismatches.get() > before);
}
