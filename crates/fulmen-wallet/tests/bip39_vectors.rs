//! BIP39 reference vectors (Trezor, English): entropy -> mnemonic -> seed
//! (passphrase "TREZOR") -> BIP32 root xprv.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bitcoin::bip32::Xpriv;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Network, NetworkKind};
use fulmen_wallet::keys::{KeyTree, Mnemonic};
use serde::Deserialize;
use std::str::FromStr;

#[derive(Deserialize)]
struct File {
    passphrase: String,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    entropy: String,
    mnemonic: String,
    seed: String,
    xprv: String,
}

fn load() -> File {
    serde_json::from_str(include_str!("data/bip39_vectors.json")).unwrap()
}

#[test]
fn trezor_vectors_all_pass() {
    let file = load();
    assert_eq!(file.vectors.len(), 24);
    let secp = Secp256k1::new();
    for v in &file.vectors {
        let entropy = hex::decode(&v.entropy).unwrap();

        // entropy -> words
        let from_entropy = Mnemonic::from_entropy(&entropy).unwrap();
        assert_eq!(from_entropy.phrase().as_str(), v.mnemonic, "{}", v.entropy);

        // words -> entropy (parse + checksum)
        let parsed = Mnemonic::parse(&v.mnemonic).unwrap();
        assert_eq!(parsed, from_entropy);
        assert_eq!(parsed.to_entropy().as_slice(), entropy.as_slice());
        assert_eq!(parsed.word_count(), entropy.len() * 3 / 4);

        // words + passphrase -> seed
        let seed = parsed.to_seed(&file.passphrase);
        assert_eq!(hex::encode(seed.as_bytes()), v.seed, "{}", v.mnemonic);

        // seed -> BIP32 root
        let root = Xpriv::new_master(NetworkKind::Main, seed.as_bytes()).unwrap();
        assert_eq!(root, Xpriv::from_str(&v.xprv).unwrap());
        assert_eq!(root.to_string(), v.xprv);

        // The key tree is rooted at that key.
        let tree = KeyTree::new(&secp, &seed, Network::Bitcoin).unwrap();
        assert_eq!(tree.master_fingerprint(), root.fingerprint(&secp));
        assert_eq!(seed.master_fingerprint(), Some(root.fingerprint(&secp)));
    }
}

#[test]
fn flipping_any_word_of_a_vector_is_caught_or_changes_the_seed() {
    // BIP39's checksum is 4 to 8 bits, so a wrong word passes it with
    // probability 1/16 to 1/256; when it does, the seed must differ.
    let file = load();
    let mut rejected = 0usize;
    let mut total = 0usize;
    for v in &file.vectors {
        let words: Vec<&str> = v.mnemonic.split(' ').collect();
        for i in 0..words.len() {
            let mut changed = words.clone();
            changed[i] = if words[i] == "zoo" { "abandon" } else { "zoo" };
            total += 1;
            match Mnemonic::parse(&changed.join(" ")) {
                Err(_) => rejected += 1,
                Ok(m) => assert_ne!(hex::encode(m.to_seed(&file.passphrase).as_bytes()), v.seed),
            }
        }
    }
    // Most single-word changes are rejected by the checksum.
    assert!(rejected * 10 > total * 8, "{rejected}/{total}");
}
