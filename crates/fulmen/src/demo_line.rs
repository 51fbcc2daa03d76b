//! The `route` scenario of `fulmen demo` (the default): the seeds' own
//! example, with real nodes.
//!
//! Five Fulmen nodes (Alice, Bob, Carol, Diana, Eric) run in this process
//! on one embedded regtest chain, talking BOLT 8 over loopback TCP. Each
//! opens a 4 BTC channel to the next with 2 BTC pushed to the other side,
//! the channels are announced (BOLT 7) and every node learns the whole line
//! by gossip. Bob, Carol and Diana charge a flat 0.001 BTC to forward and
//! keep 40 blocks between the HTLC they receive and the one they offer.
//! Eric issues an invoice for 1 BTC; Alice finds the route in her graph and
//! pays it; each forwarding node's HTLC (amount, fee, expiry) and the
//! preimage travelling back are shown from the nodes' own events. Then
//! Alice and Bob close their channel cooperatively and the settlement is
//! shown on chain.

// The demo indexes its own fixed five nodes and four channels (never peer
// or chain input): an index out of range is a bug of the demo itself.
#![allow(clippy::indexing_slicing)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fulmen_chain::{ChainSource, EmbeddedChain, EmbeddedConfig};
use fulmen_node::{
    ChainConfig, ChannelsConfig, ConnectTarget, ForwardingPolicy, Node, NodeConfig, NodeEvent,
    OsEntropy, PaymentStatusKind,
};
use fulmen_types::{ChannelId, Msat, NodeId, Sat};
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::demo::{btc, DemoResult, Steps, BTC_MSAT, CLTV_DELTA, FEE_MSAT, NAMES};

/// The longest the demo waits for any one thing.
const WAIT: Duration = Duration::from_secs(60);
/// Each channel's capacity: 4 BTC.
const CAPACITY_SAT: u64 = 400_000_000;
/// Pushed to the other side at opening: 2 BTC.
const PUSH_MSAT: u64 = 200_000_000_000;

/// One running node of the demo.
struct Member {
    name: &'static str,
    node: Node,
    events: broadcast::Receiver<NodeEvent>,
    dir: PathBuf,
}

/// Runs the scenario; returns the `payment` and `channels` parts of the
/// JSON document.
pub(crate) fn route_scenario(steps: &mut Steps) -> DemoResult<(Value, Value)> {
    crate::demo::block_on(run(steps))
}

async fn run(steps: &mut Steps) -> DemoResult<(Value, Value)> {
    steps.say(
        format!(
            "fulmen {} — demo scenario \"route\": five nodes in a line, a 1 BTC payment routed through three of them",
            env!("CARGO_PKG_VERSION")
        ),
        json!({}),
    );
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let base = std::env::temp_dir().join(format!("fulmen-demo-{}", std::process::id()));
    let mut members = Vec::new();
    for name in NAMES {
        members.push(start(name, &base, chain.clone()).await?);
    }
    let result = scenario(steps, &mut members, &chain).await;
    for m in &members {
        m.node.stop();
    }
    for m in &members {
        let _ = tokio::time::timeout(WAIT, m.node.clone().wait_stopped()).await;
        let _ = std::fs::remove_dir_all(&m.dir);
    }
    let _ = std::fs::remove_dir_all(&base);
    result
}

async fn start(
    name: &'static str,
    base: &std::path::Path,
    chain: EmbeddedChain,
) -> DemoResult<Member> {
    let dir = base.join(name.to_lowercase());
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = NodeConfig::regtest(&dir);
    config.chain = ChainConfig::Embedded(chain);
    config.alias = name.to_owned();
    config.rpc_listen = None;
    config.chain_poll_interval = Duration::from_millis(50);
    config.channels = ChannelsConfig {
        forwarding: ForwardingPolicy {
            fee_base_msat: u32::try_from(FEE_MSAT)?,
            fee_proportional_millionths: 0,
            cltv_expiry_delta: u16::try_from(CLTV_DELTA)?,
            ..ForwardingPolicy::default()
        },
        ..ChannelsConfig::default()
    };
    let node = Node::start(config, Arc::new(OsEntropy)).await?;
    let events = node.subscribe();
    Ok(Member {
        name,
        node,
        events,
        dir,
    })
}

async fn scenario(
    steps: &mut Steps,
    m: &mut [Member],
    chain: &EmbeddedChain,
) -> DemoResult<(Value, Value)> {
    for x in m.iter() {
        steps.say(
            format!("{:<5} is node {}", x.name, x.node.node_id()),
            json!({ "node": x.name, "node_id": x.node.node_id().to_string() }),
        );
    }
    // Coins for the four funders, then 100 blocks so they mature.
    for x in m.iter().take(4) {
        x.node.mine(1, None).await?;
    }
    m[0].node.mine(100, None).await?;
    for x in m.iter_mut() {
        sync_to(x, 104).await?;
    }
    steps.say(
        "Alice, Bob, Carol and Diana each mine 50 BTC on the embedded regtest chain".into(),
        json!({ "height": m[0].node.block_height() }),
    );

    let mut channels: Vec<ChannelId> = Vec::new();
    for i in 0..4 {
        let (left, right) = (&m[i], &m[i + 1]);
        let target = ConnectTarget {
            node_id: right.node.node_id(),
            address: right
                .node
                .listen_addr()
                .ok_or("no listen address")?
                .to_string(),
        };
        left.node.connect(&target).await?;
        let opened = left
            .node
            .open_channel(
                right.node.node_id(),
                Sat(CAPACITY_SAT),
                Msat(PUSH_MSAT),
                true,
            )
            .await?;
        steps.say(
            format!(
                "{} opens a 4 BTC channel to {} and pushes 2 BTC to it (funding {})",
                left.name, right.name, opened.funding_txid
            ),
            json!({ "funder": left.name, "fundee": right.name, "capacity_sat": CAPACITY_SAT, "push_msat": PUSH_MSAT, "funding_txid": opened.funding_txid.to_string() }),
        );
        channels.push(opened.channel_id);
    }
    m[0].node.mine(6, None).await?;
    for x in m.iter_mut() {
        let expect = if x.name == "Alice" || x.name == "Eric" {
            1
        } else {
            2
        };
        wait_ready(x, expect).await?;
    }
    steps.say(
        "six blocks later every channel is ready and announced; the nodes gossip the line to each other".into(),
        json!({ "height": m[0].node.block_height() }),
    );
    // Alice must know all four channels in both directions.
    wait_graph(&mut m[0], 4, 5).await?;
    steps.say(
        "Alice's graph holds the whole line: 5 nodes, 4 channels".into(),
        json!({ "channels": 4, "nodes": 5 }),
    );

    let before = balances(m, &channels).await?;
    print_balances(steps, "before", &before);

    let invoice = m[4]
        .node
        .create_invoice(Some(Msat(BTC_MSAT)), "demo", "1 BTC from Alice")
        .await?;
    steps.say(
        format!("Eric issues an invoice for 1 BTC: {}", invoice.bolt11),
        json!({ "bolt11": invoice.bolt11, "payment_hash": invoice.payment_hash.to_string() }),
    );
    let outcome = m[0].node.pay_invoice(&invoice.bolt11, None).await?;
    if outcome.status != PaymentStatusKind::Complete {
        return Err(format!("the payment failed: {:?}", outcome.failure).into());
    }
    let preimage = outcome.preimage.ok_or("no preimage")?;
    let first = m[0]
        .node
        .list_payments()
        .await?
        .into_iter()
        .find(|p| p.payment_hash == invoice.payment_hash)
        .map(|p| p.amount.0 + p.fee.map_or(0, |f| f.0))
        .unwrap_or(0);
    steps.say(
        format!("Alice offers {} BTC to Bob", btc(first)),
        json!({ "node": "Alice", "out_msat": first }),
    );
    // What each forwarding node did, from its own events, in route order.
    for x in m.iter_mut().take(4).skip(1) {
        let (in_msat, out_msat, in_cltv, out_cltv) = wait_forward(x).await?;
        let next = NAMES[NAMES.iter().position(|n| *n == x.name).unwrap_or(0) + 1];
        steps.say(
            format!(
                "{} receives {} BTC expiring at block {}, keeps {} BTC and offers {} BTC to {} expiring at block {}",
                x.name,
                btc(in_msat),
                in_cltv,
                btc(in_msat - out_msat),
                btc(out_msat),
                next,
                out_cltv
            ),
            json!({ "node": x.name, "in_msat": in_msat, "out_msat": out_msat, "fee_msat": in_msat - out_msat, "in_cltv": in_cltv, "out_cltv": out_cltv, "next": next }),
        );
    }
    steps.say(
        format!(
            "Eric receives 1 BTC and releases the preimage {}",
            preimage.to_hex()
        ),
        json!({ "node": "Eric", "amount_msat": BTC_MSAT, "preimage": preimage.to_hex() }),
    );
    for x in m.iter_mut().take(4).skip(1).rev() {
        let settled = wait_settled(x).await?;
        steps.say(
            format!(
                "{} learns the preimage from downstream and claims its incoming HTLC with it",
                x.name
            ),
            json!({ "node": x.name, "preimage": settled }),
        );
    }
    steps.say(
        format!(
            "Alice holds the preimage: proof that Eric was paid; fees {} BTC over {} attempt(s)",
            btc(outcome.fee.0),
            outcome.attempts
        ),
        json!({ "fee_msat": outcome.fee.0, "attempts": outcome.attempts }),
    );
    // The balances are final once each channel's HTLC is gone from both
    // commitments (the left node of each channel reports it).
    for (i, id) in channels.iter().enumerate() {
        wait_settled_channel(&mut m[i], *id).await?;
    }
    let after = balances(m, &channels).await?;
    print_balances(steps, "after", &after);

    // A cooperative close of Alice and Bob's channel.
    let txid = m[0].node.close_channel(channels[0], false).await?;
    m[0].node.mine(1, None).await?;
    let height = m[0].node.block_height();
    for x in m.iter_mut().take(2) {
        sync_to(x, height).await?;
    }
    let block = chain.block_at(height)?.ok_or("no block at the tip")?;
    let tx = block
        .txdata
        .into_iter()
        .find(|t| t.compute_txid() == txid)
        .ok_or("closing transaction not in the block")?;
    let outputs: Vec<Value> = tx
        .output
        .iter()
        .map(
            |o| json!({ "value_sat": o.value.to_sat(), "script": o.script_pubkey.to_hex_string() }),
        )
        .collect();
    steps.say(
        format!(
            "Alice and Bob close their channel cooperatively: {} confirms at block {} paying {}",
            txid,
            height,
            tx.output
                .iter()
                .map(|o| format!(
                    "{}.{:08} BTC",
                    o.value.to_sat() / 100_000_000,
                    o.value.to_sat() % 100_000_000
                ))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        json!({ "txid": txid.to_string(), "height": height, "outputs": outputs }),
    );

    let route: Vec<String> = ["Bob", "Carol", "Diana", "Eric"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let payment = json!({
        "amount_msat": BTC_MSAT,
        "fee_msat": outcome.fee.0,
        "preimage": preimage.to_hex(),
        "route": route,
        "route_node_ids": outcome.route.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    let chans: Vec<Value> = (0..4)
        .map(|i| {
            let (l, r) = (NAMES[i], NAMES[i + 1]);
            json!({
                "between": [l, r],
                "before_msat": { l: before[i].0, r: before[i].1 },
                "after_msat": { l: after[i].0, r: after[i].1 },
            })
        })
        .collect();
    Ok((payment, Value::Array(chans)))
}

/// Each channel's (left, right) balance as the left node's channel state
/// counts them.
async fn balances(m: &[Member], channels: &[ChannelId]) -> DemoResult<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    for (i, id) in channels.iter().enumerate() {
        let info = m[i]
            .node
            .list_channels()
            .await?
            .into_iter()
            .find(|c| c.channel_id == *id)
            .ok_or("channel missing")?;
        out.push((info.local_balance.0, info.remote_balance.0));
    }
    Ok(out)
}

fn print_balances(steps: &mut Steps, when: &str, b: &[(u64, u64)]) {
    for (i, (l, r)) in b.iter().enumerate() {
        let (ln, rn) = (NAMES[i], NAMES[i + 1]);
        steps.say(
            format!("{when}: {ln} {} / {rn} {}", btc(*l), btc(*r)),
            json!({ "when": when, "between": [ln, rn], "msat": [l, r] }),
        );
    }
}

async fn next_event(x: &mut Member) -> DemoResult<NodeEvent> {
    loop {
        match tokio::time::timeout(WAIT, x.events.recv()).await {
            Ok(Ok(e)) => return Ok(e),
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(format!("{}: timed out waiting for an event", x.name).into()),
        }
    }
}

async fn sync_to(x: &mut Member, height: u32) -> DemoResult<()> {
    while x.node.block_height() < height {
        if let NodeEvent::ChainSynced { height: h } = next_event(x).await? {
            if h >= height {
                break;
            }
        }
    }
    Ok(())
}

async fn wait_ready(x: &mut Member, count: usize) -> DemoResult<()> {
    let mut ready: Vec<NodeId> = Vec::new();
    while ready.len() < count {
        if let NodeEvent::ChannelReady { node_id, .. } = next_event(x).await? {
            ready.push(node_id);
        }
    }
    Ok(())
}

async fn wait_graph(x: &mut Member, channels: usize, nodes: usize) -> DemoResult<()> {
    let graph = x.node.network_graph();
    let complete = |g: &fulmen_graph::NetworkGraph| {
        g.num_channels() >= channels
            && g.num_nodes() >= nodes
            && g.channel_ids().all(|scid| {
                g.channel(scid)
                    .is_some_and(|c| c.one_to_two.is_some() && c.two_to_one.is_some())
            })
    };
    loop {
        if graph.read().is_ok_and(|g| complete(&g)) {
            return Ok(());
        }
        next_event(x).await?;
    }
}

async fn wait_forward(x: &mut Member) -> DemoResult<(u64, u64, u32, u32)> {
    loop {
        if let NodeEvent::HtlcForwarded {
            in_amount,
            out_amount,
            in_cltv_expiry,
            out_cltv_expiry,
            ..
        } = next_event(x).await?
        {
            return Ok((in_amount.0, out_amount.0, in_cltv_expiry, out_cltv_expiry));
        }
    }
}

async fn wait_settled(x: &mut Member) -> DemoResult<String> {
    loop {
        if let NodeEvent::ForwardSettled { preimage, .. } = next_event(x).await? {
            return Ok(preimage.to_hex());
        }
    }
}

async fn wait_settled_channel(x: &mut Member, id: ChannelId) -> DemoResult<()> {
    loop {
        if let NodeEvent::ChannelSettled { channel_id } = next_event(x).await? {
            if channel_id == id {
                return Ok(());
            }
        }
    }
}
