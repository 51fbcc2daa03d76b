//! The BOLT 2 receiver checks of `open_channel` and `accept_channel`, and
//! the parameters we announce in reply.
//!
//! Invalid points and signatures never reach here: `fulmen-wire` refuses
//! them while decoding (`WireError::InvalidPoint`, reaction
//! `FailChannel`).

use bitcoin::constants::ChainHash;
use bitcoin::Script;
use fulmen_types::{Msat, Sat, MAX_MONEY_SAT};
use fulmen_wire::{AcceptChannel, OpenChannel};

use crate::config::{ppm_of, ChannelConfig};
use crate::error::Violation;
use crate::params::{
    is_valid_shutdown_script, ChannelParams, ChannelTypeInfo, MAX_ACCEPTED_HTLCS_LIMIT,
    MAX_FUNDING_WITHOUT_LARGE, MIN_DUST_LIMIT,
};

/// The checks common to both messages ("Other fields have the same
/// requirements as their counterparts in `open_channel`").
pub(crate) fn check_params(
    p: &ChannelParams,
    funding: Sat,
    config: &ChannelConfig,
) -> Result<(), Violation> {
    // MUST fail: `to_self_delay` is unreasonably large.
    if p.to_self_delay > config.max_to_self_delay {
        return Err(Violation::ToSelfDelayTooLarge {
            delay: p.to_self_delay,
            max: config.max_to_self_delay,
        });
    }
    // MUST fail: `max_accepted_htlcs` is greater than 483.
    if p.max_accepted_htlcs > MAX_ACCEPTED_HTLCS_LIMIT {
        return Err(Violation::MaxAcceptedHtlcsTooLarge {
            value: p.max_accepted_htlcs,
        });
    }
    // MAY fail: it considers `max_accepted_htlcs` too small.
    if p.max_accepted_htlcs < config.min_peer_max_accepted_htlcs {
        return Err(Violation::MaxAcceptedHtlcsTooSmall {
            value: p.max_accepted_htlcs,
        });
    }
    // MUST fail: `dust_limit_satoshis` is greater than
    // `channel_reserve_satoshis`.
    if p.dust_limit > p.channel_reserve {
        return Err(Violation::DustLimitAboveReserve {
            dust_limit: p.dust_limit,
            reserve: p.channel_reserve,
        });
    }
    // MUST fail: `dust_limit_satoshis` is smaller than 354 satoshis.
    if p.dust_limit < MIN_DUST_LIMIT {
        return Err(Violation::DustLimitTooSmall {
            dust_limit: p.dust_limit,
        });
    }
    // MAY fail: it considers `dust_limit_satoshis` too large.
    if p.dust_limit > config.max_peer_dust_limit {
        return Err(Violation::DustLimitTooLarge {
            dust_limit: p.dust_limit,
            max: config.max_peer_dust_limit,
        });
    }
    // MAY fail: it considers `channel_reserve_satoshis` too large.
    if p.channel_reserve.0 > ppm_of(funding.0, config.max_peer_reserve_ppm) {
        return Err(Violation::ReserveTooLarge {
            reserve: p.channel_reserve,
        });
    }
    // MAY fail: it considers `htlc_minimum_msat` too large.
    if p.htlc_minimum > config.max_peer_htlc_minimum {
        return Err(Violation::HtlcMinimumTooLarge {
            htlc_minimum: p.htlc_minimum,
        });
    }
    // MAY fail: it considers `max_htlc_value_in_flight_msat` too small.
    let funding_msat = funding.checked_to_msat().unwrap_or(Msat::MAX);
    if p.max_htlc_value_in_flight.0 < ppm_of(funding_msat.0, config.min_peer_max_in_flight_ppm) {
        return Err(Violation::MaxInFlightTooSmall {
            value: p.max_htlc_value_in_flight,
        });
    }
    Ok(())
}

fn check_upfront(script: Option<&Script>, anysegwit: bool) -> Result<(), Violation> {
    match script {
        Some(s) if !s.is_empty() && !is_valid_shutdown_script(s, anysegwit) => {
            Err(Violation::InvalidUpfrontShutdownScript)
        }
        _ => Ok(()),
    }
}

/// The parameters of an `open_channel`.
pub(crate) fn open_params(open: &OpenChannel) -> ChannelParams {
    ChannelParams {
        dust_limit: open.dust_limit,
        max_htlc_value_in_flight: open.max_htlc_value_in_flight,
        channel_reserve: open.channel_reserve,
        htlc_minimum: open.htlc_minimum,
        to_self_delay: open.to_self_delay,
        max_accepted_htlcs: open.max_accepted_htlcs,
    }
}

/// The parameters of an `accept_channel`.
pub(crate) fn accept_params(accept: &AcceptChannel) -> ChannelParams {
    ChannelParams {
        dust_limit: accept.dust_limit,
        max_htlc_value_in_flight: accept.max_htlc_value_in_flight,
        channel_reserve: accept.channel_reserve,
        htlc_minimum: accept.htlc_minimum,
        to_self_delay: accept.to_self_delay,
        max_accepted_htlcs: accept.max_accepted_htlcs,
    }
}

/// The funder's and fundee's initial balances: `funding - push` and `push`.
pub(crate) fn initial_balances(funding: Sat, push: Msat) -> Option<(Msat, Msat)> {
    let total = funding.checked_to_msat()?;
    Some((total.checked_sub(push)?, push))
}

/// BOLT 2 `open_channel` receiver checks, in the order the spec lists
/// them. Returns the negotiated channel type.
pub(crate) fn check_open(
    open: &OpenChannel,
    our_chain: &ChainHash,
    config: &ChannelConfig,
    anysegwit: bool,
) -> Result<ChannelTypeInfo, Violation> {
    // MUST fail: the `chain_hash` value is set to a hash of a chain that is
    // unknown to the receiver.
    if open.chain_hash != *our_chain {
        return Err(Violation::UnknownChain);
    }
    // MUST fail: the message doesn't include a `channel_type`.
    let wire_type = open
        .tlvs
        .channel_type
        .as_ref()
        .ok_or(Violation::ChannelTypeMissing)?;
    // MUST fail: the `channel_type` is not suitable.
    let channel_type = ChannelTypeInfo::from_features(wire_type.features())?;
    let announce = open.channel_flags & 1 == 1;
    if announce && channel_type.scid_alias {
        return Err(Violation::ScidAliasOnPublicChannel);
    }
    if open.funding.0 > MAX_MONEY_SAT {
        return Err(Violation::FundingAboveMaxMoney {
            funding: open.funding,
        });
    }
    // MUST fail: `funding_satoshis` is greater than or equal to 2^24 and
    // the receiver does not support `option_support_large_channel`.
    if open.funding > MAX_FUNDING_WITHOUT_LARGE && !config.support_large_channel {
        return Err(Violation::LargeChannelNotSupported {
            funding: open.funding,
        });
    }
    // MUST fail: `push_msat` is greater than `funding_satoshis` * 1000.
    let (funder_msat, fundee_msat) = initial_balances(open.funding, open.push)
        .ok_or(Violation::PushExceedsFunding { push: open.push })?;
    // MUST fail: it considers `feerate_per_kw` too small for timely
    // processing or unreasonably large.
    if open.feerate_per_kw < config.min_feerate_per_kw
        || open.feerate_per_kw > config.max_feerate_per_kw
    {
        return Err(Violation::FeerateOutOfRange {
            feerate: open.feerate_per_kw,
            min: config.min_feerate_per_kw,
            max: config.max_feerate_per_kw,
        });
    }
    let params = open_params(open);
    check_params(&params, open.funding, config)?;
    // MUST fail: the funder's amount for the initial commitment transaction
    // is not sufficient for full fee payment (fee and anchors).
    let cost = initial_funder_cost(channel_type, open.feerate_per_kw)
        .and_then(Sat::checked_to_msat)
        .ok_or(Violation::FunderCannotPayFee)?;
    let funder_after_fee = funder_msat
        .checked_sub(cost)
        .ok_or(Violation::FunderCannotPayFee)?;
    // MUST fail: both `to_local` and `to_remote` amounts for the initial
    // commitment transaction are less than or equal to
    // `channel_reserve_satoshis`.
    let reserve = open.channel_reserve.checked_to_msat().unwrap_or(Msat::MAX);
    if funder_after_fee <= reserve && fundee_msat <= reserve {
        return Err(Violation::BothBalancesBelowReserve);
    }
    // MAY fail: `funding_satoshis` is too small.
    if open.funding < config.min_funding {
        return Err(Violation::FundingTooSmall {
            funding: open.funding,
            minimum: config.min_funding,
        });
    }
    check_upfront(open.tlvs.upfront_shutdown_script.as_deref(), anysegwit)?;
    Ok(channel_type)
}

/// The base fee and anchors of a commitment without HTLCs.
pub(crate) fn initial_funder_cost(t: ChannelTypeInfo, feerate: u32) -> Option<Sat> {
    let fee = fulmen_script::fees::commitment_fee(feerate, t.base, 0)?;
    let anchors = if t.base.has_anchors() {
        fulmen_script::fees::ANCHOR_OUTPUT_VALUE.checked_mul(2)?
    } else {
        Sat::ZERO
    };
    fee.checked_add(anchors)
}

/// BOLT 2 `accept_channel` receiver checks against the `open_channel` we
/// sent.
pub(crate) fn check_accept(
    accept: &AcceptChannel,
    open: &OpenChannel,
    config: &ChannelConfig,
    anysegwit: bool,
) -> Result<(), Violation> {
    // The `temporary_channel_id` MUST be the same as in `open_channel`.
    if accept.temporary_channel_id != open.temporary_channel_id {
        return Err(Violation::TemporaryChannelIdMismatch);
    }
    // MUST fail: the message doesn't include a `channel_type`.
    let theirs = accept
        .tlvs
        .channel_type
        .as_ref()
        .ok_or(Violation::ChannelTypeMissing)?;
    // MUST fail: `channel_type` does not match the `channel_type` from
    // `open_channel`.
    let ours = open
        .tlvs
        .channel_type
        .as_ref()
        .ok_or(Violation::ChannelTypeMismatch)?;
    if theirs.features() != ours.features() {
        return Err(Violation::ChannelTypeMismatch);
    }
    // MAY fail: `minimum_depth` is unreasonably large.
    if accept.minimum_depth > config.max_minimum_depth {
        return Err(Violation::MinimumDepthTooLarge {
            depth: accept.minimum_depth,
        });
    }
    // MUST fail: `channel_reserve_satoshis` is less than
    // `dust_limit_satoshis` within the `open_channel` message.
    if accept.channel_reserve < open.dust_limit {
        return Err(Violation::ReserveBelowDustLimit {
            reserve: accept.channel_reserve,
            dust_limit: open.dust_limit,
        });
    }
    // MUST fail: `channel_reserve_satoshis` from the `open_channel` message
    // is less than `dust_limit_satoshis`.
    if open.channel_reserve < accept.dust_limit {
        return Err(Violation::ReserveBelowDustLimit {
            reserve: open.channel_reserve,
            dust_limit: accept.dust_limit,
        });
    }
    check_params(&accept_params(accept), open.funding, config)?;
    check_upfront(accept.tlvs.upfront_shutdown_script.as_deref(), anysegwit)?;
    Ok(())
}

/// The parameters we announce for a channel of `funding`: as fundee,
/// `peer` is the funder's `open_channel` (our reserve covers its dust
/// limit, our dust limit stays within its reserve).
pub(crate) fn our_params(
    config: &ChannelConfig,
    funding: Sat,
    peer: Option<&ChannelParams>,
) -> ChannelParams {
    let mut dust_limit = config.dust_limit.max(MIN_DUST_LIMIT);
    let mut reserve = Sat(ppm_of(funding.0, config.reserve_ppm)).max(dust_limit);
    if let Some(p) = peer {
        dust_limit = dust_limit.min(p.channel_reserve).max(MIN_DUST_LIMIT);
        reserve = reserve.max(p.dust_limit).max(dust_limit);
    }
    let funding_msat = funding.checked_to_msat().unwrap_or(Msat::MAX);
    ChannelParams {
        dust_limit,
        max_htlc_value_in_flight: Msat(ppm_of(funding_msat.0, config.max_in_flight_ppm)),
        channel_reserve: reserve,
        htlc_minimum: config.htlc_minimum.max(Msat(1)),
        to_self_delay: config.to_self_delay,
        max_accepted_htlcs: config.max_accepted_htlcs.min(MAX_ACCEPTED_HTLCS_LIMIT),
    }
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
