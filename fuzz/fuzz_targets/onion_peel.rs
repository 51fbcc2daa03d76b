#![no_main]
//! Peeling must never panic on any input, and whatever peels must be
//! consistent.
//!
//! - The first 1366 bytes are an arbitrary packet peeled with a fixed node
//!   key (with and without a `path_key`): almost always a BADONION failure,
//!   but the version, key and HMAC checks all see hostile bytes.
//! - The same bytes are also wrapped in a *valid* one-hop onion as the
//!   framed hop payload, so the length-prefix parsing and the payload
//!   decoding behind the HMAC check see arbitrary plaintext.
//! - The rest is decoded as a hop payload and as an `encrypted_data_tlv`;
//!   what decodes must re-encode to the same bytes.
use fulmen_onion::blinded_data::EncryptedData;
use fulmen_onion::{
    build_onion, peel, FramedHop, HopPayload, NextHop, OnionPacket, SecretKey, HOP_PAYLOADS_LEN,
    PACKET_LEN,
};
use libfuzzer_sys::fuzz_target;

fn node_key() -> SecretKey {
    SecretKey::from_slice(&[0x41; 32]).expect("valid key")
}

fuzz_target!(|data: &[u8]| {
    let node = node_key();
    let assoc = [0x42u8; 32];

    // 1. Arbitrary packet.
    if let Some(raw) = data.get(..PACKET_LEN) {
        if let Ok(packet) = OnionPacket::from_bytes(raw) {
            match peel(&node, &packet, &assoc, None) {
                Ok(p) => {
                    assert!(p.payload.len() >= 2);
                    if let NextHop::Forward(next) = p.next {
                        assert_eq!(next.version, 0);
                    }
                }
                Err(e) => {
                    let _ = e.failure_message().encode();
                    assert_eq!(e.sha256_of_onion(), packet.sha256());
                }
            }
            let pk = fulmen_onion::keys::public_key(&node);
            let _ = peel(&node, &packet, &assoc, Some(&pk));
        }
    }

    // 2. Arbitrary plaintext behind a valid HMAC.
    let framed = &data[..data.len().min(HOP_PAYLOADS_LEN - 32)];
    if !framed.is_empty() {
        let hop = FramedHop {
            node_id: fulmen_onion::keys::public_key(&node),
            framed_payload: framed,
        };
        let session = SecretKey::from_slice(&[0x07; 32]).expect("valid key");
        if let Ok(built) = build_onion(&session, &[hop], &assoc) {
            match peel(&node, &built.packet, &assoc, None) {
                Ok(p) => {
                    // When the claimed length fits in the input, the
                    // payload is exactly the input's bytes.
                    let reframed = fulmen_onion::payload::frame(&p.payload);
                    if reframed.len() <= framed.len() {
                        assert!(framed.starts_with(&reframed));
                    }
                    if let Ok(hp) = HopPayload::decode(&p.payload) {
                        let _ = hp.classify(p.next == NextHop::Final, false);
                    }
                }
                Err(e) => assert!(!e.is_malformed(), "valid HMAC, so only payload errors"),
            }
        }
    }

    // 3. TLV decoders on the rest.
    let rest = data.get(PACKET_LEN..).unwrap_or(data);
    if let Ok(p) = HopPayload::decode(rest) {
        assert_eq!(p.encode(), rest);
        let _ = p.classify(true, false);
        let _ = p.classify(false, true);
    }
    if let Ok(d) = EncryptedData::decode(rest) {
        let _ = d.encode();
    }
});
