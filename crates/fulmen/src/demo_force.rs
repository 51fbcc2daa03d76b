//! The `force-close` scenario of `fulmen demo`: a unilateral close with
//! HTLCs in flight, resolved on chain (BOLT 5 "Unilateral Close
//! Handling"), with real nodes.
//!
//! Judy opens a 4 BTC channel to Karl and pushes 2 BTC to him. Two HTLCs
//! are made to stay in flight deterministically: each side pays one part
//! of a multi-part payment of an invoice of the other (0.5 of 1 BTC from
//! Judy, 0.3 of 0.6 BTC from Karl); the payee holds a part while waiting
//! for the rest (its `mpp_timeout` is set to an hour). Judy then
//! force-closes. Both nodes know the preimages of their own invoices, so
//! each HTLC is claimed by its payee on chain: Karl takes the 0.5 BTC HTLC
//! output of Judy's commitment directly with the preimage; Judy spends the
//! 0.3 BTC one with her pre-signed HTLC-success transaction, whose output
//! is hers after Karl's `to_self_delay`, like her `to_local`. Each payer's
//! node reads the preimage from the chain and its payment completes.
//!
//! The channel is `option_static_remotekey` (`prefer_anchors = false`):
//! the node does not yet build the HTLC transactions of anchor channels
//! (they need wallet inputs).

use std::time::Duration;

use bitcoin::OutPoint;
use fulmen_chain::{ChainSource, EmbeddedChain, EmbeddedConfig};
use fulmen_channel::ChannelConfig;
use fulmen_graph::router::{Route, RouteHop};
use fulmen_node::{Node, NodeEvent, PayRequest, PaymentOutcome};
use fulmen_onion::Invoice;
use fulmen_types::{Msat, PaymentHash, Sat, ShortChannelId};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::demo::{btc, DemoResult, Steps};
use crate::demo_pair::{
    base_dir, channel, confirmed, confirmed_at, mine, next_event, out_sat, sat_btc, spender, start,
    stop, target, tip_tx, wait_balance, wait_height, wait_htlcs, Peer, Settings, COIN,
};

/// The channel: 4 BTC.
const CAPACITY_SAT: u64 = 4 * COIN;
/// Pushed to Karl at opening: 2 BTC.
const PUSH_SAT: u64 = 2 * COIN;
/// Judy's HTLC to Karl: 0.5 BTC, part of a 1 BTC invoice.
const JUDY_HTLC_SAT: u64 = COIN / 2;
/// Karl's HTLC to Judy: 0.3 BTC, part of a 0.6 BTC invoice.
const KARL_HTLC_SAT: u64 = 3 * COIN / 10;
/// The HTLCs expire this many blocks after they are offered.
const HTLC_BLOCKS: u32 = 100;

/// Runs the scenario; returns the `force_close` part of the JSON document.
pub(crate) fn force_close_scenario(steps: &mut Steps) -> DemoResult<Value> {
    crate::demo::block_on(run(steps))
}

async fn run(steps: &mut Steps) -> DemoResult<Value> {
    steps.say(
        format!(
            "fulmen {} — demo scenario \"force-close\": Judy closes alone with two HTLCs in flight; everything is resolved on chain",
            env!("CARGO_PKG_VERSION")
        ),
        json!({}),
    );
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let base = base_dir("force-close");
    let settings = Settings {
        channel: ChannelConfig {
            prefer_anchors: false,
            ..ChannelConfig::default()
        },
        mpp_timeout_secs: 3600,
    };
    let mut judy = start("Judy", base.join("judy"), &chain, &settings).await?;
    let mut karl = start("Karl", base.join("karl"), &chain, &settings).await?;
    let result = scenario(steps, &chain, &settings, &mut judy, &mut karl).await;
    stop(judy).await;
    stop(karl).await;
    let _ = std::fs::remove_dir_all(&base);
    result
}

async fn scenario(
    steps: &mut Steps,
    chain: &EmbeddedChain,
    settings: &Settings,
    j: &mut Peer,
    k: &mut Peer,
) -> DemoResult<Value> {
    for p in [&*j, &*k] {
        steps.say(
            format!("{:<4} is node {}", p.name, p.node.node_id()),
            json!({ "node": p.name, "node_id": p.node.node_id().to_string() }),
        );
    }
    j.node.mine(1, None).await?;
    mine(j, 100).await?;
    wait_balance(j, 50 * COIN).await?;
    j.node.connect(&target(k)?).await?;
    let opened = j
        .node
        .open_channel(
            k.node.node_id(),
            Sat(CAPACITY_SAT),
            Msat(PUSH_SAT * 1000),
            false,
        )
        .await?;
    let id = opened.channel_id;
    mine(j, 3).await?;
    let scid = wait_ready(j, id).await?;
    wait_ready(k, id).await?;
    steps.say(
        format!(
            "Judy mines 50 BTC, opens a 4 BTC channel to Karl (option_static_remotekey) and pushes 2 BTC to him (funding {})",
            opened.funding_txid
        ),
        json!({ "capacity_sat": CAPACITY_SAT, "push_sat": PUSH_SAT, "funding_txid": opened.funding_txid.to_string(), "short_channel_id": scid.to_string() }),
    );

    // Two HTLCs held in flight: one part of each multi-part payment.
    let judy_pays = pay_part(j, k, scid, JUDY_HTLC_SAT, 2 * JUDY_HTLC_SAT).await?;
    let karl_pays = pay_part(k, j, scid, KARL_HTLC_SAT, 2 * KARL_HTLC_SAT).await?;
    wait_htlcs(j, k, id, 2).await?;
    let info = channel(j, id).await?;
    steps.say(
        format!(
            "Judy pays 0.5 BTC as one part of Karl's 1 BTC invoice and Karl pays 0.3 BTC as one part of Judy's 0.6 BTC invoice: each payee holds its part, waiting for the rest; two HTLCs in flight, Judy {} BTC / Karl {} BTC besides them",
            btc(info.local_balance.0),
            btc(info.remote_balance.0)
        ),
        json!({ "htlcs": info.htlcs, "judy_to_karl_sat": JUDY_HTLC_SAT, "karl_to_judy_sat": KARL_HTLC_SAT, "msat": [info.local_balance.0, info.remote_balance.0] }),
    );
    let judy_before = confirmed(j).await?;
    let karl_before = confirmed(k).await?;

    let txid = j.node.close_channel(id, true).await?;
    mine(j, 1).await?;
    let commitment = tip_tx(chain, txid)?;
    let height = chain.tip()?.height;
    let delay = u32::from(settings.channel.to_self_delay);
    let value = |o: &bitcoin::TxOut| o.value.to_sat();
    let role = |sat: u64| match sat {
        JUDY_HTLC_SAT => "HTLC Judy → Karl",
        KARL_HTLC_SAT => "HTLC Karl → Judy",
        s if s == PUSH_SAT - KARL_HTLC_SAT => "to_remote (Karl)",
        _ => "to_local (Judy, after the delay)",
    };
    steps.say(
        format!(
            "Judy force-closes: her commitment {} confirms at block {} with {}",
            txid,
            height,
            commitment
                .output
                .iter()
                .map(|o| format!("{} {}", role(value(o)), sat_btc(value(o))))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        json!({ "commitment_txid": txid.to_string(), "height": height, "outputs": commitment.output.iter().map(|o| json!({ "role": role(value(o)), "value_sat": value(o) })).collect::<Vec<_>>() }),
    );

    // The outputs claimable at once: Karl's to_remote, each HTLC by its
    // payee (the preimage is the payee's own).
    let mut outputs = Vec::new();
    for (vout, o) in commitment.output.iter().enumerate() {
        outputs.push((
            OutPoint {
                txid,
                vout: u32::try_from(vout)?,
            },
            value(o),
        ));
    }
    let find = |sat: u64| {
        outputs
            .iter()
            .find(|(_, v)| *v == sat)
            .map(|(o, _)| *o)
            .ok_or(format!("no output of {sat} sat"))
    };
    let to_remote = find(PUSH_SAT - KARL_HTLC_SAT)?;
    let htlc_to_karl = find(JUDY_HTLC_SAT)?;
    let htlc_to_judy = find(KARL_HTLC_SAT)?;
    let to_local = outputs
        .iter()
        .find(|(o, _)| ![to_remote, htlc_to_karl, htlc_to_judy].contains(o))
        .map(|(o, _)| *o)
        .ok_or("no to_local output")?;

    let karl_remote = spender(chain, to_remote).await?;
    let karl_htlc = spender(chain, htlc_to_karl).await?;
    let judy_success = spender(chain, htlc_to_judy).await?;
    mine(j, 1).await?;
    let mut karl_got = 0;
    let mut sweeps = Vec::new();
    for (tx, what) in [
        (&karl_remote, "his to_remote"),
        (
            &karl_htlc,
            "the 0.5 BTC HTLC output, with the preimage of his invoice",
        ),
    ] {
        let t = tx.compute_txid();
        if !sweeps.contains(&t) {
            sweeps.push(t);
            karl_got += out_sat(tx);
        }
        let at = confirmed_at(chain, t).await?;
        steps.say(
            format!("Karl's node takes {what}: {t} (paying him {} in all) confirms at block {at}", sat_btc(out_sat(tx))),
            json!({ "node": "Karl", "txid": t.to_string(), "value_sat": out_sat(tx), "height": at }),
        );
    }
    let success_at = confirmed_at(chain, judy_success.compute_txid()).await?;
    steps.say(
        format!(
            "Judy's node broadcasts its pre-signed HTLC-success transaction for the 0.3 BTC HTLC with the preimage of her invoice: {} confirms at block {}; its {} output is hers after {} blocks",
            judy_success.compute_txid(),
            success_at,
            sat_btc(out_sat(&judy_success)),
            delay
        ),
        json!({ "node": "Judy", "txid": judy_success.compute_txid().to_string(), "value_sat": out_sat(&judy_success), "height": success_at, "csv": delay }),
    );
    let (judy_call, judy_status) = outcome(j, judy_pays).await?;
    let (karl_call, karl_status) = outcome(k, karl_pays).await?;
    steps.say(
        format!(
            "the payers' calls returned when the channel closed ({judy_call}); each payer's node then reads the preimage from the other's claim on chain: Judy's payment is {judy_status}, Karl's is {karl_status}"
        ),
        json!({ "judy_call": judy_call, "karl_call": karl_call, "judy_payment": judy_status, "karl_payment": karl_status }),
    );
    // Judy's delayed outputs: nothing before the CSV delay, swept once over.
    let ready = height + delay;
    mine(
        j,
        ready.saturating_sub(2).saturating_sub(chain.tip()?.height),
    )
    .await?;
    wait_height(j, ready.saturating_sub(2)).await?;
    let early = chain.spending_tx(&to_local)?.is_none();
    mine(j, 1).await?;
    let judy_local = spender(chain, to_local).await?;
    mine(j, 1).await?;
    let local_at = confirmed_at(chain, judy_local.compute_txid()).await?;
    steps.say(
        format!(
            "{} blocks after her commitment (Karl's to_self_delay) Judy's node sweeps her to_local: {} pays {} at block {}{}",
            delay,
            judy_local.compute_txid(),
            sat_btc(out_sat(&judy_local)),
            local_at,
            if early { "; nothing was spent before" } else { "" }
        ),
        json!({ "node": "Judy", "txid": judy_local.compute_txid().to_string(), "value_sat": out_sat(&judy_local), "height": local_at, "not_before": early }),
    );
    let stage = OutPoint {
        txid: judy_success.compute_txid(),
        vout: 0,
    };
    mine(j, 1).await?;
    let judy_stage = spender(chain, stage).await?;
    mine(j, 1).await?;
    let stage_at = confirmed_at(chain, judy_stage.compute_txid()).await?;
    let mut judy_got = out_sat(&judy_local);
    if judy_stage.compute_txid() != judy_local.compute_txid() {
        judy_got += out_sat(&judy_stage);
    }
    steps.say(
        format!(
            "and the HTLC-success output once its own delay is over: {} pays {} at block {}",
            judy_stage.compute_txid(),
            sat_btc(out_sat(&judy_stage)),
            stage_at
        ),
        json!({ "node": "Judy", "txid": judy_stage.compute_txid().to_string(), "value_sat": out_sat(&judy_stage), "height": stage_at }),
    );

    wait_balance(j, judy_before + judy_got).await?;
    wait_balance(k, karl_before + karl_got).await?;
    let fees = CAPACITY_SAT.saturating_sub(judy_got + karl_got);
    steps.say(
        format!(
            "final wallets: Judy {} (+{} from the channel), Karl {} (+{}); on-chain fees of the commitment and the {} spends: {}",
            sat_btc(judy_before + judy_got),
            sat_btc(judy_got),
            sat_btc(karl_before + karl_got),
            sat_btc(karl_got),
            sweeps.len() + usize::from(judy_stage.compute_txid() != judy_local.compute_txid()) + 2,
            sat_btc(fees)
        ),
        json!({ "judy_sat": judy_before + judy_got, "karl_sat": karl_before + karl_got, "fees_sat": fees }),
    );
    Ok(json!({
        "commitment_txid": txid.to_string(),
        "commitment_height": height,
        "to_self_delay": delay,
        "htlcs": [
            { "from": "Judy", "to": "Karl", "value_sat": JUDY_HTLC_SAT, "claimed_by": "Karl", "txid": karl_htlc.compute_txid().to_string(), "payment": judy_status },
            { "from": "Karl", "to": "Judy", "value_sat": KARL_HTLC_SAT, "claimed_by": "Judy", "txid": judy_success.compute_txid().to_string(), "payment": karl_status },
        ],
        "judy_received_sat": judy_got,
        "karl_received_sat": karl_got,
        "judy_expected_sat": CAPACITY_SAT - PUSH_SAT - JUDY_HTLC_SAT + KARL_HTLC_SAT,
        "karl_expected_sat": PUSH_SAT - KARL_HTLC_SAT + JUDY_HTLC_SAT,
        "fees_sat": fees,
        "to_local_swept_at": local_at,
    }))
}

/// Waits for `ChannelReady` of channel `id`; returns its scid.
async fn wait_ready(p: &mut Peer, id: fulmen_types::ChannelId) -> DemoResult<ShortChannelId> {
    loop {
        if let NodeEvent::ChannelReady {
            channel_id,
            short_channel_id,
            ..
        } = next_event(p).await?
        {
            if channel_id == id {
                return Ok(short_channel_id);
            }
        }
    }
}

/// `payer` sends `part` sat of an invoice of `payee` for `total` sat over
/// their channel, as one part of a multi-part payment: the payee holds it
/// waiting for the rest. Returns the pending payment.
async fn pay_part(
    payer: &Peer,
    payee: &Peer,
    scid: ShortChannelId,
    part: u64,
    total: u64,
) -> DemoResult<Pending> {
    let inv = payee
        .node
        .create_invoice(Some(Msat(total * 1000)), "part", "one part of two")
        .await?;
    let parsed = Invoice::parse(&inv.bolt11)?;
    let request = PayRequest {
        destination: payee.node.node_id(),
        amount: Msat(total * 1000),
        payment_hash: inv.payment_hash,
        payment_secret: Some(parsed.payment_secret()),
        keysend_preimage: None,
        min_final_cltv_expiry_delta: u32::try_from(parsed.min_final_cltv_expiry_delta())?,
        bolt11: None,
        route_hints: Vec::new(),
        mpp: true,
    };
    let route = Route {
        hops: vec![RouteHop {
            node_id: payee.node.node_id(),
            short_channel_id: scid,
            amount: Msat(part * 1000),
            cltv_expiry: payer.node.block_height() + HTLC_BLOCKS,
            fee: Msat(0),
            cltv_expiry_delta: 0,
        }],
    };
    let node: Node = payer.node.clone();
    let hash = inv.payment_hash;
    Ok((
        hash,
        tokio::spawn(async move { node.pay_route(request, route).await }),
    ))
}

/// A payment sent by [`pay_part`]: its hash and the `pay_route` call.
type Pending = (
    PaymentHash,
    JoinHandle<Result<PaymentOutcome, fulmen_node::NodeError>>,
);

/// What the `pay_route` call of a pending payment returned, and the
/// payment's status in the payer's store once it is no longer pending
/// (or after ten seconds).
async fn outcome(payer: &Peer, (hash, call): Pending) -> DemoResult<(String, String)> {
    let call = match tokio::time::timeout(Duration::from_secs(10), call).await {
        Ok(Ok(Ok(o))) => format!("{:?}", o.status),
        Ok(Ok(Err(e))) => e.to_string(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "still waiting".into(),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let payment = payer
            .node
            .list_payments()
            .await?
            .into_iter()
            .find(|p| p.payment_hash == hash)
            .ok_or("payment missing")?;
        let status = format!("{:?}", payment.status).to_lowercase();
        if status != "pending" || tokio::time::Instant::now() >= deadline {
            let with = if payment.preimage.is_some() {
                " (preimage stored)"
            } else {
                ""
            };
            return Ok((call, format!("{status}{with}")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
