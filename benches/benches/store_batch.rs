//! Placeholder until the issue that builds this hot path lands.
fn main() {}
