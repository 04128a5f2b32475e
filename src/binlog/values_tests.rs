use super::*;
use crate::binlog::charset::CollationMap;

fn render(kind: ColKind, bytes: &[u8]) -> String {
    render_opts(kind, bytes, ValueOpts::default())
}

fn render_opts(kind: ColKind, bytes: &[u8], opts: ValueOpts) -> String {
    let mut out = Vec::new();
    let mut r = Reader::new(bytes);
    write_value(&kind, &mut r, &mut out, opts).unwrap();
    assert_eq!(r.remaining(), 0, "value did not consume all its bytes");
    String::from_utf8(out).unwrap()
}

fn int(bytes: u8, unsigned: bool) -> ColKind {
    ColKind::Int { bytes, unsigned }
}

#[test]
fn integers_signed_and_unsigned() {
    assert_eq!(render(int(1, false), &[0xff]), "-1");
    assert_eq!(render(int(1, true), &[0xff]), "255");
    assert_eq!(render(int(2, false), &[0x00, 0x80]), "-32768");
    // MEDIUMINT: the sign bit is bit 23.
    assert_eq!(render(int(3, false), &[0xff, 0xff, 0xff]), "-1");
    assert_eq!(render(int(3, false), &[0x00, 0x00, 0x80]), "-8388608");
    assert_eq!(render(int(3, true), &[0xff, 0xff, 0xff]), "16777215");
    assert_eq!(render(int(4, false), &[0x00, 0x00, 0x00, 0x80]), "-2147483648");
    assert_eq!(render(int(4, true), &[0xff; 4]), "4294967295");
    assert_eq!(render(int(8, true), &[0xff; 8]), "18446744073709551615");
    assert_eq!(render(int(8, false), &[0xff; 8]), "-1");
}

#[test]
fn floats() {
    assert_eq!(render(ColKind::Float, &1.5f32.to_le_bytes()), "1.5");
    assert_eq!(render(ColKind::Float, &0.1f32.to_le_bytes()), "0.1");
    assert_eq!(render(ColKind::Double, &(-2.25f64).to_le_bytes()), "-2.25");
}

#[test]
fn decimals_from_mysql_docs() {
    // DECIMAL(14,4) 1234567890.1234 and its negative, byte patterns from MySQL's decimal.c docs.
    let k = ColKind::Decimal { precision: 14, scale: 4 };
    assert_eq!(render(k.clone(), &[0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x04, 0xd2]), "1234567890.1234");
    assert_eq!(render(k, &[0x7e, 0xf2, 0x04, 0xc7, 0x2d, 0xfb, 0x2d]), "-1234567890.1234");
    // DECIMAL(5,2): 0.50 → int part 0 (2 bytes for 3 digits), frac 50 (1 byte).
    let k = ColKind::Decimal { precision: 5, scale: 2 };
    assert_eq!(render(k, &[0x80, 0x00, 50]), "0.50");
    // DECIMAL(10,0) 123
    let k = ColKind::Decimal { precision: 10, scale: 0 };
    assert_eq!(render(k, &[0x80, 0x00, 0x00, 0x00, 123]), "123");
}

#[test]
fn dates_and_years() {
    let d = (2012u32 << 9) | (1 << 5) | 31;
    assert_eq!(render(ColKind::Date, &d.to_le_bytes()[..3]), "\"2012-01-31\"");
    assert_eq!(render(ColKind::Date, &[0, 0, 0]), "\"0000-00-00\"");
    assert_eq!(render_opts(ColKind::Date, &[0, 0, 0], ValueOpts { null_zerodates: true }), "null");
    assert_eq!(render(ColKind::Year, &[112]), "2012");
    assert_eq!(render(ColKind::Year, &[0]), "0");
}

fn datetime2(y: u64, mo: u64, d: u64, h: u64, mi: u64, s: u64) -> [u8; 5] {
    let ym = y * 13 + mo;
    let packed = (((ym << 5) | d) << 17) | (h << 12) | (mi << 6) | s;
    let v = packed + 0x80_0000_0000;
    let b = v.to_be_bytes();
    [b[3], b[4], b[5], b[6], b[7]]
}

#[test]
fn datetime2_with_fraction_digits() {
    let mut b = datetime2(2012, 1, 1, 22, 32, 34).to_vec();
    b.extend_from_slice(&222222u32.to_be_bytes()[1..]);
    assert_eq!(render(ColKind::Datetime2 { fsp: 6 }, &b), "\"2012-01-01 22:32:34.222222\"");
    let mut b = datetime2(2012, 1, 1, 22, 32, 34).to_vec();
    b.extend_from_slice(&1230u16.to_be_bytes());
    assert_eq!(render(ColKind::Datetime2 { fsp: 3 }, &b), "\"2012-01-01 22:32:34.123\"");
    let mut b = datetime2(1, 1, 1, 0, 0, 0).to_vec();
    b.extend_from_slice(&[0, 0, 0]);
    assert_eq!(render(ColKind::Datetime2 { fsp: 6 }, &b), "\"0001-01-01 00:00:00.000000\"");
    let b = datetime2(0, 0, 0, 0, 0, 0);
    assert_eq!(render(ColKind::Datetime2 { fsp: 0 }, &b), "\"0000-00-00 00:00:00\"");
    assert_eq!(render_opts(ColKind::Datetime2 { fsp: 0 }, &b, ValueOpts { null_zerodates: true }), "null");
}

#[test]
fn timestamp2_is_utc() {
    // 2012-01-01 22:32:34 UTC = 1325457154
    let mut b = 1325457154u32.to_be_bytes().to_vec();
    b.extend_from_slice(&1234u16.to_be_bytes());
    assert_eq!(render(ColKind::Timestamp2 { fsp: 4 }, &b), "\"2012-01-01 22:32:34.1234\"");
    assert_eq!(render(ColKind::Timestamp2 { fsp: 0 }, &0u32.to_be_bytes()), "\"0000-00-00 00:00:00\"");
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(11016), (2000, 2, 29));
}

fn time2(neg: bool, h: i64, m: i64, s: i64, micros: i64) -> [u8; 6] {
    let hms = (h << 12) | (m << 6) | s;
    let mut packed = (hms << 24) + micros;
    if neg {
        packed = -packed;
    }
    let v = (packed + 0x8000_0000_0000) as u64;
    let b = v.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

#[test]
fn time2_values() {
    assert_eq!(render(ColKind::Time2 { fsp: 6 }, &time2(false, 12, 23, 33, 123456)), "\"12:23:33.123456\"");
    assert_eq!(render(ColKind::Time2 { fsp: 0 }, &time2(true, 838, 59, 59, 0)[..3]), "\"-838:59:59\"");
    // fsp 3: 2 fraction bytes holding 345 * 10.
    let mut b = time2(false, 12, 23, 33, 0)[..3].to_vec();
    b.extend_from_slice(&3450u16.to_be_bytes());
    assert_eq!(render(ColKind::Time2 { fsp: 3 }, &b), "\"12:23:33.345\"");
    // Negative with fraction (fsp 1): -00:00:01.5 is stored as int part -2 and fraction byte
    // 0xCE (-50 as an unsigned byte), MySQL's "reverse fraction" order for negative times.
    let mut b = ((-2i64 + 0x80_0000) as u32).to_be_bytes()[1..].to_vec();
    b.push(0xce);
    assert_eq!(render(ColKind::Time2 { fsp: 1 }, &b), "\"-00:00:01.5\"");
}

#[test]
fn old_temporal_types() {
    assert_eq!(render(ColKind::OldDatetime, &20120101223234u64.to_le_bytes()), "\"2012-01-01 22:32:34\"");
    assert_eq!(render(ColKind::OldTime, &(122333u32.to_le_bytes()[..3])), "\"12:23:33\"");
    assert_eq!(render(ColKind::OldTimestamp, &1325457154u32.to_le_bytes()), "\"2012-01-01 22:32:34\"");
}

#[test]
fn bits() {
    assert_eq!(render(ColKind::Bit { bits: 64 }, &[0xff; 8]), "18446744073709551615");
    assert_eq!(render(ColKind::Bit { bits: 5 }, &[3]), "3");
    assert_eq!(render(ColKind::Bit { bits: 24 }, &[0xe3, 0x8e, 0x56]), "14913110");
    assert_eq!(render(ColKind::Bit { bits: 16 }, &[0x36, 0x69]), "13929");
}

#[test]
fn strings_by_charset_and_binary_as_base64() {
    let m = CollationMap::builtin();
    let utf8 = ColKind::Str { len_bytes: 1, charset: m.charset(45).unwrap() };
    assert_eq!(render(utf8, b"\x05a\"b\nc"), r#""a\"b\nc""#);
    let gbk = ColKind::Str { len_bytes: 2, charset: m.charset(28).unwrap() };
    assert_eq!(render(gbk, &[2, 0, 0x81, 0x40]), "\"丂\"");
    let bin = ColKind::Blob { len_bytes: 2, charset: m.charset(63).unwrap() };
    assert_eq!(render(bin, &[4, 0, 0, 1, 2, 3]), "\"AAECAw==\"");
    let text = ColKind::Blob { len_bytes: 4, charset: m.charset(33).unwrap() };
    assert_eq!(render(text, &[2, 0, 0, 0, b'h', b'i']), "\"hi\"");
}

#[test]
fn enums_sets_and_json_text() {
    let e = ColKind::Enum { pack: 1, values: vec!["foo".into(), "bar".into(), "baz".into()] };
    assert_eq!(render(e.clone(), &[2]), "\"bar\"");
    assert_eq!(render(e, &[0]), "\"\"");
    let s = ColKind::Set { pack: 1, values: vec!["foo".into(), "bar".into(), "baz".into()] };
    assert_eq!(render(s.clone(), &[0b101]), r#"["foo","baz"]"#);
    assert_eq!(render(s, &[0]), "[]");
    let j = ColKind::JsonText { len_bytes: 4 };
    let doc = br#"{"a": [1, 2]}"#;
    let mut b = (doc.len() as u32).to_le_bytes().to_vec();
    b.extend_from_slice(doc);
    assert_eq!(render(j.clone(), &b), r#"{"a": [1, 2]}"#);
    let mut b = 3u32.to_le_bytes().to_vec();
    b.extend_from_slice(b"{x}");
    assert_eq!(render(j, &b), r#""{x}""#);
}

#[test]
fn truncation_is_an_error() {
    let mut out = Vec::new();
    for (k, b) in [
        (int(4, false), &[1u8, 2][..]),
        (ColKind::Decimal { precision: 14, scale: 4 }, &[0x81][..]),
        (ColKind::Blob { len_bytes: 2, charset: Charset::Utf8 }, &[9, 0, 1][..]),
        (ColKind::Datetime2 { fsp: 6 }, &[0x80, 0, 0, 0, 0, 1][..]),
    ] {
        assert!(write_value(&k, &mut Reader::new(b), &mut out, ValueOpts::default()).is_err(), "{k:?}");
    }
}

fn date3(y: u32, m: u32, d: u32) -> [u8; 3] {
    let v = (y << 9) | (m << 5) | d;
    [v as u8, (v >> 8) as u8, (v >> 16) as u8]
}

/// What Maxwell 1.22.6 printed for these values stored under sql_mode ALLOW_INVALID_DATES
/// (docs/maxwell-compatibility.md, "Invalid and partly-zero dates").
#[test]
fn invalid_and_partly_zero_dates_as_maxwell() {
    let null = ValueOpts { null_zerodates: true };
    for (y, m, d, text) in [
        (0, 0, 0, "0000-00-00"),
        (2020, 0, 15, "0000-00-00"),
        (2020, 5, 0, "0000-00-00"),
        (0, 1, 1, "0000-00-00"),
        (2020, 2, 31, "2020-03-02"),
        (2021, 4, 31, "2021-05-01"),
        (1, 2, 29, "0001-03-01"),
        (1500, 2, 29, "1500-02-29"),
        (1582, 10, 10, "1582-10-20"),
        (1000, 1, 1, "1000-01-01"),
    ] {
        let b = date3(y, m, d);
        assert_eq!(render(ColKind::Date, &b), format!("\"{text}\""), "{y}-{m}-{d}");
        let want = if text.starts_with("0000") { "null".to_string() } else { format!("\"{text}\"") };
        assert_eq!(render_opts(ColKind::Date, &b, null), want, "{y}-{m}-{d} with null_zerodates");
    }
}

#[test]
fn invalid_and_partly_zero_datetimes_as_maxwell() {
    let null = ValueOpts { null_zerodates: true };
    let dt = |y, mo, d, h, mi, s, fsp: u8, frac: &[u8]| {
        let mut b = datetime2(y, mo, d, h, mi, s).to_vec();
        b.extend_from_slice(frac);
        (ColKind::Datetime2 { fsp }, b)
    };
    for ((k, b), text) in [
        (dt(0, 0, 0, 0, 0, 0, 6, &[0, 0, 1]), "0000-00-00 00:00:00.000000"),
        (dt(2020, 0, 0, 10, 0, 0, 0, &[]), "0000-00-00 00:00:00"),
        (dt(0, 0, 0, 0, 0, 1, 1, &[0]), "0000-00-00 00:00:00.0"),
        (dt(0, 1, 1, 0, 0, 0, 3, &[0x13, 0x88]), "0000-00-00 00:00:00.000"),
        (dt(2020, 2, 31, 10, 11, 12, 6, &[0x01, 0xe2, 0x40]), "2020-03-02 10:11:12.123456"),
        (dt(1, 2, 29, 0, 0, 0, 0, &[]), "0001-03-01 00:00:00"),
        (dt(1582, 10, 10, 12, 0, 0, 0, &[]), "1582-10-20 12:00:00"),
    ] {
        assert_eq!(render(k.clone(), &b), format!("\"{text}\""));
        let want = if text.starts_with("0000") { "null".to_string() } else { format!("\"{text}\"") };
        assert_eq!(render_opts(k, &b, null), want, "{text} with null_zerodates");
    }
    // The pre-5.6 DATETIME: decimal digits YYYYMMDDhhmmss.
    assert_eq!(render(ColKind::OldDatetime, &20200000100000u64.to_le_bytes()), "\"0000-00-00 00:00:00\"");
    assert_eq!(render(ColKind::OldDatetime, &20200231101112u64.to_le_bytes()), "\"2020-03-02 10:11:12\"");
    assert_eq!(render_opts(ColKind::OldDatetime, &20200000100000u64.to_le_bytes(), null), "null");
    // TIMESTAMP: only the epoch itself (no fraction) is a zero date.
    let ts = |s: u32, frac: u16| [&s.to_be_bytes()[..], &frac.to_be_bytes()].concat();
    assert_eq!(render(ColKind::Timestamp2 { fsp: 3 }, &ts(0, 0)), "\"0000-00-00 00:00:00.000\"");
    assert_eq!(render_opts(ColKind::Timestamp2 { fsp: 3 }, &ts(0, 0), null), "null");
    assert_eq!(render_opts(ColKind::Timestamp2 { fsp: 3 }, &ts(0, 5000), null), "\"1970-01-01 00:00:00.500\"");
}
