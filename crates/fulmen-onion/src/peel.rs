//! Peeling one layer at a receiving node (BOLT 4 "Onion Decryption").
//!
//! [`peel`] checks the version, the ephemeral key and the HMAC, decrypts the
//! hop payloads, cuts out this hop's length-prefixed payload and returns it
//! with the packet for the next hop, or [`NextHop::Final`] when the next HMAC
//! is all zero. Every failure maps to the exact BOLT 4 failure code
//! ([`PeelError::failure_message`]).
//!
//! Replay protection ("if `hmac` has previously been received") needs state
//! and is the caller's: remember [`OnionPacket::hmac`] per payment hash.

use core::fmt;

use bitcoin::secp256k1::{PublicKey, SecretKey};

use crate::blinding;
use crate::failure::FailureMessage;
use crate::keys::{self, KeyType, SharedSecret};
use crate::packet::{OnionPacket, HMAC_LEN, HOP_PAYLOADS_LEN, ONION_VERSION};
use crate::payload::{self, HopPayload};
use fulmen_types::PaymentHash;

/// What follows this hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextHop {
    /// Forward this packet to the next peer (with the next `path_key` if
    /// inside a blinded route).
    Forward(Box<OnionPacket>),
    /// The next HMAC is all zero: this node is the final destination.
    Final,
}

/// The result of peeling one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peeled {
    /// This hop's payload (without its length prefix), still to be decoded
    /// ([`crate::payload::HopPayload::decode`] for payments).
    pub payload: Vec<u8>,
    /// The shared secret with the origin: keep it to encrypt a failure
    /// ([`crate::failure::create_failure_packet`]) or wrap one coming back.
    pub shared_secret: SharedSecret,
    /// Where the packet goes next.
    pub next: NextHop,
}

/// Why a packet could not be peeled. The first three are "bad onions": the
/// origin cannot be reached with an encrypted failure, so the node replies
/// with `update_fail_malformed_htlc` carrying the code and the SHA256 of the
/// onion. An invalid payload passed the HMAC check, so it is answered with an
/// encrypted `update_fail_htlc` made with the shared secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeelError {
    /// `version` is not 0: `invalid_onion_version`.
    InvalidVersion {
        /// The version byte found.
        version: u8,
        /// `sha256_of_onion`.
        sha256_of_onion: [u8; 32],
    },
    /// `public_key` is not a point: `invalid_onion_key`.
    InvalidKey {
        /// `sha256_of_onion`.
        sha256_of_onion: [u8; 32],
    },
    /// The HMAC does not match: `invalid_onion_hmac`.
    InvalidHmac {
        /// `sha256_of_onion`.
        sha256_of_onion: [u8; 32],
    },
    /// The `path_key` given with the HTLC could not be used (only with
    /// negligible probability for a valid point): `invalid_onion_blinding`.
    InvalidPathKey {
        /// `sha256_of_onion`.
        sha256_of_onion: [u8; 32],
    },
    /// The payload length is malformed, reserved (0 or 1) or runs past the
    /// packet: `invalid_onion_payload`.
    InvalidPayload {
        /// Shared secret, to encrypt the failure to the origin.
        shared_secret: SharedSecret,
        /// `sha256_of_onion`, for `invalid_onion_blinding` inside a blinded
        /// route.
        sha256_of_onion: [u8; 32],
        /// The TLV type at fault (0 when the length prefix is).
        tlv_type: u64,
        /// Byte offset of the offending record within the hop payload
        /// (after its length prefix); 0 when the length prefix is at fault.
        offset: u16,
    },
}

impl PeelError {
    /// The failure message to return for this error, with its data.
    ///
    /// A node that received the HTLC with a `path_key` (inside a blinded
    /// route) must instead return [`FailureMessage::InvalidOnionBlinding`]:
    /// use [`PeelError::blinded_failure_message`].
    pub fn failure_message(&self) -> FailureMessage {
        match self {
            Self::InvalidVersion {
                sha256_of_onion, ..
            } => FailureMessage::InvalidOnionVersion {
                sha256_of_onion: *sha256_of_onion,
            },
            Self::InvalidKey { sha256_of_onion } => FailureMessage::InvalidOnionKey {
                sha256_of_onion: *sha256_of_onion,
            },
            Self::InvalidHmac { sha256_of_onion } => FailureMessage::InvalidOnionHmac {
                sha256_of_onion: *sha256_of_onion,
            },
            Self::InvalidPathKey { sha256_of_onion } => FailureMessage::InvalidOnionBlinding {
                sha256_of_onion: *sha256_of_onion,
            },
            Self::InvalidPayload {
                tlv_type, offset, ..
            } => FailureMessage::InvalidOnionPayload {
                tlv_type: *tlv_type,
                offset: *offset,
            },
        }
    }

    /// `invalid_onion_blinding` for this onion: what a node inside a blinded
    /// route returns whatever went wrong.
    pub fn blinded_failure_message(&self) -> FailureMessage {
        FailureMessage::InvalidOnionBlinding {
            sha256_of_onion: self.sha256_of_onion(),
        }
    }

    /// The SHA256 of the offending onion packet.
    pub fn sha256_of_onion(&self) -> [u8; 32] {
        match self {
            Self::InvalidVersion {
                sha256_of_onion, ..
            }
            | Self::InvalidKey { sha256_of_onion }
            | Self::InvalidHmac { sha256_of_onion }
            | Self::InvalidPathKey { sha256_of_onion }
            | Self::InvalidPayload {
                sha256_of_onion, ..
            } => *sha256_of_onion,
        }
    }

    /// Whether the reply is `update_fail_malformed_htlc` (true) or an
    /// encrypted `update_fail_htlc` (false).
    pub fn is_malformed(&self) -> bool {
        !matches!(self, Self::InvalidPayload { .. })
    }
}

impl fmt::Display for PeelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidVersion { version, .. } => write!(f, "unknown onion version {version}"),
            Self::InvalidKey { .. } => f.write_str("onion ephemeral key is not a valid point"),
            Self::InvalidHmac { .. } => f.write_str("onion hmac mismatch"),
            Self::InvalidPathKey { .. } => f.write_str("path key unusable"),
            Self::InvalidPayload {
                tlv_type, offset, ..
            } => write!(
                f,
                "invalid onion payload (type {tlv_type} at offset {offset})"
            ),
        }
    }
}

impl std::error::Error for PeelError {}

/// Peels one layer of `packet` with this node's secret key.
///
/// `associated_data` must be what the origin committed to (the payment hash
/// for payments). `path_key` is the `path_key` of `update_add_htlc` when the
/// HTLC arrives inside a blinded route: the node key is then tweaked as the
/// spec's route blinding requires.
pub fn peel(
    node_secret: &SecretKey,
    packet: &OnionPacket,
    associated_data: &[u8],
    path_key: Option<&PublicKey>,
) -> Result<Peeled, PeelError> {
    // `sha256_of_onion` is computed on the error paths only.
    if packet.version != ONION_VERSION {
        let sha256_of_onion = packet.sha256();
        return Err(PeelError::InvalidVersion {
            version: packet.version,
            sha256_of_onion,
        });
    }
    let epk = keys::parse_public(&packet.public_key).map_err(|_| PeelError::InvalidKey {
        sha256_of_onion: packet.sha256(),
    })?;

    let tweaked;
    let key = match path_key {
        Some(pk) => {
            tweaked = blinding::blinded_node_secret(node_secret, pk).map_err(|_| {
                PeelError::InvalidPathKey {
                    sha256_of_onion: packet.sha256(),
                }
            })?;
            &tweaked
        }
        None => node_secret,
    };
    let ss = keys::ecdh(&epk, key);

    let expected = keys::hmac256_parts(
        &ss.key(KeyType::Mu),
        &[&packet.hop_payloads, associated_data],
    );
    if !keys::ct_eq(&expected, &packet.hmac) {
        return Err(PeelError::InvalidHmac {
            sha256_of_onion: packet.sha256(),
        });
    }

    // Decrypt hop_payloads extended with 1300 zero bytes.
    let mut unwrapped = [0u8; 2 * HOP_PAYLOADS_LEN];
    let (head, _) = unwrapped.split_at_mut(HOP_PAYLOADS_LEN);
    head.copy_from_slice(&packet.hop_payloads);
    keys::xor_stream(&ss.key(KeyType::Rho), &mut unwrapped);

    let bad_payload = |tlv_type: u64, offset: u16| PeelError::InvalidPayload {
        shared_secret: ss,
        sha256_of_onion: packet.sha256(),
        tlv_type,
        offset,
    };
    let (payload_len, prefix_len) =
        payload::read_length_prefix(&unwrapped).map_err(|_| bad_payload(0, 0))?;
    if payload_len < 2 {
        return Err(bad_payload(0, 0));
    }
    // prefix + payload + next HMAC must leave a whole hop_payloads behind,
    // i.e. fit within the incoming 1300 bytes.
    let consumed = usize::try_from(payload_len)
        .ok()
        .and_then(|l| l.checked_add(prefix_len))
        .and_then(|l| l.checked_add(HMAC_LEN))
        .filter(|c| *c <= HOP_PAYLOADS_LEN)
        .ok_or_else(|| bad_payload(0, 0))?;
    let payload_end = consumed - HMAC_LEN;
    let payload = unwrapped
        .get(prefix_len..payload_end)
        .ok_or_else(|| bad_payload(0, 0))?
        .to_vec();
    let mut next_hmac = [0u8; HMAC_LEN];
    next_hmac.copy_from_slice(
        unwrapped
            .get(payload_end..consumed)
            .ok_or_else(|| bad_payload(0, 0))?,
    );

    let next = if next_hmac == [0u8; HMAC_LEN] {
        NextHop::Final
    } else {
        let next_key = keys::mul_public(&epk, keys::blinding_factor(&epk, &ss)).map_err(|_| {
            PeelError::InvalidKey {
                sha256_of_onion: packet.sha256(),
            }
        })?;
        let mut hop_payloads = [0u8; HOP_PAYLOADS_LEN];
        hop_payloads.copy_from_slice(
            unwrapped
                .get(consumed..consumed + HOP_PAYLOADS_LEN)
                .ok_or_else(|| bad_payload(0, 0))?,
        );
        NextHop::Forward(Box::new(OnionPacket {
            version: ONION_VERSION,
            public_key: next_key.serialize(),
            hop_payloads,
            hmac: next_hmac,
        }))
    };
    Ok(Peeled {
        payload,
        shared_secret: ss,
        next,
    })
}

/// [`peel`] for a payment onion (the payment hash as associated data), and
/// the decoded [`HopPayload`]. A payload that does not decode becomes
/// [`PeelError::InvalidPayload`] with the record's type and offset.
pub fn peel_payment(
    node_secret: &SecretKey,
    packet: &OnionPacket,
    payment_hash: &PaymentHash,
    path_key: Option<&PublicKey>,
) -> Result<(Peeled, HopPayload), PeelError> {
    let peeled = peel(node_secret, packet, payment_hash.as_bytes(), path_key)?;
    match HopPayload::decode(&peeled.payload) {
        Ok(p) => Ok((peeled, p)),
        Err(e) => Err(PeelError::InvalidPayload {
            shared_secret: peeled.shared_secret,
            sha256_of_onion: packet.sha256(),
            tlv_type: e.tlv_type(),
            offset: e.offset(),
        }),
    }
}
