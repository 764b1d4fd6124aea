//! The cross-crate integration suite: one binary, a module per area.

// This whole binary is tests: a panic is how a test (or its helper) reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;
mod models;
mod orchestrator;
mod resilience;
