//! `GET /healthz` (liveness) and `GET /readyz` (readiness), in the health check response
//! format (`application/health+json`, `status` of `pass`, `warn` or `fail`).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use orkestra::orchestrator::RecordingStatus;
use serde::Serialize;

use crate::App;

const HEALTH_JSON: &str = "application/health+json";

/// The process answers: nothing else is checked, so a slow upstream never restarts the gateway.
pub(crate) async fn live() -> Response {
    health(StatusCode::OK, br#"{"status":"pass"}"#.to_vec())
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    checks: Checks,
}

#[derive(Serialize)]
struct Checks {
    storage: Check,
    #[serde(skip_serializing_if = "Option::is_none")]
    recording: Option<Check>,
    models: Check,
}

#[derive(Serialize)]
struct Check {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_value: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
}

fn verdict(pass: bool) -> &'static str {
    if pass { "pass" } else { "fail" }
}

/// The writing of charges: `warn` while charges are being dropped (the store cannot take them
/// and `storage.max_pending` already wait), with the number waiting as its observed value.
/// A warning, not a failure: the gateway still answers, and the store check says why.
fn recording(status: RecordingStatus) -> Check {
    let dropping = status.dropped_since_write > 0;
    Check {
        status: if dropping { "warn" } else { "pass" },
        observed_value: Some(status.pending),
        output: dropping.then(|| {
            format!(
                "{} charges dropped since the last write ({} since the start): the store cannot take them and {} are waiting (storage.max_pending)",
                status.dropped_since_write, status.dropped, status.max_pending
            )
        }),
    }
}

/// Ready when the store answers and at least one model can be called (a backend serves it and
/// its circuit breaker is not open); `warn` while charges are dropped.
pub(crate) async fn ready(State(app): State<App>) -> Response {
    let storage = app.orchestrator.check_storage().await;
    let available = app.orchestrator.available_models();
    let recording = app.orchestrator.recording().map(recording);
    let pass = storage.is_ok() && available > 0;
    let warn = recording
        .as_ref()
        .is_some_and(|check| check.status == "warn");
    let readiness = Readiness {
        status: match (pass, warn) {
            (false, _) => "fail",
            (true, true) => "warn",
            (true, false) => "pass",
        },
        checks: Checks {
            storage: Check {
                status: verdict(storage.is_ok()),
                observed_value: None,
                output: storage.err(),
            },
            recording,
            models: Check {
                status: verdict(available > 0),
                observed_value: Some(available),
                output: (available == 0).then(|| {
                    "no model can be called: none is configured with a provider, or every circuit breaker is open".to_owned()
                }),
            },
        },
    };
    let status = if pass {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    health(status, serde_json::to_vec(&readiness).unwrap_or_default())
}

fn health(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(HEALTH_JSON));
    response
}
