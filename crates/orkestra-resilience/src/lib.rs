//! Resilience policies for async calls, composed into one pipeline.
//!
//! (Crate docs are completed when the pipeline lands.)

pub mod breaker;
pub mod bulkhead;
pub mod category_set;
pub mod degradation;
pub mod error;
pub mod fallback;
pub mod rate_limit;
pub mod retry;
pub mod timeout;

pub use category_set::CategorySet;
pub use error::{ConfigError, Error};
