//! Field types shared by several messages: feature vectors that keep their
//! exact wire length, per-commitment secrets, the onion packet, and the
//! [`WireMessage`] trait every message implements.

use core::fmt;

use fulmen_types::Features;

use crate::codec::{Reader, Writer};
use crate::error::WireError;
use crate::tlv::{self, RawTlv};

/// The largest Lightning message, type included (BOLT 1).
pub const MAX_MESSAGE_LEN: usize = 65535;

/// The length of the `onion_routing_packet` of `update_add_htlc` (BOLT 2/4).
pub const ONION_PACKET_LEN: usize = 1366;

/// A message's payload codec. The payload is everything after the 2-byte
/// type: the fixed fields, then the TLV extension.
pub trait WireMessage: Sized {
    /// The message type.
    const TYPE: u16;

    /// Reads the payload and extension, which must fill `r` exactly.
    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError>;

    /// Writes the payload and extension.
    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError>;

    /// Decodes a payload (the bytes after the type), wrapping errors with
    /// this message's type.
    fn decode_payload(payload: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        Self::read_payload(&mut r)
            .and_then(|m| r.finish().map(|()| m))
            .map_err(|e| e.in_message(Self::TYPE))
    }

    /// Encodes the whole message: type, payload, extension. Fails if a field
    /// overflows its length prefix or the message exceeds 65535 bytes.
    fn encode_message(&self) -> Result<Vec<u8>, WireError> {
        let mut w = Writer::new();
        w.write_u16(Self::TYPE);
        self.write_payload(&mut w)?;
        if w.len() > MAX_MESSAGE_LEN {
            return Err(WireError::TooLong(w.len()));
        }
        Ok(w.into_bytes())
    }
}

/// Reads an extension stream in which this message knows no types: unknown
/// odd records are kept, even ones rejected.
pub(crate) fn read_extension(r: &mut Reader<'_>) -> Result<Vec<RawTlv>, WireError> {
    tlv::decode_stream(r.read_rest(), |_, _| Ok(false))
}

/// A feature vector as it appeared on the wire: the [`Features`] plus the
/// number of bytes it was sent in, so that leading zero bytes (allowed, if
/// not recommended) survive a decode/encode round trip — signatures over
/// gossip cover them.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct WireFeatures {
    features: Features,
    len: usize,
}

impl WireFeatures {
    /// The minimal encoding of `features`.
    pub fn new(features: Features) -> Self {
        let len = features.to_wire().len();
        Self { features, len }
    }

    /// From wire bytes, remembering their length.
    pub fn from_wire(bytes: &[u8]) -> Self {
        Self {
            features: Features::from_wire(bytes),
            len: bytes.len(),
        }
    }

    /// The feature bits.
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// The feature bits, by value.
    pub fn into_features(self) -> Features {
        self.features
    }

    /// The wire form: the minimal big-endian bytes left-padded with zeros to
    /// the length they were received in.
    pub fn to_wire(&self) -> Vec<u8> {
        let min = self.features.to_wire();
        let pad = self.len.saturating_sub(min.len());
        let mut out = vec![0u8; pad];
        out.extend_from_slice(&min);
        out
    }
}

impl From<Features> for WireFeatures {
    fn from(f: Features) -> Self {
        Self::new(f)
    }
}

impl fmt::Debug for WireFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}/{}B", self.features, self.len)
    }
}

/// A per-commitment secret (BOLT 3), as sent in `revoke_and_ack` and
/// `channel_reestablish`. `Debug` never prints it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PerCommitmentSecret(pub [u8; 32]);

impl fmt::Debug for PerCommitmentSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PerCommitmentSecret(<redacted>)")
    }
}

/// The 1366-byte `onion_routing_packet` of `update_add_htlc`, opaque here
/// (BOLT 4 parses it). Boxed: it is large.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct OnionPacket(pub Box<[u8; ONION_PACKET_LEN]>);

impl OnionPacket {
    /// The packet bytes.
    pub fn as_bytes(&self) -> &[u8; ONION_PACKET_LEN] {
        &self.0
    }
}

impl fmt::Debug for OnionPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [v, ..] = *self.0;
        write!(f, "OnionPacket(version {v}, {ONION_PACKET_LEN} bytes)")
    }
}

/// Reads the 1366 packet bytes.
pub(crate) fn read_onion(r: &mut Reader<'_>) -> Result<OnionPacket, WireError> {
    let bytes = r.read_bytes(ONION_PACKET_LEN)?;
    let mut b = Box::new([0u8; ONION_PACKET_LEN]);
    b.copy_from_slice(bytes);
    Ok(OnionPacket(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_features_keep_padding() {
        let w = WireFeatures::from_wire(&[0, 0, 0x02, 0x00]);
        assert_eq!(w.to_wire(), vec![0, 0, 2, 0]);
        assert!(w.features().has_bit(9));
        assert_ne!(w, WireFeatures::new(w.features().clone()));
        assert_eq!(
            WireFeatures::new(w.clone().into_features()).to_wire(),
            vec![2, 0]
        );
        assert_eq!(WireFeatures::from_wire(&[]).to_wire(), Vec::<u8>::new());
    }

    #[test]
    fn secrets_are_redacted() {
        let s = PerCommitmentSecret([0xab; 32]);
        assert!(!format!("{s:?}").contains("ab"));
    }
}
