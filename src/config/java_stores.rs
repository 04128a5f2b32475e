//! Java's key and trust stores, read for librdkafka: Maxwell users give Kafka's TLS settings
//! as Java's client takes them (`ssl.truststore.*`, `ssl.keystore.*`), and librdkafka wants
//! PEM. The stores are read from their files when the configuration is built and handed to
//! librdkafka as PEM strings (`ssl.ca.pem`, `ssl.certificate.pem`, `ssl.key.pem`).
//!
//! Invariants:
//! - The format is taken from the file's first bytes, not from `*.type` (Java's default type
//!   changed from JKS to PKCS12 in Java 9, and files keep their old names): `FEEDFEED` is JKS,
//!   `CECECECE` JCEKS, anything else is tried as PKCS#12.
//! - A JKS/JCEKS store with a password is checked against its integrity digest (SHA-1 of the
//!   password in UTF-16BE, "Mighty Aphrodite" and the body, as Java computes it); a wrong
//!   password or a damaged file is one error naming the file, never a store read half.
//! - A JKS private key is decrypted with Java's own key protection (a SHA-1 key stream; the
//!   digest of password and key must match), giving the PKCS#8 key Java stored.
//! - Nothing is written to disk: the PEM text lives in the producer's configuration only.

use base64::Engine;
use openssl::pkcs12::Pkcs12;
use openssl::sha::sha1;
use openssl::x509::X509;

/// What a store held, as PEM.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pem {
    /// Certificates: a trust store's trusted ones, or a key entry's chain (leaf first).
    pub certs: String,
    /// The private key (PKCS#8), when the store held one.
    pub key: Option<String>,
}

/// Reads the trusted certificates of the store at `path` (`password` may be empty: then a
/// JKS store's digest is not checked, as Java does).
pub fn trusted(path: &str, password: &str) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read trust store {path}: {e}"))?;
    let pem = read(&bytes, password, password).map_err(|e| format!("trust store {path}: {e}"))?;
    if pem.certs.is_empty() {
        return Err(format!("trust store {path} holds no certificate"));
    }
    Ok(pem.certs)
}

/// Reads the private key and its certificate chain from the key store at `path`
/// (`key_password`: Java's `ssl.key.password`, by default the store's password).
pub fn key_pair(path: &str, password: &str, key_password: &str) -> Result<Pem, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read key store {path}: {e}"))?;
    let pem = read(&bytes, password, key_password).map_err(|e| format!("key store {path}: {e}"))?;
    if pem.key.is_none() {
        return Err(format!("key store {path} holds no private key"));
    }
    Ok(pem)
}

/// Java's store settings that [`librdkafka_settings`] answers for (always).
pub const STORE_KEYS: &[&str] = &[
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.type",
    "ssl.truststore.certificates",
    "ssl.keystore.type",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
];

/// Whether the key store of `props` is one librdkafka cannot read itself (JKS or JCEKS, by
/// its type or, with no type, by its first bytes): then its location and passwords are
/// [`librdkafka_settings`]'s too. A PKCS#12 store goes to librdkafka as it is.
pub fn is_java_keystore(props: &[(String, String)]) -> bool {
    let get = |k: &str| props.iter().find(|(p, _)| p == k).map(|(_, v)| v.as_str());
    match get("ssl.keystore.type").map(str::to_ascii_uppercase).as_deref() {
        Some("JKS" | "JCEKS") => true,
        Some(_) => false,
        None => get("ssl.keystore.location")
            .and_then(|l| std::fs::read(l).ok())
            .is_some_and(|b| matches!(b.get(..4), Some([0xFE, 0xED, 0xFE, 0xED] | [0xCE, 0xCE, 0xCE, 0xCE]))),
    }
}

/// librdkafka's settings for Java's `ssl.truststore.*` and `ssl.keystore.*` in `props`
/// (Kafka's Java names, without `kafka.`): trusted certificates as `ssl.ca.pem` (a PEM store
/// as `ssl.ca.location`), a JKS key pair as `ssl.key.pem` and `ssl.certificate.pem`, Java's
/// PEM key settings as the same. An explicit librdkafka CA setting wins, with a warning.
pub fn librdkafka_settings(props: &[(String, String)], warnings: &mut Vec<String>) -> Result<Vec<(String, String)>, String> {
    let get = |k: &str| props.iter().find(|(p, _)| p == k).map(|(_, v)| v.as_str());
    let mut out: Vec<(String, String)> = Vec::new();
    let store_type = |k: &str| -> Result<String, String> {
        let t = get(k).unwrap_or("").trim().to_ascii_uppercase();
        match t.as_str() {
            "" | "JKS" | "JCEKS" | "PKCS12" | "PEM" => Ok(t),
            _ => Err(format!("`kafka.{k}={}`: the stores read here are JKS, JCEKS, PKCS12 and PEM", get(k).unwrap_or(""))),
        }
    };
    let trust_type = store_type("ssl.truststore.type")?;
    let mut trust = Vec::new();
    if let Some(pem) = get("ssl.truststore.certificates") {
        trust.push(("ssl.ca.pem".to_string(), pem.to_string()));
    } else if let Some(location) = get("ssl.truststore.location") {
        if trust_type == "PEM" {
            trust.push(("ssl.ca.location".to_string(), location.to_string()));
        } else {
            trust.push(("ssl.ca.pem".to_string(), trusted(location, get("ssl.truststore.password").unwrap_or(""))?));
        }
    }
    if !trust.is_empty() && (get("ssl.ca.location").is_some() || get("ssl.ca.pem").is_some()) {
        warnings.push("`kafka.ssl.truststore.*` and librdkafka's `kafka.ssl.ca.*` are both set: the CA of kafka.ssl.ca.* is used".into());
        trust.clear();
    }
    out.extend(trust);
    let key_type = store_type("ssl.keystore.type")?;
    if key_type == "PEM" {
        if let Some(k) = get("ssl.keystore.key") {
            out.push(("ssl.key.pem".into(), k.to_string()));
        }
        if let Some(c) = get("ssl.keystore.certificate.chain") {
            out.push(("ssl.certificate.pem".into(), c.to_string()));
        }
    } else if is_java_keystore(props) {
        let location = get("ssl.keystore.location").ok_or("`kafka.ssl.keystore.type` is JKS but `kafka.ssl.keystore.location` is not set")?;
        let password = get("ssl.keystore.password").unwrap_or("");
        let pem = key_pair(location, password, get("ssl.key.password").unwrap_or(password))?;
        out.push(("ssl.key.pem".into(), pem.key.unwrap_or_default()));
        out.push(("ssl.certificate.pem".into(), pem.certs));
    }
    Ok(out)
}

fn read(bytes: &[u8], password: &str, key_password: &str) -> Result<Pem, String> {
    match bytes.get(..4) {
        Some([0xFE, 0xED, 0xFE, 0xED]) | Some([0xCE, 0xCE, 0xCE, 0xCE]) => jks(bytes, password, key_password),
        _ => pkcs12(bytes, password),
    }
}

fn pkcs12(bytes: &[u8], password: &str) -> Result<Pem, String> {
    let p = Pkcs12::from_der(bytes).map_err(|_| "neither a JKS nor a PKCS#12 store".to_string())?;
    let parsed = p.parse2(password).map_err(|e| format!("cannot open the PKCS#12 store (wrong password?): {e}"))?;
    let mut pem = Pem::default();
    if let Some(c) = parsed.cert {
        pem.certs.push_str(&cert_pem(&c)?);
    }
    for c in parsed.ca.into_iter().flatten() {
        pem.certs.push_str(&cert_pem(&c)?);
    }
    if let Some(k) = parsed.pkey {
        let der = k.private_key_to_pkcs8().map_err(|e| e.to_string())?;
        pem.key = Some(armor("PRIVATE KEY", &der));
    }
    Ok(pem)
}

fn cert_pem(c: &X509) -> Result<String, String> {
    c.to_der().map(|d| armor("CERTIFICATE", &d)).map_err(|e| e.to_string())
}

fn armor(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap());
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

fn utf16be(password: &str) -> Vec<u8> {
    password.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
}

/// A big-endian reader over the store's bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("the store ends in the middle of an entry".into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn utf(&mut self) -> Result<&'a [u8], String> {
        let n = self.u16()? as usize;
        self.take(n)
    }
    fn block(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    /// A certificate as the store writes one (version 2: its type name first).
    fn cert(&mut self, version: u32) -> Result<&'a [u8], String> {
        if version == 2 && self.utf()? != b"X.509" {
            return Err("a certificate that is not X.509".into());
        }
        self.block()
    }
}

fn jks(bytes: &[u8], password: &str, key_password: &str) -> Result<Pem, String> {
    if bytes.len() < 32 {
        return Err("too short for a JKS store".into());
    }
    let (body, digest) = bytes.split_at(bytes.len() - 20);
    if !password.is_empty() {
        let mut data = utf16be(password);
        data.extend_from_slice(b"Mighty Aphrodite");
        data.extend_from_slice(body);
        if sha1(&data) != digest {
            return Err("the password is wrong or the file is damaged (its integrity digest does not match)".into());
        }
    }
    let mut r = Reader(&body[4..]);
    let version = r.u32()?;
    if version != 1 && version != 2 {
        return Err(format!("unknown JKS version {version}"));
    }
    let mut pem = Pem::default();
    for _ in 0..r.u32()? {
        let tag = r.u32()?;
        let _alias = r.utf()?;
        r.take(8)?; // creation time
        match tag {
            // A private key and its chain.
            1 => {
                let protected = r.block()?;
                let chain: Vec<&[u8]> = (0..r.u32()?).map(|_| r.cert(version)).collect::<Result<_, _>>()?;
                if pem.key.is_none() {
                    pem.key = Some(armor("PRIVATE KEY", &unprotect(protected, key_password)?));
                    for c in chain {
                        pem.certs.push_str(&armor("CERTIFICATE", c));
                    }
                }
            }
            // A trusted certificate.
            2 => {
                let c = r.cert(version)?;
                pem.certs.push_str(&armor("CERTIFICATE", c));
            }
            // A JCEKS secret key (a serialized Java object): nothing for TLS; its length is
            // not written, so nothing after it can be read.
            3 => break,
            t => return Err(format!("unknown JKS entry type {t}")),
        }
    }
    Ok(pem)
}

/// Java's JKS key protection (`sun.security.provider.KeyProtector`): the encrypted key is
/// salt(20) ‖ key XOR stream ‖ SHA-1(password ‖ key), the stream being SHA-1 chained over
/// password ‖ previous digest, starting from the salt.
fn unprotect(encrypted_info: &[u8], password: &str) -> Result<Vec<u8>, String> {
    let data = encrypted_octets(encrypted_info).ok_or("a private key entry that is not an EncryptedPrivateKeyInfo")?;
    if data.len() < 40 {
        return Err("a private key entry too short to hold a key".into());
    }
    let pw = utf16be(password);
    let (salt, rest) = data.split_at(20);
    let (enc, check) = rest.split_at(rest.len() - 20);
    let mut digest: [u8; 20] = salt.try_into().unwrap();
    let mut key = Vec::with_capacity(enc.len());
    for chunk in enc.chunks(20) {
        let mut d = pw.clone();
        d.extend_from_slice(&digest);
        digest = sha1(&d);
        key.extend(chunk.iter().zip(digest.iter()).map(|(a, b)| a ^ b));
    }
    let mut d = pw;
    d.extend_from_slice(&key);
    if sha1(&d) != check {
        return Err("cannot decrypt the private key: wrong key password (kafka.ssl.key.password)".into());
    }
    Ok(key)
}

/// The OCTET STRING of a DER `EncryptedPrivateKeyInfo` (SEQUENCE { AlgorithmIdentifier,
/// OCTET STRING }).
fn encrypted_octets(der: &[u8]) -> Option<&[u8]> {
    let (tag, seq, _) = tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (_, _, rest) = tlv(seq)?; // the algorithm
    let (tag, octets, _) = tlv(rest)?;
    (tag == 0x04).then_some(octets)
}

/// One DER element: (tag, contents, what follows).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, mut b) = b.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n].iter().fold(0usize, |a, &x| a << 8 | x as usize);
        b = &b[n..];
        len
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

#[cfg(test)]
#[path = "java_stores_tests.rs"]
mod tests;
