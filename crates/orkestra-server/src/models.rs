//! `GET /v1/models` and `GET /v1/models/{id}`: the models a client can ask for, in the `OpenAI`
//! list and model shapes.
//!
//! The list holds `auto` and every `auto:<strategy>` (owned by `orkestra`), then each model of
//! the registry whose endpoint has a backend, owned by that endpoint. Aliases are not entries of
//! their own, so a client that offers the list in a picker shows each model once; they ride on
//! their model's entry as `aliases`, a field `OpenAI` clients ignore.
//!
//! `GET /v1/models/{id}` answers one entry of that list: the id may have `/` in it
//! (`/v1/models/openai/gpt-4o`, or `openai%2Fgpt-4o` as some clients encode it), and an alias
//! answers its model's entry. Anything else is `404 model_not_found` in the `OpenAI` error shape.

use axum::extract::{Path, State};
use axum::response::{IntoResponse as _, Response};
use orkestra::models::ModelSpec;
use serde::Serialize;

use crate::error::ApiError;
use crate::{App, json_response};

/// The pseudo-models that ask the router to choose.
const AUTOMATIC: [&str; 6] = [
    "auto",
    "auto:balanced",
    "auto:cost",
    "auto:quality",
    "auto:speed",
    "auto:local",
];

#[derive(Serialize)]
struct List<'a> {
    object: &'static str,
    data: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    aliases: &'a [String],
}

impl<'a> Entry<'a> {
    fn automatic(id: &'a str, created: u64) -> Self {
        Self {
            id,
            object: "model",
            created,
            owned_by: "orkestra",
            aliases: &[],
        }
    }

    fn served(spec: &'a ModelSpec, created: u64) -> Self {
        Self {
            id: spec.id.as_str(),
            object: "model",
            created,
            owned_by: spec.endpoint(),
            aliases: &spec.aliases,
        }
    }
}

pub(crate) async fn list(State(app): State<App>) -> Response {
    let snapshot = app.orchestrator.registry().snapshot();
    let endpoints: Vec<&str> = app.orchestrator.endpoints().collect();
    let automatic = AUTOMATIC.iter().map(|id| Entry::automatic(id, app.started));
    let served = snapshot
        .models()
        .iter()
        .filter(|spec| endpoints.contains(&spec.endpoint()))
        .map(|spec| Entry::served(spec, app.started));
    json_response(&List {
        object: "list",
        data: automatic.chain(served).collect(),
    })
}

pub(crate) async fn retrieve(State(app): State<App>, Path(id): Path<String>) -> Response {
    if let Some(automatic) = AUTOMATIC.iter().find(|automatic| **automatic == id) {
        return json_response(&Entry::automatic(automatic, app.started));
    }
    let snapshot = app.orchestrator.registry().snapshot();
    match snapshot.get(&id) {
        Some(spec)
            if app
                .orchestrator
                .endpoints()
                .any(|served| served == spec.endpoint()) =>
        {
            json_response(&Entry::served(spec, app.started))
        }
        _ => ApiError::model_not_found(&id).into_response(),
    }
}
