//! The binary log's format: positions and GTID sets (value types), TABLE_MAP schemas, row
//! images and cell values, written straight into Maxwell's JSON value syntax. Reading the log
//! from a server is `crate::source`'s; this room imports no other room but `metrics`.
//!
//! Events: [`events`] says what one event's body holds (the state machine that strings
//! events into transactions is `crate::source::decoder`).
//!
//! Cell decoding: [`schema`] (a table's columns) → [`rows`] (a row image) → [`values`],
//! [`jsonb`], [`wkt`] (one value), all writing through [`json`].

pub mod bytes;
pub mod calendar;
pub mod charset;
pub mod events;
pub mod gtid;
pub mod history;
pub mod json;
pub mod jsonb;
pub mod position;
pub mod rows;
pub mod schema;
pub mod values;
pub mod wkt;

pub use gtid::GtidSet;
pub use position::BinlogPosition;
