//! The RPC methods. Each takes its parameters by position or by name (see
//! [`Params`]) and returns a JSON object.
//!
//! | method | params | result |
//! | --- | --- | --- |
//! | `getinfo` | | `{node_id, alias, num_peers, num_channels, block_height, network, version, listen, feerate_per_kw}` |
//! | `newaddress` | | `{address}` |
//! | `walletbalance` | | `{confirmed_sat, unconfirmed_sat, immature_sat}` |
//! | `connect` | `id` (`PUBKEY@HOST:PORT`) | `{id}` once `init` is exchanged |
//! | `listpeers` | | `{peers: [{id, address, inbound, features, feature_names, connected_secs, last_ping_ms}]}` |
//! | `stop` | | `{status: "stopping"}`, then the node stops |
//! | `mine` | `blocks`, `address` (optional) | `{block_hashes, height}` once applied; **regtest, embedded chain only** |
//! | `decode` | `invoice` | the BOLT 11 invoice's fields |
//!
//! Channels and payments: see [`super::channel_methods`].

use bitcoin::hashes::{sha256, Hash};
use fulmen_onion::{Invoice, InvoiceDescription};
use serde_json::{json, Value};

use super::RpcError;
use crate::error::NodeError;
use crate::features::feature_names;
use crate::node::Node;
use crate::peer::{ConnectError, ConnectTarget};

/// Parameters given by position (array) or by name (object).
#[derive(Debug, Clone, Copy)]
pub struct Params<'a>(pub &'a Value);

impl<'a> Params<'a> {
    /// The parameter at `index` or named `name`; `None` if absent or null.
    pub fn get(&self, index: usize, name: &str) -> Option<&'a Value> {
        let v = match self.0 {
            Value::Array(items) => items.get(index),
            Value::Object(map) => map.get(name),
            _ => None,
        };
        v.filter(|v| !v.is_null())
    }

    /// A required string parameter.
    pub fn string(&self, index: usize, name: &str) -> Result<&'a str, RpcError> {
        self.get(index, name)
            .ok_or_else(|| RpcError::invalid_params(format!("missing parameter {name}")))?
            .as_str()
            .ok_or_else(|| RpcError::invalid_params(format!("{name} must be a string")))
    }

    /// An optional string parameter.
    pub fn opt_string(&self, index: usize, name: &str) -> Result<Option<&'a str>, RpcError> {
        match self.get(index, name) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| RpcError::invalid_params(format!("{name} must be a string"))),
        }
    }

    /// A required unsigned integer parameter (a number or a decimal string,
    /// as command lines pass them).
    pub fn u64(&self, index: usize, name: &str) -> Result<u64, RpcError> {
        let v = self
            .get(index, name)
            .ok_or_else(|| RpcError::invalid_params(format!("missing parameter {name}")))?;
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| RpcError::invalid_params(format!("{name} must be an unsigned integer")))
    }
}

fn internal(e: NodeError) -> RpcError {
    match e {
        NodeError::NotEmbedded => RpcError::new(RpcError::NOT_AVAILABLE, e.to_string()),
        NodeError::Config(what) => RpcError::invalid_params(what),
        other => RpcError::new(RpcError::INTERNAL_ERROR, other.to_string()),
    }
}

/// Runs `method`.
pub async fn dispatch(node: &Node, method: &str, params: &Value) -> Result<Value, RpcError> {
    let p = Params(params);
    if let Some(result) = super::channel_methods::dispatch(node, method, p).await {
        return result;
    }
    match method {
        "getinfo" => getinfo(node).await,
        "newaddress" => {
            let address = node.new_address().await.map_err(internal)?;
            Ok(json!({ "address": address.to_string() }))
        }
        "walletbalance" => {
            let b = node.wallet_balance().await.map_err(internal)?;
            Ok(json!({
                "confirmed_sat": b.confirmed.0,
                "unconfirmed_sat": b.unconfirmed().0,
                "immature_sat": b.immature.0,
            }))
        }
        "connect" => connect(node, p).await,
        "listpeers" => Ok(listpeers(node)),
        "stop" => {
            node.stop();
            Ok(json!({ "status": "stopping" }))
        }
        "mine" => mine(node, p).await,
        "decode" => decode(p),
        other => Err(RpcError::new(
            RpcError::METHOD_NOT_FOUND,
            format!(
                "unknown method {}",
                other.chars().take(64).collect::<String>()
            ),
        )),
    }
}

async fn getinfo(node: &Node) -> Result<Value, RpcError> {
    let info = node.info().await.map_err(internal)?;
    Ok(json!({
        "node_id": info.node_id.to_string(),
        "alias": info.alias,
        "num_peers": info.num_peers,
        "num_channels": info.num_channels,
        "block_height": info.block_height,
        "network": info.network.to_string(),
        "version": info.version,
        "listen": info.listen.map(|a| a.to_string()),
        "feerate_per_kw": info.feerate_per_kw,
    }))
}

async fn connect(node: &Node, p: Params<'_>) -> Result<Value, RpcError> {
    let target: ConnectTarget = p
        .string(0, "id")?
        .parse()
        .map_err(|e| RpcError::invalid_params(format!("{e}")))?;
    match node.connect(&target).await {
        Ok(()) => Ok(json!({ "id": target.node_id.to_string() })),
        Err(NodeError::Connect(ConnectError::SelfConnect)) => {
            Err(RpcError::invalid_params("cannot connect to ourselves"))
        }
        Err(e) => Err(RpcError::new(RpcError::CONNECT_FAILED, e.to_string())),
    }
}

fn listpeers(node: &Node) -> Value {
    let peers: Vec<Value> = node
        .list_peers()
        .into_iter()
        .map(|p| {
            json!({
                "id": p.node_id.to_string(),
                "address": p.addr.to_string(),
                "inbound": p.inbound,
                "features": hex::encode(p.features.to_wire()),
                "feature_names": feature_names(&p.features),
                "connected_secs": p.connected_for.as_secs(),
                "last_ping_ms": p.last_round_trip.map(|d| d.as_millis()),
            })
        })
        .collect();
    json!({ "peers": peers })
}

async fn mine(node: &Node, p: Params<'_>) -> Result<Value, RpcError> {
    let blocks = u32::try_from(p.u64(0, "blocks")?)
        .map_err(|_| RpcError::invalid_params("too many blocks"))?;
    let address = match p.opt_string(1, "address")? {
        Some(text) => Some(node.parse_address(text).map_err(internal)?),
        None => None,
    };
    let hashes = node.mine(blocks, address).await.map_err(internal)?;
    Ok(json!({
        "block_hashes": hashes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "height": node.block_height(),
    }))
}

/// `decode`: the invoice's fields (does not need the node).
pub fn decode(p: Params<'_>) -> Result<Value, RpcError> {
    let text = p.string(0, "invoice")?;
    let invoice = Invoice::parse(text.trim())
        .map_err(|e| RpcError::new(RpcError::INVALID_INVOICE, format!("invalid invoice: {e}")))?;
    Ok(invoice_json(&invoice))
}

/// The JSON form of an invoice.
pub fn invoice_json(invoice: &Invoice) -> Value {
    let (description, description_hash) = match invoice.description() {
        InvoiceDescription::Direct(d) => (Some(d), None),
        InvoiceDescription::Hash(h) => (None, Some(sha256::Hash::from_byte_array(h).to_string())),
    };
    let route_hints: Vec<Vec<Value>> = invoice
        .route_hints()
        .iter()
        .map(|route| {
            route
                .iter()
                .map(|h| {
                    json!({
                        "node_id": h.node_id.to_string(),
                        "short_channel_id": h.short_channel_id.to_string(),
                        "fee_base_msat": h.fee_base_msat,
                        "fee_proportional_millionths": h.fee_proportional_millionths,
                        "cltv_expiry_delta": h.cltv_expiry_delta,
                    })
                })
                .collect()
        })
        .collect();
    let features = invoice.features();
    json!({
        "network": invoice.network().to_string(),
        "payee": invoice.payee().to_string(),
        "amount_msat": invoice.amount().map(|a| a.0),
        "payment_hash": invoice.payment_hash().to_string(),
        "payment_secret": hex::encode(invoice.payment_secret().0),
        "description": description,
        "description_hash": description_hash,
        "timestamp": invoice.timestamp(),
        "expiry": invoice.expiry_secs(),
        "expires_at": invoice.timestamp().saturating_add(invoice.expiry_secs()),
        "min_final_cltv_expiry_delta": invoice.min_final_cltv_expiry_delta(),
        "route_hints": route_hints,
        "fallback_addresses": invoice.fallback_addresses().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "payment_metadata": invoice.payment_metadata().map(hex::encode),
        "features": hex::encode(features.to_wire()),
        "feature_names": feature_names(&features),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_by_position_or_name() {
        let pos = json!(["a", 5, null]);
        let named = json!({"id": "a", "blocks": "5"});
        assert_eq!(Params(&pos).string(0, "id"), Ok("a"));
        assert_eq!(Params(&named).string(0, "id"), Ok("a"));
        assert_eq!(Params(&pos).u64(1, "blocks"), Ok(5));
        assert_eq!(Params(&named).u64(1, "blocks"), Ok(5));
        assert_eq!(Params(&pos).opt_string(2, "x"), Ok(None));
        assert_eq!(Params(&Value::Null).opt_string(0, "x"), Ok(None));
        assert_eq!(
            Params(&pos).u64(0, "blocks").unwrap_err().code,
            RpcError::INVALID_PARAMS
        );
        assert_eq!(
            Params(&json!([])).string(0, "id").unwrap_err().code,
            RpcError::INVALID_PARAMS
        );
        assert_eq!(
            Params(&json!([-1])).u64(0, "n").unwrap_err().code,
            RpcError::INVALID_PARAMS
        );
    }

    /// BOLT 11's first example: "Please make a donation of any amount using
    /// payment_hash 0001020304050607080900010203040506070809000102030405060708090102
    /// to me @03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad".
    #[test]
    fn decodes_the_bolt11_donation_example() {
        let text = "lnbc1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6twvus8g6rfwvs8qun0dfjkxaq9qrsgq357wnc5r2ueh7ck6q93dj32dlqnls087fxdwk8qakdyafkq3yap9us6v52vjjsrvywa6rt52cm9r9zqt8r2t7mlcwspyetp5h2tztugp9lfyql";
        let v = decode(Params(&json!([text]))).unwrap();
        assert_eq!(v["network"], "bitcoin");
        assert_eq!(v["amount_msat"], Value::Null);
        assert_eq!(
            v["payment_hash"],
            "0001020304050607080900010203040506070809000102030405060708090102"
        );
        assert_eq!(v["description"], "Please consider supporting this project");
        assert_eq!(
            v["payee"],
            "03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad"
        );
        assert_eq!(v["timestamp"], 1496314658);
        assert_eq!(v["expiry"], 3600);
        let bad = decode(Params(&json!(["lnbc1xyz"]))).unwrap_err();
        assert_eq!(bad.code, RpcError::INVALID_INVOICE);
    }
}
