//! Placeholder until the commitment builder lands.
fn main() {}
