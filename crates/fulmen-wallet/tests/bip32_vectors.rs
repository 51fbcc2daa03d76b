//! BIP32 test vectors 1 and 2: derivation paths through `bitcoin::bip32`,
//! the library the key tree derives with.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bitcoin::bip32::{DerivationPath, Xpriv, Xpub};
use bitcoin::secp256k1::Secp256k1;
use bitcoin::NetworkKind;
use serde::Deserialize;
use std::str::FromStr;

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    seed: String,
    chains: Vec<Chain>,
}

#[derive(Deserialize)]
struct Chain {
    path: String,
    xpub: String,
    xprv: String,
}

#[test]
fn bip32_vectors_derive() {
    let file: File = serde_json::from_str(include_str!("data/bip32_vectors.json")).unwrap();
    assert_eq!(file.vectors.len(), 2);
    let secp = Secp256k1::new();
    let mut checked = 0;
    for v in &file.vectors {
        let seed = hex::decode(&v.seed).unwrap();
        let master = Xpriv::new_master(NetworkKind::Main, &seed).unwrap();
        let mut parent: Option<Xpriv> = None;
        for c in &v.chains {
            let path = DerivationPath::from_str(&c.path).unwrap();
            let xprv = master.derive_priv(&secp, &path).unwrap();
            assert_eq!(xprv.to_string(), c.xprv, "{} {}", v.name, c.path);
            let xpub = Xpub::from_priv(&secp, &xprv);
            assert_eq!(xpub.to_string(), c.xpub, "{} {}", v.name, c.path);
            // Step by step from the previous chain gives the same key.
            if let (Some(p), Some(last)) = (parent, path.into_iter().last()) {
                assert_eq!(p.derive_priv(&secp, &[*last]).unwrap(), xprv);
                // And for normal children, public derivation agrees.
                if last.is_normal() {
                    let from_pub = Xpub::from_priv(&secp, &p)
                        .derive_pub(&secp, &[*last])
                        .unwrap();
                    assert_eq!(from_pub, xpub);
                }
            }
            parent = Some(xprv);
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
}
