//! BOLT 7 gossip validation, the network graph and pathfinding. No I/O.
//!
//! Not yet implemented beyond this crate doc: see the project's open issues.

#![forbid(unsafe_code)]
