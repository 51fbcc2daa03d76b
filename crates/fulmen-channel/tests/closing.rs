//! Closing: `shutdown`, `closing_signed` negotiation (with and without
//! `fee_range`) and unilateral close. Every broadcast transaction is
//! checked against the funding output with libbitcoinconsensus.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bitcoin::{Transaction, TxOut};
use common::*;
use fulmen_channel::{ChannelConfig, ChannelError, ChannelEvent, CloseReason, Violation};
use fulmen_types::{Msat, Sat};
use fulmen_wire::Message;

fn verify_spends_funding(p: &Pair, tx: &Transaction) {
    let funding = p.funding_tx.clone().unwrap();
    let out: TxOut = funding.output[1].clone();
    let txid = funding.compute_txid();
    tx.verify(|op| (op.txid == txid && op.vout == 1).then(|| out.clone()))
        .expect("spends the funding output under consensus rules");
}

fn pair() -> Pair {
    Pair::open(Sat(10_000_000), Msat(4_000_000_000))
}

fn closed_by_mutual(p: &mut Pair, who: Who) -> Transaction {
    let ev = p.take_events(who);
    assert!(
        ev.iter().any(|e| matches!(
            e,
            ChannelEvent::ChannelClosed {
                reason: CloseReason::MutualClose { .. },
                ..
            }
        )),
        "{who:?}: {ev:?}"
    );
    p.end(who).broadcasts.last().unwrap().clone()
}

#[test]
fn funder_initiated_close_with_fee_range() {
    let mut p = pair();
    p.take_events(Who::A);
    p.take_events(Who::B);
    let out = p.call(Who::A, |c, ctx| c.shutdown(None, ctx)).unwrap();
    assert!(matches!(&out.messages[..], [Message::Shutdown(_)]));
    p.apply(Who::A, out);
    p.deliver_one(Who::B).unwrap().unwrap(); // B replies shutdown
    assert!(matches!(p.to_a.front(), Some(Message::Shutdown(_))));
    p.deliver_one(Who::A).unwrap().unwrap(); // A proposes
    let Some(Message::ClosingSigned(first)) = p.to_b.front() else {
        panic!("closing_signed expected")
    };
    assert!(first.fee_range.is_some());
    p.flush();
    assert_eq!(p.a.chan.phase(), "closing");
    assert_eq!(p.b.chan.phase(), "closing");
    let ta = closed_by_mutual(&mut p, Who::A);
    let tb = closed_by_mutual(&mut p, Who::B);
    assert_eq!(ta.compute_txid(), tb.compute_txid());
    verify_spends_funding(&p, &ta);
    // B gets its balance exactly; A pays the fee.
    let b_out = ta
        .output
        .iter()
        .find(|o| o.script_pubkey == p2wpkh(0xb1))
        .unwrap();
    assert_eq!(b_out.value.to_sat(), 4_000_000);
    let total: u64 = ta.output.iter().map(|o| o.value.to_sat()).sum();
    let fee = 10_000_000 - total;
    assert!(fee > 0 && fee < 10_000, "fee {fee}");
}

#[test]
fn fundee_initiated_close_waits_for_htlcs() {
    let mut p = pair();
    let id = p.add(Who::A, 300_000_000, 5);
    p.settle();
    let out = p.call(Who::B, |c, ctx| c.shutdown(None, ctx)).unwrap();
    p.apply(Who::B, out);
    p.flush();
    assert_eq!(p.a.chan.phase(), "shutting_down");
    assert_eq!(p.b.chan.phase(), "shutting_down");
    // No new HTLCs either way.
    let err = p
        .call(Who::A, |c, ctx| {
            c.add_htlc(Msat(1_000_000), hash(6), 900_000, onion(6), None, ctx)
        })
        .unwrap_err();
    assert_eq!(err, fulmen_channel::AddError::ShuttingDown);
    // The HTLC still settles, then the fee is negotiated.
    let out = p
        .call(Who::B, |c, _| c.fulfill_htlc(id, preimage(5)))
        .unwrap();
    p.apply(Who::B, out);
    p.settle();
    assert_eq!(p.a.chan.phase(), "closing");
    assert_eq!(p.b.chan.phase(), "closing");
    let tx = closed_by_mutual(&mut p, Who::B);
    verify_spends_funding(&p, &tx);
    let b_out = tx
        .output
        .iter()
        .find(|o| o.script_pubkey == p2wpkh(0xb1))
        .unwrap();
    assert_eq!(b_out.value.to_sat(), 4_300_000);
}

#[test]
fn shutdown_signs_pending_updates_first() {
    let mut p = pair();
    let _ = p.add(Who::A, 1_000_000, 1);
    let out = p.call(Who::A, |c, ctx| c.shutdown(None, ctx)).unwrap();
    let kinds: Vec<u16> = out.messages.iter().map(|m| m.msg_type()).collect();
    // commitment_signed (132), then shutdown (38).
    assert_eq!(kinds, vec![132, 38]);
    p.apply(Who::A, out);
    p.settle();
    let out = p.call(Who::B, |c, _| c.fail_htlc(0, vec![])).unwrap();
    p.apply(Who::B, out);
    p.settle();
    assert_eq!(p.a.chan.phase(), "closing");
}

#[test]
fn shutdown_waits_while_a_revocation_is_owed() {
    let mut p = pair();
    let _ = p.add(Who::A, 1_000_000, 1);
    p.sign(Who::A); // commitment sent, revocation owed
    let _ = p.add(Who::A, 1_000_000, 2); // cannot be signed yet
    let out = p.call(Who::A, |c, ctx| c.shutdown(None, ctx)).unwrap();
    assert!(
        out.messages.is_empty(),
        "shutdown must wait: {:?}",
        out.messages
    );
    p.apply(Who::A, out);
    p.settle();
    // Once the second add is signed, shutdown leaves.
    assert_eq!(p.a.chan.phase(), "shutting_down");
    assert_eq!(p.b.chan.phase(), "shutting_down");
    for id in [0, 1] {
        let out = p.call(Who::B, |c, _| c.fail_htlc(id, vec![])).unwrap();
        p.apply(Who::B, out);
    }
    p.settle();
    assert_eq!(p.a.chan.phase(), "closing");
}

/// The non-funder wants a higher fee than the funder proposes: with
/// `fee_range` it picks one in the overlap and the funder echoes it.
#[test]
fn negotiation_converges_in_the_overlap() {
    let mut p = pair();
    // B now wants at least 5000 sat/kw for the close.
    p.b.config.min_feerate_per_kw = 5000;
    let out = p.call(Who::A, |c, ctx| c.shutdown(None, ctx)).unwrap();
    p.apply(Who::A, out);
    p.deliver_one(Who::B).unwrap().unwrap();
    p.deliver_one(Who::A).unwrap().unwrap();
    let Some(Message::ClosingSigned(a1)) = p.to_b.front().cloned() else {
        panic!()
    };
    p.deliver_one(Who::B).unwrap().unwrap();
    let Some(Message::ClosingSigned(b1)) = p.to_a.front().cloned() else {
        panic!()
    };
    assert!(b1.fee > a1.fee, "B asks for more: {} vs {}", b1.fee, a1.fee);
    p.flush();
    assert_eq!(p.a.chan.phase(), "closing");
    assert_eq!(p.b.chan.phase(), "closing");
    let tx = closed_by_mutual(&mut p, Who::A);
    let total: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
    assert_eq!(Sat(10_000_000 - total), b1.fee);
    verify_spends_funding(&p, &tx);
}

/// Legacy negotiation (no `fee_range`): the receiver accepts a fee it
/// finds acceptable, or moves strictly between.
#[test]
fn legacy_negotiation_without_fee_range() {
    let mut p = pair();
    // B now wants at least 5000 sat/kw for the close.
    p.b.config.min_feerate_per_kw = 5000;
    let out = p.call(Who::A, |c, ctx| c.shutdown(None, ctx)).unwrap();
    p.apply(Who::A, out);
    p.deliver_one(Who::B).unwrap().unwrap();
    p.deliver_one(Who::A).unwrap().unwrap();
    // Strip the range: an old-style proposal.
    let Some(Message::ClosingSigned(mut a1)) = p.to_b.pop_front() else {
        panic!()
    };
    a1.fee_range = None;
    p.to_b.push_front(Message::ClosingSigned(a1.clone()));
    p.deliver_one(Who::B).unwrap().unwrap();
    let Some(Message::ClosingSigned(b1)) = p.to_a.front().cloned() else {
        panic!()
    };
    assert!(b1.fee > a1.fee);
    assert_eq!(p.b.chan.phase(), "negotiating");
    p.flush();
    assert_eq!(p.a.chan.phase(), "closing");
    assert_eq!(p.b.chan.phase(), "closing");
}

fn negotiating(p: &mut Pair) -> fulmen_wire::ClosingSigned {
    let out = p.call(Who::A, |c, ctx| c.shutdown(None, ctx)).unwrap();
    p.apply(Who::A, out);
    p.deliver_one(Who::B).unwrap().unwrap();
    p.deliver_one(Who::A).unwrap().unwrap();
    let Some(Message::ClosingSigned(a1)) = p.to_b.pop_front() else {
        panic!()
    };
    a1
}

#[test]
fn closing_signed_bad_signature() {
    let mut p = pair();
    let mut a1 = negotiating(&mut p);
    a1.fee = Sat(a1.fee.0 + 1);
    let before = p.b.chan.clone();
    p.to_b.push_front(Message::ClosingSigned(a1));
    let err = p.deliver_one(Who::B).unwrap().unwrap_err();
    assert_eq!(err, ChannelError::Warn(Violation::InvalidClosingSignature));
    assert!(p.b.chan == before);
}

#[test]
fn closing_fee_exceeding_funder_balance() {
    let mut p = pair();
    let mut a1 = negotiating(&mut p);
    a1.fee = Sat(6_000_001);
    p.to_b.push_front(Message::ClosingSigned(a1));
    let err = p.deliver_one(Who::B).unwrap().unwrap_err();
    assert_eq!(
        err,
        ChannelError::Warn(Violation::ClosingFeeExceedsBalance {
            fee: Sat(6_000_001)
        })
    );
}

#[test]
fn closing_fee_ranges_disjoint() {
    let mut p = pair();
    let mut a1 = negotiating(&mut p);
    let range = a1.fee_range.as_mut().unwrap();
    range.min_fee = Sat(6_000_001);
    range.max_fee = Sat(7_000_000);
    p.to_b.push_front(Message::ClosingSigned(a1));
    let err = p.deliver_one(Who::B).unwrap().unwrap_err();
    assert_eq!(err, ChannelError::Warn(Violation::ClosingFeeRangesDisjoint));
}

/// B signs (validly) a fee far above what A, the funder, offered to pay:
/// the funder MUST fail the channel when the fee is outside the overlap.
#[test]
fn funder_fails_on_fee_outside_the_overlap() {
    use fulmen_script::closing::{build_legacy_closing_tx, ClosingOutput};
    use fulmen_script::sign::sign_funding_spend;
    let mut p = pair();
    let a1 = negotiating(&mut p);
    let est = p.b.chan.established().unwrap().clone();
    let core = &est.core;
    let fee = Sat(1_000_000);
    assert!(fee > a1.fee_range.unwrap().max_fee);
    let tx = build_legacy_closing_tx(
        core.funding_outpoint,
        fulmen_script::Side::Remote,
        &ClosingOutput {
            balance: Msat(4_000_000_000),
            script_pubkey: p2wpkh(0xb1),
        },
        &ClosingOutput {
            balance: Msat(6_000_000_000),
            script_pubkey: p2wpkh(0xa1),
        },
        fee,
        core.local_params.dust_limit,
    )
    .unwrap();
    let sig = sign_funding_spend(
        &tx.tx,
        &core.funding_script(),
        core.funding,
        &secrets(2).funding,
    )
    .unwrap();
    let m = fulmen_wire::ClosingSigned {
        channel_id: core.channel_id,
        fee,
        signature: sig,
        fee_range: Some(fulmen_wire::FeeRange {
            min_fee: Sat(1),
            max_fee: Sat(5_000_000),
        }),
        unknown_tlvs: vec![],
    };
    let before = p.a.chan.clone();
    p.to_a.push_front(Message::ClosingSigned(m));
    let err = p.deliver_one(Who::A).unwrap().unwrap_err();
    assert_eq!(
        err,
        ChannelError::Close(Violation::ClosingFeeOutOfRange { fee })
    );
    assert!(p.a.chan == before);
}

#[test]
fn closing_signed_before_negotiation() {
    let mut p = pair();
    let _ = p.add(Who::A, 300_000_000, 5);
    p.settle();
    let mut a1 = {
        let out = p.call(Who::B, |c, ctx| c.shutdown(None, ctx)).unwrap();
        p.apply(Who::B, out);
        p.flush();
        fulmen_wire::ClosingSigned {
            channel_id: p.a.chan.channel_id(),
            fee: Sat(1000),
            signature: p
                .a
                .chan
                .established()
                .unwrap()
                .local_commit
                .remote_signature,
            fee_range: None,
            unknown_tlvs: vec![],
        }
    };
    a1.fee = Sat(1000);
    p.to_b.push_front(Message::ClosingSigned(a1));
    let err = p.deliver_one(Who::B).unwrap().unwrap_err();
    assert_eq!(err, ChannelError::Warn(Violation::ClosingTooEarly));
}

#[test]
fn negotiation_restarts_after_reconnection() {
    let mut p = pair();
    let _ = negotiating(&mut p); // A's proposal is lost
    p.to_a.clear();
    p.to_b.clear();
    for who in [Who::A, Who::B] {
        let out = p.call(who, |c, _| c.peer_disconnected());
        p.apply(who, out);
    }
    for who in [Who::A, Who::B] {
        let out = p.call(who, |c, ctx| c.peer_reconnected(ctx)).unwrap();
        p.apply(who, out);
    }
    p.flush();
    assert_eq!(p.a.chan.phase(), "closing");
    assert_eq!(p.b.chan.phase(), "closing");
    let tx = closed_by_mutual(&mut p, Who::A);
    verify_spends_funding(&p, &tx);
}

#[test]
fn force_close_broadcasts_our_signed_latest_commitment() {
    let mut p = pair();
    let _ = p.add(Who::A, 300_000_000, 5);
    let _ = p.add(Who::B, 200_000_000, 6);
    p.settle();
    let expected = p
        .call(Who::A, |c, ctx| c.local_commitment_txid(ctx))
        .unwrap();
    let out = p.call(Who::A, |c, ctx| c.force_close(ctx)).unwrap();
    assert!(out.persist);
    assert!(matches!(&out.messages[..], [Message::Error(_)]));
    let tx = out.broadcasts[0].clone();
    assert_eq!(tx.compute_txid(), expected);
    assert_eq!(
        tx.output.len(),
        6,
        "to_local, to_remote, 2 htlcs, 2 anchors"
    );
    verify_spends_funding(&p, &tx);
    assert!(out.events.iter().any(|e| matches!(
        e,
        ChannelEvent::ChannelClosed {
            reason: CloseReason::LocalForceClose { .. },
            ..
        }
    )));
    p.apply(Who::A, out);
    assert_eq!(p.a.chan.phase(), "closing");
    // The peer's `error` makes B broadcast its own latest commitment.
    p.deliver_one(Who::B).unwrap().unwrap();
    assert_eq!(p.b.chan.phase(), "closing");
    let tb = p.b.broadcasts.last().unwrap().clone();
    verify_spends_funding(&p, &tb);
    // A closed channel's state still round-trips.
    let bytes = p.a.chan.encode_state();
    let mut expected = p.a.chan.clone();
    expected.peer_disconnected();
    assert!(fulmen_channel::Channel::decode_state(&bytes).unwrap() == expected);
}

#[test]
fn force_close_static_remotekey_commitment_verifies() {
    let mut p = Pair::new(
        ChannelConfig {
            prefer_anchors: false,
            ..ChannelConfig::default()
        },
        ChannelConfig::default(),
    );
    let setup = p.outbound_setup(Sat(10_000_000), Msat(4_000_000_000));
    p.open_until_funded(setup);
    p.confirm_funding();
    let _ = p.add(Who::A, 300_000_000, 5);
    p.settle();
    let out = p.call(Who::B, |c, ctx| c.force_close(ctx)).unwrap();
    let tx = &out.broadcasts[0];
    assert_eq!(tx.output.len(), 3, "to_local, to_remote, 1 htlc");
    verify_spends_funding(&p, tx);
}

/// The non-funder sees the channel clean as its last revocation leaves,
/// while the funder, not having received it, sends `update_fee`: BOLT 2
/// allows both. The non-funder resumes shutting down, commits the fee,
/// and the close completes.
#[test]
fn update_fee_racing_the_last_revocation() {
    let mut p = pair();
    let id = p.add(Who::A, 300_000_000, 5);
    p.settle();
    let out = p.call(Who::A, |c, ctx| c.shutdown(None, ctx)).unwrap();
    p.apply(Who::A, out);
    p.flush();
    let out = p
        .call(Who::B, |c, _| c.fulfill_htlc(id, preimage(5)))
        .unwrap();
    p.apply(Who::B, out);
    p.sign(Who::B);
    p.deliver_one(Who::A).unwrap().unwrap(); // fulfill
    p.deliver_one(Who::A).unwrap().unwrap(); // B's commitment; A revokes
    p.sign(Who::A);
    p.deliver_one(Who::B).unwrap().unwrap(); // A's revocation
    p.deliver_one(Who::B).unwrap().unwrap(); // A's commitment; B revokes
    assert_eq!(p.b.chan.phase(), "negotiating", "B sees the channel clean");
    assert_eq!(
        p.a.chan.phase(),
        "shutting_down",
        "B's revocation in flight"
    );
    let out = p.call(Who::A, |c, ctx| c.update_fee(5000, ctx)).unwrap();
    // Hold back B's revocation so that A proposes the fee without it.
    let revoke = p.to_a.pop_front().unwrap();
    p.apply(Who::A, out);
    p.deliver_one(Who::B).unwrap().unwrap(); // the update_fee
    assert_eq!(p.b.chan.phase(), "shutting_down");
    p.to_a.push_front(revoke);
    p.settle();
    assert_eq!(p.a.chan.phase(), "closing");
    assert_eq!(p.b.chan.phase(), "closing");
    let tx = closed_by_mutual(&mut p, Who::A);
    verify_spends_funding(&p, &tx);
}
