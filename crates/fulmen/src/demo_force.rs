//! The `force-close` scenario of `fulmen demo`: a unilateral close with
//! HTLCs in flight, resolved on chain (BOLT 5 "Unilateral Close
//! Handling"), with real nodes, on an anchor channel
//! (`option_anchors_zero_fee_htlc_tx`, the default type).
//!
//! Judy opens a 4 BTC channel to Karl, pushes 2 BTC to him, and opens a
//! second channel of 1 BTC. Two HTLCs are made to stay in flight on the
//! first channel deterministically: each side pays one part of a
//! multi-part payment of an invoice of the other (0.5 of 1 BTC from Judy,
//! 0.3 of 0.6 BTC from Karl); each payee holds its part while waiting for
//! the rest (`mpp_timeout` set to an hour). Karl then force-closes the
//! first channel. Judy sends the second half of her payment over the
//! second channel: Karl's set is complete, his invoice is paid, and the
//! half stuck in the closed channel is claimed by Karl's HTLC-success
//! transaction (zero fee, pre-signed by Judy with
//! `SIGHASH_SINGLE|SIGHASH_ANYONECANPAY`; Karl's wallet adds an input for
//! the fee). Karl's part never completes Judy's set, so Judy's node never
//! claims it (BOLT 4): after its expiry Karl's HTLC-timeout transaction,
//! funded the same way, takes it back, and once that is six blocks deep
//! his payment fails. Karl's `to_local` and both HTLC transactions'
//! outputs are his after Judy's `to_self_delay`; Judy's `to_remote` after
//! one block.

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
    stop, target, tip_tx, until, wait_balance, wait_height, wait_htlcs, Peer, Settings, COIN,
};

/// The channel that is force-closed: 4 BTC.
const CAPACITY_SAT: u64 = 4 * COIN;
/// Pushed to Karl at opening: 2 BTC.
const PUSH_SAT: u64 = 2 * COIN;
/// The second channel, Judy to Karl: 1 BTC.
const SECOND_SAT: u64 = COIN;
/// Each of Judy's two parts (of a 1 BTC invoice): 0.5 BTC.
const JUDY_HTLC_SAT: u64 = COIN / 2;
/// Karl's HTLC to Judy: 0.3 BTC, part of a 0.6 BTC invoice.
const KARL_HTLC_SAT: u64 = 3 * COIN / 10;
/// An anchor output.
const ANCHOR_SAT: u64 = 330;
/// The HTLCs expire this many blocks after they are offered.
const HTLC_BLOCKS: u32 = 100;

/// Runs the scenario; returns the `force_close` part of the JSON document.
pub(crate) fn force_close_scenario(steps: &mut Steps) -> DemoResult<Value> {
    crate::demo::block_on(run(steps))
}

async fn run(steps: &mut Steps) -> DemoResult<Value> {
    steps.say(
        format!(
            "fulmen {} — demo scenario \"force-close\": Karl closes alone with two HTLCs in flight on an anchor channel; everything is resolved on chain",
            env!("CARGO_PKG_VERSION")
        ),
        json!({}),
    );
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let base = base_dir("force-close");
    let settings = Settings {
        channel: ChannelConfig::default(),
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
    // Karl's wallet pays the fees of his HTLC transactions.
    k.node.mine(1, None).await?;
    mine(j, 100).await?;
    wait_balance(j, 50 * COIN).await?;
    wait_balance(k, 50 * COIN).await?;
    j.node.connect(&target(k)?).await?;
    let (id, scid, funding) = open(j, k, CAPACITY_SAT, PUSH_SAT).await?;
    let (_, second_scid, _) = open(j, k, SECOND_SAT, 0).await?;
    steps.say(
        format!(
            "Judy and Karl mine 50 BTC each; Judy opens a 4 BTC anchor channel to Karl pushing 2 BTC to him (funding {funding}), and a second channel of 1 BTC ({second_scid})"
        ),
        json!({ "capacity_sat": CAPACITY_SAT, "push_sat": PUSH_SAT, "funding_txid": funding.to_string(), "short_channel_id": scid.to_string(), "second_channel_sat": SECOND_SAT, "second_short_channel_id": second_scid.to_string() }),
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

    let txid = k.node.close_channel(id, true).await?;
    mine(j, 1).await?;
    let commitment = tip_tx(chain, txid)?;
    let height = chain.tip()?.height;
    let delay = u32::from(settings.channel.to_self_delay);
    let value = |o: &bitcoin::TxOut| o.value.to_sat();
    let role = |sat: u64| match sat {
        JUDY_HTLC_SAT => "HTLC Judy → Karl",
        KARL_HTLC_SAT => "HTLC Karl → Judy",
        ANCHOR_SAT => "anchor",
        s if s == PUSH_SAT - KARL_HTLC_SAT => "to_local (Karl, after the delay)",
        _ => "to_remote (Judy, after one block)",
    };
    steps.say(
        format!(
            "Karl force-closes the 4 BTC channel: his commitment {} confirms at block {} with {}",
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
    // What `listchannels` shows of the closed channel on Karl's node.
    let onchain = until("Karl's node resolves the close", || async {
        Ok(channel(k, id).await?.onchain)
    })
    .await?;
    steps.say(
        format!(
            "Karl's listchannels: {} at block {}, pending on chain: {}",
            onchain.kind,
            onchain.confirmed_at,
            onchain
                .pending
                .iter()
                .map(|p| format!("{} {} (from block {})", p.kind, sat_btc(p.value.0), p.ready_height))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        json!({ "node": "Karl", "kind": onchain.kind, "pending": onchain.pending.iter().map(|p| json!({ "outpoint": p.outpoint.to_string(), "kind": p.kind, "value_sat": p.value.0, "ready_height": p.ready_height, "deadline_height": p.deadline_height })).collect::<Vec<_>>() }),
    );
    let pending_kinds: Vec<&str> = onchain.pending.iter().map(|p| p.kind).collect();
    let find = |what: &str| -> DemoResult<OutPoint> {
        let vout = commitment
            .output
            .iter()
            .position(|o| role(value(o)) == what)
            .ok_or(format!("no {what} output"))?;
        Ok(OutPoint {
            txid,
            vout: u32::try_from(vout)?,
        })
    };
    let to_local = find("to_local (Karl, after the delay)")?;
    let to_remote = find("to_remote (Judy, after one block)")?;
    let htlc_to_karl = find("HTLC Judy → Karl")?;
    let htlc_to_judy = find("HTLC Karl → Judy")?;

    // The rest of Judy's payment over the second channel completes Karl's
    // set: the part stuck on chain is then Karl's to claim.
    let judy_call = call_result(judy_pays.call).await;
    let second = send_part(j, &judy_pays.request, second_scid, JUDY_HTLC_SAT)?;
    let second_call = call_result(second).await;
    steps.say(
        format!(
            "Judy's first call returned when the channel closed ({judy_call}); she sends the other 0.5 BTC over the second channel: Karl's set is complete, his invoice paid, and her call returns {second_call}"
        ),
        json!({ "first_call": judy_call, "second_call": second_call }),
    );
    let success = spender(chain, htlc_to_karl).await?;
    let judy_remote = spender(chain, to_remote).await?;
    mine(j, 1).await?;
    let success_at = confirmed_at(chain, success.compute_txid()).await?;
    let remote_at = confirmed_at(chain, judy_remote.compute_txid()).await?;
    steps.say(
        format!(
            "Karl's node claims the 0.5 BTC HTLC with the preimage of his invoice (now paid): its HTLC-success transaction {} (the HTLC input Judy pre-signed, plus {} wallet input(s) for the fee) confirms at block {success_at}; its 0.5 BTC output is his after {delay} blocks. Judy's node sweeps her to_remote: {} pays {} at block {remote_at}",
            success.compute_txid(),
            success.input.len() - 1,
            judy_remote.compute_txid(),
            sat_btc(out_sat(&judy_remote)),
        ),
        json!({ "node": "Karl", "htlc_success_txid": success.compute_txid().to_string(), "wallet_inputs": success.input.len() - 1, "height": success_at, "judy_to_remote_txid": judy_remote.compute_txid().to_string(), "judy_to_remote_sat": out_sat(&judy_remote) }),
    );
    let judy_status = status(j, judy_pays.request.payment_hash).await?;

    // Karl's part: never claimed by Judy, taken back by Karl after expiry.
    let expiry = karl_pays.expiry;
    mine(j, expiry.saturating_sub(chain.tip()?.height)).await?;
    wait_height(k, expiry).await?;
    let unclaimed = chain.spending_tx(&htlc_to_judy)?.is_none();
    let timeout = spender(chain, htlc_to_judy).await?;
    mine(j, 1).await?;
    let timeout_at = confirmed_at(chain, timeout.compute_txid()).await?;
    steps.say(
        format!(
            "Judy's node never claims Karl's 0.3 BTC part (her set is incomplete); at its expiry (block {expiry}) Karl's HTLC-timeout transaction {} ({} wallet input(s) for the fee) takes it back at block {timeout_at}{}",
            timeout.compute_txid(),
            timeout.input.len() - 1,
            if unclaimed { "; nobody had spent it before" } else { "" }
        ),
        json!({ "node": "Karl", "htlc_timeout_txid": timeout.compute_txid().to_string(), "height": timeout_at, "expiry": expiry, "unclaimed_before": unclaimed }),
    );
    mine(j, 5).await?;
    let karl_call = call_result(karl_pays.call).await;
    let karl_status = status(k, karl_pays.request.payment_hash).await?;
    steps.say(
        format!(
            "six blocks deep, the timeout is final: Karl's payment is {karl_status} (his call: {karl_call}); Judy's is {judy_status}"
        ),
        json!({ "karl_call": karl_call, "karl_payment": karl_status, "judy_payment": judy_status }),
    );

    // Karl's delayed outputs: to_local, then each HTLC transaction's
    // output, each after the delay.
    let mut delayed = Vec::new();
    let mut karl_got = 0;
    for (what, outpoint, at) in [
        ("his to_local", to_local, height),
        (
            "the HTLC-success output",
            OutPoint {
                txid: success.compute_txid(),
                vout: 0,
            },
            success_at,
        ),
        (
            "the HTLC-timeout output",
            OutPoint {
                txid: timeout.compute_txid(),
                vout: 0,
            },
            timeout_at,
        ),
    ] {
        // The spend can be mined in block `ready` at the earliest: stop
        // two blocks before and check that nothing spent it yet.
        let ready = at + delay;
        let before = ready.saturating_sub(2);
        let tip = chain.tip()?.height;
        if tip < before {
            mine(j, before - tip).await?;
        }
        wait_height(k, before.max(tip)).await?;
        let early = tip <= before && chain.spending_tx(&outpoint)?.is_none();
        if chain.tip()?.height < ready {
            mine(j, 1).await?;
        }
        let sweep = spender(chain, outpoint).await?;
        mine(j, 1).await?;
        let swept_at = confirmed_at(chain, sweep.compute_txid()).await?;
        steps.say(
            format!(
                "{delay} blocks after block {at}, Karl's node sweeps {what}: {} pays {} at block {swept_at}{}",
                sweep.compute_txid(),
                sat_btc(out_sat(&sweep)),
                if early { "; nothing was spent before" } else { "" }
            ),
            json!({ "node": "Karl", "what": what, "txid": sweep.compute_txid().to_string(), "value_sat": out_sat(&sweep), "height": swept_at, "not_before": early }),
        );
        karl_got += out_sat(&sweep);
        delayed.push(json!({ "what": what, "confirmed_at": at, "swept_at": swept_at }));
    }

    let judy_got = out_sat(&judy_remote);
    wait_balance(j, judy_before + judy_got).await?;
    // Karl's wallet paid the HTLC transactions' fees (their first input
    // and output are equal: the rest is wallet coins in, change out).
    let htlc_fees = fee(chain, &success)? + fee(chain, &timeout)?;
    let karl_got = karl_got - htlc_fees;
    let karl_after = karl_before + karl_got;
    wait_balance(k, karl_after).await?;
    let fees = CAPACITY_SAT.saturating_sub(judy_got + karl_got);
    steps.say(
        format!(
            "final wallets: Judy {} (+{} from the closed channel), Karl {} (+{}); on-chain fees of the commitment, the anchors left and every spend: {}",
            sat_btc(judy_before + judy_got),
            sat_btc(judy_got),
            sat_btc(karl_after),
            sat_btc(karl_got),
            sat_btc(fees)
        ),
        json!({ "judy_sat": judy_before + judy_got, "karl_sat": karl_after, "fees_sat": fees }),
    );
    Ok(json!({
        "commitment_txid": txid.to_string(),
        "commitment_height": height,
        "to_self_delay": delay,
        "channel_type": "anchors_zero_fee_htlc_tx",
        "htlcs": [
            { "from": "Judy", "to": "Karl", "value_sat": JUDY_HTLC_SAT, "resolved": "HTLC-success by Karl", "txid": success.compute_txid().to_string(), "wallet_inputs": success.input.len() - 1, "height": success_at, "payment": judy_status },
            { "from": "Karl", "to": "Judy", "value_sat": KARL_HTLC_SAT, "resolved": "HTLC-timeout by Karl", "expiry": expiry, "txid": timeout.compute_txid().to_string(), "wallet_inputs": timeout.input.len() - 1, "height": timeout_at, "payment": karl_status },
        ],
        "delayed": delayed,
        "pending_after_close": pending_kinds,
        "judy_received_sat": judy_got,
        "karl_received_sat": karl_got,
        "judy_expected_sat": CAPACITY_SAT - PUSH_SAT - JUDY_HTLC_SAT,
        "karl_expected_sat": PUSH_SAT + JUDY_HTLC_SAT,
        "fees_sat": fees,
        "to_local_swept_at": delayed.first().and_then(|d| d["swept_at"].as_u64()),
    }))
}

/// The fee `tx` pays (its inputs' values from the chain).
fn fee(chain: &EmbeddedChain, tx: &bitcoin::Transaction) -> DemoResult<u64> {
    let mut inputs = 0;
    for i in &tx.input {
        let prev = chain
            .transaction(&i.previous_output.txid)?
            .ok_or("an input's transaction is unknown")?
            .tx;
        let out = prev
            .output
            .get(usize::try_from(i.previous_output.vout)?)
            .ok_or("an input's output is missing")?;
        inputs += out.value.to_sat();
    }
    Ok(inputs.saturating_sub(out_sat(tx)))
}

/// Opens a channel from `j` to `k` of `sat` pushing `push_sat`, mines it
/// and waits until both sides are ready; returns its id, scid and
/// funding txid.
async fn open(
    j: &mut Peer,
    k: &mut Peer,
    sat: u64,
    push_sat: u64,
) -> DemoResult<(fulmen_types::ChannelId, ShortChannelId, bitcoin::Txid)> {
    let opened = j
        .node
        .open_channel(k.node.node_id(), Sat(sat), Msat(push_sat * 1000), false)
        .await?;
    let id = opened.channel_id;
    mine(j, 3).await?;
    let scid = wait_ready(j, id).await?;
    wait_ready(k, id).await?;
    Ok((id, scid, opened.funding_txid))
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

/// A part sent by [`pay_part`]: the request (to send more parts), the
/// HTLC's expiry and the `pay_route` call.
struct Pending {
    request: PayRequest,
    expiry: u32,
    call: Call,
}

/// A `pay_route` call under way.
type Call = JoinHandle<Result<PaymentOutcome, fulmen_node::NodeError>>;

/// `payer` sends `part` sat of a new invoice of `payee` for `total` sat
/// over channel `scid`, as one part of a multi-part payment: the payee
/// holds it waiting for the rest.
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
    let expiry = payer.node.block_height() + HTLC_BLOCKS;
    let call = send_part(payer, &request, scid, part)?;
    Ok(Pending {
        request,
        expiry,
        call,
    })
}

/// Sends `part` sat of `request` over the direct channel `scid`, expiring
/// [`HTLC_BLOCKS`] from now.
fn send_part(
    payer: &Peer,
    request: &PayRequest,
    scid: ShortChannelId,
    part: u64,
) -> DemoResult<Call> {
    let route = Route {
        hops: vec![RouteHop {
            node_id: request.destination,
            short_channel_id: scid,
            amount: Msat(part * 1000),
            cltv_expiry: payer.node.block_height() + HTLC_BLOCKS,
            fee: Msat(0),
            cltv_expiry_delta: 0,
        }],
    };
    let node: Node = payer.node.clone();
    let request = request.clone();
    Ok(tokio::spawn(
        async move { node.pay_route(request, route).await },
    ))
}

/// What a `pay_route` call returned (waiting up to ten seconds).
async fn call_result(call: Call) -> String {
    match tokio::time::timeout(Duration::from_secs(10), call).await {
        Ok(Ok(Ok(o))) => format!("{:?}", o.status).to_lowercase(),
        Ok(Ok(Err(e))) => e.to_string(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "still waiting".into(),
    }
}

/// The payment's status in the payer's store once it is no longer
/// pending (or after ten seconds).
async fn status(payer: &Peer, hash: PaymentHash) -> DemoResult<String> {
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
            return Ok(format!("{status}{with}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
