//! [`OnchainWallet`]: opening, feeding with blocks and mempool transactions,
//! addresses, balance and coins. Spending lives in `spend.rs`.

use super::descriptor::AccountKey;
use super::error::OnchainError;
use super::types::{Balance, BlockRef, Keychain, Utxo, WalletAddress};
use crate::keys::KeyTree;
use bdk_wallet::chain::local_chain::ApplyHeaderError;
use bdk_wallet::chain::BlockId;
use bdk_wallet::rusqlite::Connection;
use bdk_wallet::{
    ChangeSet, CreateWithPersistError, KeychainKind, LoadWithPersistError, PersistedWallet, Wallet,
    WalletPersister,
};
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Amount, Block, Network, NetworkKind, ScriptBuf, Transaction, Txid};
use core::fmt;
use std::path::Path;
use std::sync::Arc;

/// Heights at or above this are timestamps in `nLockTime`; bdk sets the
/// locktime of new transactions to the tip height, so no tip may reach it.
const LOCKTIME_THRESHOLD: u32 = 500_000_000;

/// The node's on-chain BIP84 (P2WPKH) wallet, persisted in SQLite.
///
/// Built on `bdk_wallet`: its local chain is fed block by block by the node's
/// chain source ([`apply_block`](Self::apply_block)), its mempool view by
/// [`apply_unconfirmed`](Self::apply_unconfirmed). Every mutating call
/// commits its changes to the database (one SQLite transaction, synchronous
/// `FULL`) before it returns `Ok`: a returned call is durable.
///
/// `Debug` prints the network and tip only.
pub struct OnchainWallet {
    pub(super) wallet: PersistedWallet<Connection>,
    pub(super) db: Connection,
    account: AccountKey,
    network: Network,
}

impl OnchainWallet {
    /// Opens the wallet stored at `path`, creating the database and the
    /// wallet if the file is new.
    ///
    /// The database stores public descriptors and chain data only, never a
    /// private key: the keys come from `tree` each time. Opening a database
    /// made from another seed, network or genesis fails with
    /// [`OnchainError::Load`] and leaves the file untouched.
    pub fn open(
        tree: &KeyTree,
        network: Network,
        path: impl AsRef<Path>,
    ) -> Result<Self, OnchainError> {
        let db = Connection::open(path)?;
        Self::with_connection(tree, network, db)
    }

    /// A wallet in an in-memory SQLite database (for tests): same code path
    /// as [`open`](Self::open), gone when dropped.
    pub fn in_memory(tree: &KeyTree, network: Network) -> Result<Self, OnchainError> {
        let db = Connection::open_in_memory()?;
        Self::with_connection(tree, network, db)
    }

    fn with_connection(
        tree: &KeyTree,
        network: Network,
        mut db: Connection,
    ) -> Result<Self, OnchainError> {
        if NetworkKind::from(network) != tree.network() {
            return Err(OnchainError::NetworkMismatch {
                tree: tree.network(),
                wallet: network,
            });
        }
        // Durable commits: fsync at every transaction commit (SQLite's
        // default for rollback journals, stated here so it cannot drift).
        db.pragma_update(None, "synchronous", "FULL")?;
        let secp = Secp256k1::new();
        let account = AccountKey::from_tree(&secp, tree)?;
        let wallet = match load(&secp, &account, network, &mut db)? {
            Some(wallet) => wallet,
            None => {
                let (receive, receive_keys) = account.descriptor(&secp, KeychainKind::External)?;
                let (change, change_keys) = account.descriptor(&secp, KeychainKind::Internal)?;
                Wallet::create((receive, receive_keys), (change, change_keys))
                    .network(network)
                    .create_wallet(&mut db)
                    .map_err(|e| match e {
                        CreateWithPersistError::Persist(e) => OnchainError::Database(e),
                        CreateWithPersistError::Descriptor(e) => {
                            OnchainError::Descriptor(Box::new(e))
                        }
                        // `load` found nothing, so this is a race with
                        // another writer: refuse rather than overwrite.
                        CreateWithPersistError::DataAlreadyExists(_) => {
                            OnchainError::DatabaseChanged
                        }
                    })?
            }
        };
        Ok(Self {
            wallet,
            db,
            account,
            network,
        })
    }

    /// The network the wallet is on.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The wallet's chain tip (the genesis block until a block is applied).
    pub fn tip(&self) -> BlockRef {
        let tip = self.wallet.latest_checkpoint();
        BlockRef {
            height: tip.height(),
            hash: tip.hash(),
        }
    }

    /// The block hash the wallet has at `height`, if it has one.
    pub fn block_hash_at(&self, height: u32) -> Option<bitcoin::BlockHash> {
        self.wallet.local_chain().get(height).map(|cp| cp.hash())
    }

    // ---------------------------------------------------------------- chain

    /// Applies the block at `height`, connecting it to its parent
    /// (`height - 1`, `block.header.prev_blockhash`), which must be in the
    /// wallet's chain.
    ///
    /// Blocks are applied in order. Applying a block at a height the wallet
    /// already has with another hash is a reorg: bdk replaces that block and
    /// drops every block above it, so the transactions they confirmed are
    /// unconfirmed again (bdk keeps them, as they may be mined again, until
    /// a conflicting transaction replaces them). To switch to a fork, feed the
    /// new chain from the first block after the fork point; or first call
    /// [`disconnect_to`](Self::disconnect_to) with the fork height, as a
    /// chain source that reports disconnections does. Re-applying a block
    /// already in the chain changes nothing.
    pub fn apply_block(&mut self, block: &Block, height: u32) -> Result<(), OnchainError> {
        let connected_to = match height.checked_sub(1) {
            Some(parent) => BlockRef {
                height: parent,
                hash: block.header.prev_blockhash,
            },
            None => BlockRef {
                height,
                hash: block.block_hash(),
            },
        };
        self.apply_block_connected_to(block, height, connected_to)
    }

    /// Applies the block at `height`, connecting it to `connected_to`, a
    /// block of the wallet's chain that the caller knows to be an ancestor.
    ///
    /// For a fresh wallet that starts at a birthday instead of genesis: the
    /// first block is connected to the genesis block (or any checkpoint the
    /// wallet has), later ones with [`apply_block`](Self::apply_block).
    pub fn apply_block_connected_to(
        &mut self,
        block: &Block,
        height: u32,
        connected_to: BlockRef,
    ) -> Result<(), OnchainError> {
        if height >= LOCKTIME_THRESHOLD {
            return Err(OnchainError::HeightOutOfRange { height });
        }
        for tx in &block.txdata {
            check_amounts(tx)?;
        }
        let connected_to = BlockId {
            height: connected_to.height,
            hash: connected_to.hash,
        };
        self.wallet
            .apply_block_connected_to(block, height, connected_to)
            .map_err(|e| match e {
                ApplyHeaderError::InconsistentBlocks => {
                    OnchainError::InconsistentConnection { height }
                }
                ApplyHeaderError::CannotConnect(e) => OnchainError::BlockDoesNotConnect {
                    height,
                    try_include_height: e.try_include_height,
                },
            })?;
        self.persist()
    }

    /// Forgets every block above `height` (the fork point of a reorg): the
    /// transactions they confirmed are unconfirmed again. Then feed the
    /// new chain's blocks from `height + 1`.
    ///
    /// bdk's wallet has no in-place disconnect, so this commits the removal
    /// of those blocks to the database and reloads the wallet from it (a full
    /// reload: reorgs are rare). `height` at or above the tip changes
    /// nothing; the genesis block (height 0) always stays.
    pub fn disconnect_to(&mut self, height: u32) -> Result<(), OnchainError> {
        self.persist()?;
        let mut changeset = ChangeSet::default();
        for cp in self.wallet.latest_checkpoint().iter() {
            if cp.height() <= height {
                break;
            }
            changeset.local_chain.blocks.insert(cp.height(), None);
        }
        if changeset.local_chain.blocks.is_empty() {
            return Ok(());
        }
        <Connection as WalletPersister>::persist(&mut self.db, &changeset)?;
        let secp = Secp256k1::new();
        self.wallet = load(&secp, &self.account, self.network, &mut self.db)?
            .ok_or(OnchainError::DatabaseChanged)?;
        Ok(())
    }

    /// Applies transactions seen in the mempool at time `seen_at` (the
    /// caller's clock, e.g. UNIX seconds; keep it increasing). Transactions
    /// unrelated to the wallet are ignored. Among conflicting unconfirmed
    /// transactions, the one seen last wins. A coinbase or a transaction
    /// creating more than 21 million bitcoin fails the whole call, applying
    /// nothing.
    ///
    /// The wallet's own transactions are applied this way too, when they are
    /// broadcast (or before, to reserve their inputs; see
    /// [`apply_evicted`](Self::apply_evicted) to release them).
    pub fn apply_unconfirmed(
        &mut self,
        txs: impl IntoIterator<Item = Transaction>,
        seen_at: u64,
    ) -> Result<(), OnchainError> {
        let txs: Vec<Transaction> = txs.into_iter().collect();
        for tx in &txs {
            if tx.is_coinbase() {
                return Err(OnchainError::UnconfirmedCoinbase {
                    txid: tx.compute_txid(),
                });
            }
            check_amounts(tx)?;
        }
        self.wallet
            .apply_unconfirmed_txs(txs.into_iter().map(|tx| (Arc::new(tx), seen_at)));
        self.persist()
    }

    /// Marks unconfirmed transactions as evicted from the mempool at
    /// `evicted_at`: they stop counting (their inputs are spendable again)
    /// unless seen again later or confirmed. Confirmed transactions and
    /// unknown txids are ignored.
    pub fn apply_evicted(
        &mut self,
        txids: impl IntoIterator<Item = Txid>,
        evicted_at: u64,
    ) -> Result<(), OnchainError> {
        self.wallet
            .apply_evicted_txs(txids.into_iter().map(|txid| (txid, evicted_at)));
        self.persist()
    }

    // ------------------------------------------------------------ addresses

    /// Reveals the next receive address and stores that it was revealed, so
    /// it is watched and never handed out twice.
    pub fn new_address(&mut self) -> Result<WalletAddress, OnchainError> {
        let info = self.wallet.reveal_next_address(KeychainKind::External);
        self.persist()?;
        Ok(WalletAddress {
            keychain: Keychain::Receive,
            index: info.index,
            address: info.address,
        })
    }

    /// The address at `index` of `keychain`, without revealing it.
    pub fn peek_address(&self, keychain: Keychain, index: u32) -> WalletAddress {
        let info = self.wallet.peek_address(keychain.into(), index);
        WalletAddress {
            keychain,
            index: info.index,
            address: info.address,
        }
    }

    /// The highest revealed index of `keychain`, if any was revealed.
    pub fn last_revealed_index(&self, keychain: Keychain) -> Option<u32> {
        self.wallet.derivation_index(keychain.into())
    }

    /// Whether `script` is one of the wallet's (revealed or look-ahead) scripts.
    pub fn is_mine(&self, script: &ScriptBuf) -> bool {
        self.wallet.is_mine(script.clone())
    }

    // -------------------------------------------------------------- balance

    /// The balance at the wallet's tip.
    pub fn balance(&self) -> Balance {
        self.wallet.balance().into()
    }

    /// Every unspent output of the wallet, confirmed or not, immature
    /// coinbase outputs included.
    pub fn list_unspent(&self) -> Vec<Utxo> {
        self.wallet.list_unspent().map(Utxo::from).collect()
    }

    /// The transaction `txid` if it is in the wallet's canonical history.
    pub fn get_tx(&self, txid: Txid) -> Option<Transaction> {
        self.wallet.get_tx(txid).map(|tx| (*tx.tx_node.tx).clone())
    }

    // ----------------------------------------------------------- persisting

    /// Commits the staged changes. On error they stay staged and are retried
    /// by the next mutating call.
    pub(super) fn persist(&mut self) -> Result<(), OnchainError> {
        self.wallet.persist(&mut self.db)?;
        Ok(())
    }
}

/// Loads the wallet from `db` if it holds one, checking that it is this
/// account's wallet on `network`.
fn load(
    secp: &Secp256k1<bitcoin::secp256k1::All>,
    account: &AccountKey,
    network: Network,
    db: &mut Connection,
) -> Result<Option<PersistedWallet<Connection>>, OnchainError> {
    let receive = account.descriptor(secp, KeychainKind::External)?;
    let change = account.descriptor(secp, KeychainKind::Internal)?;
    Wallet::load()
        .descriptor(KeychainKind::External, Some(receive))
        .descriptor(KeychainKind::Internal, Some(change))
        .extract_keys()
        .check_network(network)
        .check_genesis_hash(bitcoin::constants::genesis_block(network).block_hash())
        .load_wallet(db)
        .map_err(|e| match e {
            LoadWithPersistError::Persist(e) => OnchainError::Database(e),
            LoadWithPersistError::InvalidChangeSet(e) => OnchainError::Load(Box::new(e)),
        })
}

/// Rejects a transaction whose outputs add up to more than 21 million
/// bitcoin (bdk's balance arithmetic assumes real amounts).
fn check_amounts(tx: &Transaction) -> Result<(), OnchainError> {
    let mut total = Amount::ZERO;
    for out in &tx.output {
        total = total
            .checked_add(out.value)
            .filter(|t| *t <= Amount::MAX_MONEY)
            .ok_or_else(|| OnchainError::InvalidAmount {
                txid: tx.compute_txid(),
            })?;
    }
    Ok(())
}

impl fmt::Debug for OnchainWallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnchainWallet")
            .field("network", &self.network)
            .field("tip", &self.tip())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Mnemonic;

    #[test]
    fn commits_are_synchronous_full() {
        let secp = Secp256k1::new();
        let seed = Mnemonic::from_entropy(&[3; 16]).unwrap().to_seed("");
        let tree = KeyTree::new(&secp, &seed, Network::Regtest).unwrap();
        let wallet = OnchainWallet::in_memory(&tree, Network::Regtest).unwrap();
        let level: i64 = wallet
            .db
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .unwrap();
        assert_eq!(level, 2, "FULL");
    }

    #[test]
    fn amounts_above_max_money_are_refused() {
        let tx = |values: &[u64]| Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![],
            output: values
                .iter()
                .map(|&v| bitcoin::TxOut {
                    value: Amount::from_sat(v),
                    script_pubkey: ScriptBuf::new(),
                })
                .collect(),
        };
        let max = Amount::MAX_MONEY.to_sat();
        assert!(check_amounts(&tx(&[max])).is_ok());
        assert!(check_amounts(&tx(&[max - 1, 1])).is_ok());
        assert!(check_amounts(&tx(&[max, 1])).is_err());
        assert!(check_amounts(&tx(&[max + 1])).is_err());
        assert!(check_amounts(&tx(&[u64::MAX, u64::MAX])).is_err());
    }
}
