//! The persisted state format: round trips at every phase, and hostile
//! (corrupted) bytes never panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use fulmen_channel::Channel;
use fulmen_types::{Msat, Sat};
use proptest::prelude::*;

/// A normal channel with HTLCs in every stage, encoded.
fn busy_state() -> Vec<u8> {
    let mut p = Pair::open(Sat(10_000_000), Msat(4_000_000_000));
    let id = p.add(Who::A, 5_000_000, 1);
    let _ = p.add(Who::B, 7_000_000, 2);
    p.settle();
    let out = p
        .call(Who::B, |c, _| c.fulfill_htlc(id, preimage(1)))
        .unwrap();
    p.apply(Who::B, out);
    let _ = p.add(Who::A, 9_000_000, 3);
    p.sign(Who::A);
    p.deliver_one(Who::B);
    p.a.chan.encode_state()
}

#[test]
fn busy_state_round_trips_and_is_compact() {
    let bytes = busy_state();
    let c = Channel::decode_state(&bytes).unwrap();
    assert_eq!(c.encode_state(), bytes);
    // Two onions (ours unacknowledged, the peer's unanswered) dominate.
    assert!(bytes.len() < 2 * 1366 + 2000, "{} bytes", bytes.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn corrupted_states_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let mut bytes = busy_state();
        for (i, x) in flips {
            let n = bytes.len();
            bytes[i % n] ^= x;
        }
        let _ = Channel::decode_state(&bytes);
        let n = bytes.len();
        let _ = Channel::decode_state(&bytes[..cut % n]);
    }
}
