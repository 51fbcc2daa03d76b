//! [`RpcChainClient`]: the node's [`ChainSource`](crate::ChainSource) backed by a bitcoind-compatible JSON-RPC
//! (Bitcoin Core, bcoin, or this crate's chain server).
//!
//! How it maps the trait onto RPC calls:
//! - tip: `getbestblockhash`, height from `getblockheader` (headers are remembered);
//! - blocks: `getblockhash`, `getblock <hash> 0` (decoded, merkle root and witness commitment
//!   checked: a node answering garbage is an error, not a block);
//! - [`ChainSource::events_since`](crate::ChainSource::events_since): walks back from the caller's tip through
//!   `previousblockhash` until `getblockhash(height)` agrees (the fork point), then fetches up to
//!   [`RpcClientConfig::max_events`] blocks forward, stopping early if the chain changes under it;
//! - broadcast: `sendrawtransaction`; errors become typed [`TxReject`]s (missing inputs and
//!   mempool conflicts are completed with the outpoint by looking at the inputs). bcoin's
//!   `sendrawtransaction` relays without reporting rejections, so the client then checks that the
//!   transaction reached the mempool ([`RpcClientConfig::broadcast_check`]);
//! - fees: `estimatesmartfee` (Core's `feerate` or bcoin's `fee`, in BTC/kvB), clamped to
//!   [`RpcClientConfig::fee_floor`] and [`RpcClientConfig::fee_ceiling`]; when the node has no
//!   estimate (Core's "Insufficient data", bcoin's `{"fee": -1}`) the answer is
//!   [`crate::ChainError::NoFeeEstimate`], for the caller to keep its last one;
//! - outputs: `gettxout <txid> <n> false`;
//! - transaction status: blocks the client has fetched, then `getrawtransaction <txid> true`
//!   (needs `-txindex` on Core for confirmed transactions), then `getmempoolentry`;
//! - spends: `gettxout` (without the mempool) says whether the outpoint is spent in the chain;
//!   confirmed spends are found in the blocks the client has fetched (the last
//!   [`RpcClientConfig::index_blocks`] of them; [`RpcChainClient::index_range`] fetches more), and
//!   mempool spends by scanning `getrawmempool` (each transaction fetched once while it stays in
//!   the mempool).
//!
//! Limits: a spend confirmed in a block the client never fetched (older than its index window, or
//! before it started) is not found until that range is indexed; a confirmed transaction's status
//! needs either such a block or a node with a transaction index.
//!
//! Failures: transport faults (refused, timed out, closed), unparseable answers and "warming up"
//! errors are retried with exponential backoff up to [`RpcClientConfig::max_attempts`] times, each
//! retry logged with `tracing::warn!`; then the call fails with a typed [`RpcClientError`], which
//! the trait methods wrap as [`ChainError::Io`] (op `"calling the json-rpc chain backend"`, the
//! `RpcClientError` inside). The client keeps no state that a failure could corrupt: the next call
//! reconnects, so the node resumes when the backend returns.

use core::fmt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Block, BlockHash, FeeRate, OutPoint, Transaction, Txid};
use serde_json::{json, Value};

use super::auth::Credentials;
use super::client_index::{HeaderEntry, SeenIndex};
pub use super::client_reject::reject_from_rpc;
use super::client_reject::{is_mempool_conflict, is_missing_inputs};
use super::error::{RpcError, RPC_IN_WARMUP, RPC_VERIFY_REJECTED};
use super::http::{HttpConnection, HttpError};
use super::params::btc_to_sat;
use crate::error::{BroadcastError, ChainError, TxReject};
use crate::source::BlockRef;

/// The `op` of the [`ChainError::Io`] the trait methods return for backend failures.
pub const BACKEND_OP: &str = "calling the json-rpc chain backend";

/// Settings of the RPC client.
#[derive(Debug, Clone)]
pub struct RpcClientConfig {
    /// The node's RPC address.
    pub addr: SocketAddr,
    /// The request path (`/`; `/wallet/<name>` is not needed for chain calls).
    pub path: String,
    /// RPC credentials.
    pub credentials: Credentials,
    /// Connect, read and write timeout of one attempt.
    pub timeout: Duration,
    /// Attempts per call before giving up (at least 1).
    pub max_attempts: u32,
    /// Pause after the first failed attempt; doubles per retry up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest pause between attempts.
    pub max_backoff: Duration,
    /// Lowest feerate returned (and the answer when the node has no estimate).
    pub fee_floor: FeeRate,
    /// Highest feerate returned (guards against a node answering absurd estimates).
    pub fee_ceiling: FeeRate,
    /// Most blocks fetched by one [`ChainSource::events_since`](crate::ChainSource::events_since) call.
    pub max_events: usize,
    /// How many fetched blocks the spend/confirmation index keeps.
    pub index_blocks: usize,
    /// Largest response accepted, in bytes.
    pub max_response_bytes: usize,
    /// After a successful `sendrawtransaction`, how long to wait for the transaction to show up
    /// in the node's mempool before reporting it rejected (`None`: trust the answer).
    pub broadcast_check: Option<Duration>,
    /// Most mempool transactions fetched when looking for a mempool spend.
    pub max_mempool_scan: usize,
}

impl RpcClientConfig {
    /// Defaults for a node at `addr`: 10 s timeout, 5 attempts with backoff from 200 ms to 5 s,
    /// fee floor 253 sat/kWU (LDK's floor), ceiling 250,000 sat/kWU (1,000 sat/vB), 144 blocks per
    /// `events_since`, 1,008 indexed blocks, 64 MiB responses, 2 s broadcast check.
    pub fn new(addr: SocketAddr, credentials: Credentials) -> Self {
        RpcClientConfig {
            addr,
            path: "/".to_string(),
            credentials,
            timeout: Duration::from_secs(10),
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            fee_floor: FeeRate::from_sat_per_kwu(253),
            fee_ceiling: FeeRate::from_sat_per_kwu(250_000),
            max_events: 144,
            index_blocks: 1_008,
            max_response_bytes: 64 * 1024 * 1024,
            broadcast_check: Some(Duration::from_secs(2)),
            max_mempool_scan: 10_000,
        }
    }
}

/// Why a call to the node failed.
///
/// How to react: [`RpcClientError::Unavailable`] and [`RpcClientError::InvalidResponse`] are
/// backend outages (retried already): keep state and try again later, warn the operator if they
/// persist. [`RpcClientError::Unauthorized`] is a configuration error. [`RpcClientError::Rpc`] is
/// the node's answer to this request.
#[derive(Debug)]
#[non_exhaustive]
pub enum RpcClientError {
    /// The node could not be reached or did not answer, after every attempt.
    Unavailable {
        /// The method called.
        method: String,
        /// Attempts made.
        attempts: u32,
        /// The last transport error.
        last: HttpError,
    },
    /// The node answered something that is not a JSON-RPC reply (or not what the method returns),
    /// after every attempt.
    InvalidResponse {
        /// The method called.
        method: String,
        /// Attempts made.
        attempts: u32,
        /// What was wrong.
        problem: &'static str,
    },
    /// The node refused the credentials (HTTP 401/403).
    Unauthorized,
    /// The node answered with a JSON-RPC error.
    Rpc(RpcError),
}

impl fmt::Display for RpcClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcClientError::Unavailable {
                method,
                attempts,
                last,
            } => write!(
                f,
                "chain backend unavailable for {method} after {attempts} attempts: {last}"
            ),
            RpcClientError::InvalidResponse {
                method,
                attempts,
                problem,
            } => write!(
                f,
                "chain backend answered {method} with an invalid response after {attempts} \
                 attempts: {problem}"
            ),
            RpcClientError::Unauthorized => write!(f, "chain backend refused the credentials"),
            RpcClientError::Rpc(e) => write!(f, "chain backend error: {e}"),
        }
    }
}

impl std::error::Error for RpcClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RpcClientError::Unavailable { last, .. } => Some(last),
            RpcClientError::Rpc(e) => Some(e),
            _ => None,
        }
    }
}

impl From<RpcClientError> for ChainError {
    fn from(e: RpcClientError) -> Self {
        use std::io::ErrorKind;
        let kind = match &e {
            RpcClientError::Unavailable {
                last: HttpError::Timeout,
                ..
            } => ErrorKind::TimedOut,
            RpcClientError::Unavailable {
                last: HttpError::Connect(_),
                ..
            } => ErrorKind::ConnectionRefused,
            RpcClientError::Unavailable { .. } => ErrorKind::ConnectionAborted,
            RpcClientError::InvalidResponse { .. } => ErrorKind::InvalidData,
            RpcClientError::Unauthorized => ErrorKind::PermissionDenied,
            RpcClientError::Rpc(_) => ErrorKind::Other,
        };
        ChainError::Io {
            op: BACKEND_OP,
            source: std::io::Error::new(kind, e),
        }
    }
}

/// One attempt's failure.
enum Failure {
    Transport(HttpError),
    Garbage(&'static str),
    Unauthorized,
    Rpc(RpcError),
}

impl Failure {
    fn retryable(&self) -> bool {
        match self {
            Failure::Transport(_) | Failure::Garbage(_) => true,
            Failure::Rpc(e) => e.code == RPC_IN_WARMUP,
            Failure::Unauthorized => false,
        }
    }

    fn describe(&self) -> String {
        match self {
            Failure::Transport(e) => e.to_string(),
            Failure::Garbage(p) => format!("invalid response: {p}"),
            Failure::Unauthorized => "unauthorized".to_string(),
            Failure::Rpc(e) => e.to_string(),
        }
    }

    fn into_error(self, method: &str, attempts: u32) -> RpcClientError {
        match self {
            Failure::Transport(last) => RpcClientError::Unavailable {
                method: method.to_string(),
                attempts,
                last,
            },
            Failure::Garbage(problem) => RpcClientError::InvalidResponse {
                method: method.to_string(),
                attempts,
                problem,
            },
            Failure::Unauthorized => RpcClientError::Unauthorized,
            Failure::Rpc(e) => RpcClientError::Rpc(e),
        }
    }
}

/// A JSON-RPC client for a bitcoind-compatible node, implementing [`ChainSource`](crate::ChainSource). See the
/// module documentation.
#[derive(Debug)]
pub struct RpcChainClient {
    config: RpcClientConfig,
    auth_header: String,
    host: String,
    next_id: AtomicU64,
    conn: Mutex<Option<HttpConnection>>,
    index: Mutex<SeenIndex>,
    /// Mempool transactions already fetched, so a mempool scan only fetches new ones.
    mempool_cache: Mutex<HashMap<Txid, Transaction>>,
}

/// An answer that is JSON-RPC but not what the method returns.
pub(super) fn invalid(problem: &'static str) -> RpcClientError {
    RpcClientError::InvalidResponse {
        method: String::new(),
        attempts: 1,
        problem,
    }
}

pub(super) fn garbage<T>(problem: &'static str) -> Result<T, RpcClientError> {
    Err(invalid(problem))
}

pub(super) fn parse_hash<H: FromStr>(v: &Value) -> Result<H, RpcClientError> {
    match v.as_str().and_then(|s| s.parse().ok()) {
        Some(h) => Ok(h),
        None => garbage("expected a hash"),
    }
}

pub(super) fn parse_u32(v: &Value) -> Result<u32, RpcClientError> {
    match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
        Some(n) => Ok(n),
        None => garbage("expected a small non-negative integer"),
    }
}

/// A BTC/kvB figure as a feerate, if positive and finite.
pub(super) fn btc_per_kvb(v: &Value) -> Option<FeeRate> {
    let f = v.as_f64()?;
    if !(f.is_finite() && f > 0.0) {
        return None;
    }
    let sat_per_kvb = btc_to_sat(v).ok()?;
    Some(FeeRate::from_sat_per_kwu(sat_per_kvb / 4))
}

impl RpcChainClient {
    /// A client with these settings. Connects lazily.
    pub fn new(config: RpcClientConfig) -> Self {
        let auth_header = config.credentials.basic_header();
        let host = config.addr.to_string();
        let index = SeenIndex::new(config.index_blocks);
        RpcChainClient {
            config,
            auth_header,
            host,
            next_id: AtomicU64::new(1),
            conn: Mutex::new(None),
            index: Mutex::new(index),
            mempool_cache: Mutex::new(HashMap::new()),
        }
    }

    /// The settings.
    pub fn config(&self) -> &RpcClientConfig {
        &self.config
    }

    pub(super) fn index(&self) -> MutexGuard<'_, SeenIndex> {
        // The index is a cache: a panic while it was held leaves it usable.
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Calls `method` with positional `params`, retrying transport faults, garbage and warm-up
    /// answers with backoff. Returns the `result`.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, RpcClientError> {
        let body = json!({
            "jsonrpc": "1.0",
            "id": self.next_id.fetch_add(1, Ordering::Relaxed),
            "method": method,
            "params": params,
        })
        .to_string();
        let attempts = self.config.max_attempts.max(1);
        let mut backoff = self.config.initial_backoff;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.call_once(body.as_bytes()) {
                Ok(v) => {
                    if attempt > 1 {
                        tracing::info!(method, attempt, "chain backend answered again");
                    }
                    return Ok(v);
                }
                Err(f) if f.retryable() && attempt < attempts => {
                    tracing::warn!(
                        method,
                        attempt,
                        max_attempts = attempts,
                        retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                        error = %f.describe(),
                        "chain backend call failed; retrying"
                    );
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
                Err(f) => {
                    if f.retryable() {
                        tracing::error!(
                            method,
                            attempts = attempt,
                            error = %f.describe(),
                            "chain backend call failed; giving up"
                        );
                    }
                    return Err(f.into_error(method, attempt));
                }
            }
        }
    }

    fn call_once(&self, body: &[u8]) -> Result<Value, Failure> {
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut conn = match slot.take() {
            Some(c) if c.is_reusable() => c,
            _ => HttpConnection::connect(&self.config.addr, self.config.timeout)
                .map_err(Failure::Transport)?,
        };
        let post = |c: &mut HttpConnection| {
            c.post(
                &self.host,
                &self.config.path,
                &self.auth_header,
                body,
                self.config.max_response_bytes,
            )
        };
        let response = match post(&mut conn) {
            // A kept-alive connection the server closed while idle: one fresh try, not a fault.
            Err(HttpError::Closed) if conn.was_used() => {
                conn = HttpConnection::connect(&self.config.addr, self.config.timeout)
                    .map_err(Failure::Transport)?;
                post(&mut conn)
            }
            other => other,
        }
        .map_err(Failure::Transport)?;
        if conn.is_reusable() {
            *slot = Some(conn);
        }
        drop(slot);
        if response.status == 401 || response.status == 403 {
            return Err(Failure::Unauthorized);
        }
        let Ok(value) = serde_json::from_slice::<Value>(&response.body) else {
            return Err(Failure::Garbage("body is not json"));
        };
        let Value::Object(mut reply) = value else {
            return Err(Failure::Garbage("reply is not a json object"));
        };
        match reply.get("error") {
            None | Some(Value::Null) => {}
            Some(err) => {
                let code = err
                    .get("code")
                    .and_then(Value::as_i64)
                    .and_then(|c| i32::try_from(c).ok())
                    .unwrap_or(-1);
                let message = err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error");
                return Err(Failure::Rpc(RpcError::new(code, message)));
            }
        }
        if !(200..300).contains(&response.status) {
            return Err(Failure::Garbage(
                "http error status without a json-rpc error",
            ));
        }
        reply
            .remove("result")
            .ok_or(Failure::Garbage("reply has no result"))
    }

    /// Like [`RpcChainClient::call`], mapping "not found" answers to `None`.
    pub(super) fn call_opt(
        &self,
        method: &str,
        params: Value,
    ) -> Result<Option<Value>, RpcClientError> {
        match self.call(method, params) {
            Ok(v) => Ok(Some(v)),
            Err(RpcClientError::Rpc(e)) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Height and parent of a block, from memory or `getblockheader`.
    pub(super) fn header(&self, hash: &BlockHash) -> Result<Option<HeaderEntry>, RpcClientError> {
        let cached = self.index().header(hash);
        if let Some(h) = cached {
            return Ok(Some(h));
        }
        let Some(v) = self.call_opt("getblockheader", json!([hash.to_string()]))? else {
            return Ok(None);
        };
        if let Some(reported) = v.get("hash") {
            if parse_hash::<BlockHash>(reported)? != *hash {
                return garbage("getblockheader answered another block");
            }
        }
        let height = parse_u32(v.get("height").unwrap_or(&Value::Null))?;
        let prev = match v.get("previousblockhash") {
            None | Some(Value::Null) => None,
            Some(p) => Some(parse_hash::<BlockHash>(p)?),
        };
        if prev.is_none() != (height == 0) {
            return garbage("getblockheader: parent does not match height");
        }
        let entry = HeaderEntry { height, prev };
        self.index().add_header(*hash, entry);
        Ok(Some(entry))
    }

    pub(super) fn tip_inner(&self) -> Result<BlockRef, RpcClientError> {
        let hash: BlockHash = parse_hash(&self.call("getbestblockhash", json!([]))?)?;
        match self.header(&hash)? {
            Some(h) => Ok(BlockRef {
                height: h.height,
                hash,
            }),
            None => garbage("the best block has no header"),
        }
    }

    pub(super) fn hash_at(&self, height: u32) -> Result<Option<BlockHash>, RpcClientError> {
        match self.call("getblockhash", json!([height])) {
            Ok(v) => parse_hash(&v).map(Some),
            Err(RpcClientError::Rpc(e)) => {
                // Core and bcoin answer -8 above the tip; confirm rather than trust the code.
                let count = parse_u32(&self.call("getblockcount", json!([]))?)?;
                if height > count {
                    Ok(None)
                } else {
                    Err(RpcClientError::Rpc(e))
                }
            }
            Err(e) => Err(e),
        }
    }

    pub(super) fn block_inner(&self, hash: &BlockHash) -> Result<Option<Block>, RpcClientError> {
        let Some(v) = self.call_opt("getblock", json!([hash.to_string(), 0]))? else {
            return Ok(None);
        };
        let block: Block = match v
            .as_str()
            .and_then(|s| hex::decode(s).ok())
            .and_then(|b| bitcoin::consensus::deserialize(&b).ok())
        {
            Some(b) => b,
            None => return garbage("getblock: not a hex-encoded block"),
        };
        if block.block_hash() != *hash {
            return garbage("getblock answered another block");
        }
        if !block.check_merkle_root() || !block.check_witness_commitment() {
            return garbage("getblock: transactions do not match the header");
        }
        if let Some(h) = self.header(hash)? {
            self.index().add_block(&block, h.height);
        }
        Ok(Some(block))
    }

    /// Fetches and indexes the active blocks from `from` to `to` (inclusive, clamped to the tip),
    /// so that spends confirmed there are found by [`ChainSource::spending_tx`](crate::ChainSource::spending_tx). Returns how many
    /// blocks were indexed.
    pub fn index_range(&self, from: u32, to: u32) -> Result<u32, ChainError> {
        let mut n = 0;
        for height in from..=to {
            let Some(hash) = self.hash_at(height)? else {
                break;
            };
            if self.block_inner(&hash)?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Whether `block` at `height` is in the node's active chain.
    pub(super) fn is_active(&self, block: &BlockHash, height: u32) -> Result<bool, RpcClientError> {
        Ok(self.hash_at(height)? == Some(*block))
    }

    pub(super) fn confirmations(&self, height: u32) -> Result<u32, RpcClientError> {
        let tip = self.tip_inner()?;
        Ok(tip.height.saturating_sub(height).saturating_add(1))
    }

    pub(super) fn in_mempool(&self, txid: &Txid) -> Result<bool, RpcClientError> {
        Ok(self
            .call_opt("getmempoolentry", json!([txid.to_string()]))?
            .is_some())
    }

    pub(super) fn tx_out_inner(
        &self,
        outpoint: &OutPoint,
        include_mempool: bool,
    ) -> Result<Option<Value>, RpcClientError> {
        let v = self.call(
            "gettxout",
            json!([outpoint.txid.to_string(), outpoint.vout, include_mempool]),
        )?;
        Ok((!v.is_null()).then_some(v))
    }

    /// Whether the node holds `tx` (mempool, or confirmed and unspent).
    fn node_has(&self, tx: &Transaction, txid: &Txid) -> Result<bool, RpcClientError> {
        if self.in_mempool(txid)? {
            return Ok(true);
        }
        for vout in 0..u32::try_from(tx.output.len().min(4)).unwrap_or(0) {
            if self
                .tx_out_inner(&OutPoint { txid: *txid, vout }, true)?
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Waits up to `limit` for the node to hold `tx` after it said it accepted it.
    fn check_accepted(
        &self,
        tx: &Transaction,
        txid: &Txid,
        limit: Duration,
    ) -> Result<bool, RpcClientError> {
        let deadline = Instant::now() + limit;
        let mut pause = Duration::from_millis(20);
        loop {
            if self.node_has(tx, txid)? {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// Completes a missing-inputs or conflict rejection with the outpoint concerned.
    fn complete_reject(&self, tx: &Transaction, e: &RpcError) -> Result<TxReject, RpcClientError> {
        if is_missing_inputs(e) {
            for input in &tx.input {
                if self.tx_out_inner(&input.previous_output, true)?.is_none() {
                    return Ok(TxReject::MissingInputs {
                        outpoint: input.previous_output,
                    });
                }
            }
        }
        if is_mempool_conflict(e) {
            for input in &tx.input {
                if let Some(spent_by) = self.mempool_spender(&input.previous_output)? {
                    return Ok(TxReject::MempoolConflict {
                        outpoint: input.previous_output,
                        spent_by: spent_by.0.compute_txid(),
                    });
                }
            }
        }
        Ok(reject_from_rpc(e))
    }

    /// The mempool transaction spending `outpoint`, with the input index. Scans the node's
    /// mempool, fetching only transactions not seen by an earlier scan.
    pub(super) fn mempool_spender(
        &self,
        outpoint: &OutPoint,
    ) -> Result<Option<(Transaction, u32)>, RpcClientError> {
        let list = self.call("getrawmempool", json!([false]))?;
        let Some(entries) = list.as_array() else {
            return garbage("getrawmempool: not an array");
        };
        if entries.len() > self.config.max_mempool_scan {
            tracing::warn!(
                size = entries.len(),
                scanned = self.config.max_mempool_scan,
                "mempool larger than the scan limit; a mempool spend may be missed"
            );
        }
        let txids = entries
            .iter()
            .take(self.config.max_mempool_scan)
            .map(parse_hash::<Txid>)
            .collect::<Result<Vec<_>, _>>()?;
        let known: Vec<Txid> = {
            let mut cache = self.mempool_cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.retain(|t, _| txids.contains(t));
            cache.keys().copied().collect()
        };
        for txid in txids.iter().filter(|t| !known.contains(t)) {
            let Some(raw) = self.call_opt("getrawtransaction", json!([txid.to_string()]))? else {
                continue;
            };
            let tx = decode_tx(&raw)?;
            if tx.compute_txid() != *txid {
                return garbage("getrawtransaction answered another transaction");
            }
            self.mempool_cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(*txid, tx);
        }
        let cache = self.mempool_cache.lock().unwrap_or_else(|p| p.into_inner());
        Ok(cache.values().find_map(|tx| {
            let i = tx
                .input
                .iter()
                .position(|i| i.previous_output == *outpoint)?;
            Some((tx.clone(), u32::try_from(i).ok()?))
        }))
    }

    pub(super) fn broadcast_inner(&self, tx: &Transaction) -> Result<Txid, BroadcastError> {
        let txid = tx.compute_txid();
        match self.call("sendrawtransaction", json!([serialize_hex(tx)])) {
            Ok(v) => {
                let answered: Txid = parse_hash(&v).map_err(ChainError::from)?;
                if answered != txid {
                    return Err(ChainError::from(RpcClientError::InvalidResponse {
                        method: "sendrawtransaction".into(),
                        attempts: 1,
                        problem: "answered another txid",
                    })
                    .into());
                }
            }
            Err(RpcClientError::Rpc(e)) => {
                let reject = self.complete_reject(tx, &e).map_err(ChainError::from)?;
                return match reject {
                    TxReject::AlreadyInMempool => Ok(txid),
                    r => {
                        tracing::warn!(%txid, reason = %r, "chain backend rejected transaction");
                        Err(BroadcastError::Rejected(r))
                    }
                };
            }
            Err(e) => return Err(ChainError::from(e).into()),
        }
        if let Some(limit) = self.config.broadcast_check {
            if !self
                .check_accepted(tx, &txid, limit)
                .map_err(ChainError::from)?
            {
                tracing::warn!(%txid, "chain backend accepted the transaction but does not hold it");
                return Err(BroadcastError::Rejected(TxReject::Other {
                    code: RPC_VERIFY_REJECTED,
                    message: "the node did not take the transaction into its mempool (no reason \
                              given)"
                        .to_string(),
                }));
            }
        }
        Ok(txid)
    }
}

fn decode_tx(v: &Value) -> Result<Transaction, RpcClientError> {
    let hex_str = v.as_str().or_else(|| v.get("hex").and_then(Value::as_str));
    match hex_str
        .and_then(|s| hex::decode(s).ok())
        .and_then(|b| bitcoin::consensus::deserialize(&b).ok())
    {
        Some(tx) => Ok(tx),
        None => garbage("not a hex-encoded transaction"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feerates_from_btc_per_kvb() {
        assert_eq!(
            btc_per_kvb(&json!(0.00001)),
            Some(FeeRate::from_sat_per_kwu(250))
        );
        assert_eq!(btc_per_kvb(&json!(-1)), None);
        assert_eq!(btc_per_kvb(&json!(0)), None);
        assert_eq!(btc_per_kvb(&json!("x")), None);
    }

    #[test]
    fn errors_wrap_into_chain_errors_with_kinds() {
        let e: ChainError = RpcClientError::Unavailable {
            method: "getblock".into(),
            attempts: 3,
            last: HttpError::Timeout,
        }
        .into();
        let ChainError::Io { op, source } = e else {
            panic!()
        };
        assert_eq!(op, BACKEND_OP);
        assert_eq!(source.kind(), std::io::ErrorKind::TimedOut);
        let inner = source.get_ref().unwrap();
        assert!(inner.downcast_ref::<RpcClientError>().is_some());
        assert!(source.to_string().contains("after 3 attempts"));
    }
}
