//! Names on servers with `lower_case_table_names` 1 and 2, as Maxwell 1.22.6 gives them
//! (measured with Maxwell itself; docs/maxwell-compatibility.md, "lower_case_table_names").
//! Each test starts a MariaDB of its own (`scripts/mariadb.sh` with `MARIADB_EXTRA_CNF`, on a
//! fresh datadir: the setting is fixed when the datadir is initialised) and stops it at the end.

mod common;

use common::*;
use mysql_async::prelude::Queryable;
use serde_json::Value;
use std::time::Duration;

/// The servers are set up one at a time (scripts/mariadb.sh's installs and starts take turns).
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A private MariaDB started with `lower_case_table_names=<n>`, stopped when dropped.
struct Server {
    port: u16,
}

impl Server {
    fn start(port: u16, lower_case_table_names: u8) -> Server {
        let s = Server { port };
        s.script("reset", lower_case_table_names);
        s
    }

    fn script(&self, arg: &str, lower_case_table_names: u8) {
        let out = std::process::Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mariadb.sh"))
            .arg(arg)
            .env("MARIADB_PORT", self.port.to_string())
            .env("MARIADB_SERVER_ID", (self.port as u32 % 1000 + 500).to_string())
            .env("MARIADB_EXTRA_CNF", format!("lower_case_table_names={lower_case_table_names}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "mariadb.sh {arg} on {}: {}", self.port, String::from_utf8_lossy(&out.stderr));
    }

    async fn conn(&self) -> mysql_async::Conn {
        let opts = mysql_async::OptsBuilder::default().ip_or_hostname("127.0.0.1").tcp_port(self.port).user(Some("root")).prefer_socket(false);
        mysql_async::Conn::new(opts).await.unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.script("stop", 0);
    }
}

async fn run(c: &mut mysql_async::Conn, sqls: &[String]) {
    for s in sqls {
        c.query_drop(s).await.unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

/// Waits until `m` streams with its schema captured (before the statements under test, as
/// Maxwell's capture is).
async fn streaming(m: &Maxwell) {
    let t0 = std::time::Instant::now();
    while !m.stderr().contains("starting binlog stream") {
        assert!(t0.elapsed() < Duration::from_secs(60), "maxwell-ha did not start:\n{}", m.stderr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn variable(c: &mut mysql_async::Conn, name: &str) -> u8 {
    c.query_first::<u8, _>(format!("SELECT @@{name}")).await.unwrap().unwrap()
}

/// `lower_case_table_names=1`: a database captured at start prints in the server's lower
/// case; one created while streaming keeps its CREATE DATABASE name (`Shop…`); table names are
/// lower-cased (`Orders` → `orders`); columns keep their case. Filters and topics see those
/// names: `include: Shop….orders` matches, `include: Shop….Skipped` does not (Maxwell prints
/// `skipped`), and rows land in `<tag>_Shop…_orders` and `<tag>_preshop…_items`. DDL records
/// name `database` and `table` as the statement wrote them, `def` with the history's names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lower_case_table_names_1_names_rows_filters_and_topics_as_maxwell() {
    let _turn = TURN.lock().await;
    let server = Server::start(mysql_port() + 30, 1);
    let mut c = server.conn().await;
    assert_eq!(variable(&mut c, "lower_case_table_names").await, 1);
    let tag = unique("lc");
    let (pre, shop) = (format!("PreShop{tag}"), format!("Shop{tag}"));
    run(&mut c, &[format!("CREATE DATABASE {pre}"), format!("CREATE TABLE {pre}.Items (Id INT PRIMARY KEY, Name VARCHAR(9))")]).await;
    let (t_orders, t_items) = (format!("{tag}_{shop}_orders"), format!("{tag}_{}_items", pre.to_lowercase()));
    create_topic(&t_orders, 1);
    create_topic(&t_items, 1);
    let t_ddl = format!("{tag}_ddl");
    create_topic(&t_ddl, 1);
    let pos = {
        let row: mysql_async::Row = c.query_first("SHOW MASTER STATUS").await.unwrap().unwrap();
        format!("{}:{}", row.get::<String, _>(0).unwrap(), row.get::<u64, _>(1).unwrap())
    };
    let filter = format!("exclude: *.*, include: {shop}.orders, include: {shop}.Skipped, include: {}.items", pre.to_lowercase());
    let m = spawn_plain(&[
        "--host=127.0.0.1".into(),
        format!("--port={}", server.port),
        "--user=root".into(),
        "--replica_server_id=7301".into(),
        format!("--client_id={tag}"),
        format!("--init_position={pos}"),
        format!("--filter={filter}"),
        "--producer=kafka".into(),
        format!("--kafka.bootstrap.servers={}", kafka_bootstrap()),
        format!("--kafka_topic={tag}_%{{database}}_%{{table}}"),
        "--output_ddl=true".into(),
        format!("--ddl_kafka_topic={t_ddl}"),
    ]);
    streaming(&m).await;
    run(
        &mut c,
        &[
            format!("INSERT INTO {pre}.Items VALUES (1, 'x')"),
            format!("INSERT INTO {}.ITEMS VALUES (2, 'y')", pre.to_uppercase()),
            format!("CREATE DATABASE {shop}"),
            format!("CREATE TABLE {}.Orders (OrderId INT PRIMARY KEY, Total DECIMAL(8,2))", shop.to_lowercase()),
            format!("CREATE TABLE {shop}.Skipped (Id INT PRIMARY KEY)"),
            format!("INSERT INTO {shop}.Orders VALUES (1, 2.50)"),
            format!("INSERT INTO {}.ORDERS (ORDERID, total) VALUES (2, 3)", shop.to_uppercase()),
            format!("INSERT INTO {shop}.Skipped VALUES (1)"),
            format!("ALTER TABLE {shop}.ORDERS ADD COLUMN Note VARCHAR(5)"),
            format!("UPDATE {shop}.orders SET Note = 'n' WHERE OrderId = 1"),
        ],
    )
    .await;
    let got = consume(&[t_orders.clone(), t_items.clone()], 5, 60, "database", "default");
    let ddl = consume(std::slice::from_ref(&t_ddl), 2, 60, "database", "default");
    let (st, _, err) = m.terminate();
    assert!(st.success(), "{err}");
    let seen: Vec<(String, String, String, String)> = got
        .iter()
        .map(|g| {
            let v: &Value = &g["value"];
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (g["topic"].as_str().unwrap().to_string(), s("database"), s("table"), v["data"].to_string())
        })
        .collect();
    let want = [
        (t_items.clone(), pre.to_lowercase(), "items".to_string(), r#"{"Id":1,"Name":"x"}"#.to_string()),
        (t_items.clone(), pre.to_lowercase(), "items".into(), r#"{"Id":2,"Name":"y"}"#.into()),
        (t_orders.clone(), shop.clone(), "orders".into(), r#"{"OrderId":1,"Total":2.50}"#.into()),
        (t_orders.clone(), shop.clone(), "orders".into(), r#"{"OrderId":2,"Total":3.00}"#.into()),
        (t_orders.clone(), shop.clone(), "orders".into(), r#"{"OrderId":1,"Total":2.50,"Note":"n"}"#.into()),
    ];
    let mut sorted = seen.clone();
    sorted.sort();
    // `data` compared as JSON values (the consumer's parse sorts keys and reads 2.50 as 2.5).
    let canon = |d: &str| serde_json::from_str::<Value>(d).unwrap().to_string();
    let mut want_sorted: Vec<_> = want.iter().map(|(t, d, n, data)| (t.clone(), d.clone(), n.clone(), canon(data))).collect();
    want_sorted.sort();
    assert_eq!(sorted, want_sorted, "rows as Maxwell names them; log:\n{err}");
    let ddl: Vec<(String, String, String, String, String)> = ddl
        .iter()
        .map(|g| {
            let v: &Value = &g["value"];
            let s = |x: &Value| x.as_str().unwrap_or_default().to_string();
            (s(&v["type"]), s(&v["database"]), s(&v["table"]), s(&v["def"]["database"]), s(&v["def"]["table"]))
        })
        .collect();
    let lower = shop.to_lowercase();
    assert_eq!(
        ddl,
        [
            ("table-create".to_string(), lower, "Orders".to_string(), shop.clone(), "orders".to_string()),
            ("table-alter".into(), shop.clone(), "ORDERS".into(), shop.clone(), "orders".into()),
        ],
        "DDL records as Maxwell names them (the Skipped table's is filtered out)"
    );
}

/// `lower_case_table_names=2` is for case-insensitive file systems: on Linux MariaDB logs
/// "lower_case_table_names was set to 2, even though your the file system … is case
/// sensitive. Now setting lower_case_table_names to 0" and runs with 0, so names are
/// case-sensitive and print as written, as Maxwell reads the variable as 0 too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lower_case_table_names_2_runs_as_0_on_linux_and_names_print_as_written() {
    let _turn = TURN.lock().await;
    let server = Server::start(mysql_port() + 31, 2);
    let mut c = server.conn().await;
    assert_eq!(variable(&mut c, "lower_case_file_system").await, 0, "this test is for a case-sensitive file system");
    assert_eq!(variable(&mut c, "lower_case_table_names").await, 0, "MariaDB turns 2 into 0 on a case-sensitive file system");
    let tag = unique("lc2");
    let shop = format!("Shop{tag}");
    let pos = {
        let row: mysql_async::Row = c.query_first("SHOW MASTER STATUS").await.unwrap().unwrap();
        format!("{}:{}", row.get::<String, _>(0).unwrap(), row.get::<u64, _>(1).unwrap())
    };
    let mut m = spawn_plain(&[
        "--host=127.0.0.1".into(),
        format!("--port={}", server.port),
        "--user=root".into(),
        "--replica_server_id=7302".into(),
        format!("--client_id={tag}"),
        format!("--init_position={pos}"),
        format!("--filter=exclude: *.*, include: {shop}.Orders"),
    ]);
    streaming(&m).await;
    run(
        &mut c,
        &[
            format!("CREATE DATABASE {shop}"),
            format!("CREATE TABLE {shop}.Orders (OrderId INT PRIMARY KEY)"),
            format!("CREATE TABLE {shop}.orders (OrderId INT PRIMARY KEY)"),
            format!("INSERT INTO {shop}.orders VALUES (7)"),
            format!("INSERT INTO {shop}.Orders VALUES (1)"),
        ],
    )
    .await;
    let rows = m.read_until(Duration::from_secs(60), |v| v["table"] == "Orders");
    let (_, _, err) = m.terminate();
    let rows: Vec<String> = rows.iter().map(|v| format!("{}.{} {}", v["database"].as_str().unwrap(), v["table"].as_str().unwrap(), v["data"])).collect();
    assert_eq!(rows, [format!("{shop}.Orders {{\"OrderId\":1}}")], "{err}");
}
