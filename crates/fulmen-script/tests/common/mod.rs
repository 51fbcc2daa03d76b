//! The BOLT 3 Appendix C channel (keys, funding, HTLC table) as a fixture
//! shared by the vector, consensus and property tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{All, PublicKey, Secp256k1, SecretKey};
use bitcoin::{OutPoint, ScriptBuf, Txid};
use fulmen_script::commitment::{CommitmentParams, ObscuringFactor};
use fulmen_script::keys::{derive_privkey, per_commitment_point, Basepoints, CommitmentKeys};
use fulmen_script::scripts::funding_script;
use fulmen_script::shachain::PerCommitmentSecret;
use fulmen_script::{ChannelType, Htlc, HtlcDirection, Side};
use fulmen_types::{Msat, PaymentHash, PaymentPreimage, Sat};
use serde::Deserialize;

pub fn b32(hex: &str) -> [u8; 32] {
    hex::decode(hex).unwrap().try_into().unwrap()
}

pub fn sk(hex: &str) -> SecretKey {
    SecretKey::from_slice(&b32(hex)).unwrap()
}

pub fn pk(hex: &str) -> PublicKey {
    hex.parse().unwrap()
}

#[derive(Deserialize)]
pub struct AppendixC {
    pub params: Params,
    pub internal: Internal,
    pub htlcs: Vec<HtlcRow>,
    pub cases: Vec<CaseC>,
}

#[derive(Deserialize)]
pub struct Params {
    pub funding_tx_id: String,
    pub funding_output_index: u32,
    pub funding_amount_satoshi: u64,
    pub commitment_number: u64,
    pub local_delay: u16,
    pub local_dust_limit_satoshi: u64,
    pub local_payment_basepoint: String,
    pub remote_payment_basepoint: String,
    pub obscuring_factor: String,
    pub local_htlc_basepoint: String,
    pub remote_htlc_basepoint: String,
    pub local_funding_privkey: String,
    pub local_funding_pubkey: String,
    pub remote_funding_pubkey: String,
    pub local_privkey: String,
    pub local_htlcpubkey: String,
    pub remote_htlcpubkey: String,
    pub local_delayedpubkey: String,
    pub local_revocation_pubkey: String,
    pub funding_wscript: String,
}

#[derive(Deserialize)]
pub struct Internal {
    pub remote_funding_privkey: String,
    pub local_payment_basepoint_secret: String,
    pub remote_revocation_basepoint_secret: String,
    pub local_delayed_payment_basepoint_secret: String,
    pub remote_payment_basepoint_secret: String,
    pub local_per_commitment_secret: String,
    pub remote_revocation_basepoint: String,
    pub local_delayed_payment_basepoint: String,
    pub local_per_commitment_point: String,
    pub remote_privkey: String,
    pub local_delayed_privkey: String,
}

#[derive(Deserialize, Clone)]
pub struct HtlcRow {
    pub id: usize,
    pub direction: String,
    pub amount_msat: u64,
    pub cltv_expiry: u32,
    pub payment_preimage: String,
}

#[derive(Deserialize)]
pub struct CaseC {
    pub name: String,
    pub to_local_msat: u64,
    pub to_remote_msat: u64,
    pub feerate_per_kw: u32,
    pub base_fee_sat: Option<u64>,
    pub actual_fee_sat: Option<u64>,
    pub htlc_outputs: Vec<HtlcOutputRow>,
    pub to_local: Option<AmountScript>,
    pub to_remote: Option<ToRemoteRow>,
    pub remote_signature: String,
    pub local_signature: String,
    pub commit_tx: String,
    pub num_htlcs: usize,
    pub htlc_txs: Vec<HtlcTxRow>,
    pub htlcs: Vec<usize>,
}

#[derive(Deserialize)]
pub struct HtlcOutputRow {
    pub htlc: usize,
    pub direction: String,
    pub amount_sat: u64,
    pub wscript: String,
}

#[derive(Deserialize)]
pub struct AmountScript {
    pub amount_sat: u64,
    pub wscript: String,
}

#[derive(Deserialize)]
pub struct ToRemoteRow {
    pub amount_sat: u64,
    pub p2wpkh_pubkey: String,
}

#[derive(Deserialize)]
pub struct HtlcTxRow {
    pub output: u32,
    pub kind: String,
    pub htlc: usize,
    pub remote_signature: String,
    pub local_signature: String,
    pub tx: String,
}

pub fn appendix_c() -> AppendixC {
    serde_json::from_str(include_str!("../data/bolt03_appendix_c_commitments.json")).unwrap()
}

/// The Appendix C channel with every secret needed to sign both sides.
pub struct Fixture {
    pub secp: Secp256k1<All>,
    pub data: AppendixC,
    pub funding_outpoint: OutPoint,
    pub funding_amount: Sat,
    pub funding_script: ScriptBuf,
    pub local_funding_key: SecretKey,
    pub remote_funding_key: SecretKey,
    pub local_funding_pubkey: PublicKey,
    pub remote_funding_pubkey: PublicKey,
    /// local_htlcprivkey (the spec's `local_privkey`: local htlc basepoint
    /// equals local payment basepoint).
    pub local_htlc_key: SecretKey,
    /// remote_htlcprivkey (the spec's `remote_privkey`).
    pub remote_htlc_key: SecretKey,
    pub local_delayed_key: SecretKey,
    pub keys: CommitmentKeys,
    pub obscuring_factor: ObscuringFactor,
    pub htlc_table: Vec<(Htlc, PaymentPreimage)>,
}

impl Fixture {
    pub fn new() -> Self {
        let secp = Secp256k1::new();
        let data = appendix_c();
        let p = &data.params;
        let i = &data.internal;
        let pcs = PerCommitmentSecret::new(b32(&i.local_per_commitment_secret));
        let pcp = per_commitment_point(&pcs).unwrap();
        assert_eq!(pcp, pk(&i.local_per_commitment_point));

        let remote_revocation_basepoint =
            PublicKey::from_secret_key(&secp, &sk(&i.remote_revocation_basepoint_secret));
        assert_eq!(
            remote_revocation_basepoint,
            pk(&i.remote_revocation_basepoint)
        );
        let local_delayed_basepoint =
            PublicKey::from_secret_key(&secp, &sk(&i.local_delayed_payment_basepoint_secret));
        assert_eq!(
            local_delayed_basepoint,
            pk(&i.local_delayed_payment_basepoint)
        );
        let local_payment_basepoint =
            PublicKey::from_secret_key(&secp, &sk(&i.local_payment_basepoint_secret));
        assert_eq!(local_payment_basepoint, pk(&p.local_payment_basepoint));
        let remote_payment_basepoint =
            PublicKey::from_secret_key(&secp, &sk(&i.remote_payment_basepoint_secret));
        assert_eq!(remote_payment_basepoint, pk(&p.remote_payment_basepoint));

        // Basepoints not used by a local commitment are set to an unrelated
        // valid point.
        let unused = local_payment_basepoint;
        let local = Basepoints {
            revocation: unused,
            payment: local_payment_basepoint,
            delayed_payment: local_delayed_basepoint,
            htlc: pk(&p.local_htlc_basepoint),
        };
        let remote = Basepoints {
            revocation: remote_revocation_basepoint,
            payment: remote_payment_basepoint,
            delayed_payment: unused,
            htlc: pk(&p.remote_htlc_basepoint),
        };
        let keys = CommitmentKeys::derive(&secp, &pcp, &local, &remote).unwrap();
        assert_eq!(keys.revocation.0, pk(&p.local_revocation_pubkey));
        assert_eq!(keys.local_delayed.0, pk(&p.local_delayedpubkey));
        assert_eq!(keys.local_htlc.0, pk(&p.local_htlcpubkey));
        assert_eq!(keys.remote_htlc.0, pk(&p.remote_htlcpubkey));

        let local_htlc_key = derive_privkey(&sk(&i.local_payment_basepoint_secret), &pcp).unwrap();
        assert_eq!(local_htlc_key, sk(&p.local_privkey));
        let remote_htlc_key =
            derive_privkey(&sk(&i.remote_payment_basepoint_secret), &pcp).unwrap();
        assert_eq!(remote_htlc_key, sk(&i.remote_privkey));
        assert_eq!(
            PublicKey::from_secret_key(&secp, &remote_htlc_key),
            keys.remote_htlc.0
        );
        let local_delayed_key =
            derive_privkey(&sk(&i.local_delayed_payment_basepoint_secret), &pcp).unwrap();
        assert_eq!(local_delayed_key, sk(&i.local_delayed_privkey));

        let local_funding_key = sk(&p.local_funding_privkey);
        let remote_funding_key = sk(&i.remote_funding_privkey);
        let local_funding_pubkey = PublicKey::from_secret_key(&secp, &local_funding_key);
        let remote_funding_pubkey = PublicKey::from_secret_key(&secp, &remote_funding_key);
        assert_eq!(local_funding_pubkey, pk(&p.local_funding_pubkey));
        assert_eq!(remote_funding_pubkey, pk(&p.remote_funding_pubkey));
        let funding_script = funding_script(&local_funding_pubkey, &remote_funding_pubkey);
        assert_eq!(funding_script.to_hex_string(), p.funding_wscript);

        let obscuring_factor =
            ObscuringFactor::new(&local_payment_basepoint, &remote_payment_basepoint);
        assert_eq!(
            obscuring_factor.value(),
            u64::from_str_radix(p.obscuring_factor.trim_start_matches("0x"), 16).unwrap()
        );

        let htlc_table = data
            .htlcs
            .iter()
            .map(|h| {
                let preimage = PaymentPreimage(b32(&h.payment_preimage));
                let direction = match h.direction.as_str() {
                    "remote->local" => HtlcDirection::Received,
                    "local->remote" => HtlcDirection::Offered,
                    other => panic!("direction {other}"),
                };
                (
                    Htlc {
                        direction,
                        amount: Msat(h.amount_msat),
                        payment_hash: preimage.payment_hash(),
                        cltv_expiry: h.cltv_expiry,
                    },
                    preimage,
                )
            })
            .collect();

        let txid: Txid = p.funding_tx_id.parse().unwrap();
        Self {
            funding_outpoint: OutPoint {
                txid,
                vout: p.funding_output_index,
            },
            funding_amount: Sat(p.funding_amount_satoshi),
            funding_script,
            local_funding_key,
            remote_funding_key,
            local_funding_pubkey,
            remote_funding_pubkey,
            local_htlc_key,
            remote_htlc_key,
            local_delayed_key,
            keys,
            obscuring_factor,
            htlc_table,
            secp,
            data,
        }
    }

    pub fn htlcs(&self, ids: &[usize]) -> Vec<Htlc> {
        ids.iter().map(|i| self.htlc_table[*i].0).collect()
    }

    pub fn preimage_for(&self, hash: &PaymentHash) -> PaymentPreimage {
        self.htlc_table
            .iter()
            .find(|(h, _)| h.payment_hash == *hash)
            .map(|(_, p)| *p)
            .unwrap()
    }

    #[allow(clippy::too_many_arguments)]
    pub fn params<'a>(
        &self,
        channel_type: ChannelType,
        to_local: u64,
        to_remote: u64,
        feerate_per_kw: u32,
        dust_limit: u64,
        htlcs: &'a [Htlc],
    ) -> CommitmentParams<'a> {
        CommitmentParams {
            funding_outpoint: self.funding_outpoint,
            funding_amount: self.funding_amount,
            funder: Side::Local,
            to_self_delay: self.data.params.local_delay,
            dust_limit: Sat(dust_limit),
            feerate_per_kw,
            channel_type,
            local_funding_pubkey: self.local_funding_pubkey,
            remote_funding_pubkey: self.remote_funding_pubkey,
            keys: self.keys,
            commitment_number: self.data.params.commitment_number,
            obscuring_factor: self.obscuring_factor,
            to_local: Msat(to_local),
            to_remote: Msat(to_remote),
            htlcs,
        }
    }
}

pub fn unused_hash() -> PaymentHash {
    PaymentHash(bitcoin::hashes::sha256::Hash::hash(b"unused").to_byte_array())
}
