//! Consensus validation as pure functions: context-free transaction checks, input checks
//! (maturity, value balance), script verification through Bitcoin Core's libbitcoinconsensus,
//! and block checks (proof of work, merkle root, coinbase, BIP 34, witness commitment).

use std::collections::HashSet;

use bitcoin::block::Header;
use bitcoin::hashes::Hash;
use bitcoin::pow::CompactTarget;
use bitcoin::{Amount, Block, ScriptBuf, Transaction, TxOut, Txid, Weight};

use super::locks::is_final_tx;
use super::utxo::Coin;
use crate::error::{BlockReject, TxReject};

/// 21 million bitcoin.
pub const MAX_MONEY: Amount = Amount::MAX_MONEY;
/// Block weight limit.
pub const MAX_BLOCK_WEIGHT: u64 = 4_000_000;
/// Confirmations a coinbase output needs before it can be spent.
pub const COINBASE_MATURITY: u32 = 100;
/// Regtest halves the subsidy every 150 blocks.
pub const REGTEST_HALVING_INTERVAL: u32 = 150;
/// Regtest's (and its only allowed) compact target, `0x207fffff`, in consensus encoding.
pub const REGTEST_BITS_U32: u32 = 0x207f_ffff;

/// Regtest's compact target as a type.
pub fn regtest_bits() -> CompactTarget {
    CompactTarget::from_consensus(REGTEST_BITS_U32)
}
/// The prefix of the witness commitment output: OP_RETURN, push 36, 0xaa21a9ed.
pub const WITNESS_COMMITMENT_HEADER: [u8; 6] = [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];

/// Script verification flags of Bitcoin Core's block validation with every soft fork active
/// (all are active from genesis on regtest): P2SH, DERSIG, NULLDUMMY, CHECKLOCKTIMEVERIFY,
/// CHECKSEQUENCEVERIFY, WITNESS and TAPROOT.
pub const CONSENSUS_FLAGS: u32 =
    bitcoinconsensus::VERIFY_ALL_PRE_TAPROOT | bitcoinconsensus::VERIFY_TAPROOT;

/// The block subsidy at `height` on regtest.
pub fn block_subsidy(height: u32) -> Amount {
    let halvings = height / REGTEST_HALVING_INTERVAL;
    if halvings >= 64 {
        return Amount::ZERO;
    }
    Amount::from_sat((50 * 100_000_000u64) >> halvings)
}

/// Bitcoin Core's `CheckTransaction`: rules that need no context.
pub fn check_transaction(tx: &Transaction) -> Result<(), TxReject> {
    if tx.input.is_empty() {
        return Err(TxReject::NoInputs);
    }
    if tx.output.is_empty() {
        return Err(TxReject::NoOutputs);
    }
    if (tx.base_size() as u64).saturating_mul(4) > MAX_BLOCK_WEIGHT {
        return Err(TxReject::Oversize);
    }
    let mut total = Amount::ZERO;
    for out in &tx.output {
        if out.value > MAX_MONEY {
            return Err(TxReject::OutputTooLarge);
        }
        total = match total.checked_add(out.value) {
            Some(t) if t <= MAX_MONEY => t,
            _ => return Err(TxReject::OutputTotalTooLarge),
        };
    }
    let mut seen = HashSet::with_capacity(tx.input.len());
    if !tx.input.iter().all(|i| seen.insert(i.previous_output)) {
        return Err(TxReject::DuplicateInputs);
    }
    if tx.is_coinbase() {
        let len = tx.input.first().map_or(0, |i| i.script_sig.len());
        if !(2..=100).contains(&len) {
            return Err(TxReject::BadCoinbaseLength);
        }
    } else if tx.input.iter().any(|i| i.previous_output.is_null()) {
        return Err(TxReject::NullPrevout);
    }
    Ok(())
}

/// Bitcoin Core's `CheckTxInputs`: coinbase maturity and value balance. `coins[i]` is the coin
/// spent by input `i`, `spend_height` the height of the block the transaction would be in.
/// Returns the fee.
pub fn check_tx_inputs(
    tx: &Transaction,
    coins: &[Coin],
    spend_height: u32,
) -> Result<Amount, TxReject> {
    let mut value_in = Amount::ZERO;
    for coin in coins {
        if coin.is_coinbase {
            let depth = spend_height.saturating_sub(coin.height);
            if depth < COINBASE_MATURITY {
                return Err(TxReject::PrematureCoinbaseSpend { depth });
            }
        }
        value_in = match value_in.checked_add(coin.output.value) {
            Some(v) if coin.output.value <= MAX_MONEY && v <= MAX_MONEY => v,
            _ => return Err(TxReject::InputValuesOutOfRange),
        };
    }
    let mut value_out = Amount::ZERO;
    for out in &tx.output {
        value_out = value_out
            .checked_add(out.value)
            .ok_or(TxReject::OutputTotalTooLarge)?;
    }
    value_in.checked_sub(value_out).ok_or(TxReject::InBelowOut {
        value_in,
        value_out,
    })
}

/// Verifies every input's script with libbitcoinconsensus under `flags`. The transaction is
/// serialized once; all spent outputs are passed so taproot spends are checked too.
pub fn verify_scripts(tx: &Transaction, spent: &[&TxOut], flags: u32) -> Result<(), TxReject> {
    if spent.len() != tx.input.len() {
        return Err(TxReject::MandatoryScript { input: 0 });
    }
    let bytes = bitcoin::consensus::serialize(tx);
    let mut utxos = Vec::with_capacity(spent.len());
    for out in spent {
        let value =
            i64::try_from(out.value.to_sat()).map_err(|_| TxReject::InputValuesOutOfRange)?;
        let len = u32::try_from(out.script_pubkey.len())
            .map_err(|_| TxReject::MandatoryScript { input: 0 })?;
        utxos.push(bitcoinconsensus::Utxo {
            script_pubkey: out.script_pubkey.as_bytes().as_ptr(),
            script_pubkey_len: len,
            value,
        });
    }
    for (input, out) in spent.iter().enumerate() {
        bitcoinconsensus::verify_with_flags(
            out.script_pubkey.as_bytes(),
            out.value.to_sat(),
            &bytes,
            Some(&utxos),
            input,
            flags,
        )
        .map_err(|_| TxReject::MandatoryScript { input })?;
    }
    Ok(())
}

/// Bitcoin Core's `CheckBlock` (minus sigop counting): context-free block rules. Returns the
/// txids, computed once, for the caller to reuse.
pub fn check_block(block: &Block) -> Result<Vec<Txid>, BlockReject> {
    check_header_pow(&block.header)?;
    if block.txdata.is_empty() {
        return Err(BlockReject::NoTransactions);
    }
    let txids: Vec<Txid> = block.txdata.iter().map(Transaction::compute_txid).collect();
    let root = bitcoin::merkle_tree::calculate_root(txids.iter().map(|t| t.to_raw_hash()));
    if root.map(bitcoin::TxMerkleNode::from_raw_hash) != Some(block.header.merkle_root) {
        return Err(BlockReject::BadMerkleRoot);
    }
    let mut seen = HashSet::with_capacity(txids.len());
    if !txids.iter().all(|t| seen.insert(*t)) {
        return Err(BlockReject::DuplicateTx);
    }
    if block.weight() > Weight::from_wu(MAX_BLOCK_WEIGHT) {
        return Err(BlockReject::BadWeight);
    }
    let mut txs = block.txdata.iter();
    if !txs.next().is_some_and(Transaction::is_coinbase) {
        return Err(BlockReject::NoCoinbase);
    }
    if txs.any(Transaction::is_coinbase) {
        return Err(BlockReject::MultipleCoinbase);
    }
    for (tx, txid) in block.txdata.iter().zip(&txids) {
        check_transaction(tx).map_err(|reject| BlockReject::Tx {
            txid: *txid,
            reject,
        })?;
    }
    Ok(txids)
}

/// The header's hash meets the target it declares.
pub fn check_header_pow(header: &Header) -> Result<(), BlockReject> {
    header
        .validate_pow(header.target())
        .map(|_| ())
        .map_err(|_| BlockReject::HighHash)
}

/// Bitcoin Core's `ContextualCheckBlockHeader` and `ContextualCheckBlock` for a block at
/// `height` whose parent's median time past is `prev_mtp`: regtest difficulty, timestamp,
/// finality of every transaction, BIP 34 height, and witness commitment.
pub fn contextual_check_block(
    block: &Block,
    txids: &[Txid],
    height: u32,
    prev_mtp: u32,
) -> Result<(), BlockReject> {
    if block.header.bits != regtest_bits() {
        return Err(BlockReject::BadDiffBits);
    }
    if block.header.time <= prev_mtp {
        return Err(BlockReject::TimeTooOld);
    }
    for (tx, txid) in block.txdata.iter().zip(txids) {
        if !is_final_tx(tx, height, prev_mtp) {
            return Err(BlockReject::Tx {
                txid: *txid,
                reject: TxReject::NonFinal,
            });
        }
    }
    let coinbase = block.txdata.first().ok_or(BlockReject::NoCoinbase)?;
    let expected = bip34_prefix(height);
    let script_sig = coinbase
        .input
        .first()
        .map(|i| i.script_sig.as_bytes())
        .unwrap_or_default();
    if !script_sig.starts_with(expected.as_bytes()) {
        return Err(BlockReject::BadCoinbaseHeight);
    }
    check_witness_commitment(block)
}

/// The scriptSig prefix BIP 34 requires: the height pushed as a script number (OP_1..OP_16 for
/// small heights, as Core's `CScript() << height`).
pub fn bip34_prefix(height: u32) -> ScriptBuf {
    bitcoin::script::Builder::new()
        .push_int(i64::from(height))
        .into_script()
}

/// Position of the witness commitment output in the coinbase (the last matching output).
pub fn witness_commitment_index(coinbase: &Transaction) -> Option<usize> {
    coinbase.output.iter().rposition(|o| {
        let s = o.script_pubkey.as_bytes();
        s.len() >= 38 && s.starts_with(&WITNESS_COMMITMENT_HEADER)
    })
}

/// Bitcoin Core's witness malleation check: with a commitment, the coinbase witness must be one
/// 32-byte reserved value and the commitment must match; without one, no transaction may carry
/// witness data.
pub fn check_witness_commitment(block: &Block) -> Result<(), BlockReject> {
    let coinbase = block.txdata.first().ok_or(BlockReject::NoCoinbase)?;
    match witness_commitment_index(coinbase) {
        Some(pos) => {
            let witness = coinbase.input.first().map(|i| &i.witness);
            let reserved = match witness {
                Some(w) if w.len() == 1 => w.nth(0).filter(|r| r.len() == 32),
                _ => None,
            };
            let reserved = reserved.ok_or(BlockReject::BadWitnessNonceSize)?;
            let root = block
                .witness_root()
                .ok_or(BlockReject::BadWitnessMerkleMatch)?;
            let commitment = Block::compute_witness_commitment(&root, reserved);
            let script = coinbase
                .output
                .get(pos)
                .map(|o| o.script_pubkey.as_bytes())
                .unwrap_or_default();
            if script.get(6..38) != Some(commitment.as_byte_array().as_slice()) {
                return Err(BlockReject::BadWitnessMerkleMatch);
            }
            Ok(())
        }
        None => {
            if block
                .txdata
                .iter()
                .any(|t| t.input.iter().any(|i| !i.witness.is_empty()))
            {
                return Err(BlockReject::UnexpectedWitness);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::blockdata::constants::genesis_block;
    use bitcoin::{Network, OutPoint, Sequence, TxIn, Witness};

    #[test]
    fn subsidy_halves_every_150_blocks() {
        assert_eq!(block_subsidy(0), Amount::from_btc(50.0).unwrap());
        assert_eq!(block_subsidy(149), Amount::from_btc(50.0).unwrap());
        assert_eq!(block_subsidy(150), Amount::from_btc(25.0).unwrap());
        assert_eq!(block_subsidy(300), Amount::from_btc(12.5).unwrap());
        assert_eq!(block_subsidy(150 * 64), Amount::ZERO);
        assert_eq!(block_subsidy(u32::MAX), Amount::ZERO);
    }

    #[test]
    fn genesis_passes_context_free_checks() {
        let g = genesis_block(Network::Regtest);
        assert_eq!(g.header.bits, regtest_bits());
        check_block(&g).unwrap();
    }

    #[test]
    fn bip34_small_heights_use_op_n() {
        assert_eq!(bip34_prefix(1).as_bytes(), &[0x51]);
        assert_eq!(bip34_prefix(16).as_bytes(), &[0x60]);
        assert_eq!(bip34_prefix(17).as_bytes(), &[0x01, 17]);
        assert_eq!(bip34_prefix(200).as_bytes(), &[0x02, 200, 0]);
    }

    fn spend(prevs: &[OutPoint], values: &[u64]) -> Transaction {
        Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: prevs
                .iter()
                .map(|p| TxIn {
                    previous_output: *p,
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::MAX,
                    witness: Witness::new(),
                })
                .collect(),
            output: values
                .iter()
                .map(|v| TxOut {
                    value: Amount::from_sat(*v),
                    script_pubkey: ScriptBuf::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn context_free_transaction_rules() {
        let op = OutPoint {
            txid: Txid::all_zeros(),
            vout: 1,
        };
        assert_eq!(
            check_transaction(&spend(&[], &[1])),
            Err(TxReject::NoInputs)
        );
        assert_eq!(
            check_transaction(&spend(&[op], &[])),
            Err(TxReject::NoOutputs)
        );
        assert_eq!(
            check_transaction(&spend(&[op, op], &[1])),
            Err(TxReject::DuplicateInputs)
        );
        assert_eq!(
            check_transaction(&spend(&[op], &[MAX_MONEY.to_sat() + 1])),
            Err(TxReject::OutputTooLarge)
        );
        assert_eq!(
            check_transaction(&spend(&[op], &[MAX_MONEY.to_sat(), 1])),
            Err(TxReject::OutputTotalTooLarge)
        );
        let null = OutPoint::null();
        let other = OutPoint {
            txid: Txid::all_zeros(),
            vout: 0,
        };
        assert_eq!(
            check_transaction(&spend(&[other, null], &[1])),
            Err(TxReject::NullPrevout)
        );
        // A coinbase needs a 2..=100 byte scriptSig.
        assert_eq!(
            check_transaction(&spend(&[null], &[1])),
            Err(TxReject::BadCoinbaseLength)
        );
        check_transaction(&spend(&[op], &[1])).unwrap();
    }

    #[test]
    fn input_checks() {
        let coin = |v: u64, cb: bool| Coin {
            output: TxOut {
                value: Amount::from_sat(v),
                script_pubkey: ScriptBuf::new(),
            },
            height: 10,
            is_coinbase: cb,
        };
        let tx = spend(&[OutPoint::null()], &[60]);
        assert_eq!(
            check_tx_inputs(&tx, &[coin(100, false)], 11),
            Ok(Amount::from_sat(40))
        );
        assert_eq!(
            check_tx_inputs(&tx, &[coin(50, false)], 11),
            Err(TxReject::InBelowOut {
                value_in: Amount::from_sat(50),
                value_out: Amount::from_sat(60)
            })
        );
        assert_eq!(
            check_tx_inputs(&tx, &[coin(100, true)], 109),
            Err(TxReject::PrematureCoinbaseSpend { depth: 99 })
        );
        assert!(check_tx_inputs(&tx, &[coin(100, true)], 110).is_ok());
    }
}
