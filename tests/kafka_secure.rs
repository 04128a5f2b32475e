//! Kafka over TLS with SASL, as Maxwell users configure it: the test broker's SASL_SSL listener
//! (a self-signed certificate for 127.0.0.1, verified with its CA file; SCRAM users made by an
//! independent admin client). A node alone writes through it — SCRAM-SHA-256 given the Java
//! client's way (`kafka.sasl.jaas.config`), PLAIN the librdkafka way — and an independent
//! consumer on the plaintext listener finds every row. A wrong password stops the node with
//! one error that names authentication. The broker's CA given as Maxwell users have it, in a
//! Java trust store (JKS and PKCS#12, made by `keytool`), works the same.

mod common;

use common::*;
use std::time::Duration;

/// A node alone streaming `db` to `topic` through the SASL_SSL listener, from `start`,
/// trusting the broker's CA by `trust` (a PEM file's or a Java trust store's settings).
fn secure_args(db: &str, topic: &str, start: &str, bootstrap: &str, trust: &[String]) -> Vec<String> {
    let mut a = vec![
        format!("--init_position={start}"),
        format!("--filter=exclude: *.*, include: {db}.*"),
        "--producer=kafka".into(),
        format!("--kafka.bootstrap.servers={bootstrap}"),
        format!("--kafka_topic={topic}"),
        "--kafka.security.protocol=SASL_SSL".into(),
    ];
    a.extend_from_slice(trust);
    a
}

/// Trusting the CA of PEM file `ca`.
fn pem(ca: &str) -> Vec<String> {
    vec![format!("--kafka.ssl.ca.location={ca}")]
}

/// Starts a node with `args`, inserts `rows` rows into `db`.t from id `base + 1` (`tail`: the
/// other columns' values), and checks every one arrives on `topic`.
async fn every_row_arrives(c: &mut mysql_async::Conn, what: &str, args: &[String], db: &str, topic: &str, base: u64, rows: u64, tail: &str) {
    let m = spawn_maxwell(args);
    for i in 1..=rows {
        exec(c, &format!("INSERT INTO {db}.t VALUES ({}{tail})", base + i)).await;
    }
    let got = consume(&[topic.to_string()], rows as usize, 60, "database", "default");
    let (st, _, err) = m.terminate();
    assert!(st.success(), "{what}: maxwell stopped cleanly: {err}");
    let mut ids: Vec<u64> = got.iter().map(|g| g["value"]["data"]["id"].as_u64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (base + 1..=base + rows).collect::<Vec<_>>(), "{what}: every row over SASL_SSL\n{err}");
    println!("{what}: {rows} rows over SASL_SSL");
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
        let mut args = secure_args(&db, &topic, &start, &bootstrap, &pem(&ca));
        args.extend(auth.iter().cloned());
        every_row_arrives(&mut c, what, &args, &db, &topic, (n as u64 + 1) * 1000, 20, ", 'v'").await;
    }

    // A wrong password: one clear error, not a silent wait.
    let topic = unique("secure");
    create_topic(&topic, 1);
    let start = master_position(&mut c).await;
    let mut args = secure_args(&db, &topic, &start, &bootstrap, &pem(&ca));
    args.extend(["--kafka.sasl.mechanism=SCRAM-SHA-256".to_string(), format!("--kafka.sasl.username={user}"), "--kafka.sasl.password=wrong".to_string()]);
    let m = spawn_maxwell(&args);
    exec(&mut c, &format!("INSERT INTO {db}.t VALUES (9999, 'v')")).await;
    let (status, err) = m.wait_exit(Duration::from_secs(60));
    assert!(status.is_some_and(|s| !s.success()), "a wrong password stops the node:\n{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("maxwell:")).collect();
    assert!(errors.len() == 1 && errors[0].to_lowercase().contains("authentication"), "one error naming authentication:\n{err}");
}

/// Maxwell's Kafka TLS settings name a Java trust store; the node reads it (JKS and PKCS#12)
/// and writes through the SASL_SSL listener with no PEM file of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_trust_stores_as_maxwell_users_give_them() {
    let (bootstrap, ca) = secure();
    let dir = std::env::temp_dir().join(unique("truststores"));
    std::fs::create_dir_all(&dir).unwrap();
    let db = unique("jks");
    let mut c = conn().await;
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (id BIGINT PRIMARY KEY)")).await;
    for (n, ty) in ["JKS", "PKCS12"].iter().enumerate() {
        let store = dir.join(format!("truststore.{}", ty.to_lowercase()));
        let out = std::process::Command::new("keytool")
            .args(["-importcert", "-noprompt", "-alias", "kafka-ca", "-file", &ca, "-storetype", ty, "-storepass", "changeit", "-keystore"])
            .arg(&store)
            .output()
            .expect("keytool (Java 17) runs");
        assert!(out.status.success(), "keytool: {}", String::from_utf8_lossy(&out.stderr));
        let topic = unique("jks");
        create_topic(&topic, 1);
        let start = master_position(&mut c).await;
        let trust = [format!("--kafka.ssl.truststore.location={}", store.display()), "--kafka.ssl.truststore.password=changeit".into(), format!("--kafka.ssl.truststore.type={ty}")];
        let mut args = secure_args(&db, &topic, &start, &bootstrap, &trust);
        args.extend([
            "--kafka.sasl.mechanism=PLAIN".to_string(),
            "--kafka.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"maxwell\" password=\"maxwell-secret\";".into(),
        ]);
        every_row_arrives(&mut c, &format!("{ty} trust store"), &args, &db, &topic, (n as u64 + 1) * 100, 5, "").await;
    }
    // A wrong store password is one error at start that names the store.
    let store = dir.join("truststore.jks");
    let m = spawn_maxwell(&[
        "--producer=kafka".into(),
        format!("--kafka.bootstrap.servers={bootstrap}"),
        format!("--kafka.ssl.truststore.location={}", store.display()),
        "--kafka.ssl.truststore.password=wrong-one".into(),
    ]);
    let (status, err) = m.wait_exit(Duration::from_secs(30));
    assert!(status.is_some_and(|s| !s.success()), "a wrong trust store password stops the node:\n{err}");
    assert!(err.contains("truststore.jks") && err.contains("password is wrong"), "the error names the store and the password:\n{err}");
}
