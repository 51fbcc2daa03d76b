//! BIP84 test vectors: the key tree's on-chain account `m/84'/0'/0'` and its
//! first addresses.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bitcoin::bip32::{DerivationPath, Xpriv};
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Address, CompressedPublicKey, Network};
use fulmen_wallet::keys::{paths, KeyTree, Mnemonic};
use serde::Deserialize;
use std::str::FromStr;

#[derive(Deserialize)]
struct File {
    mnemonic: String,
    passphrase: String,
    root_zprv: String,
    account_path: String,
    account_zprv: String,
    addresses: Vec<Addr>,
}

#[derive(Deserialize)]
struct Addr {
    relative: String,
    privkey_wif: String,
    pubkey: String,
    address: String,
}

/// SLIP-132 `zprv` -> BIP32 `xprv`: same key data, mainnet xprv version.
fn zprv_to_xpriv(zprv: &str) -> Xpriv {
    let mut data = bitcoin::base58::decode_check(zprv).unwrap();
    assert_eq!(&data[..4], &[0x04, 0xb2, 0x43, 0x0c]);
    data[..4].copy_from_slice(&[0x04, 0x88, 0xad, 0xe4]);
    Xpriv::decode(&data).unwrap()
}

#[test]
fn bip84_account_and_addresses() {
    let file: File = serde_json::from_str(include_str!("data/bip84_vectors.json")).unwrap();
    let secp = Secp256k1::new();
    let seed = Mnemonic::parse(&file.mnemonic)
        .unwrap()
        .to_seed(&file.passphrase);
    let tree = KeyTree::new(&secp, &seed, Network::Bitcoin).unwrap();

    let root = zprv_to_xpriv(&file.root_zprv);
    assert_eq!(tree.master_fingerprint(), root.fingerprint(&secp));

    assert_eq!(
        paths::bip84_account(tree.network()).unwrap(),
        DerivationPath::from_str(&file.account_path).unwrap()
    );
    let account = tree.bip84_account_xpriv(&secp).unwrap();
    assert_eq!(account, zprv_to_xpriv(&file.account_zprv));

    assert_eq!(file.addresses.len(), 3);
    for a in &file.addresses {
        let rel = DerivationPath::from_str(&format!("m/{}", a.relative)).unwrap();
        let key = account.derive_priv(&secp, &rel).unwrap().to_priv();
        assert_eq!(key.to_wif(), a.privkey_wif);
        let pk = CompressedPublicKey::from_private_key(&secp, &key).unwrap();
        assert_eq!(pk.to_string(), a.pubkey);
        assert_eq!(
            Address::p2wpkh(&pk, Network::Bitcoin).to_string(),
            a.address
        );
    }
}

#[test]
fn test_networks_use_coin_type_one() {
    let secp = Secp256k1::new();
    let seed = Mnemonic::from_entropy(&[0u8; 16]).unwrap().to_seed("");
    let master = Xpriv::new_master(Network::Testnet, seed.as_bytes()).unwrap();
    let expected = master
        .derive_priv(&secp, &DerivationPath::from_str("m/84'/1'/0'").unwrap())
        .unwrap();
    for net in [
        Network::Testnet,
        Network::Testnet4,
        Network::Signet,
        Network::Regtest,
    ] {
        let tree = KeyTree::new(&secp, &seed, net).unwrap();
        assert_eq!(tree.bip84_account_xpriv(&secp).unwrap(), expected);
    }
}
