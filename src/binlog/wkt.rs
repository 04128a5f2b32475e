//! GEOMETRY values (4-byte SRID + WKB) → WKT text, as Maxwell prints them (`POINT (1 2)`).
//!
//! Invariant: malformed WKB never panics; it is emitted base64-encoded instead.

use super::bytes::Reader;
use super::json::write_json_str;

pub fn write_geometry(out: &mut Vec<u8>, b: &[u8]) {
    let mut s = String::new();
    let ok = b.len() >= 4 && {
        let mut r = Reader::new(&b[4..]);
        geometry(&mut r, &mut s, true, 0).is_some()
    };
    if ok {
        write_json_str(out, &s);
    } else {
        use base64::Engine;
        write_json_str(out, &base64::engine::general_purpose::STANDARD.encode(b));
    }
}

fn f64_of(r: &mut Reader, le: bool) -> Option<f64> {
    let b: [u8; 8] = r.take(8)?.try_into().ok()?;
    Some(if le { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) })
}

fn u32_of(r: &mut Reader, le: bool) -> Option<u32> {
    let b: [u8; 4] = r.take(4)?.try_into().ok()?;
    Some(if le { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
}

fn num(s: &mut String, v: f64) {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        s.push_str(&(v as i64).to_string());
    } else {
        s.push_str(ryu::Buffer::new().format(v));
    }
}

fn coords(r: &mut Reader, s: &mut String, le: bool) -> Option<()> {
    let x = f64_of(r, le)?;
    let y = f64_of(r, le)?;
    num(s, x);
    s.push(' ');
    num(s, y);
    Some(())
}

fn point_list(r: &mut Reader, s: &mut String, le: bool) -> Option<()> {
    let n = u32_of(r, le)?;
    s.push('(');
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        coords(r, s, le)?;
    }
    s.push(')');
    Some(())
}

fn geometry(r: &mut Reader, s: &mut String, tagged: bool, depth: u32) -> Option<()> {
    if depth > 32 {
        return None;
    }
    let le = r.u8()? == 1;
    let ty = u32_of(r, le)?;
    let name = ["", "POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION"]
        .get(ty as usize)
        .filter(|n| !n.is_empty())?;
    if tagged {
        s.push_str(name);
        s.push(' ');
    }
    match ty {
        1 => {
            s.push('(');
            coords(r, s, le)?;
            s.push(')');
        }
        2 => point_list(r, s, le)?,
        3 => {
            let rings = u32_of(r, le)?;
            s.push('(');
            for i in 0..rings {
                if i > 0 {
                    s.push_str(", ");
                }
                point_list(r, s, le)?;
            }
            s.push(')');
        }
        4..=7 => {
            let n = u32_of(r, le)?;
            s.push('(');
            for i in 0..n {
                if i > 0 {
                    s.push_str(", ");
                }
                // Members of a collection keep their tag; members of MULTI* do not.
                geometry(r, s, ty == 7, depth + 1)?;
            }
            s.push(')');
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f64, y: f64) -> Vec<u8> {
        let mut b = vec![1, 1, 0, 0, 0];
        b.extend_from_slice(&x.to_le_bytes());
        b.extend_from_slice(&y.to_le_bytes());
        b
    }

    #[test]
    fn point_and_multipoint() {
        let mut g = vec![0, 0, 0, 0];
        g.extend(point(1.0, 2.5));
        let mut out = Vec::new();
        write_geometry(&mut out, &g);
        assert_eq!(out, br#""POINT (1 2.5)""#.to_vec());
        let mut m = vec![0, 0, 0, 0, 1, 4, 0, 0, 0, 2, 0, 0, 0];
        m.extend(point(0.0, 0.0));
        m.extend(point(1.0, 1.0));
        out.clear();
        write_geometry(&mut out, &m);
        assert_eq!(out, br#""MULTIPOINT ((0 0), (1 1))""#.to_vec());
    }

    #[test]
    fn malformed_is_base64() {
        let mut out = Vec::new();
        write_geometry(&mut out, &[0, 0, 0, 0, 1, 1, 0]);
        assert_eq!(out, br#""AAAAAAEBAA==""#.to_vec());
    }
}
