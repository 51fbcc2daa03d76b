#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! BOLT 11: every example invoice of the specification decodes to its listed
//! fields, every invalid example is refused, and invoices Fulmen creates
//! round-trip.

mod common;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Address, Network};
use common::*;
use fulmen_onion::invoice::{Invoice, InvoiceDescription, InvoiceError, NewInvoice, RouteHintHop};
use fulmen_types::{Feature, Features, Msat, NodeId, PaymentPreimage, PaymentSecret};

const VECTORS: &str = include_str!("data/bolt11_vectors.json");

fn network(s: &str) -> Network {
    match s {
        "bitcoin" => Network::Bitcoin,
        "testnet" => Network::Testnet,
        other => panic!("unknown network {other}"),
    }
}

#[test]
fn every_valid_example_decodes_to_its_fields() {
    let v = json(VECTORS);
    let secp = Secp256k1::new();
    let signer = PublicKey::from_secret_key(&secp, &sk(s(&v, "priv_key")));
    let valid = v["valid"].as_array().unwrap();
    assert_eq!(valid.len(), 16);
    for case in valid {
        let name = s(case, "comment");
        let inv = Invoice::parse(s(case, "invoice")).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(inv.network(), network(s(case, "network")), "{name}");
        assert_eq!(
            inv.amount(),
            case["amount_msat"].as_u64().map(Msat),
            "{name}"
        );
        assert_eq!(
            inv.timestamp(),
            case["timestamp"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            inv.payment_hash().to_string(),
            s(case, "payment_hash"),
            "{name}"
        );
        assert_eq!(
            inv.payment_secret(),
            PaymentSecret(h32(s(case, "payment_secret")))
        );
        let want_desc = match (
            case["description"].as_str(),
            case["description_hash"].as_str(),
        ) {
            (Some(d), None) => InvoiceDescription::Direct(d.to_string()),
            (None, Some(h)) => InvoiceDescription::Hash(h32(h)),
            _ => panic!("{name}: bad vector"),
        };
        assert_eq!(inv.description(), want_desc, "{name}");
        assert_eq!(
            inv.expiry_secs(),
            case["expiry_secs"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            inv.min_final_cltv_expiry_delta(),
            case["min_final_cltv_expiry_delta"].as_u64().unwrap(),
            "{name}"
        );
        let fallbacks: Vec<String> = inv
            .fallback_addresses()
            .iter()
            .map(Address::to_string)
            .collect();
        let want_fallbacks: Vec<String> = case["fallback_addresses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        assert_eq!(fallbacks, want_fallbacks, "{name}");
        let want_hints: Vec<Vec<RouteHintHop>> = case["route_hints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|route| {
                route
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| RouteHintHop {
                        node_id: s(h, "pubkey").parse::<NodeId>().unwrap(),
                        short_channel_id: s(h, "short_channel_id").parse().unwrap(),
                        fee_base_msat: h["fee_base_msat"].as_u64().unwrap() as u32,
                        fee_proportional_millionths: h["fee_proportional_millionths"]
                            .as_u64()
                            .unwrap() as u32,
                        cltv_expiry_delta: h["cltv_expiry_delta"].as_u64().unwrap() as u16,
                    })
                    .collect()
            })
            .collect();
        assert_eq!(inv.route_hints(), want_hints, "{name}");
        let bits: Vec<u64> = inv.features().bits().map(|b| b as u64).collect();
        let want_bits: Vec<u64> = case["feature_bits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap())
            .collect();
        assert_eq!(bits, want_bits, "{name}");
        assert_eq!(inv.payee().to_string(), s(case, "payee"), "{name}");
        assert_eq!(inv.payee(), NodeId::from_pubkey(&signer), "{name}");
        assert_eq!(
            inv.payment_metadata().map(hex::encode),
            case["payment_metadata"].as_str().map(str::to_string),
            "{name}"
        );
        if let InvoiceDescription::Hash(_) = inv.description() {
            assert!(inv.commits_to_description("One piece of chocolate cake, one icecream cone, one pickle, one slice of swiss cheese, one slice of salami, one lollypop, one piece of cherry pie, one sausage, one cupcake, and one slice of watermelon"));
            assert!(!inv.commits_to_description("a cake"));
        }
        assert!(!inv.is_expired_at(inv.timestamp() + inv.expiry_secs()));
        assert!(inv.is_expired_at(inv.timestamp() + inv.expiry_secs() + 1));
        // Re-encoding gives the same (lower-case) string.
        assert_eq!(inv.to_string(), s(case, "invoice").to_lowercase(), "{name}");
    }
}

#[test]
fn every_invalid_example_is_refused() {
    let v = json(VECTORS);
    let invalid = v["invalid"].as_array().unwrap();
    assert_eq!(invalid.len(), 10);
    for case in invalid {
        let name = s(case, "comment");
        let err = Invoice::parse(s(case, "invoice"));
        assert!(err.is_err(), "{name} was accepted");
    }
    // The reasons, for the ones whose category is unambiguous.
    let reason = |i: usize| Invoice::parse(s(&invalid[i], "invoice")).unwrap_err();
    assert!(
        matches!(reason(0), InvoiceError::Semantic(_)),
        "unknown even feature"
    );
    assert!(matches!(reason(1), InvoiceError::Parse(_)), "bad checksum");
    assert!(matches!(reason(2), InvoiceError::Parse(_)), "no separator");
    assert!(matches!(reason(3), InvoiceError::Parse(_)), "mixed case");
    assert!(
        matches!(reason(6), InvoiceError::Parse(_)),
        "invalid multiplier"
    );
    assert!(
        matches!(
            reason(7),
            InvoiceError::Semantic(_) | InvoiceError::Parse(_)
        ),
        "sub-millisatoshi"
    );
    assert!(matches!(reason(8), InvoiceError::Semantic(_)), "missing s");
    assert!(
        matches!(reason(9), InvoiceError::Semantic(_)),
        "high-S with n"
    );
}

fn node_key() -> SecretKey {
    SecretKey::from_slice(&[0x5a; 32]).unwrap()
}

#[test]
fn created_invoice_round_trips() {
    let preimage = PaymentPreimage([0x17; 32]);
    let mut params = NewInvoice::from_preimage(
        Network::Bitcoin,
        &preimage,
        PaymentSecret([0x23; 32]),
        InvoiceDescription::Direct("fulmen test ☕".into()),
        1_700_000_000,
    );
    params.amount = Some(Msat(123_456_789));
    params.expiry_secs = Some(600);
    params.min_final_cltv_expiry_delta = 80;
    params.features = Features::empty().with_optional(Feature::BasicMpp);
    params.payment_metadata = Some(vec![1, 2, 3, 4]);
    params.include_payee = true;
    params.route_hints = vec![vec![RouteHintHop {
        node_id: "029e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255"
            .parse()
            .unwrap(),
        short_channel_id: "66051x263430x1800".parse().unwrap(),
        fee_base_msat: 1000,
        fee_proportional_millionths: 100,
        cltv_expiry_delta: 144,
    }]];
    params.fallback_addresses = vec!["bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
        .parse::<Address<_>>()
        .unwrap()
        .assume_checked()];
    let inv = Invoice::create(&params, &node_key()).unwrap();
    let text = inv.to_string();
    assert!(text.starts_with("lnbc1234567890p1"), "{text}");
    let back = Invoice::parse(&text).unwrap();
    assert_eq!(back, inv);
    assert_eq!(back.amount(), Some(Msat(123_456_789)));
    assert_eq!(back.payment_hash(), preimage.payment_hash());
    assert_eq!(back.payment_secret(), PaymentSecret([0x23; 32]));
    assert_eq!(back.description(), params.description);
    assert_eq!(back.timestamp(), 1_700_000_000);
    assert_eq!(back.expiry_secs(), 600);
    assert_eq!(back.min_final_cltv_expiry_delta(), 80);
    assert_eq!(back.route_hints(), params.route_hints);
    assert_eq!(back.fallback_addresses(), params.fallback_addresses);
    assert_eq!(back.payment_metadata(), Some(&[1u8, 2, 3, 4][..]));
    let f = back.features();
    assert!(f.requires(Feature::VarOnionOptin) && f.requires(Feature::PaymentSecret));
    assert!(f.supports(Feature::BasicMpp) && f.supports(Feature::PaymentMetadata));
    let secp = Secp256k1::new();
    assert_eq!(
        back.payee(),
        NodeId::from_pubkey(&PublicKey::from_secret_key(&secp, &node_key()))
    );
    // Deterministic: the same inputs sign to the same string.
    assert_eq!(
        Invoice::create(&params, &node_key()).unwrap().to_string(),
        text
    );
    // Upper case parses too.
    assert_eq!(Invoice::parse(&text.to_uppercase()).unwrap(), inv);
}

#[test]
fn created_invoice_without_payee_recovers_it_and_hash_description() {
    let params = NewInvoice::new(
        Network::Testnet,
        fulmen_types::PaymentHash([0x44; 32]),
        PaymentSecret([0x45; 32]),
        InvoiceDescription::Hash([0x46; 32]),
        1_600_000_000,
    );
    let inv = Invoice::create(&params, &node_key()).unwrap();
    let back: Invoice = inv.to_string().parse().unwrap();
    assert_eq!(back.network(), Network::Testnet);
    assert!(back.to_string().starts_with("lntb1"));
    assert_eq!(back.amount(), None);
    assert_eq!(back.description(), InvoiceDescription::Hash([0x46; 32]));
    assert_eq!(back.expiry_secs(), 3600);
    assert_eq!(back.min_final_cltv_expiry_delta(), 18);
    let secp = Secp256k1::new();
    assert_eq!(
        back.payee(),
        NodeId::from_pubkey(&PublicKey::from_secret_key(&secp, &node_key()))
    );
}

#[test]
fn creation_refuses_bad_parameters() {
    let base = NewInvoice::new(
        Network::Bitcoin,
        fulmen_types::PaymentHash([1; 32]),
        PaymentSecret([2; 32]),
        InvoiceDescription::Direct("x".repeat(640)),
        1_600_000_000,
    );
    assert!(matches!(
        Invoice::create(&base, &node_key()),
        Err(InvoiceError::Creation(_))
    ));
    let mut p = base.clone();
    p.description = InvoiceDescription::Direct("ok".into());
    p.timestamp = 1 << 35;
    assert!(matches!(
        Invoice::create(&p, &node_key()),
        Err(InvoiceError::Creation(_))
    ));
    let mut p = base;
    p.description = InvoiceDescription::Direct("ok".into());
    // A channel-type-only feature has no place in an invoice.
    p.features = Features::empty().with_required(Feature::AnchorsZeroFeeHtlcTx);
    assert!(matches!(
        Invoice::create(&p, &node_key()),
        Err(InvoiceError::Features(_))
    ));
}

#[test]
fn tampered_invoice_is_refused() {
    let v = json(VECTORS);
    let good = s(&v["valid"][1], "invoice");
    // Change one data character before the checksum: checksum breaks.
    let mut chars: Vec<char> = good.chars().collect();
    let i = chars.len() - 20;
    chars[i] = if chars[i] == 'q' { 'p' } else { 'q' };
    let bad: String = chars.into_iter().collect();
    assert!(Invoice::parse(&bad).is_err());
    assert!(Invoice::parse("").is_err());
    assert!(Invoice::parse("lnbc1").is_err());
}
