#!/bin/sh
set -eu
CP="/opt/kafka/libs/*"
mkdir -p /var/lib/kafka/data
props=/var/lib/kafka/server.properties
{
  echo "log.dirs=/var/lib/kafka/data"
  env | grep '^KAFKA_' | while IFS='=' read -r k v; do
    echo "$(echo "${k#KAFKA_}" | tr 'A-Z_' 'a-z.')=$v"
  done
} > "$props"
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
  java -cp "$CP" kafka.tools.StorageTool format -t "${CLUSTER_ID:-MkU3OEVBNTcwNTJENDM2Qk}" -c "$props"
fi
exec java -Xms256m -Xmx1g -cp "$CP" kafka.Kafka "$props"
