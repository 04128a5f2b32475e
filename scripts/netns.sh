#!/usr/bin/env bash
# Network namespaces for partition drills: one per maxwell node, joined to this host by a veth
# pair, so a drill can cut one node from ZooKeeper only, Kafka only or MySQL only.
#
# Inside namespace N (index 1..250) a process reaches the host's 127.0.0.1 services at their
# usual address 127.0.0.1:PORT (TCP is redirected over the veth pair: 10.231.N.2 -> 10.231.N.1,
# then to the host's loopback, `route_localnet`), so configs need no change; the host reaches
# the process (e.g. its HTTP port) at 10.231.N.2. Only the project's own namespaces and the
# host's loopback are involved. Cuts are DROP rules in a chain of the namespace's own
# (MXH-N), so removing the namespace removes every trace.
#   scripts/netns.sh check                  exit 0 when this machine allows namespaces (else says why)
#   scripts/netns.sh add N                  create namespace mxh-N
#   scripts/netns.sh del N                  remove it (and its rules)
#   scripts/netns.sh cut N PORT[,PORT|A:B]  drop its TCP traffic to/from those host ports
#   scripts/netns.sh heal N                 remove every cut of namespace N
#   scripts/netns.sh ip N                   print the namespace's address (10.231.N.2)
#   scripts/netns.sh exec N CMD...          run CMD inside it
source "$(dirname "$0")/common.sh"

ns() { echo "mxh-$1"; }
host_if() { echo "mxhh$1"; }
ns_if() { echo "mxhn$1"; }
host_ip() { echo "10.231.$1.1"; }
ns_ip() { echo "10.231.$1.2"; }
chain() { echo "MXH-$1"; }

need_index() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 250 ] || { log "namespace index must be 1..250, got '${1:-}'"; exit 2; }
}

check() {
  local why=""
  command -v ip >/dev/null && command -v iptables >/dev/null || apt_install iproute2 iptables
  if [ "$(id -u)" -ne 0 ]; then
    why="network namespaces need root (CAP_NET_ADMIN)"
  elif ! ip netns add mxh-probe 2>/dev/null; then
    why="'ip netns add' is refused here (no CAP_SYS_ADMIN, or a container without network namespace support)"
  else
    if ! ip link add mxhprobe0 type veth peer name mxhprobe1 2>/dev/null; then
      why="veth pairs cannot be created here"
    fi
    ip link del mxhprobe0 2>/dev/null || true
    if [ -z "$why" ] && ! iptables -t nat -L PREROUTING -n >/dev/null 2>&1; then
      why="iptables (nat table) is not usable here"
    fi
    ip netns del mxh-probe 2>/dev/null || true
  fi
  if [ -n "$why" ]; then
    echo "network namespaces unavailable: $why; partition drills cannot run on this machine" >&2
    return 1
  fi
}

add() {
  local n="$1" NS HI NI HIP NIP C
  NS="$(ns "$n")" HI="$(host_if "$n")" NI="$(ns_if "$n")" HIP="$(host_ip "$n")" NIP="$(ns_ip "$n")" C="$(chain "$n")"
  del "$n" 2>/dev/null || true
  ip netns add "$NS"
  ip link add "$HI" type veth peer name "$NI"
  ip link set "$NI" netns "$NS"
  ip addr add "$HIP/30" dev "$HI"
  ip link set "$HI" up
  ip netns exec "$NS" ip addr add "$NIP/30" dev "$NI"
  ip netns exec "$NS" ip link set lo up
  ip netns exec "$NS" ip link set "$NI" up
  ip netns exec "$NS" ip route add default via "$HIP"
  # Host side: what arrives for 10.231.N.1 goes to the host's loopback services.
  sysctl -qw "net.ipv4.conf.$HI.route_localnet=1"
  iptables -t nat -A PREROUTING -i "$HI" -d "$HIP" -p tcp -j DNAT --to-destination 127.0.0.1
  # Namespace side: 127.0.0.1:PORT leaves over the veth pair (except the namespace's own
  # listeners, which are reached at 10.231.N.2 from the host).
  ip netns exec "$NS" sysctl -qw net.ipv4.conf.all.route_localnet=1
  ip netns exec "$NS" sysctl -qw "net.ipv4.conf.$NI.route_localnet=1"
  ip netns exec "$NS" iptables -t nat -A OUTPUT -o lo -d 127.0.0.1 -p tcp -j DNAT --to-destination "$HIP"
  ip netns exec "$NS" iptables -t nat -A POSTROUTING -o "$NI" -j SNAT --to-source "$NIP"
  # The namespace's cuts live in a chain of its own.
  iptables -N "$C"
  iptables -I INPUT -i "$HI" -j "$C"
  iptables -I OUTPUT -o "$HI" -j "$C"
}

del() {
  local n="$1" HI HIP C
  HI="$(host_if "$n")" HIP="$(host_ip "$n")" C="$(chain "$n")"
  while iptables -D INPUT -i "$HI" -j "$C" 2>/dev/null; do :; done
  while iptables -D OUTPUT -o "$HI" -j "$C" 2>/dev/null; do :; done
  iptables -F "$C" 2>/dev/null || true
  iptables -X "$C" 2>/dev/null || true
  while iptables -t nat -D PREROUTING -i "$HI" -d "$HIP" -p tcp -j DNAT --to-destination 127.0.0.1 2>/dev/null; do :; done
  ip netns del "$(ns "$n")" 2>/dev/null || true
  ip link del "$HI" 2>/dev/null || true
}

cut() {
  local n="$1" ports="$2" C
  C="$(chain "$n")"
  # Both directions: requests from the namespace and answers of the host's servers.
  iptables -A "$C" -p tcp -m multiport --dports "$ports" -j DROP
  iptables -A "$C" -p tcp -m multiport --sports "$ports" -j DROP
}

case "${1:-}" in
  check) check ;;
  add) need_index "${2:-}"; add "$2" ;;
  del) need_index "${2:-}"; del "$2" ;;
  cut) need_index "${2:-}"; [ -n "${3:-}" ] || { log "usage: $0 cut N PORTS"; exit 2; }; cut "$2" "$3" ;;
  heal) need_index "${2:-}"; iptables -F "$(chain "$2")" ;;
  ip) need_index "${2:-}"; ns_ip "$2" ;;
  exec) need_index "${2:-}"; n="$2"; shift 2; exec ip netns exec "$(ns "$n")" "$@" ;;
  *) echo "usage: $0 check | add N | del N | cut N PORTS | heal N | ip N | exec N CMD..." >&2; exit 2 ;;
esac
