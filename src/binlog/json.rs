//! Writing JSON values straight into an output buffer: strings, integers, floats, base64.
//! Shared by every writer of Maxwell JSON (cell values, JSON documents, geometries, DDL
//! records, keys, bootstrap rows), so they all escape and format alike.
//!
//! Invariants:
//! - Each function appends exactly one JSON value (or, for `push_*`, the digits of one) and
//!   nothing else; the output is what serde_json would write for the same value.
//! - No allocation on the common path (plain ASCII strings, integers).

use base64::Engine;

/// Appends the decimal digits of `v`.
#[inline]
pub fn push_num<T: itoa::Integer>(out: &mut Vec<u8>, v: T) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends `v` zero-padded to `width` digits.
#[inline]
pub fn push_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = itoa::Buffer::new();
    let s = buf.format(v);
    for _ in s.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(s.as_bytes());
}

/// Appends `s` as a JSON string (quoted, escaped as serde_json does).
#[inline]
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // Fast path: nothing to escape.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
    }
}

/// Appends `b` base64-encoded (standard alphabet, padded) as a JSON string.
pub fn write_base64(out: &mut Vec<u8>, b: &[u8]) {
    let e = &base64::engine::general_purpose::STANDARD;
    out.push(b'"');
    let start = out.len();
    out.resize(start + base64::encoded_len(b.len(), true).unwrap_or(0), 0);
    let n = e.encode_slice(b, &mut out[start..]).expect("sized above");
    out.truncate(start + n);
    out.push(b'"');
}

/// Appends the float `f` formats (shortest round-trip digits), or `null` when not finite.
pub fn write_float(out: &mut Vec<u8>, finite: bool, f: impl FnOnce(&mut ryu::Buffer) -> String) {
    if finite {
        let mut b = ryu::Buffer::new();
        out.extend_from_slice(f(&mut b).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

