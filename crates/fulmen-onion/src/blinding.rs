//! Route blinding (BOLT 4 "Route Blinding"): the keys of a blinded hop, the
//! decryption of its `encrypted_recipient_data`, the next `path_key`, and
//! building a blinded path as a recipient.
//!
//! With `E_i` the `path_key` a hop receives and `k_i` its node key:
//!
//! - `ss_i = SHA256(k_i * E_i)`
//! - `rho_i = HMAC256("rho", ss_i)`: ChaCha20-Poly1305 key of the hop's
//!   `encrypted_recipient_data` (all-zero nonce, no associated data)
//! - `b_i = HMAC256("blinded_node_id", ss_i) * k_i`: the key the hop peels
//!   the onion with; its public key `B_i` is the blinded node id
//! - `E_{i+1} = SHA256(E_i || ss_i) * E_i`, unless the decrypted data carries
//!   `next_path_key_override`.

use core::fmt;

use bitcoin::secp256k1::{PublicKey, SecretKey};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};

use crate::keys::{self, KeyError, KeyType, SharedSecret};

/// The HMAC key that derives the node-id blinding tweak.
pub const BLINDED_NODE_ID_LABEL: &[u8] = b"blinded_node_id";

/// Why a blinded hop could not be processed. Inside a blinded route every
/// such error is answered with `invalid_onion_blinding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlindingError {
    /// The `encrypted_recipient_data` does not decrypt with this node's key
    /// (wrong node, wrong `path_key`, or tampered data).
    Decrypt,
    /// A key derivation failed.
    Key(KeyError),
}

impl fmt::Display for BlindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decrypt => f.write_str("encrypted_recipient_data does not decrypt"),
            Self::Key(e) => write!(f, "blinding key: {e}"),
        }
    }
}

impl std::error::Error for BlindingError {}

impl From<KeyError> for BlindingError {
    fn from(e: KeyError) -> Self {
        Self::Key(e)
    }
}

/// `HMAC256("blinded_node_id", ss)`: the tweak of a node id for one blinded
/// hop.
pub fn node_id_tweak(ss: &SharedSecret) -> [u8; 32] {
    keys::hmac256(BLINDED_NODE_ID_LABEL, &ss.0)
}

/// The secret a blinded hop shares with the path's creator: `SHA256(k * E)`.
pub fn blinding_shared_secret(node_secret: &SecretKey, path_key: &PublicKey) -> SharedSecret {
    keys::ecdh(path_key, node_secret)
}

/// The key a blinded hop peels the onion with: its node key times
/// `HMAC256("blinded_node_id", ss)`.
pub fn blinded_node_secret(
    node_secret: &SecretKey,
    path_key: &PublicKey,
) -> Result<SecretKey, KeyError> {
    let ss = blinding_shared_secret(node_secret, path_key);
    keys::mul_secret(node_secret, node_id_tweak(&ss))
}

/// `SHA256(E || ss) * E`: the next `path_key` when no override is given.
pub fn next_path_key(path_key: &PublicKey, ss: &SharedSecret) -> Result<PublicKey, KeyError> {
    keys::mul_public(path_key, keys::blinding_factor(path_key, ss))
}

/// Decrypts `encrypted_recipient_data` with `rho` of the blinding shared
/// secret.
pub fn decrypt_recipient_data(
    ss: &SharedSecret,
    encrypted: &[u8],
) -> Result<Vec<u8>, BlindingError> {
    let cipher = ChaCha20Poly1305::new(&ss.key(KeyType::Rho).into());
    cipher
        .decrypt(&Nonce::default(), encrypted)
        .map_err(|_| BlindingError::Decrypt)
}

/// Encrypts an encoded `encrypted_data_tlv` for a hop with `rho` of its
/// blinding shared secret (what the path's creator does).
pub fn encrypt_recipient_data(ss: &SharedSecret, plaintext: &[u8]) -> Vec<u8> {
    let cipher = ChaCha20Poly1305::new(&ss.key(KeyType::Rho).into());
    // Encryption of an in-memory buffer below 2^38 bytes cannot fail.
    cipher
        .encrypt(&Nonce::default(), plaintext)
        .unwrap_or_default()
}

/// What a blinded hop learns from its `path_key` and
/// `encrypted_recipient_data`, before parsing the TLV stream.
#[derive(Clone, PartialEq, Eq)]
pub struct BlindedHopKeys {
    /// The blinding shared secret `ss`.
    pub shared_secret: SharedSecret,
    /// The key to peel the onion with (see [`crate::peel::peel`], which
    /// derives it itself when given the `path_key`).
    pub blinded_node_secret: SecretKey,
    /// The decrypted `encrypted_data_tlv` bytes.
    pub decrypted: Vec<u8>,
    /// `SHA256(E || ss) * E`; the next `path_key` unless the decrypted data
    /// carries `next_path_key_override`.
    pub computed_next_path_key: PublicKey,
}

impl fmt::Debug for BlindedHopKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindedHopKeys")
            .field("computed_next_path_key", &self.computed_next_path_key)
            .field("decrypted_len", &self.decrypted.len())
            .finish_non_exhaustive()
    }
}

/// Processes a blinded hop's `path_key` and `encrypted_recipient_data` with
/// the node's own key.
pub fn unblind_hop(
    node_secret: &SecretKey,
    path_key: &PublicKey,
    encrypted_recipient_data: &[u8],
) -> Result<BlindedHopKeys, BlindingError> {
    let ss = blinding_shared_secret(node_secret, path_key);
    let decrypted = decrypt_recipient_data(&ss, encrypted_recipient_data)?;
    Ok(BlindedHopKeys {
        shared_secret: ss,
        blinded_node_secret: keys::mul_secret(node_secret, node_id_tweak(&ss))?,
        decrypted,
        computed_next_path_key: next_path_key(path_key, &ss)?,
    })
}

/// One hop of a blinded path as handed to a payer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlindedPathHop {
    /// `B_i`, the key the sender encrypts this hop's onion layer to.
    pub blinded_node_id: PublicKey,
    /// The hop's encrypted `encrypted_data_tlv`.
    pub encrypted_recipient_data: Vec<u8>,
}

/// A blinded path (the `blinded_path` subtype) with a public introduction
/// node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlindedPath {
    /// The introduction node, unblinded.
    pub first_node_id: PublicKey,
    /// `E_0`.
    pub first_path_key: PublicKey,
    /// The hops, introduction node first.
    pub hops: Vec<BlindedPathHop>,
}

/// The per-hop values of a path being built, for inspection and tests.
#[derive(Clone, PartialEq, Eq)]
pub struct BlindingStep {
    /// `E_i`.
    pub path_key: PublicKey,
    /// `ss_i`.
    pub shared_secret: SharedSecret,
    /// `B_i`.
    pub blinded_node_id: PublicKey,
}

impl fmt::Debug for BlindingStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindingStep")
            .field("path_key", &self.path_key)
            .field("blinded_node_id", &self.blinded_node_id)
            .finish_non_exhaustive()
    }
}

/// The chain of path keys, shared secrets and blinded node ids for `nodes`
/// from the creator's ephemeral `session_key` (`e_0`).
pub fn blinding_steps(
    session_key: &SecretKey,
    nodes: &[PublicKey],
) -> Result<Vec<BlindingStep>, KeyError> {
    let secp = keys::secp();
    let mut e = *session_key;
    let mut out = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let path_key = PublicKey::from_secret_key(secp, &e);
        let ss = keys::ecdh(node, &e);
        let blinded_node_id = keys::mul_public(node, node_id_tweak(&ss))?;
        if i + 1 < nodes.len() {
            e = keys::mul_secret(&e, keys::blinding_factor(&path_key, &ss))?;
        }
        out.push(BlindingStep {
            path_key,
            shared_secret: ss,
            blinded_node_id,
        });
    }
    Ok(out)
}

/// Builds a blinded path through `hops` (introduction node first), each with
/// its already-encoded `encrypted_data_tlv`, from the creator's ephemeral
/// `session_key`. Returns `None` for an empty path.
pub fn create_blinded_path(
    session_key: &SecretKey,
    hops: &[(PublicKey, &[u8])],
) -> Result<Option<BlindedPath>, KeyError> {
    let nodes: Vec<PublicKey> = hops.iter().map(|(n, _)| *n).collect();
    let steps = blinding_steps(session_key, &nodes)?;
    let (Some((first_node_id, _)), Some(first)) = (hops.first(), steps.first()) else {
        return Ok(None);
    };
    Ok(Some(BlindedPath {
        first_node_id: *first_node_id,
        first_path_key: first.path_key,
        hops: steps
            .iter()
            .zip(hops)
            .map(|(step, (_, data))| BlindedPathHop {
                blinded_node_id: step.blinded_node_id,
                encrypted_recipient_data: encrypt_recipient_data(&step.shared_secret, data),
            })
            .collect(),
    }))
}
