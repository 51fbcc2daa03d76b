//! BOLT 2 receiver checks of normal operation and closing, one test per
//! clause. Every rejected message leaves the channel state unchanged.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::PublicKey;
use common::*;
use fulmen_channel::{ChannelConfig, ChannelError, Violation};
use fulmen_script::keys::per_commitment_point;
use fulmen_script::shachain::ShachainSeed;
use fulmen_types::{ChannelId, Msat, Sat};
use fulmen_wire::{
    Message, RevokeAndAck, Shutdown, UpdateAddHtlc, UpdateFailHtlc, UpdateFailMalformedHtlc,
    UpdateFee, UpdateFulfillHtlc,
};

fn pair() -> Pair {
    Pair::open(Sat(10_000_000), Msat(4_000_000_000))
}

fn pair_with_b(config_b: ChannelConfig) -> Pair {
    let mut p = Pair::new(ChannelConfig::default(), config_b);
    let setup = p.outbound_setup(Sat(10_000_000), Msat(4_000_000_000));
    p.open_until_funded(setup);
    p.confirm_funding();
    p.take_events(Who::A);
    p.take_events(Who::B);
    p
}

/// Delivers `m` to `to` ahead of anything queued, expecting `expected`,
/// and checks the channel did not change.
fn reject(p: &mut Pair, to: Who, m: impl Into<Message>, expected: ChannelError) {
    let before = p.end(to).chan.clone();
    match to {
        Who::A => p.to_a.push_front(m.into()),
        Who::B => p.to_b.push_front(m.into()),
    }
    let err = p.deliver_one(to).unwrap().unwrap_err();
    assert_eq!(err, expected);
    assert!(
        p.end(to).chan == before,
        "a rejected message changed the state"
    );
}

fn add_msg(p: &Pair, id: u64, amount: u64, cltv: u32) -> UpdateAddHtlc {
    UpdateAddHtlc {
        channel_id: p.a.chan.channel_id(),
        id,
        amount: Msat(amount),
        payment_hash: hash(id),
        cltv_expiry: cltv,
        onion_routing_packet: onion(id),
        path_key: None,
        unknown_tlvs: vec![],
    }
}

fn close(v: Violation) -> ChannelError {
    ChannelError::Close(v)
}

#[test]
fn add_amount_zero() {
    let mut p = pair();
    let m = add_msg(&p, 0, 0, 900_000);
    reject(&mut p, Who::B, m, close(Violation::HtlcAmountZero));
}

#[test]
fn add_below_htlc_minimum() {
    let mut p = pair_with_b(ChannelConfig {
        htlc_minimum: Msat(1000),
        ..ChannelConfig::default()
    });
    let m = add_msg(&p, 0, 999, 900_000);
    reject(
        &mut p,
        Who::B,
        m,
        close(Violation::HtlcBelowMinimum {
            amount: Msat(999),
            minimum: Msat(1000),
        }),
    );
    let m = add_msg(&p, 0, 1000, 900_000);
    p.to_b.push_back(m.into());
    p.deliver_one(Who::B).unwrap().unwrap();
}

#[test]
fn add_cltv_expiry_not_a_height() {
    let mut p = pair();
    let m = add_msg(&p, 0, 1_000_000, 500_000_000);
    reject(
        &mut p,
        Who::B,
        m,
        close(Violation::CltvExpiryTooLarge {
            cltv_expiry: 500_000_000,
        }),
    );
}

#[test]
fn add_id_not_the_next_one() {
    let mut p = pair();
    let m = add_msg(&p, 1, 1_000_000, 900_000);
    reject(
        &mut p,
        Who::B,
        m,
        close(Violation::UnexpectedHtlcId {
            expected: 0,
            got: 1,
        }),
    );
}

/// The funder (A) must keep B's reserve for it plus the commitment fee
/// and both anchors after the HTLC.
#[test]
fn add_unaffordable_for_funder_after_fee_and_reserve() {
    let mut p = pair();
    let balance = 6_000_000_000u64; // msat
    let reserve = 100_000_000; // 1% of the funding
                               // One HTLC output at 2500 sat/kw: (1124 + 172) * 2.5 = 3240 sat, and
                               // two 330-sat anchors.
    let fee = (3_240 + 660) * 1000;
    let max = balance - reserve - fee;
    let m = add_msg(&p, 0, max + 1, 900_000);
    reject(
        &mut p,
        Who::B,
        m,
        close(Violation::HtlcUnaffordable {
            amount: Msat(max + 1),
        }),
    );
    let m = add_msg(&p, 0, max, 900_000);
    p.to_b.push_back(m.into());
    p.deliver_one(Who::B).unwrap().unwrap();
}

#[test]
fn add_unaffordable_for_non_funder_below_reserve() {
    let mut p = pair();
    // B (non-funder) holds 4_000_000 sat and must keep 100_000 sat.
    let mut m = add_msg(&p, 0, 3_900_000_001, 900_000);
    m.channel_id = p.b.chan.channel_id();
    reject(
        &mut p,
        Who::A,
        m.clone(),
        close(Violation::HtlcUnaffordable {
            amount: Msat(3_900_000_001),
        }),
    );
    m.amount = Msat(4_000_000_001);
    reject(
        &mut p,
        Who::A,
        m,
        close(Violation::HtlcUnaffordable {
            amount: Msat(4_000_000_001),
        }),
    );
}

#[test]
fn add_more_than_max_accepted_htlcs() {
    let mut p = pair_with_b(ChannelConfig {
        max_accepted_htlcs: 5,
        ..ChannelConfig::default()
    });
    for id in 0..5 {
        p.to_b.push_back(add_msg(&p, id, 1_000_000, 900_000).into());
        p.deliver_one(Who::B).unwrap().unwrap();
    }
    let m = add_msg(&p, 5, 1_000_000, 900_000);
    reject(
        &mut p,
        Who::B,
        m,
        close(Violation::TooManyHtlcs { count: 6, max: 5 }),
    );
}

#[test]
fn add_more_than_max_htlc_value_in_flight() {
    let mut p = pair_with_b(ChannelConfig {
        max_in_flight_ppm: 100_000,
        ..ChannelConfig::default()
    });
    let m = add_msg(&p, 0, 1_000_000_001, 900_000);
    reject(
        &mut p,
        Who::B,
        m,
        close(Violation::InFlightExceeded {
            total: Msat(1_000_000_001),
            max: Msat(1_000_000_000),
        }),
    );
}

#[test]
fn add_after_sender_shutdown() {
    // With an HTLC pending, B stays in `ShuttingDown`.
    let mut p = pair();
    let id = p.add(Who::A, 5_000_000, 1);
    p.settle();
    let out = p.call(Who::A, |c, ctx| c.shutdown(None, ctx)).unwrap();
    p.apply(Who::A, out);
    p.deliver_one(Who::B).unwrap().unwrap(); // B gets A's shutdown
    assert_eq!(p.b.chan.phase(), "shutting_down");
    let m = add_msg(&p, id + 1, 1_000_000, 900_000);
    reject(&mut p, Who::B, m, close(Violation::AddAfterShutdown));
    // Without HTLCs, B is already negotiating the fee.
    let mut p = pair();
    let out = p.call(Who::A, |c, ctx| c.shutdown(None, ctx)).unwrap();
    p.apply(Who::A, out);
    p.deliver_one(Who::B).unwrap().unwrap();
    assert_eq!(p.b.chan.phase(), "negotiating");
    let m = add_msg(&p, 0, 1_000_000, 900_000);
    reject(&mut p, Who::B, m, close(Violation::AddAfterShutdown));
}

/// An HTLC from A to B, committed both ways (B holds it irrevocably).
fn committed_htlc(p: &mut Pair) -> u64 {
    let id = p.add(Who::A, 5_000_000, 42);
    p.settle();
    id
}

#[test]
fn fulfill_unknown_id() {
    let mut p = pair();
    let m = UpdateFulfillHtlc {
        channel_id: p.a.chan.channel_id(),
        id: 3,
        payment_preimage: preimage(3),
        attribution_data: None,
        unknown_tlvs: vec![],
    };
    reject(&mut p, Who::A, m, close(Violation::UnknownHtlc { id: 3 }));
}

#[test]
fn fulfill_preimage_mismatch() {
    let mut p = pair();
    let id = committed_htlc(&mut p);
    let m = UpdateFulfillHtlc {
        channel_id: p.a.chan.channel_id(),
        id,
        payment_preimage: preimage(43),
        attribution_data: None,
        unknown_tlvs: vec![],
    };
    reject(&mut p, Who::A, m, close(Violation::PreimageMismatch { id }));
}

#[test]
fn fulfill_before_irrevocably_committed() {
    let mut p = pair();
    let id = p.add(Who::A, 5_000_000, 42);
    p.sign(Who::A);
    p.flush(); // B signed back? No: only A's commitment and B's revocation.
    let m = UpdateFulfillHtlc {
        channel_id: p.a.chan.channel_id(),
        id,
        payment_preimage: preimage(42),
        attribution_data: None,
        unknown_tlvs: vec![],
    };
    reject(&mut p, Who::A, m, close(Violation::HtlcNotCommitted { id }));
}

#[test]
fn fail_unknown_id() {
    let mut p = pair();
    let m = UpdateFailHtlc {
        channel_id: p.a.chan.channel_id(),
        id: 0,
        reason: vec![1],
        attribution_data: None,
        unknown_tlvs: vec![],
    };
    reject(&mut p, Who::A, m, close(Violation::UnknownHtlc { id: 0 }));
}

#[test]
fn fail_malformed_without_badonion() {
    let mut p = pair();
    let id = committed_htlc(&mut p);
    let m = UpdateFailMalformedHtlc {
        channel_id: p.a.chan.channel_id(),
        id,
        sha256_of_onion: [0; 32],
        failure_code: 0x4000 | 5,
        unknown_tlvs: vec![],
    };
    reject(
        &mut p,
        Who::A,
        m,
        close(Violation::MalformedWithoutBadOnion {
            failure_code: 0x4005,
        }),
    );
}

#[test]
fn removal_of_already_removed_htlc() {
    let mut p = pair();
    let id = committed_htlc(&mut p);
    let out = p.call(Who::B, |c, _| c.fail_htlc(id, vec![])).unwrap();
    p.apply(Who::B, out);
    p.deliver_one(Who::A).unwrap().unwrap();
    let m = UpdateFulfillHtlc {
        channel_id: p.a.chan.channel_id(),
        id,
        payment_preimage: preimage(42),
        attribution_data: None,
        unknown_tlvs: vec![],
    };
    reject(
        &mut p,
        Who::A,
        m,
        close(Violation::HtlcAlreadyRemoved { id }),
    );
}

/// A's `commitment_signed` for an HTLC, intercepted before B sees it.
fn intercepted_commitment(p: &mut Pair) -> fulmen_wire::CommitmentSigned {
    let _ = p.add(Who::A, 5_000_000, 42);
    p.sign(Who::A);
    p.deliver_one(Who::B).unwrap().unwrap(); // the add
    let Some(Message::CommitmentSigned(c)) = p.to_b.pop_front() else {
        panic!("commitment_signed expected")
    };
    c
}

#[test]
fn commitment_signed_bad_signature() {
    let mut p = pair();
    let mut c = intercepted_commitment(&mut p);
    c.signature = c.htlc_signatures[0];
    reject(
        &mut p,
        Who::B,
        c,
        close(Violation::InvalidCommitmentSignature),
    );
}

#[test]
fn commitment_signed_high_s_signature() {
    let mut p = pair();
    let mut c = intercepted_commitment(&mut p);
    // (r, n - s): valid for the same key and message, but not low-S.
    let compact = c.signature.serialize_compact();
    let n = bitcoin::secp256k1::constants::CURVE_ORDER;
    let mut s = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let v = i16::from(n[i]) - i16::from(compact[32 + i]) - borrow;
        borrow = i16::from(v < 0);
        s[i] = (v + 256 * borrow) as u8;
    }
    let mut high = compact;
    high[32..].copy_from_slice(&s);
    c.signature = Signature::from_compact(&high).unwrap();
    reject(
        &mut p,
        Who::B,
        c,
        close(Violation::InvalidCommitmentSignature),
    );
}

#[test]
fn commitment_signed_wrong_number_of_htlc_signatures() {
    let mut p = pair();
    let mut c = intercepted_commitment(&mut p);
    c.htlc_signatures.push(c.signature);
    reject(
        &mut p,
        Who::B,
        c.clone(),
        close(Violation::WrongHtlcSignatureCount {
            expected: 1,
            got: 2,
        }),
    );
    c.htlc_signatures.clear();
    reject(
        &mut p,
        Who::B,
        c,
        close(Violation::WrongHtlcSignatureCount {
            expected: 1,
            got: 0,
        }),
    );
}

#[test]
fn commitment_signed_bad_htlc_signature() {
    let mut p = pair();
    let mut c = intercepted_commitment(&mut p);
    c.htlc_signatures[0] = c.signature;
    reject(
        &mut p,
        Who::B,
        c,
        close(Violation::InvalidHtlcSignature { index: 0 }),
    );
}

fn revoke(p: &Pair, secret: [u8; 32], next: PublicKey) -> RevokeAndAck {
    RevokeAndAck {
        channel_id: p.a.chan.channel_id(),
        per_commitment_secret: fulmen_wire::PerCommitmentSecret(secret),
        next_per_commitment_point: next,
        unknown_tlvs: vec![],
    }
}

#[test]
fn revoke_and_ack_when_nothing_is_owed() {
    let mut p = pair();
    let point = p.a.chan.established().unwrap().remote_commit.point;
    let m = revoke(&p, [1; 32], point);
    reject(&mut p, Who::A, m, close(Violation::UnexpectedRevocation));
}

#[test]
fn revoke_and_ack_secret_does_not_match_point() {
    let mut p = pair();
    let _ = intercepted_commitment(&mut p); // A awaits B's revocation
    let point = p.a.chan.established().unwrap().remote_commit.point;
    let m = revoke(&p, [1; 32], point);
    reject(&mut p, Who::A, m, close(Violation::InvalidRevocationSecret));
    let m = revoke(&p, [0; 32], point);
    reject(&mut p, Who::A, m, close(Violation::InvalidRevocationSecret));
}

/// A peer whose secrets do not come from one shachain: the secret of
/// commitment 1 matches the point it announced, but does not derive the
/// secret of commitment 0 it revealed before.
#[test]
fn revoke_and_ack_shachain_mismatch() {
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let setup = p.outbound_setup(Sat(10_000_000), Msat(4_000_000_000));
    p.open_until_funded(setup);
    let other = ShachainSeed::new([0x99; 32]);
    let other_point =
        |n: u64| per_commitment_point(&other.secret_for_commitment(n).unwrap()).unwrap();
    let b_seed = ShachainSeed::new(secrets(2).per_commitment_seed);
    // Confirm; B's channel_ready announces a point for commitment 1 from
    // another seed.
    let tx = p.funding_tx.clone().unwrap();
    p.block(&[tx]);
    for _ in 0..5 {
        p.block(&[]);
    }
    let ready = p
        .to_a
        .iter_mut()
        .find_map(|m| match m {
            Message::ChannelReady(r) => Some(r),
            _ => None,
        })
        .unwrap();
    ready.second_per_commitment_point = other_point(1);
    p.flush();
    assert_eq!(p.a.chan.phase(), "normal");
    // A signs commitment 1 for "B"; "B" revokes commitment 0 honestly.
    let _ = p.add(Who::A, 5_000_000, 1);
    p.sign(Who::A);
    p.to_b.clear();
    let s0 = b_seed.secret_for_commitment(0).unwrap();
    p.to_a
        .push_back(revoke(&p, *s0.as_bytes(), other_point(2)).into());
    p.deliver_one(Who::A).unwrap().unwrap();
    // A signs commitment 2; "B" revokes commitment 1 with the other seed.
    let _ = p.add(Who::A, 5_000_000, 2);
    p.sign(Who::A);
    p.to_b.clear();
    let s1 = other.secret_for_commitment(1).unwrap();
    let m = revoke(&p, *s1.as_bytes(), other_point(3));
    reject(&mut p, Who::A, m, close(Violation::ShachainMismatch));
}

#[test]
fn update_fee_from_non_funder() {
    let mut p = pair();
    let m = UpdateFee {
        channel_id: p.a.chan.channel_id(),
        feerate_per_kw: 5000,
        unknown_tlvs: vec![],
    };
    reject(&mut p, Who::A, m, close(Violation::FeeUpdateFromNonFunder));
}

#[test]
fn update_fee_too_low_or_unreasonably_large() {
    let mut p = pair();
    for feerate in [252, 250_001] {
        let m = UpdateFee {
            channel_id: p.a.chan.channel_id(),
            feerate_per_kw: feerate,
            unknown_tlvs: vec![],
        };
        reject(
            &mut p,
            Who::B,
            m,
            close(Violation::FeerateOutOfRange {
                feerate,
                min: 253,
                max: 250_000,
            }),
        );
    }
}

#[test]
fn update_fee_unaffordable() {
    let mut p = pair_with_b(ChannelConfig {
        max_feerate_per_kw: u32::MAX,
        ..ChannelConfig::default()
    });
    // 1124 weight at 6_000_000 sat/kw is 6_744_000 sat: more than A has.
    let m = UpdateFee {
        channel_id: p.a.chan.channel_id(),
        feerate_per_kw: 6_000_000,
        unknown_tlvs: vec![],
    };
    reject(
        &mut p,
        Who::B,
        m,
        close(Violation::FeeUnaffordable { feerate: 6_000_000 }),
    );
}

#[test]
fn shutdown_script_not_an_allowed_form() {
    let mut p = pair();
    let m = Shutdown {
        channel_id: p.a.chan.channel_id(),
        scriptpubkey: bitcoin::ScriptBuf::from_bytes(vec![0x76, 0xa9]),
        unknown_tlvs: vec![],
    };
    reject(
        &mut p,
        Who::B,
        m,
        ChannelError::Warn(Violation::InvalidShutdownScript),
    );
}

#[test]
fn shutdown_script_differs_from_upfront() {
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let mut setup = p.outbound_setup(Sat(10_000_000), Msat(0));
    setup.upfront_shutdown = true;
    p.open_until_funded(setup);
    p.confirm_funding();
    let m = Shutdown {
        channel_id: p.a.chan.channel_id(),
        scriptpubkey: p2wpkh(0x77),
        unknown_tlvs: vec![],
    };
    reject(
        &mut p,
        Who::B,
        m,
        ChannelError::Warn(Violation::UpfrontShutdownMismatch),
    );
    // And our own API refuses another script.
    let err = p
        .call(Who::A, |c, ctx| c.shutdown(Some(p2wpkh(0x77)), ctx))
        .unwrap_err();
    assert_eq!(err, fulmen_channel::ApiError::UpfrontShutdownMismatch);
}

#[test]
fn messages_before_reestablish_and_for_other_channels() {
    let mut p = pair();
    for who in [Who::A, Who::B] {
        let out = p.call(who, |c, _| c.peer_disconnected());
        p.apply(who, out);
        let out = p.call(who, |c, ctx| c.peer_reconnected(ctx)).unwrap();
        assert!(matches!(
            &out.messages[..],
            [Message::ChannelReestablish(_)]
        ));
    }
    let m = add_msg(&p, 0, 1_000_000, 900_000);
    reject(
        &mut p,
        Who::B,
        m.clone(),
        ChannelError::Warn(Violation::MessageBeforeReestablish { msg_type: 128 }),
    );
    let mut other = m;
    other.channel_id = ChannelId([0xee; 32]);
    reject(
        &mut p,
        Who::B,
        other,
        ChannelError::Ignore(Violation::ChannelIdMismatch),
    );
}
