//! The node's JSON-RPC: an HTTP/1.1 server ([`server`]), the methods
//! ([`methods`]) and the client the `fulmen` command line uses ([`client`]).
//!
//! # Protocol
//!
//! JSON-RPC 2.0 over HTTP `POST /`, one request per HTTP request (no
//! batches). `params` may be an array (positional) or an object (named).
//! Authentication is HTTP Basic with the contents of the datadir's
//! `rpc.cookie` (`__cookie__:<hex>`, as bitcoind's cookie): a request
//! without the right `Authorization` header gets HTTP 401. Bodies above
//! 1 MiB get HTTP 413. Method errors are JSON-RPC errors with the codes of
//! [`RpcError`].
//!
//! The server listens on 127.0.0.1 by default: the cookie travels in clear
//! text, so serving it beyond the machine needs a tunnel.

pub mod channel_methods;
pub mod client;
pub mod methods;
pub mod server;

use core::fmt;

use serde_json::{json, Value};

/// A JSON-RPC error: code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// The code (one of the constants of this type).
    pub code: i64,
    /// What went wrong, in lower case.
    pub message: String,
}

impl RpcError {
    /// The request is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// The JSON is not a JSON-RPC request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Missing or malformed parameters.
    pub const INVALID_PARAMS: i64 = -32602;
    /// The node failed while serving the request.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// The method exists in the command-line surface but is not
    /// implemented yet.
    pub const NOT_IMPLEMENTED: i64 = -32001;
    /// The method is not available in this configuration (e.g. `mine`
    /// without the embedded chain).
    pub const NOT_AVAILABLE: i64 = -32002;
    /// Connecting to a peer failed.
    pub const CONNECT_FAILED: i64 = -32003;
    /// The invoice could not be decoded.
    pub const INVALID_INVOICE: i64 = -32004;
    /// The channel manager refused a channel or payment command (no such
    /// channel, peer not connected, channel refused, …).
    pub const CHANNEL_ERROR: i64 = -32005;

    /// An error with `code` and `message`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// [`Self::INVALID_PARAMS`].
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(Self::INVALID_PARAMS, message)
    }

    /// [`Self::NOT_IMPLEMENTED`] for `method`.
    pub fn not_implemented(method: &str) -> Self {
        Self::new(
            Self::NOT_IMPLEMENTED,
            format!("{method} is not yet implemented"),
        )
    }

    /// The JSON form, `{"code", "message"}`.
    pub fn to_json(&self) -> Value {
        json!({ "code": self.code, "message": self.message })
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for RpcError {}
