//! Mapping a node's `sendrawtransaction` error back to a typed [`TxReject`].
//!
//! Core's message is its reject reason, sometimes followed by details (`, X < Y` or
//! ` (script error)`). Reasons that carry no data map to their variant; `in-belowout`,
//! `min relay fee not met`, `insufficient fee` (in the embedded chain's form), the replacement
//! count and premature coinbase spends are parsed for their numbers; reasons
//! whose data the message does not carry (missing inputs, mempool conflicts: which outpoint) are
//! completed by the client from the transaction (see `client.rs`), and everything else is kept as
//! [`TxReject::Other`] with the node's code and message.

use bitcoin::Amount;

use super::error::{RpcError, RPC_VERIFY_ALREADY_IN_CHAIN};
use crate::error::{NonStandard, TxReject};

/// The reject reason token at the start of a message.
fn token(message: &str) -> &str {
    let end = message.find([',', ' ', ':']).unwrap_or(message.len());
    message.get(..end).unwrap_or(message)
}

/// The two numbers of `reason, X < Y`.
fn pair(message: &str) -> Option<(u64, u64)> {
    let (_, rest) = message.split_once(", ")?;
    let (a, b) = rest.split_once(" < ")?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The typed rejection for a node's error, as far as the message allows.
pub fn reject_from_rpc(e: &RpcError) -> TxReject {
    let other = || TxReject::Other {
        code: e.code,
        message: e.message.clone(),
    };
    let nonstandard = |n| TxReject::NonStandard(n);
    match token(&e.message) {
        "bad-txns-vin-empty" => TxReject::NoInputs,
        "bad-txns-vout-empty" => TxReject::NoOutputs,
        "bad-txns-oversize" => TxReject::Oversize,
        "bad-txns-vout-toolarge" => TxReject::OutputTooLarge,
        "bad-txns-txouttotal-toolarge" => TxReject::OutputTotalTooLarge,
        "bad-txns-inputs-duplicate" => TxReject::DuplicateInputs,
        "bad-cb-length" => TxReject::BadCoinbaseLength,
        "bad-txns-prevout-null" => TxReject::NullPrevout,
        "coinbase" => TxReject::Coinbase,
        "version" => nonstandard(NonStandard::Version),
        "tx-size" => nonstandard(NonStandard::TxSize),
        "tx-size-small" => nonstandard(NonStandard::TxSizeSmall),
        "scriptsig-size" => nonstandard(NonStandard::ScriptSigSize),
        "scriptsig-not-pushonly" => nonstandard(NonStandard::ScriptSigNotPushOnly),
        "scriptpubkey" => nonstandard(NonStandard::ScriptPubKey),
        "dust" => nonstandard(NonStandard::Dust),
        "multi-op-return" => nonstandard(NonStandard::MultiOpReturn),
        "bad-txns-nonstandard-inputs" => nonstandard(NonStandard::NonStandardInputs),
        "bad-witness-nonstandard" => nonstandard(NonStandard::WitnessNonStandard),
        "non-final" => TxReject::NonFinal,
        "non-BIP68-final" => TxReject::NonBip68Final,
        "txn-already-in-mempool" => TxReject::AlreadyInMempool,
        "txn-same-nonwitness-data-in-mempool" => TxReject::SameNonWitnessDataInMempool,
        "txn-already-known" => TxReject::AlreadyInChain,
        "bad-txns-inputvalues-outofrange" => TxReject::InputValuesOutOfRange,
        "bad-txns-in-belowout" => match pair(&e.message) {
            Some((i, o)) => TxReject::InBelowOut {
                value_in: Amount::from_sat(i),
                value_out: Amount::from_sat(o),
            },
            None => other(),
        },
        "min" if e.message.starts_with("min relay fee not met") => match pair(&e.message) {
            Some((fee, min)) => TxReject::MinRelayFee {
                fee: Amount::from_sat(fee),
                min_fee: Amount::from_sat(min),
            },
            None => other(),
        },
        "insufficient" if e.message.starts_with("insufficient fee") => match pair(&e.message) {
            Some((fee, min)) => TxReject::InsufficientFee {
                fee: Amount::from_sat(fee),
                min_fee: Amount::from_sat(min),
            },
            None => other(),
        },
        "too" if e.message.starts_with("too many potential replacements") => e
            .message
            .rsplit_once('(')
            .and_then(|(_, n)| n.split(' ').next()?.parse().ok())
            .map_or_else(other, |evictions| TxReject::TooManyReplacements {
                evictions,
            }),
        "replacement-adds-unconfirmed" => TxReject::ReplacementAddsUnconfirmed,
        "bad-txns-spends-conflicting-tx" => TxReject::SpendsConflictingTx,
        "bad-txns-premature-spend-of-coinbase" => e
            .message
            .rsplit_once("depth ")
            .and_then(|(_, d)| d.trim().parse().ok())
            .map_or_else(other, |depth| TxReject::PrematureCoinbaseSpend { depth }),
        _ if e.code == RPC_VERIFY_ALREADY_IN_CHAIN => TxReject::AlreadyInChain,
        _ => other(),
    }
}

/// Whether the rejection is about inputs that are missing or already spent (data to complete).
pub(crate) fn is_missing_inputs(e: &RpcError) -> bool {
    matches!(
        token(&e.message),
        "bad-txns-inputs-missingorspent" | "missing-inputs" | "missingorspent"
    )
}

/// Whether the rejection is a mempool conflict (data to complete).
pub(crate) fn is_mempool_conflict(e: &RpcError) -> bool {
    token(&e.message) == "txn-mempool-conflict"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TxReject as R;

    fn map(code: i32, msg: &str) -> TxReject {
        reject_from_rpc(&RpcError::new(code, msg))
    }

    #[test]
    fn round_trips_the_embedded_chain_messages() {
        let cases = [
            R::NoInputs,
            R::NonFinal,
            R::NonBip68Final,
            R::AlreadyInMempool,
            R::AlreadyInChain,
            R::NonStandard(NonStandard::Dust),
            R::InBelowOut {
                value_in: Amount::from_sat(5),
                value_out: Amount::from_sat(7),
            },
            R::MinRelayFee {
                fee: Amount::from_sat(100),
                min_fee: Amount::from_sat(141),
            },
            R::PrematureCoinbaseSpend { depth: 42 },
            R::InsufficientFee {
                fee: Amount::from_sat(1_000),
                min_fee: Amount::from_sat(1_211),
            },
            R::TooManyReplacements { evictions: 101 },
            R::ReplacementAddsUnconfirmed,
            R::SpendsConflictingTx,
        ];
        for r in cases {
            let e = RpcError::from(&r);
            assert_eq!(reject_from_rpc(&e), r, "{e}");
        }
    }

    #[test]
    fn unknown_or_dataful_reasons_stay_other() {
        assert_eq!(
            map(
                -26,
                "mandatory-script-verify-flag-failed (Signature must be zero)"
            ),
            R::Other {
                code: -26,
                message: "mandatory-script-verify-flag-failed (Signature must be zero)".into()
            }
        );
        assert!(matches!(
            map(-26, "bad-txns-in-belowout, x < y"),
            R::Other { .. }
        ));
        assert!(matches!(map(-26, ""), R::Other { .. }));
        // Core's own replacement messages carry a txid and BTC amounts: kept as they are.
        assert!(matches!(
            map(
                -26,
                "insufficient fee, rejecting replacement 00ab, not enough additional fees to relay; 0.00 < 0.00000141"
            ),
            R::Other { .. }
        ));
        assert_eq!(
            map(-27, "Transaction outputs already in utxo set"),
            R::AlreadyInChain
        );
        assert!(is_missing_inputs(&RpcError::new(
            -25,
            "bad-txns-inputs-missingorspent"
        )));
        assert!(is_mempool_conflict(&RpcError::new(
            -26,
            "txn-mempool-conflict"
        )));
    }

    proptest::proptest! {
        /// Any code and message from a node maps to some rejection without panicking, and the
        /// embedded chain's messages map back to what produced them.
        #[test]
        fn arbitrary_node_errors_map(code in proptest::num::i32::ANY, message in ".{0,80}") {
            let e = RpcError::new(code, message);
            let _ = reject_from_rpc(&e);
            let _ = (is_missing_inputs(&e), is_mempool_conflict(&e));
        }

        #[test]
        fn numeric_details_round_trip(a in 0u64..2_100_000_000_000_000, b in 0u64..2_100_000_000_000_000) {
            let r = R::InBelowOut { value_in: Amount::from_sat(a), value_out: Amount::from_sat(b) };
            proptest::prop_assert_eq!(reject_from_rpc(&RpcError::from(&r)), r);
        }
    }
}
