//! The node's key tree (BIP39 seed, node identity, per-channel keys) and its on-chain wallet.
//!
//! Not yet implemented beyond this crate doc: see the project's open issues.

#![forbid(unsafe_code)]
