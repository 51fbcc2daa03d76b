//! The BOLT 2 channel state machine, sans-IO: messages, blocks and time in; messages, transactions, changes to persist and events out.
//!
//! Not yet implemented beyond this crate doc: see the project's open issues.

#![forbid(unsafe_code)]
