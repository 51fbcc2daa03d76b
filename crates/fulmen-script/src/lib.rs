//! BOLT 3 keys, scripts, commitment and HTLC transactions, weights and fees, per-commitment secrets. No I/O.
//!
//! Not yet implemented beyond this crate doc: see the project's open issues.

#![forbid(unsafe_code)]
