//! Commitment transactions of a channel: building either side's from a
//! [`Spec`], signing the peer's, verifying the peer's signatures of ours,
//! and assembling our fully signed latest commitment for a unilateral
//! close. Everything is built by `fulmen-script` (BOLT 3).

use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::PublicKey;
use bitcoin::{Transaction, Witness};
use fulmen_script::commitment::{build_commitment, CommitmentParams, CommitmentTx, OutputKind};
use fulmen_script::keys::{
    derive_privkey_with_basepoint, per_commitment_point, per_commitment_secret_key, CommitmentKeys,
    Holder, HtlcKeys,
};
use fulmen_script::shachain::{PerCommitmentSecret, ShachainSeed};
use fulmen_script::sign::{
    counterparty_htlc_sighash_type, funding_witness, sign_funding_spend, sign_htlc_tx,
    verify_counterparty_htlc_signature, verify_funding_spend,
};
use fulmen_script::{Htlc, HtlcDirection, Side};
use fulmen_types::Sat;

use crate::config::{ChannelSecrets, Ctx};
use crate::error::{ChannelError, InternalError, Violation};
use crate::events::RevokedHtlc;
use crate::ledger::Spec;
use crate::onchain::Signer;
use crate::state::{ChannelCore, Established, RemoteCommit};

/// Our per-commitment secret for commitment `number`.
pub(crate) fn local_secret(
    secrets: &dyn ChannelSecrets,
    number: u64,
) -> Result<PerCommitmentSecret, InternalError> {
    ShachainSeed::new(*secrets.per_commitment_seed())
        .secret_for_commitment(number)
        .map_err(|_| InternalError::KeyDerivation)
}

/// Our per-commitment point for commitment `number`.
pub(crate) fn local_point(
    secrets: &dyn ChannelSecrets,
    number: u64,
) -> Result<PublicKey, InternalError> {
    per_commitment_point(&local_secret(secrets, number)?).map_err(|_| InternalError::KeyDerivation)
}

/// Everything `build_commitment` needs, owned.
pub(crate) struct Inputs<'c> {
    core: &'c ChannelCore,
    owner: Side,
    number: u64,
    feerate: u32,
    keys: CommitmentKeys,
    to_local: fulmen_types::Msat,
    to_remote: fulmen_types::Msat,
    htlcs: Vec<Htlc>,
}

impl<'c> Inputs<'c> {
    /// Describes `owner`'s commitment `number` with per-commitment `point`
    /// holding `spec`. Our own commitment's `point` must be ours for
    /// `number`: its keys are derived from our secrets (same keys, fewer
    /// variable-base multiplications; see [`CommitmentKeys::derive_held`]).
    pub(crate) fn new(
        core: &'c ChannelCore,
        signer: &Signer<'_>,
        owner: Side,
        number: u64,
        point: &PublicKey,
        spec: &Spec,
    ) -> Result<Self, InternalError> {
        let (owner_keys, other_keys) = match owner {
            Side::Local => (&core.local_keys, &core.remote_keys),
            Side::Remote => (&core.remote_keys, &core.local_keys),
        };
        let (dust_limit, _) = core.commitment_rules(owner);
        let t = core.channel_type.base;
        let any_htlc_output = spec.htlcs.iter().any(|h| {
            let direction = if h.offerer == owner {
                HtlcDirection::Offered
            } else {
                HtlcDirection::Received
            };
            !fulmen_script::fees::is_htlc_trimmed(direction, h.amount, dust_limit, spec.feerate, t)
                && h.amount.to_sat_floor() > Sat::ZERO
        });
        let htlc_keys = if any_htlc_output {
            HtlcKeys::Derive
        } else {
            // Without an HTLC output the two HTLC keys appear nowhere in the
            // transaction: skip their two point multiplications.
            HtlcKeys::Basepoints
        };
        let secrets = signer.secrets;
        let per_commitment_secret;
        let holder = match owner {
            Side::Local => {
                per_commitment_secret = per_commitment_secret_key(&local_secret(secrets, number)?)
                    .map_err(|_| InternalError::KeyDerivation)?;
                // Every caller passes our own point for `number` (the stored
                // `local_next_point` is `local_point(number)` by
                // construction). Checked in debug builds, so that the whole
                // test suite watches the invariant; in release a mismatch
                // could only build keys the peer's signatures fail against.
                debug_assert_eq!(
                    fulmen_types::ec::public_key(&per_commitment_secret),
                    *point,
                    "our commitment {number} built on another point"
                );
                Holder::Owner {
                    per_commitment_secret: &per_commitment_secret,
                    delayed_payment_basepoint_secret: secrets.delayed_payment_basepoint_secret(),
                    htlc_basepoint_secret: secrets.htlc_basepoint_secret(),
                }
            }
            Side::Remote => Holder::Counterparty {
                revocation_basepoint_secret: secrets.revocation_basepoint_secret(),
                htlc_basepoint_secret: secrets.htlc_basepoint_secret(),
            },
        };
        let keys = CommitmentKeys::derive_held(
            signer.secp,
            point,
            &owner_keys.basepoints(),
            &other_keys.basepoints(),
            holder,
            htlc_keys,
        )
        .map_err(|_| InternalError::KeyDerivation)?;
        let htlcs = spec
            .htlcs
            .iter()
            .map(|h| Htlc {
                direction: if h.offerer == owner {
                    HtlcDirection::Offered
                } else {
                    HtlcDirection::Received
                },
                amount: h.amount,
                payment_hash: h.payment_hash,
                cltv_expiry: h.cltv_expiry,
            })
            .collect();
        Ok(Self {
            core,
            owner,
            number,
            feerate: spec.feerate,
            keys,
            to_local: spec.balance(owner),
            to_remote: spec.balance(owner.other()),
            htlcs,
        })
    }

    /// The `fulmen-script` description.
    pub(crate) fn params(&self) -> CommitmentParams<'_> {
        let core = self.core;
        let (owner_keys, other_keys) = match self.owner {
            Side::Local => (&core.local_keys, &core.remote_keys),
            Side::Remote => (&core.remote_keys, &core.local_keys),
        };
        let (dust_limit, to_self_delay) = core.commitment_rules(self.owner);
        CommitmentParams {
            funding_outpoint: core.funding_outpoint,
            funding_amount: core.funding,
            funder: if core.funder == self.owner {
                Side::Local
            } else {
                Side::Remote
            },
            to_self_delay,
            dust_limit,
            feerate_per_kw: self.feerate,
            channel_type: core.channel_type.base,
            local_funding_pubkey: owner_keys.funding_pubkey,
            remote_funding_pubkey: other_keys.funding_pubkey,
            keys: self.keys,
            commitment_number: self.number,
            obscuring_factor: core.obscuring_factor(),
            to_local: self.to_local,
            to_remote: self.to_remote,
            htlcs: &self.htlcs,
        }
    }

    /// Builds the unsigned transaction.
    pub(crate) fn build(&self) -> Result<CommitmentTx, InternalError> {
        build_commitment(&self.params()).map_err(|_| InternalError::CommitmentBuild)
    }
}

/// Our signatures of the peer's commitment, and what we keep of it.
pub(crate) struct SignedRemote {
    pub signature: Signature,
    pub htlc_signatures: Vec<Signature>,
    pub commit: RemoteCommit,
}

/// Builds and signs the peer's commitment `number` (per-commitment
/// `point`) holding `spec`: the funding signature and one signature per
/// HTLC transaction, in output order.
pub(crate) fn sign_remote(
    core: &ChannelCore,
    ctx: &Ctx<'_>,
    number: u64,
    point: &PublicKey,
    spec: &Spec,
) -> Result<SignedRemote, InternalError> {
    let inputs = Inputs::new(
        core,
        &Signer::from_ctx(ctx),
        Side::Remote,
        number,
        point,
        spec,
    )?;
    let params = inputs.params();
    let built = inputs.build()?;
    let signature = sign_funding_spend(
        &built.tx,
        &core.funding_script(),
        core.funding,
        ctx.secrets.funding_secret(),
    )
    .map_err(|_| InternalError::Signing)?;
    let htlc_txs = built
        .htlc_txs(&params)
        .map_err(|_| InternalError::CommitmentBuild)?;
    let mut htlc_signatures = Vec::with_capacity(htlc_txs.len());
    if !htlc_txs.is_empty() {
        let key = derive_privkey_with_basepoint(
            ctx.secrets.htlc_basepoint_secret(),
            &core.local_keys.htlc_basepoint,
            point,
        )
        .map_err(|_| InternalError::KeyDerivation)?;
        let sighash = counterparty_htlc_sighash_type(core.channel_type.base);
        for h in &htlc_txs {
            htlc_signatures.push(
                sign_htlc_tx(&h.tx, &h.htlc_script, h.htlc_amount, sighash, &key)
                    .map_err(|_| InternalError::Signing)?,
            );
        }
    }
    let commit = summarize(number, *point, &built, &inputs.htlcs);
    Ok(SignedRemote {
        signature,
        htlc_signatures,
        commit,
    })
}

fn summarize(number: u64, point: PublicKey, built: &CommitmentTx, htlcs: &[Htlc]) -> RemoteCommit {
    let mut to_local = None;
    let mut out = Vec::new();
    for (i, o) in built.outputs.iter().enumerate() {
        let Ok(vout) = u32::try_from(i) else { continue };
        match o.kind {
            OutputKind::ToLocal => to_local = Some((vout, o.value)),
            OutputKind::Htlc { index, direction } => {
                if let Some(h) = htlcs.get(index) {
                    out.push(RevokedHtlc {
                        output_index: vout,
                        direction,
                        amount: o.value,
                        payment_hash: h.payment_hash,
                        cltv_expiry: h.cltv_expiry,
                    });
                }
            }
            _ => {}
        }
    }
    RemoteCommit {
        number,
        point,
        txid: built.tx.compute_txid(),
        to_local,
        htlcs: out,
    }
}

/// Verifies the peer's signatures of our commitment `number` holding
/// `spec` (BOLT 2 `commitment_signed` / `funding_created` /
/// `funding_signed` receiver requirements).
#[allow(clippy::too_many_arguments)]
pub(crate) fn verify_local(
    core: &ChannelCore,
    ctx: &Ctx<'_>,
    number: u64,
    point: &PublicKey,
    spec: &Spec,
    signature: &Signature,
    htlc_signatures: &[Signature],
) -> Result<(), ChannelError> {
    let point = *point;
    let inputs = Inputs::new(
        core,
        &Signer::from_ctx(ctx),
        Side::Local,
        number,
        &point,
        spec,
    )?;
    let built = inputs.build()?;
    verify_funding_spend(
        ctx.secp,
        &built.tx,
        &core.funding_script(),
        core.funding,
        signature,
        &core.remote_keys.funding_pubkey,
    )
    .map_err(|_| ChannelError::Close(Violation::InvalidCommitmentSignature))?;
    let htlc_txs = built
        .htlc_txs(&inputs.params())
        .map_err(|_| InternalError::CommitmentBuild)?;
    if htlc_txs.len() != htlc_signatures.len() {
        return Err(ChannelError::Close(Violation::WrongHtlcSignatureCount {
            expected: htlc_txs.len(),
            got: htlc_signatures.len(),
        }));
    }
    for (index, (h, sig)) in htlc_txs.iter().zip(htlc_signatures).enumerate() {
        verify_counterparty_htlc_signature(
            ctx.secp,
            &h.tx,
            &h.htlc_script,
            h.htlc_amount,
            core.channel_type.base,
            sig,
            &inputs.keys.remote_htlc.0,
        )
        .map_err(|_| ChannelError::Close(Violation::InvalidHtlcSignature { index }))?;
    }
    Ok(())
}

/// Our latest commitment, rebuilt, with the inputs it was built from.
pub(crate) struct LocalBuilt<'e> {
    pub inputs: Inputs<'e>,
    pub built: CommitmentTx,
    pub point: PublicKey,
}

/// Rebuilds our latest commitment (unsigned) on its own point.
pub(crate) fn build_latest_local<'e>(
    est: &'e Established,
    signer: &Signer<'_>,
) -> Result<LocalBuilt<'e>, InternalError> {
    let number = est.local_commit.number;
    let spec = est.ledger.spec(Side::Local, crate::ledger::View::Current)?;
    let point = local_point(signer.secrets, number)?;
    let inputs = Inputs::new(&est.core, signer, Side::Local, number, &point, &spec)?;
    let built = inputs.build()?;
    Ok(LocalBuilt {
        inputs,
        built,
        point,
    })
}

/// Our latest commitment with both funding signatures: ready to broadcast.
pub(crate) fn signed_local_commitment(
    est: &Established,
    ctx: &Ctx<'_>,
) -> Result<Transaction, InternalError> {
    let core = &est.core;
    let mut tx = build_latest_local(est, &Signer::from_ctx(ctx))?.built.tx;
    let script = core.funding_script();
    let ours = sign_funding_spend(&tx, &script, core.funding, ctx.secrets.funding_secret())
        .map_err(|_| InternalError::Signing)?;
    let witness: Witness = funding_witness(
        &script,
        (&core.local_keys.funding_pubkey, &ours),
        (
            &core.remote_keys.funding_pubkey,
            &est.local_commit.remote_signature,
        ),
    );
    if let Some(input) = tx.input.first_mut() {
        input.witness = witness;
    }
    Ok(tx)
}

/// The base fee plus anchors `owner`'s commitment costs its funder, with
/// `spec` at `feerate` and `extra_htlcs` more untrimmed HTLCs counted.
pub(crate) fn funder_cost(
    core: &ChannelCore,
    owner: Side,
    spec: &Spec,
    feerate: u32,
    extra_htlcs: usize,
) -> Option<Sat> {
    let (dust, _) = core.commitment_rules(owner);
    let t = core.channel_type.base;
    let untrimmed = spec
        .htlcs
        .iter()
        .filter(|h| {
            let direction = if h.offerer == owner {
                HtlcDirection::Offered
            } else {
                HtlcDirection::Received
            };
            !fulmen_script::fees::is_htlc_trimmed(direction, h.amount, dust, feerate, t)
                && h.amount.to_sat_floor() > Sat::ZERO
        })
        .count();
    let fee = fulmen_script::fees::commitment_fee(feerate, t, untrimmed.checked_add(extra_htlcs)?)?;
    let anchors = if t.has_anchors() {
        fulmen_script::fees::ANCHOR_OUTPUT_VALUE.checked_mul(2)?
    } else {
        Sat::ZERO
    };
    fee.checked_add(anchors)
}
