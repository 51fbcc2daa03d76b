#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Hop payloads: typed round trips (proptest), the BOLT 4 reader rules, and
//! a typed 27-hop onion through which every hop peels its own payload.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use fulmen_onion::payload::{HopPayload, PaymentData, TLV_KEYSEND_PREIMAGE};
use fulmen_onion::{
    build_payment_onion, peel_payment, BuildError, HopAction, NextHop, PayloadError, MAX_HOPS,
};
use fulmen_types::{Msat, PaymentHash, PaymentPreimage, PaymentSecret, ShortChannelId};
use fulmen_wire::tlv::RawTlv;
use proptest::prelude::*;

fn key(i: u8) -> SecretKey {
    SecretKey::from_slice(&[i.max(1); 32]).unwrap()
}

fn pubkey(i: u8) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), &key(i))
}

prop_compose! {
    fn arb_payload()(
        amt in proptest::option::of(any::<u64>()),
        cltv in proptest::option::of(any::<u32>()),
        scid in proptest::option::of(any::<u64>()),
        pd in proptest::option::of((any::<[u8; 32]>(), any::<u64>())),
        erd in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..50)),
        cpk in proptest::option::of(1u8..=200),
        meta in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..50)),
        total in proptest::option::of(any::<u64>()),
        keysend in proptest::option::of(any::<[u8; 32]>()),
        custom in proptest::collection::btree_map(
            (32_768u64..1_000_000).prop_map(|t| t | 1),
            proptest::collection::vec(any::<u8>(), 0..20),
            0..4,
        ),
    ) -> HopPayload {
        HopPayload {
            amt_to_forward: amt.map(Msat),
            outgoing_cltv_value: cltv,
            short_channel_id: scid.map(ShortChannelId),
            payment_data: pd.map(|(s, t)| PaymentData { payment_secret: PaymentSecret(s), total_msat: Msat(t) }),
            encrypted_recipient_data: erd,
            current_path_key: cpk.map(pubkey),
            payment_metadata: meta,
            total_amount_msat: total.map(Msat),
            keysend_preimage: keysend.map(PaymentPreimage),
            custom: custom.into_iter().map(|(ty, value)| RawTlv { ty, value }).collect(),
        }
    }
}

proptest! {
    #[test]
    fn typed_payload_round_trips(p in arb_payload()) {
        let enc = p.encode();
        prop_assert_eq!(HopPayload::decode(&enc).unwrap(), p);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(p) = HopPayload::decode(&bytes) {
            // Whatever decodes re-encodes to the same bytes (canonical form).
            prop_assert_eq!(p.encode(), bytes);
        }
    }
}

#[test]
fn keysend_record_is_typed() {
    let p = HopPayload {
        amt_to_forward: Some(Msat(1000)),
        outgoing_cltv_value: Some(100),
        keysend_preimage: Some(PaymentPreimage([7; 32])),
        ..HopPayload::default()
    };
    let enc = p.encode();
    // type 5482373484 = 0x1_46c6_616c needs the 9-byte BigSize; length 32.
    let ty = fulmen_wire::bigsize::encode(TLV_KEYSEND_PREIMAGE);
    assert_eq!(ty, vec![0xff, 0, 0, 0, 0x01, 0x46, 0xc6, 0x61, 0x6c]);
    assert!(enc.windows(10).any(|w| w[..9] == ty[..] && w[9] == 32));
    assert_eq!(HopPayload::decode(&enc).unwrap(), p);
}

#[test]
fn reader_rules() {
    let fwd = HopPayload {
        amt_to_forward: Some(Msat(1000)),
        outgoing_cltv_value: Some(500),
        short_channel_id: Some(ShortChannelId(42)),
        ..HopPayload::default()
    };
    assert!(matches!(
        fwd.classify(false, false),
        Ok(HopAction::Forward { .. })
    ));
    // A final hop must not have a short_channel_id.
    assert_eq!(
        fwd.classify(true, false),
        Err(PayloadError::Unexpected {
            tlv_type: 6,
            offset: 0
        })
    );
    // A forward without scid, a hop without amount.
    let mut no_scid = fwd.clone();
    no_scid.short_channel_id = None;
    assert_eq!(
        no_scid.classify(false, false),
        Err(PayloadError::Missing { tlv_type: 6 })
    );
    let mut no_amt = fwd.clone();
    no_amt.amt_to_forward = None;
    assert_eq!(
        no_amt.classify(false, false),
        Err(PayloadError::Missing { tlv_type: 2 })
    );
    // payment_data only at the final hop.
    let mut recv = no_scid.clone();
    recv.payment_data = Some(PaymentData {
        payment_secret: PaymentSecret([1; 32]),
        total_msat: Msat(1000),
    });
    assert!(matches!(
        recv.classify(true, false),
        Ok(HopAction::Receive {
            payment_data: Some(_),
            ..
        })
    ));
    let mut bad = fwd.clone();
    bad.payment_data = recv.payment_data;
    assert_eq!(
        bad.classify(false, false),
        Err(PayloadError::Unexpected {
            tlv_type: 8,
            offset: 0
        })
    );
    // A path_key in update_add_htlc without encrypted data.
    assert_eq!(
        fwd.classify(false, true),
        Err(PayloadError::Missing { tlv_type: 10 })
    );
    // Blinded non-final: only encrypted data and current_path_key.
    let blinded = HopPayload {
        encrypted_recipient_data: Some(vec![1, 2, 3]),
        current_path_key: Some(pubkey(3)),
        ..HopPayload::default()
    };
    assert!(matches!(
        blinded.classify(false, false),
        Ok(HopAction::Blinded { .. })
    ));
    // ...but not both path keys.
    assert_eq!(
        blinded.classify(false, true),
        Err(PayloadError::Unexpected {
            tlv_type: 12,
            offset: 0
        })
    );
    let mut extra = blinded.clone();
    extra.amt_to_forward = Some(Msat(1));
    assert_eq!(
        extra.classify(false, false),
        Err(PayloadError::Unexpected {
            tlv_type: 2,
            offset: 0
        })
    );
    // Blinded final needs amount, expiry and total.
    let mut fin = blinded.clone();
    fin.current_path_key = None;
    assert_eq!(
        fin.classify(true, true),
        Err(PayloadError::Missing { tlv_type: 2 })
    );
    fin.amt_to_forward = Some(Msat(5));
    fin.outgoing_cltv_value = Some(5);
    fin.total_amount_msat = Some(Msat(5));
    assert!(matches!(
        fin.classify(true, true),
        Ok(HopAction::Blinded { .. })
    ));
    // Error maps to invalid_onion_payload.
    assert_eq!(
        PayloadError::Missing { tlv_type: 2 }
            .failure_message()
            .code(),
        fulmen_onion::FailureCode::INVALID_ONION_PAYLOAD
    );
}

/// 20 typed forward payloads (about 53 bytes each with framing and HMAC)
/// fill most of the 1300 bytes; 27 such hops would not fit.
const TYPED_HOPS: usize = 20;

#[test]
fn typed_20_hop_onion_peels_at_every_hop() {
    let hash = PaymentHash([0x33; 32]);
    let hops: Vec<(PublicKey, HopPayload)> = (0..TYPED_HOPS as u8)
        .map(|i| {
            let last = usize::from(i) + 1 == TYPED_HOPS;
            (
                pubkey(i + 1),
                HopPayload {
                    amt_to_forward: Some(Msat(1_000_000 - u64::from(i))),
                    outgoing_cltv_value: Some(800_000 - u32::from(i)),
                    short_channel_id: (!last).then_some(ShortChannelId(u64::from(i) + 1)),
                    payment_data: last.then_some(PaymentData {
                        payment_secret: PaymentSecret([9; 32]),
                        total_msat: Msat(999_974),
                    }),
                    ..HopPayload::default()
                },
            )
        })
        .collect();
    let session = key(200);
    let built = build_payment_onion(&session, &hops, &hash).unwrap();
    let mut packet = built.packet;
    for (i, (_, want)) in hops.iter().enumerate() {
        let (peeled, got) = peel_payment(&key(i as u8 + 1), &packet, &hash, None).unwrap();
        assert_eq!(&got, want);
        assert_eq!(peeled.shared_secret, built.shared_secrets[i]);
        match peeled.next {
            NextHop::Forward(next) => packet = *next,
            NextHop::Final => assert_eq!(i + 1, TYPED_HOPS),
        }
    }
    // 27 full forward payloads do not fit.
    let mut long = hops.clone();
    long.extend(hops[..7].iter().cloned());
    assert!(matches!(
        build_payment_onion(&session, &long, &hash),
        Err(BuildError::PayloadsTooLong { .. })
    ));
}

#[test]
fn raw_27_hop_onion_peels_at_every_hop_and_28_is_refused() {
    let assoc = [0x44u8; 32];
    // 27 hops of 15-byte payloads: 27 * (1 + 15 + 32) = 1296 bytes.
    let payloads: Vec<Vec<u8>> = (0..MAX_HOPS as u8)
        .map(|i| fulmen_onion::payload::frame(&[i; 15]))
        .collect();
    let hops: Vec<fulmen_onion::FramedHop<'_>> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| fulmen_onion::FramedHop {
            node_id: pubkey(i as u8 + 1),
            framed_payload: p,
        })
        .collect();
    let built = fulmen_onion::build_onion(&key(201), &hops, &assoc).unwrap();
    let mut packet = built.packet;
    for i in 0..MAX_HOPS {
        let peeled = fulmen_onion::peel(&key(i as u8 + 1), &packet, &assoc, None).unwrap();
        assert_eq!(peeled.payload, vec![i as u8; 15]);
        match peeled.next {
            NextHop::Forward(next) => packet = *next,
            NextHop::Final => assert_eq!(i + 1, MAX_HOPS),
        }
    }
    let mut too_many = hops.clone();
    too_many.push(hops[0]);
    assert_eq!(
        fulmen_onion::build_onion(&key(201), &too_many, &assoc).unwrap_err(),
        BuildError::TooManyHops { count: 28 }
    );
}
