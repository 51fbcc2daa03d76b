//! The JSON-RPC methods of the chain server: one [`Service`] over an [`EmbeddedChain`],
//! dispatching by method name. Transport-free: the HTTP server (`server.rs`) calls
//! [`Service::call`] for each request object.
//!
//! The methods live by topic in `blockchain.rs`, `mempool_rpc.rs` and `mining.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bitcoin::Txid;
use serde_json::{json, Value};

use super::error::{RpcError, RPC_METHOD_NOT_FOUND};
use super::params::Params;
use crate::embedded::{EmbeddedChain, MempoolEntry};

/// Seconds since the Unix epoch; the server's only clock (block timestamps, mempool entry times).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// A method's parameter names, in positional order (for named parameters).
struct Method {
    name: &'static str,
    params: &'static [&'static str],
}

/// Every method the server answers.
const METHODS: &[Method] = &[
    Method {
        name: "getblockchaininfo",
        params: &[],
    },
    Method {
        name: "getbestblockhash",
        params: &[],
    },
    Method {
        name: "getblockcount",
        params: &[],
    },
    Method {
        name: "getblockhash",
        params: &["height"],
    },
    Method {
        name: "getblockheader",
        params: &["blockhash", "verbose"],
    },
    Method {
        name: "getblock",
        params: &["blockhash", "verbosity"],
    },
    Method {
        name: "getdifficulty",
        params: &[],
    },
    Method {
        name: "gettxout",
        params: &["txid", "n", "include_mempool"],
    },
    Method {
        name: "getrawtransaction",
        params: &["txid", "verbose", "blockhash"],
    },
    Method {
        name: "sendrawtransaction",
        params: &["hexstring", "maxfeerate", "maxburnamount"],
    },
    Method {
        name: "testmempoolaccept",
        params: &["rawtxs", "maxfeerate"],
    },
    Method {
        name: "getrawmempool",
        params: &["verbose", "mempool_sequence"],
    },
    Method {
        name: "getmempoolentry",
        params: &["txid"],
    },
    Method {
        name: "getmempoolinfo",
        params: &[],
    },
    Method {
        name: "estimatesmartfee",
        params: &["conf_target", "estimate_mode"],
    },
    Method {
        name: "generatetoaddress",
        params: &["nblocks", "address", "maxtries"],
    },
    Method {
        name: "generateblock",
        params: &["output", "transactions", "submit"],
    },
    Method {
        name: "submitblock",
        params: &["hexdata", "dummy"],
    },
    Method {
        name: "invalidateblock",
        params: &["blockhash"],
    },
    Method {
        name: "reconsiderblock",
        params: &["blockhash"],
    },
    Method {
        name: "getnetworkinfo",
        params: &[],
    },
    Method {
        name: "ping",
        params: &[],
    },
    Method {
        name: "uptime",
        params: &[],
    },
    Method {
        name: "stop",
        params: &[],
    },
];

/// When and at which height the server first saw a mempool transaction (Core's `time` and
/// `height` of a mempool entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FirstSeen {
    pub(crate) time: u64,
    pub(crate) height: u32,
}

/// The chain server's method handlers.
pub struct Service {
    pub(crate) chain: EmbeddedChain,
    pub(crate) clock: Clock,
    started: u64,
    pub(crate) first_seen: Mutex<HashMap<Txid, FirstSeen>>,
    stop: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("chain", &self.chain)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A service over `chain`, reading time from `clock`.
    pub fn new(chain: EmbeddedChain, clock: Clock) -> Self {
        let started = clock();
        Service {
            chain,
            clock,
            started,
            first_seen: Mutex::new(HashMap::new()),
            stop: Mutex::new(None),
        }
    }

    /// Sets what the `stop` method does (the server installs its shutdown trigger here).
    pub fn on_stop(&self, stop: Box<dyn FnOnce() + Send>) {
        if let Ok(mut slot) = self.stop.lock() {
            *slot = Some(stop);
        }
    }

    /// Whether `method` is one this service answers.
    pub fn knows(method: &str) -> bool {
        METHODS.iter().any(|m| m.name == method)
    }

    /// Runs one call. Never panics on any input.
    pub fn call(&self, method: &str, params: Option<&Value>) -> Result<Value, RpcError> {
        let Some(spec) = METHODS.iter().find(|m| m.name == method) else {
            return Err(RpcError::new(RPC_METHOD_NOT_FOUND, "Method not found"));
        };
        let p = Params::new(method, spec.params, params)?;
        match method {
            "getblockchaininfo" => self.getblockchaininfo(),
            "getbestblockhash" => self.getbestblockhash(),
            "getblockcount" => self.getblockcount(),
            "getblockhash" => self.getblockhash(&p),
            "getblockheader" => self.getblockheader(&p),
            "getblock" => self.getblock(&p),
            "getdifficulty" => Ok(json!(super::json::difficulty(
                bitcoin::CompactTarget::from_consensus(0x207f_ffff).to_consensus()
            ))),
            "gettxout" => self.gettxout(&p),
            "getrawtransaction" => self.getrawtransaction(&p),
            "sendrawtransaction" => self.sendrawtransaction(&p),
            "testmempoolaccept" => self.testmempoolaccept(&p),
            "getrawmempool" => self.getrawmempool(&p),
            "getmempoolentry" => self.getmempoolentry(&p),
            "getmempoolinfo" => self.getmempoolinfo(),
            "estimatesmartfee" => self.estimatesmartfee(&p),
            "generatetoaddress" => self.generatetoaddress(&p),
            "generateblock" => self.generateblock(&p),
            "submitblock" => self.submitblock(&p),
            "invalidateblock" => self.invalidateblock(&p),
            "reconsiderblock" => self.reconsiderblock(&p),
            "getnetworkinfo" => Ok(network_info()),
            "ping" => Ok(Value::Null),
            "uptime" => Ok(json!((self.clock)().saturating_sub(self.started))),
            "stop" => {
                if let Some(stop) = self.stop.lock().ok().and_then(|mut s| s.take()) {
                    stop();
                }
                Ok(json!("Fulmen chain server stopping"))
            }
            _ => Err(RpcError::new(RPC_METHOD_NOT_FOUND, "Method not found")),
        }
    }

    /// The current time as a block timestamp.
    pub(crate) fn now_u32(&self) -> u32 {
        u32::try_from((self.clock)()).unwrap_or(u32::MAX)
    }

    /// The mempool, recording first-seen time and height for new entries and forgetting entries
    /// that left.
    pub(crate) fn observed_mempool(&self) -> Result<Vec<(MempoolEntry, FirstSeen)>, RpcError> {
        let entries = self.chain.mempool_entries()?;
        let height = crate::ChainSource::tip(&self.chain)?.height;
        let now = (self.clock)();
        let mut seen = self
            .first_seen
            .lock()
            .map_err(|_| RpcError::from(crate::ChainError::Poisoned))?;
        seen.retain(|txid, _| entries.iter().any(|e| e.txid == *txid));
        Ok(entries
            .into_iter()
            .map(|e| {
                let first = *seen
                    .entry(e.txid)
                    .or_insert(FirstSeen { time: now, height });
                (e, first)
            })
            .collect())
    }
}

/// `getnetworkinfo`: a node with no peers.
fn network_info() -> Value {
    json!({
        "version": 280000,
        "subversion": concat!("/Fulmen:", env!("CARGO_PKG_VERSION"), "/"),
        "protocolversion": 70016,
        "localservices": "0000000000000409",
        "localservicesnames": ["NETWORK", "WITNESS", "NETWORK_LIMITED"],
        "localrelay": true,
        "timeoffset": 0,
        "networkactive": true,
        "connections": 0,
        "connections_in": 0,
        "connections_out": 0,
        "networks": [],
        "relayfee": 0.00001,
        "incrementalfee": 0.00001,
        "localaddresses": [],
        "warnings": [],
    })
}
