//! The simulator seen from its clients: real HTTP over loopback, one test binary.

// This whole binary is tests: a panic is how a test (or its helper) reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod anthropic;
mod common;
mod control;
mod determinism;
mod faults;
mod ollama;
mod openai;
mod outputs;
