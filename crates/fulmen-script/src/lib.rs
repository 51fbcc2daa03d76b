//! BOLT 3 for Fulmen: key derivation, per-commitment secrets, output
//! scripts, commitment / HTLC / closing transactions, weights and fees, and
//! signing. No I/O, no clock, no randomness: every input is an argument and
//! every output a value, so the same inputs always build the same bytes.
//!
//! # How to drive it
//!
//! 1. Per commitment, the owner's `per_commitment_point` comes from its
//!    [`shachain::ShachainSeed`] ([`keys::per_commitment_point`]); derive the
//!    commitment's keys with [`keys::CommitmentKeys::derive`] (owner's
//!    basepoints as `local`, the counterparty's as `remote`), or, as a party
//!    holding its own secrets, with [`keys::CommitmentKeys::derive_held`]
//!    (same keys, cheaper).
//! 2. Describe the commitment in a [`commitment::CommitmentParams`] and call
//!    [`commitment::build_commitment`]: the unsigned transaction, what each
//!    output is, and the output index of every untrimmed HTLC.
//! 3. [`commitment::CommitmentTx::htlc_txs`] builds the HTLC-timeout and
//!    HTLC-success transactions in output order.
//! 4. Sign with [`sign::sign_funding_spend`] and [`sign::sign_htlc_tx`];
//!    check the peer's with [`sign::verify_funding_spend`] and
//!    [`sign::verify_counterparty_htlc_signature`] (high-S rejected);
//!    assemble witnesses with [`sign::funding_witness`],
//!    [`sign::htlc_success_witness`] and [`sign::htlc_timeout_witness`].
//! 5. Revealed peer secrets go into a [`shachain::SecretStore`], which
//!    rejects secrets that do not come from one seed.
//! 6. Mutual close: [`closing::build_legacy_closing_tx`] or
//!    [`closing::build_closing_tx`].
//!
//! Signing and `k·G` go through [`fulmen_types::ec`] and take no context.
//! Verification and key tweaks take a `&Secp256k1<C>`: create one context
//! and reuse it, since creating one is expensive.
//!
//! Secrets ([`shachain::PerCommitmentSecret`], [`shachain::ShachainSeed`])
//! never show their bytes in `Debug`.

#![forbid(unsafe_code)]

pub mod channel;
pub mod closing;
pub mod commitment;
pub mod fees;
pub mod htlc_tx;
pub mod keys;
pub mod scripts;
pub mod shachain;
pub mod sign;

pub use channel::{ChannelType, Htlc, HtlcDirection, Side};
