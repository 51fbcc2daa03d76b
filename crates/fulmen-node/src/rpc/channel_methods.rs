//! The channel and payment RPC methods.
//!
//! | method | params | result |
//! | --- | --- | --- |
//! | `openchannel` | `id`, `amount_sat`, `push_msat`?, `private`? | `{channel_id, funding_txid, funding_output_index}` once the funding is broadcast |
//! | `listchannels` | | `{channels: [{channel_id, short_channel_id, peer_id, state, phase, capacity_sat, local_balance_msat, remote_balance_msat, funder, funding_txid, close_txid, htlcs, connected, onchain: null or {spend_txid, kind, confirmed_at, pending: [{outpoint, value_sat, kind, ready_height, deadline_height}]}}]}` |
//! | `closechannel` | `channel_id`, `force`? | `{txid, type}` once broadcast |
//! | `invoice` | `amount_msat`, `label`, `description` | `{bolt11, payment_hash, expires_at}` |
//! | `pay` | `bolt11`, `amount_msat`? | `{status, payment_hash, payment_preimage, amount_msat, fee_msat, attempts, route, destination, failure, failure_code}`, `status` `complete` or `failed`; `route` the node ids after us |
//! | `keysend` | `id`, `amount_msat` | as `pay` |
//! | `listinvoices` | | `{invoices: [...]}` |
//! | `listpayments` | | `{payments: [...]}` |
//! | `listforwards` | | `{forwards: [{in_channel, in_htlc_id, out_channel, out_htlc_id, payment_hash, in_msat, out_msat, fee_msat, status, failure_code, received_at, resolved_at}]}` |

use fulmen_types::{ChannelId, Msat, NodeId, Sat};
use serde_json::{json, Value};

use super::methods::Params;
use super::RpcError;
use crate::channels::{ChannelInfo, PaymentOutcome};
use crate::error::NodeError;
use crate::node::Node;

fn node_error(e: NodeError) -> RpcError {
    match e {
        NodeError::Command(c) => c.into(),
        NodeError::Config(what) => RpcError::invalid_params(what),
        NodeError::Invoice(e) => {
            RpcError::new(RpcError::INVALID_INVOICE, format!("invalid invoice: {e}"))
        }
        other => RpcError::new(RpcError::INTERNAL_ERROR, other.to_string()),
    }
}

fn opt_u64(p: &Params<'_>, index: usize, name: &str) -> Result<Option<u64>, RpcError> {
    match p.get(index, name) {
        None => Ok(None),
        Some(_) => p.u64(index, name).map(Some),
    }
}

fn opt_bool(p: &Params<'_>, index: usize, name: &str) -> Result<bool, RpcError> {
    match p.get(index, name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" => Ok(true),
        Some(Value::String(s)) if s == "false" => Ok(false),
        Some(_) => Err(RpcError::invalid_params(format!(
            "{name} must be a boolean"
        ))),
    }
}

fn node_id(p: &Params<'_>, index: usize) -> Result<NodeId, RpcError> {
    p.string(index, "id")?
        .trim()
        .parse()
        .map_err(|_| RpcError::invalid_params("id must be a node id (33-byte hex public key)"))
}

/// Runs a channel or payment method; `None` if `method` is not one.
pub async fn dispatch(node: &Node, method: &str, p: Params<'_>) -> Option<Result<Value, RpcError>> {
    Some(match method {
        "openchannel" => openchannel(node, p).await,
        "listchannels" => listchannels(node).await,
        "closechannel" => closechannel(node, p).await,
        "invoice" => invoice(node, p).await,
        "pay" => pay(node, p).await,
        "keysend" => keysend(node, p).await,
        "listinvoices" => listinvoices(node).await,
        "listpayments" => listpayments(node).await,
        "listforwards" => listforwards(node).await,
        _ => return None,
    })
}

async fn openchannel(node: &Node, p: Params<'_>) -> Result<Value, RpcError> {
    let peer = node_id(&p, 0)?;
    let amount = p.u64(1, "amount_sat")?;
    let push = opt_u64(&p, 2, "push_msat")?.unwrap_or(0);
    let private = opt_bool(&p, 3, "private")?;
    let opened = node
        .open_channel(peer, Sat(amount), Msat(push), !private)
        .await
        .map_err(node_error)?;
    Ok(json!({
        "channel_id": opened.channel_id.to_string(),
        "funding_txid": opened.funding_txid.to_string(),
        "funding_output_index": opened.funding_output_index,
    }))
}

/// The JSON form of a channel.
pub fn channel_json(c: &ChannelInfo) -> Value {
    json!({
        "channel_id": c.channel_id.to_string(),
        "short_channel_id": c.short_channel_id.map(|s| s.to_string()),
        "peer_id": c.peer_id.to_string(),
        "state": c.state,
        "phase": c.phase,
        "capacity_sat": c.capacity.0,
        "local_balance_msat": c.local_balance.0,
        "remote_balance_msat": c.remote_balance.0,
        "funder": c.funder_is_local.map(|l| if l { "local" } else { "remote" }),
        "funding_txid": c.funding_txid.map(|t| t.to_string()),
        "close_txid": c.close_txid.map(|t| t.to_string()),
        "htlcs": c.htlcs,
        "feerate_per_kw": c.feerate_per_kw,
        "connected": c.connected,
        "onchain": c.onchain.as_ref().map(|o| json!({
            "spend_txid": o.spend_txid.to_string(),
            "kind": o.kind,
            "confirmed_at": o.confirmed_at,
            "pending": o.pending.iter().map(|p| json!({
                "outpoint": p.outpoint.to_string(),
                "value_sat": p.value.0,
                "kind": p.kind,
                "ready_height": p.ready_height,
                "deadline_height": p.deadline_height,
            })).collect::<Vec<_>>(),
        })),
    })
}

async fn listchannels(node: &Node) -> Result<Value, RpcError> {
    let channels = node.list_channels().await.map_err(node_error)?;
    Ok(json!({ "channels": channels.iter().map(channel_json).collect::<Vec<_>>() }))
}

async fn closechannel(node: &Node, p: Params<'_>) -> Result<Value, RpcError> {
    let id: ChannelId = p
        .string(0, "channel_id")?
        .trim()
        .parse()
        .map_err(|_| RpcError::invalid_params("channel_id must be 32 bytes of hex"))?;
    let force = opt_bool(&p, 1, "force")?;
    let txid = node.close_channel(id, force).await.map_err(node_error)?;
    Ok(json!({
        "txid": txid.to_string(),
        "type": if force { "unilateral" } else { "mutual" },
    }))
}

async fn invoice(node: &Node, p: Params<'_>) -> Result<Value, RpcError> {
    let amount = p.u64(0, "amount_msat")?;
    let label = p.string(1, "label")?;
    let description = p.string(2, "description")?;
    let amount = (amount > 0).then_some(Msat(amount));
    let created = node
        .create_invoice(amount, label, description)
        .await
        .map_err(node_error)?;
    Ok(json!({
        "bolt11": created.bolt11,
        "payment_hash": created.payment_hash.to_string(),
        "expires_at": created.expires_at,
    }))
}

/// The JSON form of a payment outcome.
pub fn outcome_json(o: &PaymentOutcome) -> Value {
    json!({
        "status": o.status.as_str(),
        "payment_hash": o.payment_hash.to_string(),
        "payment_preimage": o.preimage.map(|p| p.to_hex()),
        "amount_msat": o.amount.0,
        "fee_msat": o.fee.0,
        "attempts": o.attempts,
        "route": o.route.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "destination": o.destination.map(|d| d.to_string()),
        "failure": o.failure,
        "failure_code": o.failure_code,
    })
}

async fn pay(node: &Node, p: Params<'_>) -> Result<Value, RpcError> {
    let bolt11 = p.string(0, "bolt11")?;
    let amount = opt_u64(&p, 1, "amount_msat")?.map(Msat);
    let outcome = node.pay_invoice(bolt11, amount).await.map_err(node_error)?;
    Ok(outcome_json(&outcome))
}

async fn keysend(node: &Node, p: Params<'_>) -> Result<Value, RpcError> {
    let destination = node_id(&p, 0)?;
    let amount = p.u64(1, "amount_msat")?;
    let outcome = node
        .keysend(destination, Msat(amount))
        .await
        .map_err(node_error)?;
    Ok(outcome_json(&outcome))
}

async fn listinvoices(node: &Node) -> Result<Value, RpcError> {
    let invoices = node.list_invoices().await.map_err(node_error)?;
    let list: Vec<Value> = invoices
        .iter()
        .map(|i| {
            let paid = i.status == fulmen_store::InvoiceStatus::Paid;
            json!({
                "label": i.label,
                "bolt11": (!i.bolt11.is_empty()).then_some(&i.bolt11),
                "keysend": i.bolt11.is_empty(),
                "payment_hash": i.payment_hash.to_string(),
                "amount_msat": i.amount.map(|a| a.0),
                "status": i.status.as_str(),
                "created_at": i.created_at,
                "expires_at": i.expires_at,
                "paid_at": i.paid_at,
                "amount_received_msat": i.amount_received.map(|a| a.0),
                "payment_preimage": if paid { i.preimage.map(|p| p.to_hex()) } else { None },
            })
        })
        .collect();
    Ok(json!({ "invoices": list }))
}

async fn listpayments(node: &Node) -> Result<Value, RpcError> {
    let payments = node.list_payments().await.map_err(node_error)?;
    let list: Vec<Value> = payments
        .iter()
        .map(|p| {
            let status = match p.status {
                fulmen_store::PaymentStatus::Succeeded => "complete",
                fulmen_store::PaymentStatus::Failed => "failed",
                _ => "pending",
            };
            json!({
                "payment_hash": p.payment_hash.to_string(),
                "destination": p.destination.map(|d| d.to_string()),
                "amount_msat": p.amount.0,
                "status": status,
                "payment_preimage": p.preimage.map(|x| x.to_hex()),
                "fee_msat": p.fee.map(|f| f.0),
                "bolt11": p.bolt11,
                "created_at": p.created_at,
                "completed_at": p.completed_at,
            })
        })
        .collect();
    Ok(json!({ "payments": list }))
}

async fn listforwards(node: &Node) -> Result<Value, RpcError> {
    let forwards = node.list_forwards().await.map_err(node_error)?;
    let list: Vec<Value> = forwards
        .iter()
        .map(|f| {
            json!({
                "in_channel": f.in_channel.to_string(),
                "in_htlc_id": f.in_htlc_id,
                "out_channel": f.out_channel.map(|c| c.to_string()),
                "out_htlc_id": f.out_htlc_id,
                "payment_hash": f.payment_hash.to_string(),
                "in_msat": f.in_amount.0,
                "out_msat": f.out_amount.map(|a| a.0),
                "fee_msat": f.fee().map(|a| a.0),
                "status": f.status.as_str(),
                "failure_code": f.failure_code,
                "received_at": f.received_at,
                "resolved_at": f.resolved_at,
            })
        })
        .collect();
    Ok(json!({ "forwards": list }))
}
