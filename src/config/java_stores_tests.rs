//! Stores made by Java's own `keytool` (Java 17 is on every machine that builds this), read
//! back and checked with OpenSSL: the key matches its certificate, the trusted certificate is
//! the one imported, and wrong passwords are named.

use super::*;
use openssl::pkey::PKey;
use std::path::{Path, PathBuf};
use std::process::Command;

fn keytool(dir: &Path, args: &[&str]) {
    let out = Command::new("keytool").current_dir(dir).args(args).output().expect("keytool (Java 17) runs");
    assert!(out.status.success(), "keytool {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// A fresh directory with a key pair in JKS (`k.jks`, key password differing from the store's)
/// and in PKCS#12 (`k.p12`), its certificate in PEM (`cert.pem`), and trust stores holding
/// that certificate in both formats (`t.jks`, `t.p12`).
fn stores() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("java-stores-{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], ""));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let gen = |file: &str, ty: &str, keypass: &str| {
        keytool(
            &dir,
            &["-genkeypair", "-alias", "me", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=maxwell-ha test", "-validity", "2", "-keystore", file, "-storetype", ty, "-storepass", "storepass", "-keypass", keypass],
        )
    };
    gen("k.jks", "JKS", "keypass");
    gen("k.p12", "PKCS12", "storepass");
    keytool(&dir, &["-exportcert", "-rfc", "-alias", "me", "-keystore", "k.jks", "-storepass", "storepass", "-file", "cert.pem"]);
    for (file, ty) in [("t.jks", "JKS"), ("t.p12", "PKCS12")] {
        keytool(&dir, &["-importcert", "-noprompt", "-alias", "ca", "-file", "cert.pem", "-keystore", file, "-storetype", ty, "-storepass", "trustpass"]);
    }
    dir
}

fn first_cert(pem: &str) -> X509 {
    X509::from_pem(pem.as_bytes()).expect("PEM certificate")
}

#[test]
fn key_pairs_and_trusted_certificates_from_jks_and_pkcs12() {
    let dir = stores();
    let p = |f: &str| dir.join(f).display().to_string();
    let exported = X509::from_pem(&std::fs::read(dir.join("cert.pem")).unwrap()).unwrap();

    for (store, keypass) in [("k.jks", "keypass"), ("k.p12", "storepass")] {
        let pem = key_pair(&p(store), "storepass", keypass).unwrap_or_else(|e| panic!("{store}: {e}"));
        let key = PKey::private_key_from_pem(pem.key.as_deref().unwrap().as_bytes()).unwrap();
        let cert = first_cert(&pem.certs);
        assert!(key.public_eq(&cert.public_key().unwrap()), "{store}: the key belongs to its certificate");
        assert!(pem.key.as_deref().unwrap().starts_with("-----BEGIN PRIVATE KEY-----\n"), "PKCS#8 PEM, as librdkafka reads it");
    }
    let jks_cert = first_cert(&key_pair(&p("k.jks"), "storepass", "keypass").unwrap().certs);
    assert_eq!(jks_cert.to_der().unwrap(), exported.to_der().unwrap(), "the chain is the stored certificate");

    for store in ["t.jks", "t.p12"] {
        let certs = trusted(&p(store), "trustpass").unwrap_or_else(|e| panic!("{store}: {e}"));
        assert_eq!(certs.matches("-----BEGIN CERTIFICATE-----").count(), 1, "{store}: {certs}");
        assert_eq!(first_cert(&certs).to_der().unwrap(), exported.to_der().unwrap(), "{store}: the imported certificate");
    }
    // Java opens a JKS trust store without a password (no integrity check); so does this.
    assert!(trusted(&p("t.jks"), "").is_ok());
}

#[test]
fn wrong_passwords_and_other_files_are_named() {
    let dir = stores();
    let p = |f: &str| dir.join(f).display().to_string();
    let e = trusted(&p("t.jks"), "wrong").unwrap_err();
    assert!(e.contains("t.jks") && e.contains("password is wrong"), "{e}");
    let e = trusted(&p("t.p12"), "wrong").unwrap_err();
    assert!(e.contains("t.p12") && e.contains("wrong password"), "{e}");
    let e = key_pair(&p("k.jks"), "storepass", "not-the-key-password").unwrap_err();
    assert!(e.contains("kafka.ssl.key.password"), "{e}");
    let e = key_pair(&p("t.jks"), "trustpass", "trustpass").unwrap_err();
    assert!(e.contains("no private key"), "{e}");
    let e = trusted(&p("cert.pem"), "x").unwrap_err();
    assert!(e.contains("neither a JKS nor a PKCS#12 store"), "{e}");
    let e = trusted(&p("missing.jks"), "x").unwrap_err();
    assert!(e.contains("cannot read trust store") && e.contains("missing.jks"), "{e}");
    // A damaged JKS file fails its digest rather than being read half.
    let mut b = std::fs::read(dir.join("t.jks")).unwrap();
    let n = b.len() / 2;
    b[n] ^= 0xff;
    std::fs::write(dir.join("damaged.jks"), b).unwrap();
    assert!(trusted(&p("damaged.jks"), "trustpass").unwrap_err().contains("damaged"));
}
