//! The syntax [`super`] reads: the pre-filter on a statement's first keyword, tokens (from
//! sqlparser's MySQL tokenizer) and a cursor over them, and column definitions with their
//! types and character sets as information_schema reports them.

use super::super::{ColumnDef, TableDef};
use super::{unknown_column, unsupported, DdlError};
use sqlparser::dialect::MySqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

pub(super) enum Position {
    First,
    After(String),
}

/// Splits a trailing `FIRST` or `AFTER column` off a column definition.
pub(super) fn split_position(t: &[Token]) -> (&[Token], Option<Position>) {
    let n = t.len();
    if n > 2 && is_kw(t.last(), "FIRST") {
        return (&t[..n - 1], Some(Position::First));
    }
    match (n > 3 && is_kw(t.get(n - 2), "AFTER"), t.last()) {
        (true, Some(Token::Word(w))) => (&t[..n - 2], Some(Position::After(w.value.clone()))),
        _ => (t, None),
    }
}

/// The columns of the first `( … )` of a key definition, named as the table names them.
pub(super) fn key_columns(t: &TableDef, key: &[Token]) -> Result<Vec<String>, DdlError> {
    let start = key.iter().position(|x| *x == Token::LParen).unwrap_or(key.len());
    let parts = Cur { t: key, i: start }.group().unwrap_or_default();
    let names = split_commas(parts).into_iter().filter_map(|p| Cur::new(p).word());
    names.map(|n| Ok(t.column(&n).ok_or_else(|| unknown_column(t, &n))?.1.name.clone())).collect()
}

/// One column definition (`name type [(args)] [attributes]`) and whether it says PRIMARY KEY.
pub(super) fn column(def: &[Token], table_charset: &str) -> Result<(ColumnDef, bool), DdlError> {
    let mut c = Cur::new(def);
    let name = c.word().ok_or_else(|| unsupported("a column definition without a name"))?;
    let word = c.keyword().unwrap_or_default().to_ascii_lowercase();
    c.i += 1;
    let mut national = false;
    let mut base = match word.as_str() {
        "national" | "nchar" | "nvarchar" => {
            national = true;
            let varchar = word == "nvarchar" || c.eat("VARCHAR") || (c.eat("CHAR") || c.eat("CHARACTER")) && c.eat("VARYING");
            if varchar || c.eat("VARYING") { "varchar" } else { "char" }
        }
        "char" | "character" if c.eat("VARYING") => "varchar",
        "double" => {
            c.eat("PRECISION");
            "double"
        }
        "long" if c.eat("VARBINARY") => "mediumblob",
        "long" => {
            let _ = c.eat("VARCHAR") || c.eat_all(&["CHAR", "VARYING"]);
            "mediumtext"
        }
        w => type_name(w).ok_or_else(|| unsupported(format!("column `{name}` has a type `{w}` that is not understood")))?,
    };
    let args = c.group().unwrap_or_default();
    let number = |n: usize| args.iter().filter_map(|a| if let Token::Number(v, _) = a { v.parse::<u64>().ok() } else { None }).nth(n);
    let (mut unsigned, mut primary, mut prev) = (base == "serial", false, String::new());
    let attributes = c.rest();
    while let Some(k) = c.peek().map(|_| c.keyword().unwrap_or_default()) {
        match k.as_str() {
            "UNSIGNED" | "ZEROFILL" => unsigned = true,
            "PRIMARY" if is_kw(c.t.get(c.i + 1), "KEY") => primary = true,
            "KEY" if prev != "UNIQUE" && prev != "PRIMARY" => primary = true,
            _ => {}
        }
        prev = k;
        c.skip();
    }
    if base == "serial" {
        base = "bigint";
    }
    let text = matches!(base, "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set");
    let charset = charset_options(attributes).or_else(|| national.then(|| "utf8mb3".to_string()));
    let charset = charset.unwrap_or_else(|| table_charset.to_string());
    match (base, number(0), number(1)) {
        ("float", Some(p), None) if p > 24 => base = "double",
        ("text", Some(m), _) => base = TEXTS.iter().find(|(_, max)| m * max_bytes(&charset) <= *max).map_or("longtext", |t| t.0),
        ("blob", Some(m), _) => base = BLOBS.iter().find(|(_, max)| m <= *max).map_or("longblob", |t| t.0),
        _ => {}
    }
    // Maxwell's definitions give `signed` for integers only.
    let numeric = matches!(base, "tinyint" | "smallint" | "mediumint" | "int" | "bigint");
    let labels = args.iter().filter_map(|a| match a {
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => Some(s.trim_end_matches(' ').to_string()),
        _ => None,
    });
    let mut col = ColumnDef {
        type_name: base.to_string(),
        name,
        signed: numeric.then_some(!unsigned),
        charset: None,
        enum_values: matches!(base, "enum" | "set").then(|| labels.collect()),
        column_length: matches!(base, "time" | "datetime" | "timestamp").then(|| number(0).unwrap_or(0) as u32),
    };
    if text {
        set_charset(&mut col, &charset);
    }
    Ok((col, primary))
}

/// The information_schema DATA_TYPE of a one-word type name (lower case).
pub(super) fn type_name(word: &str) -> Option<&'static str> {
    const SAME: &[&str] = &[
        "tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "float", "double", "bit", "date", "datetime",
        "timestamp", "time", "year", "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob",
        "mediumblob", "longblob", "json", "enum", "set", "binary", "varbinary", "geometry", "point", "linestring",
        "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "serial", "inet4", "inet6",
        "uuid", "vector",
    ];
    Some(match word {
        "integer" | "int4" => "int",
        "bool" | "boolean" | "int1" => "tinyint",
        "int2" => "smallint",
        "int3" | "middleint" => "mediumint",
        "int8" => "bigint",
        "dec" | "numeric" | "fixed" => "decimal",
        "float4" => "float",
        "real" | "float8" => "double",
        "character" => "char",
        "geomcollection" => "geometrycollection",
        w => return SAME.iter().find(|s| **s == w).copied(),
    })
}

pub(super) const TEXTS: [(&str, u64); 4] = [("tinytext", 255), ("text", 65_535), ("mediumtext", 16_777_215), ("longtext", u32::MAX as u64)];
pub(super) const BLOBS: [(&str, u64); 4] = [("tinyblob", 255), ("blob", 65_535), ("mediumblob", 16_777_215), ("longblob", u32::MAX as u64)];

/// Bytes per character at most (mbmaxlen) of a character set.
pub(super) fn max_bytes(charset: &str) -> u64 {
    match charset {
        "utf8mb4" | "utf16" | "utf16le" | "utf32" | "gb18030" => 4,
        "utf8mb3" | "ujis" | "eucjpms" => 3,
        "big5" | "gbk" | "sjis" | "cp932" | "euckr" | "gb2312" | "ucs2" => 2,
        _ => 1,
    }
}

/// Gives a text column a character set; `binary` turns CHAR/VARCHAR/TEXT into their binary types.
pub(super) fn set_charset(col: &mut ColumnDef, charset: &str) {
    let binary = match col.type_name.as_str() {
        "char" => "binary",
        "varchar" => "varbinary",
        "tinytext" => "tinyblob",
        "text" => "blob",
        "mediumtext" => "mediumblob",
        "longtext" => "longblob",
        _ => "",
    };
    if charset == "binary" && !binary.is_empty() {
        col.type_name = binary.to_string();
        col.charset = None;
    } else {
        col.charset = Some(charset.to_string());
    }
}

/// The character set that `[DEFAULT] CHARACTER SET|CHARSET [=] x` or `COLLATE [=] x` options
/// name (an explicit character set wins over a collation's), up to a SELECT or PARTITION clause.
pub(super) fn charset_options(t: &[Token]) -> Option<String> {
    let (mut charset, mut collation) = (None, None);
    let mut c = Cur::new(t);
    while c.peek().is_some() {
        if c.eat_all(&["CHARACTER", "SET"]) || c.eat_all(&["CHAR", "SET"]) || c.eat("CHARSET") {
            charset = c.value().and_then(|v| normalize(&v)).or(charset);
        } else if c.eat("COLLATE") {
            collation = c.value().and_then(|v| normalize(v.split('_').next().unwrap_or_default())).or(collation);
        } else if ["AS", "SELECT", "PARTITION", "IGNORE", "REPLACE", "VALUES"].iter().any(|k| c.is(k)) {
            break;
        } else {
            c.skip();
        }
    }
    charset.or(collation)
}

/// A character set name as information_schema spells it (`utf8` is `utf8mb3`); None for
/// DEFAULT and for MariaDB's character-set-less `uca1400_*` collations.
pub(super) fn normalize(name: &str) -> Option<String> {
    match name.to_ascii_lowercase().as_str() {
        "default" | "" => None,
        n if n.starts_with("uca1400") => None,
        "utf8" => Some("utf8mb3".into()),
        n => Some(n.into()),
    }
}

/// Whether the statement's first keyword (after comments) is CREATE, ALTER, DROP or RENAME:
/// a scan without allocation, as every QUERY event passes here.
pub(super) fn starts_with_ddl_verb(sql: &str) -> bool {
    let b = sql.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let rest = &b[i..];
        if rest.starts_with(b"/*!") || rest.starts_with(b"/*M!") {
            i += if rest[2] == b'!' { 3 } else { 4 };
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        } else if rest.starts_with(b"/*") {
            match sql[i + 2..].find("*/") {
                Some(end) => i += end + 4,
                None => return false,
            }
        } else if rest.starts_with(b"#") || rest.starts_with(b"--") && rest.get(2).is_none_or(|c| c.is_ascii_whitespace()) {
            i = sql[i..].find('\n').map_or(b.len(), |n| i + n);
        } else {
            let word = rest.iter().take_while(|c| c.is_ascii_alphabetic()).count();
            return ["CREATE", "ALTER", "DROP", "RENAME"].iter().any(|v| rest[..word].eq_ignore_ascii_case(v.as_bytes()));
        }
    }
}

/// The statement's tokens without whitespace, comments and `;`; executable comments
/// (`/*!NNNNN … */`, MariaDB's `/*M!NNNNNN … */`) count as code. When the text cannot be
/// tokenized to its end: the tokens before the fault (enough to see what the statement is
/// about) and the fault.
pub(super) fn tokenize(sql: &str) -> (Vec<Token>, Option<String>) {
    let (tokens, error) = match Tokenizer::new(&MySqlDialect {}, sql).tokenize() {
        Ok(tokens) => (tokens, None),
        Err(e) => {
            let (line, col) = (e.location.line as usize, e.location.column as usize);
            let start = sql.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum::<usize>();
            let end = sql[start..].char_indices().nth(col.saturating_sub(1)).map_or(sql.len(), |(i, _)| start + i);
            let before = Tokenizer::new(&MySqlDialect {}, &sql[..end]).tokenize().unwrap_or_default();
            (before, Some(format!("cannot tokenize it ({e})")))
        }
    };
    let mut out = Vec::with_capacity(tokens.len());
    for token in tokens {
        match token {
            Token::Whitespace(Whitespace::MultiLineComment(c)) if c.starts_with("M!") => {
                let (inner, inner_error) = tokenize(c[2..].trim_start_matches(|c: char| c.is_ascii_digit()));
                out.extend(inner);
                if inner_error.is_some() {
                    return (out, inner_error);
                }
            }
            Token::Whitespace(_) | Token::SemiColon => {}
            token => out.push(token),
        }
    }
    (out, error)
}

/// Whether a token is the bare (unquoted) word `k`, in any case.
pub(super) fn is_kw(t: Option<&Token>, k: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k))
}

/// A token list cut at its top-level commas.
pub(super) fn split_commas(t: &[Token]) -> Vec<&[Token]> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, token) in t.iter().enumerate() {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Comma if depth == 0 => {
                out.push(&t[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&t[start..]);
    out.retain(|part| !part.is_empty());
    out
}

/// A cursor over tokens.
pub(super) struct Cur<'a> {
    pub(super) t: &'a [Token],
    pub(super) i: usize,
}

impl<'a> Cur<'a> {
    pub(super) fn new(t: &'a [Token]) -> Self {
        Cur { t, i: 0 }
    }
    pub(super) fn peek(&self) -> Option<&'a Token> {
        self.t.get(self.i)
    }
    pub(super) fn rest(&self) -> &'a [Token] {
        &self.t[self.i.min(self.t.len())..]
    }
    pub(super) fn is(&self, k: &str) -> bool {
        is_kw(self.peek(), k)
    }
    /// The bare word at the cursor, upper case.
    pub(super) fn keyword(&self) -> Option<String> {
        match self.peek() {
            Some(Token::Word(w)) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
            _ => None,
        }
    }
    pub(super) fn eat(&mut self, k: &str) -> bool {
        self.eat_all(&[k])
    }
    /// Consumes the bare words `ks` if all of them come next.
    pub(super) fn eat_all(&mut self, ks: &[&str]) -> bool {
        let all = ks.iter().enumerate().all(|(n, k)| is_kw(self.t.get(self.i + n), k));
        if all {
            self.i += ks.len();
        }
        all
    }
    pub(super) fn eat_tok(&mut self, token: &Token) -> bool {
        let yes = self.peek() == Some(token);
        self.i += yes as usize;
        yes
    }
    /// A word, quoted or not.
    pub(super) fn word(&mut self) -> Option<String> {
        match self.peek() {
            Some(Token::Word(w)) => {
                self.i += 1;
                Some(w.value.clone())
            }
            _ => None,
        }
    }
    /// An option's value: `[=] word` or `[=] 'string'`.
    pub(super) fn value(&mut self) -> Option<String> {
        self.eat_tok(&Token::Eq);
        match self.peek() {
            Some(Token::SingleQuotedString(s) | Token::DoubleQuotedString(s)) => {
                self.i += 1;
                Some(s.clone())
            }
            _ => self.word(),
        }
    }
    /// The inside of the `( … )` at the cursor, which is consumed.
    pub(super) fn group(&mut self) -> Option<&'a [Token]> {
        if self.peek() != Some(&Token::LParen) {
            return None;
        }
        let mut depth = 0;
        for (j, token) in self.t.iter().enumerate().skip(self.i) {
            match token {
                Token::LParen => depth += 1,
                Token::RParen if depth == 1 => {
                    let inside = &self.t[self.i + 1..j];
                    self.i = j + 1;
                    return Some(inside);
                }
                Token::RParen => depth -= 1,
                _ => {}
            }
        }
        let inside = &self.t[self.i + 1..];
        self.i = self.t.len();
        Some(inside)
    }
    /// Moves past one token, or one `( … )` group.
    pub(super) fn skip(&mut self) {
        if self.group().is_none() {
            self.i += 1;
        }
    }
    /// `name` or `db.name`.
    pub(super) fn name(&mut self) -> Result<(Option<String>, String), DdlError> {
        let first = self.word().ok_or_else(|| unsupported("a table name was expected"))?;
        if !self.eat_tok(&Token::Period) {
            return Ok((None, first));
        }
        let second = self.word().ok_or_else(|| unsupported("a table name was expected after `.`"))?;
        Ok((Some(first), second))
    }
}
