//! The chain: a chain-source abstraction, an embedded regtest chain, and a Bitcoin Core compatible JSON-RPC client and server.
//!
//! Not yet implemented beyond this crate doc: see the project's open issues.

#![forbid(unsafe_code)]
