//! JSON-RPC errors as Bitcoin Core reports them: a numeric code and a message.
//!
//! The codes are Bitcoin Core's (`src/rpc/protocol.h`); the server answers with them and the
//! client maps them back (see [`crate::rpc::client`]).

use core::fmt;

use crate::error::{BroadcastError, ChainError, TxReject};

/// `RPC_MISC_ERROR`: a generic failure (also wrong parameter counts).
pub const RPC_MISC_ERROR: i32 = -1;
/// `RPC_TYPE_ERROR`: a parameter has the wrong JSON type.
pub const RPC_TYPE_ERROR: i32 = -3;
/// `RPC_INVALID_ADDRESS_OR_KEY`: unknown block or transaction, or a bad address.
pub const RPC_INVALID_ADDRESS_OR_KEY: i32 = -5;
/// `RPC_INVALID_PARAMETER`: a parameter is out of range or malformed.
pub const RPC_INVALID_PARAMETER: i32 = -8;
/// `RPC_DESERIALIZATION_ERROR`: a transaction or block does not decode.
pub const RPC_DESERIALIZATION_ERROR: i32 = -22;
/// `RPC_VERIFY_ERROR`: generic verification error (missing inputs, fee above the maximum).
pub const RPC_VERIFY_ERROR: i32 = -25;
/// `RPC_VERIFY_REJECTED`: the transaction or block was rejected by network rules.
pub const RPC_VERIFY_REJECTED: i32 = -26;
/// `RPC_VERIFY_ALREADY_IN_CHAIN`: the transaction is already confirmed.
pub const RPC_VERIFY_ALREADY_IN_CHAIN: i32 = -27;
/// `RPC_IN_WARMUP`: the node is still starting; retry.
pub const RPC_IN_WARMUP: i32 = -28;
/// JSON-RPC "invalid request": the request is not a valid request object.
pub const RPC_INVALID_REQUEST: i32 = -32600;
/// JSON-RPC "method not found".
pub const RPC_METHOD_NOT_FOUND: i32 = -32601;
/// JSON-RPC "invalid params".
pub const RPC_INVALID_PARAMS: i32 = -32602;
/// JSON-RPC "internal error".
pub const RPC_INTERNAL_ERROR: i32 = -32603;
/// JSON-RPC "parse error": the request body is not JSON.
pub const RPC_PARSE_ERROR: i32 = -32700;

/// An error answer of a JSON-RPC call: Core's `{"code": .., "message": ..}` object.
///
/// How to react (client side): [`RpcError::is_not_found`] errors mean "absent"; codes -25 to -27
/// are transaction rejections (see [`crate::rpc::client::reject_from_rpc`]); others are bugs in the
/// request or faults of the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// The JSON-RPC error code.
    pub code: i32,
    /// The human-readable message.
    pub message: String,
}

impl RpcError {
    /// An error with this code and message.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }

    /// `-8`: an invalid parameter.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(RPC_INVALID_PARAMETER, message)
    }

    /// `-3`: a parameter of the wrong JSON type.
    pub fn type_error(message: impl Into<String>) -> Self {
        Self::new(RPC_TYPE_ERROR, message)
    }

    /// `-5`: something looked up does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(RPC_INVALID_ADDRESS_OR_KEY, message)
    }

    /// The error as Core's JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "code": self.code, "message": self.message })
    }

    /// Whether this is a "no such block/transaction" answer: Core's `-5`, or bcoin's `-1` with a
    /// "not found"/"not in mempool" message.
    pub fn is_not_found(&self) -> bool {
        let lower = self.message.to_ascii_lowercase();
        self.code == RPC_INVALID_ADDRESS_OR_KEY
            || (self.code == RPC_MISC_ERROR
                && (lower.contains("not found") || lower.contains("not in mempool")))
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rpc error {}: {}", self.code, self.message)
    }
}

impl std::error::Error for RpcError {}

impl From<ChainError> for RpcError {
    fn from(e: ChainError) -> Self {
        match e {
            ChainError::UnknownBlock(_) => RpcError::not_found("Block not found"),
            ChainError::InvalidArgument(what) => RpcError::invalid_parameter(what),
            other => RpcError::new(RPC_MISC_ERROR, other.to_string()),
        }
    }
}

impl From<&TxReject> for RpcError {
    fn from(r: &TxReject) -> Self {
        RpcError::new(r.rpc_code(), r.to_string())
    }
}

impl From<BroadcastError> for RpcError {
    fn from(e: BroadcastError) -> Self {
        match e {
            BroadcastError::Rejected(r) => RpcError::from(&r),
            BroadcastError::Chain(c) => c.into(),
            // BroadcastError is non-exhaustive.
            #[allow(unreachable_patterns)]
            other => RpcError::new(RPC_MISC_ERROR, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    #[test]
    fn maps_chain_errors_to_core_codes() {
        let e: RpcError = ChainError::UnknownBlock(bitcoin::BlockHash::all_zeros()).into();
        assert_eq!(e.code, RPC_INVALID_ADDRESS_OR_KEY);
        let e: RpcError = ChainError::InvalidArgument("x").into();
        assert_eq!(e.code, RPC_INVALID_PARAMETER);
        let e: RpcError = BroadcastError::Rejected(TxReject::NonFinal).into();
        assert_eq!((e.code, e.message.as_str()), (-26, "non-final"));
    }

    #[test]
    fn recognises_not_found_from_core_and_bcoin() {
        assert!(RpcError::not_found("Block not found").is_not_found());
        assert!(RpcError::new(-1, "Transaction not found.").is_not_found());
        assert!(RpcError::new(-1, "Transaction not in mempool.").is_not_found());
        assert!(!RpcError::new(-1, "Can't read block from disk").is_not_found());
    }
}
