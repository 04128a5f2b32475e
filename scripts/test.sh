#!/usr/bin/env bash
# The project's test command (README, .ci/run). On a machine with only Rust, gcc, Python and
# Java it installs what the tests need (Apache Kafka's jars and Zendesk's Maxwell, the reference
# for the side-by-side test, are fetched once with Maven and cached), starts a private MariaDB, Apache Kafka (KRaft, one broker) and a 3-server ZooKeeper
# ensemble on 127.0.0.1 (own ports and state dir), runs every unit and integration test (the status
# page's in headless Chromium), and stops what it started.
#   scripts/test.sh [cargo test args...]
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"
apt_install mariadb-server mariadb-client openssl socat build-essential pkg-config zlib1g-dev libssl-dev zookeeper netcat-openbsd prometheus docker-compose iptables iproute2 util-linux chromium chromium-driver
python3 -c "import confluent_kafka, mmh3, pymysql, selenium, cryptography" 2>/dev/null || python3 -m pip install -q confluent-kafka mmh3 pymysql selenium cryptography
export MAXWELL_HA_RUN="${MAXWELL_HA_RUN:-$(mktemp -d /tmp/maxwell-ha-test.XXXXXX)}"
export MARIADB_PORT="${MARIADB_PORT:-3407}"
export MAXWELL_TEST_MYSQL_PORT="$MARIADB_PORT"
export KAFKA_PORT="${KAFKA_PORT:-9192}"
export MAXWELL_TEST_KAFKA_PORT="$KAFKA_PORT"
export ZK_PORT_BASE="${ZK_PORT_BASE:-2281}"
export MAXWELL_TEST_ZK_BASE="$ZK_PORT_BASE"
fixtures="${MAXWELL_FIXTURES:-$REPO_ROOT/../shared/maxwell-fixtures}"
[ -d "$fixtures" ] || { log "Maxwell fixtures not found at $fixtures (set MAXWELL_FIXTURES)"; exit 1; }
"$REPO_ROOT/scripts/kafka.sh" install
"$REPO_ROOT/scripts/maxwell-ref.sh" install
trap '"$REPO_ROOT/scripts/kafka.sh" stop; "$REPO_ROOT/scripts/zookeeper.sh" stop; "$REPO_ROOT/scripts/mariadb.sh" stop' EXIT
"$REPO_ROOT/scripts/mariadb.sh" start
"$REPO_ROOT/scripts/kafka.sh" start
"$REPO_ROOT/scripts/zookeeper.sh" start
cargo test --release --locked "$@"
