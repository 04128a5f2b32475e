use super::*;
use crate::binlog::gtid::GtidSet;
use crate::binlog::position::BinlogPosition;

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn cfg(a: &[&str]) -> Result<Config, ConfigError> {
    Config::from_args(&args(a))
}

#[test]
fn defaults_and_overrides() {
    let c = cfg(&["--user=maxwell", "--port=3307", "--output_ddl=true"]).unwrap();
    assert_eq!(c.source.port, 3307);
    assert_eq!(c.source.host, "localhost");
    assert_eq!(c.source.server_id, 6379);
    assert_eq!(c.client_id, "maxwell");
    assert!(c.output.ddl && c.output.commit_info && !c.output.binlog_position);
    assert_eq!(c.init_position, StartPosition::Current);
}

#[test]
fn file_then_command_line() {
    let dir = std::env::temp_dir().join(format!("mxcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("config.properties");
    std::fs::write(&f, "# comment\nuser=a\nhost = db1\nport: 3310\nfilter=exclude: *.*, \\\n  include: db.*\n").unwrap();
    let p = format!("--config={}", f.display());
    let c = cfg(&[&p, "--host=db2"]).unwrap();
    assert_eq!(c.source.user, "a");
    assert_eq!(c.source.host, "db2");
    assert_eq!(c.source.port, 3310);
    assert!(c.filter.includes_table("db", "t") && !c.filter.includes_table("x", "t"));
    std::fs::write(&f, "user=a\nprot=1\n").unwrap();
    let e = cfg(&[&p]).unwrap_err().to_string();
    assert!(e.contains("`prot`") && e.contains("`port`") && e.contains("config.properties"), "{e}");
}

#[test]
fn bad_values_name_the_key() {
    let cases: &[(&[&str], &str)] = &[
        (&["--user=a", "--port=0"], "`port` must be a whole number from 1 to 65535"),
        (&["--user=a", "--output_ddl=yes"], "`output_ddl` must be true or false"),
        (&["--user=a", "--producer=kinesis"], "`producer` must be one of"),
        (&["--port=3306"], "missing required key `user`"),
        (&["--user=a", "--filter=include db.*"], "`filter`"),
        (&["--user=a", "--init_position=mysql-bin.000001:x"], "`init_position`"),
        (&["--user=a", "--init_position=0-1"], "`init_position`"),
        (&["--user=a", "--replication_port=3307"], "`replication_host`"),
        (&["--user=a", "--kafka.bootstrap.servers=x"], "set producer=kafka"),
        (&["--user=a", "--producer=kafka"], "`kafka.bootstrap.servers`"),
        (&["--user=a", "--producer=kafka", "--kafka.bootstrap.servers=x", "--producer_partition_by=column"], "producer_partition_columns"),
        (&["--user=a", "--kafka_key_format=json"], "`kafka_key_format` must be one of"),
        (&["user=a"], "--key=value"),
        (&["--user"], "--user=VALUE"),
    ];
    for (a, want) in cases {
        let e = cfg(a).unwrap_err().to_string();
        assert!(e.contains(want), "{a:?}: {e}");
    }
}

#[test]
fn kafka_settings() {
    let c = cfg(&[
        "--user=a", "--producer=kafka", "--kafka.bootstrap.servers=127.0.0.1:9092", "--kafka.linger.ms=20",
        "--kafka_topic=cdc_%{database}", "--producer_partition_by=column", "--producer_partition_columns=a, b",
        "--producer_partition_by_fallback=table", "--kafka_partition_hash=murmur3", "--kafka_key_format=array",
    ])
    .unwrap();
    let k = c.kafka.unwrap();
    assert!(k.props.contains(&("linger.ms".to_string(), "20".to_string())));
    assert_eq!(k.routing.columns, vec!["a", "b"]);
    assert_eq!(k.routing.ddl_topic, "cdc_%{database}");
    assert_eq!(k.routing.by, PartitionBy::Column);
    assert_eq!(k.routing.fallback, PartitionBy::Table);
    assert_eq!(k.routing.hash, HashFn::Murmur3);
    assert!(c.output.row_meta);
    assert_eq!(c.output.partition_columns, vec!["a", "b"]);
}

#[test]
fn cluster_settings() {
    let c = cfg(&["--user=a", "--zookeeper_servers=127.0.0.1:2181", "--node_id=n1", "--client_id=shop"]).unwrap();
    let ha = c.ha.unwrap();
    assert_eq!(ha.root, "/maxwell/shop");
    assert_eq!(ha.session_timeout, Duration::from_millis(4000));
    assert_eq!(ha.node_id, "n1");
    assert_eq!(ha.stall_timeout, Some(Duration::from_millis(3000)), "3/4 of the session by default");
    let c = cfg(&["--user=a", "--zookeeper_servers=x:1", "--zookeeper_session_timeout_ms=2000"]).unwrap();
    assert_eq!(c.ha.unwrap().stall_timeout, Some(Duration::from_millis(2000)), "at least two heartbeats");
    let c = cfg(&["--user=a", "--zookeeper_servers=x:1", "--ha_stall_timeout_ms=0"]).unwrap();
    assert_eq!(c.ha.unwrap().stall_timeout, None);
    let c = cfg(&["--user=a", "--zookeeper_servers=x:1"]).unwrap();
    assert_eq!(c.ha.as_ref().unwrap().root, "/maxwell/cluster");
    assert_eq!(c.ha.unwrap().node_id, hostname());
    for (a, needle) in [
        (vec!["--user=a", "--node_id=n1"], "`zookeeper_servers` is not"),
        (vec!["--user=a", "--zookeeper_servers=x:1", "--zookeeper_root=maxwell"], "absolute znode path"),
        (vec!["--user=a", "--zookeeper_servers=x:1", "--zookeeper_auth=nocolon"], "user:password"),
        (vec!["--user=a", "--zookeeper_servers=x:1", "--zookeeper_session_timeout_ms=500"], "from 2000 to 20000"),
        (vec!["--user=a", "--zookeeper_servers=x:1", "--ha_stall_timeout_ms=1500"], "shorter than two binlog heartbeats"),
    ] {
        let e = cfg(&a).unwrap_err().to_string();
        assert!(e.contains(needle), "{a:?}: {e}");
    }
}

#[test]
fn init_position_forms() {
    let c = cfg(&["--user=a", "--init_position=mysql-bin.000002:154"]).unwrap();
    assert_eq!(c.init_position, StartPosition::File(BinlogPosition::new("mysql-bin.000002", 154)));
    let c = cfg(&["--user=a", "--init_position=0-1-100,1-2-3"]).unwrap();
    assert!(matches!(c.init_position, StartPosition::Gtid(GtidSet::Maria(_))));
    let c = cfg(&["--user=a", "--init_position=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"]).unwrap();
    assert!(matches!(c.init_position, StartPosition::Gtid(GtidSet::Mysql(_))));
}

#[test]
fn host_lists() {
    let c = cfg(&["--user=a", "--host=db1,db2:3307, db3", "--port=3310"]).unwrap();
    assert_eq!((c.source.host.as_str(), c.source.port), ("db1", 3310));
    assert_eq!(c.source.more_hosts, vec![("db2".to_string(), 3307), ("db3".to_string(), 3310)]);
    assert_eq!(c.positions_db.more_hosts.len(), 2);
    assert!(c.gtid_mode, "a host list follows a change of server by GTID");
    assert_eq!(c.source.current(), "db1:3310");
    let c = cfg(&["--user=a", "--host=db1:3311"]).unwrap();
    assert_eq!((c.source.host.as_str(), c.source.port, c.gtid_mode), ("db1", 3311, false));
    for bad in ["--host=db1,,db2", "--host=db1:x", "--host=db1:0"] {
        let e = cfg(&["--user=a", bad]).unwrap_err().to_string();
        assert!(e.contains("`host`"), "{bad}: {e}");
    }
}

/// A separate binlog server as Maxwell takes it: its own host, user and password (the
/// password may be empty), its own port defaulting to 3306 rather than `port`.
#[test]
fn replication_server_follows_maxwell() {
    let c = cfg(&["--user=a", "--password=p", "--port=3310", "--replication_host=r", "--replication_user=b"]).unwrap();
    assert_eq!((c.source.host.as_str(), c.source.port, c.source.user.as_str(), c.source.password.as_str()), ("r", 3306, "b", ""));
    assert_eq!((c.positions_db.port, c.positions_db.user.as_str(), c.positions_db.password.as_str()), (3310, "a", "p"));
    let c = cfg(&["--user=a", "--replication_host=r", "--replication_user=b", "--replication_password=q", "--replication_port=3400"]).unwrap();
    assert_eq!((c.source.port, c.source.password.as_str()), (3400, "q"));
    for bad in [&["--user=a", "--replication_host=r"][..], &["--user=a", "--replication_user=b"], &["--user=a", "--replication_password=q"]] {
        let e = cfg(bad).unwrap_err().to_string();
        assert!(e.contains("replication_host, replication_user, replication_password"), "{bad:?}: {e}");
    }
}

#[test]
fn mysql_tls_modes_follow_maxwell() {
    use super::TlsMode;
    let c = cfg(&["--user=a"]).unwrap();
    assert_eq!((c.source.tls.mode, c.positions_db.tls.mode), (TlsMode::Disabled, TlsMode::Disabled));
    let c = cfg(&["--user=a", "--ssl=verify_identity"]).unwrap();
    assert_eq!((c.source.tls.mode, c.positions_db.tls.mode), (TlsMode::VerifyIdentity, TlsMode::VerifyIdentity));
    // With a separate replication host and replication_ssl unset, the binlog connection
    // inherits `ssl` (Maxwell's MaxwellConfig); it used to go unencrypted.
    let c = cfg(&["--user=a", "--ssl=REQUIRED", "--replication_host=r", "--replication_user=b"]).unwrap();
    assert_eq!((c.source.tls.mode, c.positions_db.tls.mode), (TlsMode::Required, TlsMode::Required));
    let c = cfg(&["--user=a", "--ssl=REQUIRED", "--replication_host=r", "--replication_user=b", "--replication_ssl=DISABLED"]).unwrap();
    assert_eq!((c.source.tls.mode, c.positions_db.tls.mode), (TlsMode::Disabled, TlsMode::Required));
    let c = cfg(&["--user=a", "--replication_ssl=PREFERRED"]).unwrap();
    assert_eq!((c.source.tls.mode, c.positions_db.tls.mode), (TlsMode::Preferred, TlsMode::Disabled));
    let e = cfg(&["--user=a", "--ssl=VERIFY"]).unwrap_err().to_string();
    assert!(e.contains("VERIFY_CA"), "{e}");
    let e = cfg(&["--user=a", "--ssl=REQUIRED", "--ssl_ca=/no/such/ca.pem"]).unwrap_err().to_string();
    assert!(e.contains("ssl_ca") && e.contains("/no/such/ca.pem"), "{e}");
}

/// The example file is exactly what the key table generates, so it documents every key.
#[test]
fn example_file_is_generated_from_the_key_table() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/config.properties.example")).unwrap();
    assert!(text == example_file(), "config/config.properties.example is stale: run `maxwell --print-example-config > config/config.properties.example`");
    for k in KEYS {
        assert!(text.contains(&format!("{}=", k.name)), "example lacks `{}`", k.name);
    }
    // And the example parses as a valid configuration.
    let mut s = Settings::default();
    for (k, v) in parse_properties(&text).unwrap() {
        s.set(&k, &v).unwrap();
    }
    Config::from_settings(&s).unwrap();
}

/// `docs/configuration.md` is exactly what the key table generates, so it documents every key
/// (each as a `| \`name\` |` row) and cannot drift from what the node accepts.
#[test]
fn configuration_reference_is_generated_from_the_key_table() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md")).unwrap();
    assert!(
        text == reference_markdown(),
        "docs/configuration.md is stale: run `cargo run --release --bin maxwell -- --print-config-reference > docs/configuration.md`"
    );
    for k in KEYS {
        assert!(text.contains(&format!("| `{}` |", k.name)), "docs/configuration.md lacks `{}`", k.name);
    }
}

/// The README's `config.properties` example uses only keys of the key table and is a valid
/// configuration, so the front page stays true.
#[test]
fn readme_example_is_a_valid_configuration() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split("```properties\n")
        .nth(1)
        .and_then(|s| s.split("\n```").next())
        .expect("README.md has a ```properties example");
    let pairs = parse_properties(block).unwrap();
    assert!(pairs.len() >= 10, "the README's example has only {} keys", pairs.len());
    let mut s = Settings::default();
    for (k, v) in pairs {
        assert!(KEYS.iter().any(|spec| spec.name == k), "README example uses `{k}`, which is not in the key table");
        s.set(&k, &v).unwrap_or_else(|e| panic!("README example: {e}"));
    }
    Config::from_settings(&s).unwrap_or_else(|e| panic!("README example is not a valid configuration: {e}"));
}

#[test]
fn http_settings() {
    assert_eq!(cfg(&["--user=u"]).unwrap().http, None);
    let h = cfg(&["--user=u", "--metrics_type=http"]).unwrap().http.unwrap();
    assert_eq!((h.bind.as_str(), h.port, h.prefix.as_str()), ("127.0.0.1", 8080, "/"));
    let h = cfg(&["--user=u", "--http_port=9001", "--http_bind_address=0.0.0.0", "--http_path_prefix=maxwell"]).unwrap().http.unwrap();
    assert_eq!((h.bind.as_str(), h.port, h.prefix.as_str()), ("0.0.0.0", 9001, "/maxwell/"));
    let e = cfg(&["--user=u", "--metrics_type=graphite"]).unwrap_err().to_string();
    assert!(e.contains("metrics_type") && e.contains("http"), "{e}");
    let c = cfg(&["--user=u", "--http_bind_address=0.0.0.0"]).unwrap();
    assert!(c.http.is_none() && c.warnings.iter().any(|w| w.contains("set http_port")), "{:?}", c.warnings);
    let e = cfg(&["--user=u", "--http_port=8080", "--http_bind_address=example host"]).unwrap_err().to_string();
    assert!(e.contains("http_bind_address"), "{e}");
    let e = cfg(&["--user=u", "--http_prot=8080"]).unwrap_err().to_string();
    assert!(e.contains("did you mean `http_port`"), "{e}");
}

#[test]
fn cluster_delivery_modes() {
    let base = ["--user=u", "--producer=kafka", "--kafka.bootstrap.servers=k:9092", "--zookeeper_servers=z:2181"];
    let with = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        cfg(&a)
    };
    let c = with(&[]).unwrap();
    let ha = c.ha.unwrap();
    assert_eq!(ha.delivery, Delivery::ExactlyOnce);
    assert_eq!(ha.transactional_id, "maxwell-ha.maxwell.cluster");
    assert_eq!(ha.checkpoint_topic, "maxwell-ha.maxwell.cluster.checkpoint");
    let c = with(&["--kafka.transactional.id=mine", "--ha_checkpoint_topic=cp"]).unwrap().ha.unwrap();
    assert_eq!((c.transactional_id.as_str(), c.checkpoint_topic.as_str()), ("mine", "cp"));
    // Exactly-once allows random partitioning (no scan); at-least-once refuses what voids it.
    assert!(with(&["--producer_partition_by=random"]).is_ok());
    let no_idempotence = format!("--kafka.enable.idempotence={}", false);
    for (extra, needle) in [
        (&["--ha_delivery=at_least_once", "--producer_partition_by=random"][..], "producer_partition_by=random"),
        (&["--ha_delivery=at_least_once", "--kafka.transactional.id=t"][..], "kafka.transactional.id"),
        (&["--ha_delivery=at_least_once", &no_idempotence, "--kafka.max.in.flight.requests.per.connection=5"][..], "max.in.flight"),
        (&["--ha_delivery=at_least_once", &no_idempotence, "--kafka.retries=0"][..], "retries=0"),
        (&["--ha_delivery=at_least_once", "--kafka.message.timeout.ms=300000"][..], "message.timeout.ms=300000"),
        (&["--ha_delivery=once"][..], "ha_delivery"),
    ] {
        let e = with(extra).unwrap_err().to_string();
        assert!(e.contains(needle), "{extra:?}: {e}");
    }
}

/// What a Maxwell user types works the same here.
#[test]
fn maxwell_habits() {
    // Booleans and choices in any case; a bare boolean flag means true.
    let c = cfg(&["--user=a", "--output_ddl", "--output_nulls=FALSE", "--log_level=INFO", "--gtid_mode=True"]).unwrap();
    assert!(c.output.ddl && !c.output.nulls && c.gtid_mode);
    assert_eq!(c.log_level, "info");
    // xoffset is on by default, as in Maxwell.
    assert!(cfg(&["--user=a"]).unwrap().output.xoffset);
    // init_position=FILE:POS:HEARTBEAT.
    let c = cfg(&["--user=a", "--init_position=mysql-bin.000002:154:1700000000000"]).unwrap();
    assert_eq!(c.init_position, StartPosition::File(BinlogPosition::new("mysql-bin.000002", 154)));
    // ./config.properties without --config; --config wins over it.
    let dir = std::env::temp_dir().join(format!("mxcwd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.properties"), "user=from_cwd\nproducer=KAFKA\nkafka.bootstrap.servers=k:9092\n").unwrap();
    let c = Config::from_settings(&Settings::load_in(&args(&[]), &dir).unwrap()).unwrap();
    assert_eq!((c.source.user.as_str(), c.producer.as_str()), ("from_cwd", "kafka"));
    let other = dir.join("other.properties");
    std::fs::write(&other, "user=from_flag\n").unwrap();
    let c = Config::from_settings(&Settings::load_in(&args(&[&format!("--config={}", other.display())]), &dir).unwrap()).unwrap();
    assert_eq!(c.source.user, "from_flag");
    // Maxwell's options that are not taken say what to do, not a near miss.
    for (a, want) in [("--kinesis_stream=s", "producer=kafka"), ("--output_file=f", "redirect"), ("--custom_producer.factory=x", "only producer=stdout")] {
        let e = cfg(&["--user=a", a]).unwrap_err().to_string();
        assert!(e.contains("Maxwell option") && e.contains(want), "{a}: {e}");
    }
    // A far-off name gets no guess.
    let e = cfg(&["--user=a", "--xyz=1"]).unwrap_err().to_string();
    assert!(!e.contains("did you mean"), "{e}");
}

#[test]
fn environment_variables_by_prefix() {
    let dir = std::env::temp_dir().join(format!("mxenv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("m.properties");
    std::fs::write(&f, "env_config_prefix=MAXWELL_\nuser=file\nhost=filehost\n").unwrap();
    let env = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    let load = |a: &[&str], e: Vec<(String, String)>| Settings::load_from(&args(a), &dir, e).and_then(|s| Config::from_settings(&s));
    let p = format!("--config={}", f.display());
    // The environment overrides the file, the command line the environment; case-insensitive.
    let c = load(&[&p, "--port=3400"], env(&[("MAXWELL_USER", "env"), ("maxwell_PORT", "3300"), ("Maxwell_Kafka.Bootstrap.Servers", "k:1"), ("MAXWELL_PRODUCER", "kafka"), ("OTHER_USER", "no")])).unwrap();
    assert_eq!((c.source.user.as_str(), c.source.host.as_str(), c.source.port), ("env", "filehost", 3400));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // A prefixed variable that names no key is a warning, a bad value an error naming it.
    let c = load(&[&p], env(&[("MAXWELL_HA_RUN", "/x")])).unwrap();
    assert!(c.warnings[0].contains("MAXWELL_HA_RUN"), "{:?}", c.warnings);
    let e = load(&[&p], env(&[("MAXWELL_PORT", "x")])).unwrap_err().to_string();
    assert!(e.contains("MAXWELL_PORT") && e.contains("`port`"), "{e}");
    // Without the prefix the environment is not read.
    let c = load(&["--user=a"], env(&[("MAXWELL_USER", "env")])).unwrap();
    assert_eq!(c.source.user, "a");
}

#[test]
fn maxwell_connection_options() {
    let c = cfg(&["--user=a", "--jdbc_options=connectTimeout=1500&useSSL=true"]).unwrap();
    assert_eq!(c.source.connect_timeout, std::time::Duration::from_millis(1500));
    assert_eq!(c.positions_db.connect_timeout, std::time::Duration::from_millis(1500));
    assert_eq!(c.source.tls.mode, TlsMode::Preferred);
    let c = cfg(&["--user=a", "--include_dbs=shop", "--daemon"]).unwrap();
    assert!(c.filter.includes_table("shop", "t") && !c.filter.includes_table("other", "t"));
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
}

/// A script runs on rows before they are named and encrypted (as in Maxwell): the pairs are
/// taken.
#[test]
fn javascript_with_encrypt_and_naming_is_taken() {
    let js = std::env::temp_dir().join(format!("mx-seal-{}.js", std::process::id()));
    std::fs::write(&js, "function process_row(row) {}\n").unwrap();
    let js = js.display().to_string();
    let mut s = Settings::default();
    for (k, v) in [("user", "maxwell"), ("javascript", js.as_str()), ("encrypt", "data"), ("secret_key", "0123456789abcdef"), ("output_naming_strategy", "underscore_to_camelcase")] {
        s.set(k, v).unwrap();
    }
    let c = Config::from_settings(&s).unwrap();
    assert!(c.output.encrypt.is_some() && c.javascript.is_some());
}
