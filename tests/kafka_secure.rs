//! Kafka over TLS with SASL, as Maxwell users configure it: the test broker's SASL_SSL listener
//! (a self-signed certificate for 127.0.0.1, verified with its CA file; SCRAM users made by an
//! independent admin client). A node alone writes through it — SCRAM-SHA-256 given the Java
//! client's way (`kafka.sasl.jaas.config`), PLAIN the librdkafka way — and an independent
//! consumer on the plaintext listener finds every row. A wrong password stops the node with
//! one error that names authentication.

mod common;

use common::*;
use std::time::Duration;

/// A node alone streaming `db` to `topic` through the SASL_SSL listener, from `start`.
fn secure_args(db: &str, topic: &str, start: &str, bootstrap: &str, ca: &str) -> Vec<String> {
    vec![
        format!("--init_position={start}"),
        format!("--filter=exclude: *.*, include: {db}.*"),
        "--producer=kafka".into(),
        format!("--kafka.bootstrap.servers={bootstrap}"),
        format!("--kafka_topic={topic}"),
        "--kafka.security.protocol=SASL_SSL".into(),
        format!("--kafka.ssl.ca.location={ca}"),
    ]
}

fn secure() -> (String, String) {
    let out = script("kafka.sh", &["secure"]);
    let mut it = out.split_whitespace();
    (it.next().unwrap().to_string(), it.next().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_ssl_with_scram_and_plain() {
    let (bootstrap, ca) = secure();
    let user = unique("mxw");
    let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka_tool.py");
    let out = std::process::Command::new("python3").args([tool, &kafka_bootstrap(), "scram", &user, "scram-secret"]).output().unwrap();
    assert!(out.status.success(), "creating SCRAM user: {}", String::from_utf8_lossy(&out.stderr));

    let db = unique("sec");
    let mut c = conn().await;
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, v VARCHAR(20))")).await;
    let ways: [(&str, Vec<String>); 2] = [
        (
            "SCRAM-SHA-256 (Java jaas)",
            vec![
                "--kafka.sasl.mechanism=SCRAM-SHA-256".into(),
                format!("--kafka.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{user}\" password=\"scram-secret\";"),
            ],
        ),
        ("PLAIN (librdkafka keys)", vec!["--kafka.sasl.mechanism=PLAIN".into(), "--kafka.sasl.username=maxwell".into(), "--kafka.sasl.password=maxwell-secret".into()]),
    ];
    for (n, (what, auth)) in ways.iter().enumerate() {
        let topic = unique("secure");
        create_topic(&topic, 1);
        let start = master_position(&mut c).await;
        let mut args = secure_args(&db, &topic, &start, &bootstrap, &ca);
        args.extend(auth.iter().cloned());
        let m = spawn_maxwell(&args);
        let base = (n as u64 + 1) * 1000;
        for i in 1..=20u64 {
            exec(&mut c, &format!("INSERT INTO {db}.t VALUES ({}, 'v')", base + i)).await;
        }
        let got = consume(std::slice::from_ref(&topic), 20, 60, "database", "default");
        let (st, _, err) = m.terminate();
        assert!(st.success(), "{what}: maxwell stopped cleanly: {err}");
        let mut ids: Vec<u64> = got.iter().map(|g| g["value"]["data"]["id"].as_u64().unwrap()).collect();
        ids.sort();
        assert_eq!(ids, (base + 1..=base + 20).collect::<Vec<_>>(), "{what}: every row over SASL_SSL\n{err}");
        println!("{what}: 20 rows over SASL_SSL");
    }

    // A wrong password: one clear error, not a silent wait.
    let topic = unique("secure");
    create_topic(&topic, 1);
    let start = master_position(&mut c).await;
    let mut args = secure_args(&db, &topic, &start, &bootstrap, &ca);
    args.extend(["--kafka.sasl.mechanism=SCRAM-SHA-256".to_string(), format!("--kafka.sasl.username={user}"), "--kafka.sasl.password=wrong".to_string()]);
    let m = spawn_maxwell(&args);
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (9999, 'v')")).await;
    let (status, err) = m.wait_exit(Duration::from_secs(60));
    assert!(status.is_some_and(|s| !s.success()), "a wrong password stops the node:\n{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("maxwell:")).collect();
    assert!(errors.len() == 1 && errors[0].to_lowercase().contains("authentication"), "one error naming authentication:\n{err}");
}
