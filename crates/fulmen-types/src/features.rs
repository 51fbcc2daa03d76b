//! BOLT 9 feature bit vectors.
//!
//! A feature occupies a pair of bits: the even bit means "required", the odd
//! bit "supported". Bits are numbered from the least-significant bit of the
//! last byte of the wire form (big-endian). A peer that requires a bit we do
//! not know must be refused ([`Features::requires_unknown_bits`]); unknown odd
//! bits are ignored ("it's OK to be odd").

use core::fmt;

/// Where a feature vector appears; each feature is allowed only in some.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Context {
    /// The `init` message (`I`).
    Init,
    /// `node_announcement` (`N`).
    NodeAnnouncement,
    /// `channel_announcement` (`C`).
    ChannelAnnouncement,
    /// BOLT 11 invoices (`9`).
    Invoice,
    /// The `allowed_features` of a blinded path (`B`).
    BlindedPath,
    /// The `channel_type` TLV of `open_channel` / `accept_channel` (`T`).
    ChannelType,
}

/// Every feature Fulmen knows, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feature {
    /// Bits 0/1, `option_data_loss_protect` (assumed by current spec).
    DataLossProtect,
    /// Bits 4/5, `option_upfront_shutdown_script`.
    UpfrontShutdownScript,
    /// Bits 6/7, `gossip_queries`.
    GossipQueries,
    /// Bits 8/9, `var_onion_optin` (assumed).
    VarOnionOptin,
    /// Bits 10/11, `gossip_queries_ex`.
    GossipQueriesEx,
    /// Bits 12/13, `option_static_remotekey` (assumed).
    StaticRemoteKey,
    /// Bits 14/15, `payment_secret` (assumed).
    PaymentSecret,
    /// Bits 16/17, `basic_mpp`.
    BasicMpp,
    /// Bits 18/19, `option_support_large_channel`.
    SupportLargeChannel,
    /// Bits 20/21, `option_anchor_outputs` (the older, non-zero-fee anchors; known so it can be refused knowingly).
    AnchorOutputs,
    /// Bits 22/23, `option_anchors_zero_fee_htlc_tx`.
    AnchorsZeroFeeHtlcTx,
    /// Bits 24/25, `option_route_blinding`.
    RouteBlinding,
    /// Bits 26/27, `option_shutdown_anysegwit`.
    ShutdownAnySegwit,
    /// Bits 28/29, `option_dual_fund`.
    DualFund,
    /// Bits 34/35, `option_quiesce`.
    Quiesce,
    /// Bits 36/37, `option_attribution_data`.
    AttributionData,
    /// Bits 38/39, `option_onion_messages`.
    OnionMessages,
    /// Bits 42/43, `option_provide_storage`.
    ProvideStorage,
    /// Bits 44/45, `option_channel_type` (assumed).
    ChannelType,
    /// Bits 46/47, `option_scid_alias`.
    ScidAlias,
    /// Bits 48/49, `option_payment_metadata`.
    PaymentMetadata,
    /// Bits 50/51, `option_zeroconf`.
    ZeroConf,
    /// Bits 60/61, `option_simple_close`.
    SimpleClose,
    /// Bits 62/63, `option_splice`.
    Splice,
}

use Context::{
    BlindedPath as B, ChannelAnnouncement as C, ChannelType as T, Init as I, Invoice as V,
    NodeAnnouncement as N,
};

impl Feature {
    /// All known features.
    pub const ALL: [Feature; 24] = [
        Self::DataLossProtect,
        Self::UpfrontShutdownScript,
        Self::GossipQueries,
        Self::VarOnionOptin,
        Self::GossipQueriesEx,
        Self::StaticRemoteKey,
        Self::PaymentSecret,
        Self::BasicMpp,
        Self::SupportLargeChannel,
        Self::AnchorOutputs,
        Self::AnchorsZeroFeeHtlcTx,
        Self::RouteBlinding,
        Self::ShutdownAnySegwit,
        Self::DualFund,
        Self::Quiesce,
        Self::AttributionData,
        Self::OnionMessages,
        Self::ProvideStorage,
        Self::ChannelType,
        Self::ScidAlias,
        Self::PaymentMetadata,
        Self::ZeroConf,
        Self::SimpleClose,
        Self::Splice,
    ];

    /// The even ("required") bit of the pair.
    pub const fn required_bit(self) -> usize {
        match self {
            Self::DataLossProtect => 0,
            Self::UpfrontShutdownScript => 4,
            Self::GossipQueries => 6,
            Self::VarOnionOptin => 8,
            Self::GossipQueriesEx => 10,
            Self::StaticRemoteKey => 12,
            Self::PaymentSecret => 14,
            Self::BasicMpp => 16,
            Self::SupportLargeChannel => 18,
            Self::AnchorOutputs => 20,
            Self::AnchorsZeroFeeHtlcTx => 22,
            Self::RouteBlinding => 24,
            Self::ShutdownAnySegwit => 26,
            Self::DualFund => 28,
            Self::Quiesce => 34,
            Self::AttributionData => 36,
            Self::OnionMessages => 38,
            Self::ProvideStorage => 42,
            Self::ChannelType => 44,
            Self::ScidAlias => 46,
            Self::PaymentMetadata => 48,
            Self::ZeroConf => 50,
            Self::SimpleClose => 60,
            Self::Splice => 62,
        }
    }

    /// The odd ("supported") bit of the pair.
    pub const fn optional_bit(self) -> usize {
        self.required_bit() + 1
    }

    /// The feature a bit belongs to, if known.
    pub fn from_bit(bit: usize) -> Option<Self> {
        let even = bit & !1;
        Self::ALL.into_iter().find(|f| f.required_bit() == even)
    }

    /// The contexts in which the feature may appear. Features the current
    /// specification marks `ASSUMED` keep the contexts they had before, since
    /// deployed peers (LDK among them) still set them.
    pub fn contexts(self) -> &'static [Context] {
        match self {
            Self::DataLossProtect
            | Self::UpfrontShutdownScript
            | Self::GossipQueries
            | Self::GossipQueriesEx
            | Self::SupportLargeChannel
            | Self::ShutdownAnySegwit
            | Self::DualFund
            | Self::Quiesce
            | Self::OnionMessages
            | Self::ProvideStorage
            | Self::ChannelType
            | Self::SimpleClose
            | Self::Splice => &[I, N],
            Self::VarOnionOptin | Self::PaymentSecret | Self::BasicMpp | Self::AttributionData => {
                &[I, N, V]
            }
            Self::RouteBlinding => &[I, N, V, B],
            Self::StaticRemoteKey
            | Self::AnchorOutputs
            | Self::AnchorsZeroFeeHtlcTx
            | Self::ScidAlias
            | Self::ZeroConf => &[I, N, T],
            Self::PaymentMetadata => &[V],
        }
    }

    /// Features this one depends on (which must be set whenever it is).
    pub fn dependencies(self) -> &'static [Feature] {
        match self {
            Self::BasicMpp => &[Self::PaymentSecret],
            Self::GossipQueriesEx => &[Self::GossipQueries],
            Self::PaymentSecret => &[Self::VarOnionOptin],
            Self::AnchorOutputs | Self::AnchorsZeroFeeHtlcTx => &[Self::StaticRemoteKey],
            Self::ZeroConf => &[Self::ScidAlias],
            Self::SimpleClose => &[Self::ShutdownAnySegwit],
            _ => &[],
        }
    }

    /// Whether the feature may appear in `ctx`. Channel announcements carry no
    /// features Fulmen knows.
    pub fn allowed_in(self, ctx: Context) -> bool {
        ctx != C && self.contexts().contains(&ctx)
    }
}

/// Why a feature vector is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeatureError {
    /// An even bit Fulmen does not know is set: the peer requires something we
    /// cannot do (BOLT 1: fail the connection; BOLT 7/11: do not use).
    UnknownRequiredBit(usize),
    /// A known feature is set without a feature it depends on.
    MissingDependency {
        /// The feature that is set.
        feature: Feature,
        /// The dependency that is missing.
        missing: Feature,
    },
    /// A known feature is set in a context where it has no meaning.
    WrongContext {
        /// The feature.
        feature: Feature,
        /// The context it was found in.
        context: Context,
    },
}

impl fmt::Display for FeatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownRequiredBit(b) => write!(f, "unknown required feature bit {b}"),
            Self::MissingDependency { feature, missing } => {
                write!(
                    f,
                    "feature {feature:?} set without its dependency {missing:?}"
                )
            }
            Self::WrongContext { feature, context } => {
                write!(f, "feature {feature:?} not allowed in {context:?}")
            }
        }
    }
}

impl std::error::Error for FeatureError {}

/// A feature bit vector. Stored least-significant byte first; the wire form
/// ([`Features::from_wire`], [`Features::to_wire`]) is big-endian.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Features {
    /// `le[0]` holds bits 0..=7.
    le: Vec<u8>,
}

impl Features {
    /// No bits set.
    pub fn empty() -> Self {
        Self::default()
    }

    /// From the big-endian wire bytes (leading zero bytes are allowed).
    pub fn from_wire(bytes: &[u8]) -> Self {
        let mut le: Vec<u8> = bytes.iter().rev().copied().collect();
        while le.last() == Some(&0) {
            le.pop();
        }
        Self { le }
    }

    /// The minimal big-endian wire form (no leading zero bytes).
    pub fn to_wire(&self) -> Vec<u8> {
        self.le.iter().rev().copied().collect()
    }

    /// Whether bit `bit` is set.
    pub fn has_bit(&self, bit: usize) -> bool {
        self.le
            .get(bit / 8)
            .is_some_and(|b| b & (1 << (bit % 8)) != 0)
    }

    /// Sets bit `bit`.
    pub fn set_bit(&mut self, bit: usize) {
        let byte = bit / 8;
        if self.le.len() <= byte {
            self.le.resize(byte + 1, 0);
        }
        if let Some(b) = self.le.get_mut(byte) {
            *b |= 1 << (bit % 8);
        }
    }

    /// Clears bit `bit`.
    pub fn clear_bit(&mut self, bit: usize) {
        if let Some(b) = self.le.get_mut(bit / 8) {
            *b &= !(1 << (bit % 8));
        }
        while self.le.last() == Some(&0) {
            self.le.pop();
        }
    }

    /// Iterates over the set bits, lowest first.
    pub fn bits(&self) -> impl Iterator<Item = usize> + '_ {
        self.le.iter().enumerate().flat_map(|(i, byte)| {
            (0..8)
                .filter(move |j| byte & (1 << j) != 0)
                .map(move |j| i * 8 + j)
        })
    }

    /// Marks `f` as required (even bit), clearing its optional bit.
    pub fn set_required(&mut self, f: Feature) -> &mut Self {
        self.clear_bit(f.optional_bit());
        self.set_bit(f.required_bit());
        self
    }

    /// Marks `f` as supported (odd bit), clearing its required bit.
    pub fn set_optional(&mut self, f: Feature) -> &mut Self {
        self.clear_bit(f.required_bit());
        self.set_bit(f.optional_bit());
        self
    }

    /// Builder form of [`Features::set_required`].
    pub fn with_required(mut self, f: Feature) -> Self {
        self.set_required(f);
        self
    }

    /// Builder form of [`Features::set_optional`].
    pub fn with_optional(mut self, f: Feature) -> Self {
        self.set_optional(f);
        self
    }

    /// Whether `f` is set, either bit.
    pub fn supports(&self, f: Feature) -> bool {
        self.has_bit(f.required_bit()) || self.has_bit(f.optional_bit())
    }

    /// Whether `f`'s required (even) bit is set.
    pub fn requires(&self, f: Feature) -> bool {
        self.has_bit(f.required_bit())
    }

    /// The union of two vectors (for `init`, `globalfeatures | features`).
    pub fn union(&self, other: &Self) -> Self {
        let len = self.le.len().max(other.le.len());
        let le = (0..len)
            .map(|i| self.le.get(i).copied().unwrap_or(0) | other.le.get(i).copied().unwrap_or(0))
            .collect();
        Self { le }
    }

    /// Even bits set that Fulmen does not know.
    pub fn unknown_required_bits(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits()
            .filter(|b| b % 2 == 0 && Feature::from_bit(*b).is_none())
    }

    /// Whether any unknown even bit is set: BOLT 1 says to fail the
    /// connection; BOLT 7 and 11 say not to use the channel, node or invoice.
    pub fn requires_unknown_bits(&self) -> bool {
        self.unknown_required_bits().next().is_some()
    }

    /// Whether a known feature's even bit is set although it is not allowed in
    /// `ctx`, or an unknown even bit is set: the vector asks for something we
    /// cannot do there.
    pub fn requires_unknown_bits_in(&self, ctx: Context) -> bool {
        self.bits()
            .any(|b| b % 2 == 0 && Feature::from_bit(b).is_none_or(|f| !f.allowed_in(ctx)))
    }

    /// The known features that are set.
    pub fn known(&self) -> impl Iterator<Item = Feature> + '_ {
        Feature::ALL.into_iter().filter(|f| self.supports(*f))
    }

    /// Checks what a receiver must check: no unknown required bit, and every
    /// known feature's dependencies present.
    pub fn check_received(&self) -> Result<(), FeatureError> {
        if let Some(b) = self.unknown_required_bits().next() {
            return Err(FeatureError::UnknownRequiredBit(b));
        }
        self.check_dependencies()
    }

    /// Checks that every known feature set has its dependencies set.
    pub fn check_dependencies(&self) -> Result<(), FeatureError> {
        for feature in self.known() {
            for missing in feature.dependencies() {
                if !self.supports(*missing) {
                    return Err(FeatureError::MissingDependency {
                        feature,
                        missing: *missing,
                    });
                }
            }
        }
        Ok(())
    }

    /// Checks what an origin must guarantee for `ctx`: only known features,
    /// each allowed in `ctx`, with its dependencies.
    pub fn check_for_context(&self, ctx: Context) -> Result<(), FeatureError> {
        for bit in self.bits() {
            let Some(feature) = Feature::from_bit(bit) else {
                return Err(FeatureError::UnknownRequiredBit(bit));
            };
            if !feature.allowed_in(ctx) {
                return Err(FeatureError::WrongContext {
                    feature,
                    context: ctx,
                });
            }
        }
        self.check_dependencies()
    }
}

impl fmt::Debug for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for bit in self.bits() {
            match Feature::from_bit(bit) {
                Some(feat) if bit % 2 == 0 => list.entry(&format_args!("{feat:?}(req)")),
                Some(feat) => list.entry(&format_args!("{feat:?}(opt)")),
                None => list.entry(&format_args!("bit{bit}")),
            };
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_is_big_endian_and_minimal() {
        let f = Features::empty()
            .with_required(Feature::AnchorsZeroFeeHtlcTx)
            .with_required(Feature::StaticRemoteKey);
        // bits 12 and 22: 0x401000
        assert_eq!(f.to_wire(), vec![0x40, 0x10, 0x00]);
        assert_eq!(Features::from_wire(&[0, 0, 0x40, 0x10, 0x00]), f);
        assert!(f.requires(Feature::AnchorsZeroFeeHtlcTx));
        assert!(!f.has_bit(23));
        assert_eq!(f.bits().collect::<Vec<_>>(), vec![12, 22]);
        assert_eq!(Features::empty().to_wire(), Vec::<u8>::new());
    }

    #[test]
    fn required_and_optional_replace_each_other() {
        let mut f = Features::empty();
        f.set_optional(Feature::BasicMpp);
        assert!(f.supports(Feature::BasicMpp) && !f.requires(Feature::BasicMpp));
        f.set_required(Feature::BasicMpp);
        assert!(f.requires(Feature::BasicMpp) && !f.has_bit(17));
    }

    #[test]
    fn unknown_even_bits_are_required_unknown_odd_are_fine() {
        let mut f = Features::empty();
        f.set_bit(101);
        assert!(!f.requires_unknown_bits());
        f.set_bit(100);
        assert!(f.requires_unknown_bits());
        assert_eq!(
            f.check_received(),
            Err(FeatureError::UnknownRequiredBit(100))
        );
    }

    #[test]
    fn context_rules() {
        let ct = Features::empty()
            .with_required(Feature::AnchorsZeroFeeHtlcTx)
            .with_required(Feature::StaticRemoteKey);
        assert_eq!(ct.check_for_context(Context::ChannelType), Ok(()));
        let bad = Features::empty()
            .with_required(Feature::BasicMpp)
            .with_required(Feature::PaymentSecret)
            .with_required(Feature::VarOnionOptin);
        assert_eq!(
            bad.check_for_context(Context::ChannelType),
            Err(FeatureError::WrongContext {
                feature: Feature::VarOnionOptin,
                context: Context::ChannelType
            })
        );
        assert_eq!(bad.check_for_context(Context::Invoice), Ok(()));
        assert!(Features::empty()
            .with_required(Feature::PaymentMetadata)
            .requires_unknown_bits_in(Context::Init));
        assert!(!Features::empty()
            .with_required(Feature::PaymentMetadata)
            .requires_unknown_bits_in(Context::Invoice));
    }

    #[test]
    fn dependencies_checked() {
        let f = Features::empty().with_optional(Feature::BasicMpp);
        assert_eq!(
            f.check_received(),
            Err(FeatureError::MissingDependency {
                feature: Feature::BasicMpp,
                missing: Feature::PaymentSecret
            })
        );
        let ok = f
            .with_optional(Feature::PaymentSecret)
            .with_required(Feature::VarOnionOptin);
        assert_eq!(ok.check_received(), Ok(()));
    }

    #[test]
    fn union_and_bit_lookup() {
        let a = Features::empty().with_optional(Feature::GossipQueries);
        let b = Features::empty().with_required(Feature::Splice);
        let u = a.union(&b);
        assert!(u.supports(Feature::GossipQueries) && u.requires(Feature::Splice));
        assert_eq!(Feature::from_bit(23), Some(Feature::AnchorsZeroFeeHtlcTx));
        assert_eq!(Feature::from_bit(2), None);
        for f in Feature::ALL {
            assert_eq!(Feature::from_bit(f.optional_bit()), Some(f));
        }
    }
}
