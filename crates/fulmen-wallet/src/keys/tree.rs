//! The key tree: master key and the derivations of [`crate::keys`].

use super::channel::{ChannelKeys, ChannelSecrets};
use super::error::DeriveError;
use super::node::NodeKeys;
use super::paths::{self, ChannelKeyKind};
use super::seed::Seed;
use bitcoin::bip32::{Fingerprint, Xpriv};
use bitcoin::secp256k1::{Secp256k1, SecretKey, Signing};
use bitcoin::NetworkKind;
use core::fmt;

/// The node's BIP32 key tree for one network.
///
/// Made from a [`Seed`]; every key comes out of it deterministically, so
/// restoring the seed restores all keys. `Debug` prints the network and the
/// master fingerprint only; private keys are wiped on drop.
#[derive(Clone)]
pub struct KeyTree {
    network: NetworkKind,
    master: Xpriv,
    master_fingerprint: Fingerprint,
    /// `m/9735'/coin'/1'`, kept so a channel costs 1 + 6 derivations.
    channel_family: Xpriv,
}

impl KeyTree {
    /// The tree of `seed` on `network` (a [`bitcoin::Network`] or a
    /// [`NetworkKind`]: mainnet uses coin type 0', every test network 1').
    pub fn new<C: Signing>(
        secp: &Secp256k1<C>,
        seed: &Seed,
        network: impl Into<NetworkKind>,
    ) -> Result<Self, DeriveError> {
        let network = network.into();
        let master = Xpriv::new_master(network, seed.as_bytes())?;
        let channel_family = master.derive_priv(secp, &paths::channel_family(network)?)?;
        Ok(Self {
            network,
            master_fingerprint: master.fingerprint(secp),
            master,
            channel_family,
        })
    }

    /// Main or test network.
    pub const fn network(&self) -> NetworkKind {
        self.network
    }

    /// The BIP32 master key fingerprint (public).
    pub const fn master_fingerprint(&self) -> Fingerprint {
        self.master_fingerprint
    }

    /// The node identity keys, at `m/9735'/coin'/0'/0'`.
    pub fn node_keys<C: Signing>(&self, secp: &Secp256k1<C>) -> Result<NodeKeys, DeriveError> {
        let xpriv = self
            .master
            .derive_priv(secp, &paths::node_identity(self.network)?)?;
        Ok(NodeKeys::new(secp, xpriv.private_key))
    }

    /// The keys of the channel with key index `index` (below 2^31), at
    /// `m/9735'/coin'/1'/index'/k'`, `k` per [`ChannelKeyKind`].
    pub fn channel_keys<C: Signing>(
        &self,
        secp: &Secp256k1<C>,
        index: u32,
    ) -> Result<ChannelKeys, DeriveError> {
        let mut base = self
            .channel_family
            .derive_priv(secp, &[paths::channel_child(index)?])?;
        let key = |kind: ChannelKeyKind| -> Result<SecretKey, DeriveError> {
            let child = base.derive_priv(secp, &[paths::hardened(kind.child_index())?])?;
            Ok(child.private_key)
        };
        let secrets = ChannelSecrets {
            funding: key(ChannelKeyKind::Funding)?,
            revocation_basepoint: key(ChannelKeyKind::RevocationBasepoint)?,
            payment_basepoint: key(ChannelKeyKind::PaymentBasepoint)?,
            delayed_payment_basepoint: key(ChannelKeyKind::DelayedPaymentBasepoint)?,
            htlc_basepoint: key(ChannelKeyKind::HtlcBasepoint)?,
            per_commitment_seed: key(ChannelKeyKind::PerCommitmentSeed)?.secret_bytes(),
        };
        base.private_key.non_secure_erase();
        Ok(ChannelKeys::new(secp, index, secrets))
    }

    /// The extended private key of the on-chain wallet's BIP84 account,
    /// `m/84'/coin'/0'`; its children `0/n` (receive) and `1/n` (change)
    /// are P2WPKH keys. Secret.
    pub fn bip84_account_xpriv<C: Signing>(
        &self,
        secp: &Secp256k1<C>,
    ) -> Result<Xpriv, DeriveError> {
        Ok(self
            .master
            .derive_priv(secp, &paths::bip84_account(self.network)?)?)
    }
}

impl Drop for KeyTree {
    fn drop(&mut self) {
        self.master.private_key.non_secure_erase();
        self.channel_family.private_key.non_secure_erase();
    }
}

impl fmt::Debug for KeyTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyTree")
            .field("network", &self.network)
            .field("master_fingerprint", &self.master_fingerprint)
            .finish_non_exhaustive()
    }
}
