//! Channel close (BOLT 2): `shutdown`, legacy `closing_signed` fee
//! negotiation with `fee_range`, and unilateral close.

use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::{ScriptBuf, Transaction, Weight};
use fulmen_script::closing::{build_legacy_closing_tx, ClosingOutput, ClosingTx};
use fulmen_script::fees::dust_threshold;
use fulmen_script::sign::{funding_witness, sign_funding_spend, verify_funding_spend};
use fulmen_script::Side;
use fulmen_types::{Msat, Sat};
use fulmen_wire::{ClosingSigned, FeeRange, Shutdown};

use crate::config::Ctx;
use crate::error::{ApiError, ChannelError, InternalError, Violation};
use crate::ledger::View;
use crate::params::is_valid_shutdown_script;
use crate::state::{ChannelCore, Established};

/// Our side of the shutdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OurShutdown {
    /// Only the peer asked; we reply once our updates are signed.
    NotRequested,
    /// We asked; `shutdown` leaves once our pending updates are signed.
    Pending(ScriptBuf),
    /// Our `shutdown` was sent with this script.
    Sent(ScriptBuf),
}

/// Shutdown started: no new HTLCs; existing ones are being resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShuttingDown {
    /// The commitments.
    pub est: Established,
    /// Our `shutdown`.
    pub local: OurShutdown,
    /// The script the peer sent, once received.
    pub remote_script: Option<ScriptBuf>,
}

/// Both `shutdown`s exchanged and no HTLC left: negotiating the closing
/// fee with `closing_signed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiating {
    /// The final commitments.
    pub est: Established,
    /// Our closing script.
    pub local_script: ScriptBuf,
    /// The peer's closing script.
    pub remote_script: ScriptBuf,
    /// The fee we proposed last (since the last reconnection).
    pub our_last: Option<Sat>,
    /// The fee the peer proposed last (since the last reconnection).
    pub their_last: Option<Sat>,
}

/// How the channel is being closed on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosingKind {
    /// A mutual close transaction was broadcast.
    Mutual {
        /// It, fully signed.
        tx: Transaction,
        /// Our `closing_signed` for the agreed fee: `closing_signed` has
        /// no acknowledgment, so it is retransmitted after reconnection.
        closing_signed: ClosingSigned,
        /// Our `shutdown` script (retransmitted with it).
        local_script: ScriptBuf,
    },
    /// Our latest commitment was broadcast.
    LocalForce {
        /// It, fully signed.
        tx: Transaction,
    },
    /// The peer proved our state is old: we wait for its commitment and
    /// must never broadcast ours.
    AwaitingRemoteClose,
}

/// A closing or closed-on-chain channel (on-chain resolution is the
/// node's next layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    /// The last commitments.
    pub est: Established,
    /// How.
    pub kind: ClosingKind,
}

/// An agreed close: the fully signed transaction and our `closing_signed`
/// for its fee.
pub(crate) type Agreed = (Transaction, ClosingSigned);

/// The witness weight of a 2-of-2 funding spend plus the segwit marker
/// and flag: 1 + 1 + 2 × (1 + 73) + 1 + 71 + 2.
const FUNDING_SPEND_WITNESS_WEIGHT: u64 = 224;

/// Checks a peer's `shutdown` `scriptpubkey` (BOLT 2 receiver rules).
pub(crate) fn check_remote_script(
    core: &ChannelCore,
    script: &ScriptBuf,
) -> Result<(), ChannelError> {
    // If the `scriptpubkey` is not in one of the above forms: SHOULD send
    // a `warning`.
    if !is_valid_shutdown_script(script, core.anysegwit) {
        return Err(ChannelError::Warn(Violation::InvalidShutdownScript));
    }
    // A non-zero-length upfront script that differs: MUST fail the
    // connection.
    if core
        .remote_upfront_script
        .as_ref()
        .is_some_and(|s| s != script)
    {
        return Err(ChannelError::Warn(Violation::UpfrontShutdownMismatch));
    }
    Ok(())
}

/// The script for our `shutdown`: the upfront one if we committed to it.
pub(crate) fn our_script(
    core: &ChannelCore,
    requested: Option<ScriptBuf>,
) -> Result<ScriptBuf, ApiError> {
    let script = match requested {
        Some(s) if core.local_upfront && s != core.local_shutdown_script => {
            return Err(ApiError::UpfrontShutdownMismatch)
        }
        Some(s) => s,
        None => core.local_shutdown_script.clone(),
    };
    if !is_valid_shutdown_script(&script, core.anysegwit) {
        return Err(ApiError::InvalidShutdownScript);
    }
    Ok(script)
}

/// Our `shutdown` message.
pub(crate) fn shutdown_message(core: &ChannelCore, script: &ScriptBuf) -> Shutdown {
    Shutdown {
        channel_id: core.channel_id,
        scriptpubkey: script.clone(),
        unknown_tlvs: Vec::new(),
    }
}

fn funder_balance(n: &Negotiating) -> Result<Sat, InternalError> {
    let spec = n.est.ledger.spec(Side::Local, View::Current)?;
    Ok(spec.balance(n.est.core.funder).to_sat_floor())
}

impl Negotiating {
    fn outputs(&self) -> Result<(ClosingOutput, ClosingOutput), InternalError> {
        let spec = self.est.ledger.spec(Side::Local, View::Current)?;
        Ok((
            ClosingOutput {
                balance: spec.local,
                script_pubkey: self.local_script.clone(),
            },
            ClosingOutput {
                balance: spec.remote,
                script_pubkey: self.remote_script.clone(),
            },
        ))
    }

    /// The closing transaction with `fee`, as the side with `dust_limit`
    /// builds it; `drop` removes that side's output.
    fn tx(
        &self,
        fee: Sat,
        dust_limit: Sat,
        drop: Option<Side>,
    ) -> Result<ClosingTx, InternalError> {
        let (mut local, mut remote) = self.outputs()?;
        match drop {
            Some(Side::Local) => local.balance = Msat::ZERO,
            Some(Side::Remote) => remote.balance = Msat::ZERO,
            None => {}
        }
        build_legacy_closing_tx(
            self.est.core.funding_outpoint,
            self.est.core.funder,
            &local,
            &remote,
            fee,
            dust_limit,
        )
        .map_err(|_| InternalError::ClosingBuild)
    }

    /// The estimated weight of the closing transaction.
    fn weight(&self) -> Result<u64, InternalError> {
        let tx = self.tx(Sat::ZERO, Sat::ZERO, None)?.tx;
        Ok(Weight::from_non_witness_data_size(tx.base_size() as u64)
            .to_wu()
            .saturating_add(FUNDING_SPEND_WITNESS_WEIGHT))
    }

    /// Our acceptable fee range and preferred fee.
    pub(crate) fn our_range(&self, ctx: &Ctx<'_>) -> Result<(FeeRange, Sat), InternalError> {
        let weight = self.weight()?;
        let fee_at = |rate: u32| Sat(u64::from(rate).saturating_mul(weight) / 1000);
        let cap = funder_balance(self)?;
        let min = fee_at(ctx.config.min_feerate_per_kw).min(cap);
        let target = fee_at(ctx.feerate_per_kw.max(ctx.config.min_feerate_per_kw));
        let max = if self.est.core.funder == Side::Local {
            Sat(target.0.saturating_mul(3))
        } else {
            cap
        }
        .min(cap)
        .max(min);
        let target = target.max(min).min(max);
        Ok((
            FeeRange {
                min_fee: min,
                max_fee: max,
            },
            target,
        ))
    }

    fn sign(&self, tx: &Transaction, ctx: &Ctx<'_>) -> Result<Signature, InternalError> {
        sign_funding_spend(
            tx,
            &self.est.core.funding_script(),
            self.est.core.funding,
            ctx.secrets.funding_secret(),
        )
        .map_err(|_| InternalError::Signing)
    }

    /// A `closing_signed` proposing `fee` (our variant, our dust limit).
    pub(crate) fn propose(
        &mut self,
        fee: Sat,
        range: FeeRange,
        ctx: &Ctx<'_>,
    ) -> Result<ClosingSigned, InternalError> {
        let tx = self.tx(fee, self.est.core.local_params.dust_limit, None)?;
        let signature = self.sign(&tx.tx, ctx)?;
        self.our_last = Some(fee);
        Ok(ClosingSigned {
            channel_id: self.est.core.channel_id,
            fee,
            signature,
            fee_range: Some(range),
            unknown_tlvs: Vec::new(),
        })
    }

    /// The transaction the peer's signature is valid for, fully signed.
    fn complete(
        &self,
        fee: Sat,
        their_sig: &Signature,
        ctx: &Ctx<'_>,
    ) -> Result<Transaction, ChannelError> {
        let core = &self.est.core;
        let script = core.funding_script();
        let dust = core.remote_params.dust_limit;
        let mut chosen = None;
        // Either variant: as the peer built it with its dust limit, or
        // without its own output.
        for drop in [None, Some(Side::Remote)] {
            let Ok(c) = self.tx(fee, dust, drop) else {
                continue;
            };
            if verify_funding_spend(
                ctx.secp,
                &c.tx,
                &script,
                core.funding,
                their_sig,
                &core.remote_keys.funding_pubkey,
            )
            .is_ok()
            {
                chosen = Some(c.tx);
                break;
            }
        }
        let mut tx = chosen.ok_or(ChannelError::Warn(Violation::InvalidClosingSignature))?;
        // An output below the dust threshold of its script: MUST fail.
        if tx
            .output
            .iter()
            .any(|o| Sat::from(o.value) < dust_threshold(&o.script_pubkey))
        {
            return Err(ChannelError::Close(Violation::ClosingOutputDust));
        }
        let ours = self.sign(&tx, ctx)?;
        let witness = funding_witness(
            &script,
            (&core.local_keys.funding_pubkey, &ours),
            (&core.remote_keys.funding_pubkey, their_sig),
        );
        if let Some(input) = tx.input.first_mut() {
            input.witness = witness;
        }
        Ok(tx)
    }

    /// A peer's `closing_signed` (BOLT 2 "Legacy Closing Negotiation").
    /// Returns our reply (if any) and, once agreed, the final transaction
    /// with our `closing_signed` for its fee (to retransmit).
    pub(crate) fn receive(
        &mut self,
        m: &ClosingSigned,
        ctx: &Ctx<'_>,
    ) -> Result<(Option<ClosingSigned>, Option<Agreed>), ChannelError> {
        let (reply, done) = self.receive_inner(m, ctx)?;
        let done = match done {
            Some(tx) => {
                let last = match &reply {
                    Some(r) => r.clone(),
                    None => {
                        let (range, _) = self.our_range(ctx)?;
                        self.propose(m.fee, range, ctx)?
                    }
                };
                Some((tx, last))
            }
            None => None,
        };
        Ok((reply, done))
    }

    fn receive_inner(
        &mut self,
        m: &ClosingSigned,
        ctx: &Ctx<'_>,
    ) -> Result<(Option<ClosingSigned>, Option<Transaction>), ChannelError> {
        if m.fee > funder_balance(self)? {
            return Err(ChannelError::Warn(Violation::ClosingFeeExceedsBalance {
                fee: m.fee,
            }));
        }
        let tx = self.complete(m.fee, &m.signature, ctx)?;
        // `fee_satoshis` equal to our previously sent one: done.
        if self.our_last == Some(m.fee) {
            return Ok((None, Some(tx)));
        }
        let (ours, target) = self.our_range(ctx)?;
        let in_ours = ours.min_fee <= m.fee && m.fee <= ours.max_fee;
        let funder = self.est.core.funder == Side::Local;
        if let Some(theirs) = m.fee_range {
            let low = theirs.min_fee.max(ours.min_fee);
            let high = theirs.max_fee.min(ours.max_fee);
            // No overlap: SHOULD send a warning.
            if low > high {
                return Err(ChannelError::Warn(Violation::ClosingFeeRangesDisjoint));
            }
            let in_overlap = low <= m.fee && m.fee <= high;
            if funder {
                // The funder: the fee must be in the overlap; reply with it.
                if !in_overlap {
                    return Err(ChannelError::Close(Violation::ClosingFeeOutOfRange {
                        fee: m.fee,
                    }));
                }
                let reply = self.propose(m.fee, ours, ctx)?;
                return Ok((Some(reply), Some(tx)));
            }
            // The non-funder: once it sent a fee, the funder must echo it.
            if self.our_last.is_some() {
                return Err(ChannelError::Close(Violation::ClosingFeeOutOfRange {
                    fee: m.fee,
                }));
            }
            self.their_last = Some(m.fee);
            let pick = if in_overlap {
                m.fee
            } else {
                target.max(low).min(high)
            };
            let reply = self.propose(pick, ours, ctx)?;
            let done = (pick == m.fee).then_some(tx);
            return Ok((Some(reply), done));
        }
        // Legacy: agree if acceptable, else move strictly between.
        if in_ours {
            let reply = self.propose(m.fee, ours, ctx)?;
            return Ok((Some(reply), Some(tx)));
        }
        if let (Some(our_last), Some(their_last)) = (self.our_last, self.their_last) {
            let (lo, hi) = (our_last.min(their_last), our_last.max(their_last));
            if !(lo < m.fee && m.fee < hi) {
                return Err(ChannelError::Warn(Violation::ClosingFeeNotBetween {
                    fee: m.fee,
                }));
            }
        }
        self.their_last = Some(m.fee);
        let anchor = self.our_last.unwrap_or(target);
        let mid = Sat((anchor.0 / 2).saturating_add(m.fee.0 / 2));
        let next = mid.max(ours.min_fee).min(ours.max_fee);
        if Some(next) == self.our_last || next == m.fee {
            return Err(ChannelError::Warn(Violation::ClosingFeeRangesDisjoint));
        }
        let reply = self.propose(next, ours, ctx)?;
        Ok((Some(reply), None))
    }
}
