//! A buffered decoder that turns arbitrary chunks of the byte stream (e.g. TCP
//! reads) into complete, authenticated Lightning messages.

use core::fmt;

use crate::error::Error;
use crate::transport::{Decryptor, LENGTH_HEADER_LEN, MAC_LEN};

/// What the decoder expects next.
#[derive(Clone, Copy, Debug)]
enum State {
    /// A length header.
    Header,
    /// A body of this many plaintext bytes (plus its MAC); the length has
    /// already been authenticated.
    Body { len: usize },
    /// A previous error; the session is dead and every call repeats it.
    Failed(Error),
}

/// Reassembles messages from a stream delivered in arbitrary chunks.
///
/// Call [`feed`](Self::feed) with each chunk received, then call
/// [`next_message`](Self::next_message) (or the non-allocating
/// [`decode_next`](Self::decode_next)) until it returns `Ok(None)`.
///
/// Memory: the decoder only ever holds bytes it was fed, never allocates on
/// the strength of an unauthenticated length, and reserves room for a body
/// only after its length header's MAC has verified (at most
/// 65535 + 16 bytes). If the caller drains messages after every `feed`, the
/// buffer stays below one maximum-size frame plus one chunk;
/// [`buffered_len`](Self::buffered_len) allows applying back-pressure
/// otherwise.
///
/// After the first error the decoder is poisoned: it drops its buffer,
/// ignores further input and returns the same error again.
pub struct MessageDecoder {
    decryptor: Decryptor,
    buffer: Vec<u8>,
    /// Start of the bytes not yet consumed in `buffer`.
    read_pos: usize,
    state: State,
}

impl MessageDecoder {
    /// Wraps the receiving half of a transport.
    #[must_use]
    pub fn new(decryptor: Decryptor) -> Self {
        Self {
            decryptor,
            buffer: Vec::new(),
            read_pos: 0,
            state: State::Header,
        }
    }

    /// Appends a chunk of received bytes. Nothing is decrypted until
    /// [`decode_next`](Self::decode_next) or
    /// [`next_message`](Self::next_message) is called. Ignored once the
    /// decoder has failed.
    pub fn feed(&mut self, data: &[u8]) {
        if matches!(self.state, State::Failed(_)) {
            return;
        }
        if self.read_pos > 0 {
            // Drop consumed bytes; at most one partial frame is moved.
            self.buffer.drain(..self.read_pos);
            self.read_pos = 0;
        }
        self.buffer.extend_from_slice(data);
    }

    /// Decodes the next complete message, if all its bytes have been fed, and
    /// returns its plaintext borrowed from the internal buffer (valid until
    /// the next call to `feed`). Returns `Ok(None)` when more input is needed.
    ///
    /// # Errors
    ///
    /// [`Error::BadMac`] if a length header or body fails authentication; the
    /// decoder is then poisoned and the connection must be closed.
    pub fn decode_next(&mut self) -> Result<Option<&[u8]>, Error> {
        if let State::Header = self.state {
            let Some(header) = self
                .buffer
                .get(self.read_pos..)
                .and_then(<[u8]>::first_chunk::<LENGTH_HEADER_LEN>)
            else {
                return Ok(None);
            };
            let header = *header;
            let len = usize::from(self.fail_on_error(|d| d.decrypt_length(&header))?);
            self.read_pos += LENGTH_HEADER_LEN;
            self.state = State::Body { len };
            // The length is authenticated now, so reserving for it is safe.
            let missing = (len + MAC_LEN).saturating_sub(self.buffered_len());
            self.buffer.reserve(missing);
        }
        match self.state {
            State::Header => Ok(None),
            State::Failed(e) => Err(e),
            State::Body { len } => {
                let start = self.read_pos;
                let end = start + len + MAC_LEN;
                let Some(body) = self.buffer.get_mut(start..end) else {
                    return Ok(None);
                };
                if let Err(e) = self.decryptor.decrypt_body_in_place(body) {
                    return Err(self.fail(e));
                }
                self.read_pos = end;
                self.state = State::Header;
                Ok(self.buffer.get(start..start + len))
            }
        }
    }

    /// Like [`decode_next`](Self::decode_next), but returns an owned copy of
    /// the message.
    ///
    /// # Errors
    ///
    /// As for [`decode_next`](Self::decode_next).
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.decode_next()?.map(<[u8]>::to_vec))
    }

    /// Number of bytes fed but not yet consumed by a decoded message
    /// (including an already authenticated length header's body in progress).
    #[must_use]
    pub fn buffered_len(&self) -> usize {
        self.buffer.len().saturating_sub(self.read_pos)
    }

    /// Whether the decoder has failed and must be discarded with its
    /// connection.
    #[must_use]
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Failed(_))
    }

    /// Returns the wrapped decryptor, discarding any buffered bytes.
    #[must_use]
    pub fn into_decryptor(self) -> Decryptor {
        self.decryptor
    }

    /// Runs `op` on the decryptor, poisoning the decoder if it fails.
    fn fail_on_error<T>(
        &mut self,
        op: impl FnOnce(&mut Decryptor) -> Result<T, Error>,
    ) -> Result<T, Error> {
        op(&mut self.decryptor).map_err(|e| self.fail(e))
    }

    /// Poisons the decoder with `error` and returns it.
    fn fail(&mut self, error: Error) -> Error {
        self.state = State::Failed(error);
        self.buffer = Vec::new();
        self.read_pos = 0;
        error
    }
}

impl fmt::Debug for MessageDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageDecoder")
            .field("decryptor", &self.decryptor)
            .field("state", &self.state)
            .field("buffered_len", &self.buffered_len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::MacStage;
    use crate::transport::{Encryptor, Transport};

    fn pair() -> (Encryptor, MessageDecoder) {
        let pk = crate::crypto::public_key(
            &bitcoin::secp256k1::SecretKey::from_slice(&[3; 32]).unwrap(),
        );
        let (enc, _) = Transport::new([1; 32], [2; 32], [9; 32], pk).split();
        let (_, dec) = Transport::new([2; 32], [1; 32], [9; 32], pk).split();
        (enc, MessageDecoder::new(dec))
    }

    #[test]
    fn byte_by_byte_and_batched() {
        let (mut enc, mut dec) = pair();
        let msgs: Vec<Vec<u8>> = (0..40).map(|i| vec![i as u8; i * 37]).collect();
        let mut wire = Vec::new();
        for m in &msgs {
            enc.encrypt_into(m, &mut wire).unwrap();
        }
        let mut got = Vec::new();
        // First half byte by byte, the rest in one go.
        let half = wire.len() / 2;
        for b in &wire[..half] {
            dec.feed(&[*b]);
            while let Some(m) = dec.next_message().unwrap() {
                got.push(m);
            }
        }
        dec.feed(&wire[half..]);
        while let Some(m) = dec.decode_next().unwrap() {
            got.push(m.to_vec());
        }
        assert_eq!(got, msgs);
        assert_eq!(dec.buffered_len(), 0);
        assert!(!dec.is_failed());
    }

    #[test]
    fn poisoned_after_error() {
        let (mut enc, mut dec) = pair();
        let mut wire = enc.encrypt(b"hello").unwrap();
        let last = wire.len() - 1;
        wire[last] ^= 0x80;
        dec.feed(&wire);
        let err = Error::BadMac(MacStage::Body);
        assert_eq!(dec.decode_next(), Err(err));
        assert!(dec.is_failed());
        dec.feed(&enc.encrypt(b"again").unwrap());
        assert_eq!(dec.buffered_len(), 0);
        assert_eq!(dec.next_message(), Err(err));
    }

    #[test]
    fn no_reservation_before_header_authenticates() {
        let (_, mut dec) = pair();
        // A forged header claiming any length must fail before any reservation.
        dec.feed(&[0xff; LENGTH_HEADER_LEN]);
        assert_eq!(
            dec.decode_next(),
            Err(Error::BadMac(MacStage::LengthHeader))
        );
        assert_eq!(dec.buffer.capacity(), 0);
    }
}
