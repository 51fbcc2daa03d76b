//! Mining and block control: `generatetoaddress`, `generateblock`, `submitblock`,
//! `invalidateblock`, `reconsiderblock`. Block timestamps come from the server's clock (raised
//! above the median time past by the chain where needed).

use std::str::FromStr;

use bitcoin::{Address, Block, BlockHash, ScriptBuf, Transaction, Txid};
use serde_json::{json, Value};

use super::error::{
    RpcError, RPC_DESERIALIZATION_ERROR, RPC_INVALID_ADDRESS_OR_KEY, RPC_VERIFY_ERROR,
};
use super::json::NETWORK;
use super::params::{parse_hash, Params};
use super::script::with_checksum;
use super::service::Service;
use crate::error::{BlockReject, MineError};

/// Most blocks one `generatetoaddress` call mines (bounds the work of one request).
pub const MAX_BLOCKS_PER_CALL: u32 = 10_000;

/// The output script of a regtest address, with Core's error for anything else.
fn address_script(s: &str) -> Result<ScriptBuf, RpcError> {
    Address::from_str(s)
        .ok()
        .and_then(|a| a.require_network(NETWORK).ok())
        .map(|a| a.script_pubkey())
        .ok_or_else(|| RpcError::new(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address"))
}

/// `generateblock`'s output: an address, or an `addr(..)`/`raw(..)` descriptor (checksum
/// optional, verified when present).
fn output_script(s: &str) -> Result<ScriptBuf, RpcError> {
    let (body, checksum) = match s.split_once('#') {
        Some((b, c)) => (b, Some(c)),
        None => (s, None),
    };
    let bad = || RpcError::invalid_parameter("Error: Invalid address or descriptor");
    if let Some(c) = checksum {
        if with_checksum(body) != format!("{body}#{c}") {
            return Err(RpcError::invalid_parameter(format!(
                "Provided checksum '{c}' does not match computed checksum"
            )));
        }
    }
    if let Some(inner) = body.strip_prefix("addr(").and_then(|r| r.strip_suffix(')')) {
        return address_script(inner).map_err(|_| bad());
    }
    if let Some(inner) = body.strip_prefix("raw(").and_then(|r| r.strip_suffix(')')) {
        return hex::decode(inner)
            .map(ScriptBuf::from_bytes)
            .map_err(|_| bad());
    }
    address_script(body).map_err(|_| bad())
}

fn mine_error(e: MineError) -> RpcError {
    match e {
        MineError::Chain(c) => c.into(),
        other => RpcError::new(
            RPC_VERIFY_ERROR,
            format!("TestBlockValidity failed: {other}"),
        ),
    }
}

impl Service {
    pub(crate) fn generatetoaddress(&self, p: &Params) -> Result<Value, RpcError> {
        let n = p.u32(0, "nblocks")?;
        if n > MAX_BLOCKS_PER_CALL {
            return Err(RpcError::invalid_parameter(format!(
                "nblocks must be at most {MAX_BLOCKS_PER_CALL}"
            )));
        }
        let to = address_script(p.str(1, "address")?)?;
        let _maxtries = p.opt_u32(2, "maxtries")?;
        let hashes = self
            .chain
            .mine(n, &to, self.now_u32())
            .map_err(mine_error)?;
        let hashes: Vec<String> = hashes.iter().map(BlockHash::to_string).collect();
        Ok(json!(hashes))
    }

    pub(crate) fn generateblock(&self, p: &Params) -> Result<Value, RpcError> {
        let to = output_script(p.str(0, "output")?)?;
        let raw = p.required(1, "transactions")?;
        let list = raw
            .as_array()
            .ok_or_else(|| super::params::type_error(raw, "array"))?;
        if p.opt_bool(2)? == Some(false) {
            return Err(RpcError::invalid_parameter(
                "submit=false is not supported by this server",
            ));
        }
        let mempool = self.chain.mempool_entries()?;
        let mut txs: Vec<Transaction> = Vec::with_capacity(list.len());
        for item in list {
            let s = item
                .as_str()
                .ok_or_else(|| super::params::type_error(item, "string"))?;
            if s.len() == 64 {
                let txid: Txid = parse_hash(s, "txid")?;
                let entry = mempool.iter().find(|e| e.txid == txid).ok_or_else(|| {
                    RpcError::invalid_parameter(format!("Transaction {txid} not in mempool."))
                })?;
                txs.push(entry.tx.clone());
            } else {
                let tx = super::params::decode_consensus_hex::<Transaction>(s).map_err(|_| {
                    RpcError::new(
                        RPC_DESERIALIZATION_ERROR,
                        format!("Transaction decode failed for {}", s.get(..64).unwrap_or(s)),
                    )
                })?;
                txs.push(tx);
            }
        }
        // The timestamp must be above the median time past; the clock may lag a chain mined
        // with timestamps in the future.
        let time = self
            .now_u32()
            .max(self.chain.median_time_past()?.saturating_add(1));
        let hash = self
            .chain
            .mine_block_with(txs, &to, time)
            .map_err(mine_error)?;
        Ok(json!({ "hash": hash.to_string() }))
    }

    pub(crate) fn submitblock(&self, p: &Params) -> Result<Value, RpcError> {
        let hex = p.str(0, "hexdata")?;
        let block: Block = hex::decode(hex)
            .ok()
            .and_then(|b| bitcoin::consensus::deserialize(&b).ok())
            .ok_or_else(|| RpcError::new(RPC_DESERIALIZATION_ERROR, "Block decode failed"))?;
        match self.chain.submit_block(block) {
            Ok(_) => Ok(Value::Null),
            Err(MineError::Rejected(BlockReject::Duplicate)) => Ok(json!("duplicate")),
            Err(MineError::Rejected(BlockReject::PrevNotFound(_))) => Ok(json!("inconclusive")),
            Err(MineError::Rejected(r)) => Ok(json!(r.reason())),
            Err(e) => Err(mine_error(e)),
        }
    }

    pub(crate) fn invalidateblock(&self, p: &Params) -> Result<Value, RpcError> {
        let hash: BlockHash = p.hash(0, "blockhash")?;
        self.chain.invalidate_block(&hash)?;
        Ok(Value::Null)
    }

    pub(crate) fn reconsiderblock(&self, p: &Params) -> Result<Value, RpcError> {
        let hash: BlockHash = p.hash(0, "blockhash")?;
        self.chain.reconsider_block(&hash)?;
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_from_addresses_and_descriptors() {
        let addr = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
        let spk = output_script(addr).unwrap();
        assert!(spk.is_p2wpkh());
        assert_eq!(output_script(&format!("addr({addr})")).unwrap(), spk);
        assert_eq!(
            output_script(&with_checksum(&format!("addr({addr})"))).unwrap(),
            spk
        );
        assert!(output_script(&format!("addr({addr})#qqqqqqqq")).is_err());
        assert_eq!(output_script("raw(51)").unwrap().as_bytes(), [0x51]);
        // Mainnet and bcoin-style addresses are refused.
        assert!(output_script("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4").is_err());
        assert_eq!(address_script("rb1qxyz").unwrap_err().code, -5);
    }
}
