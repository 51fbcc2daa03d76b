//! BOLT 2 "Bounding exposure to trimmed in-flight HTLCs:
//! `max_dust_htlc_exposure_msat`" and the dust rules of `update_fee`, one
//! test per clause.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use fulmen_channel::{
    AddError, ApiError, Channel, ChannelConfig, ChannelError, ChannelEvent, DustExposure, Violation,
};
use fulmen_script::Side;
use fulmen_types::{Msat, Sat};
use fulmen_wire::{Message, UpdateFee};

const FUNDING: Sat = Sat(10_000_000);
const PUSH: Msat = Msat(4_000_000_000);
/// Trimmed from both anchor commitments (546-sat dust limits, zero-fee
/// HTLC transactions): 545 whole satoshis.
const ANCHOR_DUST: u64 = 545_999;

fn open(config_a: ChannelConfig, config_b: ChannelConfig) -> Pair {
    let mut p = Pair::new(config_a, config_b);
    let setup = p.outbound_setup(FUNDING, PUSH);
    p.open_until_funded(setup);
    p.confirm_funding();
    assert_eq!(p.a.chan.phase(), "normal");
    p.take_events(Who::A);
    p.take_events(Who::B);
    p
}

/// The tests' limit: 5,000,000 msat, nine 546-sat-minus-one HTLCs.
fn base() -> ChannelConfig {
    ChannelConfig {
        max_dust_htlc_exposure: Msat(5_000_000),
        ..ChannelConfig::default()
    }
}

fn legacy() -> ChannelConfig {
    ChannelConfig {
        prefer_anchors: false,
        ..base()
    }
}

fn try_add(p: &mut Pair, who: Who, amount: u64, tag: u64) -> Result<u64, AddError> {
    let h = p.height;
    let (id, out) = p.call(who, |c, ctx| {
        c.add_htlc(Msat(amount), hash(tag), h + 100, onion(tag), None, ctx)
    })?;
    p.apply(who, out);
    Ok(id)
}

fn exposure(p: &Pair, who: Who) -> DustExposure {
    let end = match who {
        Who::A => &p.a,
        Who::B => &p.b,
    };
    end.chan.established().unwrap().dust_exposure().unwrap()
}

/// "when offering an HTLC: if the HTLC's `amount_msat` is smaller than the
/// remote `dust_limit_satoshis` plus the HTLC-success fee [...] and the
/// `amount_msat` plus the dust balance of the remote transaction is greater
/// than `max_dust_htlc_exposure_msat`: SHOULD NOT send this HTLC".
#[test]
fn bolt2_offering_a_dust_htlc_over_the_limit_is_refused() {
    let mut p = open(base(), base());
    // Nine dust HTLCs fit under 5 000 000 msat, the tenth does not.
    for tag in 0..9 {
        try_add(&mut p, Who::A, ANCHOR_DUST, tag).unwrap();
    }
    assert_eq!(
        exposure(&p, Who::A),
        DustExposure {
            local: Msat(9 * ANCHOR_DUST),
            remote: Msat(9 * ANCHOR_DUST),
        }
    );
    let before = p.a.chan.clone();
    let queued = p.to_b.len();
    let err = try_add(&mut p, Who::A, ANCHOR_DUST, 9).unwrap_err();
    assert_eq!(
        err,
        AddError::DustExposureExceeded {
            commitment: Side::Remote,
            dust_balance: Msat(10 * ANCHOR_DUST),
            max: Msat(5_000_000),
        }
    );
    assert!(p.a.chan == before, "a refused add changed the state");
    assert_eq!(p.to_b.len(), queued, "nothing sent");
    // An HTLC that is not trimmed adds no dust: still allowed.
    try_add(&mut p, Who::A, 546_000, 9).unwrap();
    // So is dust once earlier dust is removed (here: settled).
    p.settle();
    for id in 0..3 {
        let out = p.call(Who::B, |c, _| c.fail_htlc(id, vec![1])).unwrap();
        p.apply(Who::B, out);
    }
    p.settle();
    try_add(&mut p, Who::A, ANCHOR_DUST, 10).unwrap();
    p.settle();
}

/// The exposure counts HTLCs of both directions: the peer's dust HTLCs
/// trimmed from a commitment use up the same limit.
#[test]
fn bolt2_dust_balance_counts_both_directions() {
    let mut p = open(base(), base());
    for tag in 0..5 {
        try_add(&mut p, Who::B, ANCHOR_DUST, tag).unwrap();
    }
    p.settle();
    for tag in 5..9 {
        try_add(&mut p, Who::A, ANCHOR_DUST, tag).unwrap();
    }
    assert!(matches!(
        try_add(&mut p, Who::A, ANCHOR_DUST, 9),
        Err(AddError::DustExposureExceeded { .. })
    ));
}

/// Without anchors the HTLC transactions pay their own fee, so the trimming
/// threshold differs per commitment: at 2500 sat/kw an HTLC we offer is
/// trimmed from the peer's commitment below 546 + 1757 (HTLC-success) sat
/// and from ours below 546 + 1657 (HTLC-timeout) sat. A 2250-sat HTLC is
/// dust only on the peer's side, and only that side's balance counts.
#[test]
fn bolt2_offering_uses_each_commitments_trimming_rules_without_anchors() {
    let mut p = open(legacy(), legacy());
    let amount = 2_250_000;
    try_add(&mut p, Who::A, amount, 0).unwrap();
    try_add(&mut p, Who::A, amount, 1).unwrap();
    assert_eq!(
        exposure(&p, Who::A),
        DustExposure {
            local: Msat(0),
            remote: Msat(2 * amount),
        }
    );
    assert_eq!(
        try_add(&mut p, Who::A, amount, 2).unwrap_err(),
        AddError::DustExposureExceeded {
            commitment: Side::Remote,
            dust_balance: Msat(3 * amount),
            max: Msat(5_000_000),
        }
    );
    // Above 2303 sat it is trimmed from neither.
    try_add(&mut p, Who::A, 2_303_000, 2).unwrap();
    p.settle();
}

/// "when receiving an HTLC: if the HTLC's `amount_msat` is smaller than the
/// remote `dust_limit_satoshis` plus the HTLC-timeout fee [...] and the
/// `amount_msat` plus the dust balance of the remote transaction is greater
/// than `max_dust_htlc_exposure_msat`: SHOULD fail this HTLC once it's
/// committed, SHOULD NOT reveal a preimage for this HTLC". The HTLC is
/// accepted (not a channel failure), flagged, and the flag reaches the node
/// with `HtlcAdded` and survives a restart.
#[test]
fn bolt2_receiving_a_dust_htlc_over_the_limit_flags_it_for_failure() {
    let b_config = ChannelConfig {
        max_dust_htlc_exposure: Msat(1_000_000),
        ..base()
    };
    let mut p = open(base(), b_config);
    for tag in 0..3 {
        try_add(&mut p, Who::A, 400_000, tag).unwrap();
    }
    // Not dust: never flagged, whatever the exposure.
    try_add(&mut p, Who::A, 2_000_000, 3).unwrap();
    p.settle();
    let added: Vec<u64> = p
        .take_events(Who::B)
        .into_iter()
        .filter_map(|e| match e {
            ChannelEvent::HtlcAdded(h) => Some(h.id),
            _ => None,
        })
        .collect();
    assert_eq!(added, vec![0, 1, 2, 3]);
    let flags: Vec<bool> = (0..4)
        .map(|id| p.b.chan.htlc_over_dust_exposure(id))
        .collect();
    assert_eq!(flags, vec![false, false, true, false]);
    assert!(!p.a.chan.htlc_over_dust_exposure(2), "only incoming HTLCs");
    // The flag is part of the persisted state (format version 2).
    let restored = Channel::decode_state(&p.b.chan.encode_state()).unwrap();
    assert!(restored.htlc_over_dust_exposure(2));
    assert!(!restored.htlc_over_dust_exposure(1));
    // The node fails it; the channel stays open.
    let out = p.call(Who::B, |c, _| c.fail_htlc(2, vec![7])).unwrap();
    p.apply(Who::B, out);
    p.settle();
    assert!(p
        .take_events(Who::A)
        .iter()
        .any(|e| matches!(e, ChannelEvent::HtlcFailed { id: 2, .. })));
    assert_eq!(p.b.chan.phase(), "normal");
}

fn update_fee(p: &Pair, feerate: u32) -> UpdateFee {
    UpdateFee {
        channel_id: p.a.chan.channel_id(),
        feerate_per_kw: feerate,
        unknown_tlvs: vec![],
    }
}

/// Two 3000-sat HTLCs, untrimmed at 2500 sat/kw without anchors; at
/// 5000 sat/kw both are trimmed from both commitments (HTLC-success
/// 3515 sat, HTLC-timeout 3315 sat, plus 546): 6 000 000 msat of dust.
fn legacy_with_two_htlcs(config_a: ChannelConfig) -> Pair {
    let mut p = open(config_a, legacy());
    try_add(&mut p, Who::A, 3_000_000, 0).unwrap();
    try_add(&mut p, Who::B, 3_000_000, 1).unwrap();
    p.settle();
    assert_eq!(
        exposure(&p, Who::A),
        DustExposure {
            local: Msat(0),
            remote: Msat(0),
        }
    );
    p
}

/// `update_fee`, sending node: "if `option_anchors` was not negotiated: if
/// the `update_fee` increases `feerate_per_kw`: if the dust balance of the
/// remote transaction at the updated `feerate_per_kw` is greater than
/// `max_dust_htlc_exposure_msat`: MAY NOT send `update_fee`".
#[test]
fn bolt2_update_fee_that_trims_past_the_limit_is_not_sent() {
    let mut p = legacy_with_two_htlcs(legacy());
    let before = p.a.chan.clone();
    let err = p
        .call(Who::A, |c, ctx| c.update_fee(5000, ctx))
        .unwrap_err();
    assert_eq!(
        err,
        ApiError::FeeDustExposureExceeded {
            commitment: Side::Remote,
            dust_balance: Msat(6_000_000),
            max: Msat(5_000_000),
        }
    );
    assert!(p.a.chan == before && p.to_b.is_empty());
    // An increase that trims nothing more, and any decrease, are sent.
    for feerate in [3000, 1000] {
        let out = p.call(Who::A, |c, ctx| c.update_fee(feerate, ctx)).unwrap();
        p.apply(Who::A, out);
        p.settle();
    }
}

/// Two legacy channel ends with two 3000-sat HTLCs, B failing on dust fee
/// increases or not; A's own limit is high enough for it to send 5000.
fn legacy_receiver(fail_on_dust_fee_increase: bool) -> Pair {
    let mut p = Pair::new(
        ChannelConfig {
            max_dust_htlc_exposure: Msat(100_000_000),
            ..legacy()
        },
        ChannelConfig {
            fail_on_dust_fee_increase,
            ..legacy()
        },
    );
    let setup = p.outbound_setup(FUNDING, PUSH);
    p.open_until_funded(setup);
    p.confirm_funding();
    try_add(&mut p, Who::A, 3_000_000, 0).unwrap();
    try_add(&mut p, Who::B, 3_000_000, 1).unwrap();
    p.settle();
    p.take_events(Who::A);
    p.take_events(Who::B);
    p
}

/// `update_fee`, receiving node: "if `option_anchors` was not negotiated: if
/// the `update_fee` increases `feerate_per_kw`: if the dust balance of the
/// remote transaction at the updated `feerate_per_kw` is greater then
/// `max_dust_htlc_exposure_msat`: MAY fail the channel". With
/// `fail_on_dust_fee_increase` we do, and the rejected message changes
/// nothing; an increase that trims nothing more is accepted.
#[test]
fn bolt2_received_update_fee_that_trims_past_the_limit_may_fail_the_channel() {
    let mut p = legacy_receiver(true);
    let before = p.b.chan.clone();
    p.to_b.push_back(Message::UpdateFee(update_fee(&p, 5000)));
    let err = p.deliver_one(Who::B).unwrap().unwrap_err();
    assert_eq!(
        err,
        ChannelError::Close(Violation::FeeDustExposureExceeded {
            feerate: 5000,
            commitment: Side::Remote,
            dust_balance: Msat(6_000_000),
            max: Msat(5_000_000),
        })
    );
    assert!(p.b.chan == before, "a rejected message changed the state");
    p.to_b.push_back(Message::UpdateFee(update_fee(&p, 3000)));
    p.deliver_one(Who::B).unwrap().unwrap();
}

/// The same `update_fee` under the default policy: accepted and committed
/// (the MAY is not taken); the dust limit then holds for new HTLCs.
#[test]
fn bolt2_received_update_fee_over_the_dust_limit_is_accepted_by_default() {
    let mut p = legacy_receiver(false);
    let out = p.call(Who::A, |c, ctx| c.update_fee(5000, ctx)).unwrap();
    p.apply(Who::A, out);
    p.settle();
    assert_eq!(p.b.chan.commitment_spec(Side::Local).unwrap().feerate, 5000);
    assert_eq!(p.b.chan.phase(), "normal");
    assert_eq!(
        exposure(&p, Who::B),
        DustExposure {
            local: Msat(6_000_000),
            remote: Msat(6_000_000),
        }
    );
    // Already over the limit: B sends no new dust, but may send non-dust.
    assert!(matches!(
        try_add(&mut p, Who::B, 1_000_000, 2),
        Err(AddError::DustExposureExceeded { .. })
    ));
    try_add(&mut p, Who::B, 5_000_000, 2).unwrap();
    p.settle();
}

/// With `option_anchors` the HTLC transactions carry no fee, so trimming
/// does not depend on the feerate: `update_fee` is never refused for dust.
#[test]
fn bolt2_update_fee_dust_rule_applies_only_without_anchors() {
    let mut p = open(base(), base());
    for tag in 0..9 {
        try_add(&mut p, Who::A, ANCHOR_DUST, tag).unwrap();
    }
    p.settle();
    let out = p.call(Who::A, |c, ctx| c.update_fee(50_000, ctx)).unwrap();
    p.apply(Who::A, out);
    p.settle();
    assert_eq!(
        p.b.chan.commitment_spec(Side::Local).unwrap().feerate,
        50_000
    );
}
