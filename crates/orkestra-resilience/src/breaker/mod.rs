//! Circuit breaker.

mod state;

pub use state::{Listener, Reason, State, StateChange};
