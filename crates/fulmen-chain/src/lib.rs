//! The chain for Fulmen: the [`ChainSource`] abstraction through which the node sees everything
//! on chain, and an embedded regtest chain ([`EmbeddedChain`]) implementing it in-process.
//!
//! How to drive it: create a chain with [`EmbeddedChain::in_memory`] (tests) or
//! [`EmbeddedChain::open`] (a datadir that survives restarts), clone the handle into every node
//! of the process, mine with [`EmbeddedChain::mine`] (timestamps are arguments), and let nodes
//! follow it through [`ChainSource::events_since`], which reports connected and disconnected
//! blocks so reorgs reach the node. Rejections carry Bitcoin Core's reasons and RPC codes
//! ([`TxReject`], [`BlockReject`]) so a JSON-RPC server can return them unchanged.
//!
//! Script validation runs Bitcoin Core's own interpreter through libbitcoinconsensus.
//!
//! Over the network ([`rpc`]): [`rpc::serve`] / [`rpc::RpcServer`] serve an embedded chain with a
//! Bitcoin Core compatible JSON-RPC (what `fulmen chain` runs), and [`rpc::RpcChainClient`]
//! implements [`ChainSource`] against bitcoind-compatible nodes (bitcoind, bcoin, or that server).
//! With the `bcoin` feature, `bcoin::Bcoin` runs a bcoin regtest node for tests.

#![forbid(unsafe_code)]

#[cfg(feature = "bcoin")]
pub mod bcoin;
pub mod embedded;
pub mod error;
pub mod rpc;
pub mod source;

pub use embedded::{EmbeddedChain, EmbeddedConfig};
pub use error::{BlockReject, BroadcastError, ChainError, MineError, TxReject};
pub use source::{BlockRef, ChainEvent, ChainSource, Spend, TxStatus, UtxoInfo};
