//! Decode and encode errors, and how a node must react to each.
//!
//! Every failure is a [`WireError`]. Failures inside a known message are
//! wrapped in [`WireError::Message`] so that [`WireError::reaction`] can apply
//! the rule of the BOLT that defines the message.
//!
//! # Reaction mapping
//!
//! | error | reaction | source |
//! | --- | --- | --- |
//! | [`WireError::UnknownEvenMessage`] | [`Reaction::Disconnect`] | BOLT 1: unknown even type, MUST close the connection |
//! | any malformed known message (truncated, bad TLV extension, non-minimal integer, length mismatch, message too long) | [`Reaction::Disconnect`] | BOLT 1: insufficient length / invalid extension, MUST close the connection (MAY fail channels, which we do not) |
//! | invalid point or signature in a channel message (types 32–255) | [`Reaction::FailChannel`] | BOLT 2: an invalid signature or basepoint MUST/MAY fail the channel |
//! | invalid point or signature in a gossip message (types 256–511) | [`Reaction::Disconnect`] | BOLT 7: SHOULD send a `warning`, MAY close the connection |
//! | unknown encoding type or ragged encoded array in a gossip query, or malformed `addresses` in `node_announcement` | [`Reaction::Warn`] | BOLT 7: MAY/SHOULD send a `warning`, MAY close |
//! | a bare error outside any message (e.g. from a TLV stream parsed by another crate) | [`Reaction::Disconnect`] | BOLT 1: invalid TLV stream, MUST fail to parse |
//!
//! Unknown *odd* message types are not errors: they decode to
//! [`crate::Message::Unknown`], which the caller ignores ([`Reaction::Ignore`]).

use core::fmt;

/// What a node does when a peer's message fails to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reaction {
    /// Discard the message and carry on.
    Ignore,
    /// Send a `warning` and keep the connection.
    Warn,
    /// Send a `warning` and close the connection; channels stay open.
    Disconnect,
    /// Send an `error` for the channel the message refers to and fail it
    /// (force close), then close the connection.
    FailChannel,
}

/// A wire encoding or decoding failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// Fewer bytes remain than the field needs.
    Truncated,
    /// A BigSize is not minimally encoded.
    NonMinimalBigSize,
    /// A truncated integer (`tu16`/`tu32`/`tu64`) has a leading zero byte.
    NonMinimalTruncatedInt,
    /// A truncated integer is longer than its type.
    TruncatedIntTooLong {
        /// The number of bytes found.
        len: usize,
    },
    /// Bytes remain after a field that must fill its container exactly.
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
    /// TLV types are not strictly increasing (this includes duplicates).
    TlvOutOfOrder {
        /// The type of the previous record.
        previous: u64,
        /// The type of the offending record.
        ty: u64,
    },
    /// A TLV record's length exceeds the bytes remaining in the stream.
    TlvValueTruncated {
        /// The record type.
        ty: u64,
    },
    /// A known TLV record's value has the wrong length or a malformed body.
    TlvBadValue {
        /// The record type.
        ty: u64,
    },
    /// An unknown TLV record with an even type ("it's OK to be odd").
    UnknownEvenTlv(u64),
    /// A message with an unknown even type.
    UnknownEvenMessage(u16),
    /// A message shorter than its 2-byte type.
    MissingType,
    /// A point is not a valid compressed secp256k1 public key.
    InvalidPoint,
    /// A 64-byte compact signature is not valid (r or s out of range).
    InvalidSignature,
    /// A message exceeds 65535 bytes.
    TooLong(usize),
    /// A length-prefixed field is too long for its `u16` length.
    FieldTooLong(usize),
    /// An `encoded_` array uses an unknown or forbidden encoding type (only 0,
    /// uncompressed, is allowed; 1 was zlib and MUST NOT be used).
    UnknownEncoding(u8),
    /// An `encoded_` array is empty (no encoding byte) or not a whole number
    /// of elements.
    BadEncodedArray,
    /// The `addresses` of a `node_announcement` cannot hold the address
    /// descriptors of the known types it lists.
    BadAddress,
    /// A failure inside a known message.
    Message {
        /// The message type.
        msg_type: u16,
        /// What went wrong.
        cause: Box<WireError>,
    },
}

impl WireError {
    /// Wraps this error as occurring inside the known message `msg_type`
    /// (idempotent: an already wrapped error is returned unchanged).
    pub fn in_message(self, msg_type: u16) -> Self {
        match self {
            Self::Message { .. } | Self::UnknownEvenMessage(_) | Self::MissingType => self,
            other => Self::Message {
                msg_type,
                cause: Box::new(other),
            },
        }
    }

    /// The innermost error, without the message wrapper.
    pub fn cause(&self) -> &WireError {
        match self {
            Self::Message { cause, .. } => cause.cause(),
            other => other,
        }
    }

    /// The message type the error occurred in, if known.
    pub fn msg_type(&self) -> Option<u16> {
        match self {
            Self::Message { msg_type, .. } => Some(*msg_type),
            Self::UnknownEvenMessage(t) => Some(*t),
            _ => None,
        }
    }

    /// How the receiving node must react (see the module documentation for
    /// the mapping and the BOLT requirement behind each row).
    pub fn reaction(&self) -> Reaction {
        let kind = self.cause();
        let ty = self.msg_type();
        let channel_msg = ty.is_some_and(|t| (32..=255).contains(&t));
        match kind {
            Self::InvalidPoint | Self::InvalidSignature if channel_msg => Reaction::FailChannel,
            Self::UnknownEncoding(_) | Self::BadEncodedArray | Self::BadAddress => Reaction::Warn,
            _ => Reaction::Disconnect,
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("unexpected end of data"),
            Self::NonMinimalBigSize => f.write_str("bigsize is not minimally encoded"),
            Self::NonMinimalTruncatedInt => {
                f.write_str("truncated integer is not minimally encoded")
            }
            Self::TruncatedIntTooLong { len } => {
                write!(f, "truncated integer of {len} bytes is too long")
            }
            Self::TrailingBytes { count } => write!(f, "{count} unexpected trailing bytes"),
            Self::TlvOutOfOrder { previous, ty } => {
                write!(f, "tlv type {ty} does not increase after type {previous}")
            }
            Self::TlvValueTruncated { ty } => {
                write!(f, "tlv type {ty} length exceeds the remaining bytes")
            }
            Self::TlvBadValue { ty } => write!(f, "tlv type {ty} has a malformed value"),
            Self::UnknownEvenTlv(ty) => write!(f, "unknown even tlv type {ty}"),
            Self::UnknownEvenMessage(ty) => write!(f, "unknown even message type {ty}"),
            Self::MissingType => f.write_str("message shorter than its type"),
            Self::InvalidPoint => f.write_str("invalid secp256k1 point"),
            Self::InvalidSignature => f.write_str("invalid compact signature"),
            Self::TooLong(len) => write!(f, "message of {len} bytes exceeds 65535"),
            Self::FieldTooLong(len) => write!(f, "field of {len} bytes exceeds its u16 length"),
            Self::UnknownEncoding(e) => write!(f, "unknown or forbidden encoding type {e}"),
            Self::BadEncodedArray => f.write_str("encoded array is empty or ragged"),
            Self::BadAddress => f.write_str("malformed address descriptor"),
            Self::Message { msg_type, cause } => {
                write!(f, "in message type {msg_type}: {cause}")
            }
        }
    }
}

impl std::error::Error for WireError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_follow_the_bolts() {
        assert_eq!(
            WireError::UnknownEvenMessage(2).reaction(),
            Reaction::Disconnect
        );
        assert_eq!(
            WireError::Truncated.in_message(128).reaction(),
            Reaction::Disconnect
        );
        assert_eq!(
            WireError::InvalidSignature.in_message(132).reaction(),
            Reaction::FailChannel
        );
        assert_eq!(
            WireError::InvalidPoint.in_message(32).reaction(),
            Reaction::FailChannel
        );
        assert_eq!(
            WireError::InvalidSignature.in_message(258).reaction(),
            Reaction::Disconnect
        );
        assert_eq!(
            WireError::UnknownEncoding(1).in_message(261).reaction(),
            Reaction::Warn
        );
        assert_eq!(
            WireError::UnknownEvenTlv(4).reaction(),
            Reaction::Disconnect
        );
    }

    #[test]
    fn wrapping_is_idempotent_and_displays_lower_case() {
        let e = WireError::Truncated.in_message(16).in_message(17);
        assert_eq!(e.msg_type(), Some(16));
        assert_eq!(e.cause(), &WireError::Truncated);
        assert_eq!(e.to_string(), "in message type 16: unexpected end of data");
    }
}
