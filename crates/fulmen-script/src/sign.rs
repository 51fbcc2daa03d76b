//! Signing and verifying BOLT 3 transactions, and assembling their witnesses.
//!
//! All inputs are segwit v0 P2WSH spends: the sighash commits to the witness
//! script and the spent value. Signatures are deterministic (RFC 6979) and
//! low-S, as libsecp256k1 makes them; a peer's signature that is not low-S
//! is rejected with [`SignError::HighS`] before it is checked.
//!
//! Sighash types: commitment and closing transactions and the owner's own
//! HTLC-transaction signature use `SIGHASH_ALL`; the counterparty's
//! HTLC-transaction signature uses `SIGHASH_SINGLE|SIGHASH_ANYONECANPAY`
//! with anchors ([`counterparty_htlc_sighash_type`]).

use core::fmt;

use bitcoin::ecdsa::Signature as BitcoinSignature;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::{Message, PublicKey, Secp256k1, SecretKey, Verification};
use bitcoin::sighash::SighashCache;
use bitcoin::{Amount, EcdsaSighashType, Script, Transaction, Witness};
use fulmen_types::{PaymentPreimage, Sat};

use crate::channel::ChannelType;
use crate::scripts::sort_keys;

/// Why a signature could not be made or was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The transaction has no input at the index signed (a caller bug).
    MissingInput {
        /// The input index.
        index: usize,
    },
    /// A peer's signature is not in low-S form (BOLT 2 requires it): send
    /// a warning and close the connection, or fail the channel.
    HighS,
    /// A peer's signature does not verify: send a warning and close the
    /// connection, or fail the channel.
    InvalidSignature,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingInput { index } => write!(f, "transaction has no input {index}"),
            Self::HighS => f.write_str("signature is not low-s"),
            Self::InvalidSignature => f.write_str("signature does not verify"),
        }
    }
}

impl std::error::Error for SignError {}

/// The sighash type of the counterparty's signature on the owner's HTLC
/// transactions: `SIGHASH_SINGLE|SIGHASH_ANYONECANPAY` with anchors (so the
/// owner can add fee inputs and outputs), `SIGHASH_ALL` otherwise.
pub fn counterparty_htlc_sighash_type(channel_type: ChannelType) -> EcdsaSighashType {
    if channel_type.has_anchors() {
        EcdsaSighashType::SinglePlusAnyoneCanPay
    } else {
        EcdsaSighashType::All
    }
}

/// The segwit v0 signature hash of input `input_index` spending a P2WSH
/// output with `witness_script` and `value`.
pub fn p2wsh_sighash(
    tx: &Transaction,
    input_index: usize,
    witness_script: &Script,
    value: Sat,
    sighash_type: EcdsaSighashType,
) -> Result<Message, SignError> {
    let hash = SighashCache::new(tx)
        .p2wsh_signature_hash(
            input_index,
            witness_script,
            Amount::from_sat(value.value()),
            sighash_type,
        )
        .map_err(|_| SignError::MissingInput { index: input_index })?;
    Ok(Message::from(hash))
}

/// Signs input `input_index` of `tx`, a P2WSH spend.
pub fn sign_p2wsh_input(
    tx: &Transaction,
    input_index: usize,
    witness_script: &Script,
    value: Sat,
    sighash_type: EcdsaSighashType,
    key: &SecretKey,
) -> Result<Signature, SignError> {
    let msg = p2wsh_sighash(tx, input_index, witness_script, value, sighash_type)?;
    Ok(fulmen_types::ec::sign_ecdsa(&msg, key))
}

/// Verifies a peer's signature on input `input_index` of `tx`, rejecting
/// high-S signatures first.
#[allow(clippy::too_many_arguments)]
pub fn verify_p2wsh_input<C: Verification>(
    secp: &Secp256k1<C>,
    tx: &Transaction,
    input_index: usize,
    witness_script: &Script,
    value: Sat,
    sighash_type: EcdsaSighashType,
    signature: &Signature,
    pubkey: &PublicKey,
) -> Result<(), SignError> {
    check_low_s(signature)?;
    let msg = p2wsh_sighash(tx, input_index, witness_script, value, sighash_type)?;
    secp.verify_ecdsa(&msg, signature, pubkey)
        .map_err(|_| SignError::InvalidSignature)
}

/// Rejects a signature that normalising to low-S would change.
pub fn check_low_s(signature: &Signature) -> Result<(), SignError> {
    let mut normalized = *signature;
    normalized.normalize_s();
    if normalized == *signature {
        Ok(())
    } else {
        Err(SignError::HighS)
    }
}

/// Signs the funding input (input 0, `SIGHASH_ALL`) of a commitment or
/// closing transaction with a funding key.
pub fn sign_funding_spend(
    tx: &Transaction,
    funding_script: &Script,
    funding_amount: Sat,
    funding_key: &SecretKey,
) -> Result<Signature, SignError> {
    sign_p2wsh_input(
        tx,
        0,
        funding_script,
        funding_amount,
        EcdsaSighashType::All,
        funding_key,
    )
}

/// Verifies the peer's signature on the funding input of a commitment or
/// closing transaction.
pub fn verify_funding_spend<C: Verification>(
    secp: &Secp256k1<C>,
    tx: &Transaction,
    funding_script: &Script,
    funding_amount: Sat,
    signature: &Signature,
    peer_funding_pubkey: &PublicKey,
) -> Result<(), SignError> {
    verify_p2wsh_input(
        secp,
        tx,
        0,
        funding_script,
        funding_amount,
        EcdsaSighashType::All,
        signature,
        peer_funding_pubkey,
    )
}

/// Signs an HTLC transaction's only input, which spends `htlc_script`
/// holding `htlc_amount`.
///
/// For the signatures sent in `commitment_signed` (on the counterparty's
/// HTLC transactions) use [`counterparty_htlc_sighash_type`]; for the
/// owner's own signature when broadcasting, `SIGHASH_ALL`.
pub fn sign_htlc_tx(
    tx: &Transaction,
    htlc_script: &Script,
    htlc_amount: Sat,
    sighash_type: EcdsaSighashType,
    htlc_key: &SecretKey,
) -> Result<Signature, SignError> {
    sign_p2wsh_input(tx, 0, htlc_script, htlc_amount, sighash_type, htlc_key)
}

/// Verifies the counterparty's signature on one of the owner's HTLC
/// transactions, with the sighash type the channel type requires.
pub fn verify_counterparty_htlc_signature<C: Verification>(
    secp: &Secp256k1<C>,
    tx: &Transaction,
    htlc_script: &Script,
    htlc_amount: Sat,
    channel_type: ChannelType,
    signature: &Signature,
    remote_htlc_pubkey: &PublicKey,
) -> Result<(), SignError> {
    verify_p2wsh_input(
        secp,
        tx,
        0,
        htlc_script,
        htlc_amount,
        counterparty_htlc_sighash_type(channel_type),
        signature,
        remote_htlc_pubkey,
    )
}

fn with_type(signature: &Signature, sighash_type: EcdsaSighashType) -> BitcoinSignature {
    BitcoinSignature {
        signature: *signature,
        sighash_type,
    }
}

/// The witness spending the funding output: `0 <sig1> <sig2> <script>`,
/// signatures in the order of their keys in the 2-of-2 (lexicographic).
/// Both signatures are `SIGHASH_ALL`.
pub fn funding_witness(
    funding_script: &Script,
    a: (&PublicKey, &Signature),
    b: (&PublicKey, &Signature),
) -> Witness {
    let (first, _) = sort_keys(a.0, b.0);
    let (s1, s2) = if first == a.0 { (a.1, b.1) } else { (b.1, a.1) };
    let mut w = Witness::new();
    w.push([]);
    w.push(with_type(s1, EcdsaSighashType::All).serialize());
    w.push(with_type(s2, EcdsaSighashType::All).serialize());
    w.push(funding_script.as_bytes());
    w
}

/// The witness of an HTLC-success transaction:
/// `0 <remotehtlcsig> <localhtlcsig> <payment_preimage> <htlc_script>`.
pub fn htlc_success_witness(
    htlc_script: &Script,
    channel_type: ChannelType,
    remote_sig: &Signature,
    local_sig: &Signature,
    preimage: &PaymentPreimage,
) -> Witness {
    let mut w = Witness::new();
    w.push([]);
    w.push(with_type(remote_sig, counterparty_htlc_sighash_type(channel_type)).serialize());
    w.push(with_type(local_sig, EcdsaSighashType::All).serialize());
    w.push(preimage.as_bytes());
    w.push(htlc_script.as_bytes());
    w
}

/// The witness of an HTLC-timeout transaction:
/// `0 <remotehtlcsig> <localhtlcsig> <> <htlc_script>`.
pub fn htlc_timeout_witness(
    htlc_script: &Script,
    channel_type: ChannelType,
    remote_sig: &Signature,
    local_sig: &Signature,
) -> Witness {
    let mut w = Witness::new();
    w.push([]);
    w.push(with_type(remote_sig, counterparty_htlc_sighash_type(channel_type)).serialize());
    w.push(with_type(local_sig, EcdsaSighashType::All).serialize());
    w.push([]);
    w.push(htlc_script.as_bytes());
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::secp256k1::Secp256k1;

    #[test]
    fn high_s_is_rejected() {
        let secp = Secp256k1::new();
        let key = SecretKey::from_slice(&[0x42; 32]).unwrap();
        let msg = Message::from_digest([7; 32]);
        let sig = secp.sign_ecdsa(&msg, &key);
        assert_eq!(check_low_s(&sig), Ok(()));
        // Negate s: (r, n - s) is the high-S twin of a low-S signature.
        let compact = sig.serialize_compact();
        let n = bitcoin::secp256k1::constants::CURVE_ORDER;
        let mut s = [0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let v = i16::from(n[i]) - i16::from(compact[32 + i]) - borrow;
            borrow = i16::from(v < 0);
            s[i] = (v + 256 * borrow) as u8;
        }
        let mut high = compact;
        high[32..].copy_from_slice(&s);
        let high = Signature::from_compact(&high).unwrap();
        assert_eq!(check_low_s(&high), Err(SignError::HighS));
    }

    fn one_input_tx() -> Transaction {
        Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![bitcoin::TxIn::default()],
            output: vec![bitcoin::TxOut {
                value: Amount::from_sat(1000),
                script_pubkey: bitcoin::ScriptBuf::new(),
            }],
        }
    }

    #[test]
    fn verification_errors_are_typed() {
        let secp = Secp256k1::new();
        let key = SecretKey::from_slice(&[0x42; 32]).unwrap();
        let other = PublicKey::from_secret_key(&secp, &SecretKey::from_slice(&[0x43; 32]).unwrap());
        let mine = PublicKey::from_secret_key(&secp, &key);
        let script = crate::scripts::funding_script(&mine, &other);
        let tx = one_input_tx();
        let sig = sign_funding_spend(&tx, &script, Sat(5000), &key).unwrap();
        assert_eq!(
            verify_funding_spend(&secp, &tx, &script, Sat(5000), &sig, &mine),
            Ok(())
        );
        assert_eq!(
            verify_funding_spend(&secp, &tx, &script, Sat(5000), &sig, &other),
            Err(SignError::InvalidSignature)
        );
        // The amount is committed to.
        assert_eq!(
            verify_funding_spend(&secp, &tx, &script, Sat(5001), &sig, &mine),
            Err(SignError::InvalidSignature)
        );
        let mut no_input = tx.clone();
        no_input.input.clear();
        assert_eq!(
            sign_funding_spend(&no_input, &script, Sat(5000), &key),
            Err(SignError::MissingInput { index: 0 })
        );
        // A signature under the other sighash type does not verify as ALL.
        let single = sign_htlc_tx(
            &tx,
            &script,
            Sat(5000),
            EcdsaSighashType::SinglePlusAnyoneCanPay,
            &key,
        )
        .unwrap();
        assert_eq!(
            verify_counterparty_htlc_signature(
                &secp,
                &tx,
                &script,
                Sat(5000),
                ChannelType::StaticRemoteKey,
                &single,
                &mine
            ),
            Err(SignError::InvalidSignature)
        );
        assert_eq!(
            verify_counterparty_htlc_signature(
                &secp,
                &tx,
                &script,
                Sat(5000),
                ChannelType::AnchorsZeroFeeHtlcTx,
                &single,
                &mine
            ),
            Ok(())
        );
    }

    #[test]
    fn funding_witness_orders_by_key() {
        let secp = Secp256k1::new();
        let ka = SecretKey::from_slice(&[0x42; 32]).unwrap();
        let kb = SecretKey::from_slice(&[0x43; 32]).unwrap();
        let (pa, pb) = (
            PublicKey::from_secret_key(&secp, &ka),
            PublicKey::from_secret_key(&secp, &kb),
        );
        let script = crate::scripts::funding_script(&pa, &pb);
        let tx = one_input_tx();
        let sa = sign_funding_spend(&tx, &script, Sat(1), &ka).unwrap();
        let sb = sign_funding_spend(&tx, &script, Sat(1), &kb).unwrap();
        let w1 = funding_witness(&script, (&pa, &sa), (&pb, &sb));
        let w2 = funding_witness(&script, (&pb, &sb), (&pa, &sa));
        assert_eq!(w1, w2);
        assert_eq!(w1.len(), 4);
        assert!(w1.nth(0).unwrap().is_empty());
        let first_sig = if pa.serialize() < pb.serialize() {
            sa
        } else {
            sb
        };
        assert_eq!(
            w1.nth(1).unwrap(),
            with_type(&first_sig, EcdsaSighashType::All)
                .to_vec()
                .as_slice()
        );
    }
}
