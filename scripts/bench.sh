#!/usr/bin/env bash
# Decode+JSON benchmark: loads ROWS rows × 8 mixed columns into a private MariaDB, then reads
# that binlog range with maxwell-ha's reader and with `mariadb-binlog --read-from-remote-server
# -v`, each pinned to one core, and prints both rates, the ratio and peak RSS.
#   scripts/bench.sh [ROWS]        (default 1000000)
# A benchmark, not a test. Uses its own MariaDB on port 3417 (BENCH_PORT) and state dir.
source "$(dirname "$0")/common.sh"
ROWS="${1:-1000000}"
export MARIADB_PORT="${BENCH_PORT:-3417}"
export MAXWELL_HA_RUN="$RUN_DIR/bench"
apt_install time util-linux
cd "$REPO_ROOT"
cargo build --release --example bench_decode >&2
"$REPO_ROOT/scripts/mariadb.sh" reset >&2
trap '"$REPO_ROOT/scripts/mariadb.sh" stop >&2' EXIT
sql() { "$REPO_ROOT/scripts/mariadb.sh" client -N -e "$1"; }
sql "CREATE DATABASE bench; CREATE TABLE bench.t (
  id BIGINT PRIMARY KEY, a INT, b BIGINT UNSIGNED, c VARCHAR(64), d DECIMAL(12,2),
  e DATETIME(3), f DOUBLE, g TINYINT)"
start=$(sql "SHOW MASTER STATUS" | awk '{print $1":"$2}')
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
file="${start%%:*}"; spos="${start##*:}"; epos="${end##*:}"
ours=$(/usr/bin/time -f '%M' -o "$MAXWELL_HA_RUN/ours.rss" taskset -c 1 target/release/examples/bench_decode \
  --host=127.0.0.1 --port="$MARIADB_PORT" --user=root --from="$start")
t0=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$MAXWELL_HA_RUN/c.rss" taskset -c 1 mariadb-binlog --read-from-remote-server \
  --host=127.0.0.1 --port="$MARIADB_PORT" --user=root -v --start-position="$spos" --stop-position="$epos" "$file" > /dev/null
t1=$(date +%s.%N)
python3 - "$ours" "$t0" "$t1" "$ROWS" "$(cat "$MAXWELL_HA_RUN/c.rss")" <<'PY'
import json, sys
ours = json.loads(sys.argv[1]); t0, t1, rows, crss = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
if ours["rows"] != rows:
    sys.exit(f"maxwell-ha decoded {ours['rows']} rows, expected {rows}")
c_rate = rows / (t1 - t0)
print(json.dumps({"rows": rows, "maxwell_ha_rows_per_sec": round(ours["rows_per_sec"]), "maxwell_ha_peak_rss_kib": ours["peak_rss_kib"],
  "mariadb_binlog_rows_per_sec": round(c_rate), "mariadb_binlog_peak_rss_kib": crss, "ratio": round(ours["rows_per_sec"] / c_rate, 3)}))
PY
