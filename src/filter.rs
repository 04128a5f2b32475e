//! Maxwell's row filter: `filter = "exclude: *.*, include: db1.*, blacklist: bad.*, include: db.t.col=val"`.
//!
//! Invariants (Maxwell's semantics):
//! - Rules are evaluated in order and the last matching rule wins; with no match a row is
//!   included. `include` includes; `exclude` and `blacklist` exclude.
//! - A pattern is `*` (anything), a bare or quoted name (exact, case-sensitive), or `/regex/`
//!   (unanchored search).
//! - A column rule `db.table.column=value` only applies to rows that carry `column`; the value
//!   pattern matches the column's text, and `null` matches SQL NULL.
//! - A shard's filter ([`Filter::within`]) narrows the node's filter: a row is emitted only
//!   when both include it; a DDL statement only when the shard names its table (or, for a
//!   database-level statement, its database).
//! - DDL records pass the same rules as rows of their table (a database's own statements as a
//!   table named ""), as Maxwell's `shouldOutput` has it: `exclude: *.*, include: db1.*` emits
//!   db1's DDL and no other.
//! - A bootstrap's [`Overlay`] narrows the stream once more: `Except` leaves one table's rows
//!   out (`bootstrapper=async` holds them while the table is bootstrapped), `Only` keeps that
//!   table's rows and no DDL (the held rows, read again).
//! - Rows and DDL of `schema_database` (whatever its name; `maxwell` by default) and of
//!   `mysql.ha_health_check` / `mysql.rds_heartbeat*` are never emitted.

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleType {
    Include,
    Exclude,
    Blacklist,
}

#[derive(Debug, Clone)]
struct Rule {
    ty: RuleType,
    db: Regex,
    table: Regex,
    column: Option<(String, Regex, bool)>,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    rules: Vec<Rule>,
    /// The shard this stream is limited to (see [`Filter::within`]).
    shard: Option<std::sync::Arc<Filter>>,
    /// `schema_database`, whose rows are never emitted (`None`: `maxwell`).
    schema_database: Option<std::sync::Arc<str>>,
    /// A bootstrap's narrowing (see [`Overlay`]).
    overlay: Option<std::sync::Arc<Overlay>>,
}

/// How a running `bootstrapper=async` bootstrap narrows a stream (names as rows carry them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// Every row but those of `database`.`table` (held while it is bootstrapped).
    Except { database: String, table: String },
    /// Only rows of `database`.`table`, and no DDL (its held rows, read again).
    Only { database: String, table: String },
}

impl Overlay {
    fn admits(&self, db: &str, table: &str) -> bool {
        match self {
            Overlay::Except { database, table: t } => !(database == db && t == table),
            Overlay::Only { database, table: t } => database == db && t == table,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid filter at character {at}: {msg} (syntax: `include|exclude|blacklist: DB.TABLE[.COLUMN=VALUE], …` with names, `*` or /regex/)")]
pub struct FilterError {
    pub at: usize,
    pub msg: String,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err<T>(&self, msg: impl Into<String>) -> Result<T, FilterError> {
        Err(FilterError { at: self.i, msg: msg.into() })
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }
    fn expect(&mut self, c: u8) -> Result<(), FilterError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(format!("expected '{}'", c as char))
        }
    }
    fn word(&mut self) -> Option<String> {
        self.ws();
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_' || self.s[self.i] >= 0x80) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    /// Returns the regex and whether it is the literal `null` (column rules only).
    fn pattern(&mut self) -> Result<(Regex, bool), FilterError> {
        let compile = |p: &Parser, re: &str| Regex::new(re).map_err(|e| FilterError { at: p.i, msg: format!("bad regex: {e}") });
        match self.peek() {
            Some(b'*') => {
                self.i += 1;
                Ok((compile(self, "")?, false))
            }
            Some(b'/') => {
                self.i += 1;
                let start = self.i;
                while self.i < self.s.len() && !(self.s[self.i] == b'/' && self.s[self.i - 1] != b'\\') {
                    self.i += 1;
                }
                if self.i >= self.s.len() {
                    return self.err("unterminated /regex/");
                }
                let re = String::from_utf8_lossy(&self.s[start..self.i]).replace("\\/", "/");
                self.i += 1;
                Ok((compile(self, &re)?, false))
            }
            Some(q @ (b'`' | b'\'' | b'"')) => {
                self.i += 1;
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i] != q {
                    self.i += 1;
                }
                if self.i >= self.s.len() {
                    return self.err("unterminated quoted name");
                }
                let lit = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                Ok((compile(self, &format!("^{}$", regex::escape(&lit)))?, false))
            }
            _ => match self.word() {
                Some(w) => Ok((compile(self, &format!("^{}$", regex::escape(&w)))?, w.eq_ignore_ascii_case("null"))),
                None => self.err("expected a name, `*` or /regex/"),
            },
        }
    }
}

impl Filter {
    pub fn parse(input: &str) -> Result<Self, FilterError> {
        let mut p = Parser { s: input.as_bytes(), i: 0 };
        let mut rules = Vec::new();
        while p.peek().is_some() {
            let kw = p.word().unwrap_or_default();
            let ty = match kw.to_ascii_lowercase().as_str() {
                "include" => RuleType::Include,
                "exclude" => RuleType::Exclude,
                "blacklist" => RuleType::Blacklist,
                _ => return p.err(format!("expected include, exclude or blacklist, saw {kw:?}")),
            };
            p.expect(b':')?;
            let (db, _) = p.pattern()?;
            p.expect(b'.')?;
            let (table, _) = p.pattern()?;
            let column = if p.peek() == Some(b'.') {
                p.i += 1;
                let Some(col) = p.word() else { return p.err("expected a column name") };
                p.expect(b'=')?;
                let (val, is_null) = p.pattern()?;
                Some((col, val, is_null))
            } else {
                None
            };
            rules.push(Rule { ty, db, table, column });
            match p.peek() {
                Some(b',') => p.i += 1,
                None => {}
                Some(_) => return p.err("expected ',' between rules"),
            }
        }
        Ok(Self { rules, shard: None, schema_database: None, overlay: None })
    }

    /// This filter, limited to the tables `shard` includes.
    /// The node's own `schema_database`, excluded whatever its name (as in Maxwell).
    pub fn with_schema_database(mut self, name: &str) -> Filter {
        self.schema_database = Some(name.into());
        self
    }

    pub fn within(mut self, shard: Filter) -> Filter {
        self.shard = Some(std::sync::Arc::new(shard));
        self
    }

    /// This filter narrowed by a bootstrap's overlay (none: as configured).
    pub fn with_overlay(mut self, overlay: Option<Overlay>) -> Filter {
        self.overlay = overlay.map(std::sync::Arc::new);
        self
    }

    pub fn overlay(&self) -> Option<&Overlay> {
        self.overlay.as_deref()
    }

    fn in_shard(&self, db: &str, table: &str) -> bool {
        self.shard.as_ref().is_none_or(|s| s.includes_table(db, table)) && self.overlay.as_ref().is_none_or(|o| o.admits(db, table))
    }

    /// Whether a DDL statement on `db`.`table` (`None`: the database itself) is emitted.
    pub fn emits_ddl(&self, db: &str, table: Option<&str>) -> bool {
        if self.is_blacklisted(db, table.unwrap_or("")) || !self.rules_include(db, table.unwrap_or("")) || matches!(self.overlay.as_deref(), Some(Overlay::Only { .. })) {
            return false;
        }
        match (&self.shard, table) {
            (None, _) => true,
            (Some(s), Some(t)) => s.includes_table(db, t),
            (Some(s), None) => s.rules.iter().any(|r| r.ty == RuleType::Include && r.db.is_match(db)),
        }
    }

    fn system_excluded(&self, db: &str, table: &str) -> bool {
        db == self.schema_database.as_deref().unwrap_or("maxwell") || (db == "mysql" && (table == "ha_health_check" || table.starts_with("rds_heartbeat")))
    }

    /// The table-level rules alone (column rules ignored): the last matching one decides.
    fn rules_include(&self, db: &str, table: &str) -> bool {
        let mut include = true;
        for r in self.rules.iter().filter(|r| r.column.is_none()) {
            if Self::applies(r, db, table) {
                include = r.ty == RuleType::Include;
            }
        }
        include
    }

    fn applies(r: &Rule, db: &str, table: &str) -> bool {
        r.db.is_match(db) && r.table.is_match(table)
    }

    /// Table-level decision, column rules ignored.
    pub fn includes_table(&self, db: &str, table: &str) -> bool {
        if self.system_excluded(db, table) || !self.in_shard(db, table) {
            return false;
        }
        self.rules_include(db, table)
    }

    pub fn is_blacklisted(&self, db: &str, table: &str) -> bool {
        self.system_excluded(db, table)
            || self.rules.iter().any(|r| r.ty == RuleType::Blacklist && r.column.is_none() && Self::applies(r, db, table))
    }

    /// Whether rows of this table must be decoded at all.
    pub fn may_emit(&self, db: &str, table: &str) -> bool {
        if self.is_blacklisted(db, table) || !self.in_shard(db, table) {
            return false;
        }
        self.includes_table(db, table)
            || self.rules.iter().any(|r| r.ty == RuleType::Include && r.column.is_some() && Self::applies(r, db, table))
    }

    /// True when some rule looks at column values for this table.
    pub fn has_column_rules_for(&self, db: &str, table: &str) -> bool {
        self.rules.iter().any(|r| r.column.is_some() && Self::applies(r, db, table))
    }

    /// Row-level decision. `value(col)` is `None` when the row lacks `col`, `Some(None)` for
    /// NULL and `Some(Some(text))` otherwise.
    pub fn includes_row(&self, db: &str, table: &str, value: impl Fn(&str) -> Option<Option<String>>) -> bool {
        if self.system_excluded(db, table) || !self.in_shard(db, table) {
            return false;
        }
        let mut include = true;
        for r in &self.rules {
            if !Self::applies(r, db, table) {
                continue;
            }
            match &r.column {
                None => include = r.ty == RuleType::Include,
                Some((col, re, is_null)) => match value(col) {
                    None => {}
                    Some(None) if *is_null => include = r.ty == RuleType::Include,
                    Some(Some(v)) if (*is_null && v.eq_ignore_ascii_case("null")) || (!*is_null && re.is_match(&v)) => {
                        include = r.ty == RuleType::Include
                    }
                    _ => {}
                },
            }
        }
        include
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Filter {
        Filter::parse(s).unwrap()
    }

    #[test]
    fn last_match_wins() {
        let x = f("exclude: foodb.*, include: foodb.tbl, include: foodb./table_\\d+/");
        assert!(!x.includes_table("foodb", "other"));
        assert!(x.includes_table("foodb", "tbl"));
        assert!(x.includes_table("foodb", "table_12"));
        assert!(x.includes_table("bardb", "x"));
        let y = f("exclude: *.*, include: db1.*");
        assert!(y.includes_table("db1", "a"));
        assert!(!y.includes_table("db2", "a"));
    }

    #[test]
    fn names_are_exact_and_regex_unanchored() {
        let x = f("exclude: *.*, include: `my.db`.t, include: 'a'./^x/");
        assert!(x.includes_table("my.db", "t"));
        assert!(!x.includes_table("myXdb", "t"));
        assert!(x.includes_table("a", "xyz"));
        assert!(!x.includes_table("a", "yx"));
        assert!(!x.includes_table("ab", "xyz"));
    }

    #[test]
    fn a_bootstrap_overlay_narrows_rows_and_ddl() {
        let (database, table) = ("shop".to_string(), "orders".to_string());
        let base = f("exclude: shop.secret");
        let held = base.clone().with_overlay(Some(Overlay::Except { database: database.clone(), table: table.clone() }));
        assert!(!held.may_emit("shop", "orders") && !held.includes_row("shop", "orders", |_| None));
        assert!(held.may_emit("shop", "users") && !held.may_emit("shop", "secret"));
        assert!(held.emits_ddl("shop", Some("orders")), "DDL is not held");
        let only = base.with_overlay(Some(Overlay::Only { database, table }));
        assert!(only.may_emit("shop", "orders") && only.includes_row("shop", "orders", |_| None));
        assert!(!only.may_emit("shop", "users") && !only.may_emit("other", "orders"));
        assert!(!only.emits_ddl("shop", Some("orders")) && !only.emits_ddl("shop", None), "DDL was sent the first time");
        assert_eq!(only.clone().with_overlay(None).overlay(), None);
    }

    #[test]
    fn blacklist_and_system_tables() {
        let x = f("blacklist: bad_db.*");
        assert!(x.is_blacklisted("bad_db", "t"));
        assert!(!x.may_emit("bad_db", "t"));
        assert!(!Filter::default().may_emit("maxwell", "positions"));
        assert!(!Filter::default().includes_table("mysql", "rds_heartbeat2"));
        assert!(Filter::default().includes_table("mysql", "user"));
    }

    #[test]
    fn column_value_rules() {
        let x = f("exclude: *.*, include: db.t.status=active, include: db.t.deleted_at=null");
        assert!(x.may_emit("db", "t"));
        assert!(!x.may_emit("db", "u"));
        let row = |status: Option<&str>, deleted: Option<Option<&str>>| {
            x.includes_row("db", "t", |c| match c {
                "status" => status.map(|s| Some(s.to_string())),
                "deleted_at" => deleted.map(|d| d.map(str::to_string)),
                _ => None,
            })
        };
        assert!(row(Some("active"), None));
        assert!(!row(Some("inactive"), None));
        assert!(!row(Some("activex"), None), "names are anchored");
        assert!(row(Some("x"), Some(None)), "null matches SQL NULL");
        assert!(!row(Some("x"), Some(Some("2020-01-01"))));
    }

    #[test]
    fn a_shard_narrows_the_filter() {
        let x = f("exclude: db1.secret").within(f("exclude: *.*, include: db1.*, include: db2.t"));
        assert!(x.includes_table("db1", "a") && x.may_emit("db1", "a"));
        assert!(!x.includes_table("db1", "secret") && !x.may_emit("db1", "secret"));
        assert!(x.includes_table("db2", "t") && !x.includes_table("db2", "u") && !x.may_emit("db3", "a"));
        assert!(!x.includes_row("db3", "a", |_| None) && x.includes_row("db1", "a", |_| None));
        assert!(x.emits_ddl("db1", Some("a")) && !x.emits_ddl("db2", Some("u")));
        assert!(x.emits_ddl("db1", None) && x.emits_ddl("db2", None) && !x.emits_ddl("db3", None));
        assert!(f("").emits_ddl("any", None));
    }

    /// Maxwell's `shouldOutput`: DDL passes the rows' rules (it used to pass every one but
    /// blacklisted tables), and `schema_database` is never emitted whatever its name.
    #[test]
    fn ddl_follows_the_rules_and_the_schema_database_is_never_emitted() {
        let x = f("exclude: *.*, include: db1.*, exclude: db1.secret");
        assert!(x.emits_ddl("db1", Some("a")) && x.emits_ddl("db1", None));
        assert!(!x.emits_ddl("db2", Some("a")) && !x.emits_ddl("db2", None) && !x.emits_ddl("db1", Some("secret")));
        let own = f("").with_schema_database("mx_state");
        assert!(!own.includes_table("mx_state", "positions") && !own.may_emit("mx_state", "positions") && !own.emits_ddl("mx_state", None));
        assert!(own.includes_table("maxwell", "t"), "only the configured schema_database is the node's");
        assert!(!f("").includes_table("maxwell", "positions"));
    }

    #[test]
    fn errors_point_at_the_problem() {
        for bad in ["include db.t", "include: db", "frobnicate: a.b", "include: a./x", "include: a.b c.d", "include: a.b.c"] {
            let e = Filter::parse(bad).unwrap_err();
            assert!(e.to_string().contains("syntax"), "{bad}: {e}");
        }
        assert!(Filter::parse("").unwrap().includes_table("a", "b"));
    }
}
