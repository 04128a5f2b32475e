//! The image's contract with deployments written for `zendesk/maxwell`, without a Docker
//! engine: `config/docker/maxwell-docker` runs from a directory laid out as the image's
//! `/app` (`bin/maxwell`, `bin/maxwell-docker`, `config.properties`), with Maxwell's
//! variables, against the test MariaDB and Kafka; and the Dockerfile keeps that layout.

mod common;
use common::cluster::tail;
use common::*;
use std::process::{Command, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn dockerfile_keeps_maxwells_layout() {
    let d = std::fs::read_to_string(format!("{ROOT}/Dockerfile")).unwrap();
    assert!(d.contains("WORKDIR /app"), "working directory /app, where ./config.properties is read");
    assert!(d.contains("/app/bin/maxwell-docker") && d.contains("/app/bin/maxwell "), "bin/maxwell and bin/maxwell-docker under /app");
    assert!(d.contains(r#"CMD ["bin/maxwell-docker"]"#), "Maxwell's default command");
    assert!(!d.lines().any(|l| l.starts_with("ENTRYPOINT")), "no entrypoint: `docker run IMAGE bin/maxwell …` must run bin/maxwell");
}

#[tokio::test(flavor = "multi_thread")]
async fn maxwells_variables_and_app_config_properties() {
    let tag = unique("image");
    let mut c = conn().await;
    exec(&mut c, "CREATE USER IF NOT EXISTS 'maxwell'@'127.0.0.1' IDENTIFIED BY 'maxwell'").await;
    exec(&mut c, "GRANT ALL ON maxwell.* TO 'maxwell'@'127.0.0.1'").await;
    exec(&mut c, "GRANT SELECT, REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO 'maxwell'@'127.0.0.1'").await;
    exec(&mut c, &format!("CREATE DATABASE {tag}")).await;
    exec(&mut c, &format!("CREATE TABLE {tag}.t (id INT PRIMARY KEY, v VARCHAR(20))")).await;
    exec(&mut c, &format!("CREATE DATABASE {tag}_other")).await;
    exec(&mut c, &format!("CREATE TABLE {tag}_other.t (id INT PRIMARY KEY)")).await;
    let topic = format!("{tag}_topic");
    create_topic(&topic, 1);

    // /app as the image lays it out.
    let app = std::env::temp_dir().join(&tag);
    std::fs::create_dir_all(app.join("bin")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_maxwell"), app.join("bin/maxwell")).unwrap();
    std::fs::copy(format!("{ROOT}/config/docker/maxwell-docker"), app.join("bin/maxwell-docker")).unwrap();
    // What a user mounts at /app/config.properties: here the port and where to start.
    let start = current_position();
    std::fs::write(
        app.join("config.properties"),
        format!("port={}\nclient_id={tag}\nreplica_server_id=7101\ninit_position={start}\nkafka_topic={topic}\n", mysql_port()),
    )
    .unwrap();
    let (host, port) = kafka_bootstrap().rsplit_once(':').map(|(h, p)| (h.to_string(), p.to_string())).unwrap();
    let stderr_path = app.join("stderr.log");
    let mut child = Command::new("bin/maxwell-docker")
        .current_dir(&app)
        .env("MYSQL_HOST", "127.0.0.1")
        .env("MYSQL_USERNAME", "maxwell")
        .env("MYSQL_PASSWORD", "maxwell")
        .env("KAFKA_HOST", host)
        .env("KAFKA_PORT", port)
        // As compose files write it for Maxwell's image: one option per line, a filter with a glob.
        .env("MAXWELL_OPTIONS", format!("--log_level=info\n--filter=exclude:*.*,include:{tag}.*\n--output_ddl=false\n"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("run bin/maxwell-docker");
    exec(&mut c, &format!("INSERT INTO {tag}_other.t VALUES (1)")).await;
    exec(&mut c, &format!("INSERT INTO {tag}.t VALUES (5, 'from the image')")).await;
    let got = consume(&[topic.clone()], 1, 60, "database", "default");
    let _ = child.kill();
    let _ = child.wait();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let values: Vec<&serde_json::Value> = got.iter().map(|r| &r["value"]).collect();
    assert_eq!(values.len(), 1, "one row: the filter from MAXWELL_OPTIONS left the other database out: {values:?}\n{}", tail(&stderr, 30));
    assert_eq!((values[0]["database"].as_str(), values[0]["data"]["v"].as_str()), (Some(tag.as_str()), Some("from the image")), "{}", tail(&stderr, 30));
    exec(&mut c, &format!("DROP DATABASE {tag}")).await;
    exec(&mut c, &format!("DROP DATABASE {tag}_other")).await;
}
