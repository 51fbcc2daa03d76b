//! BOLT 4 Sphinx onion construction, peeling and failure messages; BOLT 11 invoices. No I/O.
//!
//! Not yet implemented beyond this crate doc: see the project's open issues.

#![forbid(unsafe_code)]
