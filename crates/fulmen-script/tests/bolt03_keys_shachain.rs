//! BOLT 3 Appendix D (per-commitment secrets) and Appendix E (key
//! derivation) test vectors, from tests/data/.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use fulmen_script::keys::{
    derive_privkey, derive_pubkey, derive_pubkey_owned, per_commitment_point,
    per_commitment_secret_key, revocation_privkey, revocationpubkey, revocationpubkey_with_secret,
    RevocationSecret,
};
use fulmen_script::shachain::{PerCommitmentSecret, SecretStore, ShachainError, ShachainSeed};
use serde::Deserialize;

fn b32(hex: &str) -> [u8; 32] {
    hex::decode(hex).unwrap().try_into().unwrap()
}

#[derive(Deserialize)]
struct AppendixD {
    generation: Vec<Generation>,
    storage: Vec<Storage>,
}

#[derive(Deserialize)]
struct Generation {
    name: String,
    seed: String,
    index: u64,
    output: String,
}

#[derive(Deserialize)]
struct Storage {
    name: String,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    index: u64,
    secret: String,
    ok: bool,
}

fn appendix_d() -> AppendixD {
    serde_json::from_str(include_str!("data/bolt03_appendix_d_shachain.json")).unwrap()
}

#[test]
fn appendix_d_generation() {
    let d = appendix_d();
    assert_eq!(d.generation.len(), 5);
    for g in &d.generation {
        let seed = ShachainSeed::new(b32(&g.seed));
        let secret = seed.secret(g.index).unwrap();
        assert_eq!(hex::encode(secret.as_bytes()), g.output, "{}", g.name);
    }
}

#[test]
fn appendix_d_storage() {
    let d = appendix_d();
    assert_eq!(d.storage.len(), 9);
    let mut failures = 0;
    for case in &d.storage {
        let mut store = SecretStore::new();
        let mut inserted = Vec::new();
        for (n, step) in case.steps.iter().enumerate() {
            let secret = PerCommitmentSecret::new(b32(&step.secret));
            let result = store.insert_secret(step.index, &secret);
            if step.ok {
                result.unwrap_or_else(|e| panic!("{} step {n}: {e}", case.name));
                inserted.push((step.index, secret));
            } else {
                failures += 1;
                assert!(
                    matches!(result, Err(ShachainError::InconsistentSecret { index, .. }) if index == step.index),
                    "{} step {n}: expected rejection, got {result:?}",
                    case.name
                );
                // A rejected secret leaves the store as it was.
                assert_eq!(store.next_index(), Some(step.index));
            }
        }
        // Every accepted secret is retrievable (the correct-sequence case
        // holds only correct secrets; the others hold what was accepted).
        for (index, secret) in &inserted {
            assert_eq!(&store.get_secret(*index).unwrap(), secret, "{}", case.name);
        }
    }
    assert_eq!(failures, 8, "one expected failure per incorrect case");
}

#[derive(Deserialize)]
struct AppendixE {
    base_secret: String,
    per_commitment_secret: String,
    base_point: String,
    per_commitment_point: String,
    localpubkey: String,
    localprivkey: String,
    revocationpubkey: String,
    revocationprivkey: String,
}

#[test]
fn appendix_e_key_derivation() {
    let e: AppendixE =
        serde_json::from_str(include_str!("data/bolt03_appendix_e_keys.json")).unwrap();
    let secp = Secp256k1::new();
    let base_secret = SecretKey::from_slice(&b32(&e.base_secret)).unwrap();
    let pcs = PerCommitmentSecret::new(b32(&e.per_commitment_secret));
    let base_point: PublicKey = e.base_point.parse().unwrap();
    let pcp: PublicKey = e.per_commitment_point.parse().unwrap();

    assert_eq!(PublicKey::from_secret_key(&secp, &base_secret), base_point);
    assert_eq!(per_commitment_point(&pcs).unwrap(), pcp);

    let localpubkey = derive_pubkey(&base_point, &pcp).unwrap();
    assert_eq!(hex::encode(localpubkey.serialize()), e.localpubkey);

    let localprivkey = derive_privkey(&base_secret, &pcp).unwrap();
    assert_eq!(hex::encode(localprivkey.secret_bytes()), e.localprivkey);

    // The owner of the basepoint derives the same key from its secret.
    let owned = derive_pubkey_owned(&base_secret, &base_point, &pcp).unwrap();
    assert_eq!(hex::encode(owned.serialize()), e.localpubkey);

    let revocation = revocationpubkey(&secp, &base_point, &pcp).unwrap();
    assert_eq!(hex::encode(revocation.serialize()), e.revocationpubkey);

    // Either holder of one of its two secrets derives the same key.
    let pcs_key = per_commitment_secret_key(&pcs).unwrap();
    for secret in [
        RevocationSecret::Basepoint(&base_secret),
        RevocationSecret::PerCommitment(&pcs_key),
    ] {
        let held = revocationpubkey_with_secret(&secp, &base_point, &pcp, secret).unwrap();
        assert_eq!(
            hex::encode(held.serialize()),
            e.revocationpubkey,
            "{secret:?}"
        );
    }

    let revocation_secret = revocation_privkey(&base_secret, &pcs).unwrap();
    assert_eq!(
        hex::encode(revocation_secret.secret_bytes()),
        e.revocationprivkey
    );
}
