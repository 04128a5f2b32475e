//! Cell decoding: one column value of a row image → its Maxwell JSON text.
//!
//! Invariants:
//! - Each function consumes exactly the bytes of one value and appends exactly one JSON value
//!   to `out`; on short input it returns an error and the caller discards the row image.
//! - Output matches Maxwell: integers with the column's signedness (MEDIUMINT sign-extended,
//!   BIGINT UNSIGNED up to 18446744073709551615), DECIMAL as a JSON number with the column's
//!   scale, DATETIME/TIME/TIMESTAMP with exactly `fsp` fraction digits, TIMESTAMP in UTC,
//!   binary strings base64, ENUM as its label, SET as an array of labels, BIT as a number.
//! - Zero dates print as `0000-00-00…` unless `null_zerodates`, then as `null`. A DATE or
//!   DATETIME with a zero year, month or day is a zero date whatever its time; other invalid
//!   dates roll over, in Maxwell's Julian/Gregorian calendar (see [`super::calendar`]).

use super::bytes::{be_uint, le_uint, Reader};
use super::calendar::{civil, Civil};
use super::charset::Charset;
use super::schema::ColKind;
use super::json::{push_num, push_padded, write_base64, write_float, write_json_str};

#[derive(Debug, Clone, Copy, Default)]
pub struct ValueOpts {
    pub null_zerodates: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("row image truncated while reading a {0} value")]
pub struct Truncated(pub &'static str);

const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

fn write_text(out: &mut Vec<u8>, b: &[u8], cs: Charset) {
    match cs.decode(b) {
        Some(s) => write_json_str(out, &s),
        None => write_base64(out, b),
    }
}

/// Fraction of `fsp` digits stored in `(fsp+1)/2` big-endian bytes → microseconds.
fn read_frac(r: &mut Reader, fsp: u8) -> Result<u32, Truncated> {
    let n = (fsp as usize).div_ceil(2);
    let raw = be_uint(r.take(n).ok_or(Truncated("fraction"))?) as u32;
    Ok(match n {
        0 => 0,
        1 => raw * 10_000,
        2 => raw * 100,
        _ => raw,
    })
}

fn push_frac(out: &mut Vec<u8>, micros: u32, fsp: u8) {
    if fsp > 0 {
        out.push(b'.');
        let v = micros as u64 / 10u64.pow(6 - fsp.min(6) as u32);
        push_padded(out, v, fsp as usize);
    }
}

fn push_date(out: &mut Vec<u8>, y: u64, m: u64, d: u64) {
    push_padded(out, y, 4);
    out.push(b'-');
    push_padded(out, m, 2);
    out.push(b'-');
    push_padded(out, d, 2);
}

fn push_hms(out: &mut Vec<u8>, h: u64, mi: u64, s: u64) {
    push_padded(out, h, 2);
    out.push(b':');
    push_padded(out, mi, 2);
    out.push(b':');
    push_padded(out, s, 2);
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn push_epoch(out: &mut Vec<u8>, secs: u64, micros: u32, fsp: u8, opts: ValueOpts) {
    if secs == 0 && micros == 0 {
        if opts.null_zerodates {
            out.extend_from_slice(b"null");
            return;
        }
        out.push(b'"');
        out.extend_from_slice(b"0000-00-00 00:00:00");
    } else {
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        let rem = secs % 86_400;
        out.push(b'"');
        push_date(out, y as u64, m as u64, d as u64);
        out.push(b' ');
        push_hms(out, rem / 3600, rem / 60 % 60, rem % 60);
    }
    push_frac(out, micros, fsp);
    out.push(b'"');
}

/// A DATE (`time: None`) or DATETIME as Maxwell prints it: a zero date as `0000-00-00…` with
/// `fsp` zero digits (or `null` with `null_zerodates`), else the lenient calendar's reading.
fn push_civil(out: &mut Vec<u8>, ymd: (u64, u64, u64), time: Option<(u64, u64, u64, u32)>, fsp: u8, opts: ValueOpts) {
    let (h, mi, s, micros) = time.unwrap_or_default();
    match civil(ymd.0, ymd.1, ymd.2, h, mi, s) {
        Civil::Zero if opts.null_zerodates => out.extend_from_slice(b"null"),
        Civil::Zero => {
            out.push(b'"');
            out.extend_from_slice(if time.is_some() { b"0000-00-00 00:00:00" } else { b"0000-00-00" });
            if time.is_some() {
                push_frac(out, 0, fsp);
            }
            out.push(b'"');
        }
        Civil::At { y, m, d, h, mi, s } => {
            out.push(b'"');
            push_date(out, y as u64, m as u64, d as u64);
            if time.is_some() {
                out.push(b' ');
                push_hms(out, h as u64, mi as u64, s as u64);
                push_frac(out, micros, fsp);
            }
            out.push(b'"');
        }
    }
}

fn write_decimal(out: &mut Vec<u8>, r: &mut Reader, precision: u8, scale: u8) -> Result<(), Truncated> {
    let (p, s) = (precision as usize, scale as usize);
    let intg = p.saturating_sub(s);
    let (intg0, intg0x, frac0, frac0x) = (intg / 9, intg % 9, s / 9, s % 9);
    let size = intg0 * 4 + DIG2BYTES[intg0x] + frac0 * 4 + DIG2BYTES[frac0x];
    let raw = r.take(size).ok_or(Truncated("DECIMAL"))?;
    let mut buf = [0u8; 40];
    let b = &mut buf[..size];
    b.copy_from_slice(raw);
    let negative = b[0] & 0x80 == 0;
    b[0] ^= 0x80;
    if negative {
        b.iter_mut().for_each(|x| *x = !*x);
    }
    let mut pos = 0usize;
    let mut group = |n: usize| {
        let v = be_uint(&b[pos..pos + n]);
        pos += n;
        v
    };
    if negative {
        out.push(b'-');
    }
    let mut started = false;
    if intg0x > 0 {
        let v = group(DIG2BYTES[intg0x]);
        if v > 0 {
            push_num(out, v);
            started = true;
        }
    }
    for _ in 0..intg0 {
        let v = group(4);
        if started {
            push_padded(out, v, 9);
        } else if v > 0 {
            push_num(out, v);
            started = true;
        }
    }
    if !started {
        out.push(b'0');
    }
    if s > 0 {
        out.push(b'.');
        for _ in 0..frac0 {
            push_padded(out, group(4), 9);
        }
        if frac0x > 0 {
            push_padded(out, group(DIG2BYTES[frac0x]), frac0x);
        }
    }
    Ok(())
}

/// Decodes one non-NULL value of `kind` from `r`, appending its JSON to `out`.
pub fn write_value(kind: &ColKind, r: &mut Reader, out: &mut Vec<u8>, opts: ValueOpts) -> Result<(), Truncated> {
    match kind {
        ColKind::Int { bytes, unsigned } => {
            let n = *bytes as usize;
            let v = le_uint(r.take(n).ok_or(Truncated("integer"))?);
            if *unsigned {
                push_num(out, v);
            } else {
                let shift = 64 - 8 * n as u32;
                push_num(out, ((v << shift) as i64) >> shift);
            }
        }
        ColKind::Float => {
            let f = f32::from_le_bytes(r.take(4).ok_or(Truncated("FLOAT"))?.try_into().unwrap());
            write_float(out, f.is_finite(), |b| b.format_finite(f).to_string());
        }
        ColKind::Double => {
            let f = f64::from_le_bytes(r.take(8).ok_or(Truncated("DOUBLE"))?.try_into().unwrap());
            write_float(out, f.is_finite(), |b| b.format_finite(f).to_string());
        }
        ColKind::Decimal { precision, scale } => write_decimal(out, r, *precision, *scale)?,
        ColKind::Year => {
            let y = r.u8().ok_or(Truncated("YEAR"))? as u32;
            push_num(out, if y == 0 { 0 } else { 1900 + y });
        }
        ColKind::Date => {
            let v = r.uint_n(3).ok_or(Truncated("DATE"))?;
            push_civil(out, (v >> 9, (v >> 5) & 15, v & 31), None, 0, opts);
        }
        ColKind::OldTime => {
            let v = r.uint_n(3).ok_or(Truncated("TIME"))?;
            let v = (v << 40) as i64 >> 40;
            out.push(b'"');
            if v < 0 {
                out.push(b'-');
            }
            let a = v.unsigned_abs();
            push_hms(out, a / 10_000, a / 100 % 100, a % 100);
            out.push(b'"');
        }
        ColKind::OldDatetime => {
            let v = r.u64().ok_or(Truncated("DATETIME"))?;
            let (d, t) = (v / 1_000_000, v % 1_000_000);
            push_civil(out, (d / 10_000, d / 100 % 100, d % 100), Some((t / 10_000, t / 100 % 100, t % 100, 0)), 0, opts);
        }
        ColKind::OldTimestamp => {
            let s = r.u32().ok_or(Truncated("TIMESTAMP"))?;
            push_epoch(out, s as u64, 0, 0, opts);
        }
        ColKind::Timestamp2 { fsp } => {
            let s = be_uint(r.take(4).ok_or(Truncated("TIMESTAMP"))?);
            let micros = read_frac(r, *fsp)?;
            push_epoch(out, s, micros, *fsp, opts);
        }
        ColKind::Datetime2 { fsp } => {
            let packed = be_uint(r.take(5).ok_or(Truncated("DATETIME"))?) as i64 - 0x80_0000_0000;
            let micros = read_frac(r, *fsp)?;
            let packed = packed.unsigned_abs();
            let (ymd, hms) = (packed >> 17, packed % (1 << 17));
            let ym = ymd >> 5;
            let time = (hms >> 12, (hms >> 6) % 64, hms % 64, micros);
            push_civil(out, (ym / 13, ym % 13, ymd % 32), Some(time), *fsp, opts);
        }
        ColKind::Time2 { fsp } => {
            let packed = read_time2(r, *fsp)?;
            let neg = packed < 0;
            let p = packed.unsigned_abs();
            let (hms, frac) = (p >> 24, (p % (1 << 24)) as u32);
            out.push(b'"');
            if neg {
                out.push(b'-');
            }
            push_hms(out, (hms >> 12) % (1 << 10), (hms >> 6) % 64, hms % 64);
            push_frac(out, frac, *fsp);
            out.push(b'"');
        }
        ColKind::Bit { bits } => {
            let n = (*bits as usize).div_ceil(8);
            push_num(out, be_uint(r.take(n).ok_or(Truncated("BIT"))?));
        }
        ColKind::Str { len_bytes, charset } => {
            let len = le_uint(r.take(*len_bytes as usize).ok_or(Truncated("string"))?) as usize;
            write_text(out, r.take(len).ok_or(Truncated("string"))?, *charset);
        }
        ColKind::Blob { len_bytes, charset } => {
            let len = le_uint(r.take(*len_bytes as usize).ok_or(Truncated("BLOB"))?) as usize;
            write_text(out, r.take(len).ok_or(Truncated("BLOB"))?, *charset);
        }
        ColKind::JsonText { len_bytes } => {
            let len = le_uint(r.take(*len_bytes as usize).ok_or(Truncated("JSON"))?) as usize;
            let b = r.take(len).ok_or(Truncated("JSON"))?;
            write_json_text(out, b);
        }
        ColKind::JsonBinary { len_bytes } => {
            let len = le_uint(r.take(*len_bytes as usize).ok_or(Truncated("JSON"))?) as usize;
            let b = r.take(len).ok_or(Truncated("JSON"))?;
            super::jsonb::write_jsonb(out, b);
        }
        ColKind::Enum { pack, values } => {
            let i = le_uint(r.take(*pack as usize).ok_or(Truncated("ENUM"))?) as usize;
            match i.checked_sub(1).and_then(|i| values.get(i)) {
                Some(v) => write_json_str(out, v),
                None => out.extend_from_slice(b"\"\""),
            }
        }
        ColKind::Set { pack, values } => {
            let mask = le_uint(r.take(*pack as usize).ok_or(Truncated("SET"))?);
            out.push(b'[');
            let mut first = true;
            for (i, v) in values.iter().enumerate().take(64) {
                if mask & (1 << i) != 0 {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    write_json_str(out, v);
                }
            }
            out.push(b']');
        }
        ColKind::Geometry { len_bytes } => {
            let len = le_uint(r.take(*len_bytes as usize).ok_or(Truncated("GEOMETRY"))?) as usize;
            let b = r.take(len).ok_or(Truncated("GEOMETRY"))?;
            super::wkt::write_geometry(out, b);
        }
    }
    Ok(())
}

/// TIME2 as MySQL's packed `(int_part << 24) + microseconds`, signed.
fn read_time2(r: &mut Reader, fsp: u8) -> Result<i64, Truncated> {
    let t = |what| Truncated(what);
    let intpart = be_uint(r.take(3).ok_or(t("TIME"))?) as i64 - 0x80_0000;
    Ok(match fsp {
        0 => intpart << 24,
        1 | 2 => {
            let mut ip = intpart;
            let mut frac = r.u8().ok_or(t("TIME"))? as i64;
            if ip < 0 && frac != 0 {
                ip += 1;
                frac -= 0x100;
            }
            (ip << 24) + frac * 10_000
        }
        3 | 4 => {
            let mut ip = intpart;
            let mut frac = be_uint(r.take(2).ok_or(t("TIME"))?) as i64;
            if ip < 0 && frac != 0 {
                ip += 1;
                frac -= 0x10000;
            }
            (ip << 24) + frac * 100
        }
        _ => {
            let frac = be_uint(r.take(3).ok_or(t("TIME"))?) as i64;
            (intpart << 24) + frac
        }
    })
}

/// MariaDB JSON text: embedded as a JSON value when valid, else as a string.
fn write_json_text(out: &mut Vec<u8>, b: &[u8]) {
    match serde_json::from_slice::<&serde_json::value::RawValue>(b) {
        Ok(raw) => out.extend_from_slice(raw.get().trim().as_bytes()),
        Err(_) => write_json_str(out, &String::from_utf8_lossy(b)),
    }
}

#[cfg(test)]
#[path = "values_tests.rs"]
mod tests;
