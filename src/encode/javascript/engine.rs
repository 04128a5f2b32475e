//! The embedded JavaScript engine (QuickJS through `rquickjs`): the prelude (the row API), the
//! user's script, `logger`, and the calls for one row or DDL record.
//!
//! Invariants:
//! - One engine per stream, used from one thread; the user's script is evaluated once, in
//!   sloppy mode as Nashorn runs it, under its own file name (errors name its lines).
//! - A call that is interrupted (the stream is stopping) or throws comes back as
//!   [`Thrown`] with the exception's message and stack; nothing of the row is applied.
//! - Memory is bounded ([`MEMORY_LIMIT`]) and the stack too: a runaway script throws.

use super::ScriptError;
use rquickjs::context::EvalOptions;
use rquickjs::{CatchResultExt, CaughtError, Context, Ctx, Function, Object, Runtime, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const PRELUDE: &str = include_str!("prelude.js");
/// Bytes the script's heap may use.
pub const MEMORY_LIMIT: usize = 256 << 20;

/// An exception a call ended with: its text, with the script's file and line where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thrown(pub String);

/// Facts every row of a transaction shares (Maxwell's `xid`, `server_id`, `thread_id`, and
/// what `position` is made of).
pub struct TxFacts<'a> {
    pub xid: Option<u64>,
    pub server_id: u32,
    pub thread_id: Option<u32>,
    pub file: &'a str,
    /// The transaction's GTID when positions are GTIDs (`gtid_mode`).
    pub gtid: Option<&'a str>,
}

/// One row for `process_row`.
pub struct RowCall<'a> {
    pub line: &'a str,
    pub database: &'a str,
    pub table: &'a str,
    pub kind: &'a str,
    pub at: Option<u64>,
}

pub struct Engine {
    _rt: Runtime,
    ctx: Context,
    pub has_row: bool,
    pub has_ddl: bool,
}

fn describe(e: CaughtError) -> String {
    match e {
        CaughtError::Exception(ex) => {
            let msg = ex.message().unwrap_or_default();
            let name: String = ex.get::<_, Option<String>>("name").ok().flatten().unwrap_or_else(|| "Error".into());
            let stack = ex.stack().unwrap_or_default();
            let stack: Vec<&str> = stack.lines().map(str::trim).filter(|l| !l.is_empty() && !l.contains("maxwell-prelude")).collect();
            if stack.is_empty() {
                format!("{name}: {msg}")
            } else {
                format!("{name}: {msg} ({})", stack.join(", "))
            }
        }
        CaughtError::Value(v) => format!("threw {}", v.as_string().and_then(|s| s.to_string().ok()).unwrap_or_else(|| format!("{:?}", v.type_of()))),
        CaughtError::Error(e) => e.to_string(),
    }
}

fn opts(file: &str, strict: bool) -> EvalOptions {
    let mut o = EvalOptions::default();
    o.strict = strict;
    o.filename = Some(file.to_string());
    o
}

fn install_logger(ctx: &Ctx, file: &str) -> rquickjs::Result<()> {
    let file = file.to_string();
    let log = Function::new(ctx.clone(), move |level: i32, msg: String| match level {
        0 => tracing::trace!(target: "javascript", script = %file, "{msg}"),
        1 => tracing::debug!(target: "javascript", script = %file, "{msg}"),
        2 => tracing::info!(target: "javascript", script = %file, "{msg}"),
        3 => tracing::warn!(target: "javascript", script = %file, "{msg}"),
        _ => tracing::error!(target: "javascript", script = %file, "{msg}"),
    })?;
    ctx.globals().set("__maxwell_log", log)
}

impl Engine {
    /// Evaluates the prelude and `source` (named `path`); `stop` interrupts a running call.
    pub fn new(path: &str, source: &str, stop: Option<Arc<AtomicBool>>) -> Result<Self, ScriptError> {
        let fail = |e: rquickjs::Error| ScriptError::Engine(e.to_string());
        let rt = Runtime::new().map_err(fail)?;
        rt.set_memory_limit(MEMORY_LIMIT);
        rt.set_max_stack_size(1 << 20);
        if let Some(stop) = stop {
            rt.set_interrupt_handler(Some(Box::new(move || stop.load(Ordering::Relaxed))));
        }
        let ctx = Context::full(&rt).map_err(fail)?;
        let (has_row, has_ddl) = ctx.with(|ctx| -> Result<(bool, bool), ScriptError> {
            install_logger(&ctx, path).map_err(fail)?;
            ctx.eval_with_options::<(), _>(PRELUDE, opts("maxwell-prelude.js", true)).catch(&ctx).map_err(|e| ScriptError::Engine(describe(e)))?;
            ctx.eval_with_options::<(), _>(source, opts(path, false))
                .catch(&ctx)
                .map_err(|e| ScriptError::Compile { path: path.to_string(), detail: describe(e) })?;
            let g = ctx.globals();
            let api: Object = g.get("__maxwell").map_err(fail)?;
            let mut found = [false; 3];
            for (i, name) in ["process_row", "process_ddl", "process_heartbeat"].into_iter().enumerate() {
                let f: Value = g.get(name).map_err(fail)?;
                if f.is_undefined() || f.is_null() {
                    continue;
                }
                if !f.is_function() {
                    return Err(ScriptError::Compile { path: path.to_string(), detail: format!("{name} must be a function") });
                }
                found[i] = true;
                api.set(name, f).map_err(fail)?;
            }
            if found[2] {
                tracing::warn!(script = %path, "process_heartbeat is never called: maxwell-ha writes no heartbeat rows");
            }
            if !found.iter().any(|f| *f) {
                tracing::warn!(script = %path, "expected the script to define at least one of: process_row, process_ddl");
            }
            Ok((found[0], found[1]))
        })?;
        Ok(Self { _rt: rt, ctx, has_row, has_ddl })
    }

    /// Runs `f` with the engine entered, so that a transaction's rows are one entry.
    pub fn with<R>(&self, f: impl FnOnce(&Calls) -> R) -> R {
        self.ctx.with(|ctx| {
            let api: Object = ctx.globals().get("__maxwell").expect("the prelude defines __maxwell");
            let calls = Calls {
                tx: api.get("tx").expect("prelude"),
                row: api.get("row").expect("prelude"),
                ddl: api.get("ddl").expect("prelude"),
                ctx,
            };
            f(&calls)
        })
    }
}

/// The prelude's entry points, while the engine is entered.
pub struct Calls<'js> {
    ctx: Ctx<'js>,
    tx: Function<'js>,
    row: Function<'js>,
    ddl: Function<'js>,
}

fn at_value(at: Option<u64>) -> Option<f64> {
    at.map(|a| a as f64)
}

impl Calls<'_> {
    pub fn begin(&self, t: &TxFacts) -> Result<(), Thrown> {
        let xid = t.xid.map(|x| x as f64);
        self.tx.call::<_, ()>((xid, t.server_id, t.thread_id, t.file, t.gtid)).catch(&self.ctx).map_err(|e| Thrown(describe(e)))
    }

    /// Runs `process_row`; `None` when the script changed nothing, else the changes' JSON.
    pub fn row(&self, r: &RowCall) -> Result<Option<String>, Thrown> {
        self.row.call((r.line, r.database, r.table, r.kind, at_value(r.at))).catch(&self.ctx).map_err(|e| Thrown(describe(e)))
    }

    /// Runs `process_ddl` on a DDL record's line.
    pub fn ddl(&self, line: &str, at: Option<u64>) -> Result<Option<String>, Thrown> {
        self.ddl.call((line, at_value(at))).catch(&self.ctx).map_err(|e| Thrown(describe(e)))
    }
}
