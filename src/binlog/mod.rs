//! Reading the source's binary log: raw events → decoded, Maxwell-encoded transactions.
//!
//! Data flows one way: [`reader`] (network, reconnects) → [`decoder`] (event state machine) →
//! [`schema`]/[`rows`]/[`values`] (cell decoding) → `crate::encode` (JSON) → a sink.

pub mod bytes;
pub mod charset;
pub mod decoder;
pub mod gtid;
pub mod jsonb;
pub mod mysql_dump;
pub mod position;
pub mod reader;
pub mod rows;
pub mod schema;
pub mod source;
pub mod tls;
pub mod values;
pub mod wkt;

pub use gtid::GtidSet;
pub use position::BinlogPosition;
