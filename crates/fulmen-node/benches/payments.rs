//! Payments between two Fulmen nodes over loopback TCP, each with its
//! SQLite store (WAL, `synchronous=FULL`, in a temporary directory on the
//! build machine's disk), on one in-memory regtest chain, in one process.
//!
//! Prints:
//!
//! * `payments/s` for 10,000 BOLT 11 payments with up to 400 in flight
//!   (below the 483-HTLC limit) and with up to 50 in flight;
//! * the latency of a lone payment (`pay` called, preimage back), p50, p90
//!   and p99 over 500 sequential payments;
//!
//! then runs the same two measurements under criterion (time per payment,
//! with throughput). Invoices are created before each timed run.
//!
//! `cargo bench -p fulmen-node --bench payments`; `FULMEN_BENCH_PAYMENTS=N`
//! changes the 10,000 (200 under `cargo test`, which only checks the bench
//! runs), `FULMEN_BENCH_DIR` where the stores live.

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
use fulmen_types::{ChannelId, Msat, Sat};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

const PAYMENT_MSAT: u64 = 1_000;

struct Pair {
    a: Node,
    b: Node,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    labels: std::sync::atomic::AtomicU64,
}

fn burn() -> Address {
    let secp = Secp256k1::new();
    let pk = PublicKey::from_secret_key(&secp, &SecretKey::from_slice(&[0x5a; 32]).unwrap());
    Address::p2wpkh(&CompressedPublicKey(pk), Network::Regtest)
}

fn temp_dir() -> tempfile::TempDir {
    // On the same disk as the build, not a RAM disk: fsyncs are real
    // (`FULMEN_BENCH_DIR` chooses another place).
    let base = std::env::var_os("FULMEN_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp")
        });
    std::fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

async fn setup() -> Pair {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let (da, db) = (temp_dir(), temp_dir());
    let config = |dir: &std::path::Path| {
        let mut c = NodeConfig::regtest(dir);
        c.chain = ChainConfig::Embedded(chain.clone());
        c.rpc_listen = None;
        c.chain_poll_interval = Duration::from_millis(50);
        c
    };
    let a = Node::start(config(da.path()), Arc::new(OsEntropy))
        .await
        .unwrap();
    let b = Node::start(config(db.path()), Arc::new(OsEntropy))
        .await
        .unwrap();
    let mut events_a = a.subscribe();
    let mut events_b = b.subscribe();
    a.mine(1, None).await.unwrap();
    a.mine(100, Some(burn())).await.unwrap();
    a.connect(&ConnectTarget {
        node_id: b.node_id(),
        address: b.listen_addr().unwrap().to_string(),
    })
    .await
    .unwrap();
    // Just under 2^24 sat: no large-channel negotiation needed.
    let opened = a
        .open_channel(b.node_id(), Sat(16_000_000), Msat(0), false)
        .await
        .unwrap();
    a.mine(3, Some(burn())).await.unwrap();
    for events in [&mut events_a, &mut events_b] {
        wait_ready(events, opened.channel_id).await;
    }
    Pair {
        a,
        b,
        _dirs: (da, db),
        labels: std::sync::atomic::AtomicU64::new(0),
    }
}

async fn wait_ready(events: &mut tokio::sync::broadcast::Receiver<NodeEvent>, id: ChannelId) {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match events.recv().await {
                Ok(NodeEvent::ChannelReady { channel_id, .. }) if channel_id == id => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .expect("channel ready in time");
}

impl Pair {
    /// `n` invoices of B (created 500 at a time: one commit per batch).
    async fn invoices(&self, n: usize) -> Vec<String> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..(n - out.len()).min(500) {
                let b = self.b.clone();
                let label = self
                    .labels
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                set.spawn(async move {
                    b.create_invoice(Some(Msat(PAYMENT_MSAT)), &format!("bench-{label}"), "bench")
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

    /// Pays every invoice with at most `in_flight` at once; the elapsed
    /// time.
    async fn pay_all(&self, invoices: Vec<String>, in_flight: usize) -> Duration {
        let slots = Arc::new(Semaphore::new(in_flight));
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for bolt11 in invoices {
            let permit = slots.clone().acquire_owned().await.unwrap();
            let a = self.a.clone();
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

    /// One payment at a time; each one's latency.
    async fn lone(&self, n: usize) -> Vec<Duration> {
        let invoices = self.invoices(n).await;
        let mut out = Vec::with_capacity(n);
        for bolt11 in invoices {
            let start = Instant::now();
            let paid = self.a.pay_invoice(&bolt11, None).await.unwrap();
            out.push(start.elapsed());
            assert_eq!(paid.status, PaymentStatusKind::Complete);
        }
        out
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn headline(rt: &Runtime, pair: &Pair) {
    // Under `cargo test` (no `--bench`) a smoke run: the figures are only
    // meaningful from `cargo bench`.
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("FULMEN_BENCH_PAYMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 10_000 } else { 200 });
    for in_flight in [400, 50] {
        let invoices = rt.block_on(pair.invoices(n));
        let elapsed = rt.block_on(pair.pay_all(invoices, in_flight));
        println!(
            "fulmen payments: {n} payments, up to {in_flight} in flight: {:.0} payments/s ({:.2} s)",
            n as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64()
        );
    }
    let mut lat = rt.block_on(pair.lone(if full { 500 } else { 20 }));
    lat.sort();
    println!(
        "fulmen lone payment latency over {} payments: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
        lat.len(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.9)),
        ms(percentile(&lat, 0.99)),
    );
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pair = rt.block_on(setup());
    headline(&rt, &pair);

    let mut group = c.benchmark_group("payments");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(1));
    group.bench_function("lone_payment", |bench| {
        bench.iter_custom(|iters| {
            let lat = rt.block_on(pair.lone(iters as usize));
            lat.iter().sum()
        });
    });
    group.bench_function("400_in_flight", |bench| {
        bench.iter_custom(|iters| {
            let invoices = rt.block_on(pair.invoices(iters as usize));
            rt.block_on(pair.pay_all(invoices, 400))
        });
    });
    group.finish();
    pair.a.stop();
    pair.b.stop();
    rt.block_on(async {
        pair.a.clone().wait_stopped().await;
        pair.b.clone().wait_stopped().await;
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
