//! Interoperability tests of Fulmen against independent implementations.
//!
//! The library is empty on purpose; the tests under `tests/` start Fulmen's pieces (the chain
//! server from `fulmen-chain`) and drive an independent implementation (`ldk-node`, a
//! dev-dependency only) against them. Run them with `cargo test -p fulmen-interop`.

#![forbid(unsafe_code)]
