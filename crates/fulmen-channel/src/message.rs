//! [`ChannelMessage`]: the BOLT 2 subset of [`fulmen_wire::Message`] a
//! channel handles.

use fulmen_types::ChannelId;
use fulmen_wire::{
    AcceptChannel, ChannelReady, ChannelReestablish, ClosingSigned, CommitmentSigned, ErrorMessage,
    FundingCreated, FundingSigned, Message, OpenChannel, RevokeAndAck, Shutdown, UpdateAddHtlc,
    UpdateFailHtlc, UpdateFailMalformedHtlc, UpdateFee, UpdateFulfillHtlc, WarningMessage,
    WireMessage,
};

/// A message for one channel. `open_channel` is not here: it creates a
/// channel ([`crate::Channel::new_inbound`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum ChannelMessage {
    /// `accept_channel`.
    AcceptChannel(AcceptChannel),
    /// `funding_created`.
    FundingCreated(FundingCreated),
    /// `funding_signed`.
    FundingSigned(FundingSigned),
    /// `channel_ready`.
    ChannelReady(ChannelReady),
    /// `shutdown`.
    Shutdown(Shutdown),
    /// `closing_signed`.
    ClosingSigned(ClosingSigned),
    /// `update_add_htlc`.
    UpdateAddHtlc(UpdateAddHtlc),
    /// `update_fulfill_htlc`.
    UpdateFulfillHtlc(UpdateFulfillHtlc),
    /// `update_fail_htlc`.
    UpdateFailHtlc(UpdateFailHtlc),
    /// `update_fail_malformed_htlc`.
    UpdateFailMalformedHtlc(UpdateFailMalformedHtlc),
    /// `commitment_signed`.
    CommitmentSigned(CommitmentSigned),
    /// `revoke_and_ack`.
    RevokeAndAck(RevokeAndAck),
    /// `update_fee`.
    UpdateFee(UpdateFee),
    /// `channel_reestablish`.
    ChannelReestablish(ChannelReestablish),
    /// `error` for this channel.
    Error(ErrorMessage),
    /// `warning` for this channel.
    Warning(WarningMessage),
}

impl ChannelMessage {
    /// The channel message in `m`, if it is one (`open_channel` and
    /// connection-level messages are not).
    pub fn from_message(m: Message) -> Option<Self> {
        Some(match m {
            Message::AcceptChannel(m) => Self::AcceptChannel(m),
            Message::FundingCreated(m) => Self::FundingCreated(m),
            Message::FundingSigned(m) => Self::FundingSigned(m),
            Message::ChannelReady(m) => Self::ChannelReady(m),
            Message::Shutdown(m) => Self::Shutdown(m),
            Message::ClosingSigned(m) => Self::ClosingSigned(m),
            Message::UpdateAddHtlc(m) => Self::UpdateAddHtlc(m),
            Message::UpdateFulfillHtlc(m) => Self::UpdateFulfillHtlc(m),
            Message::UpdateFailHtlc(m) => Self::UpdateFailHtlc(m),
            Message::UpdateFailMalformedHtlc(m) => Self::UpdateFailMalformedHtlc(m),
            Message::CommitmentSigned(m) => Self::CommitmentSigned(m),
            Message::RevokeAndAck(m) => Self::RevokeAndAck(m),
            Message::UpdateFee(m) => Self::UpdateFee(m),
            Message::ChannelReestablish(m) => Self::ChannelReestablish(m),
            Message::Error(m) => Self::Error(m),
            Message::Warning(m) => Self::Warning(m),
            _ => return None,
        })
    }

    /// Whether `m` is an `open_channel` (route it to
    /// [`crate::Channel::new_inbound`]).
    pub fn is_open_channel(m: &Message) -> Option<&OpenChannel> {
        match m {
            Message::OpenChannel(o) => Some(o),
            _ => None,
        }
    }

    /// The channel (or temporary channel) id it names.
    pub fn channel_id(&self) -> ChannelId {
        match self {
            Self::AcceptChannel(m) => m.temporary_channel_id,
            Self::FundingCreated(m) => m.temporary_channel_id,
            Self::FundingSigned(m) => m.channel_id,
            Self::ChannelReady(m) => m.channel_id,
            Self::Shutdown(m) => m.channel_id,
            Self::ClosingSigned(m) => m.channel_id,
            Self::UpdateAddHtlc(m) => m.channel_id,
            Self::UpdateFulfillHtlc(m) => m.channel_id,
            Self::UpdateFailHtlc(m) => m.channel_id,
            Self::UpdateFailMalformedHtlc(m) => m.channel_id,
            Self::CommitmentSigned(m) => m.channel_id,
            Self::RevokeAndAck(m) => m.channel_id,
            Self::UpdateFee(m) => m.channel_id,
            Self::ChannelReestablish(m) => m.channel_id,
            Self::Error(m) => m.channel_id,
            Self::Warning(m) => m.channel_id,
        }
    }

    /// The message type.
    pub fn msg_type(&self) -> u16 {
        match self {
            Self::AcceptChannel(_) => AcceptChannel::TYPE,
            Self::FundingCreated(_) => FundingCreated::TYPE,
            Self::FundingSigned(_) => FundingSigned::TYPE,
            Self::ChannelReady(_) => ChannelReady::TYPE,
            Self::Shutdown(_) => Shutdown::TYPE,
            Self::ClosingSigned(_) => ClosingSigned::TYPE,
            Self::UpdateAddHtlc(_) => UpdateAddHtlc::TYPE,
            Self::UpdateFulfillHtlc(_) => UpdateFulfillHtlc::TYPE,
            Self::UpdateFailHtlc(_) => UpdateFailHtlc::TYPE,
            Self::UpdateFailMalformedHtlc(_) => UpdateFailMalformedHtlc::TYPE,
            Self::CommitmentSigned(_) => CommitmentSigned::TYPE,
            Self::RevokeAndAck(_) => RevokeAndAck::TYPE,
            Self::UpdateFee(_) => UpdateFee::TYPE,
            Self::ChannelReestablish(_) => ChannelReestablish::TYPE,
            Self::Error(_) => ErrorMessage::TYPE,
            Self::Warning(_) => WarningMessage::TYPE,
        }
    }
}
