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
    c
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
