//! Property tests: handshakes between random keys, random messages over
//! chunked delivery, and arbitrary peer bytes never panicking.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use fulmen_noise::{
    Error, InitiatorHandshake, MacStage, MessageDecoder, ResponderHandshake, Transport,
    ACT_ONE_LEN, ACT_THREE_LEN, ACT_TWO_LEN, LENGTH_HEADER_LEN, MAC_LEN, MAX_MESSAGE_LEN,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn secret_key() -> impl Strategy<Value = SecretKey> {
    any::<[u8; 32]>().prop_filter_map("valid scalar", |b| SecretKey::from_slice(&b).ok())
}

/// Four distinct-purpose keys: initiator static, responder static, initiator
/// ephemeral, responder ephemeral.
fn keys() -> impl Strategy<Value = [SecretKey; 4]> {
    [secret_key(), secret_key(), secret_key(), secret_key()]
}

fn handshake(k: &[SecretKey; 4]) -> (Transport, Transport) {
    let secp = Secp256k1::new();
    let responder_id = PublicKey::from_secret_key(&secp, &k[1]);
    let (initiator, act_one) = InitiatorHandshake::new(k[0], responder_id, k[2]);
    let (responder, act_two) = ResponderHandshake::new(k[1], k[3])
        .process_act_one(&act_one)
        .unwrap();
    let (act_three, initiator) = initiator.process_act_two(&act_two).unwrap();
    let (initiator_id, responder) = responder.process_act_three(&act_three).unwrap();
    assert_eq!(initiator_id, PublicKey::from_secret_key(&secp, &k[0]));
    assert_eq!(initiator.remote_static(), &responder_id);
    (initiator, responder)
}

/// Splits `wire` at the given cut points (taken modulo the remaining length).
fn chunks<'a>(wire: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = wire;
    for &cut in cuts {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at(cut % (rest.len() + 1));
        out.push(a);
        rest = b;
    }
    out.push(rest);
    out
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => vec(any::<u8>(), 0..300),
        1 => vec(any::<u8>(), 0..=4096),
        1 => (0usize..4).prop_map(|d| vec![0xa5; MAX_MESSAGE_LEN - d]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn messages_round_trip(
        k in keys(),
        msgs in vec(message(), 1..24),
        cuts in vec(0usize..70_000, 0..64),
    ) {
        let (initiator, responder) = handshake(&k);
        let (mut i_enc, i_dec) = initiator.split();
        let (mut r_enc, r_dec) = responder.split();

        // Initiator -> responder: the whole stream delivered in random chunks.
        let mut wire = Vec::new();
        for m in &msgs {
            i_enc.encrypt_into(m, &mut wire).unwrap();
        }
        let mut decoder = MessageDecoder::new(r_dec);
        let mut got = Vec::new();
        for chunk in chunks(&wire, &cuts) {
            decoder.feed(chunk);
            while let Some(m) = decoder.next_message().unwrap() {
                got.push(m);
            }
        }
        prop_assert_eq!(&got, &msgs);
        prop_assert_eq!(decoder.buffered_len(), 0);

        // Responder -> initiator: the streaming two-step API.
        let mut i_dec = i_dec;
        for m in &msgs {
            let mut wire = r_enc.encrypt(m).unwrap();
            let (header, body) = wire.split_at_mut(LENGTH_HEADER_LEN);
            let len = i_dec.decrypt_length((&*header).try_into().unwrap()).unwrap();
            prop_assert_eq!(usize::from(len), m.len());
            prop_assert_eq!(&*i_dec.decrypt_body_in_place(body).unwrap(), &m[..]);
        }
    }

    #[test]
    fn many_small_messages_cross_rotations(k in keys(), n in 495usize..1_010) {
        let (mut initiator, responder) = handshake(&k);
        let (_, dec) = responder.split();
        let mut decoder = MessageDecoder::new(dec);
        for i in 0..n {
            let m = (i as u32).to_be_bytes();
            decoder.feed(&initiator.encrypt(&m).unwrap());
            prop_assert_eq!(decoder.decode_next().unwrap(), Some(&m[..]));
        }
    }

    #[test]
    fn arbitrary_acts_never_panic(
        k in keys(),
        act_one in vec(any::<u8>(), 0..=ACT_ONE_LEN + 2),
        act_two in vec(any::<u8>(), 0..=ACT_TWO_LEN + 2),
        act_three in vec(any::<u8>(), 0..=ACT_THREE_LEN + 2),
        version_zero in any::<bool>(),
    ) {
        let secp = Secp256k1::new();
        let mut act_one = act_one;
        let mut act_two = act_two;
        let mut act_three = act_three;
        if version_zero {
            for act in [&mut act_one, &mut act_two, &mut act_three] {
                if let Some(v) = act.first_mut() {
                    *v = 0;
                }
            }
        }
        let responder = ResponderHandshake::new(k[1], k[3]);
        if let Ok((responder, _)) = responder.process_act_one(&act_one) {
            let _ = responder.process_act_three(&act_three);
        }
        let (initiator, act_one) =
            InitiatorHandshake::new(k[0], PublicKey::from_secret_key(&secp, &k[1]), k[2]);
        let _ = initiator.process_act_two(&act_two);

        // A genuine act one followed by an arbitrary act three.
        let (responder, _) = ResponderHandshake::new(k[1], k[3])
            .process_act_one(&act_one)
            .unwrap();
        let err = responder.process_act_three(&act_three).unwrap_err();
        prop_assert!(err.requires_disconnect());
    }

    #[test]
    fn arbitrary_ciphertext_never_panics(
        k in keys(),
        garbage in vec(any::<u8>(), 0..2_000),
        cuts in vec(0usize..2_000, 0..16),
    ) {
        let (_, responder) = handshake(&k);
        let (_, mut dec) = responder.split();

        if let Some(header) = garbage.first_chunk::<LENGTH_HEADER_LEN>() {
            prop_assert_eq!(
                dec.decrypt_length(header),
                Err(Error::BadMac(MacStage::LengthHeader))
            );
        }
        let mut body = garbage.clone();
        prop_assert!(dec.decrypt_body_in_place(&mut body).is_err());
        match garbage.len().checked_sub(MAC_LEN) {
            // A MAC failure zeroes the ciphertext and keeps the tag.
            Some(ct_len) => {
                prop_assert!(body[..ct_len].iter().all(|b| *b == 0), "no unauthenticated plaintext");
                prop_assert_eq!(&body[ct_len..], &garbage[ct_len..]);
            }
            None => prop_assert_eq!(&body, &garbage, "truncated body left untouched"),
        }

        let mut decoder = MessageDecoder::new(dec);
        let mut failed = false;
        for chunk in chunks(&garbage, &cuts) {
            decoder.feed(chunk);
            match decoder.next_message() {
                Ok(None) => {}
                Ok(Some(_)) => prop_assert!(false, "garbage authenticated"),
                Err(e) => {
                    prop_assert!(e.requires_disconnect());
                    failed = true;
                }
            }
        }
        prop_assert_eq!(failed, garbage.len() >= LENGTH_HEADER_LEN);
        // Nothing beyond what was fed is ever held.
        prop_assert!(decoder.buffered_len() <= garbage.len());
    }
}
