//! Normal operation updates (BOLT 2): `update_add_htlc`,
//! `update_fulfill_htlc`, `update_fail_htlc`, `update_fail_malformed_htlc`
//! and `update_fee`, both the receiver checks and our own proposals.
//!
//! Every receiver check runs before anything is recorded, so a rejected
//! message leaves the channel unchanged.

use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::PublicKey;
use fulmen_script::Side;
use fulmen_types::{Msat, PaymentHash, PaymentPreimage, Sat};
use fulmen_wire::{
    Message, OnionPacket, UpdateAddHtlc, UpdateFailHtlc, UpdateFailMalformedHtlc, UpdateFee,
    UpdateFulfillHtlc,
};

use crate::commitment::funder_cost;
use crate::config::Ctx;
use crate::error::{AddError, ApiError, ChannelError, InternalError, Violation};
use crate::events::{ChannelEvent, Outputs};
use crate::ledger::{Outcome, Proposal, RemoveError, Spec, SpecHtlc, View};
use crate::params::{BADONION, CLTV_EXPIRY_LIMIT};
use crate::state::{Established, Link};

fn close(v: Violation) -> ChannelError {
    ChannelError::Close(v)
}

fn remove_violation(e: RemoveError, id: u64) -> Violation {
    match e {
        RemoveError::Unknown => Violation::UnknownHtlc { id },
        RemoveError::NotCommitted => Violation::HtlcNotCommitted { id },
        RemoveError::AlreadyRemoved => Violation::HtlcAlreadyRemoved { id },
    }
}

fn remove_api_error(e: RemoveError, id: u64) -> ApiError {
    match e {
        RemoveError::Unknown => ApiError::UnknownHtlc { id },
        RemoveError::NotCommitted => ApiError::HtlcNotCommitted { id },
        RemoveError::AlreadyRemoved => ApiError::HtlcAlreadyRemoved { id },
    }
}

/// Whether `payer` keeps `reserve` and, if it is the funder, pays the fee
/// and anchors of `owner`'s commitment holding `spec` at `feerate` with
/// `extra_htlcs` more outputs.
fn affordable(
    est: &Established,
    owner: Side,
    spec: &Spec,
    payer: Side,
    reserve: Sat,
    feerate: u32,
    extra_htlcs: usize,
) -> Result<bool, InternalError> {
    let mut need = reserve
        .checked_to_msat()
        .ok_or(InternalError::BalanceArithmetic)?;
    if est.ledger.funder() == payer {
        let cost = funder_cost(&est.core, owner, spec, feerate, extra_htlcs)
            .and_then(Sat::checked_to_msat)
            .ok_or(InternalError::BalanceArithmetic)?;
        need = need
            .checked_add(cost)
            .ok_or(InternalError::BalanceArithmetic)?;
    }
    Ok(spec.balance(payer) >= need)
}

/// The `update_*` message for one of our proposals.
pub(crate) fn proposal_message(est: &Established, p: &Proposal) -> Result<Message, InternalError> {
    let channel_id = est.core.channel_id;
    Ok(match p {
        Proposal::Add(e) => Message::UpdateAddHtlc(UpdateAddHtlc {
            channel_id,
            id: e.id,
            amount: e.amount,
            payment_hash: e.payment_hash,
            cltv_expiry: e.cltv_expiry,
            onion_routing_packet: e.onion.clone().ok_or(InternalError::CommitmentBuild)?,
            path_key: e.path_key,
            unknown_tlvs: Vec::new(),
        }),
        Proposal::Remove { id, outcome } => removal_message(est, *id, outcome),
        Proposal::Fee(feerate) => Message::UpdateFee(UpdateFee {
            channel_id,
            feerate_per_kw: *feerate,
            unknown_tlvs: Vec::new(),
        }),
    })
}

fn removal_message(est: &Established, id: u64, outcome: &Outcome) -> Message {
    let channel_id = est.core.channel_id;
    match outcome {
        Outcome::Fulfill(p) => Message::UpdateFulfillHtlc(UpdateFulfillHtlc {
            channel_id,
            id,
            payment_preimage: *p,
            attribution_data: None,
            unknown_tlvs: Vec::new(),
        }),
        Outcome::Fail(reason) => Message::UpdateFailHtlc(UpdateFailHtlc {
            channel_id,
            id,
            reason: reason.clone(),
            attribution_data: None,
            unknown_tlvs: Vec::new(),
        }),
        Outcome::Malformed {
            sha256_of_onion,
            failure_code,
        } => Message::UpdateFailMalformedHtlc(UpdateFailMalformedHtlc {
            channel_id,
            id,
            sha256_of_onion: *sha256_of_onion,
            failure_code: *failure_code,
            unknown_tlvs: Vec::new(),
        }),
    }
}

impl Established {
    /// `update_add_htlc` receiver checks (BOLT 2 "Adding an HTLC").
    /// `sender_shut_down`: the peer already sent `shutdown`.
    pub(crate) fn receive_add(
        &mut self,
        m: UpdateAddHtlc,
        sender_shut_down: bool,
        ctx: &Ctx<'_>,
    ) -> Result<Outputs, ChannelError> {
        // MUST NOT send an `update_add_htlc` after a `shutdown`.
        if sender_shut_down {
            return Err(close(Violation::AddAfterShutdown));
        }
        let expected = self.ledger.next_htlc_id(Side::Remote);
        if m.id != expected {
            return Err(close(Violation::UnexpectedHtlcId {
                expected,
                got: m.id,
            }));
        }
        // Receiving an `amount_msat` equal to 0, OR less than its own
        // `htlc_minimum_msat`.
        if m.amount == Msat::ZERO {
            return Err(close(Violation::HtlcAmountZero));
        }
        let minimum = self.core.local_params.htlc_minimum;
        if m.amount < minimum {
            return Err(close(Violation::HtlcBelowMinimum {
                amount: m.amount,
                minimum,
            }));
        }
        // `cltv_expiry` greater or equal to 500000000.
        if m.cltv_expiry >= CLTV_EXPIRY_LIMIT {
            return Err(close(Violation::CltvExpiryTooLarge {
                cltv_expiry: m.cltv_expiry,
            }));
        }
        // Our next commitment with the HTLC.
        let spec = self
            .ledger
            .spec(Side::Local, View::Next)?
            .with_htlc(SpecHtlc {
                offerer: Side::Remote,
                id: m.id,
                amount: m.amount,
                payment_hash: m.payment_hash,
                cltv_expiry: m.cltv_expiry,
            })
            .ok_or(close(Violation::HtlcUnaffordable { amount: m.amount }))?;
        // More than our `max_accepted_htlcs`, or more than our
        // `max_htlc_value_in_flight_msat`, offered to our commitment.
        let (count, total) = spec.offered(Side::Remote);
        let p = &self.core.local_params;
        if count > usize::from(p.max_accepted_htlcs) {
            return Err(close(Violation::TooManyHtlcs {
                count,
                max: p.max_accepted_htlcs,
            }));
        }
        let total = total.ok_or(InternalError::BalanceArithmetic)?;
        if total > p.max_htlc_value_in_flight {
            return Err(close(Violation::InFlightExceeded {
                total,
                max: p.max_htlc_value_in_flight,
            }));
        }
        // An amount the sender cannot afford at the current feerate while
        // keeping its reserve (and, as funder, the fee and anchors).
        let reserve = self.core.reserve_of(Side::Remote);
        if !affordable(
            self,
            Side::Local,
            &spec,
            Side::Remote,
            reserve,
            spec.feerate,
            0,
        )? {
            return Err(close(Violation::HtlcUnaffordable { amount: m.amount }));
        }
        // BOLT 2 "when receiving an HTLC": trimmed from a commitment whose
        // dust balance plus `amount_msat` is greater than
        // `max_dust_htlc_exposure_msat`: "SHOULD fail this HTLC once it's
        // committed". Accepted, and flagged for the node.
        let over_dust = self
            .add_over_dust_limit(Side::Remote, m.amount, ctx.config.max_dust_htlc_exposure)?
            .is_some();
        let id = m.id;
        self.ledger
            .add_htlc(
                Side::Remote,
                m.id,
                m.amount,
                m.payment_hash,
                m.cltv_expiry,
                m.onion_routing_packet,
                m.path_key,
            )
            .map_err(|expected| close(Violation::UnexpectedHtlcId { expected, got: id }))?;
        if over_dust {
            self.ledger.flag_over_dust_exposure(id);
        }
        Ok(Outputs::none().changed())
    }

    /// `update_fulfill_htlc`: the preimage is usable upstream at once.
    pub(crate) fn receive_fulfill(
        &mut self,
        m: &UpdateFulfillHtlc,
    ) -> Result<Outputs, ChannelError> {
        let e = self
            .ledger
            .check_removable(Side::Local, m.id)
            .map_err(|e| close(remove_violation(e, m.id)))?;
        // The preimage doesn't SHA256 hash to the HTLC's `payment_hash`.
        if m.payment_preimage.payment_hash() != e.payment_hash {
            return Err(close(Violation::PreimageMismatch { id: m.id }));
        }
        let already_known = e.preimage.is_some();
        self.ledger
            .remove_htlc(Side::Local, m.id, Outcome::Fulfill(m.payment_preimage))
            .map_err(|e| close(remove_violation(e, m.id)))?;
        let mut out = Outputs::none();
        if !already_known {
            out.event(ChannelEvent::HtlcFulfilled {
                id: m.id,
                preimage: m.payment_preimage,
            });
        }
        Ok(out.changed())
    }

    /// `update_fail_htlc`.
    pub(crate) fn receive_fail(&mut self, m: UpdateFailHtlc) -> Result<Outputs, ChannelError> {
        self.ledger
            .remove_htlc(Side::Local, m.id, Outcome::Fail(m.reason))
            .map_err(|e| close(remove_violation(e, m.id)))?;
        Ok(Outputs::none().changed())
    }

    /// `update_fail_malformed_htlc`.
    pub(crate) fn receive_fail_malformed(
        &mut self,
        m: &UpdateFailMalformedHtlc,
    ) -> Result<Outputs, ChannelError> {
        self.ledger
            .check_removable(Side::Local, m.id)
            .map_err(|e| close(remove_violation(e, m.id)))?;
        // The `BADONION` bit in `failure_code` is not set.
        if m.failure_code & BADONION == 0 {
            return Err(close(Violation::MalformedWithoutBadOnion {
                failure_code: m.failure_code,
            }));
        }
        self.ledger
            .remove_htlc(
                Side::Local,
                m.id,
                Outcome::Malformed {
                    sha256_of_onion: m.sha256_of_onion,
                    failure_code: m.failure_code,
                },
            )
            .map_err(|e| close(remove_violation(e, m.id)))?;
        Ok(Outputs::none().changed())
    }

    /// `update_fee` receiver checks (BOLT 2 "Updating Fees").
    pub(crate) fn receive_fee(
        &mut self,
        m: &UpdateFee,
        ctx: &Ctx<'_>,
    ) -> Result<Outputs, ChannelError> {
        // The sender is not responsible for paying the Bitcoin fee.
        if self.ledger.funder() != Side::Remote {
            return Err(close(Violation::FeeUpdateFromNonFunder));
        }
        // The `update_fee` is too low for timely processing, OR is
        // unreasonably large.
        let (min, max) = (ctx.config.min_feerate_per_kw, ctx.config.max_feerate_per_kw);
        if m.feerate_per_kw < min || m.feerate_per_kw > max {
            return Err(close(Violation::FeerateOutOfRange {
                feerate: m.feerate_per_kw,
                min,
                max,
            }));
        }
        // The sender cannot afford the new fee rate on our commitment.
        let spec = self.ledger.spec(Side::Local, View::Next)?;
        if !affordable(
            self,
            Side::Local,
            &spec,
            Side::Remote,
            Sat::ZERO,
            m.feerate_per_kw,
            0,
        )? {
            return Err(close(Violation::FeeUnaffordable {
                feerate: m.feerate_per_kw,
            }));
        }
        // Without `option_anchors`, an increase that takes a dust balance
        // past `max_dust_htlc_exposure_msat`: "MAY fail the channel" — if
        // our policy says so (`fail_on_dust_fee_increase`); otherwise the
        // fee is accepted and the add rules keep further dust out.
        let dust = if ctx.config.fail_on_dust_fee_increase {
            self.fee_over_dust_limit(m.feerate_per_kw, ctx.config.max_dust_htlc_exposure)?
        } else {
            None
        };
        if let Some(x) = dust {
            return Err(close(Violation::FeeDustExposureExceeded {
                feerate: m.feerate_per_kw,
                commitment: x.commitment,
                dust_balance: x.dust_balance,
                max: x.max,
            }));
        }
        self.ledger.propose_fee(m.feerate_per_kw);
        Ok(Outputs::none().changed())
    }

    /// Offers an HTLC, with the sender rules of BOLT 2 "Adding an HTLC".
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_add(
        &mut self,
        amount: Msat,
        payment_hash: PaymentHash,
        cltv_expiry: u32,
        onion: OnionPacket,
        path_key: Option<PublicKey>,
        ctx: &Ctx<'_>,
    ) -> Result<(u64, Outputs), AddError> {
        if self.link != Link::Connected {
            return Err(AddError::Disconnected);
        }
        if amount == Msat::ZERO {
            return Err(AddError::AmountZero);
        }
        let minimum = self.core.remote_params.htlc_minimum;
        if amount < minimum {
            return Err(AddError::BelowMinimum { minimum });
        }
        if cltv_expiry >= CLTV_EXPIRY_LIMIT {
            return Err(AddError::CltvExpiryTooLarge);
        }
        let id = self.ledger.next_htlc_id(Side::Local);
        let h = SpecHtlc {
            offerer: Side::Local,
            id,
            amount,
            payment_hash,
            cltv_expiry,
        };
        // The peer's next commitment (what it will check) and ours once
        // everything in flight is committed.
        let remote = self
            .ledger
            .spec(Side::Remote, View::Next)?
            .with_htlc(h)
            .ok_or(AddError::InsufficientBalance)?;
        let local = self
            .ledger
            .spec(Side::Local, View::Projected)?
            .with_htlc(h)
            .ok_or(AddError::InsufficientBalance)?;
        let p = &self.core.remote_params;
        let (count, total) = remote.offered(Side::Local);
        if count > usize::from(p.max_accepted_htlcs) {
            return Err(AddError::TooManyHtlcs {
                max: p.max_accepted_htlcs,
            });
        }
        if total.ok_or(InternalError::BalanceArithmetic)? > p.max_htlc_value_in_flight {
            return Err(AddError::InFlightExceeded {
                max: p.max_htlc_value_in_flight,
            });
        }
        let reserve = self.core.reserve_of(Side::Local);
        for (owner, spec) in [(Side::Remote, &remote), (Side::Local, &local)] {
            if !affordable(self, owner, spec, Side::Local, reserve, spec.feerate, 0)? {
                return Err(AddError::InsufficientBalance);
            }
            // The "fee spike buffer": twice the feerate, one more HTLC.
            if ctx.config.fee_spike_buffer && self.ledger.funder() == Side::Local {
                let doubled = spec.feerate.saturating_mul(2);
                if !affordable(self, owner, spec, Side::Local, reserve, doubled, 1)? {
                    return Err(AddError::InsufficientBalance);
                }
            }
            // As non-funder, the funder must still pay for the commitment.
            if self.ledger.funder() == Side::Remote
                && !affordable(self, owner, spec, Side::Remote, Sat::ZERO, spec.feerate, 0)?
            {
                return Err(AddError::FunderCannotPayFee);
            }
        }
        // BOLT 2 "when offering an HTLC": trimmed from a commitment whose
        // dust balance plus `amount_msat` is greater than
        // `max_dust_htlc_exposure_msat`: "SHOULD NOT send this HTLC".
        if let Some(x) =
            self.add_over_dust_limit(Side::Local, amount, ctx.config.max_dust_htlc_exposure)?
        {
            return Err(AddError::DustExposureExceeded {
                commitment: x.commitment,
                dust_balance: x.dust_balance,
                max: x.max,
            });
        }
        self.ledger
            .add_htlc(
                Side::Local,
                id,
                amount,
                payment_hash,
                cltv_expiry,
                onion,
                path_key,
            )
            .map_err(|_| AddError::Internal(InternalError::BalanceArithmetic))?;
        let mut out = Outputs::none();
        if let Some(e) = self.ledger.htlc(Side::Local, id) {
            out.msg(proposal_message(self, &Proposal::Add(e.clone()))?);
        }
        Ok((id, out.changed()))
    }

    fn send_removal(&mut self, id: u64, outcome: Outcome) -> Result<Outputs, ApiError> {
        self.ledger
            .remove_htlc(Side::Remote, id, outcome.clone())
            .map_err(|e| remove_api_error(e, id))?;
        let mut out = Outputs::none();
        if self.link == Link::Connected {
            out.msg(removal_message(self, id, &outcome));
        }
        Ok(out.changed())
    }

    /// Settles an incoming HTLC.
    pub(crate) fn send_fulfill(
        &mut self,
        id: u64,
        preimage: PaymentPreimage,
    ) -> Result<Outputs, ApiError> {
        let e = self
            .ledger
            .check_removable(Side::Remote, id)
            .map_err(|e| remove_api_error(e, id))?;
        if preimage.payment_hash() != e.payment_hash {
            return Err(ApiError::PreimageMismatch { id });
        }
        self.send_removal(id, Outcome::Fulfill(preimage))
    }

    /// Fails an incoming HTLC with an encrypted reason.
    pub(crate) fn send_fail(&mut self, id: u64, reason: Vec<u8>) -> Result<Outputs, ApiError> {
        if reason.len() > usize::from(u16::MAX) {
            return Err(ApiError::ReasonTooLong);
        }
        self.send_removal(id, Outcome::Fail(reason))
    }

    /// Fails an incoming HTLC whose onion we could not parse.
    pub(crate) fn send_fail_malformed(
        &mut self,
        id: u64,
        sha256_of_onion: [u8; 32],
        failure_code: u16,
    ) -> Result<Outputs, ApiError> {
        if failure_code & BADONION == 0 {
            return Err(ApiError::MalformedWithoutBadOnion);
        }
        self.send_removal(
            id,
            Outcome::Malformed {
                sha256_of_onion,
                failure_code,
            },
        )
    }

    /// Proposes a new commitment feerate (funder only).
    pub(crate) fn send_fee(&mut self, feerate: u32, ctx: &Ctx<'_>) -> Result<Outputs, ApiError> {
        if self.ledger.funder() != Side::Local {
            return Err(ApiError::NotFunder);
        }
        if feerate < ctx.config.min_feerate_per_kw || feerate > ctx.config.max_feerate_per_kw {
            return Err(ApiError::FeerateOutOfRange);
        }
        for (owner, view) in [(Side::Remote, View::Next), (Side::Local, View::Projected)] {
            let spec = self.ledger.spec(owner, view)?;
            if !affordable(self, owner, &spec, Side::Local, Sat::ZERO, feerate, 0)? {
                return Err(ApiError::FeeUnaffordable);
            }
        }
        // Without `option_anchors`, an increase that takes a dust balance
        // past `max_dust_htlc_exposure_msat`: "MAY NOT send `update_fee`".
        if let Some(x) = self.fee_over_dust_limit(feerate, ctx.config.max_dust_htlc_exposure)? {
            return Err(ApiError::FeeDustExposureExceeded {
                commitment: x.commitment,
                dust_balance: x.dust_balance,
                max: x.max,
            });
        }
        self.ledger.propose_fee(feerate);
        let mut out = Outputs::none();
        if self.link == Link::Connected {
            out.msg(proposal_message(self, &Proposal::Fee(feerate))?);
        }
        Ok(out.changed())
    }
}

/// The SHA256 of an onion, for `update_fail_malformed_htlc`.
pub fn sha256_of_onion(onion: &OnionPacket) -> [u8; 32] {
    sha256::Hash::hash(onion.as_bytes()).to_byte_array()
}
