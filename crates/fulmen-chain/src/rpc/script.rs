//! Output scripts as Bitcoin Core describes them in JSON: `asm`, `desc` (an inferred output
//! descriptor with its BIP 380 checksum), `hex`, `address` and `type`.

use bitcoin::opcodes::all::{OP_CHECKMULTISIG, OP_CLTV, OP_CSV, OP_PUSHNUM_1, OP_PUSHNUM_16};
use bitcoin::opcodes::Opcode;
use bitcoin::script::Instruction;
use bitcoin::{Address, Network, Script};
use serde_json::{json, Map, Value};

/// Core's name for the kind of an output script (`Solver`'s `TxoutType`).
pub fn script_type(script: &Script) -> &'static str {
    if is_anchor(script) {
        "anchor"
    } else if script.is_p2pk() {
        "pubkey"
    } else if script.is_p2pkh() {
        "pubkeyhash"
    } else if script.is_p2sh() {
        "scripthash"
    } else if script.is_p2wpkh() {
        "witness_v0_keyhash"
    } else if script.is_p2wsh() {
        "witness_v0_scripthash"
    } else if script.is_p2tr() {
        "witness_v1_taproot"
    } else if script.is_witness_program() {
        "witness_unknown"
    } else if is_null_data(script) {
        "nulldata"
    } else if multisig(script).is_some() {
        "multisig"
    } else {
        "nonstandard"
    }
}

/// Pay-to-anchor: `OP_1 <0x4e73>`.
fn is_anchor(script: &Script) -> bool {
    script.as_bytes() == [0x51, 0x02, 0x4e, 0x73]
}

/// `OP_RETURN` followed by pushes only.
fn is_null_data(script: &Script) -> bool {
    let bytes = script.as_bytes();
    bytes.first() == Some(&0x6a)
        && bytes
            .get(1..)
            .is_some_and(|rest| Script::from_bytes(rest).is_push_only())
}

/// `k <key>... n OP_CHECKMULTISIG` with 1 <= k <= n <= 16 and well-formed keys: (k, keys).
fn multisig(script: &Script) -> Option<(u8, Vec<Vec<u8>>)> {
    let ops: Vec<Instruction<'_>> = script.instructions().collect::<Result<_, _>>().ok()?;
    let (first, rest) = ops.split_first()?;
    let (last, rest) = rest.split_last()?;
    let (count, keys) = rest.split_last()?;
    let small = |i: &Instruction<'_>| match i {
        Instruction::Op(op)
            if (OP_PUSHNUM_1.to_u8()..=OP_PUSHNUM_16.to_u8()).contains(&op.to_u8()) =>
        {
            Some(op.to_u8() - OP_PUSHNUM_1.to_u8() + 1)
        }
        _ => None,
    };
    let k = small(first)?;
    let n = small(count)?;
    if *last != Instruction::Op(OP_CHECKMULTISIG) || k > n || usize::from(n) != keys.len() {
        return None;
    }
    let keys = keys
        .iter()
        .map(|i| match i {
            Instruction::PushBytes(b) if bitcoin::PublicKey::from_slice(b.as_bytes()).is_ok() => {
                Some(b.as_bytes().to_vec())
            }
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some((k, keys))
}

/// Core's `ScriptToAsmStr` (without sighash decoding): pushes of up to 4 bytes as script numbers,
/// longer pushes as hex, opcodes by Core's names; `[error]` where parsing fails.
pub fn asm(script: &Script) -> String {
    let mut parts: Vec<String> = Vec::new();
    for ins in script.instructions() {
        match ins {
            Ok(Instruction::PushBytes(b)) => {
                let b = b.as_bytes();
                parts.push(if b.len() <= 4 {
                    script_num(b).to_string()
                } else {
                    hex::encode(b)
                });
            }
            Ok(Instruction::Op(op)) => parts.push(op_name(op)),
            Err(_) => {
                parts.push("[error]".to_string());
                break;
            }
        }
    }
    parts.join(" ")
}

/// A little-endian sign-magnitude script number of at most 4 bytes.
fn script_num(bytes: &[u8]) -> i64 {
    let mut value: i64 = 0;
    for (i, b) in bytes.iter().enumerate().take(4) {
        value |= i64::from(*b) << (8 * i);
    }
    match bytes.last() {
        Some(last) if last & 0x80 != 0 => {
            let sign_bit = 0x80_i64 << (8 * (bytes.len().min(4) - 1));
            -(value & !sign_bit)
        }
        _ => value,
    }
}

/// Core's `GetOpName` for a non-push opcode.
fn op_name(op: Opcode) -> String {
    let byte = op.to_u8();
    match byte {
        0x4f => "-1".to_string(),
        0x51..=0x60 => (byte - 0x50).to_string(),
        0xbb..=0xfe => "OP_UNKNOWN".to_string(),
        _ if op == OP_CLTV => "OP_CHECKLOCKTIMEVERIFY".to_string(),
        _ if op == OP_CSV => "OP_CHECKSEQUENCEVERIFY".to_string(),
        _ => op.to_string(),
    }
}

/// The address of a script on `network`, if it has one.
pub fn address(script: &Script, network: Network) -> Option<Address> {
    Address::from_script(script, network).ok()
}

/// The descriptor Core infers for an output script it has no keys for: `pk()` and `multi()` for
/// bare keys, `addr()` for scripts with an address, `raw()` for the rest; with checksum.
pub fn inferred_descriptor(script: &Script, network: Network) -> String {
    let body = if let Some(key) = script.p2pk_public_key() {
        format!("pk({})", hex::encode(key.to_bytes()))
    } else if let Some(address) = address(script, network) {
        format!("addr({address})")
    } else if let Some((k, keys)) = multisig(script) {
        let keys: Vec<String> = keys.iter().map(hex::encode).collect();
        format!("multi({k},{})", keys.join(","))
    } else {
        format!("raw({})", hex::encode(script.as_bytes()))
    };
    with_checksum(&body)
}

const INPUT_CHARSET: &str =
    "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ";
const CHECKSUM_CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GENERATOR: [u64; 5] = [
    0xf5_dee5_1989,
    0xa9_fdca_3312,
    0x1b_ab10_e32d,
    0x37_06b1_677a,
    0x64_4d62_6ffd,
];

fn polymod_step(chk: u64, value: u64) -> u64 {
    let top = chk >> 35;
    let mut chk = ((chk & 0x7_ffff_ffff) << 5) ^ value;
    for (i, g) in GENERATOR.iter().enumerate() {
        if (top >> i) & 1 == 1 {
            chk ^= g;
        }
    }
    chk
}

/// `descriptor#checksum` (BIP 380). Characters outside the descriptor charset cannot occur in
/// what this module builds; if one did, the descriptor is returned without checksum.
pub fn with_checksum(descriptor: &str) -> String {
    let mut chk: u64 = 1;
    let mut groups: Vec<u64> = Vec::with_capacity(3);
    for c in descriptor.chars() {
        let Some(pos) = INPUT_CHARSET.find(c) else {
            return descriptor.to_string();
        };
        let v = pos as u64;
        chk = polymod_step(chk, v & 31);
        groups.push(v >> 5);
        if let [a, b, c] = *groups.as_slice() {
            chk = polymod_step(chk, a * 9 + b * 3 + c);
            groups.clear();
        }
    }
    match *groups.as_slice() {
        [a] => chk = polymod_step(chk, a),
        [a, b] => chk = polymod_step(chk, a * 3 + b),
        _ => {}
    }
    for _ in 0..8 {
        chk = polymod_step(chk, 0);
    }
    chk ^= 1;
    let sum: String = (0..8)
        .map(|i| {
            let idx = (chk >> (5 * (7 - i))) & 31;
            CHECKSUM_CHARSET
                .get(idx as usize)
                .map_or('?', |b| char::from(*b))
        })
        .collect();
    format!("{descriptor}#{sum}")
}

/// Core's `scriptPubKey` object: `asm`, `desc`, `hex`, `address` (when there is one), `type`.
pub fn script_pubkey_json(script: &Script, network: Network) -> Value {
    let mut m = Map::new();
    m.insert("asm".into(), json!(asm(script)));
    m.insert("desc".into(), json!(inferred_descriptor(script, network)));
    m.insert("hex".into(), json!(hex::encode(script.as_bytes())));
    if let Some(a) = address(script, network) {
        m.insert("address".into(), json!(a.to_string()));
    }
    m.insert("type".into(), json!(script_type(script)));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::ScriptBuf;

    fn script(hex: &str) -> ScriptBuf {
        ScriptBuf::from_hex(hex).unwrap()
    }

    #[test]
    fn bip380_checksum_vector() {
        assert_eq!(with_checksum("raw(deadbeef)"), "raw(deadbeef)#89f8spxm");
    }

    #[test]
    fn types_match_core_names() {
        let p2wpkh = script("0014751e76e8199196d454941c45d1b3a323f1433bd6");
        assert_eq!(script_type(&p2wpkh), "witness_v0_keyhash");
        let p2wsh = script(&format!("0020{}", "11".repeat(32)));
        assert_eq!(script_type(&p2wsh), "witness_v0_scripthash");
        let p2tr = script(&format!("5120{}", "22".repeat(32)));
        assert_eq!(script_type(&p2tr), "witness_v1_taproot");
        assert_eq!(script_type(&script("51024e73")), "anchor");
        assert_eq!(script_type(&script("6a0401020304")), "nulldata");
        assert_eq!(script_type(&script("6a6a")), "nonstandard");
        assert_eq!(
            script_type(&script(
                "76a914751e76e8199196d454941c45d1b3a323f1433bd688ac"
            )),
            "pubkeyhash"
        );
        let key = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
        let p2pk = script(&format!("21{key}ac"));
        assert_eq!(script_type(&p2pk), "pubkey");
        assert!(inferred_descriptor(&p2pk, Network::Regtest).starts_with(&format!("pk({key})#")));
        let multi = script(&format!("5121{key}21{key}52ae"));
        assert_eq!(script_type(&multi), "multisig");
        assert!(inferred_descriptor(&multi, Network::Regtest)
            .starts_with(&format!("multi(1,{key},{key})#")));
        assert_eq!(script_type(&script("ff")), "nonstandard");
    }

    #[test]
    fn asm_matches_core_rendering() {
        let p2wpkh = script("0014751e76e8199196d454941c45d1b3a323f1433bd6");
        assert_eq!(asm(&p2wpkh), "0 751e76e8199196d454941c45d1b3a323f1433bd6");
        // 144 OP_CSV OP_DROP OP_1, a 2-byte push rendered as a number.
        assert_eq!(
            asm(&script("029000b27551")),
            "144 OP_CHECKSEQUENCEVERIFY OP_DROP 1"
        );
        assert_eq!(asm(&script("01814f")), "-1 -1");
        assert_eq!(
            asm(&script("bbb1ff")),
            "OP_UNKNOWN OP_CHECKLOCKTIMEVERIFY OP_INVALIDOPCODE"
        );
        assert_eq!(asm(&script("0501")), "[error]");
        assert_eq!(asm(&script("510501")), "1 [error]");
    }

    #[test]
    fn descriptors_for_addresses_and_raw() {
        let p2wpkh = script("0014751e76e8199196d454941c45d1b3a323f1433bd6");
        let d = inferred_descriptor(&p2wpkh, Network::Regtest);
        assert!(d.starts_with("addr(bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080)#"));
        let d = inferred_descriptor(&script("6a0101"), Network::Regtest);
        assert!(d.starts_with("raw(6a0101)#"));
        let j = script_pubkey_json(&script("6a0101"), Network::Regtest);
        assert!(j.get("address").is_none());
        assert_eq!(j["type"], "nulldata");
    }
}
