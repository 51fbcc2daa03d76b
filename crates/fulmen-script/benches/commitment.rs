//! Building and signing one commitment with 0, 10 and 100 HTLCs: build the
//! commitment, sign it (funding key), build every HTLC transaction and sign
//! each (HTLC key) — what a node does per `commitment_signed` it sends.
//! Target: at most 60 µs + 30 µs per HTLC on one core.
//!
//! Prints criterion's figures and, in `--bench` mode, a one-line summary
//! per case in µs per iteration against the target.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;
use std::time::Instant;

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey, SignOnly};
use bitcoin::{OutPoint, Txid};
use criterion::{BenchmarkId, Criterion};
use fulmen_script::commitment::{build_commitment, CommitmentParams, ObscuringFactor};
use fulmen_script::keys::{per_commitment_point, Basepoints, CommitmentKeys};
use fulmen_script::scripts::funding_script;
use fulmen_script::shachain::ShachainSeed;
use fulmen_script::sign::{counterparty_htlc_sighash_type, sign_funding_spend, sign_htlc_tx};
use fulmen_script::{ChannelType, Htlc, HtlcDirection, Side};
use fulmen_types::{Msat, PaymentHash, Sat};

const FUNDING_SAT: u64 = 10_000_000;

struct Setup {
    secp: Secp256k1<SignOnly>,
    funding_key: SecretKey,
    htlc_key: SecretKey,
    funding_script: bitcoin::ScriptBuf,
    local_funding: PublicKey,
    remote_funding: PublicKey,
    keys: CommitmentKeys,
    factor: ObscuringFactor,
}

fn key(b: u8) -> SecretKey {
    SecretKey::from_slice(&[b; 32]).unwrap()
}

fn setup() -> Setup {
    let full = Secp256k1::new();
    let pubk = |b| PublicKey::from_secret_key(&full, &key(b));
    let local = Basepoints {
        revocation: pubk(1),
        payment: pubk(2),
        delayed_payment: pubk(3),
        htlc: pubk(4),
    };
    let remote = Basepoints {
        revocation: pubk(5),
        payment: pubk(6),
        delayed_payment: pubk(7),
        htlc: pubk(8),
    };
    let seed = ShachainSeed::new([9; 32]);
    let point = per_commitment_point(&seed.secret_for_commitment(42).unwrap()).unwrap();
    let keys = CommitmentKeys::derive(&full, &point, &local, &remote).unwrap();
    let (local_funding, remote_funding) = (pubk(10), pubk(11));
    Setup {
        // rust-bitcoin's signing context, for the reference figure only.
        secp: Secp256k1::signing_only(),
        funding_key: key(10),
        htlc_key: key(4),
        funding_script: funding_script(&local_funding, &remote_funding),
        local_funding,
        remote_funding,
        keys,
        factor: ObscuringFactor::new(&local.payment, &remote.payment),
    }
}

fn htlcs(n: usize) -> Vec<Htlc> {
    (0..n)
        .map(|i| Htlc {
            direction: if i % 2 == 0 {
                HtlcDirection::Offered
            } else {
                HtlcDirection::Received
            },
            amount: Msat(20_000_000 + i as u64 * 1_000),
            payment_hash: PaymentHash(
                bitcoin::hashes::sha256::Hash::hash(&i.to_be_bytes()).to_byte_array(),
            ),
            cltv_expiry: 800_000 + (i as u32 % 7),
        })
        .collect()
}

fn params<'a>(s: &Setup, t: ChannelType, htlcs: &'a [Htlc]) -> CommitmentParams<'a> {
    let in_htlcs: u64 = htlcs.iter().map(|h| h.amount.0).sum();
    let rest = FUNDING_SAT * 1000 - in_htlcs;
    CommitmentParams {
        funding_outpoint: OutPoint {
            txid: Txid::from_byte_array([3; 32]),
            vout: 1,
        },
        funding_amount: Sat(FUNDING_SAT),
        funder: Side::Local,
        to_self_delay: 144,
        dust_limit: Sat(546),
        feerate_per_kw: 2_500,
        channel_type: t,
        local_funding_pubkey: s.local_funding,
        remote_funding_pubkey: s.remote_funding,
        keys: s.keys,
        commitment_number: 42,
        obscuring_factor: s.factor,
        to_local: Msat(rest / 2),
        to_remote: Msat(rest - rest / 2),
        htlcs,
    }
}

/// One full round: build, sign the commitment, build and sign every HTLC
/// transaction. Returns the signature count so nothing is optimised away.
fn round(s: &Setup, p: &CommitmentParams<'_>) -> usize {
    let built = build_commitment(p).unwrap();
    let sig = sign_funding_spend(
        &built.tx,
        &s.funding_script,
        Sat(FUNDING_SAT),
        &s.funding_key,
    )
    .unwrap();
    black_box(sig);
    let sighash_type = counterparty_htlc_sighash_type(p.channel_type);
    let txs = built.htlc_txs(p).unwrap();
    for h in &txs {
        let sig = sign_htlc_tx(
            &h.tx,
            &h.htlc_script,
            h.htlc_amount,
            sighash_type,
            &s.htlc_key,
        )
        .unwrap();
        black_box(sig);
    }
    1 + txs.len()
}

const CASES: [(ChannelType, &str); 2] = [
    (ChannelType::AnchorsZeroFeeHtlcTx, "anchors"),
    (ChannelType::StaticRemoteKey, "static_remotekey"),
];

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("build_and_sign_commitment");
    for (t, name) in CASES {
        for n in [0usize, 10, 100] {
            let list = htlcs(n);
            let p = params(&s, t, &list);
            assert_eq!(round(&s, &p), n + 1, "every HTLC untrimmed");
            group.bench_with_input(BenchmarkId::new(name, n), &p, |b, p| {
                b.iter(|| round(&s, black_box(p)))
            });
        }
    }
    group.finish();
}

/// A plain timing loop printing µs per iteration against the target.
fn summary() {
    let s = setup();
    println!("\nsummary: build + sign commitment + build + sign every HTLC tx (one core)");
    // Reference: one bare signature on this machine, now, with the
    // libsecp256k1 Fulmen signs with (fulmen_types::ec) and with the one
    // rust-bitcoin bundles.
    let msg = bitcoin::secp256k1::Message::from_digest([5; 32]);
    let n = 5_000;
    let start = Instant::now();
    for _ in 0..n {
        black_box(fulmen_types::ec::sign_ecdsa(black_box(&msg), &s.htlc_key));
    }
    let sign_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let start = Instant::now();
    for _ in 0..n {
        black_box(s.secp.sign_ecdsa(black_box(&msg), &s.htlc_key));
    }
    let old_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!(
        "  reference: one ECDSA signature = {sign_us:.1} µs (libsecp256k1 0.6; 0.4 as rust-bitcoin bundles it: {old_us:.1} µs)"
    );
    // Reference: building alone (no signatures), 100 HTLCs.
    let list = htlcs(100);
    let p = params(&s, ChannelType::AnchorsZeroFeeHtlcTx, &list);
    let start = Instant::now();
    for _ in 0..300 {
        let built = build_commitment(black_box(&p)).unwrap();
        black_box(built.htlc_txs(&p).unwrap());
    }
    let build_us = start.elapsed().as_secs_f64() * 1e6 / 300.0;
    println!("  reference: build commitment + 100 HTLC txs, unsigned = {build_us:.1} µs");
    for (t, name) in CASES {
        for n in [0usize, 10, 100] {
            let list = htlcs(n);
            let p = params(&s, t, &list);
            let iters = if n == 100 { 300 } else { 3_000 };
            for _ in 0..iters / 10 {
                round(&s, &p);
            }
            let start = Instant::now();
            for _ in 0..iters {
                black_box(round(&s, black_box(&p)));
            }
            let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(iters);
            let target = 60.0 + 30.0 * n as f64;
            println!(
                "  {name:>16}, {n:>3} htlcs: {us:9.1} µs/iter  (target ≤ {target:.0} µs: {})",
                if us <= target { "met" } else { "MISSED" }
            );
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        summary();
    }
}
