//! The data the phases share: [`ChannelCore`] (fixed at opening) and
//! [`Established`] (the commitments of a funded channel).

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::PublicKey;
use bitcoin::{OutPoint, ScriptBuf, Txid};
use fulmen_script::commitment::ObscuringFactor;
use fulmen_script::shachain::SecretStore;
use fulmen_script::Side;
use fulmen_types::{ChannelId, Msat, Sat, ShortChannelId};

use crate::events::RevokedHtlc;
use crate::ledger::Ledger;
use crate::params::{ChannelParams, ChannelPubkeys, ChannelTypeInfo};

/// Facts fixed when both `open_channel` and `accept_channel` are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelCore {
    /// The chain.
    pub chain_hash: ChainHash,
    /// The id used before the funding outpoint was known.
    pub temporary_channel_id: ChannelId,
    /// The funding-derived id (the temporary one until `funding_created`).
    pub channel_id: ChannelId,
    /// Who opened and funds the channel (`Local`: us).
    pub funder: Side,
    /// The negotiated `channel_type`.
    pub channel_type: ChannelTypeInfo,
    /// `announce_channel`.
    pub announce: bool,
    /// `funding_satoshis`.
    pub funding: Sat,
    /// `push_msat`.
    pub push: Msat,
    /// The `feerate_per_kw` of `open_channel`.
    pub initial_feerate: u32,
    /// The funding outpoint (null until `funding_created`).
    pub funding_outpoint: OutPoint,
    /// The node's channel key index: what the node needs to re-derive
    /// [`crate::ChannelSecrets`].
    pub key_index: u64,
    /// Our public keys.
    pub local_keys: ChannelPubkeys,
    /// The peer's public keys.
    pub remote_keys: ChannelPubkeys,
    /// What we announced.
    pub local_params: ChannelParams,
    /// What the peer announced.
    pub remote_params: ChannelParams,
    /// `minimum_depth` (the fundee's).
    pub minimum_depth: u32,
    /// Where our mutual-close funds go.
    pub local_shutdown_script: ScriptBuf,
    /// Whether we committed to `local_shutdown_script` upfront.
    pub local_upfront: bool,
    /// The peer's non-empty `upfront_shutdown_script`.
    pub remote_upfront_script: Option<ScriptBuf>,
    /// `option_shutdown_anysegwit` negotiated.
    pub anysegwit: bool,
    /// Our `short_channel_id` alias.
    pub local_alias: ShortChannelId,
}

impl ChannelCore {
    /// The 2-of-2 witness script of the funding output.
    pub fn funding_script(&self) -> ScriptBuf {
        fulmen_script::scripts::funding_script(
            &self.local_keys.funding_pubkey,
            &self.remote_keys.funding_pubkey,
        )
    }

    /// The funding output's scriptPubKey.
    pub fn funding_script_pubkey(&self) -> ScriptBuf {
        fulmen_script::scripts::p2wsh(&self.funding_script())
    }

    /// The commitment-number obscuring factor (opener's basepoint first).
    pub fn obscuring_factor(&self) -> ObscuringFactor {
        let (opener, accepter) = match self.funder {
            Side::Local => (&self.local_keys, &self.remote_keys),
            Side::Remote => (&self.remote_keys, &self.local_keys),
        };
        ObscuringFactor::new(&opener.payment_basepoint, &accepter.payment_basepoint)
    }

    /// The parameters that govern `owner`'s commitment: its dust limit and
    /// the delay on its outputs (set by the other side).
    pub fn commitment_rules(&self, owner: Side) -> (Sat, u16) {
        match owner {
            Side::Local => (
                self.local_params.dust_limit,
                self.remote_params.to_self_delay,
            ),
            Side::Remote => (
                self.remote_params.dust_limit,
                self.local_params.to_self_delay,
            ),
        }
    }

    /// The reserve `side` must keep (set by the other side).
    pub fn reserve_of(&self, side: Side) -> Sat {
        match side {
            Side::Local => self.remote_params.channel_reserve,
            Side::Remote => self.local_params.channel_reserve,
        }
    }
}

/// Our latest commitment, as the peer signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCommit {
    /// Its number.
    pub number: u64,
    /// The peer's signature of it.
    pub remote_signature: Signature,
    /// The peer's signatures of our HTLC transactions, in output order.
    pub remote_htlc_signatures: Vec<Signature>,
}

/// A commitment of the peer that we signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCommit {
    /// Its number.
    pub number: u64,
    /// The peer's per-commitment point for it.
    pub point: PublicKey,
    /// Its txid.
    pub txid: Txid,
    /// The peer's `to_local` output (index, value), if any.
    pub to_local: Option<(u32, Sat)>,
    /// Its HTLC outputs.
    pub htlcs: Vec<RevokedHtlc>,
}

/// The peer's revealed per-commitment secrets.
#[derive(Debug, Clone, Default)]
pub struct PeerSecrets(pub SecretStore);

impl PartialEq for PeerSecrets {
    fn eq(&self, other: &Self) -> bool {
        self.0.next_index() == other.0.next_index()
            && self
                .0
                .entries()
                .zip(other.0.entries())
                .all(|(a, b)| a.0 == b.0 && a.1.ct_eq(&b.1))
            && self.0.entries().count() == other.0.entries().count()
    }
}

impl Eq for PeerSecrets {}

/// The transport as the channel sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// No connection.
    Disconnected,
    /// We sent `channel_reestablish` and wait for the peer's.
    AwaitingReestablish,
    /// Messages flow.
    Connected,
}

/// Which of our two retransmittable messages we sent last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastSent {
    /// `commitment_signed` came after our last `revoke_and_ack`.
    Commit,
    /// `revoke_and_ack` came after our last `commitment_signed`.
    Revoke,
}

/// A funded channel's commitments and bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Established {
    /// The fixed facts.
    pub core: ChannelCore,
    /// HTLCs, fees and balances.
    pub ledger: Ledger,
    /// Our latest commitment.
    pub local_commit: LocalCommit,
    /// Our per-commitment point for commitment `local_commit.number + 1`
    /// (sent to the peer already; kept to spare a point multiplication).
    pub local_next_point: PublicKey,
    /// The peer's latest commitment.
    pub remote_commit: RemoteCommit,
    /// The peer's previous commitment while its revocation is owed.
    pub remote_prev: Option<RemoteCommit>,
    /// The point for the peer's next commitment (`None` while a
    /// revocation is owed or before `channel_ready`).
    pub remote_next_point: Option<PublicKey>,
    /// The peer's revealed secrets.
    pub remote_secrets: PeerSecrets,
    /// Order of our last commitment/revocation.
    pub last_sent: LastSent,
    /// Connection state.
    pub link: Link,
    /// The real short channel id, once confirmed.
    pub short_channel_id: Option<ShortChannelId>,
    /// The peer's alias.
    pub remote_alias: Option<ShortChannelId>,
}

impl Established {
    /// The commitment number of the next `revoke_and_ack` we expect.
    pub fn next_revocation_number(&self) -> u64 {
        match &self.remote_prev {
            Some(prev) => prev.number,
            None => self.remote_commit.number,
        }
    }

    /// Whether nothing is in flight: no HTLC, no pending update, no owed
    /// revocation.
    pub fn is_quiescent(&self) -> bool {
        self.ledger.is_clean() && self.remote_prev.is_none()
    }
}
