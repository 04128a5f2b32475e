// maxwell-ha's row API for `javascript` filters: Maxwell 1.22.6's WrappedRowMap and
// WrappedDDLMap, with `data`, `old_data` and `extra_attributes` as java.util.Map-like views.
// Evaluated once before the user's script; it defines only `__maxwell` and `logger`.
//
// Per row the host calls `__maxwell.row(serial, table, kind, at)` (or `.ddl(serial, at)`)
// after `__maxwell.tx(xid, server_id, thread_id, file, gtid)` once per transaction: numbers
// only (`table` indexes the names given by `__maxwell.table(i, db, name)`); the row's line
// stays with the host, which builds `data`, `old` and other fields from it when the script
// first reads them, and only for the row being processed (`serial`). It returns
// `undefined` when the script changed nothing, else a JSON text the host applies:
// {"s":1} suppressed, "t" topic, "p" partition string, "q":[query], "d"/"o": the data/old
// changes as {"set":[[key,value],...],"del":[key,...]}, "e": extra attributes [[key,value],...].
(function (global) {
  "use strict";
  const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
  const STATE = Symbol("maxwell.map");

  // A map view: property access reads and writes the values; Map's methods win over
  // columns of the same name (reach such a column with get/put).
  function MapState(target, original) {
    this.target = target;
    this.changed = new Map(); // key -> true, in the order keys were first written
    this.snapshots = null; // key -> JSON text of an object value, to see in-place edits
    if (original) {
      for (const k of Object.keys(target)) {
        const v = target[k];
        if (v !== null && typeof v === "object") {
          if (!this.snapshots) this.snapshots = new Map();
          this.snapshots.set(k, JSON.stringify(v));
        }
      }
    }
  }
  MapState.prototype.touch = function (k) {
    if (!this.changed.has(k)) this.changed.set(k, true);
  };
  MapState.prototype.result = function () {
    if (this.snapshots) {
      for (const [k, s] of this.snapshots) {
        if (!this.changed.has(k) && hasOwn(this.target, k) && JSON.stringify(this.target[k]) !== s) this.touch(k);
      }
    }
    if (this.changed.size === 0) return undefined;
    const set = [], del = [];
    for (const k of this.changed.keys()) {
      if (hasOwn(this.target, k)) set.push([k, this.target[k]]);
      else del.push(k);
    }
    return { set: set, del: del };
  };

  const key = (k) => String(k);
  const METHODS = {
    get(k) { const t = this[STATE].target; k = key(k); return hasOwn(t, k) && t[k] !== undefined ? t[k] : null; },
    put(k, v) { const s = this[STATE]; k = key(k); const old = this.get(k); s.target[k] = v; s.touch(k); return old; },
    remove(k) { const s = this[STATE]; k = key(k); const old = this.get(k); if (hasOwn(s.target, k)) { delete s.target[k]; s.touch(k); } return old; },
    containsKey(k) { return hasOwn(this[STATE].target, key(k)); },
    keySet() { return Object.keys(this[STATE].target); },
    values() { const t = this[STATE].target; return Object.keys(t).map((k) => t[k]); },
    entrySet() { const t = this[STATE].target; return Object.keys(t).map((k) => ({ key: k, value: t[k], getKey() { return k; }, getValue() { return t[k]; } })); },
    size() { return Object.keys(this[STATE].target).length; },
    isEmpty() { return Object.keys(this[STATE].target).length === 0; },
    putAll(o) { for (const k of Object.keys(o)) this.put(k, o[k]); },
    forEach(f) { const t = this[STATE].target; for (const k of Object.keys(t)) f(k, t[k]); },
    toString() { return JSON.stringify(this[STATE].target); },
    toJSON() { return this[STATE].target; },
  };
  const HANDLER = {
    get(t, p) {
      if (p === STATE) return t[STATE];
      if (typeof p === "string" && hasOwn(METHODS, p)) return METHODS[p];
      return t[p];
    },
    set(t, p, v) {
      if (typeof p !== "string") return false;
      t[p] = v;
      t[STATE].touch(p);
      return true;
    },
    deleteProperty(t, p) {
      if (typeof p === "string" && hasOwn(t, p)) {
        delete t[p];
        t[STATE].touch(p);
      }
      return true;
    },
    defineProperty() { return false; },
  };
  function mapView(target, original) {
    Object.defineProperty(target, STATE, { value: new MapState(target, original) });
    return new Proxy(target, HANDLER);
  }

  // The transaction being run through the script, the tables' names, the row kinds.
  let TX = { xid: null, server_id: null, thread_id: null, file: null, gtid: null };
  const TABLES = [];
  const KINDS = ["insert", "update", "delete", "bootstrap-insert"];
  // The host's view of the row being processed (they throw for any other row).
  const host = { obj: global.__maxwell_obj, top: global.__maxwell_top, line: global.__maxwell_line };
  delete global.__maxwell_obj;
  delete global.__maxwell_top;
  delete global.__maxwell_line;

  function Common() {}
  Common.prototype = {
    _json: null,
    _dirty: false,
    _suppressed: false,
    _topic: undefined,
    _partition: undefined,
    _query: undefined,
    _data: null,
    _old: null,
    _extra: null,
    get position() {
      if (this._at == null) return null;
      return TX.gtid != null ? TX.gtid : TX.file + ":" + this._at;
    },
    get extra_attributes() {
      this._dirty = true;
      return this._extra || (this._extra = mapView({}, false));
    },
    suppress() { this._dirty = this._suppressed = true; },
    get kafka_topic() { return this._topic === undefined ? undefined : this._topic; },
    set kafka_topic(t) { this._dirty = true; this._topic = t === null || t === undefined ? undefined : String(t); },
    _parsed() { return this._json || (this._json = JSON.parse(host.line(this._n))); },
    _finish(extra) {
      if (!this._dirty) return undefined;
      if (this._suppressed) return '{"s":1}';
      if (this._topic === undefined && this._extra === null && !(extra && extra(this, null))) return undefined;
      const r = {};
      let any = false;
      if (this._topic !== undefined) { r.t = this._topic; any = true; }
      if (this._extra) {
        const t = this._extra[STATE].target;
        const keys = Object.keys(t);
        if (keys.length) { r.e = keys.map((k) => [k, t[k]]); any = true; }
      }
      if (extra) any = extra(this, r) || any;
      // undefined becomes null (Maxwell writes a Java null), as JSON.stringify does in arrays.
      return any ? JSON.stringify(r) : undefined;
    },
  };

  // Only what every row has is set here; the rest starts from the prototype's defaults.
  function Row(serial, t, kind, at) {
    const names = TABLES[t];
    this._n = serial;
    this.database = names[0];
    this.table = names[1];
    this.type = KINDS[kind];
    this._at = at;
  }
  Row.prototype = Object.create(Common.prototype, {
    data: { get() { this._dirty = true; return this._data || (this._data = mapView(host.obj(this._n, "data") || {}, true)); } },
    old_data: { get() { this._dirty = true; return this._old || (this._old = mapView(host.obj(this._n, "old") || {}, true)); } },
    xid: { get() { return TX.xid; } },
    server_id: { get() { return TX.server_id; } },
    thread_id: { get() { return TX.thread_id; } },
    timestamp: { get() { return host.top(this._n, "ts"); } },
    query: {
      get() { if (this._query !== undefined) return this._query[0]; const q = host.top(this._n, "query"); return q === undefined ? null : q; },
      set(q) { this._dirty = true; this._query = [q === undefined || q === null ? null : String(q)]; },
    },
    partition_string: {
      get() { return this._partition; },
      set(p) { this._dirty = true; this._partition = p === null || p === undefined ? undefined : String(p); },
    },
    toString: { value() { return host.line(this._n); } },
  });
  // With `r` null: whether anything beyond the common fields may have changed.
  function rowExtra(row, r) {
    if (r === null) return row._partition !== undefined || row._query !== undefined || row._data !== null || row._old !== null;
    let any = false;
    if (row._partition !== undefined) { r.p = row._partition; any = true; }
    if (row._query !== undefined) { r.q = row._query; any = true; }
    if (row._data) { const d = row._data[STATE].result(); if (d) { r.d = d; any = true; } }
    if (row._old) { const o = row._old[STATE].result(); if (o) { r.o = o; any = true; } }
    return any;
  }

  function Ddl(serial, at) {
    this._n = serial;
    this._at = at;
  }
  const DDL_ADDED = ["ts", "sql", "position", "gtid"];
  Ddl.prototype = Object.create(Common.prototype, {
    type: { get() { return this._parsed().type; } },
    database: { get() { return this._parsed().database; } },
    table: { get() { const t = this._parsed().table; return t === undefined ? null : t; } },
    sql: { get() { return this._parsed().sql; } },
    timestamp: { get() { return Math.floor(this._parsed().ts / 1000); } },
    // A copy, as Maxwell's is: changing it changes nothing.
    change: { get() { const c = JSON.parse(host.line(this._n)); for (const k of DDL_ADDED) delete c[k]; return c; } },
    toString: { value() { return host.line(this._n); } },
  });

  const api = {
    process_row: null,
    process_ddl: null,
    tx(xid, server_id, thread_id, file, gtid) {
      const v = (x) => (x === undefined ? null : x);
      TX = { xid: v(xid), server_id: v(server_id), thread_id: v(thread_id), file: file, gtid: v(gtid) };
    },
    table(i, db, name) {
      TABLES[i] = [db, name];
    },
    row(serial, t, kind, at) {
      const r = new Row(serial, t, kind, at);
      api.process_row(r);
      return r._finish(rowExtra);
    },
    ddl(serial, at) {
      const d = new Ddl(serial, at);
      api.process_ddl(d);
      return d._finish(null);
    },
  };
  Object.defineProperty(global, "__maxwell", { value: api });

  // Maxwell's `logger` (SLF4J): info/warn/... with `{}` placeholders; objects as JSON.
  const hostLog = global.__maxwell_log;
  delete global.__maxwell_log;
  const text = (x) => (x !== null && typeof x === "object" ? JSON.stringify(x) : String(x));
  function level(n) {
    return function (msg) {
      let s = text(msg);
      for (let i = 1; i < arguments.length; i++) {
        const at = s.indexOf("{}");
        if (at < 0) break;
        s = s.slice(0, at) + text(arguments[i]) + s.slice(at + 2);
      }
      hostLog(n, s);
    };
  }
  global.logger = { trace: level(0), debug: level(1), info: level(2), warn: level(3), error: level(4) };
})(globalThis);
