//! Finding the newest record of a partition that matches: read back from the partition's end
//! in growing windows (1 or 16 records, then ×16), each window read forward to the end.
//! Used by the exactly-once checkpoint read and by the at-least-once takeover scan (which
//! also walks back record by record: [`walk_back`]).
//!
//! Invariants:
//! - Only records of the window asked for count (a consumer kept across reads may still hold
//!   an earlier read's records or errors in its queue); of those, the one with the highest
//!   offset that `pick` accepts wins.
//! - A window is read when the consumer's position (or the last record seen) reaches the end
//!   offset: with `read_committed`, aborted records and transaction markers are never
//!   delivered, so the last offset itself may never arrive.
//! - The partition is unassigned when a read ends, however it ends.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// Why a read back failed.
#[derive(Debug)]
pub enum ReadBackError {
    /// The broker did not answer in time (or the consumer refused the assignment).
    Unavailable(String),
    /// `pick` rejected a record.
    Rejected(String),
}

impl std::fmt::Display for ReadBackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable(m) | Self::Rejected(m) => f.write_str(m),
        }
    }
}

/// How far back to look.
#[derive(Debug, Clone, Copy)]
pub struct Lookback {
    /// Records in the first window.
    pub first: i64,
    /// Records at most (the oldest offset read is `high - max`).
    pub max: i64,
}

/// The newest record of `topic`/`partition` for which `pick` returns `Some`, read back from
/// the end (the high watermark, the last stable offset for a read_committed consumer).
/// `None` when no record within `lookback` matches.
pub fn newest<T>(
    consumer: &BaseConsumer,
    topic: &str,
    partition: i32,
    lookback: Lookback,
    deadline: Instant,
    mut pick: impl FnMut(&BorrowedMessage<'_>) -> Result<Option<T>, String>,
) -> Result<Option<T>, ReadBackError> {
    let (oldest, high) = bounds(consumer, topic, partition, lookback, deadline)?;
    let mut window = lookback.first.max(1);
    loop {
        let from = (high - window).max(oldest);
        if from >= high {
            return Ok(None);
        }
        if let Some(found) = read_window(consumer, topic, partition, from, high, deadline, &mut pick)? {
            return Ok(Some(found));
        }
        if from == oldest {
            return Ok(None);
        }
        window = window.saturating_mul(16);
    }
}

/// The oldest offset within `lookback` and the end to read back from.
fn bounds(consumer: &BaseConsumer, topic: &str, partition: i32, lookback: Lookback, deadline: Instant) -> Result<(i64, i64), ReadBackError> {
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100));
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, left)
        .map_err(|e| ReadBackError::Unavailable(format!("cannot read the offsets of partition {partition} of {topic}: {e}")))?;
    Ok((low.max(high - lookback.max), high))
}

/// The newest record `pick` accepts among offsets `[from, to)`.
pub fn read_window<T>(
    consumer: &BaseConsumer,
    topic: &str,
    partition: i32,
    from: i64,
    to: i64,
    deadline: Instant,
    pick: &mut impl FnMut(&BorrowedMessage<'_>) -> Result<Option<T>, String>,
) -> Result<Option<T>, ReadBackError> {
    let mut best = None;
    read_range(consumer, topic, partition, from, to, deadline, &mut |m| {
        if let Some(t) = pick(m)? {
            best = Some(t); // records come in offset order: the last accepted is the newest
        }
        Ok(())
    })?;
    Ok(best)
}

/// Walks the records of `topic`/`partition` from the newest back: `decode` reads a record
/// (`None`: not one to look at), `step` is given them newest first and returns `true` to stop.
/// Windows grow as in [`newest`]; each record is decoded once. Ends at the oldest record
/// within `lookback` when `step` never stops.
pub fn walk_back<T>(
    consumer: &BaseConsumer,
    topic: &str,
    partition: i32,
    lookback: Lookback,
    deadline: Instant,
    mut decode: impl FnMut(&BorrowedMessage<'_>) -> Option<T>,
    mut step: impl FnMut(T) -> bool,
) -> Result<(), ReadBackError> {
    let (oldest, high) = bounds(consumer, topic, partition, lookback, deadline)?;
    let (mut window, mut to) = (lookback.first.max(1), high);
    while to > oldest {
        let from = (high - window).max(oldest);
        let mut found = Vec::new();
        read_range(consumer, topic, partition, from, to, deadline, &mut |m| {
            found.extend(decode(m));
            Ok(())
        })?;
        if found.into_iter().rev().any(&mut step) {
            return Ok(());
        }
        to = from;
        window = window.saturating_mul(16);
    }
    Ok(())
}

/// Gives `visit` every record of `[from, to)` once, in offset order.
fn read_range(
    consumer: &BaseConsumer,
    topic: &str,
    partition: i32,
    from: i64,
    to: i64,
    deadline: Instant,
    visit: &mut impl FnMut(&BorrowedMessage<'_>) -> Result<(), String>,
) -> Result<(), ReadBackError> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(from)).map_err(|e| ReadBackError::Unavailable(e.to_string()))?;
    while consumer.poll(Duration::ZERO).is_some() {}
    let consumer = Assigned(consumer);
    consumer.0.assign(&tpl).map_err(|e| ReadBackError::Unavailable(e.to_string()))?;
    let mut last_error: Option<String> = None;
    // The next offset to visit, and how far the read has come (records may be skipped:
    // transaction markers, aborted records).
    let (mut unvisited, mut next) = (from, from);
    loop {
        let position = consumer.0.position().ok().and_then(|t| t.find_partition(topic, partition).and_then(|e| e.offset().to_raw()));
        next = next.max(position.unwrap_or(from));
        if next >= to {
            return Ok(());
        }
        if Instant::now() > deadline {
            let why = last_error.map(|e| format!(": {e}")).unwrap_or_default();
            return Err(ReadBackError::Unavailable(format!("partition {partition} of {topic} was not read back to offset {to} in time (at {next}){why}")));
        }
        match consumer.0.poll(Duration::from_millis(100)) {
            Some(Ok(m)) if m.topic() == topic && m.partition() == partition && (unvisited..to).contains(&m.offset()) => {
                next = next.max(m.offset() + 1);
                unvisited = m.offset() + 1;
                visit(&m).map_err(ReadBackError::Rejected)?;
            }
            Some(Ok(_)) => {}
            // Connection errors (possibly queued while the broker was away) are retried by
            // librdkafka; the deadline bounds the wait.
            Some(Err(e)) => {
                tracing::debug!(error = %e, topic, partition, "read back: consumer error");
                last_error = Some(e.to_string());
            }
            None => {}
        }
    }
}

/// Unassigns the partition when a read ends (the consumer may be kept for the next one).
struct Assigned<'a>(&'a BaseConsumer);

impl Drop for Assigned<'_> {
    fn drop(&mut self) {
        let _ = self.0.unassign();
    }
}
