//! The one piece of IO a retry needs: waiting.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Waits between attempts; swap it to record delays in tests or to run on another runtime.
///
/// The future is boxed: sleeping happens only on the retry path, where one allocation is
/// nothing next to the wait itself, and boxing keeps [`Retry`](super::Retry) free of a type
/// parameter.
pub trait Sleeper: Send + Sync + Debug {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Sleeps on the tokio timer (`tokio::time::sleep`), so `tokio::time::pause` controls it in tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}
