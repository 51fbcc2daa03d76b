//! `channel_reestablish` with `option_data_loss_protect`: a node restored
//! from an old backup must detect it and never broadcast its (revoked)
//! commitment; the up-to-date node fails the channel with its latest one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use fulmen_channel::{Channel, ChannelError, ChannelEvent, CloseReason, Violation};
use fulmen_types::{Msat, Sat};
use fulmen_wire::Message;

fn pay(p: &mut Pair, from: Who, amount: u64, tag: u64) {
    let id = p.add(from, amount, tag);
    p.settle();
    let out = p
        .call(from.other(), |c, _| c.fulfill_htlc(id, preimage(tag)))
        .unwrap();
    p.apply(from.other(), out);
    p.settle();
}

fn reconnect(p: &mut Pair) {
    for who in [Who::A, Who::B] {
        let out = p.call(who, |c, ctx| c.peer_reconnected(ctx)).unwrap();
        p.apply(who, out);
    }
}

fn disconnect(p: &mut Pair) {
    p.to_a.clear();
    p.to_b.clear();
    for who in [Who::A, Who::B] {
        let out = p.call(who, |c, _| c.peer_disconnected());
        p.apply(who, out);
    }
}

#[test]
fn restored_from_old_backup_never_broadcasts() {
    let mut p = Pair::open(Sat(10_000_000), Msat(0));
    pay(&mut p, Who::A, 200_000_000, 1);
    let backup = p.a.chan.encode_state();
    pay(&mut p, Who::A, 300_000_000, 2);
    pay(&mut p, Who::A, 100_000_000, 3);
    disconnect(&mut p);
    // A loses its disk and comes back from the backup.
    p.a.chan = Channel::decode_state(&backup).unwrap();
    p.a.broadcasts.clear();
    p.b.broadcasts.clear();
    reconnect(&mut p);

    // A receives B's channel_reestablish: B's next_revocation_number is
    // beyond A's commitment and your_last_per_commitment_secret proves it.
    p.deliver_one(Who::A).unwrap().unwrap();
    assert_eq!(p.a.chan.phase(), "closing");
    assert!(
        p.a.broadcasts.is_empty(),
        "MUST NOT broadcast its commitment"
    );
    assert!(p.take_events(Who::A).iter().any(|e| matches!(
        e,
        ChannelEvent::ChannelClosed {
            reason: CloseReason::DataLoss,
            ..
        }
    )));
    // A asks B to fail the channel with an `error`.
    assert!(p.to_b.iter().any(|m| matches!(m, Message::Error(_))));
    // Even an explicit force close does not broadcast.
    let out = p.call(Who::A, |c, ctx| c.force_close(ctx)).unwrap();
    assert!(out.broadcasts.is_empty());
    // On reconnection A repeats its request.
    let out = p.call(Who::A, |c, ctx| c.peer_reconnected(ctx)).unwrap();
    assert!(matches!(&out.messages[..], [Message::Error(_)]));

    // B receives A's stale channel_reestablish: A is behind, B fails the
    // channel with its own (latest, safe) commitment.
    let err = p.deliver_one(Who::B).unwrap().unwrap_err();
    assert!(matches!(err, ChannelError::Close(_)), "{err:?}");
    let out = p.call(Who::B, |c, ctx| c.force_close(ctx)).unwrap();
    assert_eq!(out.broadcasts.len(), 1);
    let txid = out.broadcasts[0].compute_txid();
    assert_eq!(
        txid,
        p.b.chan
            .established()
            .map(|_| ())
            .and_then(|_| p.call(Who::B, |c, ctx| c.local_commitment_txid(ctx)))
            .unwrap()
    );
}

#[test]
fn one_revocation_behind_is_also_detected() {
    let mut p = Pair::open(Sat(10_000_000), Msat(0));
    pay(&mut p, Who::A, 200_000_000, 1);
    let backup = p.a.chan.encode_state();
    // One more HTLC add: a single extra commitment round.
    let _ = p.add(Who::A, 1_000_000, 9);
    p.settle();
    disconnect(&mut p);
    p.a.chan = Channel::decode_state(&backup).unwrap();
    p.a.broadcasts.clear();
    reconnect(&mut p);
    p.deliver_one(Who::A).unwrap().unwrap();
    assert_eq!(p.a.chan.phase(), "closing");
    assert!(p.a.broadcasts.is_empty());
}

#[test]
fn unproven_claim_fails_the_channel() {
    let mut p = Pair::open(Sat(10_000_000), Msat(0));
    pay(&mut p, Who::A, 200_000_000, 1);
    disconnect(&mut p);
    reconnect(&mut p);
    // B claims A is behind but cannot prove it: wrong secret.
    let Some(Message::ChannelReestablish(mut m)) = p.to_a.pop_front() else {
        panic!()
    };
    m.next_revocation_number += 5;
    m.your_last_per_commitment_secret.0 = [1; 32];
    p.to_a.push_front(Message::ChannelReestablish(m));
    let before = p.a.chan.clone();
    let err = p.deliver_one(Who::A).unwrap().unwrap_err();
    assert!(matches!(
        err,
        ChannelError::Close(Violation::UnexpectedRevocationNumber { .. })
    ));
    assert!(p.a.chan == before, "state unchanged");
}

#[test]
fn wrong_last_secret_fails_the_channel() {
    let mut p = Pair::open(Sat(10_000_000), Msat(0));
    pay(&mut p, Who::A, 200_000_000, 1);
    disconnect(&mut p);
    reconnect(&mut p);
    let Some(Message::ChannelReestablish(mut m)) = p.to_a.pop_front() else {
        panic!()
    };
    assert!(m.next_revocation_number > 0);
    m.your_last_per_commitment_secret.0[0] ^= 1;
    p.to_a.push_front(Message::ChannelReestablish(m));
    let err = p.deliver_one(Who::A).unwrap().unwrap_err();
    assert_eq!(err, ChannelError::Close(Violation::WrongLastSecret));
}

#[test]
fn peer_behind_on_commitments_fails_the_channel() {
    let mut p = Pair::open(Sat(10_000_000), Msat(0));
    pay(&mut p, Who::A, 200_000_000, 1);
    disconnect(&mut p);
    reconnect(&mut p);
    let Some(Message::ChannelReestablish(mut m)) = p.to_a.pop_front() else {
        panic!()
    };
    m.next_commitment_number -= 2;
    p.to_a.push_front(Message::ChannelReestablish(m));
    let err = p.deliver_one(Who::A).unwrap().unwrap_err();
    assert!(matches!(
        err,
        ChannelError::Close(Violation::UnexpectedCommitmentNumber { .. })
    ));
}

#[test]
fn zero_next_commitment_number_fails_the_channel() {
    let mut p = Pair::open(Sat(10_000_000), Msat(0));
    disconnect(&mut p);
    reconnect(&mut p);
    let Some(Message::ChannelReestablish(mut m)) = p.to_a.pop_front() else {
        panic!()
    };
    m.next_commitment_number = 0;
    p.to_a.push_front(Message::ChannelReestablish(m));
    let err = p.deliver_one(Who::A).unwrap().unwrap_err();
    assert_eq!(
        err,
        ChannelError::Close(Violation::ReestablishZeroCommitmentNumber)
    );
}

#[test]
fn fresh_channel_retransmits_channel_ready() {
    let mut p = Pair::open(Sat(10_000_000), Msat(0));
    disconnect(&mut p);
    reconnect(&mut p);
    p.deliver_one(Who::A).unwrap().unwrap();
    p.deliver_one(Who::B).unwrap().unwrap();
    // Both at next_commitment_number 1: MUST retransmit channel_ready.
    assert!(matches!(p.to_a.front(), Some(Message::ChannelReady(_))));
    assert!(matches!(p.to_b.front(), Some(Message::ChannelReady(_))));
    p.flush();
    // After the first commitment round, it is not retransmitted.
    pay(&mut p, Who::A, 200_000_000, 1);
    disconnect(&mut p);
    reconnect(&mut p);
    p.flush();
    assert_eq!(p.a.chan.phase(), "normal");
}
