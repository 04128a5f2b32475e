//! DDL statements (QUERY events other than BEGIN/COMMIT) → Maxwell's DDL records.
//!
//! Invariants:
//! - With a schema history, each change the statement made is one record, in Maxwell's shape
//!   and field order: `type`, `database`, `table`, `charset` (databases), `old` and `def` (the
//!   table before and after), `ts` (milliseconds), `sql`, then `position` and `gtid` when
//!   `output_binlog_position` / `output_gtid_position` ask for them. A statement that changed
//!   nothing (`CREATE TABLE IF NOT EXISTS` of a table that exists) gives none, as in Maxwell.
//! - Without one (TABLE_MAPs name the columns and the capture failed), the statement is
//!   classified by its first words, one record without `def`/`old`.
//! - Temporary tables, grants, views and routines never give a record.
//! - `database` and `table` are the names as the statement wrote them, as Maxwell prints them
//!   ([`Ddl::as_written`]); `def`/`old` and filters have the history's. The two differ only
//!   where names are not case-sensitive (`lower_case_table_names` 1 or 2).

use crate::binlog::history::{Change, Schema, TableDef};
use crate::binlog::json::{push_num, write_json_str};
use regex::Regex;
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ddl {
    pub kind: &'static str,
    pub database: String,
    pub table: Option<String>,
    /// `database-create` / `database-alter`: the database's character set.
    pub charset: Option<String>,
    /// `table-alter`: the table before.
    pub old: Option<TableDef>,
    /// `table-create` / `table-alter`: the table after.
    pub def: Option<TableDef>,
}

impl Ddl {
    /// This record with `database` and `table` as `written` (the statement classified by
    /// [`classify`]) names them, when it names the same things in another case.
    pub fn as_written(&self, written: Option<&Ddl>) -> Ddl {
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        match written {
            Some(w) if w.kind == self.kind && same(&w.database, &self.database) && w.table.as_deref().map(str::to_lowercase) == self.table.as_deref().map(str::to_lowercase) => {
                Ddl { database: w.database.clone(), table: w.table.clone(), ..self.clone() }
            }
            _ => self.clone(),
        }
    }

    fn bare(kind: &'static str, database: String, table: Option<String>) -> Self {
        Ddl { kind, database, table, charset: None, old: None, def: None }
    }

    /// The record of one change the schema history made; `schema` is the history after it.
    pub fn from_change(c: &Change, schema: &Schema) -> Self {
        match c {
            Change::DatabaseCreated { database } => Ddl {
                charset: schema.databases.get(database).map(|d| d.charset.clone()),
                ..Ddl::bare("database-create", database.clone(), None)
            },
            Change::DatabaseAltered { database, charset } => Ddl { charset: Some(charset.clone()), ..Ddl::bare("database-alter", database.clone(), None) },
            Change::DatabaseDropped { database } => Ddl::bare("database-drop", database.clone(), None),
            Change::TableCreated { table } => Ddl { def: Some(table.clone()), ..Ddl::bare("table-create", table.database.clone(), Some(table.table.clone())) },
            Change::TableDropped { table } => Ddl::bare("table-drop", table.database.clone(), Some(table.table.clone())),
            Change::TableAltered { old, new } | Change::TableRenamed { old, new } => Ddl {
                old: Some(old.clone()),
                def: Some(new.clone()),
                ..Ddl::bare("table-alter", old.database.clone(), Some(old.table.clone()))
            },
        }
    }

    /// The (database, table) names a filter must let through for the record to be emitted:
    /// both names of a renamed table, as Maxwell checks.
    pub fn names(&self) -> Vec<(&str, Option<&str>)> {
        let mut v = vec![(self.database.as_str(), self.table.as_deref())];
        if let (Some(old), Some(def)) = (&self.old, &self.def) {
            if (old.database.as_str(), old.table.as_str()) != (def.database.as_str(), def.table.as_str()) {
                v.push((def.database.as_str(), Some(def.table.as_str())));
            }
        }
        v
    }
}

fn re() -> &'static [(Regex, &'static str); 5] {
    static R: OnceLock<[(Regex, &'static str); 5]> = OnceLock::new();
    const NAME: &str = r"(?:`(?P<a>[^`]+)`|(?P<b>[\w$]+))(?:\s*\.\s*(?:`(?P<c>[^`]+)`|(?P<d>[\w$]+)))?";
    R.get_or_init(|| {
        let mk = |p: &str| Regex::new(&format!(r"(?is)^\s*(?:/\*.*?\*/\s*)*{p}\s*{NAME}")).unwrap();
        [
            (mk(r"(?P<op>create|drop|alter)\s+(?:database|schema)\s+(?:if\s+(?:not\s+)?exists\s+)?"), "database"),
            (mk(r"(?P<op>create)\s+(?:or\s+replace\s+)?table\s+(?:if\s+not\s+exists\s+)?"), "table"),
            (mk(r"(?P<op>drop)\s+table\s+(?:if\s+exists\s+)?"), "table"),
            (mk(r"(?P<op>alter)\s+(?:online\s+|ignore\s+)*table\s+"), "table"),
            (mk(r"(?P<op>rename)\s+table\s+"), "table"),
        ]
    })
}

/// Classifies `sql` run with default database `default_db`; `None` when not a schema change.
pub fn classify(sql: &str, default_db: &str) -> Option<Ddl> {
    for (r, what) in re() {
        let Some(c) = r.captures(sql) else { continue };
        let op = c.name("op")?.as_str().to_ascii_lowercase();
        let first = c.name("a").or(c.name("b"))?.as_str().to_string();
        let second = c.name("c").or(c.name("d")).map(|m| m.as_str().to_string());
        let action = match op.as_str() {
            "create" => "create",
            "drop" => "drop",
            _ => "alter",
        };
        return Some(if *what == "database" {
            Ddl::bare(ddl_kind("database", action), first, None)
        } else {
            let (db, table) = match second {
                Some(t) => (first, t),
                None => (default_db.to_string(), first),
            };
            Ddl::bare(ddl_kind("table", action), db, Some(table))
        });
    }
    None
}

fn ddl_kind(what: &str, action: &str) -> &'static str {
    match (what, action) {
        ("database", "create") => "database-create",
        ("database", "drop") => "database-drop",
        ("database", _) => "database-alter",
        ("table", "create") => "table-create",
        ("table", "drop") => "table-drop",
        _ => "table-alter",
    }
}

/// A table definition as Maxwell writes it: `database`, `charset`, `table`, `columns`,
/// `primary-key`; each column `type`, `name` and what its type has in Maxwell: `signed`
/// (integers), `charset` (text, `binary` for binary strings and BLOBs), `enum-values` (ENUM,
/// SET), `column-length` (TIME, DATETIME, TIMESTAMP).
fn write_def(out: &mut Vec<u8>, def: &TableDef) {
    out.extend_from_slice(b"{\"database\":");
    write_json_str(out, &def.database);
    out.extend_from_slice(b",\"charset\":");
    write_json_str(out, &def.charset);
    out.extend_from_slice(b",\"table\":");
    write_json_str(out, &def.table);
    out.extend_from_slice(b",\"columns\":[");
    for (i, c) in def.columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"type\":");
        write_json_str(out, &c.type_name);
        out.extend_from_slice(b",\"name\":");
        write_json_str(out, &c.name);
        if let Some(signed) = c.signed {
            out.extend_from_slice(if signed { b",\"signed\":true" } else { b",\"signed\":false" });
        }
        let binary = matches!(c.type_name.as_str(), "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob");
        let charset = match c.enum_values {
            Some(_) => None,
            None if binary => Some("binary"),
            None => c.charset.as_deref(),
        };
        if let Some(cs) = charset {
            out.extend_from_slice(b",\"charset\":");
            write_json_str(out, cs);
        }
        if let Some(labels) = &c.enum_values {
            out.extend_from_slice(b",\"enum-values\":");
            write_str_array(out, labels);
        }
        if let Some(n) = c.column_length {
            out.extend_from_slice(b",\"column-length\":");
            push_num(out, n);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"primary-key\":");
    write_str_array(out, &def.primary_key);
    out.push(b'}');
}

/// `["a","b"]`.
fn write_str_array(out: &mut Vec<u8>, items: &[String]) {
    out.push(b'[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(out, s);
    }
    out.push(b']');
}

/// Where a DDL record's statement is, for `output_binlog_position` (where its event starts, as
/// in Maxwell) / `output_gtid_position`, and the schema id after it (`output_schema_id`).
pub struct DdlPosition<'a> {
    pub position: Option<&'a str>,
    pub gtid: Option<&'a str>,
    pub schema_id: Option<u64>,
}

/// Appends the DDL record as one JSON line; `ts` is the event's time in seconds.
pub fn write_ddl(out: &mut Vec<u8>, d: &Ddl, sql: &str, ts: u32, at: &DdlPosition<'_>) {
    out.extend_from_slice(b"{\"type\":");
    write_json_str(out, d.kind);
    out.extend_from_slice(b",\"database\":");
    write_json_str(out, &d.database);
    if let Some(t) = &d.table {
        out.extend_from_slice(b",\"table\":");
        write_json_str(out, t);
    }
    if let Some(c) = &d.charset {
        out.extend_from_slice(b",\"charset\":");
        write_json_str(out, c);
    }
    for (key, def) in [(&b",\"old\":"[..], &d.old), (&b",\"def\":"[..], &d.def)] {
        if let Some(def) = def {
            out.extend_from_slice(key);
            write_def(out, def);
        }
    }
    out.extend_from_slice(b",\"ts\":");
    push_num(out, u64::from(ts) * 1000);
    out.extend_from_slice(b",\"sql\":");
    write_json_str(out, sql);
    if let Some(p) = at.position {
        out.extend_from_slice(b",\"position\":");
        write_json_str(out, p);
    }
    if let Some(g) = at.gtid {
        out.extend_from_slice(b",\"gtid\":");
        write_json_str(out, g);
    }
    if let Some(id) = at.schema_id {
        out.extend_from_slice(b",\"schema_id\":");
        push_num(out, id);
    }
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_schema_changes() {
        let c = |s| classify(s, "d0");
        assert_eq!(c("CREATE DATABASE `x`").unwrap(), Ddl::bare("database-create", "x".into(), None));
        assert_eq!(c("create database if not exists y").unwrap().database, "y");
        assert_eq!(c("DROP SCHEMA z").unwrap().kind, "database-drop");
        let t = c("CREATE TABLE `a`.`b` (id int)").unwrap();
        assert_eq!((t.kind, t.database.as_str(), t.table.as_deref()), ("table-create", "a", Some("b")));
        let t = c("alter table t add column x int").unwrap();
        assert_eq!((t.kind, t.database.as_str(), t.table.as_deref()), ("table-alter", "d0", Some("t")));
        assert_eq!(c("DROP TABLE IF EXISTS `q` /* generated by server */").unwrap().kind, "table-drop");
        assert_eq!(c("rename table a to b").unwrap().kind, "table-alter");
        assert!(c("GRANT ALL ON *.* TO x").is_none());
        assert!(c("create temporary table t (i int)").is_none());
    }

    #[test]
    fn record_is_json() {
        let mut out = Vec::new();
        let d = classify("CREATE TABLE t (i int)", "db").unwrap();
        write_ddl(&mut out, &d, "CREATE TABLE t (i int)", 5, &DdlPosition { position: Some("f.000001:4"), gtid: None, schema_id: Some(7) });
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["type"], "table-create");
        assert_eq!(v["table"], "t");
        assert_eq!(v["ts"], 5000, "milliseconds, as Maxwell writes them");
        assert_eq!(v["position"], "f.000001:4");
        assert_eq!(v["schema_id"], 7, "last, as Maxwell's DDLMap puts it");
        assert!(String::from_utf8_lossy(&out).ends_with("\"position\":\"f.000001:4\",\"schema_id\":7}\n"));
        out.clear();
        write_ddl(&mut out, &d, "CREATE TABLE t (i int)", 5, &DdlPosition { position: None, gtid: None, schema_id: None });
        assert!(!String::from_utf8_lossy(&out).contains("position"), "position only with output_binlog_position");
        assert!(!String::from_utf8_lossy(&out).contains("schema_id"), "schema_id only with output_schema_id");
    }

    /// `lower_case_table_names=1`, as measured with Maxwell 1.22.6: `database`/`table` as the
    /// statement wrote them, `def` with the history's names.
    #[test]
    fn records_name_what_the_statement_wrote() {
        let mut s = Schema { charset: "latin1".into(), lower_case_table_names: 1, ..Default::default() };
        let mut record = |sql: &str| {
            let changes = s.apply(sql, "d").unwrap();
            assert_eq!(changes.len(), 1, "{sql}");
            Ddl::from_change(&changes[0], &s).as_written(classify(sql, "d").as_ref())
        };
        record("CREATE DATABASE Shop");
        let create = record("CREATE TABLE shop.Orders (OrderId INT PRIMARY KEY)");
        assert_eq!((create.database.as_str(), create.table.as_deref()), ("shop", Some("Orders")));
        let def = create.def.unwrap();
        assert_eq!((def.database.as_str(), def.table.as_str()), ("Shop", "orders"));
        let alter = record("ALTER TABLE Shop.ORDERS ADD COLUMN Note INT");
        assert_eq!((alter.database.as_str(), alter.table.as_deref(), alter.old.unwrap().table.as_str()), ("Shop", Some("ORDERS"), "orders"));
        // A classification of something else leaves the history's names.
        let other = classify("CREATE TABLE x.y (i INT)", "d");
        let drop = Ddl::bare("table-drop", "Shop".into(), Some("orders".into()));
        assert_eq!(drop.as_written(other.as_ref()), drop);
        assert_eq!(drop.as_written(None), drop);
    }

    /// Maxwell's shapes and field order, from the history's changes.
    #[test]
    fn records_from_the_history_have_maxwells_shape() {
        let mut s = Schema { charset: "utf8mb4".into(), ..Default::default() };
        let records = |sql: &str, s: &mut Schema| -> Vec<String> {
            let changes = s.apply(sql, "d").unwrap();
            changes
                .iter()
                .map(|c| {
                    let mut out = Vec::new();
                    write_ddl(&mut out, &Ddl::from_change(c, s), sql, 1, &DdlPosition { position: None, gtid: None, schema_id: None });
                    String::from_utf8(out).unwrap().trim_end().to_string()
                })
                .collect()
        };
        assert_eq!(records("CREATE DATABASE d CHARACTER SET latin1", &mut s), [r#"{"type":"database-create","database":"d","charset":"latin1","ts":1000,"sql":"CREATE DATABASE d CHARACTER SET latin1"}"#]);
        assert_eq!(
            records("CREATE TABLE t (id INT UNSIGNED PRIMARY KEY, e ENUM('a','b'), at DATETIME(3))", &mut s),
            [r#"{"type":"table-create","database":"d","table":"t","def":{"database":"d","charset":"latin1","table":"t","columns":[{"type":"int","name":"id","signed":false},{"type":"enum","name":"e","enum-values":["a","b"]},{"type":"datetime","name":"at","column-length":3}],"primary-key":["id"]},"ts":1000,"sql":"CREATE TABLE t (id INT UNSIGNED PRIMARY KEY, e ENUM('a','b'), at DATETIME(3))"}"#]
        );
        let alter = records("ALTER TABLE t DROP COLUMN e, RENAME TO u", &mut s);
        assert_eq!(alter.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&alter[0]).unwrap();
        assert_eq!((v["type"].as_str(), v["table"].as_str(), v["def"]["table"].as_str()), (Some("table-alter"), Some("t"), Some("u")));
        assert_eq!(v["old"]["columns"].as_array().unwrap().len(), 3);
        assert_eq!(v["def"]["columns"].as_array().unwrap().len(), 2);
        assert_eq!(records("DROP TABLE u", &mut s), [r#"{"type":"table-drop","database":"d","table":"u","ts":1000,"sql":"DROP TABLE u"}"#]);
        assert!(records("DROP TABLE IF EXISTS u", &mut s).is_empty(), "a statement that changed nothing gives no record");
        assert_eq!(records("DROP DATABASE d", &mut s), [r#"{"type":"database-drop","database":"d","ts":1000,"sql":"DROP DATABASE d"}"#]);
    }
}
