//! Mempool policy (standardness), applied on top of consensus to transactions entering the
//! mempool, following Bitcoin Core's `IsStandardTx`, `AreInputsStandard`, `IsWitnessStandard`,
//! dust rules, and the script policy flags that can be checked without running the script.
//!
//! libbitcoinconsensus only accepts consensus flags, so Core's policy-only script flags are
//! checked here statically: signature encodings (strict DER, low S, defined sighash type) for
//! the signatures whose position is known (P2PKH, P2PK, P2WPKH) and for any witness item that is
//! a DER signature (P2WSH), compressed keys in segwit v0, and minimal pushes in scriptSigs and
//! witness scripts. NULLFAIL and CLEANSTACK for legacy P2SH need script execution and are not
//! checked (CLEANSTACK is consensus for segwit anyway).

use bitcoin::script::Instruction;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::{Amount, Script, Transaction, Weight};

use super::utxo::Coin;
use crate::error::{NonStandard, ScriptPolicy, TxReject};

/// Largest standard transaction weight.
pub const MAX_STANDARD_TX_WEIGHT: u64 = 400_000;
/// Smallest standard stripped transaction size.
pub const MIN_STANDARD_TX_NONWITNESS_SIZE: usize = 65;
/// Largest standard scriptSig.
pub const MAX_STANDARD_SCRIPTSIG_SIZE: usize = 1_650;
/// Largest standard OP_RETURN output script.
pub const MAX_OP_RETURN_RELAY: usize = 83;
/// Largest standard P2WSH witness script.
pub const MAX_STANDARD_P2WSH_SCRIPT_SIZE: usize = 3_600;
/// Most standard P2WSH witness stack items (besides the script).
pub const MAX_STANDARD_P2WSH_STACK_ITEMS: usize = 100;
/// Largest standard P2WSH (and tapscript) witness stack item.
pub const MAX_STANDARD_WITNESS_ITEM_SIZE: usize = 80;
/// Most signature operations in a standard P2SH redeem script.
pub const MAX_P2SH_SIGOPS: usize = 15;

/// Output script types Bitcoin Core relays.
fn is_standard_output(script: &Script) -> bool {
    if script.is_op_return() {
        return script.len() <= MAX_OP_RETURN_RELAY
            && script
                .instructions()
                .skip(1)
                .all(|i| matches!(i, Ok(Instruction::PushBytes(_))));
    }
    script.is_p2pkh()
        || script.is_p2sh()
        || script.is_witness_program()
        || script.is_p2pk()
        || is_bare_multisig_up_to_3(script)
}

fn is_bare_multisig_up_to_3(script: &Script) -> bool {
    let Ok(ins) = script.instructions().collect::<Result<Vec<_>, _>>() else {
        return false;
    };
    let n = ins.len();
    if n < 4
        || !matches!(
            ins.last(),
            Some(Instruction::Op(bitcoin::opcodes::all::OP_CHECKMULTISIG))
        )
    {
        return false;
    }
    let small = |i: Option<&Instruction>| match i {
        Some(Instruction::Op(op)) => {
            let b = op.to_u8();
            (0x51..=0x60).contains(&b).then(|| usize::from(b - 0x50))
        }
        _ => None,
    };
    let (Some(m), Some(k)) = (
        small(ins.first()),
        small(n.checked_sub(2).and_then(|i| ins.get(i))),
    ) else {
        return false;
    };
    let keys = ins.get(1..n - 2).unwrap_or_default();
    k <= 3
        && m <= k
        && keys.len() == k
        && keys
            .iter()
            .all(|i| matches!(i, Instruction::PushBytes(p) if p.len() == 33 || p.len() == 65))
}

/// Pay-to-anchor (`OP_1 <0x4e73>`), standard to spend since Core 28.
fn is_p2a(script: &Script) -> bool {
    script.as_bytes() == [0x51, 0x02, 0x4e, 0x73]
}

/// `IsStandardTx`: version, size, scriptSigs, output types, dust, one OP_RETURN at most.
pub fn check_standard_tx(tx: &Transaction) -> Result<(), TxReject> {
    let ns = |n| Err(TxReject::NonStandard(n));
    if !(1..=3).contains(&tx.version.0) {
        return ns(NonStandard::Version);
    }
    if tx.weight() > Weight::from_wu(MAX_STANDARD_TX_WEIGHT) {
        return ns(NonStandard::TxSize);
    }
    if tx.base_size() < MIN_STANDARD_TX_NONWITNESS_SIZE {
        return ns(NonStandard::TxSizeSmall);
    }
    for input in &tx.input {
        if input.script_sig.len() > MAX_STANDARD_SCRIPTSIG_SIZE {
            return ns(NonStandard::ScriptSigSize);
        }
        if !input.script_sig.is_push_only() {
            return ns(NonStandard::ScriptSigNotPushOnly);
        }
    }
    let mut op_returns = 0;
    for out in &tx.output {
        if !is_standard_output(&out.script_pubkey) {
            return ns(NonStandard::ScriptPubKey);
        }
        if out.script_pubkey.is_op_return() {
            op_returns += 1;
        } else if out.value < out.script_pubkey.minimal_non_dust() {
            return ns(NonStandard::Dust);
        }
    }
    if op_returns > 1 {
        return ns(NonStandard::MultiOpReturn);
    }
    Ok(())
}

/// The last push of a scriptSig (the P2SH redeem script), if the scriptSig is push-only.
fn last_push(script_sig: &Script) -> Option<Vec<u8>> {
    let mut last = None;
    for ins in script_sig.instructions() {
        match ins.ok()? {
            Instruction::PushBytes(p) => last = Some(p.as_bytes().to_vec()),
            Instruction::Op(op) => {
                let b = op.to_u8();
                // OP_0 pushes empty, OP_1NEGATE and OP_1..OP_16 push small numbers.
                last = match b {
                    0x00 => Some(vec![]),
                    0x4f => Some(vec![0x81]),
                    0x51..=0x60 => Some(vec![b - 0x50]),
                    _ => return None,
                };
            }
        }
    }
    last
}

/// `AreInputsStandard` and `IsWitnessStandard`. `coins[i]` is the coin spent by input `i`.
pub fn check_standard_inputs(tx: &Transaction, coins: &[Coin]) -> Result<(), TxReject> {
    for (input, coin) in tx.input.iter().zip(coins) {
        let spk = &coin.output.script_pubkey;
        let standard = spk.is_p2pkh()
            || spk.is_p2sh()
            || spk.is_p2wpkh()
            || spk.is_p2wsh()
            || spk.is_p2tr()
            || spk.is_p2pk()
            || is_p2a(spk)
            || is_bare_multisig_up_to_3(spk);
        if !standard {
            return Err(TxReject::NonStandard(NonStandard::NonStandardInputs));
        }
        let mut prev = spk.clone();
        if spk.is_p2sh() {
            let redeem = last_push(&input.script_sig)
                .ok_or(TxReject::NonStandard(NonStandard::NonStandardInputs))?;
            let redeem = bitcoin::ScriptBuf::from_bytes(redeem);
            if redeem.count_sigops() > MAX_P2SH_SIGOPS {
                return Err(TxReject::NonStandard(NonStandard::NonStandardInputs));
            }
            prev = redeem;
        }
        if input.witness.is_empty() {
            continue;
        }
        let bad = Err(TxReject::NonStandard(NonStandard::WitnessNonStandard));
        if !prev.is_witness_program() {
            return bad;
        }
        let items: Vec<&[u8]> = input.witness.iter().collect();
        if prev.is_p2wsh() {
            let (script, stack) = match items.split_last() {
                Some(x) => x,
                None => return bad,
            };
            if script.len() > MAX_STANDARD_P2WSH_SCRIPT_SIZE
                || stack.len() > MAX_STANDARD_P2WSH_STACK_ITEMS
                || stack
                    .iter()
                    .any(|i| i.len() > MAX_STANDARD_WITNESS_ITEM_SIZE)
            {
                return bad;
            }
        } else if prev.is_p2tr() && !spk.is_p2sh() {
            let mut stack = items.as_slice();
            if stack.len() >= 2 && stack.last().and_then(|a| a.first()) == Some(&0x50) {
                return bad; // annex
            }
            if stack.len() >= 2 {
                let control = stack.last().copied().unwrap_or_default();
                stack = stack.get(..stack.len() - 2).unwrap_or_default();
                if control.first().map(|c| c & 0xfe) == Some(0xc0)
                    && stack
                        .iter()
                        .any(|i| i.len() > MAX_STANDARD_WITNESS_ITEM_SIZE)
                {
                    return bad;
                }
            }
        }
    }
    Ok(())
}

/// Bitcoin Core's `IsValidSignatureEncoding` (BIP 66 strict DER, with the sighash byte).
pub fn is_valid_signature_encoding(sig: &[u8]) -> bool {
    let len = sig.len();
    if !(9..=73).contains(&len) {
        return false;
    }
    let at = |i: usize| sig.get(i).copied().unwrap_or(0);
    if at(0) != 0x30 || usize::from(at(1)) != len - 3 {
        return false;
    }
    let len_r = usize::from(at(3));
    if 5 + len_r >= len {
        return false;
    }
    let len_s = usize::from(at(5 + len_r));
    if len_r + len_s + 7 != len {
        return false;
    }
    if at(2) != 0x02 || len_r == 0 || at(4) & 0x80 != 0 {
        return false;
    }
    if len_r > 1 && at(4) == 0 && at(5) & 0x80 == 0 {
        return false;
    }
    if at(len_r + 4) != 0x02 || len_s == 0 || at(len_r + 6) & 0x80 != 0 {
        return false;
    }
    if len_s > 1 && at(len_r + 6) == 0 && at(len_r + 7) & 0x80 == 0 {
        return false;
    }
    true
}

/// STRICTENC + LOW_S checks on an ECDSA signature with its sighash byte. Empty signatures are
/// allowed (they are how a script expresses "no signature").
fn check_signature(sig: &[u8]) -> Result<(), ScriptPolicy> {
    let Some((&hash_type, der)) = sig.split_last() else {
        return Ok(());
    };
    if !is_valid_signature_encoding(sig) {
        return Err(ScriptPolicy::SigDer);
    }
    check_low_s_and_hash_type(der, hash_type)
}

fn check_low_s_and_hash_type(der: &[u8], hash_type: u8) -> Result<(), ScriptPolicy> {
    let parsed = Signature::from_der(der).map_err(|_| ScriptPolicy::SigDer)?;
    let mut normalized = parsed;
    normalized.normalize_s();
    if normalized != parsed {
        return Err(ScriptPolicy::SigHighS);
    }
    if !(1..=3).contains(&(hash_type & !0x80)) {
        return Err(ScriptPolicy::SigHashType);
    }
    Ok(())
}

fn check_pubkey(pk: &[u8], witness_v0: bool) -> Result<(), ScriptPolicy> {
    let compressed = pk.len() == 33 && matches!(pk.first(), Some(0x02 | 0x03));
    let uncompressed = pk.len() == 65 && pk.first() == Some(&0x04);
    if witness_v0 && !compressed {
        return Err(if uncompressed {
            ScriptPolicy::WitnessPubKeyType
        } else {
            ScriptPolicy::PubKeyType
        });
    }
    if !compressed && !uncompressed {
        return Err(ScriptPolicy::PubKeyType);
    }
    Ok(())
}

fn check_minimal_pushes(script: &Script) -> Result<(), ScriptPolicy> {
    if script.instructions_minimal().any(|i| i.is_err()) {
        return Err(ScriptPolicy::MinimalData);
    }
    Ok(())
}

fn pushes(script: &Script) -> Vec<Vec<u8>> {
    script
        .instructions()
        .filter_map(|i| match i {
            Ok(Instruction::PushBytes(p)) => Some(p.as_bytes().to_vec()),
            _ => None,
        })
        .collect()
}

/// Script policy flags that can be checked without execution (see the module doc).
/// Returns the first offending input and the rule it breaks.
pub fn check_script_policy(tx: &Transaction, coins: &[Coin]) -> Result<(), TxReject> {
    for (index, (input, coin)) in tx.input.iter().zip(coins).enumerate() {
        let fail = |violation| TxReject::NonMandatoryScript {
            input: index,
            violation,
        };
        let spk = &coin.output.script_pubkey;
        check_minimal_pushes(&input.script_sig).map_err(fail)?;
        if spk.is_p2pkh() {
            let p = pushes(&input.script_sig);
            if let [sig, pk] = p.as_slice() {
                check_signature(sig).map_err(fail)?;
                check_pubkey(pk, false).map_err(fail)?;
            }
        } else if spk.is_p2pk() {
            if let [sig] = pushes(&input.script_sig).as_slice() {
                check_signature(sig).map_err(fail)?;
            }
        }
        let program = if spk.is_p2sh() {
            last_push(&input.script_sig).map(bitcoin::ScriptBuf::from_bytes)
        } else {
            Some(spk.clone())
        };
        let Some(program) = program else { continue };
        let items: Vec<&[u8]> = input.witness.iter().collect();
        if program.is_p2wpkh() {
            if let [sig, pk] = items.as_slice() {
                check_signature(sig).map_err(fail)?;
                check_pubkey(pk, true).map_err(fail)?;
            }
        } else if program.is_p2wsh() {
            let Some((script, stack)) = items.split_last() else {
                continue;
            };
            let script = Script::from_bytes(script);
            check_minimal_pushes(script).map_err(fail)?;
            for item in stack {
                if let Some((&hash_type, der)) = item.split_last() {
                    if is_valid_signature_encoding(item) {
                        check_low_s_and_hash_type(der, hash_type).map_err(fail)?;
                    }
                }
            }
            let has_checksig = script
                .instructions()
                .any(|i| matches!(i, Ok(Instruction::Op(op)) if matches!(op.to_u8(), 0xac..=0xaf)));
            if has_checksig
                && pushes(script)
                    .iter()
                    .any(|p| p.len() == 65 && p.first() == Some(&0x04))
            {
                return Err(fail(ScriptPolicy::WitnessPubKeyType));
            }
        }
    }
    Ok(())
}

/// The minimum fee for `vsize` virtual bytes at `sat_per_kvb` satoshis per 1,000 vbytes
/// (Core's `CFeeRate::GetFee`, rounding up).
pub fn min_fee(vsize: u64, sat_per_kvb: u64) -> Amount {
    let fee = vsize.saturating_mul(sat_per_kvb).div_ceil(1000);
    Amount::from_sat(fee)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_encoding_rules() {
        // A minimal valid signature: r = 1, s = 1, SIGHASH_ALL.
        let good = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01];
        assert!(is_valid_signature_encoding(&good));
        let mut bad_len = good;
        bad_len[1] = 0x07;
        assert!(!is_valid_signature_encoding(&bad_len));
        let negative_r = [0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01, 0x01];
        assert!(!is_valid_signature_encoding(&negative_r));
        let padded_r = [0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01, 0x01];
        assert!(!is_valid_signature_encoding(&padded_r));
        assert!(!is_valid_signature_encoding(&[]));
        assert!(check_signature(&[]).is_ok());
        assert_eq!(
            check_signature(&[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x04]),
            Err(ScriptPolicy::SigHashType)
        );
    }

    #[test]
    fn pubkey_types() {
        let mut c = [2u8; 33];
        assert!(check_pubkey(&c, true).is_ok());
        c[0] = 5;
        assert_eq!(check_pubkey(&c, false), Err(ScriptPolicy::PubKeyType));
        let mut u = [4u8; 65];
        assert!(check_pubkey(&u, false).is_ok());
        assert_eq!(check_pubkey(&u, true), Err(ScriptPolicy::WitnessPubKeyType));
        u[0] = 6;
        assert_eq!(check_pubkey(&u, false), Err(ScriptPolicy::PubKeyType));
    }

    #[test]
    fn min_fee_rounds_up() {
        assert_eq!(min_fee(141, 1000), Amount::from_sat(141));
        assert_eq!(min_fee(141, 1001), Amount::from_sat(142));
        assert_eq!(min_fee(0, 1000), Amount::ZERO);
    }

    #[test]
    fn output_types() {
        use bitcoin::ScriptBuf;
        let op_return = |n: usize| {
            let mut b = vec![0x6a, 0x4c, n as u8];
            b.extend(std::iter::repeat_n(0u8, n));
            ScriptBuf::from_bytes(b)
        };
        assert!(is_standard_output(&op_return(80)));
        assert!(!is_standard_output(&op_return(81)));
        assert!(is_standard_output(&ScriptBuf::from_bytes(vec![
            0x51, 0x02, 0x4e, 0x73
        ])));
        assert!(!is_standard_output(&ScriptBuf::from_bytes(vec![0x51])));
    }

    proptest::proptest! {
        #[test]
        fn signature_checks_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let _ = is_valid_signature_encoding(&bytes);
            let _ = check_signature(&bytes);
        }

        #[test]
        fn real_signatures_are_strict_and_low_s(seed in 1u8..=200, msg in proptest::array::uniform32(proptest::num::u8::ANY)) {
            use bitcoin::secp256k1::{Message, Secp256k1, SecretKey};
            let secp = Secp256k1::new();
            let sk = SecretKey::from_slice(&[seed; 32]).unwrap();
            let sig = secp.sign_ecdsa(&Message::from_digest(msg), &sk);
            let mut bytes = sig.serialize_der().to_vec();
            bytes.push(0x01);
            proptest::prop_assert!(is_valid_signature_encoding(&bytes));
            proptest::prop_assert_eq!(check_signature(&bytes), Ok(()));
        }
    }
}
