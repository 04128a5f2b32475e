//! The script's own thread: one engine per stream, between the reader and the sink, so that
//! a script's work never holds up the async runtime's workers.
//!
//! Invariants:
//! - Transactions leave in the order they came, each once the script has run on it; the
//!   channel to the sink is bounded like the reader's (backpressure, not buffering).
//! - A bootstrap's records ([`Handle::run`]) are served first, also while a transaction
//!   waits for room towards the sink: the sink, which asks, is not reading then.
//! - The first script error ends the stage: what came after it is never handed on, the sink
//!   sees its input end, and [`Stage::finish`] returns the error.
//! - [`Stage::finish`] (or dropping the stage) interrupts a call still running.

use super::{JavascriptConfig, Script, ScriptError};
use crate::encode::{OutputConfig, Transaction};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

type Request = (Transaction, oneshot::Sender<Result<Transaction, ScriptError>>);

/// Asks the stage to run a transaction that does not come from the binlog (a bootstrap's).
#[derive(Clone)]
pub struct Handle {
    requests: mpsc::Sender<Request>,
}

impl Handle {
    pub async fn run(&self, t: Transaction) -> Result<Transaction, ScriptError> {
        let (reply, answer) = oneshot::channel();
        let gone = || ScriptError::Engine("the script's thread has stopped".into());
        self.requests.send((t, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

pub struct Stage {
    pub handle: Handle,
    stop: Arc<AtomicBool>,
    done: Option<oneshot::Receiver<Result<u64, ScriptError>>>,
}

impl Stage {
    /// Compiles the script on a new thread and starts passing `input` through it to
    /// `output`. A compile error is returned here.
    pub async fn start(
        js: &JavascriptConfig,
        cfg: OutputConfig,
        gtid_mode: bool,
        mut input: mpsc::Receiver<Transaction>,
        output: mpsc::Sender<Transaction>,
    ) -> Result<Self, ScriptError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        let (requests, mut rq) = mpsc::channel::<Request>(1);
        let (js, s2) = (js.clone(), stop.clone());
        let spawned = std::thread::Builder::new().name("javascript".into()).spawn(move || {
            let mut script = match Script::new(&js, cfg, gtid_mode, Some(s2)) {
                Ok(s) => {
                    let _ = ready_tx.send(Ok(()));
                    s
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime");
            let result = rt.block_on(async move {
                let mut pending: Option<Transaction> = None;
                let mut input_done = false;
                loop {
                    if input_done && pending.is_none() {
                        return Ok(script.suppressed);
                    }
                    tokio::select! {
                        biased;
                        Some((mut t, reply)) = rq.recv() => {
                            let r = script.process(&mut t).map(|_| t);
                            let failed = r.as_ref().err().cloned();
                            let _ = reply.send(r);
                            if let Some(e) = failed {
                                return Err(e);
                            }
                        }
                        permit = output.reserve(), if pending.is_some() => match permit {
                            Ok(p) => p.send(pending.take().expect("pending")),
                            Err(_) => return Ok(script.suppressed),
                        },
                        t = input.recv(), if pending.is_none() && !input_done => match t {
                            Some(mut t) => {
                                script.process(&mut t)?;
                                pending = Some(t);
                            }
                            None => input_done = true,
                        },
                    }
                }
            });
            let _ = done_tx.send(result);
        });
        if let Err(e) = spawned {
            return Err(ScriptError::Engine(format!("cannot start the script's thread: {e}")));
        }
        ready.await.map_err(|_| ScriptError::Engine("the script's thread ended at start".into()))??;
        Ok(Self { handle: Handle { requests }, stop, done: Some(done) })
    }

    /// Waits for the thread once its input and output are closed: the script's error, else
    /// the rows it suppressed. A call still running after a moment is interrupted (the
    /// stream is ending): what it would have said no longer counts.
    pub async fn finish(mut self) -> Result<u64, ScriptError> {
        let panicked = || ScriptError::Engine("the script's thread panicked".into());
        let mut done = self.done.take().expect("finished once");
        if let Ok(r) = tokio::time::timeout(std::time::Duration::from_millis(500), &mut done).await {
            return r.unwrap_or_else(|_| Err(panicked()));
        }
        self.stop.store(true, Ordering::Relaxed);
        match done.await {
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "the script was interrupted: the stream is ending");
                Ok(0)
            }
            Ok(r) => r,
            Err(_) => Err(panicked()),
        }
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
