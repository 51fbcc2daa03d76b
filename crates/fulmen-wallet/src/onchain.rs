//! The node's on-chain wallet: BIP84 P2WPKH coins, built on `bdk_wallet` and
//! persisted in SQLite.
//!
//! # Keys and storage
//!
//! The wallet's descriptors are `wpkh([fp/84'/coin'/0']xprv/0/*)` (receive)
//! and `wpkh([fp/84'/coin'/0']xprv/1/*)` (change), from
//! [`KeyTree::bip84_account_xpriv`](crate::keys::KeyTree::bip84_account_xpriv).
//! The SQLite file holds bdk's changesets: the public descriptors, the
//! network, revealed indices, the wallet's chain of block hashes and its
//! relevant transactions; never a private key. Every mutating call commits
//! its changes in one SQLite transaction before it returns `Ok`, so what a
//! call returned survives a crash.
//!
//! # Driving it
//!
//! - Blocks, in order, from the node's chain source:
//!   [`OnchainWallet::apply_block`]. A reorg is applied either by feeding the
//!   new chain from the block after the fork point (bdk replaces the block
//!   at that height and drops all blocks above it), or, for a chain source
//!   that reports disconnected blocks, by [`OnchainWallet::disconnect_to`]
//!   the fork height first. A transaction confirmed only in a dropped block
//!   goes back to unconfirmed (bdk keeps it: it may be mined again) until a
//!   block of the new chain confirms it, or a conflicting transaction
//!   replaces it; a coinbase cannot be mined again and drops out.
//! - Mempool transactions: [`OnchainWallet::apply_unconfirmed`] with the
//!   time they were seen (an argument: the wallet reads no clock), and
//!   [`OnchainWallet::apply_evicted`] when they leave the mempool.
//! - Receiving: [`OnchainWallet::new_address`].
//! - Spending: [`OnchainWallet::build_payment`] (e.g. a channel funding
//!   output, returning the output index), [`OnchainWallet::sweep_all_to`],
//!   [`OnchainWallet::build_cpfp`]. Randomness for coin selection and output
//!   order is an argument too.
//!
//! ```
//! use bitcoin::secp256k1::Secp256k1;
//! use bitcoin::Network;
//! use fulmen_wallet::keys::{KeyTree, Mnemonic};
//! use fulmen_wallet::onchain::OnchainWallet;
//!
//! let secp = Secp256k1::new();
//! let seed = Mnemonic::from_entropy(&[7u8; 16])?.to_seed("");
//! let tree = KeyTree::new(&secp, &seed, Network::Regtest)?;
//! // `OnchainWallet::open(&tree, Network::Regtest, "wallet.sqlite")` on disk.
//! let mut wallet = OnchainWallet::in_memory(&tree, Network::Regtest)?;
//! let address = wallet.new_address()?;
//! println!("pay to {}", address.address);
//! // Feed blocks: wallet.apply_block(&block, height)?;
//! assert_eq!(wallet.balance().total().value(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod descriptor;
mod error;
mod spend;
mod types;
mod wallet;

pub use error::OnchainError;
pub use spend::MAX_FEE_RATE;
pub use types::{
    Balance, BlockRef, CoinPolicy, Keychain, Package, SignedPayment, SignedTx, Utxo, UtxoStatus,
    WalletAddress,
};
pub use wallet::OnchainWallet;
