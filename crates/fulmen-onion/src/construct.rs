//! Packet construction at the origin node (BOLT 4 "Packet Construction" and
//! "Filler Generation").
//!
//! The session key is an argument: the caller draws it from its own entropy
//! source. The same session key and route always give the same packet.

use core::fmt;

use bitcoin::secp256k1::{PublicKey, SecretKey};
use fulmen_types::PaymentHash;

use crate::keys::{self, KeyError, KeyType, SharedSecret};
use crate::packet::{OnionPacket, HMAC_LEN, HOP_PAYLOADS_LEN, MAX_HOPS, ONION_VERSION};
use crate::payload::HopPayload;

/// One hop of a route to build an onion for: the key the hop peels with
/// (its node id, or its blinded node id inside a blinded path) and its
/// payload *already framed*: the BigSize length followed by the payload bytes
/// (see [`crate::payload::frame`]).
#[derive(Debug, Clone, Copy)]
pub struct FramedHop<'a> {
    /// The hop's public key.
    pub node_id: PublicKey,
    /// `bigsize(len) || payload`.
    pub framed_payload: &'a [u8],
}

/// A built onion and what the sender keeps to decrypt a returned failure.
#[derive(Debug, Clone)]
pub struct BuiltOnion {
    /// The packet for the first hop.
    pub packet: OnionPacket,
    /// One shared secret per hop, in route order; keep them to attribute a
    /// failure ([`crate::failure::decrypt_failure`]).
    pub shared_secrets: Vec<SharedSecret>,
}

/// Why an onion could not be built. Every case is a bug or bad choice of the
/// caller's route: do not send the payment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The route has no hops.
    NoHops,
    /// The route has more than [`MAX_HOPS`] hops.
    TooManyHops {
        /// Hops given.
        count: usize,
    },
    /// The framed payloads and their HMACs do not fit in 1300 bytes.
    PayloadsTooLong {
        /// Bytes needed (each framed payload plus 32).
        needed: usize,
    },
    /// A hop's framed payload is empty.
    EmptyPayload {
        /// Index of the hop.
        hop: usize,
    },
    /// A key derivation failed (negligible probability with honest keys).
    Key(KeyError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoHops => f.write_str("route has no hops"),
            Self::TooManyHops { count } => {
                write!(f, "route has {count} hops, at most {MAX_HOPS} allowed")
            }
            Self::PayloadsTooLong { needed } => write!(
                f,
                "hop payloads need {needed} bytes, only {HOP_PAYLOADS_LEN} available"
            ),
            Self::EmptyPayload { hop } => write!(f, "hop {hop} has an empty payload"),
            Self::Key(e) => write!(f, "key derivation: {e}"),
        }
    }
}

impl std::error::Error for BuildError {}

impl From<KeyError> for BuildError {
    fn from(e: KeyError) -> Self {
        Self::Key(e)
    }
}

/// The shared secret with each hop, and the ephemeral public key each hop
/// sees, derived from the session key by blinding it at every hop.
pub fn route_secrets(
    session_key: &SecretKey,
    hops: &[PublicKey],
) -> Result<Vec<(PublicKey, SharedSecret)>, KeyError> {
    let mut ek = *session_key;
    let mut out = Vec::with_capacity(hops.len());
    for (i, hop) in hops.iter().enumerate() {
        let epk = keys::public_key(&ek);
        let ss = keys::ecdh(hop, &ek);
        if i + 1 < hops.len() {
            ek = keys::mul_secret(&ek, keys::blinding_factor(&epk, &ss))?;
        }
        out.push((epk, ss));
    }
    Ok(out)
}

/// The first hop's ephemeral public key and the shared secret with every
/// hop: [`route_secrets`] without deriving the last hop's ephemeral public
/// key, which nothing needs (it saves one point multiplication).
fn first_key_and_secrets(
    session_key: &SecretKey,
    hops: &[PublicKey],
) -> Result<(PublicKey, Vec<SharedSecret>), KeyError> {
    let first = keys::public_key(session_key);
    let mut epk = first;
    let mut ek = *session_key;
    let mut secrets = Vec::with_capacity(hops.len());
    for (i, hop) in hops.iter().enumerate() {
        if i > 0 {
            epk = keys::public_key(&ek);
        }
        let ss = keys::ecdh(hop, &ek);
        if i + 1 < hops.len() {
            ek = keys::mul_secret(&ek, keys::blinding_factor(&epk, &ss))?;
        }
        secrets.push(ss);
    }
    Ok((first, secrets))
}

/// Each hop's `rho` stream, as far as the sender needs it: the first 1300
/// bytes obfuscate the hop's layer, and a forwarding hop's filler share is
/// the stream from `1300 - (filler so far)` to `1300 + shift` (see
/// [`filler`]). One ChaCha20 run per hop serves both.
fn rho_streams(secrets: &[SharedSecret], shifts: &[usize]) -> Vec<Vec<u8>> {
    let forwarding = secrets.len().saturating_sub(1);
    secrets
        .iter()
        .zip(shifts)
        .enumerate()
        .map(|(i, (ss, shift))| {
            let len = if i < forwarding {
                HOP_PAYLOADS_LEN + shift
            } else {
                HOP_PAYLOADS_LEN
            };
            keys::stream(&ss.key(KeyType::Rho), len)
        })
        .collect()
}

/// The filler: the bytes that the first `n - 1` hops will shift into the end
/// of `hop_payloads`, as the last hop will see them. `shifts[i]` is hop `i`'s
/// framed payload length plus the HMAC length; `streams[i]` its `rho` stream
/// ([`rho_streams`]).
fn filler(streams: &[Vec<u8>], shifts: &[usize]) -> Vec<u8> {
    let mut filler: Vec<u8> = Vec::new();
    let forwarding = streams.len().saturating_sub(1);
    for (stream, shift) in streams.iter().zip(shifts).take(forwarding) {
        // Hop i appends `shift` zero bytes and XORs its rho stream over the
        // 2 * 1300-byte buffer; the filler so far sits at the end of its
        // incoming 1300 bytes, i.e. at stream offset 1300 - filler.len().
        let offset = HOP_PAYLOADS_LEN.saturating_sub(filler.len());
        filler.resize(filler.len() + shift, 0);
        let keystream = stream.get(offset..).unwrap_or_default();
        xor_into(&mut filler, keystream);
    }
    filler
}

/// `dst ^= src` over their common length.
fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

/// Builds an onion for `hops` (first hop first) with framed payloads.
///
/// `associated_data` is what every hop's HMAC commits to (the payment hash
/// for payment onions).
pub fn build_onion(
    session_key: &SecretKey,
    hops: &[FramedHop<'_>],
    associated_data: &[u8],
) -> Result<BuiltOnion, BuildError> {
    if hops.is_empty() {
        return Err(BuildError::NoHops);
    }
    if hops.len() > MAX_HOPS {
        return Err(BuildError::TooManyHops { count: hops.len() });
    }
    let mut shifts = Vec::with_capacity(hops.len());
    for (i, h) in hops.iter().enumerate() {
        if h.framed_payload.is_empty() {
            return Err(BuildError::EmptyPayload { hop: i });
        }
        shifts.push(h.framed_payload.len().saturating_add(HMAC_LEN));
    }
    let needed = shifts.iter().fold(0usize, |a, s| a.saturating_add(*s));
    if needed > HOP_PAYLOADS_LEN {
        return Err(BuildError::PayloadsTooLong { needed });
    }

    let node_ids: Vec<PublicKey> = hops.iter().map(|h| h.node_id).collect();
    let (first_key, secrets) = first_key_and_secrets(session_key, &node_ids)?;
    let streams = rho_streams(&secrets, &shifts);
    let filler = filler(&streams, &shifts);

    // Start from 1300 pseudo-random bytes derived from the session key.
    let pad_key = keys::hmac256(KeyType::Pad.label(), &session_key.secret_bytes());
    let mut header = [0u8; HOP_PAYLOADS_LEN];
    keys::xor_stream(&pad_key, &mut header);

    let mut next_hmac = [0u8; HMAC_LEN];
    for (i, ((hop, ss), stream)) in hops.iter().zip(&secrets).zip(&streams).enumerate().rev() {
        let len = hop.framed_payload.len();
        let shift = len + HMAC_LEN;
        header.copy_within(..HOP_PAYLOADS_LEN - shift, shift);
        let (front, _) = header.split_at_mut(shift);
        let (payload_slot, hmac_slot) = front.split_at_mut(len);
        payload_slot.copy_from_slice(hop.framed_payload);
        hmac_slot.copy_from_slice(&next_hmac);
        xor_into(&mut header, stream);
        if i + 1 == hops.len() {
            let (_, tail) = header.split_at_mut(HOP_PAYLOADS_LEN - filler.len());
            tail.copy_from_slice(&filler);
        }
        next_hmac = keys::hmac256_parts(&ss.key(KeyType::Mu), &[&header, associated_data]);
    }

    Ok(BuiltOnion {
        packet: OnionPacket {
            version: ONION_VERSION,
            public_key: first_key.serialize(),
            hop_payloads: header,
            hmac: next_hmac,
        },
        shared_secrets: secrets,
    })
}

/// Builds a payment onion from typed payloads: each is TLV-encoded and framed
/// with its BigSize length; the payment hash is the associated data.
pub fn build_payment_onion(
    session_key: &SecretKey,
    hops: &[(PublicKey, HopPayload)],
    payment_hash: &PaymentHash,
) -> Result<BuiltOnion, BuildError> {
    let framed: Vec<Vec<u8>> = hops.iter().map(|(_, p)| p.encode_framed()).collect();
    let framed_hops: Vec<FramedHop<'_>> = hops
        .iter()
        .zip(&framed)
        .map(|((node_id, _), f)| FramedHop {
            node_id: *node_id,
            framed_payload: f,
        })
        .collect();
    build_onion(session_key, &framed_hops, payment_hash.as_bytes())
}
