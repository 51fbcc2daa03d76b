//! The JSON-RPC client: what `fulmen getinfo` and friends use to talk to a
//! running node, authenticated with the cookie of its data directory.

use core::fmt;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use zeroize::Zeroizing;

use crate::datadir::{DataDir, DataDirError, RpcCookie};

/// Largest response accepted.
const MAX_RESPONSE: usize = 64 << 20;

/// Why a call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The cookie or the address file could not be read: is the node
    /// running with this data directory?
    DataDir(DataDirError),
    /// The node could not be reached.
    Connect(std::io::Error),
    /// The node refused the cookie (HTTP 401): wrong data directory, or the
    /// node restarted with a new cookie.
    Unauthorized,
    /// The HTTP exchange failed.
    Http(String),
    /// The answer is not a JSON-RPC response.
    BadResponse(String),
    /// The node answered with a JSON-RPC error.
    Rpc {
        /// The error code.
        code: i64,
        /// The message.
        message: String,
    },
    /// No answer in time.
    Timeout,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DataDir(e) => write!(f, "{e} (is `fulmen node` running with this --datadir?)"),
            Self::Connect(e) => write!(f, "cannot reach the node: {e}"),
            Self::Unauthorized => f.write_str("the node refused the rpc cookie"),
            Self::Http(e) => write!(f, "http error: {e}"),
            Self::BadResponse(e) => write!(f, "bad response: {e}"),
            Self::Rpc { message, .. } => f.write_str(message),
            Self::Timeout => f.write_str("the node did not answer in time"),
        }
    }
}

impl std::error::Error for ClientError {}

impl ClientError {
    /// The JSON-RPC error code, for errors the node reported.
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A client of one node's RPC.
pub struct RpcClient {
    addr: String,
    authorization: Zeroizing<String>,
    timeout: Duration,
}

impl fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcClient")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RpcClient {
    /// A client of the node at `addr` (`HOST:PORT`, an optional `http://`
    /// is stripped) authenticating with `cookie`.
    pub fn new(addr: &str, cookie: &RpcCookie) -> Self {
        let addr = addr.trim();
        let addr = addr.strip_prefix("http://").unwrap_or(addr);
        Self {
            addr: addr.trim_end_matches('/').to_owned(),
            authorization: cookie.authorization_header(),
            timeout: Duration::from_secs(600),
        }
    }

    /// A client for the node of `datadir`: the cookie from its `rpc.cookie`,
    /// the address from `rpc` or else from its `rpc.address`.
    pub fn from_datadir(datadir: &DataDir, rpc: Option<&str>) -> Result<Self, ClientError> {
        let cookie = datadir.read_cookie().map_err(ClientError::DataDir)?;
        let addr = match rpc {
            Some(a) => a.to_owned(),
            None => datadir
                .read_rpc_address()
                .map_err(ClientError::DataDir)?
                .to_string(),
        };
        Ok(Self::new(&addr, &cookie))
    }

    /// Sets how long a call may take (default 600 s: `mine` and `pay` wait).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The node's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Calls `method` with `params` and returns its result.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        tokio::time::timeout(self.timeout, self.exchange(method, params))
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    async fn exchange(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        let stream = TcpStream::connect(&self.addr)
            .await
            .map_err(ClientError::Connect)?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let conn = tokio::spawn(conn);
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let request = Request::post("/")
            .header(HOST, self.addr.as_str())
            .header(AUTHORIZATION, self.authorization.as_str())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?
            .to_bytes();
        conn.abort();
        if status == StatusCode::UNAUTHORIZED {
            return Err(ClientError::Unauthorized);
        }
        let reply: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::BadResponse(format!("http {status}: {e}")))?;
        if let Some(error) = reply.get("error").filter(|e| !e.is_null()) {
            return Err(ClientError::Rpc {
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
                    .to_owned(),
            });
        }
        reply
            .get("result")
            .cloned()
            .ok_or_else(|| ClientError::BadResponse("no result".into()))
    }
}
