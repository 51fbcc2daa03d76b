//! The wallet's two BIP84 descriptors, built from the key tree's account key.
//!
//! `wpkh([fp/84'/coin'/0']xprv/0/*)` receives, `wpkh([fp/84'/coin'/0']xprv/1/*)`
//! takes change. They are built as values (no descriptor string holding the
//! private key is ever formatted); the public half is what bdk stores in the
//! database, the private half only lives in memory as the signer's key map.

use crate::keys::{paths, KeyTree};
use bdk_wallet::descriptor::ExtendedDescriptor;
use bdk_wallet::miniscript::descriptor::{
    Descriptor, DescriptorPublicKey, DescriptorSecretKey, DescriptorXKey, KeyMap, Wildcard,
};
use bdk_wallet::KeychainKind;
use bitcoin::bip32::{ChildNumber, DerivationPath, Fingerprint, Xpriv, Xpub};
use bitcoin::secp256k1::{Secp256k1, Signing};
use core::fmt;

use super::error::OnchainError;

/// The BIP84 account key with its origin (master fingerprint and path).
///
/// Secret: `Debug` prints the origin only, the private key is wiped on drop.
#[derive(Clone)]
pub(crate) struct AccountKey {
    xpriv: Xpriv,
    fingerprint: Fingerprint,
    path: DerivationPath,
}

impl AccountKey {
    /// The account `m/84'/coin'/0'` of `tree`.
    pub(crate) fn from_tree<C: Signing>(
        secp: &Secp256k1<C>,
        tree: &KeyTree,
    ) -> Result<Self, OnchainError> {
        Ok(Self {
            xpriv: tree.bip84_account_xpriv(secp)?,
            fingerprint: tree.master_fingerprint(),
            path: paths::bip84_account(tree.network())?,
        })
    }

    /// The descriptor of `keychain` (`.../0/*` receive, `.../1/*` change)
    /// and the key map that lets bdk sign for it.
    pub(crate) fn descriptor<C: Signing>(
        &self,
        secp: &Secp256k1<C>,
        keychain: KeychainKind,
    ) -> Result<(ExtendedDescriptor, KeyMap), OnchainError> {
        let branch = match keychain {
            KeychainKind::External => 0,
            KeychainKind::Internal => 1,
        };
        let derivation_path = DerivationPath::from(vec![ChildNumber::Normal { index: branch }]);
        let origin = Some((self.fingerprint, self.path.clone()));
        let public = DescriptorPublicKey::XPub(DescriptorXKey {
            origin: origin.clone(),
            xkey: Xpub::from_priv(secp, &self.xpriv),
            derivation_path: derivation_path.clone(),
            wildcard: Wildcard::Unhardened,
        });
        let secret = DescriptorSecretKey::XPrv(DescriptorXKey {
            origin,
            xkey: self.xpriv,
            derivation_path,
            wildcard: Wildcard::Unhardened,
        });
        let descriptor = Descriptor::new_wpkh(public.clone())
            .map_err(|e| OnchainError::Descriptor(Box::new(e.into())))?;
        let mut keymap = KeyMap::new();
        keymap.insert(public, secret);
        Ok((descriptor, keymap))
    }
}

impl Drop for AccountKey {
    fn drop(&mut self) {
        self.xpriv.private_key.non_secure_erase();
    }
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountKey")
            .field("fingerprint", &self.fingerprint)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Mnemonic;
    use bitcoin::Network;

    fn account() -> AccountKey {
        let secp = Secp256k1::new();
        let seed = Mnemonic::parse(
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
             abandon about",
        )
        .unwrap()
        .to_seed("");
        let tree = KeyTree::new(&secp, &seed, Network::Bitcoin).unwrap();
        AccountKey::from_tree(&secp, &tree).unwrap()
    }

    #[test]
    fn descriptors_carry_origin_and_branch() {
        let secp = Secp256k1::new();
        let account = account();
        let (receive, keys) = account.descriptor(&secp, KeychainKind::External).unwrap();
        let (change, _) = account.descriptor(&secp, KeychainKind::Internal).unwrap();
        let receive = receive.to_string();
        let change = change.to_string();
        // BIP84 vector account xpub (`zpub` ... in SLIP-132 form) as xpub.
        assert!(
            receive.starts_with("wpkh([73c5da0a/84'/0'/0']xpub"),
            "{receive}"
        );
        assert!(receive.contains("/0/*)#"), "{receive}");
        assert!(change.contains("/1/*)#"), "{change}");
        assert!(!receive.contains("xprv"));
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn debug_redacts() {
        let debug = format!("{:?}", account());
        assert!(debug.contains("73c5da0a"), "{debug}");
        assert!(!debug.contains("xprv"), "{debug}");
        assert!(!debug.contains("private"), "{debug}");
    }
}
