//! Steps of the on-chain tests: mining, wallet balances, transactions
//! spending an outpoint or confirming, channels as a node lists them, and
//! payment parts sent over a route given by hand (held by the payee
//! until the rest arrives).

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Address, CompressedPublicKey, Network, OutPoint, Transaction};
use fulmen_chain::{ChainSource, EmbeddedChain, TxStatus};
use fulmen_types::{ChannelId, Msat};

use super::{config, fast_peers, until, TestNode};

/// One bitcoin in sat.
pub const COIN: u64 = 100_000_000;
/// The capacity of the test channels, in sat.
pub const CHANNEL: u64 = 1_000_000;

/// An address no test node owns: mined coins sent there leave the wallets
/// unchanged.
pub fn burn_address() -> Address {
    let secp = Secp256k1::new();
    let pk = PublicKey::from_secret_key(&secp, &SecretKey::from_slice(&[0x5a; 32]).unwrap());
    Address::p2wpkh(&CompressedPublicKey(pk), Network::Regtest)
}

/// Mines `blocks` blocks paying [`burn_address`].
pub async fn mine(n: &TestNode, blocks: u32) {
    n.node.mine(blocks, Some(burn_address())).await.unwrap();
}

/// The configuration of a node on `chain`.
pub fn cfg(chain: &EmbeddedChain) -> impl FnOnce(&std::path::Path) -> fulmen_node::NodeConfig {
    let c = chain.clone();
    move |dir: &std::path::Path| config(dir, Some(c), fast_peers())
}

/// `n`'s confirmed wallet balance, in sat.
pub async fn confirmed(n: &TestNode) -> u64 {
    n.node.wallet_balance().await.unwrap().confirmed.0
}

/// The transaction spending `outpoint` (mempool or chain), once there is one.
pub async fn spender(chain: &EmbeddedChain, outpoint: OutPoint) -> Transaction {
    until(&format!("{outpoint} is spent"), || async {
        chain.spending_tx(&outpoint).unwrap().map(|s| s.tx)
    })
    .await
}

/// Waits until `tx` is in a block of the active chain.
pub async fn wait_confirmed(chain: &EmbeddedChain, tx: &Transaction) {
    let txid = tx.compute_txid();
    until("the transaction confirms", || async {
        matches!(chain.tx_status(&txid).unwrap(), TxStatus::Confirmed { .. }).then_some(())
    })
    .await;
}

/// Waits until `n`'s confirmed wallet balance is `sat`.
pub async fn wait_balance(n: &TestNode, sat: u64) {
    until(&format!("balance {sat}"), || async {
        (confirmed(n).await == sat).then_some(())
    })
    .await;
}

/// The output of `tx` paying exactly `sat`.
pub fn output_of(tx: &Transaction, sat: u64) -> OutPoint {
    let vout = tx
        .output
        .iter()
        .position(|o| o.value.to_sat() == sat)
        .unwrap_or_else(|| panic!("no output of {sat} in {tx:?}"));
    OutPoint {
        txid: tx.compute_txid(),
        vout: vout as u32,
    }
}

/// Transaction `txid` of the tip block.
pub fn tip_tx(chain: &EmbeddedChain, txid: bitcoin::Txid) -> Transaction {
    let tip = chain.tip().unwrap().height;
    chain
        .block_at(tip)
        .unwrap()
        .unwrap()
        .txdata
        .into_iter()
        .find(|t| t.compute_txid() == txid)
        .expect("transaction in the tip block")
}

/// A request for a new invoice of `payee` for twice `part` sat, to be
/// paid in parts.
pub async fn part_request(payee: &TestNode, part: u64, label: &str) -> fulmen_node::PayRequest {
    let inv = payee
        .node
        .create_invoice(Some(Msat(2 * part * 1000)), label, "half")
        .await
        .unwrap();
    let parsed = fulmen_onion::Invoice::parse(&inv.bolt11).unwrap();
    fulmen_node::PayRequest {
        destination: payee.id(),
        amount: Msat(2 * part * 1000),
        payment_hash: inv.payment_hash,
        payment_secret: Some(parsed.payment_secret()),
        keysend_preimage: None,
        min_final_cltv_expiry_delta: parsed.min_final_cltv_expiry_delta() as u32,
        bolt11: None,
        route_hints: Vec::new(),
        mpp: true,
    }
}

/// A payment sent in the background.
pub type PayCall =
    tokio::task::JoinHandle<Result<fulmen_node::PaymentOutcome, fulmen_node::NodeError>>;

/// `payer` sends one part of `request` over `hops`.
pub fn send_over(
    payer: &TestNode,
    request: &fulmen_node::PayRequest,
    hops: Vec<fulmen_graph::router::RouteHop>,
) -> PayCall {
    let node = payer.node.clone();
    let request = request.clone();
    let route = fulmen_graph::router::Route { hops };
    tokio::spawn(async move { node.pay_route(request, route).await })
}

/// The last hop of a route: `part` sat to `payee` over `scid`.
pub fn final_hop(
    payee: &TestNode,
    scid: fulmen_types::ShortChannelId,
    part: u64,
    cltv_expiry: u32,
) -> fulmen_graph::router::RouteHop {
    fulmen_graph::router::RouteHop {
        node_id: payee.id(),
        short_channel_id: scid,
        amount: Msat(part * 1000),
        cltv_expiry,
        fee: Msat(0),
        cltv_expiry_delta: 0,
    }
}

/// `payer` sends `part` sat of a new invoice of `payee` for twice that,
/// over the direct channel `scid`, expiring at `cltv_expiry`: one part of
/// a multi-part payment, which the payee holds waiting for the rest.
pub async fn send_part(
    payer: &TestNode,
    payee: &TestNode,
    scid: fulmen_types::ShortChannelId,
    part: u64,
    cltv_expiry: u32,
    label: &str,
) -> PayCall {
    let request = part_request(payee, part, label).await;
    send_over(
        payer,
        &request,
        vec![final_hop(payee, scid, part, cltv_expiry)],
    )
}

/// `n`'s view of channel `id`.
pub async fn channel(n: &TestNode, id: ChannelId) -> fulmen_node::ChannelInfo {
    n.node
        .list_channels()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.channel_id == id)
        .unwrap()
}

/// Waits until `n`'s channel `id` runs (funding deep enough, `normal`).
pub async fn wait_normal(n: &TestNode, id: ChannelId) -> fulmen_types::ShortChannelId {
    until("the channel runs", || async {
        let c = channel(n, id).await;
        (c.phase == "normal")
            .then_some(c.short_channel_id)
            .flatten()
    })
    .await
}
