//! Placeholder replaced by the LAC benchmark.
fn main() {}
