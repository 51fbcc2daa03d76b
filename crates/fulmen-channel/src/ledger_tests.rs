use super::*;
use proptest::prelude::*;
use std::collections::VecDeque;

fn onion() -> OnionPacket {
    OnionPacket(Box::new([0; fulmen_wire::ONION_PACKET_LEN]))
}

fn preimage(id: u64) -> PaymentPreimage {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&id.to_be_bytes());
    PaymentPreimage(b)
}

#[test]
fn inclusion_table_matches_bolt2_normal_operation() {
    use Side::{Local as L, Remote as R};
    use Stage::*;
    // (stage, in receiver's current, in proposer's current)
    let table = [
        (Proposed, false, false),
        (InReceiverCommit, true, false),
        (ReceiverRevoked, true, false),
        (InProposerCommit, true, true),
        (Done, true, true),
    ];
    for (stage, receiver, proposer) in table {
        assert_eq!(included(stage, L, R, View::Current), receiver, "{stage:?}");
        assert_eq!(included(stage, L, L, View::Current), proposer, "{stage:?}");
        // The next commitment of the receiver (signed by the proposer) has
        // every proposal; the proposer's next one only acknowledged ones.
        assert!(included(stage, L, R, View::Next));
        assert_eq!(
            included(stage, L, L, View::Next),
            stage >= ReceiverRevoked,
            "{stage:?}"
        );
        assert!(included(stage, R, R, View::Projected));
    }
}

/// One HTLC offered by us, fulfilled by the peer, step by step: the
/// classic ten states of an offered HTLC.
#[test]
fn offered_htlc_lifecycle() {
    let mut l = Ledger::new(Side::Local, Msat(10_000_000), Msat(0), 1000);
    l.add_htlc(
        Side::Local,
        0,
        Msat(1_000_000),
        PaymentHash([1; 32]),
        100,
        onion(),
        None,
    )
    .unwrap();
    let in_local = |l: &Ledger| l.spec(Side::Local, View::Current).unwrap().htlcs.len();
    let in_remote = |l: &Ledger| l.spec(Side::Remote, View::Current).unwrap().htlcs.len();
    assert!(l.has_changes_to_sign(Side::Local));
    assert_eq!((in_local(&l), in_remote(&l)), (0, 0));
    l.commit_sent(Side::Local); // we sign their commitment
    assert_eq!((in_local(&l), in_remote(&l)), (0, 1));
    assert!(!l.has_changes_to_sign(Side::Local));
    assert!(l.revoke_sent(Side::Remote).unwrap().is_empty());
    assert!(l.htlc(Side::Local, 0).unwrap().onion.is_none());
    assert!(l.has_changes_to_sign(Side::Remote));
    l.commit_sent(Side::Remote); // they sign ours
    assert_eq!((in_local(&l), in_remote(&l)), (1, 1));
    assert!(l.revoke_sent(Side::Local).unwrap().is_empty());
    assert_eq!(l.htlc(Side::Local, 0).unwrap().add_stage, Stage::Done);
    // The peer fulfills.
    l.remove_htlc(Side::Local, 0, Outcome::Fulfill(preimage(0)))
        .unwrap();
    assert_eq!(
        l.remove_htlc(Side::Local, 0, Outcome::Fail(vec![])),
        Err(RemoveError::AlreadyRemoved)
    );
    l.commit_sent(Side::Remote);
    assert_eq!((in_local(&l), in_remote(&l)), (0, 1));
    let s = l.spec(Side::Local, View::Current).unwrap();
    assert_eq!((s.local, s.remote), (Msat(9_000_000), Msat(1_000_000)));
    assert!(l.revoke_sent(Side::Local).unwrap().is_empty());
    l.commit_sent(Side::Local);
    assert_eq!((in_local(&l), in_remote(&l)), (0, 0));
    let settled = l.revoke_sent(Side::Remote).unwrap();
    assert_eq!(
        settled,
        vec![Settled::OutgoingRemoved {
            id: 0,
            outcome: Outcome::Fulfill(preimage(0))
        }]
    );
    assert!(l.is_clean());
    assert_eq!(
        (l.base_local, l.base_remote),
        (Msat(9_000_000), Msat(1_000_000))
    );
}

/// One HTLC received and failed by us: the ten states of a received HTLC,
/// with `IncomingAdded` only when irrevocably committed.
#[test]
fn received_htlc_lifecycle() {
    let mut l = Ledger::new(Side::Remote, Msat(0), Msat(10_000_000), 1000);
    assert_eq!(
        l.add_htlc(
            Side::Remote,
            1,
            Msat(5),
            PaymentHash([1; 32]),
            9,
            onion(),
            None
        ),
        Err(0)
    );
    l.add_htlc(
        Side::Remote,
        0,
        Msat(2_000),
        PaymentHash([1; 32]),
        9,
        onion(),
        None,
    )
    .unwrap();
    assert_eq!(
        l.check_removable(Side::Remote, 0).unwrap_err(),
        RemoveError::NotCommitted
    );
    l.commit_sent(Side::Remote);
    assert!(l.revoke_sent(Side::Local).unwrap().is_empty());
    l.commit_sent(Side::Local);
    assert_eq!(
        l.check_removable(Side::Remote, 0).unwrap_err(),
        RemoveError::NotCommitted
    );
    let settled = l.revoke_sent(Side::Remote).unwrap();
    assert!(matches!(&settled[..], [Settled::IncomingAdded(e)] if e.id == 0 && e.onion.is_some()));
    l.remove_htlc(Side::Remote, 0, Outcome::Fail(vec![1, 2]))
        .unwrap();
    assert!(l.htlc(Side::Remote, 0).unwrap().onion.is_none());
    l.commit_sent(Side::Local);
    assert!(l.revoke_sent(Side::Remote).unwrap().is_empty());
    l.commit_sent(Side::Remote);
    let settled = l.revoke_sent(Side::Local).unwrap();
    assert_eq!(settled, vec![Settled::IncomingRemoved { id: 0 }]);
    assert!(l.is_clean());
    assert_eq!((l.base_local, l.base_remote), (Msat(0), Msat(10_000_000)));
}

#[test]
fn fee_updates_apply_per_view_and_compact() {
    let mut l = Ledger::new(Side::Local, Msat(10_000_000), Msat(0), 1000);
    l.propose_fee(2000);
    l.propose_fee(3000);
    assert_eq!(l.spec(Side::Remote, View::Next).unwrap().feerate, 3000);
    assert_eq!(l.spec(Side::Remote, View::Current).unwrap().feerate, 1000);
    l.commit_sent(Side::Local);
    assert_eq!(l.spec(Side::Remote, View::Current).unwrap().feerate, 3000);
    assert_eq!(l.spec(Side::Local, View::Current).unwrap().feerate, 1000);
    l.revoke_sent(Side::Remote).unwrap();
    l.commit_sent(Side::Remote);
    assert_eq!(l.spec(Side::Local, View::Current).unwrap().feerate, 3000);
    l.revoke_sent(Side::Local).unwrap();
    assert!(l.fee_updates().is_empty());
    assert_eq!(l.base_feerate, 3000);
}

#[test]
fn uncommitted_fee_updates_are_superseded() {
    let mut l = Ledger::new(Side::Remote, Msat(0), Msat(10_000_000), 1000);
    for f in 0..10_000 {
        l.propose_fee(2000 + f);
    }
    assert_eq!(l.fee_updates().len(), 1);
    assert_eq!(l.spec(Side::Local, View::Next).unwrap().feerate, 11_999);
    l.commit_sent(Side::Remote);
    l.propose_fee(3000);
    assert_eq!(l.fee_updates().len(), 2);
    assert_eq!(l.spec(Side::Local, View::Current).unwrap().feerate, 11_999);
    assert_eq!(l.spec(Side::Local, View::Next).unwrap().feerate, 3000);
}

#[test]
fn disconnection_reverses_only_uncommitted_peer_updates() {
    let mut l = Ledger::new(Side::Remote, Msat(0), Msat(10_000_000), 1000);
    for id in 0..2 {
        l.add_htlc(
            Side::Remote,
            id,
            Msat(1000),
            PaymentHash([0; 32]),
            9,
            onion(),
            None,
        )
        .unwrap();
    }
    l.commit_sent(Side::Remote); // covers 0 and 1
    l.add_htlc(
        Side::Remote,
        2,
        Msat(1000),
        PaymentHash([0; 32]),
        9,
        onion(),
        None,
    )
    .unwrap();
    l.propose_fee(5000);
    l.drop_uncommitted(Side::Remote);
    assert!(l.htlc(Side::Remote, 2).is_none());
    assert!(l.htlc(Side::Remote, 1).is_some());
    assert_eq!(l.next_htlc_id(Side::Remote), 2);
    assert!(l.fee_updates().is_empty());
}

#[test]
fn proposals_come_back_in_order() {
    let mut l = Ledger::new(Side::Local, Msat(10_000_000), Msat(10_000_000), 1000);
    l.add_htlc(
        Side::Remote,
        0,
        Msat(1000),
        PaymentHash([0; 32]),
        9,
        onion(),
        None,
    )
    .unwrap();
    l.commit_sent(Side::Remote);
    l.revoke_sent(Side::Local).unwrap();
    l.commit_sent(Side::Local);
    l.revoke_sent(Side::Remote).unwrap();
    l.add_htlc(
        Side::Local,
        0,
        Msat(1000),
        PaymentHash([0; 32]),
        9,
        onion(),
        None,
    )
    .unwrap();
    l.propose_fee(2000);
    l.remove_htlc(Side::Remote, 0, Outcome::Fail(vec![7]))
        .unwrap();
    let p = l.proposals(Side::Local, Stage::Proposed);
    assert!(
        matches!(&p[..], [Proposal::Add(e), Proposal::Fee(2000), Proposal::Remove { id: 0, .. }] if e.id == 0)
    );
}

/// A message between two ledgers in the model below.
#[derive(Debug, Clone)]
enum Msg {
    Add(u64, u64),
    Fulfill(u64),
    Fail(u64),
    Fee(u32),
    Commit,
    Revoke,
}

struct Party {
    ledger: Ledger,
    /// Waiting for the revocation of the commitment we signed.
    awaiting_revoke: bool,
}

#[derive(Debug, Clone)]
enum Op {
    Add(bool, u64),
    Remove(bool, bool, u8),
    Fee(u32),
    Sign(bool),
    Deliver(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), 1u64..50_000).prop_map(|(a, m)| Op::Add(a, m)),
        (any::<bool>(), any::<bool>(), any::<u8>()).prop_map(|(a, f, i)| Op::Remove(a, f, i)),
        (253u32..20_000).prop_map(Op::Fee),
        any::<bool>().prop_map(Op::Sign),
        any::<bool>().prop_map(Op::Deliver),
        any::<bool>().prop_map(Op::Deliver),
    ]
}

fn deliver(to: &mut Party, msg: Msg) -> Option<Msg> {
    let l = &mut to.ledger;
    match msg {
        Msg::Add(id, amount) => {
            l.add_htlc(
                Side::Remote,
                id,
                Msat(amount),
                PaymentHash([0; 32]),
                9,
                onion(),
                None,
            )
            .unwrap();
            None
        }
        Msg::Fulfill(id) => {
            l.remove_htlc(Side::Local, id, Outcome::Fulfill(preimage(id)))
                .unwrap();
            None
        }
        Msg::Fail(id) => {
            l.remove_htlc(Side::Local, id, Outcome::Fail(vec![]))
                .unwrap();
            None
        }
        Msg::Fee(f) => {
            l.propose_fee(f);
            None
        }
        Msg::Commit => {
            l.commit_sent(Side::Remote);
            l.revoke_sent(Side::Local).unwrap();
            Some(Msg::Revoke)
        }
        Msg::Revoke => {
            assert!(to.awaiting_revoke);
            to.awaiting_revoke = false;
            l.revoke_sent(Side::Remote).unwrap();
            None
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Two ledgers exchanging updates, commitments and revocations in any
    /// order: each side's view of each commitment agrees with the other's
    /// whenever no message is in flight, and money is conserved in every
    /// view.
    #[test]
    fn two_ledgers_agree(ops in proptest::collection::vec(op(), 1..300)) {
        let total = Msat(20_000_000);
        let mut a = Party { ledger: Ledger::new(Side::Local, Msat(15_000_000), Msat(5_000_000), 1000), awaiting_revoke: false };
        let mut b = Party { ledger: Ledger::new(Side::Remote, Msat(5_000_000), Msat(15_000_000), 1000), awaiting_revoke: false };
        let mut to_b: VecDeque<Msg> = VecDeque::new();
        let mut to_a: VecDeque<Msg> = VecDeque::new();
        for op in ops {
            match op {
                Op::Add(from_a, amount) => {
                    let (p, q) = if from_a { (&mut a, &mut to_b) } else { (&mut b, &mut to_a) };
                    let spec = p.ledger.spec(Side::Remote, View::Next).unwrap();
                    if spec.local.0 >= amount + 1_000_000 {
                        let id = p.ledger.next_htlc_id(Side::Local);
                        p.ledger.add_htlc(Side::Local, id, Msat(amount), PaymentHash([0; 32]), 9, onion(), None).unwrap();
                        q.push_back(Msg::Add(id, amount));
                    }
                }
                Op::Remove(by_a, fulfill, pick) => {
                    let (p, q) = if by_a { (&mut a, &mut to_b) } else { (&mut b, &mut to_a) };
                    let ids: Vec<u64> = p.ledger.received.values()
                        .filter(|e| e.add_stage == Stage::Done && e.removal.is_none())
                        .map(|e| e.id).collect();
                    if !ids.is_empty() {
                        let id = ids[usize::from(pick) % ids.len()];
                        let outcome = if fulfill { Outcome::Fulfill(preimage(id)) } else { Outcome::Fail(vec![]) };
                        p.ledger.remove_htlc(Side::Remote, id, outcome).unwrap();
                        q.push_back(if fulfill { Msg::Fulfill(id) } else { Msg::Fail(id) });
                    }
                }
                Op::Fee(f) => {
                    a.ledger.propose_fee(f);
                    to_b.push_back(Msg::Fee(f));
                }
                Op::Sign(by_a) => {
                    let (p, q) = if by_a { (&mut a, &mut to_b) } else { (&mut b, &mut to_a) };
                    if !p.awaiting_revoke && p.ledger.has_changes_to_sign(Side::Local) {
                        p.ledger.commit_sent(Side::Local);
                        p.awaiting_revoke = true;
                        q.push_back(Msg::Commit);
                    }
                }
                Op::Deliver(to_a_side) => {
                    if to_a_side {
                        if let Some(m) = to_a.pop_front() {
                            if let Some(reply) = deliver(&mut a, m) { to_b.push_back(reply); }
                        }
                    } else if let Some(m) = to_b.pop_front() {
                        if let Some(reply) = deliver(&mut b, m) { to_a.push_back(reply); }
                    }
                }
            }
            for p in [&a, &b] {
                for owner in [Side::Local, Side::Remote] {
                    for view in [View::Current, View::Next, View::Projected] {
                        let s = p.ledger.spec(owner, view).unwrap();
                        let inflight = Msat::checked_sum(s.htlcs.iter().map(|h| h.amount)).unwrap();
                        prop_assert_eq!(s.local.0 + s.remote.0 + inflight.0, total.0);
                    }
                }
            }
            if to_b.is_empty() && to_a.is_empty() {
                for owner in [Side::Local, Side::Remote] {
                    for view in [View::Current, View::Next, View::Projected] {
                        let sa = a.ledger.spec(owner, view).unwrap();
                        let sb = b.ledger.spec(owner.other(), view).unwrap();
                        prop_assert_eq!(sa, sb.mirrored());
                    }
                }
            }
        }
    }
}
