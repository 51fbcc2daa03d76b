//! BOLT 8 Noise_XK_secp256k1_ChaChaPoly_SHA256 transport as a sans-IO state machine.
//!
//! Not yet implemented beyond this crate doc: see the project's open issues.

#![forbid(unsafe_code)]
