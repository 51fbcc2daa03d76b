//! Positional or named JSON-RPC parameters, read with Bitcoin Core's checks and messages.
//!
//! A request's `params` may be an array (positional), an object (named, mapped onto the method's
//! parameter names), or absent/null (no parameters).

use std::str::FromStr;

use bitcoin::consensus::Decodable;
use serde_json::Value;

use super::error::{RpcError, RPC_DESERIALIZATION_ERROR, RPC_MISC_ERROR};

/// The parameters of one call, in positional order.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    values: Vec<Value>,
}

impl Params {
    /// Reads `params` for a method whose parameters are named `names` (in order). Errors on
    /// more parameters than the method takes, unknown names, and non-container `params`.
    pub fn new(method: &str, names: &[&str], params: Option<&Value>) -> Result<Self, RpcError> {
        let values = match params {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Object(map)) => {
                let mut values = vec![Value::Null; names.len()];
                for (key, value) in map {
                    let index = names.iter().position(|n| n == key).ok_or_else(|| {
                        RpcError::invalid_parameter(format!("Unknown named parameter {key}"))
                    })?;
                    if let Some(slot) = values.get_mut(index) {
                        *slot = value.clone();
                    }
                }
                while values.last().is_some_and(Value::is_null) {
                    values.pop();
                }
                values
            }
            Some(_) => {
                return Err(RpcError::new(
                    super::error::RPC_INVALID_REQUEST,
                    "Params must be an array or object",
                ))
            }
        };
        if values.len() > names.len() {
            return Err(RpcError::new(
                RPC_MISC_ERROR,
                format!(
                    "{method} takes at most {} parameters, {} given",
                    names.len(),
                    values.len()
                ),
            ));
        }
        Ok(Params { values })
    }

    /// The parameter at `index`, if present and not null.
    pub fn get(&self, index: usize) -> Option<&Value> {
        self.values.get(index).filter(|v| !v.is_null())
    }

    /// The parameter at `index`, which must be present.
    pub fn required(&self, index: usize, name: &str) -> Result<&Value, RpcError> {
        self.get(index).ok_or_else(|| {
            RpcError::new(RPC_MISC_ERROR, format!("missing required parameter {name}"))
        })
    }

    /// A required string.
    pub fn str(&self, index: usize, name: &str) -> Result<&str, RpcError> {
        as_str(self.required(index, name)?)
    }

    /// A required 256-bit hash in Core's hex notation (`txid`, `blockhash`).
    pub fn hash<H: FromStr>(&self, index: usize, name: &str) -> Result<H, RpcError> {
        parse_hash(self.str(index, name)?, name)
    }

    /// A required non-negative integer that fits `u32`.
    pub fn u32(&self, index: usize, name: &str) -> Result<u32, RpcError> {
        as_u32(self.required(index, name)?, name)
    }

    /// An optional non-negative integer that fits `u32`.
    pub fn opt_u32(&self, index: usize, name: &str) -> Result<Option<u32>, RpcError> {
        self.get(index).map(|v| as_u32(v, name)).transpose()
    }

    /// An optional boolean.
    pub fn opt_bool(&self, index: usize) -> Result<Option<bool>, RpcError> {
        self.get(index)
            .map(|v| v.as_bool().ok_or_else(|| type_error(v, "bool")))
            .transpose()
    }

    /// An optional verbosity: a number, or a boolean (false = 0, true = 1), as Core accepts.
    pub fn verbosity(&self, index: usize, default: u8) -> Result<u8, RpcError> {
        match self.get(index) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(u8::from(*b)),
            Some(v @ Value::Number(_)) => v
                .as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| RpcError::invalid_parameter("Invalid verbosity value")),
            Some(v) => Err(type_error(v, "number")),
        }
    }

    /// An optional amount in BTC (a JSON number or numeric string), as satoshis.
    pub fn opt_btc(&self, index: usize) -> Result<Option<u64>, RpcError> {
        self.get(index).map(btc_to_sat).transpose()
    }

    /// A required hex string decoded as a consensus object (transaction, block).
    pub fn consensus_hex<T: Decodable>(&self, index: usize, name: &str) -> Result<T, RpcError> {
        decode_consensus_hex(self.str(index, name)?)
    }
}

/// Core's type-mismatch error.
pub fn type_error(value: &Value, expected: &str) -> RpcError {
    let actual = match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    RpcError::type_error(format!(
        "JSON value of type {actual} is not of expected type {expected}"
    ))
}

fn as_str(value: &Value) -> Result<&str, RpcError> {
    value.as_str().ok_or_else(|| type_error(value, "string"))
}

fn as_u32(value: &Value, name: &str) -> Result<u32, RpcError> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| RpcError::invalid_parameter(format!("{name} out of range"))),
        other => Err(type_error(other, "number")),
    }
}

/// Parses a hash given in Core's (reversed) hex notation, with Core's messages.
pub fn parse_hash<H: FromStr>(s: &str, name: &str) -> Result<H, RpcError> {
    if s.len() != 64 {
        return Err(RpcError::invalid_parameter(format!(
            "{name} must be of length 64 (not {}, for '{}')",
            s.len(),
            truncate(s)
        )));
    }
    s.parse().map_err(|_| {
        RpcError::invalid_parameter(format!(
            "{name} must be hexadecimal string (not '{}')",
            truncate(s)
        ))
    })
}

/// At most 80 characters of a string, for echoing bad input in messages.
fn truncate(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// Decodes a hex string as a consensus-encoded object; the whole string must be used.
pub fn decode_consensus_hex<T: Decodable>(s: &str) -> Result<T, RpcError> {
    let decode_failed = || {
        RpcError::new(
            RPC_DESERIALIZATION_ERROR,
            "TX decode failed. Make sure the tx has at least one input.",
        )
    };
    let bytes = hex::decode(s).map_err(|_| decode_failed())?;
    bitcoin::consensus::deserialize(&bytes).map_err(|_| decode_failed())
}

/// Converts a BTC amount (JSON number or numeric string) to satoshis, refusing negative, non-finite
/// and above-supply values and more than 8 decimals of precision.
pub fn btc_to_sat(value: &Value) -> Result<u64, RpcError> {
    let f = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        other => return Err(type_error(other, "number")),
    }
    .ok_or_else(|| RpcError::type_error("Invalid amount"))?;
    let sat = f * 100_000_000.0;
    if !sat.is_finite() || !(0.0..=2_100_000_000_000_000.0).contains(&sat) {
        return Err(RpcError::type_error("Amount out of range"));
    }
    let rounded = sat.round();
    if (sat - rounded).abs() > 1e-3 {
        return Err(RpcError::type_error("Invalid amount"));
    }
    // In range and integral: the conversion is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(rounded as u64)
}

/// Satoshis as a BTC JSON number (Core prints 8 decimals; clients parse the number).
pub fn sat_to_btc(sat: u64) -> Value {
    // Exact for every amount up to 21e14 sat (below 2^53) when divided once.
    #[allow(clippy::cast_precision_loss)]
    let btc = sat as f64 / 100_000_000.0;
    serde_json::Number::from_f64(btc).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn positional_named_and_absent() {
        let names = ["blockhash", "verbosity"];
        let p = Params::new("getblock", &names, Some(&json!(["ab", 2]))).unwrap();
        assert_eq!(p.verbosity(1, 1).unwrap(), 2);
        let p = Params::new("getblock", &names, Some(&json!({"verbosity": true}))).unwrap();
        assert_eq!(p.verbosity(1, 0).unwrap(), 1);
        assert!(p.get(0).is_none());
        let p = Params::new("getblock", &names, None).unwrap();
        assert_eq!(p.verbosity(1, 1).unwrap(), 1);
        assert!(Params::new("getblock", &names, Some(&json!([1, 2, 3]))).is_err());
        let e = Params::new("getblock", &names, Some(&json!({"nope": 1}))).unwrap_err();
        assert_eq!(e.code, -8);
        let e = Params::new("getblock", &names, Some(&json!("x"))).unwrap_err();
        assert_eq!(e.code, -32600);
    }

    #[test]
    fn hash_errors_use_core_messages() {
        let e = parse_hash::<bitcoin::Txid>("abc", "txid").unwrap_err();
        assert_eq!(e.code, -8);
        assert_eq!(e.message, "txid must be of length 64 (not 3, for 'abc')");
        let e = parse_hash::<bitcoin::Txid>(&"z".repeat(64), "txid").unwrap_err();
        assert!(e.message.starts_with("txid must be hexadecimal string"));
        let long = "é".repeat(100);
        assert!(parse_hash::<bitcoin::Txid>(&long, "txid").is_err());
    }

    #[test]
    fn amounts() {
        assert_eq!(btc_to_sat(&json!(0.1)).unwrap(), 10_000_000);
        assert_eq!(btc_to_sat(&json!(0.00000001)).unwrap(), 1);
        assert_eq!(
            btc_to_sat(&json!("21000000")).unwrap(),
            2_100_000_000_000_000
        );
        assert!(btc_to_sat(&json!(-1)).is_err());
        assert!(btc_to_sat(&json!(0.000000001)).is_err());
        assert!(btc_to_sat(&json!(21_000_001)).is_err());
        assert!(btc_to_sat(&json!(true)).is_err());
        for sat in [0u64, 1, 546, 1_234_567_891, 2_100_000_000_000_000] {
            assert_eq!(btc_to_sat(&sat_to_btc(sat)).unwrap(), sat);
        }
    }

    #[test]
    fn consensus_hex_must_decode_fully() {
        assert_eq!(
            decode_consensus_hex::<bitcoin::Transaction>("zz")
                .unwrap_err()
                .code,
            -22
        );
        assert_eq!(
            decode_consensus_hex::<bitcoin::Transaction>("00")
                .unwrap_err()
                .code,
            -22
        );
    }
}
