//! BOLT 1 framing, BigSize, TLV streams and the codecs of every BOLT 1, 2 and 7 message. No I/O.
//!
//! Not yet implemented beyond this crate doc: see the project's open issues.

#![forbid(unsafe_code)]
