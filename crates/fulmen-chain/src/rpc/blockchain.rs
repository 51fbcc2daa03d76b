//! Blockchain queries: `getblockchaininfo`, `getbestblockhash`, `getblockcount`, `getblockhash`,
//! `getblockheader`, `getblock`, `gettxout`, `getrawtransaction`.

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{BlockHash, OutPoint, Txid};
use serde_json::{json, Value};

use super::error::RpcError;
use super::json::{block_json, difficulty, header_json, tx_json, Prevout, TxDetail, NETWORK};
use super::params::{sat_to_btc, Params};
use super::script::script_pubkey_json;
use super::service::Service;
use crate::embedded::BlockInfo;
use crate::source::{ChainSource, TxStatus};

impl Service {
    pub(crate) fn getblockchaininfo(&self) -> Result<Value, RpcError> {
        let info = self.chain.chain_info()?;
        let header = self
            .chain
            .block_info(&info.tip.hash)?
            .map(|b| b.header)
            .ok_or_else(|| RpcError::not_found("Block not found"))?;
        Ok(json!({
            "chain": "regtest",
            "blocks": info.tip.height,
            "headers": info.tip.height,
            "bestblockhash": info.tip.hash.to_string(),
            "bits": format!("{:08x}", header.bits.to_consensus()),
            "target": hex::encode(header.target().to_be_bytes()),
            "difficulty": difficulty(header.bits.to_consensus()),
            "time": header.time,
            "mediantime": info.median_time_past,
            "verificationprogress": 1.0,
            "initialblockdownload": false,
            "chainwork": hex::encode(info.chainwork.to_be_bytes()),
            "size_on_disk": 0,
            "pruned": false,
            "warnings": [],
        }))
    }

    pub(crate) fn getbestblockhash(&self) -> Result<Value, RpcError> {
        Ok(json!(self.chain.tip()?.hash.to_string()))
    }

    pub(crate) fn getblockcount(&self) -> Result<Value, RpcError> {
        Ok(json!(self.chain.tip()?.height))
    }

    pub(crate) fn getblockhash(&self, p: &Params) -> Result<Value, RpcError> {
        let height = match p.required(0, "height")? {
            serde_json::Value::Number(n) => n
                .as_u64()
                .and_then(|h| u32::try_from(h).ok())
                .ok_or_else(|| RpcError::invalid_parameter("Block height out of range"))?,
            other => return Err(super::params::type_error(other, "number")),
        };
        match self.chain.block_hash_at(height)? {
            Some(hash) => Ok(json!(hash.to_string())),
            None => Err(RpcError::invalid_parameter("Block height out of range")),
        }
    }

    fn info_of(&self, hash: &BlockHash) -> Result<BlockInfo, RpcError> {
        self.chain
            .block_info(hash)?
            .ok_or_else(|| RpcError::not_found("Block not found"))
    }

    pub(crate) fn getblockheader(&self, p: &Params) -> Result<Value, RpcError> {
        let hash: BlockHash = p.hash(0, "blockhash")?;
        let verbose = p.opt_bool(1)?.unwrap_or(true);
        let info = self.info_of(&hash)?;
        if verbose {
            Ok(Value::Object(header_json(&hash, &info)))
        } else {
            Ok(json!(serialize_hex(&info.header)))
        }
    }

    pub(crate) fn getblock(&self, p: &Params) -> Result<Value, RpcError> {
        let hash: BlockHash = p.hash(0, "blockhash")?;
        let verbosity = p.verbosity(1, 1)?;
        if verbosity > 3 {
            return Err(RpcError::invalid_parameter("Invalid verbosity value"));
        }
        let info = self.info_of(&hash)?;
        let block = self
            .chain
            .block(&hash)?
            .ok_or_else(|| RpcError::not_found("Block not found"))?;
        if verbosity == 0 {
            return Ok(json!(serialize_hex(&block)));
        }
        let prevout = |o: &OutPoint| self.prevout(o);
        Ok(block_json(&block, &info, verbosity, &prevout))
    }

    /// What `outpoint` pays, if its transaction is known (confirmed in the active chain, or in the
    /// mempool).
    pub(crate) fn prevout(&self, outpoint: &OutPoint) -> Option<Prevout> {
        let found = self.chain.transaction(&outpoint.txid).ok()??;
        let txout = found
            .tx
            .output
            .get(usize::try_from(outpoint.vout).ok()?)?
            .clone();
        let height = match found.status {
            TxStatus::Confirmed { block, .. } => block.height,
            _ => self.chain.tip().ok()?.height.saturating_add(1),
        };
        Some(Prevout {
            txout,
            height,
            generated: found.position == Some(0),
        })
    }

    pub(crate) fn gettxout(&self, p: &Params) -> Result<Value, RpcError> {
        let txid: Txid = p.hash(0, "txid")?;
        let vout = p.u32(1, "n")?;
        let include_mempool = p.opt_bool(2)?.unwrap_or(true);
        let tip = self.chain.tip()?;
        match self
            .chain
            .tx_out(&OutPoint { txid, vout }, include_mempool)?
        {
            None => Ok(Value::Null),
            Some(utxo) => Ok(json!({
                "bestblock": tip.hash.to_string(),
                "confirmations": utxo.confirmations,
                "value": sat_to_btc(utxo.txout.value.to_sat()),
                "scriptPubKey": script_pubkey_json(&utxo.txout.script_pubkey, NETWORK),
                "coinbase": utxo.is_coinbase,
            })),
        }
    }

    pub(crate) fn getrawtransaction(&self, p: &Params) -> Result<Value, RpcError> {
        let txid: Txid = p.hash(0, "txid")?;
        let verbosity = p.verbosity(1, 0)?;
        let in_block: Option<BlockHash> = match p.get(2) {
            Some(_) => Some(p.hash(2, "blockhash")?),
            None => None,
        };
        let (tx, block) = match in_block {
            Some(hash) => {
                let info = self
                    .chain
                    .block_info(&hash)?
                    .ok_or_else(|| RpcError::not_found("Block hash not found"))?;
                let block = self
                    .chain
                    .block(&hash)?
                    .ok_or_else(|| RpcError::not_found("Block hash not found"))?;
                let tx = block
                    .txdata
                    .into_iter()
                    .find(|t| t.compute_txid() == txid)
                    .ok_or_else(|| {
                        RpcError::not_found(
                            "No such transaction found in the provided block. Use gettransaction \
                             for wallet transactions.",
                        )
                    })?;
                (tx, Some((hash, info)))
            }
            None => {
                let found = self.chain.transaction(&txid)?.ok_or_else(|| {
                    RpcError::not_found(
                        "No such mempool or blockchain transaction. Use gettransaction for \
                         wallet transactions.",
                    )
                })?;
                let block = match found.status {
                    TxStatus::Confirmed { block, .. } => self
                        .chain
                        .block_info(&block.hash)?
                        .map(|info| (block.hash, info)),
                    _ => None,
                };
                (found.tx, block)
            }
        };
        if verbosity == 0 {
            return Ok(json!(serialize_hex(&tx)));
        }
        let detail = if verbosity >= 2 {
            TxDetail::WithPrevouts
        } else {
            TxDetail::Plain
        };
        let prevout = |o: &OutPoint| self.prevout(o);
        let mut m = tx_json(&tx, detail, true, &prevout);
        if let Some((hash, info)) = block {
            if in_block.is_some() {
                m.insert(
                    "in_active_chain".into(),
                    json!(info.confirmations.is_some()),
                );
            }
            m.insert("blockhash".into(), json!(hash.to_string()));
            let confirmations = info.confirmations.unwrap_or(0);
            m.insert("confirmations".into(), json!(confirmations));
            m.insert("time".into(), json!(info.header.time));
            m.insert("blocktime".into(), json!(info.header.time));
        }
        Ok(serde_json::Value::Object(m))
    }
}
