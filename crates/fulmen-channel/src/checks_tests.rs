//! One test per BOLT 2 `open_channel` / `accept_channel` receiver clause.

use super::*;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::ScriptBuf;
use fulmen_types::{ChannelId, Features};
use fulmen_wire::{ChannelKeys, OpenTlvs, WireFeatures};

fn point(b: u8) -> PublicKey {
    PublicKey::from_secret_key(&Secp256k1::new(), &SecretKey::from_slice(&[b; 32]).unwrap())
}

fn keys() -> ChannelKeys {
    ChannelKeys {
        funding_pubkey: point(1),
        revocation_basepoint: point(2),
        payment_basepoint: point(3),
        delayed_payment_basepoint: point(4),
        htlc_basepoint: point(5),
        first_per_commitment_point: point(6),
    }
}

fn anchors_type() -> WireFeatures {
    let mut f = Features::empty();
    f.set_bit(12);
    f.set_bit(22);
    WireFeatures::new(f)
}

fn chain() -> ChainHash {
    ChainHash::REGTEST
}

fn open() -> OpenChannel {
    OpenChannel {
        chain_hash: chain(),
        temporary_channel_id: ChannelId([7; 32]),
        funding: Sat(1_000_000),
        push: Msat(0),
        dust_limit: Sat(546),
        max_htlc_value_in_flight: Msat(1_000_000_000),
        channel_reserve: Sat(10_000),
        htlc_minimum: Msat(1),
        feerate_per_kw: 2500,
        to_self_delay: 144,
        max_accepted_htlcs: 483,
        keys: keys(),
        channel_flags: 0,
        tlvs: OpenTlvs {
            upfront_shutdown_script: Some(ScriptBuf::new()),
            channel_type: Some(anchors_type()),
            unknown: vec![],
        },
    }
}

fn accept() -> AcceptChannel {
    AcceptChannel {
        temporary_channel_id: ChannelId([7; 32]),
        dust_limit: Sat(546),
        max_htlc_value_in_flight: Msat(1_000_000_000),
        channel_reserve: Sat(10_000),
        htlc_minimum: Msat(1),
        minimum_depth: 3,
        to_self_delay: 144,
        max_accepted_htlcs: 483,
        keys: keys(),
        tlvs: OpenTlvs {
            upfront_shutdown_script: Some(ScriptBuf::new()),
            channel_type: Some(anchors_type()),
            unknown: vec![],
        },
    }
}

fn cfg() -> ChannelConfig {
    ChannelConfig::default()
}

fn check(o: &OpenChannel) -> Result<ChannelTypeInfo, Violation> {
    check_open(o, &chain(), &cfg(), false)
}

#[test]
fn valid_open_is_accepted() {
    let t = check(&open()).unwrap();
    assert_eq!(t.base, fulmen_script::ChannelType::AnchorsZeroFeeHtlcTx);
}

#[test]
fn open_unknown_chain_hash_fails() {
    let mut o = open();
    o.chain_hash = ChainHash::BITCOIN;
    assert_eq!(check(&o), Err(Violation::UnknownChain));
}

#[test]
fn open_without_channel_type_fails() {
    let mut o = open();
    o.tlvs.channel_type = None;
    assert_eq!(check(&o), Err(Violation::ChannelTypeMissing));
}

#[test]
fn open_with_unsuitable_channel_type_fails() {
    let mut o = open();
    let mut f = Features::empty();
    f.set_bit(12);
    f.set_bit(50); // option_zeroconf: we do not trust unconfirmed funding
    o.tlvs.channel_type = Some(WireFeatures::new(f));
    assert_eq!(check(&o), Err(Violation::ChannelTypeUnsupported));
    o.tlvs.channel_type = Some(WireFeatures::new(Features::empty()));
    assert_eq!(check(&o), Err(Violation::ChannelTypeUnsupported));
}

#[test]
fn open_static_remotekey_only_is_accepted() {
    let mut o = open();
    let mut f = Features::empty();
    f.set_bit(12);
    o.tlvs.channel_type = Some(WireFeatures::new(f));
    assert_eq!(
        check(&o).unwrap().base,
        fulmen_script::ChannelType::StaticRemoteKey
    );
}

#[test]
fn open_scid_alias_on_announced_channel_fails() {
    let mut o = open();
    let mut f = anchors_type().into_features();
    f.set_bit(46);
    o.tlvs.channel_type = Some(WireFeatures::new(f));
    assert!(check(&o).unwrap().scid_alias);
    o.channel_flags = 1;
    assert_eq!(check(&o), Err(Violation::ScidAliasOnPublicChannel));
}

#[test]
fn open_undefined_channel_flags_are_ignored() {
    let mut o = open();
    o.channel_flags = 0xfe;
    assert!(check(&o).is_ok());
}

#[test]
fn open_large_channel_without_support_fails() {
    let mut o = open();
    o.funding = Sat(1 << 24);
    o.channel_reserve = Sat(200_000);
    let mut c = cfg();
    c.support_large_channel = false;
    assert_eq!(
        check_open(&o, &chain(), &c, false),
        Err(Violation::LargeChannelNotSupported { funding: o.funding })
    );
    c.support_large_channel = true;
    assert!(check_open(&o, &chain(), &c, false).is_ok());
    o.funding = Sat(MAX_MONEY_SAT + 1);
    assert!(matches!(
        check_open(&o, &chain(), &c, false),
        Err(Violation::FundingAboveMaxMoney { .. })
    ));
}

#[test]
fn open_push_above_funding_fails() {
    let mut o = open();
    o.push = Msat(1_000_000_001);
    assert_eq!(
        check(&o),
        Err(Violation::PushExceedsFunding { push: o.push })
    );
}

#[test]
fn open_unreasonable_to_self_delay_fails() {
    let mut o = open();
    o.to_self_delay = 2017;
    assert_eq!(
        check(&o),
        Err(Violation::ToSelfDelayTooLarge {
            delay: 2017,
            max: 2016
        })
    );
}

#[test]
fn open_max_accepted_htlcs_above_483_fails() {
    let mut o = open();
    o.max_accepted_htlcs = 484;
    assert_eq!(
        check(&o),
        Err(Violation::MaxAcceptedHtlcsTooLarge { value: 484 })
    );
    o.max_accepted_htlcs = 1;
    assert_eq!(
        check(&o),
        Err(Violation::MaxAcceptedHtlcsTooSmall { value: 1 })
    );
}

#[test]
fn open_unreasonable_feerate_fails() {
    let mut o = open();
    o.feerate_per_kw = 252;
    assert!(matches!(
        check(&o),
        Err(Violation::FeerateOutOfRange { feerate: 252, .. })
    ));
    o.feerate_per_kw = 250_001;
    assert!(matches!(
        check(&o),
        Err(Violation::FeerateOutOfRange { .. })
    ));
}

#[test]
fn open_dust_limit_above_reserve_fails() {
    let mut o = open();
    o.dust_limit = Sat(10_001);
    assert_eq!(
        check(&o),
        Err(Violation::DustLimitAboveReserve {
            dust_limit: Sat(10_001),
            reserve: Sat(10_000)
        })
    );
}

#[test]
fn open_dust_limit_below_354_fails() {
    let mut o = open();
    o.dust_limit = Sat(353);
    assert_eq!(
        check(&o),
        Err(Violation::DustLimitTooSmall {
            dust_limit: Sat(353)
        })
    );
    o.dust_limit = Sat(354);
    assert!(check(&o).is_ok());
}

#[test]
fn open_dust_limit_too_large_may_fail() {
    let mut o = open();
    o.channel_reserve = Sat(50_000);
    o.dust_limit = Sat(20_001);
    assert!(matches!(
        check(&o),
        Err(Violation::DustLimitTooLarge { .. })
    ));
}

#[test]
fn open_funder_cannot_pay_fee_fails() {
    let mut o = open();
    // The whole channel is pushed: nothing left for the fee and anchors.
    o.push = Msat(1_000_000_000);
    assert_eq!(check(&o), Err(Violation::FunderCannotPayFee));
    // Just enough: 1124 weight at 2500 sat/kw is 2810 sat, plus 660 sat of
    // anchors.
    o.push = Msat(1_000_000_000 - 3_470_000);
    assert!(check(&o).is_ok());
    o.push = Msat(1_000_000_000 - 3_469_999);
    assert_eq!(check(&o), Err(Violation::FunderCannotPayFee));
}

#[test]
fn open_both_balances_below_reserve_fails() {
    let mut o = open();
    o.funding = Sat(25_000);
    o.channel_reserve = Sat(20_000);
    o.push = Msat(10_000_000);
    // Allow the large reserve so that only this clause applies.
    let mut c = cfg();
    c.max_peer_reserve_ppm = 1_000_000;
    assert_eq!(
        check_open(&o, &chain(), &c, false),
        Err(Violation::BothBalancesBelowReserve)
    );
    o.channel_reserve = Sat(11_000);
    assert!(check_open(&o, &chain(), &c, false).is_ok());
}

#[test]
fn open_funding_too_small_may_fail() {
    let mut o = open();
    o.funding = Sat(19_999);
    o.channel_reserve = Sat(546);
    assert!(matches!(check(&o), Err(Violation::FundingTooSmall { .. })));
}

#[test]
fn open_policy_limits_may_fail() {
    let mut o = open();
    o.channel_reserve = Sat(200_001);
    assert!(matches!(check(&o), Err(Violation::ReserveTooLarge { .. })));
    let mut o = open();
    o.htlc_minimum = Msat(1_000_001);
    assert!(matches!(
        check(&o),
        Err(Violation::HtlcMinimumTooLarge { .. })
    ));
    let mut o = open();
    o.max_htlc_value_in_flight = Msat(9_999_999);
    assert!(matches!(
        check(&o),
        Err(Violation::MaxInFlightTooSmall { .. })
    ));
}

#[test]
fn open_invalid_upfront_shutdown_script_fails() {
    let mut o = open();
    o.tlvs.upfront_shutdown_script = Some(ScriptBuf::from_bytes(vec![0x6a, 1, 2]));
    assert_eq!(check(&o), Err(Violation::InvalidUpfrontShutdownScript));
    let mut p2wpkh = vec![0x00, 0x14];
    p2wpkh.extend([9; 20]);
    o.tlvs.upfront_shutdown_script = Some(ScriptBuf::from_bytes(p2wpkh));
    assert!(check(&o).is_ok());
}

fn check_acc(a: &AcceptChannel) -> Result<(), Violation> {
    check_accept(a, &open(), &cfg(), false)
}

#[test]
fn valid_accept_is_accepted() {
    assert_eq!(check_acc(&accept()), Ok(()));
}

#[test]
fn accept_wrong_temporary_channel_id_fails() {
    let mut a = accept();
    a.temporary_channel_id = ChannelId([8; 32]);
    assert_eq!(check_acc(&a), Err(Violation::TemporaryChannelIdMismatch));
}

#[test]
fn accept_without_channel_type_fails() {
    let mut a = accept();
    a.tlvs.channel_type = None;
    assert_eq!(check_acc(&a), Err(Violation::ChannelTypeMissing));
}

#[test]
fn accept_channel_type_mismatch_fails() {
    let mut a = accept();
    let mut f = Features::empty();
    f.set_bit(12);
    a.tlvs.channel_type = Some(WireFeatures::new(f));
    assert_eq!(check_acc(&a), Err(Violation::ChannelTypeMismatch));
}

#[test]
fn accept_unreasonable_minimum_depth_may_fail() {
    let mut a = accept();
    a.minimum_depth = 145;
    assert_eq!(
        check_acc(&a),
        Err(Violation::MinimumDepthTooLarge { depth: 145 })
    );
}

#[test]
fn accept_reserve_below_open_dust_limit_fails() {
    let mut a = accept();
    a.channel_reserve = Sat(545);
    a.dust_limit = Sat(400);
    assert_eq!(
        check_acc(&a),
        Err(Violation::ReserveBelowDustLimit {
            reserve: Sat(545),
            dust_limit: Sat(546)
        })
    );
}

#[test]
fn accept_dust_limit_above_open_reserve_fails() {
    let mut a = accept();
    a.dust_limit = Sat(10_001);
    a.channel_reserve = Sat(20_000);
    assert_eq!(
        check_acc(&a),
        Err(Violation::ReserveBelowDustLimit {
            reserve: Sat(10_000),
            dust_limit: Sat(10_001)
        })
    );
}

#[test]
fn accept_other_fields_have_open_requirements() {
    let mut a = accept();
    a.max_accepted_htlcs = 484;
    assert!(matches!(
        check_acc(&a),
        Err(Violation::MaxAcceptedHtlcsTooLarge { .. })
    ));
    let mut a = accept();
    a.to_self_delay = 5000;
    assert!(matches!(
        check_acc(&a),
        Err(Violation::ToSelfDelayTooLarge { .. })
    ));
    let mut a = accept();
    a.dust_limit = Sat(300);
    assert!(matches!(
        check_acc(&a),
        Err(Violation::DustLimitTooSmall { .. })
    ));
    let mut a = accept();
    a.tlvs.upfront_shutdown_script = Some(ScriptBuf::from_bytes(vec![1]));
    assert_eq!(check_acc(&a), Err(Violation::InvalidUpfrontShutdownScript));
}

#[test]
fn our_params_respect_the_peer() {
    let c = cfg();
    let peer = ChannelParams {
        dust_limit: Sat(15_000),
        max_htlc_value_in_flight: Msat(1),
        channel_reserve: Sat(400),
        htlc_minimum: Msat(1),
        to_self_delay: 6,
        max_accepted_htlcs: 30,
    };
    let p = our_params(&c, Sat(1_000_000), Some(&peer));
    // Our reserve covers the funder's dust limit; our dust limit stays
    // within the funder's reserve.
    assert!(p.channel_reserve >= peer.dust_limit);
    assert!(p.dust_limit <= peer.channel_reserve);
    assert!(p.dust_limit >= MIN_DUST_LIMIT);
    assert!(p.dust_limit <= p.channel_reserve);
    let p = our_params(&c, Sat(1_000_000), None);
    assert_eq!(p.channel_reserve, Sat(10_000));
    assert_eq!(p.max_htlc_value_in_flight, Msat(1_000_000_000));
}
