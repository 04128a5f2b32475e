#!/usr/bin/env bash
# The three-node docker-compose cluster, run for real on a machine with no image registry.
#   scripts/compose.sh engine   starts a Docker engine of the project's own (Debian's docker.io,
#                               its own data root, exec root and socket under $MAXWELL_HA_RUN/docker,
#                               --iptables=false) unless one answers on that socket
#   scripts/compose.sh base     the base image maxwell-ha-base:bookworm, made once by debootstrap
#                               and `docker import` (the root file system is cached in
#                               ~/.cache/maxwell-ha, so a second machine state reuses it)
#   scripts/compose.sh up       engine and base, then the images of docker/local/ (ZooKeeper,
#                               Kafka and MariaDB from Debian and Maven Central, maxwell from the
#                               host's release binaries), then docker-compose.yml with
#                               docker-compose.local.yml: 3 ZooKeeper, Kafka, MariaDB as `mysql`,
#                               3 maxwell nodes; writes demo rows, prints what landed on the topic
#                               (read_committed, inside the kafka container) and
#                               `maxwell-cli cluster status` run inside a node's container
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

PROJECT=maxwell-ha
BUILD="$RUN_DIR/compose-build"
KAFKA_VERSION=4.4.0
KAFKA_JARS="$CACHE/kafka-compose-$KAFKA_VERSION"

compose() {
  COMPOSE_BUILD="$BUILD" docker-compose -p "$PROJECT" -f "$REPO_ROOT/docker-compose.yml" -f "$REPO_ROOT/docker-compose.local.yml" "$@"
}

# contexts: each image's build context under $BUILD (docker/local/<name> plus what it copies).
contexts() {
  rm -rf "$BUILD"
  mkdir -p "$BUILD"
  cp -r "$REPO_ROOT/docker/local/zookeeper" "$REPO_ROOT/docker/local/kafka" "$REPO_ROOT/docker/local/mariadb" "$REPO_ROOT/docker/local/maxwell" "$BUILD/"
  if [ ! -f "$KAFKA_JARS/lib/.complete" ]; then
    maven_runtime_jars "$KAFKA_JARS" "$KAFKA_JARS/lib" "Kafka $KAFKA_VERSION with its tools" "\
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.25.5</version></dependency>"
    touch "$KAFKA_JARS/lib/.complete"
  fi
  cp -r "$KAFKA_JARS/lib" "$BUILD/kafka/lib"
  rm -f "$BUILD/kafka/lib/.complete"
  log "building the release binaries for the maxwell image"
  (cd "$REPO_ROOT" && cargo build --release --bins -q)
  mkdir -p "$BUILD/maxwell/bin"
  local target="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
  cp "$target/release/maxwell" "$target/release/maxwell-cli" "$BUILD/maxwell/bin/"
  cp "$REPO_ROOT/config/config.properties.example" "$REPO_ROOT/config/docker/maxwell-docker" "$BUILD/maxwell/"
}

# inside SERVICE CMD... : CMD in the service's container.
inside() { local s="$1"; shift; compose exec -T "$s" "$@"; }

up() {
  local t0=$SECONDS
  base
  contexts
  log "building the images and starting the cluster"
  compose up -d --build --force-recreate --renew-anon-volumes >"$RUN_DIR/compose-up.log" 2>&1 || { tail -40 "$RUN_DIR/compose-up.log" >&2; log "docker-compose up failed (log above)"; exit 1; }
  # As scripts/local.sh: a leader elected and its start position committed (rows written
  # before that would fall before a new cluster's first position).
  log "waiting for the cluster to elect a leader and commit its start position"
  local ok=""
  for _ in $(seq 1 120); do
    if inside maxwell-1 maxwell-cli --config=/etc/maxwell/config.properties cluster status --json 2>/dev/null \
      | python3 -c "import json,sys; s=json.load(sys.stdin); sys.exit(0 if s.get('health')=='HEALTHY' and s.get('position') else 1)" 2>/dev/null; then ok=1; break; fi
    sleep 1
  done
  [ -n "$ok" ] || { compose logs --tail=30 >&2; log "no healthy cluster within 120 s (logs above)"; exit 1; }
  log "writing demo rows"
  inside mysql mariadb -uroot -proot -e "INSERT INTO demo.orders (item, qty, at) VALUES ('apple', 1, NOW(3)), ('pear', 2, NOW(3)), ('plum', 3, NOW(3))"
  log "what landed on the topic (read_committed):"
  inside kafka java -Xmx256m -cp '/opt/kafka/libs/*' org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server kafka:9092 --topic maxwell \
    --from-beginning --isolation-level read_committed --max-messages 3 --timeout-ms 60000 2>/dev/null
  inside maxwell-1 maxwell-cli --config=/etc/maxwell/config.properties cluster status
  log "up in $((SECONDS - t0)) s"
}

down() {
  if engine_up && command -v docker-compose >/dev/null; then
    COMPOSE_BUILD="$BUILD" compose down -v --remove-orphans >/dev/null 2>&1 || true
  fi
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
  up) up ;;
  down) down ;;
  env) echo "export DOCKER_HOST=$DOCKER_HOST" ;;
  *) echo "usage: $0 engine|base|up|down|env" >&2; exit 2 ;;
esac
