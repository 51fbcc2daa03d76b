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
