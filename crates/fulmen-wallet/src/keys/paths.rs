//! Fulmen's derivation paths, as data, so the layout documented in
//! [`crate::keys`] and the code that derives keys cannot drift apart.
//!
//! All levels are hardened. `coin` is 0 on mainnet and 1 on test networks.

use super::error::DeriveError;
use bitcoin::bip32::{ChildNumber, DerivationPath};
use bitcoin::NetworkKind;

/// Fulmen's BIP43 purpose: `m/9735'` (the Lightning port number).
pub const FULMEN_PURPOSE: u32 = 9735;
/// BIP84 purpose (P2WPKH on-chain accounts): `m/84'`.
pub const BIP84_PURPOSE: u32 = 84;
/// Family under `m/9735'/coin'` holding the node identity key.
pub const NODE_FAMILY: u32 = 0;
/// Family under `m/9735'/coin'` holding one subtree per channel.
pub const CHANNEL_FAMILY: u32 = 1;
/// Index of the node identity key under the node family (a future key
/// rotation would use 1').
pub const NODE_IDENTITY_INDEX: u32 = 0;
/// Account of the on-chain wallet under `m/84'/coin'`.
pub const BIP84_ACCOUNT: u32 = 0;
/// Largest channel key index: indices are hardened, so below 2^31.
pub const MAX_CHANNEL_INDEX: u32 = (1 << 31) - 1;

/// SLIP-44 coin type: 0 for Bitcoin mainnet, 1 for every test network.
pub const fn coin_type(network: NetworkKind) -> u32 {
    match network {
        NetworkKind::Main => 0,
        NetworkKind::Test => 1,
    }
}

/// One of the six keys of a channel's subtree `m/9735'/coin'/1'/i'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKeyKind {
    /// Secret of the `funding_pubkey` (2-of-2 funding output), child `0'`.
    Funding,
    /// Secret of the `revocation_basepoint`, child `1'`.
    RevocationBasepoint,
    /// Secret of the `payment_basepoint`, child `2'`.
    PaymentBasepoint,
    /// Secret of the `delayed_payment_basepoint`, child `3'`.
    DelayedPaymentBasepoint,
    /// Secret of the `htlc_basepoint`, child `4'`.
    HtlcBasepoint,
    /// The 32-byte per-commitment seed (BOLT 3 shachain seed), the private
    /// key bytes of child `5'`.
    PerCommitmentSeed,
}

impl ChannelKeyKind {
    /// All six, in child-index order.
    pub const ALL: [Self; 6] = [
        Self::Funding,
        Self::RevocationBasepoint,
        Self::PaymentBasepoint,
        Self::DelayedPaymentBasepoint,
        Self::HtlcBasepoint,
        Self::PerCommitmentSeed,
    ];

    /// The (hardened) child index under the channel's subtree.
    pub const fn child_index(self) -> u32 {
        match self {
            Self::Funding => 0,
            Self::RevocationBasepoint => 1,
            Self::PaymentBasepoint => 2,
            Self::DelayedPaymentBasepoint => 3,
            Self::HtlcBasepoint => 4,
            Self::PerCommitmentSeed => 5,
        }
    }
}

/// A hardened child number from an index known to be below 2^31.
pub(crate) fn hardened(index: u32) -> Result<ChildNumber, DeriveError> {
    Ok(ChildNumber::from_hardened_idx(index)?)
}

fn path(indices: &[u32]) -> Result<DerivationPath, DeriveError> {
    indices
        .iter()
        .map(|&i| hardened(i))
        .collect::<Result<Vec<_>, _>>()
        .map(DerivationPath::from)
}

/// `m/9735'/coin'/0'/0'`: the node identity key.
pub fn node_identity(network: NetworkKind) -> Result<DerivationPath, DeriveError> {
    path(&[
        FULMEN_PURPOSE,
        coin_type(network),
        NODE_FAMILY,
        NODE_IDENTITY_INDEX,
    ])
}

/// `m/9735'/coin'/1'`: the parent of every channel's subtree.
pub fn channel_family(network: NetworkKind) -> Result<DerivationPath, DeriveError> {
    path(&[FULMEN_PURPOSE, coin_type(network), CHANNEL_FAMILY])
}

/// The channel key index as a hardened child number, or
/// [`DeriveError::ChannelIndexOutOfRange`] if it is 2^31 or more.
pub fn channel_child(index: u32) -> Result<ChildNumber, DeriveError> {
    if index > MAX_CHANNEL_INDEX {
        return Err(DeriveError::ChannelIndexOutOfRange { index });
    }
    hardened(index)
}

/// `m/9735'/coin'/1'/index'/kind'`: one key of one channel.
pub fn channel_key(
    network: NetworkKind,
    index: u32,
    kind: ChannelKeyKind,
) -> Result<DerivationPath, DeriveError> {
    Ok(channel_family(network)?
        .child(channel_child(index)?)
        .child(hardened(kind.child_index())?))
}

/// `m/84'/coin'/0'`: the on-chain wallet's BIP84 account.
pub fn bip84_account(network: NetworkKind) -> Result<DerivationPath, DeriveError> {
    path(&[BIP84_PURPOSE, coin_type(network), BIP84_ACCOUNT])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> DerivationPath {
        s.parse().unwrap()
    }

    #[test]
    fn paths_are_as_documented() {
        let main = NetworkKind::Main;
        let test = NetworkKind::Test;
        assert_eq!(node_identity(main).unwrap(), p("m/9735'/0'/0'/0'"));
        assert_eq!(node_identity(test).unwrap(), p("m/9735'/1'/0'/0'"));
        assert_eq!(channel_family(main).unwrap(), p("m/9735'/0'/1'"));
        assert_eq!(
            channel_key(test, 42, ChannelKeyKind::HtlcBasepoint).unwrap(),
            p("m/9735'/1'/1'/42'/4'")
        );
        assert_eq!(
            channel_key(main, MAX_CHANNEL_INDEX, ChannelKeyKind::PerCommitmentSeed).unwrap(),
            p("m/9735'/0'/1'/2147483647'/5'")
        );
        assert_eq!(bip84_account(main).unwrap(), p("m/84'/0'/0'"));
        assert_eq!(bip84_account(test).unwrap(), p("m/84'/1'/0'"));
    }

    #[test]
    fn channel_index_must_be_hardenable() {
        assert!(channel_child(MAX_CHANNEL_INDEX).is_ok());
        for index in [1u32 << 31, u32::MAX] {
            assert_eq!(
                channel_key(NetworkKind::Main, index, ChannelKeyKind::Funding),
                Err(DeriveError::ChannelIndexOutOfRange { index })
            );
        }
    }

    #[test]
    fn kinds_have_distinct_indices_in_order() {
        for (i, kind) in ChannelKeyKind::ALL.iter().enumerate() {
            assert_eq!(kind.child_index() as usize, i);
        }
    }
}
