//! The deterministic two-party harness: two channel ends, a message queue
//! per direction, and a seeded RNG choosing the next operation — adds and
//! removals both ways, signing, delivery of single messages (so messages
//! cross and wait), fee updates, disconnections with `channel_reestablish`,
//! and crash-restarts from the last persisted state.
//!
//! Each run goes on until at least [`MIN_OPS`] adds, fulfills and fails
//! (both directions) have been performed, and asserts it.
//!
//! After every step: money is conserved in every view of every commitment
//! on both ends; whenever both ends know the same commitment number they
//! agree on its content and txid; every state round-trips through
//! `encode_state`/`decode_state`; nothing ever fails the channel. After
//! every `channel_reestablish`, the end that answers it retransmits what
//! the disconnection dropped on its way out (its `commitment_signed`, its
//! `revoke_and_ack`, at least as many updates). Incoming HTLCs flagged
//! over the dust exposure limit are always failed, never fulfilled. At the
//! end every HTLC is resolved, the final balances match the payments the
//! events reported, and the channel closes mutually.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use bitcoin::Txid;
use common::*;
use fulmen_channel::ledger::View;
use fulmen_channel::{Channel, ChannelConfig, ChannelEvent, HtlcFailure};
use fulmen_script::Side;
use fulmen_types::{Msat, Sat};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

const FUNDING: u64 = 10_000_000;
const PUSH_MSAT: u64 = 4_000_000_000;
/// Adds, fulfills and fails (of both ends together) each run performs at
/// least (issue 6: "1,000 random adds/fulfills/fails in both directions").
const MIN_OPS: u64 = 1000;
/// A run that has not reached [`MIN_OPS`] after this many steps is stuck.
const MAX_STEPS: u64 = 20_000;

/// What a disconnection dropped from one end's outgoing queue, and so what
/// that end must retransmit after `channel_reestablish` (BOLT 2 "Message
/// Retransmission").
#[derive(Default, Clone, Copy)]
struct Dropped {
    commitment_signed: bool,
    revoke_and_ack: bool,
    /// HTLC adds and removals.
    updates: usize,
    /// `update_fee`s: a later one supersedes an uncommitted earlier one, so
    /// only one comes back.
    fee: bool,
}

#[derive(Default)]
struct Model {
    /// Our outgoing HTLCs: id → (amount, tag).
    offered: BTreeMap<u64, (u64, u64)>,
    /// Incoming HTLCs handed to us and not yet resolved: id → tag.
    incoming: BTreeMap<u64, u64>,
    /// Incoming HTLCs we answered.
    answered: BTreeSet<u64>,
    /// Outgoing HTLCs resolved, and how much they paid.
    resolved: BTreeSet<u64>,
    paid_out: u64,
    added_seen: BTreeSet<u64>,
    /// Incoming HTLCs the channel flagged over the dust exposure limit.
    dust_flagged: BTreeSet<u64>,
}

struct World {
    p: Pair,
    rng: ChaCha20Rng,
    models: [Model; 2],
    next_tag: u64,
    connected: bool,
    /// Local commitment txids by number, per end (for revocation records).
    txids: [BTreeMap<u64, Txid>; 2],
    steps: u64,
    stats: BTreeMap<&'static str, u64>,
    /// The mutual close has started: `ChannelClosed` is expected.
    closing: bool,
    /// Per end: what it must retransmit at the next reestablish.
    dropped: [Dropped; 2],
    /// Per end: the state last checked to round-trip.
    round_tripped: [Option<Channel>; 2],
}

fn idx(w: Who) -> usize {
    match w {
        Who::A => 0,
        Who::B => 1,
    }
}

impl World {
    fn new(seed: u64, config: ChannelConfig) -> Self {
        let mut p = Pair::new(config.clone(), config);
        let setup = p.outbound_setup(Sat(FUNDING), Msat(PUSH_MSAT));
        p.open_until_funded(setup);
        p.confirm_funding();
        assert_eq!(p.a.chan.phase(), "normal");
        p.take_events(Who::A);
        p.take_events(Who::B);
        Self {
            p,
            rng: ChaCha20Rng::seed_from_u64(seed),
            models: [Model::default(), Model::default()],
            next_tag: 1,
            connected: true,
            txids: [BTreeMap::new(), BTreeMap::new()],
            steps: 0,
            stats: BTreeMap::new(),
            closing: false,
            dropped: [Dropped::default(); 2],
            round_tripped: [None, None],
        }
    }

    fn count(&mut self, what: &'static str) {
        *self.stats.entry(what).or_default() += 1;
    }

    fn stat(&self, what: &str) -> u64 {
        self.stats.get(what).copied().unwrap_or(0)
    }

    /// Adds, fulfills and fails performed so far.
    fn ops(&self) -> u64 {
        self.stat("add") + self.stat("resolve")
    }

    fn who(&mut self) -> Who {
        if self.rng.gen_bool(0.5) {
            Who::A
        } else {
            Who::B
        }
    }

    fn handle_events(&mut self, who: Who) {
        let events = self.p.take_events(who);
        for e in events {
            let flagged = match &e {
                ChannelEvent::HtlcAdded(h) => self.p.end(who).chan.htlc_over_dust_exposure(h.id),
                _ => false,
            };
            if flagged {
                self.count("dust_flagged");
            }
            let m = &mut self.models[idx(who)];
            match e {
                ChannelEvent::HtlcAdded(h) => {
                    assert!(m.added_seen.insert(h.id), "HtlcAdded twice for {}", h.id);
                    let tag = u64::from_be_bytes(h.onion.0[1..9].try_into().unwrap());
                    assert_eq!(hash(tag), h.payment_hash);
                    m.incoming.insert(h.id, tag);
                    if flagged {
                        m.dust_flagged.insert(h.id);
                    }
                }
                ChannelEvent::HtlcFulfilled { id, preimage: pre } => {
                    let (amount, tag) = m.offered[&id];
                    assert_eq!(pre, preimage(tag));
                    assert!(m.resolved.insert(id), "outgoing {id} resolved twice");
                    m.paid_out += amount;
                }
                ChannelEvent::HtlcFailed { id, failure } => {
                    assert!(m.offered.contains_key(&id));
                    assert!(m.resolved.insert(id), "outgoing {id} resolved twice");
                    if let HtlcFailure::Reason(r) = failure {
                        assert_eq!(r, id.to_be_bytes().to_vec());
                    }
                }
                ChannelEvent::RevokedRemoteCommitment(r) => {
                    let other = &self.txids[idx(who.other())];
                    if let Some(txid) = other.get(&r.commitment_number) {
                        assert_eq!(*txid, r.txid, "revoked commitment txid");
                    }
                }
                ChannelEvent::IncomingHtlcResolved { id } => {
                    assert!(m.answered.contains(&id));
                }
                ChannelEvent::ChannelClosed {
                    reason: fulmen_channel::CloseReason::MutualClose { .. },
                    ..
                } if self.closing => {}
                ChannelEvent::ChannelClosed { .. } => panic!("channel closed: {e:?}"),
                _ => {}
            }
        }
    }

    fn apply(&mut self, who: Who, out: fulmen_channel::Outputs) {
        self.p.apply(who, out);
        self.handle_events(who);
    }

    fn op_add(&mut self) {
        let who = self.who();
        let amount = match self.rng.gen_range(0..10) {
            0 => self.rng.gen_range(1_000..600_000),          // dust
            1..=7 => self.rng.gen_range(600_000..20_000_000), // small
            _ => self.rng.gen_range(20_000_000..400_000_000), // large
        };
        let tag = self.next_tag;
        self.next_tag += 1;
        let h = self.p.height;
        let res = self.p.call(who, |c, ctx| {
            c.add_htlc(Msat(amount), hash(tag), h + 144, onion(tag), None, ctx)
        });
        match res {
            Ok((id, out)) => {
                self.models[idx(who)].offered.insert(id, (amount, tag));
                self.apply(who, out);
                self.count("add");
            }
            Err(e) => {
                self.count(match e {
                    fulmen_channel::AddError::Disconnected => "add_refused_disconnected",
                    fulmen_channel::AddError::DustExposureExceeded { .. } => "add_refused_dust",
                    _ => "add_refused_limits",
                });
                assert!(
                    !self.connected
                        || matches!(
                            e,
                            fulmen_channel::AddError::InsufficientBalance
                                | fulmen_channel::AddError::FunderCannotPayFee
                                | fulmen_channel::AddError::DustExposureExceeded { .. }
                                | fulmen_channel::AddError::TooManyHtlcs { .. }
                                | fulmen_channel::AddError::Disconnected
                                | fulmen_channel::AddError::ShuttingDown
                                | fulmen_channel::AddError::NotReady
                        ),
                    "{e:?}"
                );
            }
        }
    }

    fn op_resolve(&mut self) {
        let who = self.who();
        let m = &self.models[idx(who)];
        if m.incoming.is_empty() {
            return;
        }
        let pick = self.rng.gen_range(0..m.incoming.len());
        let (&id, &tag) = m.incoming.iter().nth(pick).unwrap();
        let mut kind = self.rng.gen_range(0..20);
        // BOLT 2: fail a flagged HTLC, never reveal its preimage.
        if m.dust_flagged.contains(&id) && kind <= 13 {
            kind = 14;
        }
        self.count(match kind {
            0..=13 => "fulfill",
            14..=18 => "fail",
            _ => "fail_malformed",
        });
        let res = self.p.call(who, |c, _| match kind {
            0..=13 => c.fulfill_htlc(id, preimage(tag)),
            14..=18 => c.fail_htlc(id, id.to_be_bytes().to_vec()),
            _ => c.fail_malformed_htlc(id, [tag as u8; 32], 0x8000 | 5),
        });
        let out = res.unwrap();
        let m = &mut self.models[idx(who)];
        m.incoming.remove(&id);
        m.answered.insert(id);
        self.apply(who, out);
        self.count("resolve");
    }

    fn op_sign(&mut self, who: Who) {
        let out = self.p.call(who, |c, ctx| c.sign_if_needed(ctx)).unwrap();
        if !out.messages.is_empty() {
            self.count("commitment_signed");
        }
        self.apply(who, out);
    }

    fn op_deliver(&mut self, to: Who) {
        let is_reestablish = match to {
            Who::A => self.p.to_a.front(),
            Who::B => self.p.to_b.front(),
        }
        .is_some_and(|m| matches!(m, fulmen_wire::Message::ChannelReestablish(_)));
        let before = match to {
            Who::A => self.p.to_b.len(),
            Who::B => self.p.to_a.len(),
        };
        if let Some(r) = self.p.deliver_one(to) {
            if is_reestablish {
                let q = match to {
                    Who::A => &self.p.to_b,
                    Who::B => &self.p.to_a,
                };
                let kinds: Vec<&'static str> = q
                    .iter()
                    .skip(before)
                    .map(|m| match m {
                        fulmen_wire::Message::CommitmentSigned(_) => "retransmit_commitment_signed",
                        fulmen_wire::Message::RevokeAndAck(_) => "retransmit_revoke_and_ack",
                        fulmen_wire::Message::ChannelReady(_) => "retransmit_channel_ready",
                        fulmen_wire::Message::UpdateFee(_) => "retransmit_update_fee",
                        m if is_update(m) => "retransmit_update",
                        _ => "retransmit_other",
                    })
                    .collect();
                if r.is_ok() {
                    self.check_retransmitted(to, &kinds);
                }
                for k in kinds {
                    self.count(k);
                }
            }
            if let Err(e) = r {
                panic!("step {}: {to:?} rejected a message: {e}", self.steps);
            }
            self.handle_events(to);
            self.count("delivered");
        }
    }

    fn op_fee(&mut self) {
        let feerate = self.rng.gen_range(253..15_000);
        match self.p.call(Who::A, |c, ctx| c.update_fee(feerate, ctx)) {
            Ok(out) => {
                self.apply(Who::A, out);
                self.count("update_fee");
            }
            Err(_) => self.count("update_fee_refused"),
        }
    }

    /// `to` answered the peer's `channel_reestablish` with `kinds`: it
    /// must have retransmitted what the disconnection dropped.
    fn check_retransmitted(&mut self, to: Who, kinds: &[&'static str]) {
        let d = std::mem::take(&mut self.dropped[idx(to)]);
        let has = |k: &str| kinds.contains(&k);
        let updates = kinds.iter().filter(|k| **k == "retransmit_update").count();
        assert!(
            !d.commitment_signed || has("retransmit_commitment_signed"),
            "step {}: {to:?} did not retransmit its dropped commitment_signed",
            self.steps
        );
        assert!(
            !d.revoke_and_ack || has("retransmit_revoke_and_ack"),
            "step {}: {to:?} did not retransmit its dropped revoke_and_ack",
            self.steps
        );
        assert!(
            !d.fee || has("retransmit_update_fee"),
            "step {}: {to:?} did not retransmit its dropped update_fee",
            self.steps
        );
        assert!(
            updates >= d.updates,
            "step {}: {to:?} retransmitted {updates} updates, {} were dropped",
            self.steps,
            d.updates
        );
        if d.commitment_signed || d.revoke_and_ack || d.fee || d.updates > 0 {
            self.count("retransmissions_checked");
        }
    }

    fn disconnect(&mut self) {
        for (from, q) in [(Who::A, &self.p.to_b), (Who::B, &self.p.to_a)] {
            let d = &mut self.dropped[idx(from)];
            for m in q {
                match m {
                    fulmen_wire::Message::CommitmentSigned(_) => d.commitment_signed = true,
                    fulmen_wire::Message::RevokeAndAck(_) => d.revoke_and_ack = true,
                    fulmen_wire::Message::UpdateFee(_) => d.fee = true,
                    m if is_update(m) => d.updates += 1,
                    _ => {}
                }
            }
        }
        self.p.to_a.clear();
        self.p.to_b.clear();
        for who in [Who::A, Who::B] {
            let out = self.p.call(who, |c, _| c.peer_disconnected());
            self.apply(who, out);
        }
        self.connected = false;
        self.count("disconnect");
    }

    fn reconnect(&mut self) {
        for who in [Who::A, Who::B] {
            let out = self.p.call(who, |c, ctx| c.peer_reconnected(ctx)).unwrap();
            self.apply(who, out);
        }
        self.connected = true;
        self.count("reconnect");
    }

    fn crash(&mut self, who: Who) {
        self.disconnect();
        let end = self.p.end(who);
        let bytes = end.persisted.clone().expect("state was persisted");
        end.chan = Channel::decode_state(&bytes).unwrap();
        self.count("crash_restart");
    }

    fn step(&mut self) {
        self.steps += 1;
        let r = self.rng.gen_range(0..100);
        match r {
            0..=17 => self.op_add(),
            18..=29 => self.op_resolve(),
            30..=44 => {
                let w = self.who();
                self.op_sign(w);
            }
            45..=79 => {
                let w = self.who();
                self.op_deliver(w);
            }
            80..=84 => {
                while self.p.to_a.len() + self.p.to_b.len() > 0 {
                    let w = self.who();
                    self.op_deliver(w);
                }
            }
            85..=87 => self.op_fee(),
            88..=89 => {
                if self.connected {
                    self.disconnect();
                } else {
                    self.reconnect();
                }
            }
            90..=91 => {
                let w = self.who();
                self.crash(w);
            }
            _ => {
                if self.connected {
                    let w = self.who();
                    self.op_deliver(w);
                } else {
                    self.reconnect();
                }
            }
        }
        self.check();
    }

    /// The invariants of every step.
    fn check(&mut self) {
        let capacity = FUNDING * 1000;
        let inflight = self
            .p
            .a
            .chan
            .commitment_spec(Side::Local)
            .unwrap()
            .htlcs
            .len() as u64;
        let max = self.stats.entry("max_htlcs_in_commitment").or_default();
        *max = (*max).max(inflight);
        for who in [Who::A, Who::B] {
            let chan = match who {
                Who::A => &self.p.a.chan,
                Who::B => &self.p.b.chan,
            };
            let est = chan.established().unwrap();
            for owner in [Side::Local, Side::Remote] {
                for view in [View::Current, View::Next, View::Projected] {
                    let s = est.ledger.spec(owner, view).unwrap();
                    let inflight: u64 = s.htlcs.iter().map(|h| h.amount.0).sum();
                    assert_eq!(
                        s.local.0 + s.remote.0 + inflight,
                        capacity,
                        "conservation {who:?} {owner:?} {view:?}"
                    );
                }
            }
            // Round trip: the decoded state is the disconnected state
            // (checked whenever the state changed since the last check;
            // equal values encode to equal bytes).
            if self.round_tripped[idx(who)].as_ref() == Some(chan) {
                continue;
            }
            let bytes = chan.encode_state();
            let decoded = Channel::decode_state(&bytes).unwrap();
            let mut expected = chan.clone();
            expected.peer_disconnected();
            assert!(
                decoded == expected,
                "round trip {who:?} step {}",
                self.steps
            );
            self.round_tripped[idx(who)] = Some(chan.clone());
        }
        // Both ends agree on each commitment they both know.
        for x in [Who::A, Who::B] {
            let (cx, cy) = match x {
                Who::A => (&self.p.a.chan, &self.p.b.chan),
                Who::B => (&self.p.b.chan, &self.p.a.chan),
            };
            let ex = cx.established().unwrap();
            let ey = cy.established().unwrap();
            if ex.local_commit.number == ey.remote_commit.number {
                let sx = ex.ledger.spec(Side::Local, View::Current).unwrap();
                let sy = ey.ledger.spec(Side::Remote, View::Current).unwrap();
                assert!(
                    sx == sy.mirrored(),
                    "{x:?} local commitment content, step {}",
                    self.steps
                );
                // A commitment number's content is fixed (checked just
                // above): build its transaction once.
                let number = ex.local_commit.number;
                let remote_txid = ey.remote_commit.txid;
                let txid = match self.txids[idx(x)].get(&number) {
                    Some(t) => *t,
                    None => self
                        .p
                        .call(x, |c, ctx| c.local_commitment_txid(ctx))
                        .unwrap(),
                };
                assert_eq!(txid, remote_txid, "{x:?} local commitment txid");
                *self.stats.entry("agreement_checks").or_default() += 1;
                self.txids[idx(x)].insert(number, txid);
            }
        }
    }

    /// Delivers, signs and reconnects until nothing is in flight.
    fn quiesce(&mut self) {
        if !self.connected {
            self.reconnect();
        }
        for _ in 0..200 {
            while self.p.to_a.len() + self.p.to_b.len() > 0 {
                let w = if self.p.to_a.is_empty() {
                    Who::B
                } else {
                    Who::A
                };
                self.op_deliver(w);
            }
            self.op_sign(Who::A);
            self.op_sign(Who::B);
            self.check();
            let quiet = self.p.to_a.is_empty() && self.p.to_b.is_empty();
            let a = self.p.a.chan.established().unwrap();
            let b = self.p.b.chan.established().unwrap();
            let pending = a.remote_prev.is_some()
                || b.remote_prev.is_some()
                || a.ledger.has_changes_to_sign(Side::Local)
                || b.ledger.has_changes_to_sign(Side::Local);
            if quiet && !pending {
                return;
            }
        }
        panic!("did not quiesce");
    }

    /// Shuts down from a random side with HTLCs still pending, then keeps
    /// resolving, signing, delivering, disconnecting and crashing at random
    /// until both ends have broadcast the same mutual close.
    fn finish(&mut self) {
        self.quiesce();
        let who = self.who();
        let out = self.p.call(who, |c, ctx| c.shutdown(None, ctx)).unwrap();
        self.apply(who, out);
        self.closing = true;
        for _ in 0..20_000 {
            let done = self.p.a.chan.phase() == "closing"
                && self.p.b.chan.phase() == "closing"
                && self.p.to_a.is_empty()
                && self.p.to_b.is_empty();
            if done {
                break;
            }
            self.steps += 1;
            match self.rng.gen_range(0..100) {
                0..=3 => self.op_add(),
                4 => {
                    // The other side asks too (a crossing shutdown).
                    let w = self.who();
                    if let Ok(out) = self.p.call(w, |c, ctx| c.shutdown(None, ctx)) {
                        self.apply(w, out);
                        self.count("second_shutdown");
                    }
                }
                5..=24 => self.op_resolve(),
                25..=44 => {
                    let w = self.who();
                    self.op_sign(w);
                }
                45..=84 => {
                    // A burst, so that a commitment round with many
                    // removals completes between two disconnections.
                    for _ in 0..self.rng.gen_range(1..=8) {
                        let w = self.who();
                        self.op_deliver(w);
                    }
                }
                85..=87 => self.op_fee(),
                88..=89 => {
                    if self.connected {
                        self.disconnect();
                    } else {
                        self.reconnect();
                    }
                }
                90..=91 => {
                    let w = self.who();
                    self.crash(w);
                }
                _ => {
                    if !self.connected {
                        self.reconnect();
                    }
                }
            }
            self.check();
        }
        assert_eq!(self.p.a.chan.phase(), "closing", "A closed");
        assert_eq!(self.p.b.chan.phase(), "closing", "B closed");
        for who in [Who::A, Who::B] {
            let m = &self.models[idx(who)];
            assert!(m.incoming.is_empty());
            assert_eq!(
                m.resolved.len(),
                m.offered.len(),
                "{who:?}: every offered HTLC resolved exactly once"
            );
            let est = self.p.end(who).chan.established().unwrap();
            assert!(est.ledger.is_clean());
        }
        let a_paid = self.models[0].paid_out;
        let b_paid = self.models[1].paid_out;
        let a_expected = FUNDING * 1000 - PUSH_MSAT + b_paid - a_paid;
        let (a_local, a_remote) = self.p.a.chan.balances().unwrap();
        assert_eq!(a_local.0, a_expected);
        assert_eq!(a_remote.0, FUNDING * 1000 - a_expected);
        let (b_local, _) = self.p.b.chan.balances().unwrap();
        assert_eq!(b_local.0, FUNDING * 1000 - a_expected);
        let closed = |e: &End| {
            e.broadcasts
                .iter()
                .rev()
                .find(|tx| tx.input[0].previous_output.vout == 1)
                .unwrap()
                .clone()
        };
        let tx_a = closed(&self.p.a);
        let tx_b = closed(&self.p.b);
        assert_eq!(tx_a.compute_txid(), tx_b.compute_txid());
        let b_out: u64 = tx_a
            .output
            .iter()
            .filter(|o| o.script_pubkey == p2wpkh(0xb1))
            .map(|o| o.value.to_sat())
            .sum();
        // The fundee pays no fee: it gets its balance rounded down.
        assert_eq!(b_out, (FUNDING * 1000 - a_expected) / 1000);
    }
}

fn is_update(m: &fulmen_wire::Message) -> bool {
    use fulmen_wire::Message as M;
    matches!(
        m,
        M::UpdateAddHtlc(_)
            | M::UpdateFulfillHtlc(_)
            | M::UpdateFailHtlc(_)
            | M::UpdateFailMalformedHtlc(_)
    )
}

/// Steps until at least [`MIN_OPS`] adds/fulfills/fails were performed,
/// then closes; returns the counters.
fn run(seed: u64, config: ChannelConfig) -> BTreeMap<&'static str, u64> {
    let mut w = World::new(seed, config);
    while w.ops() < MIN_OPS {
        assert!(w.steps < MAX_STEPS, "seed {seed}: stuck at {} ops", w.ops());
        w.step();
    }
    w.finish();
    let stats = w.stats;
    let ops = stats["add"] + stats["resolve"];
    assert!(ops >= MIN_OPS, "seed {seed}: {ops} operations");
    // Both directions, every kind.
    for k in [
        "fulfill",
        "fail",
        "disconnect",
        "reconnect",
        "crash_restart",
    ] {
        assert!(
            stats.get(k).copied().unwrap_or(0) > 0,
            "seed {seed}: no {k}"
        );
    }
    assert!(
        w.models.iter().all(|m| !m.offered.is_empty()),
        "seed {seed}: both ends offered HTLCs"
    );
    // Reconnections retransmitted what was lost, and that was checked.
    let retransmitted = stats.get("retransmit_update").copied().unwrap_or(0)
        + stats
            .get("retransmit_commitment_signed")
            .copied()
            .unwrap_or(0)
        + stats.get("retransmit_revoke_and_ack").copied().unwrap_or(0)
        + stats.get("retransmit_update_fee").copied().unwrap_or(0);
    assert!(retransmitted > 0, "seed {seed}: no retransmission");
    assert!(
        stats.get("retransmissions_checked").copied().unwrap_or(0) > 0,
        "seed {seed}: no retransmission checked"
    );
    stats
}

fn timed(seed: u64, config: ChannelConfig) -> BTreeMap<&'static str, u64> {
    let t = std::time::Instant::now();
    let stats = run(seed, config);
    eprintln!("seed {seed} ({:?}): {stats:?}", t.elapsed());
    stats
}

#[test]
fn harness_anchors_1000_ops() {
    for seed in [1, 2] {
        let stats = timed(seed, ChannelConfig::default());
        assert!(stats["crash_restart"] > 5 && stats["reconnect"] > 5);
    }
}

#[test]
fn harness_static_remotekey_1000_ops() {
    let config = ChannelConfig {
        prefer_anchors: false,
        ..ChannelConfig::default()
    };
    for seed in [11, 12] {
        let stats = timed(seed, config.clone());
        assert!(stats["update_fee"] > 0);
    }
}

/// A low `max_dust_htlc_exposure_msat`: dust HTLCs are refused by the
/// sender, and those that cross one the other way are flagged by the
/// receiver and failed.
#[test]
fn harness_low_dust_limit_1000_ops() {
    let config = ChannelConfig {
        max_dust_htlc_exposure: Msat(1_200_000),
        ..ChannelConfig::default()
    };
    let stats = timed(21, config);
    assert!(stats.get("add_refused_dust").copied().unwrap_or(0) > 0);
}

/// A longer soak, run on demand:
/// `HARNESS_SEEDS=200 cargo test -p fulmen-channel --release --test harness -- --ignored`.
#[test]
#[ignore]
fn harness_soak() {
    let seeds: u64 = std::env::var("HARNESS_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    for seed in 1000..1000 + seeds {
        let config = ChannelConfig {
            prefer_anchors: seed % 3 != 0,
            max_dust_htlc_exposure: Msat(if seed % 4 == 0 { 1_200_000 } else { 5_000_000 }),
            ..ChannelConfig::default()
        };
        run(seed, config);
    }
}
