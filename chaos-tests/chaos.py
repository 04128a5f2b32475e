#!/usr/bin/env python3
"""Failover drills against a local maxwell-ha cluster, with a loss/duplicate verdict.

Runs three `maxwell` nodes against the services that `chaos-tests/run.sh` (or the test suite)
started on 127.0.0.1, drives a steady write load it accounts for, runs the chosen drills, then
reads every message back with an independent Kafka client (confluent-kafka) and prints:
rows expected / delivered / lost / duplicated / out of order per primary key, zombie rows, and
per drill the takeover time (leader gone -> first message written by the new leader).

  chaos.py [--drills kill9=100,zombie=20,...] [--report FILE] [--json FILE]

Drills (each one function below, any subset, any count):
  kill9            kill -9 the leader (restarted afterwards as a standby)
  zombie           SIGSTOP the leader past the session timeout, then SIGCONT
  sigterm          SIGTERM the leader (restarted afterwards)
  failover         `maxwell-cli failover`
  zk-follower      kill -9 a ZooKeeper follower, restart it
  zk-leader        kill -9 the ZooKeeper leader, restart it
  zk-quorum        kill two ZooKeeper servers for longer than the session, restore them
  broker-restart   kill -9 the Kafka broker, start it again
  mariadb-restart  stop MariaDB (writes paused), start it again
  kill-standby     kill -9 a standby (restarted afterwards)
  broker-leader-kill  kill -9 the broker leading the topic's partition 0, start it again 3 s later
  broker-outage    kill -9 brokers (all of one; two of three) for longer than the producer's
                   transaction/message timeout (2 sessions + 2 s), start them again
  broker-rolling   restart every broker in turn (SIGTERM, start, wait until it serves)
  ddl              ALTER TABLE (add a column, drop it) while the load writes to the table
  big-kill9        one 200 000-row transaction (--big-rows), the leader killed -9 while it streams it
  cut-zk           cut the leader's network namespace from ZooKeeper only, heal after 2 sessions
  cut-kafka        cut the leader from Kafka only (its stall watchdog hands over), heal later
  cut-mysql        cut the leader from MariaDB only (its stall watchdog hands over), heal later
  zk-follower-cut  cut the ZooKeeper follower holding the leader's session from the ZooKeeper
                   leader (the follower keeps answering the leader for a while), heal later

Shards: with --shards N (1-3) the load's tables are split over N shards (`maxwell-cli shard
add` before the nodes start), so every node leads part of the stream. A drill's "leader" is
then a node leading shards; its takeover is over when every shard it led streams again (the
slowest shard counts), and a zombie row is one with a lower epoch than an earlier message of
the same shard in the same partition (the `maxwell.cluster` header names the shard).

Network namespaces: with --netns on (the default when the machine allows them, see
scripts/netns.sh) every node runs in a namespace of its own joined to the host by a veth pair,
so the cut drills can drop one node's traffic to one service; the namespaces are created at
the start and removed at the end. Without them the cut drills are refused with the reason.

How the verdict is reached:
- Every committed transaction's row events are recorded as (table, id, type, ver); `ver`
  grows with each update of a row and ids are never reused, so every event is unique. A
  transaction whose COMMIT raised is looked up in a side table it wrote (outside the stream)
  to learn whether it committed.
- Messages carry the `maxwell.node`/`maxwell.epoch` headers. A zombie row is a message whose
  epoch is lower than that of an earlier message in the same partition (written by an old
  leader after a newer one had started).
- Takeover: the producer timestamp of the first message with a newer epoch, minus the moment
  the drill removed the leader.

Environment: MARIADB_PORT, KAFKA_PORT, ZK_PORT_BASE, MAXWELL_HA_RUN (as for scripts/*.sh),
MAXWELL_BIN_DIR (default target/release).
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import pymysql
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MYSQL_PORT = int(os.environ.get("MARIADB_PORT", "3507"))
KAFKA_PORT = int(os.environ.get("KAFKA_PORT", "9292"))
KAFKA_BROKERS = int(os.environ.get("KAFKA_BROKERS", "1"))
KAFKA = ",".join("127.0.0.1:%d" % (KAFKA_PORT + i) for i in range(KAFKA_BROKERS))
ZK_BASE = int(os.environ.get("ZK_PORT_BASE", "2381"))
RUN = os.environ.get("MAXWELL_HA_RUN", os.path.join(REPO, ".run"))
BIN = os.environ.get("MAXWELL_BIN_DIR", os.path.join(REPO, "target", "release"))
TABLES = ["t0", "t1", "t2"]
BIG = "big"  # the table of the big-kill9 drill's large transactions


def now_ms():
    return int(time.time() * 1000)


def log(*a):
    print("[chaos %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def script(name, *args, check=True):
    r = subprocess.run(["bash", os.path.join(REPO, "scripts", name), *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit("scripts/%s %s failed: %s" % (name, " ".join(args), r.stderr.strip()))
    return r.stdout.strip()


def http(port, path, timeout=0.5, host="127.0.0.1"):
    try:
        with urllib.request.urlopen("http://%s:%d%s" % (host, port, path), timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except Exception:
        return None, None


class Node:
    def __init__(self, cluster, node_id, port, ns=None):
        self.cluster, self.id, self.port, self.proc, self.ns = cluster, node_id, port, None, ns
        self.host = script("netns.sh", "ip", str(ns)) if ns else "127.0.0.1"
        self.log = os.path.join(cluster.dir, "%s.log" % node_id)

    def start(self):
        cmd = [os.path.join(BIN, "maxwell"), "--config=" + self.cluster.config, "--node_id=" + self.id, "--http_port=%d" % self.port]
        if self.ns:
            # `ip netns exec` execs the node: the PID is the node's own.
            cmd = ["ip", "netns", "exec", "mxh-%d" % self.ns] + cmd + ["--http_bind_address=0.0.0.0"]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=out, env=dict(os.environ, NO_COLOR="1"))

    def cut(self, ports):
        script("netns.sh", "cut", str(self.ns), ports)

    def heal(self):
        script("netns.sh", "heal", str(self.ns))

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout=30):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def status(self):
        code, body = http(self.port, "/api/status", host=self.host)
        return json.loads(body) if code == 200 else None

    def ready(self):
        return http(self.port, "/readyz", host=self.host)[0] == 200


class Cluster:
    def __init__(self, args):
        self.args = args
        self.tag = "chaos%d" % (time.time_ns() % 10**12)
        self.dir = os.path.join(RUN, self.tag)
        os.makedirs(self.dir, exist_ok=True)
        self.topic, self.db, self.root = self.tag, self.tag, "/chaos/" + self.tag
        self.config = os.path.join(self.dir, "config.properties")
        zk = ",".join("127.0.0.1:%d" % (ZK_BASE + i) for i in range(3))
        base = args.http_port_base
        self.namespaces = []
        if args.netns != "off":
            r = subprocess.run(["bash", os.path.join(REPO, "scripts", "netns.sh"), "check"], capture_output=True, text=True)
            if r.returncode == 0:
                first = 1 + base % 240
                self.namespaces = [first + i for i in range(3)]
                for ns in self.namespaces:
                    script("netns.sh", "add", str(ns))
            elif args.netns == "on":
                raise SystemExit(r.stderr.strip() or "network namespaces unavailable")
            else:
                self.netns_missing = r.stderr.strip()
        user = "root"
        if self.namespaces:
            # Nodes in namespaces reach MariaDB from 10.231.N.2, not from localhost.
            user = "chaos"
            c = pymysql.connect(host="127.0.0.1", port=MYSQL_PORT, user="root", password="", autocommit=True)
            with c.cursor() as cur:
                cur.execute("CREATE USER IF NOT EXISTS 'chaos'@'10.231.%' IDENTIFIED BY 'chaos'")
                cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'chaos'@'10.231.%'")
            c.close()
        # The same keys as scripts/local.sh and docker-compose.yml.
        with open(self.config, "w") as f:
            f.write("\n".join([
                "host=127.0.0.1", "port=%d" % MYSQL_PORT, "user=" + user, "password=" + ("chaos" if self.namespaces else ""),
                "replica_server_id=6390", "producer=kafka", "kafka.bootstrap.servers=" + KAFKA,
                "kafka_topic=" + ("%{database}_%{table}" if args.topic_per_table else self.topic), "producer_partition_by=primary_key",
                "gtid_mode=%s" % ("true" if args.gtid_mode else "false"),
                "filter=exclude: *.*, include: %s.*" % self.db,
                "zookeeper_servers=" + zk, "zookeeper_root=" + self.root,
                "zookeeper_session_timeout_ms=%d" % args.session_ms,
                "kafka.reconnect.backoff.max.ms=500", "log_level=info", ""]))
        self.nodes = [Node(self, "c%d" % (i + 1), base + i, self.namespaces[i] if self.namespaces else None) for i in range(3)]
        self.shards = []

    def add_shards(self, n):
        """Splits the load's tables over `n` shards (before the nodes start)."""
        self.shards = ["s%d" % (i + 1) for i in range(n)]
        for i, name in enumerate(self.shards):
            tables = TABLES[i::n] + ([BIG] if i == n - 1 else [])
            f = ", ".join("include: %s.%s" % (self.db, t) for t in tables)
            r = subprocess.run([os.path.join(BIN, "maxwell-cli"), "--config=" + self.config, "shard", "add", name, "--filter", f], capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit("maxwell-cli shard add: " + r.stdout + r.stderr)

    def led(self, s):
        """{shard's cluster header: epoch} of the shards a node's status says it leads."""
        return {"%s/shards/%s" % (self.root, k): v.get("epoch") or 0 for k, v in ((s or {}).get("shards") or {}).items() if v.get("role") == "leader"}

    def shard_leaders(self, exclude=None):
        """shard -> node streaming it (nodes other than `exclude`)."""
        out = {}
        for n in self.nodes:
            if n is exclude or not n.alive():
                continue
            s = n.status()
            for k, v in ((s or {}).get("shards") or {}).items():
                if v.get("role") == "leader" and s.get("streaming"):
                    out[k] = n.id
        return out

    def topics(self):
        """The data topics: one, or one per table (`%{database}_%{table}`)."""
        if self.args.topic_per_table:
            return ["%s_%s" % (self.db, t) for t in TABLES + [BIG]]
        return [self.topic]

    def leader(self, exclude=None):
        """The streaming leader with the newest epoch (a deposed one may not know it yet).
        With shards: a node leading shards, once every shard is led by a node other than
        `exclude`."""
        if self.shards and len(self.shard_leaders(exclude)) < len(self.shards):
            return (None, None)
        best = (None, None)
        for n in self.nodes:
            if n is exclude or not n.alive():
                continue
            s = n.status()
            if s and s["role"] == "leader" and s["streaming"] and (best[1] is None or (s["epoch"] or 0) > (best[1]["epoch"] or 0)):
                best = (n, s)
        return best

    def wait_leader(self, exclude=None, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            n, s = self.leader(exclude)
            if n:
                return n, s
            time.sleep(0.05)
        raise RuntimeError("no leader within %d s; see the node logs in %s" % (timeout, self.dir))

    def wait_healthy(self, timeout=90):
        """A streaming leader and every node ready."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.leader()[0] and all(n.alive() and n.ready() for n in self.nodes):
                return
            time.sleep(0.1)
        raise RuntimeError("cluster not healthy within %d s: %s" % (timeout, [(n.id, n.alive(), n.status()) for n in self.nodes]))

    def heal_all(self):
        """Removes every cut (namespaces and ZooKeeper isolation)."""
        for n in self.nodes:
            if n.ns:
                n.heal()
        script("zookeeper.sh", "rejoin", check=False)

    def stop(self):
        for n in self.nodes:
            n.signal(15)
        for n in self.nodes:
            if n.proc:
                n.wait_exit()
        for ns in self.namespaces:
            script("netns.sh", "del", str(ns), check=False)
        script("zookeeper.sh", "rejoin", check=False)


class Load(threading.Thread):
    """Steady writes it can account for: inserts, updates, deletes over three tables, in
    transactions of 1-4 statements."""

    def __init__(self, db, rate):
        super().__init__(daemon=True)
        self.db, self.rate = db, rate
        self.expected = []  # (table, id, type, ver) in commit order
        self.committed_ms = []  # when each of `expected` was known committed (wall clock)
        self.live = {t: {} for t in TABLES}  # id -> ver
        self.next_id, self.tx_seq = 1, 0
        self.stop_flag, self.paused, self.idle = threading.Event(), threading.Event(), threading.Event()
        self.errors = 0
        self.conn = None

    def connect(self):
        return pymysql.connect(host="127.0.0.1", port=MYSQL_PORT, user="root", password="", autocommit=False, connect_timeout=3)

    def setup(self):
        c = pymysql.connect(host="127.0.0.1", port=MYSQL_PORT, user="root", password="", autocommit=True)
        with c.cursor() as cur:
            cur.execute("CREATE DATABASE %s" % self.db)
            cur.execute("CREATE DATABASE %s_ctl" % self.db)
            cur.execute("CREATE TABLE %s_ctl.txlog (tx BIGINT PRIMARY KEY)" % self.db)
            for t in TABLES + [BIG]:
                cur.execute("CREATE TABLE %s.%s (id INT PRIMARY KEY, ver INT NOT NULL, pad VARCHAR(64))" % (self.db, t))
        c.close()

    def reserve_big(self, rows):
        """The first of `rows` fresh ids in the big table."""
        self.next_big = getattr(self, "next_big", 1)
        first, self.next_big = self.next_big, self.next_big + rows
        return first

    def pause(self):
        self.paused.set()
        self.idle.wait(30)

    def resume(self):
        self.idle.clear()
        self.paused.clear()

    def one_transaction(self):
        self.tx_seq += 1
        tx, ops, staged = self.tx_seq, random.randint(1, 4), {t: dict(v) for t, v in self.live.items()}
        events, nid = [], self.next_id
        with self.conn.cursor() as cur:
            cur.execute("INSERT INTO %s_ctl.txlog VALUES (%d)" % (self.db, tx))
            for _ in range(ops):
                t = random.choice(TABLES)
                r = random.random()
                if r < 0.55 or not staged[t]:
                    cur.execute("INSERT INTO %s.%s (id, ver, pad) VALUES (%%s, 0, %%s)" % (self.db, t), (nid, "x" * random.randint(0, 60)))
                    staged[t][nid] = 0
                    events.append((t, nid, "insert", 0))
                    nid += 1
                elif r < 0.9:
                    i = random.choice(list(staged[t]))
                    staged[t][i] += 1
                    cur.execute("UPDATE %s.%s SET ver = %%s WHERE id = %%s" % (self.db, t), (staged[t][i], i))
                    events.append((t, i, "update", staged[t][i]))
                else:
                    i = random.choice(list(staged[t]))
                    cur.execute("DELETE FROM %s.%s WHERE id = %%s" % (self.db, t), (i,))
                    events.append((t, i, "delete", staged[t].pop(i)))
        try:
            self.conn.commit()
            committed = True
        except Exception:
            committed = None  # unknown: look it up once MariaDB answers again
        return tx, events, staged, nid, committed

    def run(self):
        period = 1.0 / self.rate
        while not self.stop_flag.is_set():
            if self.paused.is_set():
                if self.conn:
                    try:
                        self.conn.close()
                    except Exception:
                        pass
                    self.conn = None
                self.idle.set()
                time.sleep(0.05)
                continue
            try:
                if self.conn is None:
                    self.conn = self.connect()
                tx, events, staged, nid, committed = self.one_transaction()
            except Exception:
                self.errors += 1
                self.conn = None
                time.sleep(0.2)
                continue
            if committed is None:
                committed = self.lookup(tx)
            if committed:
                self.expected.extend(events)
                self.committed_ms.extend([now_ms()] * len(events))
                self.live, self.next_id = staged, nid
            time.sleep(period)
        if self.conn:
            self.conn.close()

    def lookup(self, tx):
        while True:
            try:
                c = self.connect()
                with c.cursor() as cur:
                    cur.execute("SELECT COUNT(*) FROM %s_ctl.txlog WHERE tx = %d" % (self.db, tx))
                    found = cur.fetchone()[0] == 1
                c.close()
                self.conn = None
                return found
            except Exception:
                time.sleep(0.5)


# ---------------------------------------------------------------- drills
# Each returns a dict: {"gone_ms": when the leader was removed (or None), "old_epoch": …,
# "kind": "takeover" | "recovery" | "steady"}.

def kill_leader(cl, sig, restart):
    n, s = cl.wait_leader()
    t = now_ms()
    n.signal(sig)
    if restart:
        n.wait_exit()
        cl.wait_leader(exclude=n)
        n.start()
    return {"gone_ms": t, "old_epoch": s["epoch"], "old_node": n.id, "kind": "takeover", "old_shards": cl.led(s)}


def drill_kill9(cl, load):
    return kill_leader(cl, 9, True)


def drill_sigterm(cl, load):
    return kill_leader(cl, 15, True)


def drill_zombie(cl, load):
    n, s = cl.wait_leader()
    t = now_ms()
    n.signal(19)  # SIGSTOP
    cl.wait_leader(exclude=n, timeout=cl.args.session_ms / 1000 + 20)
    time.sleep(0.5)
    n.signal(18)  # SIGCONT: it must notice and write nothing more
    time.sleep(3)
    return {"gone_ms": t, "old_epoch": s["epoch"], "old_node": n.id, "kind": "takeover", "old_shards": cl.led(s)}


def drill_failover(cl, load):
    n, s = cl.wait_leader()
    t = now_ms()
    r = subprocess.run([os.path.join(BIN, "maxwell-cli"), "--config=" + cl.config, "failover"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("maxwell-cli failover: " + r.stdout + r.stderr)
    return {"gone_ms": t, "old_epoch": s["epoch"], "old_node": n.id, "kind": "takeover"}


def zk_server(mode):
    for i in (1, 2, 3):
        if script("zookeeper.sh", "mode", str(i), check=False) == mode:
            return i
    raise RuntimeError("no ZooKeeper server in mode %s: %s" % (mode, script("zookeeper.sh", "status", check=False)))


def zk_bounce(cl, servers, down_s):
    n, s = cl.wait_leader()
    for i in servers:
        script("zookeeper.sh", "kill-one", str(i))
    t = now_ms()
    time.sleep(down_s)
    for i in servers:
        script("zookeeper.sh", "start-one", str(i))
    return n, s, t


def drill_zk_follower(cl, load):
    n, s, _ = zk_bounce(cl, [zk_server("follower")], 3)
    return {"gone_ms": None, "old_epoch": s["epoch"], "old_node": n.id, "kind": "steady"}


def drill_zk_leader(cl, load):
    n, s, _ = zk_bounce(cl, [zk_server("leader")], 3)
    return {"gone_ms": None, "old_epoch": s["epoch"], "old_node": n.id, "kind": "steady"}


def drill_zk_quorum(cl, load):
    leader = zk_server("leader")
    follower = next(i for i in (1, 2, 3) if i != leader)
    n, s, _ = zk_bounce(cl, [leader, follower], cl.args.session_ms / 1000 + 3)
    return {"gone_ms": now_ms(), "old_epoch": s["epoch"], "old_node": n.id, "kind": "recovery"}


def broker_kill(cl, brokers, down_s):
    n, s = cl.wait_leader()
    for b in brokers:
        script("kafka.sh", "kill", str(b))
    t = now_ms()
    time.sleep(down_s)
    script("kafka.sh", "start")
    return {"gone_ms": t, "old_epoch": s["epoch"], "old_node": n.id, "kind": "recovery"}


def partition_leader(topic):
    out = script("kafka.sh", "leader", topic, "0", check=False)
    return int(out) if out.strip().isdigit() and int(out) > 0 else 1


def drill_broker_restart(cl, load):
    return broker_kill(cl, [1], 1)


def drill_broker_leader_kill(cl, load):
    return broker_kill(cl, [partition_leader(cl.topic)], 3)


def drill_broker_outage(cl, load):
    lead = partition_leader(cl.topic)
    brokers = [lead] if KAFKA_BROKERS == 1 else [lead, next(b for b in range(1, KAFKA_BROKERS + 1) if b != lead)]
    return broker_kill(cl, brokers, 2 * cl.args.session_ms / 1000 + 2)


def drill_broker_rolling(cl, load):
    n, s = cl.wait_leader()
    t = now_ms()
    for b in range(1, KAFKA_BROKERS + 1):
        script("kafka.sh", "stop-one", str(b))
        script("kafka.sh", "start")
        time.sleep(3 if KAFKA_BROKERS > 1 else 0)  # let it rejoin the in-sync replicas
    return {"gone_ms": t, "old_epoch": s["epoch"], "old_node": n.id, "kind": "recovery"}


def drill_mariadb_restart(cl, load):
    n, s = cl.wait_leader()
    load.pause()
    script("mariadb.sh", "stop")
    t = now_ms()
    script("mariadb.sh", "start")
    load.resume()
    return {"gone_ms": t, "old_epoch": s["epoch"], "old_node": n.id, "kind": "recovery"}


def drill_kill_standby(cl, load):
    n, s = cl.wait_leader()
    standby = next(x for x in cl.nodes if x is not n)
    standby.signal(9)
    standby.wait_exit()
    time.sleep(1)
    standby.start()
    return {"gone_ms": None, "old_epoch": s["epoch"], "old_node": n.id, "kind": "steady"}


def cut_leader(cl, ports, heal_after_s):
    """Cuts the leader's namespace from `ports`; heals `heal_after_s` after the cut."""
    n, s = cl.wait_leader()
    t = now_ms()
    n.cut(ports)
    try:
        cl.wait_leader(exclude=n, timeout=heal_after_s + 30)
        time.sleep(max(0, heal_after_s - (now_ms() - t) / 1000))
    finally:
        n.heal()
    return {"gone_ms": t, "old_epoch": s["epoch"], "old_node": n.id, "kind": "takeover", "old_shards": cl.led(s)}


def zk_ports():
    return "%d:%d" % (ZK_BASE, ZK_BASE + 2)


def drill_cut_zk(cl, load):
    # Healed after two sessions: the old session has surely expired on the ensemble.
    return cut_leader(cl, zk_ports(), 2 * cl.args.session_ms / 1000 + 1)


def drill_cut_kafka(cl, load):
    ports = "%d:%d" % (KAFKA_PORT, KAFKA_PORT + KAFKA_BROKERS - 1) if KAFKA_BROKERS > 1 else str(KAFKA_PORT)
    return cut_leader(cl, ports, cl.args.session_ms / 1000 + 4)


def drill_cut_mysql(cl, load):
    return cut_leader(cl, str(MYSQL_PORT), cl.args.session_ms / 1000 + 4)


def session_server(n):
    """The ZooKeeper server (1..3) holding node `n`'s session (its namespace address in `cons`)."""
    for _ in range(5):
        for i in (1, 2, 3):
            if ("/%s:" % n.host) in script("zookeeper.sh", "clients", str(i), check=False):
                return i
        time.sleep(0.2)
    return None


def drill_zk_follower_cut(cl, load):
    n, s = cl.wait_leader()
    leader = zk_server("leader")
    # The leader's session must live on a follower: if it is on the ZooKeeper leader, move it
    # (a short cut of that one server's client port; the session survives the reconnect).
    for _ in range(5):
        if session_server(n) not in (None, leader):
            break
        n.cut(str(ZK_BASE + leader - 1))
        deadline = time.time() + 10
        while time.time() < deadline and session_server(n) in (None, leader):
            time.sleep(0.1)
        n.heal()
        cl.wait_healthy()
        n, s = cl.wait_leader()
    follower = session_server(n)
    if follower in (None, leader):
        raise RuntimeError("could not place the leader's session on a ZooKeeper follower")
    # The follower soon stops serving; the leader's client either reconnects elsewhere within
    # the session (it leads on, same epoch) or its session expires (a standby takes over).
    # Either way no row may be lost, duplicated or written by a deposed leader.
    script("zookeeper.sh", "isolate", str(follower), str(leader))
    try:
        time.sleep(2 * cl.args.session_ms / 1000 + 1)
    finally:
        script("zookeeper.sh", "rejoin")
    return {"gone_ms": None, "old_epoch": s["epoch"], "old_node": n.id, "kind": "steady"}


def drill_ddl(cl, load):
    """ALTER TABLE mid-run (a column added, then dropped) while the load writes to the table."""
    n, s = cl.wait_leader()
    t, k = random.choice(TABLES), random.randint(1, 10**6)
    c = pymysql.connect(host="127.0.0.1", port=MYSQL_PORT, user="root", password="", autocommit=True)
    with c.cursor() as cur:
        cur.execute("ALTER TABLE %s.%s ADD COLUMN extra_%d INT NULL" % (load.db, t, k))
        time.sleep(2)
        cur.execute("ALTER TABLE %s.%s DROP COLUMN extra_%d" % (load.db, t, k))
    c.close()
    return {"gone_ms": None, "old_epoch": s["epoch"], "old_node": n.id, "kind": "steady"}


def drill_big_kill9(cl, load):
    """One transaction of --big-rows rows (default 200 000), the leader killed -9 while it streams
    it (spilled to disk, split across Kafka transactions); every row must come out once."""
    n, s = cl.wait_leader()
    first = load.reserve_big(cl.args.big_rows)
    c = pymysql.connect(host="127.0.0.1", port=MYSQL_PORT, user="root", password="", autocommit=True)
    with c.cursor() as cur:
        cur.execute("INSERT INTO %s.%s (id, ver, pad) SELECT seq, 0, 'big' FROM %s.seq_%d_to_%d" % (load.db, BIG, load.db, first, first + cl.args.big_rows - 1))
    c.close()
    load.expected.extend((BIG, i, "insert", 0) for i in range(first, first + cl.args.big_rows))
    load.committed_ms.extend([now_ms()] * cl.args.big_rows)
    time.sleep(random.uniform(0.3, 1.5))
    t = now_ms()
    n.signal(9)
    n.wait_exit()
    cl.wait_leader(exclude=n)
    n.start()
    return {"gone_ms": t, "old_epoch": s["epoch"], "old_node": n.id, "kind": "takeover"}


PARTITION_DRILLS = ("cut-zk", "cut-kafka", "cut-mysql", "zk-follower-cut")
TAKEOVER_DRILLS = ("kill9", "zombie", "sigterm", "failover", "cut-zk", "cut-kafka", "cut-mysql")

DRILLS = {
    "kill9": drill_kill9, "zombie": drill_zombie, "sigterm": drill_sigterm, "failover": drill_failover,
    "zk-follower": drill_zk_follower, "zk-leader": drill_zk_leader, "zk-quorum": drill_zk_quorum,
    "broker-restart": drill_broker_restart, "mariadb-restart": drill_mariadb_restart, "kill-standby": drill_kill_standby,
    "broker-leader-kill": drill_broker_leader_kill, "broker-outage": drill_broker_outage, "broker-rolling": drill_broker_rolling,
    "ddl": drill_ddl, "big-kill9": drill_big_kill9,
    "cut-zk": drill_cut_zk, "cut-kafka": drill_cut_kafka, "cut-mysql": drill_cut_mysql, "zk-follower-cut": drill_zk_follower_cut,
}
SHORT = ("kill9=2,zombie=1,sigterm=1,failover=1,zk-follower=1,zk-leader=1,zk-quorum=1,broker-restart=1,mariadb-restart=1,kill-standby=1,"
         "broker-leader-kill=1,broker-outage=1,broker-rolling=1,ddl=1,big-kill9=1,cut-zk=1,cut-kafka=1,cut-mysql=1,zk-follower-cut=1")
LONG = ("kill9=100,zombie=20,sigterm=5,failover=5,zk-follower=5,zk-leader=5,zk-quorum=5,broker-restart=5,mariadb-restart=5,kill-standby=5,"
        "broker-leader-kill=5,broker-outage=5,broker-rolling=5,ddl=5,big-kill9=5,cut-zk=20,cut-kafka=20,cut-mysql=20,zk-follower-cut=20")


def parse_drills(spec):
    out = []
    for part in spec.split(","):
        name, _, count = part.strip().partition("=")
        if name not in DRILLS:
            raise SystemExit("unknown drill %r; drills: %s" % (name, ", ".join(DRILLS)))
        out.append((name, int(count or 1)))
    return out


# ---------------------------------------------------------------- verdict

def consume_partition(topic, p, out, errors):
    """Every message of one partition, up to its high watermark (read after the nodes stopped)."""
    c = Consumer({"bootstrap.servers": KAFKA, "group.id": "chaos-verdict-%d" % time.time_ns(),
                  "enable.auto.commit": False, "isolation.level": "read_committed", "log_level": 2})
    low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=60)
    c.assign([TopicPartition(topic, p, low)])
    # read_committed (the default): aborted rows and transaction markers are skipped, so the
    # consumer's position, not the last message's offset, tells when the partition is read.
    pos, deadline = low, time.time() + 600
    while pos < high and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            h = {k: v.decode() for k, v in (m.headers() or [])}
            out.append({"topic": topic, "partition": p, "offset": m.offset(), "ts": m.timestamp()[1],
                        "value": json.loads(m.value()), "epoch": int(h.get("maxwell.epoch", "0")), "node": h.get("maxwell.node"),
                        "cluster": h.get("maxwell.cluster")})
        pos = max(pos, c.position([TopicPartition(topic, p)])[0].offset)
    c.close()
    if pos < high:
        errors.append("partition %d: read up to offset %d of %d" % (p, pos, high))


def consume(topic):
    """Every message of `topic`, one reader per partition."""
    c = Consumer({"bootstrap.servers": KAFKA, "group.id": "chaos-md"})
    parts = list(c.list_topics(topic, timeout=10).topics[topic].partitions)
    c.close()
    outs, errors = {p: [] for p in parts}, []
    threads = [threading.Thread(target=consume_partition, args=(topic, p, outs[p], errors)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("could not read every message back: %s" % "; ".join(errors))
    return [m for p in parts for m in outs[p]]


def verdict(load, msgs, drills):
    expected = {}
    order = {}
    for i, (t, pk, typ, ver) in enumerate(load.expected):
        expected[(t, pk, typ, ver)] = i
        order.setdefault((t, pk), []).append((typ, ver))
    seen, delivered_order = {}, {}
    zombie, max_epoch = 0, {}
    for m in sorted(msgs, key=lambda m: (m["topic"], m["partition"], m["offset"])):
        tp = (m["topic"], m["partition"], m.get("cluster"))
        if m["epoch"] < max_epoch.get(tp, 0):
            zombie += 1
        max_epoch[tp] = max(max_epoch.get(tp, 0), m["epoch"])
        v = m["value"]
        if v.get("type") not in ("insert", "update", "delete"):
            continue
        key = (v["table"], v["data"]["id"], v["type"], v["data"]["ver"])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 1:
            delivered_order.setdefault(key[:2], []).append(key[2:])
    lost = sum(1 for k in expected if k not in seen)
    # Each lost row with when it was committed and the last drill begun before then.
    timed = sorted((d["gone_ms"], d["drill"]) for d in drills if d.get("gone_ms"))
    lost_rows = []
    for i, k in enumerate(load.expected):
        if k not in seen and len(lost_rows) < 20:
            at = load.committed_ms[i] if i < len(load.committed_ms) else None
            before = [name for t, name in timed if at is not None and t <= at]
            lost_rows.append({"row": list(k), "committed_ms": at, "after_drill": before[-1] if before else None})
    dup = sum(n - 1 for n in seen.values() if n > 1)
    unexpected = sum(1 for k in seen if k not in expected)
    # Per key: the events both expected and delivered must arrive in commit order.
    out_of_order = 0
    for pk, seq in order.items():
        want = [e for e in seq if pk + e in seen]
        got = [e for e in delivered_order.get(pk, []) if pk + e in expected]
        out_of_order += want != got
    # Takeover / recovery per drill: first message of a newer epoch after the leader went.
    by_time = sorted(msgs, key=lambda m: m["ts"])
    for d in drills:
        d["first_new_ms"] = None
        if d.get("gone_ms") is None:
            continue
        if d.get("old_shards"):
            # Shards: over when the last shard the node led streams again.
            firsts = []
            for cluster, epoch in d["old_shards"].items():
                firsts.append(next((m["ts"] - d["gone_ms"] for m in by_time if m["ts"] >= d["gone_ms"] and m.get("cluster") == cluster and m["epoch"] > epoch), None))
            d["first_new_ms"] = None if None in firsts else max(firsts)
            continue
        for m in by_time:
            if m["ts"] >= d["gone_ms"] and (m["epoch"] > d["old_epoch"] or d["kind"] == "recovery"):
                d["first_new_ms"] = m["ts"] - d["gone_ms"]
                break
    return {"expected": len(expected), "delivered": sum(seen.values()), "messages": len(msgs), "lost": lost, "lost_rows": lost_rows, "duplicated": dup,
            "unexpected": unexpected, "out_of_order_keys": out_of_order, "zombie": zombie, "write_errors": load.errors}


def percentile(xs, q):
    """Nearest-rank percentile (None for no samples)."""
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(-(-q * len(xs) // 1)) - 1))]


def machine():
    """One line about where the run happened."""
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "?")
    osname = next((l.split("=", 1)[1].strip().strip('"') for l in open("/etc/os-release") if l.startswith("PRETTY_NAME")), "?")
    return "%d cores, %.0f GiB RAM, %s, Linux %s" % (os.cpu_count(), int(mem) / 1048576, osname, os.uname().release)


def summarize(drills):
    rows = []
    for name in DRILLS:
        ds = [d for d in drills if d["drill"] == name]
        if not ds:
            continue
        times = [d["first_new_ms"] for d in ds if d.get("first_new_ms") is not None]
        changed = sum(1 for d in ds if d.get("new_epoch") != d.get("old_epoch"))
        rows.append({"drill": name, "runs": len(ds), "kind": ds[0]["kind"], "leader_changes": changed,
                     "p50_ms": int(statistics.median(times)) if times else None, "p99_ms": percentile(times, 0.99),
                     "max_ms": max(times) if times else None, "measured": len(times)})
    return rows


def report_text(v, rows, session_ms, bound, elapsed_s, args):
    lines = ["# maxwell-ha chaos verdict", "",
             "- command: `%s`" % " ".join(["chaos-tests/chaos.py"] + sys.argv[1:]),
             "- settings: zookeeper_session_timeout_ms=%d (ha_stall_timeout_ms: 3/4 of it, the default), ha_delivery=exactly_once "
             "(the default), %d Kafka broker(s), nodes in network namespaces: %s, load %.0f transactions/s of 1-4 rows%s"
             % (session_ms, KAFKA_BROKERS, "yes" if args.namespaces else "no", args.rate, ", %d shards" % args.shards if args.shards else ""),
             "- machine: %s" % machine(),
             "- takeover bound %d ms; run took %.0f s" % (bound, elapsed_s), "",
             "| rows expected | delivered | lost | duplicated | out of order (keys) | zombie rows | unexpected |",
             "|---|---|---|---|---|---|---|",
             "| %d | %d | %d | %d | %d | %d | %d |" % (v["expected"], v["delivered"], v["lost"], v["duplicated"], v["out_of_order_keys"], v["zombie"], v["unexpected"]),
             ""] + (["Lost rows (up to 20): " + "; ".join("%s committed at %s after %s" % (r["row"], r["committed_ms"], r["after_drill"]) for r in v["lost_rows"]), ""] if v.get("lost_rows") else []) + [
             "| drill | runs | leader changed | time to first new row p50 | p99 | max |", "|---|---|---|---|---|---|"]
    for r in rows:
        fmt = lambda x: "—" if x is None else "%d ms" % x
        what = {"takeover": "", "recovery": " (recovery)", "steady": ""}[r["kind"]]
        lines.append("| %s%s | %d | %d | %s | %s | %s |" % (r["drill"], what, r["runs"], r["leader_changes"], fmt(r["p50_ms"]), fmt(r["p99_ms"]), fmt(r["max_ms"])))
    lines += ["", "Takeover: producer timestamp of the first message with a newer epoch minus the moment the",
              "leader was removed. Recovery (zk-quorum: from quorum restored; broker/MariaDB restart:",
              "from the kill/stop): first message written afterwards."]
    return "\n".join(lines) + "\n"


def passed(v, rows, bound):
    problems = []
    for k in ("lost", "duplicated", "out_of_order_keys", "zombie", "unexpected"):
        if v[k]:
            problems.append("%s=%d" % (k, v[k]))
    if v["expected"] == 0:
        problems.append("no rows written")
    for r in rows:
        if r["drill"] in TAKEOVER_DRILLS:
            if r["measured"] < r["runs"]:
                problems.append("%s: takeover not measured for %d run(s)" % (r["drill"], r["runs"] - r["measured"]))
            if r["max_ms"] is not None and r["max_ms"] > bound:
                problems.append("%s: takeover %d ms > %d ms" % (r["drill"], r["max_ms"], bound))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--drills", default=SHORT, help="NAME=COUNT,… (default: the short run); 'long' for the long run")
    ap.add_argument("--rate", type=float, default=50, help="write transactions per second (1-4 rows each)")
    ap.add_argument("--session-ms", type=int, default=4000)
    ap.add_argument("--takeover-bound-ms", type=int, default=None, help="fail when a takeover takes longer (default: session + 1 s)")
    ap.add_argument("--http-port-base", type=int, default=18481)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--big-rows", type=int, default=200000, help="rows in the big-kill9 drill's transaction")
    ap.add_argument("--topic-per-table", action="store_true", help="kafka_topic=%%{database}_%%{table}: a topic per table")
    ap.add_argument("--gtid-mode", action="store_true", help="gtid_mode=true: resume by GTID")
    ap.add_argument("--shards", type=int, default=0, choices=[0, 1, 2, 3], help="split the load's tables over this many shards")
    ap.add_argument("--netns", choices=["auto", "on", "off"], default="auto", help="run each node in a network namespace of its own (auto: when the machine allows it)")
    ap.add_argument("--report", help="write the verdict (markdown) here")
    ap.add_argument("--json", help="write the verdict (JSON) here")
    args = ap.parse_args()
    random.seed(args.seed)
    plan = parse_drills(LONG if args.drills == "long" else SHORT if args.drills == "short" else args.drills)
    started = time.time()
    cl = Cluster(args)
    if not cl.namespaces and any(name in PARTITION_DRILLS for name, _ in plan):
        raise SystemExit("the partition drills (%s) need network namespaces: %s" % (", ".join(PARTITION_DRILLS), getattr(cl, "netns_missing", "--netns off")))
    load = Load(cl.db, args.rate)
    drills, errors = [], []
    try:
        admin = AdminClient({"bootstrap.servers": KAFKA})
        fs = admin.create_topics([NewTopic(t, num_partitions=3) for t in cl.topics()])
        for f in fs.values():
            f.result(30)
        load.setup()
        if args.shards:
            cl.add_shards(args.shards)
        for n in cl.nodes:
            n.start()
            time.sleep(0.3)
        cl.wait_healthy()
        load.start()
        time.sleep(2)
        total = sum(c for _, c in plan)
        k = 0
        for name, count in plan:
            for i in range(count):
                k += 1
                try:
                    d = DRILLS[name](cl, load)
                except Exception as e:
                    # A drill that could not run (its set-up failed) is reported, not fatal:
                    # the rows written so far still get their verdict.
                    log("%d/%d %s: could not run: %s" % (k, total, name, e))
                    errors.append("%s: %s" % (name, e))
                    cl.heal_all()
                    cl.wait_healthy()
                    continue
                d["drill"] = name
                cl.wait_healthy()
                d["new_epoch"] = cl.wait_leader()[1]["epoch"]
                if d.get("old_shards"):
                    # Shards: "changed" when the shards the node led have newer epochs now.
                    now = {}
                    for x in cl.nodes:
                        if x.alive():
                            now.update(cl.led(x.status()))
                    d["old_epoch"] = ",".join(str(e) for _, e in sorted(d["old_shards"].items()))
                    d["new_epoch"] = ",".join(str(now.get(k)) for k, _ in sorted(d["old_shards"].items()))
                drills.append(d)
                log("%d/%d %s: leader %s epoch %s -> %s" % (k, total, name, d["old_node"], d["old_epoch"], d["new_epoch"]))
                time.sleep(1 + random.random())
        time.sleep(2)
    finally:
        load.stop_flag.set()
        if load.is_alive():
            load.join(30)
        log("load stopped: %d transactions' rows expected (%d rows); draining" % (load.tx_seq, len(load.expected)))
        time.sleep(3)
        cl.stop()
    t = time.time()
    msgs = [m for t in cl.topics() for m in consume(t)]
    log("read %d messages back in %.0f s" % (len(msgs), time.time() - t))
    v = verdict(load, msgs, drills)
    rows = summarize(drills)
    bound = args.takeover_bound_ms or args.session_ms + 1000
    args.namespaces = bool(cl.namespaces)
    text = report_text(v, rows, args.session_ms, bound, time.time() - started, args)
    problems = passed(v, rows, bound) + ["drill not run: " + e for e in errors]
    text += "\nVerdict: %s\n" % ("PASS" if not problems else "FAIL: " + "; ".join(problems))
    print(text)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"verdict": v, "drills": rows, "runs": drills, "problems": problems}, f, indent=1)
    log("node logs: %s" % cl.dir)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
