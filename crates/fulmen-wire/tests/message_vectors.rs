//! BOLT 1 Appendix C (message extension) and the BOLT 7 extended gossip
//! query vectors (`extended-queries.json`, copied from the shared vectors).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use fulmen_types::ShortChannelId;
use fulmen_wire::{DirectionPair, Message, Reaction, WireError};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct ExtCase {
    msg: String,
    note: String,
}

#[derive(Deserialize)]
struct ExtFile {
    valid: Vec<ExtCase>,
    invalid: Vec<ExtCase>,
}

#[test]
fn appendix_c_message_extension() {
    let f: ExtFile = serde_json::from_str(include_str!("data/message_extension.json")).unwrap();
    assert_eq!((f.valid.len(), f.invalid.len()), (2, 3));
    for c in &f.valid {
        let bytes = hex::decode(&c.msg).unwrap();
        let m = Message::decode(&bytes).expect(&c.note);
        let Message::Init(init) = &m else {
            panic!("not init: {m:?}")
        };
        assert!(init.features.features().bits().next().is_none());
        assert!(init.networks.is_none() && init.remote_addr.is_none());
        // Unknown odd records are kept so the message re-encodes exactly
        // (the extension is part of signed bytes).
        assert_eq!(m.encode().unwrap(), bytes, "{}", c.note);
    }
    let with_odd = Message::decode(&hex::decode(&f.valid[1].msg).unwrap()).unwrap();
    let Message::Init(init) = with_odd else {
        panic!()
    };
    assert_eq!(
        init.unknown_tlvs.iter().map(|r| r.ty).collect::<Vec<_>>(),
        vec![0xc9, 0xcb]
    );
    let expected = [
        // Type 1, then no length.
        WireError::Truncated,
        WireError::UnknownEvenTlv(0xca),
        WireError::TlvOutOfOrder {
            previous: 0xc9,
            ty: 0xc9,
        },
    ];
    for (c, want) in f.invalid.iter().zip(expected) {
        let e = Message::decode(&hex::decode(&c.msg).unwrap()).expect_err(&c.note);
        assert_eq!(e, want.in_message(16), "{}", c.note);
        // BOLT 1: an invalid extension means closing the connection.
        assert_eq!(e.reaction(), Reaction::Disconnect);
    }
}

fn scids(v: &Value) -> (Vec<ShortChannelId>, bool) {
    let ids = v["array"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().parse().unwrap())
        .collect();
    (ids, v["encoding"] == "COMPRESSED_ZLIB")
}

fn pairs(v: &Value, a: &str, b: &str) -> Vec<DirectionPair> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| DirectionPair {
            node_1: u32::try_from(p[a].as_u64().unwrap()).unwrap(),
            node_2: u32::try_from(p[b].as_u64().unwrap()).unwrap(),
        })
        .collect()
}

fn chain(v: &Value) -> String {
    v["chainHash"].as_str().unwrap().to_string()
}

/// Each vector either uses only encoding 0 — then it must decode to exactly
/// the listed fields and re-encode to the same bytes — or uses the zlib
/// encoding 1 somewhere, which the current BOLT 7 forbids ("MUST NOT be
/// used"): then decoding must fail with `UnknownEncoding(1)` and the
/// reaction is to warn.
#[test]
fn bolt7_extended_queries() {
    let cases: Vec<Value> =
        serde_json::from_str(include_str!("data/extended-queries.json")).unwrap();
    assert_eq!(cases.len(), 10);
    let (mut accepted, mut refused_zlib) = (0, 0);
    for case in &cases {
        let bytes = hex::decode(case["hex"].as_str().unwrap()).unwrap();
        let want = &case["msg"];
        let uses_zlib = case.to_string().contains("COMPRESSED_ZLIB");
        let decoded = Message::decode(&bytes);
        if uses_zlib {
            let e = decoded.unwrap_err();
            assert_eq!(e.cause(), &WireError::UnknownEncoding(1), "{want}");
            assert_eq!(e.reaction(), Reaction::Warn);
            refused_zlib += 1;
            continue;
        }
        let m = decoded.unwrap();
        assert_eq!(m.encode().unwrap(), bytes, "{want}");
        match (want["type"].as_str().unwrap(), &m) {
            ("QueryChannelRange", Message::QueryChannelRange(q)) => {
                assert_eq!(q.chain_hash.to_string(), chain(want));
                assert_eq!(u64::from(q.first_blocknum), want["firstBlockNum"]);
                assert_eq!(u64::from(q.number_of_blocks), want["numberOfBlocks"]);
                let records = want["tlvStream"]["records"].as_array().unwrap();
                let expect = records.first().map(|r| {
                    let s = r.as_str().unwrap();
                    u64::from(s.contains("WANT_TIMESTAMPS"))
                        | (u64::from(s.contains("WANT_CHECKSUMS")) << 1)
                });
                assert_eq!(q.query_option, expect);
                assert!(q.unknown_tlvs.is_empty());
            }
            ("ReplyChannelRange", Message::ReplyChannelRange(r)) => {
                assert_eq!(r.chain_hash.to_string(), chain(want));
                assert_eq!(u64::from(r.first_blocknum), want["firstBlockNum"]);
                assert_eq!(u64::from(r.number_of_blocks), want["numberOfBlocks"]);
                assert_eq!(u64::from(r.sync_complete), want["complete"]);
                assert_eq!(r.short_channel_ids, scids(&want["shortChannelIds"]).0);
                let ts = want
                    .get("timestamps")
                    .map(|t| pairs(&t["timestamps"], "timestamp1", "timestamp2"));
                assert_eq!(r.timestamps, ts);
                let cs = want
                    .get("checksums")
                    .map(|c| pairs(&c["checksums"], "checksum1", "checksum2"));
                assert_eq!(r.checksums, cs);
            }
            ("QueryShortChannelIds", Message::QueryShortChannelIds(q)) => {
                assert_eq!(q.chain_hash.to_string(), chain(want));
                assert_eq!(q.short_channel_ids, scids(&want["shortChannelIds"]).0);
                let flags = want["tlvStream"]["records"]
                    .as_array()
                    .unwrap()
                    .first()
                    .map(|r| {
                        r["array"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|f| f.as_u64().unwrap())
                            .collect::<Vec<_>>()
                    });
                assert_eq!(q.query_flags, flags);
            }
            (t, m) => panic!("vector type {t} decoded as {m:?}"),
        }
        accepted += 1;
    }
    assert_eq!((accepted, refused_zlib), (5, 5));
}
