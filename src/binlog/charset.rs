//! Character sets: from a column's collation id to a decoder that yields UTF-8.
//!
//! Invariants:
//! - The collation-id → charset-name map comes from the server itself
//!   (`information_schema.COLLATIONS`), so ids MariaDB and MySQL assign differently never
//!   mix; [`CollationMap::builtin`] only covers tests and the ids both families share.
//! - `binary` (id 63) means "bytes": such values are emitted base64-encoded, as Maxwell does.
//! - A charset we cannot decode is a definite error naming the column, never mojibake.

use std::borrow::Cow;
use std::collections::HashMap;

/// How to turn a column's bytes into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Binary,
    Ucs2,
    Utf16Le,
    Utf32,
    Encoding(&'static encoding_rs::Encoding),
}

impl Charset {
    /// Maps a MySQL/MariaDB character-set name to a decoder; `None` when unsupported.
    pub fn from_mysql_name(name: &str) -> Option<Self> {
        use encoding_rs::*;
        Some(match name.to_ascii_lowercase().as_str() {
            "utf8" | "utf8mb3" | "utf8mb4" | "ascii" => Charset::Utf8,
            "binary" => Charset::Binary,
            "ucs2" | "utf16" => Charset::Ucs2,
            "utf16le" => Charset::Utf16Le,
            "utf32" => Charset::Utf32,
            // MySQL's latin1 is cp1252.
            "latin1" => Charset::Encoding(WINDOWS_1252),
            "latin2" => Charset::Encoding(ISO_8859_2),
            "latin5" => Charset::Encoding(WINDOWS_1254),
            "latin7" => Charset::Encoding(ISO_8859_13),
            "greek" => Charset::Encoding(ISO_8859_7),
            "hebrew" => Charset::Encoding(ISO_8859_8),
            "cp1250" => Charset::Encoding(WINDOWS_1250),
            "cp1251" => Charset::Encoding(WINDOWS_1251),
            "cp1256" => Charset::Encoding(WINDOWS_1256),
            "cp1257" => Charset::Encoding(WINDOWS_1257),
            "cp866" => Charset::Encoding(IBM866),
            "koi8r" => Charset::Encoding(KOI8_R),
            "koi8u" => Charset::Encoding(KOI8_U),
            "macroman" => Charset::Encoding(MACINTOSH),
            "tis620" => Charset::Encoding(WINDOWS_874),
            "gbk" | "gb2312" => Charset::Encoding(GBK),
            "gb18030" => Charset::Encoding(GB18030),
            "big5" => Charset::Encoding(BIG5),
            "ujis" | "eucjpms" => Charset::Encoding(EUC_JP),
            "sjis" | "cp932" => Charset::Encoding(SHIFT_JIS),
            "euckr" => Charset::Encoding(EUC_KR),
            _ => return None,
        })
    }

    /// Decodes `b` to text; `None` for [`Charset::Binary`].
    #[inline]
    pub fn decode<'a>(&self, b: &'a [u8]) -> Option<Cow<'a, str>> {
        match self {
            Charset::Utf8 => Some(String::from_utf8_lossy(b)),
            Charset::Binary => None,
            Charset::Ucs2 => Some(Cow::Owned(utf16(b, u16::from_be_bytes))),
            Charset::Utf16Le => Some(Cow::Owned(utf16(b, u16::from_le_bytes))),
            Charset::Utf32 => Some(Cow::Owned(
                b.chunks_exact(4)
                    .map(|c| char::from_u32(u32::from_be_bytes(c.try_into().unwrap())).unwrap_or('\u{fffd}'))
                    .collect(),
            )),
            Charset::Encoding(e) => Some(e.decode_without_bom_handling(b).0),
        }
    }
}

fn utf16(b: &[u8], f: fn([u8; 2]) -> u16) -> String {
    let units = b.chunks_exact(2).map(|c| f([c[0], c[1]]));
    char::decode_utf16(units).map(|r| r.unwrap_or('\u{fffd}')).collect()
}

/// Collation id → character-set name, as the source server reports it.
#[derive(Debug, Clone, Default)]
pub struct CollationMap {
    names: HashMap<u16, String>,
}

impl CollationMap {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (u16, String)>) -> Self {
        Self { names: pairs.into_iter().collect() }
    }

    /// Ids that MySQL and MariaDB agree on; enough for unit tests.
    pub fn builtin() -> Self {
        let pairs: &[(u16, &str)] = &[
            (1, "big5"),
            (8, "latin1"),
            (11, "ascii"),
            (12, "ujis"),
            (28, "gbk"),
            (33, "utf8mb3"),
            (35, "ucs2"),
            (45, "utf8mb4"),
            (46, "utf8mb4"),
            (47, "latin1"),
            (48, "latin1"),
            (63, "binary"),
            (83, "utf8mb3"),
            (224, "utf8mb4"),
            (255, "utf8mb4"),
        ];
        Self::from_pairs(pairs.iter().map(|(i, n)| (*i, n.to_string())))
    }

    pub fn name(&self, id: u16) -> Option<&str> {
        self.names.get(&id).map(String::as_str)
    }

    /// The decoder for collation `id`, or a message saying why there is none.
    pub fn charset(&self, id: u16) -> Result<Charset, String> {
        let name = self.name(id).ok_or_else(|| format!("unknown collation id {id}"))?;
        Charset::from_mysql_name(name).ok_or_else(|| format!("character set '{name}' (collation id {id}) is not supported"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_common_charsets() {
        let m = CollationMap::builtin();
        let gbk = m.charset(28).unwrap();
        assert_eq!(gbk.decode(&[0x81, 0x40]).unwrap(), "丂");
        let big5 = m.charset(1).unwrap();
        assert_eq!(big5.decode(&[0xb9, 0xcf]).unwrap(), "圖");
        let latin1 = m.charset(8).unwrap();
        assert_eq!(latin1.decode(&[0x63, 0x61, 0x66, 0xe9, 0x80]).unwrap(), "café€");
        let ucs2 = m.charset(35).unwrap();
        assert_eq!(ucs2.decode(&[0x00, 0x41, 0x6c, 0x34]).unwrap(), "A水");
        assert_eq!(m.charset(63).unwrap().decode(b"x"), None);
        assert_eq!(m.charset(45).unwrap().decode("ü".as_bytes()).unwrap(), "ü");
    }

    #[test]
    fn unknown_is_an_error_naming_it() {
        let m = CollationMap::from_pairs([(3, "dec8".to_string())]);
        assert!(m.charset(3).unwrap_err().contains("dec8"));
        assert!(m.charset(999).unwrap_err().contains("999"));
    }
}
