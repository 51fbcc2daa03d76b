//! Sweeps: one fully signed transaction spending ready claims to a
//! destination script at a feerate, and the witness of each claim kind.
//!
//! Weights are measured on the transaction itself with the largest
//! witness items (73-byte signatures), so the fee paid is never below the
//! requested feerate; the signatures are deterministic (RFC 6979).

use bitcoin::absolute::LockTime;
use bitcoin::secp256k1::{PublicKey, SecretKey};
use bitcoin::sighash::SighashCache;
use bitcoin::transaction::Version;
use bitcoin::{Amount, EcdsaSighashType, Script, ScriptBuf, Transaction, TxIn, TxOut, Witness};
use fulmen_script::fees::dust_threshold;
use fulmen_script::keys::{derive_privkey, revocation_privkey};
use fulmen_script::sign::p2wsh_sighash;
use fulmen_types::{ec, PaymentPreimage, Sat};

use super::claim::{Claim, ClaimKey, ClaimKind, RevokedOutput};
use super::{OnchainError, Signer};

/// The largest DER signature plus its sighash byte.
const MAX_SIG_LEN: usize = 73;

/// The private key of a claim.
pub(crate) fn claim_secret_key(
    key: &ClaimKey,
    signer: &Signer<'_>,
) -> Result<SecretKey, OnchainError> {
    let s = signer.secrets;
    let derived = match key {
        ClaimKey::DelayedPayment {
            per_commitment_point,
        } => derive_privkey(s.delayed_payment_basepoint_secret(), per_commitment_point),
        ClaimKey::Htlc {
            per_commitment_point,
        } => derive_privkey(s.htlc_basepoint_secret(), per_commitment_point),
        ClaimKey::Revocation {
            per_commitment_secret,
        } => revocation_privkey(s.revocation_basepoint_secret(), per_commitment_secret),
        ClaimKey::Payment => Ok(*s.payment_basepoint_secret()),
        ClaimKey::Funding => Ok(*s.funding_secret()),
    };
    derived.map_err(|_| OnchainError::KeyDerivationError)
}

/// What goes between the signature and the script, per kind (the
/// signature is pushed first, the witness script last).
enum Middle {
    /// Nothing (`to_remote` with anchors, anchors).
    Nothing,
    /// The empty vector (`OP_ELSE` branches, timeouts).
    Empty,
    /// `0x01` (`OP_IF` revocation branch of `to_local`-shaped scripts).
    One,
    /// A public key (P2WPKH, revocation path of HTLC scripts).
    Pubkey(PublicKey),
    /// The preimage.
    Preimage(PaymentPreimage),
}

/// `pubkey` is the claim key's public key (pushed by P2WPKH and
/// revocation-path HTLC witnesses).
fn middle(
    claim: &Claim,
    pubkey: PublicKey,
    preimages: &[PaymentPreimage],
) -> Result<Middle, OnchainError> {
    Ok(match &claim.kind {
        ClaimKind::ToLocalAfterCsv { .. } => Middle::Empty,
        ClaimKind::ToRemote { csv: 0 } => Middle::Pubkey(pubkey),
        ClaimKind::ToRemote { .. } | ClaimKind::AnchorCpfp => Middle::Nothing,
        ClaimKind::HtlcSuccess {
            second_stage: None,
            payment_hash,
            ..
        } => Middle::Preimage(
            preimages
                .iter()
                .find(|p| p.payment_hash() == *payment_hash)
                .copied()
                .ok_or(OnchainError::MissingPreimageError {
                    payment_hash: *payment_hash,
                })?,
        ),
        ClaimKind::HtlcTimeout {
            second_stage: None, ..
        } => Middle::Empty,
        ClaimKind::Revoked {
            output: RevokedOutput::ToLocal | RevokedOutput::SecondStage,
        } => Middle::One,
        ClaimKind::Revoked {
            output: RevokedOutput::Htlc { .. },
        } => Middle::Pubkey(pubkey),
        _ => return Err(OnchainError::WrongClaimKind),
    })
}

fn witness(sig: &[u8], m: &Middle, claim: &Claim) -> Witness {
    let mut w = Witness::new();
    w.push(sig);
    match m {
        Middle::Nothing => {}
        Middle::Empty => w.push([]),
        Middle::One => w.push([1u8]),
        Middle::Pubkey(k) => w.push(k.serialize()),
        Middle::Preimage(p) => w.push(p.as_bytes()),
    }
    if let Some(ws) = &claim.witness_script {
        w.push(ws.as_bytes());
    }
    w
}

/// The public key that appears in the witness of claims that push one
/// (P2WPKH `to_remote`, revoked HTLCs): the claim key's public key.
fn witness_pubkey(claim: &Claim, signer: &Signer<'_>) -> Result<PublicKey, OnchainError> {
    claim_secret_key(&claim.key, signer).map(|k| ec::public_key(&k))
}

/// The witness spending `claim` as input `input_index` of `tx`, signed
/// `SIGHASH_ALL`. Works for any transaction holding the input, e.g. a
/// CPFP child the wallet assembled around an anchor claim. HTLC-success
/// claims need their preimage in `preimages`. Claims spent by a
/// second-stage transaction are refused ([`super::htlc::finalize_htlc_tx`]).
pub fn sign_claim_input(
    tx: &Transaction,
    input_index: usize,
    claim: &Claim,
    signer: &Signer<'_>,
    preimages: &[PaymentPreimage],
) -> Result<Witness, OnchainError> {
    if tx.input.get(input_index).map(|i| i.previous_output) != Some(claim.outpoint) {
        return Err(OnchainError::WrongTransaction);
    }
    let key = claim_secret_key(&claim.key, signer)?;
    let pubkey = ec::public_key(&key);
    let m = middle(claim, pubkey, preimages)?;
    let msg = match &claim.witness_script {
        Some(ws) => p2wsh_sighash(tx, input_index, ws, claim.value, EcdsaSighashType::All)
            .map_err(|_| OnchainError::SigningError)?,
        None => {
            let hash = SighashCache::new(tx)
                .p2wpkh_signature_hash(
                    input_index,
                    &claim.script_pubkey,
                    Amount::from_sat(claim.value.value()),
                    EcdsaSighashType::All,
                )
                .map_err(|_| OnchainError::SigningError)?;
            bitcoin::secp256k1::Message::from(hash)
        }
    };
    let sig = bitcoin::ecdsa::Signature {
        signature: ec::sign_ecdsa(&msg, &key),
        sighash_type: EcdsaSighashType::All,
    };
    Ok(witness(&sig.serialize(), &m, claim))
}

/// The witness of `claim` with its largest items (a 73-byte signature, a
/// zero preimage), for weights.
fn placeholder_witness(claim: &Claim, signer: &Signer<'_>) -> Result<Witness, OnchainError> {
    let pk = witness_pubkey(claim, signer)?;
    let m = match middle(claim, pk, &[]) {
        Err(OnchainError::MissingPreimageError { .. }) => {
            Middle::Preimage(PaymentPreimage([0; 32]))
        }
        other => other?,
    };
    Ok(witness(&[0u8; MAX_SIG_LEN], &m, claim))
}

/// The weight `claim` adds to a transaction as an input, witness
/// included, at its largest (a 73-byte signature).
pub fn claim_input_weight(claim: &Claim, signer: &Signer<'_>) -> Result<u64, OnchainError> {
    let txin = TxIn {
        previous_output: claim.outpoint,
        script_sig: ScriptBuf::new(),
        sequence: claim.sequence(),
        witness: placeholder_witness(claim, signer)?,
    };
    Ok(txin.segwit_weight().to_wu())
}

/// The unsigned sweep with the largest placeholder witnesses, and its
/// total input value.
fn unsigned(
    claims: &[Claim],
    destination: &Script,
    signer: &Signer<'_>,
) -> Result<(Transaction, Sat), OnchainError> {
    if claims.is_empty() {
        return Err(OnchainError::NoClaims);
    }
    let lock_time = claims.iter().map(|c| c.cltv).max().unwrap_or(0);
    let mut input = Vec::with_capacity(claims.len());
    for c in claims {
        input.push(TxIn {
            previous_output: c.outpoint,
            script_sig: ScriptBuf::new(),
            sequence: c.sequence(),
            witness: placeholder_witness(c, signer)?,
        });
    }
    let total =
        Sat::checked_sum(claims.iter().map(|c| c.value)).ok_or(OnchainError::OverflowError)?;
    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::from_consensus(lock_time),
        input,
        output: vec![TxOut {
            value: Amount::from_sat(total.value()),
            script_pubkey: destination.to_owned(),
        }],
    };
    Ok((tx, total))
}

/// `ceil(feerate_per_kw * weight / 1000)`.
pub fn fee_at(feerate_per_kw: u32, weight: u64) -> Option<Sat> {
    u64::from(feerate_per_kw)
        .checked_mul(weight)?
        .checked_add(999)
        .map(|v| Sat(v / 1000))
}

/// The weight of a sweep of `claims` to `destination`, at its largest.
pub fn sweep_weight(
    claims: &[Claim],
    destination: &Script,
    signer: &Signer<'_>,
) -> Result<u64, OnchainError> {
    unsigned(claims, destination, signer).map(|(tx, _)| tx.weight().to_wu())
}

/// Builds and signs one transaction spending every claim in `claims` to
/// `destination`, paying `feerate_per_kw` (sat per 1000 weight) on its
/// largest possible weight.
///
/// Version 2; each input's `nSequence` is its claim's CSV delay (or
/// `0xfffffffd`), `nLockTime` the highest `cltv` among the claims. The
/// claims must be ready at the height the transaction is broadcast
/// ([`Claim::ready_height`]). Anchors and second-stage HTLC claims are
/// refused ([`OnchainError::WrongClaimKind`]); HTLC-success claims need
/// their preimage in `preimages`.
pub fn build_sweep(
    claims: &[Claim],
    destination: &Script,
    feerate_per_kw: u32,
    signer: &Signer<'_>,
    preimages: &[PaymentPreimage],
) -> Result<Transaction, OnchainError> {
    let (mut tx, total) = unsigned(claims, destination, signer)?;
    let fee = fee_at(feerate_per_kw, tx.weight().to_wu()).ok_or(OnchainError::OverflowError)?;
    let dust = dust_threshold(destination);
    let value = total
        .checked_sub(fee)
        .filter(|v| *v >= dust)
        .ok_or(OnchainError::BelowDustError { total, fee, dust })?;
    if let Some(out) = tx.output.first_mut() {
        out.value = Amount::from_sat(value.value());
    }
    let mut witnesses = Vec::with_capacity(claims.len());
    for (i, c) in claims.iter().enumerate() {
        witnesses.push(sign_claim_input(&tx, i, c, signer, preimages)?);
    }
    for (input, w) in tx.input.iter_mut().zip(witnesses) {
        input.witness = w;
    }
    Ok(tx)
}
