#!/usr/bin/env python3
"""Independent (Python, standard library only) computation of Fulmen's key tree,
used to pin the derivation scheme documented in src/keys.rs:

    node identity  m/9735'/coin'/0'/0'
    channel i      m/9735'/coin'/1'/i'/k'   k = 0 funding, 1 revocation,
                                            2 payment, 3 delayed payment,
                                            4 htlc, 5 per-commitment seed
    coin           0' mainnet, 1' test networks

BIP39 seed = PBKDF2-HMAC-SHA512(mnemonic, "mnemonic" + passphrase, 2048).
BIP32 hardened CKDpriv on secp256k1, written from the BIP32 text.
Writes key_tree_pins.json next to this file; the Rust tests check the crate
against it, so any change to the derivation (which would make restored nodes
lose their keys) fails loudly.
"""
import hashlib
import hmac
import json
import os

P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0:
        return None
    if a == b:
        lam = 3 * a[0] * a[0] * pow(2 * a[1], P - 2, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], P - 2, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return (x, (lam * (a[0] - x) - a[1]) % P)


def mul(k):
    r, q = None, G
    while k:
        if k & 1:
            r = add(r, q)
        q = add(q, q)
        k >>= 1
    return r


def ser_p(k):
    x, y = mul(k)
    return bytes([2 + (y & 1)]) + x.to_bytes(32, "big")


def master(seed):
    i = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
    return int.from_bytes(i[:32], "big"), i[32:]


def ckd_hardened(k, c, index):
    data = b"\x00" + k.to_bytes(32, "big") + (index + 2**31).to_bytes(4, "big")
    i = hmac.new(c, data, hashlib.sha512).digest()
    il = int.from_bytes(i[:32], "big")
    assert il < N
    child = (il + k) % N
    assert child != 0
    return child, i[32:]


def derive(seed, path):
    k, c = master(seed)
    for index in path:
        k, c = ckd_hardened(k, c, index)
    return k


CASES = [
    ("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", "", "main"),
    ("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", "", "test"),
    ("ozone drill grab fiber curtain grace pudding thank cruise elder eight picnic", "TREZOR", "main"),
]
CHANNEL_INDICES = [0, 1, 2**31 - 1]
KINDS = ["funding_pubkey", "revocation_basepoint", "payment_basepoint",
         "delayed_payment_basepoint", "htlc_basepoint"]

out = {"source": "computed by key_tree_pins.py (independent Python BIP39/BIP32), not by the crate", "cases": []}
for mnemonic, passphrase, network in CASES:
    seed = hashlib.pbkdf2_hmac("sha512", mnemonic.encode(), b"mnemonic" + passphrase.encode(), 2048)
    coin = 0 if network == "main" else 1
    case = {
        "mnemonic": mnemonic,
        "passphrase": passphrase,
        "network": network,
        "node_id": ser_p(derive(seed, [9735, coin, 0, 0])).hex(),
        "channels": [],
    }
    for index in CHANNEL_INDICES:
        ch = {"index": index}
        for k, name in enumerate(KINDS):
            ch[name] = ser_p(derive(seed, [9735, coin, 1, index, k])).hex()
        ch["per_commitment_seed"] = derive(seed, [9735, coin, 1, index, 5]).to_bytes(32, "big").hex()
        case["channels"].append(ch)
    out["cases"].append(case)

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "key_tree_pins.json"), "w") as f:
    json.dump(out, f, indent=2)
    f.write("\n")
