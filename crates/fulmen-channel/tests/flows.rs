//! End-to-end flows between two channel ends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use fulmen_channel::ChannelEvent;
use fulmen_types::{Msat, Sat};

#[test]
fn open_pay_and_fail() {
    let mut p = Pair::open(Sat(10_000_000), Msat(0));
    let events = p.take_events(Who::A);
    assert!(events
        .iter()
        .any(|e| matches!(e, ChannelEvent::ChannelReady { .. })));
    let id = p.add(Who::A, 500_000_000, 1);
    p.settle();
    let ev = p.take_events(Who::B);
    assert!(ev
        .iter()
        .any(|e| matches!(e, ChannelEvent::HtlcAdded(h) if h.id == id)));
    let out = p
        .call(Who::B, |c, _| c.fulfill_htlc(id, preimage(1)))
        .unwrap();
    p.apply(Who::B, out);
    p.settle();
    let ev = p.take_events(Who::A);
    assert!(ev
        .iter()
        .any(|e| matches!(e, ChannelEvent::HtlcFulfilled { id: 0, .. })));
    let (a_local, a_remote) = p.a.chan.balances().unwrap();
    assert_eq!(a_local, Msat(10_000_000_000 - 500_000_000));
    assert_eq!(a_remote, Msat(500_000_000));
    // B pays back and A fails it.
    let id = p.add(Who::B, 10_000_000, 2);
    p.settle();
    let out = p
        .call(Who::A, |c, _| c.fail_htlc(id, vec![1, 2, 3]))
        .unwrap();
    p.apply(Who::A, out);
    p.settle();
    let ev = p.take_events(Who::B);
    assert!(ev
        .iter()
        .any(|e| matches!(e, ChannelEvent::HtlcFailed { id: 0, .. })));
    assert_eq!(p.b.chan.balances().unwrap().0, Msat(500_000_000));
}

#[test]
fn offered_htlc_past_its_deadline_fails_the_channel() {
    let mut p = Pair::open(Sat(10_000_000), Msat(0));
    let id = p.add(Who::A, 500_000_000, 1);
    p.settle();
    let cltv = p.height + 100; // as `Pair::add` sets it
    p.height = cltv; // the next block is cltv + 1
    p.block(&[]);
    p.height = cltv + 1;
    let h = p.height + 1;
    let err = p
        .call(Who::A, |c, ctx| c.handle_block(h, &[], ctx))
        .unwrap_err();
    assert_eq!(
        err,
        fulmen_channel::ChannelError::Close(fulmen_channel::Violation::OfferedHtlcTimedOut { id })
    );
    // The receiver is not at risk for an HTLC it did not fulfill.
    assert!(p.call(Who::B, |c, ctx| c.handle_block(h, &[], ctx)).is_ok());
}

#[test]
fn fulfilled_htlc_stuck_past_its_deadline_fails_the_channel() {
    let mut p = Pair::open(Sat(10_000_000), Msat(0));
    let id = p.add(Who::A, 500_000_000, 1);
    p.settle();
    let cltv = p.height + 100;
    let out = p
        .call(Who::B, |c, _| c.fulfill_htlc(id, preimage(1)))
        .unwrap();
    p.apply(Who::B, out);
    // A never commits the removal (it went offline).
    p.to_a.clear();
    let h = cltv - 19;
    assert!(p.call(Who::B, |c, ctx| c.handle_block(h, &[], ctx)).is_ok());
    let err = p
        .call(Who::B, |c, ctx| c.handle_block(h + 1, &[], ctx))
        .unwrap_err();
    assert_eq!(
        err,
        fulmen_channel::ChannelError::Close(fulmen_channel::Violation::FulfilledHtlcDeadline {
            id
        })
    );
}

#[test]
fn revoked_commitment_records_describe_the_revoked_transaction() {
    let mut p = Pair::open(Sat(10_000_000), Msat(3_000_000_000));
    let _ = p.add(Who::A, 500_000_000, 1);
    let _ = p.add(Who::B, 200_000_000, 2);
    p.settle();
    // B's commitment holding both HTLCs; then revoke it with one more add.
    let b_txid = p
        .call(Who::B, |c, ctx| c.local_commitment_txid(ctx))
        .unwrap();
    let b_number = p.b.chan.established().unwrap().local_commit.number;
    p.take_events(Who::A);
    let _ = p.add(Who::A, 1_000_000, 3);
    p.settle();
    let records: Vec<_> = p
        .take_events(Who::A)
        .into_iter()
        .filter_map(|e| match e {
            ChannelEvent::RevokedRemoteCommitment(r) => Some(r),
            _ => None,
        })
        .collect();
    let r = records
        .iter()
        .find(|r| r.commitment_number == b_number)
        .expect("record of B's revoked commitment");
    assert_eq!(r.txid, b_txid);
    assert_eq!(r.to_self_delay, 144);
    // B's to_local: 3_000_000 + 500_000 - 200_000... minus nothing (A pays
    // the fee): B held 3_000_000 sat and offered 200_000.
    assert_eq!(r.to_local.map(|(_, v)| v), Some(Sat(2_800_000)));
    assert_eq!(r.htlcs.len(), 2);
    let mut amounts: Vec<u64> = r.htlcs.iter().map(|h| h.amount.0).collect();
    amounts.sort_unstable();
    assert_eq!(amounts, vec![200_000, 500_000]);
    // The secret is the one for that commitment of B's shachain.
    let seed = fulmen_script::shachain::ShachainSeed::new(secrets(2).per_commitment_seed);
    let expected = seed.secret_for_commitment(b_number).unwrap();
    assert!(r.per_commitment_secret.ct_eq(&expected));
    assert!(format!("{r:?}").contains("PerCommitmentSecret(<redacted>)"));
}
