//! Lightning primitive types: checked msat/sat amounts, channel and payment identifiers, BOLT 9 feature bits. No I/O.
//!
//! Not yet implemented beyond this crate doc: see the project's open issues.

#![forbid(unsafe_code)]
