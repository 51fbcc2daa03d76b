//! Property tests for BigSize and TLV streams.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use fulmen_wire::tlv::{self, RawTlv, TlvBuilder};
use fulmen_wire::{bigsize, Reader, WireError, Writer};
use proptest::prelude::*;

proptest! {
    #[test]
    fn bigsize_round_trips(v in any::<u64>()) {
        let e = bigsize::encode(v);
        prop_assert_eq!(e.len(), bigsize::encoded_len(v));
        prop_assert_eq!(bigsize::decode(&e), Ok((v, &[][..])));
    }

    #[test]
    fn truncated_ints_round_trip(v in any::<u64>()) {
        let mut w = Writer::new();
        w.write_tu64(v);
        prop_assert_eq!(Reader::new(w.as_bytes()).read_tu64(), Ok(v));
        if let Ok(v32) = u32::try_from(v) {
            prop_assert_eq!(Reader::new(w.as_bytes()).read_tu32(), Ok(v32));
        } else {
            prop_assert!(Reader::new(w.as_bytes()).read_tu32().is_err());
        }
    }

    #[test]
    fn unknown_odd_records_round_trip(
        recs in proptest::collection::btree_map(any::<u64>(), proptest::collection::vec(any::<u8>(), 0..300), 0..8)
    ) {
        let raws: Vec<RawTlv> = recs.into_iter().map(|(t, value)| RawTlv { ty: t | 1, value }).collect();
        let mut b = TlvBuilder::new();
        b.extend_unknown(&raws);
        let bytes = b.into_bytes();
        let mut dedup = raws.clone();
        dedup.dedup_by_key(|r| r.ty);
        let got = tlv::decode_stream(&bytes, |_, _| Ok(false)).unwrap();
        prop_assert_eq!(&got, &dedup);
        let mut w = Writer::new();
        tlv::write_unknown(&mut w, &got);
        prop_assert_eq!(w.into_bytes(), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let r = tlv::decode_stream(&bytes, |ty, r| {
            if ty == 2 { r.read_tu64()?; Ok(true) } else { Ok(false) }
        });
        if let Ok(unknown) = r {
            prop_assert!(unknown.iter().all(|r| r.ty % 2 == 1));
        }
        for rec in tlv::TlvStream::new(&bytes) {
            if let Err(e) = rec {
                let wrapped = matches!(e, WireError::Message { .. });
                prop_assert!(!wrapped);
            }
        }
    }
}
