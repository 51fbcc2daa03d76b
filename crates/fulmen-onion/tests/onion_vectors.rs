#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! BOLT 4 `onion-test.json`: construction of the 5-hop onion, byte-exact.

mod common;

use common::*;
use fulmen_onion::{build_onion, FramedHop, OnionPacket};

const ONION_TEST: &str = include_str!("data/onion-test.json");

#[test]
fn onion_test_json_construction_is_byte_exact() {
    let v = json(ONION_TEST);
    let gen = &v["generate"];
    let session = sk(s(gen, "session_key"));
    let assoc = unhex(s(gen, "associated_data"));
    let payloads: Vec<Vec<u8>> = gen["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| unhex(s(h, "payload")))
        .collect();
    let hops: Vec<FramedHop<'_>> = gen["hops"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&payloads)
        .map(|(h, p)| FramedHop {
            node_id: pk(s(h, "pubkey")),
            framed_payload: p,
        })
        .collect();
    let built = build_onion(&session, &hops, &assoc).unwrap();
    assert_eq!(hex::encode(built.packet.to_bytes()), s(&v, "onion"));
    assert_eq!(built.shared_secrets.len(), 5);
    let parsed = OnionPacket::from_bytes(&unhex(s(&v, "onion"))).unwrap();
    assert_eq!(parsed, built.packet);
}

#[test]
fn onion_test_json_every_hop_peels() {
    use fulmen_onion::{peel, NextHop, SharedSecret};
    let v = json(ONION_TEST);
    let gen = &v["generate"];
    let assoc = unhex(s(gen, "associated_data"));
    let hops = gen["hops"].as_array().unwrap();
    let keys = v["decode"].as_array().unwrap();
    // The shared secrets of this route, as onion-error-test.json lists them.
    let err = json(include_str!("data/onion-error-test.json"));
    let err_hops = err["generate"]["hops"].as_array().unwrap();

    let mut packet = OnionPacket::from_bytes(&unhex(s(&v, "onion"))).unwrap();
    for (i, (hop, key)) in hops.iter().zip(keys).enumerate() {
        let node = sk(key.as_str().unwrap());
        let peeled = peel(&node, &packet, &assoc, None).unwrap();
        // The framed payload is bigsize(len) || payload.
        let framed = unhex(s(hop, "payload"));
        assert_eq!(
            fulmen_onion::payload::frame(&peeled.payload),
            framed,
            "hop {i}"
        );
        assert_eq!(
            peeled.shared_secret,
            SharedSecret(h32(s(&err_hops[i], "hop_shared_secret")))
        );
        // Typed decode round-trips byte for byte (custom odd records kept).
        let typed = fulmen_onion::HopPayload::decode(&peeled.payload).unwrap();
        assert_eq!(typed.encode(), peeled.payload, "hop {i}");
        match peeled.next {
            NextHop::Forward(next) => {
                assert!(i < 4, "hop {i} should be final");
                // The next packet is again a full 1366-byte packet.
                assert_eq!(next.to_bytes().len(), fulmen_onion::PACKET_LEN);
                packet = *next;
            }
            NextHop::Final => assert_eq!(i, 4),
        }
    }
}
