#!/usr/bin/env bash
# A 3-server ZooKeeper 3.8 ensemble (Debian package) on loopback, for development and tests.
#   scripts/zookeeper.sh start|stop|status|connect-string
#   scripts/zookeeper.sh start-one N | stop-one N | kill-one N | mode N   (N = 1..3)
# Client ports ZK_PORT_BASE+0..2 (default 2181..2183); quorum/election ports derived from it.
# State under $MAXWELL_HA_RUN/zk-<base>. tickTime=200 (sessions of 0.4–20 s; expiry is
# rounded up to a tick, so a dead leader's session ends at most 0.2 s after its timeout).
# ZooKeeper's default tickTime=2000 would add up to 2 s to every takeover.
source "$(dirname "$0")/common.sh"
BASE="${ZK_PORT_BASE:-2181}"
DIR="$RUN_DIR/zk-$BASE"
CP="/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"

client_port() { echo $((BASE + $1 - 1)); }
quorum_port() { echo $((BASE + 10700 + $1)); }
election_port() { echo $((BASE + 11700 + $1)); }

write_cfg() {
  local i=$1 d="$DIR/n$1"
  mkdir -p "$d/data"
  echo "$i" > "$d/data/myid"
  {
    echo "tickTime=200"
    echo "initLimit=50"
    echo "syncLimit=25"
    echo "dataDir=$d/data"
    echo "clientPortAddress=127.0.0.1"
    echo "clientPort=$(client_port "$i")"
    echo "4lw.commands.whitelist=*"
    echo "admin.enableServer=false"
    echo "maxSessionTimeout=20000"
    for j in 1 2 3; do echo "server.$j=127.0.0.1:$(quorum_port "$j"):$(election_port "$j")"; done
  } > "$d/zoo.cfg"
}

start_one() {
  local i=$1 d="$DIR/n$1"
  pid_alive "$d/pid" && return 0
  write_cfg "$i"
  java -Xms32m -Xmx256m -Dzookeeper.admin.enableServer=false -cp "$CP" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg" >>"$d/zk.log" 2>&1 &
  echo $! > "$d/pid"
}

mode() { printf 'srvr\n' | nc -q1 127.0.0.1 "$(client_port "$1")" 2>/dev/null | sed -n 's/^Mode: //p'; }

wait_quorum() {
  for _ in $(seq 1 300); do
    for i in 1 2 3; do
      case "$(mode "$i")" in leader|follower) return 0 ;; esac
    done
    sleep 0.1
  done
  log "ensemble did not form a quorum in 30 s; see $DIR/n*/zk.log"; exit 1
}

connect_string() { echo "127.0.0.1:$(client_port 1),127.0.0.1:$(client_port 2),127.0.0.1:$(client_port 3)"; }

case "${1:-}" in
  start)
    apt_install zookeeper netcat-openbsd
    for i in 1 2 3; do start_one "$i"; done
    wait_quorum
    log "ensemble ready: $(connect_string)" ;;
  stop) for i in 1 2 3; do stop_pid "$DIR/n$i/pid" 10; done; log "stopped" ;;
  start-one) start_one "$2" ;;
  stop-one) stop_pid "$DIR/n$2/pid" 10 ;;
  kill-one) pid_alive "$DIR/n$2/pid" && kill -KILL "$(cat "$DIR/n$2/pid")"; rm -f "$DIR/n$2/pid" ;;
  mode) mode "$2" ;;
  status) for i in 1 2 3; do echo "n$i $(client_port "$i") $(mode "$i" || true)"; done ;;
  connect-string) connect_string ;;
  *) echo "usage: $0 start|stop|status|connect-string|start-one N|stop-one N|kill-one N|mode N" >&2; exit 2 ;;
esac
