//! The `force-close` scenario of `fulmen demo`: a unilateral close with
//! HTLCs in flight, resolved on chain (BOLT 5 "Unilateral Close
//! Handling"), with real nodes.
//!
//! Judy opens a 4 BTC channel to Karl, pushes 2 BTC to him, and opens a
//! second channel of 1 BTC. Two HTLCs are made to stay in flight on the
//! first channel deterministically: each side pays one part of a
//! multi-part payment of an invoice of the other (0.5 of 1 BTC from Judy,
//! 0.3 of 0.6 BTC from Karl); each payee holds its part while waiting for
//! the rest (`mpp_timeout` set to an hour). Judy then force-closes the
//! first channel. Judy sends the second half of her payment over the
//! second channel: Karl's set is complete, his invoice is paid, and the
//! half stuck in the closed channel is claimed by Karl's node on chain,
//! directly from Judy's commitment, with the preimage (Judy's node reads
//! it there too). Karl's part never completes Judy's set, so Judy's node
//! never claims it (BOLT 4: one part of an incomplete set is not taken):
//! after its expiry Karl's node takes it back on chain, and once that is
//! six blocks deep his payment fails. Judy's `to_local` is hers after
//! Karl's `to_self_delay`.
//!
//! The channels are `option_static_remotekey` (`prefer_anchors = false`):
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
    let (id, scid, funding) = open(j, k, CAPACITY_SAT, PUSH_SAT).await?;
    let (_, second_scid, _) = open(j, k, SECOND_SAT, 0).await?;
    steps.say(
        format!(
            "Judy mines 50 BTC, opens a 4 BTC channel to Karl (option_static_remotekey) pushing 2 BTC to him (funding {funding}), and a second channel of 1 BTC ({second_scid})"
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
            "Judy force-closes the 4 BTC channel: her commitment {} confirms at block {} with {}",
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
    let find = |sat: u64| -> DemoResult<OutPoint> {
        let vout = commitment
            .output
            .iter()
            .position(|o| value(o) == sat)
            .ok_or(format!("no output of {sat} sat"))?;
        Ok(OutPoint {
            txid,
            vout: u32::try_from(vout)?,
        })
    };
    let to_remote = find(PUSH_SAT - KARL_HTLC_SAT)?;
    let htlc_to_karl = find(JUDY_HTLC_SAT)?;
    let htlc_to_judy = find(KARL_HTLC_SAT)?;
    let to_local = (0..commitment.output.len())
        .map(|v| OutPoint {
            txid,
            vout: u32::try_from(v).unwrap_or(u32::MAX),
        })
        .find(|o| ![to_remote, htlc_to_karl, htlc_to_judy].contains(o))
        .ok_or("no to_local output")?;

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
    let karl_remote = spender(chain, to_remote).await?;
    let karl_htlc = spender(chain, htlc_to_karl).await?;
    mine(j, 1).await?;
    let mut karl_got = 0;
    let mut sweeps = Vec::new();
    for (tx, what) in [
        (&karl_remote, "his to_remote"),
        (
            &karl_htlc,
            "the 0.5 BTC HTLC output, with the preimage of his invoice (now paid)",
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
    let judy_status = status(j, judy_pays.request.payment_hash).await?;

    // Karl's part: never claimed by Judy, taken back by Karl after expiry.
    let expiry = karl_pays.expiry;
    mine(j, expiry.saturating_sub(chain.tip()?.height)).await?;
    wait_height(k, expiry).await?;
    let unclaimed = chain.spending_tx(&htlc_to_judy)?.is_none();
    let karl_timeout = spender(chain, htlc_to_judy).await?;
    mine(j, 1).await?;
    let timeout_at = confirmed_at(chain, karl_timeout.compute_txid()).await?;
    karl_got += out_sat(&karl_timeout);
    sweeps.push(karl_timeout.compute_txid());
    steps.say(
        format!(
            "Judy's node never claims Karl's 0.3 BTC part (her set is incomplete); at its expiry (block {expiry}) Karl's node takes it back from Judy's commitment: {} pays {} at block {timeout_at}{}",
            karl_timeout.compute_txid(),
            sat_btc(out_sat(&karl_timeout)),
            if unclaimed { "; nobody had spent it before" } else { "" }
        ),
        json!({ "node": "Karl", "txid": karl_timeout.compute_txid().to_string(), "value_sat": out_sat(&karl_timeout), "height": timeout_at, "expiry": expiry, "unclaimed_before": unclaimed }),
    );
    mine(j, 5).await?;
    let karl_call = call_result(karl_pays.call).await;
    let karl_status = status(k, karl_pays.request.payment_hash).await?;
    steps.say(
        format!(
            "six blocks deep, the timeout is final: Karl's payment is {karl_status} (his call: {karl_call}); Judy's is {judy_status}, its preimage read from Karl's claim and her second channel"
        ),
        json!({ "karl_call": karl_call, "karl_payment": karl_status, "judy_payment": judy_status }),
    );

    // Judy's to_local: nothing before the CSV delay, swept once over.
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
    let judy_got = out_sat(&judy_local);

    wait_balance(j, judy_before + judy_got).await?;
    wait_balance(k, karl_before + karl_got).await?;
    let fees = CAPACITY_SAT.saturating_sub(judy_got + karl_got);
    steps.say(
        format!(
            "final wallets: Judy {} (+{} from the closed channel), Karl {} (+{}); on-chain fees of the commitment and the {} spends: {}",
            sat_btc(judy_before + judy_got),
            sat_btc(judy_got),
            sat_btc(karl_before + karl_got),
            sat_btc(karl_got),
            sweeps.len() + 1,
            sat_btc(fees)
        ),
        json!({ "judy_sat": judy_before + judy_got, "karl_sat": karl_before + karl_got, "fees_sat": fees }),
    );
    Ok(json!({
        "commitment_txid": txid.to_string(),
        "commitment_height": height,
        "to_self_delay": delay,
        "htlcs": [
            { "from": "Judy", "to": "Karl", "value_sat": JUDY_HTLC_SAT, "resolved": "claimed by Karl with the preimage", "txid": karl_htlc.compute_txid().to_string(), "payment": judy_status },
            { "from": "Karl", "to": "Judy", "value_sat": KARL_HTLC_SAT, "resolved": "timed out back to Karl", "expiry": expiry, "txid": karl_timeout.compute_txid().to_string(), "height": timeout_at, "payment": karl_status },
        ],
        "judy_received_sat": judy_got,
        "karl_received_sat": karl_got,
        "judy_expected_sat": CAPACITY_SAT - PUSH_SAT - JUDY_HTLC_SAT,
        "karl_expected_sat": PUSH_SAT + JUDY_HTLC_SAT,
        "fees_sat": fees,
        "to_local_swept_at": local_at,
    }))
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
