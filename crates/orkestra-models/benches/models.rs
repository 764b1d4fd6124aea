//! Criterion benches of the routing hot path (filled in with the scorer).

fn main() {}
