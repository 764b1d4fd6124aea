//! `POST /v1/route`: how a chat request would be routed, without calling any model.
//!
//! The body is the same as a chat completions request. The answer holds what was asked
//! (`target`), the analyzer's view of the request (`task`: kind, complexity, token estimates,
//! needs), the chain of models that would be tried in order, for an automatic selection the
//! ranking (`selection.ranked`, each with its score breakdown), every model left out with its
//! reason (`excluded`), and `refusal`: the error a chat completion would answer when no model
//! can serve the request, else `null`. `explain` says the same in plain text.
//!
//! A request no model can serve is still answered `200`: explaining why is this endpoint's
//! job. Only a request that cannot be routed at all (no messages, an unknown model) is an error.

use std::borrow::Cow;

use axum::extract::{Request, State};
use axum::response::{IntoResponse as _, Response};
use orkestra::Target;
use orkestra::models::scorer::Exclusion;
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
    excluded: Vec<ExcludedView<'a>>,
    refusal: Option<RefusalView>,
    explain: String,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum TargetView<'a> {
    Auto { strategy: &'static str },
    Model { model: &'a str },
}

/// A model left out of the chain: its id and the reason's fields.
#[derive(Serialize)]
struct ExcludedView<'a> {
    model: &'a str,
    #[serde(flatten)]
    reason: &'a Exclusion,
}

/// The error a chat completion of the same body would answer.
#[derive(Serialize)]
struct RefusalView {
    status: u16,
    #[serde(rename = "type")]
    kind: Cow<'static, str>,
    code: Option<Cow<'static, str>>,
    message: String,
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
    let target = match &route.target {
        Target::Auto(strategy) => TargetView::Auto {
            strategy: strategy.name(),
        },
        Target::Model(spec) => TargetView::Model {
            model: spec.id.as_str(),
        },
    };
    let refusal = route.refusal().map(|error| {
        let answer = ApiError::from_error(&error);
        RefusalView {
            status: answer.status.as_u16(),
            kind: answer.kind,
            code: answer.code,
            message: answer.message,
        }
    });
    json_response(&Explanation {
        model: &chat.model,
        target,
        task: profile,
        chain: route.chain.iter().map(|spec| spec.id.as_str()).collect(),
        selection: route.selection.as_ref(),
        excluded: route
            .excluded()
            .map(|(model, reason)| ExcludedView {
                model: model.as_str(),
                reason,
            })
            .collect(),
        refusal,
        explain: route.explain(),
    })
}
