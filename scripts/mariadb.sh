#!/usr/bin/env bash
# Private MariaDB instance for development and tests: own datadir, port and socket, bound to
# 127.0.0.1, ROW binlog with full row image and full row metadata, GTID strict mode.
#   scripts/mariadb.sh install|start|stop|status|reset|client [args]
# Environment: MARIADB_PORT (default 3307), MAXWELL_HA_RUN (state dir, default <repo>/.run).
source "$(dirname "$0")/common.sh"
PORT="${MARIADB_PORT:-3307}"
DIR="$RUN_DIR/mariadb-$PORT"
CNF="$DIR/my.cnf"
PIDF="$DIR/mariadbd.pid"
SOCK="$DIR/mariadbd.sock"

write_cnf() {
  mkdir -p "$DIR/data" "$DIR/binlog"
  cat > "$CNF" <<CNF
[mariadbd]
datadir=$DIR/data
port=$PORT
socket=$SOCK
pid-file=$PIDF
bind-address=127.0.0.1
user=root
server_id=1
log_bin=$DIR/binlog/mysql-bin
binlog_format=ROW
binlog_row_image=FULL
binlog_row_metadata=FULL
binlog_checksum=CRC32
binlog_annotate_row_events=ON
gtid_strict_mode=ON
log_error=$DIR/error.log
skip-name-resolve
innodb_buffer_pool_size=256M
innodb_flush_log_at_trx_commit=2
sync_binlog=0
max_allowed_packet=64M
character_set_server=utf8mb4
collation_server=utf8mb4_general_ci
[client]
port=$PORT
socket=$SOCK
user=root
host=127.0.0.1
CNF
}

install() { apt_install mariadb-server mariadb-client; }

start() {
  install
  if pid_alive "$PIDF"; then log "already running on 127.0.0.1:$PORT"; return 0; fi
  write_cnf
  if [ ! -d "$DIR/data/mysql" ]; then
    log "initialising datadir $DIR/data"
    mariadb-install-db --defaults-file="$CNF" --auth-root-authentication-method=normal \
      --skip-test-db >"$DIR/install.log" 2>&1 || { cat "$DIR/install.log" >&2; exit 1; }
  fi
  mariadbd --defaults-file="$CNF" >>"$DIR/stdout.log" 2>&1 &
  echo $! > "$PIDF.launcher"
  for _ in $(seq 1 300); do
    if mariadb --defaults-file="$CNF" -e "select 1" >/dev/null 2>&1; then
      mariadb --defaults-file="$CNF" -e "CREATE DATABASE IF NOT EXISTS test" >/dev/null
      rm -f "$PIDF.launcher"
      log "ready on 127.0.0.1:$PORT (pid $(cat "$PIDF"))"
      return 0
    fi
    if ! kill -0 "$(cat "$PIDF.launcher")" 2>/dev/null; then
      log "mariadbd exited during start; see $DIR/error.log"; tail -20 "$DIR/error.log" >&2; exit 1
    fi
    sleep 0.1
  done
  log "mariadbd did not become ready in 30 s"; exit 1
}

stop() { stop_pid "$PIDF" 60; rm -f "$PIDF.launcher"; log "stopped"; }

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) if pid_alive "$PIDF"; then echo "running 127.0.0.1:$PORT pid $(cat "$PIDF")"; else echo stopped; exit 1; fi ;;
  reset) stop; rm -rf "$DIR"; start ;;
  client) shift; exec mariadb --defaults-file="$CNF" "$@" ;;
  *) echo "usage: $0 install|start|stop|status|reset|client [args]" >&2; exit 2 ;;
esac
