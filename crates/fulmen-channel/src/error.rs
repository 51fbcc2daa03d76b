//! Errors, and how the node reacts to each.
//!
//! * [`ChannelError`] is what a peer's message (or a block) can cause:
//!   [`ChannelError::Ignore`] (drop the message), [`ChannelError::Warn`]
//!   (send `warning`, close the connection, keep the channel) or
//!   [`ChannelError::Close`] (fail the channel: call
//!   [`crate::Channel::force_close`], which sends `error` and broadcasts our
//!   latest commitment). In every case the channel state is unchanged: a
//!   rejected message is never partly applied.
//! * [`AddError`] and [`ApiError`] are refusals of the node's own requests;
//!   nothing was sent and nothing changed.
//!
//! The reason is always a [`Violation`], which names the BOLT 2 clause.

use core::fmt;

use fulmen_script::Side;
use fulmen_types::{Msat, Sat};

/// A rejected peer message or block, with the reaction BOLT 2 asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelError {
    /// Discard the message; nothing changed.
    Ignore(Violation),
    /// Send a `warning` and close the connection; the channel stays open
    /// (it resumes with `channel_reestablish`).
    Warn(Violation),
    /// Fail the channel: call [`crate::Channel::force_close`] to send
    /// `error` and broadcast our latest commitment.
    Close(Violation),
}

impl ChannelError {
    /// The reason.
    pub fn violation(&self) -> &Violation {
        match self {
            Self::Ignore(v) | Self::Warn(v) | Self::Close(v) => v,
        }
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ignore(v) => write!(f, "ignored: {v}"),
            Self::Warn(v) => write!(f, "warning: {v}"),
            Self::Close(v) => write!(f, "channel failed: {v}"),
        }
    }
}

impl std::error::Error for ChannelError {}

/// Why a message, block or request was refused. Each variant names the
/// BOLT 2 (or BOLT 3) requirement it enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    // --- open_channel / accept_channel ---
    /// `chain_hash` is not our chain.
    UnknownChain,
    /// `temporary_channel_id` of `accept_channel` is not the one we sent.
    TemporaryChannelIdMismatch,
    /// `funding_satoshis` ≥ 2^24 and `option_support_large_channel` is not
    /// supported by both.
    LargeChannelNotSupported {
        /// The funding amount.
        funding: Sat,
    },
    /// `funding_satoshis` exceeds the money supply.
    FundingAboveMaxMoney {
        /// The funding amount.
        funding: Sat,
    },
    /// `funding_satoshis` below our minimum (MAY fail).
    FundingTooSmall {
        /// The funding amount.
        funding: Sat,
        /// Our minimum.
        minimum: Sat,
    },
    /// `push_msat` is greater than `funding_satoshis` * 1000.
    PushExceedsFunding {
        /// The push amount.
        push: Msat,
    },
    /// `to_self_delay` is unreasonably large.
    ToSelfDelayTooLarge {
        /// The value received.
        delay: u16,
        /// Our maximum.
        max: u16,
    },
    /// `max_accepted_htlcs` is greater than 483.
    MaxAcceptedHtlcsTooLarge {
        /// The value received.
        value: u16,
    },
    /// `max_accepted_htlcs` is below our minimum (MAY fail).
    MaxAcceptedHtlcsTooSmall {
        /// The value received.
        value: u16,
    },
    /// `feerate_per_kw` too small for timely processing or unreasonably
    /// large (also `update_fee`).
    FeerateOutOfRange {
        /// The feerate received.
        feerate: u32,
        /// Our lowest acceptable.
        min: u32,
        /// Our highest acceptable.
        max: u32,
    },
    /// `dust_limit_satoshis` is greater than `channel_reserve_satoshis`.
    DustLimitAboveReserve {
        /// The dust limit.
        dust_limit: Sat,
        /// The reserve.
        reserve: Sat,
    },
    /// `dust_limit_satoshis` is smaller than 354 satoshis.
    DustLimitTooSmall {
        /// The value received.
        dust_limit: Sat,
    },
    /// `dust_limit_satoshis` is too large (MAY fail).
    DustLimitTooLarge {
        /// The value received.
        dust_limit: Sat,
        /// Our maximum.
        max: Sat,
    },
    /// `channel_reserve_satoshis` is too large (MAY fail).
    ReserveTooLarge {
        /// The value received.
        reserve: Sat,
    },
    /// accept_channel: a `channel_reserve_satoshis` is less than the other
    /// side's `dust_limit_satoshis`.
    ReserveBelowDustLimit {
        /// The reserve.
        reserve: Sat,
        /// The dust limit it must cover.
        dust_limit: Sat,
    },
    /// `htlc_minimum_msat` is too large (MAY fail).
    HtlcMinimumTooLarge {
        /// The value received.
        htlc_minimum: Msat,
    },
    /// `max_htlc_value_in_flight_msat` is too small (MAY fail).
    MaxInFlightTooSmall {
        /// The value received.
        value: Msat,
    },
    /// The funder's amount for the initial commitment cannot pay the fee
    /// (and anchors).
    FunderCannotPayFee,
    /// Both `to_local` and `to_remote` of the initial commitment are at or
    /// below `channel_reserve_satoshis`.
    BothBalancesBelowReserve,
    /// `minimum_depth` is unreasonably large (MAY fail).
    MinimumDepthTooLarge {
        /// The value received.
        depth: u32,
    },
    /// The message does not include a `channel_type`.
    ChannelTypeMissing,
    /// The `channel_type` is not one we support (or not suitable).
    ChannelTypeUnsupported,
    /// The `channel_type` of `accept_channel` differs from `open_channel`'s.
    ChannelTypeMismatch,
    /// `option_scid_alias` in the `channel_type` of a public channel.
    ScidAliasOnPublicChannel,
    /// No channel type both peers support.
    NoCommonChannelType,
    /// The `upfront_shutdown_script` is not a valid shutdown script.
    InvalidUpfrontShutdownScript,

    // --- funding ---
    /// The funding transaction's output does not pay exactly
    /// `funding_satoshis` to the 2-of-2 script.
    FundingOutputMismatch,
    /// The funding output index does not fit in 16 bits.
    FundingOutputIndexTooLarge,
    /// A commitment signature (`funding_created`, `funding_signed`,
    /// `commitment_signed`) is invalid or not low-S.
    InvalidCommitmentSignature,
    /// The funding transaction was not confirmed within 2016 blocks.
    FundingTimeout,

    // --- updates ---
    /// The message is not valid in the channel's current state.
    UnexpectedMessage {
        /// The message type.
        msg_type: u16,
    },
    /// The message names another channel.
    ChannelIdMismatch,
    /// A channel message arrived before `channel_reestablish`.
    MessageBeforeReestablish {
        /// The message type.
        msg_type: u16,
    },
    /// `update_add_htlc` with `amount_msat` 0.
    HtlcAmountZero,
    /// `amount_msat` below our `htlc_minimum_msat`.
    HtlcBelowMinimum {
        /// The amount.
        amount: Msat,
        /// The minimum.
        minimum: Msat,
    },
    /// The sender cannot afford the HTLC while keeping its reserve (and, if
    /// it is the funder, paying the fee and anchors).
    HtlcUnaffordable {
        /// The amount.
        amount: Msat,
    },
    /// More than `max_accepted_htlcs` HTLCs offered.
    TooManyHtlcs {
        /// The count with this HTLC.
        count: usize,
        /// The limit.
        max: u16,
    },
    /// More than `max_htlc_value_in_flight_msat` offered.
    InFlightExceeded {
        /// The total with this HTLC.
        total: Msat,
        /// The limit.
        max: Msat,
    },
    /// `cltv_expiry` ≥ 500000000.
    CltvExpiryTooLarge {
        /// The value received.
        cltv_expiry: u32,
    },
    /// The HTLC `id` is not the next one.
    UnexpectedHtlcId {
        /// The id expected.
        expected: u64,
        /// The id received.
        got: u64,
    },
    /// `update_add_htlc` after the sender's `shutdown`.
    AddAfterShutdown,
    /// The `id` does not correspond to an HTLC in our commitment.
    UnknownHtlc {
        /// The id.
        id: u64,
    },
    /// The HTLC is not yet irrevocably committed, so it cannot be removed.
    HtlcNotCommitted {
        /// The id.
        id: u64,
    },
    /// The HTLC already has a removal.
    HtlcAlreadyRemoved {
        /// The id.
        id: u64,
    },
    /// The `payment_preimage` does not hash to the HTLC's `payment_hash`.
    PreimageMismatch {
        /// The id.
        id: u64,
    },
    /// `update_fail_malformed_htlc` without the `BADONION` bit.
    MalformedWithoutBadOnion {
        /// The failure code.
        failure_code: u16,
    },
    /// `num_htlcs` differs from the number of HTLC outputs.
    WrongHtlcSignatureCount {
        /// Untrimmed HTLC outputs.
        expected: usize,
        /// Signatures received.
        got: usize,
    },
    /// An `htlc_signature` is invalid or not low-S.
    InvalidHtlcSignature {
        /// Its position in `htlc_signature`.
        index: usize,
    },
    /// `revoke_and_ack` when no revocation is owed.
    UnexpectedRevocation,
    /// `per_commitment_secret` is not a valid key or does not generate the
    /// previous `per_commitment_point`.
    InvalidRevocationSecret,
    /// The `per_commitment_secret` was not generated by the BOLT 3
    /// shachain (it does not derive earlier secrets).
    ShachainMismatch,
    /// `update_fee` from the node that does not pay the fee.
    FeeUpdateFromNonFunder,
    /// The funder cannot afford the new feerate.
    FeeUnaffordable {
        /// The feerate.
        feerate: u32,
    },
    /// Without `option_anchors`, an `update_fee` increase that trims more
    /// HTLCs and takes the dust balance of a commitment past our
    /// `max_dust_htlc_exposure_msat` (BOLT 2 `update_fee`: "MAY fail the
    /// channel"; only with [`crate::ChannelConfig::fail_on_dust_fee_increase`]).
    FeeDustExposureExceeded {
        /// The feerate received.
        feerate: u32,
        /// Whose commitment (`Local`: ours).
        commitment: Side,
        /// Its dust balance at that feerate.
        dust_balance: Msat,
        /// Our limit.
        max: Msat,
    },
    /// 2^48 commitments have been made.
    CommitmentNumberExhausted,
    /// An HTLC we offered is past its timeout deadline while still in a
    /// current commitment (BOLT 2 `cltv_expiry_delta` selection).
    OfferedHtlcTimedOut {
        /// Our HTLC id.
        id: u64,
    },
    /// An HTLC we fulfilled is past its fulfillment deadline while still
    /// in a current commitment.
    FulfilledHtlcDeadline {
        /// The peer's HTLC id.
        id: u64,
    },

    // --- closing ---
    /// `shutdown` before `funding_signed` (funder) or `funding_created`
    /// (fundee) was received: BOLT 2 "SHOULD send an `error` and fail the
    /// channel" (before funding, failing it forgets it).
    ShutdownBeforeFunding,
    /// The `scriptpubkey` is not one of the allowed shutdown forms.
    InvalidShutdownScript,
    /// The `scriptpubkey` differs from the `upfront_shutdown_script`.
    UpfrontShutdownMismatch,
    /// A second `shutdown` with a different script.
    ShutdownScriptChanged,
    /// `closing_signed` before negotiation can start.
    ClosingTooEarly,
    /// `closing_signed` signature invalid for either closing variant.
    InvalidClosingSignature,
    /// `fee_satoshis` exceeds the funder's balance.
    ClosingFeeExceedsBalance {
        /// The fee.
        fee: Sat,
    },
    /// The `fee_range`s do not overlap.
    ClosingFeeRangesDisjoint,
    /// `fee_satoshis` outside the overlap of the ranges (funder), or not the
    /// value we sent (non-funder).
    ClosingFeeOutOfRange {
        /// The fee.
        fee: Sat,
    },
    /// Legacy negotiation: the fee is not strictly between the last two.
    ClosingFeeNotBetween {
        /// The fee.
        fee: Sat,
    },
    /// A closing output is below the dust threshold of its script.
    ClosingOutputDust,

    // --- channel_reestablish ---
    /// `next_commitment_number` is zero.
    ReestablishZeroCommitmentNumber,
    /// `next_commitment_number` is not one we can continue from.
    UnexpectedCommitmentNumber {
        /// The value we expected (or the smallest acceptable).
        expected: u64,
        /// The value received.
        got: u64,
    },
    /// `next_revocation_number` is not one we can continue from.
    UnexpectedRevocationNumber {
        /// The value we expected.
        expected: u64,
        /// The value received.
        got: u64,
    },
    /// `your_last_per_commitment_secret` is not the last secret we sent.
    WrongLastSecret,
    /// The peer proved (option_data_loss_protect) that our state is old.
    WeAreBehind,

    // --- other ---
    /// The peer sent `error`.
    PeerError,
    /// Our state could not build a transaction: a bug or corrupted state.
    Internal(InternalError),
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Local => "local",
        Side::Remote => "remote",
    }
}

/// A failure that means our own state is inconsistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InternalError {
    /// A balance went negative or overflowed.
    BalanceArithmetic,
    /// A commitment transaction could not be built.
    CommitmentBuild,
    /// A key could not be derived.
    KeyDerivation,
    /// A signature could not be made.
    Signing,
    /// A closing transaction could not be built.
    ClosingBuild,
}

impl fmt::Display for InternalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BalanceArithmetic => "balance arithmetic overflowed",
            Self::CommitmentBuild => "commitment transaction could not be built",
            Self::KeyDerivation => "key derivation failed",
            Self::Signing => "signing failed",
            Self::ClosingBuild => "closing transaction could not be built",
        })
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownChain => f.write_str("unknown chain_hash"),
            Self::TemporaryChannelIdMismatch => f.write_str("temporary_channel_id mismatch"),
            Self::LargeChannelNotSupported { funding } => {
                write!(f, "funding {funding} needs option_support_large_channel")
            }
            Self::FundingAboveMaxMoney { funding } => {
                write!(f, "funding {funding} exceeds the money supply")
            }
            Self::FundingTooSmall { funding, minimum } => {
                write!(f, "funding {funding} below minimum {minimum}")
            }
            Self::PushExceedsFunding { push } => write!(f, "push {push} exceeds funding"),
            Self::ToSelfDelayTooLarge { delay, max } => {
                write!(f, "to_self_delay {delay} above {max}")
            }
            Self::MaxAcceptedHtlcsTooLarge { value } => {
                write!(f, "max_accepted_htlcs {value} above 483")
            }
            Self::MaxAcceptedHtlcsTooSmall { value } => {
                write!(f, "max_accepted_htlcs {value} too small")
            }
            Self::FeerateOutOfRange { feerate, min, max } => {
                write!(f, "feerate {feerate} outside [{min}, {max}]")
            }
            Self::DustLimitAboveReserve {
                dust_limit,
                reserve,
            } => write!(f, "dust limit {dust_limit} above reserve {reserve}"),
            Self::DustLimitTooSmall { dust_limit } => {
                write!(f, "dust limit {dust_limit} below 354sat")
            }
            Self::DustLimitTooLarge { dust_limit, max } => {
                write!(f, "dust limit {dust_limit} above {max}")
            }
            Self::ReserveTooLarge { reserve } => write!(f, "reserve {reserve} too large"),
            Self::ReserveBelowDustLimit {
                reserve,
                dust_limit,
            } => write!(f, "reserve {reserve} below dust limit {dust_limit}"),
            Self::HtlcMinimumTooLarge { htlc_minimum } => {
                write!(f, "htlc_minimum {htlc_minimum} too large")
            }
            Self::MaxInFlightTooSmall { value } => {
                write!(f, "max_htlc_value_in_flight {value} too small")
            }
            Self::FunderCannotPayFee => f.write_str("funder cannot pay the commitment fee"),
            Self::BothBalancesBelowReserve => {
                f.write_str("both initial balances at or below the reserve")
            }
            Self::MinimumDepthTooLarge { depth } => write!(f, "minimum_depth {depth} too large"),
            Self::ChannelTypeMissing => f.write_str("channel_type missing"),
            Self::ChannelTypeUnsupported => f.write_str("channel_type not supported"),
            Self::ChannelTypeMismatch => f.write_str("channel_type differs from open_channel"),
            Self::ScidAliasOnPublicChannel => {
                f.write_str("option_scid_alias on an announced channel")
            }
            Self::NoCommonChannelType => f.write_str("no channel type both peers support"),
            Self::InvalidUpfrontShutdownScript => f.write_str("invalid upfront_shutdown_script"),
            Self::FundingOutputMismatch => {
                f.write_str("funding output does not pay the funding amount to the 2-of-2")
            }
            Self::FundingOutputIndexTooLarge => f.write_str("funding output index above 65535"),
            Self::InvalidCommitmentSignature => f.write_str("invalid commitment signature"),
            Self::FundingTimeout => f.write_str("funding not confirmed in time"),
            Self::UnexpectedMessage { msg_type } => {
                write!(f, "unexpected message type {msg_type}")
            }
            Self::ChannelIdMismatch => f.write_str("channel_id mismatch"),
            Self::MessageBeforeReestablish { msg_type } => {
                write!(f, "message type {msg_type} before channel_reestablish")
            }
            Self::HtlcAmountZero => f.write_str("htlc amount is zero"),
            Self::HtlcBelowMinimum { amount, minimum } => {
                write!(f, "htlc amount {amount} below minimum {minimum}")
            }
            Self::HtlcUnaffordable { amount } => write!(f, "htlc of {amount} unaffordable"),
            Self::TooManyHtlcs { count, max } => write!(f, "{count} htlcs exceed {max}"),
            Self::InFlightExceeded { total, max } => {
                write!(f, "{total} in flight exceeds {max}")
            }
            Self::CltvExpiryTooLarge { cltv_expiry } => {
                write!(f, "cltv_expiry {cltv_expiry} is not a block height")
            }
            Self::UnexpectedHtlcId { expected, got } => {
                write!(f, "htlc id {got}, expected {expected}")
            }
            Self::AddAfterShutdown => f.write_str("update_add_htlc after shutdown"),
            Self::UnknownHtlc { id } => write!(f, "unknown htlc {id}"),
            Self::HtlcNotCommitted { id } => write!(f, "htlc {id} not irrevocably committed"),
            Self::HtlcAlreadyRemoved { id } => write!(f, "htlc {id} already removed"),
            Self::PreimageMismatch { id } => write!(f, "preimage does not match htlc {id}"),
            Self::MalformedWithoutBadOnion { failure_code } => {
                write!(f, "failure code {failure_code:#06x} lacks BADONION")
            }
            Self::WrongHtlcSignatureCount { expected, got } => {
                write!(f, "{got} htlc signatures, expected {expected}")
            }
            Self::InvalidHtlcSignature { index } => write!(f, "invalid htlc signature {index}"),
            Self::UnexpectedRevocation => f.write_str("revoke_and_ack with nothing to revoke"),
            Self::InvalidRevocationSecret => f.write_str("per_commitment_secret does not match"),
            Self::ShachainMismatch => f.write_str("per_commitment_secret not from one shachain"),
            Self::FeeUpdateFromNonFunder => f.write_str("update_fee from the non-funder"),
            Self::FeeUnaffordable { feerate } => write!(f, "feerate {feerate} unaffordable"),
            Self::FeeDustExposureExceeded {
                feerate,
                commitment,
                dust_balance,
                max,
            } => write!(
                f,
                "feerate {feerate} trims {dust_balance} from the {} commitment, above the dust exposure limit {max}",
                side_name(*commitment)
            ),
            Self::CommitmentNumberExhausted => f.write_str("commitment numbers exhausted"),
            Self::OfferedHtlcTimedOut { id } => {
                write!(f, "offered htlc {id} past its timeout deadline")
            }
            Self::FulfilledHtlcDeadline { id } => {
                write!(f, "fulfilled htlc {id} past its fulfillment deadline")
            }
            Self::ShutdownBeforeFunding => f.write_str("shutdown before funding"),
            Self::InvalidShutdownScript => f.write_str("invalid shutdown scriptpubkey"),
            Self::UpfrontShutdownMismatch => {
                f.write_str("shutdown script differs from upfront_shutdown_script")
            }
            Self::ShutdownScriptChanged => f.write_str("shutdown script changed"),
            Self::ClosingTooEarly => f.write_str("closing_signed before shutdown completed"),
            Self::InvalidClosingSignature => f.write_str("invalid closing signature"),
            Self::ClosingFeeExceedsBalance { fee } => {
                write!(f, "closing fee {fee} exceeds the funder's balance")
            }
            Self::ClosingFeeRangesDisjoint => f.write_str("closing fee ranges do not overlap"),
            Self::ClosingFeeOutOfRange { fee } => write!(f, "closing fee {fee} out of range"),
            Self::ClosingFeeNotBetween { fee } => {
                write!(
                    f,
                    "closing fee {fee} not strictly between the last proposals"
                )
            }
            Self::ClosingOutputDust => f.write_str("closing output below its dust threshold"),
            Self::ReestablishZeroCommitmentNumber => f.write_str("next_commitment_number is 0"),
            Self::UnexpectedCommitmentNumber { expected, got } => {
                write!(f, "next_commitment_number {got}, expected {expected}")
            }
            Self::UnexpectedRevocationNumber { expected, got } => {
                write!(f, "next_revocation_number {got}, expected {expected}")
            }
            Self::WrongLastSecret => f.write_str("wrong your_last_per_commitment_secret"),
            Self::WeAreBehind => f.write_str("peer proved our channel state is old"),
            Self::PeerError => f.write_str("peer sent error"),
            Self::Internal(e) => write!(f, "internal: {e}"),
        }
    }
}

/// Why [`crate::Channel::add_htlc`] refused to offer an HTLC. Nothing was
/// sent; the node fails the incoming HTLC (or the payment attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddError {
    /// The channel is not in normal operation.
    NotReady,
    /// The peer is not connected (or reestablish is not complete).
    Disconnected,
    /// A `shutdown` was sent or received.
    ShuttingDown,
    /// Zero amount.
    AmountZero,
    /// Below the peer's `htlc_minimum_msat`.
    BelowMinimum {
        /// The peer's minimum.
        minimum: Msat,
    },
    /// `cltv_expiry` ≥ 500000000.
    CltvExpiryTooLarge,
    /// The peer's `max_accepted_htlcs` is reached.
    TooManyHtlcs {
        /// The peer's limit.
        max: u16,
    },
    /// The peer's `max_htlc_value_in_flight_msat` would be exceeded.
    InFlightExceeded {
        /// The peer's limit.
        max: Msat,
    },
    /// Our balance cannot cover the HTLC, the reserve and fees.
    InsufficientBalance,
    /// The funder (the peer) could not pay the fee for the extra output.
    FunderCannotPayFee,
    /// The HTLC would be trimmed from a commitment whose dust balance would
    /// then exceed our `max_dust_htlc_exposure_msat` (BOLT 2 "when
    /// offering an HTLC": "SHOULD NOT send this HTLC"; the node fails the
    /// corresponding incoming HTLC, if any).
    DustExposureExceeded {
        /// Whose commitment (`Local`: ours).
        commitment: Side,
        /// Its dust balance with the HTLC.
        dust_balance: Msat,
        /// Our limit.
        max: Msat,
    },
    /// Our state is inconsistent.
    Internal(InternalError),
}

impl fmt::Display for AddError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotReady => f.write_str("channel not in normal operation"),
            Self::Disconnected => f.write_str("peer not connected"),
            Self::ShuttingDown => f.write_str("channel is shutting down"),
            Self::AmountZero => f.write_str("amount is zero"),
            Self::BelowMinimum { minimum } => write!(f, "below the peer's minimum {minimum}"),
            Self::CltvExpiryTooLarge => f.write_str("cltv_expiry is not a block height"),
            Self::TooManyHtlcs { max } => write!(f, "peer accepts at most {max} htlcs"),
            Self::InFlightExceeded { max } => write!(f, "peer accepts at most {max} in flight"),
            Self::InsufficientBalance => f.write_str("insufficient balance"),
            Self::FunderCannotPayFee => f.write_str("funder cannot pay the fee"),
            Self::DustExposureExceeded {
                commitment,
                dust_balance,
                max,
            } => write!(
                f,
                "dust balance of the {} commitment would be {dust_balance}, above {max}",
                side_name(*commitment)
            ),
            Self::Internal(e) => write!(f, "internal: {e}"),
        }
    }
}

impl std::error::Error for AddError {}

/// Why a node request other than [`crate::Channel::add_htlc`] was refused.
/// Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// Not possible in the channel's current state.
    WrongState,
    /// No such incoming HTLC.
    UnknownHtlc {
        /// The id.
        id: u64,
    },
    /// The HTLC is not irrevocably committed yet.
    HtlcNotCommitted {
        /// The id.
        id: u64,
    },
    /// The HTLC was already fulfilled or failed.
    HtlcAlreadyRemoved {
        /// The id.
        id: u64,
    },
    /// The preimage does not match the HTLC's payment hash.
    PreimageMismatch {
        /// The id.
        id: u64,
    },
    /// A malformed-HTLC failure code without the `BADONION` bit.
    MalformedWithoutBadOnion,
    /// Only the funder sends `update_fee`.
    NotFunder,
    /// The feerate is outside our configured bounds.
    FeerateOutOfRange,
    /// We cannot afford the feerate.
    FeeUnaffordable,
    /// Without `option_anchors`: the higher feerate would trim more HTLCs
    /// and take the dust balance of a commitment past our
    /// `max_dust_htlc_exposure_msat` (BOLT 2 `update_fee`: "MAY NOT send
    /// `update_fee`").
    FeeDustExposureExceeded {
        /// Whose commitment (`Local`: ours).
        commitment: Side,
        /// Its dust balance at the new feerate.
        dust_balance: Msat,
        /// Our limit.
        max: Msat,
    },
    /// The fail reason exceeds 65535 bytes.
    ReasonTooLong,
    /// The shutdown script is not an allowed form.
    InvalidShutdownScript,
    /// A different script than the upfront one was given.
    UpfrontShutdownMismatch,
    /// `shutdown` was already sent.
    AlreadyShuttingDown,
    /// The funding transaction has no such output, or it does not pay
    /// the funding amount to the 2-of-2.
    FundingOutputMismatch,
    /// Our state is inconsistent.
    Internal(InternalError),
    /// The request hit a condition that fails the channel: call
    /// [`crate::Channel::force_close`].
    ChannelFailed(Violation),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongState => f.write_str("not possible in this channel state"),
            Self::UnknownHtlc { id } => write!(f, "no incoming htlc {id}"),
            Self::HtlcNotCommitted { id } => write!(f, "htlc {id} not irrevocably committed"),
            Self::HtlcAlreadyRemoved { id } => write!(f, "htlc {id} already removed"),
            Self::PreimageMismatch { id } => write!(f, "preimage does not match htlc {id}"),
            Self::MalformedWithoutBadOnion => f.write_str("failure code lacks BADONION"),
            Self::NotFunder => f.write_str("only the funder updates the fee"),
            Self::FeerateOutOfRange => f.write_str("feerate out of range"),
            Self::FeeUnaffordable => f.write_str("feerate unaffordable"),
            Self::FeeDustExposureExceeded {
                commitment,
                dust_balance,
                max,
            } => write!(
                f,
                "feerate trims {dust_balance} from the {} commitment, above the dust exposure limit {max}",
                side_name(*commitment)
            ),
            Self::ReasonTooLong => f.write_str("failure reason too long"),
            Self::InvalidShutdownScript => f.write_str("invalid shutdown script"),
            Self::UpfrontShutdownMismatch => f.write_str("script differs from upfront script"),
            Self::AlreadyShuttingDown => f.write_str("shutdown already sent"),
            Self::FundingOutputMismatch => f.write_str("funding output mismatch"),
            Self::Internal(e) => write!(f, "internal: {e}"),
            Self::ChannelFailed(v) => write!(f, "channel failed: {v}"),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> Self {
        Self::ChannelFailed(e.violation().clone())
    }
}

impl From<InternalError> for Violation {
    fn from(e: InternalError) -> Self {
        Self::Internal(e)
    }
}

impl From<InternalError> for ChannelError {
    fn from(e: InternalError) -> Self {
        Self::Close(Violation::Internal(e))
    }
}

impl From<InternalError> for ApiError {
    fn from(e: InternalError) -> Self {
        Self::Internal(e)
    }
}

impl From<InternalError> for AddError {
    fn from(e: InternalError) -> Self {
        Self::Internal(e)
    }
}
