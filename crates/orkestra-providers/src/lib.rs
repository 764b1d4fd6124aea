//! Wire clients for language model servers, each an [`orkestra_core::ChatBackend`]: the
//! OpenAI-compatible chat API (OpenAI, vLLM, llama.cpp server, LM Studio, Ollama's `/v1`, Groq,
//! Together, OpenRouter), the Anthropic Messages API, Ollama's native API, and an offline echo
//! model.
//!
//! Every failure, from an HTTP status to a stream that ends without its terminator, is an
//! [`orkestra_core::Error`] with its [`orkestra_core::ErrorClass`].

pub mod anthropic;
pub mod echo;
mod estimate;
pub mod ollama;
