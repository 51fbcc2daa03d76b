//! Fulmen's wallet crate: the node's key tree and its on-chain wallet.
//!
//! It has two roles:
//!
//! - [`keys`]: the **key tree**. A BIP39 mnemonic (made from entropy the caller
//!   passes in, or parsed from the user's words) gives a 64-byte seed; from it,
//!   by hardened BIP32 derivation, come the node identity key, every channel's
//!   funding key, basepoint secrets and per-commitment seed, and the BIP84
//!   account key of the on-chain wallet. Everything is deterministic, so a node
//!   restored from its mnemonic recomputes every key it ever used.
//! - [`onchain`]: the **on-chain wallet**. BIP84 P2WPKH addresses from
//!   [`keys::KeyTree::bip84_account_xpriv`], balance and coins tracked from
//!   the blocks and mempool transactions the node feeds it, coin selection
//!   and signing for channel funding, sweeping and CPFP. Built on
//!   `bdk_wallet`, persisted in a SQLite file whose path the caller gives.
//!
//! Neither reads a clock, a socket or a random source: entropy and times are
//! arguments. [`keys`] touches no disk; [`onchain`] reads and writes only its
//! SQLite database, committing every change before a call returns.
//!
//! # Driving it
//!
//! ```
//! use bitcoin::secp256k1::Secp256k1;
//! use bitcoin::Network;
//! use fulmen_wallet::keys::{KeyTree, Mnemonic};
//!
//! let secp = Secp256k1::new();
//! // Entropy comes from the caller (e.g. the OS RNG, in the node binary).
//! let mnemonic = Mnemonic::from_entropy(&[7u8; 32])?;
//! let seed = mnemonic.to_seed("optional passphrase");
//! let tree = KeyTree::new(&secp, &seed, Network::Bitcoin)?;
//!
//! let node = tree.node_keys(&secp)?;
//! let channel = tree.channel_keys(&secp, 0)?;
//! println!("node {} channel 0 {:?}", node.node_id(), channel.public_keys());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod keys;
pub mod onchain;
