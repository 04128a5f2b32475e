//! Every option of Zendesk's Maxwell, as its own parser declares them, through this parser.
//!
//! The list is read at test time from Maxwell's `MaxwellConfig` class (the jar fetched from
//! Maven Central by `scripts/maxwell-ref.sh options`), not typed in here. Each option must be
//! accepted with a value of its kind, alone or with the options it needs, and have a line in
//! `config/config.properties.example` — except the options of producers this project does not
//! have, which must be refused with the message that says so.

use maxwell_ha::config::{Config, Kind, Settings, KEYS};

/// Producers Maxwell has and this project does not: their options stay refused.
fn other_producer(name: &str) -> bool {
    ["kinesis_", "sqs_", "pubsub_", "ddl_pubsub_", "rabbitmq_", "redis_", "nats_", "bigquery_"].iter().any(|p| name.starts_with(p))
        || matches!(name, "custom_producer.factory" | "output_file")
}

fn maxwell_options() -> Vec<String> {
    let out = std::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/maxwell-ref.sh"))
        .arg("options")
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "scripts/maxwell-ref.sh options: {}", String::from_utf8_lossy(&out.stderr));
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    // Maxwell 1.22.6 declares 115; far fewer means the extraction broke, not that all passed.
    assert!(names.len() >= 100 && names.iter().any(|n| n == "kafka.bootstrap.servers"), "options read from Maxwell: {names:?}");
    names
}

/// A value of the option's kind that means something (a string option's value is what a
/// Maxwell user would write).
fn sample(name: &str, kind: Kind) -> String {
    if name == "metrics_datadog_type" {
        // DogStatsD over UDP; Maxwell's `http` (Datadog's HTTP API) is refused with what to run.
        return "udp".into();
    }
    match kind {
        Kind::Bool => "true".into(),
        Kind::Int { min, max } => (if name.contains("port") { 3306 } else { min.max(1).min(max) }).to_string(),
        Kind::OneOf(values) => values.last().unwrap().to_string(),
        Kind::Str => match name {
            "filter" => "exclude: *.*, include: shop.*".into(),
            "init_position" => "mysql-bin.000001:4".into(),
            n if n.ends_with("host") || n.ends_with("address") => "127.0.0.1".into(),
            "include_column_values" => "status=active".into(),
            "jdbc_options" => "connectTimeout=1000&useSSL=false".into(),
            "kafka.bootstrap.servers" => "127.0.0.1:9092".into(),
            "kafka_partition_columns" | "producer_partition_columns" => "id".into(),
            "kafka_partition_by" => "table".into(),
            "kafka_partition_by_fallback" => "database".into(),
            "metrics_type" => "http".into(),
            "secret_key" => "0123456789abcdef".into(),
            "javascript" => filter_script().display().to_string(),
            "env_config_prefix" => "MAXWELL_OPTIONS_TEST_".into(),
            "config" => std::env::temp_dir().join("maxwell-options-empty.properties").display().to_string(),
            _ => "maxwell_x".into(),
        },
    }
}

/// The options `name` needs beside it to mean anything (as in Maxwell).
fn companions(name: &str) -> Vec<String> {
    let mut c = Vec::new();
    if name.starts_with("kafka") || name.starts_with("producer_partition") || name == "producer" || matches!(name, "ddl_kafka_topic" | "dead_letter_topic" | "producer_ack_timeout") {
        c.extend(["--producer=kafka".to_string(), "--kafka.bootstrap.servers=127.0.0.1:9092".into()]);
    }
    if name.ends_with("partition_columns") {
        c.extend(["--producer_partition_by=column".to_string(), "--producer_partition_by_fallback=database".into()]);
    }
    if name.starts_with("replication_") {
        c.extend(["--replication_host=127.0.0.1".to_string(), "--replication_user=repl".into()]);
    }
    if name.starts_with("http_") && name != "http_port" {
        c.push("--http_port=18080".into());
    }
    if name == "http_diagnostic_timeout" {
        c.push("--http_diagnostic=true".into());
    }
    if name.starts_with("metrics_datadog") {
        c.push("--metrics_type=datadog".into());
    }
    if name == "metrics_slf4j_interval" {
        c.push("--metrics_type=slf4j".into());
    }
    if name == "encrypt" {
        c.push("--secret_key=0123456789abcdef".into());
    }
    c
}

/// A JavaScript filter file as Maxwell's documentation writes one.
fn filter_script() -> std::path::PathBuf {
    let p = std::env::temp_dir().join("maxwell-options-filter.js");
    std::fs::write(&p, "function process_row(row) {\n  if (row.database == 'shop' && row.table == 'secrets') row.suppress();\n}\n").unwrap();
    p
}

#[test]
fn every_maxwell_option_is_taken_with_its_meaning() {
    std::fs::write(std::env::temp_dir().join("maxwell-options-empty.properties"), "").unwrap();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/config.properties.example")).unwrap();
    let dir = std::env::temp_dir();
    let mut failures = Vec::new();
    let mut taken = 0;
    for name in maxwell_options() {
        if name == "help" {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_maxwell")).arg("--help").output().unwrap();
            if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("usage") {
                failures.push("--help does not print the usage".to_string());
            }
            continue;
        }
        let arg = |v: &str| format!("--{name}={v}");
        if other_producer(&name) {
            match Settings::load_from(&["--user=maxwell".to_string(), arg("x")], &dir, Vec::new()) {
                Err(e) if e.to_string().contains("producer") => {}
                other => failures.push(format!("{name}: another producer's option should be refused naming the producers, got {other:?}")),
            }
            continue;
        }
        let Some(spec) = KEYS.iter().find(|k| k.name == name) else {
            let e = Settings::load_from(&[arg("x")], &dir, Vec::new()).err().map(|e| e.to_string()).unwrap_or_default();
            failures.push(format!("{name}: not a key here ({e})"));
            continue;
        };
        let mut args = vec!["--user=maxwell".to_string()];
        args.extend(companions(&name));
        args.push(arg(&sample(&name, spec.kind)));
        match Settings::load_from(&args, &dir, Vec::new()).and_then(|s| Config::from_settings(&s)) {
            Ok(_) => taken += 1,
            Err(e) => failures.push(format!("{name}: {args:?} refused: {e}")),
        }
        if !example.lines().any(|l| l.starts_with(&format!("#{name}=")) || l.starts_with(&format!("{name}="))) {
            failures.push(format!("{name}: no line in config/config.properties.example"));
        }
    }
    assert!(failures.is_empty(), "{} of Maxwell's options taken; these are not:\n{}", taken, failures.join("\n"));
}

/// Options Maxwell added after 1.22.6 (its current `MaxwellConfig`; only 1.22.6 is on Maven
/// Central, so these are listed here): each is taken with a value a Maxwell user would write,
/// beside the options it needs, and has a line in the example file. `row_query_max_length`
/// is covered where it is implemented.
#[test]
fn newer_maxwell_options_are_taken() {
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/config.properties.example")).unwrap();
    let dir = std::env::temp_dir();
    let zk = "--zookeeper_servers=127.0.0.1:2181".to_string();
    let cases: &[(&str, &str, Vec<String>)] = &[
        ("output_push_timestamp", "true", vec![]),
        ("output_naming_strategy", "underscore_to_camelcase", vec![]),
        ("producer_partition_by", "thread_id", vec!["--producer=kafka".into(), "--kafka.bootstrap.servers=127.0.0.1:9092".into()]),
        ("producer_partition_by_fallback", "transaction_id", vec!["--producer=kafka".into(), "--kafka.bootstrap.servers=127.0.0.1:9092".into(), "--producer_partition_by=column".into(), "--producer_partition_columns=id".into()]),
        ("binlog_heartbeat", "true", vec![]),
        ("replication_reconnection_retries", "5", vec![]),
        ("buffer_memory_usage", "0.25", vec![]),
        ("binlog_event_queue_size", "5000", vec![]),
        ("ignore_missing_schema", "true", vec![]),
        ("env_config", "MAXWELL_NEWER_OPTIONS_TEST_JSON", vec![]),
        ("http_config", "true", vec![]),
        ("ha", "true", vec![zk.clone()]),
        ("jgroups_config", "raft.xml", vec!["--ha=true".into(), zk.clone()]),
        ("raft_member_id", "maxwell-1", vec!["--ha=true".into(), zk.clone()]),
        ("replication_jdbc_options", "connectTimeout=1000&useSSL=false", vec!["--replication_host=127.0.0.1".into(), "--replication_user=repl".into()]),
        ("schema_jdbc_options", "connectTimeout=1000", vec![]),
    ];
    let env = vec![("MAXWELL_NEWER_OPTIONS_TEST_JSON".to_string(), r#"{"output_ddl":true}"#.to_string())];
    let mut failures = Vec::new();
    for (name, value, with) in cases {
        let mut args = vec!["--user=maxwell".to_string()];
        args.extend(with.iter().cloned());
        args.push(format!("--{name}={value}"));
        if let Err(e) = Settings::load_from(&args, &dir, env.clone()).and_then(|s| Config::from_settings(&s)) {
            failures.push(format!("{name}: {args:?} refused: {e}"));
        }
        if !example.lines().any(|l| l.starts_with(&format!("#{name}="))) {
            failures.push(format!("{name}: no line in config/config.properties.example"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

mod common;
use common::*;
use std::time::Duration;

fn run(args: &[String]) -> Maxwell {
    spawn_plain(args)
}

/// Maxwell's documented configurations, unchanged but for where the test services listen
/// (given on the command line, which overrides the file as in Maxwell): the quickstart's
/// stdout command line, the top of Maxwell's `config.properties.example` (Kafka, with its
/// Java client settings `compression.type=snappy`, `metadata.fetch.timeout.ms`, `retries=0`,
/// `acks=1`) and its old-style filter keys with a regular expression. Each starts and streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxwells_example_configurations_start_and_stream() {
    let tag = unique("mxexample");
    let mut c = conn().await;
    // The quickstart's account: `maxwell` with Maxwell's grants.
    exec(&mut c, "CREATE USER IF NOT EXISTS 'maxwell'@'127.0.0.1' IDENTIFIED BY 'maxwell'").await;
    exec(&mut c, "GRANT ALL ON maxwell.* TO 'maxwell'@'127.0.0.1'").await;
    exec(&mut c, "GRANT SELECT, REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO 'maxwell'@'127.0.0.1'").await;
    for db in ["a", "db7", "other"] {
        exec(&mut c, &format!("CREATE DATABASE {tag}_{db}")).await;
        exec(&mut c, &format!("CREATE TABLE {tag}_{db}.t (id INT PRIMARY KEY, v VARCHAR(20))")).await;
    }
    let here = |start: &str| vec![format!("--port={}", mysql_port()), format!("--client_id={tag}"), format!("--init_position={start}"), "--replica_server_id=7001".to_string()];
    let dir = std::env::temp_dir().join(&tag);
    std::fs::create_dir_all(&dir).unwrap();

    // 1. Quickstart: bin/maxwell --user='maxwell' --password='XXXXXX' --host='127.0.0.1' --producer=stdout
    let start = current_position();
    let mut args = vec!["--user=maxwell".to_string(), "--password=maxwell".into(), "--host=127.0.0.1".into(), "--producer=stdout".into()];
    args.extend(here(&start));
    let mut m = run(&args);
    exec(&mut c, &format!("INSERT INTO {tag}_a.t VALUES (5, 'firebus!')")).await;
    let rows = m.read_until(Duration::from_secs(60), |r| r["database"] == format!("{tag}_a"));
    assert_eq!(rows.last().unwrap()["data"]["v"], "firebus!");
    drop(m);

    // 2. The top of Maxwell's config.properties.example, unchanged.
    let topic = format!("{tag}_topic");
    create_topic(&topic, 1);
    let file = dir.join("config.properties");
    std::fs::write(
        &file,
        "# tl;dr config\nlog_level=info\n\nproducer=kafka\nkafka.bootstrap.servers=localhost:9092\n\n# mysql login info\nhost=localhost\nuser=maxwell\npassword=maxwell\n\n\
         kafka.compression.type=snappy\nkafka.metadata.fetch.timeout.ms=5000\nkafka.retries=0\nkafka.acks=1\n",
    )
    .unwrap();
    let start = current_position();
    let mut args = vec![format!("--config={}", file.display()), "--host=127.0.0.1".into(), format!("--kafka.bootstrap.servers={}", kafka_bootstrap()), format!("--kafka_topic={topic}")];
    args.extend(here(&start));
    let m = run(&args);
    exec(&mut c, &format!("INSERT INTO {tag}_a.t VALUES (6, 'to kafka')")).await;
    let got = consume(&[topic.clone()], 1, 60, "database", "default");
    let stderr = m.stderr();
    drop(m);
    assert!(got.iter().any(|r| r["value"]["data"]["v"] == "to kafka"), "{got:?}\n{stderr}");
    assert!(stderr.contains("metadata.fetch.timeout.ms"), "one warning names the Java-only setting:\n{stderr}");

    // 3. Old-style filter keys, as in Maxwell's example file (a name and a /regex/).
    let file = dir.join("filter.properties");
    std::fs::write(&file, format!("user=maxwell\npassword=maxwell\nhost=127.0.0.1\nproducer=stdout\ninclude_dbs={tag}_a,/{tag}_db\\\\d+/\n")).unwrap();
    let start = current_position();
    let mut args = vec![format!("--config={}", file.display())];
    args.extend(here(&start));
    let mut m = run(&args);
    for db in ["other", "a", "db7"] {
        exec(&mut c, &format!("INSERT INTO {tag}_{db}.t VALUES (7, '{db}')")).await;
    }
    let rows = m.read_until(Duration::from_secs(60), |r| r["database"] == format!("{tag}_db7"));
    let dbs: Vec<&str> = rows.iter().filter_map(|r| r["data"]["v"].as_str()).collect();
    assert_eq!(dbs, vec!["a", "db7"], "include_dbs passes its databases and no other");
    let stderr = m.stderr();
    assert!(stderr.contains("filter=blacklist") || stderr.contains(&format!("filter=exclude: *.*, include: {tag}_a.*")), "the warning gives the filter line:\n{stderr}");
    drop(m);
    for db in ["a", "db7", "other"] {
        exec(&mut c, &format!("DROP DATABASE {tag}_{db}")).await;
    }
}
