//! On-chain enforcement (BOLT 5) end to end: two nodes on one in-memory
//! chain. A force close with no HTLC ends with both balances in the
//! wallets (the forcing side after its CSV delay); a peer that publishes a
//! revoked commitment (restored from a copy of its old data directory)
//! loses the whole channel to the justice transaction, swept by the victim
//! right after restarting, long before the CSV delay; with the victim
//! online the punishment is immediate and survives a reorg of the
//! commitment's block; a cheat with three HTLCs in flight whose
//! HTLC-timeout transactions confirm first still loses everything; an
//! anchor commitment paying too little is lifted by a child (CPFP). Bad
//! input: no fee estimate from the chain, a feerate jump while the justice
//! transaction waits (replaced), a reorg 7 blocks deep, and a
//! commitment with only dust for one side (its trimmed HTLC failed once
//! the commitment is 6 deep).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use bitcoin::{OutPoint, Transaction};
use fulmen_chain::{ChainSource, EmbeddedChain, EmbeddedConfig};
use fulmen_types::{ChannelId, Msat, Sat};
use support::*;
use tempfile::TempDir;

/// What fees (commitment, anchors and sweeps) may take at most.
const FEES: u64 = 20_000;

/// A and B on `chain`, with a channel A → B of [`CHANNEL`] sat and
/// `to_b` msat paid to B.
async fn open_pair(chain: &EmbeddedChain, to_b: u64) -> (TestNode, TestNode, ChannelId) {
    open_pair_with(chain, to_b, cfg(chain)).await
}

/// [`open_pair`] with A started from `a_cfg`.
async fn open_pair_with(
    chain: &EmbeddedChain,
    to_b: u64,
    a_cfg: impl FnOnce(&std::path::Path) -> fulmen_node::NodeConfig,
) -> (TestNode, TestNode, ChannelId) {
    let mut a = start_with(a_cfg).await;
    let mut b = start_with(cfg(chain)).await;
    a.node.mine(1, None).await.unwrap();
    mine(&a, 100).await;
    wait_balance(&a, 50 * COIN).await;
    a.node.connect(&target(&b)).await.unwrap();
    let id = a
        .node
        .open_channel(b.id(), Sat(CHANNEL), Msat(0), false)
        .await
        .unwrap()
        .channel_id;
    mine(&a, 3).await;
    wait_ready(&mut a, id).await;
    wait_ready(&mut b, id).await;
    pay(&a, &b, to_b, "to-b").await;
    settled(&a, &b, id).await;
    (a, b, id)
}

/// BOLT 5 "Unilateral Close Handling": A force-closes (B offline); B's
/// `to_remote` reaches B's wallet one block after B comes back (anchors:
/// 1-block CSV); A's `to_local` after B's `to_self_delay` (144 blocks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_force_close_ends_with_both_balances_in_the_wallets() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let b_sat = 100_000;
    let (a, b, id) = open_pair(&chain, b_sat * 1000).await;
    let a_before = confirmed(&a).await;
    let b_dir = b.stop_keep().await;

    let txid = a.node.close_channel(id, true).await.unwrap();
    // Signed at the chain's feerate, it needs no child.
    let pool = chain.mempool_entries().unwrap();
    assert_eq!(pool.len(), 1, "{pool:?}");
    assert_eq!(pool[0].txid, txid);
    mine(&a, 1).await;
    let commitment = tip_tx(&chain, txid);
    let to_remote = output_of(&commitment, b_sat);

    // B comes back after the close confirmed: it finds the spend at start
    // and takes its output.
    let b = start_in(b_dir, cfg(&chain)).await;
    mine(&a, 1).await;
    let sweep = spender(&chain, to_remote).await;
    mine(&a, 1).await;
    wait_confirmed(&chain, &sweep).await;
    let b_got: u64 = sweep.output.iter().map(|o| o.value.to_sat()).sum();
    assert!(b_got > b_sat - FEES && b_got < b_sat, "{b_got}");
    wait_balance(&b, b_got).await;

    // A's to_local: nothing before the delay, swept once it is over.
    let a_local: u64 = CHANNEL - b_sat;
    let to_local = commitment
        .output
        .iter()
        .position(|o| o.value.to_sat() > a_local - FEES && o.value.to_sat() < a_local)
        .map(|vout| OutPoint {
            txid,
            vout: vout as u32,
        })
        .expect("to_local");
    mine(&a, 130).await;
    assert!(chain.spending_tx(&to_local).unwrap().is_none());
    mine(&a, 13).await;
    let sweep = spender(&chain, to_local).await;
    mine(&a, 1).await;
    wait_confirmed(&chain, &sweep).await;
    let a_got: u64 = sweep.output.iter().map(|o| o.value.to_sat()).sum();
    assert!(a_got > a_local - FEES && a_got < a_local, "{a_got}");
    wait_balance(&a, a_before + a_got).await;
    a.stop().await;
    b.stop().await;
}

/// BOLT 5 fees with anchors: A's commitment, signed at the 500 sat/kw
/// of the opening, pays less than the 5,000 sat/kw the chain asks when A
/// force-closes. A broadcasts a child spending A's anchor with wallet
/// coins so that commitment and child together pay the target (the
/// chain checks the anchor's witness with libbitcoinconsensus); both
/// confirm in the next block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anchor_commitment_paying_too_little_is_lifted_by_a_child() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let (a, b, id) = open_pair(&chain, 100_000_000).await;
    let target = 5_000;
    chain
        .set_fee_rate(bitcoin::FeeRate::from_sat_per_kwu(target))
        .unwrap();
    mine(&a, 1).await;
    until("A sees the new feerate", || async {
        (a.node.info().await.unwrap().feerate_per_kw == target as u32).then_some(())
    })
    .await;

    let txid = a.node.close_channel(id, true).await.unwrap();
    let child = until("a child of the commitment", || async {
        chain
            .mempool_entries()
            .unwrap()
            .into_iter()
            .find(|e| e.parents.contains(&txid))
    })
    .await;
    let pool = chain.mempool_entries().unwrap();
    let parent = pool.iter().find(|e| e.txid == txid).unwrap();
    // The parent alone pays less than the target; with the child, enough.
    assert!(parent.fee.to_sat() * 1000 < target * parent.weight);
    let spent: Vec<_> = child
        .tx
        .input
        .iter()
        .filter(|i| i.previous_output.txid == txid)
        .collect();
    assert_eq!(
        spent.len(),
        1,
        "the child spends one output of the commitment"
    );
    assert_eq!(
        parent.tx.output[spent[0].previous_output.vout as usize]
            .value
            .to_sat(),
        330,
        "our anchor"
    );
    let package_fee = parent.fee.to_sat() + child.fee.to_sat();
    let package_weight = parent.weight + child.weight;
    assert!(
        package_fee * 1000 >= target * package_weight,
        "{package_fee} sat for {package_weight} WU"
    );
    assert!(package_fee * 1000 < (target + 1_000) * package_weight);

    mine(&a, 1).await;
    wait_confirmed(&chain, &parent.tx).await;
    wait_confirmed(&chain, &child.tx).await;
    a.stop().await;
    b.stop().await;
}

/// A and B with a channel where B had 300,000 sat and now has 100,000:
/// B (running, on its latest state) kept a copy of its data directory
/// from when it had 300,000. Also returns A's wallet balance.
async fn revoked_copy(chain: &EmbeddedChain) -> (TestNode, TestNode, ChannelId, TempDir, u64) {
    let (a, b, id) = open_pair(chain, 300_000_000).await;
    let b_dir = b.stop_keep().await;
    let old = tempfile::tempdir().unwrap();
    copy_dir(b_dir.path(), old.path());
    let mut b = start_in(b_dir, cfg(chain)).await;
    let mut a = a;
    a.node.connect(&target(&b)).await.unwrap();
    wait_reestablished(&mut a, id).await;
    wait_reestablished(&mut b, id).await;
    pay(&b, &a, 200_000_000, "back-to-a").await;
    settled(&a, &b, id).await;
    let a_before = confirmed(&a).await;
    (a, b, id, old, a_before)
}

/// B stops and restarts from `old`, then publishes that revoked
/// commitment and mines it. Returns B and the commitment.
async fn cheat(
    chain: &EmbeddedChain,
    b: TestNode,
    id: ChannelId,
    old: &TempDir,
) -> (TestNode, Transaction) {
    let b_dir = b.stop_keep().await;
    replace_dir(b_dir.path(), old.path());
    let b = start_in(b_dir, cfg(chain)).await;
    let cheat = b.node.close_channel(id, true).await.unwrap();
    mine(&b, 1).await;
    let revoked = tip_tx(chain, cheat);
    (b, revoked)
}

/// What A took from `revoked` once every output of it (anchors aside) is
/// spent and confirmed: `justice`, which takes the cheater's `to_local`,
/// and whatever else spends an output.
async fn taken_by_a(
    chain: &EmbeddedChain,
    a: &TestNode,
    revoked: &Transaction,
    justice: &Transaction,
) -> u64 {
    let mut got: u64 = justice.output.iter().map(|o| o.value.to_sat()).sum();
    for (vout, out) in revoked.output.iter().enumerate() {
        if out.value.to_sat() <= 330 {
            continue; // anchors
        }
        let outpoint = OutPoint {
            txid: revoked.compute_txid(),
            vout: vout as u32,
        };
        let spend = spender(chain, outpoint).await;
        if spend.compute_txid() != justice.compute_txid() {
            mine(a, 1).await;
            wait_confirmed(chain, &spend).await;
            got += spend.output.iter().map(|o| o.value.to_sat()).sum::<u64>();
        }
    }
    got
}

/// A's justice transaction takes the cheater's `to_local` of `revoked`
/// and confirms; returns what A took in all ([`taken_by_a`]), the whole
/// channel minus fees.
async fn punished(chain: &EmbeddedChain, a: &TestNode, revoked: &Transaction) -> u64 {
    let justice = spender(chain, output_of(revoked, 300_000)).await;
    mine(a, 1).await;
    wait_confirmed(chain, &justice).await;
    let a_got = taken_by_a(chain, a, revoked, &justice).await;
    assert!(a_got > CHANNEL - FEES && a_got < CHANNEL, "{a_got}");
    a_got
}

/// BOLT 5 "Revoked Transaction Close Handling": B restores an old copy of
/// its data directory (when it had 300,000 sat instead of 100,000) and
/// publishes that revoked commitment while A is offline. A restarts after
/// the commitment confirmed and takes every output with the revocation
/// key: the whole channel minus fees, within two blocks (the cheater's
/// CSV is 144). With `estimates` off the chain gives A no fee estimate:
/// A sweeps at its floor, escalated towards the deadline, all the same.
async fn punished_after_restart(estimates: bool) {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let (a, b, id, old, a_before) = revoked_copy(&chain).await;

    // A goes away; B restores the old state and publishes it.
    let a_dir = a.stop_keep().await;
    let (b, revoked) = cheat(&chain, b, id, &old).await;
    chain.set_fee_estimates(estimates).unwrap();

    // A comes back: the justice transaction takes everything; A's own
    // to_remote on the cheater's commitment (its 700,000 minus the
    // commitment fee and anchors) is swept too.
    let a = start_in(a_dir, cfg(&chain)).await;
    let a_got = punished(&chain, &a, &revoked).await;
    wait_balance(&a, a_before + a_got).await;
    assert_eq!(confirmed(&b).await, 0, "the cheater gets nothing");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_commitment_is_punished_after_the_victim_restarts() {
    punished_after_restart(true).await;
}

/// "A fee estimator that fails": the same, with no estimate from the chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_commitment_is_punished_without_a_fee_estimate() {
    punished_after_restart(false).await;
}

/// The same cheat with the victim online: A punishes in the tick of the
/// block that confirms the revoked commitment. Then that block leaves the
/// chain (a reorg): the commitment and the justice transaction go back to
/// the mempool, A rebuilds its watches from the chain, and once a longer
/// branch confirms them again A still holds the whole channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_commitment_is_punished_at_once_and_again_after_a_reorg() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let (a, b, id, old, a_before) = revoked_copy(&chain).await;

    // B restarts on its old state (on a new port A does not know) and
    // publishes it while A runs.
    let (b, revoked) = cheat(&chain, b, id, &old).await;
    let cheat = revoked.compute_txid();
    let cheater_to_local = output_of(&revoked, 300_000);
    let first = spender(&chain, cheater_to_local).await;
    assert_ne!(first.compute_txid(), cheat);

    // The block with the revoked commitment leaves the chain.
    chain.invalidate_tip().unwrap();
    assert!(
        chain.in_mempool(&cheat).unwrap(),
        "the cheat is back in the mempool"
    );
    mine(&a, 2).await;
    wait_confirmed(&chain, &revoked).await;
    // Rebuilt after the reorg (another destination, maybe split):
    // whichever takes the cheater's output, it pays A.
    let a_got = punished(&chain, &a, &revoked).await;
    wait_balance(&a, a_before + a_got).await;
    assert_eq!(confirmed(&b).await, 0, "the cheater gets nothing");
    a.stop().await;
    b.stop().await;
}

/// "A chain that reorgs 6 deep": A's punishment is buried under six
/// blocks and in A's wallet when every block from the cheat's on leaves
/// the chain. The cheat and A's transactions go back to the mempool; A
/// rewinds its wallet and rebuilds its watches, and once a longer branch
/// confirms them again A holds the whole channel as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_punishment_survives_a_reorg_six_blocks_deep() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let (a, b, id, old, a_before) = revoked_copy(&chain).await;
    let (b, revoked) = cheat(&chain, b, id, &old).await;
    let cheat_block = chain.tip().unwrap();
    let a_got = punished(&chain, &a, &revoked).await;
    mine(&a, 6).await;
    wait_balance(&a, a_before + a_got).await;

    let depth = chain.tip().unwrap().height - cheat_block.height + 1;
    assert!(depth >= 7, "{depth}");
    chain.invalidate_block(&cheat_block.hash).unwrap();
    assert!(chain.in_mempool(&revoked.compute_txid()).unwrap());
    wait_balance(&a, a_before).await;
    mine(&a, depth + 1).await;
    wait_confirmed(&chain, &revoked).await;
    let a_got = punished(&chain, &a, &revoked).await;
    wait_balance(&a, a_before + a_got).await;
    assert_eq!(confirmed(&b).await, 0, "the cheater gets nothing");
    a.stop().await;
    b.stop().await;
}

/// BOLT 5 "Revoked Transaction Close Handling" with HTLCs in flight: B's
/// revoked commitment holds three HTLCs B offered. While A is away B
/// publishes it and, once they expire, its HTLC-timeout transactions
/// (anchors: aggregated into one, the fee from one coin of B's wallet). A comes back before B's
/// delay is over and takes everything: B's `to_local` and each
/// HTLC-timeout output with the revocation key, and its own `to_remote`
/// — the whole channel minus fees; B is left with less than its wallet
/// held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cheat_with_three_htlcs_loses_them_even_after_its_htlc_timeouts_confirm() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let b_sat = 500_000;
    let part = 20_000;
    // A holds incomplete multi-part sets 10 s, and takes HTLCs expiring
    // 18 blocks ahead.
    let a_cfg = {
        let c = chain.clone();
        move |dir: &std::path::Path| {
            let mut config = config(dir, Some(c), fast_peers());
            config.channels.mpp_timeout_secs = 10;
            config.channels.min_final_cltv_expiry_delta = 18;
            config
        }
    };
    let (a, b, id) = open_pair_with(&chain, b_sat * 1000, a_cfg.clone()).await;
    // B's wallet pays the fee of its HTLC transactions: one coin for the
    // three, aggregated.
    b.node.mine(1, None).await.unwrap();
    mine(&a, 100).await;
    wait_balance(&b, 50 * COIN).await;
    let tip = chain.tip().unwrap().height;
    until("B at the tip", || async {
        (b.node.block_height() == tip).then_some(())
    })
    .await;
    until("A at the tip", || async {
        (a.node.block_height() == tip).then_some(())
    })
    .await;
    let scid = channel(&a, id).await.short_channel_id.unwrap();

    // Three parts B → A, held by A; B's latest commitment carries them.
    let expiry = b.node.block_height() + 30;
    let mut calls = Vec::new();
    for i in 0..3 {
        calls.push(send_part(&b, &a, scid, part, expiry, &format!("part-{i}")).await);
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while channel(&b, id).await.local_balance != Msat((b_sat - 3 * part) * 1000) {
        if let Some(done) = calls.iter_mut().find(|c| c.is_finished()) {
            panic!(
                "a part ended: {:?}, B at {}",
                done.await,
                b.node.block_height()
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never: the HTLCs in B's commitment"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let b_dir = b.stop_keep().await;
    let old = tempfile::tempdir().unwrap();
    copy_dir(b_dir.path(), old.path());
    for call in calls {
        let _ = call.await;
    }
    // A fails the incomplete sets: the state with the HTLCs is revoked.
    let mut b = start_in(b_dir, cfg(&chain)).await;
    let mut a = a;
    a.node.connect(&target(&b)).await.unwrap();
    wait_reestablished(&mut a, id).await;
    wait_reestablished(&mut b, id).await;
    settled(&a, &b, id).await;
    assert_eq!(channel(&b, id).await.local_balance, Msat(b_sat * 1000));
    let a_before = confirmed(&a).await;
    let b_before = confirmed(&b).await;

    // A goes away; B publishes the state with the HTLCs, then times them out.
    let a_dir = a.stop_keep().await;
    let b_dir = b.stop_keep().await;
    replace_dir(b_dir.path(), old.path());
    let b = start_in(b_dir, cfg(&chain)).await;
    let cheat = b.node.close_channel(id, true).await.unwrap();
    mine(&b, 1).await;
    let revoked = tip_tx(&chain, cheat);
    let htlc_outputs: Vec<OutPoint> = (0..revoked.output.len())
        .filter(|&v| revoked.output[v].value.to_sat() == part)
        .map(|v| OutPoint {
            txid: cheat,
            vout: v as u32,
        })
        .collect();
    assert_eq!(htlc_outputs.len(), 3, "{revoked:?}");
    let cheater_to_local = output_of(&revoked, b_sat - 3 * part);
    let tip = chain.tip().unwrap().height;
    mine(&b, expiry - tip).await;
    // One transaction times the three out (same expiry, so one lock time).
    let timeout = spender(&chain, htlc_outputs[0]).await;
    for o in &htlc_outputs {
        assert_eq!(spender(&chain, *o).await, timeout);
    }
    assert_eq!(timeout.input.len(), 4, "three HTLCs and one wallet coin");
    mine(&b, 1).await;
    wait_confirmed(&chain, &timeout).await;
    assert!(chain.spending_tx(&cheater_to_local).unwrap().is_none());

    // A comes back 31 blocks after the cheat (B's delay is 144).
    let a = start_in(a_dir, cfg(&chain)).await;
    let mut taken: Vec<OutPoint> = vec![cheater_to_local];
    // Its output `i` pays what its input `i` timed out.
    for (i, input) in timeout.input.iter().enumerate() {
        if htlc_outputs.contains(&input.previous_output) {
            taken.push(OutPoint {
                txid: timeout.compute_txid(),
                vout: i as u32,
            });
        }
    }
    assert_eq!(taken.len(), 4);
    for (vout, out) in revoked.output.iter().enumerate() {
        let o = OutPoint {
            txid: cheat,
            vout: vout as u32,
        };
        if out.value.to_sat() > 330 && !taken.contains(&o) && !htlc_outputs.contains(&o) {
            taken.push(o); // A's to_remote
        }
    }
    let mut sweeps: Vec<Transaction> = Vec::new();
    for o in &taken {
        let s = spender(&chain, *o).await;
        if !sweeps.iter().any(|t| t.compute_txid() == s.compute_txid()) {
            sweeps.push(s);
        }
    }
    mine(&a, 1).await;
    for s in &sweeps {
        wait_confirmed(&chain, s).await;
    }
    let a_got: u64 = sweeps
        .iter()
        .flat_map(|s| &s.output)
        .map(|o| o.value.to_sat())
        .sum();
    assert!(a_got > CHANNEL - FEES && a_got < CHANNEL, "{a_got}");
    wait_balance(&a, a_before + a_got).await;
    assert!(confirmed(&b).await < b_before, "the cheater only paid fees");
    a.stop().await;
    b.stop().await;
}

/// BOLT 5 with dust: "for any committed HTLC that does not have an output
/// in this commitment transaction: once the commitment transaction has
/// reached reasonable depth, MUST fail the corresponding incoming HTLC".
/// B holds 1 sat of the channel and a 300-sat HTLC from A, both below the
/// dust limit, when it force-closes: its commitment pays A's `to_remote`
/// and A's anchor, nothing else. B has nothing to claim and claims
/// nothing; A takes its `to_remote`, and A's payment fails once the
/// commitment is 6 blocks deep, not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commitment_with_only_dust_for_one_side_fails_the_trimmed_htlc_after_six_blocks() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let (a, b, id) = open_pair(&chain, 1_000).await;
    let scid = channel(&a, id).await.short_channel_id.unwrap();
    let dust = 300;
    let before = channel(&a, id).await.local_balance;
    let expiry = b.node.block_height() + 100;
    let call = send_part(&a, &b, scid, dust, expiry, "dust").await;
    until("the dust HTLC in A's commitment", || async {
        (channel(&a, id).await.local_balance == Msat(before.0 - dust * 1000)).then_some(())
    })
    .await;
    let a_before = confirmed(&a).await;
    let b_before = confirmed(&b).await;

    let txid = b.node.close_channel(id, true).await.unwrap();
    until("B's commitment broadcast", || async {
        chain.in_mempool(&txid).unwrap().then_some(())
    })
    .await;
    mine(&b, 1).await;
    let commitment = tip_tx(&chain, txid);
    let values: Vec<u64> = commitment.output.iter().map(|o| o.value.to_sat()).collect();
    assert_eq!(values.len(), 2, "A's to_remote and anchor only: {values:?}");
    assert!(values.contains(&330), "{values:?}");
    let to_remote = commitment
        .output
        .iter()
        .position(|o| o.value.to_sat() > 330)
        .unwrap();
    let sweep = spender(
        &chain,
        OutPoint {
            txid,
            vout: to_remote as u32,
        },
    )
    .await;
    // The pay call ends at the close; the payment stays pending until
    // the commitment is 6 deep.
    let err = call.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("resolves on chain"), "{err}");
    mine(&a, 4).await;
    wait_confirmed(&chain, &sweep).await;
    let status = || async {
        let payments = a.node.list_payments().await.unwrap();
        payments
            .into_iter()
            .find(|p| p.amount == Msat(2 * dust * 1000))
            .unwrap()
            .status
    };
    assert_eq!(status().await, fulmen_store::PaymentStatus::Pending);
    mine(&a, 1).await;
    until("the payment failed", || async {
        (status().await == fulmen_store::PaymentStatus::Failed).then_some(())
    })
    .await;
    let swept: u64 = sweep.output.iter().map(|o| o.value.to_sat()).sum();
    wait_balance(&a, a_before + swept).await;
    assert_eq!(confirmed(&b).await, b_before, "B claims nothing");
    let at_b = channel(&b, id).await.onchain.unwrap();
    assert!(at_b.pending.is_empty(), "{at_b:?}");
    a.stop().await;
    b.stop().await;
}

/// The fee of `tx`, whose inputs all spend outputs of `parent`, per 1,000
/// weight units.
fn feerate_spending(tx: &Transaction, parent: &Transaction) -> u64 {
    let input: u64 = tx
        .input
        .iter()
        .map(|i| {
            parent.output[i.previous_output.vout as usize]
                .value
                .to_sat()
        })
        .sum();
    let output: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
    (input - output) * 1000 / tx.weight().to_wu()
}

/// "A fee that escalates": A's justice transaction waits in the mempool
/// at the 500 sat/kw of the estimate when the estimate jumps to 5,000 and
/// blocks come without it. A replaces it (full RBF, as Bitcoin Core 28+
/// relays) with one spending the same outputs at the new feerate, which
/// confirms and pays A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_justice_transaction_is_replaced_when_the_feerate_rises() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let (a, b, id, old, a_before) = revoked_copy(&chain).await;
    let a_dir = a.stop_keep().await;
    let (b, revoked) = cheat(&chain, b, id, &old).await;
    let cheater_to_local = output_of(&revoked, 300_000);
    let a = start_in(a_dir, cfg(&chain)).await;
    let first = spender(&chain, cheater_to_local).await;
    let low = feerate_spending(&first, &revoked);
    assert!((500..1_000).contains(&low), "{low}");

    chain
        .set_fee_rate(bitcoin::FeeRate::from_sat_per_kwu(5_000))
        .unwrap();
    let burn = burn_address().script_pubkey();
    // Blocks without it, each once A has seen the one before.
    let start = chain.tip().unwrap().height;
    let replacement = until("the justice transaction replaced", || {
        let (chain, burn, a) = (chain.clone(), burn.clone(), a.node.clone());
        let first = first.compute_txid();
        async move {
            let tip = chain.tip().unwrap();
            let now = chain.spending_tx(&cheater_to_local).unwrap()?.tx;
            if now.compute_txid() != first {
                return Some(now);
            }
            if a.block_height() == tip.height {
                let time = chain.block(&tip.hash).unwrap().unwrap().header.time + 1;
                chain.mine_block_with(Vec::new(), &burn, time).unwrap();
            }
            None
        }
    })
    .await;
    // The estimate comes after the first block's events, the replacement at
    // the next block (one more if the channel manager lagged the wallet).
    let blocks = chain.tip().unwrap().height - start;
    assert!(blocks <= 3, "replaced after {blocks} blocks");
    let outpoints = |t: &Transaction| {
        let mut v: Vec<OutPoint> = t.input.iter().map(|i| i.previous_output).collect();
        v.sort();
        v
    };
    assert_eq!(
        outpoints(&replacement),
        outpoints(&first),
        "the same claims"
    );
    let high = feerate_spending(&replacement, &revoked);
    assert!(high >= 5_000, "{high}");
    assert!(!chain.in_mempool(&first.compute_txid()).unwrap());
    mine(&a, 1).await;
    wait_confirmed(&chain, &replacement).await;
    let a_got = taken_by_a(&chain, &a, &revoked, &replacement).await;
    assert!(a_got > CHANNEL - FEES && a_got < CHANNEL, "{a_got}");
    wait_balance(&a, a_before + a_got).await;
    a.stop().await;
    b.stop().await;
}
