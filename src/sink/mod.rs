//! Sinks: where finished transactions go.
//!
//! Invariant: a sink acknowledges a transaction (returns from `write`) only once every row of
//! it is durably handed on (written and flushed for stdout); the caller advances the position
//! only after that.

pub mod stdout;
pub mod partition;
pub mod kafka;
