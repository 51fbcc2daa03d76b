//! BOLT 3 expected weights, fees and trimming ("Fees", "Trimmed Outputs",
//! "Dust Limits", Appendix A).
//!
//! Fees are always `feerate_per_kw * weight / 1000`, rounded down, where the
//! weight is the spec's *expected* weight, not the real one.

use bitcoin::Script;
use fulmen_types::{Msat, Sat};

use crate::channel::{ChannelType, HtlcDirection};

/// Expected commitment weight without HTLC outputs, no anchors.
pub const COMMITMENT_WEIGHT: u64 = 724;
/// Expected commitment weight without HTLC outputs, with anchors.
pub const COMMITMENT_WEIGHT_ANCHORS: u64 = 1124;
/// Weight each untrimmed HTLC output adds to a commitment.
pub const HTLC_OUTPUT_WEIGHT: u64 = 172;
/// Expected HTLC-timeout weight, no anchors.
pub const HTLC_TIMEOUT_WEIGHT: u64 = 663;
/// Expected HTLC-timeout weight, with anchors (its fee is zero all the same).
pub const HTLC_TIMEOUT_WEIGHT_ANCHORS: u64 = 666;
/// Expected HTLC-success weight, no anchors.
pub const HTLC_SUCCESS_WEIGHT: u64 = 703;
/// Expected HTLC-success weight, with anchors (its fee is zero all the same).
pub const HTLC_SUCCESS_WEIGHT_ANCHORS: u64 = 706;
/// The value of each anchor output.
pub const ANCHOR_OUTPUT_VALUE: Sat = Sat(330);

/// `feerate_per_kw * weight / 1000`, rounded down; `None` on overflow.
pub fn fee_for_weight(feerate_per_kw: u32, weight: u64) -> Option<Sat> {
    u64::from(feerate_per_kw)
        .checked_mul(weight)
        .map(|w| Sat(w / 1000))
}

/// The expected weight of a commitment with `untrimmed_htlcs` HTLC outputs;
/// `None` on overflow.
pub fn commitment_weight(channel_type: ChannelType, untrimmed_htlcs: usize) -> Option<u64> {
    let base = if channel_type.has_anchors() {
        COMMITMENT_WEIGHT_ANCHORS
    } else {
        COMMITMENT_WEIGHT
    };
    u64::try_from(untrimmed_htlcs)
        .ok()?
        .checked_mul(HTLC_OUTPUT_WEIGHT)?
        .checked_add(base)
}

/// The base fee of a commitment (what the funder pays, anchors excluded);
/// `None` on overflow.
pub fn commitment_fee(
    feerate_per_kw: u32,
    channel_type: ChannelType,
    untrimmed_htlcs: usize,
) -> Option<Sat> {
    fee_for_weight(
        feerate_per_kw,
        commitment_weight(channel_type, untrimmed_htlcs)?,
    )
}

/// The fee of an HTLC-timeout transaction: zero with anchors.
pub fn htlc_timeout_fee(feerate_per_kw: u32, channel_type: ChannelType) -> Sat {
    if channel_type.has_anchors() {
        Sat::ZERO
    } else {
        // 663 * u32::MAX fits in u64.
        fee_for_weight(feerate_per_kw, HTLC_TIMEOUT_WEIGHT).unwrap_or(Sat::MAX)
    }
}

/// The fee of an HTLC-success transaction: zero with anchors.
pub fn htlc_success_fee(feerate_per_kw: u32, channel_type: ChannelType) -> Sat {
    if channel_type.has_anchors() {
        Sat::ZERO
    } else {
        fee_for_weight(feerate_per_kw, HTLC_SUCCESS_WEIGHT).unwrap_or(Sat::MAX)
    }
}

/// The fee of the second-stage transaction resolving an HTLC of this
/// direction on its owner's commitment (timeout if offered, success if
/// received).
pub fn second_stage_fee(
    direction: HtlcDirection,
    feerate_per_kw: u32,
    channel_type: ChannelType,
) -> Sat {
    match direction {
        HtlcDirection::Offered => htlc_timeout_fee(feerate_per_kw, channel_type),
        HtlcDirection::Received => htlc_success_fee(feerate_per_kw, channel_type),
    }
}

/// Whether an HTLC is trimmed from its owner's commitment: its amount in
/// whole satoshis, minus the fee of its second-stage transaction, is below
/// the owner's `dust_limit_satoshis`.
pub fn is_htlc_trimmed(
    direction: HtlcDirection,
    amount: Msat,
    dust_limit: Sat,
    feerate_per_kw: u32,
    channel_type: ChannelType,
) -> bool {
    let fee = second_stage_fee(direction, feerate_per_kw, channel_type);
    match dust_limit.checked_add(fee) {
        Some(threshold) => amount.to_sat_floor() < threshold,
        None => true,
    }
}

/// Bitcoin Core's dust threshold for an output script (BOLT 3 "Dust
/// Limits"): below it, an output does not relay. `OP_RETURN` outputs are
/// never dust.
pub fn dust_threshold(script_pubkey: &Script) -> Sat {
    if script_pubkey.is_op_return() {
        Sat::ZERO
    } else if script_pubkey.is_p2pkh() {
        Sat(546)
    } else if script_pubkey.is_p2sh() {
        Sat(540)
    } else if script_pubkey.is_p2wpkh() {
        Sat(294)
    } else if script_pubkey.is_p2wsh() {
        Sat(330)
    } else if is_pay_to_anchor(script_pubkey) {
        Sat(240)
    } else if script_pubkey.is_witness_program() {
        Sat(354)
    } else {
        // Not a standard output type; p2pkh's threshold is the most common
        // conservative choice.
        Sat(546)
    }
}

fn is_pay_to_anchor(script: &Script) -> bool {
    script.as_bytes() == [0x51, 0x02, 0x4e, 0x73]
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;
    use bitcoin::ScriptBuf;

    #[test]
    fn fee_example_from_the_spec() {
        // BOLT 3 "Fees" example: feerate 5000, dust 546.
        let t = ChannelType::StaticRemoteKey;
        assert_eq!(htlc_timeout_fee(5000, t), Sat(3315));
        assert_eq!(htlc_success_fee(5000, t), Sat(3515));
        let dust = Sat(546);
        assert!(!is_htlc_trimmed(
            HtlcDirection::Offered,
            Msat(5_000_000),
            dust,
            5000,
            t
        ));
        assert!(is_htlc_trimmed(
            HtlcDirection::Offered,
            Msat(1_000_000),
            dust,
            5000,
            t
        ));
        assert!(!is_htlc_trimmed(
            HtlcDirection::Received,
            Msat(7_000_000),
            dust,
            5000,
            t
        ));
        assert!(is_htlc_trimmed(
            HtlcDirection::Received,
            Msat(800_000),
            dust,
            5000,
            t
        ));
        assert_eq!(commitment_weight(t, 2), Some(1068));
        assert_eq!(commitment_fee(5000, t, 2), Some(Sat(5340)));
    }

    #[test]
    fn anchors_have_zero_fee_htlcs() {
        let t = ChannelType::AnchorsZeroFeeHtlcTx;
        assert_eq!(htlc_timeout_fee(u32::MAX, t), Sat::ZERO);
        assert_eq!(htlc_success_fee(u32::MAX, t), Sat::ZERO);
        assert_eq!(commitment_weight(t, 0), Some(1124));
        // The msat part is ignored: 545.999 sat is below a 546 limit.
        assert!(is_htlc_trimmed(
            HtlcDirection::Offered,
            Msat(545_999),
            Sat(546),
            0,
            t
        ));
        assert!(!is_htlc_trimmed(
            HtlcDirection::Offered,
            Msat(546_000),
            Sat(546),
            0,
            t
        ));
    }

    #[test]
    fn overflow_is_none() {
        assert_eq!(
            commitment_weight(ChannelType::StaticRemoteKey, usize::MAX),
            None
        );
        assert!(is_htlc_trimmed(
            HtlcDirection::Offered,
            Msat(u64::MAX),
            Sat(u64::MAX),
            1,
            ChannelType::StaticRemoteKey
        ));
    }

    #[test]
    fn dust_thresholds() {
        let h20 = [0u8; 20];
        let p2pkh = ScriptBuf::new_p2pkh(&bitcoin::PubkeyHash::from_byte_array(h20));
        let p2sh = ScriptBuf::new_p2sh(&bitcoin::ScriptHash::from_byte_array(h20));
        let p2wpkh = ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array(h20));
        let p2wsh = ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::from_byte_array([0; 32]));
        let p2tr = ScriptBuf::from_bytes([&[0x51, 0x20][..], &[1; 32]].concat());
        let p2a = ScriptBuf::from_bytes(vec![0x51, 0x02, 0x4e, 0x73]);
        let op_return = ScriptBuf::new_op_return([1u8, 2, 3]);
        assert_eq!(dust_threshold(&p2pkh), Sat(546));
        assert_eq!(dust_threshold(&p2sh), Sat(540));
        assert_eq!(dust_threshold(&p2wpkh), Sat(294));
        assert_eq!(dust_threshold(&p2wsh), Sat(330));
        assert_eq!(dust_threshold(&p2tr), Sat(354));
        assert_eq!(dust_threshold(&p2a), Sat(240));
        assert_eq!(dust_threshold(&op_return), Sat(0));
    }
}
