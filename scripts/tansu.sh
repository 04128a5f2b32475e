#!/usr/bin/env bash
# A Kafka-protocol broker for development and tests: tansu 0.6.0 with sqlite storage (data kept
# across restarts), bound to 127.0.0.1. The binary is built once with cargo (~15 min) and cached
# outside the repo (TANSU_CACHE, default ~/.cache/maxwell-ha/tansu-0.6.0).
#   scripts/tansu.sh install|start|stop|kill|status
# Environment: KAFKA_PORT (default 9092), MAXWELL_HA_RUN (state dir).
source "$(dirname "$0")/common.sh"
VERSION=0.6.0
CACHE="${TANSU_CACHE:-$HOME/.cache/maxwell-ha/tansu-$VERSION}"
BIN="$CACHE/bin/tansu"
PORT="${KAFKA_PORT:-9092}"
DIR="$RUN_DIR/tansu-$PORT"
PIDF="$DIR/tansu.pid"

install() {
  [ -x "$BIN" ] && return 0
  apt_install build-essential pkg-config
  log "building tansu $VERSION (once; cached in $CACHE)"
  cargo install tansu --version "$VERSION" --locked --features libsql,dynostore --root "$CACHE" >&2
}

port_open() { python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.3); sys.exit(s.connect_ex(('127.0.0.1', $PORT)))"; }

start() {
  install
  if pid_alive "$PIDF"; then log "already running on 127.0.0.1:$PORT"; return 0; fi
  mkdir -p "$DIR"
  (cd "$DIR" && exec "$BIN" broker --listener-url "tcp://127.0.0.1:$PORT" \
     --advertised-listener-url "tcp://127.0.0.1:$PORT" --storage-engine "sqlite://tansu.db" \
     >>"$DIR/tansu.log" 2>&1) &
  echo $! > "$PIDF"
  for _ in $(seq 1 200); do
    if port_open; then log "ready on 127.0.0.1:$PORT (pid $(cat "$PIDF"))"; return 0; fi
    pid_alive "$PIDF" || { log "tansu exited; see $DIR/tansu.log"; tail -20 "$DIR/tansu.log" >&2; exit 1; }
    sleep 0.1
  done
  log "tansu did not open 127.0.0.1:$PORT in 20 s"; exit 1
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop_pid "$PIDF" 20; log "stopped" ;;
  kill) pid_alive "$PIDF" && kill -KILL "$(cat "$PIDF")"; rm -f "$PIDF"; log "killed" ;;
  status) if pid_alive "$PIDF"; then echo "running 127.0.0.1:$PORT pid $(cat "$PIDF")"; else echo stopped; exit 1; fi ;;
  *) echo "usage: $0 install|start|stop|kill|status" >&2; exit 2 ;;
esac
