//! `POST /v1/route`: how a chat request would be routed, without calling any model.
//!
//! The body is the same as a chat completions request. The answer holds what was asked
//! (`target`), the analyzer's view of the request (`task`: kind, complexity, token estimates,
//! needs), the chain of models that would be tried in order, and for an automatic selection the
//! ranking (`selection.ranked`, each with its score breakdown) and the excluded models with
//! their reasons (`selection.excluded`). `explain` says the same in plain text.

use std::fmt::Write as _;

use axum::extract::{Request, State};
use axum::response::{IntoResponse as _, Response};
use orkestra::Target;
use orkestra::models::{Selection, TaskProfile};
use serde::Serialize;

use crate::error::ApiError;
use crate::{App, json_response, request};

#[derive(Serialize)]
struct Explanation<'a> {
    model: &'a str,
    target: TargetView<'a>,
    task: &'a TaskProfile,
    chain: Vec<&'a str>,
    selection: Option<&'a Selection>,
    explain: String,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum TargetView<'a> {
    Auto { strategy: &'static str },
    Model { model: &'a str },
}

pub(crate) async fn explain(State(app): State<App>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match request::read_body(&parts.headers, body, app.body_limit).await {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let chat = match request::parse_chat(&body) {
        Ok(chat) => chat,
        Err(error) => return error.into_response(),
    };
    let route = match app.orchestrator.route(&chat) {
        Ok(route) => route,
        Err(error) => return ApiError::from_error(&error).into_response(),
    };
    let Some(profile) = route.profile() else {
        return ApiError::from_error(&orkestra_core::Error::new(
            orkestra_core::ErrorCategory::Internal,
            "the route was not analyzed",
        ))
        .into_response();
    };
    let chain: Vec<&str> = route.chain.iter().map(|spec| spec.id.as_str()).collect();
    let (target, mut explain) = match &route.target {
        Target::Auto(strategy) => (
            TargetView::Auto {
                strategy: strategy.name(),
            },
            route
                .selection
                .as_ref()
                .map(Selection::explain)
                .unwrap_or_default(),
        ),
        Target::Model(spec) => (
            TargetView::Model {
                model: spec.id.as_str(),
            },
            format!(
                "model {} named in the request ({} task, {} complexity, ~{} input tokens)\n",
                spec.id, profile.kind, profile.complexity, profile.input_tokens
            ),
        ),
    };
    let _ = writeln!(explain, "chain: {}", chain.join(" -> "));
    json_response(&Explanation {
        model: &chat.model,
        target,
        task: profile,
        chain,
        selection: route.selection.as_ref(),
        explain,
    })
}
