#!/usr/bin/env python3
"""Independent Kafka client for the integration tests (confluent-kafka, not our producer).

  kafka_tool.py BOOTSTRAP create TOPIC PARTITIONS [KEY=VALUE,...]
      creates TOPIC; the optional list is its topic configuration (max.message.bytes=60000).
  kafka_tool.py BOOTSTRAP consume TOPIC[,TOPIC...] COUNT TIMEOUT_S BY HASH
      prints one JSON object per message: topic, partition, offset, key, value, headers and
      `expected_partition`, the partition Maxwell picks for the row when partitioning BY
      (database | table | primary_key | thread_id) with HASH (default | murmur3); BY `attribute:NAME` is a
      javascript filter's partition string, which the test's script also writes into the
      row's NAME attribute (rows without it: by database).
  kafka_tool.py BOOTSTRAP tail TOPIC SINCE_MS ROWS TIMEOUT_S
      prints, one line each (partition, offset, key, value), the messages of TOPIC written at or
      after SINCE_MS (Unix ms), read with isolation.level=read_committed, until ROWS row events
      (insert/update/delete) were seen; exit 1 if they did not arrive within TIMEOUT_S.

  kafka_tool.py BOOTSTRAP hold TOPIC SECONDS
      opens a Kafka transaction of its own (transactional.id `hold-<pid>`), writes one record
      (key `foreign`) to partition 0 of TOPIC, prints "open" and keeps the transaction open
      SECONDS seconds before committing it (another producer sharing a topic).

  kafka_tool.py BOOTSTRAP bootstrap-check TOPIC TABLE TIMEOUT_S
      reads TOPIC until TABLE's bootstrap-complete arrived and 5 s passed without more; prints
      a JSON summary (record counts per type, bootstrap-insert ids and repeats, live updates).

  kafka_tool.py BOOTSTRAP scram USER PASSWORD
      creates (or replaces) SCRAM-SHA-256 and SCRAM-SHA-512 credentials for USER.

Expected partitions are computed here, independently of the Rust code: Java's
String.hashCode and MurmurHash3 x86_32 (seed 25342, via the mmh3 package), then
Java's Math.abs(h % n).
"""
import json
import sys
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
import mmh3


def java_hash(s):
    h = 0
    b = s.encode("utf-16-be")
    for i in range(0, len(b), 2):
        h = (31 * h + int.from_bytes(b[i:i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def java_partition(h, n):
    r = abs(h) % n
    return abs(-r if h < 0 else r)


def expected_partition(s, n, fn):
    h = java_hash(s) if fn == "default" else mmh3.hash(s.encode("utf-8"), 25342, signed=True)
    return java_partition(h, n)


def create(bootstrap, topic, partitions, config=""):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    conf = dict(kv.split("=", 1) for kv in config.split(",") if kv)
    fs = admin.create_topics([NewTopic(topic, num_partitions=int(partitions), config=conf)])
    for t, f in fs.items():
        f.result(timeout=30)


def partition_string(value, key, by):
    if value.get("type", "").startswith(("table-", "database-")):
        return value["database"]
    if by.startswith("attribute:"):
        return value.get(by[len("attribute:"):], value["database"])
    if by == "database":
        return value["database"]
    if by == "table":
        return value["table"]
    if by == "thread_id":
        # The row's own thread id (output_thread_id; threadId with camel-case names).
        t = value.get("thread_id", value.get("threadId"))
        return "null" if t is None else str(t)
    if by == "primary_key":
        # The key's "pk.*" entries, in key order (checked against `data` by the test).
        parts = [v for k, v in key.items() if k.startswith("pk.")]
        s = "".join(str(p) for p in parts if p is not None)
        return s if s else "None"
    raise SystemExit("unknown BY " + by)


def record(m, nparts, by, fn):
    value = json.loads(m.value())
    key = json.loads(m.key()) if m.key() else {}
    return json.dumps({
        "topic": m.topic(), "partition": m.partition(), "offset": m.offset(),
        "key": m.key().decode() if m.key() else None,
        "value": value,
        "headers": {k: v.decode() for k, v in (m.headers() or [])},
        "expected_partition": expected_partition(partition_string(value, key, by), nparts[m.topic()], fn),
    })


def consume(bootstrap, topics, count, timeout, by, fn):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-%d" % time.time_ns(),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "isolation.level": "read_committed"})
    md = c.list_topics(timeout=10)
    parts = []
    nparts = {}
    for t in topics.split(","):
        ps = md.topics[t].partitions
        nparts[t] = len(ps)
        parts += [TopicPartition(t, p, 0) for p in ps]
    c.assign(parts)
    got = 0
    deadline = time.time() + float(timeout)
    while got < int(count) and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            continue
        got += 1
        print(record(m, nparts, by, fn), flush=True)
    # Anything beyond COUNT is a duplicate: keep reading a little longer to see it.
    end = time.time() + 2
    while time.time() < end:
        m = c.poll(0.2)
        if m is not None and not m.error():
            print(record(m, nparts, by, fn), flush=True)
    c.close()


def tail(bootstrap, topic, since_ms, rows, timeout):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tail-%d" % time.time_ns(),
                  "enable.auto.commit": False, "isolation.level": "read_committed"})
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    want = [TopicPartition(topic, p, int(since_ms)) for p in parts]
    c.assign([tp if tp.offset >= 0 else TopicPartition(topic, tp.partition, -1)  # -1: the end
              for tp in c.offsets_for_times(want, timeout=10)])
    seen, deadline = 0, time.time() + float(timeout)
    while seen < int(rows) and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        value = json.loads(m.value())
        seen += value.get("type") in ("insert", "update", "delete")
        key = m.key().decode() if m.key() else ""
        print("p%d@%d  key=%s\n    %s" % (m.partition(), m.offset(), key, m.value().decode()), flush=True)
    c.close()
    if seen < int(rows):
        sys.exit("only %d of %d row messages arrived on %s within %s s" % (seen, int(rows), topic, timeout))


def bootstrap_check(bootstrap, topic, table, timeout):
    """Reads TOPIC (read_committed) until TABLE's bootstrap-complete has arrived and nothing
    new came for 5 s; prints one JSON summary: start/complete counts, bootstrap-insert ids
    (count, ids seen more than once), and every live update of TABLE as [id, ver] in
    partition order."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "boot-%d" % time.time_ns(),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "isolation.level": "read_committed"})
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    kinds, inserts, updates = {}, {}, {p: [] for p in parts}
    complete_seen, last_new = False, time.time()
    deadline = time.time() + float(timeout)
    while time.time() < deadline and not (complete_seen and time.time() - last_new > 5):
        batch = c.consume(10000, 0.5)
        for m in batch:
            if m.error():
                continue
            last_new = time.time()
            v = json.loads(m.value())
            if v.get("table") != table:
                continue
            k = v.get("type")
            kinds[k] = kinds.get(k, 0) + 1
            if k == "bootstrap-insert":
                i = v["data"]["id"]
                inserts[i] = inserts.get(i, 0) + 1
            elif k == "bootstrap-complete":
                complete_seen = True
            elif k == "update":
                updates[m.partition()].append([v["data"]["id"], v["data"]["ver"]])
    c.close()
    print(json.dumps({
        "kinds": kinds,
        "insert_ids": len(inserts),
        "insert_max_id": max(inserts) if inserts else 0,
        "repeated": sorted(i for i, n in inserts.items() if n > 1)[:50],
        "repeated_count": sum(1 for n in inserts.values() if n > 1),
        "updates": [u for p in sorted(updates) for u in updates[p]],
    }))


def hold(bootstrap, topic, seconds):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": "hold-%d" % time.time_ns()})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(topic, key=b"foreign", value=b"{}", partition=0)
    p.flush(30)
    print("open", flush=True)
    time.sleep(float(seconds))
    p.commit_transaction(30)


def scram(bootstrap, user, password):
    from confluent_kafka.admin import UserScramCredentialUpsertion, ScramCredentialInfo, ScramMechanism
    a = AdminClient({"bootstrap.servers": bootstrap})
    for m in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512):  # one per request
        up = UserScramCredentialUpsertion(user, ScramCredentialInfo(m, 4096), password.encode())
        for f in a.alter_user_scram_credentials([up]).values():
            f.result()


if __name__ == "__main__":
    bootstrap, cmd, *args = sys.argv[1:]
    {"create": create, "consume": consume, "tail": tail, "hold": hold, "scram": scram,
     "bootstrap-check": bootstrap_check}[cmd](bootstrap, *args)
