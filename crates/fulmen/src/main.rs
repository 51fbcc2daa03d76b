//! The `fulmen` binary. See the README for what works so far.

#![forbid(unsafe_code)]

fn main() {
    println!("fulmen {}", env!("CARGO_PKG_VERSION"));
}
