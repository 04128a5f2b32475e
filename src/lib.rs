//! maxwell-ha: MySQL/MariaDB binlog → Maxwell-compatible JSON, with ZooKeeper-coordinated
//! active/standby failover.
//!
//! Data flows one way: `source` (read the binlog; `binlog` is its format) → `encode`
//! (Maxwell JSON) → `sink` (stdout, Kafka) → position (committed only after the sink
//! acknowledged every row up to it). `cluster` runs terms of leadership around that flow;
//! `cli`, `http` and the binaries sit on top. Rooms import only rooms below them (the module
//! list here is in that order, lowest first; `tests/layout.rs` checks there is no cycle).

pub mod metrics;
pub mod progress;
pub mod filter;
pub mod binlog;
pub mod config;
pub mod encode;
pub mod source;
pub mod sink;
pub mod positions;
pub mod bootstrap;
pub mod node;
pub mod cluster;
pub mod cli;
pub mod http;
