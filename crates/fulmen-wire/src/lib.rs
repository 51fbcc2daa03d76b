//! BOLT 1 framing, BigSize, TLV streams and the codecs of the BOLT 1, 2 and 7
//! messages. No I/O: bytes in, typed values out, and back.
//!
//! # Driving it
//!
//! * [`Message::decode`] takes one decrypted transport message (from
//!   `fulmen-noise`) and returns a typed [`Message`]; [`Message::encode`]
//!   turns one back into bytes. Unknown odd types decode to
//!   [`Message::Unknown`], which the caller ignores; every failure is a
//!   [`WireError`] whose [`WireError::reaction`] says what to do with the peer
//!   ([`Reaction::Warn`], [`Reaction::Disconnect`], [`Reaction::FailChannel`]).
//! * Each message is also a struct implementing [`WireMessage`], for code
//!   that knows which message it expects.
//! * [`bigsize`] reads and writes BigSize integers (minimal encoding
//!   enforced); [`tlv`] parses and writes TLV streams against a
//!   caller-supplied set of known types ([`tlv::decode_stream`],
//!   [`tlv::TlvBuilder`]) — the onion crate uses it for hop payloads.
//! * [`codec`] has the bounds-checked [`Reader`] and the [`Writer`]
//!   everything is built from; every read returns a `Result`.
//!
//! Decoding checks syntax only: points are on the curve and signatures are
//! well-formed, but nothing is verified against keys or channel state.
//! Unknown odd TLV records are kept, so `encode(decode(x)) == x` for every
//! valid `x`; the signed gossip messages keep their extension bytes verbatim
//! (see [`gossip`]).

#![forbid(unsafe_code)]

pub mod address;
pub mod bigsize;
pub mod channel_close;
pub mod channel_open;
pub mod codec;
pub mod error;
pub mod gossip;
pub mod gossip_query;
pub mod message;
pub mod reestablish;
pub mod setup;
pub mod tlv;
pub mod types;
pub mod updates;

pub use address::{Hostname, NetAddress};
pub use channel_close::{ClosingSigned, FeeRange, Shutdown};
pub use channel_open::{
    AcceptChannel, ChannelKeys, ChannelReady, FundingCreated, FundingSigned, OpenChannel, OpenTlvs,
};
pub use codec::{Reader, Writer};
pub use error::{Reaction, WireError};
pub use gossip::{AnnouncementSignatures, ChannelAnnouncement, ChannelUpdate, NodeAnnouncement};
pub use gossip_query::{
    DirectionPair, GossipTimestampFilter, QueryChannelRange, QueryShortChannelIds,
    ReplyChannelRange, ReplyShortChannelIdsEnd,
};
pub use message::Message;
pub use reestablish::{ChannelReestablish, FundingRetransmit};
pub use setup::{
    ErrorMessage, Init, PeerStorage, PeerStorageRetrieval, Ping, Pong, WarningMessage,
};
pub use tlv::RawTlv;
pub use types::{
    OnionPacket, PerCommitmentSecret, WireFeatures, WireMessage, MAX_MESSAGE_LEN, ONION_PACKET_LEN,
};
pub use updates::{
    AttributionData, CommitmentSigned, RevokeAndAck, UpdateAddHtlc, UpdateFailHtlc,
    UpdateFailMalformedHtlc, UpdateFee, UpdateFulfillHtlc,
};
