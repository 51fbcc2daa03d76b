//! From a classified funding spend to the outputs we can claim (BOLT 5
//! "Unilateral Close Handling" and "Revoked Transaction Close Handling").

use bitcoin::hashes::{sha256, Hash};
use bitcoin::{OutPoint, ScriptBuf, Transaction, Txid};
use fulmen_script::commitment::OutputKind;
use fulmen_script::keys::{per_commitment_point, CommitmentKeys, PaymentPubkey};
use fulmen_script::scripts::{
    anchor_script, htlc_output_script, offered_htlc_script, p2wsh, received_htlc_script,
    to_local_script, to_remote_anchor_script, to_remote_p2wpkh,
};
use fulmen_script::shachain::PerCommitmentSecret;
use fulmen_script::{HtlcDirection, Side};
use fulmen_types::{PaymentHash, PaymentPreimage, Sat};

use super::claim::{Claim, ClaimKey, ClaimKind, Deadline, RevokedOutput, SecondStage};
use super::classify::{build_local, classify, revealed_secret, SpendKind};
use super::{OnchainError, Signer};
use crate::events::{RevokedCommitment, RevokedHtlc};
use crate::state::{Established, RemoteCommit};

/// What a funding spend leaves us to do.
///
/// Deterministic from the channel state, the transaction and the revoked
/// record: the node need not persist it, only recompute it (e.g. after a
/// restart) and remember which claims it already spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// What the transaction is.
    pub kind: SpendKind,
    /// Its txid.
    pub txid: Txid,
    /// Every output we can take, in output order.
    pub claims: Vec<Claim>,
    /// Outputs (index, value) that are neither claimed nor known to be the
    /// peer's: funds we cannot take (e.g. the HTLC outputs of a revoked
    /// commitment when no record was given). Warn about them.
    pub unclaimed: Vec<(u32, Sat)>,
    revoked: Option<RevokedWatch>,
}

/// What taking a cheater's second-stage outputs needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RevokedWatch {
    htlc_outpoints: Vec<OutPoint>,
    script_pubkey: ScriptBuf,
    witness_script: ScriptBuf,
    secret: PerCommitmentSecret,
    to_self_delay: u16,
}

impl Resolution {
    /// The outputs the peer may spend with a preimage or after a timeout
    /// (HTLC outputs): watch their spends, and run
    /// [`extract_preimages`] on them.
    pub fn htlc_outpoints(&self) -> impl Iterator<Item = (OutPoint, PaymentHash)> + '_ {
        self.claims
            .iter()
            .filter_map(|c| c.payment_hash().map(|h| (c.outpoint, h)))
    }

    /// On a revoked commitment: the outputs of the cheater's HTLC-success
    /// or HTLC-timeout transaction `tx` (it spends an HTLC output of the
    /// commitment), taken with the revocation key. Empty for any other
    /// transaction or resolution.
    pub fn revoked_second_stage_claims(&self, tx: &Transaction) -> Vec<Claim> {
        let Some(w) = &self.revoked else {
            return Vec::new();
        };
        if !tx
            .input
            .iter()
            .any(|i| w.htlc_outpoints.contains(&i.previous_output))
        {
            return Vec::new();
        }
        let txid = tx.compute_txid();
        tx.output
            .iter()
            .enumerate()
            .filter(|(_, o)| o.script_pubkey == w.script_pubkey)
            .filter_map(|(i, o)| {
                Some(Claim {
                    outpoint: OutPoint {
                        txid,
                        vout: u32::try_from(i).ok()?,
                    },
                    value: Sat(o.value.to_sat()),
                    script_pubkey: o.script_pubkey.clone(),
                    witness_script: Some(w.witness_script.clone()),
                    kind: ClaimKind::Revoked {
                        output: RevokedOutput::SecondStage,
                    },
                    key: ClaimKey::Revocation {
                        per_commitment_secret: w.secret,
                    },
                    csv: 0,
                    cltv: 0,
                    deadline: Deadline::Relative(w.to_self_delay),
                    contested: false,
                })
            })
            .collect()
    }
}

/// The preimages among `tx`'s witness items that hash to one of `hashes`
/// (BOLT 5: "MUST extract the payment preimage from the transaction input
/// witness"), each once.
pub fn extract_preimages(tx: &Transaction, hashes: &[PaymentHash]) -> Vec<PaymentPreimage> {
    let mut out: Vec<PaymentPreimage> = Vec::new();
    for input in &tx.input {
        for item in input.witness.iter() {
            let Ok(bytes) = <[u8; 32]>::try_from(item) else {
                continue;
            };
            let hash = PaymentHash(sha256::Hash::hash(&bytes).to_byte_array());
            if hashes.contains(&hash) && !out.iter().any(|p| p.payment_hash() == hash) {
                out.push(PaymentPreimage(bytes));
            }
        }
    }
    out
}

/// Classifies `funding_spend` ([`classify`]) and lists what we can claim.
///
/// For a revoked commitment, `revoked` is the stored record of that
/// commitment ([`crate::ChannelEvent::RevokedRemoteCommitment`]); without
/// it (or if its txid differs) only `to_local` and `to_remote` are
/// claimed and the HTLC outputs are reported in
/// [`Resolution::unclaimed`].
pub fn resolve(
    funding_spend: &Transaction,
    est: &Established,
    signer: &Signer<'_>,
    revoked: Option<&RevokedCommitment>,
) -> Result<Resolution, OnchainError> {
    let kind = classify(funding_spend, est, signer);
    let txid = funding_spend.compute_txid();
    let mut res = Resolution {
        kind,
        txid,
        claims: Vec::new(),
        unclaimed: Vec::new(),
        revoked: None,
    };
    let theirs = match kind {
        SpendKind::LocalCommitment { .. } => local_claims(funding_spend, est, signer, &mut res)?,
        SpendKind::RemoteCommitment { which, .. } => {
            let rc = match which {
                super::RemoteWhich::Current => Some(&est.remote_commit),
                super::RemoteWhich::Previous => est.remote_prev.as_ref(),
            };
            match rc {
                Some(rc) => remote_claims(funding_spend, est, signer, rc, &mut res)?,
                None => Vec::new(),
            }
        }
        SpendKind::RevokedRemoteCommitment { number } => {
            revoked_claims(funding_spend, est, signer, number, revoked, &mut res)?
        }
        SpendKind::FutureRemoteCommitment { .. } => {
            base_remote_claims(funding_spend, est, &mut res);
            Vec::new()
        }
        SpendKind::MutualClose | SpendKind::Unknown(_) => return Ok(res),
    };
    let peer_anchor = p2wsh(&anchor_script(&est.core.remote_keys.funding_pubkey));
    for (i, o) in funding_spend.output.iter().enumerate() {
        let Ok(vout) = u32::try_from(i) else { continue };
        let claimed = res.claims.iter().any(|c| c.outpoint.vout == vout);
        if !claimed && !theirs.contains(&vout) && o.script_pubkey != peer_anchor {
            res.unclaimed.push((vout, Sat(o.value.to_sat())));
        }
    }
    Ok(res)
}

fn outpoint(txid: Txid, vout: u32) -> OutPoint {
    OutPoint { txid, vout }
}

fn csv_for_type(est: &Established) -> u16 {
    u16::from(est.core.channel_type.base.has_anchors())
}

/// Our latest commitment: `to_local` after the delay, each HTLC through
/// its second-stage transaction, our anchor. Returns the outputs that are
/// the peer's.
fn local_claims(
    tx: &Transaction,
    est: &Established,
    signer: &Signer<'_>,
    res: &mut Resolution,
) -> Result<Vec<u32>, OnchainError> {
    let local = build_local(est, signer)?;
    let params = local.inputs.params();
    let htlc_txs = local
        .built
        .htlc_txs(&params)
        .map_err(|_| OnchainError::CommitmentBuildError)?;
    let txid = res.txid;
    let point = local.point;
    let delay = params.to_self_delay;
    let second_stage_script =
        htlc_output_script(&params.keys.revocation, delay, &params.keys.local_delayed);
    let mut theirs = Vec::new();
    for (i, o) in local.built.outputs.iter().enumerate() {
        let Ok(vout) = u32::try_from(i) else { continue };
        let Some(txout) = tx.output.get(i) else {
            return Err(OnchainError::WrongTransaction);
        };
        let base = |kind, key, ws: Option<ScriptBuf>| Claim {
            outpoint: outpoint(txid, vout),
            value: o.value,
            script_pubkey: txout.script_pubkey.clone(),
            witness_script: ws,
            kind,
            key,
            csv: 0,
            cltv: 0,
            deadline: Deadline::None,
            contested: false,
        };
        match o.kind {
            OutputKind::ToLocal => res.claims.push(Claim {
                csv: delay,
                ..base(
                    ClaimKind::ToLocalAfterCsv { delay },
                    ClaimKey::DelayedPayment {
                        per_commitment_point: point,
                    },
                    o.witness_script.clone(),
                )
            }),
            OutputKind::LocalAnchor => res.claims.push(Claim {
                contested: true,
                ..base(
                    ClaimKind::AnchorCpfp,
                    ClaimKey::Funding,
                    o.witness_script.clone(),
                )
            }),
            OutputKind::ToRemote | OutputKind::RemoteAnchor => theirs.push(vout),
            OutputKind::Htlc { index, direction } => {
                let Some(htlc) = params.htlcs.get(index) else {
                    return Err(OnchainError::CommitmentBuildError);
                };
                let position = htlc_txs
                    .iter()
                    .position(|h| h.commitment_output_index == vout)
                    .ok_or(OnchainError::CommitmentBuildError)?;
                let (Some(htlc_tx), Some(sig)) = (
                    htlc_txs.get(position),
                    est.local_commit.remote_htlc_signatures.get(position),
                ) else {
                    return Err(OnchainError::CommitmentBuildError);
                };
                let second_stage = Some(Box::new(SecondStage {
                    tx: htlc_tx.tx.clone(),
                    remote_signature: *sig,
                    output_witness_script: second_stage_script.clone(),
                    to_self_delay: delay,
                    channel_type: est.core.channel_type.base,
                }));
                let (kind, cltv, deadline) = match direction {
                    HtlcDirection::Received => (
                        ClaimKind::HtlcSuccess {
                            payment_hash: htlc.payment_hash,
                            cltv_expiry: htlc.cltv_expiry,
                            second_stage,
                        },
                        0,
                        Deadline::Absolute(htlc.cltv_expiry),
                    ),
                    HtlcDirection::Offered => (
                        ClaimKind::HtlcTimeout {
                            payment_hash: htlc.payment_hash,
                            cltv_expiry: htlc.cltv_expiry,
                            second_stage,
                        },
                        htlc.cltv_expiry,
                        Deadline::None,
                    ),
                };
                res.claims.push(Claim {
                    csv: csv_for_type(est),
                    cltv,
                    deadline,
                    contested: true,
                    ..base(
                        kind,
                        ClaimKey::Htlc {
                            per_commitment_point: point,
                        },
                        o.witness_script.clone(),
                    )
                });
            }
        }
    }
    Ok(theirs)
}

/// Our `to_remote` and our anchor on any commitment of the peer: both
/// are found by script, without the per-commitment point
/// (`option_static_remotekey`).
fn base_remote_claims(tx: &Transaction, est: &Established, res: &mut Resolution) {
    let channel_type = est.core.channel_type.base;
    let ours = PaymentPubkey(est.core.local_keys.payment_basepoint);
    let (to_remote_spk, to_remote_ws, csv) = if channel_type.has_anchors() {
        let ws = to_remote_anchor_script(&ours);
        (p2wsh(&ws), Some(ws), 1u8)
    } else {
        (to_remote_p2wpkh(&ours), None, 0u8)
    };
    let anchor_ws = anchor_script(&est.core.local_keys.funding_pubkey);
    let anchor_spk = p2wsh(&anchor_ws);
    for (i, o) in tx.output.iter().enumerate() {
        let Ok(vout) = u32::try_from(i) else { continue };
        let (kind, key, ws, csv, contested) = if o.script_pubkey == to_remote_spk {
            (
                ClaimKind::ToRemote { csv },
                ClaimKey::Payment,
                to_remote_ws.clone(),
                u16::from(csv),
                false,
            )
        } else if o.script_pubkey == anchor_spk {
            (
                ClaimKind::AnchorCpfp,
                ClaimKey::Funding,
                Some(anchor_ws.clone()),
                0,
                true,
            )
        } else {
            continue;
        };
        res.claims.push(Claim {
            outpoint: outpoint(res.txid, vout),
            value: Sat(o.value.to_sat()),
            script_pubkey: o.script_pubkey.clone(),
            witness_script: ws,
            kind,
            key,
            csv,
            cltv: 0,
            deadline: Deadline::None,
            contested,
        });
    }
}

/// The HTLC script of `h` (directions seen from the commitment's owner,
/// the peer) on the peer's commitment with `keys`.
fn peer_htlc_script(est: &Established, keys: &CommitmentKeys, h: &RevokedHtlc) -> ScriptBuf {
    let t = est.core.channel_type.base;
    match h.direction {
        HtlcDirection::Offered => offered_htlc_script(
            t,
            &keys.revocation,
            &keys.local_htlc,
            &keys.remote_htlc,
            &h.payment_hash,
        ),
        HtlcDirection::Received => received_htlc_script(
            t,
            &keys.revocation,
            &keys.local_htlc,
            &keys.remote_htlc,
            &h.payment_hash,
            h.cltv_expiry,
        ),
    }
}

fn peer_keys(
    est: &Established,
    signer: &Signer<'_>,
    point: &bitcoin::secp256k1::PublicKey,
) -> Result<CommitmentKeys, OnchainError> {
    CommitmentKeys::derive(
        signer.secp,
        point,
        &est.core.remote_keys.basepoints(),
        &est.core.local_keys.basepoints(),
    )
    .map_err(|_| OnchainError::KeyDerivationError)
}

/// The peer's unrevoked commitment: `to_remote`, our anchor, and every
/// HTLC directly (ours with the preimage, the peer's after its timeout).
fn remote_claims(
    tx: &Transaction,
    est: &Established,
    signer: &Signer<'_>,
    rc: &RemoteCommit,
    res: &mut Resolution,
) -> Result<Vec<u32>, OnchainError> {
    base_remote_claims(tx, est, res);
    let keys = peer_keys(est, signer, &rc.point)?;
    for h in &rc.htlcs {
        let script = peer_htlc_script(est, &keys, h);
        let Some(txout) = tx.output.get(h.output_index as usize) else {
            continue;
        };
        if txout.script_pubkey != p2wsh(&script) {
            continue;
        }
        let (kind, cltv, deadline) = match h.direction {
            // The peer offered it: ours with the preimage, until it can
            // time it out.
            HtlcDirection::Offered => (
                ClaimKind::HtlcSuccess {
                    payment_hash: h.payment_hash,
                    cltv_expiry: h.cltv_expiry,
                    second_stage: None,
                },
                0,
                Deadline::Absolute(h.cltv_expiry),
            ),
            // We offered it: back to us after its expiry.
            HtlcDirection::Received => (
                ClaimKind::HtlcTimeout {
                    payment_hash: h.payment_hash,
                    cltv_expiry: h.cltv_expiry,
                    second_stage: None,
                },
                h.cltv_expiry,
                Deadline::None,
            ),
        };
        res.claims.push(Claim {
            outpoint: outpoint(res.txid, h.output_index),
            value: Sat(txout.value.to_sat()),
            script_pubkey: txout.script_pubkey.clone(),
            witness_script: Some(script),
            kind,
            key: ClaimKey::Htlc {
                per_commitment_point: rc.point,
            },
            csv: csv_for_type(est),
            cltv,
            deadline,
            contested: true,
        });
    }
    res.claims.sort_by_key(|c| c.outpoint.vout);
    Ok(rc.to_local.map(|(i, _)| i).into_iter().collect())
}

/// A revoked commitment of the peer: everything, with the revocation key.
fn revoked_claims(
    tx: &Transaction,
    est: &Established,
    signer: &Signer<'_>,
    number: u64,
    record: Option<&RevokedCommitment>,
    res: &mut Resolution,
) -> Result<Vec<u32>, OnchainError> {
    base_remote_claims(tx, est, res);
    let secret = revealed_secret(est, number).ok_or(OnchainError::KeyDerivationError)?;
    let point = per_commitment_point(&secret).map_err(|_| OnchainError::KeyDerivationError)?;
    let keys = peer_keys(est, signer, &point)?;
    let (_, delay) = est.core.commitment_rules(Side::Remote);
    let to_local_ws = to_local_script(&keys.revocation, delay, &keys.local_delayed);
    let to_local_spk = p2wsh(&to_local_ws);
    let key = ClaimKey::Revocation {
        per_commitment_secret: secret,
    };
    for (i, o) in tx.output.iter().enumerate() {
        let Ok(vout) = u32::try_from(i) else { continue };
        if o.script_pubkey == to_local_spk {
            res.claims.push(Claim {
                outpoint: outpoint(res.txid, vout),
                value: Sat(o.value.to_sat()),
                script_pubkey: o.script_pubkey.clone(),
                witness_script: Some(to_local_ws.clone()),
                kind: ClaimKind::Revoked {
                    output: RevokedOutput::ToLocal,
                },
                key,
                csv: 0,
                cltv: 0,
                deadline: Deadline::Relative(delay),
                contested: false,
            });
        }
    }
    let mut htlc_outpoints = Vec::new();
    for h in record
        .filter(|r| r.txid == res.txid)
        .map(|r| r.htlcs.as_slice())
        .unwrap_or_default()
    {
        let script = peer_htlc_script(est, &keys, h);
        let Some(txout) = tx.output.get(h.output_index as usize) else {
            continue;
        };
        if txout.script_pubkey != p2wsh(&script) {
            continue;
        }
        let op = outpoint(res.txid, h.output_index);
        htlc_outpoints.push(op);
        res.claims.push(Claim {
            outpoint: op,
            value: Sat(txout.value.to_sat()),
            script_pubkey: txout.script_pubkey.clone(),
            witness_script: Some(script),
            kind: ClaimKind::Revoked {
                output: RevokedOutput::Htlc {
                    direction: h.direction,
                    payment_hash: h.payment_hash,
                },
            },
            key,
            csv: 0,
            cltv: 0,
            // Losing the race costs nothing: the cheater's HTLC
            // transaction pays to the revocable second-stage script.
            deadline: Deadline::None,
            contested: true,
        });
    }
    res.claims.sort_by_key(|c| c.outpoint.vout);
    res.revoked = Some(RevokedWatch {
        htlc_outpoints,
        script_pubkey: to_local_spk,
        witness_script: to_local_ws,
        secret,
        to_self_delay: delay,
    });
    Ok(Vec::new())
}
