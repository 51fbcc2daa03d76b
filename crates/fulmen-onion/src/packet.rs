//! The 1366-byte `onion_packet` (BOLT 4 "Packet Structure").

use core::fmt;

/// The only packet version this specification defines.
pub const ONION_VERSION: u8 = 0;
/// Length of the `hop_payloads` field.
pub const HOP_PAYLOADS_LEN: usize = 1300;
/// Length of an HMAC.
pub const HMAC_LEN: usize = 32;
/// Length of a compressed public key.
pub const PUBKEY_LEN: usize = 33;
/// Length of a whole serialized packet: version, key, payloads, HMAC.
pub const PACKET_LEN: usize = 1 + PUBKEY_LEN + HOP_PAYLOADS_LEN + HMAC_LEN;
/// The longest route a sender builds: 27 hops (the BOLT 4 origin node decrypts
/// failures up to 27 times, the "maximum route length of tlv payload type").
pub const MAX_HOPS: usize = 27;

/// A serialized-form onion packet. The public key is kept as bytes: whether it
/// is a valid point is a check of peeling ([`crate::peel()`]), which maps a bad
/// key to `invalid_onion_key`.
#[derive(Clone, PartialEq, Eq)]
pub struct OnionPacket {
    /// `version` (0).
    pub version: u8,
    /// The ephemeral public key for the receiving hop, compressed.
    pub public_key: [u8; PUBKEY_LEN],
    /// The obfuscated `hop_payloads`.
    pub hop_payloads: [u8; HOP_PAYLOADS_LEN],
    /// The HMAC the receiving hop checks.
    pub hmac: [u8; HMAC_LEN],
}

/// A packet was not exactly [`PACKET_LEN`] bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketLengthError {
    /// The length found.
    pub got: usize,
}

impl fmt::Display for PacketLengthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "onion packet is {} bytes, expected {PACKET_LEN}",
            self.got
        )
    }
}

impl std::error::Error for PacketLengthError {}

impl OnionPacket {
    /// Splits exactly [`PACKET_LEN`] bytes into the four fields. Nothing is
    /// validated beyond the length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PacketLengthError> {
        let arr: &[u8; PACKET_LEN] = bytes
            .try_into()
            .map_err(|_| PacketLengthError { got: bytes.len() })?;
        Ok(Self::from_array(arr))
    }

    /// Splits a packet-sized array into the four fields.
    pub fn from_array(bytes: &[u8; PACKET_LEN]) -> Self {
        let (version, rest) = bytes.split_at(1);
        let (pk, rest) = rest.split_at(PUBKEY_LEN);
        let (payloads, hmac) = rest.split_at(HOP_PAYLOADS_LEN);
        let mut p = Self {
            version: version.first().copied().unwrap_or_default(),
            public_key: [0; PUBKEY_LEN],
            hop_payloads: [0; HOP_PAYLOADS_LEN],
            hmac: [0; HMAC_LEN],
        };
        p.public_key.copy_from_slice(pk);
        p.hop_payloads.copy_from_slice(payloads);
        p.hmac.copy_from_slice(hmac);
        p
    }

    /// The 1366-byte wire form.
    pub fn to_bytes(&self) -> [u8; PACKET_LEN] {
        let mut out = [0u8; PACKET_LEN];
        let (version, rest) = out.split_at_mut(1);
        let (pk, rest) = rest.split_at_mut(PUBKEY_LEN);
        let (payloads, hmac) = rest.split_at_mut(HOP_PAYLOADS_LEN);
        version.copy_from_slice(&[self.version]);
        pk.copy_from_slice(&self.public_key);
        payloads.copy_from_slice(&self.hop_payloads);
        hmac.copy_from_slice(&self.hmac);
        out
    }

    /// The `sha256_of_onion` a BADONION failure reports.
    pub fn sha256(&self) -> [u8; 32] {
        crate::keys::sha256_parts(&[&self.to_bytes()])
    }
}

impl fmt::Debug for OnionPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Hex<'a>(&'a [u8]);
        impl fmt::Debug for Hex<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for b in self.0 {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
        f.debug_struct("OnionPacket")
            .field("version", &self.version)
            .field("public_key", &Hex(&self.public_key))
            .field("hmac", &Hex(&self.hmac))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_length_check() {
        let mut raw = [0u8; PACKET_LEN];
        for (i, b) in raw.iter_mut().enumerate() {
            *b = i as u8;
        }
        let p = OnionPacket::from_bytes(&raw).unwrap();
        assert_eq!(p.version, 0);
        assert_eq!(p.public_key[0], 1);
        assert_eq!(p.hmac[31], raw[PACKET_LEN - 1]);
        assert_eq!(p.to_bytes(), raw);
        assert_eq!(
            OnionPacket::from_bytes(&raw[1..]),
            Err(PacketLengthError {
                got: PACKET_LEN - 1
            })
        );
    }
}
