//! BigSize: the variable-length unsigned integer of BOLT 1 (Bitcoin's
//! CompactSize, big-endian), with minimal encoding enforced on decode.
//!
//! ```text
//! x < 0xfd         -> x as one byte
//! x < 0x1_0000     -> 0xfd, be16(x)
//! x < 0x1_0000_0000 -> 0xfe, be32(x)
//! otherwise        -> 0xff, be64(x)
//! ```

use crate::codec::{Reader, Writer};
use crate::error::WireError;

/// The number of bytes the minimal encoding of `v` takes (1, 3, 5 or 9).
pub const fn encoded_len(v: u64) -> usize {
    if v < 0xfd {
        1
    } else if v < 0x1_0000 {
        3
    } else if v < 0x1_0000_0000 {
        5
    } else {
        9
    }
}

/// Reads one minimally encoded BigSize. Fails with [`WireError::Truncated`]
/// on a short read and [`WireError::NonMinimalBigSize`] if a shorter encoding
/// exists.
pub fn read(r: &mut Reader<'_>) -> Result<u64, WireError> {
    let (v, min) = match r.read_u8()? {
        0xfd => (u64::from(r.read_u16()?), 0xfd),
        0xfe => (u64::from(r.read_u32()?), 0x1_0000),
        0xff => (r.read_u64()?, 0x1_0000_0000),
        b => return Ok(u64::from(b)),
    };
    if v < min {
        return Err(WireError::NonMinimalBigSize);
    }
    Ok(v)
}

/// Decodes one BigSize from the front of `bytes`; returns it and the bytes
/// after it.
pub fn decode(bytes: &[u8]) -> Result<(u64, &[u8]), WireError> {
    let mut r = Reader::new(bytes);
    let v = read(&mut r)?;
    Ok((v, r.peek_rest()))
}

/// Appends the minimal encoding of `v`.
pub fn write(v: u64, w: &mut Writer) {
    // The casts cannot truncate: each branch checked the range first.
    if v < 0xfd {
        w.write_u8(v as u8);
    } else if v < 0x1_0000 {
        w.write_u8(0xfd);
        w.write_u16(v as u16);
    } else if v < 0x1_0000_0000 {
        w.write_u8(0xfe);
        w.write_u32(v as u32);
    } else {
        w.write_u8(0xff);
        w.write_u64(v);
    }
}

/// The minimal encoding of `v`.
pub fn encode(v: u64) -> Vec<u8> {
    let mut w = Writer::with_capacity(encoded_len(v));
    write(v, &mut w);
    w.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_round_trip() {
        for v in [
            0u64,
            0xfc,
            0xfd,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX,
        ] {
            let e = encode(v);
            assert_eq!(e.len(), encoded_len(v));
            assert_eq!(decode(&e), Ok((v, &[][..])));
        }
    }

    #[test]
    fn decode_leaves_the_rest() {
        assert_eq!(decode(&[0xfd, 0, 0xfd, 7]), Ok((0xfd, &[7u8][..])));
        assert_eq!(decode(&[0xfd, 0, 0xfc]), Err(WireError::NonMinimalBigSize));
    }
}
