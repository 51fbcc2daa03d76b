//! Errors of the key tree.

use bitcoin::bip32;
use core::fmt;

/// A mnemonic could not be made or parsed.
///
/// These come from user input (typed words, an entropy buffer): show the
/// message and ask again; nothing was derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MnemonicError {
    /// Entropy must be 16, 20, 24, 28 or 32 bytes.
    EntropyLength {
        /// The length given, in bytes.
        bytes: usize,
    },
    /// A mnemonic has 12, 15, 18, 21 or 24 words.
    WordCount {
        /// The number of words given.
        words: usize,
    },
    /// A word is not in the BIP39 English word list.
    UnknownWord {
        /// Zero-based position of the word.
        index: usize,
    },
    /// The words are all known but the checksum does not match (a typo or a
    /// swapped word).
    InvalidChecksum,
    /// The phrase is longer than any valid mnemonic; it was not parsed.
    TooLong {
        /// The length given, in bytes.
        bytes: usize,
    },
}

impl fmt::Display for MnemonicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EntropyLength { bytes } => write!(
                f,
                "entropy is {bytes} bytes, must be 16, 20, 24, 28 or 32 bytes"
            ),
            Self::WordCount { words } => write!(
                f,
                "mnemonic has {words} words, must have 12, 15, 18, 21 or 24"
            ),
            Self::UnknownWord { index } => write!(
                f,
                "word {} of the mnemonic is not in the bip39 english word list",
                index.saturating_add(1)
            ),
            Self::InvalidChecksum => write!(f, "mnemonic checksum does not match"),
            Self::TooLong { bytes } => write!(f, "mnemonic text is {bytes} bytes, too long"),
        }
    }
}

impl std::error::Error for MnemonicError {}

/// A key could not be derived from the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeriveError {
    /// Channel key indices are hardened, so they must be below 2^31.
    /// A caller bug: allocate indices from 0 upwards and stop at 2^31 - 1.
    ChannelIndexOutOfRange {
        /// The index given.
        index: u32,
    },
    /// BIP32 derivation failed. With Fulmen's fixed, shallow paths this does
    /// not happen; if it does, the seed is unusable: make a new one.
    Bip32(bip32::Error),
}

impl fmt::Display for DeriveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ChannelIndexOutOfRange { index } => {
                write!(f, "channel key index {index} is not below 2^31")
            }
            Self::Bip32(e) => write!(f, "bip32 derivation failed: {e}"),
        }
    }
}

impl std::error::Error for DeriveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Bip32(e) => Some(e),
            Self::ChannelIndexOutOfRange { .. } => None,
        }
    }
}

impl From<bip32::Error> for DeriveError {
    fn from(e: bip32::Error) -> Self {
        Self::Bip32(e)
    }
}
