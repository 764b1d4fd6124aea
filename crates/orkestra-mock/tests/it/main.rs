//! The simulator seen from its clients: real HTTP over loopback, one test binary.

mod anthropic;
mod common;
mod control;
mod determinism;
mod faults;
mod ollama;
mod openai;
mod outputs;
