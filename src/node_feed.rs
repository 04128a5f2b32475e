//! The stream's reader, which the sink's loop may start again elsewhere: at a boundary, to
//! narrow it for a `bootstrapper=async` bootstrap (or widen it again), see
//! [`crate::bootstrap::hold`].
//!
//! Invariants:
//! - At most one reader runs; [`Feed::restart`] stops the running one (waiting for it) before
//!   it opens the next, and gives the next a new segment number. Every transaction carries
//!   the segment of the reader that read it; the loop drops those of an earlier segment (read
//!   ahead past the restart point, read again by the new reader).
//! - A reader that fails, or stops because the stream stops, ends the stream ([`Feed::ended`]
//!   is cancelled; the loop still takes what is queued first); the first error is returned by
//!   [`Feed::finish`]. A reader stopped for a restart ends nothing.
//! - A reader narrowed to a bootstrap's table reads a range whose schema changes are stored
//!   already: it does not store them again.

use crate::bootstrap::drive::{Driver, Step};
use crate::bootstrap::hold::{pinned, Hold, Overlay, Pin, Restart};
use crate::config::SourceConfig;
use crate::encode::Transaction;
use crate::source::decoder::DecoderConfig;
use crate::source::reader::{Reader, ReaderError, ResumePoint, StartPosition};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What every reader of a stream is opened with.
pub(super) struct Origin {
    pub source: SourceConfig,
    pub dcfg: DecoderConfig,
    pub history: Option<crate::source::history::Keeper>,
    pub progress: Arc<crate::progress::Progress>,
    pub use_gtid: bool,
    pub tx: mpsc::Sender<Transaction>,
}

pub(super) struct Feed {
    origin: Origin,
    /// The running reader's segment.
    pub segment: u32,
    running: Option<(JoinHandle<()>, CancellationToken)>,
    /// Cancelled when the stream ends (every reader stops).
    pub stop: CancellationToken,
    ending: Ending,
}

/// How a reader ends the stream: the first error kept, `ended` cancelled.
#[derive(Clone, Default)]
struct Ending {
    /// Cancelled when a reader failed, or stopped with the stream.
    ended: CancellationToken,
    error: Arc<Mutex<Option<ReaderError>>>,
}

impl Ending {
    fn fail(&self, e: ReaderError) {
        self.error.lock().expect("error lock").get_or_insert(e);
        self.ended.cancel();
    }
}

/// What the first reader found at the start.
pub(super) struct Opened {
    pub feed: Feed,
    pub start: ResumePoint,
    pub schema_id: u64,
    pub version: String,
}

impl Feed {
    /// Opens the first reader at `start` (narrowed by `overlay`) and starts it; `stop` ends
    /// every reader.
    pub async fn open(origin: Origin, stop: CancellationToken, start: &StartPosition, overlay: Option<Overlay>) -> Result<Opened, ReaderError> {
        let mut feed = Feed { origin, segment: 0, running: None, stop, ending: Ending::default() };
        let reader = feed.reader(start, overlay).await?;
        let opened = (reader.resume.clone(), reader.decoder.schema_id(), reader.info.version.clone());
        feed.spawn(reader);
        Ok(Opened { feed, start: opened.0, schema_id: opened.1, version: opened.2 })
    }

    async fn reader(&self, start: &StartPosition, overlay: Option<Overlay>) -> Result<Reader, ReaderError> {
        let narrow = matches!(overlay, Some(Overlay::Only { .. }));
        let o = &self.origin;
        let mut dcfg = o.dcfg.clone();
        dcfg.filter = dcfg.filter.with_overlay(overlay);
        let mut reader = Reader::open(o.source.clone(), dcfg, start, o.history.clone()).await?;
        if narrow {
            reader.forget_history();
        }
        reader.progress = Some(o.progress.clone());
        reader.segment = self.segment;
        Ok(reader)
    }

    fn spawn(&mut self, mut reader: Reader) {
        let cancel = self.stop.child_token();
        let (c, tx, use_gtid) = (cancel.clone(), self.origin.tx.clone(), self.origin.use_gtid);
        let (ending, stop) = (self.ending.clone(), self.stop.clone());
        let task = tokio::spawn(async move {
            match reader.run(use_gtid, &c, &tx).await {
                Err(e) => {
                    tracing::debug!(error = %e, "the reader stopped");
                    ending.fail(e);
                }
                Ok(()) if stop.is_cancelled() => ending.ended.cancel(),
                Ok(()) => {}
            }
        });
        self.running = Some((task, cancel));
    }

    /// Cancelled when a reader failed, or stopped with the stream: the stream ends.
    pub fn ended(&self) -> CancellationToken {
        self.ending.ended.clone()
    }

    /// Waits for a stopped reader; a panic is its error.
    async fn join(&self, task: JoinHandle<()>) {
        if let Err(e) = task.await {
            self.ending.fail(ReaderError::Definite(format!("the binlog reader failed: {e}")));
        }
    }

    /// Stops the running reader and starts one at `r.at` narrowed by `r.overlay`; `false`
    /// when that failed ([`Feed::ended`] is cancelled then).
    pub async fn restart(&mut self, r: Restart) -> bool {
        if let Some((task, cancel)) = self.running.take() {
            cancel.cancel();
            self.join(task).await;
        }
        self.segment += 1;
        tracing::info!(at = %r.at, overlay = ?r.overlay, segment = self.segment, "reading the binlog again from a boundary");
        let start = StartPosition::resume(&r.at.position, r.at.gtid.as_ref(), self.origin.use_gtid);
        match self.reader(&start, r.overlay).await {
            Ok(reader) => {
                self.spawn(reader);
                !self.ending.ended.is_cancelled()
            }
            Err(e) => {
                self.ending.fail(e);
                false
            }
        }
    }

    /// Stops the reader; the first error any reader ended with.
    pub async fn finish(mut self) -> Result<(), ReaderError> {
        self.stop.cancel();
        if let Some((task, _)) = self.running.take() {
            self.join(task).await;
        }
        let e = self.ending.error.lock().expect("error lock").take();
        e.map_or(Ok(()), Err)
    }
}

/// What a bootstrap step gave a sink's loop.
pub(super) enum Boot {
    /// A record to send.
    Send(Box<Transaction>),
    /// Nothing now.
    Idle,
    /// The stream is stopping.
    Stop,
    /// The `javascript` filter failed on a record.
    Failed(crate::encode::javascript::ScriptError),
}

/// The reader with the `bootstrapper=async` hold that steers it, as a sink's loop uses them.
pub(super) struct Flow {
    pub feed: Feed,
    /// `bootstrapper=async` (none: `sync`, or no bootstraps).
    pub hold: Option<Hold>,
    /// At-least-once: the acknowledged position stays at a hold's start (see the hold).
    pin: Option<Pin>,
}

impl Flow {
    pub fn new(feed: Feed, hold: Option<Hold>, exactly_once: bool) -> Self {
        let pin = hold.as_ref().filter(|_| !exactly_once).map(Hold::pin);
        Self { feed, hold, pin }
    }

    /// At boundary `at`: restarts the reader when the hold asks for it (`false`: that failed
    /// and the stream ends).
    pub async fn at_boundary(&mut self, at: &ResumePoint, boot: Option<&Driver>) -> bool {
        let (Some(h), Some(d)) = (self.hold.as_mut(), boot) else { return true };
        match h.at_boundary(at, d.boot.active_state(), d.boot.ended) {
            Some(r) => self.feed.restart(r).await,
            None => true,
        }
    }

    /// No bootstrap step now: the hold is catching up (its table's held changes go first).
    pub fn busy(&self) -> bool {
        self.hold.as_ref().is_some_and(Hold::catching_up)
    }

    /// A transaction from the reader: what to send for it (none: read ahead by an earlier
    /// reader, or nothing to send of a catch-up).
    pub fn take(&mut self, t: Transaction) -> Option<Transaction> {
        if t.segment != self.feed.segment {
            return None;
        }
        match self.hold.as_mut() {
            Some(h) if h.catching_up() => h.catch_up(t),
            _ => Some(t),
        }
    }

    /// One bootstrap step at boundary `at` (schema id `schema_id` there; `committed` as
    /// [`Driver::step`] takes it): its record, stamped with the hold and run through the
    /// `javascript` filter (Maxwell runs a bootstrap's rows through it too).
    pub async fn bootstrap(
        &mut self,
        d: &mut Driver,
        (at, schema_id): (&ResumePoint, u64),
        committed: impl FnOnce(&crate::bootstrap::Bootstrapper) -> Option<crate::bootstrap::State>,
        script: Option<&crate::encode::javascript::stage::Handle>,
        ctl: &super::StreamControl,
    ) -> Boot {
        let Step::Record(mut t) = d.step(at, schema_id, committed).await else { return Boot::Idle };
        if ctl.abort.is_cancelled() || ctl.stop.is_cancelled() {
            return Boot::Stop;
        }
        if let Some(h) = self.hold.as_mut() {
            h.stamp(&mut t, at);
        }
        match script {
            Some(s) => s.run(*t).await.map_or_else(Boot::Failed, |t| Boot::Send(Box::new(t))),
            None => Boot::Send(t),
        }
    }

    /// What to publish as acknowledged for `p`.
    pub fn publish(&self, p: Option<ResumePoint>) -> Option<ResumePoint> {
        publish(self.pin.as_ref(), p)
    }

    pub fn pin(&self) -> Option<Pin> {
        self.pin.clone()
    }
}

/// `p`, or the pinned position before it (at-least-once while a hold lasts).
pub(super) fn publish(pin: Option<&Pin>, p: Option<ResumePoint>) -> Option<ResumePoint> {
    match (pin, p) {
        (Some(pin), Some(p)) => Some(pinned(pin, p)),
        (_, p) => p,
    }
}
