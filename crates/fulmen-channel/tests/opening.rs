//! Channel establishment v1: both roles through `channel_ready`,
//! `channel_type` negotiation, `minimum_depth`, aliases, large channels,
//! funding signature checks, disconnection and timeouts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use fulmen_channel::{
    ApiError, Channel, ChannelConfig, ChannelError, ChannelEvent, CloseReason, Violation,
};
use fulmen_script::ChannelType;
use fulmen_types::{Feature, Features, Msat, Sat, ShortChannelId};
use fulmen_wire::Message;

#[test]
fn open_as_funder_and_fundee_through_channel_ready() {
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let setup = p.outbound_setup(Sat(5_000_000), Msat(1_000_000_000));
    p.open_until_funded(setup);
    assert_eq!(p.a.chan.phase(), "awaiting_funding");
    assert_eq!(p.b.chan.phase(), "awaiting_funding");
    // Both learned the funding-derived channel id.
    let cid = p.a.chan.channel_id();
    assert_eq!(cid, p.b.chan.channel_id());
    for who in [Who::A, Who::B] {
        assert!(p.end(who).events.iter().any(|e| matches!(
            e,
            ChannelEvent::ChannelIdAssigned { channel_id, .. } if *channel_id == cid
        )));
    }
    // The funder keeps the funding transaction for rebroadcast.
    assert_eq!(
        p.a.chan.funding_transaction().unwrap().compute_txid(),
        p.funding_tx.as_ref().unwrap().compute_txid()
    );
    assert!(p.b.chan.funding_transaction().is_none());
    p.confirm_funding();
    assert_eq!(p.a.chan.phase(), "normal");
    assert_eq!(p.b.chan.phase(), "normal");
    let ready = |e: &End| {
        e.events.iter().find_map(|e| match e {
            ChannelEvent::ChannelReady {
                short_channel_id,
                local_alias,
                remote_alias,
                ..
            } => Some((*short_channel_id, *local_alias, *remote_alias)),
            _ => None,
        })
    };
    let (scid_a, alias_a, remote_a) = ready(&p.a).unwrap();
    let (scid_b, alias_b, remote_b) = ready(&p.b).unwrap();
    // The real scid: confirmation block, second transaction, output 1.
    assert_eq!(scid_a, scid_b);
    assert_eq!(scid_a, ShortChannelId::new(800_001, 1, 1).unwrap());
    // Each side learned the other's alias from channel_ready.
    assert_eq!(remote_a, Some(alias_b));
    assert_eq!(remote_b, Some(alias_a));
    // Balances: the push went to the fundee.
    assert_eq!(p.b.chan.balances().unwrap().0, Msat(1_000_000_000));
    assert_eq!(p.a.chan.balances().unwrap().0, Msat(4_000_000_000));
}

#[test]
fn anchors_are_the_default_channel_type() {
    let p = Pair::open(Sat(1_000_000), Msat(0));
    for who in [&p.a, &p.b] {
        let t = who.chan.established().unwrap().core.channel_type;
        assert_eq!(t.base, ChannelType::AnchorsZeroFeeHtlcTx);
        assert!(!t.scid_alias);
    }
}

fn open_with(
    their_features: Features,
    config_a: ChannelConfig,
    announce: bool,
) -> (Pair, Result<(), fulmen_channel::Violation>) {
    let mut p = Pair::new(config_a, ChannelConfig::default());
    let mut setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    setup.their_features = their_features;
    setup.announce = announce;
    let r = p.call(Who::A, |_, ctx| Channel::new_outbound(setup, ctx));
    match r {
        Ok((chan, out)) => {
            p.a.chan = chan;
            p.apply(Who::A, out);
            (p, Ok(()))
        }
        Err(e) => (p, Err(e)),
    }
}

fn sent_channel_type(p: &Pair) -> Features {
    let Some(Message::OpenChannel(o)) = p.to_b.front() else {
        panic!()
    };
    o.tlvs.channel_type.clone().unwrap().into_features()
}

#[test]
fn static_remotekey_when_the_peer_lacks_anchors() {
    let theirs = Features::empty().with_optional(Feature::StaticRemoteKey);
    let (p, r) = open_with(theirs, ChannelConfig::default(), false);
    r.unwrap();
    let f = sent_channel_type(&p);
    assert_eq!(f.bits().collect::<Vec<_>>(), vec![12]);
}

#[test]
fn scid_alias_on_unannounced_channels_when_wanted() {
    let config = ChannelConfig {
        want_scid_alias: true,
        ..ChannelConfig::default()
    };
    let (p, r) = open_with(features(), config.clone(), false);
    r.unwrap();
    assert_eq!(
        sent_channel_type(&p).bits().collect::<Vec<_>>(),
        vec![12, 22, 46]
    );
    // Never on an announced channel.
    let (p, r) = open_with(features(), config, true);
    r.unwrap();
    assert_eq!(
        sent_channel_type(&p).bits().collect::<Vec<_>>(),
        vec![12, 22]
    );
}

#[test]
fn scid_alias_channel_end_to_end() {
    let config = ChannelConfig {
        want_scid_alias: true,
        ..ChannelConfig::default()
    };
    let mut p = Pair::new(config, ChannelConfig::default());
    let setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    p.open_until_funded(setup);
    p.confirm_funding();
    assert!(p.b.chan.established().unwrap().core.channel_type.scid_alias);
    assert_eq!(
        p.b.chan.established().unwrap().remote_alias,
        Some(ShortChannelId(0xa11a5))
    );
}

#[test]
fn no_common_channel_type() {
    let (_, r) = open_with(Features::empty(), ChannelConfig::default(), false);
    assert_eq!(r, Err(Violation::NoCommonChannelType));
}

#[test]
fn large_channel_needs_both_sides() {
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let mut setup = p.outbound_setup(Sat(1 << 24), Msat(0));
    setup.their_features = Features::empty()
        .with_optional(Feature::StaticRemoteKey)
        .with_optional(Feature::AnchorsZeroFeeHtlcTx);
    let r = p.call(Who::A, |_, ctx| Channel::new_outbound(setup, ctx));
    assert!(matches!(r, Err(Violation::LargeChannelNotSupported { .. })));
    // Both support it: a 1 BTC channel opens.
    let p = Pair::open(Sat(100_000_000), Msat(0));
    assert_eq!(p.a.chan.phase(), "normal");
    // A fundee that does not support it refuses.
    let mut p = Pair::new(
        ChannelConfig::default(),
        ChannelConfig {
            support_large_channel: false,
            ..ChannelConfig::default()
        },
    );
    let setup = p.outbound_setup(Sat(1 << 24), Msat(0));
    let (chan, out) = p
        .call(Who::A, |_, ctx| Channel::new_outbound(setup, ctx))
        .unwrap();
    p.a.chan = chan;
    p.apply(Who::A, out);
    let Some(Message::OpenChannel(open)) = p.to_b.pop_front() else {
        panic!()
    };
    let inbound = p.inbound_setup();
    let r = p.call(Who::B, |_, ctx| Channel::new_inbound(&open, inbound, ctx));
    assert!(matches!(
        r,
        Err(ChannelError::Close(
            Violation::LargeChannelNotSupported { .. }
        ))
    ));
}

#[test]
fn channel_ready_waits_for_minimum_depth() {
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    p.open_until_funded(setup);
    assert_eq!(
        p.a.chan.established().unwrap().core.minimum_depth,
        3,
        "the fundee's minimum_depth"
    );
    p.block(&[]);
    let tx = p.funding_tx.clone().unwrap();
    p.block(&[tx]); // depth 1
    assert!(p.to_a.is_empty() && p.to_b.is_empty());
    p.block(&[]); // depth 2
    assert!(p.to_a.is_empty() && p.to_b.is_empty());
    p.block(&[]); // depth 3
    assert!(matches!(p.to_b.front(), Some(Message::ChannelReady(_))));
    assert!(matches!(p.to_a.front(), Some(Message::ChannelReady(_))));
    assert_eq!(p.a.chan.phase(), "awaiting_funding");
    p.flush();
    assert_eq!(p.a.chan.phase(), "normal");
}

#[test]
fn disconnection_during_funding_resends_channel_ready() {
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    p.open_until_funded(setup);
    for who in [Who::A, Who::B] {
        let out = p.call(who, |c, _| c.peer_disconnected());
        p.apply(who, out);
    }
    // Depth is reached while disconnected: channel_ready is owed.
    let tx = p.funding_tx.clone().unwrap();
    p.block(&[tx]);
    p.block(&[]);
    p.block(&[]);
    assert!(p.to_a.is_empty() && p.to_b.is_empty());
    for who in [Who::A, Who::B] {
        let out = p.call(who, |c, ctx| c.peer_reconnected(ctx)).unwrap();
        p.apply(who, out);
    }
    p.flush();
    assert_eq!(p.a.chan.phase(), "normal");
    assert_eq!(p.b.chan.phase(), "normal");
    // The states round-trip with the funding confirmation.
    let bytes = p.a.chan.encode_state();
    let mut expected = p.a.chan.clone();
    expected.peer_disconnected();
    assert!(Channel::decode_state(&bytes).unwrap() == expected);
}

#[test]
fn funding_tx_must_pay_the_funding_output() {
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    let (chan, out) = p
        .call(Who::A, |_, ctx| Channel::new_outbound(setup, ctx))
        .unwrap();
    p.a.chan = chan;
    p.apply(Who::A, out);
    let Some(Message::OpenChannel(open)) = p.to_b.pop_front() else {
        panic!()
    };
    let inbound = p.inbound_setup();
    let (chan, out) = p
        .call(Who::B, |_, ctx| Channel::new_inbound(&open, inbound, ctx))
        .unwrap();
    p.b.chan = chan;
    p.apply(Who::B, out);
    p.deliver_one(Who::A).unwrap().unwrap();
    let script =
        p.a.events
            .iter()
            .find_map(|e| match e {
                ChannelEvent::FundingNeeded { script_pubkey, .. } => Some(script_pubkey.clone()),
                _ => None,
            })
            .unwrap();
    let wrong_amount = funding_tx(Sat(999_999), script.clone());
    let r = p.call(Who::A, |c, ctx| c.funding_tx_built(wrong_amount, 1, ctx));
    assert_eq!(r, Err(ApiError::FundingOutputMismatch));
    let wrong_script = funding_tx(Sat(1_000_000), p2wpkh(1));
    let r = p.call(Who::A, |c, ctx| c.funding_tx_built(wrong_script, 1, ctx));
    assert_eq!(r, Err(ApiError::FundingOutputMismatch));
    let good = funding_tx(Sat(1_000_000), script);
    let r = p.call(Who::A, |c, ctx| c.funding_tx_built(good.clone(), 7, ctx));
    assert_eq!(r, Err(ApiError::FundingOutputMismatch));
    assert!(p
        .call(Who::A, |c, ctx| c.funding_tx_built(good, 1, ctx))
        .is_ok());
}

#[test]
fn funding_signatures_are_checked() {
    // funding_created with a bad signature: the fundee fails the channel.
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    let (chan, out) = p
        .call(Who::A, |_, ctx| Channel::new_outbound(setup, ctx))
        .unwrap();
    p.a.chan = chan;
    p.apply(Who::A, out);
    let Some(Message::OpenChannel(open)) = p.to_b.pop_front() else {
        panic!()
    };
    let inbound = p.inbound_setup();
    let (chan, out) = p
        .call(Who::B, |_, ctx| Channel::new_inbound(&open, inbound, ctx))
        .unwrap();
    p.b.chan = chan;
    p.apply(Who::B, out);
    p.deliver_one(Who::A).unwrap().unwrap();
    let script =
        p.a.events
            .iter()
            .find_map(|e| match e {
                ChannelEvent::FundingNeeded { script_pubkey, .. } => Some(script_pubkey.clone()),
                _ => None,
            })
            .unwrap();
    let tx = funding_tx(Sat(1_000_000), script);
    let out = p
        .call(Who::A, |c, ctx| c.funding_tx_built(tx, 1, ctx))
        .unwrap();
    p.apply(Who::A, out);
    let Some(Message::FundingCreated(fc)) = p.to_b.pop_front() else {
        panic!()
    };
    let mut bad = fc.clone();
    let mut sig = bad.signature.serialize_compact();
    sig[40] ^= 1;
    bad.signature = bitcoin::secp256k1::ecdsa::Signature::from_compact(&sig).unwrap();
    p.to_b.push_back(Message::FundingCreated(bad));
    let err = p.deliver_one(Who::B).unwrap().unwrap_err();
    assert_eq!(
        err,
        ChannelError::Close(Violation::InvalidCommitmentSignature)
    );
    assert_eq!(p.b.chan.phase(), "inbound_opening");
    // The genuine one passes; then a bad funding_signed is refused.
    p.to_b.push_back(Message::FundingCreated(fc));
    p.deliver_one(Who::B).unwrap().unwrap();
    let Some(Message::FundingSigned(mut fs)) = p.to_a.pop_front() else {
        panic!()
    };
    let mut sig = fs.signature.serialize_compact();
    sig[40] ^= 1;
    fs.signature = bitcoin::secp256k1::ecdsa::Signature::from_compact(&sig).unwrap();
    p.to_a.push_back(Message::FundingSigned(fs));
    let err = p.deliver_one(Who::A).unwrap().unwrap_err();
    assert_eq!(
        err,
        ChannelError::Close(Violation::InvalidCommitmentSignature)
    );
    assert!(
        p.a.broadcasts.is_empty(),
        "no funding broadcast without a valid funding_signed"
    );
    // Failing the channel before funding just forgets it.
    let out = p.call(Who::A, |c, ctx| c.force_close(ctx)).unwrap();
    assert!(out.broadcasts.is_empty());
    assert_eq!(p.a.chan.phase(), "closed");
}

#[test]
fn disconnection_before_funding_forgets_the_channel() {
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    let (chan, out) = p
        .call(Who::A, |_, ctx| Channel::new_outbound(setup, ctx))
        .unwrap();
    p.a.chan = chan;
    p.apply(Who::A, out);
    let out = p.call(Who::A, |c, _| c.peer_disconnected());
    assert!(out.events.iter().any(|e| matches!(
        e,
        ChannelEvent::ChannelClosed {
            reason: CloseReason::Abandoned,
            ..
        }
    )));
    assert_eq!(p.a.chan.phase(), "closed");
}

#[test]
fn fundee_forgets_unconfirmed_funding_after_2016_blocks() {
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    p.open_until_funded(setup);
    let start = p.height;
    p.height = start + 2014;
    p.block(&[]);
    assert_eq!(p.b.chan.phase(), "awaiting_funding");
    p.block(&[]);
    assert_eq!(p.b.chan.phase(), "closed");
    assert!(p.b.events.iter().any(|e| matches!(
        e,
        ChannelEvent::ChannelClosed {
            reason: CloseReason::FundingTimeout,
            ..
        }
    )));
    // The funder keeps waiting (its money is in the funding transaction).
    assert_eq!(p.a.chan.phase(), "awaiting_funding");
}

#[test]
fn upfront_shutdown_script_is_committed_in_open_channel() {
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let mut setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    setup.upfront_shutdown = true;
    let (_, out) = p
        .call(Who::A, |_, ctx| Channel::new_outbound(setup, ctx))
        .unwrap();
    let Message::OpenChannel(o) = &out.messages[0] else {
        panic!()
    };
    assert_eq!(o.tlvs.upfront_shutdown_script, Some(p2wpkh(0xa1)));
    // Without the commitment, the TLV is present but empty.
    let setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    let (_, out) = p
        .call(Who::A, |_, ctx| Channel::new_outbound(setup, ctx))
        .unwrap();
    let Message::OpenChannel(o) = &out.messages[0] else {
        panic!()
    };
    assert_eq!(
        o.tlvs.upfront_shutdown_script,
        Some(bitcoin::ScriptBuf::new())
    );
}

#[test]
fn opening_states_round_trip() {
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    let (chan, out) = p
        .call(Who::A, |_, ctx| Channel::new_outbound(setup, ctx))
        .unwrap();
    p.a.chan = chan;
    p.apply(Who::A, out);
    assert!(Channel::decode_state(&p.a.chan.encode_state()).unwrap() == p.a.chan);
    let Some(Message::OpenChannel(open)) = p.to_b.pop_front() else {
        panic!()
    };
    let inbound = p.inbound_setup();
    let (chan, out) = p
        .call(Who::B, |_, ctx| Channel::new_inbound(&open, inbound, ctx))
        .unwrap();
    p.b.chan = chan;
    p.apply(Who::B, out);
    assert!(Channel::decode_state(&p.b.chan.encode_state()).unwrap() == p.b.chan);
    p.deliver_one(Who::A).unwrap().unwrap();
    assert!(Channel::decode_state(&p.a.chan.encode_state()).unwrap() == p.a.chan);
}
