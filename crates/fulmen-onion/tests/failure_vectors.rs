#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! BOLT 4 failure vectors: `onion-error-test.json` and the "Returning Errors"
//! trace of the specification text (creation, every wrapping step, and
//! attribution at the origin).

mod common;

use common::*;
use fulmen_onion::failure::{
    create_failure_packet, decrypt_failure, failure_plaintext, wrap_failure_packet,
    DecryptFailureError, DEFAULT_PAD_TARGET,
};
use fulmen_onion::keys::stream;
use fulmen_onion::{route_secrets, KeyType, SharedSecret};

const ERROR_TEST: &str = include_str!("data/onion-error-test.json");
const SPEC_TRACE: &str = include_str!("data/onion-error-spec-trace.json");

#[test]
fn onion_error_test_json() {
    let v = json(ERROR_TEST);
    let gen = &v["generate"];
    let hops = gen["hops"].as_array().unwrap();
    let session = sk(s(gen, "session_key"));
    let pubkeys: Vec<_> = hops.iter().map(|h| pk(s(h, "pubkey"))).collect();

    // The origin derives the same shared secrets from the session key.
    let secrets: Vec<SharedSecret> = route_secrets(&session, &pubkeys)
        .unwrap()
        .into_iter()
        .map(|(_, ss)| ss)
        .collect();
    for (h, ss) in hops.iter().zip(&secrets) {
        assert_eq!(hex::encode(ss.0), s(h, "hop_shared_secret"));
        assert_eq!(hex::encode(ss.key(KeyType::Ammag)), s(h, "ammag_key"));
    }

    // hops[4] fails with temporary_node_failure (0x2002).
    let failing = &hops[4];
    let ss4 = SharedSecret(h32(s(failing, "hop_shared_secret")));
    assert_eq!(hex::encode(ss4.key(KeyType::Um)), s(failing, "um_key"));
    let msg = unhex(s(gen, "failure_message"));
    let plain = failure_plaintext(&ss4, &msg, DEFAULT_PAD_TARGET).unwrap();
    // "payload" omits the HMAC.
    assert_eq!(hex::encode(&plain[32..]), s(failing, "payload"));

    let mut packet = create_failure_packet(&ss4, &msg, DEFAULT_PAD_TARGET).unwrap();
    for h in hops[..4].iter().rev() {
        wrap_failure_packet(&SharedSecret(h32(s(h, "hop_shared_secret"))), &mut packet);
    }
    assert_eq!(hex::encode(&packet), s(&v, "errorpacket"));

    let got = decrypt_failure(&secrets, &packet).unwrap();
    assert_eq!(got.hop_index, 4);
    assert_eq!(got.message, msg);

    // With only the first three secrets nobody matches.
    assert_eq!(
        decrypt_failure(&secrets[..3], &packet),
        Err(DecryptFailureError::Unattributable)
    );
    // A flipped bit anywhere makes it unattributable.
    let mut bad = packet.clone();
    bad[100] ^= 1;
    assert_eq!(
        decrypt_failure(&secrets, &bad),
        Err(DecryptFailureError::Unattributable)
    );
}

#[test]
fn spec_text_trace_every_step() {
    let v = json(SPEC_TRACE);
    let create = &v["create"];
    let ss4 = SharedSecret(h32(s(create, "shared_secret")));
    assert_eq!(hex::encode(ss4.key(KeyType::Um)), s(create, "um_key"));

    let msg = unhex(s(&v, "failure_message"));
    let pad_target = v["pad_target"].as_u64().unwrap() as usize;
    let plain = failure_plaintext(&ss4, &msg, pad_target).unwrap();
    assert_eq!(hex::encode(&plain[32..]), s(create, "payload"));
    assert_eq!(hex::encode(&plain), s(create, "raw_error_packet"));

    let mut packet = plain;
    for step in v["forward"].as_array().unwrap() {
        let ss = SharedSecret(h32(s(step, "shared_secret")));
        assert_eq!(hex::encode(ss.key(KeyType::Ammag)), s(step, "ammag_key"));
        assert_eq!(
            hex::encode(stream(&ss.key(KeyType::Ammag), packet.len())),
            s(step, "stream")
        );
        wrap_failure_packet(&ss, &mut packet);
        assert_eq!(
            hex::encode(&packet),
            s(step, "error_packet"),
            "node {}",
            step["node"]
        );
    }

    // The origin, from the session key and the route alone.
    let session = sk(s(&v, "session_key"));
    let pubkeys: Vec<_> = v["pubkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| pk(p.as_str().unwrap()))
        .collect();
    let secrets: Vec<SharedSecret> = route_secrets(&session, &pubkeys)
        .unwrap()
        .into_iter()
        .map(|(_, ss)| ss)
        .collect();
    let got = decrypt_failure(&secrets, &packet).unwrap();
    assert_eq!(got.hop_index, 4);
    assert_eq!(got.message, msg);
}

/// End to end: a 6-hop onion is peeled up to hop `k`, which fails; every hop
/// before it wraps the packet with the secret it got from peeling; the origin
/// attributes the failure to hop `k` and decodes the message.
#[test]
fn failure_from_any_hop_is_attributed() {
    use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
    use fulmen_onion::failure::FailureMessage;
    use fulmen_onion::{build_onion, peel, FramedHop, NextHop};

    let secp = Secp256k1::new();
    let keys: Vec<SecretKey> = (1..=6u8)
        .map(|i| SecretKey::from_slice(&[i; 32]).unwrap())
        .collect();
    let payloads: Vec<Vec<u8>> = (0..6u8)
        .map(|i| fulmen_onion::payload::frame(&[i; 20]))
        .collect();
    let hops: Vec<FramedHop<'_>> = keys
        .iter()
        .zip(&payloads)
        .map(|(k, p)| FramedHop {
            node_id: PublicKey::from_secret_key(&secp, k),
            framed_payload: p,
        })
        .collect();
    let assoc = [7u8; 32];
    let built = build_onion(&SecretKey::from_slice(&[0x77; 32]).unwrap(), &hops, &assoc).unwrap();
    for k in 0..6 {
        let mut packet = built.packet.clone();
        let mut secrets = Vec::new();
        for key in &keys[..=k] {
            let peeled = peel(key, &packet, &assoc, None).unwrap();
            secrets.push(peeled.shared_secret);
            if let NextHop::Forward(next) = peeled.next {
                packet = *next;
            }
        }
        let msg = FailureMessage::FeeInsufficient {
            htlc_msat: 1000 + k as u64,
            channel_update: vec![],
        };
        let mut reason =
            create_failure_packet(&secrets[k], &msg.encode().unwrap(), DEFAULT_PAD_TARGET).unwrap();
        for ss in secrets[..k].iter().rev() {
            wrap_failure_packet(ss, &mut reason);
        }
        let got = decrypt_failure(&built.shared_secrets, &reason).unwrap();
        assert_eq!(got.hop_index, k);
        assert_eq!(FailureMessage::decode(&got.message).unwrap(), msg);
        // Truncated packets are refused, not misread.
        assert!(decrypt_failure(&built.shared_secrets, &reason[..20]).is_err());
    }
}
