//! Fulmen's BOLT 9 feature set and the BOLT 1 `init` exchange rules.
//!
//! # What Fulmen offers in `init`
//!
//! | feature | bits | set as | why |
//! | --- | --- | --- | --- |
//! | `option_data_loss_protect` | 0/1 | required | ASSUMED by the spec; `channel_reestablish` always carries the proof fields |
//! | `option_upfront_shutdown_script` | 4/5 | optional | the channel state machine checks a committed shutdown script |
//! | `gossip_queries` | 6/7 | optional | the gossip thread answers `gossip_timestamp_filter`, `query_channel_range` and `query_short_channel_ids` |
//! | `var_onion_optin` | 8/9 | required | ASSUMED; BOLT 9: every node MUST support it |
//! | `option_static_remotekey` | 12/13 | required | ASSUMED; the only legacy channel type Fulmen opens |
//! | `payment_secret` | 14/15 | required | ASSUMED; invoices always carry one |
//! | `basic_mpp` | 16/17 | optional | multi-part payments are received (parts held until complete) and sent (split when no single route has the liquidity) |
//! | `option_support_large_channel` | 18/19 | optional | channels above 2^24 sat are accepted |
//! | `option_anchors_zero_fee_htlc_tx` | 22/23 | optional | the default channel type |
//! | `option_shutdown_anysegwit` | 26/27 | optional | future segwit versions in `shutdown` |
//! | `option_channel_type` | 44/45 | optional | ASSUMED; `channel_type` is always sent |
//! | `option_scid_alias` | 46/47 | optional | private channels use aliases |
//!
//! Not offered (yet): `gossip_queries_ex`
//! (10/11, the extended query flags); `option_route_blinding` (24/25),
//! until forwarding handles blinded hops; `option_dual_fund`, `option_quiesce`,
//! `option_onion_messages`, `option_provide_storage`, `option_zeroconf`,
//! `option_simple_close`, `option_splice`, and the legacy non-zero-fee
//! `option_anchor_outputs` (20/21), which Fulmen refuses to open.
//!
//! # What Fulmen checks in the peer's `init`
//!
//! [`check_peer_init`]: the union of `globalfeatures` and `features` must
//! require no unknown (even) bit and must set every dependency of the
//! features it sets (BOLT 1: otherwise MUST close the connection); if the
//! peer lists `networks`, one of them must be ours (BOLT 1: MAY close the
//! connection otherwise; Fulmen does, as no channel could be opened).

use core::fmt;
use std::net::{IpAddr, SocketAddr};

use bitcoin::constants::ChainHash;
use bitcoin::Network;
use fulmen_types::{Feature, FeatureError, Features};
use fulmen_wire::{Init, NetAddress, WireFeatures};

/// The features Fulmen sets in its `init` (see the module documentation).
pub fn our_init_features() -> Features {
    Features::empty()
        .with_required(Feature::DataLossProtect)
        .with_optional(Feature::UpfrontShutdownScript)
        .with_optional(Feature::GossipQueries)
        .with_required(Feature::VarOnionOptin)
        .with_required(Feature::StaticRemoteKey)
        .with_required(Feature::PaymentSecret)
        .with_optional(Feature::BasicMpp)
        .with_optional(Feature::SupportLargeChannel)
        .with_optional(Feature::AnchorsZeroFeeHtlcTx)
        .with_optional(Feature::ShutdownAnySegwit)
        .with_optional(Feature::ChannelType)
        .with_optional(Feature::ScidAlias)
}

/// The chain hash (genesis block hash) of `network`.
pub fn chain_hash(network: Network) -> ChainHash {
    ChainHash::using_genesis_block(network)
}

/// The `init` Fulmen sends: its features (in `features`; `globalfeatures`
/// empty), `networks` = our chain, and `remote_addr` = the peer's address if
/// it connected to us from a public IP address (BOLT 1: SHOULD NOT set
/// private addresses).
pub fn our_init(network: Network, inbound_from: Option<SocketAddr>) -> Init {
    Init {
        global_features: WireFeatures::new(Features::empty()),
        features: WireFeatures::new(our_init_features()),
        networks: Some(vec![chain_hash(network)]),
        remote_addr: inbound_from.filter(is_public).map(|a| match a.ip() {
            IpAddr::V4(addr) => NetAddress::Ipv4 {
                addr,
                port: a.port(),
            },
            IpAddr::V6(addr) => NetAddress::Ipv6 {
                addr,
                port: a.port(),
            },
        }),
        unknown_tlvs: Vec::new(),
    }
}

/// Whether an address is routable on the public internet (roughly: not
/// loopback, private, link-local, shared, documentation or unspecified).
fn is_public(addr: &SocketAddr) -> bool {
    match addr.ip() {
        IpAddr::V4(ip) => {
            let [a, b, ..] = ip.octets();
            !(ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_documentation()
                || ip.is_multicast()
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(ip) => {
            let first = ip.segments().first().copied().unwrap_or(0);
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Why a peer's `init` was refused. Reaction: send a `warning` (never an
/// `error`, which would fail channels) and close the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// The peer requires a feature Fulmen does not know, or sets a feature
    /// without its dependency.
    Features(FeatureError),
    /// The peer lists its chains and ours is not among them.
    NoCommonNetwork,
    /// The first message after the handshake was not `init` (type given).
    NotInit(u16),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Features(e) => write!(f, "incompatible features: {e}"),
            Self::NoCommonNetwork => f.write_str("no common network"),
            Self::NotInit(t) => write!(f, "first message was type {t}, not init"),
        }
    }
}

impl std::error::Error for InitError {}

/// Checks the peer's `init` (see the module documentation) and returns its
/// combined features.
pub fn check_peer_init(init: &Init, our_chain: ChainHash) -> Result<Features, InitError> {
    let features = init
        .global_features
        .features()
        .union(init.features.features());
    features.check_received().map_err(InitError::Features)?;
    if let Some(networks) = &init.networks {
        if !networks.contains(&our_chain) {
            return Err(InitError::NoCommonNetwork);
        }
    }
    Ok(features)
}

/// The names of the known features set in `features`, e.g.
/// `"static_remote_key(required)"`, for `listpeers`.
pub fn feature_names(features: &Features) -> Vec<String> {
    features
        .known()
        .map(|f| {
            let kind = if features.requires(f) {
                "required"
            } else {
                "optional"
            };
            format!("{f:?}({kind})")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init_with(features: Features, networks: Option<Vec<ChainHash>>) -> Init {
        Init {
            global_features: WireFeatures::default(),
            features: WireFeatures::new(features),
            networks,
            remote_addr: None,
            unknown_tlvs: vec![],
        }
    }

    #[test]
    fn our_features_are_valid_for_init() {
        let f = our_init_features();
        assert_eq!(f.check_for_context(fulmen_types::Context::Init), Ok(()));
        assert_eq!(f.check_received(), Ok(()));
        for required in [0, 8, 12, 14] {
            assert!(f.has_bit(required), "bit {required}");
        }
        for optional in [5, 19, 23, 27, 45, 47] {
            assert!(f.has_bit(optional), "bit {optional}");
        }
        assert!(f.supports(Feature::GossipQueries));
        assert!(f.supports(Feature::BasicMpp));
        assert!(!f.supports(Feature::AnchorOutputs));
        // Two Fulmen nodes accept each other.
        let init = our_init(Network::Regtest, None);
        assert_eq!(
            check_peer_init(&init, chain_hash(Network::Regtest)),
            Ok(our_init_features())
        );
    }

    #[test]
    fn unknown_required_bits_are_refused_unknown_optional_ignored() {
        let chain = chain_hash(Network::Regtest);
        let mut odd = our_init_features();
        odd.set_bit(201);
        assert!(check_peer_init(&init_with(odd, None), chain).is_ok());
        let mut even = our_init_features();
        even.set_bit(200);
        assert_eq!(
            check_peer_init(&init_with(even, None), chain),
            Err(InitError::Features(FeatureError::UnknownRequiredBit(200)))
        );
        // An unknown even bit in the legacy globalfeatures counts as well.
        let mut init = init_with(our_init_features(), None);
        let mut global = Features::empty();
        global.set_bit(2);
        init.global_features = WireFeatures::new(global);
        assert_eq!(
            check_peer_init(&init, chain),
            Err(InitError::Features(FeatureError::UnknownRequiredBit(2)))
        );
    }

    #[test]
    fn missing_dependencies_are_refused() {
        let f = Features::empty().with_optional(Feature::BasicMpp);
        assert!(matches!(
            check_peer_init(&init_with(f, None), chain_hash(Network::Regtest)),
            Err(InitError::Features(FeatureError::MissingDependency { .. }))
        ));
    }

    #[test]
    fn networks_must_include_ours_when_given() {
        let regtest = chain_hash(Network::Regtest);
        let main = chain_hash(Network::Bitcoin);
        let f = our_init_features();
        assert!(check_peer_init(&init_with(f.clone(), Some(vec![main, regtest])), regtest).is_ok());
        assert_eq!(
            check_peer_init(&init_with(f.clone(), Some(vec![main])), regtest),
            Err(InitError::NoCommonNetwork)
        );
        assert_eq!(
            check_peer_init(&init_with(f.clone(), Some(vec![])), regtest),
            Err(InitError::NoCommonNetwork)
        );
        assert!(check_peer_init(&init_with(f, None), regtest).is_ok());
    }

    #[test]
    fn remote_addr_only_for_public_inbound_addresses() {
        let private: SocketAddr = "192.168.1.5:9735".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:9735".parse().unwrap();
        let public: SocketAddr = "8.8.8.8:9735".parse().unwrap();
        let ula: SocketAddr = "[fd00::1]:9735".parse().unwrap();
        let public6: SocketAddr = "[2a00:1450::1]:9735".parse().unwrap();
        for a in [private, local, ula, "100.64.0.1:1".parse().unwrap()] {
            assert_eq!(our_init(Network::Regtest, Some(a)).remote_addr, None, "{a}");
        }
        assert_eq!(
            our_init(Network::Regtest, Some(public)).remote_addr,
            Some(NetAddress::Ipv4 {
                addr: [8, 8, 8, 8].into(),
                port: 9735
            })
        );
        assert!(our_init(Network::Regtest, Some(public6))
            .remote_addr
            .is_some());
        assert_eq!(
            our_init(Network::Regtest, None).networks,
            Some(vec![chain_hash(Network::Regtest)])
        );
    }

    #[test]
    fn names_say_required_or_optional() {
        let names = feature_names(&our_init_features());
        assert!(names.contains(&"StaticRemoteKey(required)".to_string()));
        assert!(names.contains(&"AnchorsZeroFeeHtlcTx(optional)".to_string()));
        assert!(names.contains(&"BasicMpp(optional)".to_string()));
    }
}
