//! Replacement: Bitcoin Core's full RBF (the default since Core 28, no BIP 125 signalling
//! needed). A transaction spending an outpoint a mempool transaction already spends replaces
//! that transaction and its descendants when it pays for them, under Core's checks in Core's
//! order:
//!
//! 1. it does not spend an output of a transaction it would evict
//!    (`bad-txns-spends-conflicting-tx`);
//! 2. at most [`MAX_REPLACEMENT_EVICTIONS`] transactions evicted (`too many potential
//!    replacements`);
//! 3. no unconfirmed input that none of the replaced transactions had
//!    (`replacement-adds-unconfirmed`);
//! 4. a feerate above each directly replaced transaction's, a fee at least the sum of every
//!    evicted fee, plus the incremental relay fee (the minimum relay feerate) for its own size
//!    (`insufficient fee`).

use std::collections::HashSet;

use bitcoin::{Amount, Transaction, Txid};

use super::chain::ChainState;
use super::policy::min_fee;
use crate::error::TxReject;

/// Most transactions one replacement may evict (Core's `MAX_REPLACEMENT_CANDIDATES`).
pub const MAX_REPLACEMENT_EVICTIONS: usize = 100;

impl ChainState {
    /// Mempool transactions spending an outpoint `tx` spends.
    pub(crate) fn direct_conflicts(&self, tx: &Transaction) -> Vec<Txid> {
        let mut out: Vec<Txid> = Vec::new();
        for input in &tx.input {
            if let Some(t) = self.mempool.spender(&input.previous_output) {
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        out
    }

    /// Checks a replacement of `conflicts` by a transaction with these mempool `parents`,
    /// `fee` and `vsize`. Returns every transaction it evicts.
    pub(crate) fn check_replacement(
        &self,
        conflicts: &[Txid],
        parents: &[Txid],
        fee: Amount,
        vsize: u64,
    ) -> Result<Vec<Txid>, TxReject> {
        let evicted = self.mempool.with_descendants(conflicts);
        if self
            .mempool
            .ancestors(parents)
            .iter()
            .any(|a| evicted.contains(a))
        {
            return Err(TxReject::SpendsConflictingTx);
        }
        if evicted.len() > MAX_REPLACEMENT_EVICTIONS {
            return Err(TxReject::TooManyReplacements {
                evictions: evicted.len(),
            });
        }
        let old_parents: HashSet<Txid> = conflicts
            .iter()
            .filter_map(|c| self.mempool.get(c))
            .flat_map(|e| e.parents.iter().copied())
            .collect();
        if parents.iter().any(|p| !old_parents.contains(p)) {
            return Err(TxReject::ReplacementAddsUnconfirmed);
        }
        // Rule 6: a feerate above each direct conflict's, i.e. at least the fee that rate
        // gives at our size, plus one satoshi.
        let above_feerates = conflicts
            .iter()
            .filter_map(|c| self.mempool.get(c))
            .map(|e| {
                let at_our_size =
                    u128::from(e.fee.to_sat()) * u128::from(vsize) / u128::from(e.vsize.max(1));
                u64::try_from(at_our_size)
                    .unwrap_or(u64::MAX)
                    .saturating_add(1)
            })
            .max()
            .unwrap_or(0);
        // Rules 3 and 4: pay for everything evicted, and for our own relay.
        let evicted_fees = evicted
            .iter()
            .filter_map(|t| self.mempool.get(t))
            .fold(0u64, |sum, e| sum.saturating_add(e.fee.to_sat()));
        let relay = min_fee(vsize, self.config.min_relay_fee_sat_per_kvb).to_sat();
        let needed = above_feerates.max(evicted_fees.saturating_add(relay));
        if fee.to_sat() < needed {
            return Err(TxReject::InsufficientFee {
                fee,
                min_fee: Amount::from_sat(needed),
            });
        }
        Ok(evicted)
    }
}
