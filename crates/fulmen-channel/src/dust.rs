//! Bounding exposure to trimmed in-flight HTLCs (BOLT 2 "Bounding exposure
//! to trimmed in-flight HTLCs: `max_dust_htlc_exposure_msat`").
//!
//! An HTLC trimmed from a commitment (BOLT 3 "Trimmed Outputs": an offered
//! HTLC below the owner's `dust_limit_satoshis` plus the HTLC-timeout fee,
//! a received one below it plus the HTLC-success fee) has no output: if
//! that commitment confirms, its amount goes to the miners. The *dust
//! balance* of a commitment is the sum of the `amount_msat` of the HTLCs
//! trimmed from it; BOLT 2 bounds it, per commitment, by the policy value
//! [`crate::ChannelConfig::max_dust_htlc_exposure`]:
//!
//! * offering: an HTLC that is trimmed from a commitment whose dust balance
//!   plus its amount would exceed the limit is not sent
//!   ([`crate::AddError::DustExposureExceeded`]);
//! * receiving: such an HTLC is accepted into the commitments (refusing it
//!   would fail the channel) but flagged
//!   ([`crate::ledger::HtlcEntry::over_dust_exposure`]) so the node fails
//!   it once it is irrevocably committed and never reveals its preimage;
//! * `update_fee`, without anchors only: a feerate increase that trims more
//!   HTLCs and so takes a dust balance past the limit is not sent
//!   ([`crate::ApiError::FeeDustExposureExceeded`]); received, it fails the
//!   channel ([`crate::Violation::FeeDustExposureExceeded`]) only if
//!   [`crate::ChannelConfig::fail_on_dust_fee_increase`] is set (BOLT 2:
//!   "MAY fail the channel"), and is accepted otherwise.
//!
//! # What is counted
//!
//! Commitments change in flight, so the dust balance counted is an upper
//! bound over every commitment of that owner that may still be broadcast:
//! every HTLC the ledger remembers (an add in any stage, until its removal
//! is irrevocable), trimmed at the highest feerate known (the current one
//! or a pending `update_fee`; a higher feerate trims more). Only HTLC
//! amounts are counted: BOLT 2's dust balance does not include the
//! commitment fee, so none is added for non-anchor channels.

use fulmen_script::fees::is_htlc_trimmed;
use fulmen_script::{HtlcDirection, Side};
use fulmen_types::Msat;

use crate::error::InternalError;
use crate::state::{ChannelCore, Established};

/// A commitment whose dust balance would pass the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DustExcess {
    /// Whose commitment (`Local`: ours).
    pub commitment: Side,
    /// Its dust balance with the new HTLC or at the new feerate.
    pub dust_balance: Msat,
    /// Our `max_dust_htlc_exposure_msat`.
    pub max: Msat,
}

/// The dust balances of both commitments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DustExposure {
    /// Trimmed from our commitment.
    pub local: Msat,
    /// Trimmed from the peer's commitment.
    pub remote: Msat,
}

/// Whether an HTLC of `amount` offered by `offerer` is trimmed from
/// `owner`'s commitment at `feerate` (BOLT 3, with the owner's dust limit
/// and the channel type's second-stage fees).
pub fn is_trimmed(
    core: &ChannelCore,
    owner: Side,
    offerer: Side,
    amount: Msat,
    feerate: u32,
) -> bool {
    let (dust_limit, _) = core.commitment_rules(owner);
    let direction = if offerer == owner {
        HtlcDirection::Offered
    } else {
        HtlcDirection::Received
    };
    is_htlc_trimmed(
        direction,
        amount,
        dust_limit,
        feerate,
        core.channel_type.base,
    )
}

impl Established {
    /// The feerate dust is counted at: the highest of the current feerate
    /// and any pending `update_fee`.
    pub fn dust_feerate(&self) -> u32 {
        self.ledger
            .fee_updates()
            .iter()
            .map(|u| u.feerate)
            .fold(self.ledger.base_feerate, u32::max)
    }

    /// The dust balance of `owner`'s commitment at `feerate`: every
    /// remembered HTLC trimmed from it (see the module documentation).
    pub fn dust_balance(&self, owner: Side, feerate: u32) -> Result<Msat, InternalError> {
        Msat::checked_sum(
            self.ledger
                .htlcs()
                .filter(|h| is_trimmed(&self.core, owner, h.offerer, h.amount, feerate))
                .map(|h| h.amount),
        )
        .ok_or(InternalError::BalanceArithmetic)
    }

    /// The dust balances of both commitments now.
    pub fn dust_exposure(&self) -> Result<DustExposure, InternalError> {
        let feerate = self.dust_feerate();
        Ok(DustExposure {
            local: self.dust_balance(Side::Local, feerate)?,
            remote: self.dust_balance(Side::Remote, feerate)?,
        })
    }

    /// BOLT 2 "when offering an HTLC" / "when receiving an HTLC": the first
    /// commitment (the peer's, then ours) from which a new HTLC of `amount`
    /// offered by `offerer` is trimmed and whose dust balance plus `amount`
    /// is greater than `max`.
    pub(crate) fn add_over_dust_limit(
        &self,
        offerer: Side,
        amount: Msat,
        max: Msat,
    ) -> Result<Option<DustExcess>, InternalError> {
        let feerate = self.dust_feerate();
        for owner in [Side::Remote, Side::Local] {
            if !is_trimmed(&self.core, owner, offerer, amount, feerate) {
                continue;
            }
            let dust_balance = self
                .dust_balance(owner, feerate)?
                .checked_add(amount)
                .ok_or(InternalError::BalanceArithmetic)?;
            if dust_balance > max {
                return Ok(Some(DustExcess {
                    commitment: owner,
                    dust_balance,
                    max,
                }));
            }
        }
        Ok(None)
    }

    /// BOLT 2 `update_fee`, without `option_anchors`: if `feerate` is an
    /// increase, the first commitment (the peer's, then ours) whose dust
    /// balance at `feerate` is greater than `max` *and* than at the
    /// current feerate (an increase that trims nothing more changes
    /// nothing). With anchors, trimming does not depend on the feerate.
    pub(crate) fn fee_over_dust_limit(
        &self,
        feerate: u32,
        max: Msat,
    ) -> Result<Option<DustExcess>, InternalError> {
        let current = self.dust_feerate();
        if self.core.channel_type.base.has_anchors() || feerate <= current {
            return Ok(None);
        }
        for owner in [Side::Remote, Side::Local] {
            let dust_balance = self.dust_balance(owner, feerate)?;
            if dust_balance > max && dust_balance > self.dust_balance(owner, current)? {
                return Ok(Some(DustExcess {
                    commitment: owner,
                    dust_balance,
                    max,
                }));
            }
        }
        Ok(None)
    }
}
