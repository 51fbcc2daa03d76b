//! One channel's entry in the manager: the sans-IO channel, its peer, its
//! secrets (derived from the key tree at the channel's key index, never
//! stored), and the node-side bookkeeping of opening and closing; plus the
//! manager's policy ([`ChannelsConfig`]) and what `listchannels` shows
//! ([`ChannelInfo`]).

use bitcoin::secp256k1::SecretKey;
use bitcoin::Txid;
use fulmen_channel::{Channel, ChannelConfig, ChannelSecrets};
use fulmen_script::Side;
use fulmen_types::{ChannelId, Msat, NodeId, Sat, ShortChannelId};
use fulmen_wallet::keys::ChannelKeys;
use tokio::sync::oneshot;

use super::{CmError, OpenedChannel};

/// The manager's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelsConfig {
    /// The channel policy (limits we ask for and accept).
    pub channel: ChannelConfig,
    /// Most channels a peer may have opened to us that are not funded yet
    /// (waiting for `funding_created`, or for the funding transaction to
    /// confirm); more `open_channel`s are refused.
    pub max_unfunded_per_peer: usize,
    /// Most such channels over all peers.
    pub max_unfunded_total: usize,
    /// `min_final_cltv_expiry_delta` of our invoices (and what we require
    /// of a keysend payment).
    pub min_final_cltv_expiry_delta: u16,
    /// Seconds an invoice stays payable.
    pub invoice_expiry_secs: u64,
    /// Seconds the parts of a multi-part payment we receive may wait for
    /// the rest before all are failed with `mpp_timeout` (60, as BOLT 4
    /// suggests).
    pub mpp_timeout_secs: u64,
    /// What we charge and require to forward an HTLC (announced in our
    /// `channel_update`s).
    pub forwarding: ForwardingPolicy,
}

/// Our forwarding policy, the same on every channel (BOLT 7
/// `channel_update` fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardingPolicy {
    /// Flat fee per forwarded HTLC (1,000 msat).
    pub fee_base_msat: u32,
    /// Fee per million msat forwarded (1).
    pub fee_proportional_millionths: u32,
    /// Blocks between the incoming and the outgoing HTLC's expiry (40):
    /// the time we keep to claim the incoming HTLC on chain once the
    /// outgoing one is settled late.
    pub cltv_expiry_delta: u16,
    /// The smallest HTLC we forward (1 msat).
    pub htlc_minimum: Msat,
    /// An outgoing HTLC must expire at least this many blocks after the
    /// current height (`expiry_too_soon` otherwise; 12).
    pub min_outgoing_cltv_blocks: u32,
    /// ... and at most this many (`expiry_too_far` otherwise; 2016).
    pub max_outgoing_cltv_blocks: u32,
}

impl Default for ForwardingPolicy {
    fn default() -> Self {
        Self {
            fee_base_msat: 1_000,
            fee_proportional_millionths: 1,
            cltv_expiry_delta: 40,
            htlc_minimum: Msat(1),
            min_outgoing_cltv_blocks: 12,
            max_outgoing_cltv_blocks: 2016,
        }
    }
}

impl ForwardingPolicy {
    /// The fee for forwarding `amount` (`None` on overflow).
    pub fn fee_for(&self, amount: Msat) -> Option<Msat> {
        let prop = u128::from(amount.0)
            .checked_mul(u128::from(self.fee_proportional_millionths))?
            / 1_000_000;
        let prop = u64::try_from(prop).ok()?;
        prop.checked_add(u64::from(self.fee_base_msat)).map(Msat)
    }
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        Self {
            channel: ChannelConfig::default(),
            max_unfunded_per_peer: 4,
            max_unfunded_total: 64,
            min_final_cltv_expiry_delta: 80,
            invoice_expiry_secs: 3600,
            mpp_timeout_secs: super::mpp::MPP_TIMEOUT_SECS,
            forwarding: ForwardingPolicy::default(),
        }
    }
}

/// A channel's secrets, lent to the state machine through
/// [`ChannelSecrets`]. `Debug` shows only the key index.
pub(crate) struct WalletSecrets(pub(crate) ChannelKeys);

impl core::fmt::Debug for WalletSecrets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "WalletSecrets(index {})", self.0.index())
    }
}

impl ChannelSecrets for WalletSecrets {
    fn funding_secret(&self) -> &SecretKey {
        self.0.funding_secret()
    }
    fn revocation_basepoint_secret(&self) -> &SecretKey {
        self.0.revocation_basepoint_secret()
    }
    fn payment_basepoint_secret(&self) -> &SecretKey {
        self.0.payment_basepoint_secret()
    }
    fn delayed_payment_basepoint_secret(&self) -> &SecretKey {
        self.0.delayed_payment_basepoint_secret()
    }
    fn htlc_basepoint_secret(&self) -> &SecretKey {
        self.0.htlc_basepoint_secret()
    }
    fn per_commitment_seed(&self) -> &[u8; 32] {
        self.0.per_commitment_seed()
    }
}

/// One channel in the manager.
pub(crate) struct Slot {
    /// The peer.
    pub(crate) peer: NodeId,
    /// The state machine.
    pub(crate) chan: Channel,
    /// Its secrets.
    pub(crate) secrets: Box<dyn ChannelSecrets + Send>,
    /// Whether the store has a row for it.
    pub(crate) stored: bool,
    /// The funding transaction we built and reserved in the wallet, until
    /// it is broadcast (released if the opening is abandoned).
    pub(crate) reserved_funding: Option<Txid>,
    /// The `openchannel` caller, answered once the funding is broadcast.
    pub(crate) open_reply: Option<oneshot::Sender<Result<OpenedChannel, CmError>>>,
    /// `closechannel` callers, answered once the close is broadcast.
    pub(crate) close_replies: Vec<oneshot::Sender<Result<Txid, CmError>>>,
    /// The closing transaction broadcast (mutual or our commitment).
    pub(crate) close_txid: Option<(Txid, bool)>,
    /// The text of the last `error` the peer sent about it.
    pub(crate) peer_error: Option<String>,
    /// Where its BOLT 7 announcement stands.
    pub(crate) announcement: super::announce::AnnouncementState,
    /// It had HTLCs at the last write ([`crate::NodeEvent::ChannelSettled`]
    /// when the last one is gone).
    pub(crate) busy: bool,
}

impl Slot {
    pub(crate) fn new(
        peer: NodeId,
        chan: Channel,
        secrets: Box<dyn ChannelSecrets + Send>,
    ) -> Self {
        Self {
            peer,
            chan,
            secrets,
            stored: false,
            reserved_funding: None,
            open_reply: None,
            close_replies: Vec::new(),
            close_txid: None,
            peer_error: None,
            announcement: Default::default(),
            busy: false,
        }
    }

    /// Whether the channel has a funding outpoint, so that its state must
    /// be stored (earlier phases live in memory only).
    pub(crate) fn persistable(&self) -> bool {
        match &self.chan {
            Channel::OutboundOpening(_) | Channel::InboundOpening(_) => false,
            Channel::Closed(_) => self.stored,
            _ => true,
        }
    }

    /// Whether the peer opened it and it is not funded yet (counts against
    /// the unfunded-channel caps).
    pub(crate) fn is_unfunded_inbound(&self) -> bool {
        match &self.chan {
            Channel::InboundOpening(_) => true,
            Channel::AwaitingFunding(a) => {
                a.est.core.funder == Side::Remote && a.confirmation.is_none()
            }
            _ => false,
        }
    }

    /// What `listchannels` shows.
    pub(crate) fn info(&self, channel_id: ChannelId, connected: bool) -> ChannelInfo {
        let chan = &self.chan;
        let est = chan.established();
        let (capacity, funder, funding_txid, scid) = match (est, chan) {
            (Some(e), _) => (
                e.core.funding,
                Some(e.core.funder),
                Some(e.core.funding_outpoint.txid),
                e.short_channel_id,
            ),
            (None, Channel::AwaitingFundingSigned(a)) => (
                a.core.funding,
                Some(a.core.funder),
                Some(a.core.funding_outpoint.txid),
                None,
            ),
            (None, Channel::InboundOpening(i)) => (i.core.funding, Some(i.core.funder), None, None),
            _ => (Sat(0), None, None, None),
        };
        let (local, remote) = chan.balances().unwrap_or((Msat(0), Msat(0)));
        let htlcs = est.map_or(0, |e| e.ledger.htlcs().count());
        let feerate_per_kw = est.and_then(|e| {
            e.ledger
                .spec(Side::Local, fulmen_channel::ledger::View::Current)
                .ok()
                .map(|s| s.feerate)
        });
        ChannelInfo {
            channel_id,
            short_channel_id: scid,
            peer_id: self.peer,
            state: state_name(chan),
            phase: chan.phase(),
            capacity,
            local_balance: local,
            remote_balance: remote,
            funder_is_local: funder.map(|f| f == Side::Local),
            funding_txid,
            close_txid: self.close_txid.map(|(t, _)| t),
            htlcs,
            feerate_per_kw,
            connected,
            onchain: None,
        }
    }
}

/// A channel resolved on chain, as `listchannels` shows it: how its
/// funding output was spent and what is still to be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnchainInfo {
    /// The transaction that spent the funding output.
    pub spend_txid: Txid,
    /// What it is: `local_commitment`, `remote_commitment`,
    /// `revoked_commitment`, `future_commitment`, `mutual_close` or
    /// `unknown`.
    pub kind: &'static str,
    /// The height of the block holding it.
    pub confirmed_at: u32,
    /// Outputs still to take (or to be resolved by the peer).
    pub pending: Vec<PendingClaim>,
}

/// One output still pending on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingClaim {
    /// The output.
    pub outpoint: bitcoin::OutPoint,
    /// Its value.
    pub value: Sat,
    /// `to_local`, `to_remote`, `htlc_success`, `htlc_timeout`,
    /// `revoked` or `anchor`.
    pub kind: &'static str,
    /// The first block that can include our spend.
    pub ready_height: u32,
    /// From this height the peer may take it, if ever.
    pub deadline_height: Option<u32>,
}

/// The `state` of `listchannels`: `opening`, `normal`, `shutting_down`,
/// `closing` or `closed`.
pub fn state_name(chan: &Channel) -> &'static str {
    match chan {
        Channel::OutboundOpening(_)
        | Channel::InboundOpening(_)
        | Channel::AwaitingFundingSigned(_)
        | Channel::AwaitingFunding(_) => "opening",
        Channel::Normal(_) => "normal",
        Channel::ShuttingDown(_) | Channel::Negotiating(_) => "shutting_down",
        Channel::Closing(_) => "closing",
        Channel::Closed(_) => "closed",
    }
}

/// One channel as `listchannels` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// The channel id (temporary while opening).
    pub channel_id: ChannelId,
    /// The confirmed funding's short channel id.
    pub short_channel_id: Option<ShortChannelId>,
    /// The peer.
    pub peer_id: NodeId,
    /// `opening`, `normal`, `shutting_down`, `closing` or `closed`.
    pub state: &'static str,
    /// The state machine's phase (finer than `state`).
    pub phase: &'static str,
    /// The funding amount.
    pub capacity: Sat,
    /// Our balance in our latest commitment (HTLCs excluded, before fees).
    pub local_balance: Msat,
    /// The peer's balance there.
    pub remote_balance: Msat,
    /// Whether we funded it (unknown before the peer answered).
    pub funder_is_local: Option<bool>,
    /// The funding transaction.
    pub funding_txid: Option<Txid>,
    /// The closing transaction we broadcast.
    pub close_txid: Option<Txid>,
    /// HTLCs in flight.
    pub htlcs: usize,
    /// The feerate of our latest commitment (sat per 1,000 weight), once
    /// funded.
    pub feerate_per_kw: Option<u32>,
    /// Whether messages flow: the peer is connected and, for a funded
    /// channel, `channel_reestablish` was exchanged.
    pub connected: bool,
    /// Once its funding output is spent: the resolution on chain.
    pub onchain: Option<OnchainInfo>,
}
