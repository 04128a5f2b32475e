#!/usr/bin/env bash
# Benchmarks (not tests; figures depend on the machine). Each loads ROWS rows × 8 mixed columns
# into its own MariaDB (port 3417) and state dir, then:
#   scripts/bench.sh decode [ROWS]  reads that binlog range with maxwell-ha's reader (decode +
#       Maxwell JSON) and with `mariadb-binlog --read-from-remote-server -v`, each pinned to one
#       core: both rates, the ratio, peak RSS; then maxwell-ha's reader again with encrypt=data
#       and with encrypt=all (AES-128, secret_key of 16 bytes): their rates next to the plain
#       one of the same run.                                (default ROWS 1000000)
#   scripts/bench.sh kafka [ROWS]   MariaDB → Apache Kafka (scripts/kafka.sh, one broker, port
#       9417) rows/s through maxwell-ha, next to a bare rdkafka producer pushing pre-built
#       messages of the same shape (key, 4 headers, average size) to the same broker in the same
#       run: both rates and the ratio; the same pipeline in exactly-once mode (Kafka
#       transactions + checkpoints, as a cluster leader writes) next to it; then commit→ack latency p50/p99 with a live writer at a
#       fixed LATENCY_RATE rows/s (default 10000) for LATENCY_SECONDS (default 20).
#       (default ROWS 300000)
#   scripts/bench.sh maxwell [ROWS] side by side with Zendesk's Maxwell (scripts/maxwell-ref.sh):
#       the conformance run of scripts/side_by_side.py (rows compared, explained and unexplained
#       differences), then both tools reading the same ROWS-row binlog range to stdout and to
#       Kafka (one broker, port 9417): rows/s from each one's first row to its last, peak RSS.
#       (default ROWS 300000)
#   scripts/bench.sh bigtx [ROWS]   ROWS rows in ONE transaction, read by maxwell-ha's reader
#       (decode + Maxwell JSON): peak RSS — what holding a whole binlog transaction costs.
#       (default ROWS 2000000)
#   scripts/bench.sh bootstrap [ROWS] one table of ROWS rows bootstrapped by maxwell-ha (a node
#       alone) and by Zendesk's Maxwell in turn, each to its own topic: rows/s from the request
#       to the last record in Kafka, peak RSS. (default ROWS 1000000)
#   scripts/bench.sh javascript [ROWS] the decode run's rows read by maxwell-ha's reader with no
#       `javascript` filter, with a trivial one (`function process_row(row) {}`) and with one
#       that reads and edits every row (a column masked, 1 % suppressed), in turn, twice, in
#       the same run: rows/s of each and the ratios to none (the script runs on its own thread,
#       as in a node; not pinned).                          (default ROWS 1000000)
#   scripts/bench.sh schema [TABLES] TABLES tables × 20 columns of mixed types, then the schema
#       captured from information_schema as a node does at start: tables and columns held,
#       capture time, resident memory added, the schema's size as JSON. (default TABLES 1000)
# decode, kafka and bigtx write the binlog at binlog_row_metadata=$BENCH_ROW_METADATA
# (default FULL; NO_LOG or MINIMAL: rows are named from the schema history instead).
# Every step is bounded (BENCH_STEP_SECONDS, default 900 s; the latency runs their seconds
# + 120 s): a step that runs over is stopped and reported as {"error": ...} in the figures.
source "$(dirname "$0")/common.sh"
# bounded SECONDS WHAT CMD... : CMD's output, or {"error":...} when it fails or runs over.
bounded() {
  local secs="$1" what="$2"; shift 2
  local out rc=0 why
  out=$(timeout -k 10 "$secs" "$@") || rc=$?
  if [ "$rc" -eq 0 ]; then printf '%s\n' "$out"; return 0; fi
  case "$rc" in 124|137) why="did not finish within $secs s" ;; *) why="failed (exit $rc)" ;; esac
  log "$what $why"
  printf '{"error":"%s %s"}\n' "$what" "$why"
}
STEP="${BENCH_STEP_SECONDS:-900}"
MODE="${1:-decode}"
case "$MODE" in
  decode|javascript) ROWS="${2:-1000000}" ;; kafka|maxwell) ROWS="${2:-300000}" ;; bigtx) ROWS="${2:-2000000}" ;;
  bootstrap) ROWS="${2:-1000000}" ;; schema) ROWS="${2:-1000}" ;;
  *) echo "usage: $0 decode|javascript|kafka|maxwell|bigtx|bootstrap|schema [ROWS]" >&2; exit 2 ;;
esac
export MARIADB_PORT="${BENCH_PORT:-3417}"
export MAXWELL_HA_RUN="$RUN_DIR/bench"
apt_install time util-linux build-essential pkg-config zlib1g-dev libssl-dev
cd "$REPO_ROOT"
cargo build --release --example bench_decode --example bench_kafka --example bench_capture >&2
"$REPO_ROOT/scripts/mariadb.sh" reset >&2
trap '"$REPO_ROOT/scripts/mariadb.sh" stop >&2' EXIT
sql() { "$REPO_ROOT/scripts/mariadb.sh" client -N -e "$1"; }
if [ "$MODE" = bootstrap ] || [ "$MODE" = maxwell ]; then
  # Both run Zendesk's Maxwell next to maxwell-ha, on a broker of their own.
  export KAFKA_PORT="${BENCH_KAFKA_PORT:-9417}"
  python3 -c "import confluent_kafka, pymysql" 2>/dev/null || python3 -m pip install -q confluent-kafka pymysql
  "$REPO_ROOT/scripts/maxwell-ref.sh" install
  cargo build --release --bin maxwell >&2
  "$REPO_ROOT/scripts/kafka.sh" stop >&2
  rm -rf "$MAXWELL_HA_RUN/kafka-$KAFKA_PORT"
  "$REPO_ROOT/scripts/kafka.sh" start >&2
  trap '"$REPO_ROOT/scripts/kafka.sh" stop >&2; "$REPO_ROOT/scripts/mariadb.sh" stop >&2' EXIT
fi
if [ "$MODE" = bootstrap ]; then
  log "bootstrap: one table of $ROWS rows, each tool in turn (Kafka)"
  timeout -k 10 "$STEP" python3 scripts/side_by_side.py bootstrap --port "$MARIADB_PORT" --maxwell-ha target/release/maxwell \
    --rows "$ROWS" --kafka "127.0.0.1:$KAFKA_PORT"
  exit 0
fi
if [ "$MODE" = maxwell ]; then
  log "conformance: the same workload through both"
  timeout -k 10 "$STEP" python3 scripts/side_by_side.py conformance --port "$MARIADB_PORT" --maxwell-ha target/release/maxwell \
    --report "$MAXWELL_HA_RUN/side-by-side.json" > /dev/null || log "conformance found unexplained differences (see below)"
  log "throughput: $ROWS rows, stdout and Kafka"
  timeout -k 10 "$STEP" python3 scripts/side_by_side.py throughput --port "$MARIADB_PORT" --maxwell-ha target/release/maxwell \
    --rows "$ROWS" --kafka "127.0.0.1:$KAFKA_PORT" > "$MAXWELL_HA_RUN/throughput.json"
  python3 - "$MAXWELL_HA_RUN/side-by-side.json" "$MAXWELL_HA_RUN/throughput.json" <<'PY'
import json, sys
c, t = (json.load(open(a)) for a in sys.argv[1:3])
t["conformance"] = {k: c[k] for k in ("maxwell_version", "rows_compared", "rows_identical")}
t["conformance"]["explained_differences"] = {k: v["rows"] for k, v in c["known_differences"].items()}
t["conformance"]["unexplained_differences"] = {k: v["rows"] for k, v in c["unexplained_differences"].items()}
print(json.dumps(t, indent=1))
PY
  exit 0
fi
if [ "$MODE" = schema ]; then
  log "creating $ROWS tables × 20 columns"
  python3 - "$ROWS" <<'PY' | "$REPO_ROOT/scripts/mariadb.sh" client
import sys
types = ["INT", "BIGINT UNSIGNED", "VARCHAR(64)", "DECIMAL(12,2)", "DATETIME(3)", "TEXT", "ENUM('a','b','c')", "DOUBLE", "TINYINT", "JSON"]
print("CREATE DATABASE bench_schema;")
for t in range(int(sys.argv[1])):
    cols = ", ".join(f"c{i} {types[i % len(types)]}" for i in range(1, 20))
    print(f"CREATE TABLE bench_schema.t{t} (id BIGINT PRIMARY KEY, {cols});")
PY
  bounded "$STEP" "bench_capture" target/release/examples/bench_capture --host=127.0.0.1 --port="$MARIADB_PORT" --user=root
  exit 0
fi
sql "SET GLOBAL binlog_row_metadata='${BENCH_ROW_METADATA:-FULL}'"
sql "CREATE DATABASE bench; CREATE TABLE bench.t (
  id BIGINT PRIMARY KEY, a INT, b BIGINT UNSIGNED, c VARCHAR(64), d DECIMAL(12,2),
  e DATETIME(3), f DOUBLE, g TINYINT)"
start=$(sql "SHOW MASTER STATUS" | awk '{print $1":"$2}')
if [ "$MODE" = bigtx ]; then
  log "loading $ROWS rows in one transaction"
  sql "INSERT INTO bench.t SELECT seq, seq*7, seq*1000003, CONCAT('name-', seq, '-abcdefghij'), seq/100, '2024-01-02 03:04:05.678' + INTERVAL seq SECOND, seq*1.5, seq%100 FROM bench.seq_1_to_$ROWS"
  ours=$(bounded "$STEP" "bench_decode" target/release/examples/bench_decode --host=127.0.0.1 --port="$MARIADB_PORT" --user=root --from="$start")
  python3 - "$ours" "$ROWS" <<'PY'
import json, sys
o = json.loads(sys.argv[1])
if "error" in o:
    sys.exit(o["error"])
print(json.dumps({"rows_in_one_transaction": int(sys.argv[2]), "rows_read": o["rows"], "peak_rss_kib": o["peak_rss_kib"],
  "bytes_per_row": round(o["peak_rss_kib"] * 1024 / max(o["rows"], 1)), "rows_per_sec": round(o["rows_per_sec"])}))
PY
  exit 0
fi
log "loading $ROWS rows in transactions of 1000"
batch=1000
i=1
while [ "$i" -le "$ROWS" ]; do
  j=$((i + batch * 50 - 1)); [ "$j" -gt "$ROWS" ] && j=$ROWS
  stmts="USE bench;"
  k=$i
  while [ "$k" -le "$j" ]; do
    e=$((k + batch - 1)); [ "$e" -gt "$j" ] && e=$j
    stmts+="INSERT INTO bench.t SELECT seq, seq*7, seq*1000003, CONCAT('name-', seq, '-abcdefghij'), seq/100, '2024-01-02 03:04:05.678' + INTERVAL seq SECOND, seq*1.5, seq%100 FROM seq_${k}_to_${e};"
    k=$((e + 1))
  done
  sql "$stmts"
  i=$((j + 1))
done
end=$(sql "SHOW MASTER STATUS" | awk '{print $1":"$2}')
log "binlog range $start .. $end"
if [ "$MODE" = javascript ]; then
  js="$MAXWELL_HA_RUN/js"; mkdir -p "$js"
  printf 'function process_row(row) {}\n' > "$js/trivial.js"
  printf 'function process_row(row) {\n  if (row.data.get("g") == 99) row.suppress();\n  row.data.put("c", "masked");\n}\n' > "$js/edit.js"
  runs=()
  for round in 1 2; do
    for kind in none trivial edit; do
      extra=(); [ "$kind" = none ] || extra=(--javascript="$js/$kind.js")
      runs+=("$kind" "$(bounded "$STEP" "bench_decode $kind" target/release/examples/bench_decode --host=127.0.0.1 --port="$MARIADB_PORT" --user=root --from="$start" "${extra[@]}")")
    done
  done
  python3 - "$ROWS" "${runs[@]}" <<'PY'
import json, sys
rows, args = int(sys.argv[1]), sys.argv[2:]
rates, errors = {}, []
for kind, out in zip(args[::2], args[1::2]):
    o = json.loads(out)
    if "error" in o:
        errors.append(o["error"]); continue
    want = rows if kind != "edit" else rows - rows // 100
    if o["rows"] != want:
        errors.append(f"{kind}: {o['rows']} rows out, expected {want}")
    rates.setdefault(kind, []).append(round(o["rows_per_sec"]))
best = {k: max(v) for k, v in rates.items()}
print(json.dumps({"rows": rows, **{f"{k}_rows_per_sec": v for k, v in rates.items()},
  "trivial_vs_none": round(best["trivial"] / best["none"], 3) if "trivial" in best and "none" in best else None,
  "edit_vs_none": round(best["edit"] / best["none"], 3) if "edit" in best and "none" in best else None,
  **({"errors": errors} if errors else {})}))
sys.exit(1 if errors else 0)
PY
  exit 0
fi
if [ "$MODE" = kafka ]; then
  export KAFKA_PORT="${BENCH_KAFKA_PORT:-9417}"
  python3 -c "import confluent_kafka" 2>/dev/null || python3 -m pip install -q confluent-kafka mmh3
  "$REPO_ROOT/scripts/kafka.sh" stop >&2
  rm -rf "$MAXWELL_HA_RUN/kafka-$KAFKA_PORT"
  "$REPO_ROOT/scripts/kafka.sh" start >&2
  trap '"$REPO_ROOT/scripts/kafka.sh" stop >&2; "$REPO_ROOT/scripts/mariadb.sh" stop >&2' EXIT
  bootstrap="127.0.0.1:$KAFKA_PORT"
  python3 tests/kafka_tool.py "$bootstrap" create bench_ceiling 1
  python3 tests/kafka_tool.py "$bootstrap" create bench_rows 1
  size=$(bounded "$STEP" "bench_decode" target/release/examples/bench_decode --host=127.0.0.1 --port="$MARIADB_PORT" --user=root --from="$start" \
    | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['json_bytes']//d['rows'])")
  ceiling=$(bounded "$STEP" "bench_kafka ceiling" target/release/examples/bench_kafka ceiling --kafka.bootstrap.servers="$bootstrap" --kafka_topic=bench_ceiling --rows="$ROWS" --bytes="$size")
  pipeline=$(bounded "$STEP" "bench_kafka pipeline" target/release/examples/bench_kafka pipeline --host=127.0.0.1 --port="$MARIADB_PORT" --from="$start" \
    --kafka.bootstrap.servers="$bootstrap" --kafka_topic=bench_rows)
  python3 tests/kafka_tool.py "$bootstrap" create bench_rows_eos 1
  eos=$(bounded "$STEP" "bench_kafka pipeline-eos" target/release/examples/bench_kafka pipeline-eos --host=127.0.0.1 --port="$MARIADB_PORT" --from="$start" \
    --kafka.bootstrap.servers="$bootstrap" --kafka_topic=bench_rows_eos)
  lat_secs=$(( ${LATENCY_SECONDS:-20} + 120 ))
  python3 tests/kafka_tool.py "$bootstrap" create bench_latency 3
  latency=$(bounded "$lat_secs" "bench_kafka latency" target/release/examples/bench_kafka latency --host=127.0.0.1 --port="$MARIADB_PORT" \
    --rate="${LATENCY_RATE:-10000}" --seconds="${LATENCY_SECONDS:-20}" \
    --kafka.bootstrap.servers="$bootstrap" --kafka_topic=bench_latency --producer_partition_by=primary_key)
  python3 tests/kafka_tool.py "$bootstrap" create bench_latency_eos 3
  latency_eos=$(bounded "$lat_secs" "bench_kafka latency-eos" target/release/examples/bench_kafka latency-eos --host=127.0.0.1 --port="$MARIADB_PORT" \
    --rate="${LATENCY_RATE:-10000}" --seconds="${LATENCY_SECONDS:-20}" \
    --kafka.bootstrap.servers="$bootstrap" --kafka_topic=bench_latency_eos --producer_partition_by=primary_key)
  python3 - "$ceiling" "$pipeline" "$size" "$latency" "$eos" "$latency_eos" <<'PY'
import json, sys
c, p, l, e, le = (json.loads(a) for a in (sys.argv[1], sys.argv[2], sys.argv[4], sys.argv[5], sys.argv[6]))
def ratio(a, b):
    return round(a / b, 3) if a and b else None
errors = [x["error"] for x in (c, p, l, e, le) if "error" in x]
print(json.dumps({"rows": p.get("rows"), "message_bytes": int(sys.argv[3]), "bare_producer_msgs_per_sec": c.get("rows_per_sec"),
  "maxwell_ha_rows_per_sec": p.get("rows_per_sec"), "ratio": ratio(p.get("rows_per_sec"), c.get("rows_per_sec")),
  "maxwell_ha_exactly_once_rows_per_sec": e.get("rows_per_sec"), "exactly_once_vs_at_least_once": ratio(e.get("rows_per_sec"), p.get("rows_per_sec")),
  "latency_rows_per_sec": l.get("rows_per_sec"), "commit_to_ack_p50_ms": l.get("p50_ms"), "commit_to_ack_p99_ms": l.get("p99_ms"),
  "commit_to_ack_max_ms": l.get("max_ms"), "latency_transactions_missing": l.get("missing"),
  "exactly_once_commit_to_ack_p50_ms": le.get("p50_ms"), "exactly_once_commit_to_ack_p99_ms": le.get("p99_ms"),
  "exactly_once_latency_transactions_missing": le.get("missing"), **({"errors": errors} if errors else {})}))
sys.exit(1 if errors else 0)
PY
  exit 0
fi
file="${start%%:*}"; spos="${start##*:}"; epos="${end##*:}"
ours=$(/usr/bin/time -f '%M' -o "$MAXWELL_HA_RUN/ours.rss" timeout -k 10 "$STEP" taskset -c 1 target/release/examples/bench_decode \
  --host=127.0.0.1 --port="$MARIADB_PORT" --user=root --from="$start")
# The same range encrypted (Maxwell's encrypt=data and encrypt=all), same core, same run.
enc_data=$(timeout -k 10 "$STEP" taskset -c 1 target/release/examples/bench_decode \
  --host=127.0.0.1 --port="$MARIADB_PORT" --user=root --from="$start" --encrypt=data --secret_key=0123456789abcdef)
enc_all=$(timeout -k 10 "$STEP" taskset -c 1 target/release/examples/bench_decode \
  --host=127.0.0.1 --port="$MARIADB_PORT" --user=root --from="$start" --encrypt=all --secret_key=0123456789abcdef)
t0=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$MAXWELL_HA_RUN/c.rss" timeout -k 10 "$STEP" taskset -c 1 mariadb-binlog --read-from-remote-server \
  --host=127.0.0.1 --port="$MARIADB_PORT" --user=root -v --start-position="$spos" --stop-position="$epos" "$file" > /dev/null
t1=$(date +%s.%N)
python3 - "$ours" "$t0" "$t1" "$ROWS" "$(cat "$MAXWELL_HA_RUN/c.rss")" "$enc_data" "$enc_all" <<'PY'
import json, os, sys
ours = json.loads(sys.argv[1]); t0, t1, rows, crss = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
data, whole = json.loads(sys.argv[6]), json.loads(sys.argv[7])
for who, r in (("maxwell-ha", ours), ("maxwell-ha encrypt=data", data), ("maxwell-ha encrypt=all", whole)):
    if r["rows"] != rows:
        sys.exit(f"{who} decoded {r['rows']} rows, expected {rows}")
c_rate = rows / (t1 - t0)
print(json.dumps({"rows": rows, "binlog_row_metadata": os.environ.get("BENCH_ROW_METADATA", "FULL"), "maxwell_ha_rows_per_sec": round(ours["rows_per_sec"]), "maxwell_ha_peak_rss_kib": ours["peak_rss_kib"],
  "mariadb_binlog_rows_per_sec": round(c_rate), "mariadb_binlog_peak_rss_kib": crss, "ratio": round(ours["rows_per_sec"] / c_rate, 3),
  "encrypt_data_rows_per_sec": round(data["rows_per_sec"]), "encrypt_data_vs_plain": round(data["rows_per_sec"] / ours["rows_per_sec"], 3),
  "encrypt_data_bytes_per_row": round(data["json_bytes"] / rows), "plain_bytes_per_row": round(ours["json_bytes"] / rows),
  "encrypt_all_rows_per_sec": round(whole["rows_per_sec"]), "encrypt_all_vs_plain": round(whole["rows_per_sec"] / ours["rows_per_sec"], 3)}))
PY
