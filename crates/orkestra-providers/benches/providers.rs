//! Micro-benches of the providers' hot paths (filled in with the `OpenAI` client).

fn main() {}
