//! Failure codes and messages (BOLT 4 "Failure Messages"): a 2-byte
//! `failure_code`, the data of that code, and an optional TLV stream.

use core::fmt;

use fulmen_wire::tlv::{self, RawTlv};
use fulmen_wire::{Reader, WireError, Writer};

/// A `failure_code`. The top bits are flags ([`FailureCode::BADONION`],
/// [`FailureCode::PERM`], [`FailureCode::NODE`], [`FailureCode::UPDATE`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FailureCode(pub u16);

impl FailureCode {
    /// Flag: unparsable onion encrypted by the sending peer.
    pub const BADONION: u16 = 0x8000;
    /// Flag: permanent failure (otherwise transient).
    pub const PERM: u16 = 0x4000;
    /// Flag: node failure (otherwise channel).
    pub const NODE: u16 = 0x2000;
    /// Flag: a channel forwarding parameter was violated.
    pub const UPDATE: u16 = 0x1000;

    /// `invalid_realm` (PERM|1), from the legacy payload format.
    pub const INVALID_REALM: Self = Self(Self::PERM | 1);
    /// `temporary_node_failure` (NODE|2).
    pub const TEMPORARY_NODE_FAILURE: Self = Self(Self::NODE | 2);
    /// `permanent_node_failure` (PERM|NODE|2).
    pub const PERMANENT_NODE_FAILURE: Self = Self(Self::PERM | Self::NODE | 2);
    /// `required_node_feature_missing` (PERM|NODE|3).
    pub const REQUIRED_NODE_FEATURE_MISSING: Self = Self(Self::PERM | Self::NODE | 3);
    /// `invalid_onion_version` (BADONION|PERM|4).
    pub const INVALID_ONION_VERSION: Self = Self(Self::BADONION | Self::PERM | 4);
    /// `invalid_onion_hmac` (BADONION|PERM|5).
    pub const INVALID_ONION_HMAC: Self = Self(Self::BADONION | Self::PERM | 5);
    /// `invalid_onion_key` (BADONION|PERM|6).
    pub const INVALID_ONION_KEY: Self = Self(Self::BADONION | Self::PERM | 6);
    /// `temporary_channel_failure` (UPDATE|7).
    pub const TEMPORARY_CHANNEL_FAILURE: Self = Self(Self::UPDATE | 7);
    /// `permanent_channel_failure` (PERM|8).
    pub const PERMANENT_CHANNEL_FAILURE: Self = Self(Self::PERM | 8);
    /// `required_channel_feature_missing` (PERM|9).
    pub const REQUIRED_CHANNEL_FEATURE_MISSING: Self = Self(Self::PERM | 9);
    /// `unknown_next_peer` (PERM|10).
    pub const UNKNOWN_NEXT_PEER: Self = Self(Self::PERM | 10);
    /// `amount_below_minimum` (UPDATE|11).
    pub const AMOUNT_BELOW_MINIMUM: Self = Self(Self::UPDATE | 11);
    /// `fee_insufficient` (UPDATE|12).
    pub const FEE_INSUFFICIENT: Self = Self(Self::UPDATE | 12);
    /// `incorrect_cltv_expiry` (UPDATE|13).
    pub const INCORRECT_CLTV_EXPIRY: Self = Self(Self::UPDATE | 13);
    /// `expiry_too_soon` (UPDATE|14).
    pub const EXPIRY_TOO_SOON: Self = Self(Self::UPDATE | 14);
    /// `incorrect_or_unknown_payment_details` (PERM|15).
    pub const INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS: Self = Self(Self::PERM | 15);
    /// `final_incorrect_cltv_expiry` (18).
    pub const FINAL_INCORRECT_CLTV_EXPIRY: Self = Self(18);
    /// `final_incorrect_htlc_amount` (19).
    pub const FINAL_INCORRECT_HTLC_AMOUNT: Self = Self(19);
    /// `channel_disabled` (UPDATE|20).
    pub const CHANNEL_DISABLED: Self = Self(Self::UPDATE | 20);
    /// `expiry_too_far` (21).
    pub const EXPIRY_TOO_FAR: Self = Self(21);
    /// `invalid_onion_payload` (PERM|22).
    pub const INVALID_ONION_PAYLOAD: Self = Self(Self::PERM | 22);
    /// `mpp_timeout` (23).
    pub const MPP_TIMEOUT: Self = Self(23);
    /// `invalid_onion_blinding` (BADONION|PERM|24).
    pub const INVALID_ONION_BLINDING: Self = Self(Self::BADONION | Self::PERM | 24);

    /// Whether the BADONION flag is set (sent in `update_fail_malformed_htlc`).
    pub const fn is_bad_onion(self) -> bool {
        self.0 & Self::BADONION != 0
    }
    /// Whether the PERM flag is set.
    pub const fn is_permanent(self) -> bool {
        self.0 & Self::PERM != 0
    }
    /// Whether the NODE flag is set.
    pub const fn is_node(self) -> bool {
        self.0 & Self::NODE != 0
    }
    /// Whether the UPDATE flag is set.
    pub const fn is_update(self) -> bool {
        self.0 & Self::UPDATE != 0
    }
}

impl fmt::Debug for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FailureCode({:#06x})", self.0)
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x}", self.0)
    }
}

/// A failure message with its data. `channel_update` fields hold the raw
/// bytes the erring node sent (possibly empty, as the spec now recommends);
/// a sender must not apply them to its gossip view.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureMessage {
    /// `invalid_realm`.
    InvalidRealm,
    /// `temporary_node_failure`.
    TemporaryNodeFailure,
    /// `permanent_node_failure`.
    PermanentNodeFailure,
    /// `required_node_feature_missing`.
    RequiredNodeFeatureMissing,
    /// `invalid_onion_version`.
    InvalidOnionVersion {
        /// SHA256 of the onion received.
        sha256_of_onion: [u8; 32],
    },
    /// `invalid_onion_hmac`.
    InvalidOnionHmac {
        /// SHA256 of the onion received.
        sha256_of_onion: [u8; 32],
    },
    /// `invalid_onion_key`.
    InvalidOnionKey {
        /// SHA256 of the onion received.
        sha256_of_onion: [u8; 32],
    },
    /// `temporary_channel_failure`.
    TemporaryChannelFailure {
        /// The outgoing channel's `channel_update` (may be empty).
        channel_update: Vec<u8>,
    },
    /// `permanent_channel_failure`.
    PermanentChannelFailure,
    /// `required_channel_feature_missing`.
    RequiredChannelFeatureMissing,
    /// `unknown_next_peer`.
    UnknownNextPeer,
    /// `amount_below_minimum`.
    AmountBelowMinimum {
        /// The amount of the outgoing HTLC, msat.
        htlc_msat: u64,
        /// The outgoing channel's `channel_update` (may be empty).
        channel_update: Vec<u8>,
    },
    /// `fee_insufficient`.
    FeeInsufficient {
        /// The amount of the incoming HTLC, msat.
        htlc_msat: u64,
        /// The outgoing channel's `channel_update` (may be empty).
        channel_update: Vec<u8>,
    },
    /// `incorrect_cltv_expiry`.
    IncorrectCltvExpiry {
        /// The `cltv_expiry` of the outgoing HTLC.
        cltv_expiry: u32,
        /// The outgoing channel's `channel_update` (may be empty).
        channel_update: Vec<u8>,
    },
    /// `expiry_too_soon`.
    ExpiryTooSoon {
        /// The outgoing channel's `channel_update` (may be empty).
        channel_update: Vec<u8>,
    },
    /// `incorrect_or_unknown_payment_details`.
    IncorrectOrUnknownPaymentDetails {
        /// The HTLC amount, msat.
        htlc_msat: u64,
        /// The final node's best block height.
        height: u32,
    },
    /// `final_incorrect_cltv_expiry`.
    FinalIncorrectCltvExpiry {
        /// The HTLC's `cltv_expiry`.
        cltv_expiry: u32,
    },
    /// `final_incorrect_htlc_amount`.
    FinalIncorrectHtlcAmount {
        /// The incoming HTLC amount, msat.
        incoming_htlc_amt: u64,
    },
    /// `channel_disabled`.
    ChannelDisabled {
        /// `disabled_flags` (none defined: zero).
        disabled_flags: u16,
        /// The outgoing channel's `channel_update` (may be empty).
        channel_update: Vec<u8>,
    },
    /// `expiry_too_far`.
    ExpiryTooFar,
    /// `invalid_onion_payload`.
    InvalidOnionPayload {
        /// The TLV type at fault.
        tlv_type: u64,
        /// Its byte offset.
        offset: u16,
    },
    /// `mpp_timeout`.
    MppTimeout,
    /// `invalid_onion_blinding`.
    InvalidOnionBlinding {
        /// SHA256 of the onion received.
        sha256_of_onion: [u8; 32],
    },
    /// A code Fulmen does not know, with whatever followed it.
    Unknown {
        /// The code.
        code: FailureCode,
        /// The bytes after the code.
        data: Vec<u8>,
    },
}

/// Why a failure message could not be decoded: the erring node sent garbage.
/// The origin should still act on the code if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureDecodeError {
    /// Fewer than two bytes: no code.
    MissingCode,
    /// The data of a known code is truncated or malformed.
    BadData {
        /// The code read.
        code: FailureCode,
        /// The decoding error.
        cause: WireError,
    },
}

impl fmt::Display for FailureDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingCode => f.write_str("failure message has no code"),
            Self::BadData { code, cause } => {
                write!(f, "failure {code} has malformed data: {cause}")
            }
        }
    }
}

impl std::error::Error for FailureDecodeError {}

impl FailureMessage {
    /// The failure code.
    pub fn code(&self) -> FailureCode {
        match self {
            Self::InvalidRealm => FailureCode::INVALID_REALM,
            Self::TemporaryNodeFailure => FailureCode::TEMPORARY_NODE_FAILURE,
            Self::PermanentNodeFailure => FailureCode::PERMANENT_NODE_FAILURE,
            Self::RequiredNodeFeatureMissing => FailureCode::REQUIRED_NODE_FEATURE_MISSING,
            Self::InvalidOnionVersion { .. } => FailureCode::INVALID_ONION_VERSION,
            Self::InvalidOnionHmac { .. } => FailureCode::INVALID_ONION_HMAC,
            Self::InvalidOnionKey { .. } => FailureCode::INVALID_ONION_KEY,
            Self::TemporaryChannelFailure { .. } => FailureCode::TEMPORARY_CHANNEL_FAILURE,
            Self::PermanentChannelFailure => FailureCode::PERMANENT_CHANNEL_FAILURE,
            Self::RequiredChannelFeatureMissing => FailureCode::REQUIRED_CHANNEL_FEATURE_MISSING,
            Self::UnknownNextPeer => FailureCode::UNKNOWN_NEXT_PEER,
            Self::AmountBelowMinimum { .. } => FailureCode::AMOUNT_BELOW_MINIMUM,
            Self::FeeInsufficient { .. } => FailureCode::FEE_INSUFFICIENT,
            Self::IncorrectCltvExpiry { .. } => FailureCode::INCORRECT_CLTV_EXPIRY,
            Self::ExpiryTooSoon { .. } => FailureCode::EXPIRY_TOO_SOON,
            Self::IncorrectOrUnknownPaymentDetails { .. } => {
                FailureCode::INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS
            }
            Self::FinalIncorrectCltvExpiry { .. } => FailureCode::FINAL_INCORRECT_CLTV_EXPIRY,
            Self::FinalIncorrectHtlcAmount { .. } => FailureCode::FINAL_INCORRECT_HTLC_AMOUNT,
            Self::ChannelDisabled { .. } => FailureCode::CHANNEL_DISABLED,
            Self::ExpiryTooFar => FailureCode::EXPIRY_TOO_FAR,
            Self::InvalidOnionPayload { .. } => FailureCode::INVALID_ONION_PAYLOAD,
            Self::MppTimeout => FailureCode::MPP_TIMEOUT,
            Self::InvalidOnionBlinding { .. } => FailureCode::INVALID_ONION_BLINDING,
            Self::Unknown { code, .. } => *code,
        }
    }

    /// The `sha256_of_onion` of a BADONION failure, for
    /// `update_fail_malformed_htlc`.
    pub fn sha256_of_onion(&self) -> Option<[u8; 32]> {
        match self {
            Self::InvalidOnionVersion { sha256_of_onion }
            | Self::InvalidOnionHmac { sha256_of_onion }
            | Self::InvalidOnionKey { sha256_of_onion }
            | Self::InvalidOnionBlinding { sha256_of_onion } => Some(*sha256_of_onion),
            _ => None,
        }
    }

    /// The encoded `failuremsg`: code and data. Fails only if a
    /// `channel_update` is longer than a `u16` length allows.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        self.encode_with_extension(&[])
    }

    /// The encoded `failuremsg` followed by a TLV stream of `extension`
    /// records (in any order; written sorted).
    pub fn encode_with_extension(&self, extension: &[RawTlv]) -> Result<Vec<u8>, WireError> {
        let mut w = Writer::new();
        w.write_u16(self.code().0);
        match self {
            Self::InvalidOnionVersion { sha256_of_onion }
            | Self::InvalidOnionHmac { sha256_of_onion }
            | Self::InvalidOnionKey { sha256_of_onion }
            | Self::InvalidOnionBlinding { sha256_of_onion } => w.write_bytes(sha256_of_onion),
            Self::TemporaryChannelFailure { channel_update }
            | Self::ExpiryTooSoon { channel_update } => w.write_u16_prefixed(channel_update)?,
            Self::AmountBelowMinimum {
                htlc_msat,
                channel_update,
            }
            | Self::FeeInsufficient {
                htlc_msat,
                channel_update,
            } => {
                w.write_u64(*htlc_msat);
                w.write_u16_prefixed(channel_update)?;
            }
            Self::IncorrectCltvExpiry {
                cltv_expiry,
                channel_update,
            } => {
                w.write_u32(*cltv_expiry);
                w.write_u16_prefixed(channel_update)?;
            }
            Self::IncorrectOrUnknownPaymentDetails { htlc_msat, height } => {
                w.write_u64(*htlc_msat);
                w.write_u32(*height);
            }
            Self::FinalIncorrectCltvExpiry { cltv_expiry } => w.write_u32(*cltv_expiry),
            Self::FinalIncorrectHtlcAmount { incoming_htlc_amt } => w.write_u64(*incoming_htlc_amt),
            Self::ChannelDisabled {
                disabled_flags,
                channel_update,
            } => {
                w.write_u16(*disabled_flags);
                w.write_u16_prefixed(channel_update)?;
            }
            Self::InvalidOnionPayload { tlv_type, offset } => {
                w.write_bigsize(*tlv_type);
                w.write_u16(*offset);
            }
            Self::Unknown { data, .. } => w.write_bytes(data),
            Self::InvalidRealm
            | Self::TemporaryNodeFailure
            | Self::PermanentNodeFailure
            | Self::RequiredNodeFeatureMissing
            | Self::PermanentChannelFailure
            | Self::RequiredChannelFeatureMissing
            | Self::UnknownNextPeer
            | Self::ExpiryTooFar
            | Self::MppTimeout => {}
        }
        tlv::write_unknown(&mut w, extension);
        Ok(w.into_bytes())
    }

    /// Decodes a `failuremsg`, ignoring any bytes after the code's data (the
    /// spec's "MUST ignore any extra bytes").
    pub fn decode(bytes: &[u8]) -> Result<Self, FailureDecodeError> {
        Self::decode_with_extension(bytes).map(|(m, _)| m)
    }

    /// Decodes a `failuremsg` and the TLV stream after its data. Extra bytes
    /// that are not a valid TLV stream (or hold an unknown even type) are
    /// ignored and give an empty extension.
    pub fn decode_with_extension(bytes: &[u8]) -> Result<(Self, Vec<RawTlv>), FailureDecodeError> {
        let mut r = Reader::new(bytes);
        let code = FailureCode(r.read_u16().map_err(|_| FailureDecodeError::MissingCode)?);
        let msg = Self::read_data(code, &mut r)
            .map_err(|cause| FailureDecodeError::BadData { code, cause })?;
        let extension = tlv::decode_stream(r.peek_rest(), |_, _| Ok(false)).unwrap_or_default();
        Ok((msg, extension))
    }

    fn read_data(code: FailureCode, r: &mut Reader<'_>) -> Result<Self, WireError> {
        let update = |r: &mut Reader<'_>| r.read_u16_prefixed().map(<[u8]>::to_vec);
        Ok(match code {
            FailureCode::INVALID_REALM => Self::InvalidRealm,
            FailureCode::TEMPORARY_NODE_FAILURE => Self::TemporaryNodeFailure,
            FailureCode::PERMANENT_NODE_FAILURE => Self::PermanentNodeFailure,
            FailureCode::REQUIRED_NODE_FEATURE_MISSING => Self::RequiredNodeFeatureMissing,
            FailureCode::INVALID_ONION_VERSION => Self::InvalidOnionVersion {
                sha256_of_onion: r.read_array()?,
            },
            FailureCode::INVALID_ONION_HMAC => Self::InvalidOnionHmac {
                sha256_of_onion: r.read_array()?,
            },
            FailureCode::INVALID_ONION_KEY => Self::InvalidOnionKey {
                sha256_of_onion: r.read_array()?,
            },
            FailureCode::TEMPORARY_CHANNEL_FAILURE => Self::TemporaryChannelFailure {
                channel_update: update(r)?,
            },
            FailureCode::PERMANENT_CHANNEL_FAILURE => Self::PermanentChannelFailure,
            FailureCode::REQUIRED_CHANNEL_FEATURE_MISSING => Self::RequiredChannelFeatureMissing,
            FailureCode::UNKNOWN_NEXT_PEER => Self::UnknownNextPeer,
            FailureCode::AMOUNT_BELOW_MINIMUM => Self::AmountBelowMinimum {
                htlc_msat: r.read_u64()?,
                channel_update: update(r)?,
            },
            FailureCode::FEE_INSUFFICIENT => Self::FeeInsufficient {
                htlc_msat: r.read_u64()?,
                channel_update: update(r)?,
            },
            FailureCode::INCORRECT_CLTV_EXPIRY => Self::IncorrectCltvExpiry {
                cltv_expiry: r.read_u32()?,
                channel_update: update(r)?,
            },
            FailureCode::EXPIRY_TOO_SOON => Self::ExpiryTooSoon {
                channel_update: update(r)?,
            },
            FailureCode::INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS => {
                Self::IncorrectOrUnknownPaymentDetails {
                    htlc_msat: r.read_u64()?,
                    height: r.read_u32()?,
                }
            }
            FailureCode::FINAL_INCORRECT_CLTV_EXPIRY => Self::FinalIncorrectCltvExpiry {
                cltv_expiry: r.read_u32()?,
            },
            FailureCode::FINAL_INCORRECT_HTLC_AMOUNT => Self::FinalIncorrectHtlcAmount {
                incoming_htlc_amt: r.read_u64()?,
            },
            FailureCode::CHANNEL_DISABLED => Self::ChannelDisabled {
                disabled_flags: r.read_u16()?,
                channel_update: update(r)?,
            },
            FailureCode::EXPIRY_TOO_FAR => Self::ExpiryTooFar,
            FailureCode::INVALID_ONION_PAYLOAD => Self::InvalidOnionPayload {
                tlv_type: r.read_bigsize()?,
                offset: r.read_u16()?,
            },
            FailureCode::MPP_TIMEOUT => Self::MppTimeout,
            FailureCode::INVALID_ONION_BLINDING => Self::InvalidOnionBlinding {
                sha256_of_onion: r.read_array()?,
            },
            code => Self::Unknown {
                code,
                data: r.read_rest().to_vec(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_messages() -> Vec<FailureMessage> {
        let upd = vec![1, 2, 3];
        vec![
            FailureMessage::InvalidRealm,
            FailureMessage::TemporaryNodeFailure,
            FailureMessage::PermanentNodeFailure,
            FailureMessage::RequiredNodeFeatureMissing,
            FailureMessage::InvalidOnionVersion {
                sha256_of_onion: [1; 32],
            },
            FailureMessage::InvalidOnionHmac {
                sha256_of_onion: [2; 32],
            },
            FailureMessage::InvalidOnionKey {
                sha256_of_onion: [3; 32],
            },
            FailureMessage::TemporaryChannelFailure {
                channel_update: upd.clone(),
            },
            FailureMessage::PermanentChannelFailure,
            FailureMessage::RequiredChannelFeatureMissing,
            FailureMessage::UnknownNextPeer,
            FailureMessage::AmountBelowMinimum {
                htlc_msat: 1000,
                channel_update: upd.clone(),
            },
            FailureMessage::FeeInsufficient {
                htlc_msat: 2000,
                channel_update: vec![],
            },
            FailureMessage::IncorrectCltvExpiry {
                cltv_expiry: 500,
                channel_update: upd.clone(),
            },
            FailureMessage::ExpiryTooSoon {
                channel_update: upd.clone(),
            },
            FailureMessage::IncorrectOrUnknownPaymentDetails {
                htlc_msat: 100,
                height: 800_000,
            },
            FailureMessage::FinalIncorrectCltvExpiry { cltv_expiry: 7 },
            FailureMessage::FinalIncorrectHtlcAmount {
                incoming_htlc_amt: 9,
            },
            FailureMessage::ChannelDisabled {
                disabled_flags: 0,
                channel_update: upd,
            },
            FailureMessage::ExpiryTooFar,
            FailureMessage::InvalidOnionPayload {
                tlv_type: 65_537,
                offset: 12,
            },
            FailureMessage::MppTimeout,
            FailureMessage::InvalidOnionBlinding {
                sha256_of_onion: [4; 32],
            },
            FailureMessage::Unknown {
                code: FailureCode(0x1234),
                data: vec![5, 6],
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for m in all_messages() {
            let enc = m.encode().unwrap();
            assert_eq!(u16::from_be_bytes([enc[0], enc[1]]), m.code().0);
            assert_eq!(FailureMessage::decode(&enc).unwrap(), m, "{m:?}");
        }
    }

    #[test]
    fn codes_match_spec_values_and_flags() {
        assert_eq!(FailureCode::TEMPORARY_NODE_FAILURE.0, 0x2002);
        assert_eq!(FailureCode::INVALID_ONION_VERSION.0, 0xc004);
        assert_eq!(FailureCode::INVALID_ONION_HMAC.0, 0xc005);
        assert_eq!(FailureCode::INVALID_ONION_KEY.0, 0xc006);
        assert_eq!(FailureCode::TEMPORARY_CHANNEL_FAILURE.0, 0x1007);
        assert_eq!(FailureCode::INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS.0, 0x400f);
        assert_eq!(FailureCode::CHANNEL_DISABLED.0, 0x1014);
        assert_eq!(FailureCode::INVALID_ONION_PAYLOAD.0, 0x4016);
        assert_eq!(FailureCode::INVALID_ONION_BLINDING.0, 0xc018);
        assert_eq!(FailureCode::MPP_TIMEOUT.0, 23);
        let c = FailureCode::PERMANENT_NODE_FAILURE;
        assert!(c.is_permanent() && c.is_node() && !c.is_bad_onion() && !c.is_update());
        assert!(FailureCode::INVALID_ONION_KEY.is_bad_onion());
        assert!(FailureCode::FEE_INSUFFICIENT.is_update());
        assert_eq!(FailureCode(0x400f).to_string(), "0x400f");
    }

    #[test]
    fn extra_bytes_and_extension() {
        let ext = vec![RawTlv {
            ty: 34001,
            value: vec![0x80; 300],
        }];
        let m = FailureMessage::IncorrectOrUnknownPaymentDetails {
            htlc_msat: 100,
            height: 800_000,
        };
        let enc = m.encode_with_extension(&ext).unwrap();
        assert_eq!(
            hex::encode(&enc[..20]),
            "400f0000000000000064000c3500fd84d1fd012c"
        );
        assert_eq!(
            FailureMessage::decode_with_extension(&enc).unwrap(),
            (m.clone(), ext)
        );
        // Garbage after the data is ignored.
        let mut junk = m.encode().unwrap();
        junk.extend_from_slice(&[0xff, 0x00]);
        assert_eq!(
            FailureMessage::decode_with_extension(&junk).unwrap(),
            (m, vec![])
        );
    }

    #[test]
    fn truncated_data_is_an_error_not_a_panic() {
        assert_eq!(
            FailureMessage::decode(&[0x40]),
            Err(FailureDecodeError::MissingCode)
        );
        for m in all_messages() {
            let enc = m.encode().unwrap();
            for cut in 2..enc.len() {
                let _ = FailureMessage::decode(&enc[..cut]);
            }
        }
        assert!(matches!(
            FailureMessage::decode(&[0x10, 0x07, 0x00, 0x05, 1]),
            Err(FailureDecodeError::BadData {
                code: FailureCode::TEMPORARY_CHANNEL_FAILURE,
                ..
            })
        ));
    }
}
