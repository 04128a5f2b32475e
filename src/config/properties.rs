//! `config.properties` read as Java reads a properties file (`java.util.Properties.load`),
//! which is how Maxwell reads it: the same file means the same keys and values here.
//!
//! Invariants:
//! - A logical line is a natural line (`\n`, `\r` or `\r\n`) joined with the next while it
//!   ends in an odd number of backslashes; a continuation line's leading whitespace is dropped.
//! - Blank lines and lines whose first non-blank character is `#` or `!` are comments.
//! - The key ends at the first unescaped `=`, `:` or whitespace; then whitespace, one `=` or
//!   `:`, and whitespace again are skipped. The rest of the line is the value, trailing
//!   whitespace included. A line that is only a key gives an empty value.
//! - In keys and values, `\t` `\n` `\r` `\f` and `\uXXXX` are those characters and `\` before
//!   any other character is that character (`\\`, `\=`, `\:`, `\ `, `\#`). A malformed `\u`
//!   is an error naming the line, as Java refuses it.

/// Java's whitespace in properties files: space, tab, form feed.
fn blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// The logical lines of `text`, each with the number of its first natural line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    for (n, natural) in text.split('\n').enumerate() {
        let (first, mut line) = match pending.take() {
            Some((first, so_far)) => (first, so_far + natural.trim_start_matches(blank)),
            None => {
                let t = natural.trim_start_matches(blank);
                if t.is_empty() || t.starts_with('#') || t.starts_with('!') {
                    continue;
                }
                (n + 1, t.to_string())
            }
        };
        let trailing = line.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 {
            line.pop();
            pending = Some((first, line));
        } else {
            out.push((first, line));
        }
    }
    if let Some(p) = pending {
        out.push(p);
    }
    out
}

/// Unescapes `s` (see the module's invariants).
fn unescape(s: &str, line: usize) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = it.by_ref().take(4).collect();
                let code = (hex.len() == 4).then(|| u32::from_str_radix(&hex, 16).ok()).flatten();
                match code.and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => return Err(format!("line {line}: malformed \\uXXXX escape `\\u{hex}`")),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

/// The key/value pairs of a properties file, in order.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (line, l) in logical_lines(text) {
        // The key ends at the first unescaped separator.
        let mut end = l.len();
        let mut escaped = false;
        for (i, c) in l.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '=' || c == ':' || blank(c) {
                end = i;
                break;
            }
        }
        let key = unescape(&l[..end], line)?;
        let mut rest = l[end..].trim_start_matches(blank);
        if let Some(r) = rest.strip_prefix(['=', ':']) {
            rest = r.trim_start_matches(blank);
        }
        out.push((key, unescape(rest, line)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn one(text: &str) -> (String, String) {
        let v = parse(text).unwrap();
        assert_eq!(v.len(), 1, "{text:?} gave {v:?}");
        v.into_iter().next().unwrap()
    }

    #[test]
    fn separators_as_java_takes_them() {
        assert_eq!(one("host=db1"), ("host".into(), "db1".into()));
        assert_eq!(one("host: db1"), ("host".into(), "db1".into()));
        assert_eq!(one("  host   db1"), ("host".into(), "db1".into()));
        assert_eq!(one("host = = db1"), ("host".into(), "= db1".into()), "only the first separator");
        assert_eq!(one("flag"), ("flag".into(), String::new()));
        assert_eq!(one("password=s3cret  "), ("password".into(), "s3cret  ".into()), "trailing blanks belong to the value");
    }

    /// Each of these meant something else before: backslashes were kept as typed.
    #[test]
    fn escapes_as_java_takes_them() {
        assert_eq!(one(r"password=a\\b"), ("password".into(), r"a\b".into()));
        assert_eq!(one(r"password=p\=q\:r"), ("password".into(), "p=q:r".into()));
        assert_eq!(one(r"my\ key=v"), ("my key".into(), "v".into()));
        assert_eq!(one(r"k\=x=v"), ("k=x".into(), "v".into()));
        assert_eq!(one(r"name=caf\u00e9"), ("name".into(), "café".into()));
        assert_eq!(one(r"filter=include: db.t.col=/^a\\d+$/"), ("filter".into(), r"include: db.t.col=/^a\d+$/".into()));
        assert_eq!(one(r"x=tab\there"), ("x".into(), "tab\there".into()));
        assert!(parse(r"x=\u00zz").unwrap_err().contains("line 1"));
    }

    #[test]
    fn continuations_and_comments() {
        let text = "# comment\n! also a comment\n\nfilter=exclude: *.*, \\\n    include: db1.*\npath=C:\\\\dir\\\\\nnext=1\r\nlast=2\r";
        let v = parse(text).unwrap();
        assert_eq!(
            v,
            [
                ("filter".to_string(), "exclude: *.*, include: db1.*".to_string()),
                ("path".into(), r"C:\dir\".into()),
                ("next".into(), "1".into()),
                ("last".into(), "2".into()),
            ]
        );
        assert_eq!(one("  # not = a pair\nk=v"), ("k".into(), "v".into()));
    }
}
