#!/bin/sh
set -eu
mkdir -p /data
echo "${ZOO_MY_ID:-1}" > /data/myid
{
  echo "dataDir=/data"
  echo "clientPort=2181"
  echo "tickTime=${ZOO_TICK_TIME:-2000}"
  echo "initLimit=${ZOO_INIT_LIMIT:-5}"
  echo "syncLimit=${ZOO_SYNC_LIMIT:-2}"
  echo "maxSessionTimeout=${ZOO_MAX_SESSION_TIMEOUT:-40000}"
  echo "4lw.commands.whitelist=${ZOO_4LW_COMMANDS_WHITELIST:-srvr}"
  echo "admin.enableServer=false"
  echo "quorumListenOnAllIPs=true"
  for s in ${ZOO_SERVERS:-}; do echo "$s"; done
} > /data/zoo.cfg
exec java -Xms32m -Xmx256m -Dzookeeper.admin.enableServer=false \
  -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
  org.apache.zookeeper.server.quorum.QuorumPeerMain /data/zoo.cfg
