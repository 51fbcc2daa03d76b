#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Route blinding: `route-blinding-test.json` (path creation and every hop's
//! unblinding) and `blinded-payment-onion-test.json` (onion construction to a
//! blinded route, and every hop's peel with its `path_key`).

mod common;

use bitcoin::secp256k1::PublicKey;
use common::*;
use fulmen_onion::blinded_data::{aggregate_payinfo, EncryptedData, PaymentRelay};
use fulmen_onion::blinding::{blinding_steps, create_blinded_path, unblind_hop};
use fulmen_onion::{
    build_onion, peel, FramedHop, HopAction, HopPayload, KeyType, NextHop, OnionPacket,
};
use fulmen_types::{Msat, ShortChannelId};

const ROUTE_BLINDING: &str = include_str!("data/route-blinding-test.json");
const BLINDED_PAYMENT: &str = include_str!("data/blinded-payment-onion-test.json");

fn scid(s: &str) -> ShortChannelId {
    s.parse().unwrap()
}

fn check_tlvs(data: &EncryptedData, tlvs: &serde_json::Value) {
    if let Some(s) = tlvs["short_channel_id"].as_str() {
        assert_eq!(data.short_channel_id, Some(scid(s)));
    }
    if let Some(k) = tlvs["next_path_key_override"].as_str() {
        assert_eq!(data.next_path_key_override, Some(pk(k)));
    }
    if let Some(p) = tlvs["path_id"].as_str() {
        assert_eq!(data.path_id.as_deref(), Some(&unhex(p)[..]));
    }
    if let Some(p) = tlvs["padding"].as_str() {
        assert_eq!(data.padding.as_deref(), Some(&unhex(p)[..]));
    }
    let relay = &tlvs["payment_relay"];
    if relay.is_object() {
        let r = data.payment_relay.unwrap();
        assert_eq!(u64::from(r.cltv_expiry_delta), relay["cltv_expiry_delta"]);
        assert_eq!(
            u64::from(r.fee_proportional_millionths),
            relay["fee_proportional_millionths"]
        );
        assert_eq!(
            u64::from(r.fee_base_msat),
            relay["fee_base_msat"].as_u64().unwrap_or(0)
        );
    }
    let c = &tlvs["payment_constraints"];
    if c.is_object() {
        let pc = data.payment_constraints.unwrap();
        assert_eq!(u64::from(pc.max_cltv_expiry), c["max_cltv_expiry"]);
        assert_eq!(pc.htlc_minimum_msat.0, c["htlc_minimum_msat"]);
    }
    if let Some(bits) = tlvs["allowed_features"]["features"].as_array() {
        let f = data.allowed_features.clone().unwrap();
        let got: Vec<u64> = f.bits().map(|b| b as u64).collect();
        let want: Vec<u64> = bits.iter().map(|b| b.as_u64().unwrap()).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn route_blinding_creation() {
    let v = json(ROUTE_BLINDING);
    let hops = v["generate"]["hops"].as_array().unwrap();
    // Two paths concatenated: Bob -> Carol (session 0x02..) and Dave -> Eve
    // (session 0x01..); Carol's data overrides the next path key with Dave's.
    let mut all_hops = Vec::new();
    for pair in hops.chunks(2) {
        let session = sk(s(&pair[0], "session_key"));
        let encoded: Vec<Vec<u8>> = pair.iter().map(|h| unhex(s(h, "encoded_tlvs"))).collect();
        let nodes: Vec<PublicKey> = pair.iter().map(|h| pk(s(h, "node_id"))).collect();
        let steps = blinding_steps(&session, &nodes).unwrap();
        for (h, step) in pair.iter().zip(&steps) {
            assert_eq!(step.path_key, pk(s(h, "path_key")), "{}", s(h, "alias"));
            assert_eq!(hex::encode(step.shared_secret.0), s(h, "shared_secret"));
            assert_eq!(
                hex::encode(step.shared_secret.key(KeyType::Rho)),
                s(h, "rho")
            );
            assert_eq!(step.blinded_node_id, pk(s(h, "blinded_node_id")));
        }
        let input: Vec<(PublicKey, &[u8])> = nodes
            .iter()
            .zip(&encoded)
            .map(|(n, e)| (*n, &e[..]))
            .collect();
        let path = create_blinded_path(&session, &input).unwrap().unwrap();
        assert_eq!(path.first_node_id, nodes[0]);
        assert_eq!(path.first_path_key, steps[0].path_key);
        for (h, bh) in pair.iter().zip(&path.hops) {
            assert_eq!(
                hex::encode(&bh.encrypted_recipient_data),
                s(h, "encrypted_data")
            );
        }
        all_hops.extend(path.hops);
        // The encoded TLVs decode to the listed fields and re-encode exactly.
        for (h, e) in pair.iter().zip(&encoded) {
            let data = EncryptedData::decode(e).unwrap();
            check_tlvs(&data, &h["tlvs"]);
            assert_eq!(&data.encode(), e);
        }
    }
    let route = &v["route"];
    assert_eq!(
        all_hops[0].blinded_node_id,
        pk(s(&route["hops"][0], "blinded_node_id"))
    );
    for (got, want) in all_hops.iter().zip(route["hops"].as_array().unwrap()) {
        assert_eq!(got.blinded_node_id, pk(s(want, "blinded_node_id")));
        assert_eq!(
            hex::encode(&got.encrypted_recipient_data),
            s(want, "encrypted_data")
        );
    }
    // Unknown odd records ride along.
    let bob = EncryptedData::decode(&unhex(s(&hops[0], "encoded_tlvs"))).unwrap();
    assert_eq!(bob.unknown[0].ty, 561);
    assert_eq!(bob.unknown[0].value, unhex("123456"));
}

#[test]
fn route_blinding_unblind_every_hop() {
    let v = json(ROUTE_BLINDING);
    let route_hops = v["route"]["hops"].as_array().unwrap();
    let unblind = v["unblind"]["hops"].as_array().unwrap();
    let mut path_key = pk(s(&v["route"], "first_path_key"));
    for (h, r) in unblind.iter().zip(route_hops) {
        assert_eq!(path_key, pk(s(h, "path_key")), "{}", s(h, "alias"));
        let node = sk(s(h, "node_privkey"));
        let enc = unhex(s(r, "encrypted_data"));
        let got = unblind_hop(&node, &path_key, &enc).unwrap();
        assert_eq!(
            hex::encode(got.blinded_node_secret.secret_bytes()),
            s(h, "blinded_privkey")
        );
        assert_eq!(hex::encode(&got.decrypted), s(h, "decrypted_data"));
        assert_eq!(got.computed_next_path_key, pk(s(h, "next_path_key")));
        let data = EncryptedData::decode(&got.decrypted).unwrap();
        if let Some(o) = h["next_path_key_override"].as_str() {
            assert_eq!(data.next_path_key_override, Some(pk(o)));
        }
        // The blinded private key belongs to the blinded node id.
        let secp = bitcoin::secp256k1::Secp256k1::new();
        assert_eq!(
            PublicKey::from_secret_key(&secp, &got.blinded_node_secret),
            pk(s(r, "blinded_node_id"))
        );
        path_key = data.next_path_key(got.computed_next_path_key);
        // Tampered data does not decrypt.
        let mut bad = enc.clone();
        bad[0] ^= 1;
        assert!(unblind_hop(&node, &pk(s(h, "path_key")), &bad).is_err());
    }
}

#[test]
fn blinded_payment_onion_construction_and_peel() {
    let v = json(BLINDED_PAYMENT);
    let gen = &v["generate"];
    let session = sk(s(gen, "session_key"));
    let assoc = unhex(s(gen, "associated_data"));
    let route = gen["full_route"]["hops"].as_array().unwrap();
    let framed: Vec<Vec<u8>> = route.iter().map(|h| unhex(s(h, "payload"))).collect();
    let hops: Vec<FramedHop<'_>> = route
        .iter()
        .zip(&framed)
        .map(|(h, p)| FramedHop {
            node_id: pk(s(h, "pubkey")),
            framed_payload: p,
        })
        .collect();
    let built = build_onion(&session, &hops, &assoc).unwrap();
    assert_eq!(hex::encode(built.packet.to_bytes()), s(gen, "onion"));

    let dec = v["decrypt"]["hops"].as_array().unwrap();
    let mut packet = OnionPacket::from_bytes(&unhex(s(&dec[0], "onion"))).unwrap();
    let mut path_key: Option<PublicKey> = None;
    let mut amount = Msat(0);
    let mut cltv = 0u32;
    for (i, (h, r)) in dec.iter().zip(route).enumerate() {
        assert_eq!(
            hex::encode(packet.to_bytes()),
            s(h, "onion"),
            "{}",
            s(h, "alias")
        );
        let node = sk(s(h, "node_privkey"));
        let peeled = peel(&node, &packet, &assoc, path_key.as_ref()).unwrap();
        assert_eq!(fulmen_onion::payload::frame(&peeled.payload), framed[i]);
        let payload = HopPayload::decode(&peeled.payload).unwrap();
        assert_eq!(payload.encode(), peeled.payload);
        let is_final = peeled.next == NextHop::Final;
        let action = payload.classify(is_final, path_key.is_some()).unwrap();
        match action {
            HopAction::Forward {
                short_channel_id,
                amt_to_forward,
                outgoing_cltv_value,
            } => {
                assert_eq!(i, 0);
                let t = &r["tlvs"];
                assert_eq!(short_channel_id, scid(s(t, "outgoing_channel_id")));
                assert_eq!(amt_to_forward.0, t["amt_to_forward"]);
                assert_eq!(u64::from(outgoing_cltv_value), t["outgoing_cltv_value"]);
                amount = amt_to_forward;
                cltv = outgoing_cltv_value;
            }
            HopAction::Blinded {
                encrypted_recipient_data,
                current_path_key,
            } => {
                let pk_here = path_key.or(current_path_key).unwrap();
                let keys = unblind_hop(&node, &pk_here, &encrypted_recipient_data).unwrap();
                let data = EncryptedData::decode(&keys.decrypted).unwrap();
                check_tlvs(&data, &r["tlvs"]["encrypted_recipient_data"]);
                let next = data.next_path_key(keys.computed_next_path_key);
                assert_eq!(next, pk(s(h, "next_path_key")));
                if is_final {
                    assert_eq!(i, 4);
                    let t = &r["tlvs"];
                    assert_eq!(payload.amt_to_forward.unwrap().0, t["amt_to_forward"]);
                    assert_eq!(payload.total_amount_msat.unwrap().0, t["total_amount_msat"]);
                    assert_eq!(
                        u64::from(payload.outgoing_cltv_value.unwrap()),
                        t["outgoing_cltv_value"]
                    );
                    // The relayed amount and expiry reach what Eve expects.
                    assert_eq!(amount, payload.amt_to_forward.unwrap());
                    assert_eq!(cltv, payload.outgoing_cltv_value.unwrap());
                    assert_eq!(
                        data.path_id.as_deref().map(hex::encode).unwrap(),
                        s(&r["tlvs"]["encrypted_recipient_data"], "path_id")
                    );
                } else {
                    let relay = data.payment_relay.unwrap();
                    amount = relay.amount_to_forward(amount).unwrap();
                    cltv = relay.outgoing_cltv(cltv).unwrap();
                }
                path_key = Some(next);
            }
            other => panic!("unexpected action {other:?}"),
        }
        match peeled.next {
            NextHop::Forward(next) => packet = *next,
            NextHop::Final => assert_eq!(i, 4),
        }
    }
}

#[test]
fn blinded_payinfo_aggregation() {
    let v = json(BLINDED_PAYMENT);
    let info = &v["generate"]["blinded_payinfo"];
    let relays = [
        PaymentRelay {
            cltv_expiry_delta: 50,
            fee_proportional_millionths: 0,
            fee_base_msat: 10_000,
        },
        PaymentRelay {
            cltv_expiry_delta: 75,
            fee_proportional_millionths: 150,
            fee_base_msat: 100,
        },
        PaymentRelay {
            cltv_expiry_delta: 25,
            fee_proportional_millionths: 100,
            fee_base_msat: 0,
        },
    ];
    let agg = aggregate_payinfo(&relays, 0).unwrap();
    assert_eq!(u64::from(agg.fee_base_msat), info["fee_base_msat"]);
    assert_eq!(
        u64::from(agg.fee_proportional_millionths),
        info["fee_proportional_millionths"]
    );
    assert_eq!(u64::from(agg.cltv_expiry_delta), info["cltv_expiry_delta"]);
}
