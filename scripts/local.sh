#!/usr/bin/env bash
# The main job on one machine: a private MariaDB (127.0.0.1:3307), Apache Kafka (KRaft, one
# broker, 127.0.0.1:9092), a 3-server ZooKeeper ensemble (127.0.0.1:2181-2183) and a
# three-node maxwell cluster streaming the database to Kafka. Once the cluster streams, demo
# rows are written; the messages that landed on the topic are read back with an independent
# client (Python confluent-kafka, read_committed) and printed; ends with
# `maxwell-cli cluster status`.
#   scripts/local.sh up      start everything (idempotent)
#   scripts/local.sh down    stop what `up` started (by PID)
# Node logs: .run/maxwell-n{1,2,3}.log. Node HTTP (metrics, health, status page):
# http://127.0.0.1:8081/ … :8083/. Rows land on topic `maxwell` (default kafka_topic).
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
export MARIADB_PORT="${MARIADB_PORT:-3307}" KAFKA_PORT="${KAFKA_PORT:-9092}" ZK_PORT_BASE="${ZK_PORT_BASE:-2181}"
HTTP_PORT_BASE="${HTTP_PORT_BASE:-8081}"
CFG="$RUN_DIR/config.properties"

up() {
  local t0=$SECONDS
  apt_install mariadb-server mariadb-client build-essential pkg-config zlib1g-dev libssl-dev zookeeper netcat-openbsd
  python3 -c "import confluent_kafka, mmh3" 2>/dev/null || python3 -m pip install -q confluent-kafka mmh3
  scripts/mariadb.sh start
  scripts/kafka.sh start
  scripts/zookeeper.sh start
  log "building maxwell (release)"
  cargo build --release --locked --bins >&2
  python3 tests/kafka_tool.py "127.0.0.1:$KAFKA_PORT" create maxwell 3 2>/dev/null || true
  # The status page's actions (hand over, drain, cancel a bootstrap) need this token.
  [ -s "$RUN_DIR/admin-token" ] || python3 -c "import secrets; print(secrets.token_urlsafe(12))" > "$RUN_DIR/admin-token"
  cat > "$CFG" <<CFG
host=127.0.0.1
port=$MARIADB_PORT
user=root
password=
replica_server_id=6379
producer=kafka
kafka.bootstrap.servers=127.0.0.1:$KAFKA_PORT
kafka_topic=maxwell
producer_partition_by=primary_key
output_ddl=true
filter=exclude: *.*, include: demo.*
zookeeper_servers=$(scripts/zookeeper.sh connect-string)
CFG
  for n in 1 2 3; do
    pidf="$RUN_DIR/maxwell-n$n.pid"
    if ! pid_alive "$pidf"; then
      NO_COLOR=1 target/release/maxwell --config="$CFG" --node_id="n$n" --http_port="$((HTTP_PORT_BASE + n - 1))" --http_admin_token="$(cat "$RUN_DIR/admin-token")" >>"$RUN_DIR/maxwell-n$n.log" 2>&1 &
      echo $! > "$pidf"
    fi
  done
  # A new cluster starts at the end of the binlog: write the demo rows once it streams, so
  # they reach Kafka whatever ran before (first start, or `up` again on a running cluster).
  log "waiting for the cluster to elect a leader and commit its start position"
  local ok=""
  for _ in $(seq 1 300); do
    if target/release/maxwell-cli --config="$CFG" cluster status --json 2>/dev/null \
        | python3 -c "import json,sys; s=json.load(sys.stdin); sys.exit(0 if s.get('health')=='HEALTHY' and s.get('position') else 1)" 2>/dev/null; then
      ok=1; break
    fi
    sleep 0.2
  done
  [ -n "$ok" ] || { log "the cluster did not become healthy in 60 s; see $RUN_DIR/maxwell-n*.log"; target/release/maxwell-cli --config="$CFG" cluster status || true; exit 1; }
  local since_ms
  since_ms=$(python3 -c "import time; print(int(time.time() * 1000))")
  scripts/mariadb.sh client -e "CREATE DATABASE IF NOT EXISTS demo;
    CREATE TABLE IF NOT EXISTS demo.orders (id INT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(32), qty INT, at DATETIME(3));
    INSERT INTO demo.orders (item, qty, at) VALUES ('apple', 3, NOW(3)), ('pear', 1, NOW(3));
    UPDATE demo.orders SET qty = qty + 1 ORDER BY id DESC LIMIT 1;"
  # 3 row events; on the first run also the two DDL records (CREATE DATABASE/TABLE are no-ops later).
  echo "messages that landed on topic maxwell (read back with confluent-kafka, read_committed):"
  python3 tests/kafka_tool.py "127.0.0.1:$KAFKA_PORT" tail maxwell "$since_ms" 3 30
  # The leader commits the position to ZooKeeper after Kafka's commit: let it land.
  for _ in $(seq 1 25); do
    target/release/maxwell-cli --config="$CFG" position show --json 2>/dev/null \
      | python3 -c "import json,sys; sys.exit(0 if json.load(sys.stdin)['position']['committed_at'] >= $since_ms else 1)" 2>/dev/null && break
    sleep 0.2
  done
  target/release/maxwell-cli --config="$CFG" cluster status
  log "up in $((SECONDS - t0)) s"
  echo "status page: http://127.0.0.1:$HTTP_PORT_BASE/ (admin token for its actions: $(cat "$RUN_DIR/admin-token"))  metrics: http://127.0.0.1:$HTTP_PORT_BASE/metrics"
}

down() {
  for n in 1 2 3; do stop_pid "$RUN_DIR/maxwell-n$n.pid" 20; done
  scripts/zookeeper.sh stop
  scripts/kafka.sh stop
  scripts/mariadb.sh stop
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
