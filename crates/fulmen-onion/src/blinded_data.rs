//! The `encrypted_data_tlv` stream a blinded hop finds inside its
//! `encrypted_recipient_data` (BOLT 4 "Inside `encrypted_recipient_data`"),
//! and the relay arithmetic its `payment_relay` implies.

use bitcoin::secp256k1::PublicKey;
use fulmen_types::{Features, Msat, ShortChannelId};
use fulmen_wire::tlv::{self, RawTlv, TlvBuilder};
use fulmen_wire::{Reader, WireError};

/// `padding`.
pub const TLV_PADDING: u64 = 1;
/// `short_channel_id`.
pub const TLV_SHORT_CHANNEL_ID: u64 = 2;
/// `next_node_id`.
pub const TLV_NEXT_NODE_ID: u64 = 4;
/// `path_id`.
pub const TLV_PATH_ID: u64 = 6;
/// `next_path_key_override`.
pub const TLV_NEXT_PATH_KEY_OVERRIDE: u64 = 8;
/// `payment_relay`.
pub const TLV_PAYMENT_RELAY: u64 = 10;
/// `payment_constraints`.
pub const TLV_PAYMENT_CONSTRAINTS: u64 = 12;
/// `allowed_features`.
pub const TLV_ALLOWED_FEATURES: u64 = 14;

/// `payment_relay`: the fee and expiry delta the recipient set for a hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentRelay {
    /// `cltv_expiry_delta`.
    pub cltv_expiry_delta: u16,
    /// `fee_proportional_millionths`.
    pub fee_proportional_millionths: u32,
    /// `fee_base_msat` (tu32).
    pub fee_base_msat: u32,
}

impl PaymentRelay {
    /// `amt_to_forward` for an incoming HTLC of `amount_msat`:
    /// `((amount - base) * 1e6 + 1e6 + prop - 1) / (1e6 + prop)`, rounding
    /// up as the spec says. `None` if the amount does not cover the base fee
    /// (fail the HTLC).
    pub fn amount_to_forward(&self, amount_msat: Msat) -> Option<Msat> {
        let net = u128::from(amount_msat.0).checked_sub(u128::from(self.fee_base_msat))?;
        let prop = u128::from(self.fee_proportional_millionths);
        let num = net
            .checked_mul(1_000_000)?
            .checked_add(1_000_000)?
            .checked_add(prop)?
            .checked_sub(1)?;
        let den = 1_000_000u128.checked_add(prop)?;
        u64::try_from(num.checked_div(den)?).ok().map(Msat)
    }

    /// `outgoing_cltv_value = cltv_expiry - cltv_expiry_delta`, or `None` if
    /// that would underflow (fail the HTLC).
    pub fn outgoing_cltv(&self, cltv_expiry: u32) -> Option<u32> {
        cltv_expiry.checked_sub(u32::from(self.cltv_expiry_delta))
    }
}

/// `payment_constraints`: the limits the recipient put on a hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentConstraints {
    /// `max_cltv_expiry`.
    pub max_cltv_expiry: u32,
    /// `htlc_minimum_msat` (tu64).
    pub htlc_minimum_msat: Msat,
}

/// A decoded `encrypted_data_tlv`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptedData {
    /// Type 1: ignored content that equalises lengths.
    pub padding: Option<Vec<u8>>,
    /// Type 2.
    pub short_channel_id: Option<ShortChannelId>,
    /// Type 4.
    pub next_node_id: Option<PublicKey>,
    /// Type 6: the recipient's own data to recognise its path.
    pub path_id: Option<Vec<u8>>,
    /// Type 8.
    pub next_path_key_override: Option<PublicKey>,
    /// Type 10.
    pub payment_relay: Option<PaymentRelay>,
    /// Type 12.
    pub payment_constraints: Option<PaymentConstraints>,
    /// Type 14.
    pub allowed_features: Option<Features>,
    /// Unknown odd records, kept so the stream re-encodes identically.
    pub unknown: Vec<RawTlv>,
}

impl EncryptedData {
    /// Decodes the stream. Unknown even types fail ("MUST return an error").
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut out = Self::default();
        let unknown = tlv::decode_stream(bytes, |ty, r| out.read_known(ty, r))?;
        out.unknown = unknown;
        Ok(out)
    }

    fn read_known(&mut self, ty: u64, r: &mut Reader<'_>) -> Result<bool, WireError> {
        match ty {
            TLV_PADDING => self.padding = Some(r.read_rest().to_vec()),
            TLV_SHORT_CHANNEL_ID => self.short_channel_id = Some(r.read_short_channel_id()?),
            TLV_NEXT_NODE_ID => self.next_node_id = Some(r.read_point()?),
            TLV_PATH_ID => self.path_id = Some(r.read_rest().to_vec()),
            TLV_NEXT_PATH_KEY_OVERRIDE => self.next_path_key_override = Some(r.read_point()?),
            TLV_PAYMENT_RELAY => {
                self.payment_relay = Some(PaymentRelay {
                    cltv_expiry_delta: r.read_u16()?,
                    fee_proportional_millionths: r.read_u32()?,
                    fee_base_msat: r.read_tu32()?,
                });
            }
            TLV_PAYMENT_CONSTRAINTS => {
                self.payment_constraints = Some(PaymentConstraints {
                    max_cltv_expiry: r.read_u32()?,
                    htlc_minimum_msat: Msat(r.read_tu64()?),
                });
            }
            TLV_ALLOWED_FEATURES => {
                self.allowed_features = Some(Features::from_wire(r.read_rest()));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The canonical encoding (sorted by type, unknown records merged in).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = TlvBuilder::new();
        if let Some(p) = &self.padding {
            b.record(TLV_PADDING, p.clone());
        }
        if let Some(s) = self.short_channel_id {
            b.record(TLV_SHORT_CHANNEL_ID, s.0.to_be_bytes().to_vec());
        }
        if let Some(n) = &self.next_node_id {
            b.record(TLV_NEXT_NODE_ID, n.serialize().to_vec());
        }
        if let Some(p) = &self.path_id {
            b.record(TLV_PATH_ID, p.clone());
        }
        if let Some(k) = &self.next_path_key_override {
            b.record(TLV_NEXT_PATH_KEY_OVERRIDE, k.serialize().to_vec());
        }
        if let Some(r) = &self.payment_relay {
            b.record_with(TLV_PAYMENT_RELAY, |w| {
                w.write_u16(r.cltv_expiry_delta);
                w.write_u32(r.fee_proportional_millionths);
                w.write_tu64(u64::from(r.fee_base_msat));
            });
        }
        if let Some(c) = &self.payment_constraints {
            b.record_with(TLV_PAYMENT_CONSTRAINTS, |w| {
                w.write_u32(c.max_cltv_expiry);
                w.write_tu64(c.htlc_minimum_msat.0);
            });
        }
        if let Some(f) = &self.allowed_features {
            b.record(TLV_ALLOWED_FEATURES, f.to_wire());
        }
        b.extend_unknown(&self.unknown);
        b.into_bytes()
    }

    /// The `path_key` for the next hop: the override if present, else the
    /// computed one.
    pub fn next_path_key(&self, computed: PublicKey) -> PublicKey {
        self.next_path_key_override.unwrap_or(computed)
    }
}

/// The fees and expiry delta a payer sees for a whole blinded path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlindedPayInfo {
    /// Total base fee, msat.
    pub fee_base_msat: u32,
    /// Total proportional fee, millionths.
    pub fee_proportional_millionths: u32,
    /// Total CLTV delta, including the recipient's `min_final_cltv_expiry_delta`.
    pub cltv_expiry_delta: u16,
}

/// Aggregates the `payment_relay` of every non-final hop (introduction node
/// first) as the creator of a blinded path must (BOLT 4, rounding up at each
/// step, from the hop nearest the recipient backwards). `None` on overflow.
pub fn aggregate_payinfo(
    relays: &[PaymentRelay],
    min_final_cltv_expiry_delta: u16,
) -> Option<BlindedPayInfo> {
    const M: u128 = 1_000_000;
    let (mut base, mut prop) = (0u128, 0u128);
    let mut cltv = u32::from(min_final_cltv_expiry_delta);
    for r in relays.iter().rev() {
        let hop_base = u128::from(r.fee_base_msat);
        let hop_prop = u128::from(r.fee_proportional_millionths);
        let new_base = hop_base
            .checked_mul(M)?
            .checked_add(base.checked_mul(M.checked_add(hop_prop)?)?)?
            .checked_add(M - 1)?
            / M;
        let new_prop = prop
            .checked_add(hop_prop)?
            .checked_mul(M)?
            .checked_add(prop.checked_mul(hop_prop)?)?
            .checked_add(M - 1)?
            / M;
        base = new_base;
        prop = new_prop;
        cltv = cltv.checked_add(u32::from(r.cltv_expiry_delta))?;
    }
    Some(BlindedPayInfo {
        fee_base_msat: u32::try_from(base).ok()?,
        fee_proportional_millionths: u32::try_from(prop).ok()?,
        cltv_expiry_delta: u16::try_from(cltv).ok()?,
    })
}
