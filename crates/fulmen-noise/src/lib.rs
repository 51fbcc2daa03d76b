//! BOLT 8 `Noise_XK_secp256k1_ChaChaPoly_SHA256` transport as a sans-IO state
//! machine.
//!
//! This crate performs no I/O, reads no clock and draws no randomness. The
//! caller moves bytes between the socket and the state machine, and supplies
//! a fresh random ephemeral secret key for every handshake.
//!
//! # Handshake
//!
//! Each phase is its own type and every step consumes it, so acts cannot be
//! replayed or processed out of order. Any error means: close the connection
//! without sending anything further ([`Error::requires_disconnect`]).
//!
//! **Initiator** (we open the connection to a node whose id we know):
//!
//! 1. [`InitiatorHandshake::new`]`(local_static, remote_node_id, ephemeral)`
//!    returns the waiting state and the [`ACT_ONE_LEN`] (50) bytes of act
//!    one. Send them.
//! 2. Read exactly [`ACT_TWO_LEN`] (50) bytes and pass them to
//!    [`InitiatorHandshake::process_act_two`]. It returns the
//!    [`ACT_THREE_LEN`] (66) bytes of act three and the [`Transport`]. Send
//!    act three before any message.
//!
//! **Responder** (we accepted a connection):
//!
//! 1. [`ResponderHandshake::new`]`(local_static, ephemeral)`.
//! 2. Read exactly 50 bytes and pass them to
//!    [`ResponderHandshake::process_act_one`]. It returns a
//!    [`ResponderAwaitingActThree`] and the 50 bytes of act two. Send them.
//! 3. Read exactly 66 bytes and pass them to
//!    [`ResponderAwaitingActThree::process_act_three`]. It returns the
//!    initiator's authenticated node id and the [`Transport`].
//!
//! # Messages
//!
//! [`Transport::encrypt`] / [`Transport::encrypt_into`] turn a Lightning
//! message (at most [`MAX_MESSAGE_LEN`] bytes) into
//! [`encrypted_len`]`(len)` wire bytes: an encrypted length with its MAC,
//! then the encrypted body with its MAC. Keys rotate every 1000 uses per
//! direction, as BOLT 8 specifies; the caller never sees it.
//!
//! Receiving, two styles:
//!
//! * **Streaming**: read exactly [`LENGTH_HEADER_LEN`] (18) bytes and call
//!   [`Transport::decrypt_length`]; the returned length is authenticated.
//!   Read exactly `length + MAC_LEN` bytes and call
//!   [`Transport::decrypt_body_in_place`], which returns the plaintext.
//! * **Buffered**: [`split`](Transport::split) the transport, wrap the
//!   [`Decryptor`] in a [`MessageDecoder`], [`feed`](MessageDecoder::feed) it
//!   whatever each socket read returned, then call
//!   [`next_message`](MessageDecoder::next_message) until it returns
//!   `Ok(None)`.
//!
//! ```
//! use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
//! use fulmen_noise::{InitiatorHandshake, MessageDecoder, ResponderHandshake};
//!
//! # fn main() -> Result<(), fulmen_noise::Error> {
//! # let key = |b: u8| SecretKey::from_slice(&[b; 32]).unwrap();
//! let secp = Secp256k1::new();
//! let (alice_node, bob_node) = (key(1), key(2));
//! let bob_id = PublicKey::from_secret_key(&secp, &bob_node);
//! // Ephemeral keys must come from a CSPRNG in real use.
//! let (alice_ephemeral, bob_ephemeral) = (key(3), key(4));
//!
//! let (alice, act_one) = InitiatorHandshake::new(alice_node, bob_id, alice_ephemeral);
//! let bob = ResponderHandshake::new(bob_node, bob_ephemeral);
//! let (bob, act_two) = bob.process_act_one(&act_one)?;
//! let (act_three, mut alice) = alice.process_act_two(&act_two)?;
//! let (alice_id, bob) = bob.process_act_three(&act_three)?;
//! assert_eq!(alice_id, PublicKey::from_secret_key(&secp, &alice_node));
//!
//! let wire = alice.encrypt(b"init")?;
//! let (_bob_sender, bob_receiver) = bob.split();
//! let mut decoder = MessageDecoder::new(bob_receiver);
//! for chunk in wire.chunks(7) {
//!     decoder.feed(chunk);
//! }
//! assert_eq!(decoder.next_message()?.as_deref(), Some(&b"init"[..]));
//! assert_eq!(decoder.next_message()?, None);
//! # Ok(())
//! # }
//! ```
//!
//! Secrets (static, ephemeral and symmetric keys, chaining keys) never appear
//! in `Debug` output.
//!
//! # Primitives
//!
//! ECDH is libsecp256k1's (through `bitcoin`), SHA-256 and HMAC are
//! RustCrypto's, and ChaCha20-Poly1305 is `ring`'s, whose assembly is chosen
//! at run time from the CPU's features (AVX2, SSE4.1, NEON or portable code).
//! The tests cross-check it against RustCrypto's `chacha20poly1305` and the
//! BOLT 8 vectors.

#![forbid(unsafe_code)]

mod cipher;
mod crypto;
mod decoder;
mod error;
mod handshake;
mod transport;

pub use decoder::MessageDecoder;
pub use error::{Act, Error, MacStage};
pub use handshake::{
    InitiatorHandshake, ResponderAwaitingActThree, ResponderHandshake, ACT_ONE_LEN, ACT_THREE_LEN,
    ACT_TWO_LEN,
};
pub use transport::{
    encrypted_len, Decryptor, Encryptor, Transport, LENGTH_HEADER_LEN, MAC_LEN, MAX_MESSAGE_LEN,
};

/// The secp256k1 key types used in this crate's API, re-exported for
/// convenience.
pub use bitcoin::secp256k1::{PublicKey, SecretKey};
