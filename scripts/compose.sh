#!/usr/bin/env bash
# The three-node docker-compose cluster, run for real on a machine with no image registry.
#   scripts/compose.sh engine   starts a Docker engine of the project's own (Debian's docker.io,
#                               its own data root, exec root and socket under $MAXWELL_HA_RUN/docker,
#                               --iptables=false) unless one answers on that socket
#   scripts/compose.sh base     the base image maxwell-ha-base:bookworm, made once by debootstrap
#                               and `docker import` (the root file system is cached in
#                               ~/.cache/maxwell-ha, so a second machine state reuses it)
#   scripts/compose.sh down     removes the containers and networks, and stops the engine if this
#                               script started it
# Every command prints what it does on stderr; the engine is reached with DOCKER_HOST set to
# its socket (`scripts/compose.sh env` prints the line to paste into a shell).
source "$(dirname "$0")/common.sh"

DOCKER_DIR="$RUN_DIR/docker"
SOCK="$DOCKER_DIR/docker.sock"
export DOCKER_HOST="unix://$SOCK"
BASE=maxwell-ha-base:bookworm
CACHE="${MAXWELL_HA_CACHE:-$HOME/.cache/maxwell-ha}"
ROOTFS="$CACHE/debian-bookworm-minbase.tar"

engine_up() { docker info >/dev/null 2>&1; }

engine() {
  apt_install docker.io debootstrap docker-compose
  if engine_up; then
    log "engine already answering on $SOCK"
    return 0
  fi
  mkdir -p "$DOCKER_DIR/data" "$DOCKER_DIR/exec"
  log "starting dockerd (data root $DOCKER_DIR/data)"
  nohup dockerd --data-root "$DOCKER_DIR/data" --exec-root "$DOCKER_DIR/exec" \
    --pidfile "$DOCKER_DIR/dockerd.pid" -H "$DOCKER_HOST" --iptables=false \
    >"$DOCKER_DIR/dockerd.log" 2>&1 &
  for _ in $(seq 1 600); do
    engine_up && { touch "$DOCKER_DIR/started-here"; log "engine ready"; return 0; }
    sleep 0.1
  done
  tail -20 "$DOCKER_DIR/dockerd.log" >&2
  log "dockerd did not answer within 60 s (log above: $DOCKER_DIR/dockerd.log)"
  exit 1
}

base() {
  engine
  if docker image inspect "$BASE" >/dev/null 2>&1; then
    log "$BASE present"
    return 0
  fi
  if [ ! -s "$ROOTFS" ]; then
    local dir="$CACHE/debootstrap.$$"
    mkdir -p "$CACHE"
    rm -rf "$dir"
    log "debootstrap bookworm (minbase; once, cached in $ROOTFS)"
    if ! debootstrap --variant=minbase bookworm "$dir" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1; then
      tail -20 "$CACHE/debootstrap.log" >&2
      rm -rf "$dir"
      log "debootstrap failed (log above: $CACHE/debootstrap.log)"
      exit 1
    fi
    tar -C "$dir" -cf "$ROOTFS.tmp" . && mv "$ROOTFS.tmp" "$ROOTFS"
    rm -rf "$dir"
  fi
  log "importing $BASE"
  docker import "$ROOTFS" "$BASE" >/dev/null
}

down() {
  if engine_up; then
    local ids
    ids=$(docker ps -aq --filter label=com.docker.compose.project=maxwell-ha)
    [ -z "$ids" ] || docker rm -f $ids >/dev/null
    docker network ls -q --filter label=com.docker.compose.project=maxwell-ha | xargs -r docker network rm >/dev/null
  fi
  if [ -f "$DOCKER_DIR/started-here" ]; then
    log "stopping the engine this script started"
    stop_pid "$DOCKER_DIR/dockerd.pid" 30
    rm -f "$DOCKER_DIR/started-here"
  fi
}

case "${1:-}" in
  engine) engine ;;
  base) base ;;
  down) down ;;
  env) echo "export DOCKER_HOST=$DOCKER_HOST" ;;
  *) echo "usage: $0 engine|base|down|env" >&2; exit 2 ;;
esac
