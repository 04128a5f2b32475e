//! The embedded JavaScript engine (QuickJS through `rquickjs`): the prelude (the row API), the
//! user's script, `logger`, and the calls for one row or DDL record.
//!
//! Invariants:
//! - One engine per stream, used from one thread; the user's script is evaluated once, in
//!   sloppy mode as Nashorn runs it, under its own file name (errors name its lines).
//! - A call that is interrupted (the stream is stopping) or throws comes back as
//!   [`Thrown`] with the exception's message and stack; nothing of the row is applied.
//! - Memory is bounded ([`MEMORY_LIMIT`]) and the stack too: a runaway script throws.
//! - A row crosses into JavaScript as numbers (serial, table index, kind, position); its line
//!   stays here ([`Current`]) and `data`, `old`, `ts`, `query` are built from it only when the
//!   script reads them, for the row being processed only (an older row's are refused).
//! - Table names are handed to the script once per table and kept while the table is among
//!   the [`TABLE_CACHE`] most recently used; the index cache is bounded too.

use super::ScriptError;
use crate::binlog::schema::TableInfo;
use rquickjs::context::EvalOptions;
use rquickjs::{CatchResultExt, CaughtError, Context, Ctx, Exception, Function, Object, Runtime, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Tables whose `Arc` the engine keeps to recognise them by pointer.
const TABLE_CACHE: usize = 64;

/// The row being processed: what the script's lazy fields are built from.
#[derive(Default)]
struct Current {
    serial: u64,
    line: String,
}

/// Table indexes handed to the script: by pointer for the recent ones, by name for all.
#[derive(Default)]
struct Tables {
    recent: Vec<(Arc<TableInfo>, u32)>,
    by_name: HashMap<(String, String), u32>,
}

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
    pub table: &'a Arc<TableInfo>,
    /// 0 insert, 1 update, 2 delete, 3 bootstrap-insert (prelude.js's KINDS).
    pub kind: u8,
    pub at: Option<u64>,
}

pub struct Engine {
    _rt: Runtime,
    ctx: Context,
    current: Rc<RefCell<Current>>,
    tables: RefCell<Tables>,
    pub has_row: bool,
    pub has_ddl: bool,
}

/// A JSON value's text as a JavaScript value (numbers as doubles, objects through JSON.parse).
fn to_js<'js>(ctx: &Ctx<'js>, raw: &str) -> rquickjs::Result<Value<'js>> {
    Ok(match raw.as_bytes().first() {
        Some(b'"') => {
            let s: String = serde_json::from_str(raw).map_err(|e| Exception::throw_message(ctx, &e.to_string()))?;
            rquickjs::String::from_str(ctx.clone(), &s)?.into_value()
        }
        Some(b'n') => Value::new_null(ctx.clone()),
        Some(b't') => Value::new_bool(ctx.clone(), true),
        Some(b'f') => Value::new_bool(ctx.clone(), false),
        Some(b'{' | b'[') => ctx.json_parse(raw)?,
        _ => Value::new_float(ctx.clone(), raw.parse::<f64>().map_err(|e| Exception::throw_message(ctx, &e.to_string()))?),
    })
}

/// The current row's line, or an exception when the script asks about another row.
fn line_of<'a>(ctx: &Ctx, cur: &'a Current, serial: f64) -> rquickjs::Result<&'a str> {
    if serial as u64 != cur.serial {
        return Err(Exception::throw_message(ctx, "a row's data can be read only while process_row or process_ddl runs on it"));
    }
    Ok(&cur.line)
}

fn top_level<'a>(ctx: &Ctx, line: &'a str, key: &str) -> rquickjs::Result<Option<&'a str>> {
    let entries = super::apply::entries(line).map_err(|e| Exception::throw_message(ctx, &e))?;
    Ok(entries.into_iter().find(|(k, _)| k == key).map(|(_, v)| v.get()))
}

/// Gives a host function's closure the signature it has for every context lifetime.
fn host<F>(f: F) -> F
where
    F: for<'js> Fn(Ctx<'js>, f64, String) -> rquickjs::Result<Value<'js>>,
{
    f
}

fn install_host(ctx: &Ctx, current: &Rc<RefCell<Current>>) -> rquickjs::Result<()> {
    let cur = current.clone();
    let obj = Function::new(ctx.clone(), host(move |ctx, serial, key| {
        let cur = cur.borrow();
        let Some(raw) = top_level(&ctx, line_of(&ctx, &cur, serial)?, &key)? else { return Ok(Value::new_null(ctx)) };
        let o = Object::new(ctx.clone())?;
        for (k, v) in super::apply::entries(raw).map_err(|e| Exception::throw_message(&ctx, &e))? {
            o.set(k, to_js(&ctx, v.get())?)?;
        }
        Ok(o.into_value())
    }))?;
    let cur = current.clone();
    let top = Function::new(ctx.clone(), host(move |ctx, serial, key| {
        let cur = cur.borrow();
        match top_level(&ctx, line_of(&ctx, &cur, serial)?, &key)? {
            Some(raw) => to_js(&ctx, raw),
            None => Ok(Value::new_undefined(ctx)),
        }
    }))?;
    let cur = current.clone();
    let line = Function::new(ctx.clone(), move |ctx: Ctx<'_>, serial: f64| -> rquickjs::Result<String> {
        let cur = cur.borrow();
        line_of(&ctx, &cur, serial).map(str::to_string)
    })?;
    let g = ctx.globals();
    g.set("__maxwell_obj", obj)?;
    g.set("__maxwell_top", top)?;
    g.set("__maxwell_line", line)
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
        let current = Rc::new(RefCell::new(Current::default()));
        let (has_row, has_ddl) = ctx.with(|ctx| -> Result<(bool, bool), ScriptError> {
            install_logger(&ctx, path).map_err(fail)?;
            install_host(&ctx, &current).map_err(fail)?;
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
        Ok(Self { _rt: rt, ctx, current, tables: Default::default(), has_row, has_ddl })
    }

    /// Runs `f` with the engine entered, so that a transaction's rows are one entry.
    pub fn with<R>(&self, f: impl FnOnce(&Calls) -> R) -> R {
        self.ctx.with(|ctx| {
            let api: Object = ctx.globals().get("__maxwell").expect("the prelude defines __maxwell");
            let calls = Calls {
                tx: api.get("tx").expect("prelude"),
                row: api.get("row").expect("prelude"),
                ddl: api.get("ddl").expect("prelude"),
                table: api.get("table").expect("prelude"),
                ctx,
                current: &self.current,
                tables: &self.tables,
            };
            f(&calls)
        })
    }
}

/// The prelude's entry points, while the engine is entered.
pub struct Calls<'js, 'e> {
    ctx: Ctx<'js>,
    tx: Function<'js>,
    row: Function<'js>,
    ddl: Function<'js>,
    table: Function<'js>,
    current: &'e Rc<RefCell<Current>>,
    tables: &'e RefCell<Tables>,
}

fn at_value(at: Option<u64>) -> Option<f64> {
    at.map(|a| a as f64)
}

impl Calls<'_, '_> {
    /// Makes `line` the current row; returns its serial.
    fn enter(&self, line: &str) -> f64 {
        let mut c = self.current.borrow_mut();
        c.serial += 1;
        c.line.clear();
        c.line.push_str(line);
        c.serial as f64
    }

    /// The script's index of table `t`, handing its names over the first time.
    fn table_index(&self, t: &Arc<TableInfo>) -> Result<u32, Thrown> {
        let mut tables = self.tables.borrow_mut();
        if let Some(i) = tables.recent.iter().position(|(x, _)| Arc::ptr_eq(x, t)) {
            let hit = tables.recent.remove(i);
            let idx = hit.1;
            tables.recent.push(hit);
            return Ok(idx);
        }
        let key = (t.database.clone(), t.table.clone());
        let next = tables.by_name.len() as u32;
        let idx = match tables.by_name.get(&key) {
            Some(i) => *i,
            None => {
                self.table.call::<_, ()>((next, t.database.as_str(), t.table.as_str())).catch(&self.ctx).map_err(|e| Thrown(describe(e)))?;
                tables.by_name.insert(key, next);
                next
            }
        };
        if tables.recent.len() >= TABLE_CACHE {
            tables.recent.remove(0);
        }
        tables.recent.push((t.clone(), idx));
        Ok(idx)
    }

    pub fn begin(&self, t: &TxFacts) -> Result<(), Thrown> {
        let xid = t.xid.map(|x| x as f64);
        self.tx.call::<_, ()>((xid, t.server_id, t.thread_id, t.file, t.gtid)).catch(&self.ctx).map_err(|e| Thrown(describe(e)))
    }

    /// Runs `process_row`; `None` when the script changed nothing, else the changes' JSON.
    pub fn row(&self, r: &RowCall) -> Result<Option<String>, Thrown> {
        let t = self.table_index(r.table)?;
        let serial = self.enter(r.line);
        self.row.call((serial, t, r.kind, at_value(r.at))).catch(&self.ctx).map_err(|e| Thrown(describe(e)))
    }

    /// Runs `process_ddl` on a DDL record's line.
    pub fn ddl(&self, line: &str, at: Option<u64>) -> Result<Option<String>, Thrown> {
        let serial = self.enter(line);
        self.ddl.call((serial, at_value(at))).catch(&self.ctx).map_err(|e| Thrown(describe(e)))
    }
}
