//! The `breach` scenario of `fulmen demo`: a revoked commitment punished
//! (BOLT 5 "Revoked Transaction Close Handling"), with real nodes.
//!
//! Hitesh opens a 10 BTC channel to Irene and pushes 5 BTC to her. Irene
//! keeps a copy of her data directory while both hold 5 BTC, then pays
//! Hitesh 2 BTC (7 / 3). She stops, puts the old directory back, restarts
//! and force-closes: her node broadcasts the first commitment, revoked
//! since the payment. Hitesh's node, online all along, finds the spend of
//! the funding output in the block that confirms it, recognises a revoked
//! commitment of its peer and sweeps every output with the revocation key
//! (its own `to_remote` too), long before Irene's `to_self_delay` would
//! have let her spend her output.

use bitcoin::OutPoint;
use fulmen_chain::{ChainSource, EmbeddedChain, EmbeddedConfig};
use fulmen_types::{Msat, Sat};
use serde_json::{json, Value};

use crate::demo::{btc, DemoResult, Steps};
use crate::demo_pair::{
    base_dir, channel, confirmed, confirmed_at, copy_dir, mine, out_sat, pay, sat_btc, spender,
    start, stop, target, tip_tx, wait_balance, wait_channel, wait_height, wait_htlcs, Peer,
    Settings, COIN,
};

/// The channel: 10 BTC.
const CAPACITY_SAT: u64 = 10 * COIN;
/// Pushed to Irene at opening: 5 BTC.
const PUSH_MSAT: u64 = 5 * COIN * 1000;
/// Irene pays Hitesh 2 BTC.
const PAYMENT_MSAT: u64 = 2 * COIN * 1000;
/// Outputs at most this large are anchors (330 sat), never swept.
const ANCHOR_SAT: u64 = 330;

/// Runs the scenario; returns the `breach` part of the JSON document.
pub(crate) fn breach_scenario(steps: &mut Steps) -> DemoResult<Value> {
    crate::demo::block_on(run(steps))
}

async fn run(steps: &mut Steps) -> DemoResult<Value> {
    steps.say(
        format!(
            "fulmen {} — demo scenario \"breach\": Irene publishes a revoked commitment, Hitesh's node takes the whole channel",
            env!("CARGO_PKG_VERSION")
        ),
        json!({}),
    );
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let base = base_dir("breach");
    let settings = Settings::default();
    let hitesh = start("Hitesh", base.join("hitesh"), &chain, &settings).await?;
    let irene = start("Irene", base.join("irene"), &chain, &settings).await?;
    let mut nodes = (Some(hitesh), Some(irene));
    let result = scenario(steps, &chain, &settings, &base, &mut nodes).await;
    for p in [nodes.0.take(), nodes.1.take()].into_iter().flatten() {
        stop(p).await;
    }
    let _ = std::fs::remove_dir_all(&base);
    result
}

async fn scenario(
    steps: &mut Steps,
    chain: &EmbeddedChain,
    settings: &Settings,
    base: &std::path::Path,
    nodes: &mut (Option<Peer>, Option<Peer>),
) -> DemoResult<Value> {
    let mut h = nodes.0.take().ok_or("no Hitesh")?;
    let mut i = nodes.1.take().ok_or("no Irene")?;
    for p in [&h, &i] {
        steps.say(
            format!("{:<6} is node {}", p.name, p.node.node_id()),
            json!({ "node": p.name, "node_id": p.node.node_id().to_string() }),
        );
    }
    h.node.mine(1, None).await?;
    mine(&h, 100).await?;
    wait_balance(&h, 50 * COIN).await?;
    steps.say(
        "Hitesh mines 50 BTC on the embedded regtest chain (100 more blocks let it mature)".into(),
        json!({ "height": h.node.block_height() }),
    );

    h.node.connect(&target(&i)?).await?;
    let opened = h
        .node
        .open_channel(i.node.node_id(), Sat(CAPACITY_SAT), Msat(PUSH_MSAT), false)
        .await?;
    let id = opened.channel_id;
    mine(&h, 3).await?;
    wait_channel(&mut h, id, false).await?;
    wait_channel(&mut i, id, false).await?;
    let info = channel(&h, id).await?;
    steps.say(
        format!(
            "Hitesh opens a 10 BTC channel to Irene and pushes 5 BTC to her (funding {}); ready after 3 blocks: Hitesh {} BTC / Irene {} BTC",
            opened.funding_txid,
            btc(info.local_balance.0),
            btc(info.remote_balance.0)
        ),
        json!({ "capacity_sat": CAPACITY_SAT, "push_msat": PUSH_MSAT, "funding_txid": opened.funding_txid.to_string(), "msat": [info.local_balance.0, info.remote_balance.0] }),
    );

    // Irene keeps a copy of her state of now.
    let dir = stop(i).await;
    let old = base.join("irene-old");
    copy_dir(&dir, &old)?;
    i = start("Irene", dir, chain, settings).await?;
    h.node.connect(&target(&i)?).await?;
    wait_channel(&mut h, id, true).await?;
    wait_channel(&mut i, id, true).await?;
    steps.say(
        "Irene stops her node, copies its data directory (both still hold 5 BTC) and starts it again; the channel is reestablished".into(),
        json!({ "copied_at_msat": [info.local_balance.0, info.remote_balance.0] }),
    );

    pay(&i, &h, PAYMENT_MSAT, "2 BTC from Irene").await?;
    wait_htlcs(&h, &i, id, 0).await?;
    let info = channel(&h, id).await?;
    steps.say(
        format!(
            "Irene pays an invoice of Hitesh for 2 BTC: Hitesh {} BTC / Irene {} BTC; the commitment of the copy is now revoked (Hitesh holds its revocation secret)",
            btc(info.local_balance.0),
            btc(info.remote_balance.0)
        ),
        json!({ "amount_msat": PAYMENT_MSAT, "msat": [info.local_balance.0, info.remote_balance.0] }),
    );
    let before = confirmed(&h).await?;

    // Irene cheats: back to the old directory, and a force close.
    let dir = stop(i).await;
    std::fs::remove_dir_all(&dir)?;
    copy_dir(&old, &dir)?;
    i = start("Irene", dir, chain, settings).await?;
    let cheat = i.node.close_channel(id, true).await?;
    mine(&i, 1).await?;
    let revoked = tip_tx(chain, cheat)?;
    let cheat_height = chain.tip()?.height;
    let delay = u32::from(settings.channel.to_self_delay);
    steps.say(
        format!(
            "Irene stops, puts the old data directory back, restarts and force-closes: her revoked commitment {} (outputs {}) confirms at block {}; her 5 BTC output is locked by Hitesh's to_self_delay of {} blocks",
            cheat,
            revoked
                .output
                .iter()
                .map(|o| sat_btc(o.value.to_sat()))
                .collect::<Vec<_>>()
                .join(", "),
            cheat_height,
            delay
        ),
        json!({ "revoked_commitment_txid": cheat.to_string(), "height": cheat_height, "outputs_sat": revoked.output.iter().map(|o| o.value.to_sat()).collect::<Vec<_>>(), "to_self_delay": delay }),
    );

    // Irene's own output: the one paying exactly her old 5 BTC.
    let vout = revoked
        .output
        .iter()
        .position(|o| o.value.to_sat() == PUSH_MSAT / 1000)
        .ok_or("no output of Irene's 5 BTC")?;
    let irene_out = OutPoint {
        txid: cheat,
        vout: u32::try_from(vout)?,
    };
    let justice = spender(chain, irene_out).await?;
    let justice_txid = justice.compute_txid();
    let taken: Vec<String> = justice
        .input
        .iter()
        .map(|x| x.previous_output.to_string())
        .collect();
    // What each input took from the revoked commitment, and by which key.
    let described: Vec<String> = justice
        .input
        .iter()
        .filter(|x| x.previous_output.txid == cheat)
        .filter_map(|x| {
            let sat = revoked
                .output
                .get(usize::try_from(x.previous_output.vout).ok()?)?
                .value
                .to_sat();
            Some(if x.previous_output == irene_out {
                format!("Irene's {} with the revocation key", sat_btc(sat))
            } else {
                format!("Hitesh's own {} with his payment key", sat_btc(sat))
            })
        })
        .collect();
    let inputs_sat: u64 = justice
        .input
        .iter()
        .filter(|x| x.previous_output.txid == cheat)
        .filter_map(|x| {
            revoked
                .output
                .get(usize::try_from(x.previous_output.vout).ok()?)
        })
        .map(|o| o.value.to_sat())
        .sum();
    steps.say(
        format!(
            "Hitesh's node sees the funding spent in that block, recognises a revoked commitment of Irene and broadcasts the justice transaction {} at once: it spends {} ({}) and pays {} to Hitesh's wallet",
            justice_txid,
            taken.join(", "),
            described.join(", "),
            sat_btc(out_sat(&justice))
        ),
        json!({ "justice_txid": justice_txid.to_string(), "inputs": taken, "inputs_sat": inputs_sat, "value_sat": out_sat(&justice) }),
    );
    mine(&h, 1).await?;
    let mut last = confirmed_at(chain, justice_txid).await?;
    steps.say(
        format!("the justice transaction confirms at block {last}"),
        json!({ "txid": justice_txid.to_string(), "height": last }),
    );

    // Every other output but the anchors (Hitesh's own to_remote) is
    // swept by Hitesh's node too.
    let mut swept = out_sat(&justice);
    let mut sweeps = vec![justice_txid.to_string()];
    for (vout, out) in revoked.output.iter().enumerate() {
        let outpoint = OutPoint {
            txid: cheat,
            vout: u32::try_from(vout)?,
        };
        if out.value.to_sat() <= ANCHOR_SAT
            || justice.input.iter().any(|x| x.previous_output == outpoint)
        {
            continue;
        }
        let spend = spender(chain, outpoint).await?;
        let txid = spend.compute_txid();
        if sweeps.contains(&txid.to_string()) {
            continue;
        }
        mine(&h, 1).await?;
        let at = confirmed_at(chain, txid).await?;
        last = last.max(at);
        swept += out_sat(&spend);
        sweeps.push(txid.to_string());
        steps.say(
            format!(
                "Hitesh's node also sweeps its own output of the revoked commitment ({}): {} pays {} and confirms at block {}",
                sat_btc(out.value.to_sat()),
                txid,
                sat_btc(out_sat(&spend)),
                at
            ),
            json!({ "txid": txid.to_string(), "input_sat": out.value.to_sat(), "value_sat": out_sat(&spend), "height": at }),
        );
    }
    wait_balance(&h, before + swept).await?;
    wait_height(&i, chain.tip()?.height).await?;
    let irene_wallet = confirmed(&i).await?;
    let fees = CAPACITY_SAT.saturating_sub(swept);
    let expires = cheat_height + delay;
    let margin = expires.saturating_sub(last);
    steps.say(
        format!(
            "Hitesh's wallet went from {} to {}: all {} of the channel but {} of fees (commitment, anchors, sweeps); Irene's wallet holds {}",
            sat_btc(before),
            sat_btc(before + swept),
            sat_btc(CAPACITY_SAT),
            sat_btc(fees),
            sat_btc(irene_wallet)
        ),
        json!({ "hitesh_before_sat": before, "hitesh_after_sat": before + swept, "swept_sat": swept, "fees_sat": fees, "irene_sat": irene_wallet }),
    );
    steps.say(
        format!(
            "everything was Hitesh's at block {last}, {margin} blocks before Irene's delay would have let her spend her output (block {expires})"
        ),
        json!({ "last_sweep_height": last, "delay_expires_at": expires, "blocks_before_delay_expired": margin }),
    );
    nodes.0 = Some(h);
    nodes.1 = Some(i);
    Ok(json!({
        "revoked_commitment_txid": cheat.to_string(),
        "justice_txid": justice_txid.to_string(),
        "sweep_txids": sweeps,
        "swept_sat": swept,
        "fees_sat": fees,
        "blocks_before_delay_expired": margin,
        "to_self_delay": delay,
    }))
}
