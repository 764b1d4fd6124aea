//! Benches (in progress).
fn main() {}
