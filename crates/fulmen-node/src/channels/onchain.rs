//! On-chain enforcement (BOLT 5), node side: watching every channel's
//! funding output, resolving its spend with the sans-IO core
//! ([`fulmen_channel::onchain`]) and sweeping what is ours to the wallet.
//!
//! # How it is driven
//!
//! * **Blocks** reach the manager with their transactions
//!   ([`ChannelManager::onchain_block`], called from `on_block`): a
//!   transaction spending a channel's funding outpoint starts a [`Watch`]
//!   ([`resolve`] with the store's revoked record when its txid is one);
//!   later transactions spending a pending claim's outpoint retire it,
//!   turn our confirmed HTLC transaction into its delayed output
//!   ([`htlc::second_stage_claim`]), turn a cheater's HTLC transaction
//!   into revocation claims ([`Resolution::revoked_second_stage_claims`])
//!   and yield the preimages the peer revealed ([`extract_preimages`]).
//! * **Nothing here is persisted.** A [`Resolution`] is deterministic, so
//!   at start and after a disconnected block
//!   ([`ChannelManager::onchain_rescan`]) the watches are rebuilt from the
//!   active chain: the manager asks its [`Broadcaster`] (the chain, seen
//!   from the manager thread, like broadcasts) for the confirmed spend of
//!   each funding outpoint, then of each claim, recursively
//!   ([`Broadcaster::confirmed_spend`]). Blocks the follower delivers
//!   afterwards are handled idempotently.
//! * **Each block**, every pending claim ready in the next block
//!   ([`Claim::ready_height`] `<= tip + 1`) is spent: sweeps
//!   ([`plan_batches`] then [`build_sweep`]) at
//!   [`escalated_feerate`] of the nearest deadline, paying one fresh
//!   wallet script per watch; a sweep broadcast is kept ([`Sweep`]) and
//!   sent again as the same bytes each block while its claims are pending,
//!   claims ready later go in new sweeps (never one conflicting with it),
//!   and it is replaced (same claims, higher fee) only when its deadline
//!   calls for a quarter more; and our pre-signed HTLC transactions
//!   ([`super::htlc_txs`]: with anchors aggregated by lock time and
//!   funded by the wallet). They are broadcast again each block until
//!   their claim's outpoint is spent in a block. A revoked commitment is
//!   punished in the tick of the block that confirms it.
//! * **Persist before reveal**: the transactions go into
//!   `tick.broadcasts`, which leave only after the tick's commit.
//!
//! Our commitment before it confirms (rebroadcast, anchor CPFP) is
//! [`super::bump`]'s.

use std::collections::{HashMap, HashSet};

use bitcoin::hashes::Hash;
use bitcoin::{Block, OutPoint, ScriptBuf, Transaction};
use fulmen_channel::onchain::fees::{escalated_feerate, plan_batches, SECURITY_DELAY};
use fulmen_channel::onchain::resolve::extract_preimages;
use fulmen_channel::onchain::sweep::build_sweep;
use fulmen_channel::onchain::{
    htlc, resolve, Claim, ClaimKind, OnchainError, Resolution, Signer, SpendKind, UnknownSpend,
};
use fulmen_channel::{Channel, ChannelEvent, HtlcFailure};
use fulmen_script::Side;
use fulmen_types::{ChannelId, PaymentHash, PaymentPreimage};

use super::htlc_txs::{send_htlc_txs, Funded, HtlcTxContext};
use super::manager::ChannelManager;
use super::{Broadcaster, Outbox, Persister, Tick};

/// The highest feerate a sweep pays however near its deadline
/// (200 sat/vbyte).
pub const MAX_SWEEP_FEERATE_PER_KW: u32 = 50_000;

/// Blocks after which a wallet-funded HTLC transaction still unconfirmed
/// is funded anew.
pub const REFUND_AFTER_BLOCKS: u32 = 6;

/// Confirmations after which an on-chain resolution is taken as final
/// (LDK's `ANTI_REORG_DELAY`): an HTLC we offered is failed back only
/// once the transaction that timed it out (or the commitment without it)
/// is this deep.
pub const ANTI_REORG_DELAY: u32 = 6;

/// One channel whose funding output is spent.
pub(crate) struct Watch {
    /// What the funding spend is and what it leaves us.
    resolution: Resolution,
    /// Where our sweeps pay.
    destination: ScriptBuf,
    /// The height of the block holding the funding spend.
    confirmed_at: u32,
    /// HTLC claims (by payment hash) whose outpoint was spent without a
    /// preimage, with the height of the spending block.
    resolved: Vec<(PaymentHash, u32)>,
    /// Our outgoing HTLCs (ids) already failed back.
    failed: HashSet<u64>,
    /// Our HTLC transactions of an anchor channel, once funded by the
    /// wallet, by the claim they spend ([`super::htlc_txs`]).
    funded: Funded,
    /// Claims whose outpoint is not spent yet, with the height of the
    /// block holding their output.
    pending: Vec<(Claim, u32)>,
    /// Our sweeps broadcast and not yet confirmed.
    sweeps: Vec<Sweep>,
    /// Outpoints whose spend was handled.
    spent: HashSet<OutPoint>,
    /// Outpoints already reported as not takeable (logged once).
    warned: HashSet<OutPoint>,
    /// Payment hashes whose preimage was learned on chain and handed on.
    settled: HashSet<PaymentHash>,
}

/// A sweep we broadcast: the same bytes go out again each block while
/// every claim it spends is still pending, so that claims becoming ready
/// later never make a second transaction conflicting with it (a chain
/// refusing replacements would keep the first and the new claims would
/// wait). Rebuilt (a replacement, BIP 125) only when the feerate its
/// claims call for rose by a quarter.
struct Sweep {
    tx: Transaction,
    claims: Vec<OutPoint>,
    feerate_per_kw: u32,
}

/// The watches, by channel.
pub(crate) type Watches = HashMap<ChannelId, Watch>;

/// The funding outpoint of a channel that may be spent on chain (it has
/// commitments and is not closed for good).
fn funding_of(chan: &Channel) -> Option<OutPoint> {
    chan.established().map(|e| e.core.funding_outpoint)
}

fn spends(tx: &Transaction, outpoint: &OutPoint) -> bool {
    tx.input.iter().any(|i| i.previous_output == *outpoint)
}

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    /// Channels with a funding outpoint not yet watched, sorted.
    fn unwatched(&self) -> Vec<(ChannelId, OutPoint)> {
        let mut ids: Vec<(ChannelId, OutPoint)> = self
            .channels
            .iter()
            .filter(|(id, _)| !self.onchain.contains_key(id))
            .filter_map(|(id, s)| funding_of(&s.chan).map(|f| (*id, f)))
            .collect();
        ids.sort();
        ids
    }

    /// A connected block (after the channels saw it): new funding spends,
    /// spends of pending claims, then this block's sweeps.
    pub(super) fn onchain_block(&mut self, tick: &mut Tick, height: u32, block: &Block) {
        for (id, funding) in self.unwatched() {
            if let Some(tx) = block.txdata.iter().find(|tx| spends(tx, &funding)) {
                self.start_watch(tick, id, tx, height);
            }
        }
        let mut ids: Vec<ChannelId> = self.onchain.keys().copied().collect();
        ids.sort();
        for id in ids {
            for tx in &block.txdata {
                self.on_spend(id, tx, height);
            }
        }
        self.fail_timed_out();
        self.sweep_ready(tick);
    }

    /// Rebuilds every watch from the active chain (at start, and after a
    /// block is disconnected), then sweeps what is ready.
    pub(super) fn onchain_rescan(&mut self, tick: &mut Tick) {
        self.onchain.clear();
        for (id, funding) in self.unwatched() {
            let Some((tx, height)) = self.broadcaster.confirmed_spend(&funding) else {
                continue;
            };
            self.start_watch(tick, id, &tx, height);
            let mut checked: HashSet<OutPoint> = HashSet::new();
            loop {
                let next: Vec<OutPoint> = self
                    .onchain
                    .get(&id)
                    .map(|w| {
                        w.pending
                            .iter()
                            .map(|(c, _)| c.outpoint)
                            .filter(|o| !checked.contains(o))
                            .collect()
                    })
                    .unwrap_or_default();
                if next.is_empty() {
                    break;
                }
                for outpoint in next {
                    checked.insert(outpoint);
                    if let Some((tx, at)) = self.broadcaster.confirmed_spend(&outpoint) {
                        self.on_spend(id, &tx, at);
                    }
                }
            }
        }
        self.fail_timed_out();
        self.sweep_ready(tick);
    }

    /// The funding output of `id` was spent by `tx` in block `height`.
    fn start_watch(&mut self, tick: &mut Tick, id: ChannelId, tx: &Transaction, height: u32) {
        let txid = tx.compute_txid();
        let record = match self.read(|s| s.lookup_revoked_commitment_by_txid(&txid.to_byte_array()))
        {
            Ok(row) => row.and_then(|row| match super::revoked::decode(id, &row.record) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::error!(channel = %id, %txid, error = %e, "revoked record does not decode");
                    None
                }
            }),
            Err(e) => {
                tracing::error!(channel = %id, %txid, error = %e, "cannot read revoked records");
                None
            }
        };
        let Some(slot) = self.channels.get(&id) else {
            return;
        };
        let Some(est) = slot.chan.established() else {
            return;
        };
        let signer = Signer {
            secp: &self.secp,
            secrets: slot.secrets.as_ref(),
        };
        let resolution = match resolve(tx, est, &signer, record.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(channel = %id, %txid, error = %e, "cannot resolve the funding spend");
                return;
            }
        };
        let operational = !matches!(slot.chan, Channel::Closing(_) | Channel::Closed(_));
        tracing::info!(
            channel = %id, %txid, height, kind = ?resolution.kind,
            claims = resolution.claims.len(), "funding output spent"
        );
        match resolution.kind {
            SpendKind::RevokedRemoteCommitment { number } => {
                tracing::warn!(channel = %id, %txid, number, "the peer published a revoked commitment: punishing");
            }
            SpendKind::Unknown(UnknownSpend::OwnRevokedCommitment { number }) => {
                tracing::error!(channel = %id, %txid, number, "one of our revoked commitments is on chain: the peer can take everything");
            }
            SpendKind::Unknown(why) => {
                tracing::warn!(channel = %id, %txid, ?why, "unrecognised funding spend");
            }
            _ => {}
        }
        for (index, value) in &resolution.unclaimed {
            tracing::warn!(channel = %id, %txid, index, %value, "output we cannot claim");
        }
        let destination = match self.svc.wallet.new_script() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(channel = %id, error = %e, "no wallet script for sweeps: retrying at the next block or start");
                return;
            }
        };
        let mutual = matches!(resolution.kind, SpendKind::MutualClose);
        let pending = resolution
            .claims
            .iter()
            .cloned()
            .map(|c| (c, height))
            .collect();
        self.onchain.insert(
            id,
            Watch {
                resolution,
                destination,
                confirmed_at: height,
                resolved: Vec::new(),
                failed: HashSet::new(),
                funded: HashMap::new(),
                pending,
                sweeps: Vec::new(),
                spent: HashSet::new(),
                warned: HashSet::new(),
                settled: HashSet::new(),
            },
        );
        if operational && !mutual {
            // The peer's commitment (or an unknown spend) while the channel
            // still runs: stop it. Our own commitment, broadcast by the
            // close, is refused by the chain (the funding is spent).
            tracing::warn!(channel = %id, "funding spent on chain: failing the channel");
            self.force_close(tick, id);
        }
    }

    /// `tx`, confirmed in block `height`, may spend pending claims of `id`.
    fn on_spend(&mut self, id: ChannelId, tx: &Transaction, height: u32) {
        let Some(w) = self.onchain.get_mut(&id) else {
            return;
        };
        let mut learned: Vec<PaymentPreimage> = Vec::new();
        for input in &tx.input {
            let op = input.previous_output;
            let Some(pos) = w.pending.iter().position(|(c, _)| c.outpoint == op) else {
                continue;
            };
            let (claim, _) = w.pending.swap_remove(pos);
            w.spent.insert(op);
            let revealed = claim
                .payment_hash()
                .map(|hash| (hash, extract_preimages(tx, &[hash])));
            if let Some((hash, found)) = &revealed {
                if found.is_empty() {
                    w.resolved.push((*hash, height));
                }
            }
            if let Some(next) = htlc::second_stage_claim(&claim, tx) {
                tracing::info!(channel = %id, txid = %tx.compute_txid(), height, "our HTLC transaction confirmed: its output follows after the delay");
                w.pending.push((next, height));
                continue;
            }
            for c in w.resolution.revoked_second_stage_claims(tx) {
                if !w.spent.contains(&c.outpoint)
                    && !w.pending.iter().any(|(p, _)| p.outpoint == c.outpoint)
                {
                    tracing::warn!(channel = %id, outpoint = %c.outpoint, "the cheater's HTLC transaction confirmed: taking its output");
                    w.pending.push((c, height));
                }
            }
            if let Some((_, found)) = revealed {
                learned.extend(found);
            }
            tracing::info!(channel = %id, outpoint = %op, spender = %tx.compute_txid(), height, "claimed output spent");
        }
        learned.retain(|p| w.settled.insert(p.payment_hash()));
        if !learned.is_empty() {
            self.on_preimages_learned(id, learned);
        }
    }

    /// The peer revealed preimages on chain: our outgoing HTLCs with those
    /// hashes are fulfilled (a forward settles upstream, a payment
    /// succeeds), as if `update_fulfill_htlc` had arrived.
    fn on_preimages_learned(&mut self, id: ChannelId, preimages: Vec<PaymentPreimage>) {
        let Some(est) = self.channels.get(&id).and_then(|s| s.chan.established()) else {
            return;
        };
        for p in preimages {
            let hash = p.payment_hash();
            tracing::info!(channel = %id, payment_hash = ?hash, "preimage learned on chain");
            for h in est
                .ledger
                .htlcs()
                .filter(|h| h.offerer == Side::Local && h.payment_hash == hash)
            {
                self.work.events.push_back((
                    id,
                    ChannelEvent::HtlcFulfilled {
                        id: h.id,
                        preimage: p,
                    },
                ));
            }
        }
    }

    /// Fails back our outgoing HTLCs that the chain resolved without a
    /// preimage (BOLT 5: "once the resolving transaction has reached
    /// reasonable depth, MUST fail the corresponding incoming HTLC"):
    /// once the funding spend is [`ANTI_REORG_DELAY`] deep, an HTLC with
    /// no output left to resolve (none in the confirmed commitment, i.e.
    /// trimmed or never committed there, or every output of its payment
    /// hash spent without the preimage at that depth) is failed with
    /// [`HtlcFailure::OnChain`]: its payment part fails, its forward fails
    /// upstream. HTLCs are matched to outputs by payment hash: parts of
    /// one payment on one channel resolve together.
    fn fail_timed_out(&mut self) {
        let tip = self.height;
        let deep = |at: u32| tip >= at.saturating_add(ANTI_REORG_DELAY - 1);
        let mut ids: Vec<ChannelId> = self.onchain.keys().copied().collect();
        ids.sort();
        for id in ids {
            let Some(w) = self.onchain.get_mut(&id) else {
                continue;
            };
            // Only commitments whose HTLC outputs we know: after a mutual
            // close no HTLC is left; on an unknown or future commitment
            // the peer may still claim with the preimage unseen.
            let known = matches!(
                w.resolution.kind,
                SpendKind::LocalCommitment { .. }
                    | SpendKind::RemoteCommitment { .. }
                    | SpendKind::RevokedRemoteCommitment { .. }
            );
            // An output we could not match (e.g. a revoked commitment
            // without its record) may be an HTLC the peer can still claim
            // with the preimage unseen: never fail back then.
            if !known || !deep(w.confirmed_at) || !w.resolution.unclaimed.is_empty() {
                continue;
            }
            let Some(est) = self.channels.get(&id).and_then(|s| s.chan.established()) else {
                continue;
            };
            for h in est.ledger.htlcs().filter(|h| h.offerer == Side::Local) {
                let hash = h.payment_hash;
                let open = w
                    .pending
                    .iter()
                    .any(|(c, _)| c.payment_hash() == Some(hash));
                let shallow = w.resolved.iter().any(|(r, at)| *r == hash && !deep(*at));
                if open || shallow || w.settled.contains(&hash) || h.preimage.is_some() {
                    continue;
                }
                if w.failed.insert(h.id) {
                    tracing::info!(channel = %id, htlc = h.id, payment_hash = ?hash, "our HTLC is resolved on chain without its preimage: failing it back");
                    self.work.events.push_back((
                        id,
                        ChannelEvent::HtlcFailed {
                            id: h.id,
                            failure: HtlcFailure::OnChain,
                        },
                    ));
                }
            }
        }
    }

    /// Keeps `preimage` for the on-chain claim of an incoming HTLC whose
    /// channel could not take the fulfil (it is closing): written in this
    /// tick's commit (store key [`ONCHAIN_PREIMAGE_PREFIX`] + hash), and
    /// the claim is made at the end of the tick.
    pub(super) fn keep_onchain_preimage(&mut self, tick: &mut Tick, preimage: PaymentPreimage) {
        let key = onchain_preimage_key(&preimage.payment_hash());
        tick.batch.store.set_kv(key, preimage.0.to_vec());
        self.onchain_preimages.push(preimage);
        self.work.claim_now = true;
    }

    /// What `listchannels` shows of channel `id` on chain.
    pub(super) fn onchain_info(&self, id: &ChannelId) -> Option<super::slot::OnchainInfo> {
        let w = self.onchain.get(id)?;
        let kind = match w.resolution.kind {
            SpendKind::LocalCommitment { .. } => "local_commitment",
            SpendKind::RemoteCommitment { .. } => "remote_commitment",
            SpendKind::RevokedRemoteCommitment { .. } => "revoked_commitment",
            SpendKind::FutureRemoteCommitment { .. } => "future_commitment",
            SpendKind::MutualClose => "mutual_close",
            _ => "unknown",
        };
        let mut pending: Vec<super::slot::PendingClaim> = w
            .pending
            .iter()
            .map(|(c, at)| super::slot::PendingClaim {
                outpoint: c.outpoint,
                value: c.value,
                kind: match c.kind {
                    ClaimKind::ToLocalAfterCsv { .. } => "to_local",
                    ClaimKind::ToRemote { .. } => "to_remote",
                    ClaimKind::HtlcSuccess { .. } => "htlc_success",
                    ClaimKind::HtlcTimeout { .. } => "htlc_timeout",
                    ClaimKind::Revoked { .. } => "revoked",
                    ClaimKind::AnchorCpfp => "anchor",
                    _ => "other",
                },
                ready_height: c.ready_height(*at),
                deadline_height: c.deadline_height(*at),
            })
            .collect();
        pending.sort_by_key(|p| p.outpoint);
        Some(super::slot::OnchainInfo {
            spend_txid: w.resolution.txid,
            kind,
            confirmed_at: w.confirmed_at,
            pending,
        })
    }

    /// Spends every claim ready in the next block.
    pub(super) fn sweep_ready(&mut self, tick: &mut Tick) {
        let height = self.height;
        let mut ids: Vec<ChannelId> = self.onchain.keys().copied().collect();
        ids.sort();
        for id in ids {
            let Some(slot) = self.channels.get(&id) else {
                continue;
            };
            let Some(w) = self.onchain.get_mut(&id) else {
                continue;
            };
            let signer = Signer {
                secp: &self.secp,
                secrets: slot.secrets.as_ref(),
            };
            let preimages = known_preimages(&slot.chan, |hash| {
                self.onchain_preimages
                    .iter()
                    .find(|p| p.payment_hash() == *hash)
                    .copied()
                    .or_else(|| released_preimage(&self.invoices, self.persister.store(), hash))
            });
            // Sweeps in flight: dropped once a claim of theirs is spent
            // (they confirmed, or cannot any more), or to be replaced when
            // their deadline calls for a quarter more; else the same bytes.
            let deadline_of = |op: &OutPoint| {
                w.pending
                    .iter()
                    .find(|(c, _)| c.outpoint == *op)
                    .map(|(c, at)| c.blocks_left(*at, height))
            };
            let estimate = self.feerate;
            let mut in_flight: HashSet<OutPoint> = HashSet::new();
            let mut again: Vec<Transaction> = Vec::new();
            let mut replaced: Vec<Vec<OutPoint>> = Vec::new();
            w.sweeps.retain(|s| {
                let left: Option<Vec<Option<u32>>> = s.claims.iter().map(deadline_of).collect();
                let Some(left) = left else {
                    return false;
                };
                let needed = escalated_feerate(
                    estimate,
                    left.into_iter().flatten().min(),
                    MAX_SWEEP_FEERATE_PER_KW,
                );
                in_flight.extend(s.claims.iter().copied());
                if u64::from(needed) * 4 > u64::from(s.feerate_per_kw) * 5 {
                    replaced.push(s.claims.clone());
                    return false;
                }
                again.push(s.tx.clone());
                true
            });
            for tx in again {
                tick.broadcasts.push((Some(id), tx));
            }
            let ready: Vec<(Claim, u32)> = w
                .pending
                .iter()
                .filter(|(c, _)| !in_flight.contains(&c.outpoint))
                .filter(|(c, at)| c.ready_height(*at) <= height.saturating_add(1))
                // An HTLC paid to us waits for its preimage: left out, so
                // that it cannot hold back the batch it would join.
                .filter(|(c, _)| {
                    !matches!(c.kind, ClaimKind::HtlcSuccess { .. })
                        || c.payment_hash()
                            .is_some_and(|h| preimages.iter().any(|p| p.payment_hash() == h))
                })
                .cloned()
                .collect();
            // A replacement spends the same claims as the sweep it
            // replaces (never a different set conflicting with it); the
            // claims newly ready go in sweeps of their own.
            let mut groups: Vec<Vec<(Claim, u32)>> = replaced
                .iter()
                .map(|ops| {
                    w.pending
                        .iter()
                        .filter(|(c, _)| ops.contains(&c.outpoint))
                        .cloned()
                        .collect()
                })
                .collect();
            groups.push(ready);
            for ready in groups {
                if ready.is_empty() {
                    continue;
                }
                let blocks_left = ready
                    .iter()
                    .filter_map(|(c, at)| c.blocks_left(*at, height))
                    .min();
                let feerate =
                    escalated_feerate(self.feerate, blocks_left, MAX_SWEEP_FEERATE_PER_KW);
                let revoked =
                    matches!(w.resolution.kind, SpendKind::RevokedRemoteCommitment { .. });
                let anchors = slot
                    .chan
                    .established()
                    .is_some_and(|e| e.core.channel_type.base.has_anchors());
                let split =
                    blocks_left.is_some_and(|b| b <= SECURITY_DELAY) || (revoked && anchors);
                let claims = ready.into_iter().map(|(c, _)| c).collect();
                let plan = match plan_batches(claims, feerate, &w.destination, split, &signer) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::error!(channel = %id, error = %e, "cannot plan sweeps");
                        continue;
                    }
                };
                for batch in plan.batches {
                    match build_sweep(&batch, &w.destination, feerate, &signer, &preimages) {
                        Ok(tx) => {
                            tracing::info!(channel = %id, txid = %tx.compute_txid(), inputs = batch.len(), feerate, "sweeping");
                            w.sweeps.push(Sweep {
                                tx: tx.clone(),
                                claims: batch.iter().map(|c| c.outpoint).collect(),
                                feerate_per_kw: feerate,
                            });
                            tick.broadcasts.push((Some(id), tx));
                        }
                        Err(OnchainError::MissingPreimageError { payment_hash }) => {
                            tracing::debug!(channel = %id, ?payment_hash, "no preimage yet: HTLC left for now");
                        }
                        Err(e) => tracing::warn!(channel = %id, error = %e, "cannot build a sweep"),
                    }
                }
                let cx = HtlcTxContext {
                    id,
                    height,
                    feerate_per_kw: feerate,
                    signer: &signer,
                    preimages: &preimages,
                    wallet: self.svc.wallet.as_ref(),
                    entropy: self.svc.entropy.as_ref(),
                };
                send_htlc_txs(&cx, plan.second_stage, &mut w.funded, &w.spent, tick);
                for c in plan.uneconomical.iter().chain(&plan.anchors) {
                    if w.warned.insert(c.outpoint) {
                        tracing::info!(channel = %id, outpoint = %c.outpoint, value = %c.value, "output left unswept (uneconomical, or an anchor)");
                    }
                }
            }
        }
    }
}

/// The preimages an HTLC-success claim of this channel may use: those its
/// ledger learned (we fulfilled the HTLC, or a forward's downstream did),
/// and those of our invoices already **paid** (the whole set of parts
/// arrived; the fulfil could not reach this channel because it was closing).
/// Never the preimage of an unpaid invoice: one part of an incomplete
/// multi-part set must not be claimed (BOLT 4), it times out.
fn known_preimages(
    chan: &Channel,
    paid: impl Fn(&PaymentHash) -> Option<PaymentPreimage>,
) -> Vec<PaymentPreimage> {
    let Some(est) = chan.established() else {
        return Vec::new();
    };
    let mut out: Vec<PaymentPreimage> = Vec::new();
    for h in est.ledger.htlcs() {
        let p = h.preimage.or_else(|| {
            (h.offerer == Side::Remote)
                .then(|| paid(&h.payment_hash))
                .flatten()
        });
        if let Some(p) = p {
            if !out.iter().any(|q| q.payment_hash() == p.payment_hash()) {
                out.push(p);
            }
        }
    }
    out
}

/// The store key prefix of preimages kept for on-chain claims (forwards
/// settled downstream while their incoming channel was closing).
pub const ONCHAIN_PREIMAGE_PREFIX: &str = "onchain_preimage/";

fn onchain_preimage_key(hash: &PaymentHash) -> String {
    format!("{ONCHAIN_PREIMAGE_PREFIX}{hash}")
}

/// The preimage released for `hash`: of our invoice if it is paid (from
/// the invoices of this tick, paid ones staying there until the commit,
/// else from the store), or kept for an on-chain claim by
/// [`ChannelManager::keep_onchain_preimage`].
fn released_preimage(
    invoices: &HashMap<PaymentHash, fulmen_store::Invoice>,
    store: Option<&fulmen_store::Store>,
    hash: &PaymentHash,
) -> Option<PaymentPreimage> {
    let paid = |i: &fulmen_store::Invoice| {
        (i.status == fulmen_store::InvoiceStatus::Paid)
            .then_some(i.preimage)
            .flatten()
    };
    if let Some(i) = invoices.get(hash) {
        return paid(i);
    }
    let store = store?;
    let found = store
        .invoice_by_hash(hash)
        .map(|i| i.as_ref().and_then(paid));
    let kept = || {
        store.get_kv(&onchain_preimage_key(hash)).map(|v| {
            v.and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .map(PaymentPreimage)
                .filter(|p| p.payment_hash() == *hash)
        })
    };
    match found.and_then(|p| p.map_or_else(kept, |p| Ok(Some(p)))) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(payment_hash = ?hash, error = %e, "cannot read a preimage: its HTLC is not claimed this block");
            None
        }
    }
}
