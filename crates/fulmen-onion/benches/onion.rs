#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]
//! Onion costs: peel one hop (target <= 80 us), build a 3-hop and a 20-hop
//! payment onion (targets <= 200 us and <= 1.2 ms), and decrypt a failure
//! returned by hop 20 of 20.
//!
//! In `--bench` mode it then prints each figure against its target, and the
//! elliptic-curve floor of a build (one ECDH per hop, one `k·G` per hop after
//! the first) measured in the same run.

use std::time::Instant;

use criterion::{black_box, criterion_group, Criterion};
use fulmen_onion::failure::{
    create_failure_packet, decrypt_failure, wrap_failure_packet, FailureMessage, DEFAULT_PAD_TARGET,
};
use fulmen_onion::keys::public_key;
use fulmen_onion::{build_payment_onion, peel, HopPayload, PaymentData, PublicKey, SecretKey};
use fulmen_types::{Msat, PaymentHash, PaymentSecret, ShortChannelId};

fn key(i: u8) -> SecretKey {
    SecretKey::from_slice(&[i; 32]).unwrap()
}

/// A route of `n` hops with realistic forward payloads and a final payload
/// with `payment_data`.
fn route(n: usize) -> Vec<(PublicKey, HopPayload)> {
    (0..n)
        .map(|i| {
            let last = i + 1 == n;
            (
                public_key(&key(i as u8 + 1)),
                HopPayload {
                    amt_to_forward: Some(Msat(100_000_000 + (n - i) as u64 * 1_000)),
                    outgoing_cltv_value: Some(850_000 + ((n - i) * 40) as u32),
                    short_channel_id: (!last)
                        .then_some(ShortChannelId(0x0d_1234_0005_0001 + i as u64)),
                    payment_data: last.then_some(PaymentData {
                        payment_secret: PaymentSecret([0x5e; 32]),
                        total_msat: Msat(100_000_000),
                    }),
                    ..HopPayload::default()
                },
            )
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let hash = PaymentHash([0xab; 32]);
    let session = key(0xee);
    let r3 = route(3);
    let r20 = route(20);

    c.bench_function("build 3-hop onion", |b| {
        b.iter(|| build_payment_onion(black_box(&session), black_box(&r3), &hash).unwrap())
    });
    c.bench_function("build 20-hop onion", |b| {
        b.iter(|| build_payment_onion(black_box(&session), black_box(&r20), &hash).unwrap())
    });

    let built = build_payment_onion(&session, &r3, &hash).unwrap();
    let node0 = key(1);
    c.bench_function("peel one hop", |b| {
        b.iter(|| {
            peel(
                black_box(&node0),
                black_box(&built.packet),
                hash.as_bytes(),
                None,
            )
            .unwrap()
        })
    });

    let built20 = build_payment_onion(&session, &r20, &hash).unwrap();
    let secrets = built20.shared_secrets.clone();
    let msg = FailureMessage::IncorrectOrUnknownPaymentDetails {
        htlc_msat: 100_000_000,
        height: 850_000,
    }
    .encode()
    .unwrap();
    let mut reason = create_failure_packet(&secrets[19], &msg, DEFAULT_PAD_TARGET).unwrap();
    for ss in secrets[..19].iter().rev() {
        wrap_failure_packet(ss, &mut reason);
    }
    assert_eq!(decrypt_failure(&secrets, &reason).unwrap().hop_index, 19);
    c.bench_function("decrypt failure from hop 20", |b| {
        b.iter(|| decrypt_failure(black_box(&secrets), black_box(&reason)).unwrap())
    });
}

/// The elliptic-curve floor of the figures above.
fn primitives(c: &mut Criterion) {
    let sk = key(7);
    let pk = public_key(&key(9));
    c.bench_function("primitive: ecdh", |b| {
        b.iter(|| fulmen_onion::keys::ecdh(black_box(&pk), black_box(&sk)))
    });
    c.bench_function("primitive: pubkey from secret", |b| {
        b.iter(|| public_key(black_box(&sk)))
    });
    let hops: Vec<PublicKey> = (1..=20u8).map(|i| public_key(&key(i))).collect();
    c.bench_function("primitive: route secrets 20 hops", |b| {
        b.iter(|| fulmen_onion::route_secrets(black_box(&key(0xee)), black_box(&hops)).unwrap())
    });
    c.bench_function("primitive: pubkey tweak mul", |b| {
        b.iter(|| fulmen_onion::keys::mul_public(black_box(&pk), [3; 32]).unwrap())
    });
}

/// µs per call of `f`, after a warm-up of a tenth as many calls.
fn micros(iters: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iters / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(iters)
}

/// A plain timing loop printing each figure against its target.
fn summary() {
    let hash = PaymentHash([0xab; 32]);
    let session = key(0xee);
    let (r3, r20) = (route(3), route(20));
    let built = build_payment_onion(&session, &r3, &hash).unwrap();
    let node0 = key(1);
    let (sk, pk) = (key(7), public_key(&key(9)));
    let ecdh = micros(5_000, || {
        black_box(fulmen_onion::keys::ecdh(black_box(&pk), black_box(&sk)));
    });
    let keygen = micros(5_000, || {
        black_box(public_key(black_box(&sk)));
    });
    println!("\nsummary: onion figures (one core)");
    println!("  reference: ECDH {ecdh:.1} µs, k·G {keygen:.1} µs");
    let check = |name: &str, us: f64, target: f64, floor: f64| {
        println!(
            "  {name:>15}: {us:8.1} µs  (EC floor {floor:.0} µs; target ≤ {target:.0} µs: {})",
            if us <= target { "met" } else { "MISSED" }
        );
    };
    let peel_us = micros(3_000, || {
        black_box(peel(&node0, &built.packet, hash.as_bytes(), None).unwrap());
    });
    let tweak = micros(3_000, || {
        black_box(fulmen_onion::keys::mul_public(&pk, [3; 32]).unwrap());
    });
    check("peel one hop", peel_us, 80.0, ecdh + tweak);
    for (name, r, target) in [
        ("build 3 hops", &r3, 200.0),
        ("build 20 hops", &r20, 1_200.0),
    ] {
        let us = micros(if r.len() > 3 { 300 } else { 3_000 }, || {
            black_box(build_payment_onion(&session, r, &hash).unwrap());
        });
        let hops = r.len() as f64;
        check(name, us, target, hops * ecdh + (hops - 1.0) * keygen);
    }
}

criterion_group!(onion, benches, primitives);

fn main() {
    onion();
    Criterion::default().configure_from_args().final_summary();
    if std::env::args().any(|a| a == "--bench") {
        summary();
    }
}
