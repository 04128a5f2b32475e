//! TLS to MariaDB, as Maxwell users configure it (`ssl`, `replication_ssl`), against the test
//! server's own certificate (signed by a CA made by scripts/mariadb.sh for 127.0.0.1). The
//! accounts *require* TLS (`REQUIRE SSL`, `REQUIRE X509`): a node that connects unencrypted is
//! refused by the server, so rows arriving prove the connections were encrypted. A wrong CA or
//! a server that refuses the account stops the node with one error, at once.

mod common;

use common::*;
use std::time::Duration;

fn tls_dir() -> String {
    script("mariadb.sh", &["tls"]).trim().to_string()
}

/// A node alone as `user`, streaming `db` from `start` to stdout, with `tls` settings.
fn node(user: &str, db: &str, start: &str, tls: &[String]) -> Maxwell {
    let mut args = vec![
        format!("--user={user}"),
        "--password=tls-secret".to_string(),
        format!("--init_position={start}"),
        format!("--filter=exclude: *.*, include: {db}.*"),
    ];
    args.extend(tls.iter().cloned());
    spawn_maxwell(&args)
}

fn ids(rows: &[serde_json::Value]) -> Vec<u64> {
    rows.iter().filter_map(|r| r["data"]["id"].as_u64()).collect()
}

/// Expects the node to stop by itself with one error line that contains every `want`.
fn refused(m: Maxwell, what: &str, want: &[&str]) {
    let (st, err) = m.wait_exit(Duration::from_secs(30));
    let st = st.unwrap_or_else(|| panic!("{what}: the node kept running; stderr:\n{err}"));
    assert!(!st.success(), "{what}: exit status {st:?}");
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("ERROR")).collect();
    assert!(!errors.is_empty() && want.iter().all(|w| errors.iter().any(|l| l.contains(w))), "{what}: expected an error with {want:?}; stderr:\n{err}");
    println!("{what}: {}", errors[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_modes_against_a_server_that_requires_tls() {
    let dir = tls_dir();
    let (ca, cert, key) = (format!("{dir}/ca.pem"), format!("{dir}/client-cert.pem"), format!("{dir}/client-key.pem"));
    let db = unique("tls");
    let ssl_user = unique("mxssl");
    let x509_user = unique("mxx509");
    let mut c = conn().await;
    exec(&mut c, &format!("CREATE DATABASE {db}")).await;
    exec(&mut c, &format!("CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, v VARCHAR(20))")).await;
    for (u, req) in [(&ssl_user, "SSL"), (&x509_user, "X509")] {
        exec(&mut c, &format!("CREATE USER '{u}'@'127.0.0.1' IDENTIFIED BY 'tls-secret' REQUIRE {req}")).await;
        exec(&mut c, &format!("GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{u}'@'127.0.0.1'")).await;
        exec(&mut c, &format!("GRANT ALL ON maxwell.* TO '{u}'@'127.0.0.1'")).await;
    }

    // Encrypted connections that work: each mode that verifies, and a client certificate.
    let working: [(&str, &String, Vec<String>); 4] = [
        ("REQUIRED", &ssl_user, vec!["--ssl=REQUIRED".into()]),
        ("PREFERRED", &ssl_user, vec!["--ssl=preferred".into()]),
        ("VERIFY_IDENTITY with ssl_ca", &ssl_user, vec!["--ssl=VERIFY_IDENTITY".into(), format!("--ssl_ca={ca}")]),
        (
            "VERIFY_CA with a client certificate (REQUIRE X509)",
            &x509_user,
            vec!["--ssl=VERIFY_CA".into(), format!("--ssl_ca={ca}"), format!("--ssl_cert={cert}"), format!("--ssl_key={key}")],
        ),
    ];
    for (n, (what, user, tls)) in working.iter().enumerate() {
        let start = master_position(&mut c).await;
        let mut m = node(user, &db, &start, tls);
        let base = (n as u64 + 1) * 1000;
        for i in 1..=20u64 {
            exec(&mut c, &format!("INSERT INTO {db}.t VALUES ({}, 'v')", base + i)).await;
        }
        let rows = m.read_until(Duration::from_secs(30), |r| r["data"]["id"].as_u64() == Some(base + 20));
        let (st, _, err) = m.terminate();
        assert!(st.success(), "{what}: clean stop; stderr:\n{err}");
        assert_eq!(ids(&rows), (base + 1..=base + 20).collect::<Vec<_>>(), "{what}: every row, once, in order");
        // The position was stored over the `host` connection, encrypted too.
        assert!(!err.contains("positions"), "{what}: positions table errors: {err}");
        println!("{what}: 20 rows over TLS");
    }

    // Plain connections to accounts that require TLS are refused by the server.
    let start = master_position(&mut c).await;
    refused(node(&ssl_user, &db, &start, &[]), "ssl unset, account REQUIRE SSL", &["access denied", "set ssl=REQUIRED", "now ssl=DISABLED"]);
    refused(node(&x509_user, &db, &start, &["--ssl=REQUIRED".into()]), "no client certificate, account REQUIRE X509", &["access denied", "ssl_cert and ssl_key", "now ssl=REQUIRED)"]);

    // A CA that did not sign the server's certificate: one definite error naming ssl_ca.
    let other = std::env::temp_dir().join(format!("{}-ca", unique("other")));
    std::fs::create_dir_all(&other).unwrap();
    let other_ca = other.join("ca.pem");
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other CA", "-keyout"])
        .arg(other.join("ca-key.pem"))
        .arg("-out")
        .arg(&other_ca)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    refused(
        node(&ssl_user, &db, &start, &["--ssl=VERIFY_CA".into(), format!("--ssl_ca={}", other_ca.display())]),
        "VERIFY_CA with a CA that did not sign the server's certificate",
        &["not signed by ssl_ca"],
    );
    // The server's certificate names the address 127.0.0.1, not the name localhost.
    let m = spawn_maxwell(&[
        format!("--user={ssl_user}"),
        "--password=tls-secret".into(),
        format!("--init_position={start}"),
        "--ssl=VERIFY_IDENTITY".into(),
        format!("--ssl_ca={ca}"),
        "--host=localhost".into(),
    ]);
    refused(m, "VERIFY_IDENTITY to an address the certificate does not name", &["does not name the host", "VERIFY_CA"]);
    let _ = std::fs::remove_dir_all(&other);
}
