//! What every call gets from the node: the context ([`Ctx`]: time, height,
//! secp context, the channel's secrets, our policy) and the policy itself
//! ([`ChannelConfig`]).
//!
//! The channel's private keys never live in the channel state (and so never
//! in its serialized form): the node derives them from its key tree at the
//! channel's key index ([`crate::Channel::key_index`]) and lends them
//! through [`ChannelSecrets`] for the duration of a call.

use core::fmt;

use bitcoin::secp256k1::{All, PublicKey, Secp256k1, SecretKey};
use fulmen_types::{Msat, Sat};

use crate::params::ChannelPubkeys;

/// The secret half of one channel's keys (BOLT 2 `open_channel` keys,
/// BOLT 3 "Key Derivation"). The node implements it over its wallet's
/// channel keys; [`ChannelSecretKeys`] is a plain implementation.
pub trait ChannelSecrets {
    /// The secret of `funding_pubkey`.
    fn funding_secret(&self) -> &SecretKey;
    /// `revocation_basepoint_secret`.
    fn revocation_basepoint_secret(&self) -> &SecretKey;
    /// `payment_basepoint_secret`.
    fn payment_basepoint_secret(&self) -> &SecretKey;
    /// `delayed_payment_basepoint_secret`.
    fn delayed_payment_basepoint_secret(&self) -> &SecretKey;
    /// `htlc_basepoint_secret`.
    fn htlc_basepoint_secret(&self) -> &SecretKey;
    /// The per-commitment seed (BOLT 3 `generate_from_seed`).
    fn per_commitment_seed(&self) -> &[u8; 32];
}

/// A plain [`ChannelSecrets`]. `Debug` never shows the secrets.
#[derive(Clone)]
pub struct ChannelSecretKeys {
    /// The secret of `funding_pubkey`.
    pub funding: SecretKey,
    /// `revocation_basepoint_secret`.
    pub revocation_basepoint: SecretKey,
    /// `payment_basepoint_secret`.
    pub payment_basepoint: SecretKey,
    /// `delayed_payment_basepoint_secret`.
    pub delayed_payment_basepoint: SecretKey,
    /// `htlc_basepoint_secret`.
    pub htlc_basepoint: SecretKey,
    /// The per-commitment seed.
    pub per_commitment_seed: [u8; 32],
}

impl fmt::Debug for ChannelSecretKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChannelSecretKeys(<redacted>)")
    }
}

impl ChannelSecrets for ChannelSecretKeys {
    fn funding_secret(&self) -> &SecretKey {
        &self.funding
    }
    fn revocation_basepoint_secret(&self) -> &SecretKey {
        &self.revocation_basepoint
    }
    fn payment_basepoint_secret(&self) -> &SecretKey {
        &self.payment_basepoint
    }
    fn delayed_payment_basepoint_secret(&self) -> &SecretKey {
        &self.delayed_payment_basepoint
    }
    fn htlc_basepoint_secret(&self) -> &SecretKey {
        &self.htlc_basepoint
    }
    fn per_commitment_seed(&self) -> &[u8; 32] {
        &self.per_commitment_seed
    }
}

/// The public keys of a [`ChannelSecrets`] (one point multiplication each:
/// call once per channel and keep the result).
pub fn public_keys(secp: &Secp256k1<All>, s: &dyn ChannelSecrets) -> ChannelPubkeys {
    ChannelPubkeys {
        funding_pubkey: PublicKey::from_secret_key(secp, s.funding_secret()),
        revocation_basepoint: PublicKey::from_secret_key(secp, s.revocation_basepoint_secret()),
        payment_basepoint: PublicKey::from_secret_key(secp, s.payment_basepoint_secret()),
        delayed_payment_basepoint: PublicKey::from_secret_key(
            secp,
            s.delayed_payment_basepoint_secret(),
        ),
        htlc_basepoint: PublicKey::from_secret_key(secp, s.htlc_basepoint_secret()),
    }
}

/// Our channel policy: what we ask of peers and what we accept from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Our `dust_limit_satoshis` (at least 354).
    pub dust_limit: Sat,
    /// The largest `dust_limit_satoshis` we accept from a peer.
    pub max_peer_dust_limit: Sat,
    /// The reserve we require of the peer, in millionths of the funding
    /// (10_000 = 1%, the BOLT 2 suggestion); never below both dust limits.
    pub reserve_ppm: u32,
    /// The largest reserve a peer may require of us, in millionths of the
    /// funding.
    pub max_peer_reserve_ppm: u32,
    /// Our `max_htlc_value_in_flight_msat`, in millionths of the funding.
    pub max_in_flight_ppm: u32,
    /// The smallest `max_htlc_value_in_flight_msat` we accept, in
    /// millionths of the funding.
    pub min_peer_max_in_flight_ppm: u32,
    /// Our `max_accepted_htlcs` (at most 483).
    pub max_accepted_htlcs: u16,
    /// The smallest `max_accepted_htlcs` we accept from a peer.
    pub min_peer_max_accepted_htlcs: u16,
    /// Our `to_self_delay`: the delay we impose on the peer's outputs.
    pub to_self_delay: u16,
    /// The largest `to_self_delay` we accept from a peer.
    pub max_to_self_delay: u16,
    /// Our `minimum_depth` (as fundee).
    pub minimum_depth: u32,
    /// The largest `minimum_depth` we accept (as funder).
    pub max_minimum_depth: u32,
    /// Our `htlc_minimum_msat`.
    pub htlc_minimum: Msat,
    /// The largest `htlc_minimum_msat` we accept from a peer.
    pub max_peer_htlc_minimum: Msat,
    /// The lowest commitment feerate we accept (sat per 1000 weight).
    pub min_feerate_per_kw: u32,
    /// The highest commitment feerate we accept.
    pub max_feerate_per_kw: u32,
    /// The smallest channel we accept.
    pub min_funding: Sat,
    /// Whether we support `option_support_large_channel`.
    pub support_large_channel: bool,
    /// Whether we use `option_anchors_zero_fee_htlc_tx` when the peer
    /// supports it (otherwise `option_static_remotekey`).
    pub prefer_anchors: bool,
    /// Whether we ask for `option_scid_alias` on unannounced channels.
    pub want_scid_alias: bool,
    /// As funder, keep a BOLT 2 "fee spike buffer" (twice the feerate) when
    /// offering HTLCs.
    pub fee_spike_buffer: bool,
    /// BOLT 2 `max_dust_htlc_exposure_msat`: the most we let HTLCs trimmed
    /// from a commitment (BOLT 3 "Trimmed Outputs") add up to, per
    /// commitment (ours and the peer's are counted apart). Dust HTLCs go to
    /// the miners if either commitment is broadcast, so this bounds what a
    /// force close can burn. We do not offer an HTLC that would pass it,
    /// flag a received one that does
    /// ([`crate::ledger::HtlcEntry::over_dust_exposure`]) so the node fails
    /// it, and refuse to send an `update_fee` whose higher feerate would
    /// trim HTLCs past it (without anchors only: with
    /// `option_anchors_zero_fee_htlc_tx` trimming does not depend on the
    /// feerate). See [`crate::dust`]. A matter of policy; the default,
    /// 50 000 000 msat (50 000 sat), is Core Lightning's
    /// `max-dust-htlc-exposure-msat` default: small payments still use a
    /// channel fully (483 HTLCs of 100 sat fit), while what a peer's fee
    /// griefing can burn stays bounded.
    pub max_dust_htlc_exposure: Msat,
    /// BOLT 2 `update_fee` receiver, without anchors: fail the channel when
    /// the funder's feerate increase trims more HTLCs and takes a dust
    /// balance past [`Self::max_dust_htlc_exposure`] ("MAY fail the
    /// channel"; BOLT 2 leaves closing preemptively to node policy). Off by
    /// default: the increase is what keeps a commitment without anchors
    /// confirmable, an honest funder triggers it whenever our own dust
    /// HTLCs cross its `update_fee`, and a force close would burn the dust
    /// at once; the add rules keep further dust out either way.
    pub fail_on_dust_fee_increase: bool,
    /// BOLT 2 `cltv_expiry_delta` deadline `G` for offered HTLCs: blocks
    /// after `cltv_expiry` before the channel is failed to time the HTLC
    /// out on chain.
    pub offered_htlc_grace_blocks: u32,
    /// BOLT 2 fulfillment deadline `2R+G+S`: blocks before `cltv_expiry` of
    /// an HTLC we fulfilled by which it must be off both commitments, else
    /// the channel is failed to claim it on chain.
    pub fulfill_deadline_blocks: u32,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            dust_limit: Sat(546),
            max_peer_dust_limit: Sat(20_000),
            reserve_ppm: 10_000,
            max_peer_reserve_ppm: 200_000,
            max_in_flight_ppm: 1_000_000,
            min_peer_max_in_flight_ppm: 10_000,
            max_accepted_htlcs: 483,
            min_peer_max_accepted_htlcs: 5,
            to_self_delay: 144,
            max_to_self_delay: 2016,
            minimum_depth: 3,
            max_minimum_depth: 144,
            htlc_minimum: Msat(1),
            max_peer_htlc_minimum: Msat(1_000_000),
            min_feerate_per_kw: 253,
            max_feerate_per_kw: 250_000,
            min_funding: Sat(20_000),
            support_large_channel: true,
            prefer_anchors: true,
            want_scid_alias: false,
            fee_spike_buffer: true,
            max_dust_htlc_exposure: Msat(50_000_000),
            fail_on_dust_fee_increase: false,
            offered_htlc_grace_blocks: 2,
            fulfill_deadline_blocks: 18,
        }
    }
}

/// Everything a call needs besides the channel and the message: time and
/// chain height are arguments, never read from a clock.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// Unix time in seconds.
    pub now: u64,
    /// The current block height.
    pub height: u32,
    /// A signing and verification context (create once, reuse).
    pub secp: &'a Secp256k1<All>,
    /// The channel's secrets.
    pub secrets: &'a dyn ChannelSecrets,
    /// Our policy.
    pub config: &'a ChannelConfig,
    /// The node's current on-chain feerate estimate (sat per 1000 weight),
    /// used for mutual-close fees.
    pub feerate_per_kw: u32,
}

impl fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("now", &self.now)
            .field("height", &self.height)
            .field("config", &self.config)
            .field("feerate_per_kw", &self.feerate_per_kw)
            .finish_non_exhaustive()
    }
}

/// `value * ppm / 1_000_000`, rounded down, without overflow.
pub(crate) fn ppm_of(value: u64, ppm: u32) -> u64 {
    let v = u128::from(value) * u128::from(ppm) / 1_000_000;
    u64::try_from(v).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let k = SecretKey::from_slice(&[0x42; 32]).unwrap();
        let s = ChannelSecretKeys {
            funding: k,
            revocation_basepoint: k,
            payment_basepoint: k,
            delayed_payment_basepoint: k,
            htlc_basepoint: k,
            per_commitment_seed: [0x42; 32],
        };
        let d = format!("{s:?}");
        assert!(!d.contains("42"));
    }

    #[test]
    fn ppm() {
        assert_eq!(ppm_of(1_000_000, 10_000), 10_000);
        assert_eq!(ppm_of(u64::MAX, 1_000_000), u64::MAX);
        assert_eq!(ppm_of(99, 10_000), 0);
    }
}
