//! The binary log's format: positions and GTID sets (value types), TABLE_MAP schemas, row
//! images and cell values, written straight into Maxwell's JSON value syntax. Reading the log
//! from a server is `crate::source`'s; this room imports no other room but `metrics`.
//!
//! Cell decoding: [`schema`] (a table's columns) → [`rows`] (a row image) → [`values`],
//! [`jsonb`], [`wkt`] (one value).

pub mod bytes;
pub mod charset;
pub mod gtid;
pub mod jsonb;
pub mod position;
pub mod rows;
pub mod schema;
pub mod values;
pub mod wkt;

pub use gtid::GtidSet;
pub use position::BinlogPosition;
