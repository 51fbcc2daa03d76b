//! The [`Message`] enum: framing (2-byte type, payload, extension) and
//! dispatch to each message's codec.

use crate::channel_close::{ClosingSigned, Shutdown};
use crate::channel_open::{
    AcceptChannel, ChannelReady, FundingCreated, FundingSigned, OpenChannel,
};
use crate::codec::{Reader, Writer};
use crate::error::WireError;
use crate::gossip::{AnnouncementSignatures, ChannelAnnouncement, ChannelUpdate, NodeAnnouncement};
use crate::gossip_query::{
    GossipTimestampFilter, QueryChannelRange, QueryShortChannelIds, ReplyChannelRange,
    ReplyShortChannelIdsEnd,
};
use crate::reestablish::ChannelReestablish;
use crate::setup::{
    ErrorMessage, Init, PeerStorage, PeerStorageRetrieval, Ping, Pong, WarningMessage,
};
use crate::types::{WireMessage, MAX_MESSAGE_LEN};
use crate::updates::{
    CommitmentSigned, RevokeAndAck, UpdateAddHtlc, UpdateFailHtlc, UpdateFailMalformedHtlc,
    UpdateFee, UpdateFulfillHtlc,
};

macro_rules! messages {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// Every Lightning message Fulmen knows, plus [`Message::Unknown`] for
        /// odd types it does not.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Message {
            $(
                #[doc = concat!("`", stringify!($ty), "`.")]
                $variant($ty),
            )*
            /// A message of an unknown odd type: the caller ignores it
            /// ("it's OK to be odd").
            Unknown {
                /// The message type.
                ty: u16,
                /// The bytes after the type.
                payload: Vec<u8>,
            },
        }

        impl Message {
            /// The message type.
            pub fn msg_type(&self) -> u16 {
                match self {
                    $(Self::$variant(_) => <$ty as WireMessage>::TYPE,)*
                    Self::Unknown { ty, .. } => *ty,
                }
            }

            /// Whether `ty` is a type Fulmen decodes.
            pub fn is_known_type(ty: u16) -> bool {
                matches!(ty, $(<$ty as WireMessage>::TYPE)|*)
            }

            fn decode_known(ty: u16, payload: &[u8]) -> Option<Result<Self, WireError>> {
                $(
                    if ty == <$ty as WireMessage>::TYPE {
                        return Some(<$ty>::decode_payload(payload).map(Self::$variant));
                    }
                )*
                None
            }

            fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
                match self {
                    $(Self::$variant(m) => m.write_payload(w),)*
                    Self::Unknown { payload, .. } => {
                        w.write_bytes(payload);
                        Ok(())
                    }
                }
            }
        }

        $(
            impl From<$ty> for Message {
                fn from(m: $ty) -> Self {
                    Self::$variant(m)
                }
            }
        )*
    };
}

messages! {
    Warning(WarningMessage),
    PeerStorage(PeerStorage),
    PeerStorageRetrieval(PeerStorageRetrieval),
    Init(Init),
    Error(ErrorMessage),
    Ping(Ping),
    Pong(Pong),
    OpenChannel(OpenChannel),
    AcceptChannel(AcceptChannel),
    FundingCreated(FundingCreated),
    FundingSigned(FundingSigned),
    ChannelReady(ChannelReady),
    Shutdown(Shutdown),
    ClosingSigned(ClosingSigned),
    UpdateAddHtlc(UpdateAddHtlc),
    UpdateFulfillHtlc(UpdateFulfillHtlc),
    UpdateFailHtlc(UpdateFailHtlc),
    CommitmentSigned(CommitmentSigned),
    RevokeAndAck(RevokeAndAck),
    UpdateFee(UpdateFee),
    UpdateFailMalformedHtlc(UpdateFailMalformedHtlc),
    ChannelReestablish(ChannelReestablish),
    ChannelAnnouncement(ChannelAnnouncement),
    NodeAnnouncement(NodeAnnouncement),
    ChannelUpdate(ChannelUpdate),
    AnnouncementSignatures(AnnouncementSignatures),
    QueryShortChannelIds(QueryShortChannelIds),
    ReplyShortChannelIdsEnd(ReplyShortChannelIdsEnd),
    QueryChannelRange(QueryChannelRange),
    ReplyChannelRange(ReplyChannelRange),
    GossipTimestampFilter(GossipTimestampFilter),
}

impl Message {
    /// Decodes one decrypted message: a 2-byte type, the payload and its TLV
    /// extension. Unknown odd types give [`Message::Unknown`]; unknown even
    /// types fail with [`WireError::UnknownEvenMessage`]; a failure inside a
    /// known message is wrapped in [`WireError::Message`]. Messages over
    /// 65535 bytes are refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(WireError::TooLong(bytes.len()));
        }
        let mut r = Reader::new(bytes);
        let ty = r.read_u16().map_err(|_| WireError::MissingType)?;
        let payload = r.read_rest();
        match Self::decode_known(ty, payload) {
            Some(result) => result,
            None if ty % 2 == 1 => Ok(Self::Unknown {
                ty,
                payload: payload.to_vec(),
            }),
            None => Err(WireError::UnknownEvenMessage(ty)),
        }
    }

    /// Encodes the message: type, payload, extension. Fails if a
    /// length-prefixed field exceeds 65535 bytes or the message exceeds
    /// 65535 bytes in total.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut w = Writer::new();
        w.write_u16(self.msg_type());
        self.write_payload(&mut w)?;
        if w.len() > MAX_MESSAGE_LEN {
            return Err(WireError::TooLong(w.len()));
        }
        Ok(w.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Reaction;

    #[test]
    fn framing_rules() {
        assert_eq!(Message::decode(&[]), Err(WireError::MissingType));
        assert_eq!(Message::decode(&[0]), Err(WireError::MissingType));
        assert_eq!(
            Message::decode(&[0x80, 0x01, 7]),
            Ok(Message::Unknown {
                ty: 0x8001,
                payload: vec![7]
            })
        );
        let e = Message::decode(&[0x80, 0x00]).unwrap_err();
        assert_eq!(e, WireError::UnknownEvenMessage(0x8000));
        assert_eq!(e.reaction(), Reaction::Disconnect);
        assert_eq!(
            Message::decode(&vec![0u8; 65536]),
            Err(WireError::TooLong(65536))
        );
        let too_big = Message::Unknown {
            ty: 99,
            payload: vec![0; 65534],
        };
        assert_eq!(too_big.encode(), Err(WireError::TooLong(65536)));
        assert!(Message::is_known_type(128) && !Message::is_known_type(129));
    }

    #[test]
    fn truncated_known_message_disconnects() {
        let e = Message::decode(&[0, 18, 0]).unwrap_err();
        assert_eq!(e, WireError::Truncated.in_message(18));
        assert_eq!(e.reaction(), Reaction::Disconnect);
    }
}
