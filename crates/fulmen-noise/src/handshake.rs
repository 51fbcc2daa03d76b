//! The three-act `Noise_XK` handshake of BOLT 8, one type per phase.
//!
//! Initiator: [`InitiatorHandshake::new`] produces act one; consuming it with
//! [`InitiatorHandshake::process_act_two`] produces act three and the
//! [`Transport`].
//!
//! Responder: [`ResponderHandshake::new`], then
//! [`ResponderHandshake::process_act_one`] produces act two and a
//! [`ResponderAwaitingActThree`], whose
//! [`process_act_three`](ResponderAwaitingActThree::process_act_three)
//! yields the initiator's static key and the [`Transport`].

use core::fmt;

use bitcoin::secp256k1::{PublicKey, SecretKey};

use crate::crypto::{
    decrypt_with_ad, ecdh, encrypt_with_ad, hkdf, public_key, sha256, wipe, Secret,
};
use crate::crypto::{KEY_LEN, TAG_LEN};
use crate::error::{Act, Error, MacStage};
use crate::transport::Transport;

/// Size in bytes of act one (`version || e.pub || tag`).
pub const ACT_ONE_LEN: usize = 1 + PUBKEY_LEN + TAG_LEN;
/// Size in bytes of act two (`version || e.pub || tag`).
pub const ACT_TWO_LEN: usize = 1 + PUBKEY_LEN + TAG_LEN;
/// Size in bytes of act three (`version || encrypted s.pub || tag || tag`).
pub const ACT_THREE_LEN: usize = 1 + PUBKEY_LEN + TAG_LEN + TAG_LEN;

/// Size of a compressed secp256k1 public key.
const PUBKEY_LEN: usize = 33;
/// The only handshake version defined.
const VERSION: u8 = 0;
/// `protocolName`, hashed into the initial handshake state.
const PROTOCOL_NAME: &[u8] = b"Noise_XK_secp256k1_ChaChaPoly_SHA256";
/// The prologue mixed into `h` before any key.
const PROLOGUE: &[u8] = b"lightning";

/// The running `ck` and `h` of a handshake.
struct SymmetricState {
    chaining_key: Secret,
    hash: [u8; KEY_LEN],
}

impl SymmetricState {
    /// Handshake state initialization; `responder_static` is `rs` for the
    /// initiator and `ls` for the responder.
    fn new(responder_static: &PublicKey) -> Self {
        let hash = sha256(&[PROTOCOL_NAME]);
        let chaining_key = hash;
        let hash = sha256(&[&hash, PROLOGUE]);
        let hash = sha256(&[&hash, &responder_static.serialize()]);
        Self { chaining_key, hash }
    }

    /// `h = SHA-256(h || data)`.
    fn mix_hash(&mut self, data: &[u8]) {
        self.hash = sha256(&[&self.hash, data]);
    }

    /// `ck, temp_k = HKDF(ck, shared_secret)`; returns `temp_k`.
    fn mix_key(&mut self, shared_secret: &Secret) -> Secret {
        let (chaining_key, temp_key) = hkdf(&self.chaining_key, shared_secret);
        self.chaining_key = chaining_key;
        temp_key
    }

    /// `HKDF(ck, zero)`: the initiator's `(sk, rk)`, i.e. the responder's
    /// `(rk, sk)`.
    fn split(&self) -> (Secret, Secret) {
        hkdf(&self.chaining_key, &[])
    }
}

impl Drop for SymmetricState {
    fn drop(&mut self) {
        wipe(&mut self.chaining_key);
    }
}

/// Checks the exact size and the version byte of an act and splits the rest
/// into body and final tag.
fn split_act<const BODY: usize>(
    act: Act,
    bytes: &[u8],
) -> Result<(&[u8; BODY], &[u8; TAG_LEN]), Error> {
    let bad_length = || Error::BadActLength {
        act,
        expected: 1 + BODY + TAG_LEN,
        actual: bytes.len(),
    };
    if bytes.len() != 1 + BODY + TAG_LEN {
        return Err(bad_length());
    }
    let (&version, rest) = bytes.split_first().ok_or_else(bad_length)?;
    let (body, tag) = rest.split_last_chunk::<TAG_LEN>().ok_or_else(bad_length)?;
    let body = body.try_into().map_err(|_| bad_length())?;
    if version != VERSION {
        return Err(Error::BadVersion { act, version });
    }
    Ok((body, tag))
}

/// Parses a compressed public key received in `act`.
fn parse_pubkey(act: Act, bytes: &[u8; PUBKEY_LEN]) -> Result<PublicKey, Error> {
    PublicKey::from_slice(bytes).map_err(|_| Error::BadPublicKey { act })
}

/// Concatenates `parts` into a fixed-size message.
fn assemble<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut slots = out.iter_mut();
    for byte in parts.iter().flat_map(|p| p.iter()) {
        if let Some(slot) = slots.next() {
            *slot = *byte;
        }
    }
    debug_assert!(slots.next().is_none(), "parts shorter than the message");
    out
}

/// Writes `0 || e.pub || tag` for act one or act two and mixes `e.pub` and the
/// tag into `state`. `remote` is `rs` (act one) or `re` (act two). Returns the
/// message and the temporary key (`temp_k1` or `temp_k2`).
fn write_ephemeral_act(
    state: &mut SymmetricState,
    ephemeral: &SecretKey,
    remote: &PublicKey,
) -> ([u8; ACT_ONE_LEN], Secret) {
    let ephemeral_pub = public_key(ephemeral).serialize();
    state.mix_hash(&ephemeral_pub);
    let temp_key = state.mix_key(&ecdh(ephemeral, remote));
    let tag = encrypt_with_ad(&temp_key, 0, &state.hash, &mut []);
    state.mix_hash(&tag);
    (assemble(&[&[VERSION], &ephemeral_pub, &tag]), temp_key)
}

/// Reads act one or act two: checks size and version, parses `re`, mixes it,
/// performs `ECDH(local, re)` and verifies the tag (reporting `stage` if it
/// fails). Returns `re` and the temporary key (`temp_k1` or `temp_k2`).
fn read_ephemeral_act(
    state: &mut SymmetricState,
    local: &SecretKey,
    (act, stage): (Act, MacStage),
    bytes: &[u8],
) -> Result<(PublicKey, Secret), Error> {
    let (re_bytes, tag) = split_act::<PUBKEY_LEN>(act, bytes)?;
    let re = parse_pubkey(act, re_bytes)?;
    state.mix_hash(re_bytes);
    let temp_key = state.mix_key(&ecdh(local, &re));
    if !decrypt_with_ad(&temp_key, 0, &state.hash, &mut [], tag) {
        return Err(Error::BadMac(stage));
    }
    state.mix_hash(tag);
    Ok((re, temp_key))
}

/// The initiator after sending act one, waiting for act two.
///
/// Created together with the act one bytes by [`InitiatorHandshake::new`];
/// consumed by [`InitiatorHandshake::process_act_two`].
pub struct InitiatorHandshake {
    state: SymmetricState,
    local_static: SecretKey,
    remote_static: PublicKey,
    ephemeral: SecretKey,
}

impl InitiatorHandshake {
    /// Starts a handshake towards the node whose static key (node id) is
    /// `remote_static`, and returns the state awaiting act two together with
    /// the 50 bytes of act one to send.
    ///
    /// `ephemeral_secret` must be freshly generated with strong randomness for
    /// every connection; it is a parameter only so that this crate needs no
    /// random source and the BOLT 8 test vectors are reproducible.
    #[must_use]
    pub fn new(
        local_static_secret: SecretKey,
        remote_static: PublicKey,
        ephemeral_secret: SecretKey,
    ) -> (Self, [u8; ACT_ONE_LEN]) {
        let mut state = SymmetricState::new(&remote_static);
        let (act_one, _temp_k1) =
            write_ephemeral_act(&mut state, &ephemeral_secret, &remote_static);
        let handshake = Self {
            state,
            local_static: local_static_secret,
            remote_static,
            ephemeral: ephemeral_secret,
        };
        (handshake, act_one)
    }

    /// The responder's static public key this handshake authenticates.
    #[must_use]
    pub fn remote_static(&self) -> &PublicKey {
        &self.remote_static
    }

    /// Processes the responder's act two (exactly [`ACT_TWO_LEN`] bytes) and
    /// returns the 66 bytes of act three to send, plus the established
    /// [`Transport`].
    ///
    /// Act three must be sent before any message encrypted by the transport.
    ///
    /// # Errors
    ///
    /// [`Error::BadActLength`], [`Error::BadVersion`], [`Error::BadPublicKey`]
    /// or [`Error::BadMac`]; in every case the connection must be closed
    /// without sending anything further.
    pub fn process_act_two(
        self,
        act_two: &[u8],
    ) -> Result<([u8; ACT_THREE_LEN], Transport), Error> {
        let mut state = self.state;
        let (re, temp_k2) = read_ephemeral_act(
            &mut state,
            &self.ephemeral,
            (Act::Two, MacStage::ActTwo),
            act_two,
        )?;

        let mut static_key = public_key(&self.local_static).serialize();
        let static_tag = encrypt_with_ad(&temp_k2, 1, &state.hash, &mut static_key);
        let ciphertext: [u8; PUBKEY_LEN + TAG_LEN] = assemble(&[&static_key, &static_tag]);
        state.mix_hash(&ciphertext);
        let temp_k3 = state.mix_key(&ecdh(&self.local_static, &re));
        let final_tag = encrypt_with_ad(&temp_k3, 0, &state.hash, &mut []);
        let (sk, rk) = state.split();

        let act_three = assemble(&[&[VERSION], &ciphertext, &final_tag]);
        let transport = Transport::new(sk, rk, state.chaining_key, self.remote_static);
        Ok((act_three, transport))
    }
}

impl fmt::Debug for InitiatorHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitiatorHandshake")
            .field("remote_static", &self.remote_static)
            .finish_non_exhaustive()
    }
}

/// The responder before act one: holds its static and ephemeral secrets.
///
/// Consumed by [`ResponderHandshake::process_act_one`].
pub struct ResponderHandshake {
    state: SymmetricState,
    local_static: SecretKey,
    ephemeral: SecretKey,
}

impl ResponderHandshake {
    /// Prepares to answer an incoming connection with the node's static key
    /// `local_static_secret`.
    ///
    /// `ephemeral_secret` must be freshly generated with strong randomness for
    /// every connection; it is a parameter only so that this crate needs no
    /// random source and the BOLT 8 test vectors are reproducible.
    #[must_use]
    pub fn new(local_static_secret: SecretKey, ephemeral_secret: SecretKey) -> Self {
        Self {
            state: SymmetricState::new(&public_key(&local_static_secret)),
            local_static: local_static_secret,
            ephemeral: ephemeral_secret,
        }
    }

    /// Processes the initiator's act one (exactly [`ACT_ONE_LEN`] bytes) and
    /// returns the state awaiting act three together with the 50 bytes of act
    /// two to send.
    ///
    /// # Errors
    ///
    /// [`Error::BadActLength`], [`Error::BadVersion`], [`Error::BadPublicKey`]
    /// or [`Error::BadMac`] (the initiator does not know our static key); in
    /// every case the connection must be closed without sending anything.
    pub fn process_act_one(
        self,
        act_one: &[u8],
    ) -> Result<(ResponderAwaitingActThree, [u8; ACT_TWO_LEN]), Error> {
        let mut state = self.state;
        let (re, _temp_k1) = read_ephemeral_act(
            &mut state,
            &self.local_static,
            (Act::One, MacStage::ActOne),
            act_one,
        )?;
        let (act_two, temp_k2) = write_ephemeral_act(&mut state, &self.ephemeral, &re);
        let next = ResponderAwaitingActThree {
            state,
            ephemeral: self.ephemeral,
            temp_k2,
        };
        Ok((next, act_two))
    }
}

impl fmt::Debug for ResponderHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponderHandshake").finish_non_exhaustive()
    }
}

/// The responder after sending act two, waiting for act three.
///
/// Consumed by [`ResponderAwaitingActThree::process_act_three`].
pub struct ResponderAwaitingActThree {
    state: SymmetricState,
    ephemeral: SecretKey,
    temp_k2: Secret,
}

impl ResponderAwaitingActThree {
    /// Processes the initiator's act three (exactly [`ACT_THREE_LEN`] bytes)
    /// and returns the initiator's authenticated static public key (its node
    /// id) and the established [`Transport`].
    ///
    /// # Errors
    ///
    /// [`Error::BadActLength`], [`Error::BadVersion`], [`Error::BadMac`] (for
    /// the encrypted static key or the final tag) or [`Error::BadPublicKey`]
    /// (the decrypted static key is not a valid point); in every case the
    /// connection must be closed without sending anything.
    pub fn process_act_three(self, act_three: &[u8]) -> Result<(PublicKey, Transport), Error> {
        const CIPHERTEXT_LEN: usize = PUBKEY_LEN + TAG_LEN;
        let mut state = self.state;
        let (ciphertext, final_tag) = split_act::<CIPHERTEXT_LEN>(Act::Three, act_three)?;
        let (encrypted_key, static_tag) = ciphertext
            .split_last_chunk::<TAG_LEN>()
            .ok_or(Error::BadMac(MacStage::ActThreeStaticKey))?;
        let mut static_key: [u8; PUBKEY_LEN] = encrypted_key
            .try_into()
            .map_err(|_| Error::BadMac(MacStage::ActThreeStaticKey))?;
        if !decrypt_with_ad(&self.temp_k2, 1, &state.hash, &mut static_key, static_tag) {
            return Err(Error::BadMac(MacStage::ActThreeStaticKey));
        }
        let remote_static = parse_pubkey(Act::Three, &static_key)?;
        state.mix_hash(ciphertext);
        let temp_k3 = state.mix_key(&ecdh(&self.ephemeral, &remote_static));
        if !decrypt_with_ad(&temp_k3, 0, &state.hash, &mut [], final_tag) {
            return Err(Error::BadMac(MacStage::ActThreeTag));
        }
        let (rk, sk) = state.split();
        let transport = Transport::new(sk, rk, state.chaining_key, remote_static);
        Ok((remote_static, transport))
    }
}

impl fmt::Debug for ResponderAwaitingActThree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponderAwaitingActThree")
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const VECTORS: &str = include_str!("../tests/data/bolt08_vectors.json");

    fn vectors() -> Value {
        serde_json::from_str(VECTORS).unwrap()
    }

    fn bytes(v: &Value, field: &str) -> Vec<u8> {
        hex::decode(v[field].as_str().unwrap()).unwrap()
    }

    fn secret(v: &Value, field: &str) -> SecretKey {
        SecretKey::from_slice(&bytes(v, field)).unwrap()
    }

    fn pubkey(v: &Value, field: &str) -> PublicKey {
        PublicKey::from_slice(&bytes(v, field)).unwrap()
    }

    fn assert_keys(transport: &Transport, expect: &Value) {
        assert_eq!(transport.sending().key().to_vec(), bytes(expect, "sk"));
        assert_eq!(transport.receiving().key().to_vec(), bytes(expect, "rk"));
        assert_eq!(
            transport.sending().chaining_key().to_vec(),
            bytes(expect, "ck")
        );
        assert_eq!(
            transport.receiving().chaining_key().to_vec(),
            bytes(expect, "ck")
        );
        assert_eq!(transport.sending().nonce(), 0);
        assert_eq!(transport.receiving().nonce(), 0);
    }

    #[test]
    fn final_keys_match_vectors() {
        let v = vectors();
        let i = &v["initiator"][0];
        let r = &v["responder"][0];

        let (initiator, act_one) = InitiatorHandshake::new(
            secret(i, "ls_priv"),
            pubkey(i, "rs_pub"),
            secret(i, "e_priv"),
        );
        assert_eq!(act_one.to_vec(), bytes(i, "act_one"));
        let (_, transport) = initiator.process_act_two(&bytes(i, "act_two")).unwrap();
        assert_keys(&transport, &i["expect"]);

        let responder = ResponderHandshake::new(secret(r, "ls_priv"), secret(r, "e_priv"));
        let (responder, _) = responder.process_act_one(&bytes(r, "act_one")).unwrap();
        let (_, transport) = responder.process_act_three(&bytes(r, "act_three")).unwrap();
        assert_keys(&transport, &r["expect"]);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let v = vectors();
        let i = &v["initiator"][0];
        let r = &v["responder"][0];
        let secrets: Vec<String> = ["ls_priv", "e_priv"]
            .iter()
            .flat_map(|f| [i[f].as_str().unwrap(), r[f].as_str().unwrap()])
            .map(str::to_owned)
            .collect();
        let check = |s: String| {
            for secret in &secrets {
                assert!(!s.contains(&secret[..16]), "{s}");
            }
            assert!(!s.contains("[17, 17") && !s.contains("[33, 33"), "{s}");
        };

        let (initiator, act_one) = InitiatorHandshake::new(
            secret(i, "ls_priv"),
            pubkey(i, "rs_pub"),
            secret(i, "e_priv"),
        );
        check(format!("{initiator:?}"));
        let responder = ResponderHandshake::new(secret(r, "ls_priv"), secret(r, "e_priv"));
        check(format!("{responder:?}"));
        let (responder, _) = responder.process_act_one(&act_one).unwrap();
        check(format!("{responder:?}"));
        let (_, transport) = initiator.process_act_two(&bytes(i, "act_two")).unwrap();
        let s = format!("{transport:?}");
        for field in ["sk", "rk", "ck"] {
            assert!(
                !s.contains(&i["expect"][field].as_str().unwrap()[..16]),
                "{s}"
            );
        }
        check(s);
    }

    #[test]
    fn act_lengths() {
        assert_eq!(ACT_ONE_LEN, 50);
        assert_eq!(ACT_TWO_LEN, 50);
        assert_eq!(ACT_THREE_LEN, 66);
    }
}
