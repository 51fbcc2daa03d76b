//! The key tree: determinism, restore from mnemonic, key separation, the
//! documented paths, pins computed by an independent implementation, and
//! redacted `Debug`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bitcoin::bip32::{DerivationPath, Xpriv};
use bitcoin::secp256k1::{All, PublicKey, Secp256k1, SecretKey};
use bitcoin::{Network, NetworkKind};
use fulmen_wallet::keys::{
    paths, ChannelKeyKind, ChannelKeys, DeriveError, KeyTree, Mnemonic, Seed,
};
use serde::Deserialize;
use std::collections::HashSet;
use std::str::FromStr;

const ENTROPY: [u8; 32] = [
    0x9f, 0x6a, 0x28, 0x78, 0xb2, 0x52, 0x07, 0x99, 0xa4, 0x4e, 0xf1, 0x8b, 0xc7, 0xdf, 0x39, 0x4e,
    0x70, 0x61, 0xa2, 0x24, 0xd2, 0xc3, 0x3c, 0xd0, 0x15, 0xb1, 0x57, 0xd7, 0x46, 0x86, 0x98, 0x63,
];

fn tree_from(mnemonic: &Mnemonic, passphrase: &str, net: Network) -> KeyTree {
    KeyTree::new(&Secp256k1::new(), &mnemonic.to_seed(passphrase), net).unwrap()
}

/// Every secret of a channel, as bytes, in `ChannelKeyKind` order.
fn secrets(c: &ChannelKeys) -> [[u8; 32]; 6] {
    [
        c.funding_secret().secret_bytes(),
        c.revocation_basepoint_secret().secret_bytes(),
        c.payment_basepoint_secret().secret_bytes(),
        c.delayed_payment_basepoint_secret().secret_bytes(),
        c.htlc_basepoint_secret().secret_bytes(),
        *c.per_commitment_seed(),
    ]
}

fn assert_same_channel(a: &ChannelKeys, b: &ChannelKeys) {
    assert_eq!(a.index(), b.index());
    assert_eq!(a.public_keys(), b.public_keys());
    assert_eq!(secrets(a), secrets(b));
}

#[test]
fn derivation_is_deterministic() {
    let secp = Secp256k1::new();
    let m = Mnemonic::from_entropy(&ENTROPY).unwrap();
    let t1 = tree_from(&m, "", Network::Bitcoin);
    let t2 = tree_from(&m, "", Network::Bitcoin);
    assert_eq!(t1.master_fingerprint(), t2.master_fingerprint());
    let n1 = t1.node_keys(&secp).unwrap();
    assert_eq!(n1.node_id(), t2.node_keys(&secp).unwrap().node_id());
    assert_eq!(n1.secret_key(), t2.node_keys(&secp).unwrap().secret_key());
    // Same tree asked twice.
    assert_eq!(n1.node_id(), t1.node_keys(&secp).unwrap().node_id());
    for index in [0, 1, 7, 1000, paths::MAX_CHANNEL_INDEX] {
        assert_same_channel(
            &t1.channel_keys(&secp, index).unwrap(),
            &t2.channel_keys(&secp, index).unwrap(),
        );
    }
    assert_eq!(
        t1.bip84_account_xpriv(&secp).unwrap(),
        t2.bip84_account_xpriv(&secp).unwrap()
    );
}

#[test]
fn restored_tree_equals_original() {
    let secp = Secp256k1::new();
    let original_mnemonic = Mnemonic::from_entropy(&ENTROPY).unwrap();
    let original = tree_from(&original_mnemonic, "hunter2", Network::Bitcoin);

    // The user writes the words down; later they are typed back in.
    let written = original_mnemonic.phrase();
    let typed = format!("  {}  ", written.replace(' ', "   "));
    let restored_mnemonic = Mnemonic::parse(&typed).unwrap();
    assert_eq!(restored_mnemonic, original_mnemonic);
    let restored = tree_from(&restored_mnemonic, "hunter2", Network::Bitcoin);

    assert_eq!(restored.master_fingerprint(), original.master_fingerprint());
    assert_eq!(restored.network(), original.network());
    let (a, b) = (
        original.node_keys(&secp).unwrap(),
        restored.node_keys(&secp).unwrap(),
    );
    assert_eq!(a.node_id(), b.node_id());
    assert_eq!(a.public_key(), b.public_key());
    assert_eq!(a.secret_key(), b.secret_key());
    for index in 0..20 {
        assert_same_channel(
            &original.channel_keys(&secp, index).unwrap(),
            &restored.channel_keys(&secp, index).unwrap(),
        );
    }
    assert_eq!(
        original.bip84_account_xpriv(&secp).unwrap(),
        restored.bip84_account_xpriv(&secp).unwrap()
    );

    // Restoring from the seed bytes (as storage would) gives the same tree.
    let seed_copy = Seed::from_bytes(*original_mnemonic.to_seed("hunter2").as_bytes());
    let from_bytes = KeyTree::new(&secp, &seed_copy, Network::Bitcoin).unwrap();
    assert_eq!(from_bytes.node_keys(&secp).unwrap().node_id(), a.node_id());
}

#[test]
fn passphrase_and_network_give_unrelated_nodes() {
    let secp = Secp256k1::new();
    let m = Mnemonic::from_entropy(&ENTROPY).unwrap();
    let ids: HashSet<_> = [
        tree_from(&m, "", Network::Bitcoin),
        tree_from(&m, "x", Network::Bitcoin),
        tree_from(&m, "", Network::Testnet),
    ]
    .iter()
    .map(|t| t.node_keys(&secp).unwrap().node_id())
    .collect();
    assert_eq!(ids.len(), 3);
    // All test networks share coin type 1', hence the node.
    let on = |net| tree_from(&m, "", net).node_keys(&secp).unwrap().node_id();
    assert_eq!(on(Network::Testnet), on(Network::Signet));
    assert_eq!(on(Network::Testnet), on(Network::Regtest));
    assert_eq!(on(Network::Testnet), on(Network::Testnet4));
}

#[test]
fn every_key_is_distinct_across_channels_and_roles() {
    let secp = Secp256k1::new();
    let t = tree_from(
        &Mnemonic::from_entropy(&ENTROPY).unwrap(),
        "",
        Network::Bitcoin,
    );
    let mut seen: HashSet<[u8; 32]> = HashSet::new();
    seen.insert(t.node_keys(&secp).unwrap().secret_key().secret_bytes());
    seen.insert(
        t.bip84_account_xpriv(&secp)
            .unwrap()
            .private_key
            .secret_bytes(),
    );
    let indices = [0u32, 1, 2, 3, 255, 256, 65_536, paths::MAX_CHANNEL_INDEX];
    let mut pubs: HashSet<PublicKey> = HashSet::new();
    for &i in &indices {
        let c = t.channel_keys(&secp, i).unwrap();
        for s in secrets(&c) {
            assert!(seen.insert(s), "secret repeated at channel {i}");
        }
        let p = c.public_keys();
        for pk in [
            p.funding_pubkey,
            p.revocation_basepoint,
            p.payment_basepoint,
            p.delayed_payment_basepoint,
            p.htlc_basepoint,
        ] {
            assert!(pubs.insert(pk));
        }
    }
    assert_eq!(seen.len(), 2 + 6 * indices.len());
}

#[test]
fn keys_sit_at_the_documented_paths() {
    let secp = Secp256k1::new();
    let seed = Mnemonic::from_entropy(&ENTROPY).unwrap().to_seed("");
    for (net, coin) in [(Network::Bitcoin, 0), (Network::Regtest, 1)] {
        let tree = KeyTree::new(&secp, &seed, net).unwrap();
        let master = Xpriv::new_master(net, seed.as_bytes()).unwrap();
        let at = |p: &str| -> SecretKey {
            master
                .derive_priv(&secp, &DerivationPath::from_str(p).unwrap())
                .unwrap()
                .private_key
        };
        assert_eq!(
            *tree.node_keys(&secp).unwrap().secret_key(),
            at(&format!("m/9735'/{coin}'/0'/0'"))
        );
        for index in [0u32, 5, paths::MAX_CHANNEL_INDEX] {
            let c = tree.channel_keys(&secp, index).unwrap();
            let s = secrets(&c);
            for kind in ChannelKeyKind::ALL {
                let k = kind.child_index();
                let expected = at(&format!("m/9735'/{coin}'/1'/{index}'/{k}'"));
                assert_eq!(s[k as usize], expected.secret_bytes(), "{kind:?}");
                let via_paths = paths::channel_key(tree.network(), index, kind).unwrap();
                assert_eq!(
                    master.derive_priv(&secp, &via_paths).unwrap().private_key,
                    expected
                );
            }
            // Public accessors match the secrets.
            let pk = |sk: &SecretKey| PublicKey::from_secret_key(&secp, sk);
            assert_eq!(c.funding_pubkey(), pk(c.funding_secret()));
            assert_eq!(
                c.revocation_basepoint(),
                pk(c.revocation_basepoint_secret())
            );
            assert_eq!(c.payment_basepoint(), pk(c.payment_basepoint_secret()));
            assert_eq!(
                c.delayed_payment_basepoint(),
                pk(c.delayed_payment_basepoint_secret())
            );
            assert_eq!(c.htlc_basepoint(), pk(c.htlc_basepoint_secret()));
        }
        assert_eq!(
            tree.bip84_account_xpriv(&secp).unwrap(),
            master
                .derive_priv(
                    &secp,
                    &DerivationPath::from_str(&format!("m/84'/{coin}'/0'")).unwrap()
                )
                .unwrap()
        );
    }
}

#[test]
fn channel_index_out_of_range_is_an_error() {
    let secp = Secp256k1::new();
    let t = tree_from(
        &Mnemonic::from_entropy(&ENTROPY).unwrap(),
        "",
        Network::Bitcoin,
    );
    for index in [1u32 << 31, (1 << 31) + 1, u32::MAX] {
        assert_eq!(
            t.channel_keys(&secp, index).unwrap_err(),
            DeriveError::ChannelIndexOutOfRange { index }
        );
    }
}

#[derive(Deserialize)]
struct Pins {
    cases: Vec<PinCase>,
}

#[derive(Deserialize)]
struct PinCase {
    mnemonic: String,
    passphrase: String,
    network: String,
    node_id: String,
    channels: Vec<PinChannel>,
}

#[derive(Deserialize)]
struct PinChannel {
    index: u32,
    funding_pubkey: String,
    revocation_basepoint: String,
    payment_basepoint: String,
    delayed_payment_basepoint: String,
    htlc_basepoint: String,
    per_commitment_seed: String,
}

/// Pins from tests/data/key_tree_pins.py, an independent Python
/// implementation of the documented scheme. If this fails, the derivation
/// changed and restored nodes would not find their keys.
#[test]
fn matches_independent_pins() {
    let pins: Pins = serde_json::from_str(include_str!("data/key_tree_pins.json")).unwrap();
    assert_eq!(pins.cases.len(), 3);
    let secp: Secp256k1<All> = Secp256k1::new();
    for case in &pins.cases {
        let net = match case.network.as_str() {
            "main" => NetworkKind::Main,
            "test" => NetworkKind::Test,
            other => panic!("network {other}"),
        };
        let seed = Mnemonic::parse(&case.mnemonic)
            .unwrap()
            .to_seed(&case.passphrase);
        let tree = KeyTree::new(&secp, &seed, net).unwrap();
        assert_eq!(
            tree.node_keys(&secp).unwrap().node_id().to_string(),
            case.node_id
        );
        assert_eq!(case.channels.len(), 3);
        for pin in &case.channels {
            let c = tree.channel_keys(&secp, pin.index).unwrap();
            let p = c.public_keys();
            assert_eq!(p.funding_pubkey.to_string(), pin.funding_pubkey);
            assert_eq!(p.revocation_basepoint.to_string(), pin.revocation_basepoint);
            assert_eq!(p.payment_basepoint.to_string(), pin.payment_basepoint);
            assert_eq!(
                p.delayed_payment_basepoint.to_string(),
                pin.delayed_payment_basepoint
            );
            assert_eq!(p.htlc_basepoint.to_string(), pin.htlc_basepoint);
            assert_eq!(
                hex::encode(c.per_commitment_seed()),
                pin.per_commitment_seed
            );
        }
    }
}

/// Asserts `text` contains none of `secrets`, in lower or upper hex.
fn assert_no_secret(text: &str, secrets: &[&[u8]]) {
    for s in secrets {
        let lower = hex::encode(s);
        assert!(!text.contains(&lower), "secret {lower} in {text}");
        assert!(!text.contains(&lower.to_uppercase()), "secret in {text}");
    }
}

#[test]
fn debug_output_contains_no_secrets() {
    let secp = Secp256k1::new();
    let mnemonic = Mnemonic::from_entropy(&ENTROPY).unwrap();
    let seed = mnemonic.to_seed("");
    let tree = KeyTree::new(&secp, &seed, Network::Bitcoin).unwrap();
    let node = tree.node_keys(&secp).unwrap();
    let channel = tree.channel_keys(&secp, 3).unwrap();
    let master = Xpriv::new_master(NetworkKind::Main, seed.as_bytes()).unwrap();
    let channel_family = master
        .derive_priv(&secp, &paths::channel_family(NetworkKind::Main).unwrap())
        .unwrap();

    let dbg_mnemonic = format!("{mnemonic:?} {mnemonic:#?}");
    let dbg_seed = format!("{seed:?} {seed:#?}");
    let dbg_tree = format!("{tree:?} {tree:#?}");
    let dbg_node = format!("{node:?} {node:#?}");
    let dbg_channel = format!("{channel:?} {channel:#?}");

    // The mnemonic's words and entropy.
    let phrase = mnemonic.phrase();
    for word in phrase.split(' ') {
        assert!(!dbg_mnemonic.contains(word), "{word} in {dbg_mnemonic}");
    }
    let all = [&dbg_mnemonic, &dbg_seed, &dbg_tree, &dbg_node, &dbg_channel].map(|s| s.as_str());
    let secret_list: Vec<Vec<u8>> = vec![
        ENTROPY.to_vec(),
        seed.as_bytes().to_vec(),
        master.private_key.secret_bytes().to_vec(),
        master.chain_code.to_bytes().to_vec(),
        channel_family.private_key.secret_bytes().to_vec(),
        node.secret_key().secret_bytes().to_vec(),
    ]
    .into_iter()
    .chain(secrets(&channel).iter().map(|s| s.to_vec()))
    .collect();
    let secret_refs: Vec<&[u8]> = secret_list.iter().map(Vec::as_slice).collect();
    for text in all {
        assert_no_secret(text, &secret_refs);
        assert!(!text.contains(&master.to_string()), "xprv in {text}");
    }

    // What Debug does show: public identifiers.
    assert!(dbg_seed.contains(&tree.master_fingerprint().to_string()));
    assert!(dbg_tree.contains(&tree.master_fingerprint().to_string()));
    assert!(dbg_node.contains(&node.node_id().to_string()));
    assert!(dbg_channel.contains(&channel.funding_pubkey().to_string()));
    assert!(dbg_channel.contains(&channel.htlc_basepoint().to_string()));
    assert!(dbg_mnemonic.contains("24"));
}
