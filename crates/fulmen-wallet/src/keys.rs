//! The node's key tree: BIP39 mnemonic -> seed -> BIP32 hardened derivation.
//!
//! # The tree
//!
//! All paths are fully hardened, so that no leaked child key (plus any amount of
//! public data) exposes a sibling or a parent. `coin'` is `0'` on Bitcoin
//! mainnet and `1'` on every test network (testnet, testnet4, signet, regtest),
//! as in SLIP-44, so a test node and a main node made from the same mnemonic
//! share no key.
//!
//! | key | path |
//! | --- | --- |
//! | node identity (BOLT 8 static key, `node_id`) | `m/9735'/coin'/0'/0'` |
//! | channel `i`: `funding_pubkey` secret | `m/9735'/coin'/1'/i'/0'` |
//! | channel `i`: `revocation_basepoint` secret | `m/9735'/coin'/1'/i'/1'` |
//! | channel `i`: `payment_basepoint` secret | `m/9735'/coin'/1'/i'/2'` |
//! | channel `i`: `delayed_payment_basepoint` secret | `m/9735'/coin'/1'/i'/3'` |
//! | channel `i`: `htlc_basepoint` secret | `m/9735'/coin'/1'/i'/4'` |
//! | channel `i`: per-commitment (shachain) seed | the 32 private-key bytes at `m/9735'/coin'/1'/i'/5'` |
//! | on-chain wallet, BIP84 account 0 | `m/84'/coin'/0'` |
//!
//! `9735'` is Fulmen's BIP43 purpose (the Lightning port number). It is *not*
//! LND's `1017'`: the layout below it differs, and reusing another node's
//! purpose would make wallets that scan it see keys they cannot interpret.
//! The channel key index `i` is chosen by the caller (a counter kept in the
//! store) and must be below 2^31, so it can be hardened.
//!
//! # Secrets
//!
//! [`Seed`], [`Mnemonic`], [`KeyTree`], [`NodeKeys`] and [`ChannelKeys`] hold
//! secrets. Their `Debug` prints only public data (a master fingerprint, public
//! keys), and they wipe their secret bytes on drop (best effort: copies the
//! compiler made are out of reach). The mnemonic words are only available
//! through the explicit [`Mnemonic::phrase`].

mod channel;
mod error;
mod mnemonic;
mod node;
pub mod paths;
mod seed;
mod tree;

pub use channel::{ChannelKeys, ChannelPublicKeys};
pub use error::{DeriveError, MnemonicError};
pub use mnemonic::{Mnemonic, MAX_PHRASE_BYTES};
pub use node::NodeKeys;
pub use paths::ChannelKeyKind;
pub use seed::Seed;
pub use tree::KeyTree;
