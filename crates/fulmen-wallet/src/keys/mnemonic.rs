//! BIP39 mnemonics (English word list): from entropy, parsed from words, to a seed.

use super::error::MnemonicError;
use super::seed::Seed;
use core::fmt;
use zeroize::Zeroizing;

/// The longest text [`Mnemonic::parse`] looks at, in bytes. 24 English words
/// of at most 8 letters with single spaces are 215 bytes; this leaves room
/// for generous whitespace while refusing to normalise megabytes of junk.
pub const MAX_PHRASE_BYTES: usize = 1024;

/// A BIP39 mnemonic in the English word list: the user's backup of the node.
///
/// `Debug` prints only the word count. The words themselves are given out
/// only by [`Mnemonic::phrase`], to show to the user once for writing down.
#[derive(Clone, PartialEq, Eq)]
pub struct Mnemonic(bip39::Mnemonic);

impl Mnemonic {
    /// Encodes `entropy` (16, 20, 24, 28 or 32 bytes, for 12 to 24 words) as
    /// a mnemonic. The entropy must come from a good random source: this
    /// crate never makes any.
    pub fn from_entropy(entropy: &[u8]) -> Result<Self, MnemonicError> {
        bip39::Mnemonic::from_entropy_in(bip39::Language::English, entropy)
            .map(Self)
            .map_err(map_error)
    }

    /// Parses a mnemonic typed by the user: English words separated by
    /// whitespace, Unicode-normalised (NFKD) first, checksum checked.
    pub fn parse(phrase: &str) -> Result<Self, MnemonicError> {
        if phrase.len() > MAX_PHRASE_BYTES {
            return Err(MnemonicError::TooLong {
                bytes: phrase.len(),
            });
        }
        bip39::Mnemonic::parse_in(bip39::Language::English, phrase)
            .map(Self)
            .map_err(map_error)
    }

    /// The number of words (12, 15, 18, 21 or 24).
    pub fn word_count(&self) -> usize {
        self.0.word_count()
    }

    /// The words separated by single spaces. This is the secret backup:
    /// show it to the user, never log it. Wiped when dropped.
    pub fn phrase(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.to_string())
    }

    /// The entropy the mnemonic encodes. Wiped when dropped.
    pub fn to_entropy(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.to_entropy())
    }

    /// The BIP39 seed: PBKDF2-HMAC-SHA512 of the words with salt
    /// `"mnemonic" || passphrase` (the passphrase NFKD-normalised), 2048
    /// rounds. An empty passphrase is the usual choice; a different
    /// passphrase gives an unrelated seed, and so an unrelated node.
    pub fn to_seed(&self, passphrase: &str) -> Seed {
        Seed::from_bytes(self.0.to_seed(passphrase))
    }
}

impl fmt::Debug for Mnemonic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mnemonic")
            .field("words", &self.word_count())
            .finish_non_exhaustive()
    }
}

fn map_error(e: bip39::Error) -> MnemonicError {
    match e {
        bip39::Error::BadWordCount(words) => MnemonicError::WordCount { words },
        bip39::Error::UnknownWord(index) => MnemonicError::UnknownWord { index },
        bip39::Error::BadEntropyBitCount(bits) => MnemonicError::EntropyLength { bytes: bits / 8 },
        bip39::Error::InvalidChecksum => MnemonicError::InvalidChecksum,
        // Only English is enabled and asked for, so the language is never
        // ambiguous; treat the impossible case as a bad word.
        bip39::Error::AmbiguousLanguages(_) => MnemonicError::UnknownWord { index: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABOUT: &str = "abandon abandon abandon abandon abandon abandon \
                         abandon abandon abandon abandon abandon about";

    #[test]
    fn entropy_lengths() {
        for len in [16usize, 20, 24, 28, 32] {
            let m = Mnemonic::from_entropy(&vec![0x5a; len]).unwrap();
            assert_eq!(m.word_count(), len * 3 / 4);
            assert_eq!(m.to_entropy().as_slice(), vec![0x5a; len].as_slice());
        }
        for len in [0usize, 1, 12, 15, 17, 33, 64] {
            assert_eq!(
                Mnemonic::from_entropy(&vec![0; len]),
                Err(MnemonicError::EntropyLength { bytes: len })
            );
        }
    }

    #[test]
    fn parse_errors() {
        // Twelve "abandon": all known words, wrong checksum.
        let bad_sum = ["abandon"; 12].join(" ");
        assert_eq!(
            Mnemonic::parse(&bad_sum),
            Err(MnemonicError::InvalidChecksum)
        );
        assert_eq!(
            Mnemonic::parse("abandon abandon abandon"),
            Err(MnemonicError::WordCount { words: 3 })
        );
        assert_eq!(
            Mnemonic::parse(""),
            Err(MnemonicError::WordCount { words: 0 })
        );
        let typo = ABOUT.replace("about", "abuot");
        assert_eq!(
            Mnemonic::parse(&typo),
            Err(MnemonicError::UnknownWord { index: 11 })
        );
        let long = "abandon ".repeat(200);
        assert_eq!(
            Mnemonic::parse(&long),
            Err(MnemonicError::TooLong { bytes: 1600 })
        );
        assert_eq!(
            Mnemonic::parse(&"abandon ".repeat(25)),
            Err(MnemonicError::WordCount { words: 25 })
        );
    }

    #[test]
    fn parse_tolerates_whitespace_and_round_trips() {
        let spaced = format!("  {}\n", ABOUT.replace(' ', "\t "));
        let m = Mnemonic::parse(&spaced).unwrap();
        assert_eq!(m.phrase().as_str(), ABOUT);
        assert_eq!(m, Mnemonic::parse(ABOUT).unwrap());
        assert_eq!(m.to_entropy().as_slice(), &[0u8; 16]);
    }

    #[test]
    fn debug_shows_no_words() {
        let m = Mnemonic::parse(ABOUT).unwrap();
        let dbg = format!("{m:?}");
        assert_eq!(dbg, "Mnemonic { words: 12, .. }");
    }

    #[test]
    fn error_messages_are_lower_case() {
        for e in [
            MnemonicError::EntropyLength { bytes: 3 },
            MnemonicError::WordCount { words: 3 },
            MnemonicError::UnknownWord { index: 0 },
            MnemonicError::InvalidChecksum,
            MnemonicError::TooLong { bytes: 5000 },
        ] {
            let msg = e.to_string();
            assert!(msg.chars().next().unwrap().is_lowercase(), "{msg}");
        }
    }
}
