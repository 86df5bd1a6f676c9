//! ledger-bench
fn main() {}
