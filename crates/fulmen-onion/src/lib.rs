//! BOLT 4 Sphinx onions and BOLT 11 invoices for Fulmen. No I/O: no clock,
//! no randomness, no sockets; session keys, node keys and timestamps are
//! arguments.
//!
//! # Driving it
//!
//! **Sending a payment.** Build one [`HopPayload`] per hop (forwarding hops
//! with `short_channel_id`, the final hop with `payment_data` from the
//! [`Invoice`]), draw a fresh random session key, and call
//! [`build_payment_onion`]. Put [`BuiltOnion::packet`] in `update_add_htlc`
//! and keep [`BuiltOnion::shared_secrets`]: when the HTLC fails, pass the
//! `reason` to [`failure::decrypt_failure`] to learn which hop failed, then
//! [`FailureMessage::decode`] to learn why.
//!
//! **Receiving an HTLC.** Call [`peel_payment`] with the node key, the
//! packet, the payment hash and the `path_key` of `update_add_htlc` (if
//! any). On error, [`PeelError::is_malformed`] says whether to answer with
//! `update_fail_malformed_htlc` (code and `sha256_of_onion` from
//! [`PeelError::failure_message`]) or with an encrypted `update_fail_htlc`
//! ([`failure::create_failure_packet`] with the shared secret); inside a
//! blinded route every failure is [`PeelError::blinded_failure_message`].
//! On success, [`HopPayload::classify`] says whether to forward, receive, or
//! decrypt `encrypted_recipient_data` ([`blinding::unblind_hop`],
//! [`blinded_data::EncryptedData`]). Forward [`NextHop::Forward`]'s packet;
//! keep [`Peeled::shared_secret`] to wrap a failure coming back
//! ([`failure::wrap_failure_packet`]). Replay protection (remembering
//! packet HMACs) is the caller's.
//!
//! **Invoices.** [`Invoice::create`] with a [`NewInvoice`] and the node key;
//! [`Invoice::parse`] validates everything BOLT 11 asks of a reader.
//!
//! # Modules
//!
//! - [`keys`]: shared secrets, key derivation (`rho`, `mu`, `um`, `pad`,
//!   `ammag`), ChaCha20 streams, ephemeral key blinding.
//! - [`packet`]: the 1366-byte `onion_packet`.
//! - [`construct`]: packet construction with filler generation.
//! - [`mod@peel`]: one layer of decryption with the exact BOLT 4 failure codes.
//! - [`payload`]: the hop payload TLV stream and its BigSize framing.
//! - [`failure`]: failure codes and messages, and the return packet.
//! - [`blinding`] and [`blinded_data`]: route blinding.
//! - [`invoice`]: BOLT 11 through `lightning-invoice`.

#![forbid(unsafe_code)]

pub mod blinded_data;
pub mod blinding;
pub mod construct;
pub mod failure;
pub mod invoice;
pub mod keys;
pub mod packet;
pub mod payload;
pub mod peel;

/// The secp256k1 key types this crate's API takes, re-exported so callers
/// need not name the `bitcoin` crate.
pub use bitcoin::secp256k1::{PublicKey, SecretKey};
pub use construct::{
    build_onion, build_payment_onion, route_secrets, BuildError, BuiltOnion, FramedHop,
};
pub use failure::{FailureCode, FailureMessage};
pub use invoice::{Invoice, InvoiceDescription, InvoiceError, NewInvoice, RouteHintHop};
pub use keys::{KeyError, KeyType, SharedSecret};
pub use packet::{OnionPacket, PacketLengthError, HOP_PAYLOADS_LEN, MAX_HOPS, PACKET_LEN};
pub use payload::{HopAction, HopPayload, PayloadError, PaymentData};
pub use peel::{peel, peel_payment, NextHop, PeelError, Peeled};
