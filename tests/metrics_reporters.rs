//! Maxwell's metrics and diagnostics on live nodes (real MariaDB, broker and ZooKeeper
//! ensemble): DogStatsD lines with `metrics_prefix` and `metrics_datadog_tags` reach a UDP
//! listener and count the rows written; the slf4j reporter logs every metric at its interval;
//! `/diagnostic` answers success with every service up and names the failing check (within
//! `http_diagnostic_timeout`) when the brokers cannot be reached; `/metrics` (as JSON),
//! `/healthcheck` and `/ping` answer in Maxwell's shapes.

mod common;

use common::cluster::tail;
use common::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Polls until `f` returns `Some`, up to `secs`.
fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t0.elapsed() < Duration::from_secs(secs), "timed out after {secs} s waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A database with one table, `rows` rows inserted `per_tx` to a transaction.
async fn write_rows(db: &str, rows: u64, per_tx: u64) {
    let mut c = conn().await;
    for start in (0..rows).step_by(per_tx as usize) {
        let values: Vec<String> = (start..(start + per_tx).min(rows)).map(|i| format!("({i}, 'v{i}')")).collect();
        exec(&mut c, &format!("INSERT INTO {db}.t VALUES {}", values.join(","))).await;
    }
}

async fn create_db(db: &str) {
    let mut c = conn().await;
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(20))")).await;
}

/// Waits for a lone node's "starting binlog stream" line.
fn wait_streaming(m: &Maxwell) {
    wait_for(30, "the binlog stream to start", || m.stderr().contains("starting binlog stream").then_some(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dogstatsd_lines_with_prefix_and_tags_count_the_rows() {
    let db = unique("ddog");
    create_db(&db).await;
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let port = udp.local_addr().unwrap().port();
    let mut m = spawn_maxwell(&[
        format!("--filter=exclude: *.*, include: {db}.*"),
        "--metrics_type=datadog".into(),
        "--metrics_datadog_host=127.0.0.1".into(),
        format!("--metrics_datadog_port={port}"),
        "--metrics_datadog_interval=1".into(),
        "--metrics_datadog_tags=env:test, team:cdc".into(),
        "--metrics_prefix=mxtest".into(),
    ]);
    wait_streaming(&m);
    let (rows, per_tx) = (300u64, 10u64);
    write_rows(&db, rows, per_tx).await;
    m.read_until(Duration::from_secs(30), {
        let mut n = 0;
        move |_| {
            n += 1;
            n == rows as usize
        }
    });

    // Every line: a gauge named under the prefix, with the tags.
    let line = regex::Regex::new(r"^mxtest\.[a-zA-Z0-9_.]+:-?[0-9]+(\.[0-9]{1,6})?\|g\|#env:test,team:cdc$").unwrap();
    let (mut last, mut datagrams) = (std::collections::BTreeMap::new(), 0);
    let t0 = Instant::now();
    let mut buf = [0u8; 65536];
    loop {
        if let Ok(n) = udp.recv(&mut buf) {
            datagrams += 1;
            assert!(n <= 1400, "a datagram of {n} bytes");
            for l in std::str::from_utf8(&buf[..n]).unwrap().lines() {
                assert!(line.is_match(l), "not a DogStatsD gauge with the prefix and tags: {l:?}");
                let (name, rest) = l.split_once(':').unwrap();
                last.insert(name.to_string(), rest.split('|').next().unwrap().parse::<f64>().unwrap());
            }
        }
        let done = last.get("mxtest.row.count") == Some(&(rows as f64)) && last.get("mxtest.message.publish.time.count") == Some(&((rows / per_tx) as f64));
        if done {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "the counts never reached {rows} rows: {last:?}\n{}", m.stderr());
    }
    let get = |k: &str| *last.get(k).unwrap_or_else(|| panic!("{k} not sent: {last:?}"));
    assert_eq!(get("mxtest.messages.succeeded"), rows as f64);
    assert_eq!(get("mxtest.messages.failed"), 0.0);
    assert_eq!(get("mxtest.row.meter.count"), rows as f64);
    assert_eq!(get("mxtest.messages.succeeded.meter.count"), rows as f64);
    assert_eq!(get("mxtest.transaction.row_count.count"), (rows / per_tx) as f64);
    assert_eq!(get("mxtest.transaction.row_count.median"), per_tx as f64);
    assert_eq!(get("mxtest.message.publish.age.count"), (rows / per_tx) as f64);
    for k in [
        "mxtest.replication.lag",
        "mxtest.row.meter.1MinuteRate",
        "mxtest.row.meter.15MinuteRate",
        "mxtest.message.publish.time.p99",
        "mxtest.message.publish.age.p95",
    ] {
        get(k);
    }
    assert!(!last.keys().any(|k| k.contains("inflightmessages")), "a stdout node has no in-flight gauge (as Maxwell's synchronous producers)");
    eprintln!("{datagrams} datagrams, {} metrics, in {:?}", last.len(), t0.elapsed());
    let (status, _, err) = m.terminate();
    assert!(status.success(), "{err}");
}

/// Seconds of the day of a log line's RFC 3339 timestamp.
fn seconds_of(line: &str) -> f64 {
    let t = &line[11..line.find('Z').unwrap()];
    let p: Vec<f64> = t.split(':').map(|x| x.parse().unwrap()).collect();
    p[0] * 3600.0 + p[1] * 60.0 + p[2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slf4j_logs_every_metric_at_the_interval() {
    let db = unique("dslf");
    create_db(&db).await;
    let m = spawn_maxwell(&[format!("--filter=exclude: *.*, include: {db}.*"), "--metrics_type=slf4j".into(), "--metrics_slf4j_interval=2".into()]);
    wait_streaming(&m);
    write_rows(&db, 40, 4).await;
    wait_for(20, "a report of 40 rows", || m.stderr().contains("name=MaxwellMetrics.row.count count=40").then_some(()));
    // Two more reports after that one.
    let reports = |log: &str| log.lines().filter(|l| l.contains("name=MaxwellMetrics.row.count ")).map(str::to_string).collect::<Vec<_>>();
    let seen = reports(&m.stderr()).len();
    let log = wait_for(10, "two more reports", || Some(m.stderr()).filter(|l| reports(l).len() >= seen + 2));
    let at: Vec<f64> = reports(&log).iter().map(|l| seconds_of(l)).collect();
    for w in at.windows(2) {
        assert!((1.8..2.5).contains(&(w[1] - w[0])), "reports {:.3} s apart, the interval is 2 s: {at:?}", w[1] - w[0]);
    }
    // Every metric, with Dropwizard's Slf4jReporter's fields, in one report.
    let last = log.lines().rev().find(|l| l.contains("name=MaxwellMetrics.row.count ")).unwrap();
    let report: Vec<&str> = log.lines().filter(|l| l.contains("maxwell_ha::metrics: metric") && (seconds_of(l) - seconds_of(last)).abs() < 0.2).collect();
    for (kind, name, field) in [
        ("GAUGE", "replication.lag", "value="),
        ("COUNTER", "messages.succeeded", "count=40"),
        ("COUNTER", "messages.failed", "count=0"),
        ("COUNTER", "row.count", "count=40"),
        ("HISTOGRAM", "transaction.row_count", "count=10"),
        ("METER", "row.meter", "m15="),
        ("METER", "messages.succeeded.meter", "count=40"),
        ("METER", "messages.failed.meter", "rate_unit=\"events/second\""),
        ("TIMER", "message.publish.time", "duration_unit=\"milliseconds\""),
        ("TIMER", "message.publish.age", "count=10"),
    ] {
        let l = log
            .lines()
            .rev()
            .find(|l| l.contains(&format!("name=MaxwellMetrics.{name} ")))
            .unwrap_or_else(|| panic!("{name} never logged:\n{}", tail(&log, 30)));
        assert!(l.contains(&format!("type=\"{kind}\"")) && l.contains(field), "{name}: {l}");
    }
    assert_eq!(report.len(), 10, "one line per metric in a report: {report:#?}");
    let _ = m.terminate();
}

/// A cluster node (alone in its cluster) streaming `db` to Kafka through `bootstrap`, with
/// `/diagnostic`; its log goes to a file.
fn cluster_node(root: &str, topic: &str, db: &str, bootstrap: &str, http: u16, log: &std::path::Path) -> Child {
    let mut args = ha_node_args(root, "d1", 7401);
    args.extend([
        format!("--http_port={http}"),
        "--http_diagnostic=true".into(),
        "--http_diagnostic_timeout=3000".into(),
        format!("--filter=exclude: *.*, include: {db}.*"),
        "--producer=kafka".into(),
        format!("--kafka.bootstrap.servers={bootstrap}"),
        format!("--kafka_topic={topic}"),
    ]);
    Command::new(env!("CARGO_BIN_EXE_maxwell")).args(args).stdout(Stdio::null()).stderr(std::fs::File::create(log).unwrap()).spawn().unwrap()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET with extra request headers: (status, response head, body, time taken).
fn get(port: u16, path: &str, headers: &[&str]) -> (u16, String, String, Duration) {
    use std::io::{Read, Write};
    let t0 = Instant::now();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{extra}\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let (head, body) = buf.split_once("\r\n\r\n").unwrap();
    (head.split_whitespace().nth(1).unwrap().parse().unwrap(), head.to_ascii_lowercase(), body.to_string(), t0.elapsed())
}

fn check<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name} check: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnostic_answers_success_and_names_the_failing_check() {
    let (topic, db) = (unique("ddiag"), unique("ddiag"));
    create_topic(&topic, 1);
    create_db(&db).await;
    let dir = std::env::temp_dir();
    let (up_log, down_log) = (dir.join(format!("{db}-up.log")), dir.join(format!("{db}-down.log")));
    let (up, down) = (free_port(), free_port());
    let _up = Killed(cluster_node(&format!("/it/{}", unique("diagup")), &topic, &db, &kafka_bootstrap(), up, &up_log));
    let closed = free_port();
    let _down = Killed(cluster_node(&format!("/it/{}", unique("diagdown")), &topic, &db, &format!("127.0.0.1:{closed}"), down, &down_log));
    let log = |p: &std::path::Path| tail(&std::fs::read_to_string(p).unwrap_or_default(), 20);

    // All services up: 200, every check a success, within the timeout.
    wait_for(40, "the node to stream", || {
        let (code, body) = http_get(up, "/api/status")?;
        (code == 200 && body.contains("\"streaming\":true")).then_some(())
    });
    let (code, head, body, took) = get(up, "/diagnostic", &[]);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(code, 200, "{body}\n{}", log(&up_log));
    assert!(head.contains("content-type: text/json") && head.contains("cache-control: must-revalidate,no-cache,no-store"), "{head}");
    assert!(
        body.starts_with(r#"{"success":true,"checks":[{"name":"binlog-connector","success":true,"mandatory":true,"resource":"127.0.0.1:"#),
        "Maxwell's shape: {body}"
    );
    for name in ["binlog-connector", "kafka-producer", "zookeeper"] {
        let c = check(&v, name);
        assert!(c["success"] == true && c["mandatory"] == true && c["message"].is_string() && c.get("error").is_none(), "{c}");
    }
    assert!(check(&v, "binlog-connector")["message"].as_str().unwrap().starts_with("Binlog replication lag is "), "{v}");
    assert_eq!(check(&v, "kafka-producer")["resource"], kafka_bootstrap());
    assert_eq!(check(&v, "zookeeper")["resource"], zk_servers());
    assert!(took < Duration::from_secs(3), "{took:?}");
    eprintln!("all up: answered in {took:?}: {body}");

    // The brokers cannot be reached: 503, the Kafka check failing and named, within the timeout.
    wait_for(30, "the second node's HTTP", || http_get(down, "/api/status").filter(|(c, _)| *c == 200));
    let (code, _, body, took) = get(down, "/diagnostic", &[]);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(code, 503, "{body}\n{}", log(&down_log));
    assert_eq!(v["success"], false);
    let k = check(&v, "kafka-producer");
    assert_eq!((&k["success"], &k["mandatory"]), (&serde_json::json!(false), &serde_json::json!(true)), "{k}");
    let e = k["error"].as_str().unwrap();
    assert!(e.contains(&format!("127.0.0.1:{closed}")) && e.contains("Connection refused"), "{e}");
    assert_eq!(check(&v, "zookeeper")["success"], true, "{v}");
    assert!(took < Duration::from_millis(3000 + 500), "answered in {took:?}, the timeout is 3000 ms");
    eprintln!("brokers down: answered in {took:?}: {body}");

    // Maxwell's other shapes, on the streaming node.
    let (code, head, body, _) = get(up, "/metrics", &["Accept: application/json"]);
    assert!(code == 200 && head.contains("content-type: application/json"), "{head}");
    assert!(body.starts_with(r#"{"version":"3.0.0","gauges":{"#), "{body}");
    let j: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(j["gauges"]["MaxwellMetrics.inflightmessages.count"]["value"].is_number(), "a Kafka node has the in-flight gauge: {j}");
    assert!(
        j["counters"]["MaxwellMetrics.row.count"]["count"].is_number() && j["timers"]["MaxwellMetrics.message.publish.time"]["duration_units"] == "seconds",
        "{j}"
    );
    let (code, head, body, _) = get(up, "/metrics", &[]);
    assert!(code == 200 && head.contains("text/plain") && body.contains("# TYPE maxwell_rows_total counter"), "Prometheus by default: {head}");
    let (code, head, body, _) = get(up, "/healthcheck", &[]);
    assert_eq!((code, body.as_str()), (200, r#"{"MaxwellHealth":{"healthy":true,"message":"streaming"}}"#));
    assert!(head.contains("content-type: application/json"), "{head}");
    let (code, head, body, _) = get(up, "/ping", &[]);
    assert_eq!((code, body.as_str()), (200, "pong\n"));
    assert!(head.contains("content-type: text/plain"), "{head}");
    // Healthy is ready: a node that cannot reach its brokers stands by (200) or, trying to
    // lead, is not ready (500, as Dropwizard answers an unhealthy check).
    let (ready, _) = http_get(down, "/readyz").unwrap();
    let (code, _, body, _) = get(down, "/healthcheck", &[]);
    assert_eq!((code, body.contains(r#""healthy":true"#)), if ready == 200 { (200, true) } else { (500, false) }, "{body}");
    let _ = (std::fs::remove_file(&up_log), std::fs::remove_file(&down_log));
}
