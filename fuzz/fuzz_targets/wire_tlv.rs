#![no_main]
//! TLV stream decoding of arbitrary bytes must never panic, both with no
//! known types and with a schema of known types (the BOLT 1 `n1` namespace);
//! an accepted stream must re-encode to the same bytes.
use fulmen_wire::tlv::{self, TlvBuilder, TlvStream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Framing only.
    let mut last = None;
    for rec in TlvStream::new(data) {
        match rec {
            Ok(r) => {
                assert!(last.map_or(true, |l| r.ty > l), "types strictly increase");
                last = Some(r.ty);
            }
            Err(_) => break,
        }
    }

    // No known types: only odd records survive, and they round-trip.
    if let Ok(unknown) = tlv::decode_stream(data, |_, _| Ok(false)) {
        assert!(unknown.iter().all(|r| r.ty % 2 == 1));
        let mut b = TlvBuilder::new();
        b.extend_unknown(&unknown);
        assert_eq!(b.into_bytes(), data);
    }

    // The n1 schema of BOLT 1 Appendix B.
    let mut known = Vec::new();
    let res = tlv::decode_stream(data, |ty, r| {
        let start = r.peek_rest();
        match ty {
            1 => {
                r.read_tu64()?;
            }
            2 => {
                r.read_short_channel_id()?;
            }
            3 => {
                r.read_point()?;
                r.read_u64()?;
                r.read_u64()?;
            }
            254 => {
                r.read_u16()?;
            }
            _ => return Ok(false),
        }
        known.push((ty, start.to_vec()));
        Ok(true)
    });
    if let Ok(unknown) = res {
        let mut b = TlvBuilder::new();
        for (ty, v) in known {
            b.record(ty, v);
        }
        b.extend_unknown(&unknown);
        assert_eq!(b.into_bytes(), data);
    }
});
