#!/usr/bin/env bash
# Apache Kafka (KRaft mode) for development, tests and drills, bound to 127.0.0.1.
# The broker is the Maven Central artifact org.apache.kafka:kafka_2.13 and its runtime
# dependencies, fetched once with Maven and cached outside the repo (KAFKA_CACHE, default
# ~/.cache/maxwell-ha/kafka-<version>); it runs on the machine's Java 17.
#   scripts/kafka.sh install|start|stop|kill N|start-one N|status|bootstrap|leader TOPIC P|secure
# Environment:
#   KAFKA_PORT     first broker's client port (default 9092); broker N listens on KAFKA_PORT+N-1
#                  and its controller on KAFKA_PORT+1000+N-1; a SASL_SSL listener (SCRAM-SHA-256/512
#                  and PLAIN, TLS with a self-signed certificate for 127.0.0.1) on KAFKA_PORT+2000+N-1
#                  (`secure` prints its bootstrap and the CA file; SCRAM users are added by clients,
#                  PLAIN has user maxwell / maxwell-secret)
#   KAFKA_BROKERS  1 (default): one combined broker+controller, replication factor 1
#                  3: three combined nodes (one KRaft voter set), replication factor 3,
#                  min.insync.replicas=2, for drills that kill a broker
#   MAXWELL_HA_RUN state dir (default <repo>/.run)
source "$(dirname "$0")/common.sh"
VERSION=4.4.0
LOG4J_VERSION=2.25.5   # log4j-core's version in kafka_2.13 $VERSION's dependency tree
CACHE="${KAFKA_CACHE:-$HOME/.cache/maxwell-ha/kafka-$VERSION}"
LIB="$CACHE/lib"
PORT="${KAFKA_PORT:-9092}"
BROKERS="${KAFKA_BROKERS:-1}"
DIR="$RUN_DIR/kafka-$PORT"

case "$BROKERS" in 1|3) ;; *) log "KAFKA_BROKERS must be 1 or 3, not $BROKERS"; exit 2 ;; esac

client_port() { echo $((PORT + $1 - 1)); }
controller_port() { echo $((PORT + 1000 + $1 - 1)); }
secure_port() { echo $((PORT + 2000 + $1 - 1)); }
TLS="$DIR/tls"

# tls_material : a self-signed certificate for 127.0.0.1 (PKCS#12 keystore for the brokers,
# PEM for clients), made once per state dir with the JDK's keytool.
tls_material() {
  [ -f "$TLS/ca.pem" ] && return 0
  mkdir -p "$TLS"
  keytool -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 3650 -dname "CN=127.0.0.1" \
    -ext "SAN=IP:127.0.0.1,DNS:localhost" -storetype PKCS12 -keystore "$TLS/broker.p12" \
    -storepass maxwell-tls -keypass maxwell-tls >"$TLS/keytool.log" 2>&1 \
    && keytool -exportcert -rfc -alias broker -keystore "$TLS/broker.p12" -storepass maxwell-tls \
      -file "$TLS/ca.pem" >>"$TLS/keytool.log" 2>&1 \
    || { cat "$TLS/keytool.log" >&2; log "keytool could not make the TLS certificate"; exit 1; }
}
bootstrap() {
  local s="" i
  for i in $(seq 1 "$BROKERS"); do s="$s${s:+,}127.0.0.1:$(client_port "$i")"; done
  echo "$s"
}

install() {
  [ -f "$LIB/.complete" ] && return 0
  maven_runtime_jars "$CACHE" "$LIB" "Kafka $VERSION" "\
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>"
  touch "$LIB/.complete"
}

write_props() {
  local i=$1 d="$DIR/n$1" voters="" j
  for j in $(seq 1 "$BROKERS"); do voters="$voters${voters:+,}$j@127.0.0.1:$(controller_port "$j")"; done
  local rf=1 isr=1
  [ "$BROKERS" = 3 ] && rf=3 isr=2
  mkdir -p "$d/data"
  cat > "$d/server.properties" <<PROPS
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(client_port "$i"),CONTROLLER://127.0.0.1:$(controller_port "$i"),SECURE://127.0.0.1:$(secure_port "$i")
advertised.listeners=PLAINTEXT://127.0.0.1:$(client_port "$i"),SECURE://127.0.0.1:$(secure_port "$i")
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SECURE:SASL_SSL
listener.name.secure.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN
listener.name.secure.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_maxwell="maxwell-secret";
listener.name.secure.ssl.keystore.location=$TLS/broker.p12
listener.name.secure.ssl.keystore.password=maxwell-tls
listener.name.secure.ssl.keystore.type=PKCS12
inter.broker.listener.name=PLAINTEXT
log.dirs=$d/data
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.segment.bytes=268435456
log.retention.hours=168
unclean.leader.election.enable=false
PROPS
}

# write_log4j : the brokers' logging (written at every start, so a change here applies).
write_log4j() {
  cat > "$CACHE/log4j2.properties" <<'L4J'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c{1})%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = warn
logger.apache.name = org.apache.kafka
logger.apache.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
# The transaction coordinator says which markers it writes or skips (a drill reads it back).
logger.txn.name = kafka.coordinator.transaction
logger.txn.level = info
logger.txn2.name = org.apache.kafka.coordinator.transaction
logger.txn2.level = info
L4J
}

# kjava ARGS... : the broker's JVM, exec'd so that a backgrounded call's $! is the JVM itself.
kjava() {
  exec java -Xms128m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$CACHE/log4j2.properties" -cp "$LIB/*" "$@"
}

start_one() {
  local i=$1 d="$DIR/n$1"
  pid_alive "$d/pid" && return 0
  tls_material
  write_props "$i"
  write_log4j
  if [ ! -f "$d/data/meta.properties" ]; then
    [ -f "$DIR/cluster-id" ] || python3 -c "
import base64, uuid
while True:  # an id starting with '-' would read as an option
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip('=')
    if not s.startswith('-'):
        print(s); break" > "$DIR/cluster-id"
    (kjava kafka.tools.StorageTool format -t "$(cat "$DIR/cluster-id")" -c "$d/server.properties") \
      >"$d/format.log" 2>&1 || { cat "$d/format.log" >&2; exit 1; }
  fi
  kjava kafka.Kafka "$d/server.properties" >>"$d/kafka.log" 2>&1 &
  echo $! > "$d/pid"
}

# ready : every started broker answers metadata and sees all brokers.
ready() {
  python3 - "$(bootstrap)" "$BROKERS" <<'PY'
import socket, sys
from confluent_kafka.admin import AdminClient
for hp in sys.argv[1].split(","):
    s = socket.socket(); s.settimeout(0.3)
    if s.connect_ex(("127.0.0.1", int(hp.rsplit(":", 1)[1]))) != 0:
        sys.exit(1)
    s.close()
a = AdminClient({"bootstrap.servers": sys.argv[1], "socket.timeout.ms": 1000, "log_level": 0})
try:
    md = a.list_topics(timeout=1)
except Exception:
    sys.exit(1)
sys.exit(0 if len(md.brokers) >= int(sys.argv[2]) else 1)
PY
}

wait_ready() {
  python3 -c "import confluent_kafka" 2>/dev/null || python3 -m pip install -q confluent-kafka
  for _ in $(seq 1 120); do
    ready && { log "ready: $(bootstrap) ($BROKERS broker(s), Kafka $VERSION)"; return 0; }
    for i in $(seq 1 "$BROKERS"); do
      pid_alive "$DIR/n$i/pid" || { log "broker $i exited; see $DIR/n$i/kafka.log"; tail -20 "$DIR/n$i/kafka.log" >&2; exit 1; }
    done
    sleep 0.5
  done
  log "Kafka did not become ready in 60 s; see $DIR/n*/kafka.log"; exit 1
}

# leader TOPIC PARTITION : node id of the partition's leader.
leader() {
  python3 - "$(bootstrap)" "$1" "$2" <<'PY'
import sys
from confluent_kafka.admin import AdminClient
md = AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(sys.argv[2], timeout=10)
print(md.topics[sys.argv[2]].partitions[int(sys.argv[3])].leader)
PY
}

case "${1:-}" in
  install) install ;;
  start)
    install
    for i in $(seq 1 "$BROKERS"); do start_one "$i"; done
    wait_ready ;;
  start-one) install; start_one "$2" ;;
  wait) wait_ready ;;
  stop) for i in 1 2 3; do stop_pid "$DIR/n$i/pid" 30; done; log "stopped" ;;
  stop-one) stop_pid "$DIR/n${2:-1}/pid" 30; log "stopped broker ${2:-1}" ;;
  kill) pid_alive "$DIR/n${2:-1}/pid" && kill -KILL "$(cat "$DIR/n${2:-1}/pid")"; rm -f "$DIR/n${2:-1}/pid"; log "killed broker ${2:-1}" ;;
  status)
    for i in $(seq 1 "$BROKERS"); do
      if pid_alive "$DIR/n$i/pid"; then echo "broker $i 127.0.0.1:$(client_port "$i") pid $(cat "$DIR/n$i/pid")"; else echo "broker $i stopped"; fi
    done ;;
  bootstrap) bootstrap ;;
  secure)
    s=""; for i in $(seq 1 "$BROKERS"); do s="$s${s:+,}127.0.0.1:$(secure_port "$i")"; done
    echo "$s $TLS/ca.pem" ;;
  leader) leader "$2" "$3" ;;
  *) echo "usage: $0 install|start|stop|start-one N|stop-one N|kill N|wait|status|bootstrap|leader TOPIC P" >&2; exit 2 ;;
esac
