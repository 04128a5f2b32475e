use super::super::{ColumnDef, DatabaseDef, Schema, TableDef};
use super::{Change, DdlError};

/// A schema with database `shop` (utf8mb4) holding `orders (id int PK, note varchar latin1)`.
fn schema() -> Schema {
    let mut s = Schema { charset: "latin1".into(), ..Default::default() };
    s.apply("CREATE DATABASE shop CHARACTER SET utf8mb4", "").unwrap();
    s.apply("CREATE TABLE orders (id INT NOT NULL, note VARCHAR(10) CHARACTER SET latin1, PRIMARY KEY (id))", "shop")
        .unwrap();
    s
}

fn table<'a>(s: &'a Schema, db: &str, t: &str) -> &'a TableDef {
    s.table(db, t).unwrap_or_else(|| panic!("no {db}.{t}"))
}

fn names(t: &TableDef) -> Vec<&str> {
    t.columns.iter().map(|c| c.name.as_str()).collect()
}

fn col<'a>(t: &'a TableDef, name: &str) -> &'a ColumnDef {
    t.column(name).unwrap_or_else(|| panic!("no column {name}")).1
}

fn text(type_name: &str, name: &str, charset: &str) -> ColumnDef {
    ColumnDef {
        type_name: type_name.into(),
        name: name.into(),
        signed: None,
        charset: Some(charset.into()),
        enum_values: None,
        column_length: None,
    }
}

#[test]
fn statements_that_change_no_table_return_nothing_without_tokenizing() {
    let mut s = schema();
    let before = s.clone();
    for sql in [
        "BEGIN",
        "COMMIT",
        "INSERT INTO orders VALUES (1, 'CREATE TABLE x (a int)')",
        "  /* ALTER TABLE orders DROP id */ UPDATE orders SET note = 'x'",
        "-- DROP TABLE orders\nDELETE FROM orders",
        "# DROP TABLE orders\nSELECT 1",
        "TRUNCATE TABLE orders",
        "GRANT ALL ON *.* TO 'x'@'%'",
        "SAVEPOINT a",
        // not tokenizable, but not DDL: never looked at
        "INSERT INTO orders VALUES ('unterminated",
    ] {
        assert_eq!(s.apply(sql, "shop"), Ok(vec![]), "{sql}");
    }
    for sql in [
        "CREATE INDEX i ON orders (note)",
        "CREATE UNIQUE INDEX i ON orders (note)",
        "DROP INDEX i ON orders",
        "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW v AS SELECT 1",
        "CREATE OR REPLACE VIEW v AS SELECT * FROM orders",
        "CREATE DEFINER=`root`@`%` TRIGGER tr BEFORE INSERT ON orders FOR EACH ROW SET NEW.id = 1",
        "CREATE DEFINER=root@localhost PROCEDURE p() BEGIN SELECT 'it''s'; END",
        "DROP PROCEDURE IF EXISTS p",
        "CREATE FUNCTION f() RETURNS INT RETURN 1",
        "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM orders",
        "CREATE USER 'u'@'%' IDENTIFIED BY 'p'",
        "ALTER USER 'u'@'%' IDENTIFIED BY 'q'",
        "DROP USER 'u'@'%'",
        "CREATE ROLE r",
        "RENAME USER a TO b",
        "CREATE SEQUENCE s",
        "CREATE TEMPORARY TABLE tmp (a INT)",
        "DROP TEMPORARY TABLE IF EXISTS tmp",
        // a procedure body the tokenizer rejects: still not about tables
        "CREATE PROCEDURE p() BEGIN SELECT 'unterminated; END",
    ] {
        assert_eq!(s.apply(sql, "shop"), Ok(vec![]), "{sql}");
    }
    assert_eq!(s, before);
}

#[test]
fn databases_are_created_altered_and_dropped_with_their_charset() {
    let mut s = Schema { charset: "latin1".into(), ..Default::default() };
    assert_eq!(s.apply("CREATE DATABASE a", ""), Ok(vec![Change::DatabaseCreated { database: "a".into() }]));
    assert_eq!(s.databases["a"].charset, "latin1");
    s.apply("CREATE DATABASE IF NOT EXISTS `b` /*!40100 DEFAULT CHARACTER SET utf8 */", "").unwrap();
    assert_eq!(s.databases["b"].charset, "utf8mb3");
    s.apply("CREATE SCHEMA c DEFAULT COLLATE = utf8mb4_0900_ai_ci", "").unwrap();
    assert_eq!(s.databases["c"].charset, "utf8mb4");
    assert_eq!(s.apply("CREATE DATABASE IF NOT EXISTS a CHARSET utf8mb4", ""), Ok(vec![]));
    assert!(matches!(s.apply("CREATE DATABASE a", ""), Err(DdlError::DatabaseExists { .. })));

    let altered = Change::DatabaseAltered { database: "a".into(), charset: "utf8mb4".into() };
    assert_eq!(s.apply("ALTER DATABASE a CHARACTER SET = utf8mb4", ""), Ok(vec![altered]));
    s.apply("ALTER SCHEMA CHARACTER SET ucs2", "a").unwrap(); // the default database
    assert_eq!(s.databases["a"].charset, "ucs2");
    assert_eq!(s.apply("ALTER DATABASE a READ ONLY = 0", ""), Ok(vec![]));

    assert_eq!(s.apply("DROP DATABASE a", ""), Ok(vec![Change::DatabaseDropped { database: "a".into() }]));
    assert_eq!(s.apply("DROP SCHEMA IF EXISTS a", ""), Ok(vec![]));
    assert!(matches!(s.apply("DROP DATABASE a", ""), Err(DdlError::UnknownDatabase { .. })));
}

#[test]
fn create_table_reads_types_as_information_schema_names_them() {
    let mut s = schema();
    let sql = "CREATE TABLE `shop`.`all` (
        a INT(11) UNSIGNED NOT NULL AUTO_INCREMENT, b INTEGER, c BOOL, d BOOLEAN, e TINYINT(1) ZEROFILL,
        f SMALLINT, g MEDIUMINT UNSIGNED, h BIGINT SIGNED, i DEC(5,2), j NUMERIC(3), k FIXED(3,1),
        l DOUBLE PRECISION, m REAL, n FLOAT(7,2) UNSIGNED, o FLOAT(30), p BIT(3), q YEAR(4), r DATE,
        s TIME, t TIME(3), u DATETIME(6), v TIMESTAMP(2) NOT NULL DEFAULT CURRENT_TIMESTAMP(2) ON UPDATE CURRENT_TIMESTAMP(2),
        w CHARACTER VARYING(10), x CHARACTER(3), y NATIONAL CHAR(3), z NVARCHAR(4), aa TINYTEXT, ab TEXT, ac MEDIUMTEXT,
        ad LONGTEXT, ae TINYBLOB, af BLOB, ag MEDIUMBLOB, ah LONGBLOB, ai BINARY(3), aj VARBINARY(10), ak JSON,
        al GEOMETRY NOT NULL, am POINT SRID 4326, an LINESTRING, ao POLYGON, ap MULTIPOINT, aq MULTILINESTRING,
        ar MULTIPOLYGON, `as` GEOMETRYCOLLECTION, at SERIAL, au LONG VARCHAR, av LONG VARBINARY, aw TEXT(100),
        ax BLOB(100), ay VARCHAR(10) BINARY, az INT AS (a + 1) PERSISTENT, ba TEXT COMPRESSED,
        SPATIAL KEY (al)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
      /*!50100 PARTITION BY HASH (a) PARTITIONS 4 */";
    let changes = s.apply(sql, "").unwrap();
    let t = table(&s, "shop", "all");
    assert_eq!(changes, vec![Change::TableCreated { table: t.clone() }]);
    let types: Vec<_> = t.columns.iter().map(|c| c.type_name.as_str()).collect();
    #[rustfmt::skip]
    assert_eq!(types, [
        "int", "int", "tinyint", "tinyint", "tinyint", "smallint", "mediumint", "bigint", "decimal", "decimal",
        "decimal", "double", "double", "float", "double", "bit", "year", "date", "time", "time", "datetime",
        "timestamp", "varchar", "char", "char", "varchar", "tinytext", "text", "mediumtext", "longtext",
        "tinyblob", "blob", "mediumblob", "longblob", "binary", "varbinary", "json", "geometry", "point",
        "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection",
        "bigint", "mediumtext", "mediumblob", "text", "tinyblob", "varchar", "int", "text",
    ]);
    let signed = |n: &str| col(t, n).signed;
    assert_eq!((signed("a"), signed("b"), signed("e"), signed("g"), signed("h")), (Some(false), Some(true), Some(false), Some(false), Some(true)));
    // Integers only, as Maxwell's definitions have it (a DECIMAL or FLOAT has no `signed`).
    assert_eq!((signed("i"), signed("n"), signed("at"), signed("p"), signed("q"), signed("w")), (None, None, Some(false), None, None, None));
    let fsp = |n: &str| col(t, n).column_length;
    assert_eq!((fsp("s"), fsp("t"), fsp("u"), fsp("v"), fsp("r"), fsp("a")), (Some(0), Some(3), Some(6), Some(2), None, None));
    let charset = |n: &str| col(t, n).charset.as_deref();
    assert_eq!((charset("w"), charset("y"), charset("z"), charset("ad")), (Some("utf8mb4"), Some("utf8mb3"), Some("utf8mb3"), Some("utf8mb4")));
    assert_eq!((charset("ai"), charset("af"), charset("ak"), charset("a"), charset("al")), (None, None, None, None, None));
    assert_eq!(t.charset, "utf8mb4");
    assert!(t.primary_key.is_empty());
}

#[test]
fn charsets_are_inherited_from_database_to_table_to_column() {
    let mut s = Schema { charset: "latin1".into(), ..Default::default() };
    s.apply("CREATE DATABASE d DEFAULT CHARACTER SET utf8mb4", "").unwrap();
    s.apply("CREATE DATABASE plain", "").unwrap();
    s.apply("CREATE TABLE t1 (a VARCHAR(5), b TEXT CHARACTER SET utf8 COLLATE utf8_bin, c CHAR(1) COLLATE ascii_bin)", "d").unwrap();
    s.apply("CREATE TABLE t2 (a VARCHAR(5), b ENUM('x')) COLLATE utf8mb3_general_ci", "d").unwrap();
    s.apply("CREATE TABLE t3 (a VARCHAR(5))", "plain").unwrap();
    s.apply("CREATE TABLE t4 (a VARCHAR(5) CHARACTER SET binary, b TEXT CHARSET binary, c ENUM('x') CHARSET binary)", "d").unwrap();
    s.apply("CREATE TABLE t5 (a VARCHAR(5) COLLATE uca1400_ai_ci) CHARSET=utf8mb4", "plain").unwrap();
    let t1 = table(&s, "d", "t1");
    assert_eq!(t1.charset, "utf8mb4");
    assert_eq!(t1.columns, vec![text("varchar", "a", "utf8mb4"), text("text", "b", "utf8mb3"), text("char", "c", "ascii")]);
    let t2 = table(&s, "d", "t2");
    assert_eq!((t2.charset.as_str(), col(t2, "a").charset.as_deref(), col(t2, "b").charset.as_deref()), ("utf8mb3", Some("utf8mb3"), Some("utf8mb3")));
    assert_eq!(table(&s, "plain", "t3").columns, vec![text("varchar", "a", "latin1")]);
    let t4 = table(&s, "d", "t4");
    let t4: Vec<_> = t4.columns.iter().map(|c| (c.type_name.as_str(), c.charset.as_deref())).collect();
    assert_eq!(t4, [("varbinary", None), ("blob", None), ("enum", Some("binary"))]);
    assert_eq!(table(&s, "plain", "t5").columns, vec![text("varchar", "a", "utf8mb4")]);
}

#[test]
fn enum_and_set_labels_are_unquoted() {
    let mut s = schema();
    s.apply(r#"CREATE TABLE e (a ENUM('plain','it''s','a,b','back\'slash', "dq", 'trail  ') NOT NULL DEFAULT 'plain', b SET('x','(y)'))"#, "shop")
        .unwrap();
    let t = table(&s, "shop", "e");
    let labels = col(t, "a").enum_values.clone().unwrap();
    assert_eq!(labels, ["plain", "it's", "a,b", "back'slash", "dq", "trail"]);
    assert_eq!(col(t, "b").enum_values.as_deref(), Some(&["x".to_string(), "(y)".to_string()][..]));
    assert_eq!((col(t, "a").charset.as_deref(), col(t, "a").signed), (Some("utf8mb4"), None));
}

#[test]
fn primary_keys_come_from_constraints_or_column_attributes() {
    let mut s = schema();
    s.apply("CREATE TABLE k1 (a INT, b INT, c INT, CONSTRAINT `pk` PRIMARY KEY USING BTREE (`B`, a(10) DESC))", "shop").unwrap();
    s.apply("CREATE TABLE k2 (a INT NOT NULL PRIMARY KEY, b INT UNIQUE KEY)", "shop").unwrap();
    s.apply("CREATE TABLE k3 (a INT KEY, b INT)", "shop").unwrap();
    s.apply("CREATE TABLE k4 (a INT UNIQUE, b INT, UNIQUE KEY u (b), KEY i (a), CONSTRAINT f FOREIGN KEY (a) REFERENCES k1 (a))", "shop").unwrap();
    assert_eq!(table(&s, "shop", "k1").primary_key, ["b", "a"]);
    assert_eq!(table(&s, "shop", "k2").primary_key, ["a"]);
    assert_eq!(table(&s, "shop", "k3").primary_key, ["a"]);
    assert!(table(&s, "shop", "k4").primary_key.is_empty());
    let err = s.apply("CREATE TABLE k5 (a INT, PRIMARY KEY (nope))", "shop").unwrap_err();
    assert!(matches!(err, DdlError::UnknownColumn { ref column, .. } if column == "nope"), "{err}");
}

#[test]
fn create_table_if_not_exists_like_and_select() {
    let mut s = schema();
    let before = s.clone();
    assert_eq!(s.apply("CREATE TABLE IF NOT EXISTS orders (x INT)", "shop"), Ok(vec![]));
    assert_eq!(s, before);
    let err = s.apply("CREATE TABLE orders (x INT)", "shop").unwrap_err();
    assert!(matches!(err, DdlError::TableExists { .. }), "{err}");

    s.apply("CREATE DATABASE other CHARSET latin1", "").unwrap();
    s.apply("CREATE TABLE other.copy LIKE shop.orders", "shop").unwrap();
    s.apply("CREATE TABLE copy2 (LIKE orders)", "shop").unwrap();
    let copy = table(&s, "other", "copy");
    assert_eq!((copy.database.as_str(), copy.table.as_str()), ("other", "copy"));
    assert_eq!((&copy.columns, &copy.primary_key, &copy.charset), (&table(&s, "shop", "orders").columns, &vec!["id".to_string()], &"utf8mb4".to_string()));
    assert!(s.table("shop", "copy2").is_some());

    s.apply("CREATE TABLE sel (id INT PRIMARY KEY, total DECIMAL(10,2)) AS SELECT id, 1 AS total FROM orders", "shop").unwrap();
    assert_eq!(names(table(&s, "shop", "sel")), ["id", "total"]);
    for sql in ["CREATE TABLE sel2 AS SELECT * FROM orders", "CREATE TABLE sel2 SELECT 1", "CREATE TABLE sel2 (SELECT 1)"] {
        let err = s.apply(sql, "shop").unwrap_err();
        assert!(matches!(err, DdlError::Unsupported { .. }), "{sql}: {err}");
    }
    assert!(s.table("shop", "sel2").is_none());

    // MariaDB CREATE OR REPLACE TABLE: the old table goes, the new one comes
    let changes = s.apply("CREATE OR REPLACE TABLE orders (n INT)", "shop").unwrap();
    assert!(matches!(&changes[..], [Change::TableDropped { .. }, Change::TableCreated { table }] if names(table) == ["n"]));
}

#[test]
fn unqualified_names_need_a_known_default_database() {
    let mut s = schema();
    for sql in ["CREATE TABLE t (a INT)", "ALTER TABLE orders ADD x INT", "DROP TABLE IF EXISTS orders"] {
        let err = s.apply(sql, "nowhere").unwrap_err();
        assert!(matches!(err, DdlError::NoDatabase { .. }), "{sql}: {err}");
        assert!(matches!(s.apply(sql, "").unwrap_err(), DdlError::NoDatabase { .. }), "{sql}");
    }
    let err = s.apply("CREATE TABLE nowhere.t (a INT)", "shop").unwrap_err();
    assert!(matches!(err, DdlError::UnknownDatabase { .. }), "{err}");
    s.apply("CREATE TABLE shop.t (a INT)", "nowhere").unwrap();
}

#[test]
fn alter_adds_columns_at_their_positions() {
    let mut s = schema();
    let old = table(&s, "shop", "orders").clone();
    let changes = s.apply("ALTER TABLE orders ADD COLUMN a INT AFTER id, ADD b INT FIRST, ADD c BIGINT UNSIGNED", "shop").unwrap();
    let new = table(&s, "shop", "orders").clone();
    assert_eq!(changes, vec![Change::TableAltered { old, new: new.clone() }]);
    assert_eq!(names(&new), ["b", "id", "a", "note", "c"]);
    assert_eq!(col(&new, "c").signed, Some(false));

    s.apply("ALTER TABLE shop.orders ADD COLUMN (d VARCHAR(3), e DATETIME(3) NOT NULL DEFAULT NOW(3))", "").unwrap();
    let t = table(&s, "shop", "orders");
    assert_eq!(names(t), ["b", "id", "a", "note", "c", "d", "e"]);
    assert_eq!((col(t, "d").charset.as_deref(), col(t, "e").column_length), (Some("utf8mb4"), Some(3)));

    assert_eq!(s.apply("ALTER TABLE orders ADD COLUMN IF NOT EXISTS d INT", "shop").map(|c| c.len()), Ok(1));
    assert_eq!(col(table(&s, "shop", "orders"), "d").type_name, "varchar");
    assert!(matches!(s.apply("ALTER TABLE orders ADD d INT", "shop"), Err(DdlError::ColumnExists { .. })));
    assert!(matches!(s.apply("ALTER TABLE orders ADD z INT AFTER nope", "shop"), Err(DdlError::UnknownColumn { .. })));
}

#[test]
fn alter_drops_modifies_changes_and_renames_columns() {
    let mut s = schema();
    s.apply("ALTER TABLE orders ADD a INT, ADD b INT, ADD c INT", "shop").unwrap();
    s.apply("ALTER TABLE orders DROP COLUMN a, DROP b", "shop").unwrap();
    assert_eq!(names(table(&s, "shop", "orders")), ["id", "note", "c"]);
    assert_eq!(s.apply("ALTER TABLE orders DROP COLUMN IF EXISTS a", "shop").map(|c| c.len()), Ok(1));
    assert!(matches!(s.apply("ALTER TABLE orders DROP a", "shop"), Err(DdlError::UnknownColumn { .. })));

    s.apply("ALTER TABLE orders MODIFY COLUMN c BIGINT UNSIGNED NOT NULL FIRST", "shop").unwrap();
    let t = table(&s, "shop", "orders");
    assert_eq!((names(t), col(t, "c").type_name.as_str(), col(t, "c").signed), (vec!["c", "id", "note"], "bigint", Some(false)));
    // MODIFY without a charset takes the table's, as the server does
    s.apply("ALTER TABLE orders MODIFY note TEXT", "shop").unwrap();
    assert_eq!(table(&s, "shop", "orders").columns[2], text("text", "note", "utf8mb4"));

    s.apply("ALTER TABLE orders CHANGE COLUMN note remark VARCHAR(20) CHARACTER SET latin1 AFTER c", "shop").unwrap();
    assert_eq!(table(&s, "shop", "orders").columns[1], text("varchar", "remark", "latin1"));
    s.apply("ALTER TABLE orders RENAME COLUMN remark TO memo", "shop").unwrap();
    assert_eq!(names(table(&s, "shop", "orders")), ["c", "memo", "id"]);
    assert!(matches!(s.apply("ALTER TABLE orders MODIFY nope INT", "shop"), Err(DdlError::UnknownColumn { .. })));
    assert_eq!(s.apply("ALTER TABLE orders MODIFY COLUMN IF EXISTS nope INT", "shop").map(|c| c.len()), Ok(1));
}

#[test]
fn primary_key_follows_column_changes() {
    let mut s = schema();
    s.apply("ALTER TABLE orders CHANGE id order_id BIGINT NOT NULL", "shop").unwrap();
    assert_eq!(table(&s, "shop", "orders").primary_key, ["order_id"]);
    s.apply("ALTER TABLE orders ADD line INT NOT NULL, DROP PRIMARY KEY, ADD PRIMARY KEY (order_id, line)", "shop").unwrap();
    assert_eq!(table(&s, "shop", "orders").primary_key, ["order_id", "line"]);
    s.apply("ALTER TABLE orders RENAME COLUMN line TO line_no", "shop").unwrap();
    assert_eq!(table(&s, "shop", "orders").primary_key, ["order_id", "line_no"]);
    s.apply("ALTER TABLE orders DROP COLUMN order_id", "shop").unwrap();
    assert_eq!(table(&s, "shop", "orders").primary_key, ["line_no"]);
    s.apply("ALTER TABLE orders DROP PRIMARY KEY", "shop").unwrap();
    assert!(table(&s, "shop", "orders").primary_key.is_empty());
    s.apply("ALTER TABLE orders ADD CONSTRAINT pk PRIMARY KEY (note)", "shop").unwrap();
    assert_eq!(table(&s, "shop", "orders").primary_key, ["note"]);
}

#[test]
fn alter_renames_the_table_possibly_into_another_database() {
    let mut s = schema();
    s.apply("CREATE DATABASE archive", "").unwrap();
    let old = table(&s, "shop", "orders").clone();
    let changes = s.apply("ALTER TABLE orders RENAME TO archive.orders_2020", "shop").unwrap();
    let new = table(&s, "archive", "orders_2020").clone();
    assert_eq!(changes, vec![Change::TableAltered { old: old.clone(), new: new.clone() }]);
    assert_eq!((new.columns, new.charset), (old.columns, old.charset));
    assert!(s.table("shop", "orders").is_none());
    s.apply("ALTER TABLE archive.orders_2020 RENAME AS o, ADD x INT", "archive").unwrap();
    assert_eq!(names(table(&s, "archive", "o")), ["id", "note", "x"]);
    s.apply("ALTER TABLE o RENAME p", "archive").unwrap();
    assert!(s.table("archive", "p").is_some());
    assert!(matches!(s.apply("ALTER TABLE p RENAME nowhere.q", "archive"), Err(DdlError::UnknownDatabase { .. })));
    assert!(s.table("archive", "p").is_some());
}

#[test]
fn convert_to_character_set_changes_every_text_column() {
    let mut s = schema();
    s.apply("ALTER TABLE orders ADD t TEXT CHARACTER SET latin1, ADD tt TINYTEXT, ADD e ENUM('a'), ADD b BLOB, ADD m MEDIUMTEXT", "shop").unwrap();
    s.apply("ALTER TABLE orders CONVERT TO CHARACTER SET utf8mb3 COLLATE utf8mb3_unicode_ci", "shop").unwrap();
    let t = table(&s, "shop", "orders");
    assert_eq!(t.charset, "utf8mb3");
    let cols: Vec<_> = t.columns.iter().map(|c| (c.name.as_str(), c.type_name.as_str(), c.charset.as_deref())).collect();
    assert_eq!(cols, [
        ("id", "int", None),
        ("note", "varchar", Some("utf8mb3")),
        // a latin1 TEXT holds 65535 characters: in utf8mb3 that needs a MEDIUMTEXT
        ("t", "mediumtext", Some("utf8mb3")),
        ("tt", "tinytext", Some("utf8mb3")), // was utf8mb4 already: no larger
        ("e", "enum", Some("utf8mb3")),
        ("b", "blob", None),
        ("m", "mediumtext", Some("utf8mb3")),
    ]);
    s.apply("ALTER TABLE orders CONVERT TO CHARSET binary", "shop").unwrap();
    assert_eq!(col(table(&s, "shop", "orders"), "note").type_name, "varbinary");
}

#[test]
fn table_default_charset_changes_only_the_default() {
    let mut s = schema();
    s.apply("ALTER TABLE orders DEFAULT CHARACTER SET = latin1", "shop").unwrap();
    let t = table(&s, "shop", "orders");
    assert_eq!((t.charset.as_str(), col(t, "note").charset.as_deref()), ("latin1", Some("latin1")));
    s.apply("ALTER TABLE orders ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_bin, ADD x VARCHAR(1)", "shop").unwrap();
    let t = table(&s, "shop", "orders");
    assert_eq!((t.charset.as_str(), col(t, "x").charset.as_deref()), ("utf8mb3", Some("utf8mb3")));
    s.apply("ALTER TABLE orders COLLATE utf8mb4_bin", "shop").unwrap();
    assert_eq!(table(&s, "shop", "orders").charset, "utf8mb4");
}

#[test]
fn other_alter_operations_change_no_column() {
    let mut s = schema();
    let before = table(&s, "shop", "orders").clone();
    for sql in [
        "ALTER TABLE orders ADD INDEX idx (note), ALGORITHM=INPLACE, LOCK=NONE",
        "ALTER TABLE orders ADD UNIQUE KEY u (note), ADD FULLTEXT INDEX ft (note), ADD SPATIAL INDEX (note)",
        "ALTER TABLE orders DROP INDEX idx, DROP KEY u, DROP FOREIGN KEY fk, DROP CHECK c, DROP CONSTRAINT x",
        "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (id) REFERENCES x (id) ON DELETE SET NULL",
        "ALTER TABLE orders ENGINE = InnoDB",
        "ALTER TABLE orders COMMENT = 'hello, world'",
        "ALTER TABLE orders ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8",
        "ALTER TABLE orders AUTO_INCREMENT = 10",
        "ALTER TABLE orders ALTER COLUMN note SET DEFAULT 'x', ALTER note DROP DEFAULT",
        "ALTER TABLE orders RENAME INDEX a TO b, RENAME KEY c TO d",
        "ALTER TABLE orders FORCE",
        "ALTER TABLE orders ORDER BY note",
        "ALTER TABLE orders DISABLE KEYS",
        "/*!40000 ALTER TABLE `orders` ENABLE KEYS */",
        "ALTER TABLE orders REORGANIZE PARTITION p0, p1 INTO (PARTITION p2 VALUES LESS THAN (10))",
        "ALTER TABLE orders DROP PARTITION p0, p1",
        "ALTER TABLE orders PARTITION BY HASH(id) PARTITIONS 4",
        "ALTER TABLE orders REMOVE PARTITIONING",
        "ALTER ONLINE IGNORE TABLE orders ADD KEY (id)",
    ] {
        let changes = s.apply(sql, "shop").unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(changes, vec![Change::TableAltered { old: before.clone(), new: before.clone() }], "{sql}");
    }
}

#[test]
fn alter_if_exists_and_unknown_tables() {
    let mut s = schema();
    assert_eq!(s.apply("ALTER TABLE IF EXISTS nope ADD x INT", "shop"), Ok(vec![]));
    let err = s.apply("ALTER TABLE nope ADD x INT", "shop").unwrap_err();
    assert_eq!(err, DdlError::UnknownTable { statement: "ALTER TABLE nope ADD x INT".into(), database: "shop".into(), table: "nope".into() });
    assert!(err.to_string().contains("maxwell-cli schema recapture"), "{err}");
    assert!(matches!(s.apply("DROP TABLE nope", "shop"), Err(DdlError::UnknownTable { .. })));
    assert!(matches!(s.apply("RENAME TABLE nope TO x", "shop"), Err(DdlError::UnknownTable { .. })));
}

#[test]
fn drop_and_rename_tables() {
    let mut s = schema();
    s.apply("CREATE TABLE a (x INT)", "shop").unwrap();
    s.apply("CREATE TABLE b (y INT)", "shop").unwrap();
    let (a, b) = (table(&s, "shop", "a").clone(), table(&s, "shop", "b").clone());
    // a swap through a temporary name: each pair sees the one before it
    let changes = s.apply("RENAME TABLE a TO tmp, b TO a, shop.tmp TO `b`", "shop").unwrap();
    assert_eq!(changes.len(), 3);
    assert_eq!(names(table(&s, "shop", "a")), ["y"]);
    assert_eq!(names(table(&s, "shop", "b")), ["x"]);
    let tmp = TableDef { table: "tmp".into(), ..a.clone() };
    assert_eq!(changes[0], Change::TableRenamed { old: a, new: tmp });
    assert!(matches!(s.apply("RENAME TABLE a TO b", "shop"), Err(DdlError::TableExists { .. })));

    let changes = s.apply("DROP TABLE IF EXISTS a, `shop`.`b`, nope /* generated by server */", "shop").unwrap();
    let dropped: Vec<_> = changes.iter().map(|c| match c {
        Change::TableDropped { table } => table.table.as_str(),
        other => panic!("{other:?}"),
    }).collect();
    assert_eq!(dropped, ["a", "b"]);
    assert_eq!(s.databases["shop"].tables.keys().collect::<Vec<_>>(), ["orders"]);
    let _ = b;
}

#[test]
fn a_failed_statement_leaves_the_schema_unchanged() {
    let mut s = schema();
    s.apply("CREATE TABLE a (x INT)", "shop").unwrap();
    let before = s.clone();
    // the first pairs apply, the last fails: all are put back
    assert!(s.apply("RENAME TABLE a TO b, orders TO c, nope TO d", "shop").is_err());
    assert_eq!(s, before);
    assert!(s.apply("DROP TABLE a, orders, nope", "shop").is_err());
    assert_eq!(s, before);
    // the ALTER works on a copy: the first operations are not kept
    assert!(s.apply("ALTER TABLE orders ADD y INT, DROP note, MODIFY nope INT", "shop").is_err());
    assert_eq!(s, before);
    assert!(s.apply("ALTER TABLE orders ADD y INT, RENAME TO a", "shop").is_err());
    assert_eq!(s, before);
    assert!(s.apply("CREATE OR REPLACE TABLE a (x INT, PRIMARY KEY (nope))", "shop").is_err());
    assert_eq!(s, before);
}

#[test]
fn statements_that_cannot_be_understood_name_themselves() {
    let mut s = schema();
    let before = s.clone();
    for sql in [
        "ALTER TABLE orders FROBNICATE note",
        "ALTER TABLE orders ADD COLUMN x NOTATYPE(3)",
        "ALTER TABLE orders ADD COLUMN x INT, ADD y VARCHAR(3) DEFAULT 'unterminated",
        "CREATE TABLE z (a INT) WITH SYSTEM VERSIONING",
        "ALTER TABLE",
    ] {
        let err = s.apply(sql, "shop").unwrap_err();
        assert!(matches!(err, DdlError::Unsupported { .. }), "{sql}: {err:?}");
        let message = err.to_string();
        assert!(message.contains(&sql[..sql.len().min(16)]), "{message}");
        assert!(message.contains("maxwell-cli schema recapture") && message.contains("`filter`"), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
    assert_eq!(s, before);
    // long statements are cut to one short line
    let long = format!("ALTER TABLE orders\n FROBNICATE {}", "x".repeat(1000));
    let message = s.apply(&long, "shop").unwrap_err().to_string();
    assert!(message.contains("ALTER TABLE orders FROBNICATE xxx") && message.len() < 600 && !message.contains('\n'), "{message}");
}

#[test]
fn executable_comments_are_code() {
    let mut s = schema();
    s.apply("/*!40101 SET NAMES utf8 */", "shop").unwrap();
    s.apply("CREATE TABLE /*!32312 IF NOT EXISTS*/ `v1` (a INT) /*!50100 PARTITION BY HASH (a) */", "shop").unwrap();
    assert!(s.table("shop", "v1").is_some());
    assert_eq!(s.apply("CREATE TABLE /*!32312 IF NOT EXISTS*/ `v1` (z INT)", "shop"), Ok(vec![]));
    s.apply("/*!50001 CREATE TABLE `v2` (a INT) */", "shop").unwrap();
    assert!(s.table("shop", "v2").is_some());
    s.apply("/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50013 DEFINER=`root`@`%` SQL SECURITY DEFINER */ /*!50001 VIEW `v` AS SELECT 1 */", "shop").unwrap();
    s.apply("/* a comment */ -- another\n # and one more\n ALTER TABLE v1 /*M!100301 ADD COLUMN b INT */", "shop").unwrap();
    assert_eq!(names(table(&s, "shop", "v1")), ["a", "b"]);
    s.apply("DROP TABLE `v1`;", "shop").unwrap();
    assert!(s.table("shop", "v1").is_none());
}

#[test]
fn schema_round_trips_through_serde_json() {
    let mut s = schema();
    s.apply("CREATE TABLE e (a ENUM('x','y'), t TIMESTAMP(3), n INT UNSIGNED, PRIMARY KEY (n))", "shop").unwrap();
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains(r#""enum-values":["x","y"]"#) && json.contains(r#""column-length":3"#), "{json}");
    assert!(json.contains(r#""primary-key":["n"]"#) && json.contains(r#""type":"int","name":"n","signed":false"#), "{json}");
    let back: Schema = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    let db: DatabaseDef = serde_json::from_value(serde_json::to_value(&s.databases["shop"]).unwrap()).unwrap();
    assert_eq!(db, s.databases["shop"]);
}

/// `lower_case_table_names=1`, as Maxwell 1.22.6 names things there: a database keeps the name
/// it was created with and is found whatever the case; tables are lower-cased; columns kept.
#[test]
fn lower_case_table_names_1_finds_any_case_and_keeps_maxwells_names() {
    let mut s = Schema { charset: "latin1".into(), lower_case_table_names: 1, ..Default::default() };
    s.apply("CREATE DATABASE Shop", "").unwrap();
    s.apply("CREATE TABLE shop.Orders (OrderId INT PRIMARY KEY)", "").unwrap();
    s.apply("ALTER TABLE SHOP.ORDERS ADD COLUMN Note INT", "").unwrap();
    s.apply("CREATE TABLE Lines (A INT)", "SHOP").unwrap();
    s.apply("RENAME TABLE Shop.Lines TO Shop.LinesToo", "").unwrap();
    let t = table(&s, "shop", "orders");
    assert_eq!((t.database.as_str(), t.table.as_str(), names(t)), ("Shop", "orders", vec!["OrderId", "Note"]));
    assert_eq!(table(&s, "SHOP", "LINESTOO").table, "linestoo");
    assert!(s.apply("CREATE DATABASE SHOP", "").is_err(), "the same database whatever the case");
    s.apply("DROP DATABASE shop", "").unwrap();
    assert!(s.databases.is_empty());
    // Case-sensitive (0): names as written, found only as written.
    let mut s = Schema { charset: "latin1".into(), ..Default::default() };
    s.apply("CREATE DATABASE Shop", "").unwrap();
    s.apply("CREATE TABLE Shop.Orders (OrderId INT PRIMARY KEY)", "").unwrap();
    assert!(s.table("shop", "orders").is_none() && s.table("Shop", "Orders").is_some());
}
