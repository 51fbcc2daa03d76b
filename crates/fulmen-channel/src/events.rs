//! What a call produces: messages to send, transactions to broadcast,
//! events for the node, and whether the state must be persisted first.

use bitcoin::secp256k1::PublicKey;
use bitcoin::{ScriptBuf, Transaction, Txid};
use fulmen_script::shachain::PerCommitmentSecret;
use fulmen_script::HtlcDirection;
use fulmen_types::{ChannelId, Msat, PaymentHash, PaymentPreimage, Sat, ShortChannelId};
use fulmen_wire::{Message, OnionPacket};

/// The result of a call.
///
/// **Persist before you reveal**: when `persist` is set, the node writes
/// [`crate::Channel::encode_state`] durably (with every other channel
/// changed in the same tick) and only then hands `messages` to the peer and
/// `broadcasts` to the chain. Events may be handled after the write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs {
    /// Messages for the peer, in order.
    pub messages: Vec<Message>,
    /// Transactions to broadcast.
    pub broadcasts: Vec<Transaction>,
    /// Events for the node.
    pub events: Vec<ChannelEvent>,
    /// The channel state changed: persist it before sending anything.
    pub persist: bool,
}

impl Outputs {
    /// Nothing to do.
    pub fn none() -> Self {
        Self::default()
    }

    /// Appends `other`.
    pub fn extend(&mut self, other: Outputs) {
        self.messages.extend(other.messages);
        self.broadcasts.extend(other.broadcasts);
        self.events.extend(other.events);
        self.persist |= other.persist;
    }

    pub(crate) fn msg(&mut self, m: impl Into<Message>) {
        self.messages.push(m.into());
    }

    pub(crate) fn event(&mut self, e: ChannelEvent) {
        self.events.push(e);
    }

    pub(crate) fn changed(mut self) -> Self {
        self.persist = true;
        self
    }
}

/// Something the node must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelEvent {
    /// The peer accepted our channel: build a funding transaction paying
    /// `amount` to `script_pubkey` (do not broadcast it) and call
    /// [`crate::Channel::funding_tx_built`].
    FundingNeeded {
        /// The channel's temporary id.
        temporary_channel_id: ChannelId,
        /// The funding output's value.
        amount: Sat,
        /// The funding output's script (P2WSH of the 2-of-2).
        script_pubkey: ScriptBuf,
    },
    /// The channel's permanent id is known (after `funding_created` /
    /// `funding_signed`): re-key the channel under it.
    ChannelIdAssigned {
        /// The temporary id it had.
        temporary_channel_id: ChannelId,
        /// The funding-derived id.
        channel_id: ChannelId,
    },
    /// `channel_ready` was exchanged both ways: the channel is usable.
    ChannelReady {
        /// The channel.
        channel_id: ChannelId,
        /// The real short channel id from the funding confirmation.
        short_channel_id: ShortChannelId,
        /// Our alias for it (route hints; the only scid routed to it with
        /// `option_scid_alias`).
        local_alias: ShortChannelId,
        /// The peer's alias, if it sent one.
        remote_alias: Option<ShortChannelId>,
    },
    /// An incoming HTLC is irrevocably committed: forward it, settle it or
    /// fail it with [`crate::Channel::fulfill_htlc`] /
    /// [`crate::Channel::fail_htlc`] / [`crate::Channel::fail_malformed_htlc`].
    /// If [`crate::Channel::htlc_over_dust_exposure`] holds for it, it took
    /// a commitment's dust balance past our `max_dust_htlc_exposure_msat`:
    /// fail it (`temporary_channel_failure`) and never reveal its preimage
    /// (BOLT 2).
    HtlcAdded(IncomingHtlc),
    /// The peer fulfilled our HTLC: the preimage is safe to use upstream at
    /// once.
    HtlcFulfilled {
        /// Our HTLC's id.
        id: u64,
        /// Its preimage.
        preimage: PaymentPreimage,
    },
    /// Our HTLC's failure is irrevocably committed: fail it upstream.
    HtlcFailed {
        /// Our HTLC's id.
        id: u64,
        /// How the peer failed it.
        failure: HtlcFailure,
    },
    /// Our fulfill or fail of an incoming HTLC is irrevocably committed.
    IncomingHtlcResolved {
        /// The incoming HTLC's id.
        id: u64,
    },
    /// The peer revoked a commitment: store this for the penalty path
    /// (watchtower) before anything else.
    RevokedRemoteCommitment(RevokedCommitment),
    /// The channel is closing or closed.
    ChannelClosed {
        /// The channel.
        channel_id: ChannelId,
        /// Why and how.
        reason: CloseReason,
    },
}

/// An incoming HTLC handed to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingHtlc {
    /// The peer's id for it.
    pub id: u64,
    /// `amount_msat`.
    pub amount: Msat,
    /// `payment_hash`.
    pub payment_hash: PaymentHash,
    /// `cltv_expiry`.
    pub cltv_expiry: u32,
    /// The onion to peel.
    pub onion: OnionPacket,
    /// `blinded_path` `path_key`, if any.
    pub path_key: Option<PublicKey>,
}

/// How the peer failed our HTLC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HtlcFailure {
    /// `update_fail_htlc`: the encrypted reason to relay or decrypt.
    Reason(Vec<u8>),
    /// `update_fail_malformed_htlc`: relay as `update_fail_htlc` with this
    /// code and `sha256_of_onion` as data (BOLT 2).
    Malformed {
        /// `sha256_of_onion`.
        sha256_of_onion: [u8; 32],
        /// `failure_code`.
        failure_code: u16,
    },
    /// The channel closed and the HTLC was timed out on chain (or was not
    /// in the commitment that confirmed), irrevocably: there is no failure
    /// onion. A forwarding node answers upstream with
    /// `permanent_channel_failure`; a payer counts it as a failure of its
    /// first hop.
    OnChain,
}

/// A revoked commitment of the peer: what the penalty path needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedCommitment {
    /// The channel.
    pub channel_id: ChannelId,
    /// The commitment number.
    pub commitment_number: u64,
    /// Its txid.
    pub txid: Txid,
    /// The peer's `to_local` output (index, value), if not trimmed.
    pub to_local: Option<(u32, Sat)>,
    /// The CSV delay on that output (our `to_self_delay`).
    pub to_self_delay: u16,
    /// Its HTLC outputs.
    pub htlcs: Vec<RevokedHtlc>,
    /// The secret that, with our revocation basepoint secret, gives the
    /// revocation key. `Debug` redacts it.
    pub per_commitment_secret: PerCommitmentSecret,
}

/// An HTLC output of a (remote) commitment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedHtlc {
    /// The output index.
    pub output_index: u32,
    /// Offered or received by the commitment's owner (the peer).
    pub direction: HtlcDirection,
    /// The output value.
    pub amount: Sat,
    /// The payment hash.
    pub payment_hash: PaymentHash,
    /// The expiry.
    pub cltv_expiry: u32,
}

/// Why a channel closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// Mutual close: this transaction was broadcast.
    MutualClose {
        /// The closing transaction's txid.
        txid: Txid,
    },
    /// We broadcast our latest commitment.
    LocalForceClose {
        /// Its txid.
        txid: Txid,
    },
    /// The peer proved our state is old: we must not broadcast; waiting
    /// for the peer to close (its commitment pays us with
    /// `option_static_remotekey`).
    DataLoss,
    /// The channel was abandoned before it was funded (no money involved).
    Abandoned,
    /// The fundee gave up waiting for the funding transaction.
    FundingTimeout,
}
