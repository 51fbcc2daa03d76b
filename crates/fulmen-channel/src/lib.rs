//! The BOLT 2 channel state machine, sans-IO.

#![forbid(unsafe_code)]

pub mod channel;
pub mod checks;
pub mod closing;
pub mod commit_flow;
pub mod commitment;
pub mod config;
pub mod deadlines;
pub mod error;
pub mod events;
pub mod ledger;
pub mod message;
pub mod opening;
pub mod params;
pub mod reestablish;
pub mod state;
pub mod state_codec;
pub mod updates;

pub use channel::{Channel, Closed, Normal};
pub use config::{ChannelConfig, ChannelSecretKeys, ChannelSecrets, Ctx};
pub use error::{AddError, ApiError, ChannelError, InternalError, Violation};
pub use events::{
    ChannelEvent, CloseReason, HtlcFailure, IncomingHtlc, Outputs, RevokedCommitment, RevokedHtlc,
};
pub use message::ChannelMessage;
pub use opening::{InboundSetup, OutboundSetup};
