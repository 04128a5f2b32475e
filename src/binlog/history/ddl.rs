//! [`Schema::apply`]: moves a [`Schema`] forward by one statement of a QUERY event.
//!
//! Only statements that change databases or tables are read: CREATE/ALTER/DROP DATABASE
//! (SCHEMA), CREATE/ALTER/DROP/RENAME TABLE. Anything else (BEGIN, DML, GRANT, views,
//! routines, indexes, temporary tables, …) is answered from its first keywords without
//! tokenizing, which keeps the common case cheap.
//!
//! The text is cut into tokens by sqlparser's MySQL tokenizer (quoting, `''` and `\` escapes,
//! comments, `/*!NNNNN … */` executable comments), and the few grammar rules that matter are
//! read here. sqlparser's statement parser is not used: in 0.64 it rejects much of what MySQL
//! and MariaDB log (most ALTER TABLE table options and CONVERT TO, ADD COLUMN (…), partition
//! clauses, `varchar(n) BINARY`, NATIONAL CHAR, MariaDB's PERSISTENT/COMPRESSED, ALTER
//! DATABASE, …), and a statement it rejects would stop the stream.
//!
//! A statement is applied completely or not at all: every write records what it replaced and
//! an error puts it back.

use super::{ColumnDef, DatabaseDef, Schema, TableDef};
use sqlparser::tokenizer::Token;
use syntax::{charset_options, column, is_kw, key_columns, max_bytes, set_charset, split_commas, split_position};
use syntax::{starts_with_ddl_verb, tokenize, Cur, Position, TEXTS};

#[path = "ddl_syntax.rs"]
mod syntax;

/// What one statement changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    DatabaseCreated { database: String },
    DatabaseDropped { database: String },
    DatabaseAltered { database: String, charset: String },
    TableCreated { table: TableDef },
    TableDropped { table: TableDef },
    /// ALTER TABLE (incl. rename via ALTER … RENAME): the definition before and after. Every
    /// ALTER of a known table reports one, even when only indexes or options changed (`old == new`).
    TableAltered { old: TableDef, new: TableDef },
    /// RENAME TABLE a TO b (each pair is one Change).
    TableRenamed { old: TableDef, new: TableDef },
}

const WHAT_TO_DO: &str = "recapture the schema at a position after it (maxwell-cli schema recapture) or exclude the table with `filter`";

/// A statement that changes tables and cannot be applied. The schema is left as it was.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DdlError {
    #[error("cannot apply DDL `{statement}`: {reason}; {}", WHAT_TO_DO)]
    Unsupported { statement: String, reason: String },
    #[error("DDL `{statement}` names table `{database}`.`{table}`, which the schema history does not hold; {}", WHAT_TO_DO)]
    UnknownTable { statement: String, database: String, table: String },
    #[error("DDL `{statement}` creates table `{database}`.`{table}`, which the schema history already holds; {}", WHAT_TO_DO)]
    TableExists { statement: String, database: String, table: String },
    #[error("DDL `{statement}` names database `{database}`, which the schema history does not hold; {}", WHAT_TO_DO)]
    UnknownDatabase { statement: String, database: String },
    #[error("DDL `{statement}` creates database `{database}`, which the schema history already holds; {}", WHAT_TO_DO)]
    DatabaseExists { statement: String, database: String },
    #[error("DDL `{statement}` names table `{table}` without a database and the default database `{database}` is not in the schema history; {}", WHAT_TO_DO)]
    NoDatabase { statement: String, database: String, table: String },
    #[error("DDL `{statement}` names column `{column}` of `{database}`.`{table}`, which the schema history does not hold; {}", WHAT_TO_DO)]
    UnknownColumn { statement: String, database: String, table: String, column: String },
    #[error("DDL `{statement}` adds column `{column}` to `{database}`.`{table}`, which the schema history already holds; {}", WHAT_TO_DO)]
    ColumnExists { statement: String, database: String, table: String, column: String },
}

impl DdlError {
    fn with_statement(mut self, sql: &str) -> Self {
        let line = one_line(sql);
        match &mut self {
            Self::Unsupported { statement, .. }
            | Self::UnknownTable { statement, .. }
            | Self::TableExists { statement, .. }
            | Self::UnknownDatabase { statement, .. }
            | Self::DatabaseExists { statement, .. }
            | Self::NoDatabase { statement, .. }
            | Self::UnknownColumn { statement, .. }
            | Self::ColumnExists { statement, .. } => *statement = line,
        }
        self
    }
}

/// `sql` on one line, cut after 200 characters: how errors and logs quote a statement.
pub fn one_line(sql: &str) -> String {
    let mut line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((cut, _)) = line.char_indices().nth(200) {
        line.truncate(cut);
        line.push('…');
    }
    line
}

/// Whether `sql` may change a table or database: its first keyword, after comments, is
/// CREATE, ALTER, DROP or RENAME ([`Schema::apply`] reads nothing else).
pub fn may_change_tables(sql: &str) -> bool {
    starts_with_ddl_verb(sql)
}

/// A character set name as information_schema spells it (`utf8` is `utf8mb3`).
pub fn charset_name(name: &str) -> String {
    syntax::normalize(name).unwrap_or_default()
}

fn unsupported(reason: impl Into<String>) -> DdlError {
    DdlError::Unsupported { statement: String::new(), reason: reason.into() }
}
fn unknown_table(database: &str, table: &str) -> DdlError {
    DdlError::UnknownTable { statement: String::new(), database: database.into(), table: table.into() }
}
fn unknown_database(database: &str) -> DdlError {
    DdlError::UnknownDatabase { statement: String::new(), database: database.into() }
}
fn unknown_column(t: &TableDef, column: &str) -> DdlError {
    let (database, table) = (t.database.clone(), t.table.clone());
    DdlError::UnknownColumn { statement: String::new(), database, table, column: column.into() }
}

/// What a write replaced, to put back when a later part of the statement fails.
enum Undo {
    Database(String, Option<DatabaseDef>),
    Table(String, String, Option<TableDef>),
}

impl Schema {
    /// Applies one statement the binlog logged (a QUERY event's text, run with default database `database`).
    /// Returns what changed (empty when the statement changes no table or database: DML, GRANT, CREATE INDEX, views, procedures, etc.).
    pub fn apply(&mut self, sql: &str, database: &str) -> Result<Vec<Change>, DdlError> {
        if !starts_with_ddl_verb(sql) {
            return Ok(vec![]);
        }
        let (tokens, error) = tokenize(sql);
        let mut undo = Vec::new();
        self.statement(&tokens, database, error, &mut undo).map_err(|e| {
            for step in undo.into_iter().rev() {
                match step {
                    Undo::Database(name, Some(d)) => drop(self.databases.insert(name, d)),
                    Undo::Database(name, None) => drop(self.databases.remove(&name)),
                    Undo::Table(db, t, old) => {
                        if let Some(d) = self.databases.get_mut(&db) {
                            match old {
                                Some(old) => drop(d.tables.insert(t, old)),
                                None => drop(d.tables.remove(&t)),
                            }
                        }
                    }
                }
            }
            e.with_statement(sql)
        })
    }

    /// `error`: why the tokens stop short of the statement's end, if they do.
    fn statement(&mut self, t: &[Token], default_db: &str, error: Option<String>, undo: &mut Vec<Undo>) -> Result<Vec<Change>, DdlError> {
        let mut c = Cur::new(t);
        let verb = c.keyword().unwrap_or_default();
        c.i += 1;
        // The object keyword: the first bare word that is not a modifier (OR REPLACE, TEMPORARY,
        // IGNORE, DEFINER=…, ALGORITHM=…, SQL SECURITY …) nor a modifier's value.
        let (mut temporary, mut or_replace) = (false, false);
        let object = loop {
            let prev = c.i.checked_sub(1).and_then(|i| t.get(i));
            let value = matches!(prev, Some(Token::Eq | Token::AtSign));
            match (c.keyword(), c.peek()) {
                (_, None) => return Ok(vec![]),
                (Some(k), _) if !value => match k.as_str() {
                    "OR" if c.eat_all(&["OR", "REPLACE"]) => {
                        or_replace = true;
                        continue;
                    }
                    "TEMPORARY" => temporary = true,
                    "ONLINE" | "OFFLINE" | "IGNORE" | "DEFINER" | "ALGORITHM" | "SQL" | "SECURITY" | "INVOKER"
                    | "NO_WRITE_TO_BINLOG" | "LOCAL" => {}
                    _ => break k,
                },
                _ => {}
            }
            c.skip();
        };
        c.i += 1;
        let tables = matches!(object.as_str(), "DATABASE" | "SCHEMA" | "TABLE" | "TABLES") && !temporary;
        if let (true, Some(error)) = (tables, error) {
            return Err(unsupported(error));
        }
        match (verb.as_str(), object.as_str()) {
            (_, "DATABASE" | "SCHEMA") => self.database_statement(&verb, &mut c, default_db, or_replace, undo),
            ("CREATE", "TABLE") if !temporary => self.create_table(&mut c, default_db, or_replace, undo),
            ("ALTER", "TABLE") => self.alter_table(&mut c, default_db, undo),
            ("DROP", "TABLE" | "TABLES") if !temporary => self.drop_tables(&mut c, default_db, undo),
            ("RENAME", "TABLE" | "TABLES") => self.rename_tables(&mut c, default_db, undo),
            _ => Ok(vec![]),
        }
    }

    fn database_statement(
        &mut self,
        verb: &str,
        c: &mut Cur,
        default_db: &str,
        or_replace: bool,
        undo: &mut Vec<Undo>,
    ) -> Result<Vec<Change>, DdlError> {
        let if_exists = c.eat_all(&["IF", "NOT", "EXISTS"]) || c.eat_all(&["IF", "EXISTS"]);
        let option = ["DEFAULT", "CHARACTER", "CHARSET", "CHAR", "COLLATE", "READ", "ENCRYPTION", "COMMENT"];
        let name = match c.keyword() {
            Some(k) if verb == "ALTER" && option.contains(&k.as_str()) => default_db.to_string(),
            _ => c.word().ok_or_else(|| unsupported("no database name"))?,
        };
        let name = self.database_key(&name);
        let charset = charset_options(c.rest());
        let mut changes = Vec::new();
        match verb {
            "CREATE" => {
                if self.databases.contains_key(&name) && !or_replace {
                    return match if_exists {
                        true => Ok(vec![]),
                        false => Err(DdlError::DatabaseExists { statement: String::new(), database: name }),
                    };
                }
                if let Some(old) = self.databases.remove(&name) {
                    undo.push(Undo::Database(name.clone(), Some(old)));
                    changes.push(Change::DatabaseDropped { database: name.clone() });
                } else {
                    undo.push(Undo::Database(name.clone(), None));
                }
                let charset = charset.unwrap_or_else(|| self.charset.clone());
                let def = DatabaseDef { name: name.clone(), charset, tables: Default::default() };
                self.databases.insert(name.clone(), def);
                changes.push(Change::DatabaseCreated { database: name });
            }
            "DROP" => match self.databases.remove(&name) {
                Some(old) => {
                    undo.push(Undo::Database(name.clone(), Some(old)));
                    changes.push(Change::DatabaseDropped { database: name });
                }
                None if if_exists => {}
                None => return Err(unknown_database(&name)),
            },
            _ => {
                let Some(charset) = charset else { return Ok(vec![]) };
                let db = self.databases.get_mut(&name).ok_or_else(|| unknown_database(&name))?;
                db.charset = charset.clone();
                changes.push(Change::DatabaseAltered { database: name, charset });
            }
        }
        Ok(changes)
    }

    /// The database and table a name means: `db.t`, or `t` in the default database.
    fn resolve(&self, (db, table): (Option<String>, String), default_db: &str) -> Result<(String, String), DdlError> {
        let db = match db {
            Some(db) => self.database_key(&db),
            None if self.databases.contains_key(&self.database_key(default_db)) => self.database_key(default_db),
            None => return Err(DdlError::NoDatabase { statement: String::new(), database: default_db.into(), table }),
        };
        let table = match self.databases.get(&db) {
            Some(d) => self.table_key(d, &table),
            None if self.lower_case_table_names == 1 => table.to_lowercase(),
            None => table,
        };
        Ok((db, table))
    }

    fn take(&mut self, undo: &mut Vec<Undo>, db: &str, table: &str) -> Option<TableDef> {
        let old = self.databases.get_mut(db)?.tables.remove(table)?;
        undo.push(Undo::Table(db.into(), table.into(), Some(old.clone())));
        Some(old)
    }

    fn put(&mut self, undo: &mut Vec<Undo>, def: TableDef) -> Result<(), DdlError> {
        let db = self.databases.get_mut(&def.database).ok_or_else(|| unknown_database(&def.database))?;
        let old = db.tables.insert(def.table.clone(), def.clone());
        undo.push(Undo::Table(def.database, def.table, old));
        Ok(())
    }

    fn create_table(
        &mut self,
        c: &mut Cur,
        default_db: &str,
        or_replace: bool,
        undo: &mut Vec<Undo>,
    ) -> Result<Vec<Change>, DdlError> {
        let if_not_exists = c.eat_all(&["IF", "NOT", "EXISTS"]);
        let (db, name) = self.resolve(c.name()?, default_db)?;
        let db_charset = self.databases.get(&db).ok_or_else(|| unknown_database(&db))?.charset.clone();
        let parenthesised_like = matches!(c.peek(), Some(Token::LParen)) && is_kw(c.t.get(c.i + 1), "LIKE");
        let def = if c.eat("LIKE") || parenthesised_like {
            if parenthesised_like {
                c.i += 2;
            }
            let (sdb, st) = self.resolve(c.name()?, default_db)?;
            let source = self.table(&sdb, &st).ok_or_else(|| unknown_table(&sdb, &st))?;
            TableDef { database: db.clone(), table: name.clone(), ..source.clone() }
        } else {
            let query = matches!(c.t.get(c.i + 1), Some(t) if is_kw(Some(t), "SELECT") || is_kw(Some(t), "WITH"));
            let elements = match c.peek() {
                Some(Token::LParen) if !query => c.group().unwrap_or_default(),
                _ => return Err(unsupported("CREATE TABLE … SELECT without a column list: its columns cannot be known")),
            };
            if c.rest().windows(3).any(|w| is_kw(Some(&w[1]), "SYSTEM") && is_kw(Some(&w[2]), "VERSIONING")) {
                return Err(unsupported("system-versioned tables are not followed"));
            }
            let charset = charset_options(c.rest()).unwrap_or(db_charset);
            table_from_elements(db.clone(), name.clone(), charset, elements)?
        };
        let mut changes = Vec::new();
        if self.table(&db, &name).is_some() {
            if !or_replace {
                return match if_not_exists {
                    true => Ok(vec![]),
                    false => Err(DdlError::TableExists { statement: String::new(), database: db, table: name }),
                };
            }
            let old = self.take(undo, &db, &name).expect("checked above");
            changes.push(Change::TableDropped { table: old });
        }
        self.put(undo, def.clone())?;
        changes.push(Change::TableCreated { table: def });
        Ok(changes)
    }

    fn drop_tables(&mut self, c: &mut Cur, default_db: &str, undo: &mut Vec<Undo>) -> Result<Vec<Change>, DdlError> {
        let if_exists = c.eat_all(&["IF", "EXISTS"]);
        let mut changes = Vec::new();
        loop {
            let (db, table) = self.resolve(c.name()?, default_db)?;
            match self.take(undo, &db, &table) {
                Some(old) => changes.push(Change::TableDropped { table: old }),
                None if if_exists => {}
                None => return Err(unknown_table(&db, &table)),
            }
            if !c.eat_tok(&Token::Comma) {
                return Ok(changes);
            }
        }
    }

    fn rename_tables(&mut self, c: &mut Cur, default_db: &str, undo: &mut Vec<Undo>) -> Result<Vec<Change>, DdlError> {
        let if_exists = c.eat_all(&["IF", "EXISTS"]);
        let mut changes = Vec::new();
        loop {
            let (db, table) = self.resolve(c.name()?, default_db)?;
            if !c.eat("TO") {
                return Err(unsupported("RENAME TABLE without TO"));
            }
            let (new_db, new_table) = self.resolve(c.name()?, default_db)?;
            if let Some(old) = self.take(undo, &db, &table) {
                let new = TableDef { database: new_db, table: new_table, ..old.clone() };
                self.put_new(undo, new.clone())?;
                changes.push(Change::TableRenamed { old, new });
            } else if !if_exists {
                return Err(unknown_table(&db, &table));
            }
            if !c.eat_tok(&Token::Comma) {
                return Ok(changes);
            }
        }
    }

    /// [`Self::put`] a table that must not exist yet.
    fn put_new(&mut self, undo: &mut Vec<Undo>, def: TableDef) -> Result<(), DdlError> {
        if self.table(&def.database, &def.table).is_some() {
            return Err(DdlError::TableExists { statement: String::new(), database: def.database, table: def.table });
        }
        self.put(undo, def)
    }

    fn alter_table(&mut self, c: &mut Cur, default_db: &str, undo: &mut Vec<Undo>) -> Result<Vec<Change>, DdlError> {
        let if_exists = c.eat_all(&["IF", "EXISTS"]);
        let (db, name) = self.resolve(c.name()?, default_db)?;
        let Some(old) = self.table(&db, &name).cloned() else {
            return if if_exists { Ok(vec![]) } else { Err(unknown_table(&db, &name)) };
        };
        if c.eat("WAIT") {
            c.i += 1;
        }
        c.eat("NOWAIT");
        let mut t = old.clone();
        let mut rename = None;
        for spec in split_commas(c.rest()) {
            if !alter_spec(&mut t, spec, &mut rename)? {
                break;
            }
        }
        if let Some(new_name) = rename {
            let (new_db, new_table) = self.resolve(new_name, default_db)?;
            if (new_db.as_str(), new_table.as_str()) != (db.as_str(), name.as_str()) {
                self.take(undo, &db, &name);
                (t.database, t.table) = (new_db, new_table);
                self.put_new(undo, t.clone())?;
                return Ok(vec![Change::TableAltered { old, new: t }]);
            }
        }
        self.put(undo, t.clone())?;
        Ok(vec![Change::TableAltered { old, new: t }])
    }
}

/// Applies one ALTER TABLE operation to `t`. False: partition options, which end the list.
fn alter_spec(t: &mut TableDef, spec: &[Token], rename: &mut Option<(Option<String>, String)>) -> Result<bool, DdlError> {
    let mut c = Cur::new(spec);
    let first = c.keyword().unwrap_or_default();
    c.i += 1;
    let partition = |s: &[Token]| s.iter().any(|x| ["PARTITION", "PARTITIONS", "PARTITIONING"].iter().any(|k| is_kw(Some(x), k)));
    const PARTITION_OPS: &[&str] = &[
        "PARTITION", "COALESCE", "REORGANIZE", "EXCHANGE", "ANALYZE", "CHECK", "OPTIMIZE", "REBUILD", "REPAIR",
        "TRUNCATE", "DISCARD", "IMPORT", "REMOVE", "UPGRADE",
    ];
    if PARTITION_OPS.contains(&first.as_str()) || (matches!(first.as_str(), "ADD" | "DROP") && c.is("PARTITION")) {
        return Ok(false);
    }
    if spec.windows(2).any(|w| is_kw(Some(&w[0]), "SYSTEM") && is_kw(Some(&w[1]), "VERSIONING")) {
        return Err(unsupported("system-versioned tables are not followed"));
    }
    let constraint = |c: &Cur| {
        let k = c.keyword().unwrap_or_default();
        let primary = (0..3).any(|n| is_kw(c.t.get(c.i + n), "PRIMARY"));
        let other = ["INDEX", "KEY", "UNIQUE", "FULLTEXT", "SPATIAL", "FOREIGN", "CHECK"].contains(&k.as_str())
            || k == "PERIOD" && is_kw(c.t.get(c.i + 1), "FOR");
        (primary && matches!(k.as_str(), "PRIMARY" | "CONSTRAINT"), other || k == "CONSTRAINT")
    };
    match first.as_str() {
        "ADD" => {
            c.eat("COLUMN");
            let if_not_exists = c.eat_all(&["IF", "NOT", "EXISTS"]);
            match (constraint(&c), c.peek()) {
                ((true, _), _) => t.primary_key = key_columns(t, c.rest())?,
                ((_, true), _) => {}
                (_, Some(Token::LParen)) => {
                    for def in split_commas(c.group().unwrap_or_default()) {
                        add_column(t, def, if_not_exists)?;
                    }
                }
                _ => add_column(t, c.rest(), if_not_exists)?,
            }
        }
        "DROP" => {
            let column = c.eat("COLUMN");
            let if_exists = c.eat_all(&["IF", "EXISTS"]);
            if !column && c.eat_all(&["PRIMARY", "KEY"]) {
                t.primary_key.clear();
            } else if column || !(constraint(&c).1 || c.is("PRIMARY") || c.is("SYSTEM")) {
                let name = c.word().ok_or_else(|| unsupported("DROP COLUMN without a name"))?;
                match t.column(&name) {
                    Some((i, _)) => {
                        let gone = t.columns.remove(i).name;
                        t.primary_key.retain(|k| !k.eq_ignore_ascii_case(&gone));
                    }
                    None if if_exists => {}
                    None => return Err(unknown_column(t, &name)),
                }
            }
        }
        "MODIFY" | "CHANGE" => {
            c.eat("COLUMN");
            let if_exists = c.eat_all(&["IF", "EXISTS"]);
            let old = match first.as_str() {
                "CHANGE" => c.word(),
                _ => c.peek().and_then(|_| Cur::new(c.rest()).word()),
            };
            let old = old.ok_or_else(|| unsupported(format!("{first} without a column name")))?;
            let Some((i, _)) = t.column(&old) else {
                return if if_exists { Ok(true) } else { Err(unknown_column(t, &old)) };
            };
            let (def, position) = split_position(c.rest());
            let (col, primary) = column(def, &t.charset)?;
            let old_name = t.columns.remove(i).name;
            for k in t.primary_key.iter_mut().filter(|k| k.eq_ignore_ascii_case(&old_name)) {
                *k = col.name.clone();
            }
            insert_column(t, col, position, i, primary)?;
        }
        "RENAME" => {
            if c.eat("COLUMN") {
                let (old, new) = (c.word(), c.eat("TO").then(|| c.word()).flatten());
                let (Some(old), Some(new)) = (old, new) else { return Err(unsupported("RENAME COLUMN without TO")) };
                let (i, _) = t.column(&old).ok_or_else(|| unknown_column(t, &old))?;
                let old_name = std::mem::replace(&mut t.columns[i].name, new.clone());
                for k in t.primary_key.iter_mut().filter(|k| k.eq_ignore_ascii_case(&old_name)) {
                    *k = new.clone();
                }
            } else if !(c.is("INDEX") || c.is("KEY")) {
                let _ = c.eat("TO") || c.eat("AS");
                *rename = Some(c.name()?);
            }
        }
        "CONVERT" => {
            let charset = charset_options(c.rest()).ok_or_else(|| unsupported("CONVERT TO without a character set"))?;
            t.charset = charset.clone();
            for col in t.columns.iter_mut().filter(|col| col.is_text()) {
                let old = col.charset.clone().unwrap_or_default();
                if let Some(i) = TEXTS.iter().position(|(n, _)| *n == col.type_name) {
                    let chars = TEXTS[i].1 / max_bytes(&old);
                    let need = TEXTS.iter().position(|(_, max)| chars * max_bytes(&charset) <= *max).unwrap_or(3);
                    col.type_name = TEXTS[i.max(need)].0.to_string();
                }
                set_charset(col, &charset);
            }
        }
        "ALTER" | "ORDER" | "FORCE" | "ENABLE" | "DISABLE" | "LOCK" | "ALGORITHM" | "WITH" | "WITHOUT" | "VALIDATION" => {}
        _ if TABLE_OPTIONS.contains(&first.as_str()) => {
            if let Some(charset) = charset_options(spec) {
                t.charset = charset;
            }
        }
        _ => return Err(unsupported(format!("ALTER TABLE operation `{}` is not understood", first.to_lowercase()))),
    }
    Ok(!partition(spec))
}

/// First words of the table options ALTER TABLE accepts; only the character set ones matter.
const TABLE_OPTIONS: &[&str] = &[
    "DEFAULT", "CHARACTER", "CHARSET", "CHAR", "COLLATE", "ENGINE", "TYPE", "COMMENT", "AUTO_INCREMENT", "ROW_FORMAT",
    "KEY_BLOCK_SIZE", "STATS_AUTO_RECALC", "STATS_PERSISTENT", "STATS_SAMPLE_PAGES", "PACK_KEYS", "CHECKSUM",
    "TABLE_CHECKSUM", "DELAY_KEY_WRITE", "INSERT_METHOD", "MAX_ROWS", "MIN_ROWS", "AVG_ROW_LENGTH", "TABLESPACE",
    "UNION", "COMPRESSION", "ENCRYPTION", "ENCRYPTED", "ENCRYPTION_KEY_ID", "DATA", "INDEX", "CONNECTION", "PASSWORD",
    "STORAGE", "SECONDARY_ENGINE", "SECONDARY_ENGINE_ATTRIBUTE", "ENGINE_ATTRIBUTE", "SECONDARY_LOAD",
    "SECONDARY_UNLOAD", "AUTOEXTEND_SIZE", "PAGE_CHECKSUM", "TRANSACTIONAL", "PAGE_COMPRESSED",
    "PAGE_COMPRESSION_LEVEL", "IETF_QUOTES", "SEQUENCE", "START",
];

fn add_column(t: &mut TableDef, def: &[Token], if_not_exists: bool) -> Result<(), DdlError> {
    let (def, position) = split_position(def);
    let (col, primary) = column(def, &t.charset)?;
    if t.column(&col.name).is_some() {
        if if_not_exists {
            return Ok(());
        }
        let (database, table, column) = (t.database.clone(), t.table.clone(), col.name);
        return Err(DdlError::ColumnExists { statement: String::new(), database, table, column });
    }
    let end = t.columns.len();
    insert_column(t, col, position, end, primary)
}

fn insert_column(t: &mut TableDef, col: ColumnDef, at: Option<Position>, default: usize, primary: bool) -> Result<(), DdlError> {
    let i = match at {
        None => default,
        Some(Position::First) => 0,
        Some(Position::After(name)) => t.column(&name).ok_or_else(|| unknown_column(t, &name))?.0 + 1,
    };
    if primary {
        t.primary_key = vec![col.name.clone()];
    }
    t.columns.insert(i, col);
    Ok(())
}

/// A CREATE TABLE's column definitions and constraints.
fn table_from_elements(database: String, table: String, charset: String, elements: &[Token]) -> Result<TableDef, DdlError> {
    let mut t = TableDef { database, table, charset, primary_key: vec![], columns: vec![] };
    let mut key = None;
    for element in split_commas(elements) {
        let c = Cur::new(element);
        let k = c.keyword().unwrap_or_default();
        let primary = (0..3).any(|n| is_kw(element.get(n), "PRIMARY"));
        match k.as_str() {
            "PRIMARY" | "CONSTRAINT" if primary => key = Some(element),
            "CONSTRAINT" | "KEY" | "INDEX" | "UNIQUE" | "FULLTEXT" | "SPATIAL" | "FOREIGN" | "CHECK" => {}
            "PERIOD" if is_kw(element.get(1), "FOR") => {}
            _ => {
                let (col, primary) = column(element, &t.charset)?;
                let end = t.columns.len();
                insert_column(&mut t, col, None, end, primary)?;
            }
        }
    }
    if let Some(key) = key {
        t.primary_key = key_columns(&t, key)?;
    }
    Ok(t)
}

#[cfg(test)]
#[path = "ddl_tests.rs"]
mod tests;
