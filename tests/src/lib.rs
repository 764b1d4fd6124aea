//! Test doubles shared by the cross-crate suite in `it/`.
//!
//! [`ScriptedBackend`] is a [`ChatBackend`] that answers from a script of outcomes, so a test
//! says exactly which calls fail and how, and then asserts how many calls were made.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use orkestra_core::{
    ChatBackend, ChatRequest, ChatResponse, ChatStream, Choice, Error, ErrorCategory, ErrorClass,
    FinishReason, Message, Usage,
};

/// One scripted outcome.
#[derive(Debug, Clone)]
pub enum Step {
    /// Answer with this text.
    Answer(String),
    /// Fail with this class.
    Fail(ErrorClass),
}

impl Step {
    /// A failure of `category` with its default class.
    pub fn fail(category: ErrorCategory) -> Self {
        Self::Fail(ErrorClass::new(category))
    }

    /// An answer.
    pub fn answer(text: &str) -> Self {
        Self::Answer(text.to_owned())
    }
}

/// A backend that plays a script, then repeats its `after_script` step forever.
#[derive(Debug)]
pub struct ScriptedBackend {
    name: String,
    script: Mutex<VecDeque<Step>>,
    after_script: Mutex<Step>,
    calls: AtomicU32,
}

impl ScriptedBackend {
    /// A backend named `name` that plays `script` and then answers `after_script` forever.
    pub fn new(name: &str, script: impl IntoIterator<Item = Step>, after_script: Step) -> Self {
        Self {
            name: name.to_owned(),
            script: Mutex::new(script.into_iter().collect()),
            after_script: Mutex::new(after_script),
            calls: AtomicU32::new(0),
        }
    }

    /// A backend that always answers `text`.
    pub fn healthy(name: &str, text: &str) -> Self {
        Self::new(name, [], Step::answer(text))
    }

    /// How many calls it has received.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Replaces what it does once the script has run out (a backend recovering or breaking).
    pub fn set_after_script(&self, step: Step) {
        *self
            .after_script
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = step;
    }

    fn next_step(&self) -> Step {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let scripted = self
            .script
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front();
        scripted.unwrap_or_else(|| {
            self.after_script
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        })
    }
}

#[async_trait]
impl ChatBackend for ScriptedBackend {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        match self.next_step() {
            Step::Answer(text) => Ok(ChatResponse {
                id: format!("scripted-{}", self.calls()),
                object: "chat.completion".to_owned(),
                created: 0,
                model: self.name.clone(),
                choices: vec![Choice {
                    index: 0,
                    message: Message::assistant(text),
                    finish_reason: Some(FinishReason::Stop),
                    extra: serde_json::Map::new(),
                }],
                usage: Some(Usage::new(
                    u32::try_from(request.messages.len()).unwrap_or(u32::MAX),
                    1,
                )),
                extra: serde_json::Map::new(),
            }),
            Step::Fail(class) => {
                Err(Error::with_class(class, "scripted failure").with_model(self.name.clone()))
            }
        }
    }

    async fn stream(&self, _request: &ChatRequest) -> Result<ChatStream, Error> {
        Err(Error::new(
            ErrorCategory::InvalidRequest,
            "the scripted backend does not stream",
        ))
    }
}
