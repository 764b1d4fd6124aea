//! Planning: what a request's `model` asks for, which models may serve it, and why none can.

use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use orkestra_core::{ChatStream, Message};
use orkestra_models::{Capabilities, Capability, ModelId, QualityScores};
use serde_json::json;

use super::*;
use crate::CallContext;

/// A backend that counts its calls and answers none: planning must decide without it.
#[derive(Default)]
struct Counting {
    calls: AtomicU32,
}

#[async_trait]
impl orkestra_core::ChatBackend for Counting {
    async fn chat(&self, _: &ChatRequest) -> Result<orkestra_core::ChatResponse, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(Error::new(ErrorCategory::Internal, "not scripted"))
    }

    async fn stream(&self, _: &ChatRequest) -> Result<ChatStream, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(Error::new(ErrorCategory::Internal, "not scripted"))
    }
}

fn spec(id: &str, context_window: u32, capabilities: &[Capability]) -> orkestra_models::ModelSpec {
    let mut spec = orkestra_models::ModelSpec::new(ModelId::new(id).unwrap(), context_window);
    spec.max_output_tokens = 4_096.min(context_window);
    spec.quality = QualityScores::uniform(0.8);
    spec.capabilities = Capabilities::of(capabilities);
    spec
}

/// `sim/small` (16K) falling back to `sim/medium` (128K), both on one counting backend, and
/// `sim/large` (200K) with no fallback.
fn demo_like() -> (Orchestrator, Arc<Counting>) {
    let backend = Arc::new(Counting::default());
    let orchestrator = Orchestrator::builder()
        .models([
            spec("sim/small", 16_384, &[]),
            spec("sim/medium", 128_000, &[]),
            spec("sim/large", 200_000, &[]),
        ])
        .backend(
            "sim",
            Arc::clone(&backend) as Arc<dyn orkestra_core::ChatBackend>,
        )
        .fallbacks("sim/small", vec!["sim/medium".to_owned()])
        .build()
        .unwrap();
    (orchestrator, backend)
}

/// A user prompt of about `tokens` tokens (four characters each).
fn prompt_of(model: &str, tokens: usize) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("word ".repeat(tokens * 4 / 5))])
}

fn chain(route: &Route) -> Vec<&str> {
    route.chain.iter().map(|spec| spec.id.as_str()).collect()
}

#[test]
fn a_named_models_chain_keeps_only_models_whose_window_fits() {
    let (orchestrator, _) = demo_like();
    let short = prompt_of("sim/small", 100);
    assert_eq!(
        chain(&orchestrator.route(&short).unwrap()),
        ["sim/small", "sim/medium"]
    );
    let long = prompt_of("sim/small", 20_000);
    assert_eq!(chain(&orchestrator.route(&long).unwrap()), ["sim/medium"]);
}

#[tokio::test]
async fn a_prompt_too_long_for_a_named_model_and_its_fallbacks_is_context_length_before_any_call() {
    let (orchestrator, backend) = demo_like();
    // 150K tokens: more than sim/small's 16K and its fallback sim/medium's 128K.
    let request = prompt_of("sim/small", 150_000);
    let error = orchestrator
        .complete(&request, &CallContext::default())
        .await
        .unwrap_err()
        .error;
    assert_eq!(
        error.class.category,
        ErrorCategory::ContextLength,
        "{error}"
    );
    let message = error.to_string();
    for window in ["sim/small", "16384", "sim/medium", "128000"] {
        assert!(message.contains(window), "{message}");
    }
    assert!(
        message.contains("needs 1500"),
        "the tokens needed: {message}"
    );
    assert_eq!(backend.calls.load(Ordering::SeqCst), 0);
}

/// The error a call to `request` answers, checked to be the refusal its route explains and
/// to come before any model is called.
async fn refused(request: &ChatRequest) -> Error {
    let (orchestrator, backend) = demo_like();
    let route = orchestrator.route(request).unwrap();
    assert!(route.chain.is_empty(), "{route:?}");
    let explained = route.refusal().expect("a route without a chain says why");
    let error = orchestrator
        .complete(request, &CallContext::default())
        .await
        .unwrap_err()
        .error;
    assert_eq!(error.to_string(), explained.to_string());
    assert_eq!(backend.calls.load(Ordering::SeqCst), 0);
    error
}

#[tokio::test]
async fn auto_with_a_prompt_too_long_for_every_model_is_context_length_naming_each_window() {
    let error = refused(&prompt_of("auto", 250_000)).await;
    assert_eq!(
        error.class.category,
        ErrorCategory::ContextLength,
        "{error}"
    );
    let message = error.to_string();
    for expected in [
        "sim/small",
        "16384",
        "sim/medium",
        "128000",
        "sim/large",
        "200000",
    ] {
        assert!(message.contains(expected), "{expected}: {message}");
    }
}

#[tokio::test]
async fn auto_with_a_capability_no_model_has_is_invalid_request_naming_it() {
    let mut request = prompt_of("auto", 10);
    request.response_format = Some(json!({"type": "json_object"}));
    let error = refused(&request).await;
    assert_eq!(
        error.class.category,
        ErrorCategory::InvalidRequest,
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("json_mode"), "{message}");
    assert!(message.contains("sim/large"), "model by model: {message}");
}

#[test]
fn an_empty_model_field_is_invalid_request_naming_model() {
    let (orchestrator, _) = demo_like();
    for blank in ["", "  "] {
        let error = orchestrator.target(blank).unwrap_err();
        assert_eq!(error.class.category, ErrorCategory::InvalidRequest);
        assert!(error.message.starts_with("model:"), "{error}");
    }
}
