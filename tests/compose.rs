//! `docker-compose.yml`, checked without a Docker engine: Docker Compose itself validates and
//! renders the file (`docker-compose config`), the services the README and `docs/running.md`
//! promise are there, every node publishes its HTTP port and is built from the repository's
//! Dockerfile, and the compose nodes' configuration has exactly the keys the local cluster
//! (scripts/local.sh) uses and is accepted by maxwell's own parser.

use std::collections::BTreeSet;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn compose(args: &[&str]) -> String {
    let out = Command::new("docker-compose")
        .args(["--project-directory", ROOT, "-f", &format!("{ROOT}/docker-compose.yml")])
        .args(args)
        .output()
        .expect("docker-compose not found: install Debian's `docker-compose` package (scripts/test.sh does)");
    assert!(out.status.success(), "docker-compose {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The keys of a properties text (`key=value` lines, comments skipped).
fn keys(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect()
}

#[test]
fn compose_file_is_valid_and_complete() {
    let services: BTreeSet<String> = compose(&["config", "--services"]).lines().map(str::to_string).collect();
    for s in ["zk1", "zk2", "zk3", "kafka", "mysql", "maxwell-1", "maxwell-2", "maxwell-3"] {
        assert!(services.contains(s), "service {s} missing: {services:?}");
    }
    let rendered = compose(&["config"]);
    for (i, port) in [(1, 8081), (2, 8082), (3, 8083)] {
        let start = rendered.find(&format!("\n  maxwell-{i}:\n")).unwrap_or_else(|| panic!("maxwell-{i} not rendered"));
        let block: String = rendered[start + 1..].lines().skip(1).take_while(|l| l.starts_with("    ") || l.is_empty()).collect::<Vec<_>>().join("\n");
        assert!(block.contains(&format!("published: {port}")) || block.contains(&format!(":{port}:8080")), "maxwell-{i} does not publish {port}:\n{block}");
        assert!(block.contains(&format!("--node_id=maxwell-{i}")), "maxwell-{i} node_id:\n{block}");
        assert!(block.contains("build:") && block.contains("context:"), "maxwell-{i} is not built from the repository:\n{block}");
    }
    assert!(rendered.contains("--binlog-row-metadata=FULL") && rendered.contains("--binlog-format=ROW"), "MySQL binlog settings");
    assert!(rendered.contains("KAFKA_PROCESS_ROLES: broker,controller"), "Kafka runs in KRaft mode");
    // The same Kafka release as the tests and drills (scripts/kafka.sh).
    let script = std::fs::read_to_string(format!("{ROOT}/scripts/kafka.sh")).unwrap();
    let version = script.lines().find_map(|l| l.strip_prefix("VERSION=")).expect("scripts/kafka.sh sets VERSION=").trim();
    let images: Vec<&str> = rendered.lines().filter_map(|l| l.trim().strip_prefix("image: apache/kafka:")).collect();
    assert!(!images.is_empty() && images.iter().all(|v| *v == version), "compose Kafka images {images:?} differ from the tests' Kafka {version}");
    assert!(std::path::Path::new(&format!("{ROOT}/Dockerfile")).exists());
}

#[test]
fn compose_and_local_cluster_use_the_same_keys() {
    let compose_cfg = std::fs::read_to_string(format!("{ROOT}/config/docker/config.properties")).unwrap();
    let local = std::fs::read_to_string(format!("{ROOT}/scripts/local.sh")).unwrap();
    let heredoc = local.split("<<CFG\n").nth(1).and_then(|s| s.split("\nCFG\n").next()).expect("local.sh writes its config in a <<CFG heredoc");
    assert_eq!(keys(&compose_cfg), keys(heredoc), "config/docker/config.properties and scripts/local.sh differ in keys");
    let cfg = maxwell_ha::config::Config::from_args(&[format!("--config={ROOT}/config/docker/config.properties"), "--node_id=maxwell-1".into(), "--http_port=8080".into()]);
    let cfg = cfg.unwrap_or_else(|e| panic!("maxwell rejects the compose config: {e}"));
    assert!(cfg.ha.is_some() && cfg.kafka.is_some() && cfg.http.is_some());
}
