//! Unit tests of TABLE_MAP parsing and of the table description built from it.
use super::*;

/// Builds a TABLE_MAP body: (type, metadata bytes) per column, then optional metadata.
pub fn table_map_bytes(db: &str, table: &str, cols: &[(u8, &[u8])], optional: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut b = vec![42, 0, 0, 0, 0, 0, 1, 0];
    b.push(db.len() as u8);
    b.extend_from_slice(db.as_bytes());
    b.push(0);
    b.push(table.len() as u8);
    b.extend_from_slice(table.as_bytes());
    b.push(0);
    b.push(cols.len() as u8);
    b.extend(cols.iter().map(|c| c.0));
    let meta: Vec<u8> = cols.iter().flat_map(|c| c.1.iter().copied()).collect();
    b.push(meta.len() as u8);
    b.extend_from_slice(&meta);
    b.extend(std::iter::repeat_n(0xffu8, cols.len().div_ceil(8)));
    for (t, v) in optional {
        b.push(*t);
        b.push(v.len() as u8);
        b.extend_from_slice(v);
    }
    b
}

pub fn names_field(names: &[&str]) -> (u8, Vec<u8>) {
    let mut v = Vec::new();
    for n in names {
        v.push(n.len() as u8);
        v.extend_from_slice(n.as_bytes());
    }
    (4, v)
}

#[test]
fn builds_kinds_signedness_charsets_enum_and_pk() {
    let cols: &[(u8, &[u8])] = &[
        (T_LONG, &[]),
        (T_INT24, &[]),
        (T_VARCHAR, &[0x2c, 0x01]),                // varchar(300) → 2-byte length
        (T_STRING, &[T_ENUM, 1]),                  // enum
        (T_BLOB, &[4]),                            // longtext
        (T_STRING, &[0xfe, 40]),                   // char(40)
    ];
    let opt = vec![
        (1u8, vec![0b1000_0000]),                 // first numeric unsigned
        (3u8, vec![28, 45, 63]),                  // gbk, utf8mb4, binary for 3 char cols
        names_field(&["id", "m", "v", "e", "j", "c"]),
        (6u8, vec![1, 3, b'f', b'o', b'o']),
        (11u8, vec![45]),
        (8u8, vec![5, 0]),                        // PRIMARY KEY(c, id)
    ];
    let bytes = table_map_bytes("db", "t", cols, &opt);
    let raw = parse_table_map(&bytes).unwrap();
    let json: HashSet<_> = [("db".to_string(), "t".to_string(), "j".to_string())].into();
    let t = build_table_info(&raw, &CollationMap::builtin(), &json, MetadataRules::default(), None).unwrap();
    assert_eq!(t.table_id, 42);
    assert_eq!(t.columns[0].kind, ColKind::Int { bytes: 4, unsigned: true });
    assert_eq!(t.columns[1].kind, ColKind::Int { bytes: 3, unsigned: false });
    assert!(matches!(t.columns[2].kind, ColKind::Str { len_bytes: 2, charset: Charset::Encoding(_) }));
    assert_eq!(t.columns[3].kind, ColKind::Enum { pack: 1, values: vec!["foo".into()] });
    assert_eq!(t.columns[4].kind, ColKind::JsonText { len_bytes: 4 });
    assert_eq!(t.columns[5].kind, ColKind::Str { len_bytes: 1, charset: Charset::Binary });
    assert_eq!(t.primary_key, vec![5, 0]);
    assert_eq!(t.head_json, br#""database":"db","table":"t""#.to_vec());
    assert_eq!(t.columns[0].key_json, br#""id":"#.to_vec());
}

#[test]
fn refuses_minimal_metadata_and_unknown_types() {
    let bytes = table_map_bytes("db", "t", &[(T_LONG, &[])], &[]);
    let e = build_table_info(&parse_table_map(&bytes).unwrap(), &CollationMap::builtin(), &HashSet::new(), MetadataRules::default(), None).unwrap_err();
    assert!(e.to_string().contains("binlog_row_metadata=FULL"), "{e}");
    let bytes = table_map_bytes("db", "t", &[(20, &[])], &[names_field(&["x"])]);
    let e = build_table_info(&parse_table_map(&bytes).unwrap(), &CollationMap::builtin(), &HashSet::new(), MetadataRules::default(), None).unwrap_err();
    assert!(e.to_string().contains("column type 20") && e.to_string().contains("`x`"), "{e}");
}

/// MariaDB gives YEAR a signedness bit and GEOMETRY a charset entry; MySQL does not.
#[test]
fn family_specific_metadata_coverage() {
    let cols: &[(u8, &[u8])] = &[(T_YEAR, &[]), (T_TINY, &[]), (T_GEOMETRY, &[4]), (T_STRING, &[0xfe, 4])];
    let opt = |cs: Vec<u8>| vec![(1u8, vec![0b0100_0000]), (3u8, cs), names_field(&["y", "t", "g", "c"])];
    let maria = table_map_bytes("d", "t", cols, &opt(vec![63, 8]));
    let t = build_table_info(&parse_table_map(&maria).unwrap(), &CollationMap::builtin(), &HashSet::new(), MetadataRules { mariadb: true }, None).unwrap();
    assert_eq!(t.columns[1].kind, ColKind::Int { bytes: 1, unsigned: true });
    assert!(matches!(t.columns[3].kind, ColKind::Str { charset: Charset::Encoding(_), .. }));
    let mysql = table_map_bytes("d", "t", cols, &[(1u8, vec![0b1000_0000]), (3u8, vec![8]), names_field(&["y", "t", "g", "c"])]);
    let t = build_table_info(&parse_table_map(&mysql).unwrap(), &CollationMap::builtin(), &HashSet::new(), MetadataRules::default(), None).unwrap();
    assert_eq!(t.columns[1].kind, ColKind::Int { bytes: 1, unsigned: true });
    assert!(matches!(t.columns[3].kind, ColKind::Str { charset: Charset::Encoding(_), .. }));
}

#[test]
fn truncated_is_corrupt_not_panic() {
    let bytes = table_map_bytes("db", "t", &[(T_LONG, &[])], &[names_field(&["x"])]);
    for n in 0..bytes.len() - 3 {
        let _ = parse_table_map(&bytes[..n]).and_then(|r| build_table_info(&r, &CollationMap::builtin(), &HashSet::new(), MetadataRules::default(), None));
    }
}
