//! A bounds-checked reader and an appending writer over byte slices.
//!
//! Every read returns a `Result`; the reader never indexes unchecked and never
//! allocates more than the bytes it has already verified are present. All
//! integers are big-endian (BOLT 1); signed integers are two's complement
//! (BOLT 1 Appendix D); truncated integers (`tu16`/`tu32`/`tu64`) must be
//! minimal (no leading zero byte).

use bitcoin::constants::ChainHash;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::PublicKey;
use bitcoin::Txid;
use fulmen_types::{ChannelId, NodeId, ShortChannelId};

use crate::bigsize;
use crate::error::WireError;

/// A cursor over a byte slice. Reads consume bytes from the front.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

macro_rules! read_int {
    ($(#[$doc:meta] $name:ident -> $ty:ty),* $(,)?) => {$(
        #[$doc]
        pub fn $name(&mut self) -> Result<$ty, WireError> {
            Ok(<$ty>::from_be_bytes(self.read_array()?))
        }
    )*};
}

macro_rules! read_truncated {
    ($(#[$doc:meta] $name:ident -> $ty:ty),* $(,)?) => {$(
        #[$doc]
        pub fn $name(&mut self) -> Result<$ty, WireError> {
            let v = self.read_rest();
            let len = v.len();
            if len > core::mem::size_of::<$ty>() {
                return Err(WireError::TruncatedIntTooLong { len });
            }
            if v.first() == Some(&0) {
                return Err(WireError::NonMinimalTruncatedInt);
            }
            Ok(v.iter().fold(0, |acc: $ty, b| (acc << 8) | <$ty>::from(*b)))
        }
    )*};
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub const fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Bytes not yet read.
    pub const fn remaining(&self) -> usize {
        self.data.len()
    }

    /// Whether every byte has been read.
    pub const fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The unread bytes, without consuming them.
    pub const fn peek_rest(&self) -> &'a [u8] {
        self.data
    }

    /// Fails with [`WireError::TrailingBytes`] unless every byte was read.
    pub fn finish(&self) -> Result<(), WireError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes {
                count: self.data.len(),
            })
        }
    }

    /// The next `n` bytes.
    pub fn read_bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.data.len() {
            return Err(WireError::Truncated);
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    /// All remaining bytes.
    pub fn read_rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.data)
    }

    /// The next `N` bytes as an array.
    pub fn read_array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let bytes = self.read_bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// One byte.
    pub fn read_u8(&mut self) -> Result<u8, WireError> {
        let [b] = self.read_array()?;
        Ok(b)
    }

    read_int! {
        /// A big-endian `u16`.
        read_u16 -> u16,
        /// A big-endian `u32`.
        read_u32 -> u32,
        /// A big-endian `u64`.
        read_u64 -> u64,
        /// A two's complement `s8`.
        read_i8 -> i8,
        /// A big-endian two's complement `s16`.
        read_i16 -> i16,
        /// A big-endian two's complement `s32`.
        read_i32 -> i32,
        /// A big-endian two's complement `s64`.
        read_i64 -> i64,
    }

    read_truncated! {
        /// A `tu16` filling the rest of the reader (a TLV value), minimal.
        read_tu16 -> u16,
        /// A `tu32` filling the rest of the reader (a TLV value), minimal.
        read_tu32 -> u32,
        /// A `tu64` filling the rest of the reader (a TLV value), minimal.
        read_tu64 -> u64,
    }

    /// A minimally encoded BigSize.
    pub fn read_bigsize(&mut self) -> Result<u64, WireError> {
        bigsize::read(self)
    }

    /// A `u16` length followed by that many bytes.
    pub fn read_u16_prefixed(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.read_u16()?;
        self.read_bytes(usize::from(len))
    }

    /// A 33-byte compressed point, which must be on the curve.
    pub fn read_point(&mut self) -> Result<PublicKey, WireError> {
        let bytes: [u8; 33] = self.read_array()?;
        PublicKey::from_slice(&bytes).map_err(|_| WireError::InvalidPoint)
    }

    /// A node id: a 33-byte point, which must be on the curve.
    pub fn read_node_id(&mut self) -> Result<NodeId, WireError> {
        let bytes: [u8; 33] = self.read_array()?;
        PublicKey::from_slice(&bytes).map_err(|_| WireError::InvalidPoint)?;
        Ok(NodeId(bytes))
    }

    /// A 64-byte compact ECDSA signature with `r` and `s` in range.
    pub fn read_signature(&mut self) -> Result<Signature, WireError> {
        let bytes: [u8; 64] = self.read_array()?;
        Signature::from_compact(&bytes).map_err(|_| WireError::InvalidSignature)
    }

    /// A 32-byte channel id.
    pub fn read_channel_id(&mut self) -> Result<ChannelId, WireError> {
        self.read_array().map(ChannelId)
    }

    /// An 8-byte short channel id.
    pub fn read_short_channel_id(&mut self) -> Result<ShortChannelId, WireError> {
        self.read_u64().map(ShortChannelId)
    }

    /// A 32-byte chain hash.
    pub fn read_chain_hash(&mut self) -> Result<ChainHash, WireError> {
        self.read_array::<32>().map(ChainHash::from)
    }

    /// A 32-byte txid, in the byte order it is hashed in.
    pub fn read_txid(&mut self) -> Result<Txid, WireError> {
        self.read_array().map(Txid::from_byte_array)
    }
}

/// An appending writer. Writes cannot fail except where a length must fit a
/// `u16` prefix.
#[derive(Debug, Clone, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

macro_rules! write_int {
    ($(#[$doc:meta] $name:ident($ty:ty)),* $(,)?) => {$(
        #[$doc]
        pub fn $name(&mut self, v: $ty) {
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    )*};
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Raw bytes.
    pub fn write_bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// One byte.
    pub fn write_u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    write_int! {
        /// A big-endian `u16`.
        write_u16(u16),
        /// A big-endian `u32`.
        write_u32(u32),
        /// A big-endian `u64`.
        write_u64(u64),
        /// A two's complement `s8`.
        write_i8(i8),
        /// A big-endian two's complement `s16`.
        write_i16(i16),
        /// A big-endian two's complement `s32`.
        write_i32(i32),
        /// A big-endian two's complement `s64`.
        write_i64(i64),
    }

    /// A minimal truncated integer (`tu16`, `tu32` or `tu64`: the value
    /// without leading zero bytes; zero is empty).
    pub fn write_tu64(&mut self, v: u64) {
        let bytes = v.to_be_bytes();
        let skip = (v.leading_zeros() / 8) as usize;
        self.buf.extend(bytes.iter().skip(skip).copied());
    }

    /// A minimal BigSize.
    pub fn write_bigsize(&mut self, v: u64) {
        bigsize::write(v, self);
    }

    /// A `u16` length followed by the bytes; fails if they do not fit.
    pub fn write_u16_prefixed(&mut self, b: &[u8]) -> Result<(), WireError> {
        let len = u16::try_from(b.len()).map_err(|_| WireError::FieldTooLong(b.len()))?;
        self.write_u16(len);
        self.write_bytes(b);
        Ok(())
    }

    /// A 33-byte compressed point.
    pub fn write_point(&mut self, p: &PublicKey) {
        self.write_bytes(&p.serialize());
    }

    /// A node id.
    pub fn write_node_id(&mut self, id: &NodeId) {
        self.write_bytes(id.as_bytes());
    }

    /// A 64-byte compact signature.
    pub fn write_signature(&mut self, s: &Signature) {
        self.write_bytes(&s.serialize_compact());
    }

    /// A chain hash.
    pub fn write_chain_hash(&mut self, c: &ChainHash) {
        self.write_bytes(c.as_ref());
    }

    /// A txid in hashed byte order.
    pub fn write_txid(&mut self, t: &Txid) {
        self.write_bytes(t.as_byte_array());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounds_checked() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.read_u16(), Ok(0x0102));
        assert_eq!(r.read_u16(), Err(WireError::Truncated));
        assert_eq!(r.read_u8(), Ok(3));
        assert_eq!(r.read_u8(), Err(WireError::Truncated));
        assert!(r.finish().is_ok());
        let mut r = Reader::new(&[0, 5, 1]);
        assert_eq!(r.read_u16_prefixed(), Err(WireError::Truncated));
    }

    #[test]
    fn truncated_ints_must_be_minimal() {
        assert_eq!(Reader::new(&[]).read_tu64(), Ok(0));
        assert_eq!(Reader::new(&[1, 0]).read_tu16(), Ok(256));
        assert_eq!(
            Reader::new(&[0, 1]).read_tu32(),
            Err(WireError::NonMinimalTruncatedInt)
        );
        assert_eq!(
            Reader::new(&[1, 0, 0]).read_tu16(),
            Err(WireError::TruncatedIntTooLong { len: 3 })
        );
        assert_eq!(Reader::new(&[0xff; 8]).read_tu64(), Ok(u64::MAX));
        for v in [0u64, 1, 255, 256, 65535, 1 << 40, u64::MAX] {
            let mut w = Writer::new();
            w.write_tu64(v);
            assert_eq!(Reader::new(w.as_bytes()).read_tu64(), Ok(v));
        }
        let mut w = Writer::new();
        w.write_tu64(0);
        assert!(w.is_empty());
    }

    #[test]
    fn u16_prefix_rejects_oversize() {
        let mut w = Writer::new();
        assert_eq!(
            w.write_u16_prefixed(&vec![0; 65536]),
            Err(WireError::FieldTooLong(65536))
        );
        assert!(w.write_u16_prefixed(&vec![0; 65535]).is_ok());
    }
}
