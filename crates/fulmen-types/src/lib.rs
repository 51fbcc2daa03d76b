//! Lightning primitive types shared by every Fulmen crate: checked msat/sat
//! amounts, channel and payment identifiers, and BOLT 9 feature bit vectors;
//! and [`ec`], the faster key generation and ECDSA signing of the channel,
//! on-chain and onion code.
//!
//! No I/O, no clock, no randomness. Types that hold secrets
//! ([`PaymentPreimage`], [`PaymentSecret`]) never print their bytes in `Debug`.

#![forbid(unsafe_code)]

pub mod amount;
pub mod ec;
pub mod features;
pub mod ids;

pub use amount::{Msat, Sat, MAX_MONEY_SAT, SAT_PER_BTC};
pub use features::{Context, Feature, FeatureError, Features};
pub use ids::{
    ChannelId, NodeId, ParseIdError, PaymentHash, PaymentPreimage, PaymentSecret, ShortChannelId,
};
