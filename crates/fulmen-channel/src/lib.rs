//! The BOLT 2 channel state machine, sans-IO: messages, blocks and time in;
//! messages, transactions, changes to persist and events out. No clock, no
//! randomness, no disk, no socket: the node passes everything in a
//! [`Ctx`] and acts on the [`Outputs`].
//!
//! # Driving it
//!
//! * **Open**: [`Channel::new_outbound`] returns the channel and the
//!   `open_channel` to send; on `accept_channel` the channel emits
//!   [`ChannelEvent::FundingNeeded`]; the node builds (not broadcasts) the
//!   funding transaction and calls [`Channel::funding_tx_built`], which
//!   sends `funding_created`. On `funding_signed` the funding transaction
//!   appears in [`Outputs::broadcasts`]. A peer's `open_channel` goes to
//!   [`Channel::new_inbound`] (on error: send `error` for its temporary id).
//! * **Blocks**: [`Channel::handle_block`] with each block's height and
//!   transactions: counts the funding depth against `minimum_depth`, sends
//!   `channel_ready` (with our `short_channel_id` alias), emits
//!   [`ChannelEvent::ChannelReady`] once both are ready, and enforces the
//!   HTLC deadlines of [`deadlines`].
//! * **Messages**: [`ChannelMessage::from_message`] then
//!   [`Channel::handle_message`].
//! * **Payments**: [`Channel::add_htlc`], [`Channel::fulfill_htlc`],
//!   [`Channel::fail_htlc`], [`Channel::fail_malformed_htlc`],
//!   [`Channel::update_fee`], and once per event-loop tick
//!   [`Channel::sign_if_needed`], so every update of the tick shares one
//!   `commitment_signed`. Incoming HTLCs arrive as
//!   [`ChannelEvent::HtlcAdded`] only once irrevocably committed (fail
//!   those [`Channel::htlc_over_dust_exposure`] flags); a peer's
//!   preimage as [`ChannelEvent::HtlcFulfilled`] as soon as it arrives;
//!   failures as [`ChannelEvent::HtlcFailed`] once irrevocable; every
//!   revoked peer commitment as [`ChannelEvent::RevokedRemoteCommitment`]
//!   (for the penalty path).
//! * **Connection**: [`Channel::peer_disconnected`] (reverses the peer's
//!   uncommitted updates), [`Channel::peer_reconnected`] (our
//!   `channel_reestablish`); the peer's `channel_reestablish` triggers the
//!   BOLT 2 retransmissions, or, if the peer proves our state is old
//!   (`option_data_loss_protect`), moves to a closing state that never
//!   broadcasts our commitment.
//! * **Close**: [`Channel::shutdown`] then `closing_signed` negotiation
//!   (with `fee_range`; legacy negotiation if the peer sends none) ends in
//!   a mutual-close broadcast; [`Channel::force_close`] broadcasts our
//!   latest commitment, fully signed.
//! * **Persistence**: when [`Outputs::persist`] is set, write
//!   [`Channel::encode_state`] durably *before* sending
//!   [`Outputs::messages`] or broadcasting (our revocation secret never
//!   leaves before the state that made it is stored).
//!   [`Channel::decode_state`] restores a channel, disconnected.
//!
//! # Reactions
//!
//! A refused peer message is a [`ChannelError`]: `Ignore`, `Warn` (send
//! `warning`, disconnect) or `Close` (call [`Channel::force_close`]). The
//! state is never partly changed by a refused message. Each refusal names
//! its BOLT 2 clause in [`Violation`].
//!
//! # Structure
//!
//! [`Channel`] is an enum of per-phase structs. Funded phases share
//! [`state::Established`]: the fixed [`state::ChannelCore`], the
//! [`ledger::Ledger`] (every HTLC add/removal and fee change with its stage
//! on the way to being irrevocably committed — see the [`ledger`] module
//! for the model) and the commitment bookkeeping. Commitment transactions
//! are built, signed and verified with `fulmen-script` ([`commitment`]);
//! the dust exposure bound of BOLT 2 is in [`dust`].
//!
//! # Choices and departures from the design contract
//!
//! * `Ctx` also carries `feerate_per_kw`, the node's on-chain estimate,
//!   for mutual-close fees. `add_htlc` returns `(id, Outputs)`.
//!   `handle_block` takes a block's height and transactions.
//! * A `Close` error leaves the state untouched; the node calls
//!   [`Channel::force_close`] (which sends `error` and broadcasts).
//! * `persist` is set on every state change, including received but
//!   uncommitted updates (BOLT 2 only requires a write per
//!   `commitment_signed`; writing more is never wrong). The connection
//!   state is not persisted: a decoded channel is disconnected.
//! * Our own uncommitted updates survive a disconnection and are re-sent
//!   in their original order after `channel_reestablish` (BOLT 2 allows
//!   re-sending or dropping them).
//! * Incoming onions stay in the state until we fulfill or fail the HTLC
//!   (so a restarted node can still forward); outgoing ones until the peer
//!   acknowledged the add.
//! * Only `closing_signed` closing (no `option_simple_close`), no dual
//!   funding, splicing, `start_batch`, `option_zeroconf` or attribution
//!   data.
//! * `max_dust_htlc_exposure_msat` ([`dust`]) is counted over every HTLC
//!   not yet irrevocably removed at the highest pending feerate (an upper
//!   bound of any commitment still broadcastable), HTLC amounts only (BOLT
//!   2's dust balance has no fee term). A received HTLC over the limit is
//!   accepted and flagged ([`Channel::htlc_over_dust_exposure`]); failing
//!   it needs its onion's shared secret, so the node does it. A received
//!   `update_fee` over the limit fails the channel only if
//!   [`ChannelConfig::fail_on_dust_fee_increase`] is set.
//! * A `commitment_signed` without changes is accepted (the sender's rule
//!   is not a receiver check).
//! * `update_fee` affordability is checked as fee plus anchors, without
//!   the reserve (BOLT 3 lets the funder dip below its reserve to pay a
//!   fee increase).

#![forbid(unsafe_code)]

pub mod channel;
pub mod checks;
pub mod closing;
pub mod commit_flow;
pub mod commitment;
pub mod config;
pub mod deadlines;
pub mod dust;
pub mod error;
pub mod events;
pub mod ledger;
pub mod message;
// On-chain enforcement (BOLT 5): classify funding spends, claim outputs.
pub mod onchain;
pub mod opening;
pub mod params;
pub mod reestablish;
pub mod state;
pub mod state_codec;
pub mod updates;

pub use channel::{Channel, Closed, Normal};
pub use config::{ChannelConfig, ChannelSecretKeys, ChannelSecrets, Ctx};
pub use dust::DustExposure;
pub use error::{AddError, ApiError, ChannelError, InternalError, Violation};
pub use events::{
    ChannelEvent, CloseReason, HtlcFailure, IncomingHtlc, Outputs, RevokedCommitment, RevokedHtlc,
};
pub use message::ChannelMessage;
pub use opening::{InboundSetup, OutboundSetup};
pub use state_codec::StateDecodeError;
