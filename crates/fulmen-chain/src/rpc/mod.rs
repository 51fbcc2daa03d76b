//! Bitcoin Core compatible JSON-RPC: a server over the embedded chain, and a client that
//! implements [`crate::ChainSource`] against bitcoind-compatible nodes (bitcoind, bcoin, or this
//! crate's own server).
//!
//! Server: [`server::serve`] (inside a tokio runtime) or [`server::RpcServer::start`] (its own
//! thread); methods and their Core field names are in [`service`] and the modules it dispatches
//! to. Authentication: [`auth::Credentials`], or a bitcoind-style `.cookie` file
//! ([`auth::write_cookie`]).
//!
//! Client: [`client::RpcChainClient`], over a small synchronous HTTP/1.1 client ([`http`]), with
//! bounded retries and backoff.

pub mod auth;
mod blockchain;
pub mod client;
mod client_index;
mod client_reject;
mod client_source;
pub mod error;
pub mod http;
pub mod json;
mod mempool_rpc;
mod mining;
pub mod params;
pub mod script;
pub mod server;
pub mod service;

pub use auth::Credentials;
pub use client::{RpcChainClient, RpcClientConfig, RpcClientError};
pub use error::RpcError;
pub use server::{serve, RpcServer, ServerConfig};
pub use service::Service;
