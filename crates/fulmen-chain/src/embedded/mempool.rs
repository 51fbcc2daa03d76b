//! The mempool as a data structure: validated transactions waiting for a block, indexed by txid
//! and by the outpoints they spend. Validation lives in the chain state; this module only keeps
//! the entries and their parent/child links consistent.

use std::collections::{HashMap, HashSet};

use bitcoin::{Amount, OutPoint, Transaction, TxOut, Txid, Wtxid};

/// A transaction in the mempool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MempoolEntry {
    /// The transaction.
    pub tx: Transaction,
    /// Its txid.
    pub txid: Txid,
    /// Its wtxid.
    pub wtxid: Wtxid,
    /// Its fee.
    pub fee: Amount,
    /// Its virtual size in vbytes.
    pub vsize: u64,
    /// Its weight in weight units.
    pub weight: u64,
    /// Mempool transactions it spends outputs of.
    pub parents: Vec<Txid>,
    /// Arrival order (lower is older).
    pub sequence: u64,
}

/// The mempool.
#[derive(Debug, Clone, Default)]
pub struct Mempool {
    entries: HashMap<Txid, MempoolEntry>,
    spends: HashMap<OutPoint, Txid>,
    next_sequence: u64,
}

impl Mempool {
    /// An empty mempool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the mempool is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for `txid`.
    pub fn get(&self, txid: &Txid) -> Option<&MempoolEntry> {
        self.entries.get(txid)
    }

    /// The mempool transaction spending `outpoint`.
    pub fn spender(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.spends.get(outpoint).copied()
    }

    /// The output at `outpoint` if a mempool transaction creates it.
    pub fn output(&self, outpoint: &OutPoint) -> Option<&TxOut> {
        let entry = self.entries.get(&outpoint.txid)?;
        entry.tx.output.get(usize::try_from(outpoint.vout).ok()?)
    }

    /// Adds an entry (validated by the caller), assigning its arrival order.
    pub fn insert(&mut self, mut entry: MempoolEntry) {
        entry.sequence = self.next_sequence;
        self.next_sequence = self.next_sequence.saturating_add(1);
        for input in &entry.tx.input {
            self.spends.insert(input.previous_output, entry.txid);
        }
        self.entries.insert(entry.txid, entry);
    }

    /// Removes one entry (its children, if any, keep pointing at it as a parent: use this only
    /// when the transaction was confirmed, so its outputs are now in the UTXO set).
    pub fn remove_confirmed(&mut self, txid: &Txid) -> Option<MempoolEntry> {
        let entry = self.entries.remove(txid)?;
        for input in &entry.tx.input {
            if self.spends.get(&input.previous_output) == Some(txid) {
                self.spends.remove(&input.previous_output);
            }
        }
        for child in self.children(txid) {
            if let Some(c) = self.entries.get_mut(&child) {
                c.parents.retain(|p| p != txid);
            }
        }
        Some(entry)
    }

    /// Mempool transactions spending outputs of `txid`.
    pub fn children(&self, txid: &Txid) -> Vec<Txid> {
        let Some(entry) = self.entries.get(txid) else {
            return vec![];
        };
        let mut out = Vec::new();
        for vout in 0..entry.tx.output.len() {
            let Ok(vout) = u32::try_from(vout) else { break };
            if let Some(child) = self.spends.get(&OutPoint { txid: *txid, vout }) {
                if !out.contains(child) {
                    out.push(*child);
                }
            }
        }
        out
    }

    /// `txids` and every mempool transaction spending their outputs, transitively (each once).
    pub fn with_descendants(&self, txids: &[Txid]) -> Vec<Txid> {
        let mut todo: Vec<Txid> = txids.to_vec();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        while let Some(t) = todo.pop() {
            if seen.insert(t) && self.entries.contains_key(&t) {
                todo.extend(self.children(&t));
                out.push(t);
            }
        }
        out
    }

    /// Removes `txid` and everything that spends its outputs, transitively. Returns the removed
    /// entries.
    pub fn remove_with_descendants(&mut self, txid: &Txid) -> Vec<MempoolEntry> {
        let mut todo = vec![*txid];
        let mut seen = HashSet::new();
        let mut removed = Vec::new();
        while let Some(t) = todo.pop() {
            if !seen.insert(t) {
                continue;
            }
            todo.extend(self.children(&t));
            if let Some(e) = self.remove_confirmed(&t) {
                removed.push(e);
            }
        }
        removed
    }

    /// Number of in-mempool ancestors of a transaction with these parents.
    pub fn ancestor_count(&self, parents: &[Txid]) -> usize {
        self.ancestors(parents).len()
    }

    /// `parents` and all their in-mempool ancestors.
    pub fn ancestors(&self, parents: &[Txid]) -> HashSet<Txid> {
        let mut seen: HashSet<Txid> = HashSet::new();
        let mut todo: Vec<Txid> = parents.to_vec();
        while let Some(t) = todo.pop() {
            if seen.insert(t) {
                if let Some(e) = self.entries.get(&t) {
                    todo.extend(e.parents.iter().copied());
                }
            }
        }
        seen
    }

    /// All entries, parents before children, otherwise oldest first: the order to mine them in
    /// and to re-validate them in.
    pub fn ordered(&self) -> Vec<&MempoolEntry> {
        let mut by_age: Vec<&MempoolEntry> = self.entries.values().collect();
        by_age.sort_by_key(|e| e.sequence);
        let mut placed: HashSet<Txid> = HashSet::with_capacity(by_age.len());
        let mut out = Vec::with_capacity(by_age.len());
        // Each pass places every entry whose parents are placed; parents always exist in the
        // pool, so every pass places at least one entry until all are placed.
        while out.len() < by_age.len() {
            let before = out.len();
            for e in &by_age {
                if !placed.contains(&e.txid) && e.parents.iter().all(|p| placed.contains(p)) {
                    placed.insert(e.txid);
                    out.push(*e);
                }
            }
            if out.len() == before {
                break; // cannot happen with consistent links; never loop forever
            }
        }
        out
    }

    /// Removes and returns all transactions, parents first.
    pub fn drain(&mut self) -> Vec<Transaction> {
        let txs = self.ordered().into_iter().map(|e| e.tx.clone()).collect();
        self.entries.clear();
        self.spends.clear();
        txs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;
    use bitcoin::{absolute::LockTime, transaction::Version, ScriptBuf, Sequence, TxIn, Witness};

    fn tx(prev: OutPoint, tag: u64) -> Transaction {
        Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: prev,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(tag),
                script_pubkey: ScriptBuf::new(),
            }],
        }
    }

    fn entry(t: Transaction, parents: Vec<Txid>) -> MempoolEntry {
        MempoolEntry {
            txid: t.compute_txid(),
            wtxid: t.compute_wtxid(),
            tx: t,
            fee: Amount::ZERO,
            vsize: 0,
            weight: 0,
            parents,
            sequence: 0,
        }
    }

    #[test]
    fn chains_and_removal() {
        let mut pool = Mempool::new();
        let a = tx(
            OutPoint {
                txid: Txid::all_zeros(),
                vout: 0,
            },
            1,
        );
        let a_id = a.compute_txid();
        let b = tx(
            OutPoint {
                txid: a_id,
                vout: 0,
            },
            2,
        );
        let b_id = b.compute_txid();
        let c = tx(
            OutPoint {
                txid: b_id,
                vout: 0,
            },
            3,
        );
        // Insert child first to check ordering follows links, not arrival.
        pool.insert(entry(c.clone(), vec![b_id]));
        pool.insert(entry(b.clone(), vec![a_id]));
        pool.insert(entry(a.clone(), vec![]));
        let order: Vec<Txid> = pool.ordered().iter().map(|e| e.txid).collect();
        assert_eq!(order, vec![a_id, b_id, c.compute_txid()]);
        assert_eq!(pool.ancestor_count(&[b_id]), 2);
        assert_eq!(
            pool.spender(&OutPoint {
                txid: a_id,
                vout: 0
            }),
            Some(b_id)
        );
        assert!(pool
            .output(&OutPoint {
                txid: b_id,
                vout: 0
            })
            .is_some());
        let removed = pool.remove_with_descendants(&b_id);
        assert_eq!(removed.len(), 2);
        assert_eq!(pool.len(), 1);
        assert!(pool.remove_confirmed(&a_id).is_some());
        assert!(pool.is_empty());
        assert!(pool.drain().is_empty());
    }
}
