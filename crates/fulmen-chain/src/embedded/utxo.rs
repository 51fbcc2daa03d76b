//! The set of unspent transaction outputs of the active chain, with undo data to disconnect
//! blocks.

use std::collections::HashMap;

use bitcoin::{OutPoint, Transaction, TxOut};

/// An unspent output and where it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coin {
    /// The output.
    pub output: TxOut,
    /// Height of the creating block.
    pub height: u32,
    /// Whether the creating transaction is a coinbase.
    pub is_coinbase: bool,
}

/// What a connected block changed, to undo it: the coins it spent, in spending order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockUndo {
    /// Spent coins in the order they were spent.
    pub spent: Vec<(OutPoint, Coin)>,
}

/// The UTXO set.
#[derive(Debug, Clone, Default)]
pub struct UtxoSet {
    coins: HashMap<OutPoint, Coin>,
}

impl UtxoSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The coin at `outpoint`, if unspent.
    pub fn get(&self, outpoint: &OutPoint) -> Option<&Coin> {
        self.coins.get(outpoint)
    }

    /// Whether `outpoint` is unspent.
    pub fn contains(&self, outpoint: &OutPoint) -> bool {
        self.coins.contains_key(outpoint)
    }

    /// Number of unspent outputs.
    pub fn len(&self) -> usize {
        self.coins.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.coins.is_empty()
    }

    /// Removes and returns the coin at `outpoint`.
    pub fn spend(&mut self, outpoint: &OutPoint) -> Option<Coin> {
        self.coins.remove(outpoint)
    }

    /// Inserts a coin; returns false (and changes nothing) if the outpoint is already unspent.
    pub fn insert(&mut self, outpoint: OutPoint, coin: Coin) -> bool {
        match self.coins.entry(outpoint) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(coin);
                true
            }
        }
    }

    /// Adds the outputs of `tx` (provably unspendable OP_RETURN outputs are skipped, as in Core).
    /// Returns false if one of them already existed (a BIP 30 violation); outputs added before
    /// the clash stay added, the caller rolls back.
    pub fn add_outputs(&mut self, tx: &Transaction, height: u32) -> bool {
        let txid = tx.compute_txid();
        self.add_outputs_with_txid(tx, txid, height)
    }

    /// [`UtxoSet::add_outputs`] with a precomputed txid.
    pub fn add_outputs_with_txid(
        &mut self,
        tx: &Transaction,
        txid: bitcoin::Txid,
        height: u32,
    ) -> bool {
        let is_coinbase = tx.is_coinbase();
        for (vout, output) in tx.output.iter().enumerate() {
            if output.script_pubkey.is_op_return() {
                continue;
            }
            let Ok(vout) = u32::try_from(vout) else {
                return false;
            };
            let coin = Coin {
                output: output.clone(),
                height,
                is_coinbase,
            };
            if !self.insert(OutPoint { txid, vout }, coin) {
                return false;
            }
        }
        true
    }

    /// Removes the outputs of `tx` (used when disconnecting it).
    pub fn remove_outputs(&mut self, tx: &Transaction, txid: bitcoin::Txid) {
        for vout in 0..tx.output.len() {
            if let Ok(vout) = u32::try_from(vout) {
                self.coins.remove(&OutPoint { txid, vout });
            }
        }
    }

    /// Puts back coins recorded in `undo` (in reverse spending order).
    pub fn restore(&mut self, undo: &BlockUndo) {
        for (outpoint, coin) in undo.spent.iter().rev() {
            self.coins.insert(*outpoint, coin.clone());
        }
    }

    /// Iterates over all unspent outputs (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&OutPoint, &Coin)> {
        self.coins.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::{absolute::LockTime, transaction::Version, Amount, ScriptBuf, TxIn};

    #[test]
    fn add_spend_restore() {
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn::default()],
            output: vec![
                TxOut {
                    value: Amount::from_sat(5),
                    script_pubkey: ScriptBuf::new(),
                },
                TxOut {
                    value: Amount::ZERO,
                    script_pubkey: ScriptBuf::new_op_return([1u8]),
                },
            ],
        };
        let txid = tx.compute_txid();
        let mut set = UtxoSet::new();
        assert!(set.add_outputs(&tx, 7));
        assert_eq!(set.len(), 1, "op_return outputs are not coins");
        assert!(!set.add_outputs(&tx, 7), "bip30 clash detected");
        let op = OutPoint { txid, vout: 0 };
        let coin = set.spend(&op).unwrap();
        assert_eq!(coin.height, 7);
        assert!(set.is_empty());
        set.restore(&BlockUndo {
            spent: vec![(op, coin)],
        });
        assert!(set.contains(&op));
        set.remove_outputs(&tx, txid);
        assert!(set.is_empty());
    }
}
