//! Newer Maxwell's options, each with its meaning: what is mapped, what warns and why, what is
//! refused (only where Maxwell refuses, or where the meaning cannot be had).

use super::*;
use crate::config::{Config, PartitionBy, Settings, TlsMode};

fn load(pairs: &[&str]) -> Result<Config, ConfigError> {
    let mut args = vec!["--user=maxwell".to_string()];
    args.extend(pairs.iter().map(|p| format!("--{p}")));
    Settings::load_from(&args, std::path::Path::new("/nonexistent"), Vec::new()).and_then(|s| Config::from_settings(&s))
}

fn cfg(pairs: &[&str]) -> Config {
    load(pairs).unwrap_or_else(|e| panic!("{pairs:?}: {e}"))
}

fn refused(pairs: &[&str]) -> String {
    load(pairs).map(|_| ()).expect_err("refused").to_string()
}

const KAFKA: [&str; 2] = ["producer=kafka", "kafka.bootstrap.servers=127.0.0.1:9092"];

#[test]
fn camel_case_is_maxwells_underscore_to_camelcase() {
    for (snake, camel) in [
        ("server_id", "serverId"),
        ("primary_key_columns", "primaryKeyColumns"),
        ("created_at", "createdAt"),
        ("_hidden", "hidden"),
        ("trailing_", "trailing"),
        ("a__b", "a_b"),
        ("user_ID", "userID"),
        ("x_1", "x1"),
        ("___", "___"),
        ("id", "id"),
        ("café_crème", "caféCrème"),
    ] {
        assert_eq!(camel_case(snake), camel, "{snake}");
    }
}

#[test]
fn naming_strategy_and_push_timestamp_are_output_options() {
    let c = cfg(&["output_naming_strategy=underscore_to_camelcase", "output_push_timestamp=true"]);
    assert_eq!(c.output.naming, NamingStrategy::CamelCase);
    assert!(c.output.push_timestamp && c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.output.push_ts_by_sink(), Some(NamingStrategy::CamelCase));
    assert_eq!(cfg(&["output_naming_strategy=none"]).output.naming, NamingStrategy::None);
    let c = cfg(&["output_naming_strategy=kebab"]);
    assert_eq!(c.output.naming, NamingStrategy::None, "Maxwell writes names unchanged for a strategy it does not know");
    assert!(c.warnings.len() == 1 && c.warnings[0].contains("kebab"), "{:?}", c.warnings);
    // The Kafka sink stamps push_ts; with encrypt=all the encoder does, inside the record.
    let mut kafka = KAFKA.to_vec();
    kafka.push("output_push_timestamp=true");
    assert_eq!(cfg(&kafka).kafka.unwrap().push_timestamp, Some(NamingStrategy::None));
    kafka.extend(["encrypt=all", "secret_key=0123456789abcdef"]);
    let c = cfg(&kafka);
    assert_eq!((c.kafka.unwrap().push_timestamp, c.output.push_timestamp), (None, true));
    assert_eq!(cfg(&KAFKA).kafka.unwrap().push_timestamp, None);
    // With a javascript filter too (it sees the columns' own names; they are renamed after it).
    let js = std::env::temp_dir().join(format!("mx-naming-{}.js", std::process::id()));
    std::fs::write(&js, "function process_row(row) {}\n").unwrap();
    let script = format!("javascript={}", js.display());
    assert_eq!(cfg(&[&script, "output_naming_strategy=underscore_to_camelcase"]).output.naming, NamingStrategy::CamelCase);
    assert!(load(&[&script, "output_naming_strategy=none", "output_push_timestamp=true"]).is_ok());
}

#[test]
fn thread_id_partitioning_and_newer_fallbacks() {
    let mut a = KAFKA.to_vec();
    a.push("producer_partition_by=thread_id");
    assert_eq!(cfg(&a).kafka.unwrap().routing.by, PartitionBy::ThreadId);
    for (fallback, want) in [("transaction_id", PartitionBy::TransactionId), ("thread_id", PartitionBy::ThreadId), ("random", PartitionBy::Random)] {
        let mut a = KAFKA.to_vec();
        let f = format!("producer_partition_by_fallback={fallback}");
        a.extend(["producer_partition_by=column", "producer_partition_columns=id", f.as_str()]);
        assert_eq!(cfg(&a).kafka.unwrap().routing.fallback, want);
    }
}

#[test]
fn replication_tuning_needs_none_here() {
    // What always holds here: no warning.
    let c = cfg(&["binlog_heartbeat=true", "replication_reconnection_retries=0", "ignore_missing_schema=true"]);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.source.heartbeat, Duration::from_millis(1000), "heartbeats every binlog_heartbeat_ms");
    // What cannot be had, or has nothing to size: one warning each, saying why.
    let c = cfg(&["binlog_heartbeat=false", "replication_reconnection_retries=3", "buffer_memory_usage=0.5", "binlog_event_queue_size=100"]);
    assert_eq!(c.warnings.len(), 4, "{:?}", c.warnings);
    assert!(c.warnings[0].contains("heartbeats stay on"), "{:?}", c.warnings);
    assert!(c.warnings[1].contains("without limit"), "{:?}", c.warnings);
    assert!(c.warnings[2].contains("tx_memory_mb (16 MiB)"), "{:?}", c.warnings);
    assert!(c.warnings[3].contains("bounded queue"), "{:?}", c.warnings);
    assert_eq!(c.source.heartbeat, Duration::from_millis(1000));
    // Maxwell refuses these too.
    assert!(refused(&["buffer_memory_usage=1.5"]).contains("<= 1.0"));
    assert!(refused(&["buffer_memory_usage=lots"]).contains("buffer_memory_usage"));
    assert!(refused(&["binlog_event_queue_size=0"]).contains("binlog_event_queue_size"));
}

#[test]
fn ha_moves_onto_the_zookeeper_cluster() {
    let e = refused(&["ha=true", "jgroups_config=raft.xml", "raft_member_id=m1"]);
    assert!(e.contains("zookeeper_servers=") && e.contains("node_id") && e.contains("client_id"), "{e}");
    let c = cfg(&["ha=true", "zookeeper_servers=127.0.0.1:2181", "raft_member_id=m1", "jgroups_config=raft.xml"]);
    let ha = c.ha.expect("a cluster member");
    assert_eq!(ha.node_id, "m1", "the raft member id names the node");
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    assert!(c.warnings.iter().any(|w| w.contains("jgroups_config")), "{:?}", c.warnings);
    let c = cfg(&["ha=true", "zookeeper_servers=127.0.0.1:2181", "node_id=n1", "raft_member_id=m1"]);
    assert_eq!(c.ha.unwrap().node_id, "n1", "node_id wins");
    let c = cfg(&["ha=true", "zookeeper_servers=127.0.0.1:2181"]);
    assert!(c.ha.is_some() && c.warnings.is_empty(), "{:?}", c.warnings);
    // Without ha=true, Maxwell ignores its raft settings.
    let c = cfg(&["raft_member_id=m1", "jgroups_config=raft.xml"]);
    assert!(c.ha.is_none() && c.warnings.len() == 1 && c.warnings[0].contains("without ha=true"), "{:?}", c.warnings);
    assert!(cfg(&["ha=false"]).ha.is_none());
}

#[test]
fn replication_and_schema_jdbc_options() {
    let c = cfg(&["replication_host=10.0.0.2", "replication_user=repl", "replication_jdbc_options=connectTimeout=1500&useSSL=true&requireSSL=true", "jdbc_options=connectTimeout=900"]);
    assert_eq!(c.source.connect_timeout, Duration::from_millis(1500), "the binlog connection takes replication_jdbc_options");
    assert_eq!(c.positions_db.connect_timeout, Duration::from_millis(900), "Maxwell's own connection takes jdbc_options");
    assert_eq!(c.source.tls.mode, TlsMode::Required);
    assert_eq!(c.positions_db.tls.mode, TlsMode::Disabled);
    // Without replication_host Maxwell copies the main connection's options: ignored.
    let c = cfg(&["replication_jdbc_options=connectTimeout=1500", "jdbc_options=connectTimeout=900"]);
    assert_eq!(c.source.connect_timeout, Duration::from_millis(900));
    assert!(c.warnings.len() == 1 && c.warnings[0].contains("without `replication_host`"), "{:?}", c.warnings);
    let c = cfg(&["schema_jdbc_options=connectTimeout=100"]);
    assert!(c.warnings.len() == 1 && c.warnings[0].contains("schema_jdbc_options"), "{:?}", c.warnings);
    assert!(refused(&["replication_host=h", "replication_user=u", "replication_jdbc_options=connectTimeout=soon"]).contains("connectTimeout"));
}

#[test]
fn env_config_is_a_json_object_in_a_variable() {
    let env = vec![("MX_JSON".to_string(), r#"{"user":"fromjson","port":3307,"output_ddl":true,"host":null}"#.to_string()), ("MX_BAD".into(), "user=x".into()), ("MXP_HOST".into(), "db9".into())];
    let load = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Settings::load_from(&args, std::path::Path::new("/nonexistent"), env.clone()).and_then(|s| Config::from_settings(&s))
    };
    let c = load(&["--env_config=MX_JSON"]).unwrap();
    assert_eq!((c.source.user.as_str(), c.source.port, c.output.ddl, c.source.host.as_str()), ("fromjson", 3307, true, "localhost"));
    // The command line wins; variables of env_config_prefix win over the JSON.
    let c = load(&["--env_config=MX_JSON", "--port=3310", "--env_config_prefix=MXP_"]).unwrap();
    assert_eq!((c.source.port, c.source.host.as_str()), (3310, "db9"));
    let e = load(&["--env_config=MX_NONE"]).unwrap_err().to_string();
    assert!(e.contains("MX_NONE"), "{e}");
    let e = load(&["--env_config=MX_BAD"]).unwrap_err().to_string();
    assert!(e.contains("not a JSON object"), "{e}");
    // Read from the command line only, as in Maxwell.
    let dir = std::env::temp_dir().join(format!("mx-envcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.properties"), "user=filed\nenv_config=MX_JSON\n").unwrap();
    let s = Settings::load_from(&[], &dir, env.clone()).unwrap();
    let c = Config::from_settings(&s).unwrap();
    assert_eq!(c.source.user, "filed");
    assert!(c.warnings.iter().any(|w| w.contains("command line only")), "{:?}", c.warnings);
}

#[test]
fn http_config_turns_http_on() {
    let c = cfg(&["http_config=true"]);
    assert!(c.http_config);
    assert_eq!(c.http.unwrap().port, 8080, "as Maxwell, HTTP on its default port");
    let c = cfg(&["http_config=true", "http_port=9191"]);
    assert_eq!(c.http.unwrap().port, 9191);
    assert!(!cfg(&[]).http_config);
}
