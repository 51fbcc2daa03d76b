//! Block validation benchmark (filled in below).

fn main() {}
