#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Bad input at a forwarding node: each case maps to its exact BOLT 4
//! failure code.

mod common;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use common::*;
use fulmen_onion::failure::FailureCode;
use fulmen_onion::payload::frame;
use fulmen_onion::{
    build_onion, peel, peel_payment, FailureMessage, FramedHop, OnionPacket, PeelError,
    HOP_PAYLOADS_LEN,
};
use fulmen_types::PaymentHash;

const ONION_TEST: &str = include_str!("data/onion-test.json");

fn vector_packet() -> (OnionPacket, SecretKey, Vec<u8>) {
    let v = json(ONION_TEST);
    let packet = OnionPacket::from_bytes(&unhex(s(&v, "onion"))).unwrap();
    let node = sk(v["decode"][0].as_str().unwrap());
    let assoc = unhex(s(&v["generate"], "associated_data"));
    (packet, node, assoc)
}

fn code_of(e: &PeelError) -> FailureCode {
    e.failure_message().code()
}

#[test]
fn wrong_version_byte_is_invalid_onion_version() {
    let (mut packet, node, assoc) = vector_packet();
    packet.version = 1;
    let err = peel(&node, &packet, &assoc, None).unwrap_err();
    assert_eq!(code_of(&err), FailureCode::INVALID_ONION_VERSION);
    assert_eq!(err.failure_message().code().0, 0xc004);
    assert!(err.is_malformed());
    assert_eq!(err.sha256_of_onion(), packet.sha256());
    assert_eq!(
        err.failure_message().sha256_of_onion(),
        Some(packet.sha256())
    );
}

#[test]
fn bad_public_key_is_invalid_onion_key() {
    let (mut packet, node, assoc) = vector_packet();
    // 0x04 is not a compressed-point prefix.
    packet.public_key[0] = 0x04;
    let err = peel(&node, &packet, &assoc, None).unwrap_err();
    assert_eq!(code_of(&err), FailureCode::INVALID_ONION_KEY);
    // An x coordinate not on the curve.
    let (mut packet, ..) = vector_packet();
    packet.public_key = [0u8; 33];
    packet.public_key[0] = 0x02;
    let err = peel(&node, &packet, &assoc, None).unwrap_err();
    assert_eq!(code_of(&err), FailureCode::INVALID_ONION_KEY);
    assert_eq!(err.failure_message().code().0, 0xc006);
    assert_eq!(err.sha256_of_onion(), packet.sha256());
}

#[test]
fn bad_hmac_is_invalid_onion_hmac() {
    let (packet, node, assoc) = vector_packet();
    let mut p = packet.clone();
    p.hmac[0] ^= 1;
    let err = peel(&node, &p, &assoc, None).unwrap_err();
    assert_eq!(code_of(&err), FailureCode::INVALID_ONION_HMAC);
    assert_eq!(err.failure_message().code().0, 0xc005);
    // A tampered payload byte, wrong associated data and the wrong node key
    // all fail the HMAC too.
    let mut p = packet.clone();
    p.hop_payloads[700] ^= 0x80;
    assert_eq!(
        code_of(&peel(&node, &p, &assoc, None).unwrap_err()),
        FailureCode::INVALID_ONION_HMAC
    );
    assert_eq!(
        code_of(&peel(&node, &packet, b"other", None).unwrap_err()),
        FailureCode::INVALID_ONION_HMAC
    );
    let other = SecretKey::from_slice(&[7; 32]).unwrap();
    assert_eq!(
        code_of(&peel(&other, &packet, &assoc, None).unwrap_err()),
        FailureCode::INVALID_ONION_HMAC
    );
}

/// Builds a one-hop onion whose framed payload is `framed` verbatim.
fn one_hop(framed: &[u8], node: &SecretKey, assoc: &[u8]) -> OnionPacket {
    let secp = Secp256k1::new();
    let session = SecretKey::from_slice(&[0x55; 32]).unwrap();
    let hop = FramedHop {
        node_id: PublicKey::from_secret_key(&secp, node),
        framed_payload: framed,
    };
    build_onion(&session, &[hop], assoc).unwrap().packet
}

#[test]
fn payload_length_past_the_packet_is_invalid_onion_payload() {
    let node = SecretKey::from_slice(&[0x21; 32]).unwrap();
    let assoc = [0x42u8; 32];
    // Claims 1290 bytes of payload: 3 + 1290 + 32 > 1300.
    let mut framed = vec![0xfd, 0x05, 0x0a];
    framed.extend_from_slice(&[0x00; 20]);
    let packet = one_hop(&framed, &node, &assoc);
    let err = peel(&node, &packet, &assoc, None).unwrap_err();
    assert_eq!(code_of(&err), FailureCode::INVALID_ONION_PAYLOAD);
    assert_eq!(err.failure_message().code().0, 0x4016);
    assert!(!err.is_malformed(), "answered with an encrypted failure");
    assert_eq!(
        err.failure_message(),
        FailureMessage::InvalidOnionPayload {
            tlv_type: 0,
            offset: 0
        }
    );
    // Exactly at the limit is fine: 3 + 1265 + 32 == 1300.
    let payload = vec![0x01; HOP_PAYLOADS_LEN - 3 - 32];
    let framed = frame(&payload);
    assert_eq!(framed.len() + 32, HOP_PAYLOADS_LEN);
    let ok = peel(&node, &one_hop(&framed, &node, &assoc), &assoc, None).unwrap();
    assert_eq!(ok.payload, payload);
    // One more byte does not even build.
    let too_long = frame(&vec![0x01; HOP_PAYLOADS_LEN - 3 - 31]);
    let secp = Secp256k1::new();
    let hop = FramedHop {
        node_id: PublicKey::from_secret_key(&secp, &node),
        framed_payload: &too_long,
    };
    assert!(build_onion(&SecretKey::from_slice(&[9; 32]).unwrap(), &[hop], &assoc).is_err());
}

#[test]
fn reserved_and_malformed_lengths_are_invalid_onion_payload() {
    let node = SecretKey::from_slice(&[0x21; 32]).unwrap();
    let assoc = [0u8; 32];
    for framed in [
        vec![0x00],             // length 0: legacy format, unsupported
        vec![0x01, 0x02],       // length 1: reserved
        vec![0xfd, 0x00, 0x10], // non-minimal BigSize
    ] {
        let packet = one_hop(&framed, &node, &assoc);
        let err = peel(&node, &packet, &assoc, None).unwrap_err();
        assert_eq!(
            code_of(&err),
            FailureCode::INVALID_ONION_PAYLOAD,
            "{framed:02x?}"
        );
    }
}

#[test]
fn unknown_even_tlv_is_invalid_onion_payload_with_type_and_offset() {
    let node = SecretKey::from_slice(&[0x21; 32]).unwrap();
    let hash = PaymentHash([0x42; 32]);
    // amt_to_forward 1000, outgoing_cltv 500, then unknown even type 100.
    let payload = unhex("020203e8040201f4640100");
    let packet = one_hop(&frame(&payload), &node, hash.as_bytes());
    let err = peel_payment(&node, &packet, &hash, None).unwrap_err();
    assert_eq!(code_of(&err), FailureCode::INVALID_ONION_PAYLOAD);
    assert_eq!(
        err.failure_message(),
        FailureMessage::InvalidOnionPayload {
            tlv_type: 100,
            offset: 8
        }
    );
    // The same with an unknown odd type is accepted and kept.
    let payload = unhex("020203e8040201f4650100");
    let packet = one_hop(&frame(&payload), &node, hash.as_bytes());
    let (_, typed) = peel_payment(&node, &packet, &hash, None).unwrap();
    assert_eq!(typed.custom.len(), 1);
    assert_eq!(typed.custom[0].ty, 101);
}

#[test]
fn tlv_value_running_past_the_payload_is_invalid_onion_payload() {
    let node = SecretKey::from_slice(&[0x21; 32]).unwrap();
    let hash = PaymentHash([0x42; 32]);
    // amt_to_forward claims 9 bytes but 2 remain.
    let payload = unhex("020903e8");
    let packet = one_hop(&frame(&payload), &node, hash.as_bytes());
    let err = peel_payment(&node, &packet, &hash, None).unwrap_err();
    assert_eq!(
        err.failure_message(),
        FailureMessage::InvalidOnionPayload {
            tlv_type: 2,
            offset: 0
        }
    );
}

#[test]
fn blinded_errors_become_invalid_onion_blinding() {
    let (mut packet, node, assoc) = vector_packet();
    packet.hmac[3] ^= 1;
    let path_key = PublicKey::from_secret_key(&Secp256k1::new(), &sk(&"11".repeat(32)));
    let err = peel(&node, &packet, &assoc, Some(&path_key)).unwrap_err();
    let msg = err.blinded_failure_message();
    assert_eq!(msg.code(), FailureCode::INVALID_ONION_BLINDING);
    assert_eq!(msg.code().0, 0xc018);
    assert_eq!(msg.sha256_of_onion(), Some(packet.sha256()));
}
