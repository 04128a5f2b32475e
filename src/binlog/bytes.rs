//! A bounds-checked little-endian cursor over event bytes.
//!
//! Invariant: no method panics on short input; every read returns `None` instead, so a
//! truncated or corrupt event becomes a decode error, never a crash.

pub struct Reader<'a> {
    buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
    #[inline]
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    #[inline]
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    #[inline]
    pub fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    #[inline]
    pub fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    }
    #[inline]
    pub fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    }
    /// Little-endian unsigned integer of `n` (≤ 8) bytes.
    #[inline]
    pub fn uint_n(&mut self, n: usize) -> Option<u64> {
        self.take(n).map(le_uint)
    }
    /// MySQL length-encoded integer.
    pub fn lenenc(&mut self) -> Option<u64> {
        match self.u8()? {
            n @ 0..=0xfa => Some(n as u64),
            0xfc => self.uint_n(2),
            0xfd => self.uint_n(3),
            0xfe => self.u64(),
            _ => None,
        }
    }
}

/// Little-endian unsigned integer from up to 8 bytes.
#[inline]
pub fn le_uint(b: &[u8]) -> u64 {
    let mut v = 0u64;
    for (i, &x) in b.iter().enumerate() {
        v |= (x as u64) << (8 * i);
    }
    v
}

/// Big-endian unsigned integer from up to 8 bytes.
#[inline]
pub fn be_uint(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |v, &x| (v << 8) | x as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let mut r = Reader::new(&[1, 2, 0, 0xfc, 0x10, 0x27, 9]);
        assert_eq!(r.u8(), Some(1));
        assert_eq!(r.u16(), Some(2));
        assert_eq!(r.lenenc(), Some(10000));
        assert_eq!(r.u16(), None);
        assert_eq!(r.u8(), Some(9));
        assert_eq!(r.u8(), None);
        assert_eq!(be_uint(&[0x01, 0x00]), 256);
        assert_eq!(le_uint(&[0x01, 0x00]), 1);
    }
}
