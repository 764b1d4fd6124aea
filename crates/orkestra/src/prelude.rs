//! What most programs using orkestra need: `use orkestra::prelude::*;`.

pub use crate::config::Config;
pub use crate::orchestrator::{CallContext, Orchestrator};
pub use crate::report::{CallError, Completion};
pub use orkestra_core::{
    ChatBackend, ChatRequest, ChatResponse, Classify, ErrorCategory, Message, StreamEvent,
};
pub use orkestra_models::{ModelId, ModelSpec, Strategy};
