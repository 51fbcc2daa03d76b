//! BOLT 1 framing, BigSize, TLV streams and the codecs of the BOLT 1, 2 and 7
//! messages. No I/O: bytes in, typed values out, and back.
//!
//! # Driving it
//!
//! * [`bigsize`] reads and writes BigSize integers (minimal encoding enforced).
//! * [`tlv`] parses and writes TLV streams against a caller-supplied set of
//!   known types ([`tlv::decode_stream`], [`tlv::TlvBuilder`]).
//! * [`codec`] has the bounds-checked [`Reader`] and the [`Writer`] the rest
//!   is built from; every read returns a `Result`.
//!
//! Every failure is a typed [`WireError`] whose [`WireError::reaction`] says
//! how the node must respond to the peer ([`Reaction`]).

#![forbid(unsafe_code)]

pub mod bigsize;
pub mod codec;
pub mod error;
pub mod tlv;

pub use codec::{Reader, Writer};
pub use error::{Reaction, WireError};
