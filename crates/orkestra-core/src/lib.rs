//! Shared vocabulary of orkestra: chat types, the [`ChatBackend`] trait, error classes and a clock.
//!
//! Every other orkestra crate depends on this one and on nothing else of ours unless the
//! architecture says so, so it stays small and changes slowly.
//!
//! # Tour
//!
//! - [`chat`]: [`ChatRequest`], [`Message`], [`ChatResponse`], [`Usage`], [`FinishReason`].
//!   They read and write the OpenAI chat completions JSON; fields we do not model are kept in
//!   `extra` maps so a gateway passes them through unchanged. [`ChatRequest::validate`] checks
//!   each parameter's documented range and names the first one out of it ([`InvalidParam`]).
//! - [`stream`]: [`StreamEvent`], the provider-neutral unit of a streamed answer, the OpenAI
//!   chunk shape ([`ChatChunk`]) and [`StreamAccumulator`], which folds events into a response.
//! - [`backend`]: the [`ChatBackend`] trait and the crate's [`Error`].
//! - [`error`]: [`ErrorClass`], [`ErrorCategory`], [`Severity`] and the [`Classify`] trait.
//! - [`clock`]: the [`Clock`] trait, [`SystemClock`] and [`ManualClock`].
//! - [`located`]: [`Located`], a problem in a user's file as `FILE:LINE:COLUMN: KEY: message`,
//!   and [`plain_words`], which says serde's messages for the people who edit the files.
//! - [`json`]: the hot path's JSON: chat bodies read and written with SIMD string scanning,
//!   the same bytes and values as `serde_json`.
//!
//! # Example
//!
//! ```
//! use orkestra_core::{ChatRequest, Classify, ErrorCategory, Message, Severity};
//!
//! let request: ChatRequest = serde_json::from_str(
//!     r#"{"model": "auto", "messages": [{"role": "user", "content": "Hello"}], "seed": 7}"#,
//! )?;
//! assert_eq!(request.messages, vec![Message::user("Hello")]);
//! // Fields we do not model are preserved, not dropped.
//! assert_eq!(request.extra["seed"], 7);
//!
//! let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
//! let class = refused.class();
//! assert_eq!(class.category, ErrorCategory::Network);
//! assert!(class.retryable);
//! assert_eq!(class.severity, Severity::High);
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! # Feature flags
//!
//! This crate has no optional features.

pub mod backend;
pub mod chat;
pub mod clock;
pub mod error;
pub mod json;
pub mod located;
pub mod stream;

pub use backend::{AsModel, ChatBackend, ChatStream, Error, UpstreamDetails};
pub use chat::{
    ChatRequest, ChatResponse, Choice, Content, ContentPart, FinishReason, FunctionCall,
    FunctionDefinition, ImageUrl, InvalidParam, Message, Role, StreamOptions, Tool, ToolCall,
    Usage,
};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::{Classify, ErrorCategory, ErrorClass, Resource, Severity};
pub use located::{Located, Position, Syntax, plain_words};
pub use stream::{ChatChunk, ChunkChoice, Delta, StreamAccumulator, StreamEvent, ToolCallDelta};
