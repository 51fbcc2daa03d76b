//! HTLC and fee bookkeeping: which update is in which commitment.
//!
//! # The model
//!
//! Every update (an HTLC add, an HTLC removal, a fee change) is proposed by
//! one side and passes through the five stages of BOLT 2 "Normal
//! Operation" ([`Stage`]):
//!
//! 1. [`Stage::Proposed`]: sent, not yet covered by a `commitment_signed`
//!    ("pending on the receiver");
//! 2. [`Stage::InReceiverCommit`]: the proposer signed a commitment for the
//!    receiver that includes it;
//! 3. [`Stage::ReceiverRevoked`]: the receiver revoked its previous
//!    commitment ("pending on the sender");
//! 4. [`Stage::InProposerCommit`]: the receiver signed a commitment for the
//!    proposer that includes it;
//! 5. [`Stage::Done`]: the proposer revoked its previous commitment — the
//!    update is irrevocably committed.
//!
//! Only two events move stages, and they are symmetric ([`Ledger::commit_sent`],
//! [`Ledger::revoke_sent`]): when side `S` sends `commitment_signed`, `S`'s
//! proposed updates become `InReceiverCommit` and the other side's
//! `ReceiverRevoked` updates become `InProposerCommit`; when `S` sends
//! `revoke_and_ack`, the other side's `InReceiverCommit` updates become
//! `ReceiverRevoked` and `S`'s `InProposerCommit` updates become `Done`.
//!
//! Which updates a commitment of `owner` contains ([`View`]) follows:
//! the receiver's commitment has the update from stage 2, the proposer's
//! from stage 4; the *next* commitment the other side will sign for
//! `owner` has every update the signer proposed and the owner's updates
//! from stage 3.
//!
//! An HTLC is an add plus, once the add is `Done`, at most one removal by
//! the other side. When a removal is `Done` the HTLC is settled into the
//! base balances and forgotten; a `Done` fee update becomes the base
//! feerate. Balances of a view are therefore the base balances adjusted by
//! the HTLCs still remembered, computed with exact integer arithmetic.

use std::collections::BTreeMap;

use bitcoin::secp256k1::PublicKey;
use fulmen_script::Side;
use fulmen_types::{Msat, PaymentHash, PaymentPreimage};
use fulmen_wire::OnionPacket;

use crate::error::InternalError;

/// How far an update has travelled (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Sent, not yet signed for the receiver.
    Proposed,
    /// In the receiver's latest commitment.
    InReceiverCommit,
    /// The receiver revoked the commitment without it.
    ReceiverRevoked,
    /// In the proposer's latest commitment.
    InProposerCommit,
    /// The proposer revoked the commitment without it: irrevocable.
    Done,
}

impl Stage {
    /// All stages, in order.
    pub const ALL: [Stage; 5] = [
        Stage::Proposed,
        Stage::InReceiverCommit,
        Stage::ReceiverRevoked,
        Stage::InProposerCommit,
        Stage::Done,
    ];
}

/// Which commitment of an owner a [`Spec`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    /// The owner's latest signed commitment.
    Current,
    /// The commitment the other side signs next for the owner.
    Next,
    /// Every known update applied, whatever its stage (for limits that
    /// must hold once everything in flight is committed).
    Projected,
}

/// Whether an update of `stage` proposed by `proposer` is in `owner`'s
/// commitment of `view`.
pub fn included(stage: Stage, proposer: Side, owner: Side, view: View) -> bool {
    let own = proposer == owner;
    match view {
        View::Projected => true,
        View::Next => !own || stage >= Stage::ReceiverRevoked,
        View::Current => {
            if own {
                stage >= Stage::InProposerCommit
            } else {
                stage >= Stage::InReceiverCommit
            }
        }
    }
}

/// How an HTLC is removed.
#[derive(Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `update_fulfill_htlc` with the preimage.
    Fulfill(PaymentPreimage),
    /// `update_fail_htlc` with its opaque reason.
    Fail(Vec<u8>),
    /// `update_fail_malformed_htlc`.
    Malformed {
        /// `sha256_of_onion`.
        sha256_of_onion: [u8; 32],
        /// `failure_code` (BADONION set).
        failure_code: u16,
    },
}

impl core::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Fulfill(_) => f.write_str("Fulfill(<preimage redacted>)"),
            Self::Fail(r) => write!(f, "Fail({} bytes)", r.len()),
            Self::Malformed { failure_code, .. } => {
                write!(f, "Malformed({failure_code:#06x})")
            }
        }
    }
}

/// A removal proposed by the HTLC's receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// Fulfill or fail.
    pub outcome: Outcome,
    /// Its stage.
    pub stage: Stage,
    /// Proposal order among all updates.
    pub seq: u64,
}

/// One HTLC, offered by `offerer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtlcEntry {
    /// Who offered it (`Local`: outgoing).
    pub offerer: Side,
    /// The offerer's id.
    pub id: u64,
    /// `amount_msat`.
    pub amount: Msat,
    /// `payment_hash`.
    pub payment_hash: PaymentHash,
    /// `cltv_expiry`.
    pub cltv_expiry: u32,
    /// The onion: kept for our outgoing HTLCs until the peer acknowledged
    /// the add (retransmission), for incoming ones until we remove them.
    pub onion: Option<OnionPacket>,
    /// `blinded_path` `path_key` of the add.
    pub path_key: Option<PublicKey>,
    /// The add's stage.
    pub add_stage: Stage,
    /// The add's proposal order.
    pub add_seq: u64,
    /// The removal, once proposed.
    pub removal: Option<Removal>,
    /// The preimage, once learned (kept even if an uncommitted fulfill is
    /// reversed on disconnection).
    pub preimage: Option<PaymentPreimage>,
    /// An incoming HTLC that, when received, pushed the dust balance of a
    /// commitment past our `max_dust_htlc_exposure_msat` (BOLT 2: "SHOULD
    /// fail this HTLC once it's committed", "SHOULD NOT reveal a preimage
    /// for this HTLC"). Always `false` for our own HTLCs (those are refused
    /// before they are sent).
    pub over_dust_exposure: bool,
}

/// A fee change proposed by the funder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeUpdate {
    /// `feerate_per_kw`.
    pub feerate: u32,
    /// Its stage.
    pub stage: Stage,
    /// Proposal order.
    pub seq: u64,
}

/// An HTLC in a commitment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecHtlc {
    /// Who offered it.
    pub offerer: Side,
    /// The offerer's id.
    pub id: u64,
    /// The amount.
    pub amount: Msat,
    /// The payment hash.
    pub payment_hash: PaymentHash,
    /// The expiry.
    pub cltv_expiry: u32,
}

/// The content of one commitment: balances (ours and the peer's, HTLCs
/// excluded, before fees), the HTLCs in flight, the feerate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// `feerate_per_kw`.
    pub feerate: u32,
    /// Our balance.
    pub local: Msat,
    /// The peer's balance.
    pub remote: Msat,
    /// HTLCs in flight, ours first, each by id.
    pub htlcs: Vec<SpecHtlc>,
}

impl Spec {
    /// The balance of `side`.
    pub fn balance(&self, side: Side) -> Msat {
        match side {
            Side::Local => self.local,
            Side::Remote => self.remote,
        }
    }

    /// HTLCs offered by `offerer`: count and total.
    pub fn offered(&self, offerer: Side) -> (usize, Option<Msat>) {
        let mut count = 0usize;
        let total =
            Msat::checked_sum(self.htlcs.iter().filter(|h| h.offerer == offerer).map(|h| {
                count = count.saturating_add(1);
                h.amount
            }));
        (count, total)
    }

    /// This spec with one more HTLC offered by `h.offerer`, paid from its
    /// balance; `None` if the balance cannot cover it.
    pub fn with_htlc(&self, h: SpecHtlc) -> Option<Spec> {
        let mut s = self.clone();
        match h.offerer {
            Side::Local => s.local = s.local.checked_sub(h.amount)?,
            Side::Remote => s.remote = s.remote.checked_sub(h.amount)?,
        }
        s.htlcs.push(h);
        Some(s)
    }

    /// The same commitment described by the peer (local and remote
    /// swapped).
    pub fn mirrored(&self) -> Spec {
        let mut htlcs: Vec<SpecHtlc> = self
            .htlcs
            .iter()
            .map(|h| SpecHtlc {
                offerer: h.offerer.other(),
                ..*h
            })
            .collect();
        htlcs.sort_by_key(|h| (h.offerer == Side::Remote, h.id));
        Spec {
            feerate: self.feerate,
            local: self.remote,
            remote: self.local,
            htlcs,
        }
    }
}

/// Why a removal was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveError {
    /// No HTLC with that id.
    Unknown,
    /// Its add is not irrevocably committed.
    NotCommitted,
    /// It already has a removal.
    AlreadyRemoved,
}

/// What a revocation made irrevocable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// An incoming HTLC is irrevocably committed: hand it to the node.
    IncomingAdded(HtlcEntry),
    /// An outgoing HTLC's removal is irrevocable (fail outcomes are
    /// reported; fulfills were reported on receipt).
    OutgoingRemoved {
        /// Its id.
        id: u64,
        /// Fulfill or fail.
        outcome: Outcome,
    },
    /// Our removal of an incoming HTLC is irrevocable.
    IncomingRemoved {
        /// Its id.
        id: u64,
    },
}

/// One of our proposals to (re)transmit, in proposal order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proposal {
    /// `update_add_htlc` of our HTLC.
    Add(HtlcEntry),
    /// Removal of an incoming HTLC.
    Remove {
        /// Its id.
        id: u64,
        /// How.
        outcome: Outcome,
    },
    /// `update_fee`.
    Fee(u32),
}

/// The bookkeeping of one channel (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    pub(crate) funder: Side,
    pub(crate) base_local: Msat,
    pub(crate) base_remote: Msat,
    pub(crate) base_feerate: u32,
    pub(crate) offered: BTreeMap<u64, HtlcEntry>,
    pub(crate) received: BTreeMap<u64, HtlcEntry>,
    pub(crate) fee_updates: Vec<FeeUpdate>,
    pub(crate) next_local_id: u64,
    pub(crate) next_remote_id: u64,
    pub(crate) next_seq: u64,
}

impl Ledger {
    /// A fresh channel's bookkeeping.
    pub fn new(funder: Side, local: Msat, remote: Msat, feerate: u32) -> Self {
        Self {
            funder,
            base_local: local,
            base_remote: remote,
            base_feerate: feerate,
            offered: BTreeMap::new(),
            received: BTreeMap::new(),
            fee_updates: Vec::new(),
            next_local_id: 0,
            next_remote_id: 0,
            next_seq: 0,
        }
    }

    /// Who pays the commitment fee.
    pub fn funder(&self) -> Side {
        self.funder
    }

    fn map(&self, offerer: Side) -> &BTreeMap<u64, HtlcEntry> {
        match offerer {
            Side::Local => &self.offered,
            Side::Remote => &self.received,
        }
    }

    fn map_mut(&mut self, offerer: Side) -> &mut BTreeMap<u64, HtlcEntry> {
        match offerer {
            Side::Local => &mut self.offered,
            Side::Remote => &mut self.received,
        }
    }

    fn entries(&self) -> impl Iterator<Item = &HtlcEntry> + '_ {
        self.offered.values().chain(self.received.values())
    }

    /// The HTLC `offerer` offered with `id`.
    pub fn htlc(&self, offerer: Side, id: u64) -> Option<&HtlcEntry> {
        self.map(offerer).get(&id)
    }

    /// Every remembered HTLC, ours first.
    pub fn htlcs(&self) -> impl Iterator<Item = &HtlcEntry> + '_ {
        self.entries()
    }

    /// Pending fee updates, oldest first.
    pub fn fee_updates(&self) -> &[FeeUpdate] {
        &self.fee_updates
    }

    /// The id the next HTLC offered by `offerer` must have.
    pub fn next_htlc_id(&self, offerer: Side) -> u64 {
        match offerer {
            Side::Local => self.next_local_id,
            Side::Remote => self.next_remote_id,
        }
    }

    fn take_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        s
    }

    /// The commitment of `owner` in `view`.
    pub fn spec(&self, owner: Side, view: View) -> Result<Spec, InternalError> {
        let mut local = i128::from(self.base_local.0);
        let mut remote = i128::from(self.base_remote.0);
        let mut htlcs = Vec::new();
        for e in self.entries() {
            if !included(e.add_stage, e.offerer, owner, view) {
                continue;
            }
            let amount = i128::from(e.amount.0);
            let (offerer_bal, receiver_bal) = match e.offerer {
                Side::Local => (&mut local, &mut remote),
                Side::Remote => (&mut remote, &mut local),
            };
            *offerer_bal -= amount;
            let removed = e
                .removal
                .as_ref()
                .filter(|r| included(r.stage, e.offerer.other(), owner, view));
            match removed {
                None => htlcs.push(SpecHtlc {
                    offerer: e.offerer,
                    id: e.id,
                    amount: e.amount,
                    payment_hash: e.payment_hash,
                    cltv_expiry: e.cltv_expiry,
                }),
                Some(r) => match r.outcome {
                    Outcome::Fulfill(_) => *receiver_bal += amount,
                    Outcome::Fail(_) | Outcome::Malformed { .. } => *offerer_bal += amount,
                },
            }
        }
        let feerate = self
            .fee_updates
            .iter()
            .rev()
            .find(|u| included(u.stage, self.funder, owner, view))
            .map_or(self.base_feerate, |u| u.feerate);
        let to_msat = |v: i128| {
            u64::try_from(v)
                .map(Msat)
                .map_err(|_| InternalError::BalanceArithmetic)
        };
        Ok(Spec {
            feerate,
            local: to_msat(local)?,
            remote: to_msat(remote)?,
            htlcs,
        })
    }

    /// Records an HTLC offered by `offerer` (id must be the next one; the
    /// caller checked every other rule).
    #[allow(clippy::too_many_arguments)]
    pub fn add_htlc(
        &mut self,
        offerer: Side,
        id: u64,
        amount: Msat,
        payment_hash: PaymentHash,
        cltv_expiry: u32,
        onion: OnionPacket,
        path_key: Option<PublicKey>,
    ) -> Result<(), u64> {
        let expected = self.next_htlc_id(offerer);
        if id != expected {
            return Err(expected);
        }
        let seq = self.take_seq();
        let next = id.saturating_add(1);
        match offerer {
            Side::Local => self.next_local_id = next,
            Side::Remote => self.next_remote_id = next,
        }
        self.map_mut(offerer).insert(
            id,
            HtlcEntry {
                offerer,
                id,
                amount,
                payment_hash,
                cltv_expiry,
                onion: Some(onion),
                path_key,
                add_stage: Stage::Proposed,
                add_seq: seq,
                removal: None,
                preimage: None,
                over_dust_exposure: false,
            },
        );
        Ok(())
    }

    /// Flags the incoming HTLC `id` as over our dust exposure limit (see
    /// [`HtlcEntry::over_dust_exposure`]).
    pub(crate) fn flag_over_dust_exposure(&mut self, id: u64) {
        if let Some(e) = self.received.get_mut(&id) {
            e.over_dust_exposure = true;
        }
    }

    /// Checks that the HTLC `offerer` offered with `id` may be removed.
    pub fn check_removable(&self, offerer: Side, id: u64) -> Result<&HtlcEntry, RemoveError> {
        let e = self.map(offerer).get(&id).ok_or(RemoveError::Unknown)?;
        if e.add_stage != Stage::Done {
            return Err(RemoveError::NotCommitted);
        }
        if e.removal.is_some() {
            return Err(RemoveError::AlreadyRemoved);
        }
        Ok(e)
    }

    /// Records the removal of the HTLC `offerer` offered with `id`, proposed
    /// by the other side.
    pub fn remove_htlc(
        &mut self,
        offerer: Side,
        id: u64,
        outcome: Outcome,
    ) -> Result<(), RemoveError> {
        self.check_removable(offerer, id)?;
        let seq = self.take_seq();
        let e = self
            .map_mut(offerer)
            .get_mut(&id)
            .ok_or(RemoveError::Unknown)?;
        if let Outcome::Fulfill(p) = &outcome {
            e.preimage = Some(*p);
        }
        if offerer == Side::Remote {
            // We are done with the incoming onion once we answer it.
            e.onion = None;
        }
        e.removal = Some(Removal {
            outcome,
            stage: Stage::Proposed,
            seq,
        });
        Ok(())
    }

    /// Records a fee change proposed by the funder. An earlier fee change
    /// not yet covered by a `commitment_signed` is in exactly the same
    /// commitments as this one, so it is superseded and dropped (a peer
    /// cannot grow our state with endless `update_fee`s).
    pub fn propose_fee(&mut self, feerate: u32) {
        self.fee_updates.retain(|u| u.stage != Stage::Proposed);
        let seq = self.take_seq();
        self.fee_updates.push(FeeUpdate {
            feerate,
            stage: Stage::Proposed,
            seq,
        });
    }

    fn stages_mut(&mut self, mut f: impl FnMut(Side, &mut Stage)) {
        for e in self.offered.values_mut().chain(self.received.values_mut()) {
            f(e.offerer, &mut e.add_stage);
            if let Some(r) = e.removal.as_mut() {
                f(e.offerer.other(), &mut r.stage);
            }
        }
        let funder = self.funder;
        for u in &mut self.fee_updates {
            f(funder, &mut u.stage);
        }
    }

    fn any_stage(&self, mut f: impl FnMut(Side, Stage) -> bool) -> bool {
        self.entries().any(|e| {
            f(e.offerer, e.add_stage)
                || e.removal
                    .as_ref()
                    .is_some_and(|r| f(e.offerer.other(), r.stage))
        }) || self.fee_updates.iter().any(|u| f(self.funder, u.stage))
    }

    /// Whether `signer`'s next `commitment_signed` would include anything
    /// new (its own proposals, or the other side's acknowledged ones).
    pub fn has_changes_to_sign(&self, signer: Side) -> bool {
        self.any_stage(|p, s| {
            (p == signer && s == Stage::Proposed) || (p != signer && s == Stage::ReceiverRevoked)
        })
    }

    /// Whether `proposer` has updates no `commitment_signed` covers yet.
    pub fn has_uncommitted(&self, proposer: Side) -> bool {
        self.any_stage(|p, s| p == proposer && s == Stage::Proposed)
    }

    /// `by` sent `commitment_signed`.
    pub fn commit_sent(&mut self, by: Side) {
        self.stages_mut(|p, s| {
            if p == by && *s == Stage::Proposed {
                *s = Stage::InReceiverCommit;
            } else if p != by && *s == Stage::ReceiverRevoked {
                *s = Stage::InProposerCommit;
            }
        });
    }

    /// `by` sent `revoke_and_ack`; returns what became irrevocable, then
    /// settles removed HTLCs into the base balances.
    pub fn revoke_sent(&mut self, by: Side) -> Result<Vec<Settled>, InternalError> {
        let mut newly_done: Vec<(Side, u64, bool)> = Vec::new();
        for e in self.offered.values_mut().chain(self.received.values_mut()) {
            let offerer = e.offerer;
            if advance_on_revoke(offerer, by, &mut e.add_stage) {
                newly_done.push((offerer, e.id, true));
            }
            if offerer == Side::Local && e.add_stage >= Stage::ReceiverRevoked {
                // The peer acknowledged our add: no retransmission needed.
                e.onion = None;
            }
            if let Some(r) = e.removal.as_mut() {
                if advance_on_revoke(offerer.other(), by, &mut r.stage) {
                    newly_done.push((offerer, e.id, false));
                }
            }
        }
        let funder = self.funder;
        for u in &mut self.fee_updates {
            advance_on_revoke(funder, by, &mut u.stage);
        }
        if let Some(last) = self
            .fee_updates
            .iter()
            .rev()
            .find(|u| u.stage == Stage::Done)
        {
            self.base_feerate = last.feerate;
        }
        self.fee_updates.retain(|u| u.stage != Stage::Done);

        let mut out = Vec::new();
        for (offerer, id, is_add) in newly_done {
            if is_add {
                if offerer == Side::Remote {
                    if let Some(e) = self.received.get(&id) {
                        out.push(Settled::IncomingAdded(e.clone()));
                    }
                }
                continue;
            }
            let Some(e) = self.map_mut(offerer).remove(&id) else {
                continue;
            };
            let Some(r) = e.removal else { continue };
            let credit_receiver = matches!(r.outcome, Outcome::Fulfill(_));
            let (off_bal, rec_bal) = match offerer {
                Side::Local => (&mut self.base_local, &mut self.base_remote),
                Side::Remote => (&mut self.base_remote, &mut self.base_local),
            };
            if credit_receiver {
                *off_bal = off_bal
                    .checked_sub(e.amount)
                    .ok_or(InternalError::BalanceArithmetic)?;
                *rec_bal = rec_bal
                    .checked_add(e.amount)
                    .ok_or(InternalError::BalanceArithmetic)?;
            }
            out.push(match offerer {
                Side::Local => Settled::OutgoingRemoved {
                    id,
                    outcome: r.outcome,
                },
                Side::Remote => Settled::IncomingRemoved { id },
            });
        }
        Ok(out)
    }

    /// Reverses `proposer`'s updates that no `commitment_signed` covers
    /// (BOLT 2: on disconnection, reverse the peer's uncommitted updates).
    pub fn drop_uncommitted(&mut self, proposer: Side) {
        let map = self.map_mut(proposer);
        let dropped: Vec<u64> = map
            .values()
            .filter(|e| e.add_stage == Stage::Proposed)
            .map(|e| e.id)
            .collect();
        for id in &dropped {
            map.remove(id);
        }
        if let Some(lowest) = dropped.iter().min() {
            match proposer {
                Side::Local => self.next_local_id = *lowest,
                Side::Remote => self.next_remote_id = *lowest,
            }
        }
        for e in self.map_mut(proposer.other()).values_mut() {
            if e.removal
                .as_ref()
                .is_some_and(|r| r.stage == Stage::Proposed)
            {
                e.removal = None;
            }
        }
        if self.funder == proposer {
            self.fee_updates.retain(|u| u.stage != Stage::Proposed);
        }
    }

    /// Our proposals at `stage`, in the order they were first sent.
    pub fn proposals(&self, proposer: Side, stage: Stage) -> Vec<Proposal> {
        let mut out: Vec<(u64, Proposal)> = Vec::new();
        for e in self.map(proposer).values() {
            if e.add_stage == stage {
                out.push((e.add_seq, Proposal::Add(e.clone())));
            }
        }
        for e in self.map(proposer.other()).values() {
            if let Some(r) = e.removal.as_ref().filter(|r| r.stage == stage) {
                out.push((
                    r.seq,
                    Proposal::Remove {
                        id: e.id,
                        outcome: r.outcome.clone(),
                    },
                ));
            }
        }
        if self.funder == proposer {
            for u in self.fee_updates.iter().filter(|u| u.stage == stage) {
                out.push((u.seq, Proposal::Fee(u.feerate)));
            }
        }
        out.sort_by_key(|(seq, _)| *seq);
        out.into_iter().map(|(_, p)| p).collect()
    }

    /// No HTLC and no fee change is pending anywhere.
    pub fn is_clean(&self) -> bool {
        self.offered.is_empty() && self.received.is_empty() && self.fee_updates.is_empty()
    }
}

/// Moves `stage` of an update by `proposer` on a revocation by `by`;
/// returns whether it became `Done`.
fn advance_on_revoke(proposer: Side, by: Side, stage: &mut Stage) -> bool {
    if proposer != by && *stage == Stage::InReceiverCommit {
        *stage = Stage::ReceiverRevoked;
    } else if proposer == by && *stage == Stage::InProposerCommit {
        *stage = Stage::Done;
        return true;
    }
    false
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
