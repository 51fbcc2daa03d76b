//! BOLT 3 output scripts: the funding 2-of-2, `to_local`, `to_remote`,
//! anchors, offered and received HTLCs, and the second-stage HTLC output.
//!
//! Functions named `*_script` return the *witness script*; the output's
//! `scriptPubKey` is its P2WSH ([`p2wsh`]), except the non-anchor
//! `to_remote`, which is a P2WPKH ([`to_remote_p2wpkh`]).

use bitcoin::hashes::{hash160, ripemd160, Hash};
use bitcoin::opcodes::all::{
    OP_CHECKMULTISIG, OP_CHECKSIG, OP_CHECKSIGVERIFY, OP_CLTV, OP_CSV, OP_DROP, OP_DUP, OP_ELSE,
    OP_ENDIF, OP_EQUAL, OP_EQUALVERIFY, OP_HASH160, OP_IF, OP_IFDUP, OP_NOTIF, OP_PUSHNUM_1,
    OP_PUSHNUM_16, OP_PUSHNUM_2, OP_SIZE, OP_SWAP,
};
use bitcoin::script::Builder;
use bitcoin::secp256k1::PublicKey;
use bitcoin::{Script, ScriptBuf, WPubkeyHash};
use fulmen_types::PaymentHash;

use crate::channel::ChannelType;
use crate::keys::{DelayedPubkey, HtlcPubkey, PaymentPubkey, RevocationPubkey};

/// The P2WSH `scriptPubKey` paying to a witness script.
pub fn p2wsh(witness_script: &Script) -> ScriptBuf {
    witness_script.to_p2wsh()
}

/// `2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG`, with `pubkey1` the
/// lexicographically lesser of the two compressed funding keys.
pub fn funding_script(a: &PublicKey, b: &PublicKey) -> ScriptBuf {
    let (first, second) = sort_keys(a, b);
    Builder::new()
        .push_opcode(OP_PUSHNUM_2)
        .push_slice(first.serialize())
        .push_slice(second.serialize())
        .push_opcode(OP_PUSHNUM_2)
        .push_opcode(OP_CHECKMULTISIG)
        .into_script()
}

/// The two funding keys in script order (lexicographic, compressed form).
pub fn sort_keys<'a>(a: &'a PublicKey, b: &'a PublicKey) -> (&'a PublicKey, &'a PublicKey) {
    if a.serialize() <= b.serialize() {
        (a, b)
    } else {
        (b, a)
    }
}

/// The `to_local` witness script (also the HTLC-timeout/success output's):
///
/// ```text
/// OP_IF <revocationpubkey>
/// OP_ELSE `to_self_delay` OP_CHECKSEQUENCEVERIFY OP_DROP <local_delayedpubkey>
/// OP_ENDIF OP_CHECKSIG
/// ```
pub fn to_local_script(
    revocation: &RevocationPubkey,
    to_self_delay: u16,
    local_delayed: &DelayedPubkey,
) -> ScriptBuf {
    Builder::new()
        .push_opcode(OP_IF)
        .push_slice(revocation.serialize())
        .push_opcode(OP_ELSE)
        .push_int(i64::from(to_self_delay))
        .push_opcode(OP_CSV)
        .push_opcode(OP_DROP)
        .push_slice(local_delayed.serialize())
        .push_opcode(OP_ENDIF)
        .push_opcode(OP_CHECKSIG)
        .into_script()
}

/// The second-stage output of HTLC-timeout and HTLC-success transactions:
/// the same shape as [`to_local_script`].
pub fn htlc_output_script(
    revocation: &RevocationPubkey,
    to_self_delay: u16,
    local_delayed: &DelayedPubkey,
) -> ScriptBuf {
    to_local_script(revocation, to_self_delay, local_delayed)
}

/// The non-anchor `to_remote` output: a P2WPKH to `remotepubkey`.
pub fn to_remote_p2wpkh(remote: &PaymentPubkey) -> ScriptBuf {
    ScriptBuf::new_p2wpkh(&WPubkeyHash::hash(&remote.serialize()))
}

/// The anchor `to_remote` witness script:
/// `<remotepubkey> OP_CHECKSIGVERIFY 1 OP_CHECKSEQUENCEVERIFY`.
pub fn to_remote_anchor_script(remote: &PaymentPubkey) -> ScriptBuf {
    Builder::new()
        .push_slice(remote.serialize())
        .push_opcode(OP_CHECKSIGVERIFY)
        .push_opcode(OP_PUSHNUM_1)
        .push_opcode(OP_CSV)
        .into_script()
}

/// The `scriptPubKey` of the `to_remote` output for a channel type.
pub fn to_remote_script_pubkey(channel_type: ChannelType, remote: &PaymentPubkey) -> ScriptBuf {
    if channel_type.has_anchors() {
        p2wsh(&to_remote_anchor_script(remote))
    } else {
        to_remote_p2wpkh(remote)
    }
}

/// An anchor output's witness script:
///
/// ```text
/// <funding_pubkey> OP_CHECKSIG OP_IFDUP
/// OP_NOTIF OP_16 OP_CHECKSEQUENCEVERIFY OP_ENDIF
/// ```
pub fn anchor_script(funding_pubkey: &PublicKey) -> ScriptBuf {
    Builder::new()
        .push_slice(funding_pubkey.serialize())
        .push_opcode(OP_CHECKSIG)
        .push_opcode(OP_IFDUP)
        .push_opcode(OP_NOTIF)
        .push_opcode(OP_PUSHNUM_16)
        .push_opcode(OP_CSV)
        .push_opcode(OP_ENDIF)
        .into_script()
}

/// `RIPEMD160(SHA256(revocationpubkey))`, i.e. HASH160.
fn revocation_hash(revocation: &RevocationPubkey) -> [u8; 20] {
    hash160::Hash::hash(&revocation.serialize()).to_byte_array()
}

/// `RIPEMD160(payment_hash)`.
fn payment_hash160(payment_hash: &PaymentHash) -> [u8; 20] {
    ripemd160::Hash::hash(payment_hash.as_bytes()).to_byte_array()
}

/// The offered HTLC witness script (the owner offered it: the counterparty
/// claims with the preimage, the owner times out via HTLC-timeout):
///
/// ```text
/// OP_DUP OP_HASH160 <RIPEMD160(SHA256(revocationpubkey))> OP_EQUAL
/// OP_IF OP_CHECKSIG
/// OP_ELSE <remote_htlcpubkey> OP_SWAP OP_SIZE 32 OP_EQUAL
///     OP_NOTIF OP_DROP 2 OP_SWAP <local_htlcpubkey> 2 OP_CHECKMULTISIG
///     OP_ELSE OP_HASH160 <RIPEMD160(payment_hash)> OP_EQUALVERIFY OP_CHECKSIG
///     OP_ENDIF
///     [1 OP_CHECKSEQUENCEVERIFY OP_DROP]   (anchors only)
/// OP_ENDIF
/// ```
pub fn offered_htlc_script(
    channel_type: ChannelType,
    revocation: &RevocationPubkey,
    local_htlc: &HtlcPubkey,
    remote_htlc: &HtlcPubkey,
    payment_hash: &PaymentHash,
) -> ScriptBuf {
    let b = Builder::new()
        .push_opcode(OP_DUP)
        .push_opcode(OP_HASH160)
        .push_slice(revocation_hash(revocation))
        .push_opcode(OP_EQUAL)
        .push_opcode(OP_IF)
        .push_opcode(OP_CHECKSIG)
        .push_opcode(OP_ELSE)
        .push_slice(remote_htlc.serialize())
        .push_opcode(OP_SWAP)
        .push_opcode(OP_SIZE)
        .push_int(32)
        .push_opcode(OP_EQUAL)
        .push_opcode(OP_NOTIF)
        .push_opcode(OP_DROP)
        .push_opcode(OP_PUSHNUM_2)
        .push_opcode(OP_SWAP)
        .push_slice(local_htlc.serialize())
        .push_opcode(OP_PUSHNUM_2)
        .push_opcode(OP_CHECKMULTISIG)
        .push_opcode(OP_ELSE)
        .push_opcode(OP_HASH160)
        .push_slice(payment_hash160(payment_hash))
        .push_opcode(OP_EQUALVERIFY)
        .push_opcode(OP_CHECKSIG)
        .push_opcode(OP_ENDIF);
    finish_htlc(b, channel_type)
}

/// The received HTLC witness script (the owner receives it: the owner
/// claims with the preimage via HTLC-success, the counterparty times out):
///
/// ```text
/// OP_DUP OP_HASH160 <RIPEMD160(SHA256(revocationpubkey))> OP_EQUAL
/// OP_IF OP_CHECKSIG
/// OP_ELSE <remote_htlcpubkey> OP_SWAP OP_SIZE 32 OP_EQUAL
///     OP_IF OP_HASH160 <RIPEMD160(payment_hash)> OP_EQUALVERIFY
///         2 OP_SWAP <local_htlcpubkey> 2 OP_CHECKMULTISIG
///     OP_ELSE OP_DROP <cltv_expiry> OP_CHECKLOCKTIMEVERIFY OP_DROP OP_CHECKSIG
///     OP_ENDIF
///     [1 OP_CHECKSEQUENCEVERIFY OP_DROP]   (anchors only)
/// OP_ENDIF
/// ```
pub fn received_htlc_script(
    channel_type: ChannelType,
    revocation: &RevocationPubkey,
    local_htlc: &HtlcPubkey,
    remote_htlc: &HtlcPubkey,
    payment_hash: &PaymentHash,
    cltv_expiry: u32,
) -> ScriptBuf {
    let b = Builder::new()
        .push_opcode(OP_DUP)
        .push_opcode(OP_HASH160)
        .push_slice(revocation_hash(revocation))
        .push_opcode(OP_EQUAL)
        .push_opcode(OP_IF)
        .push_opcode(OP_CHECKSIG)
        .push_opcode(OP_ELSE)
        .push_slice(remote_htlc.serialize())
        .push_opcode(OP_SWAP)
        .push_opcode(OP_SIZE)
        .push_int(32)
        .push_opcode(OP_EQUAL)
        .push_opcode(OP_IF)
        .push_opcode(OP_HASH160)
        .push_slice(payment_hash160(payment_hash))
        .push_opcode(OP_EQUALVERIFY)
        .push_opcode(OP_PUSHNUM_2)
        .push_opcode(OP_SWAP)
        .push_slice(local_htlc.serialize())
        .push_opcode(OP_PUSHNUM_2)
        .push_opcode(OP_CHECKMULTISIG)
        .push_opcode(OP_ELSE)
        .push_opcode(OP_DROP)
        .push_int(i64::from(cltv_expiry))
        .push_opcode(OP_CLTV)
        .push_opcode(OP_DROP)
        .push_opcode(OP_CHECKSIG)
        .push_opcode(OP_ENDIF);
    finish_htlc(b, channel_type)
}

fn finish_htlc(b: Builder, channel_type: ChannelType) -> ScriptBuf {
    let b = if channel_type.has_anchors() {
        b.push_opcode(OP_PUSHNUM_1)
            .push_opcode(OP_CSV)
            .push_opcode(OP_DROP)
    } else {
        b
    };
    b.push_opcode(OP_ENDIF).into_script()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk(hex: &str) -> PublicKey {
        hex.parse().unwrap()
    }

    #[test]
    fn funding_script_sorts_keys() {
        let a = pk("023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb");
        let b = pk("030e9f7b623d2ccc7c9bd44d66d5ce21ce504c0acf6385a132cec6d3c39fa711c1");
        assert_eq!(funding_script(&a, &b), funding_script(&b, &a));
        assert_eq!(
            funding_script(&b, &a).to_hex_string(),
            "5221023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb21030e9f7b623d2ccc7c9bd44d66d5ce21ce504c0acf6385a132cec6d3c39fa711c152ae"
        );
    }

    #[test]
    fn anchors_variants_add_csv_one() {
        let k = pk("023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb");
        let (r, l, h) = (RevocationPubkey(k), HtlcPubkey(k), PaymentHash([1; 32]));
        let plain = offered_htlc_script(ChannelType::StaticRemoteKey, &r, &l, &l, &h);
        let anch = offered_htlc_script(ChannelType::AnchorsZeroFeeHtlcTx, &r, &l, &l, &h);
        assert_eq!(plain.len(), 133);
        assert_eq!(anch.len(), 136);
        let plain = received_htlc_script(ChannelType::StaticRemoteKey, &r, &l, &l, &h, 500_000);
        let anch = received_htlc_script(ChannelType::AnchorsZeroFeeHtlcTx, &r, &l, &l, &h, 500_000);
        assert_eq!(plain.len(), 139); // 3-byte cltv: the spec's 140 assumes 4 bytes.
        assert_eq!(anch.len(), 142);
        let mut tail = anch.as_bytes().to_vec();
        tail.drain(..tail.len() - 4);
        assert_eq!(tail, [0x51, 0xb2, 0x75, 0x68]);
    }

    #[test]
    fn anchor_and_to_remote_shapes() {
        let k = pk("023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb");
        let a = anchor_script(&k);
        assert_eq!(a.as_bytes()[0], 33);
        assert_eq!(&a.as_bytes()[34..], [0xac, 0x73, 0x64, 0x60, 0xb2, 0x68]);
        let t = to_remote_anchor_script(&PaymentPubkey(k));
        assert_eq!(&t.as_bytes()[34..], [0xad, 0x51, 0xb2]);
        assert!(
            to_remote_script_pubkey(ChannelType::StaticRemoteKey, &PaymentPubkey(k)).is_p2wpkh()
        );
        assert!(
            to_remote_script_pubkey(ChannelType::AnchorsZeroFeeHtlcTx, &PaymentPubkey(k))
                .is_p2wsh()
        );
    }
}
