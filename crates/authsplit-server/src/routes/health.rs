//! `GET /healthz`: liveness and the session store. `200 {"status":"ok"}` when the store
//! answers; `503 {"status":"unavailable","store":"unavailable"}` while it does not (a load
//! balancer then sends sign-ins elsewhere; the instance recovers by itself when the store
//! returns).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// `GET /healthz`.
pub(crate) async fn healthz(State(app): State<AppState>) -> Response {
    match app.store().ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "healthz: the session store is unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable", "store": "unavailable" })),
            )
                .into_response()
        }
    }
}
