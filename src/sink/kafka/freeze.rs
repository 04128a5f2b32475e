//! Pause detection for a leader: a process that was stopped (SIGSTOP, VM freeze) may have
//! lost every lease it held meanwhile, so it must not hand the producer anything more.
//!
//! Invariant: once tripped, `check` stays false for the guard's life.

use std::time::Duration;
use crate::metrics::now_ms;

/// Detects that this process was paused (SIGSTOP, VM freeze, long GC-like stalls): a ticker
/// records the time every 100 ms; a gap longer than `max_gap` means every lease this process
/// held may have expired meanwhile, so nothing more may be handed to the producer.
pub struct FreezeGuard {
    last_tick_ms: std::sync::atomic::AtomicU64,
    tripped: std::sync::atomic::AtomicBool,
    max_gap_ms: u64,
}

impl FreezeGuard {
    /// Starts the ticker; `on_trip` runs once when a pause is detected.
    pub fn start(max_gap: Duration, on_trip: impl Fn() + Send + 'static) -> std::sync::Arc<Self> {
        let g = std::sync::Arc::new(Self {
            last_tick_ms: std::sync::atomic::AtomicU64::new(now_ms()),
            tripped: std::sync::atomic::AtomicBool::new(false),
            max_gap_ms: max_gap.as_millis() as u64,
        });
        let weak = std::sync::Arc::downgrade(&g);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let Some(g) = weak.upgrade() else { return };
                if !g.check() {
                    on_trip();
                    return;
                }
                g.last_tick_ms.store(now_ms(), std::sync::atomic::Ordering::SeqCst);
            }
        });
        g
    }

    /// `false` once a pause has been seen (by the ticker or by this check).
    pub fn check(&self) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        if self.tripped.load(SeqCst) {
            return false;
        }
        if now_ms().saturating_sub(self.last_tick_ms.load(SeqCst)) > self.max_gap_ms {
            self.tripped.store(true, SeqCst);
            return false;
        }
        true
    }
}

