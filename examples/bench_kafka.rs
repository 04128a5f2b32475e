//! MariaDB → broker throughput next to the ceiling of a bare rdkafka producer, for
//! `scripts/bench.sh kafka`. A benchmark, not a test.
//!
//!   bench_kafka ceiling --kafka.bootstrap.servers=H:P --kafka_topic=T --rows=N --bytes=S
//!   bench_kafka pipeline --from=FILE:POS [maxwell keys...]   (reads to the end of the binlog)
//!   bench_kafka pipeline-eos --from=FILE:POS [maxwell keys...]  the same in exactly-once mode
//!       (Kafka transactions every 100 ms with a checkpoint record, as a cluster leader writes)
//!   bench_kafka latency --rate=10000 --seconds=20 [maxwell keys...]
//!       writes `--rate` rows/s (transactions of 100 rows) into `bench.lat` for `--seconds` while
//!       streaming them to Kafka; per transaction, the time from the writer's COMMIT returning
//!       to the broker acknowledging every row of it: p50/p99/max (an ack that comes back
//!       before the writer saw its COMMIT return counts as 0 ms). Bounded: `--seconds` + 60 s;
//!       transactions not acknowledged by then are reported as `missing`.
//!   bench_kafka latency-eos ...   the same in exactly-once mode (to the Kafka commit)
//!
//! All use the same producer settings (acks=all, idempotent, linger 5 ms) and count a row
//! only once the broker acknowledged it.

use maxwell_ha::source::decoder::DecoderConfig;
use maxwell_ha::source::reader::Reader;
use maxwell_ha::config::{Config, Settings};
use maxwell_ha::sink::kafka::{client_config, KafkaSink};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    }
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.remove(0);
    let mut take = |name: &str| -> Option<String> {
        let i = args.iter().position(|a| a.starts_with(&format!("--{name}=")))?;
        Some(args.remove(i).split_once('=').unwrap().1.to_string())
    };
    let rows: usize = take("rows").map(|r| r.parse().unwrap()).unwrap_or(100_000);
    let bytes: usize = take("bytes").map(|r| r.parse().unwrap()).unwrap_or(300);
    let from = take("from");
    let rate: u64 = take("rate").map(|r| r.parse().unwrap()).unwrap_or(10_000);
    let seconds: u64 = take("seconds").map(|r| r.parse().unwrap()).unwrap_or(20);
    if let Some(f) = from {
        args.push(format!("--init_position={f}"));
    }
    args.push("--producer=kafka".into());
    if !args.iter().any(|a| a.starts_with("--user=")) {
        args.push("--user=root".into());
    }
    let cfg = Config::from_settings(&Settings::load(&args).expect("args")).expect("config");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let kcfg = cfg.kafka.clone().expect("kafka settings");
        let mut t0 = Instant::now();
        let n = match mode.as_str() {
            "ceiling" => {
                let producer: FutureProducer = client_config(&kcfg.props).unwrap().create().unwrap();
                // Same shape as the pipeline's messages: a value of the average row size, a
                // Maxwell hash key and the four maxwell.* headers.
                let payload = vec![b'x'; bytes];
                let keys: Vec<String> = (0..rows).map(|i| format!("{{\"database\":\"bench\",\"table\":\"t\",\"pk.id\":{i}}}")).collect();
                let mut futs = Vec::with_capacity(rows);
                for (i, key) in keys.iter().enumerate() {
                    let row = (i % 1000).to_string();
                    let headers = rdkafka::message::OwnedHeaders::new_with_capacity(4)
                        .insert(rdkafka::message::Header { key: "maxwell.position", value: Some("mysql-bin.000001:12345678") })
                        .insert(rdkafka::message::Header { key: "maxwell.row", value: Some(row.as_str()) })
                        .insert(rdkafka::message::Header { key: "maxwell.rows", value: Some("1000") })
                        .insert(rdkafka::message::Header { key: "maxwell.gtid", value: Some("0-1-12345") });
                    let mut rec = FutureRecord::to(&kcfg.routing.topic).payload(&payload[..]).key(key).headers(headers);
                    loop {
                        match producer.send_result(rec) {
                            Ok(f) => {
                                futs.push(f);
                                break;
                            }
                            Err((_, r)) => {
                                rec = r;
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                        }
                    }
                }
                for f in futs {
                    f.await.unwrap().expect("delivered");
                }
                producer.flush(Duration::from_secs(30)).unwrap();
                rows
            }
            "pipeline" | "pipeline-eos" => {
                let dcfg = DecoderConfig { output: cfg.output.clone(), filter: cfg.filter.clone(), ..Default::default() };
                let mut reader = Reader::open(cfg.source.clone(), dcfg, &cfg.init_position, None).await.expect("open");
                reader.non_blocking = true;
                let mut sink = if mode == "pipeline-eos" {
                    eos_sink(&kcfg, reader.resume.clone()).await
                } else {
                    KafkaSink::new(&kcfg, None, None, Default::default()).expect("sink")
                };
                sink.checkpoint_now().await.expect("first checkpoint");
                // Timed from here: both modes with a connected, ready producer.
                t0 = Instant::now();
                let (tx, mut rx) = tokio::sync::mpsc::channel(256);
                let cancel = CancellationToken::new();
                let read = tokio::spawn(async move { reader.run(false, &cancel, &tx).await });
                let mut n = 0usize;
                while let Some(t) = rx.recv().await {
                    n += t.row_ends.len();
                    sink.send_more(t, rx.len()).await.expect("send");
                }
                read.await.unwrap().expect("read");
                let (_, err) = sink.drain().await;
                assert!(err.is_none(), "{err:?}");
                n
            }
            "latency" | "latency-eos" => {
                let json = latency(&cfg, kcfg, rate, seconds, mode == "latency-eos").await;
                println!("{json}");
                return;
            }
            m => panic!("unknown mode {m}"),
        };
        let secs = t0.elapsed().as_secs_f64();
        println!("{{\"mode\":\"{mode}\",\"rows\":{n},\"seconds\":{secs:.3},\"rows_per_sec\":{:.0}}}", n as f64 / secs);
    });
}

/// An exactly-once sink as a cluster leader has one: transactional producer claimed, checkpoint
/// topic ready.
async fn eos_sink(kcfg: &maxwell_ha::sink::kafka::KafkaConfig, start: maxwell_ha::binlog::position::ResumePoint) -> KafkaSink {
    use maxwell_ha::sink::kafka::{checkpoint, create_transactional_producer, transactions, TxnSettings};
    let id = format!("maxwell-ha.bench.{}", std::process::id());
    let topic = checkpoint::default_topic(&id);
    checkpoint::ensure_topic(&kcfg.props, &topic).await.expect("checkpoint topic");
    let producer = create_transactional_producer(kcfg, &id).expect("producer");
    transactions::init(&producer, Duration::from_secs(30)).await.expect("init_transactions");
    let settings = TxnSettings {
        checkpoint_topic: topic,
        key: id,
        epoch: 1,
        node_id: "bench".into(),
        interval: Duration::from_millis(100),
        max_rows: 100_000,
        timeout: Duration::from_secs(30),
    };
    KafkaSink::exactly_once(kcfg, producer, settings, start, None, None, Default::default())
}

const LAT_TX_ROWS: u64 = 100;

/// Live MariaDB → Kafka at a fixed row rate: commit-to-acknowledgement latency per transaction.
async fn latency(cfg: &Config, kcfg: maxwell_ha::sink::kafka::KafkaConfig, rate: u64, seconds: u64, eos: bool) -> String {
    use mysql_async::prelude::Queryable;
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(cfg.source.host.clone())
        .tcp_port(cfg.source.port)
        .user(Some(cfg.source.user.clone()))
        .pass(Some(cfg.source.password.clone()))
        .prefer_socket(false);
    let mut conn = mysql_async::Conn::new(opts).await.expect("connect");
    conn.query_drop("CREATE TABLE IF NOT EXISTS bench.lat (id BIGINT PRIMARY KEY, tx BIGINT, pad VARCHAR(200))").await.unwrap();
    conn.query_drop("TRUNCATE bench.lat").await.unwrap();
    let row: mysql_async::Row = conn.query_first("SHOW MASTER STATUS").await.unwrap().unwrap();
    let start = maxwell_ha::binlog::position::StartPosition::File(format!("{}:{}", row.get::<String, _>(0).unwrap(), row.get::<u64, _>(1).unwrap()).parse().unwrap());
    let dcfg = DecoderConfig { output: cfg.output.clone(), filter: cfg.filter.clone(), ..Default::default() };
    let mut reader = Reader::open(cfg.source.clone(), dcfg, &start, None).await.expect("open");
    let mut sink = if eos { eos_sink(&kcfg, reader.resume.clone()).await } else { KafkaSink::new(&kcfg, None, None, Default::default()).expect("sink") };
    sink.checkpoint_now().await.expect("first checkpoint");
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let read = tokio::spawn(async move { reader.run(false, &stop, &tx).await });
    let committed: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let txs = rate * seconds / LAT_TX_ROWS;
    let period = Duration::from_secs_f64(LAT_TX_ROWS as f64 / rate as f64);
    let log = committed.clone();
    let writer = tokio::spawn(async move {
        let pad = "p".repeat(120);
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        for t in 0..txs {
            tick.tick().await;
            let values: Vec<String> = (0..LAT_TX_ROWS).map(|i| format!("({}, {t}, '{pad}')", t * LAT_TX_ROWS + i)).collect();
            conn.query_drop(format!("INSERT INTO bench.lat VALUES {}", values.join(","))).await.unwrap();
            log.lock().unwrap().insert(t, Instant::now());
        }
    });
    let order: Arc<Mutex<VecDeque<(maxwell_ha::binlog::BinlogPosition, u64)>>> = Arc::default();
    let mut acked = sink.acked();
    let pending = order.clone();
    // Every acknowledged transaction's ack instant, kept until the end: an ack can come back
    // before the writer has recorded its commit instant (the INSERT's answer races the binlog).
    let measure = tokio::spawn(async move {
        let mut acks: HashMap<u64, Instant> = HashMap::with_capacity(txs as usize);
        while (acks.len() as u64) < txs {
            if acked.changed().await.is_err() {
                break;
            }
            let now = Instant::now();
            let Some(point) = acked.borrow_and_update().clone() else { continue };
            let mut q = pending.lock().unwrap();
            while q.front().is_some_and(|(p, _)| *p <= point.position) {
                let (_, t) = q.pop_front().unwrap();
                acks.entry(t).or_insert(now);
            }
        }
        acks
    });
    let measure_abort = measure.abort_handle();
    // The whole run is bounded: the writer's time plus a minute for the last acks.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds + 60);
    let mut seen = 0u64;
    loop {
        // As a leader streams: an open Kafka transaction also commits on time while idle.
        let due = sink.next_commit().map(tokio::time::Instant::from_std);
        let t = tokio::select! {
            _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                sink.commit_if_due().await.expect("commit");
                continue;
            }
            _ = tokio::time::sleep(Duration::from_millis(50)), if seen >= txs || tokio::time::Instant::now() >= deadline => {
                if measure.is_finished() || tokio::time::Instant::now() >= deadline { break; }
                continue;
            }
            t = rx.recv() => t,
        };
        let Some(t) = t else { break };
        let first = &t.json[..t.row_ends.first().copied().unwrap_or(0)];
        let v: serde_json::Value = serde_json::from_slice(first).unwrap_or_default();
        if v["table"] == "lat" && v["type"] == "insert" {
            order.lock().unwrap().push_back((t.position.clone(), v["data"]["tx"].as_u64().unwrap()));
            seen += 1;
        }
        sink.send_more(t, rx.len()).await.expect("send");
    }
    writer.await.unwrap();
    measure_abort.abort();
    let acks = measure.await.unwrap_or_default();
    let commits = committed.lock().unwrap().clone();
    let mut lat: Vec<Duration> = acks.iter().filter_map(|(t, ack)| commits.get(t).map(|at| ack.saturating_duration_since(*at))).collect();
    let missing = txs - lat.len() as u64;
    if missing > 0 {
        eprintln!("latency: {missing} of {txs} transactions were not acknowledged by the deadline (the writer's {seconds} s + 60 s; {seen} seen in the binlog)");
    }
    cancel.cancel();
    let _ = sink.drain().await;
    let _ = read.await;
    lat.sort();
    let pct = |q: f64| match lat.len() {
        0 => "null".to_string(),
        n => format!("{:.1}", lat[((n as f64 * q).ceil() as usize).clamp(1, n) - 1].as_secs_f64() * 1000.0),
    };
    format!(
        "{{\"mode\":\"{}\",\"rows_per_sec\":{rate},\"transactions\":{},\"missing\":{missing},\"rows_per_transaction\":{LAT_TX_ROWS},\"p50_ms\":{},\"p99_ms\":{},\"max_ms\":{}}}",
        if eos { "latency-eos" } else { "latency" },
        lat.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    )
}
