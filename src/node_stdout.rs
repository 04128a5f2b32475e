//! The stdout sink's loop (`producer=stdout`): binlog transactions and a bootstrap's records
//! written in order, the position acknowledged after each flush.
//!
//! Invariants:
//! - A transaction is written whole (one write and a flush) before its position is published
//!   on `StreamControl::acked`; a bootstrap's records sit at a binlog boundary and never move
//!   the position.
//! - Bootstraps run as on the Kafka path ([`crate::bootstrap::drive`]): only at a transaction
//!   boundary, the bootstrapped table's changes (`async`) or the whole binlog (`sync`) waiting
//!   until `bootstrap-complete`, the records through the
//!   `javascript` filter, and a completion marked in the table only once it was written (a
//!   write to stdout is done when the flush returns).
//! - A node alone keeps no bootstrap progress: an interrupted bootstrap starts again from its
//!   first row (repeats, never a gap), as with Kafka at-least-once; while `async` holds a
//!   table's changes the published position stays where the hold began.

use super::node_feed::{Boot, Flow};
use super::{NodeError, StreamControl};
use crate::bootstrap::drive::Driver;
use crate::encode::javascript::stage::Handle;
use crate::encode::Transaction;
use crate::metrics;
use crate::sink::stdout::StdoutSink;
use crate::source::reader::ResumePoint;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Writes `t` and counts it; an error cancels the reader.
fn write(sink: &mut StdoutSink<std::io::Stdout>, t: &Transaction, cancel: &CancellationToken) -> Result<(), NodeError> {
    let m = metrics::get();
    if let Err(e) = tokio::task::block_in_place(|| sink.write(t)) {
        m.messages_failed.inc_by(t.row_ends.len() as u64);
        cancel.cancel();
        return Err(NodeError::Sink(e));
    }
    m.messages_succeeded.inc_by(t.row_ends.len() as u64);
    m.bytes.inc_by(t.json.len() as u64);
    Ok(())
}

/// Writes each transaction as it arrives, and the records of bootstraps at transaction
/// boundaries; the position advances after the flush. `boundary`: the start point and the
/// schema id there.
pub(super) async fn to_stdout(
    rx: &mut mpsc::Receiver<Transaction>,
    flow: &mut Flow,
    ctl: &StreamControl,
    (mut boundary, mut boundary_schema_id): (ResumePoint, u64),
    mut boot: Option<Driver>,
    script: Option<Handle>,
    push_ts: Option<crate::config::NamingStrategy>,
) -> (Option<ResumePoint>, Option<NodeError>) {
    let cancel = &flow.feed.stop.clone();
    let reader_ended = flow.feed.ended();
    let mut sink = StdoutSink::new(std::io::stdout()).with_push_ts(push_ts);
    let mut last = None;
    let m = metrics::get();
    // Between two binlog transactions (a bootstrap runs only there).
    let mut at_boundary = true;
    loop {
        if ctl.abort.is_cancelled() {
            break;
        }
        if let Some(d) = boot.as_mut().filter(|d| at_boundary && !flow.busy() && d.ready()) {
            // Written means flushed: the last completion handed over is the last one done.
            match flow.bootstrap(d, (&boundary, boundary_schema_id), |b| b.last_sent(), script.as_ref(), ctl).await {
                Boot::Send(t) => {
                    if let Err(e) = write(&mut sink, &t, cancel) {
                        return (last, Some(e));
                    }
                    // `sync`: the next chunk; `async`: a binlog transaction first, if one waits.
                    if !d.asynchronous {
                        continue;
                    }
                }
                Boot::Stop => break,
                Boot::Failed(e) => {
                    cancel.cancel();
                    return (last, Some(e.into()));
                }
                Boot::Idle if d.holds_binlog() && d.ready() => continue,
                Boot::Idle => {}
            }
        }
        // `bootstrapper=async`: the reader narrowed or widened at this boundary when due (a
        // bootstrap that just began holds its table before anything more is read).
        if at_boundary && !flow.at_boundary(&boundary, boot.as_ref()).await {
            break;
        }
        // `sync`: while a bootstrap runs the binlog waits.
        let boot_active = boot.as_ref().is_some_and(|d| d.holds_binlog());
        let wake = boot.as_ref().map_or_else(tokio::time::Instant::now, |d| d.wake());
        let t = tokio::select! {
            biased;
            _ = ctl.abort.cancelled() => break,
            t = rx.recv(), if !boot_active => t,
            _ = reader_ended.cancelled() => break,
            // A bootstrap to poll for or retry (only at a boundary).
            _ = tokio::time::sleep_until(wake), if boot.is_some() && at_boundary && !flow.busy() => continue,
        };
        let Some(t) = t else { break };
        let Some(t) = flow.take(t) else { continue };
        if ctl.abort.is_cancelled() {
            break;
        }
        at_boundary = t.ends_transaction();
        if at_boundary {
            boundary = t.resume_point();
            boundary_schema_id = t.schema_id;
        }
        ctl.count_read(&t);
        if let Err(e) = write(&mut sink, &t, cancel) {
            return (last, Some(e));
        }
        if t.ends_transaction() {
            m.acked(t.ts);
            last = flow.publish(Some(t.resume_point()));
            let _ = ctl.acked.send(last.clone());
        }
    }
    (last, None)
}
