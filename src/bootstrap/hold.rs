//! `bootstrapper=async`: while a table is bootstrapped, the binlog keeps streaming every other
//! table; the table's own changes wait and follow `bootstrap-complete` (Maxwell's
//! `AsynchronousBootstrapper`). Held changes are not kept in memory: they are read again from
//! the binlog once the bootstrap ends, so a long bootstrap of a busy table costs no memory and
//! a restart loses none of them.
//!
//! Invariants:
//! - Holding: from the boundary where the bootstrap starts (`held_from`) the stream's reader
//!   leaves the table's rows out ([`Overlay::Except`]); its DDL still flows.
//! - When the bootstrap ends (`bootstrap-complete`, a cancel or a refusal) at boundary
//!   `held_until`, the reader starts again at `held_from` keeping only the table's rows
//!   ([`Overlay::Only`]); each transaction up to `held_until` is sent positioned at
//!   `held_until` (the stream's resume point never moves back) and carries the state with
//!   `held_from` moved past it. The one ending at `held_until` carries the state with both
//!   cleared, and the reader starts again at `held_until` unnarrowed.
//! - Exactly-once: that state travels in every checkpoint with the rows, so a new leader
//!   narrows its reader the same way and continues the catch-up after the last committed
//!   transaction: no held change lost, none twice, each after `bootstrap-complete`.
//! - A node alone (at-least-once) keeps no state: the position it acknowledges is pinned at
//!   the first `held_from` until the catch-up ends ([`Hold::pin`]), so a restart reads the
//!   table's changes again from there (repeats, never a gap), as the restarted bootstrap does.
//! - Positions are compared within one server's binlog: a source failover while a bootstrap
//!   runs is followed by GTID as usual, and the catch-up ends at the first transaction at or
//!   past `held_until` by file position.
//! - A catch-up transaction spilled in parts is sent part by part like any other; only whole
//!   transactions move `held_from`.

use super::State;
use crate::binlog::position::ResumePoint;
use crate::encode::Transaction;
pub use crate::filter::Overlay;
use std::sync::{Arc, Mutex};

/// The position a node alone may acknowledge while a hold lasts (see [`Hold::pin`]).
pub type Pin = Arc<Mutex<Option<ResumePoint>>>;

/// The point to publish instead of `p` while `pin` holds one at or before it.
pub fn pinned(pin: &Pin, p: ResumePoint) -> ResumePoint {
    match pin.lock().expect("pin lock").as_ref() {
        Some(q) if p.position >= q.position => q.clone(),
        _ => p,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Idle,
    /// The bootstrap of `State` runs; its table's changes from `held_from` wait.
    Holding(State),
    /// The bootstrap ended; the changes in `(held_from, held_until]` are being sent.
    CatchingUp(State),
}

/// Start the stream's reader again at a boundary, narrowed (or not) by an overlay.
#[derive(Debug, Clone, PartialEq)]
pub struct Restart {
    pub at: ResumePoint,
    pub overlay: Option<Overlay>,
}

#[derive(Debug)]
pub struct Hold {
    phase: Phase,
    /// A restart to make at the next boundary.
    restart: Option<Restart>,
    pin: Pin,
}

impl Hold {
    /// The hold a stream resumes with (`resumed`: the bootstrap state of the checkpoint it
    /// starts from) and the overlay its first reader needs.
    pub fn resumed(resumed: Option<&State>) -> (Self, Option<Overlay>) {
        let mut h = Hold { phase: Phase::Idle, restart: None, pin: Pin::default() };
        let Some(s) = resumed.filter(|s| s.held_from.is_some()) else { return (h, None) };
        if !s.complete {
            h.phase = Phase::Holding(s.clone());
            return (h, Some(except(s)));
        }
        if let (Some(from), Some(_)) = (&s.held_from, &s.held_until) {
            h.restart = Some(Restart { at: from.clone(), overlay: Some(only(s)) });
            h.phase = Phase::CatchingUp(s.clone());
        }
        (h, None)
    }

    /// Shared with whoever publishes the acknowledged position (at-least-once).
    pub fn pin(&self) -> Pin {
        self.pin.clone()
    }

    /// The table whose changes wait, if any.
    pub fn holding(&self) -> Option<(&str, &str)> {
        match &self.phase {
            Phase::Holding(s) | Phase::CatchingUp(s) => Some((&s.database, &s.table)),
            Phase::Idle => None,
        }
    }

    pub fn catching_up(&self) -> bool {
        matches!(self.phase, Phase::CatchingUp(_))
    }

    /// At boundary `at`, told which bootstrap the runner is working on (`active`) and which
    /// one it gave up without a completion record (`ended`: cancelled or refused): the
    /// restart of the reader to make now, if any.
    pub fn at_boundary(&mut self, at: &ResumePoint, active: Option<&State>, ended: Option<u64>) -> Option<Restart> {
        match &mut self.phase {
            Phase::Idle => {
                if let Some(a) = active {
                    let mut s = a.clone();
                    s.held_from = Some(at.clone());
                    *self.pin.lock().expect("pin lock") = Some(at.clone());
                    self.restart = Some(Restart { at: at.clone(), overlay: Some(except(&s)) });
                    self.phase = Phase::Holding(s);
                }
            }
            Phase::Holding(s) if ended == Some(s.id) => {
                let mut s = s.clone();
                s.complete = true;
                self.end(s, at);
            }
            _ => {}
        }
        self.restart.take()
    }

    /// Marks a bootstrap record (made by the runner at boundary `at`) with the hold, and ends
    /// the hold with the record that completes the bootstrap.
    pub fn stamp(&mut self, t: &mut Transaction, at: &ResumePoint) {
        let (Phase::Holding(h), Some(b)) = (&mut self.phase, t.bootstrap.as_mut()) else { return };
        if b.id != h.id {
            return;
        }
        b.held_from = h.held_from.clone();
        if b.complete {
            b.held_until = Some(at.clone());
            let s = b.clone();
            self.end(s, at);
        } else {
            *h = b.clone();
        }
    }

    fn end(&mut self, mut s: State, at: &ResumePoint) {
        let from = s.held_from.clone().unwrap_or_else(|| at.clone());
        if from.position >= at.position {
            // Nothing was read past the start: nothing is held.
            self.finish(at);
            return;
        }
        s.held_until = Some(at.clone());
        self.restart = Some(Restart { at: from, overlay: Some(only(&s)) });
        self.phase = Phase::CatchingUp(s);
    }

    fn finish(&mut self, at: &ResumePoint) {
        self.phase = Phase::Idle;
        *self.pin.lock().expect("pin lock") = None;
        self.restart = Some(Restart { at: at.clone(), overlay: None });
    }

    /// A transaction of the catch-up reader: what to send for it, if anything. The last one
    /// (at `held_until`) ends the hold: [`Hold::at_boundary`] then restarts the reader.
    pub fn catch_up(&mut self, mut t: Transaction) -> Option<Transaction> {
        let Phase::CatchingUp(s) = &mut self.phase else { return Some(t) };
        let until = s.held_until.clone().expect("a catch-up has its end");
        let past = t.position > until.position;
        if !t.ends_transaction() && !past {
            place(&mut t, &until);
            return Some(t);
        }
        let last = past || t.position == until.position;
        let keep = !past && !t.row_ends.is_empty();
        if last {
            let mut done = s.clone();
            (done.held_from, done.held_until) = (None, None);
            self.finish(&until);
            // The state with the hold over goes out even when no row does.
            let mut t = if keep { t } else { Transaction { server_id: t.server_id, source_server_id: t.source_server_id, schema_id: t.schema_id, ..Default::default() } };
            place(&mut t, &until);
            t.bootstrap = Some(done);
            return Some(t);
        }
        s.held_from = Some(t.resume_point());
        if !keep {
            return None;
        }
        place(&mut t, &until);
        t.bootstrap = Some(s.clone());
        Some(t)
    }
}

fn except(s: &State) -> Overlay {
    Overlay::Except { database: s.database.clone(), table: s.table.clone() }
}

fn only(s: &State) -> Overlay {
    Overlay::Only { database: s.database.clone(), table: s.table.clone() }
}

/// Positions `t` at `at` (its rows keep the positions they were read at).
fn place(t: &mut Transaction, at: &ResumePoint) {
    t.position = at.position.clone();
    t.gtid_set = at.gtid.clone();
    t.server_id = at.server_id;
}

#[cfg(test)]
#[path = "hold_tests.rs"]
mod tests;
