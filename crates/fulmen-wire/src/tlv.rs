//! TLV streams (BOLT 1 "Type-Length-Value Format"), generic over the set of
//! known types so that any crate can parse its own streams (message
//! extensions here, onion hop payloads in `fulmen-onion`).
//!
//! Reading enforces every receiver rule of BOLT 1: `type` and `length` are
//! minimal BigSizes, types strictly increase (so no duplicates), `length` is
//! checked against the remaining bytes before anything is read or allocated,
//! a known type's value must be consumed exactly, an unknown even type fails
//! the stream and an unknown odd type is skipped — and kept as a [`RawTlv`]
//! so that a message re-encodes to the same bytes.
//!
//! # Reading with your own known types
//!
//! ```
//! use fulmen_wire::tlv;
//! # fn main() -> Result<(), fulmen_wire::WireError> {
//! // type 2: tu64 amount, type 4: tu32 cltv; an unknown odd type 5 rides along.
//! let bytes = [0x02, 0x02, 0x01, 0x00, 0x04, 0x01, 0x28, 0x05, 0x00];
//! let (mut amount, mut cltv) = (None, None);
//! let unknown = tlv::decode_stream(&bytes, |ty, value| {
//!     match ty {
//!         2 => amount = Some(value.read_tu64()?),
//!         4 => cltv = Some(value.read_tu32()?),
//!         _ => return Ok(false),
//!     }
//!     Ok(true)
//! })?;
//! assert_eq!((amount, cltv), (Some(256), Some(40)));
//! assert_eq!(unknown, vec![tlv::RawTlv { ty: 5, value: vec![] }]);
//!
//! // Writing: records in any order, sorted on output; unknown ones merged in.
//! let mut b = tlv::TlvBuilder::new();
//! b.tu64(4, 40).tu64(2, 256).extend_unknown(&unknown);
//! assert_eq!(b.into_bytes(), bytes);
//! # Ok(()) }
//! ```

use crate::bigsize;
use crate::codec::{Reader, Writer};
use crate::error::WireError;

/// One record of a stream, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvRecord<'a> {
    /// The record type.
    pub ty: u64,
    /// The value bytes (exactly `length` of them).
    pub value: &'a [u8],
}

impl<'a> TlvRecord<'a> {
    /// A reader over the value.
    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.value)
    }
}

/// A record of an unknown odd type, kept so that the stream round-trips.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawTlv {
    /// The record type.
    pub ty: u64,
    /// The value bytes.
    pub value: Vec<u8>,
}

/// An iterator over the records of a stream that checks the framing rules
/// (minimal BigSizes, strictly increasing types, length within the remaining
/// bytes) but knows no types. It stops after the first error.
#[derive(Debug, Clone)]
pub struct TlvStream<'a> {
    rest: Reader<'a>,
    last: Option<u64>,
    failed: bool,
}

impl<'a> TlvStream<'a> {
    /// A stream over `bytes` (which the stream fills entirely).
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self {
            rest: Reader::new(bytes),
            last: None,
            failed: false,
        }
    }

    fn next_record(&mut self) -> Result<TlvRecord<'a>, WireError> {
        let ty = self.rest.read_bigsize()?;
        if let Some(previous) = self.last {
            if ty <= previous {
                return Err(WireError::TlvOutOfOrder { previous, ty });
            }
        }
        self.last = Some(ty);
        let len = self.rest.read_bigsize()?;
        let len = usize::try_from(len).map_err(|_| WireError::TlvValueTruncated { ty })?;
        if len > self.rest.remaining() {
            return Err(WireError::TlvValueTruncated { ty });
        }
        let value = self.rest.read_bytes(len)?;
        Ok(TlvRecord { ty, value })
    }
}

impl<'a> Iterator for TlvStream<'a> {
    type Item = Result<TlvRecord<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let item = self.next_record();
        self.failed = item.is_err();
        Some(item)
    }
}

/// Decodes a whole stream. For each record, `known(ty, value)` is called with
/// a reader over the value: it returns `Ok(true)` if it knows `ty` (and has
/// read the value, which must be consumed exactly), `Ok(false)` if it does
/// not. Unknown even types fail the stream; unknown odd types are returned,
/// in order, as [`RawTlv`]s.
///
/// A short or over-long known value becomes [`WireError::TlvBadValue`]; any
/// other error from `known` (an invalid point, a non-minimal truncated
/// integer...) is passed through.
pub fn decode_stream<'a, F>(bytes: &'a [u8], mut known: F) -> Result<Vec<RawTlv>, WireError>
where
    F: FnMut(u64, &mut Reader<'a>) -> Result<bool, WireError>,
{
    let mut unknown = Vec::new();
    for record in TlvStream::new(bytes) {
        let TlvRecord { ty, value } = record?;
        let mut r = Reader::new(value);
        let is_known = known(ty, &mut r).map_err(|e| match e {
            WireError::Truncated | WireError::TrailingBytes { .. } => WireError::TlvBadValue { ty },
            other => other,
        })?;
        if is_known {
            if !r.is_empty() {
                return Err(WireError::TlvBadValue { ty });
            }
        } else if ty % 2 == 0 {
            return Err(WireError::UnknownEvenTlv(ty));
        } else {
            unknown.push(RawTlv {
                ty,
                value: value.to_vec(),
            });
        }
    }
    Ok(unknown)
}

/// Appends one record: minimal `type`, minimal `length`, value.
pub fn write_record(w: &mut Writer, ty: u64, value: &[u8]) {
    w.write_bigsize(ty);
    w.write_bigsize(value.len() as u64);
    w.write_bytes(value);
}

/// The encoded length of one record.
pub fn record_len(ty: u64, value_len: usize) -> usize {
    bigsize::encoded_len(ty) + bigsize::encoded_len(value_len as u64) + value_len
}

/// Collects records in any order and writes them as a canonical stream:
/// sorted by type; if a type was added twice, the first one added wins (so
/// add known records before [`TlvBuilder::extend_unknown`]).
#[derive(Debug, Clone, Default)]
pub struct TlvBuilder {
    records: Vec<(u64, Vec<u8>)>,
}

impl TlvBuilder {
    /// An empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a record with the given value.
    pub fn record(&mut self, ty: u64, value: Vec<u8>) -> &mut Self {
        self.records.push((ty, value));
        self
    }

    /// Adds a record whose value `f` writes.
    pub fn record_with(&mut self, ty: u64, f: impl FnOnce(&mut Writer)) -> &mut Self {
        let mut w = Writer::new();
        f(&mut w);
        self.record(ty, w.into_bytes())
    }

    /// Adds a record holding a minimal truncated integer.
    pub fn tu64(&mut self, ty: u64, v: u64) -> &mut Self {
        self.record_with(ty, |w| w.write_tu64(v))
    }

    /// Adds retained unknown records.
    pub fn extend_unknown(&mut self, unknown: &[RawTlv]) -> &mut Self {
        self.records
            .extend(unknown.iter().map(|r| (r.ty, r.value.clone())));
        self
    }

    /// Writes the stream (the builder may be reused; it keeps its records).
    pub fn write_to(&mut self, w: &mut Writer) {
        self.records.sort_by_key(|(ty, _)| *ty);
        self.records.dedup_by_key(|(ty, _)| *ty);
        for (ty, value) in &self.records {
            write_record(w, *ty, value);
        }
    }

    /// The encoded stream.
    pub fn into_bytes(mut self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write_to(&mut w);
        w.into_bytes()
    }
}

/// Writes a stream of only the retained unknown records (for messages with no
/// TLV types of their own). They must already be in increasing order, as
/// [`decode_stream`] returns them; out-of-order or duplicate records are
/// sorted and deduplicated.
pub fn write_unknown(w: &mut Writer, unknown: &[RawTlv]) {
    if unknown.windows(2).all(|p| match p {
        [a, b] => a.ty < b.ty,
        _ => true,
    }) {
        for r in unknown {
            write_record(w, r.ty, &r.value);
        }
    } else {
        let mut b = TlvBuilder::new();
        b.extend_unknown(unknown);
        b.write_to(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_errors() {
        let first = |b: &[u8]| TlvStream::new(b).find_map(Result::err);
        assert_eq!(first(&[0xfd]), Some(WireError::Truncated));
        assert_eq!(
            first(&[0x01, 0x00, 0x01, 0x00]),
            Some(WireError::TlvOutOfOrder { previous: 1, ty: 1 })
        );
        assert_eq!(
            first(&[0x01, 0x02, 0x00]),
            Some(WireError::TlvValueTruncated { ty: 1 })
        );
        // A length that does not fit usize on any platform is still just "too long".
        assert_eq!(
            first(&[0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Some(WireError::TlvValueTruncated { ty: 1 })
        );
    }

    #[test]
    fn iterator_stops_after_error() {
        let mut s = TlvStream::new(&[0x03, 0x00, 0x01, 0x00, 0x05, 0x00]);
        assert!(s.next().is_some_and(|r| r.is_ok()));
        assert!(s.next().is_some_and(|r| r.is_err()));
        assert!(s.next().is_none());
    }

    #[test]
    fn known_values_must_be_consumed_exactly() {
        let over = decode_stream(&[0x02, 0x02, 0x00, 0x01], |_, r| {
            r.read_u8()?;
            Ok(true)
        });
        assert_eq!(over, Err(WireError::TlvBadValue { ty: 2 }));
        let under = decode_stream(&[0x02, 0x01, 0x00], |_, r| {
            r.read_u16()?;
            Ok(true)
        });
        assert_eq!(under, Err(WireError::TlvBadValue { ty: 2 }));
    }

    #[test]
    fn builder_sorts_and_dedups() {
        let mut b = TlvBuilder::new();
        b.record(3, vec![1])
            .record(1, vec![])
            .extend_unknown(&[RawTlv {
                ty: 3,
                value: vec![9],
            }]);
        assert_eq!(b.into_bytes(), vec![0x01, 0x00, 0x03, 0x01, 0x01]);
        let mut w = Writer::new();
        write_unknown(
            &mut w,
            &[
                RawTlv {
                    ty: 5,
                    value: vec![],
                },
                RawTlv {
                    ty: 3,
                    value: vec![],
                },
            ],
        );
        assert_eq!(w.into_bytes(), vec![0x03, 0x00, 0x05, 0x00]);
    }
}
