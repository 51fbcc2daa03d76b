//! BOLT 11 invoices, through the `lightning-invoice` crate (0.34, the
//! version ldk-node 0.7 uses), wrapped in Fulmen's [`Invoice`].
//!
//! Parsing ([`Invoice::parse`]) checks the bech32 checksum, the human-readable
//! part, every field length, the signature (low-S when an `n` field is given,
//! public-key recovery otherwise), the presence of exactly one `p`, one `s`
//! and one of `d`/`h`, the millisatoshi precision of the amount, and the
//! feature bits (no unknown even bit, every known dependency present).
//!
//! Creation ([`Invoice::create`]) takes the node key, the timestamp and the
//! payment hash (or preimage) as arguments: there is no clock and no
//! randomness. Signatures are RFC 6979 deterministic.

use core::fmt;
use core::str::FromStr;
use core::time::Duration;

use bitcoin::address::AddressData;
use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::{ecdsa, Message, PublicKey, SecretKey};
use bitcoin::{Address, Network};
use fulmen_types::{
    Context, Feature, FeatureError, Features, Msat, NodeId, PaymentHash, PaymentPreimage,
    PaymentSecret, ShortChannelId,
};
use lightning_invoice::{
    Bolt11Invoice, Bolt11InvoiceDescription, Bolt11InvoiceDescriptionRef, Bolt11ParseError,
    Bolt11SemanticError, CreationError, Currency, Description, Fallback, InvoiceBuilder,
    ParseOrSemanticError, RawTaggedField, RouteHint, RoutingFees, TaggedField,
};
use lightning_types::features::Bolt11InvoiceFeatures;

use crate::keys;

/// Expiry when the invoice has no `x` field, seconds.
pub const DEFAULT_EXPIRY_SECS: u64 = 3600;
/// `min_final_cltv_expiry_delta` when the invoice has no `c` field.
pub const DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA: u64 = 18;

/// What the payment is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvoiceDescription {
    /// `d`: the description itself (at most 639 bytes of UTF-8). Untrusted
    /// text: sanitise before display.
    Direct(String),
    /// `h`: the SHA256 of a description delivered some other way.
    Hash([u8; 32]),
}

/// One hop of a private route hint (`r` field): the channel from `node_id`
/// towards the payee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteHintHop {
    /// The node at the start of the channel.
    pub node_id: NodeId,
    /// The channel.
    pub short_channel_id: ShortChannelId,
    /// Base fee, msat.
    pub fee_base_msat: u32,
    /// Proportional fee, millionths.
    pub fee_proportional_millionths: u32,
    /// CLTV delta of the channel.
    pub cltv_expiry_delta: u16,
}

/// Why an invoice was refused or could not be made. A refused invoice must
/// not be paid; tell the user it is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvoiceError {
    /// The string is not a well-formed BOLT 11 invoice (bech32, prefix,
    /// amount, field lengths, signature encoding).
    Parse(Bolt11ParseError),
    /// The invoice is well-formed but breaks a BOLT 11 rule (missing or
    /// duplicate field, bad signature, sub-millisatoshi amount, unknown even
    /// feature).
    Semantic(Bolt11SemanticError),
    /// The feature bits are not acceptable (a known feature without its
    /// dependency, or an unknown required bit).
    Features(FeatureError),
    /// The invoice could not be built from the given parameters.
    Creation(CreationError),
    /// A route hint node id is not a valid public key.
    BadRouteHintKey,
    /// A fallback address type cannot be put in an invoice.
    UnsupportedFallback,
}

impl fmt::Display for InvoiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse(e) => write!(f, "malformed invoice: {e}"),
            Self::Semantic(e) => write!(f, "invalid invoice: {e}"),
            Self::Features(e) => write!(f, "invalid invoice features: {e}"),
            Self::Creation(e) => write!(f, "cannot create invoice: {e}"),
            Self::BadRouteHintKey => f.write_str("route hint node id is not a valid key"),
            Self::UnsupportedFallback => f.write_str("fallback address type not supported"),
        }
    }
}

impl std::error::Error for InvoiceError {}

/// A validated BOLT 11 invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    inner: Bolt11Invoice,
    payee: PublicKey,
}

/// What to put in a new invoice. Start from [`NewInvoice::new`] and set the
/// optional fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvoice {
    /// The chain the invoice is for.
    pub network: Network,
    /// The amount, if the payer may not choose it.
    pub amount: Option<Msat>,
    /// The payment hash (`p`).
    pub payment_hash: PaymentHash,
    /// The payment secret (`s`).
    pub payment_secret: PaymentSecret,
    /// The description or its hash.
    pub description: InvoiceDescription,
    /// Creation time, seconds since the Unix epoch (35 bits).
    pub timestamp: u64,
    /// Expiry in seconds (`x`); `None` leaves the field out (default 3600).
    pub expiry_secs: Option<u64>,
    /// `min_final_cltv_expiry_delta` (`c`).
    pub min_final_cltv_expiry_delta: u64,
    /// Private routes (`r`), each a list of hops towards the payee.
    pub route_hints: Vec<Vec<RouteHintHop>>,
    /// On-chain fallback addresses (`f`).
    pub fallback_addresses: Vec<Address>,
    /// `payment_metadata` (`m`) for the payer to echo in the onion.
    pub payment_metadata: Option<Vec<u8>>,
    /// Features beyond the mandatory `var_onion_optin` and `payment_secret`
    /// (which are always set as required), e.g. `basic_mpp`.
    pub features: Features,
    /// Whether to include the payee node id (`n`) rather than rely on
    /// public-key recovery.
    pub include_payee: bool,
}

impl NewInvoice {
    /// A new invoice with no amount, no expiry field, the default CLTV delta
    /// and only the mandatory features.
    pub fn new(
        network: Network,
        payment_hash: PaymentHash,
        payment_secret: PaymentSecret,
        description: InvoiceDescription,
        timestamp: u64,
    ) -> Self {
        Self {
            network,
            amount: None,
            payment_hash,
            payment_secret,
            description,
            timestamp,
            expiry_secs: None,
            min_final_cltv_expiry_delta: DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA,
            route_hints: Vec::new(),
            fallback_addresses: Vec::new(),
            payment_metadata: None,
            features: Features::empty(),
            include_payee: false,
        }
    }

    /// The same, with the payment hash of `preimage`.
    pub fn from_preimage(
        network: Network,
        preimage: &PaymentPreimage,
        payment_secret: PaymentSecret,
        description: InvoiceDescription,
        timestamp: u64,
    ) -> Self {
        Self::new(
            network,
            preimage.payment_hash(),
            payment_secret,
            description,
            timestamp,
        )
    }
}

fn fallback_of(address: &Address) -> Result<Fallback, InvoiceError> {
    match address.to_address_data() {
        AddressData::P2pkh { pubkey_hash } => Ok(Fallback::PubKeyHash(pubkey_hash)),
        AddressData::P2sh { script_hash } => Ok(Fallback::ScriptHash(script_hash)),
        AddressData::Segwit { witness_program } => Ok(Fallback::SegWitProgram {
            version: witness_program.version(),
            program: witness_program.program().as_bytes().to_vec(),
        }),
        _ => Err(InvoiceError::UnsupportedFallback),
    }
}

fn route_hint_of(hops: &[RouteHintHop]) -> Result<RouteHint, InvoiceError> {
    let mut out = Vec::with_capacity(hops.len());
    for h in hops {
        out.push(lightning_invoice::RouteHintHop {
            src_node_id: h
                .node_id
                .to_pubkey()
                .map_err(|_| InvoiceError::BadRouteHintKey)?,
            short_channel_id: h.short_channel_id.0,
            fees: RoutingFees {
                base_msat: h.fee_base_msat,
                proportional_millionths: h.fee_proportional_millionths,
            },
            cltv_expiry_delta: h.cltv_expiry_delta,
            htlc_minimum_msat: None,
            htlc_maximum_msat: None,
        });
    }
    Ok(RouteHint(out))
}

/// The payee: the `n` field if present (the signature was verified against
/// it, low-S only), else the key recovered from the signature. A high-S
/// signature is normalised to low-S with the same recovery id before
/// recovery, which is what the specification's "Public-key recovery with
/// high-S signature" example requires.
fn recover_payee(inner: &Bolt11Invoice) -> Result<PublicKey, InvoiceError> {
    if let Some(pk) = inner.payee_pub_key() {
        return Ok(*pk);
    }
    let bad = InvoiceError::Semantic(Bolt11SemanticError::InvalidSignature);
    let signed = inner.clone().into_signed_raw();
    let (recid, compact) = signed.signature().0.serialize_compact();
    let mut sig = ecdsa::Signature::from_compact(&compact).map_err(|_| bad.clone())?;
    sig.normalize_s();
    let rs = ecdsa::RecoverableSignature::from_compact(&sig.serialize_compact(), recid)
        .map_err(|_| bad.clone())?;
    keys::secp()
        .recover_ecdsa(&Message::from_digest(inner.signable_hash()), &rs)
        .map_err(|_| bad)
}

impl Invoice {
    /// Parses and validates an invoice string (either case, not mixed).
    pub fn parse(s: &str) -> Result<Self, InvoiceError> {
        let inner = Bolt11Invoice::from_str(s).map_err(|e| match e {
            ParseOrSemanticError::ParseError(p) => InvoiceError::Parse(p),
            ParseOrSemanticError::SemanticError(s) => InvoiceError::Semantic(s),
        })?;
        let payee = recover_payee(&inner)?;
        let invoice = Self { inner, payee };
        invoice
            .features()
            .check_received()
            .map_err(InvoiceError::Features)?;
        Ok(invoice)
    }

    /// Builds and signs an invoice with the node's key.
    pub fn create(params: &NewInvoice, node_secret: &SecretKey) -> Result<Self, InvoiceError> {
        let description = match &params.description {
            InvoiceDescription::Direct(d) => Bolt11InvoiceDescription::Direct(
                Description::new(d.clone()).map_err(InvoiceError::Creation)?,
            ),
            InvoiceDescription::Hash(h) => Bolt11InvoiceDescription::Hash(
                lightning_invoice::Sha256(sha256::Hash::from_byte_array(*h)),
            ),
        };
        let mut builder = InvoiceBuilder::new(Currency::from(params.network))
            .invoice_description(description)
            .payment_hash(sha256::Hash::from_byte_array(params.payment_hash.0))
            .duration_since_epoch(Duration::from_secs(params.timestamp))
            .min_final_cltv_expiry_delta(params.min_final_cltv_expiry_delta)
            .payment_secret(lightning_invoice::PaymentSecret(params.payment_secret.0));
        if let Some(a) = params.amount {
            builder = builder.amount_milli_satoshis(a.0);
        }
        if let Some(x) = params.expiry_secs {
            builder = builder.expiry_time(Duration::from_secs(x));
        }
        if params.include_payee {
            builder = builder.payee_pub_key(PublicKey::from_secret_key(keys::secp(), node_secret));
        }
        for address in &params.fallback_addresses {
            builder = builder.fallback(fallback_of(address)?);
        }
        for hint in &params.route_hints {
            builder = builder.private_route(route_hint_of(hint)?);
        }
        let mut raw = builder.build_raw().map_err(InvoiceError::Creation)?;

        let mut features = params
            .features
            .clone()
            .with_required(Feature::VarOnionOptin)
            .with_required(Feature::PaymentSecret);
        if let Some(m) = &params.payment_metadata {
            if !features.supports(Feature::PaymentMetadata) {
                features.set_optional(Feature::PaymentMetadata);
            }
            raw.data.tagged_fields.push(RawTaggedField::KnownSemantics(
                TaggedField::PaymentMetadata(m.clone()),
            ));
        }
        features
            .check_for_context(Context::Invoice)
            .map_err(InvoiceError::Features)?;
        let ldk_features = Bolt11InvoiceFeatures::from_be_bytes(features.to_wire());
        raw.data
            .tagged_fields
            .retain(|f| !matches!(f, RawTaggedField::KnownSemantics(TaggedField::Features(_))));
        raw.data
            .tagged_fields
            .push(RawTaggedField::KnownSemantics(TaggedField::Features(
                ldk_features,
            )));

        let signed = raw
            .sign::<_, ()>(
                |msg: &Message| Ok(keys::secp().sign_ecdsa_recoverable(msg, node_secret)),
            )
            .map_err(|()| InvoiceError::Semantic(Bolt11SemanticError::InvalidSignature))?;
        let inner = Bolt11Invoice::from_signed(signed).map_err(InvoiceError::Semantic)?;
        let payee = recover_payee(&inner)?;
        Ok(Self { inner, payee })
    }

    /// The chain.
    pub fn network(&self) -> Network {
        self.inner.network()
    }

    /// The amount requested, if any.
    pub fn amount(&self) -> Option<Msat> {
        self.inner.amount_milli_satoshis().map(Msat)
    }

    /// Creation time, seconds since the Unix epoch.
    pub fn timestamp(&self) -> u64 {
        self.inner.duration_since_epoch().as_secs()
    }

    /// `p`.
    pub fn payment_hash(&self) -> PaymentHash {
        PaymentHash(self.inner.payment_hash().to_byte_array())
    }

    /// `s`: put it in the final hop's `payment_data`.
    pub fn payment_secret(&self) -> PaymentSecret {
        PaymentSecret(self.inner.payment_secret().0)
    }

    /// `d` or `h`.
    pub fn description(&self) -> InvoiceDescription {
        match self.inner.description() {
            Bolt11InvoiceDescriptionRef::Direct(d) => {
                InvoiceDescription::Direct(d.as_inner().0.clone())
            }
            Bolt11InvoiceDescriptionRef::Hash(h) => InvoiceDescription::Hash(h.0.to_byte_array()),
        }
    }

    /// Whether `description` is the one the `h` field commits to (false for
    /// an invoice with a `d` field).
    pub fn commits_to_description(&self, description: &str) -> bool {
        match self.description() {
            InvoiceDescription::Hash(h) => {
                keys::ct_eq(&h, &keys::sha256_parts(&[description.as_bytes()]))
            }
            InvoiceDescription::Direct(_) => false,
        }
    }

    /// Expiry in seconds after [`Invoice::timestamp`] (3600 by default).
    pub fn expiry_secs(&self) -> u64 {
        self.inner.expiry_time().as_secs()
    }

    /// Whether the invoice has expired at `now` (seconds since the epoch):
    /// the payer should not pay it, the payee should not accept it.
    pub fn is_expired_at(&self, now: u64) -> bool {
        self.timestamp().saturating_add(self.expiry_secs()) < now
    }

    /// `c` (18 by default).
    pub fn min_final_cltv_expiry_delta(&self) -> u64 {
        self.inner.min_final_cltv_expiry_delta()
    }

    /// The private routes, in the payee's order of preference.
    pub fn route_hints(&self) -> Vec<Vec<RouteHintHop>> {
        self.inner
            .route_hints()
            .into_iter()
            .map(|r| {
                r.0.iter()
                    .map(|h| RouteHintHop {
                        node_id: NodeId::from_pubkey(&h.src_node_id),
                        short_channel_id: ShortChannelId(h.short_channel_id),
                        fee_base_msat: h.fees.base_msat,
                        fee_proportional_millionths: h.fees.proportional_millionths,
                        cltv_expiry_delta: h.cltv_expiry_delta,
                    })
                    .collect()
            })
            .collect()
    }

    /// The fallback addresses of known versions, in order.
    pub fn fallback_addresses(&self) -> Vec<Address> {
        self.inner.fallback_addresses()
    }

    /// `m`: echo it in the final hop's `payment_metadata`.
    pub fn payment_metadata(&self) -> Option<&[u8]> {
        self.inner.payment_metadata().map(Vec::as_slice)
    }

    /// The `9` feature bits.
    pub fn features(&self) -> Features {
        self.inner
            .features()
            .map(|f| {
                let mut be = f.le_flags().to_vec();
                be.reverse();
                Features::from_wire(&be)
            })
            .unwrap_or_default()
    }

    /// The payee: the `n` field if present, else the key recovered from the
    /// signature.
    pub fn payee(&self) -> NodeId {
        NodeId::from_pubkey(&self.payee)
    }

    /// The underlying `lightning-invoice` value.
    pub fn as_bolt11(&self) -> &Bolt11Invoice {
        &self.inner
    }
}

impl fmt::Display for Invoice {
    /// The bech32 string (lower case).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl FromStr for Invoice {
    type Err = InvoiceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
