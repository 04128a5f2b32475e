#!/usr/bin/env python3
"""Side by side with Zendesk's Maxwell (scripts/maxwell-ref.sh) on the same MariaDB binlog.

  side_by_side.py conformance --port P --maxwell-ha BIN [--report FILE]
      Starts Maxwell (stdout producer) and a maxwell-ha node (stdout) on the same server, runs
      a generated workload — every column type, NULLs, extremes, multi-row and multi-table
      transactions, DDL (add/drop/modify/rename column, rename table, create/drop database) in
      between, invalid and partly-zero dates — and compares their JSON row by row. Differences
      that are understood (listed in
      KNOWN below and in docs/maxwell-compatibility.md, with the reason) are counted apart; any
      other difference makes the exit status 1. With the encode options (--exclude-columns,
      --encrypt data|all, --schema-id, --primary-keys) both run with them: encrypted records are
      decrypted (scripts/maxwell_decrypt.py, Python's `cryptography`) and must have been
      encrypted alike; excluded columns must be in neither output; schema_id must differ from
      Maxwell's by one constant (Maxwell's is a row id, ours a count of schema changes).
  side_by_side.py throughput --port P --maxwell-ha BIN --rows N [--kafka BOOTSTRAP]
      Loads N rows, then lets each tool read that binlog range to stdout (and, with --kafka, to
      a Kafka topic each): rows/s of both, timed from each tool's first row to its last.

The server needs a user `root` without password on 127.0.0.1 (as scripts/mariadb.sh makes).
Each run uses its own databases and schema_database, so it can share a server with others.
"""
import argparse, collections, json, os, random, re, secrets, subprocess, sys, tempfile, threading, time

import pymysql

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import maxwell_decrypt  # noqa: E402


def connect(port, db=None):
    return pymysql.connect(host="127.0.0.1", port=port, user="root", password="", database=db, autocommit=True)


def master_position(c):
    with c.cursor() as cur:
        cur.execute("SHOW MASTER STATUS")
        f, p = cur.fetchone()[:2]
    return f"{f}:{p}"


class Proc:
    """A process whose stdout lines are collected with their arrival time."""

    def __init__(self, name, argv, env=None):
        self.name = name
        self.err = tempfile.NamedTemporaryFile(prefix=f"sbs-{name}-", suffix=".log", delete=False)
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.err, env=env)
        self.lines = []  # (monotonic time, line)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append((time.monotonic(), line.decode()))

    def stderr(self):
        with open(self.err.name, errors="replace") as f:
            return f.read()

    def wait_for(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self):
                return
            if self.p.poll() is not None:
                raise SystemExit(f"{self.name} exited ({self.p.returncode}) while waiting for {what}:\n{self.stderr()[-4000:]}")
            time.sleep(0.1)
        raise SystemExit(f"{self.name}: timed out after {timeout}s waiting for {what}:\n{self.stderr()[-4000:]}")

    def peak_rss_kib(self):
        try:
            with open(f"/proc/{self.p.pid}/status") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
        except (OSError, StopIteration):
            return None

    def save(self, path):
        with open(path, "w") as f:
            f.writelines(l for _, l in self.lines)
        with open(path + ".stderr", "w") as f:
            f.write(self.stderr())

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.t.join(5)
        os.unlink(self.err.name)


MAXWELL_USER, MAXWELL_PASSWORD = "maxwell_ref", "maxwell-ref"


def start_maxwell(port, tag, filt, extra=()):
    """Maxwell reading from the current end of the binlog; returns once it is connected.
    Its sessions run without old_mode UTF8_IS_UTF8MB3, so the tables it creates for itself with
    `utf8` are utf8mb4 (it cannot decode the charset name utf8mb3)."""
    with connect(port).cursor() as cur:
        cur.execute(f"CREATE USER IF NOT EXISTS '{MAXWELL_USER}'@'127.0.0.1' IDENTIFIED BY '{MAXWELL_PASSWORD}'")
        cur.execute(f"GRANT ALL ON *.* TO '{MAXWELL_USER}'@'127.0.0.1'")
    m = Proc("maxwell", [os.path.join(HERE, "maxwell-ref.sh"), "run", "--host=127.0.0.1", f"--port={port}", f"--user={MAXWELL_USER}",
                         f"--password={MAXWELL_PASSWORD}", "--jdbc_options=sessionVariables=old_mode=NO_PROGRESS_INFO",
                         f"--client_id={tag}", f"--schema_database={tag}_schema",
                         f"--replica_server_id={random.randint(100000, 900000)}", f"--filter={filt}", *extra])
    m.wait_for(lambda p: "Binlog connected" in p.stderr(), 120, "Maxwell's binlog connection")
    return m


def start_ours(binary, port, start, filt, extra=()):
    return Proc("maxwell-ha", [binary, "--host=127.0.0.1", f"--port={port}", "--user=root", "--replay",
                                f"--replica_server_id={random.randint(100000, 900000)}", f"--init_position={start}",
                                f"--filter={filt}", *extra])


# ---------------------------------------------------------------- workload

# (column name, type) — every MariaDB column type Maxwell handles; values below per column.
COLUMNS = [
    ("c_tinyint", "TINYINT"), ("c_utinyint", "TINYINT UNSIGNED"), ("c_smallint", "SMALLINT"),
    ("c_usmallint", "SMALLINT UNSIGNED"), ("c_mediumint", "MEDIUMINT"), ("c_umediumint", "MEDIUMINT UNSIGNED"),
    ("c_int", "INT"), ("c_uint", "INT UNSIGNED"), ("c_bigint", "BIGINT"), ("c_ubigint", "BIGINT UNSIGNED"),
    ("c_decimal", "DECIMAL(20,6)"), ("c_decimal0", "DECIMAL(10,0)"), ("c_decimal_big", "DECIMAL(65,30)"),
    ("c_float", "FLOAT"), ("c_double", "DOUBLE"), ("c_bit1", "BIT(1)"), ("c_bit64", "BIT(64)"),
    ("c_date", "DATE"), ("c_datetime", "DATETIME"), ("c_datetime3", "DATETIME(3)"), ("c_datetime6", "DATETIME(6)"),
    ("c_timestamp", "TIMESTAMP NULL"), ("c_timestamp6", "TIMESTAMP(6) NULL"), ("c_time", "TIME"), ("c_time3", "TIME(3)"),
    ("c_year", "YEAR"), ("c_char", "CHAR(10)"), ("c_varchar", "VARCHAR(255)"), ("c_latin1", "VARCHAR(50) CHARACTER SET latin1"),
    ("c_binary", "BINARY(4)"), ("c_varbinary", "VARBINARY(20)"), ("c_tinytext", "TINYTEXT"), ("c_text", "TEXT"),
    ("c_mediumtext", "MEDIUMTEXT"), ("c_longtext", "LONGTEXT"), ("c_tinyblob", "TINYBLOB"), ("c_blob", "BLOB"),
    ("c_mediumblob", "MEDIUMBLOB"), ("c_longblob", "LONGBLOB"), ("c_enum", "ENUM('a','b','c')"),
    ("c_set", "SET('x','y','z')"), ("c_json", "JSON"), ("c_point", "POINT"), ("c_geometry", "GEOMETRY"),
]

MIN = {
    "c_tinyint": "-128", "c_utinyint": "0", "c_smallint": "-32768", "c_usmallint": "0", "c_mediumint": "-8388608",
    "c_umediumint": "0", "c_int": "-2147483648", "c_uint": "0", "c_bigint": "-9223372036854775808", "c_ubigint": "0",
    "c_decimal": "-99999999999999.999999", "c_decimal0": "-9999999999", "c_decimal_big": "-" + "9" * 35 + "." + "9" * 30,
    "c_float": "-3.40282e38", "c_double": "-1.7976931348623157e308", "c_bit1": "b'0'", "c_bit64": "b'0'",
    "c_date": "'1000-01-01'", "c_datetime": "'1000-01-01 00:00:00'", "c_datetime3": "'1000-01-01 00:00:00.000'",
    "c_datetime6": "'1000-01-01 00:00:00.000000'", "c_timestamp": "'1970-01-01 00:00:01'",
    "c_timestamp6": "'1970-01-01 00:00:01.000001'", "c_time": "'-838:59:59'", "c_time3": "'-838:59:59.000'",
    "c_year": "1901", "c_char": "''", "c_varchar": "''", "c_latin1": "''", "c_binary": "x'00000000'", "c_varbinary": "x''",
    "c_tinytext": "''", "c_text": "''", "c_mediumtext": "''", "c_longtext": "''", "c_tinyblob": "x''", "c_blob": "x''",
    "c_mediumblob": "x''", "c_longblob": "x''", "c_enum": "'a'", "c_set": "''", "c_json": "'{}'",
    "c_point": "ST_GeomFromText('POINT(-180 -90)')", "c_geometry": "ST_GeomFromText('LINESTRING(0 0,1 1)')",
}
MAX = {
    "c_tinyint": "127", "c_utinyint": "255", "c_smallint": "32767", "c_usmallint": "65535", "c_mediumint": "8388607",
    "c_umediumint": "16777215", "c_int": "2147483647", "c_uint": "4294967295", "c_bigint": "9223372036854775807",
    "c_ubigint": "18446744073709551615", "c_decimal": "99999999999999.999999", "c_decimal0": "9999999999",
    "c_decimal_big": "9" * 35 + "." + "9" * 30, "c_float": "3.40282e38", "c_double": "1.7976931348623157e308",
    "c_bit1": "b'1'", "c_bit64": "b'1111111111111111111111111111111111111111111111111111111111111111'",
    "c_date": "'9999-12-31'", "c_datetime": "'9999-12-31 23:59:59'", "c_datetime3": "'9999-12-31 23:59:59.999'",
    "c_datetime6": "'9999-12-31 23:59:59.999999'", "c_timestamp": "'2038-01-19 03:14:07'",
    "c_timestamp6": "'2038-01-19 03:14:07.999999'", "c_time": "'838:59:59'", "c_time3": "'838:59:59.999'",
    "c_year": "2155", "c_char": "'abcdefghij'", "c_varchar": "'" + "é€😀" * 60 + "'", "c_latin1": "'Ünïcödé ÿ'",
    "c_binary": "x'ffffffff'", "c_varbinary": "x'00ff10203040'", "c_tinytext": "'" + "t" * 255 + "'",
    "c_text": "'line1\\nline2\\t\"quoted\" \\\\ back'", "c_mediumtext": "REPEAT('m', 70000)",
    "c_longtext": "REPEAT('€', 30000)", "c_tinyblob": "x'00010203'", "c_blob": "REPEAT(x'00ff', 1000)",
    "c_mediumblob": "REPEAT(x'7f80', 40000)", "c_longblob": "x'deadbeef'", "c_enum": "'c'", "c_set": "'x,y,z'",
    "c_json": "'{\"a\": [1, 2.5, \"s\", null, true], \"b\": {\"c\": -1}}'",
    "c_point": "ST_GeomFromText('POINT(180 90)')", "c_geometry": "ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))')",
}


# Column types Maxwell 1.22.6 cannot read on MariaDB 10.11, left out of the comparison: a
# MariaDB JSON column (LONGTEXT) is decoded as MySQL's binary JSON and Maxwell stops with
# "Unknown value type code". maxwell-ha's handling of them is checked by Maxwell's own fixtures.
REFERENCE_CANNOT_READ = {"c_json"}


def mid_value(name, i):
    """An ordinary value for column `name`, varying with i."""
    r = random.Random(i * 7919 + sum(map(ord, name)))
    t = dict(COLUMNS)[name]
    if t == "POINT":
        return f"ST_GeomFromText('POINT({r.randint(-90, 90)} {r.randint(-90, 90)})')"
    if t.split()[0] in ("TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT"):
        hi = {"TINYINT": 100, "SMALLINT": 30000, "MEDIUMINT": 8000000, "INT": 2000000000, "BIGINT": 9 * 10**18}[t.split()[0]]
        lo = 0 if "UNSIGNED" in t else -hi
        return str(r.randint(lo, hi))
    if t.startswith("DECIMAL"):
        return f"{r.randint(-10**9, 10**9)}.{r.randint(0, 999999):06d}" if "20,6" in t else str(r.randint(-10**9, 10**9))
    if t in ("FLOAT", "DOUBLE"):
        return repr(round(r.uniform(-1e6, 1e6), 3))
    if t.startswith("BIT"):
        return f"b'{r.randint(0, 1)}'" if t == "BIT(1)" else str(r.randint(0, 2**63))
    if t == "DATE":
        return f"'20{r.randint(10, 30)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}'"
    if t.startswith(("DATETIME", "TIMESTAMP")):
        frac = f".{r.randint(0, 999999):06d}" if ("(" in t) else ""
        return f"'20{r.randint(10, 30)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}{frac}'"
    if t.startswith("TIME"):
        return f"'{r.randint(-100, 100)}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}.{r.randint(0, 999):03d}'"
    if t == "YEAR":
        return str(r.randint(1901, 2155))
    if t.startswith("ENUM"):
        return f"'{r.choice('abc')}'"
    if t.startswith("SET"):
        return "'" + ",".join(sorted(r.sample("xyz", r.randint(0, 3)))) + "'"
    if t == "JSON":
        return "'" + json.dumps({"i": i, "s": f"v{i}", "l": [r.random(), None]}) + "'"
    if t == "GEOMETRY":
        return f"ST_GeomFromText('LINESTRING({r.randint(0, 9)} 0,5 {r.randint(0, 9)})')"
    if "BLOB" in t or "BINARY" in t:
        return "x'" + r.randbytes(r.randint(1, 4) if t != "BINARY(4)" else 4).hex() + "'"
    if t == "CHAR(10)":
        return f"'c{i}é'"
    return "'" + f"text {i} ünï '' \\\\ {r.random()}" + "'"


# Dates a permissive sql_mode (ALLOW_INVALID_DATES, no NO_ZERO_DATE / NO_ZERO_IN_DATE) stores:
# (DATE, DATETIME(0..6), TIMESTAMP(0..6)) per row; see "Invalid and partly-zero dates" in
# docs/maxwell-compatibility.md for what Maxwell prints.
ZERO_DATES = [
    ("'0000-00-00'", "'0000-00-00 00:00:00'", "'0000-00-00 00:00:00'"),
    ("'2020-00-15'", "'2020-00-00 10:00:00'", "'0000-00-00 00:00:00'"),
    ("'2020-02-31'", "'2020-02-31 10:11:12.123456'", "'1970-01-01 00:00:01'"),
    ("'2020-05-00'", "'2020-05-00 00:00:00'", "'2020-01-01 00:00:00'"),
    ("'0000-01-01'", "'0000-01-01 00:00:00.5'", "'2038-01-19 03:14:07.999999'"),
    ("'0000-00-01'", "'0000-00-00 00:00:01'", "'1970-01-01 00:00:00.5'"),
    ("'2021-04-31'", "'0000-00-00 00:00:00.000001'", "NULL"),
    ("'1500-02-29'", "'1500-02-29 23:59:59.999'", "NULL"),
    ("'1582-10-10'", "'1582-10-10 12:00:00'", "NULL"),
    ("'1582-10-04'", "'1582-10-15 00:00:00'", "NULL"),
    ("'1000-02-29'", "'0001-02-29 00:00:00'", "NULL"),
    ("'1700-02-29'", "'1582-10-14 23:59:59.999999'", "NULL"),
    ("'0001-01-01'", "'1900-02-29 01:02:03'", "NULL"),
]


def workload(c, db):
    """Returns the number of row events the workload makes (inserts + updated + deleted rows)."""
    cur = c.cursor()
    rows = 0

    def x(sql):
        nonlocal rows
        rows += cur.execute(sql) if sql.split()[0].upper() in ("INSERT", "UPDATE", "DELETE") else (cur.execute(sql) and 0)

    x(f"CREATE DATABASE {db} CHARACTER SET utf8mb4")
    # Column types in tables of up to 8 columns (Maxwell 1.22.6's binlog library cannot read
    # the TABLE_MAP metadata of the 44-column table this once was, and skips its rows).
    names = [n for n, _ in COLUMNS if n not in REFERENCE_CANNOT_READ]
    groups = [names[i:i + 8] for i in range(0, len(names), 8)]
    tables = [f"types{g}" for g in range(len(groups))]
    typ = dict(COLUMNS)
    for t, cols in zip(tables, groups):
        x(f"CREATE TABLE {db}.{t} (id INT PRIMARY KEY, {', '.join(f'{n} {typ[n]}' for n in cols)}) CHARACTER SET utf8mb4")
    for t, cols in zip(tables, groups):
        # extremes and NULLs
        x(f"INSERT INTO {db}.{t} (id, {', '.join(cols)}) VALUES (1, {', '.join(MIN[n] for n in cols)})")
        x(f"INSERT INTO {db}.{t} (id, {', '.join(cols)}) VALUES (2, {', '.join(MAX[n] for n in cols)})")
        x(f"INSERT INTO {db}.{t} (id) VALUES (3)")
    # one transaction over every types table, several multi-row statements each
    x("BEGIN")
    for b in range(4):
        for t, cols in zip(tables, groups):
            vals = ", ".join(f"({10 + b * 25 + k}, {', '.join(mid_value(n, b * 25 + k) for n in cols)})" for k in range(25))
            x(f"INSERT INTO {db}.{t} (id, {', '.join(cols)}) VALUES {vals}")
    x("COMMIT")
    for t, cols in zip(tables, groups):
        x(f"UPDATE {db}.{t} SET {cols[0]} = {MIN[cols[0]]}, {cols[-1]} = NULL WHERE id BETWEEN 10 AND 30")
        x(f"UPDATE {db}.{t} SET {', '.join(f'{n} = NULL' for n in cols)} WHERE id = 2")
        x(f"DELETE FROM {db}.{t} WHERE id BETWEEN 50 AND 60")
    # multi-table transaction
    x(f"CREATE TABLE {db}.orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer VARCHAR(40), total DECIMAL(10,2), at DATETIME(6))")
    x(f"CREATE TABLE {db}.lines (order_id BIGINT, line INT, sku VARCHAR(20), qty SMALLINT, PRIMARY KEY (order_id, line))")
    for o in range(1, 31):
        x("BEGIN")
        x(f"INSERT INTO {db}.orders (customer, total, at) VALUES ('cust{o}', {o * 3.25}, '2024-05-{1 + o % 28:02d} 10:00:00.{o:06d}')")
        x(f"INSERT INTO {db}.lines VALUES " + ", ".join(f"({o}, {k}, 'sku-{o}-{k}', {k})" for k in range(1, 1 + o % 4 + 1)))
        x(f"UPDATE {db}.types0 SET c_smallint = {o} WHERE id = {10 + o}")
        x("COMMIT")
    # DDL between the rows: add / modify / rename / drop column, rename table
    x(f"ALTER TABLE {db}.orders ADD COLUMN note VARCHAR(30) DEFAULT 'none' AFTER customer")
    x(f"INSERT INTO {db}.orders (customer, note, total, at) VALUES ('after-add', 'n1', 1.00, NOW(6))")
    x(f"ALTER TABLE {db}.orders MODIFY COLUMN total DECIMAL(14,4)")
    x(f"UPDATE {db}.orders SET total = total * 1.5 WHERE id <= 5")
    x(f"ALTER TABLE {db}.orders CHANGE COLUMN customer client VARCHAR(60)")
    x(f"INSERT INTO {db}.orders (client, total, at) VALUES ('after-rename', 2.5, '2024-01-01')")
    x(f"ALTER TABLE {db}.orders DROP COLUMN note")
    x(f"INSERT INTO {db}.orders (client, total, at) VALUES ('after-drop', 3.5, '2024-01-02')")
    x(f"RENAME TABLE {db}.lines TO {db}.order_lines")
    x(f"INSERT INTO {db}.order_lines VALUES (1000, 1, 'renamed', 9)")
    x(f"DELETE FROM {db}.order_lines WHERE order_id < 5")
    # create / drop database
    x(f"CREATE DATABASE {db}_tmp")
    x(f"CREATE TABLE {db}_tmp.k (k VARCHAR(10) PRIMARY KEY, v INT)")
    x(f"INSERT INTO {db}_tmp.k VALUES ('a', 1), ('b', NULL)")
    x(f"DROP DATABASE {db}_tmp")
    # invalid and partly-zero dates, written as a permissive server takes them
    x("SET SESSION sql_mode = 'ALLOW_INVALID_DATES', time_zone = '+00:00'")
    x(f"CREATE TABLE {db}.zerodates (id INT PRIMARY KEY, d DATE, dt DATETIME, dt1 DATETIME(1), dt3 DATETIME(3), "
      "dt6 DATETIME(6), ts TIMESTAMP NULL, ts3 TIMESTAMP(3) NULL, ts6 TIMESTAMP(6) NULL)")
    for i, (d, dt, ts) in enumerate(ZERO_DATES, 1):
        x(f"INSERT INTO {db}.zerodates VALUES ({i}, {d}, {dt}, {dt}, {dt}, {dt}, {ts}, {ts}, {ts})")
    x(f"UPDATE {db}.zerodates SET d = '2000-01-01' WHERE id <= 3")
    x("SET SESSION sql_mode = DEFAULT, time_zone = DEFAULT")
    x(f"CREATE TABLE {db}.done (id INT PRIMARY KEY)")
    x(f"INSERT INTO {db}.done VALUES (1)")
    return rows


# ---------------------------------------------------------------- comparison

# Fields that differ for a known reason: (where, why). `where` is a column name, a top-level
# key, or "*" for any row. Each entry is listed in the side-by-side section of
# docs/maxwell-compatibility.md.
KNOWN = {
    "c_bit64": "Maxwell 1.22.6 keeps only the low 32 bits of a BIT(n > 32) value, as a signed int (the server holds the full value: SELECT c_bit64+0 gives maxwell-ha's number); Maxwell's own later fixture test_bit expects the full value",
    "c_time": "Maxwell 1.22.6 reads TIME through java.sql.Time, which folds values outside 00:00:00-23:59:59 (negative, or 24 h and more, up to 838:59:59) into one day; maxwell-ha prints the value the server holds",
    "c_time3": "as c_time, with fractional seconds",
    "query": "output_row_query: Maxwell 1.22.6 (mysql-binlog-connector-java 0.20.0) never asks MariaDB for ANNOTATE_ROWS events (COM_BINLOG_DUMP flag 2) and does not decode them, so its rows on MariaDB have no query; maxwell-ha asks and prints the statement",
}


ROW_TYPES = ("insert", "update", "delete")


def parse(lines, dbs, ddl=False, key=None, stats=None):
    """The records of `dbs` (rows; DDL records too with `ddl`). With `key`, each is decrypted
    and marked with how it was encrypted (`(encrypted)`: data, all or None), so that the
    comparison sees a record one tool encrypted and the other did not."""
    out = []
    for _, l in lines:
        l = l.strip()
        if not l:
            continue
        r = json.loads(l)
        mode = None
        if key is not None:
            r, mode, text = maxwell_decrypt.plain(r, key)
            if stats is not None and mode:
                stats[f"encrypted_{mode}"] += 1
                stats["plaintext_leading_space"] += text[:1].isspace()
        if r.get("database") in dbs and (r.get("type") in ROW_TYPES or (ddl and "sql" in r)):
            if key is not None:
                r["(encrypted)"] = mode
            out.append(r)
    return out


def done_row(p, key):
    """Whether `p` printed the workload's last row (an insert into table `done`); encrypted
    lines are decrypted once each."""
    seen = p.__dict__.setdefault("plain_seen", [])
    for _, l in p.lines[len(seen):]:
        r = json.loads(l) if l.strip().startswith("{") else {}
        seen.append(maxwell_decrypt.plain(r, key)[0] if key is not None else r)
    return any(r.get("table") == "done" and r.get("type") == "insert" for r in seen)


def exclusion(pattern_list):
    """exclude_columns as Maxwell reads it: names exactly, /regex/ on the whole name."""
    pats = []
    for e in (x.strip() for x in pattern_list.split(",")):
        if e.startswith("/") and e.endswith("/") and len(e) > 1:
            pats.append(re.compile(e[1:-1]))
        elif e:
            pats.append(re.compile(re.escape(e)))
    return lambda col: any(p.fullmatch(col) for p in pats)


def excluded_present(records, excluded):
    """(column, table) of every excluded column found in a record's data or old."""
    return [(c, r.get("table")) for r in records for k in ("data", "old") for c in (r.get(k) or {}) if excluded(c)]


def split_schema_ids(a, b):
    """Takes schema_id out of both record lists; returns {offset (ours - Maxwell's): records}
    and the records where one side lacks it."""
    offsets, lacking = collections.Counter(), []
    for i in range(max(len(a), len(b))):
        x = a[i].pop("schema_id", None) if i < len(a) else None
        y = b[i].pop("schema_id", None) if i < len(b) else None
        if i < len(a) and i < len(b):
            if x is None or y is None:
                lacking.append({"maxwell-ha": x, "maxwell": y, "table": a[i].get("table"), "type": a[i].get("type")})
            else:
                offsets[x - y] += 1
    return offsets, lacking


def compare(ours, ref):
    """Row-by-row comparison: (rows compared, identical rows, {where: [examples]} known and unknown)."""
    known, unknown = {}, {}
    same = 0

    def note(where, a, b, row):
        bucket = known if where.removeprefix("old.") in KNOWN else unknown
        bucket.setdefault(where, []).append({"maxwell-ha": a, "maxwell": b, "table": row.get("table"), "type": row.get("type")})

    n = max(len(ours), len(ref))
    for i in range(n):
        a = ours[i] if i < len(ours) else None
        b = ref[i] if i < len(ref) else None
        if a is None or b is None:
            note("(missing row)", a, b, a or b)
            continue
        diff = False
        for k in sorted(set(a) | set(b)):
            if k in ("data", "old"):
                da, db_ = a.get(k) or {}, b.get(k) or {}
                if (k in a) != (k in b):
                    note(k, a.get(k), b.get(k), a); diff = True; continue
                for col in sorted(set(da) | set(db_)):
                    va, vb = da.get(col, "<absent>"), db_.get(col, "<absent>")
                    if va != vb and not (isinstance(va, float) and isinstance(vb, (int, float)) and va == vb):
                        note(col if k == "data" else f"old.{col}", va, vb, a); diff = True
            elif a.get(k) != b.get(k):
                note(k, a.get(k, "<absent>"), b.get(k, "<absent>"), a); diff = True
        same += not diff
    return n, same, known, unknown


def conformance(args):
    tag = f"sbs{random.randint(10**5, 10**6)}"
    db = tag
    filt = f"exclude: *.*, include: {db}.*, include: {db}_tmp.*"
    if args.row_metadata:
        # Global; a session keeps the value it connected with, so the workload connects after.
        with connect(args.port).cursor() as cur:
            cur.execute(f"SET GLOBAL binlog_row_metadata='{args.row_metadata}'")
    c = connect(args.port)
    extra = (["--output_ddl=true"] if args.ddl else []) + (["--output_binlog_position=true"] if args.positions else [])
    extra += [f"--exclude_columns={args.exclude_columns}"] if args.exclude_columns else []
    extra += ["--output_schema_id=true"] if args.schema_id else []
    extra += ["--output_null_zerodates=true"] if args.null_zerodates else []
    extra += ["--output_primary_keys=true", "--output_primary_key_columns=true"] if args.primary_keys else []
    extra += ["--output_row_query=true"] if args.row_query else []
    key = None
    if args.encrypt:
        key = secrets.token_hex(args.key_bytes // 2)
        extra += [f"--encrypt={args.encrypt}", f"--secret_key={key}"]
        key = key.encode()
    ref = start_maxwell(args.port, tag, filt, extra)
    start = master_position(c)
    ours = start_ours(args.maxwell_ha, args.port, start, filt, extra)
    # Streaming (its schema captured) before the workload's first statement, as Maxwell is.
    ours.wait_for(lambda p: "starting binlog stream" in p.stderr(), 60, "maxwell-ha's binlog stream")
    t0 = time.monotonic()
    try:
        expected = workload(c, db)
        done = lambda p: done_row(p, key)
        ours.wait_for(done, 120, "maxwell-ha's last row")
        ref.wait_for(done, 120, "Maxwell's last row")
        if args.keep:
            ref.save(os.path.join(args.keep, "maxwell.jsonl")); ours.save(os.path.join(args.keep, "maxwell-ha.jsonl"))
    finally:
        # Both stop whatever happened (a failed run leaves no process behind).
        ref.stop(); ours.stop()
        if args.row_metadata:
            with connect(args.port).cursor() as cur:
                cur.execute("SET GLOBAL binlog_row_metadata='FULL'")
    dbs = {db, f"{db}_tmp"}
    stats_a, stats_b = collections.Counter(), collections.Counter()
    a, b = parse(ours.lines, dbs, args.ddl, key, stats_a), parse(ref.lines, dbs, args.ddl, key, stats_b)
    ddl_records = sum(1 for r in a if r.get("type") not in ROW_TYPES)
    row_records = len(a) - ddl_records
    options = {}
    if args.schema_id:
        offsets, lacking = split_schema_ids(a, b)
        options["schema_id_offsets"] = {str(k): v for k, v in offsets.items()}
    n, same, known, unknown = compare(a, b)
    if args.schema_id:
        # Ours counts schema changes, Maxwell's is its `schemas` row id: the two must change
        # at the same records, so they differ by one constant.
        if len(offsets) != 1 or lacking:
            unknown["schema_id"] = [{"offsets (maxwell-ha - maxwell)": dict(offsets)}] + lacking[:3]
    if args.exclude_columns:
        excluded = exclusion(args.exclude_columns)
        for who, recs in (("maxwell-ha", a), ("maxwell", b)):
            present = excluded_present(recs, excluded)
            if present:
                unknown[f"exclude_columns ({who})"] = present[:10]
    if args.row_query:
        options["rows_with_query_maxwell_ha"] = sum(1 for r in a if r.get("type") in ROW_TYPES and isinstance(r.get("query"), str))
        options["rows_with_query_maxwell"] = sum(1 for r in b if r.get("type") in ROW_TYPES and isinstance(r.get("query"), str))
    if key is not None:
        options["encrypted_records_maxwell_ha"] = {m: stats_a[f"encrypted_{m}"] for m in ("data", "all")}
        options["encrypted_records_maxwell"] = {m: stats_b[f"encrypted_{m}"] for m in ("data", "all")}
        options["plaintexts_with_leading_space"] = {"maxwell_ha": stats_a["plaintext_leading_space"], "maxwell": stats_b["plaintext_leading_space"]}
        options["key_bytes"] = len(key)
    report = {
        "maxwell_version": subprocess.run([os.path.join(HERE, "maxwell-ref.sh"), "version"], capture_output=True, text=True).stdout.strip(),
        "row_events_written": expected, "rows_maxwell_ha": len(a), "rows_maxwell": len(b), "rows_compared": n,
        "rows_identical": same, "ddl_records_maxwell_ha": ddl_records,
        "records_per_table": dict(collections.Counter(r.get("table") or "" for r in a)),
        "ddl_records_maxwell": sum(1 for r in b if r.get("type") not in ROW_TYPES), "row_metadata": args.row_metadata or "server default",
        "known_differences": {k: {"rows": len(v), "why": KNOWN[k.removeprefix("old.")], "example": v[0]} for k, v in known.items()},
        "unexplained_differences": {k: {"rows": len(v), "examples": v[:3]} for k, v in unknown.items()},
        "seconds": round(time.monotonic() - t0, 1),
        "options": {"exclude_columns": args.exclude_columns, "encrypt": args.encrypt, "schema_id": args.schema_id, "row_query": args.row_query, **options},
    }
    text = json.dumps(report, indent=1, ensure_ascii=False, default=str)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text + "\n")
    print(text)
    ok = not unknown and len(a) == len(b) and row_records == expected
    if not ok:
        print(f"side-by-side: {sum(len(v) for v in unknown.values())} unexplained differences, rows {len(a)} vs {len(b)} (written {expected})", file=sys.stderr)
    return 0 if ok else 1


# ---------------------------------------------------------------- throughput

def throughput(args):
    tag = f"sbt{random.randint(10**5, 10**6)}"
    db = tag
    c = connect(args.port)
    cur = c.cursor()
    cur.execute(f"CREATE DATABASE {db}")
    cur.execute(f"USE {db}")  # the seq_1_to_N tables resolve in the current database
    cur.execute(f"""CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, a INT, b BIGINT UNSIGNED, c VARCHAR(64),
                    d DECIMAL(12,2), e DATETIME(3), f DOUBLE, g TINYINT)""")
    filt = f"exclude: *.*, include: {db}.*"
    start = master_position(c)
    step = 1000
    for i in range(1, args.rows + 1, step * 20):
        cur.execute("BEGIN")
        for k in range(i, min(i + step * 20, args.rows + 1), step):
            e = min(k + step - 1, args.rows)
            cur.execute(f"""INSERT INTO {db}.t SELECT seq, seq*7, seq*1000003, CONCAT('name-', seq, '-abcdefghij'), seq/100,
                '2024-01-02 03:04:05.678' + INTERVAL seq SECOND, seq*1.5, seq%100 FROM seq_{k}_to_{e}""")
        cur.execute("COMMIT")
    end = master_position(c)
    # Both tools read the same binlog range [start, end] after it is written, one at a time;
    # each is timed from its first row out to its last (JVM start and schema capture excluded).
    results = {"rows": args.rows, "binlog_range": f"{start} .. {end}",
               "maxwell_version": subprocess.run([os.path.join(HERE, "maxwell-ref.sh"), "version"], capture_output=True, text=True).stdout.strip()}
    sinks = [("stdout", [])]
    if args.kafka:
        sinks.append(("kafka", ["--producer=kafka", f"--kafka.bootstrap.servers={args.kafka}"]))
    for sink, extra in sinks:
        for who in ("maxwell_ha", "maxwell"):
            topic = [f"--kafka_topic={tag}-{who}"] if sink == "kafka" else []
            if sink == "kafka":
                create_topic(args.kafka, f"{tag}-{who}")
            if who == "maxwell_ha":
                p = start_ours(args.maxwell_ha, args.port, start, filt, extra + topic)
            else:
                p = start_maxwell(args.port, f"{tag}{sink}", filt, extra + topic + [f"--init_position={start}:0", "--replay"])
            try:
                if sink == "stdout":
                    rows = lambda p: [t for t, l in p.lines if l.startswith("{")]
                    p.wait_for(lambda p: len(rows(p)) >= args.rows, 900, f"{who}: {args.rows} rows")
                    ts = rows(p)
                    secs = ts[-1] - ts[0]
                else:
                    t0 = kafka_first_time(args.kafka, f"{tag}-{who}", p)
                    kafka_wait(args.kafka, f"{tag}-{who}", args.rows, p)
                    secs = time.monotonic() - t0
                results[f"{who}_{sink}_rows_per_sec"] = round(args.rows / max(secs, 1e-6))
                results[f"{who}_{sink}_peak_rss_kib"] = p.peak_rss_kib()
            finally:
                p.stop()
        results[f"ratio_{sink}"] = round(results[f"maxwell_ha_{sink}_rows_per_sec"] / max(results[f"maxwell_{sink}_rows_per_sec"], 1), 2)
    print(json.dumps(results, indent=1))
    return 0


def bootstrap(args):
    """Bootstrap throughput: one table of ROWS rows (written with the binlog off), bootstrapped
    by each tool in turn to a topic of its own, timed from the request to the last of its
    ROWS + 2 records (start, inserts, complete) in Kafka."""
    tag = f"sbb{random.randint(10**5, 10**6)}"
    db = tag
    c = connect(args.port)
    cur = c.cursor()
    cur.execute("SET SESSION sql_log_bin = 0")
    cur.execute(f"CREATE DATABASE {db}")
    cur.execute(f"USE {db}")
    cur.execute(f"""CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, a INT, b BIGINT UNSIGNED, c VARCHAR(64),
                    d DECIMAL(12,2), e DATETIME(3), f DOUBLE, g TINYINT)""")
    cur.execute(f"""INSERT INTO {db}.t SELECT seq, seq*7, seq*1000003, CONCAT('name-', seq, '-abcdefghij'), seq/100,
                '2024-01-02 03:04:05.678' + INTERVAL seq SECOND, seq*1.5, seq%100 FROM seq_1_to_{args.rows}""")
    cur.execute("SET SESSION sql_log_bin = 1")
    filt = f"exclude: *.*, include: {db}.*"
    results = {"rows": args.rows, "maxwell_version": subprocess.run([os.path.join(HERE, "maxwell-ref.sh"), "version"], capture_output=True, text=True).stdout.strip()}
    for who in ("maxwell_ha", "maxwell"):
        topic = f"{tag}-{who}"
        create_topic(args.kafka, topic)
        extra = ["--producer=kafka", f"--kafka.bootstrap.servers={args.kafka}", f"--kafka_topic={topic}"]
        if who == "maxwell_ha":
            schema, client = f"{tag}_ours", "maxwell"
            p = start_ours(args.maxwell_ha, args.port, master_position(c), filt, extra + [f"--schema_database={schema}"])
            p.wait_for(lambda p: "starting binlog stream" in p.stderr(), 60, "maxwell-ha's binlog stream")
            time.sleep(1)  # its bootstrap table is created at its first poll
        else:
            schema, client = f"{tag}maxwell_schema", f"{tag}maxwell"
            p = start_maxwell(args.port, client, filt, extra)
        try:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {schema}")
            t0 = time.monotonic()
            for _ in range(100):
                try:
                    cur.execute(f"INSERT INTO {schema}.bootstrap (database_name, table_name, client_id) VALUES ('{db}', 't', '{client}')")
                    break
                except pymysql.err.ProgrammingError:
                    time.sleep(0.1)  # its bootstrap table is not there yet
            kafka_wait(args.kafka, topic, args.rows + 2, p)
            secs = time.monotonic() - t0
            results[f"{who}_rows_per_sec"] = round(args.rows / max(secs, 1e-6))
            results[f"{who}_seconds"] = round(secs, 1)
            results[f"{who}_peak_rss_kib"] = p.peak_rss_kib()
        finally:
            p.stop()
    results["ratio"] = round(results["maxwell_ha_rows_per_sec"] / max(results["maxwell_rows_per_sec"], 1), 2)
    print(json.dumps(results, indent=1))
    return 0


def kafka_count(bootstrap, topic):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "sbs-count"})
    try:
        md = c.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None:
            return 0
        total = 0
        for p in md.partitions:
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += hi - lo
        return total
    finally:
        c.close()


def create_topic(bootstrap, topic):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": bootstrap})
    for f in a.create_topics([NewTopic(topic, 1, 1)]).values():
        f.result(30)


def kafka_wait(bootstrap, topic, n, proc, timeout=900):
    proc.wait_for(lambda _: kafka_count(bootstrap, topic) >= n, timeout, f"{n} records in {topic}")


def kafka_first_time(bootstrap, topic, proc, timeout=300):
    """Monotonic time at which the topic first holds a record (polled)."""
    proc.wait_for(lambda _: kafka_count(bootstrap, topic) > 0, timeout, f"a first record in {topic}")
    return time.monotonic()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["conformance", "throughput", "bootstrap"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--maxwell-ha", required=True)
    ap.add_argument("--report")
    ap.add_argument("--keep", help="directory for both tools' output and logs")
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--kafka")
    ap.add_argument("--row-metadata", choices=["FULL", "NO_LOG", "MINIMAL"],
                    help="conformance: the source's binlog_row_metadata while the workload runs (restored to FULL after)")
    ap.add_argument("--ddl", action="store_true", help="conformance: both emit DDL records (output_ddl), compared too")
    ap.add_argument("--positions", action="store_true", help="conformance: both print each record's position (output_binlog_position), compared too")
    ap.add_argument("--exclude-columns", help="conformance: both run with exclude_columns=LIST (name or /regex/, comma-separated)")
    ap.add_argument("--encrypt", choices=["data", "all"], help="conformance: both encrypt with a random key; both decrypted, then compared")
    ap.add_argument("--key-bytes", type=int, choices=[16, 24, 32], default=32, help="conformance: the random secret_key's length")
    ap.add_argument("--schema-id", action="store_true", help="conformance: both print schema_id (output_schema_id); it must change at the same records")
    ap.add_argument("--row-query", action="store_true", help="conformance: both run with output_row_query=true; each row's query compared too")
    ap.add_argument("--null-zerodates", action="store_true", help="conformance: both print zero dates as null (output_null_zerodates)")
    ap.add_argument("--primary-keys", action="store_true", help="conformance: both print primary_key and primary_key_columns, compared too")
    args = ap.parse_args()
    sys.exit({"conformance": conformance, "throughput": throughput, "bootstrap": bootstrap}[args.mode](args))


if __name__ == "__main__":
    main()
