//! Transactions and the mempool: `sendrawtransaction`, `testmempoolaccept`, `getrawmempool`,
//! `getmempoolentry`, `getmempoolinfo`, `estimatesmartfee`.

use std::collections::{HashMap, HashSet};

use bitcoin::{Amount, Transaction, Txid};
use serde_json::{json, Map, Value};

use super::error::{RpcError, RPC_VERIFY_ERROR};
use super::params::{sat_to_btc, Params};
use super::service::{FirstSeen, Service};
use crate::embedded::{AcceptedTx, MempoolEntry};
use crate::error::{BroadcastError, ChainError, TxReject};
use crate::source::ChainSource;

/// Core's default `maxfeerate` for `sendrawtransaction`/`testmempoolaccept`: 0.10 BTC/kvB.
pub const DEFAULT_MAX_FEE_RATE_SAT_PER_KVB: u64 = 10_000_000;
/// The minimum relay feerate the server reports (Core's default, and the embedded chain's).
pub const MIN_RELAY_FEE_SAT_PER_KVB: u64 = 1_000;
/// Core's default `-maxmempool` in bytes, reported by `getmempoolinfo`.
const MAX_MEMPOOL_BYTES: u64 = 300_000_000;

/// Whether `accepted` pays more than `max_sat_per_kvb` (0 = no limit).
fn exceeds_max_fee(accepted: &AcceptedTx, max_sat_per_kvb: u64) -> bool {
    if max_sat_per_kvb == 0 {
        return false;
    }
    let max_fee = u128::from(max_sat_per_kvb) * u128::from(accepted.vsize) / 1_000;
    u128::from(accepted.fee.to_sat()) > max_fee
}

/// The reject reason Core puts in `testmempoolaccept`'s `reject-reason`.
fn reject_reason(r: &TxReject) -> String {
    match r {
        TxReject::MandatoryScript { .. } | TxReject::NonMandatoryScript { .. } => r.to_string(),
        other => other.reason().to_string(),
    }
}

impl Service {
    pub(crate) fn sendrawtransaction(&self, p: &Params) -> Result<Value, RpcError> {
        let tx: Transaction = p.consensus_hex(0, "hexstring")?;
        let max_fee_rate = p.opt_btc(1)?.unwrap_or(DEFAULT_MAX_FEE_RATE_SAT_PER_KVB);
        let max_burn = p.opt_btc(2)?.unwrap_or(0);
        let burned = tx
            .output
            .iter()
            .filter(|o| o.script_pubkey.is_op_return() || o.script_pubkey.len() > 10_000)
            .try_fold(Amount::ZERO, |acc, o| acc.checked_add(o.value))
            .unwrap_or(Amount::MAX_MONEY);
        if burned.to_sat() > max_burn {
            return Err(RpcError::new(
                RPC_VERIFY_ERROR,
                "Unspendable output exceeds maximum configured by user (maxburnamount)",
            ));
        }
        match self.chain.test_accept(&tx) {
            Ok(accepted) if exceeds_max_fee(&accepted, max_fee_rate) => {
                return Err(RpcError::new(
                    RPC_VERIFY_ERROR,
                    "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)",
                ));
            }
            Ok(_) | Err(BroadcastError::Rejected(TxReject::AlreadyInMempool)) => {}
            Err(e) => return Err(e.into()),
        }
        let txid = self.chain.broadcast(&tx)?;
        // Record the entry's first-seen time now rather than at the next mempool query.
        self.observed_mempool()?;
        Ok(json!(txid.to_string()))
    }

    pub(crate) fn testmempoolaccept(&self, p: &Params) -> Result<Value, RpcError> {
        let raw = p.required(0, "rawtxs")?;
        let list = raw
            .as_array()
            .ok_or_else(|| super::params::type_error(raw, "array"))?;
        let [one] = list.as_slice() else {
            return Err(RpcError::invalid_parameter(
                "Array must contain exactly one transaction (packages are not supported)",
            ));
        };
        let hex = one
            .as_str()
            .ok_or_else(|| super::params::type_error(one, "string"))?;
        let tx: Transaction = super::params::decode_consensus_hex(hex)?;
        let max_fee_rate = p.opt_btc(1)?.unwrap_or(DEFAULT_MAX_FEE_RATE_SAT_PER_KVB);
        let mut m = Map::new();
        m.insert("txid".into(), json!(tx.compute_txid().to_string()));
        m.insert("wtxid".into(), json!(tx.compute_wtxid().to_string()));
        match self.chain.test_accept(&tx) {
            Ok(a) if exceeds_max_fee(&a, max_fee_rate) => {
                m.insert("allowed".into(), json!(false));
                m.insert("reject-reason".into(), json!("max-fee-exceeded"));
            }
            Ok(a) => {
                m.insert("allowed".into(), json!(true));
                m.insert("vsize".into(), json!(a.vsize));
                let rate = u128::from(a.fee.to_sat()) * 1_000 / u128::from(a.vsize.max(1));
                m.insert(
                    "fees".into(),
                    json!({
                        "base": sat_to_btc(a.fee.to_sat()),
                        "effective-feerate": sat_to_btc(u64::try_from(rate).unwrap_or(u64::MAX)),
                        "effective-includes": [a.wtxid.to_string()],
                    }),
                );
            }
            Err(BroadcastError::Rejected(r)) => {
                m.insert("allowed".into(), json!(false));
                m.insert("reject-reason".into(), json!(reject_reason(&r)));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(json!([Value::Object(m)]))
    }

    pub(crate) fn getrawmempool(&self, p: &Params) -> Result<Value, RpcError> {
        let verbose = p.opt_bool(0)?.unwrap_or(false);
        if p.opt_bool(1)?.unwrap_or(false) {
            return Err(RpcError::invalid_parameter(
                "mempool_sequence is not supported by this server",
            ));
        }
        let entries = self.observed_mempool()?;
        if !verbose {
            let txids: Vec<String> = entries.iter().map(|(e, _)| e.txid.to_string()).collect();
            return Ok(json!(txids));
        }
        let view = MempoolView::new(&entries);
        let mut m = Map::new();
        for (e, first) in &entries {
            m.insert(e.txid.to_string(), view.entry_json(e, *first));
        }
        Ok(Value::Object(m))
    }

    pub(crate) fn getmempoolentry(&self, p: &Params) -> Result<Value, RpcError> {
        let txid: Txid = p.hash(0, "txid")?;
        let entries = self.observed_mempool()?;
        let view = MempoolView::new(&entries);
        entries
            .iter()
            .find(|(e, _)| e.txid == txid)
            .map(|(e, first)| view.entry_json(e, *first))
            .ok_or_else(|| RpcError::not_found("Transaction not in mempool"))
    }

    pub(crate) fn getmempoolinfo(&self) -> Result<Value, RpcError> {
        let entries = self.observed_mempool()?;
        let bytes: u64 = entries.iter().map(|(e, _)| e.vsize).sum();
        let weight: u64 = entries.iter().map(|(e, _)| e.weight).sum();
        let fees = entries
            .iter()
            .try_fold(Amount::ZERO, |acc, (e, _)| acc.checked_add(e.fee))
            .unwrap_or(Amount::MAX_MONEY);
        Ok(json!({
            "loaded": true,
            "size": entries.len(),
            "bytes": bytes,
            "usage": weight,
            "total_fee": sat_to_btc(fees.to_sat()),
            "maxmempool": MAX_MEMPOOL_BYTES,
            "mempoolminfee": sat_to_btc(MIN_RELAY_FEE_SAT_PER_KVB),
            "minrelaytxfee": sat_to_btc(MIN_RELAY_FEE_SAT_PER_KVB),
            "incrementalrelayfee": sat_to_btc(MIN_RELAY_FEE_SAT_PER_KVB),
            "unbroadcastcount": 0,
            "fullrbf": false,
        }))
    }

    pub(crate) fn estimatesmartfee(&self, p: &Params) -> Result<Value, RpcError> {
        let target = p.u32(0, "conf_target")?;
        if !(1..=1008).contains(&target) {
            return Err(RpcError::invalid_parameter(
                "Invalid conf_target, must be between 1 and 1008",
            ));
        }
        if let Some(mode) = p.get(1) {
            let mode = mode
                .as_str()
                .ok_or_else(|| super::params::type_error(mode, "string"))?;
            if !["unset", "economical", "conservative"]
                .iter()
                .any(|m| m.eq_ignore_ascii_case(mode))
            {
                return Err(RpcError::invalid_parameter(
                    "Invalid estimate_mode parameter, must be one of: \"unset\", \"economical\", \
                     \"conservative\"",
                ));
            }
        }
        let rate = match self
            .chain
            .estimate_feerate(u16::try_from(target).unwrap_or(u16::MAX))
        {
            Err(ChainError::NoFeeEstimate) => {
                return Ok(json!({
                    "errors": ["Insufficient data or no feerate found"],
                    "blocks": 0,
                }))
            }
            other => other?,
        };
        let sat_per_kvb = rate.to_sat_per_kwu().saturating_mul(4);
        Ok(json!({
            "feerate": sat_to_btc(sat_per_kvb),
            "blocks": target.max(2),
        }))
    }
}

/// Ancestor/descendant relations of the mempool, for Core's entry fields.
struct MempoolView<'a> {
    by_txid: HashMap<Txid, &'a MempoolEntry>,
    children: HashMap<Txid, Vec<Txid>>,
}

impl<'a> MempoolView<'a> {
    fn new(entries: &'a [(MempoolEntry, FirstSeen)]) -> Self {
        let mut by_txid = HashMap::with_capacity(entries.len());
        let mut children: HashMap<Txid, Vec<Txid>> = HashMap::new();
        for (e, _) in entries {
            by_txid.insert(e.txid, e);
            for parent in &e.parents {
                children.entry(*parent).or_default().push(e.txid);
            }
        }
        MempoolView { by_txid, children }
    }

    /// `txid` and everything reachable from it through `next`.
    fn closure(&self, txid: Txid, next: impl Fn(&Txid) -> Vec<Txid>) -> Vec<&'a MempoolEntry> {
        let mut seen = HashSet::new();
        let mut stack = vec![txid];
        let mut out = Vec::new();
        while let Some(t) = stack.pop() {
            if !seen.insert(t) {
                continue;
            }
            if let Some(e) = self.by_txid.get(&t) {
                out.push(*e);
            }
            stack.extend(next(&t));
        }
        out
    }

    fn entry_json(&self, e: &MempoolEntry, first: FirstSeen) -> Value {
        let ancestors = self.closure(e.txid, |t| {
            self.by_txid
                .get(t)
                .map(|x| x.parents.clone())
                .unwrap_or_default()
        });
        let descendants = self.closure(e.txid, |t| {
            self.children.get(t).cloned().unwrap_or_default()
        });
        let sum = |v: &[&MempoolEntry]| -> (u64, Amount) {
            v.iter().fold((0, Amount::ZERO), |(size, fee), x| {
                (
                    size.saturating_add(x.vsize),
                    fee.checked_add(x.fee).unwrap_or(Amount::MAX_MONEY),
                )
            })
        };
        let (ancestor_size, ancestor_fee) = sum(&ancestors);
        let (descendant_size, descendant_fee) = sum(&descendants);
        let depends: Vec<String> = e.parents.iter().map(ToString::to_string).collect();
        let spent_by: Vec<String> = self
            .children
            .get(&e.txid)
            .map(|c| c.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        json!({
            "vsize": e.vsize,
            "weight": e.weight,
            "time": first.time,
            "height": first.height,
            "descendantcount": descendants.len(),
            "descendantsize": descendant_size,
            "ancestorcount": ancestors.len(),
            "ancestorsize": ancestor_size,
            "wtxid": e.wtxid.to_string(),
            "fees": {
                "base": sat_to_btc(e.fee.to_sat()),
                "modified": sat_to_btc(e.fee.to_sat()),
                "ancestor": sat_to_btc(ancestor_fee.to_sat()),
                "descendant": sat_to_btc(descendant_fee.to_sat()),
            },
            "depends": depends,
            "spentby": spent_by,
            "bip125-replaceable": false,
            "unbroadcast": false,
        })
    }
}
