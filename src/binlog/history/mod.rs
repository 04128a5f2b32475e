//! The schema history: the source's databases, tables and columns as of a binlog position,
//! captured once from `information_schema` and moved forward by every DDL statement the
//! binlog carries, so that rows are decoded with the schema of their own position whatever
//! the server's `binlog_row_metadata` (Maxwell's `schemas` tables, Canal's tsdb, Debezium's
//! schema history do the same).
//!
//! Invariants:
//! - A [`Schema`] is plain data (serde), so it can be stored beside a resume point and read
//!   back unchanged; [`Schema::apply`] is the only way it changes after a capture.
//! - A statement that changes tables is applied completely or not at all: on an error the
//!   schema is left as it was and the error names the statement and what to do.
//! - Names keep the server's case. Databases and tables are looked up exactly on a server with
//!   `lower_case_table_names=0`, columns case-insensitively, as MySQL does. With
//!   `lower_case_table_names=1` (or 2), as Maxwell 1.22.6 does: a database is found whatever the
//!   case and keeps the name it was captured or created with (`CREATE DATABASE Shop` → `Shop`,
//!   captured → the server's lower case); a table name is lower-cased (with 2: found whatever
//!   the case, kept as written). See docs/maxwell-compatibility.md.
//! - Column definitions hold what decoding and Maxwell's DDL records need: the type name, the
//!   signedness of numbers, the character set of strings (inherited from the table, which
//!   inherits from its database, when a column names none), ENUM/SET labels, fractional
//!   seconds, and the primary key in key order.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod ddl;
pub mod stored;
pub use ddl::{charset_name, may_change_tables, one_line, Change, DdlError};
pub use stored::{schema_at, Entry, Mark};

/// One column, in Maxwell's `def` shape (`type`, `name`, `signed`, `charset`, `enum-values`,
/// `column-length`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    /// The type name in lower case without length or attributes: `int`, `varchar`, `enum`,
    /// `datetime`, `json`, … (`integer` is `int`, `bool` is `tinyint`, as the server stores them).
    #[serde(rename = "type")]
    pub type_name: String,
    pub name: String,
    /// Integers: `false` when UNSIGNED (absent for other types, as in Maxwell).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signed: Option<bool>,
    /// Text types (CHAR, VARCHAR, TEXT family, ENUM, SET): the character set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub charset: Option<String>,
    /// ENUM and SET: the labels in order.
    #[serde(rename = "enum-values", skip_serializing_if = "Option::is_none", default)]
    pub enum_values: Option<Vec<String>>,
    /// TIME, DATETIME, TIMESTAMP: fractional seconds digits (0..=6).
    #[serde(rename = "column-length", skip_serializing_if = "Option::is_none", default)]
    pub column_length: Option<u32>,
}

/// One table, in Maxwell's `def` shape (and field order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    pub database: String,
    /// The table's default character set.
    pub charset: String,
    pub table: String,
    pub columns: Vec<ColumnDef>,
    /// Primary key column names, in key order (empty: none).
    #[serde(rename = "primary-key", default)]
    pub primary_key: Vec<String>,
}

/// One database and its tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseDef {
    pub name: String,
    /// The database's default character set (its tables' unless they name one).
    pub charset: String,
    pub tables: BTreeMap<String, TableDef>,
}

/// The source's schema at one position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Schema {
    /// The server's default character set (`character_set_server`): a new database's
    /// unless it names one.
    pub charset: String,
    pub databases: BTreeMap<String, DatabaseDef>,
    /// The server's `lower_case_table_names` (0: names are case-sensitive).
    #[serde(skip_serializing_if = "is_zero", default)]
    pub lower_case_table_names: u8,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

impl ColumnDef {
    /// Whether values of this type carry a character set.
    pub fn is_text(&self) -> bool {
        matches!(
            self.type_name.as_str(),
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
        )
    }
}

impl TableDef {
    /// The column named `name` (case-insensitively), with its index.
    pub fn column(&self, name: &str) -> Option<(usize, &ColumnDef)> {
        self.columns.iter().enumerate().find(|(_, c)| c.name.eq_ignore_ascii_case(name))
    }
}

impl Schema {
    pub fn table(&self, database: &str, table: &str) -> Option<&TableDef> {
        let d = self.databases.get(&self.database_key(database))?;
        d.tables.get(&self.table_key(d, table))
    }

    /// The key of database `name`: an existing one whatever its case when names are not
    /// case-sensitive, else `name`.
    pub fn database_key(&self, name: &str) -> String {
        match self.lower_case_table_names {
            0 => name.to_string(),
            _ => self.databases.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_string()),
        }
    }

    /// The key of table `name` in `d`: lower case with `lower_case_table_names=1`, an existing
    /// one whatever its case with 2, else `name`.
    pub fn table_key(&self, d: &DatabaseDef, name: &str) -> String {
        match self.lower_case_table_names {
            0 => name.to_string(),
            1 => name.to_lowercase(),
            _ => d.tables.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_string()),
        }
    }

    /// Tables and columns held, for the log and the metrics.
    pub fn size(&self) -> (usize, usize) {
        let tables = self.databases.values().flat_map(|d| d.tables.values());
        tables.fold((0, 0), |(t, c), table| (t + 1, c + table.columns.len()))
    }
}
