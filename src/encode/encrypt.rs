//! Maxwell's encryption of records (`encrypt=data|all` with `secret_key`), in Maxwell 1.22.6's
//! exact format (its `RowEncrypt` and `EncryptingJsonGenerator`):
//!
//! ```text
//! "encrypted":{"iv":"<base64 of 16 random bytes>","bytes":"<base64 of AES-CBC(PKCS#7) of the JSON text>"}
//! ```
//!
//! The cipher is AES-128, -192 or -256 by the key's length (`secret_key`'s UTF-8 bytes), in
//! CBC mode with PKCS#7 padding (Java's `AES/CBC/PKCS5PADDING`); base64 is the standard
//! alphabet with padding and no line breaks (commons-codec's `encodeBase64String`).
//! `encrypt=data` encrypts `{"data":{…},"old":{…}}` (`old` only when present) and puts the
//! field where `data` was; `encrypt=all` encrypts the whole record and prints
//! `{"encrypted":{…}}` instead.
//!
//! Invariants:
//! - Every record gets a fresh IV from the operating system's random source (drawn in batches
//!   of [`IV_BATCH`]); an [`Encryptor`] is never cloned, so no two records share an IV by
//!   copying one source.
//! - The plaintext is exactly the JSON text a record has without encryption (Maxwell's
//!   plaintexts of `encrypt=data` after the first record of its process start with a space,
//!   a by-product of its JSON writer; ours never do, which no JSON reader sees).

use crate::config::Encryption;
use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, InnerIvInit, KeyInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// IVs drawn from the operating system at a time.
pub const IV_BATCH: usize = 256;

enum Cipher {
    Aes128(aes::Aes128),
    Aes192(aes::Aes192),
    Aes256(aes::Aes256),
}

/// Encrypts records with one key; holds the key schedule, a batch of random IVs and scratch
/// buffers (so encrypting a record allocates nothing once they have grown).
pub struct Encryptor {
    cipher: Cipher,
    ivs: Vec<u8>,
    /// Next unused IV in `ivs`.
    next: usize,
    /// Plaintext, then ciphertext in place.
    buf: Vec<u8>,
    /// The record being encrypted (`encrypt=all`) or its data (`encrypt=data`).
    pub plain: Vec<u8>,
}

impl Encryptor {
    pub fn new(e: &Encryption) -> Self {
        let k = e.key();
        let cipher = match k.len() {
            16 => Cipher::Aes128(aes::Aes128::new_from_slice(k).expect("16 bytes")),
            24 => Cipher::Aes192(aes::Aes192::new_from_slice(k).expect("24 bytes")),
            32 => Cipher::Aes256(aes::Aes256::new_from_slice(k).expect("32 bytes")),
            n => unreachable!("secret_key of {n} bytes passed the configuration check"),
        };
        Self { cipher, ivs: vec![0; 16 * IV_BATCH], next: IV_BATCH, buf: Vec::new(), plain: Vec::new() }
    }

    fn iv(&mut self) -> [u8; 16] {
        if self.next == IV_BATCH {
            // The OS random source does not fail on Linux once booted; if it ever did, no
            // record may go out with a predictable IV.
            getrandom::fill(&mut self.ivs).expect("the operating system's random source");
            self.next = 0;
        }
        let iv: [u8; 16] = self.ivs[16 * self.next..16 * (self.next + 1)].try_into().expect("16 bytes");
        self.next += 1;
        iv
    }

    /// Appends `"encrypted":{"iv":"…","bytes":"…"}` for `plaintext`.
    pub fn write_field(&mut self, out: &mut Vec<u8>, plaintext: &[u8]) {
        let iv = self.iv();
        let n = plaintext.len();
        self.buf.clear();
        self.buf.extend_from_slice(plaintext);
        self.buf.resize(n + 16 - n % 16, 0);
        let ct = match &self.cipher {
            Cipher::Aes128(c) => cbc::Encryptor::<aes::Aes128>::inner_iv_init(c.clone(), &iv.into()).encrypt_padded_mut::<Pkcs7>(&mut self.buf, n),
            Cipher::Aes192(c) => cbc::Encryptor::<aes::Aes192>::inner_iv_init(c.clone(), &iv.into()).encrypt_padded_mut::<Pkcs7>(&mut self.buf, n),
            Cipher::Aes256(c) => cbc::Encryptor::<aes::Aes256>::inner_iv_init(c.clone(), &iv.into()).encrypt_padded_mut::<Pkcs7>(&mut self.buf, n),
        }
        .expect("the buffer holds the padded plaintext");
        out.extend_from_slice(b"\"encrypted\":{\"iv\":\"");
        STANDARD.encode_slice(iv, reserve(out, 24)).expect("24 bytes for 16");
        out.extend_from_slice(b"\",\"bytes\":\"");
        let len = base64::encoded_len(ct.len(), true).expect("no overflow");
        let wrote = STANDARD.encode_slice(ct, reserve(out, len)).expect("room for the base64");
        debug_assert_eq!(wrote, len);
        out.extend_from_slice(b"\"}");
    }

    /// `encrypt=data`: appends `"encrypted":{…}` of [`plain`](Self::plain) (which holds
    /// `{"data":…}`), and empties it.
    pub fn write_plain_field(&mut self, out: &mut Vec<u8>) {
        let plain = std::mem::take(&mut self.plain);
        self.write_field(out, &plain);
        self.plain = plain;
        self.plain.clear();
    }

    /// `encrypt=all`: appends `{"encrypted":{…}}` of [`plain`](Self::plain) (a whole record
    /// without its newline), and empties it.
    pub fn write_record(&mut self, out: &mut Vec<u8>) {
        out.push(b'{');
        self.write_plain_field(out);
        out.push(b'}');
    }
}

/// `len` zero bytes appended to `out`, to be written over.
fn reserve(out: &mut Vec<u8>, len: usize) -> &mut [u8] {
    let at = out.len();
    out.resize(at + len, 0);
    &mut out[at..]
}

/// The plaintext of an `"encrypted"` object `{"iv":…,"bytes":…}` under `key` (16, 24 or 32
/// bytes): an independent CBC decryption, for tests.
#[cfg(test)]
pub(crate) fn decrypt_for_tests(key: &str, e: &serde_json::Value) -> String {
    use aes::cipher::{BlockDecryptMut, KeyIvInit};
    let iv = STANDARD.decode(e["iv"].as_str().unwrap()).unwrap();
    let mut ct = STANDARD.decode(e["bytes"].as_str().unwrap()).unwrap();
    let k = key.as_bytes();
    let pt = match k.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(k, &iv).unwrap().decrypt_padded_mut::<Pkcs7>(&mut ct).unwrap().to_vec(),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(k, &iv).unwrap().decrypt_padded_mut::<Pkcs7>(&mut ct).unwrap().to_vec(),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(k, &iv).unwrap().decrypt_padded_mut::<Pkcs7>(&mut ct).unwrap().to_vec(),
    };
    String::from_utf8(pt).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn encryption(mode: &str, key: &str) -> Encryption {
        let s = Settings::load_in(&[format!("--encrypt={mode}"), format!("--secret_key={key}"), "--user=u".into()], std::path::Path::new("/nonexistent")).unwrap();
        crate::config::Config::from_settings(&s).unwrap().output.encrypt.unwrap()
    }

    fn field(out: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let v: serde_json::Value = serde_json::from_slice(&[b"{", out, b"}"].concat()).unwrap();
        let e = &v["encrypted"];
        (STANDARD.decode(e["iv"].as_str().unwrap()).unwrap(), STANDARD.decode(e["bytes"].as_str().unwrap()).unwrap())
    }

    /// A record Maxwell 1.22.6 encrypted (encrypt=data, secret_key 0123456789abcdef) and the
    /// same plaintext encrypted here with Maxwell's IV: the same bytes.
    #[test]
    fn the_same_ciphertext_as_maxwell_for_the_same_iv() {
        let maxwell_iv = STANDARD.decode("5eS2FlZEeBjqhTfDOeiIFg==").unwrap();
        let mut enc = Encryptor::new(&encryption("data", "0123456789abcdef"));
        enc.ivs[..16].copy_from_slice(&maxwell_iv);
        enc.next = 0;
        let mut out = Vec::new();
        enc.write_field(&mut out, br#"{"data":{"n":1}}"#);
        assert_eq!(String::from_utf8(out).unwrap(), r#""encrypted":{"iv":"5eS2FlZEeBjqhTfDOeiIFg==","bytes":"KJlz9XN54ZMOEm9uGYw5IiwrZIO2FZsc8Uf631Ds5eU="}"#);
    }

    /// Round trips through an independent CBC decryption for each key length and for
    /// plaintexts around the block size; every record has its own IV.
    #[test]
    fn each_key_length_round_trips_with_a_fresh_iv_per_record() {
        use aes::cipher::{BlockDecryptMut, KeyIvInit};
        for key in ["0123456789abcdef", "0123456789abcdef01234567", "0123456789abcdef0123456789abcdef"] {
            let mut enc = Encryptor::new(&encryption("all", key));
            let mut ivs = std::collections::HashSet::new();
            for n in [0usize, 1, 15, 16, 17, 31, 32, 1000, 70_000] {
                let plain: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
                let mut out = Vec::new();
                enc.plain.extend_from_slice(&plain);
                enc.write_record(&mut out);
                assert!(enc.plain.is_empty());
                let (iv, mut ct) = field(&out[1..out.len() - 1]);
                assert_eq!((iv.len(), ct.len() % 16, ct.len() > n), (16, 0, true), "n={n}");
                assert!(ivs.insert(iv.clone()), "IV used twice");
                let got = match key.len() {
                    16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key.as_bytes(), &iv).unwrap().decrypt_padded_mut::<Pkcs7>(&mut ct).unwrap().to_vec(),
                    24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key.as_bytes(), &iv).unwrap().decrypt_padded_mut::<Pkcs7>(&mut ct).unwrap().to_vec(),
                    _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key.as_bytes(), &iv).unwrap().decrypt_padded_mut::<Pkcs7>(&mut ct).unwrap().to_vec(),
                };
                assert_eq!(got, plain, "key of {} bytes, n={n}", key.len());
            }
        }
        // Past one batch of IVs the next batch is drawn, still all distinct.
        let mut enc = Encryptor::new(&encryption("data", "0123456789abcdef"));
        let ivs: std::collections::HashSet<Vec<u8>> = (0..IV_BATCH * 2 + 3)
            .map(|_| {
                let mut out = Vec::new();
                enc.write_field(&mut out, b"{}");
                field(&out).0
            })
            .collect();
        assert_eq!(ivs.len(), IV_BATCH * 2 + 3);
    }
}
