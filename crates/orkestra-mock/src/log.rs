//! The request log: what each chat request asked and what the simulator did, for assertions.
//!
//! It keeps the last [`RequestLog::CAPACITY`] entries, so a long load run does not grow memory.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::config::Fault;
use crate::wire::WireFormat;

#[cfg(test)]
mod tests;

/// One chat request as the simulator saw and answered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// The API the request spoke.
    pub format: WireFormat,
    /// The request path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// The model asked for; empty when the body could not be read.
    pub model: String,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// The 1-based number of this request for its model since the model's behaviour was set;
    /// 0 when the request never reached a model (unreadable body, unknown model).
    pub request_number: u64,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
    /// The HTTP status sent; `None` when no response was sent (reset, no response).
    pub status: Option<u16>,
    /// When the request's head arrived.
    pub received_at: SystemTime,
}

/// A bounded log of requests, oldest first.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    entries: Mutex<VecDeque<LoggedRequest>>,
}

impl RequestLog {
    /// Entries kept; older ones are dropped first.
    pub(crate) const CAPACITY: usize = 10_000;

    /// Appends an entry, dropping the oldest beyond the capacity.
    pub(crate) fn push(&self, entry: LoggedRequest) {
        let mut entries = self.lock();
        if entries.len() >= Self::CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// A copy of the entries, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<LoggedRequest> {
        self.lock().iter().cloned().collect()
    }

    /// Forgets every entry.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<LoggedRequest>> {
        // A panic while holding the lock cannot leave the deque half-updated, so a poisoned
        // lock is still usable.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
