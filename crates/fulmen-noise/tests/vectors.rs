//! BOLT 8 Appendix A test vectors, read from `tests/data/bolt08_vectors.json`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Tag};
use fulmen_noise::{
    Act, Error, InitiatorHandshake, MacStage, MessageDecoder, ResponderHandshake, Transport,
    LENGTH_HEADER_LEN,
};
use serde_json::Value;

const VECTORS: &str = include_str!("data/bolt08_vectors.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("vector file is valid JSON")
}

fn bytes(v: &Value, field: &str) -> Vec<u8> {
    let s = v[field]
        .as_str()
        .unwrap_or_else(|| panic!("missing string field {field} in {v}"));
    hex::decode(s).unwrap()
}

fn secret(v: &Value, field: &str) -> SecretKey {
    SecretKey::from_slice(&bytes(v, field)).unwrap()
}

fn public(v: &Value, field: &str) -> PublicKey {
    PublicKey::from_slice(&bytes(v, field)).unwrap()
}

fn key32(v: &Value, field: &str) -> [u8; 32] {
    bytes(v, field).try_into().unwrap()
}

fn nonce(n: u64) -> chacha20poly1305::Nonce {
    let mut out = [0u8; 12];
    out[4..].copy_from_slice(&n.to_le_bytes());
    out.into()
}

/// Asserts that the session encrypts with `sk` and decrypts with `rk`, both at
/// nonce 0, using an independent ChaCha20-Poly1305 instance.
fn assert_session_keys(transport: &mut Transport, sk: &[u8; 32], rk: &[u8; 32]) {
    let wire = transport.encrypt(b"x").unwrap();
    let mut len = [wire[0], wire[1]];
    ChaCha20Poly1305::new(Key::from_slice(sk))
        .decrypt_in_place_detached(&nonce(0), &[], &mut len, Tag::from_slice(&wire[2..18]))
        .expect("session encrypts with sk");
    assert_eq!(len, [0, 1]);

    let mut header = [0u8; LENGTH_HEADER_LEN];
    header[..2].copy_from_slice(&7u16.to_be_bytes());
    let (len, tag) = header.split_at_mut(2);
    let t = ChaCha20Poly1305::new(Key::from_slice(rk))
        .encrypt_in_place_detached(&nonce(0), &[], len)
        .unwrap();
    tag.copy_from_slice(&t);
    assert_eq!(
        transport.decrypt_length(&header),
        Ok(7),
        "session decrypts with rk"
    );
}

/// Checks `err` against one of the spec's error codes.
fn assert_error(code: &str, err: Error, name: &str) {
    let mut parts = code.split(' ');
    let code = parts.next().unwrap();
    let version: Option<u8> = parts.next().map(|v| v.parse().unwrap());
    let (act, kind) = code.split_once('_').unwrap();
    let act = match act {
        "ACT1" => Act::One,
        "ACT2" => Act::Two,
        "ACT3" => Act::Three,
        other => panic!("{name}: unknown act {other}"),
    };
    let ok = match kind {
        "READ_FAILED" => {
            matches!(err, Error::BadActLength { act: a, expected, actual }
                if a == act && actual != expected)
        }
        "BAD_VERSION" => {
            matches!(err, Error::BadVersion { act: a, version: v }
                if a == act && v != 0 && version.is_none_or(|want| want == v))
        }
        "BAD_PUBKEY" => err == Error::BadPublicKey { act },
        "BAD_TAG" => {
            let stage = match act {
                Act::One => MacStage::ActOne,
                Act::Two => MacStage::ActTwo,
                Act::Three => MacStage::ActThreeTag,
            };
            err == Error::BadMac(stage)
        }
        "BAD_CIPHERTEXT" => err == Error::BadMac(MacStage::ActThreeStaticKey),
        other => panic!("{name}: unknown error kind {other}"),
    };
    assert!(ok, "{name}: expected {code}, got {err:?}");
    assert!(err.requires_disconnect());
}

#[test]
fn key_derivations_match_vectors() {
    let v = vectors();
    let secp = Secp256k1::new();
    for t in v["initiator"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["responder"].as_array().unwrap())
    {
        for (sec, publ) in [("ls_priv", "ls_pub"), ("e_priv", "e_pub")] {
            assert_eq!(
                PublicKey::from_secret_key(&secp, &secret(t, sec)),
                public(t, publ),
                "{}",
                t["name"]
            );
        }
    }
}

#[test]
fn initiator_vectors() {
    let v = vectors();
    let cases = v["initiator"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for t in cases {
        let name = t["name"].as_str().unwrap();
        let (handshake, act_one) = InitiatorHandshake::new(
            secret(t, "ls_priv"),
            public(t, "rs_pub"),
            secret(t, "e_priv"),
        );
        assert_eq!(act_one.to_vec(), bytes(t, "act_one"), "{name}: act one");
        assert_eq!(handshake.remote_static(), &public(t, "rs_pub"));
        let expect = &t["expect"];
        match handshake.process_act_two(&bytes(t, "act_two")) {
            Ok((act_three, mut transport)) => {
                assert!(expect["error"].is_null(), "{name}: unexpected success");
                assert_eq!(
                    act_three.to_vec(),
                    bytes(expect, "act_three"),
                    "{name}: act three"
                );
                assert_eq!(transport.remote_static(), &public(t, "rs_pub"));
                assert_session_keys(&mut transport, &key32(expect, "sk"), &key32(expect, "rk"));
            }
            Err(err) => assert_error(expect["error"].as_str().unwrap(), err, name),
        }
    }
}

#[test]
fn responder_vectors() {
    let v = vectors();
    let cases = v["responder"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    for t in cases {
        let name = t["name"].as_str().unwrap();
        let expect = &t["expect"];
        let handshake = ResponderHandshake::new(secret(t, "ls_priv"), secret(t, "e_priv"));
        let (handshake, act_two) = match handshake.process_act_one(&bytes(t, "act_one")) {
            Ok(ok) => ok,
            Err(err) => {
                assert!(t["act_two"].is_null(), "{name}: act one should succeed");
                assert_error(expect["error"].as_str().unwrap(), err, name);
                continue;
            }
        };
        assert_eq!(act_two.to_vec(), bytes(t, "act_two"), "{name}: act two");
        match handshake.process_act_three(&bytes(t, "act_three")) {
            Ok((remote_static, mut transport)) => {
                assert!(expect["error"].is_null(), "{name}: unexpected success");
                assert_eq!(remote_static, public(expect, "rs"));
                assert_eq!(transport.remote_static(), &remote_static);
                assert_session_keys(&mut transport, &key32(expect, "sk"), &key32(expect, "rk"));
            }
            Err(err) => assert_error(expect["error"].as_str().unwrap(), err, name),
        }
    }
}

/// Runs the successful vector handshake and returns (initiator, responder).
fn vector_session(v: &Value) -> (Transport, Transport) {
    let i = &v["initiator"][0];
    let r = &v["responder"][0];
    let (initiator, act_one) = InitiatorHandshake::new(
        secret(i, "ls_priv"),
        public(i, "rs_pub"),
        secret(i, "e_priv"),
    );
    let (responder, act_two) = ResponderHandshake::new(secret(r, "ls_priv"), secret(r, "e_priv"))
        .process_act_one(&act_one)
        .unwrap();
    let (act_three, initiator) = initiator.process_act_two(&act_two).unwrap();
    let (_, responder) = responder.process_act_three(&act_three).unwrap();
    (initiator, responder)
}

#[test]
fn message_vectors() {
    let v = vectors();
    let m = &v["messages"];
    // The vector session's final keys are the ones the message test starts from.
    assert_eq!(m["sk"], v["initiator"][0]["expect"]["sk"]);
    assert_eq!(m["rk"], v["initiator"][0]["expect"]["rk"]);
    assert_eq!(m["ck"], v["initiator"][0]["expect"]["ck"]);

    let (mut initiator, responder) = vector_session(&v);
    let (_, receiver) = responder.split();
    let mut decoder = MessageDecoder::new(receiver);
    let message = bytes(m, "message");
    let outputs = m["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 6);
    let last = outputs
        .iter()
        .map(|o| o["index"].as_u64().unwrap())
        .max()
        .unwrap();

    let mut checked = 0;
    for i in 0..=last {
        let wire = initiator.encrypt(&message).unwrap();
        if let Some(o) = outputs.iter().find(|o| o["index"].as_u64() == Some(i)) {
            assert_eq!(wire, bytes(o, "wire"), "output {i}");
            checked += 1;
        }
        // The responder decrypts every message, delivered in uneven chunks.
        for chunk in wire.chunks(1 + (i as usize % 23)) {
            decoder.feed(chunk);
        }
        assert_eq!(
            decoder.next_message().unwrap().as_deref(),
            Some(&message[..])
        );
        assert_eq!(decoder.next_message().unwrap(), None);
    }
    assert_eq!(checked, outputs.len());
}

#[test]
fn message_vectors_streaming_decrypt() {
    let v = vectors();
    let m = &v["messages"];
    let outputs = m["outputs"].as_array().unwrap();
    let message = bytes(m, "message");
    // Only six outputs are published; a second, identical initiator session
    // produces the stream in between, and the published bytes are used where
    // they exist.
    let (mut sender, mut responder) = vector_session(&v);
    for i in 0..=1001u64 {
        let mut wire = sender.encrypt(&message).unwrap();
        if let Some(o) = outputs.iter().find(|o| o["index"].as_u64() == Some(i)) {
            let published = bytes(o, "wire");
            assert_eq!(wire, published, "output {i}");
            wire = published;
        }
        let (header, body) = wire.split_at_mut(LENGTH_HEADER_LEN);
        let len = responder
            .decrypt_length((&*header).try_into().unwrap())
            .unwrap();
        assert_eq!(usize::from(len), message.len());
        assert_eq!(responder.decrypt_body_in_place(body).unwrap(), &message[..]);
    }
}
