//! The error type shared by the handshake and the transport.

use core::fmt;

/// One of the three handshake acts of BOLT 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Act {
    /// Act one, `-> e, es`, sent by the initiator (50 bytes).
    One,
    /// Act two, `<- e, ee`, sent by the responder (50 bytes).
    Two,
    /// Act three, `-> s, se`, sent by the initiator (66 bytes).
    Three,
}

impl fmt::Display for Act {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = match self {
            Act::One => "one",
            Act::Two => "two",
            Act::Three => "three",
        };
        write!(f, "act {n}")
    }
}

/// Which authentication tag failed to verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MacStage {
    /// The zero-length AEAD payload closing act one (`ACT1_BAD_TAG`).
    ActOne,
    /// The zero-length AEAD payload closing act two (`ACT2_BAD_TAG`).
    ActTwo,
    /// The encrypted static public key inside act three (`ACT3_BAD_CIPHERTEXT`).
    ActThreeStaticKey,
    /// The final zero-length AEAD payload of act three (`ACT3_BAD_TAG`).
    ActThreeTag,
    /// The 18-byte encrypted length prefix of a transport message.
    LengthHeader,
    /// The encrypted body of a transport message.
    Body,
}

impl fmt::Display for MacStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            MacStage::ActOne => "act one tag",
            MacStage::ActTwo => "act two tag",
            MacStage::ActThreeStaticKey => "act three static key ciphertext",
            MacStage::ActThreeTag => "act three tag",
            MacStage::LengthHeader => "message length header",
            MacStage::Body => "message body",
        };
        f.write_str(s)
    }
}

/// Everything that can go wrong in a BOLT 8 session.
///
/// Every variant is fatal for the connection: BOLT 8 requires terminating the
/// connection "without any further messages" on any handshake failure, and a
/// transport failure leaves the nonce sequence of at least one direction in an
/// unknown state. [`Error::requires_disconnect`] says so explicitly, so that
/// callers can route errors through one policy point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// A handshake act did not have its exact fixed size (the spec's
    /// `ACTn_READ_FAILED`).
    BadActLength {
        /// The act being processed.
        act: Act,
        /// The size the act must have.
        expected: usize,
        /// The size that was supplied.
        actual: usize,
    },
    /// A handshake act carried a version byte other than 0.
    BadVersion {
        /// The act being processed.
        act: Act,
        /// The version byte received.
        version: u8,
    },
    /// A public key received in a handshake act (the remote ephemeral key in
    /// acts one and two, the decrypted static key in act three) is not a valid
    /// compressed secp256k1 point.
    BadPublicKey {
        /// The act being processed.
        act: Act,
    },
    /// An authentication tag did not verify.
    BadMac(MacStage),
    /// A message longer than 65535 bytes was given to encrypt, or a message
    /// body longer than 65535 + 16 bytes was given to decrypt.
    ///
    /// On encryption the encryptor's state is left untouched.
    MessageTooLong {
        /// The offending length in bytes.
        len: usize,
    },
    /// A message body given to decrypt was shorter than its 16-byte tag.
    TruncatedBody {
        /// The length in bytes of the supplied body.
        len: usize,
    },
}

impl Error {
    /// Whether the connection must be closed after this error.
    ///
    /// Always `true`: every BOLT 8 failure is fatal to the session. The method
    /// exists so that the node's peer handling has one place that decides, and
    /// so that a future non-fatal variant has to be classified explicitly.
    #[must_use]
    pub const fn requires_disconnect(&self) -> bool {
        match self {
            Error::BadActLength { .. }
            | Error::BadVersion { .. }
            | Error::BadPublicKey { .. }
            | Error::BadMac(_)
            | Error::MessageTooLong { .. }
            | Error::TruncatedBody { .. } => true,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadActLength {
                act,
                expected,
                actual,
            } => write!(f, "{act}: expected {expected} bytes, got {actual}"),
            Error::BadVersion { act, version } => {
                write!(f, "{act}: unknown handshake version {version}")
            }
            Error::BadPublicKey { act } => write!(f, "{act}: invalid public key"),
            Error::BadMac(stage) => write!(f, "bad MAC on {stage}"),
            Error::MessageTooLong { len } => {
                write!(f, "message of {len} bytes exceeds the 65535-byte maximum")
            }
            Error::TruncatedBody { len } => {
                write!(f, "message body of {len} bytes is shorter than its MAC")
            }
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_disconnects_and_displays() {
        let all = [
            Error::BadActLength {
                act: Act::One,
                expected: 50,
                actual: 49,
            },
            Error::BadVersion {
                act: Act::Three,
                version: 1,
            },
            Error::BadPublicKey { act: Act::Two },
            Error::BadMac(MacStage::ActThreeStaticKey),
            Error::BadMac(MacStage::Body),
            Error::MessageTooLong { len: 65536 },
            Error::TruncatedBody { len: 3 },
        ];
        for e in all {
            assert!(e.requires_disconnect());
            assert!(!e.to_string().is_empty());
        }
        assert_eq!(
            Error::BadVersion {
                act: Act::Two,
                version: 7
            }
            .to_string(),
            "act two: unknown handshake version 7"
        );
    }
}
