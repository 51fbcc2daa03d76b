//! The values the on-chain wallet hands out: balances, coins, addresses and
//! signed transactions. They are plain data, independent of bdk's types.

use bdk_wallet::chain::{ChainPosition, ConfirmationBlockTime};
use bdk_wallet::{KeychainKind, LocalOutput};
use bitcoin::{Address, BlockHash, OutPoint, ScriptBuf, Transaction};
use fulmen_types::Sat;

/// A block of the wallet's chain: its height and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockRef {
    /// Height of the block.
    pub height: u32,
    /// Hash of the block header.
    pub hash: BlockHash,
}

/// The wallet's balance, split by how safe each part is to spend.
///
/// Every coin of the wallet is in exactly one of the four parts. Amounts come
/// from bdk's canonical view of the wallet's transactions at the wallet's tip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    /// Confirmed and spendable now (coinbase outputs only once mature).
    pub confirmed: Sat,
    /// Unconfirmed outputs of transactions this wallet made (change): they
    /// cannot be double-spent by anyone else.
    pub trusted_pending: Sat,
    /// Unconfirmed outputs paid by others: the payer can still double-spend.
    pub untrusted_pending: Sat,
    /// Coinbase outputs with fewer than 100 confirmations (the coinbase block
    /// counts as the first): not yet spendable by consensus.
    pub immature: Sat,
}

impl Balance {
    /// Unconfirmed: trusted plus untrusted pending.
    ///
    /// Saturates rather than overflows; real balances are below 21 million
    /// bitcoin, far from `u64::MAX` satoshis.
    pub fn unconfirmed(&self) -> Sat {
        self.trusted_pending.saturating_add(self.untrusted_pending)
    }

    /// What can be spent without trusting anyone: confirmed plus trusted pending.
    pub fn spendable(&self) -> Sat {
        self.confirmed.saturating_add(self.trusted_pending)
    }

    /// Everything: confirmed, unconfirmed and immature.
    pub fn total(&self) -> Sat {
        self.spendable()
            .saturating_add(self.untrusted_pending)
            .saturating_add(self.immature)
    }
}

impl From<bdk_wallet::Balance> for Balance {
    fn from(b: bdk_wallet::Balance) -> Self {
        Self {
            confirmed: b.confirmed.into(),
            trusted_pending: b.trusted_pending.into(),
            untrusted_pending: b.untrusted_pending.into(),
            immature: b.immature.into(),
        }
    }
}

/// Which branch of the BIP84 account a script belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Keychain {
    /// `m/84'/coin'/0'/0/*`: addresses handed out to payers.
    Receive,
    /// `m/84'/coin'/0'/1/*`: change of the wallet's own transactions.
    Change,
}

impl From<KeychainKind> for Keychain {
    fn from(k: KeychainKind) -> Self {
        match k {
            KeychainKind::External => Self::Receive,
            KeychainKind::Internal => Self::Change,
        }
    }
}

impl From<Keychain> for KeychainKind {
    fn from(k: Keychain) -> Self {
        match k {
            Keychain::Receive => Self::External,
            Keychain::Change => Self::Internal,
        }
    }
}

/// A wallet address with its derivation index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletAddress {
    /// Branch of the account.
    pub keychain: Keychain,
    /// Index `n` in `m/84'/coin'/0'/branch/n`.
    pub index: u32,
    /// The P2WPKH address.
    pub address: Address,
}

/// Where an unspent output stands in the wallet's view of the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UtxoStatus {
    /// Confirmed in the wallet's best chain.
    Confirmed {
        /// The block that confirms it (when only a descendant's confirmation
        /// is known, a block at or above the real one).
        block: BlockRef,
    },
    /// Not confirmed; `last_seen` is the latest `seen_at` it was applied with.
    Unconfirmed {
        /// When it was last seen in the mempool, as given by the caller.
        last_seen: Option<u64>,
    },
}

/// An unspent output the wallet can sign for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Utxo {
    /// The output.
    pub outpoint: OutPoint,
    /// Its value.
    pub amount: Sat,
    /// Its script (P2WPKH of one of the wallet's keys).
    pub script_pubkey: ScriptBuf,
    /// Receive or change branch.
    pub keychain: Keychain,
    /// Index of its key within the branch.
    pub derivation_index: u32,
    /// Confirmation status.
    pub status: UtxoStatus,
}

impl From<LocalOutput> for Utxo {
    fn from(o: LocalOutput) -> Self {
        Self {
            outpoint: o.outpoint,
            amount: o.txout.value.into(),
            script_pubkey: o.txout.script_pubkey,
            keychain: o.keychain.into(),
            derivation_index: o.derivation_index,
            status: status_of(&o.chain_position),
        }
    }
}

pub(crate) fn status_of(position: &ChainPosition<ConfirmationBlockTime>) -> UtxoStatus {
    match position {
        ChainPosition::Confirmed { anchor, .. } => UtxoStatus::Confirmed {
            block: BlockRef {
                height: anchor.block_id.height,
                hash: anchor.block_id.hash,
            },
        },
        ChainPosition::Unconfirmed { last_seen, .. } => UtxoStatus::Unconfirmed {
            last_seen: *last_seen,
        },
    }
}

/// Which coins a transaction may spend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoinPolicy {
    /// Only coins confirmed in the wallet's best chain.
    ConfirmedOnly,
    /// Unconfirmed coins too (the new transaction is then a child of their
    /// parents, and can be bumped with CPFP).
    AllowUnconfirmed,
}

/// A signed transaction the wallet built, ready to broadcast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTx {
    /// The transaction, every input signed and finalized.
    pub tx: Transaction,
    /// Its fee.
    pub fee: Sat,
}

/// A signed transaction paying a given script, e.g. a channel funding
/// transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedPayment {
    /// The transaction, every input signed and finalized.
    pub tx: Transaction,
    /// Index of the output paying the requested script and amount (the
    /// funding output index of BOLT 2 `funding_created`).
    pub output_index: u32,
    /// Its fee.
    pub fee: Sat,
}

/// An unconfirmed parent a child lifts (CPFP): what it weighs and pays,
/// and the feerate parent and child must reach together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package {
    /// The parent's weight.
    pub parent_weight: bitcoin::Weight,
    /// The parent's fee.
    pub parent_fee: bitcoin::Amount,
    /// The package's target feerate.
    pub target: bitcoin::FeeRate,
}
