//! BOLT 3 for Fulmen: key derivation, per-commitment secrets, output
//! scripts, commitment / HTLC / closing transactions, weights and fees, and
//! signing. No I/O, no clock, no randomness: every input is an argument and
//! every output a value, so the same inputs always build the same bytes.
//!
//! # How to drive it
//!
//! 1. Per commitment, the owner's `per_commitment_point` comes from its
//!    [`shachain::ShachainSeed`] ([`keys::per_commitment_point`]); derive the
//!    commitment's keys with [`keys::CommitmentKeys::derive`].
//! 2. Revealed peer secrets go into a [`shachain::SecretStore`], which
//!    rejects secrets that do not come from one seed.
//!
//! Secrets ([`shachain::PerCommitmentSecret`], [`shachain::ShachainSeed`])
//! never show their bytes in `Debug`.

#![forbid(unsafe_code)]

pub mod keys;
pub mod shachain;
