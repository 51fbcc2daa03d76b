//! BOLT 2 receiver checks of closing and funding that `receiver_checks.rs`
//! does not cover, and the reaction to messages a phase does not expect.
//! Each names its clause, asserts the error and its reaction (ignore,
//! warn, close), and that a rejected message changed nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bitcoin::hashes::Hash;
use bitcoin::{Amount, OutPoint, ScriptBuf, TxOut};
use common::*;
use fulmen_channel::{
    ApiError, Channel, ChannelConfig, ChannelError, ChannelEvent, ChannelMessage, CloseReason,
    Violation,
};
use fulmen_script::closing::{build_legacy_closing_tx, ClosingOutput};
use fulmen_script::sign::sign_funding_spend;
use fulmen_script::Side;
use fulmen_types::{Msat, Sat};
use fulmen_wire::{ClosingSigned, Message, Shutdown, UpdateAddHtlc};

fn pair() -> Pair {
    Pair::open(Sat(10_000_000), Msat(4_000_000_000))
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

fn shutdown(p: &Pair, who: Who, script: ScriptBuf) -> Shutdown {
    Shutdown {
        channel_id: p.end_ref(who).chan.channel_id(),
        scriptpubkey: script,
        unknown_tlvs: vec![],
    }
}

trait EndRef {
    fn end_ref(&self, who: Who) -> &End;
}

impl EndRef for Pair {
    fn end_ref(&self, who: Who) -> &End {
        match who {
            Who::A => &self.a,
            Who::B => &self.b,
        }
    }
}

/// A's `closing_signed` for `fee` as B will rebuild it: B's output first
/// with B's script, A (the funder) paying the fee, A's dust limit.
fn a_signs_closing(p: &Pair, fee: Sat, b_script: ScriptBuf) -> ClosingSigned {
    let est = p.b.chan.established().unwrap();
    let core = &est.core;
    let spec = est
        .ledger
        .spec(Side::Local, fulmen_channel::ledger::View::Current)
        .unwrap();
    let tx = build_legacy_closing_tx(
        core.funding_outpoint,
        Side::Remote,
        &ClosingOutput {
            balance: spec.local,
            script_pubkey: b_script,
        },
        &ClosingOutput {
            balance: spec.remote,
            script_pubkey: p2wpkh(0xa1),
        },
        fee,
        core.remote_params.dust_limit,
    )
    .unwrap();
    let signature = sign_funding_spend(
        &tx.tx,
        &core.funding_script(),
        core.funding,
        &secrets(1).funding,
    )
    .unwrap();
    ClosingSigned {
        channel_id: core.channel_id,
        fee,
        signature,
        fee_range: None,
        unknown_tlvs: vec![],
    }
}

/// Shutdown exchanged; A's first proposal is taken off the queue.
fn negotiating(p: &mut Pair) -> ClosingSigned {
    let out = p.call(Who::A, |c, ctx| c.shutdown(None, ctx)).unwrap();
    p.apply(Who::A, out);
    p.deliver_one(Who::B).unwrap().unwrap();
    p.deliver_one(Who::A).unwrap().unwrap();
    let Some(Message::ClosingSigned(a1)) = p.to_b.pop_front() else {
        panic!("closing_signed expected")
    };
    a1
}

/// Legacy negotiation: "otherwise, if `fee_satoshis` is not strictly
/// between its last-sent `fee_satoshis` and its previously-received
/// `fee_satoshis`, UNLESS it has since reconnected: SHOULD send a `warning`
/// and close the connection, or send an `error` and fail the channel." We
/// warn.
#[test]
fn bolt2_legacy_closing_fee_not_strictly_between_warns() {
    let mut p = pair();
    // B wants a higher fee than A offers, so they negotiate.
    p.b.config.min_feerate_per_kw = 5000;
    let mut a1 = negotiating(&mut p);
    a1.fee_range = None;
    let a1 = a_signs_closing(&p, a1.fee, p2wpkh(0xb1));
    p.to_b.push_front(Message::ClosingSigned(a1.clone()));
    p.deliver_one(Who::B).unwrap().unwrap();
    let Some(Message::ClosingSigned(b1)) = p.to_a.pop_front() else {
        panic!("B counters")
    };
    assert!(b1.fee > a1.fee);
    // Below both last proposals, then equal to A's own last: refused.
    for fee in [Sat(a1.fee.0 - 1), a1.fee] {
        let m = a_signs_closing(&p, fee, p2wpkh(0xb1));
        reject(
            &mut p,
            Who::B,
            m,
            ChannelError::Warn(Violation::ClosingFeeNotBetween { fee }),
        );
    }
    assert_eq!(p.b.chan.phase(), "negotiating");
}

/// "if one of the outputs in the closing transaction is below the dust
/// limit for its `scriptpubkey` (see BOLT 3): MUST fail the channel".
/// Unreachable with the segwit scripts we accept (every dust limit is at
/// least 354 sat, above their thresholds), so the check is shown with a
/// P2PKH script (threshold 546 sat) forced into B's state, a 400-sat B
/// balance and A's dust limit at 354 sat.
#[test]
fn bolt2_closing_output_below_its_dust_threshold_fails_the_channel() {
    let mut p = Pair::new(
        ChannelConfig {
            dust_limit: Sat(354),
            ..ChannelConfig::default()
        },
        ChannelConfig::default(),
    );
    let setup = p.outbound_setup(Sat(10_000_000), Msat(400_000));
    p.open_until_funded(setup);
    p.confirm_funding();
    let a1 = negotiating(&mut p);
    let p2pkh = ScriptBuf::new_p2pkh(&bitcoin::PubkeyHash::from_byte_array([0xb1; 20]));
    let Channel::Negotiating(n) = &mut p.b.chan else {
        panic!("B negotiating")
    };
    n.local_script = p2pkh.clone();
    let m = a_signs_closing(&p, a1.fee, p2pkh);
    reject(
        &mut p,
        Who::B,
        m,
        ChannelError::Close(Violation::ClosingOutputDust),
    );
}

/// `funding_created`: "`funding_output_index` [u16]": the index is two
/// bytes in `funding_created`, in `channel_id` and in the short channel
/// id. The funder refuses a funding transaction whose output is beyond
/// 65535 (nothing sent), and a state that somehow holds one fails the
/// channel when the depth is reached instead of making a short channel id.
#[test]
fn bolt2_funding_output_index_must_fit_two_bytes() {
    // The funder's side.
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
    let before = p.a.chan.clone();
    let tx = funding_tx(Sat(1_000_000), p2wpkh(1));
    let err = p
        .call(Who::A, |c, ctx| c.funding_tx_built(tx, 65_536, ctx))
        .unwrap_err();
    assert_eq!(err, ApiError::FundingOutputMismatch);
    assert!(p.a.chan == before && p.to_b.is_empty());

    // A state holding an index above 65535.
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    p.open_until_funded(setup);
    let Channel::AwaitingFunding(a) = &mut p.a.chan else {
        panic!()
    };
    let script = a.est.core.funding_script_pubkey();
    let mut big = funding_tx(Sat(1), p2wpkh(2));
    big.output = vec![
        TxOut {
            value: Amount::from_sat(1000),
            script_pubkey: p2wpkh(2),
        };
        65_536
    ];
    big.output.push(TxOut {
        value: Amount::from_sat(1_000_000),
        script_pubkey: script,
    });
    a.est.core.funding_outpoint = OutPoint {
        txid: big.compute_txid(),
        vout: 65_536,
    };
    let mut result = Ok(());
    for i in 0..3 {
        p.height += 1;
        let (h, txs) = (p.height, if i == 0 { vec![big.clone()] } else { vec![] });
        match p.call(Who::A, |c, ctx| c.handle_block(h, &txs, ctx)) {
            Ok(out) => p.apply(Who::A, out),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    assert_eq!(
        result,
        Err(ChannelError::Close(Violation::FundingOutputIndexTooLarge))
    );
}

/// `shutdown`: "MUST NOT send multiple `shutdown` messages". A repeated
/// one with the same script (as after a reconnection) is harmless; one
/// with another script gets a `warning` (the connection closes, the channel
/// stays), while shutting down and while negotiating.
#[test]
fn bolt2_second_shutdown_with_another_script_warns() {
    let mut p = pair();
    p.add(Who::A, 5_000_000, 1);
    p.settle();
    let out = p.call(Who::A, |c, ctx| c.shutdown(None, ctx)).unwrap();
    p.apply(Who::A, out);
    p.deliver_one(Who::B).unwrap().unwrap();
    assert_eq!(p.b.chan.phase(), "shutting_down");
    let same = shutdown(&p, Who::B, p2wpkh(0xa1));
    p.to_b.push_front(same.clone().into());
    p.deliver_one(Who::B).unwrap().unwrap();
    let other = shutdown(&p, Who::B, p2wpkh(0xa2));
    reject(
        &mut p,
        Who::B,
        other.clone(),
        ChannelError::Warn(Violation::ShutdownScriptChanged),
    );
    // Resolve the HTLC: B starts negotiating once its commitments are
    // clean (stop before A's `closing_signed` reaches it).
    let out = p
        .call(Who::B, |c, _| c.fulfill_htlc(0, preimage(1)))
        .unwrap();
    p.apply(Who::B, out);
    for _ in 0..100 {
        if p.b.chan.phase() == "negotiating" {
            break;
        }
        let delivered = [Who::B, Who::A]
            .into_iter()
            .any(|to| p.deliver_one(to).map(|r| r.unwrap()).is_some());
        if !delivered {
            p.sign(Who::A);
            p.sign(Who::B);
        }
    }
    assert_eq!(p.b.chan.phase(), "negotiating");
    p.to_b.push_front(same.into());
    p.deliver_one(Who::B).unwrap().unwrap();
    reject(
        &mut p,
        Who::B,
        other,
        ChannelError::Warn(Violation::ShutdownScriptChanged),
    );
}

fn add_msg(p: &Pair, id: u64) -> UpdateAddHtlc {
    UpdateAddHtlc {
        channel_id: p.a.chan.channel_id(),
        id,
        amount: Msat(1_000_000),
        payment_hash: hash(id),
        cltv_expiry: 900_000,
        onion_routing_packet: onion(id),
        path_key: None,
        unknown_tlvs: vec![],
    }
}

/// A message a phase does not expect (BOLT 1: a `warning` for a
/// recoverable protocol error, `error` only for one that makes the channel
/// unusable): a live channel sends `warning` and disconnects
/// (`Violation::UnexpectedMessage` with its type); a closing or closed one
/// ignores it. Nothing changes either way.
#[test]
fn unexpected_messages_warn_while_open_and_are_ignored_once_closed() {
    let unexpected = |msg_type| Violation::UnexpectedMessage { msg_type };
    // Awaiting funding: an HTLC before `channel_ready`.
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    p.open_until_funded(setup);
    let m = add_msg(&p, 0);
    reject(&mut p, Who::B, m, ChannelError::Warn(unexpected(128)));
    // Normal operation: an opening message, and a second
    // `channel_reestablish` once reestablished.
    let mut p = pair();
    let sig =
        p.a.chan
            .established()
            .unwrap()
            .local_commit
            .remote_signature;
    let m = fulmen_wire::FundingSigned {
        channel_id: p.a.chan.channel_id(),
        signature: sig,
        unknown_tlvs: vec![],
    };
    reject(&mut p, Who::A, m, ChannelError::Warn(unexpected(35)));
    for who in [Who::A, Who::B] {
        let out = p.call(who, |c, _| c.peer_disconnected());
        p.apply(who, out);
    }
    for who in [Who::A, Who::B] {
        let out = p.call(who, |c, ctx| c.peer_reconnected(ctx)).unwrap();
        p.apply(who, out);
    }
    let Some(Message::ChannelReestablish(again)) = p.to_b.front().cloned() else {
        panic!()
    };
    p.flush();
    reject(&mut p, Who::B, again, ChannelError::Warn(unexpected(136)));
    // Force-closed: ignored.
    let out = p.call(Who::A, |c, ctx| c.force_close(ctx)).unwrap();
    p.apply(Who::A, out);
    assert_eq!(p.a.chan.phase(), "closing");
    let m = add_msg(&p, 0);
    reject(&mut p, Who::A, m, ChannelError::Ignore(unexpected(128)));
    // Closed (forgotten before funding): ignored.
    let mut closed = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let m = add_msg(&closed, 0);
    let err = closed
        .call(Who::A, |c, ctx| {
            c.handle_message(ChannelMessage::from_message(m.into()).unwrap(), ctx)
        })
        .unwrap_err();
    assert_eq!(err, ChannelError::Ignore(unexpected(128)));
}

/// `shutdown` receiver: "if it hasn't received a `funding_signed` (if it is
/// a funder) or a `funding_created` (if it is a fundee): SHOULD send an
/// `error` and fail the channel". Failing a channel before funding sends
/// `error` and forgets it. After `funding_signed` a `shutdown` is valid
/// even before `channel_ready` ("MAY send a `shutdown` before a
/// `channel_ready`").
#[test]
fn bolt2_shutdown_before_funding_fails_the_channel() {
    let fails = |p: &mut Pair, to: Who| {
        let m = shutdown(p, to, p2wpkh(0xcc));
        reject(
            p,
            to,
            m,
            ChannelError::Close(Violation::ShutdownBeforeFunding),
        );
    };
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    let (chan, out) = p
        .call(Who::A, |_, ctx| Channel::new_outbound(setup, ctx))
        .unwrap();
    p.a.chan = chan;
    p.apply(Who::A, out);
    // Funder before `accept_channel`.
    fails(&mut p, Who::A);
    let Some(Message::OpenChannel(open)) = p.to_b.pop_front() else {
        panic!()
    };
    let inbound = p.inbound_setup();
    let (chan, out) = p
        .call(Who::B, |_, ctx| Channel::new_inbound(&open, inbound, ctx))
        .unwrap();
    p.b.chan = chan;
    p.apply(Who::B, out);
    // Fundee before `funding_created`.
    fails(&mut p, Who::B);
    p.deliver_one(Who::A).unwrap().unwrap();
    // Funder waiting for the funding transaction.
    fails(&mut p, Who::A);
    let (amount, script) = p
        .take_events(Who::A)
        .into_iter()
        .find_map(|e| match e {
            ChannelEvent::FundingNeeded {
                amount,
                script_pubkey,
                ..
            } => Some((amount, script_pubkey)),
            _ => None,
        })
        .unwrap();
    let tx = funding_tx(amount, script);
    let out = p
        .call(Who::A, |c, ctx| c.funding_tx_built(tx, 1, ctx))
        .unwrap();
    p.apply(Who::A, out);
    // Funder after `funding_created`, before `funding_signed`.
    assert_eq!(p.a.chan.phase(), "awaiting_funding_signed");
    fails(&mut p, Who::A);
    // The reaction: the node fails the channel; before funding that sends
    // `error` and forgets it.
    let out = p.call(Who::A, |c, ctx| c.force_close(ctx)).unwrap();
    assert!(matches!(&out.messages[..], [Message::Error(_)]));
    assert!(out.broadcasts.is_empty());
    assert!(out.events.iter().any(|e| matches!(
        e,
        ChannelEvent::ChannelClosed {
            reason: CloseReason::Abandoned,
            ..
        }
    )));
    assert_eq!(p.a.chan.phase(), "closed");

    // After `funding_signed`, before `channel_ready`: accepted.
    let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
    let setup = p.outbound_setup(Sat(1_000_000), Msat(0));
    p.open_until_funded(setup);
    assert_eq!(p.a.chan.phase(), "awaiting_funding");
    let m = shutdown(&p, Who::A, p2wpkh(0xb1));
    p.to_a.push_front(m.into());
    p.deliver_one(Who::A).unwrap().unwrap();
    assert_ne!(p.a.chan.phase(), "awaiting_funding");
}
