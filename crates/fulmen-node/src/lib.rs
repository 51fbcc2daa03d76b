//! The node runtime: peer tasks, channel manager, payments, forwarding, chain monitor and the RPC server.
//!
//! Not yet implemented beyond this crate doc: see the project's open issues.

#![forbid(unsafe_code)]
