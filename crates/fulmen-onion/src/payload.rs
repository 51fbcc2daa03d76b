//! The payment onion's per-hop `payload` TLV stream (BOLT 4 "`payload`
//! format"), typed, and its BigSize length framing inside `hop_payloads`.
//!
//! Decoding is by [`fulmen_wire::tlv`]: minimal BigSizes, strictly
//! increasing types, lengths within the stream, known values consumed
//! exactly, unknown even types refused and unknown odd types kept (so a
//! payload re-encodes to the same bytes). Every error carries the TLV type and
//! the byte offset of the record in the payload, the data of
//! `invalid_onion_payload`.

use core::fmt;

use bitcoin::secp256k1::PublicKey;
use fulmen_types::{Msat, PaymentPreimage, PaymentSecret, ShortChannelId};
use fulmen_wire::tlv::{self, RawTlv, TlvBuilder, TlvRecord, TlvStream};
use fulmen_wire::{bigsize, Reader, WireError};

use crate::failure::FailureMessage;

/// `amt_to_forward` (tu64).
pub const TLV_AMT_TO_FORWARD: u64 = 2;
/// `outgoing_cltv_value` (tu32).
pub const TLV_OUTGOING_CLTV_VALUE: u64 = 4;
/// `short_channel_id`.
pub const TLV_SHORT_CHANNEL_ID: u64 = 6;
/// `payment_data` (`payment_secret`, tu64 `total_msat`).
pub const TLV_PAYMENT_DATA: u64 = 8;
/// `encrypted_recipient_data`.
pub const TLV_ENCRYPTED_RECIPIENT_DATA: u64 = 10;
/// `current_path_key` (formerly `blinding_point`).
pub const TLV_CURRENT_PATH_KEY: u64 = 12;
/// `payment_metadata`.
pub const TLV_PAYMENT_METADATA: u64 = 16;
/// `total_amount_msat` (tu64).
pub const TLV_TOTAL_AMOUNT_MSAT: u64 = 18;
/// The keysend preimage (bLIP 3), a custom odd type.
pub const TLV_KEYSEND_PREIMAGE: u64 = 5_482_373_484;

/// BigSize length followed by the payload: one hop's share of
/// `hop_payloads` before its HMAC.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = bigsize::encode(payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// Reads the BigSize length at the front of decrypted `hop_payloads`:
/// returns the length and the number of bytes of the prefix.
pub(crate) fn read_length_prefix(buf: &[u8]) -> Result<(u64, usize), WireError> {
    let (len, rest) = bigsize::decode(buf)?;
    Ok((len, buf.len() - rest.len()))
}

/// `payment_data`: the invoice's secret and the total of a (multi-part)
/// payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentData {
    /// The invoice's `payment_secret`.
    pub payment_secret: PaymentSecret,
    /// The total amount of all parts.
    pub total_msat: Msat,
}

/// A decoded hop payload. Every field is optional at this level; what must be
/// present for a forward, a receive or a blinded hop is checked by
/// [`HopPayload::classify`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HopPayload {
    /// Type 2.
    pub amt_to_forward: Option<Msat>,
    /// Type 4.
    pub outgoing_cltv_value: Option<u32>,
    /// Type 6.
    pub short_channel_id: Option<ShortChannelId>,
    /// Type 8.
    pub payment_data: Option<PaymentData>,
    /// Type 10.
    pub encrypted_recipient_data: Option<Vec<u8>>,
    /// Type 12.
    pub current_path_key: Option<PublicKey>,
    /// Type 16.
    pub payment_metadata: Option<Vec<u8>>,
    /// Type 18.
    pub total_amount_msat: Option<Msat>,
    /// Type 5482373484 (keysend).
    pub keysend_preimage: Option<PaymentPreimage>,
    /// Other odd (custom) records, in increasing type order. On encode, a
    /// record whose type is one of the fields above is ignored.
    pub custom: Vec<RawTlv>,
}

/// Why a hop payload is not acceptable: always answered with
/// `invalid_onion_payload` ([`PayloadError::failure_message`]), or with
/// `invalid_onion_blinding` inside a blinded route.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadError {
    /// The stream is malformed at a record: bad framing, a bad value, or an
    /// unknown even type.
    Malformed {
        /// The record type (0 if the type itself could not be read).
        tlv_type: u64,
        /// Byte offset of the record in the payload.
        offset: u16,
        /// The decoding error.
        cause: WireError,
    },
    /// A record this kind of hop requires is absent.
    Missing {
        /// The missing type.
        tlv_type: u64,
    },
    /// A record this kind of hop must not have is present.
    Unexpected {
        /// The offending type.
        tlv_type: u64,
        /// Byte offset of the record in the payload.
        offset: u16,
    },
}

impl PayloadError {
    /// The TLV type at fault.
    pub fn tlv_type(&self) -> u64 {
        match self {
            Self::Malformed { tlv_type, .. }
            | Self::Missing { tlv_type }
            | Self::Unexpected { tlv_type, .. } => *tlv_type,
        }
    }

    /// The byte offset reported with the failure (0 for a missing record).
    pub fn offset(&self) -> u16 {
        match self {
            Self::Malformed { offset, .. } | Self::Unexpected { offset, .. } => *offset,
            Self::Missing { .. } => 0,
        }
    }

    /// `invalid_onion_payload` with this type and offset.
    pub fn failure_message(&self) -> FailureMessage {
        FailureMessage::InvalidOnionPayload {
            tlv_type: self.tlv_type(),
            offset: self.offset(),
        }
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed {
                tlv_type,
                offset,
                cause,
            } => write!(
                f,
                "malformed hop payload record {tlv_type} at offset {offset}: {cause}"
            ),
            Self::Missing { tlv_type } => write!(f, "hop payload lacks record {tlv_type}"),
            Self::Unexpected { tlv_type, .. } => {
                write!(f, "hop payload must not contain record {tlv_type}")
            }
        }
    }
}

impl std::error::Error for PayloadError {}

/// The type named by a framing error, if any.
fn error_type(e: &WireError) -> Option<u64> {
    match e {
        WireError::TlvOutOfOrder { ty, .. }
        | WireError::TlvValueTruncated { ty }
        | WireError::TlvBadValue { ty }
        | WireError::UnknownEvenTlv(ty) => Some(*ty),
        _ => None,
    }
}

fn offset_u16(offset: usize) -> u16 {
    u16::try_from(offset).unwrap_or(u16::MAX)
}

/// What a hop must do, by the payload's shape (BOLT 4 reader requirements).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HopAction {
    /// Forward outside a blinded route.
    Forward {
        /// The outgoing channel.
        short_channel_id: ShortChannelId,
        /// The amount of the outgoing HTLC.
        amt_to_forward: Msat,
        /// The expiry of the outgoing HTLC.
        outgoing_cltv_value: u32,
    },
    /// Receive outside a blinded route.
    Receive {
        /// The amount this HTLC must carry at least.
        amt_to_forward: Msat,
        /// The expiry this HTLC must have at least.
        outgoing_cltv_value: u32,
        /// `payment_data`, if the sender set it.
        payment_data: Option<PaymentData>,
    },
    /// Inside a blinded route: decrypt `encrypted_recipient_data` for the
    /// rest (see [`crate::blinding`]).
    Blinded {
        /// The hop's encrypted data.
        encrypted_recipient_data: Vec<u8>,
        /// The `path_key` from the payload (introduction node only).
        current_path_key: Option<PublicKey>,
    },
}

impl HopPayload {
    /// Decodes a hop payload (without its length prefix).
    pub fn decode(payload: &[u8]) -> Result<Self, PayloadError> {
        let mut out = Self::default();
        let mut offset = 0usize;
        for record in TlvStream::new(payload) {
            let TlvRecord { ty, value } = record.map_err(|cause| PayloadError::Malformed {
                tlv_type: error_type(&cause).unwrap_or(0),
                offset: offset_u16(offset),
                cause,
            })?;
            let malformed = |cause: WireError| PayloadError::Malformed {
                tlv_type: ty,
                offset: offset_u16(offset),
                cause: match cause {
                    WireError::Truncated | WireError::TrailingBytes { .. } => {
                        WireError::TlvBadValue { ty }
                    }
                    other => other,
                },
            };
            let mut r = Reader::new(value);
            let known = out.read_known(ty, &mut r).map_err(malformed)?;
            if known {
                r.finish().map_err(malformed)?;
            } else if ty % 2 == 0 {
                return Err(malformed(WireError::UnknownEvenTlv(ty)));
            } else {
                out.custom.push(RawTlv {
                    ty,
                    value: value.to_vec(),
                });
            }
            offset = offset.saturating_add(tlv::record_len(ty, value.len()));
        }
        Ok(out)
    }

    fn read_known(&mut self, ty: u64, r: &mut Reader<'_>) -> Result<bool, WireError> {
        match ty {
            TLV_AMT_TO_FORWARD => self.amt_to_forward = Some(Msat(r.read_tu64()?)),
            TLV_OUTGOING_CLTV_VALUE => self.outgoing_cltv_value = Some(r.read_tu32()?),
            TLV_SHORT_CHANNEL_ID => self.short_channel_id = Some(r.read_short_channel_id()?),
            TLV_PAYMENT_DATA => {
                let payment_secret = PaymentSecret(r.read_array()?);
                let total_msat = Msat(r.read_tu64()?);
                self.payment_data = Some(PaymentData {
                    payment_secret,
                    total_msat,
                });
            }
            TLV_ENCRYPTED_RECIPIENT_DATA => {
                self.encrypted_recipient_data = Some(r.read_rest().to_vec());
            }
            TLV_CURRENT_PATH_KEY => self.current_path_key = Some(r.read_point()?),
            TLV_PAYMENT_METADATA => self.payment_metadata = Some(r.read_rest().to_vec()),
            TLV_TOTAL_AMOUNT_MSAT => self.total_amount_msat = Some(Msat(r.read_tu64()?)),
            TLV_KEYSEND_PREIMAGE => self.keysend_preimage = Some(PaymentPreimage(r.read_array()?)),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The canonical TLV encoding (records sorted by type).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = TlvBuilder::new();
        if let Some(a) = self.amt_to_forward {
            b.tu64(TLV_AMT_TO_FORWARD, a.0);
        }
        if let Some(c) = self.outgoing_cltv_value {
            b.tu64(TLV_OUTGOING_CLTV_VALUE, u64::from(c));
        }
        if let Some(s) = self.short_channel_id {
            b.record(TLV_SHORT_CHANNEL_ID, s.0.to_be_bytes().to_vec());
        }
        if let Some(pd) = &self.payment_data {
            b.record_with(TLV_PAYMENT_DATA, |w| {
                w.write_bytes(pd.payment_secret.as_bytes());
                w.write_tu64(pd.total_msat.0);
            });
        }
        if let Some(d) = &self.encrypted_recipient_data {
            b.record(TLV_ENCRYPTED_RECIPIENT_DATA, d.clone());
        }
        if let Some(p) = &self.current_path_key {
            b.record(TLV_CURRENT_PATH_KEY, p.serialize().to_vec());
        }
        if let Some(m) = &self.payment_metadata {
            b.record(TLV_PAYMENT_METADATA, m.clone());
        }
        if let Some(t) = self.total_amount_msat {
            b.tu64(TLV_TOTAL_AMOUNT_MSAT, t.0);
        }
        if let Some(p) = &self.keysend_preimage {
            b.record(TLV_KEYSEND_PREIMAGE, p.as_bytes().to_vec());
        }
        b.extend_unknown(&self.custom);
        b.into_bytes()
    }

    /// The encoding with its BigSize length prefix, ready for
    /// [`crate::construct::FramedHop`].
    pub fn encode_framed(&self) -> Vec<u8> {
        frame(&self.encode())
    }

    /// Checks the BOLT 4 reader requirements that depend only on the payload
    /// and says what to do with the HTLC.
    ///
    /// `is_final` is whether the onion's next HMAC was all zero;
    /// `htlc_has_path_key` whether `update_add_htlc` carried a `path_key`.
    /// Amount, expiry and fee checks against the HTLC are the caller's.
    pub fn classify(
        &self,
        is_final: bool,
        htlc_has_path_key: bool,
    ) -> Result<HopAction, PayloadError> {
        let unexpected = |tlv_type| PayloadError::Unexpected {
            tlv_type,
            offset: 0,
        };
        if let Some(data) = &self.encrypted_recipient_data {
            if htlc_has_path_key && self.current_path_key.is_some() {
                return Err(unexpected(TLV_CURRENT_PATH_KEY));
            }
            if !htlc_has_path_key && self.current_path_key.is_none() {
                return Err(PayloadError::Missing {
                    tlv_type: TLV_CURRENT_PATH_KEY,
                });
            }
            let allowed: &[u64] = if is_final {
                &[
                    TLV_AMT_TO_FORWARD,
                    TLV_OUTGOING_CLTV_VALUE,
                    TLV_ENCRYPTED_RECIPIENT_DATA,
                    TLV_CURRENT_PATH_KEY,
                    TLV_TOTAL_AMOUNT_MSAT,
                ]
            } else {
                &[TLV_ENCRYPTED_RECIPIENT_DATA, TLV_CURRENT_PATH_KEY]
            };
            let extra = self
                .present_types()
                .into_iter()
                .chain(self.custom.iter().map(|r| r.ty))
                .find(|t| !allowed.contains(t));
            if let Some(t) = extra {
                return Err(unexpected(t));
            }
            if is_final {
                for (t, present) in [
                    (TLV_AMT_TO_FORWARD, self.amt_to_forward.is_some()),
                    (TLV_OUTGOING_CLTV_VALUE, self.outgoing_cltv_value.is_some()),
                    (TLV_TOTAL_AMOUNT_MSAT, self.total_amount_msat.is_some()),
                ] {
                    if !present {
                        return Err(PayloadError::Missing { tlv_type: t });
                    }
                }
            }
            return Ok(HopAction::Blinded {
                encrypted_recipient_data: data.clone(),
                current_path_key: self.current_path_key,
            });
        }
        if htlc_has_path_key {
            return Err(PayloadError::Missing {
                tlv_type: TLV_ENCRYPTED_RECIPIENT_DATA,
            });
        }
        if self.current_path_key.is_some() {
            return Err(unexpected(TLV_CURRENT_PATH_KEY));
        }
        let amt_to_forward = self.amt_to_forward.ok_or(PayloadError::Missing {
            tlv_type: TLV_AMT_TO_FORWARD,
        })?;
        let outgoing_cltv_value = self.outgoing_cltv_value.ok_or(PayloadError::Missing {
            tlv_type: TLV_OUTGOING_CLTV_VALUE,
        })?;
        if is_final {
            if self.short_channel_id.is_some() {
                return Err(unexpected(TLV_SHORT_CHANNEL_ID));
            }
            Ok(HopAction::Receive {
                amt_to_forward,
                outgoing_cltv_value,
                payment_data: self.payment_data,
            })
        } else {
            if self.payment_data.is_some() {
                return Err(unexpected(TLV_PAYMENT_DATA));
            }
            let short_channel_id = self.short_channel_id.ok_or(PayloadError::Missing {
                tlv_type: TLV_SHORT_CHANNEL_ID,
            })?;
            Ok(HopAction::Forward {
                short_channel_id,
                amt_to_forward,
                outgoing_cltv_value,
            })
        }
    }

    /// The types of the typed fields that are set (custom records excluded).
    fn present_types(&self) -> Vec<u64> {
        [
            (TLV_AMT_TO_FORWARD, self.amt_to_forward.is_some()),
            (TLV_OUTGOING_CLTV_VALUE, self.outgoing_cltv_value.is_some()),
            (TLV_SHORT_CHANNEL_ID, self.short_channel_id.is_some()),
            (TLV_PAYMENT_DATA, self.payment_data.is_some()),
            (
                TLV_ENCRYPTED_RECIPIENT_DATA,
                self.encrypted_recipient_data.is_some(),
            ),
            (TLV_CURRENT_PATH_KEY, self.current_path_key.is_some()),
            (TLV_PAYMENT_METADATA, self.payment_metadata.is_some()),
            (TLV_TOTAL_AMOUNT_MSAT, self.total_amount_msat.is_some()),
            (TLV_KEYSEND_PREIMAGE, self.keysend_preimage.is_some()),
        ]
        .into_iter()
        .filter_map(|(t, set)| set.then_some(t))
        .collect()
    }
}
