//! `GET /v1/models`: the models a client can ask for, in the `OpenAI` list shape.
//!
//! The list holds `auto` and every `auto:<strategy>` (owned by `orkestra`), then each model of
//! the registry whose endpoint has a backend, owned by that endpoint. Aliases are not entries of
//! their own, so a client that offers the list in a picker shows each model once; they ride on
//! their model's entry as `aliases`, a field `OpenAI` clients ignore.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

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

pub(crate) async fn list(State(app): State<App>) -> Response {
    let snapshot = app.orchestrator.registry().snapshot();
    let endpoints: Vec<&str> = app.orchestrator.endpoints().collect();
    let automatic = AUTOMATIC.iter().map(|id| Entry {
        id,
        object: "model",
        created: app.started,
        owned_by: "orkestra",
        aliases: &[],
    });
    let served = snapshot
        .models()
        .iter()
        .filter(|spec| endpoints.contains(&spec.endpoint()))
        .map(|spec| Entry {
            id: spec.id.as_str(),
            object: "model",
            created: app.started,
            owned_by: spec.endpoint(),
            aliases: &spec.aliases,
        });
    json_response(&List {
        object: "list",
        data: automatic.chain(served).collect(),
    })
}
