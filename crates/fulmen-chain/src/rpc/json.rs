//! Chain objects as Bitcoin Core's JSON: block headers, blocks (verbosity 1 to 3), transactions
//! (`TxToUniv`), mempool entries. Field names and types follow Core 28/29.
//!
//! Known differences: `scriptSig.asm` does not decode sighash types of signatures (Core appends
//! `[ALL]` and similar); `desc` for P2PKH/P2SH/segwit outputs is `addr(..)` (as Core infers it
//! without keys).

use bitcoin::block::Header;
use bitcoin::{Amount, Block, BlockHash, Network, OutPoint, Transaction, TxOut};
use serde_json::{json, Map, Value};

use super::params::sat_to_btc;
use super::script::script_pubkey_json;
use crate::embedded::BlockInfo;

/// The network whose addresses the JSON shows (the embedded chain is regtest).
pub const NETWORK: Network = Network::Regtest;

/// What an input spends, for fees and `prevout` objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prevout {
    /// The spent output.
    pub txout: TxOut,
    /// Height of the block that created it.
    pub height: u32,
    /// Whether it was created by a coinbase.
    pub generated: bool,
}

/// Core's `GetDifficulty` for compact bits.
pub fn difficulty(bits: u32) -> f64 {
    let mut shift = (bits >> 24) & 0xff;
    let mantissa = bits & 0x00ff_ffff;
    if mantissa == 0 {
        return 0.0;
    }
    let mut diff = f64::from(0x0000_ffff_u32) / f64::from(mantissa);
    while shift < 29 {
        diff *= 256.0;
        shift += 1;
    }
    while shift > 29 {
        diff /= 256.0;
        shift -= 1;
    }
    diff
}

/// 32 bytes as 64 lower-case hex digits, big-endian.
fn hex32(bytes: [u8; 32]) -> String {
    hex::encode(bytes)
}

/// The compact `bits` as Core prints them: 8 hex digits.
fn bits_hex(header: &Header) -> String {
    format!("{:08x}", header.bits.to_consensus())
}

/// Core's `blockheaderToJSON` (`getblockheader` verbose), also the header part of `getblock`.
pub fn header_json(hash: &BlockHash, info: &BlockInfo) -> Map<String, Value> {
    let h = &info.header;
    let mut m = Map::new();
    m.insert("hash".into(), json!(hash.to_string()));
    m.insert(
        "confirmations".into(),
        json!(info.confirmations.map_or(-1, i64::from)),
    );
    m.insert("height".into(), json!(info.height));
    m.insert("version".into(), json!(h.version.to_consensus()));
    m.insert(
        "versionHex".into(),
        json!(format!("{:08x}", h.version.to_consensus())),
    );
    m.insert("merkleroot".into(), json!(h.merkle_root.to_string()));
    m.insert("time".into(), json!(h.time));
    m.insert("mediantime".into(), json!(info.median_time_past));
    m.insert("nonce".into(), json!(h.nonce));
    m.insert("bits".into(), json!(bits_hex(h)));
    m.insert("target".into(), json!(hex32(h.target().to_be_bytes())));
    m.insert(
        "difficulty".into(),
        json!(difficulty(h.bits.to_consensus())),
    );
    m.insert(
        "chainwork".into(),
        json!(hex32(info.chainwork.to_be_bytes())),
    );
    m.insert("nTx".into(), json!(info.tx_count));
    if info.height > 0 {
        m.insert(
            "previousblockhash".into(),
            json!(h.prev_blockhash.to_string()),
        );
    }
    if let Some(next) = info.next {
        m.insert("nextblockhash".into(), json!(next.to_string()));
    }
    m
}

/// How much of each transaction `getblock`/`getrawtransaction` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxDetail {
    /// The decoded transaction.
    Plain,
    /// Plus `fee` when every input's prevout is known.
    WithFee,
    /// Plus `fee` and each input's `prevout`.
    WithPrevouts,
}

/// Core's `TxToUniv`: the decoded transaction, with `hex` when `include_hex`.
pub fn tx_json(
    tx: &Transaction,
    detail: TxDetail,
    include_hex: bool,
    prevout: &dyn Fn(&OutPoint) -> Option<Prevout>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("txid".into(), json!(tx.compute_txid().to_string()));
    m.insert("hash".into(), json!(tx.compute_wtxid().to_string()));
    m.insert("version".into(), json!(tx.version.0));
    m.insert("size".into(), json!(tx.total_size()));
    m.insert("vsize".into(), json!(tx.vsize()));
    m.insert("weight".into(), json!(tx.weight().to_wu()));
    m.insert("locktime".into(), json!(tx.lock_time.to_consensus_u32()));
    let coinbase = tx.is_coinbase();
    let mut value_in = Some(Amount::ZERO);
    let mut vin = Vec::with_capacity(tx.input.len());
    for input in &tx.input {
        let mut i = Map::new();
        if coinbase {
            i.insert(
                "coinbase".into(),
                json!(hex::encode(input.script_sig.as_bytes())),
            );
        } else {
            i.insert("txid".into(), json!(input.previous_output.txid.to_string()));
            i.insert("vout".into(), json!(input.previous_output.vout));
            i.insert(
                "scriptSig".into(),
                json!({
                    "asm": super::script::asm(&input.script_sig),
                    "hex": hex::encode(input.script_sig.as_bytes()),
                }),
            );
        }
        if !input.witness.is_empty() {
            let items: Vec<String> = input.witness.iter().map(hex::encode).collect();
            i.insert("txinwitness".into(), json!(items));
        }
        if !coinbase && detail != TxDetail::Plain {
            let prev = prevout(&input.previous_output);
            value_in = match (value_in, &prev) {
                (Some(acc), Some(p)) => acc.checked_add(p.txout.value),
                _ => None,
            };
            if detail == TxDetail::WithPrevouts {
                if let Some(p) = prev {
                    i.insert(
                        "prevout".into(),
                        json!({
                            "generated": p.generated,
                            "height": p.height,
                            "value": sat_to_btc(p.txout.value.to_sat()),
                            "scriptPubKey": script_pubkey_json(&p.txout.script_pubkey, NETWORK),
                        }),
                    );
                }
            }
        }
        i.insert("sequence".into(), json!(input.sequence.0));
        vin.push(Value::Object(i));
    }
    m.insert("vin".into(), Value::Array(vin));
    let vout: Vec<Value> = tx
        .output
        .iter()
        .enumerate()
        .map(|(n, out)| {
            json!({
                "value": sat_to_btc(out.value.to_sat()),
                "n": n,
                "scriptPubKey": script_pubkey_json(&out.script_pubkey, NETWORK),
            })
        })
        .collect();
    m.insert("vout".into(), Value::Array(vout));
    if !coinbase && detail != TxDetail::Plain {
        let value_out = tx
            .output
            .iter()
            .try_fold(Amount::ZERO, |acc, o| acc.checked_add(o.value));
        if let Some(fee) = value_in.zip(value_out).and_then(|(i, o)| i.checked_sub(o)) {
            m.insert("fee".into(), sat_to_btc(fee.to_sat()));
        }
    }
    if include_hex {
        m.insert(
            "hex".into(),
            json!(bitcoin::consensus::encode::serialize_hex(tx)),
        );
    }
    m
}

/// Core's `blockToJSON` for verbosity 1 (txids), 2 (decoded transactions with fees) or 3 (with
/// prevouts).
pub fn block_json(
    block: &Block,
    info: &BlockInfo,
    verbosity: u8,
    prevout: &dyn Fn(&OutPoint) -> Option<Prevout>,
) -> Value {
    let hash = block.block_hash();
    let mut m = header_json(&hash, info);
    let size = block.total_size();
    let weight = block.weight().to_wu();
    // weight = 3 * stripped + total.
    let stripped = weight.saturating_sub(size as u64) / 3;
    m.insert("size".into(), json!(size));
    m.insert("strippedsize".into(), json!(stripped));
    m.insert("weight".into(), json!(weight));
    let txs: Vec<Value> = if verbosity <= 1 {
        block
            .txdata
            .iter()
            .map(|tx| json!(tx.compute_txid().to_string()))
            .collect()
    } else {
        let detail = if verbosity >= 3 {
            TxDetail::WithPrevouts
        } else {
            TxDetail::WithFee
        };
        block
            .txdata
            .iter()
            .map(|tx| Value::Object(tx_json(tx, detail, true, prevout)))
            .collect()
    };
    m.insert("tx".into(), Value::Array(txs));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difficulty_of_regtest_and_mainnet_bits() {
        assert_eq!(difficulty(0x1d00_ffff), 1.0);
        let regtest = difficulty(0x207f_ffff);
        assert!((regtest - 4.656_542_373_906_925e-10).abs() < 1e-20);
        assert_eq!(difficulty(0x1d00_0000), 0.0);
    }
}
