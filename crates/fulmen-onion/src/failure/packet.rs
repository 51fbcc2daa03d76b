//! The encrypted failure ("return packet") of BOLT 4 "Returning Errors":
//! built by the erring node, obfuscated again by every hop on the way back,
//! and decrypted and attributed by the origin.
//!
//! ```text
//! [32: hmac][u16: failure_len][failure_len: failuremsg][u16: pad_len][pad_len: pad]
//! ```
//!
//! `hmac` is `HMAC-SHA256(um, everything after it)`; the whole packet is then
//! XORed with the `ammag` stream of each hop's shared secret.

use core::fmt;

use crate::keys::{self, KeyType, SharedSecret};
use crate::packet::{HMAC_LEN, MAX_HOPS};

/// What `failure_len + pad_len` is padded to by default: the spec's
/// "SHOULD ... equal to 256".
pub const DEFAULT_PAD_TARGET: usize = 256;

/// The shortest return packet any conforming erring node produces:
/// HMAC, two lengths and at least 256 bytes of message and padding.
pub const MIN_FAILURE_PACKET_LEN: usize = HMAC_LEN + 2 + 2 + DEFAULT_PAD_TARGET;

/// The longest return packet accepted: the `reason` of `update_fail_htlc` has
/// a `u16` length.
pub const MAX_FAILURE_PACKET_LEN: usize = u16::MAX as usize;

/// Why a return packet could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailurePacketError {
    /// The failure message and padding do not fit in the `u16` lengths or in
    /// an `update_fail_htlc` `reason`: send a shorter failure message.
    TooLong {
        /// Length of the failure message.
        failure_len: usize,
    },
}

impl fmt::Display for FailurePacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { failure_len } => {
                write!(f, "failure message of {failure_len} bytes is too long")
            }
        }
    }
}

impl std::error::Error for FailurePacketError {}

/// The unencrypted return packet body (HMAC included): what the erring node
/// has before the `ammag` stream is applied.
pub fn failure_plaintext(
    ss: &SharedSecret,
    failure_msg: &[u8],
    pad_target: usize,
) -> Result<Vec<u8>, FailurePacketError> {
    let too_long = FailurePacketError::TooLong {
        failure_len: failure_msg.len(),
    };
    let failure_len = u16::try_from(failure_msg.len()).map_err(|_| too_long)?;
    let pad_len = pad_target.saturating_sub(failure_msg.len());
    let pad_len_u16 = u16::try_from(pad_len).map_err(|_| too_long)?;
    let total = HMAC_LEN + 2 + failure_msg.len() + 2 + pad_len;
    if total > MAX_FAILURE_PACKET_LEN {
        return Err(too_long);
    }
    let mut body = Vec::with_capacity(total);
    body.extend_from_slice(&failure_len.to_be_bytes());
    body.extend_from_slice(failure_msg);
    body.extend_from_slice(&pad_len_u16.to_be_bytes());
    body.resize(body.len() + pad_len, 0);
    let hmac = keys::hmac256(&ss.key(KeyType::Um), &body);
    let mut packet = Vec::with_capacity(total);
    packet.extend_from_slice(&hmac);
    packet.extend_from_slice(&body);
    Ok(packet)
}

/// Builds the return packet at the erring node: pads the message to
/// `failure_len + pad_len = max(pad_target, failure_len)`, authenticates it
/// with `um` and obfuscates it with `ammag` of the hop's shared secret.
///
/// Use [`DEFAULT_PAD_TARGET`] unless reproducing a packet that padded
/// differently.
pub fn create_failure_packet(
    ss: &SharedSecret,
    failure_msg: &[u8],
    pad_target: usize,
) -> Result<Vec<u8>, FailurePacketError> {
    let mut packet = failure_plaintext(ss, failure_msg, pad_target)?;
    wrap_failure_packet(ss, &mut packet);
    Ok(packet)
}

/// Obfuscates a return packet once more with this hop's `ammag` stream: what
/// every intermediate node does before passing `update_fail_htlc` back.
pub fn wrap_failure_packet(ss: &SharedSecret, packet: &mut [u8]) {
    keys::xor_stream(&ss.key(KeyType::Ammag), packet);
}

/// A failure the origin decrypted and attributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptedFailure {
    /// Index in the route (0 = first hop) of the node whose HMAC matched.
    pub hop_index: usize,
    /// The `failuremsg` bytes; parse with
    /// [`crate::failure::FailureMessage::decode`].
    pub message: Vec<u8>,
}

/// Why the origin could not attribute a return packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecryptFailureError {
    /// The packet is shorter than an HMAC and two lengths, or longer than a
    /// `u16` length allows: a hop mangled it. Treat the payment attempt as
    /// failed at an unknown hop.
    BadLength {
        /// Length of the packet.
        len: usize,
    },
    /// No hop's HMAC matched: some hop corrupted the packet. Treat the
    /// attempt as failed at an unknown hop.
    Unattributable,
    /// A hop's HMAC matched but its `failure_len` runs past the packet: that
    /// hop sent garbage; blame it.
    MalformedAtHop {
        /// Index of the hop whose HMAC matched.
        hop_index: usize,
    },
}

impl fmt::Display for DecryptFailureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLength { len } => write!(f, "failure packet of bad length {len}"),
            Self::Unattributable => f.write_str("no hop's hmac matches the failure packet"),
            Self::MalformedAtHop { hop_index } => {
                write!(f, "hop {hop_index} sent a malformed failure packet")
            }
        }
    }
}

impl std::error::Error for DecryptFailureError {}

/// Checks the HMAC of a decrypted return packet with `um`, and if it matches
/// returns the failure message bytes (or `Err(())` if the lengths are bad).
fn check_plaintext(ss: &SharedSecret, plain: &[u8]) -> Option<Result<Vec<u8>, ()>> {
    let (hmac, body) = plain.split_at_checked(HMAC_LEN)?;
    let expected = keys::hmac256(&ss.key(KeyType::Um), body);
    if !keys::ct_eq(hmac, &expected) {
        return None;
    }
    let (len_bytes, rest) = match body.split_first_chunk::<2>() {
        Some(v) => v,
        None => return Some(Err(())),
    };
    let len = usize::from(u16::from_be_bytes(*len_bytes));
    Some(rest.get(..len).map(<[u8]>::to_vec).ok_or(()))
}

/// Decrypts a return packet at the origin with the route's shared secrets
/// (first hop first) and attributes it to the first hop whose `um` HMAC
/// matches.
///
/// As the spec recommends, the work done does not depend on where the
/// failure came from: the packet is unwrapped [`MAX_HOPS`] times whatever the
/// route length and position of the erring hop.
pub fn decrypt_failure(
    secrets: &[SharedSecret],
    packet: &[u8],
) -> Result<DecryptedFailure, DecryptFailureError> {
    if packet.len() < HMAC_LEN + 2 || packet.len() > MAX_FAILURE_PACKET_LEN {
        return Err(DecryptFailureError::BadLength { len: packet.len() });
    }
    let mut buf = packet.to_vec();
    let mut found: Option<Result<DecryptedFailure, DecryptFailureError>> = None;
    // Dummy rounds after the route's hops reuse a fixed all-zero secret so the
    // timing does not reveal the route length or the erring hop's position.
    let dummy = SharedSecret([0; 32]);
    for i in 0..MAX_HOPS.max(secrets.len()) {
        let ss = secrets.get(i).unwrap_or(&dummy);
        wrap_failure_packet(ss, &mut buf);
        let checked = check_plaintext(ss, &buf);
        if found.is_none() && i < secrets.len() {
            found = checked.map(|r| match r {
                Ok(message) => Ok(DecryptedFailure {
                    hop_index: i,
                    message,
                }),
                Err(()) => Err(DecryptFailureError::MalformedAtHop { hop_index: i }),
            });
        }
    }
    found.unwrap_or(Err(DecryptFailureError::Unattributable))
}
