//! Reading the source's binary log: connecting to MySQL/MariaDB (one server or a list of
//! candidates, TLS), the replication stream with its reconnects, and the event state machine
//! that turns raw events into encoded transactions.
//!
//! Data flows one way: [`reader`] (network, reconnects) → [`decoder`] (event state machine) →
//! `crate::binlog` (the format: events, TABLE_MAP schemas, row images, values) and
//! `crate::encode` (Maxwell JSON) → a transaction for the sink.
//!
//! Invariants: this room imports the format (`binlog`), the configuration (`config`) and the
//! encoder (`encode`), never the sink, the cluster or the HTTP server; a transaction leaves it
//! only through the reader's channel.

pub mod capture;
pub mod connect;
pub mod decoder;
pub mod dump;
pub mod history;
pub mod mysql_dump;
pub mod reader;
pub mod tls;
