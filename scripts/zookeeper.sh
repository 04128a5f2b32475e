#!/usr/bin/env bash
# A 3-server ZooKeeper 3.8 ensemble (Debian package) on loopback, for development and tests.
#   scripts/zookeeper.sh start|stop|status|connect-string
#   scripts/zookeeper.sh start-one N | stop-one N | kill-one N | mode N   (N = 1..3)
#   scripts/zookeeper.sh clients N       the clients connected to server N (`cons`)
#   scripts/zookeeper.sh isolate N M     cut server N from server M (quorum and election
#                                        traffic, both ways); clients still reach both
#   scripts/zookeeper.sh rejoin          remove every cut
# Each server runs in a cgroup of its own (cgroup v2, `mxh-zk-<base>-nN`) when the machine has
# one, so that `isolate` can drop one server's packets with iptables' cgroup match (every
# server shares 127.0.0.1).
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
cg_root() { awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts; }
cg_name() { echo "mxh-zk-$BASE-n$1"; }
CHAIN="MXH-ZK-$BASE"

# cg_enter N : move this shell into server N's cgroup (nothing when there is no cgroup v2).
cg_enter() {
  local root; root="$(cg_root)"
  [ -n "$root" ] || return 0
  mkdir -p "$root/$(cg_name "$1")" 2>/dev/null && echo "$BASHPID" > "$root/$(cg_name "$1")/cgroup.procs" 2>/dev/null || true
}

isolate() {
  local a=$1 b=$2 root; root="$(cg_root)"
  if [ -z "$root" ] || [ ! -d "$root/$(cg_name "$a")" ] || [ ! -d "$root/$(cg_name "$b")" ]; then
    log "cannot isolate servers: no cgroup v2 here (or the servers were started without one)"; exit 1
  fi
  iptables -N "$CHAIN" 2>/dev/null || true
  iptables -C OUTPUT -j "$CHAIN" 2>/dev/null || iptables -I OUTPUT -j "$CHAIN"
  local x y
  for pair in "$a $b" "$b $a"; do
    read -r x y <<<"$pair"
    iptables -A "$CHAIN" -m cgroup --path "$(cg_name "$x")" -p tcp -m multiport --dports "$(quorum_port "$y"),$(election_port "$y")" -j DROP
  done
}

rejoin() {
  iptables -F "$CHAIN" 2>/dev/null || true
  while iptables -D OUTPUT -j "$CHAIN" 2>/dev/null; do :; done
  iptables -X "$CHAIN" 2>/dev/null || true
}

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
  ( cg_enter "$i"
    exec java -Xms32m -Xmx256m -Dzookeeper.admin.enableServer=false -cp "$CP" \
      org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg" >>"$d/zk.log" 2>&1 ) &
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
  stop)
    rejoin
    for i in 1 2 3; do stop_pid "$DIR/n$i/pid" 10; done
    root="$(cg_root)"
    for i in 1 2 3; do [ -n "$root" ] && rmdir "$root/$(cg_name "$i")" 2>/dev/null || true; done
    log "stopped" ;;
  start-one) start_one "$2" ;;
  stop-one) stop_pid "$DIR/n$2/pid" 10 ;;
  kill-one) pid_alive "$DIR/n$2/pid" && kill -KILL "$(cat "$DIR/n$2/pid")"; rm -f "$DIR/n$2/pid" ;;
  mode) mode "$2" ;;
  clients) printf 'cons\n' | nc -q1 127.0.0.1 "$(client_port "$2")" 2>/dev/null ;;
  isolate) isolate "$2" "$3" ;;
  rejoin) rejoin ;;
  status) for i in 1 2 3; do echo "n$i $(client_port "$i") $(mode "$i" || true)"; done ;;
  connect-string) connect_string ;;
  *) echo "usage: $0 start|stop|status|connect-string|start-one N|stop-one N|kill-one N|mode N|clients N|isolate N M|rejoin" >&2; exit 2 ;;
esac
