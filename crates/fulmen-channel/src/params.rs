//! Negotiated channel facts: each side's announced parameters and keys, the
//! `channel_type`, and the shutdown-script rules.

use bitcoin::secp256k1::PublicKey;
use bitcoin::Script;
use fulmen_script::keys::Basepoints;
use fulmen_script::ChannelType;
use fulmen_types::{Feature, Features, Msat, Sat};

use crate::error::Violation;

/// What one side announced in `open_channel` / `accept_channel`. Each field
/// constrains the *other* side or that side's own commitment, as noted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelParams {
    /// `dust_limit_satoshis`: outputs below it are trimmed from this side's
    /// commitment.
    pub dust_limit: Sat,
    /// `max_htlc_value_in_flight_msat`: the most the other side may have
    /// offered to this side at once.
    pub max_htlc_value_in_flight: Msat,
    /// `channel_reserve_satoshis`: what the other side must keep.
    pub channel_reserve: Sat,
    /// `htlc_minimum_msat`: the smallest HTLC this side accepts.
    pub htlc_minimum: Msat,
    /// `to_self_delay`: the CSV delay on the other side's own outputs.
    pub to_self_delay: u16,
    /// `max_accepted_htlcs`: how many HTLCs the other side may offer.
    pub max_accepted_htlcs: u16,
}

/// One side's public channel keys (ours from [`crate::config::public_keys`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelPubkeys {
    /// `funding_pubkey`.
    pub funding_pubkey: PublicKey,
    /// `revocation_basepoint`.
    pub revocation_basepoint: PublicKey,
    /// `payment_basepoint`.
    pub payment_basepoint: PublicKey,
    /// `delayed_payment_basepoint`.
    pub delayed_payment_basepoint: PublicKey,
    /// `htlc_basepoint`.
    pub htlc_basepoint: PublicKey,
}

impl ChannelPubkeys {
    /// The four basepoints for BOLT 3 derivation.
    pub fn basepoints(&self) -> Basepoints {
        Basepoints {
            revocation: self.revocation_basepoint,
            payment: self.payment_basepoint,
            delayed_payment: self.delayed_payment_basepoint,
            htlc: self.htlc_basepoint,
        }
    }

    /// From the keys of an `open_channel` / `accept_channel`.
    pub fn from_wire(k: &fulmen_wire::ChannelKeys) -> Self {
        Self {
            funding_pubkey: k.funding_pubkey,
            revocation_basepoint: k.revocation_basepoint,
            payment_basepoint: k.payment_basepoint,
            delayed_payment_basepoint: k.delayed_payment_basepoint,
            htlc_basepoint: k.htlc_basepoint,
        }
    }

    /// The wire form with a first per-commitment point.
    pub fn to_wire(&self, first_per_commitment_point: PublicKey) -> fulmen_wire::ChannelKeys {
        fulmen_wire::ChannelKeys {
            funding_pubkey: self.funding_pubkey,
            revocation_basepoint: self.revocation_basepoint,
            payment_basepoint: self.payment_basepoint,
            delayed_payment_basepoint: self.delayed_payment_basepoint,
            htlc_basepoint: self.htlc_basepoint,
            first_per_commitment_point,
        }
    }
}

/// The negotiated `channel_type`: one of the two basic types BOLT 2 still
/// allows, optionally with `option_scid_alias`. `option_zeroconf` is not
/// supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelTypeInfo {
    /// The commitment format.
    pub base: ChannelType,
    /// `option_scid_alias` (bit 46): only aliases route to the channel.
    pub scid_alias: bool,
}

const STATIC_REMOTEKEY_BIT: usize = 12;
const ANCHORS_BIT: usize = 22;
const SCID_ALIAS_BIT: usize = 46;

impl ChannelTypeInfo {
    /// The `channel_type` feature bits (even bits, smallest bitmap).
    pub fn to_features(&self) -> Features {
        let mut f = Features::empty();
        f.set_bit(STATIC_REMOTEKEY_BIT);
        if self.base.has_anchors() {
            f.set_bit(ANCHORS_BIT);
        }
        if self.scid_alias {
            f.set_bit(SCID_ALIAS_BIT);
        }
        f
    }

    /// Parses a received `channel_type`, refusing anything but
    /// `static_remotekey` or `anchors_zero_fee_htlc_tx + static_remotekey`,
    /// each with or without `scid_alias` (BOLT 2 "Defined Channel Types").
    pub fn from_features(f: &Features) -> Result<Self, Violation> {
        let mut anchors = false;
        let mut static_remotekey = false;
        let mut scid_alias = false;
        for bit in f.bits() {
            match bit {
                STATIC_REMOTEKEY_BIT => static_remotekey = true,
                ANCHORS_BIT => anchors = true,
                SCID_ALIAS_BIT => scid_alias = true,
                _ => return Err(Violation::ChannelTypeUnsupported),
            }
        }
        if !static_remotekey {
            return Err(Violation::ChannelTypeUnsupported);
        }
        let base = if anchors {
            ChannelType::AnchorsZeroFeeHtlcTx
        } else {
            ChannelType::StaticRemoteKey
        };
        Ok(Self { base, scid_alias })
    }

    /// The funder's choice from both `init` feature vectors: anchors if both
    /// support them and we prefer them, else `static_remotekey`; with
    /// `scid_alias` if both support it, we want it, and the channel is not
    /// announced.
    pub fn choose(
        ours: &Features,
        theirs: &Features,
        prefer_anchors: bool,
        want_scid_alias: bool,
        announce: bool,
    ) -> Result<Self, Violation> {
        let both = |feat: Feature| ours.supports(feat) && theirs.supports(feat);
        let base = if prefer_anchors && both(Feature::AnchorsZeroFeeHtlcTx) {
            ChannelType::AnchorsZeroFeeHtlcTx
        } else if both(Feature::StaticRemoteKey) {
            ChannelType::StaticRemoteKey
        } else {
            return Err(Violation::NoCommonChannelType);
        };
        Ok(Self {
            base,
            scid_alias: want_scid_alias && !announce && both(Feature::ScidAlias),
        })
    }
}

/// Whether `script` is a `shutdown` `scriptpubkey` BOLT 2 allows: P2WPKH,
/// P2WSH, or (with `option_shutdown_anysegwit`) a witness program of
/// version 1 to 16 with a 2 to 40 byte push. `option_simple_close`'s
/// `OP_RETURN` forms are not accepted (we do not negotiate it).
pub fn is_valid_shutdown_script(script: &Script, anysegwit: bool) -> bool {
    let b = script.as_bytes();
    match b {
        [0x00, 0x14, rest @ ..] => rest.len() == 20,
        [0x00, 0x20, rest @ ..] => rest.len() == 32,
        [op, len, rest @ ..] if anysegwit && (0x51..=0x60).contains(op) => {
            let n = usize::from(*len);
            (2..=40).contains(&n) && rest.len() == n
        }
        _ => false,
    }
}

/// The largest funding without `option_support_large_channel`: 2^24 - 1.
pub const MAX_FUNDING_WITHOUT_LARGE: Sat = Sat((1 << 24) - 1);

/// The most HTLCs either side may accept (BOLT 2).
pub const MAX_ACCEPTED_HTLCS_LIMIT: u16 = 483;

/// The smallest `dust_limit_satoshis` BOLT 2 allows.
pub const MIN_DUST_LIMIT: Sat = Sat(354);

/// `cltv_expiry` values at or above this are times, not heights.
pub const CLTV_EXPIRY_LIMIT: u32 = 500_000_000;

/// The `BADONION` bit of a failure code.
pub const BADONION: u16 = 0x8000;

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::ScriptBuf;

    fn f(bits: &[usize]) -> Features {
        let mut f = Features::empty();
        for b in bits {
            f.set_bit(*b);
        }
        f
    }

    #[test]
    fn defined_channel_types_parse() {
        let t = ChannelTypeInfo::from_features(&f(&[12])).unwrap();
        assert_eq!(t.base, ChannelType::StaticRemoteKey);
        assert!(!t.scid_alias);
        let t = ChannelTypeInfo::from_features(&f(&[12, 22])).unwrap();
        assert_eq!(t.base, ChannelType::AnchorsZeroFeeHtlcTx);
        let t = ChannelTypeInfo::from_features(&f(&[12, 22, 46])).unwrap();
        assert!(t.scid_alias);
        assert_eq!(t.to_features(), f(&[12, 22, 46]));
    }

    #[test]
    fn undefined_channel_types_are_refused() {
        for bits in [
            &[][..],
            &[22],
            &[12, 50],
            &[13],
            &[12, 20],
            &[12, 22, 47],
            &[12, 100],
        ] {
            assert_eq!(
                ChannelTypeInfo::from_features(&f(bits)),
                Err(Violation::ChannelTypeUnsupported),
                "{bits:?}"
            );
        }
    }

    #[test]
    fn funder_choice() {
        let anchors = Features::empty()
            .with_optional(Feature::StaticRemoteKey)
            .with_optional(Feature::AnchorsZeroFeeHtlcTx)
            .with_optional(Feature::ScidAlias);
        let plain = Features::empty().with_optional(Feature::StaticRemoteKey);
        let t = ChannelTypeInfo::choose(&anchors, &anchors, true, true, false).unwrap();
        assert_eq!(t.base, ChannelType::AnchorsZeroFeeHtlcTx);
        assert!(t.scid_alias);
        let t = ChannelTypeInfo::choose(&anchors, &anchors, true, true, true).unwrap();
        assert!(!t.scid_alias, "never scid_alias on an announced channel");
        let t = ChannelTypeInfo::choose(&anchors, &plain, true, true, false).unwrap();
        assert_eq!(t.base, ChannelType::StaticRemoteKey);
        assert!(!t.scid_alias);
        let t = ChannelTypeInfo::choose(&anchors, &anchors, false, false, false).unwrap();
        assert_eq!(t.base, ChannelType::StaticRemoteKey);
        assert_eq!(
            ChannelTypeInfo::choose(&anchors, &Features::empty(), true, false, false),
            Err(Violation::NoCommonChannelType)
        );
    }

    #[test]
    fn shutdown_script_forms() {
        let s = |b: &[u8]| ScriptBuf::from_bytes(b.to_vec());
        let mut p2wpkh = vec![0x00, 0x14];
        p2wpkh.extend([1; 20]);
        let mut p2wsh = vec![0x00, 0x20];
        p2wsh.extend([1; 32]);
        let mut p2tr = vec![0x51, 0x20];
        p2tr.extend([1; 32]);
        assert!(is_valid_shutdown_script(&s(&p2wpkh), false));
        assert!(is_valid_shutdown_script(&s(&p2wsh), false));
        assert!(!is_valid_shutdown_script(&s(&p2tr), false));
        assert!(is_valid_shutdown_script(&s(&p2tr), true));
        assert!(!is_valid_shutdown_script(&s(&[0x51, 0x01, 0x00]), true));
        let mut v16 = vec![0x60, 40];
        v16.extend([0; 40]);
        assert!(is_valid_shutdown_script(&s(&v16), true));
        let mut too_long = vec![0x60, 41];
        too_long.extend([0; 41]);
        assert!(!is_valid_shutdown_script(&s(&too_long), true));
        // P2PKH, P2SH, OP_RETURN, truncated forms.
        let mut p2pkh = vec![0x76, 0xa9, 0x14];
        p2pkh.extend([0; 20]);
        p2pkh.extend([0x88, 0xac]);
        assert!(!is_valid_shutdown_script(&s(&p2pkh), true));
        assert!(!is_valid_shutdown_script(
            &s(&[0x6a, 0x06, 1, 2, 3, 4, 5, 6]),
            true
        ));
        assert!(!is_valid_shutdown_script(&s(&p2wpkh[..21]), false));
        assert!(!is_valid_shutdown_script(&s(&[]), true));
    }
}
