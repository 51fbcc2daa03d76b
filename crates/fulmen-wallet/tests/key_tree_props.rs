//! Property tests of the key tree over random entropy and indices.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bitcoin::secp256k1::Secp256k1;
use bitcoin::Network;
use fulmen_wallet::keys::{paths, KeyTree, Mnemonic, Seed};
use proptest::prelude::*;

fn entropy() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![16usize, 20, 24, 28, 32])
        .prop_flat_map(|n| prop::collection::vec(any::<u8>(), n))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn mnemonic_round_trips(e in entropy()) {
        let m = Mnemonic::from_entropy(&e).unwrap();
        prop_assert_eq!(m.word_count(), e.len() * 3 / 4);
        let back = Mnemonic::parse(&m.phrase()).unwrap();
        let (back_entropy, back_seed, seed) = (back.to_entropy(), back.to_seed("p"), m.to_seed("p"));
        prop_assert_eq!(back_entropy.as_slice(), e.as_slice());
        prop_assert_eq!(back_seed.as_bytes(), seed.as_bytes());
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,300}") {
        let _ = Mnemonic::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_word_soup(
        words in prop::collection::vec(
            prop::sample::select(vec!["abandon", "zoo", "about", "wrong", "legal", "xyzzy", ""]),
            0..30,
        )
    ) {
        let _ = Mnemonic::parse(&words.join(" "));
    }

    #[test]
    fn channels_differ_and_rederive(
        seed in prop::array::uniform32(any::<u8>()),
        a in 0..=paths::MAX_CHANNEL_INDEX,
        b in 0..=paths::MAX_CHANNEL_INDEX,
    ) {
        let secp = Secp256k1::new();
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&seed);
        bytes[32..].copy_from_slice(&seed);
        let tree = KeyTree::new(&secp, &Seed::from_bytes(bytes), Network::Bitcoin).unwrap();
        let ka = tree.channel_keys(&secp, a).unwrap();
        let kb = tree.channel_keys(&secp, b).unwrap();
        prop_assert_eq!(ka.public_keys(), tree.channel_keys(&secp, a).unwrap().public_keys());
        if a == b {
            prop_assert_eq!(ka.per_commitment_seed(), kb.per_commitment_seed());
        } else {
            prop_assert_ne!(ka.funding_pubkey(), kb.funding_pubkey());
            prop_assert_ne!(ka.revocation_basepoint(), kb.revocation_basepoint());
            prop_assert_ne!(ka.payment_basepoint(), kb.payment_basepoint());
            prop_assert_ne!(ka.delayed_payment_basepoint(), kb.delayed_payment_basepoint());
            prop_assert_ne!(ka.htlc_basepoint(), kb.htlc_basepoint());
            prop_assert_ne!(ka.per_commitment_seed(), kb.per_commitment_seed());
        }
        // Debug never carries the secrets.
        let dbg = format!("{ka:?}{tree:?}");
        for s in [
            ka.funding_secret().secret_bytes(),
            ka.revocation_basepoint_secret().secret_bytes(),
            ka.payment_basepoint_secret().secret_bytes(),
            ka.delayed_payment_basepoint_secret().secret_bytes(),
            ka.htlc_basepoint_secret().secret_bytes(),
            *ka.per_commitment_seed(),
        ] {
            prop_assert!(!dbg.contains(&hex::encode(s)));
        }
    }

    #[test]
    fn out_of_range_indices_are_rejected(index in (paths::MAX_CHANNEL_INDEX + 1)..=u32::MAX) {
        let secp = Secp256k1::new();
        let tree = KeyTree::new(&secp, &Seed::from_bytes([7; 64]), Network::Regtest).unwrap();
        prop_assert!(tree.channel_keys(&secp, index).is_err());
    }
}
