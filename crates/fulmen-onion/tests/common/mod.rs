#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]
//! Helpers shared by the integration tests.

use bitcoin::secp256k1::{PublicKey, SecretKey};

pub fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s}: {e}"))
}

pub fn h32(s: &str) -> [u8; 32] {
    unhex(s).try_into().unwrap()
}

pub fn sk(s: &str) -> SecretKey {
    SecretKey::from_slice(&unhex(s)).unwrap()
}

pub fn pk(s: &str) -> PublicKey {
    PublicKey::from_slice(&unhex(s)).unwrap()
}

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

pub fn s<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing string {key}"))
}
