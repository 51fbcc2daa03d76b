//! BOLT 1 Appendix A (BigSize), B (TLV streams, with the test-only `n1` and
//! `n2` namespaces) and D (signed integers) test vectors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bitcoin::secp256k1::PublicKey;
use fulmen_types::ShortChannelId;
use fulmen_wire::tlv::{self, RawTlv};
use fulmen_wire::{bigsize, Reader, WireError, Writer};
use serde::Deserialize;

#[derive(Deserialize)]
struct BigSizeCase {
    name: String,
    value: u64,
    bytes: String,
    exp_error: Option<String>,
}

#[derive(Deserialize)]
struct BigSizeFile {
    decoding: Vec<BigSizeCase>,
    encoding: Vec<BigSizeCase>,
}

#[test]
fn appendix_a_bigsize_decoding() {
    let f: BigSizeFile = serde_json::from_str(include_str!("data/bigsize.json")).unwrap();
    assert_eq!(f.decoding.len(), 18);
    for c in &f.decoding {
        let bytes = hex::decode(&c.bytes).unwrap();
        let got = bigsize::decode(&bytes);
        match c.exp_error.as_deref() {
            None => assert_eq!(got, Ok((c.value, &[][..])), "{}", c.name),
            Some("decoded bigsize is not canonical") => {
                assert_eq!(got, Err(WireError::NonMinimalBigSize), "{}", c.name)
            }
            Some("unexpected EOF" | "EOF") => {
                assert_eq!(got, Err(WireError::Truncated), "{}", c.name)
            }
            Some(other) => panic!("unexpected error kind in vector: {other}"),
        }
    }
}

#[test]
fn appendix_a_bigsize_encoding() {
    let f: BigSizeFile = serde_json::from_str(include_str!("data/bigsize.json")).unwrap();
    assert_eq!(f.encoding.len(), 8);
    for c in &f.encoding {
        assert_eq!(hex::encode(bigsize::encode(c.value)), c.bytes, "{}", c.name);
        assert_eq!(bigsize::encoded_len(c.value) * 2, c.bytes.len());
    }
}

#[derive(Deserialize)]
struct SignedCase {
    value: i64,
    bytes: String,
}

#[derive(Deserialize)]
struct SignedFile {
    vectors: Vec<SignedCase>,
}

#[test]
fn appendix_d_signed_integers() {
    let f: SignedFile = serde_json::from_str(include_str!("data/signed_integers.json")).unwrap();
    assert_eq!(f.vectors.len(), 23);
    for c in &f.vectors {
        let bytes = hex::decode(&c.bytes).unwrap();
        let mut r = Reader::new(&bytes);
        let mut w = Writer::new();
        // Each vector is in the smallest of s8/s16/s32/s64 that holds it.
        match bytes.len() {
            1 => {
                assert_eq!(i64::from(r.read_i8().unwrap()), c.value);
                w.write_i8(i8::try_from(c.value).unwrap());
            }
            2 => {
                assert_eq!(i64::from(r.read_i16().unwrap()), c.value);
                w.write_i16(i16::try_from(c.value).unwrap());
            }
            4 => {
                assert_eq!(i64::from(r.read_i32().unwrap()), c.value);
                w.write_i32(i32::try_from(c.value).unwrap());
            }
            8 => {
                assert_eq!(r.read_i64().unwrap(), c.value);
                w.write_i64(c.value);
            }
            n => panic!("bad vector length {n}"),
        }
        assert!(r.is_empty());
        assert_eq!(hex::encode(w.into_bytes()), c.bytes, "{}", c.value);
    }
}

// ---- Appendix B: the n1 and n2 namespaces, defined only for these tests ----

#[derive(Debug, Default, PartialEq)]
struct N1 {
    tlv1: Option<u64>,
    tlv2: Option<ShortChannelId>,
    tlv3: Option<(PublicKey, u64, u64)>,
    tlv4: Option<u16>,
    unknown: Vec<RawTlv>,
}

fn decode_n1(bytes: &[u8]) -> Result<N1, WireError> {
    let mut n = N1::default();
    n.unknown = tlv::decode_stream(bytes, |ty, r| {
        match ty {
            1 => n.tlv1 = Some(r.read_tu64()?),
            2 => n.tlv2 = Some(r.read_short_channel_id()?),
            3 => n.tlv3 = Some((r.read_point()?, r.read_u64()?, r.read_u64()?)),
            254 => n.tlv4 = Some(r.read_u16()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(n)
}

fn encode_n1(n: &N1) -> Vec<u8> {
    let mut b = tlv::TlvBuilder::new();
    if let Some(a) = n.tlv1 {
        b.tu64(1, a);
    }
    if let Some(s) = n.tlv2 {
        b.record_with(2, |w| w.write_u64(s.0));
    }
    if let Some((p, a1, a2)) = n.tlv3 {
        b.record_with(3, |w| {
            w.write_point(&p);
            w.write_u64(a1);
            w.write_u64(a2);
        });
    }
    if let Some(c) = n.tlv4 {
        b.record_with(254, |w| w.write_u16(c));
    }
    b.extend_unknown(&n.unknown);
    b.into_bytes()
}

#[derive(Debug, Default, PartialEq)]
struct N2 {
    tlv1: Option<u64>,
    tlv2: Option<u32>,
    unknown: Vec<RawTlv>,
}

fn decode_n2(bytes: &[u8]) -> Result<N2, WireError> {
    let mut n = N2::default();
    n.unknown = tlv::decode_stream(bytes, |ty, r| {
        match ty {
            0 => n.tlv1 = Some(r.read_tu64()?),
            11 => n.tlv2 = Some(r.read_tu32()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(n)
}

#[derive(Deserialize)]
struct StreamCase {
    stream: String,
    note: String,
    values: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct TlvFile {
    decoding_failures_any_namespace: Vec<StreamCase>,
    decoding_failures_either_namespace: Vec<StreamCase>,
    decoding_failures_n1: Vec<StreamCase>,
    decoding_successes_ignored_either_namespace: Vec<StreamCase>,
    decoding_successes_n1: Vec<StreamCase>,
    stream_failures_n1: Vec<StreamCase>,
    stream_failures_n2: Vec<StreamCase>,
}

fn tlv_file() -> TlvFile {
    serde_json::from_str(include_str!("data/tlv.json")).unwrap()
}

fn bytes(c: &StreamCase) -> Vec<u8> {
    hex::decode(&c.stream).unwrap()
}

#[test]
fn appendix_b_failures_in_both_namespaces() {
    let f = tlv_file();
    assert_eq!(f.decoding_failures_any_namespace.len(), 9);
    assert_eq!(f.decoding_failures_either_namespace.len(), 4);
    for c in f
        .decoding_failures_any_namespace
        .iter()
        .chain(&f.decoding_failures_either_namespace)
    {
        let b = bytes(c);
        let e1 = decode_n1(&b).expect_err(&c.note);
        let e2 = decode_n2(&b).expect_err(&c.note);
        assert_eq!(e1, e2, "{}", c.note);
        let expected = match c.note.as_str() {
            n if n.contains("not minimally encoded") => WireError::NonMinimalBigSize,
            n if n.contains("unknown even type") => e1.clone(),
            n if n.contains("value truncated") || n.contains("missing value") => {
                WireError::TlvValueTruncated { ty: 15 }
            }
            _ => WireError::Truncated,
        };
        assert_eq!(e1, expected, "{}", c.note);
        if c.note.contains("unknown even type") {
            assert!(matches!(e1, WireError::UnknownEvenTlv(t) if t % 2 == 0));
        }
    }
}

#[test]
fn appendix_b_failures_in_n1() {
    let f = tlv_file();
    assert_eq!(f.decoding_failures_n1.len(), 20);
    for c in &f.decoding_failures_n1 {
        let e = decode_n1(&bytes(c)).expect_err(&c.note);
        let expected = if c.note.contains("not minimal") {
            WireError::NonMinimalTruncatedInt
        } else if c.note.contains("not a valid point") {
            WireError::InvalidPoint
        } else if c.note.contains("unknown even") {
            WireError::UnknownEvenTlv(0)
        } else if c.note.contains("tlv1") {
            WireError::TruncatedIntTooLong { len: 9 }
        } else {
            let ty = match c.note {
                ref n if n.contains("tlv2") => 2,
                ref n if n.contains("tlv3") => 3,
                _ => 254,
            };
            WireError::TlvBadValue { ty }
        };
        assert_eq!(e, expected, "{}: {}", c.stream, c.note);
    }
}

#[test]
fn appendix_b_ignored_successes_in_both_namespaces() {
    let f = tlv_file();
    assert_eq!(f.decoding_successes_ignored_either_namespace.len(), 7);
    for c in &f.decoding_successes_ignored_either_namespace {
        let b = bytes(c);
        let n1 = decode_n1(&b).unwrap();
        let n2 = decode_n2(&b).unwrap();
        assert_eq!(n1.tlv1.or(n1.tlv4.map(u64::from)), None);
        assert!(n1.tlv2.is_none() && n1.tlv3.is_none());
        assert_eq!((n2.tlv1, n2.tlv2), (None, None));
        assert_eq!(n1.unknown, n2.unknown);
        // Unknown odd records are retained and re-encode to the same bytes.
        assert_eq!(encode_n1(&n1), b, "{}", c.stream);
    }
}

fn expected_n1(v: &serde_json::Value) -> N1 {
    let mut n = N1::default();
    if let Some(t) = v.get("tlv1") {
        n.tlv1 = Some(t["amount_msat"].as_u64().unwrap());
    }
    if let Some(t) = v.get("tlv2") {
        n.tlv2 = Some(t["scid"].as_str().unwrap().parse().unwrap());
    }
    if let Some(t) = v.get("tlv3") {
        let p: PublicKey = t["node_id"].as_str().unwrap().parse().unwrap();
        n.tlv3 = Some((
            p,
            t["amount_msat_1"].as_u64().unwrap(),
            t["amount_msat_2"].as_u64().unwrap(),
        ));
    }
    if let Some(t) = v.get("tlv4") {
        n.tlv4 = Some(u16::try_from(t["cltv_delta"].as_u64().unwrap()).unwrap());
    }
    n
}

#[test]
fn appendix_b_successes_in_n1() {
    let f = tlv_file();
    assert_eq!(f.decoding_successes_n1.len(), 12);
    for c in &f.decoding_successes_n1 {
        let b = bytes(c);
        let got = decode_n1(&b).unwrap();
        assert_eq!(got, expected_n1(c.values.as_ref().unwrap()), "{}", c.stream);
        assert_eq!(encode_n1(&got), b, "{}", c.stream);
    }
}

#[test]
fn appendix_b_stream_failures() {
    let f = tlv_file();
    assert_eq!(f.stream_failures_n1.len(), 4);
    for c in &f.stream_failures_n1 {
        let e = decode_n1(&bytes(c)).expect_err(&c.note);
        assert!(matches!(e, WireError::TlvOutOfOrder { .. }), "{}", c.note);
    }
    assert_eq!(f.stream_failures_n2.len(), 1);
    for c in &f.stream_failures_n2 {
        let e = decode_n2(&bytes(c)).expect_err(&c.note);
        assert_eq!(
            e,
            WireError::TlvOutOfOrder {
                previous: u64::MAX,
                ty: 0
            }
        );
    }
}

/// "Any appending of an invalid stream to a valid stream should trigger a
/// decoding failure. Any appending of a higher-numbered valid stream to a
/// lower-numbered valid stream should not trigger a decoding failure."
#[test]
fn appendix_b_appending_streams() {
    let f = tlv_file();
    let valid: Vec<Vec<u8>> = f
        .decoding_successes_n1
        .iter()
        .chain(&f.decoding_successes_ignored_either_namespace)
        .map(bytes)
        .filter(|b| !b.is_empty())
        .collect();
    let invalid: Vec<Vec<u8>> = f
        .decoding_failures_any_namespace
        .iter()
        .chain(&f.decoding_failures_either_namespace)
        .chain(&f.decoding_failures_n1)
        .map(bytes)
        .collect();
    let first_type = |b: &[u8]| bigsize::decode(b).unwrap().0;
    let mut pairs = 0;
    for v in &valid {
        for i in &invalid {
            let joined = [v.as_slice(), i.as_slice()].concat();
            assert!(
                decode_n1(&joined).is_err(),
                "{} ++ {}",
                hex::encode(v),
                hex::encode(i)
            );
        }
        for w in &valid {
            if first_type(w) > first_type(v) {
                let joined = [v.as_slice(), w.as_slice()].concat();
                let n = decode_n1(&joined).unwrap();
                assert_eq!(encode_n1(&n), joined);
                pairs += 1;
            }
        }
    }
    assert!(pairs > 50);
}
