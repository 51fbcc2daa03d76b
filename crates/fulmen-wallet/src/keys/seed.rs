//! The 64-byte BIP39 seed, root of the BIP32 tree.

use bitcoin::bip32::{Fingerprint, Xpriv};
use bitcoin::secp256k1::Secp256k1;
use bitcoin::NetworkKind;
use core::fmt;
use zeroize::Zeroize;

/// A 64-byte BIP39 seed (the output of [`Mnemonic::to_seed`]).
///
/// Whoever has it has every key of the node. `Debug` prints only the BIP32
/// master key fingerprint; the bytes are wiped on drop.
///
/// [`Mnemonic::to_seed`]: super::Mnemonic::to_seed
#[derive(Clone)]
pub struct Seed([u8; 64]);

impl Seed {
    /// Wraps seed bytes, e.g. read back from encrypted storage.
    pub const fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    /// The seed bytes. Secret.
    pub const fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// The BIP32 fingerprint of the master key (first 4 bytes of
    /// HASH160 of the master public key): public, identifies the seed.
    /// `None` only if the seed is one of the ~2^-127 that BIP32 rejects.
    pub fn master_fingerprint(&self) -> Option<Fingerprint> {
        let secp = Secp256k1::signing_only();
        // The fingerprint does not depend on the network.
        let mut master = Xpriv::new_master(NetworkKind::Main, &self.0).ok()?;
        let fingerprint = master.fingerprint(&secp);
        master.private_key.non_secure_erase();
        Some(fingerprint)
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.master_fingerprint() {
            Some(fp) => write!(f, "Seed {{ master_fingerprint: {fp}, .. }}"),
            None => write!(f, "Seed {{ .. }}"),
        }
    }
}
