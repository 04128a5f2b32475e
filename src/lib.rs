//! maxwell-ha: MySQL/MariaDB binlog → Maxwell-compatible JSON, with ZooKeeper-coordinated
//! active/standby failover.
//!
//! Data flows one way: `binlog` (read, decode) → `encode` (Maxwell JSON) → `sink` (stdout,
//! Kafka) → position (committed only after the sink acknowledged every row up to it).

pub mod binlog;
pub mod bootstrap;
pub mod config;
pub mod encode;
pub mod filter;
pub mod node;
pub mod positions;
pub mod progress;
pub mod sink;
pub mod source;
pub mod cluster;
pub mod cli;
pub mod http;
pub mod metrics;
