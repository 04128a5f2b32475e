//! What the script saw, written as configured: Maxwell runs a `javascript` filter on the row
//! itself and only then names its fields (`output_naming_strategy`) and encrypts it
//! (`encrypt`) while writing the JSON. Here rows reach the script written plain (the columns'
//! own names, nothing encrypted) and are sealed after it.
//!
//! Invariants:
//! - Only rows are sealed (binlog rows and a bootstrap's records); DDL records never are,
//!   as the encoder never names or encrypts them either.
//! - The result is what the encoder writes for the same row: field order kept, every field
//!   and every `data`/`old` key renamed by the naming strategy, then `encrypt=data` puts
//!   `"encrypted"` where `data` was (plaintext `{"data":…,"old":…}`, `old` only when present)
//!   and `encrypt=all` replaces the record by `{"encrypted":…}` of the whole of it, with its
//!   `push_ts` inside when `output_push_timestamp` asks for one (the sink cannot stamp a
//!   sealed record).
//! - Values keep their bytes.

use super::apply::{entries, member};
use crate::config::{EncryptMode, NamingStrategy};
use crate::encode::encrypt::Encryptor;
use crate::encode::{OutputConfig, RowMeta, Transaction};

pub struct Sealer {
    naming: NamingStrategy,
    encrypt: Option<(EncryptMode, Encryptor)>,
    push_ts: bool,
}

impl Sealer {
    /// The sealer for `cfg`, none when rows are written plain anyway.
    pub fn new(cfg: &OutputConfig) -> Option<Self> {
        let encrypt = cfg.encrypt.as_ref().map(|e| (e.mode, Encryptor::new(e)));
        if encrypt.is_none() && cfg.naming == NamingStrategy::None {
            return None;
        }
        let all = matches!(encrypt, Some((EncryptMode::All, _)));
        Some(Self { naming: cfg.naming, encrypt, push_ts: cfg.push_timestamp && all })
    }

    /// What the encoder gives the script instead of `cfg`: rows written plain.
    pub fn plain(cfg: &OutputConfig) -> OutputConfig {
        OutputConfig { encrypt: None, naming: NamingStrategy::None, ..cfg.clone() }
    }

    /// Seals every row of `tx` (see the module invariants).
    pub fn seal(&mut self, tx: &mut Transaction) -> Result<(), String> {
        if tx.row_ends.is_empty() {
            return Ok(());
        }
        let mut json = Vec::with_capacity(tx.json.len() + 64 * tx.row_ends.len());
        let mut ends = Vec::with_capacity(tx.row_ends.len());
        let mut start = 0;
        for (i, &end) in tx.row_ends.iter().enumerate() {
            let line = &tx.json[start..end - 1];
            if matches!(tx.meta.get(i), Some(RowMeta::Ddl { .. })) {
                json.extend_from_slice(line);
            } else {
                self.seal_line(std::str::from_utf8(line).map_err(|e| e.to_string())?, &mut json)?;
            }
            json.push(b'\n');
            ends.push(json.len());
            start = end;
        }
        (tx.json, tx.row_ends) = (json, ends);
        Ok(())
    }

    fn name(&self, key: &str) -> String {
        match self.naming {
            NamingStrategy::CamelCase => crate::config::newer::camel_case(key),
            NamingStrategy::None => key.to_string(),
        }
    }

    /// A `data` or `old` object with its keys named.
    fn object(&self, text: &str) -> Result<Vec<u8>, String> {
        if self.naming == NamingStrategy::None {
            return Ok(text.as_bytes().to_vec());
        }
        let mut out = vec![b'{'];
        let mut first = true;
        for (k, v) in entries(text)? {
            member(&mut out, &mut first, &self.name(&k), v.get().as_bytes());
        }
        out.push(b'}');
        Ok(out)
    }

    fn seal_line(&mut self, line: &str, out: &mut Vec<u8>) -> Result<(), String> {
        let fields = entries(line)?;
        let data_mode = matches!(self.encrypt, Some((EncryptMode::Data, _)));
        let mut named = vec![b'{'];
        let mut first = true;
        for (k, v) in &fields {
            match k.as_str() {
                "data" if data_mode => {
                    let mut plain = b"{\"data\":".to_vec();
                    plain.extend_from_slice(&self.object(v.get())?);
                    if let Some((_, old)) = fields.iter().find(|(k, _)| k == "old") {
                        plain.extend_from_slice(b",\"old\":");
                        plain.extend_from_slice(&self.object(old.get())?);
                    }
                    plain.push(b'}');
                    if !std::mem::take(&mut first) {
                        named.push(b',');
                    }
                    let (_, enc) = self.encrypt.as_mut().expect("data mode");
                    enc.write_field(&mut named, &plain);
                }
                "old" if data_mode => {}
                "data" | "old" => {
                    let object = self.object(v.get())?;
                    member(&mut named, &mut first, &self.name(k), &object);
                }
                _ => member(&mut named, &mut first, &self.name(k), v.get().as_bytes()),
            }
        }
        named.push(b'}');
        match &mut self.encrypt {
            Some((EncryptMode::All, enc)) => {
                let stamped = self.push_ts.then(|| crate::encode::fields::stamp(&named, self.naming, std::time::SystemTime::now())).flatten();
                enc.plain.clear();
                enc.plain.extend_from_slice(stamped.as_deref().unwrap_or(&named));
                enc.write_record(out);
            }
            _ => out.extend_from_slice(&named),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Encryption;

    fn cfg(naming: NamingStrategy, encrypt: Option<EncryptMode>) -> OutputConfig {
        OutputConfig { naming, encrypt: encrypt.map(|mode| Encryption::new(mode, "0123456789abcdef").unwrap()), ..Default::default() }
    }

    fn sealed(c: &OutputConfig, lines: &[&str], ddl: &[bool]) -> Vec<String> {
        let mut tx = Transaction::default();
        for (l, &d) in lines.iter().zip(ddl) {
            tx.json.extend_from_slice(l.as_bytes());
            tx.json.push(b'\n');
            tx.row_ends.push(tx.json.len());
            tx.meta.push(if d { RowMeta::Ddl { database: "d".into(), table: None, at: None } } else { row_meta() });
        }
        Sealer::new(c).expect("something to seal").seal(&mut tx).unwrap();
        String::from_utf8(tx.json).unwrap().lines().map(str::to_string).collect()
    }

    fn row_meta() -> RowMeta {
        let t = crate::binlog::schema::TableInfo { table_id: 1, database: "shop".into(), table: "orders".into(), columns: vec![], primary_key: vec![], head_json: vec![], excluded: vec![] };
        let t = std::sync::Arc::new(t);
        RowMeta::Row { table: t, kind: crate::binlog::rows::RowKind::Update, pk: vec![], partition_columns: vec![], at: None }
    }

    const ROW: &str = r#"{"database":"shop","table":"orders","type":"update","ts":1,"server_id":1,"primary_key":[7],"data":{"order_id":7,"total_due":12345678901234567890},"old":{"total_due":1.50}}"#;
    const DDL: &str = r#"{"type":"table-create","database":"shop","table":"new_t","ts":1000,"sql":"CREATE TABLE new_t (a_b INT)"}"#;

    #[test]
    fn nothing_to_seal_without_naming_or_encryption() {
        assert!(Sealer::new(&OutputConfig::default()).is_none());
        let plain = Sealer::plain(&cfg(NamingStrategy::CamelCase, Some(EncryptMode::All)));
        assert!(plain.encrypt.is_none() && plain.naming == NamingStrategy::None);
    }

    #[test]
    fn camel_case_names_fields_and_columns_and_keeps_values() {
        let out = sealed(&cfg(NamingStrategy::CamelCase, None), &[ROW, DDL], &[false, true]);
        assert_eq!(
            out[0],
            r#"{"database":"shop","table":"orders","type":"update","ts":1,"serverId":1,"primaryKey":[7],"data":{"orderId":7,"totalDue":12345678901234567890},"old":{"totalDue":1.50}}"#
        );
        assert_eq!(out[1], DDL, "DDL records are left as they are");
    }

    fn decrypt(field: &serde_json::Value) -> serde_json::Value {
        serde_json::from_str(&crate::encode::encrypt::decrypt_for_tests("0123456789abcdef", field)).unwrap()
    }

    #[test]
    fn encrypt_data_seals_data_and_old_where_data_was() {
        let out = sealed(&cfg(NamingStrategy::CamelCase, Some(EncryptMode::Data)), &[ROW], &[false]);
        let v: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
        assert!(out[0].starts_with(r#"{"database":"shop","table":"orders","type":"update","ts":1,"serverId":1,"primaryKey":[7],"encrypted":{"iv":""#), "{}", out[0]);
        assert!(v.get("data").is_none() && v.get("old").is_none());
        assert_eq!(decrypt(&v["encrypted"]), serde_json::json!({"data": {"orderId": 7, "totalDue": 12345678901234567890u64}, "old": {"totalDue": 1.5}}));
    }

    #[test]
    fn encrypt_all_seals_the_whole_record_but_not_ddl() {
        let out = sealed(&cfg(NamingStrategy::None, Some(EncryptMode::All)), &[ROW, DDL], &[false, true]);
        let v: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["encrypted"]);
        assert_eq!(decrypt(&v["encrypted"]), serde_json::from_str::<serde_json::Value>(ROW).unwrap());
        assert_eq!(out[1], DDL);
    }
}
