//! Payments per second between two nodes over loopback, Fulmen and LDK side
//! by side in the same run, on one in-memory regtest chain (served over
//! JSON-RPC to the ldk-nodes):
//!
//! * two Fulmen daemons (SQLite stores, WAL, `synchronous=FULL`) with up
//!   to 400 and up to 50 payments in flight;
//! * two ldk-node 0.7 nodes (their default SQLite store) with up to 50 in
//!   flight — about what LDK accepts on a channel by default (its
//!   `max_accepted_htlcs` is 50 and its in-flight limit a share of the
//!   channel).
//!
//! Each side pays N BOLT 11 invoices of 1,000 msat over one 0.16 BTC
//! channel (N = 2,000 under `cargo bench`, 50 under `cargo test`;
//! `FULMEN_BENCH_PAYMENTS` overrides) and prints payments/s, then the two
//! ratios (Fulmen at 50 / LDK at 50, Fulmen at 400 / LDK at 50).
//!
//! `cargo bench -p fulmen-interop --bench vs_ldk`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Address, CompressedPublicKey, Network};
use fulmen_chain::rpc::{Credentials, RpcServer, ServerConfig};
use fulmen_chain::{EmbeddedChain, EmbeddedConfig};
use fulmen_node::{
    ChainConfig, ConnectTarget, Node, NodeConfig, NodeEvent, OsEntropy, PaymentStatusKind,
};
use fulmen_types::{Msat, Sat};
use ldk_node::lightning::ln::msgs::SocketAddress;
use ldk_node::lightning_invoice::{Bolt11InvoiceDescription, Description};
use ldk_node::Event;
use tokio::sync::Semaphore;

const PAYMENT_MSAT: u64 = 1_000;
const CHANNEL_SAT: u64 = 16_000_000;
const WAIT: Duration = Duration::from_secs(120);

fn burn() -> Address {
    let secp = Secp256k1::new();
    let pk = PublicKey::from_secret_key(&secp, &SecretKey::from_slice(&[0x5a; 32]).unwrap());
    Address::p2wpkh(&CompressedPublicKey(pk), Network::Regtest)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn payments() -> usize {
    let full = std::env::args().any(|a| a == "--bench");
    std::env::var("FULMEN_BENCH_PAYMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 2_000 } else { 50 })
}

fn temp_dir() -> tempfile::TempDir {
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp");
    std::fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

/// Fulmen: two daemons, one channel; payments/s at `in_flight`.
fn fulmen_rates(chain: &EmbeddedChain, n: usize, in_flights: &[usize]) -> Vec<f64> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (da, db) = (temp_dir(), temp_dir());
    let config = |dir: &std::path::Path| {
        let mut c = NodeConfig::regtest(dir);
        c.chain = ChainConfig::Embedded(chain.clone());
        c.rpc_listen = None;
        c.chain_poll_interval = Duration::from_millis(50);
        c
    };
    rt.block_on(async {
        let a = Node::start(config(da.path()), Arc::new(OsEntropy))
            .await
            .unwrap();
        let b = Node::start(config(db.path()), Arc::new(OsEntropy))
            .await
            .unwrap();
        let mut ev = a.subscribe();
        a.mine(1, None).await.unwrap();
        a.mine(100, Some(burn())).await.unwrap();
        a.connect(&ConnectTarget {
            node_id: b.node_id(),
            address: b.listen_addr().unwrap().to_string(),
        })
        .await
        .unwrap();
        let opened = a
            .open_channel(b.node_id(), Sat(CHANNEL_SAT), Msat(0), false)
            .await
            .unwrap();
        a.mine(3, Some(burn())).await.unwrap();
        tokio::time::timeout(WAIT, async {
            loop {
                if let Ok(NodeEvent::ChannelReady { channel_id, .. }) = ev.recv().await {
                    if channel_id == opened.channel_id {
                        break;
                    }
                }
            }
        })
        .await
        .unwrap();
        let mut rates = Vec::new();
        let mut label = 0u64;
        for &in_flight in in_flights {
            let mut invoices = Vec::with_capacity(n);
            for _ in 0..n {
                label += 1;
                invoices.push(
                    b.create_invoice(Some(Msat(PAYMENT_MSAT)), &format!("v-{label}"), "bench")
                        .await
                        .unwrap()
                        .bolt11,
                );
            }
            let slots = Arc::new(Semaphore::new(in_flight));
            let start = Instant::now();
            let mut set = tokio::task::JoinSet::new();
            for bolt11 in invoices {
                let permit = slots.clone().acquire_owned().await.unwrap();
                let a = a.clone();
                set.spawn(async move {
                    let out = a.pay_invoice(&bolt11, None).await.unwrap();
                    drop(permit);
                    assert_eq!(out.status, PaymentStatusKind::Complete, "{out:?}");
                });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap();
            }
            rates.push(n as f64 / start.elapsed().as_secs_f64());
        }
        a.stop();
        b.stop();
        a.clone().wait_stopped().await;
        b.clone().wait_stopped().await;
        rates
    })
}

fn ldk_node(rpc: SocketAddr, credentials: &Credentials, dir: &std::path::Path) -> ldk_node::Node {
    let port = free_port();
    let mut builder = ldk_node::Builder::new();
    builder
        .set_network(Network::Regtest)
        .set_storage_dir_path(dir.join("ldk").display().to_string())
        .set_filesystem_logger(
            Some(dir.join("ldk.log").display().to_string()),
            Some(ldk_node::logger::LogLevel::Warn),
        )
        .set_chain_source_bitcoind_rpc(
            rpc.ip().to_string(),
            rpc.port(),
            credentials.user.clone(),
            credentials.password.clone(),
        );
    builder
        .set_listening_addresses(vec![SocketAddress::TcpIpV4 {
            addr: [127, 0, 0, 1],
            port,
        }])
        .unwrap();
    let node = builder.build().unwrap();
    node.start().unwrap();
    node
}

/// LDK: two ldk-nodes, one channel; payments/s at `in_flight`.
fn ldk_rate(chain: &EmbeddedChain, n: usize, in_flight: usize) -> f64 {
    let credentials = Credentials::new("bench", "bench-password");
    let server = RpcServer::start(
        chain.clone(),
        "127.0.0.1:0".parse().unwrap(),
        ServerConfig::new(credentials.clone()),
    )
    .unwrap();
    let (d1, d2) = (temp_dir(), temp_dir());
    let l1 = ldk_node(server.local_addr(), &credentials, d1.path());
    let l2 = ldk_node(server.local_addr(), &credentials, d2.path());
    let addr = l1.onchain_payment().new_address().unwrap();
    let burn = burn();
    chain.mine(1, &addr.script_pubkey(), now()).unwrap();
    chain.mine(100, &burn.script_pubkey(), now()).unwrap();
    wait("l1 funds", || {
        let _ = l1.sync_wallets();
        l1.list_balances().spendable_onchain_balance_sats > CHANNEL_SAT
    });
    let l2_addr = l2.listening_addresses().unwrap()[0].clone();
    l1.open_channel(l2.node_id(), l2_addr, CHANNEL_SAT, None, None)
        .unwrap();
    wait("funding in the mempool", || {
        chain
            .mempool_entries()
            .map(|t| !t.is_empty())
            .unwrap_or(false)
    });
    chain.mine(6, &burn.script_pubkey(), now()).unwrap();
    wait("ldk channel usable", || {
        l1.list_channels().iter().any(|c| c.is_usable)
    });
    while let Some(e) = l1.next_event() {
        let _ = e;
        l1.event_handled().unwrap();
    }
    // l2 handles its own events (claims) on a thread.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let l2 = Arc::new(l2);
    let l2_thread = {
        let (l2, stop) = (l2.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if l2.next_event().is_some() {
                    l2.event_handled().unwrap();
                } else {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        })
    };
    let desc = Bolt11InvoiceDescription::Direct(Description::new("bench".to_owned()).unwrap());
    let invoices: Vec<_> = (0..n)
        .map(|_| {
            l2.bolt11_payment()
                .receive(PAYMENT_MSAT, &desc, 3600)
                .unwrap()
        })
        .collect();
    let start = Instant::now();
    let mut pending: HashSet<ldk_node::lightning::ln::channelmanager::PaymentId> = HashSet::new();
    let mut queue: std::collections::VecDeque<_> = invoices.iter().collect();
    let mut done = 0usize;
    while done < n {
        while pending.len() < in_flight {
            let Some(inv) = queue.pop_front() else { break };
            match l1.bolt11_payment().send(inv, None) {
                Ok(id) => {
                    pending.insert(id);
                }
                // LDK refuses to send while its channel has no room for
                // another HTLC (its count includes HTLCs whose removal is
                // still being committed): back-pressure, try again after
                // the next event.
                Err(ldk_node::NodeError::PaymentSendingFailed) if !pending.is_empty() => {
                    queue.push_front(inv);
                    break;
                }
                Err(e) => panic!("ldk send failed: {e:?}"),
            }
        }
        match l1.wait_next_event() {
            Event::PaymentSuccessful {
                payment_id: Some(id),
                ..
            } => {
                assert!(pending.remove(&id));
                done += 1;
            }
            Event::PaymentFailed { reason, .. } => panic!("ldk payment failed: {reason:?}"),
            _ => {}
        }
        l1.event_handled().unwrap();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    l2_thread.join().unwrap();
    l1.stop().unwrap();
    l2.stop().unwrap();
    drop(server);
    rate
}

fn main() {
    let n = payments();
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let fulmen = fulmen_rates(&chain, n, &[400, 50]);
    let ldk = ldk_rate(&chain, n, 50);
    println!(
        "fulmen, 2 daemons, up to 400 in flight: {:.0} payments/s",
        fulmen[0]
    );
    println!(
        "fulmen, 2 daemons, up to 50 in flight: {:.0} payments/s",
        fulmen[1]
    );
    println!("ldk-node 0.7, 2 nodes, up to 50 in flight: {ldk:.0} payments/s");
    println!(
        "ratio fulmen/ldk at 50 in flight: {:.2}; fulmen at 400 / ldk at 50: {:.2} ({n} payments each)",
        fulmen[1] / ldk,
        fulmen[0] / ldk
    );
}

fn now() -> u32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    u32::try_from(secs).unwrap()
}
