//! The task analyzer: a chat request in, a [`TaskProfile`] out.

use orkestra_core::ChatRequest;

use crate::task::{TaskKind, TaskProfile};

/// Builds [`TaskProfile`]s; build one and share it, construction compiles the keyword tables.
#[derive(Debug, Default)]
pub struct TaskAnalyzer {}

impl TaskAnalyzer {
    /// An analyzer with the built-in keyword tables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Profiles a request.
    pub fn analyze(&self, request: &ChatRequest) -> TaskProfile {
        let _ = request;
        TaskProfile::new(TaskKind::Chat, 0, 0)
    }
}
