//! Identifiers: channels, short channel ids, payment hashes, preimages and
//! secrets, node ids.

use core::fmt;
use core::str::FromStr;

use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::PublicKey;

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// Parses `2 * N` hex digits into `N` bytes.
pub(crate) fn parse_hex<const N: usize>(s: &str) -> Result<[u8; N], ParseIdError> {
    let bytes = s.as_bytes();
    if bytes.len() != 2 * N {
        return Err(ParseIdError::Length {
            expected: 2 * N,
            got: bytes.len(),
        });
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let hi = hex_val(pair.first().copied())?;
        let lo = hex_val(pair.get(1).copied())?;
        *o = (hi << 4) | lo;
    }
    Ok(out)
}

fn hex_val(c: Option<u8>) -> Result<u8, ParseIdError> {
    match c {
        Some(c @ b'0'..=b'9') => Ok(c - b'0'),
        Some(c @ b'a'..=b'f') => Ok(c - b'a' + 10),
        Some(c @ b'A'..=b'F') => Ok(c - b'A' + 10),
        _ => Err(ParseIdError::Hex),
    }
}

/// Why an identifier's text form did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseIdError {
    /// The text has the wrong number of characters.
    Length {
        /// Characters expected.
        expected: usize,
        /// Characters found.
        got: usize,
    },
    /// A character is not a hex digit.
    Hex,
    /// A short channel id is not `BLOCKxTXxOUT` with each part in range.
    ShortChannelId,
    /// The bytes are not a valid secp256k1 public key.
    PublicKey,
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { expected, got } => {
                write!(f, "expected {expected} characters, got {got}")
            }
            Self::Hex => f.write_str("invalid hex digit"),
            Self::ShortChannelId => f.write_str("short channel id must be BLOCKxTXxOUT"),
            Self::PublicKey => f.write_str("invalid public key"),
        }
    }
}

impl std::error::Error for ParseIdError {}

macro_rules! public_bytes32 {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The 32 bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "("))?;
                write_hex(f, &self.0)?;
                f.write_str(")")
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(f, &self.0)
            }
        }
        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex::<32>(s).map(Self)
            }
        }
    };
}

public_bytes32!(ChannelId, "A 32-byte channel id (BOLT 2): the funding txid XOR the output index, or a temporary id before funding.");
public_bytes32!(
    PaymentHash,
    "The SHA256 of a payment preimage; what an HTLC is locked to."
);

impl ChannelId {
    /// The BOLT 2 channel id of a funding output: the txid (in wire byte order)
    /// with its last two bytes XORed with the big-endian output index.
    pub fn from_funding_outpoint(txid: &bitcoin::Txid, vout: u16) -> Self {
        let mut id = txid.to_byte_array();
        let [hi, lo] = vout.to_be_bytes();
        if let Some(b) = id.get_mut(30) {
            *b ^= hi;
        }
        if let Some(b) = id.get_mut(31) {
            *b ^= lo;
        }
        Self(id)
    }
}

macro_rules! secret_bytes32 {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        ///
        /// `Debug` prints only that a value is present, never its bytes.
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The 32 secret bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
            /// Constant-time equality, for comparing against a secret a peer sent.
            pub fn ct_eq(&self, other: &Self) -> bool {
                self.0
                    .iter()
                    .zip(other.0.iter())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret_bytes32!(
    PaymentPreimage,
    "The secret whose SHA256 is a payment hash; revealing it settles an HTLC and proves payment."
);
secret_bytes32!(PaymentSecret, "The BOLT 11 `payment_secret`, shared only between payer and payee, which stops probing of the final hop.");

impl PaymentPreimage {
    /// The payment hash this preimage unlocks.
    pub fn payment_hash(&self) -> PaymentHash {
        PaymentHash(sha256::Hash::hash(&self.0).to_byte_array())
    }
    /// The hex form, for the places a preimage is meant to be shown (a payment
    /// receipt to its owner); never used by `Debug`.
    pub fn to_hex(&self) -> String {
        struct H<'a>(&'a [u8]);
        impl fmt::Display for H<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(f, self.0)
            }
        }
        H(&self.0).to_string()
    }
}

impl FromStr for PaymentPreimage {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex::<32>(s).map(Self)
    }
}

/// A short channel id: the funding output's block height (24 bits), index of
/// the transaction in the block (24 bits) and output index (16 bits).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ShortChannelId(pub u64);

impl ShortChannelId {
    /// Builds one from its parts, or `None` if a part is out of range.
    pub fn new(block: u32, tx_index: u32, output: u16) -> Option<Self> {
        if block >= 1 << 24 || tx_index >= 1 << 24 {
            return None;
        }
        Some(Self(
            (u64::from(block) << 40) | (u64::from(tx_index) << 16) | u64::from(output),
        ))
    }
    /// The block height of the funding transaction.
    pub const fn block(self) -> u32 {
        (self.0 >> 40) as u32
    }
    /// The index of the funding transaction within its block.
    pub const fn tx_index(self) -> u32 {
        ((self.0 >> 16) & 0xff_ffff) as u32
    }
    /// The funding output's index.
    pub const fn output(self) -> u16 {
        (self.0 & 0xffff) as u16
    }
}

impl fmt::Display for ShortChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.block(), self.tx_index(), self.output())
    }
}

impl fmt::Debug for ShortChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShortChannelId({self})")
    }
}

impl FromStr for ShortChannelId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('x');
        let mut next = || parts.next().ok_or(ParseIdError::ShortChannelId);
        let block: u32 = next()?.parse().map_err(|_| ParseIdError::ShortChannelId)?;
        let tx: u32 = next()?.parse().map_err(|_| ParseIdError::ShortChannelId)?;
        let out: u16 = next()?.parse().map_err(|_| ParseIdError::ShortChannelId)?;
        if parts.next().is_some() {
            return Err(ParseIdError::ShortChannelId);
        }
        Self::new(block, tx, out).ok_or(ParseIdError::ShortChannelId)
    }
}

/// A node's identity: its 33-byte compressed secp256k1 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub [u8; 33]);

impl NodeId {
    /// From a public key.
    pub fn from_pubkey(pk: &PublicKey) -> Self {
        Self(pk.serialize())
    }
    /// The public key, or an error if the bytes are not a point on the curve.
    pub fn to_pubkey(&self) -> Result<PublicKey, ParseIdError> {
        PublicKey::from_slice(&self.0).map_err(|_| ParseIdError::PublicKey)
    }
    /// The 33 bytes.
    pub const fn as_bytes(&self) -> &[u8; 33] {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl FromStr for NodeId {
    type Err = ParseIdError;
    /// Parses 66 hex digits and checks that they are a valid public key.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let id = Self(parse_hex::<33>(s)?);
        id.to_pubkey()?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_channel_id_parts_and_text() {
        let scid = ShortChannelId::new(539268, 845, 1).unwrap();
        assert_eq!(scid.to_string(), "539268x845x1");
        assert_eq!(scid.block(), 539268);
        assert_eq!(scid.tx_index(), 845);
        assert_eq!(scid.output(), 1);
        assert_eq!("539268x845x1".parse::<ShortChannelId>().unwrap(), scid);
        assert_eq!(scid.0, 0x083a8400034d0001);
        for bad in [
            "",
            "1x2",
            "1x2x3x4",
            "16777216x0x0",
            "0x16777216x0",
            "0x0x65536",
            "ax1x1",
        ] {
            assert!(bad.parse::<ShortChannelId>().is_err(), "{bad}");
        }
        assert!(ShortChannelId::new(1 << 24, 0, 0).is_none());
    }

    #[test]
    fn channel_id_from_outpoint_xors_index() {
        let txid: bitcoin::Txid =
            "8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be"
                .parse()
                .unwrap();
        let id = ChannelId::from_funding_outpoint(&txid, 0x0102);
        let raw = txid.to_byte_array();
        assert_eq!(id.0[..30], raw[..30]);
        assert_eq!(id.0[30], raw[30] ^ 1);
        assert_eq!(id.0[31], raw[31] ^ 2);
    }

    #[test]
    fn secrets_are_redacted_and_hash() {
        let p = PaymentPreimage([1; 32]);
        assert_eq!(format!("{p:?}"), "PaymentPreimage(<redacted>)");
        assert!(!format!("{:?}", PaymentSecret([7; 32])).contains("07"));
        // SHA256 of 32 bytes of 0x01 (BOLT 3 appendix C uses this preimage).
        assert_eq!(
            p.payment_hash().to_string(),
            "72cd6e8422c407fb6d098690f1130b7ded7ec2f7f5e1d30bd9d521f015363793"
        );
        assert!(p.ct_eq(&PaymentPreimage([1; 32])));
        assert!(!p.ct_eq(&PaymentPreimage([2; 32])));
    }

    #[test]
    fn node_id_parses_only_valid_points() {
        let s = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619";
        let id: NodeId = s.parse().unwrap();
        assert_eq!(id.to_string(), s);
        let not_point = format!("02{}", "00".repeat(32));
        assert_eq!(not_point.parse::<NodeId>(), Err(ParseIdError::PublicKey));
        assert!(matches!(
            "02zz".parse::<NodeId>(),
            Err(ParseIdError::Length { .. })
        ));
    }
}
