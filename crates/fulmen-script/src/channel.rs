//! Facts about a channel that every builder needs: its type, which side of
//! it a party is on, and the HTLCs a commitment carries.
//!
//! Everything here is relative to the *owner* of the commitment transaction
//! being built ("local" in BOLT 3): the party whose outputs are delayed and
//! who would broadcast it. When building the counterparty's commitment, the
//! counterparty is "local".

use fulmen_types::{Msat, PaymentHash};

/// The commitment format negotiated for the channel (BOLT 2 `channel_type`).
///
/// Only the two formats a new channel may use today are supported; both
/// imply `option_static_remotekey` (the `to_remote` key is the counterparty's
/// `payment_basepoint`, not tweaked per commitment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelType {
    /// `option_static_remotekey` without anchors: `to_remote` is a P2WPKH,
    /// HTLC transactions pay their own fee, no anchor outputs.
    StaticRemoteKey,
    /// `option_anchors_zero_fee_htlc_tx`: two 330-sat anchor outputs, a
    /// one-block CSV on `to_remote` and on the counterparty's HTLC paths,
    /// zero-fee HTLC transactions signed by the counterparty with
    /// `SIGHASH_SINGLE|SIGHASH_ANYONECANPAY`.
    AnchorsZeroFeeHtlcTx,
}

impl ChannelType {
    /// Whether `option_anchors` applies to commitments of this type.
    pub const fn has_anchors(self) -> bool {
        matches!(self, Self::AnchorsZeroFeeHtlcTx)
    }
}

/// One of the two parties, seen from the owner of the commitment transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The owner of the commitment transaction (its outputs are delayed).
    Local,
    /// The counterparty.
    Remote,
}

impl Side {
    /// The other side.
    pub const fn other(self) -> Self {
        match self {
            Self::Local => Self::Remote,
            Self::Remote => Self::Local,
        }
    }
}

/// Which way an HTLC flows, seen from the owner of the commitment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HtlcDirection {
    /// Offered by the owner (local → remote); resolved on the owner's
    /// commitment by an HTLC-timeout transaction.
    Offered,
    /// Received by the owner (remote → local); resolved on the owner's
    /// commitment by an HTLC-success transaction.
    Received,
}

impl HtlcDirection {
    /// The same HTLC seen from the other party's commitment.
    pub const fn flipped(self) -> Self {
        match self {
            Self::Offered => Self::Received,
            Self::Received => Self::Offered,
        }
    }
}

/// An HTLC committed to a commitment transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Htlc {
    /// Direction relative to the commitment's owner.
    pub direction: HtlcDirection,
    /// The amount; its sub-satoshi part never reaches the chain.
    pub amount: Msat,
    /// The hash the HTLC is locked to.
    pub payment_hash: PaymentHash,
    /// The absolute block height after which the offerer may time it out.
    pub cltv_expiry: u32,
}
