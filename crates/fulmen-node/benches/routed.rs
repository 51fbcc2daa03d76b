//! 3-hop payments through four Fulmen daemons in a line (A → B → C → D),
//! each with its SQLite store (WAL, `synchronous=FULL`) on the build
//! machine's disk, over loopback TCP, on one in-memory regtest chain, in
//! one process. The channels are announced and the route is found in A's
//! graph; B and C forward (their fee and CLTV checks, the `forwards`
//! records, settling upstream).
//!
//! Prints `payments/s` for N BOLT 11 payments of D with up to 200 in flight
//! (N = 5,000 under `cargo bench`, 100 under `cargo test`;
//! `FULMEN_BENCH_PAYMENTS` overrides), against the target of 300
//! payments/s; then criterion's own figure per payment.
//!
//! `cargo bench -p fulmen-node --bench routed`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Address, CompressedPublicKey, Network};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use fulmen_chain::{EmbeddedChain, EmbeddedConfig};
use fulmen_node::{
    ChainConfig, ConnectTarget, Node, NodeConfig, NodeEvent, OsEntropy, PaymentStatusKind,
};
use fulmen_types::{Msat, Sat};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

const PAYMENT_MSAT: u64 = 10_000;
const IN_FLIGHT: usize = 200;
const TARGET_PER_SEC: f64 = 300.0;

struct Line {
    nodes: Vec<Node>,
    _dirs: Vec<tempfile::TempDir>,
    labels: std::sync::atomic::AtomicU64,
}

fn burn() -> Address {
    let secp = Secp256k1::new();
    let pk = PublicKey::from_secret_key(&secp, &SecretKey::from_slice(&[0x5a; 32]).unwrap());
    Address::p2wpkh(&CompressedPublicKey(pk), Network::Regtest)
}

fn temp_dir() -> tempfile::TempDir {
    let base = std::env::var_os("FULMEN_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp")
        });
    std::fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

async fn wait_for(
    events: &mut tokio::sync::broadcast::Receiver<NodeEvent>,
    mut done: impl FnMut(&NodeEvent) -> bool,
) {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match events.recv().await {
                Ok(e) if done(&e) => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .expect("event in time");
}

async fn setup() -> Line {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| temp_dir()).collect();
    let mut nodes = Vec::new();
    for dir in &dirs {
        let mut c = NodeConfig::regtest(dir.path());
        c.chain = ChainConfig::Embedded(chain.clone());
        c.rpc_listen = None;
        c.chain_poll_interval = Duration::from_millis(50);
        nodes.push(Node::start(c, Arc::new(OsEntropy)).await.unwrap());
    }
    let mut events: Vec<_> = nodes.iter().map(Node::subscribe).collect();
    for n in &nodes[..3] {
        n.mine(1, None).await.unwrap();
    }
    nodes[0].mine(100, Some(burn())).await.unwrap();
    for (n, e) in nodes.iter().zip(events.iter_mut()) {
        if n.block_height() < 103 {
            wait_for(
                e,
                |e| matches!(e, NodeEvent::ChainSynced { height } if *height >= 103),
            )
            .await;
        }
    }
    for i in 0..3 {
        let (l, r) = (&nodes[i], &nodes[i + 1]);
        l.connect(&ConnectTarget {
            node_id: r.node_id(),
            address: r.listen_addr().unwrap().to_string(),
        })
        .await
        .unwrap();
        l.open_channel(r.node_id(), Sat(16_000_000), Msat(0), true)
            .await
            .unwrap();
    }
    nodes[0].mine(6, Some(burn())).await.unwrap();
    let graph = nodes[0].network_graph();
    let complete = || {
        let g = graph.read().unwrap();
        g.num_channels() == 3
            && g.channel_ids().all(|scid| {
                g.channel(scid)
                    .is_some_and(|c| c.one_to_two.is_some() && c.two_to_one.is_some())
            })
    };
    while !complete() {
        wait_for(&mut events[0], |e| {
            matches!(e, NodeEvent::GraphChanged { .. })
        })
        .await;
    }
    Line {
        nodes,
        _dirs: dirs,
        labels: std::sync::atomic::AtomicU64::new(0),
    }
}

impl Line {
    async fn invoices(&self, n: usize) -> Vec<String> {
        let d = &self.nodes[3];
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..(n - out.len()).min(500) {
                let d = d.clone();
                let label = self
                    .labels
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                set.spawn(async move {
                    d.create_invoice(Some(Msat(PAYMENT_MSAT)), &format!("r-{label}"), "bench")
                        .await
                        .unwrap()
                        .bolt11
                });
            }
            while let Some(r) = set.join_next().await {
                out.push(r.unwrap());
            }
        }
        out
    }

    async fn pay_all(&self, invoices: Vec<String>) -> Duration {
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for bolt11 in invoices {
            let permit = slots.clone().acquire_owned().await.unwrap();
            let a = self.nodes[0].clone();
            set.spawn(async move {
                let out = a.pay_invoice(&bolt11, None).await.unwrap();
                drop(permit);
                assert_eq!(out.status, PaymentStatusKind::Complete, "{out:?}");
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
        start.elapsed()
    }
}

fn headline(rt: &Runtime, line: &Line) {
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("FULMEN_BENCH_PAYMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 5_000 } else { 100 });
    let invoices = rt.block_on(line.invoices(n));
    let elapsed = rt.block_on(line.pay_all(invoices));
    let rate = n as f64 / elapsed.as_secs_f64();
    println!(
        "fulmen routed payments (3 hops, 4 daemons): {n} payments, up to {IN_FLIGHT} in flight: {rate:.0} payments/s ({:.2} s); target >= {TARGET_PER_SEC:.0}: {}",
        elapsed.as_secs_f64(),
        if rate >= TARGET_PER_SEC { "met" } else { "NOT met" }
    );
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let line = rt.block_on(setup());
    headline(&rt, &line);

    let mut group = c.benchmark_group("routed");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(1));
    group.bench_function("3_hops_200_in_flight", |bench| {
        bench.iter_custom(|iters| {
            let invoices = rt.block_on(line.invoices(iters as usize));
            rt.block_on(line.pay_all(invoices))
        });
    });
    group.finish();
    for n in &line.nodes {
        n.stop();
    }
    rt.block_on(async {
        for n in &line.nodes {
            n.clone().wait_stopped().await;
        }
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
