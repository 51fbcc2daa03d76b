//! Mempool acceptance (Bitcoin Core's `AcceptToMemoryPool`): consensus rules against the chain
//! the transaction would enter (the next block), policy rules, the package rule that a child may
//! spend outputs of mempool parents, and full-RBF replacement of conflicting transactions
//! (`replace`).

use bitcoin::{Amount, Transaction, TxOut, Txid, Wtxid};

use super::chain::ChainState;
use super::locks::{is_final_tx, sequence_locks, sequence_locks_satisfied};
use super::mempool::MempoolEntry;
use super::policy::{check_script_policy, check_standard_inputs, check_standard_tx, min_fee};
use super::validate::{check_transaction, check_tx_inputs, verify_scripts, CONSENSUS_FLAGS};
use crate::error::TxReject;

/// Most unconfirmed ancestors a mempool transaction may have (Core's default 25 including
/// itself).
pub const MAX_ANCESTORS: usize = 24;

/// What the mempool accepted (or would accept, for a dry run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedTx {
    /// Its txid.
    pub txid: Txid,
    /// Its wtxid.
    pub wtxid: Wtxid,
    /// Its virtual size.
    pub vsize: u64,
    /// Its fee.
    pub fee: Amount,
}

impl ChainState {
    /// Validates `tx` for the mempool and, unless `dry_run`, adds it.
    pub(crate) fn accept_to_mempool(
        &mut self,
        tx: &Transaction,
        dry_run: bool,
    ) -> Result<AcceptedTx, TxReject> {
        let (entry, evicted) = self.check_for_mempool(tx)?;
        let accepted = AcceptedTx {
            txid: entry.txid,
            wtxid: entry.wtxid,
            vsize: entry.vsize,
            fee: entry.fee,
        };
        if !dry_run {
            for t in &evicted {
                self.mempool.remove_with_descendants(t);
            }
            self.mempool.insert(entry);
        }
        Ok(accepted)
    }

    /// The entry for `tx`, and the mempool transactions it replaces.
    fn check_for_mempool(&self, tx: &Transaction) -> Result<(MempoolEntry, Vec<Txid>), TxReject> {
        check_transaction(tx)?;
        if tx.is_coinbase() {
            return Err(TxReject::Coinbase);
        }
        check_standard_tx(tx)?;
        let next_height = self.tip_height().saturating_add(1);
        let tip_mtp = self.mtp_at(self.tip_height());
        if !is_final_tx(tx, next_height, tip_mtp) {
            return Err(TxReject::NonFinal);
        }
        let txid = tx.compute_txid();
        let wtxid = tx.compute_wtxid();
        if let Some(existing) = self.mempool.get(&txid) {
            return Err(if existing.wtxid == wtxid {
                TxReject::AlreadyInMempool
            } else {
                TxReject::SameNonWitnessDataInMempool
            });
        }
        if self.tx_index.contains_key(&txid) {
            return Err(TxReject::AlreadyInChain);
        }
        let conflicts = self.direct_conflicts(tx);
        let mut coins = Vec::with_capacity(tx.input.len());
        let mut parents: Vec<Txid> = Vec::new();
        for input in &tx.input {
            let (coin, parent) =
                self.coin_for_mempool(&input.previous_output)
                    .ok_or(TxReject::MissingInputs {
                        outpoint: input.previous_output,
                    })?;
            if let Some(p) = parent {
                if !parents.contains(&p) {
                    parents.push(p);
                }
            }
            coins.push(coin);
        }
        let heights: Vec<u32> = coins.iter().map(|c| c.height).collect();
        let lock =
            sequence_locks(tx, &heights, |h| self.mtp_at(h)).ok_or(TxReject::NonBip68Final)?;
        if !sequence_locks_satisfied(lock, next_height, tip_mtp) {
            return Err(TxReject::NonBip68Final);
        }
        let fee = check_tx_inputs(tx, &coins, next_height)?;
        check_standard_inputs(tx, &coins)?;
        let vsize = tx.vsize() as u64;
        let min = min_fee(vsize, self.config.min_relay_fee_sat_per_kvb);
        if fee < min {
            return Err(TxReject::MinRelayFee { fee, min_fee: min });
        }
        let evicted = if conflicts.is_empty() {
            Vec::new()
        } else {
            self.check_replacement(&conflicts, &parents, fee, vsize)?
        };
        let ancestors = self.mempool.ancestor_count(&parents);
        if ancestors > MAX_ANCESTORS {
            return Err(TxReject::TooLongMempoolChain { ancestors });
        }
        let spent: Vec<&TxOut> = coins.iter().map(|c| &c.output).collect();
        verify_scripts(tx, &spent, CONSENSUS_FLAGS)?;
        check_script_policy(tx, &coins)?;
        let entry = MempoolEntry {
            tx: tx.clone(),
            txid,
            wtxid,
            fee,
            vsize,
            weight: tx.weight().to_wu(),
            parents,
            sequence: 0,
        };
        Ok((entry, evicted))
    }
}
