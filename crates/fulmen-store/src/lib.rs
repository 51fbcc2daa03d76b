//! Durable node state in SQLite: schema, migrations and group commit.
//!
//! Not yet implemented beyond this crate doc: see the project's open issues.

#![forbid(unsafe_code)]
