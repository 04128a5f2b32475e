#!/usr/bin/env bash
# The main job on one machine: a private MariaDB on 127.0.0.1:3307 and a maxwell node streaming
# its binlog as Maxwell JSON (producer=stdout, into .run/maxwell.out), with some demo traffic.
#   scripts/local.sh up      start everything (idempotent), show the latest rows and the check
#   scripts/local.sh down    stop what `up` started (by PID)
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
export MARIADB_PORT="${MARIADB_PORT:-3307}"
PIDF="$RUN_DIR/maxwell.pid"
CFG="$RUN_DIR/config.properties"

up() {
  apt_install mariadb-server mariadb-client build-essential pkg-config
  scripts/mariadb.sh start
  cargo build --release --locked --bins >&2
  cat > "$CFG" <<CFG
host=127.0.0.1
port=$MARIADB_PORT
user=root
password=
replica_server_id=6379
producer=stdout
output_binlog_position=true
output_gtid_position=true
output_ddl=true
filter=exclude: *.*, include: demo.*
CFG
  if ! pid_alive "$PIDF"; then
    target/release/maxwell --config="$CFG" >>"$RUN_DIR/maxwell.out" 2>>"$RUN_DIR/maxwell.log" &
    echo $! > "$PIDF"
    sleep 1
    pid_alive "$PIDF" || { tail -5 "$RUN_DIR/maxwell.log" >&2; exit 1; }
  fi
  scripts/mariadb.sh client -e "CREATE DATABASE IF NOT EXISTS demo;
    CREATE TABLE IF NOT EXISTS demo.orders (id INT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(32), qty INT, at DATETIME(3));
    INSERT INTO demo.orders (item, qty, at) VALUES ('apple', 3, NOW(3)), ('pear', 1, NOW(3));
    UPDATE demo.orders SET qty = qty + 1 ORDER BY id DESC LIMIT 1;"
  sleep 1
  log "maxwell pid $(cat "$PIDF"); latest rows from $RUN_DIR/maxwell.out:"
  tail -n 3 "$RUN_DIR/maxwell.out"
  target/release/maxwell-cli --config="$CFG" check
}

down() {
  stop_pid "$PIDF" 20
  scripts/mariadb.sh stop
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
