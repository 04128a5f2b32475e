//! How a sink's loop drives the [`Bootstrapper`]: the same steps, pacing and retries for
//! every producer (stdout and Kafka), so a bootstrap behaves alike whatever `producer` is.
//!
//! Invariants:
//! - A step is only taken at a binlog transaction boundary (the caller says when it is at
//!   one), and every record it returns is positioned at that boundary.
//! - `bootstrapper=sync`: while a bootstrap runs the binlog waits ([`Driver::holds_binlog`]).
//!   `async`: chunks and binlog transactions alternate, the bootstrapped table's changes held
//!   by [`super::hold`]; `bootstrap_rows_per_second` then paces chunks without holding up
//!   the binlog.
//! - Polls for new bootstraps are bounded (1 s) so an unreachable `host` never holds the
//!   stream up; failures back off to a minute while idle, a second while a bootstrap runs,
//!   and the same failure is logged once.

use super::runner::BootstrapError;
use super::{Bootstrapper, State};
use crate::binlog::position::ResumePoint;
use crate::encode::Transaction;
use tokio::time::Instant;

/// What one step gave.
pub enum Step {
    /// A bootstrap record to send now (then step again).
    Record(Box<Transaction>),
    /// Nothing to send now: read the binlog (or wait until [`Driver::wake`]).
    Idle,
}

pub struct Driver {
    pub boot: Bootstrapper,
    /// `bootstrapper=async` (see [`super::hold`]).
    pub asynchronous: bool,
    retry: Instant,
    failures: u32,
}

impl Driver {
    pub fn new(boot: Bootstrapper, asynchronous: bool) -> Self {
        Self { boot, asynchronous, retry: Instant::now(), failures: 0 }
    }

    /// Whether a step may be taken now (not waiting out a failure, nor, async, the throttle).
    pub fn ready(&self) -> bool {
        Instant::now() >= self.retry && !(self.asynchronous && self.boot.throttled_until().is_some())
    }

    /// `sync`: a bootstrap is running, and the binlog waits until it completes.
    pub fn holds_binlog(&self) -> bool {
        self.boot.active() && !self.asynchronous
    }

    /// When the next step is due while nothing arrives from the binlog.
    pub fn wake(&self) -> Instant {
        let idle = std::time::Duration::from_millis(if self.boot.active() { 0 } else { 1000 });
        let throttle = self.boot.throttled_until().filter(|_| self.asynchronous).map_or_else(Instant::now, Instant::from_std);
        self.retry.max(Instant::now() + idle).max(throttle)
    }

    /// One step at boundary `at` (schema id `schema_id` there): the running bootstrap's next
    /// record, or a poll for work when one is due. `committed` gives the bootstrap state the
    /// sink has made durable (completions are marked in the table only once they are).
    pub async fn step(&mut self, at: &ResumePoint, schema_id: u64, committed: impl FnOnce(&Bootstrapper) -> Option<State>) -> Step {
        let b = &mut self.boot;
        let r = if b.active() {
            b.next(at, schema_id).await
        } else if b.poll_due() {
            let committed = committed(&*b);
            match tokio::time::timeout(std::time::Duration::from_secs(1), b.poll(committed.as_ref())).await {
                Ok(r) => r.map(|_| None),
                Err(_) => {
                    b.reset();
                    Err(BootstrapError::Transient("no answer within 1 s".into()))
                }
            }
        } else {
            Ok(None)
        };
        match r {
            Ok(Some(t)) => return Step::Record(Box::new(t)),
            Ok(None) => self.failures = 0,
            Err(e) => {
                self.failures += 1;
                let active = self.boot.active();
                let wait = if active { 1 } else { 1u64 << self.failures.min(6) };
                if self.failures == 1 || active {
                    tracing::warn!(error = %e, retry_in_s = wait, "bootstrap");
                } else {
                    tracing::debug!(error = %e, retry_in_s = wait, "bootstrap");
                }
                self.retry = Instant::now() + std::time::Duration::from_secs(wait.min(60));
            }
        }
        Step::Idle
    }
}
