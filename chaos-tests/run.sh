#!/usr/bin/env bash
# One command for the failover drills: installs what is missing, starts a private MariaDB
# (127.0.0.1:3507), Apache Kafka (KRaft, three brokers at :9292-9294) and a 3-server ZooKeeper ensemble
# (:2381-2383) in their own state dir, builds maxwell, runs chaos-tests/chaos.py with the given
# arguments (three nodes, steady load, drills, verdict), and stops what it started.
#   chaos-tests/run.sh                          # the short run (a few of each drill)
#   chaos-tests/run.sh --drills long --report chaos-report.md   # 100 kill -9, 20 zombie, 5 of the others
#   chaos-tests/run.sh --drills kill9=10,zk-quorum=2
# Exit status 0 only when no row was lost, duplicated, reordered or written by a zombie and
# every takeover stayed within the session timeout + 1 s.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$REPO_ROOT/scripts/common.sh"
cd "$REPO_ROOT"
apt_install mariadb-server mariadb-client build-essential pkg-config zlib1g-dev zookeeper netcat-openbsd iptables iproute2
python3 -c "import confluent_kafka, pymysql" 2>/dev/null || python3 -m pip install -q confluent-kafka pymysql
export MAXWELL_HA_RUN="${MAXWELL_HA_RUN:-$(mktemp -d /tmp/maxwell-ha-chaos.XXXXXX)}"
export MARIADB_PORT="${MARIADB_PORT:-3507}" KAFKA_PORT="${KAFKA_PORT:-9292}" ZK_PORT_BASE="${ZK_PORT_BASE:-2381}"
# Three brokers (replication factor 3, min.insync.replicas 2) unless told otherwise: the
# broker drills kill the partition leader, two brokers, or restart all three in turn.
export KAFKA_BROKERS="${KAFKA_BROKERS:-3}"
scripts/kafka.sh install
trap 'scripts/kafka.sh stop; scripts/zookeeper.sh stop; scripts/mariadb.sh stop' EXIT
scripts/mariadb.sh start
scripts/kafka.sh start
scripts/zookeeper.sh start
if [ -z "${MAXWELL_BIN_DIR:-}" ]; then
  cargo build --release --locked --bins >&2
fi
python3 chaos-tests/chaos.py "$@"
