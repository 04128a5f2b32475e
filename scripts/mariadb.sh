#!/usr/bin/env bash
# Private MariaDB instance for development and tests: own datadir, port and socket, bound to
# 127.0.0.1, ROW binlog with full row image and full row metadata, GTID strict mode.
#   scripts/mariadb.sh install|start|stop|status|reset|client [args]
# TLS: every instance has a certificate for the address 127.0.0.1 signed by its own CA ($DIR/tls); clients
# may use it (per-account REQUIRE SSL / REQUIRE X509 makes it required). `tls` prints that dir.
# Dual master: `replicate-from PORT` makes this instance a GTID replica of the one on PORT
# (MASTER_USE_GTID=slave_pos, started at once and after restarts); run it on both for a
# master-master pair. `pid` prints mariadbd's pid (for kill -9 drills).
# Environment: MARIADB_PORT (default 3307), MARIADB_SERVER_ID (default 1), MARIADB_DOMAIN_ID
# (gtid_domain_id, default 0; give each master of a pair its own), MAXWELL_HA_RUN (state dir,
# default <repo>/.run), MARIADB_EXTRA_CNF (extra `[mariadbd]` lines, e.g.
# $'lower_case_table_names=1\nsql_mode=ALLOW_INVALID_DATES'; unset by default. Settings that must be
# fixed when the datadir is initialised, such as lower_case_table_names, need a fresh datadir: a
# port of their own, or `reset`).
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
server_id=${MARIADB_SERVER_ID:-1}
gtid_domain_id=${MARIADB_DOMAIN_ID:-0}
log_slave_updates=ON
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
ssl_ca=$DIR/tls/ca.pem
ssl_cert=$DIR/tls/server-cert.pem
ssl_key=$DIR/tls/server-key.pem
${MARIADB_EXTRA_CNF:-}
[client]
port=$PORT
socket=$SOCK
user=root
host=127.0.0.1
CNF
}

install() { apt_install mariadb-server mariadb-client openssl; }

# A CA, a server certificate for the address 127.0.0.1 (not the name localhost) and a client certificate (for REQUIRE X509).
make_tls() {
  local t="$DIR/tls"
  [ -f "$t/client-cert.pem" ] && return 0
  mkdir -p "$t"
  (
    cd "$t"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=maxwell-ha test CA" \
      -keyout ca-key.pem -out ca.pem
    for who in server client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=$who" -keyout "$who-key.pem" -out "$who.csr"
      printf 'subjectAltName=IP:127.0.0.1\n' > "$who.ext"
      openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
        -extfile "$who.ext" -out "$who-cert.pem"
    done
    chmod 644 ./*.pem
  ) >"$DIR/tls.log" 2>&1 || { cat "$DIR/tls.log" >&2; exit 1; }
}

start() {
  install
  if pid_alive "$PIDF"; then log "already running on 127.0.0.1:$PORT"; return 0; fi
  write_cnf
  make_tls
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
  tls) echo "$DIR/tls" ;;
  pid) cat "$PIDF" ;;
  replicate-from)
    [ -n "${2:-}" ] || { echo "usage: $0 replicate-from PORT" >&2; exit 2; }
    mariadb --defaults-file="$CNF" -e "STOP SLAVE; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$2, MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE;"
    log "replicating from 127.0.0.1:$2 by GTID" ;;
  client) shift; exec mariadb --defaults-file="$CNF" "$@" ;;
  *) echo "usage: $0 install|start|stop|status|reset|tls|pid|replicate-from PORT|client [args]" >&2; exit 2 ;;
esac
