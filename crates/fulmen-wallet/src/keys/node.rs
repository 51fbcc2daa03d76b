//! The node identity key.

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey, Signing};
use core::fmt;
use fulmen_types::NodeId;

/// The node's identity key pair: the BOLT 8 static key whose public half is
/// the `node_id`, and which signs `node_announcement` and the node's half of
/// `channel_announcement`.
///
/// `Debug` prints only the node id; the secret is wiped on drop.
#[derive(Clone)]
pub struct NodeKeys {
    secret: SecretKey,
    public: PublicKey,
}

impl NodeKeys {
    pub(crate) fn new<C: Signing>(secp: &Secp256k1<C>, secret: SecretKey) -> Self {
        Self {
            public: PublicKey::from_secret_key(secp, &secret),
            secret,
        }
    }

    /// The node id (compressed public key).
    pub fn node_id(&self) -> NodeId {
        NodeId::from_pubkey(&self.public)
    }

    /// The identity public key.
    pub const fn public_key(&self) -> PublicKey {
        self.public
    }

    /// The identity secret key. Secret: for the noise handshake and
    /// gossip signatures only.
    pub const fn secret_key(&self) -> &SecretKey {
        &self.secret
    }
}

impl Drop for NodeKeys {
    fn drop(&mut self) {
        self.secret.non_secure_erase();
    }
}

impl fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKeys")
            .field("node_id", &self.node_id())
            .finish_non_exhaustive()
    }
}
