//! MySQL's binary JSON (column type 245) → JSON text.
//!
//! Invariants: bounds are checked everywhere (a corrupt document becomes a JSON string holding
//! `<invalid json: …>` rather than a panic); OPAQUE scalars (DECIMAL, DATE, … embedded in a
//! document) are emitted as base64 strings.

use super::bytes::{le_uint, Reader};
use super::json::{push_num, write_base64, write_json_str};

/// Appends the JSON text of the binary document `doc`.
pub fn write_jsonb(out: &mut Vec<u8>, doc: &[u8]) {
    if doc.is_empty() {
        out.extend_from_slice(b"null");
        return;
    }
    let mark = out.len();
    if let Err(e) = write_value(out, doc[0], &doc[1..], 0) {
        out.truncate(mark);
        write_json_str(out, &format!("<invalid json: {e}>"));
    }
}

fn varlen(r: &mut Reader) -> Result<usize, &'static str> {
    let mut len = 0usize;
    for i in 0..5 {
        let b = r.u8().ok_or("truncated length")?;
        len |= ((b & 0x7f) as usize) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(len);
        }
    }
    Err("length too long")
}

fn write_value(out: &mut Vec<u8>, ty: u8, v: &[u8], depth: u32) -> Result<(), &'static str> {
    if depth > 100 {
        return Err("nesting too deep");
    }
    let mut r = Reader::new(v);
    let num = |out: &mut Vec<u8>, s: &str| out.extend_from_slice(s.as_bytes());
    match ty {
        0..=3 => write_container(out, ty, v, depth)?,
        4 => match r.u8().ok_or("truncated literal")? {
            0 => num(out, "null"),
            1 => num(out, "true"),
            2 => num(out, "false"),
            _ => return Err("bad literal"),
        },
        5 => push_num(out, r.u16().ok_or("truncated int16")? as i16),
        6 => push_num(out, r.u16().ok_or("truncated uint16")?),
        7 => push_num(out, r.u32().ok_or("truncated int32")? as i32),
        8 => push_num(out, r.u32().ok_or("truncated uint32")?),
        9 => push_num(out, r.u64().ok_or("truncated int64")? as i64),
        10 => push_num(out, r.u64().ok_or("truncated uint64")?),
        11 => {
            let f = f64::from_bits(r.u64().ok_or("truncated double")?);
            num(out, ryu::Buffer::new().format(f));
        }
        12 => {
            let n = varlen(&mut r)?;
            let s = r.take(n).ok_or("truncated string")?;
            write_json_str(out, &String::from_utf8_lossy(s));
        }
        15 => {
            r.u8().ok_or("truncated opaque")?;
            let n = varlen(&mut r)?;
            let b = r.take(n).ok_or("truncated opaque")?;
            write_base64(out, b);
        }
        _ => return Err("unknown value type"),
    }
    Ok(())
}

fn write_container(out: &mut Vec<u8>, ty: u8, v: &[u8], depth: u32) -> Result<(), &'static str> {
    let large = ty == 1 || ty == 3;
    let object = ty <= 1;
    let w = if large { 4 } else { 2 };
    let mut r = Reader::new(v);
    let count = r.uint_n(w).ok_or("truncated count")? as usize;
    let _size = r.uint_n(w).ok_or("truncated size")?;
    let key_entries = if object { count * (w + 2) } else { 0 };
    let value_entry_start = 2 * w + key_entries;
    out.push(if object { b'{' } else { b'[' });
    for i in 0..count {
        if i > 0 {
            out.push(b',');
        }
        if object {
            let ke = 2 * w + i * (w + 2);
            let koff = le_uint(v.get(ke..ke + w).ok_or("truncated key entry")?) as usize;
            let klen = le_uint(v.get(ke + w..ke + w + 2).ok_or("truncated key entry")?) as usize;
            let key = v.get(koff..koff + klen).ok_or("key out of range")?;
            write_json_str(out, &String::from_utf8_lossy(key));
            out.push(b':');
        }
        let ve = value_entry_start + i * (1 + w);
        let vty = *v.get(ve).ok_or("truncated value entry")?;
        let field = v.get(ve + 1..ve + 1 + w).ok_or("truncated value entry")?;
        let inlined = matches!(vty, 4..=6) || (large && matches!(vty, 7 | 8));
        if inlined {
            write_value(out, vty, field, depth + 1)?;
        } else {
            let off = le_uint(field) as usize;
            write_value(out, vty, v.get(off..).ok_or("value out of range")?, depth + 1)?;
        }
    }
    out.push(if object { b'}' } else { b']' });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(doc: &[u8]) -> String {
        let mut out = Vec::new();
        write_jsonb(&mut out, doc);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn scalars() {
        assert_eq!(render(&[4, 1]), "true");
        assert_eq!(render(&[5, 0xff, 0xff]), "-1");
        assert_eq!(render(&[12, 3, b'a', b'"', b'c']), r#""a\"c""#);
        assert_eq!(render(&[]), "null");
        let mut d = vec![11];
        d.extend_from_slice(&1.5f64.to_bits().to_le_bytes());
        assert_eq!(render(&d), "1.5");
    }

    /// `{"a": 1, "b": [true, "x"]}` encoded as MySQL does (small object, small array).
    #[test]
    fn nested_small_object() {
        // object body: count=2, size, key entries (off,len)x2, value entries (type,off)x2, keys, array
        let mut obj = vec![2, 0, 0, 0];
        obj.extend_from_slice(&[18, 0, 1, 0, 19, 0, 1, 0]); // keys "a" at 18, "b" at 19
        obj.extend_from_slice(&[5, 1, 0]); // int16 1 inlined
        obj.extend_from_slice(&[2, 20, 0]); // small array at 20
        obj.extend_from_slice(b"ab");
        // array body: count=2, size, entries: literal true inlined, string at 14
        let arr = [2, 0, 0, 0, 4, 1, 0, 12, 10, 0, 1, b'x'];
        obj.extend_from_slice(&arr);
        let size = obj.len() as u16;
        obj[2..4].copy_from_slice(&size.to_le_bytes());
        let mut doc = vec![0];
        doc.extend_from_slice(&obj);
        assert_eq!(render(&doc), r#"{"a":1,"b":[true,"x"]}"#);
        // Corrupt: offset out of range → a string, not a panic.
        let mut bad = doc.clone();
        bad[1 + 16] = 200;
        assert!(render(&bad).starts_with("\"<invalid json"));
    }
}
