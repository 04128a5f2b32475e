//! MariaDB → broker throughput next to the ceiling of a bare rdkafka producer, for
//! `scripts/bench.sh kafka`. A benchmark, not a test.
//!
//!   bench_kafka ceiling --kafka.bootstrap.servers=H:P --kafka_topic=T --rows=N --bytes=S
//!   bench_kafka pipeline --from=FILE:POS [maxwell keys...]   (reads to the end of the binlog)
//!
//! Both use the same producer settings (acks=all, idempotent, linger 5 ms) and count a row
//! only once the broker acknowledged it.

use maxwell_ha::binlog::decoder::DecoderConfig;
use maxwell_ha::binlog::reader::Reader;
use maxwell_ha::config::{Config, Settings};
use maxwell_ha::sink::kafka::{client_config, KafkaSink};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.remove(0);
    let mut take = |name: &str| -> Option<String> {
        let i = args.iter().position(|a| a.starts_with(&format!("--{name}=")))?;
        Some(args.remove(i).split_once('=').unwrap().1.to_string())
    };
    let rows: usize = take("rows").map(|r| r.parse().unwrap()).unwrap_or(100_000);
    let bytes: usize = take("bytes").map(|r| r.parse().unwrap()).unwrap_or(300);
    let from = take("from");
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
        let t0 = Instant::now();
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
            "pipeline" => {
                let dcfg = DecoderConfig { output: cfg.output.clone(), filter: cfg.filter.clone(), ..Default::default() };
                let mut reader = Reader::open(cfg.source.clone(), dcfg, &cfg.init_position).await.expect("open");
                reader.non_blocking = true;
                let (tx, mut rx) = tokio::sync::mpsc::channel(256);
                let cancel = CancellationToken::new();
                let read = tokio::spawn(async move { reader.run(false, &cancel, &tx).await });
                let mut sink = KafkaSink::new(&kcfg, false, None).expect("sink");
                let mut n = 0usize;
                while let Some(t) = rx.recv().await {
                    n += t.row_ends.len();
                    sink.send(t).await.expect("send");
                }
                read.await.unwrap().expect("read");
                let (_, err) = sink.drain().await;
                assert!(err.is_none(), "{err:?}");
                n
            }
            m => panic!("unknown mode {m}"),
        };
        let secs = t0.elapsed().as_secs_f64();
        println!("{{\"mode\":\"{mode}\",\"rows\":{n},\"seconds\":{secs:.3},\"rows_per_sec\":{:.0}}}", n as f64 / secs);
    });
}
