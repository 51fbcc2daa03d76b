//! Failures returned to the origin: the failure codes and messages
//! ([`message`]) and the encrypted return packet that carries them
//! ([`packet`]).
//!
//! At the erring node: encode a [`FailureMessage`] and build the packet with
//! [`create_failure_packet`] and the shared secret from peeling. At every
//! hop on the way back: [`wrap_failure_packet`]. At the origin:
//! [`decrypt_failure`] with the shared secrets kept from construction, then
//! [`FailureMessage::decode`].

pub mod message;
pub mod packet;

pub use message::{FailureCode, FailureDecodeError, FailureMessage};
pub use packet::{
    create_failure_packet, decrypt_failure, failure_plaintext, wrap_failure_packet,
    DecryptFailureError, DecryptedFailure, FailurePacketError, DEFAULT_PAD_TARGET,
    MAX_FAILURE_PACKET_LEN, MIN_FAILURE_PACKET_LEN,
};
